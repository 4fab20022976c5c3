"""Stable, readable ids and the one place a `Site` is made.

Ids: `dense_units`, `dense_1_units` (the second Dense), `encoder_units` (`Dense(..., name=
"encoder")`), `fit_epochs`, or a constant's own name (`epochs`). An id already taken gets `_2`,
`_3`, ... from the one :class:`IdUniquer`, whether the site comes from the matcher or from a
`# optpar:` comment on a constant (optpar.controls).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable

from optpar.analysis.calls import qualified_name
from optpar.analysis.loops import LOOP
from optpar.analysis.records import Site
from optpar.analysis.rules import Candidate
from optpar.analysis.syntax import SourceLines, snake
from optpar.csvrows import Key
from optpar.space import Space, anchor, kind_of


def identifier(text: str) -> str:
    """An id made of `text`: lower case, `_` for anything else, never starting with a digit."""
    ident = re.sub(r"\W+", "_", text).strip("_").lower()
    return ident if ident and not ident[0].isdigit() else f"p_{ident}"


# The globals a tuning script defines beside the program's own code.
SCRIPT_NAMES = ("params", "SOURCE", "FIT_AT", "SEEDS", "SPACE", "DEFAULTS", "BASELINE_POINT", "OPTPAR_ARGV",
                "run_trial")


def script_names(tree: ast.Module) -> dict[str, str]:
    """{name: what the tuning script calls it}: each of SCRIPT_NAMES as itself, unless the program
    uses that name too (a config dict called `params`, a `SPACE` of its own), then with an
    `optpar_` prefix (`optpar_params`, `OPTPAR_SPACE`; numbered should that be taken too)."""
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.arg):
            used.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update((a.asname or a.name).split(".")[0] for a in node.names)
    taken = IdUniquer(used | set(SCRIPT_NAMES))
    return {name: name if name not in used else taken.claim(("OPTPAR_" if name.isupper() else "optpar_") + name)
            for name in SCRIPT_NAMES}


class IdUniquer:
    """Hands out ids: the one wanted, or with `_2`, `_3`, ... when it is taken."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)

    def claim(self, wanted: str) -> str:
        unique, n = wanted, 2
        while unique in self._taken:
            unique, n = f"{wanted}_{n}", n + 1
        self._taken.add(unique)
        return unique


def make_site(hp_id: str, path: str, lines: SourceLines, node: ast.expr, *, call: str, param: str,
              default: object, kind: str, space: Space, origin: str, constant: str | None,
              code: str, flags: tuple[str, ...] = (), absl_flag: str = "") -> Site:
    """A site for the literal `node`: its span, source text and tuple size come from the node.
    `origin` is made one line (a list written over several lines): it becomes a comment."""
    origin = " ".join(origin.split())
    return Site(
        id=hp_id, file=path, span=lines.span(node), call=call, param=param,
        value=lines.segment(node), default=default,
        tuple_size=len(node.elts) if isinstance(node, ast.Tuple) else 0,
        kind=kind, space=space, origin=origin, constant=constant, code=code, flags=flags,
        absl_flag=absl_flag,
    )


class _CallNames:
    """The base of a call's ids: its `name=` argument, else the snake-cased callee numbered in
    source order (`dense`, `dense_1`, ...). A call is numbered when its first site is made."""

    def __init__(self) -> None:
        self._counters: Counter[str] = Counter()
        self._bases: dict[ast.Call, str] = {}

    def base(self, call: ast.Call, callee: str, method: bool) -> str:
        if call not in self._bases:
            base = callee if method else snake(callee)
            name = next((k.value for k in call.keywords if k.arg == "name"), None)
            if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value:
                base = identifier(name.value)
            else:
                n = self._counters[base]
                self._counters[base] += 1
                base = f"{base}_{n}" if n else base
            self._bases[call] = base
        return self._bases[call]


def _callee_word(key: Key) -> str:
    """What an id says of the call: `dense` (units), `fit` (batch_size), `dataset` (`ds.batch(32)`,
    `ds.padded_batch(32)`: dataset_batch_size), `loop` (a range() that builds layers)."""
    return "loop" if key == LOOP else "dataset" if key[0] == "Dataset" else key[1]


def sites(candidates: Iterable[Candidate], path: str, lines: SourceLines) -> list[Site]:
    """Name the candidates that have a search space; one site per constant (at its definition,
    for its first use), sorted by position."""
    calls = _CallNames()
    ids = IdUniquer()
    constants: set[int] = set()  # the literals at definitions already made sites
    made: list[Site] = []
    for found in candidates:
        row, node, key = found.row, found.node, found.key
        space = anchor(row, found.value)
        if space is None:
            continue
        loop = key == LOOP
        if found.constant is not None:
            if id(node) in constants:
                continue
            constants.add(id(node))
            hp_id = identifier(found.constant.name)
            use = "the count of range()" if loop else found.use or f"{key[1]}({row.param})"
            origin = f"{path}:{node.lineno} {found.constant.definition}, used as {use} at line {found.call.lineno}"
        else:
            hp_id = f"{calls.base(found.call, _callee_word(key), key[0] == 'Model')}_{row.param}"
            origin = (f"{path}:{node.lineno} range({lines.segment(node)}), a loop that builds layers" if loop
                      else f"{path}:{node.lineno} {lines.segment(node)}, {found.use}" if found.use
                      else f"{path}:{node.lineno} {key[1]}({row.param}={lines.segment(node)})")
        name = found.constant.name if found.constant is not None else None
        made.append(make_site(
            ids.claim(hp_id), path, lines, node, call=qualified_name(key), param=row.param,
            default=found.value, kind=kind_of(row), space=space, origin=origin, constant=name,
            code="OPT104" if loop else "OPT102" if name else "OPT101",
            flags=found.constant.flags if found.constant is not None else (),
            absl_flag=found.constant.absl_flag if found.constant is not None else ""))
    made.sort(key=lambda s: (s.span.line, s.span.col))
    return made
