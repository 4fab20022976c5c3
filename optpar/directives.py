"""Inline control comments: ``# optpar: [name=]skip|choice(...)|range(...)`` on the line of a value.

Forms (``optpar:`` may appear anywhere in a comment, e.g. ``# noqa  # optpar: skip``; text
after the directive is allowed only as a further ``# ...`` comment)::

    Dense(128)            # optpar: skip                  -- never tuned
    Dense(128)            # optpar: choice(64, 128, 256)  -- hp.choice over these literals
    Dropout(0.2)          # optpar: range(0.1, 0.5)       -- uniform float range
    Adam(1e-3)            # optpar: range(1e-4, 1e-2, log) -- log-uniform (also ``log=True``)
    fit(epochs=10)        # optpar: range(5, 30)          -- two ints: an integer range
    Dense(32, activation="relu")  # optpar: units=choice(16, 32, 48)  -- named: for `units` only
    model.add(Dense(64))  # optpar: repeat(1, 4)          -- the line is a block, repeated 1 to 4 times

A name picks one hyperparameter of a line that holds several: the parameter it feeds
(``units``, ``activation``, ``rate``) or the constant's (or function parameter's) own name.
Which value an unnamed comment controls on such a line is ``optpar.controls``' business.

``choice`` options are Python literals (numbers, strings, True/False/None, tuples of those),
each read with :func:`ast.literal_eval` -- nothing is ever evaluated. A range whose bounds
are both ints is an integer range; if either is a float both become floats.

The source is scanned with :mod:`tokenize`, so ``#`` inside a string is not a comment. When
the text does not contain ``optpar:`` at all, nothing is tokenized (the common, fast case).
A source that cannot be tokenized yields the directives found before the bad spot; the
syntax error itself is the parser's to report.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import math
import re
import tokenize
from dataclasses import dataclass

from optpar.errors import UserError

__all__ = ["Directive", "DirectiveError", "parse_directives", "VERBS"]

MARKER = "optpar:"
VERBS = ("skip", "choice", "range", "repeat")
# `units=choice(...)`: a name, then `=` (not `==`), then the directive.
_NAMED = re.compile(r"([^\W\d]\w*)\s*=(?!=)\s*(.*)", re.DOTALL)
_EXPECTED = "expected skip, choice(...), range(...) or repeat(...), optionally named: units=choice(...)"


class DirectiveError(UserError):
    """A malformed ``# optpar: ...`` comment."""


@dataclass(frozen=True)
class Directive:
    """One parsed ``# optpar:`` comment. ``line``/``col`` (1-based) locate the ``#``."""

    line: int
    col: int
    kind: str  # "skip" | "choice" | "range" | "repeat"
    options: tuple = ()  # choice: the literal options, in order
    low: float | int | None = None  # range bounds; ints for an integer range
    high: float | int | None = None
    log: bool = False
    name: str | None = None  # the hyperparameter it is for: `units=choice(...)`

    @property
    def is_integer(self) -> bool:
        """True for a range over integers."""
        return self.kind == "range" and isinstance(self.low, int) and isinstance(self.high, int)

    def spec(self) -> str:
        """The directive as written, without a name: `choice(16, 32)`, `range(0.1, 0.5, log)`."""
        if self.kind == "choice":
            return f"choice({', '.join(map(repr, self.options))})"
        if self.kind == "range":
            return f"range({self.low!r}, {self.high!r}{', log' if self.log else ''})"
        if self.kind == "repeat":
            return f"repeat({self.low!r}, {self.high!r})"
        return self.kind


def parse_directives(text: str, path: str) -> dict[int, Directive]:
    """Map each source line carrying an ``# optpar:`` comment to its :class:`Directive`.

    Raises :class:`DirectiveError` (``path:line:col: error: ...`` at the comment's ``#``) for
    an unknown verb, an empty or duplicated choice, a range with ``low >= high`` or a log
    range with ``low <= 0``, or an argument that is not a literal.
    """
    if MARKER not in text:
        return {}
    found: dict[int, Directive] = {}
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    try:
        for token in tokens:
            if token.type == tokenize.COMMENT and MARKER in token.string:
                line, col0 = token.start
                found[line] = _parse_comment(token.string, line, col0 + 1, path)
    except (tokenize.TokenError, SyntaxError):  # IndentationError included
        pass
    return found


def _parse_comment(comment: str, line: int, col: int, path: str) -> Directive:
    def error(message: str) -> DirectiveError:
        return DirectiveError(path, line, col, message)

    start = comment.index(MARKER)
    body = comment[start + len(MARKER) :]
    if MARKER in body:
        raise error("more than one 'optpar:' directive in one comment")
    body = body.strip()
    if not body:
        raise error(f"empty optpar directive ({_EXPECTED})")
    name = None
    named = _NAMED.fullmatch(body)
    if named:
        name, body = named.group(1), named.group(2).strip()
        if not body:
            raise error(f"nothing after '{name}=' ({_EXPECTED})")
    directive = _parse_body(body, line, col, error)
    return directive if name is None else dataclasses.replace(directive, name=name)


def _parse_body(body: str, line: int, col: int, error) -> Directive:
    try:
        node = ast.parse(body, mode="eval").body
    except SyntaxError:
        raise error(f"malformed optpar directive {body!r} ({_EXPECTED})") from None

    if isinstance(node, ast.Name):
        verb, args, keywords = node.id, [], []
        called = False
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        verb, args, keywords = node.func.id, node.args, node.keywords
        called = True
    else:
        raise error(f"malformed optpar directive {body!r} ({_EXPECTED})")

    if verb not in VERBS:
        raise error(f"unknown optpar directive {verb!r} (expected skip, choice, range or repeat)")
    if any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in keywords):
        raise error(f"{verb}(...) does not take * or ** arguments")

    if verb == "skip":
        if called:
            raise error("skip takes no arguments")
        return Directive(line, col, "skip")
    if not called:
        raise error(f"{verb} needs arguments: {verb}(...)")
    if verb == "choice":
        return _choice(args, keywords, line, col, error)
    if verb == "repeat":
        return _repeat(args, keywords, line, col, error)
    return _range(args, keywords, line, col, error)


def _literal(node: ast.expr, error) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise error(f"not a literal: {ast.unparse(node)!r}") from None


def _choice(args, keywords, line, col, error) -> Directive:
    if keywords:
        raise error(f"choice takes no keyword arguments, got {keywords[0].arg}=")
    if not args:
        raise error("empty choice(): give at least one option")
    options = tuple(_literal(a, error) for a in args)
    seen: set[str] = set()
    for option, node in zip(options, args):
        if not _plain(option):
            raise error(f"choice option {ast.unparse(node)} must be a finite number, a string, "
                        "True/False/None or a tuple of those")
        key = f"{type(option).__name__}:{option!r}"
        if key in seen:
            raise error(f"duplicate option {option!r} in choice(...)")
        seen.add(key)
    return Directive(line, col, "choice", options=options)


def _plain(option: object, depth: int = 0) -> bool:
    """A value a search space, best.json and generated code can all hold: finite numbers,
    strings, True/False/None, and tuples of those."""
    if option is None or isinstance(option, (bool, int, str)):
        return True
    if isinstance(option, float):
        return math.isfinite(option)
    if isinstance(option, tuple) and depth < 3:
        return all(_plain(item, depth + 1) for item in option)
    return False


def _number(node: ast.expr, error) -> int | float:
    value = _literal(node, error)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(f"range bounds must be numbers, got {ast.unparse(node)}")
    if value != value or value in (float("inf"), float("-inf")):
        raise error(f"range bounds must be finite, got {ast.unparse(node)}")
    return value


def _range(args, keywords, line, col, error) -> Directive:
    log: bool | None = None
    bounds = list(args)
    if bounds and isinstance(bounds[-1], ast.Name):
        name = bounds.pop()
        if name.id != "log":
            raise error(f"unknown range option {name.id!r} (the only option is log)")
        log = True
    for keyword in keywords:
        if keyword.arg != "log":
            raise error(f"unknown range option {keyword.arg!r} (the only option is log)")
        if log is not None:
            raise error("log given twice")
        value = _literal(keyword.value, error)
        if not isinstance(value, bool):
            raise error(f"log must be True or False, got {ast.unparse(keyword.value)}")
        log = value
    if len(bounds) != 2:
        raise error(f"range needs two bounds, range(low, high[, log]), got {len(bounds)}")
    low, high = (_number(b, error) for b in bounds)
    if isinstance(low, float) or isinstance(high, float):
        low, high = float(low), float(high)
    if low >= high:
        raise error(f"empty range: low ({low!r}) must be below high ({high!r})")
    if log and low <= 0:
        raise error(f"log range needs a positive low bound, got {low!r}")
    return Directive(line, col, "range", low=low, high=high, log=bool(log))


def _repeat(args, keywords, line, col, error) -> Directive:
    """`repeat(low, high)`: the line is a block built `low` to `high` times (whole numbers >= 1)."""
    if keywords or len(args) != 2:
        raise error("repeat needs two whole numbers, repeat(low, high), e.g. repeat(1, 4)")
    low, high = (_number(a, error) for a in args)
    if not all(isinstance(v, int) and v >= 1 for v in (low, high)):
        raise error(f"repeat counts must be whole numbers of at least 1, got repeat({low!r}, {high!r})")
    if low >= high:
        raise error(f"empty repeat: low ({low}) must be below high ({high})")
    return Directive(line, col, "repeat", low=low, high=high)
