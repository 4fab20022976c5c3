"""What the analysis hands to the rest of optpar: frozen records, no behaviour beyond formatting."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from optpar.space import Space

# what a diagnostic's message ends with when it carries a fix (`Diagnostic.fix`)
REWRITES = " (optpar upgrade rewrites it)"


@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 0-based character columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Site:
    """One tunable value: where it is, what it feeds, and the space to search."""

    id: str
    file: str
    span: Span
    call: str  # qualified callee, e.g. keras.layers.Dense or keras.Model.fit
    param: str
    value: str  # the original source text
    default: object  # the user's value (the scalar of an all-equal tuple)
    tuple_size: int  # 0: scalar; n: written as an n-tuple of equal values
    kind: str  # int | float | categorical
    space: Space
    origin: str  # where it came from, for comments and messages
    constant: str | None = None  # the constant's name when the value sits at its definition
    code: str = "OPT101"
    flags: tuple[str, ...] = ()  # a command-line option's default: the flags that would override it
    # an absl flag's default: its name; the tuning script sets the flag as a trial starts (its
    # DEFINE runs once, as absl allows), instead of a `params[...]` lookup at the literal
    absl_flag: str = ""

    @property
    def use(self) -> str:
        """What the value is, for messages: `Dense(units=128)`, `depth 3`, `block model.add(...) x1`."""
        if self.call == "range":
            return f"depth {self.value}"
        if self.call == "repeat":
            return f"block {self.value} x1"
        return f"{self.call.rsplit('.', 1)[-1]}({self.param}={self.value})"

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col + 1

    def as_json(self) -> dict:
        return {
            "id": self.id, "file": self.file, "line": self.line, "col": self.col,
            "call": self.call, "param": self.param, "value": self.value,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "kind": self.kind, "space": self.space.as_json(), "describe": self.space.describe(),
            "constant": self.constant, "code": self.code,
        }


@dataclass(frozen=True)
class TextEdit:
    """`old`, the text at `line`:`col` (1-based; columns count characters), becomes `new`. An
    empty `old` inserts `new` there. Edits never span lines, so a notebook's cells keep theirs."""

    line: int
    col: int
    old: str
    new: str


@dataclass(frozen=True)
class Diagnostic:
    """A warning about the user's code (OPT2xx)."""

    file: str
    line: int
    col: int
    code: str
    message: str
    # what `optpar upgrade` writes instead: the first edit is at the diagnostic's position and is
    # the one shown (`lr -> learning_rate`); the others are what it needs besides (an import)
    fix: tuple[TextEdit, ...] = ()


@dataclass(frozen=True)
class FitCall:
    """The fit() call whose validation metric a trial reports (the last one in the file)."""

    span: Span
    has_validation: bool
    callbacks: Span | None  # the value of callbacks=..., when given
    passes: tuple[str, int] | None = None  # a loop of one-epoch fits: (id of its tuned bound N, its start)


@dataclass(frozen=True)
class AbslRun:
    """`app.run(main)`, absl's start of a program: it parses the command line into the flags,
    then calls main(argv). The tuning script calls main in each trial itself (runtime/absl_run.py)."""

    span: Span  # the call
    main: str  # the function it starts
    reads: frozenset[tuple[int, int]] = frozenset()  # (line, byte column) of each read of a tuned flag


@dataclass(frozen=True)
class Analysis:
    path: str
    text: str
    tree: ast.Module
    sites: tuple[Site, ...]
    diagnostics: tuple[Diagnostic, ...]
    fit: FitCall | None
    uses_keras: bool
    idle: frozenset[int] = frozenset()  # first lines of top-level statements that feed the measured fit nothing
    # (line, byte column) of the calls that make an object holding one model's state (a layer, an
    # optimizer, a model: roles.csv `fresh` and `model_maker`): the planner remakes them in each trial
    fresh: frozenset[tuple[int, int]] = frozenset()
    absl_run: AbslRun | None = None
    # (line, column, as written) of each argument the program's command line must give (argparse)
    required_arguments: tuple[tuple[int, int, str], ...] = ()
