"""Search spaces as data, anchored on the user's own value, and rendered as hyperopt code.

:func:`anchor` turns a metadata :class:`~optpar.metadata.Row` and the literal the user wrote
into a :class:`Space`; :meth:`Space.code` renders it as hyperopt source text using the names
``hp``, ``scope`` and ``math``.  This module never imports hyperopt.

Rules (see DESIGN.md, "Search-space rules"):

* the user's value is always inside the space;
* ``rel`` rows scale around the value (``[value*Min, value*Max]``), ``abs`` rows use
  ``[Min, Max]`` widened to include the value;
* integers stay integers (``scope.int(hp.quniform(...))`` or a choice of ints);
* ``pow2`` is a choice of the powers of two in the bounds plus the user's value;
* floats are rounded to 6 significant digits so the emitted code stays readable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from optpar.metadata import Row

__all__ = ["Space", "anchor", "kind_of"]

DISTS = ("choice", "uniform", "loguniform", "quniform")
_DIGITS = 6
_EPS = 1e-9


def _round(x: float) -> float:
    """``x`` rounded to 6 significant digits (0.00010000000000000002 -> 0.0001)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{_DIGITS}g}")


def _num(x: Any) -> str:
    return repr(x)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@dataclass(frozen=True)
class Space:
    """One hyperparameter's search space."""

    dist: str                   # "choice" | "uniform" | "loguniform" | "quniform"
    low: float | None = None    # real-valued bounds (loguniform too: code() takes the logs)
    high: float | None = None
    q: float | None = None
    options: tuple = ()
    integer: bool = False

    def __post_init__(self) -> None:
        if self.dist not in DISTS:
            raise ValueError(f"unknown distribution {self.dist!r}")
        if self.dist == "choice":
            if not self.options:
                raise ValueError("a choice needs at least one option")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"bad bounds {self.low!r}..{self.high!r}")
        if self.dist == "loguniform" and self.low is not None and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        if self.dist == "quniform" and (self.q is None or self.q <= 0):
            raise ValueError("quniform needs q > 0")

    # ----------------------------------------------------------------- rendering

    def code(self, label: str) -> str:
        """hyperopt source text, e.g. ``hp.choice("dense_units", [32, 64, 128])``."""
        name = json.dumps(label)
        if self.dist == "choice":
            return f"hp.choice({name}, [{', '.join(_num(o) for o in self.options)}])"
        if self.dist == "uniform":
            return f"hp.uniform({name}, {_num(self.low)}, {_num(self.high)})"
        if self.dist == "loguniform":
            return f"hp.loguniform({name}, math.log({_num(self.low)}), math.log({_num(self.high)}))"
        text = f"hp.quniform({name}, {_num(self.low)}, {_num(self.high)}, {_num(self.q)})"
        return f"scope.int({text})" if self.integer else text

    def describe(self) -> str:
        """Short human text: ``choice(32, 64, 128)``, ``loguniform(0.0001, 0.01)``, ``int(7..30)``."""
        if self.dist == "choice":
            return f"choice({', '.join(_num(o) for o in self.options)})"
        if self.dist == "quniform" and self.integer:
            step = "" if self.q == 1 else f" step {_num(self.q)}"
            return f"int({_num(self.low)}..{_num(self.high)}{step})"
        if self.dist == "quniform":
            return f"quniform({_num(self.low)}, {_num(self.high)}, {_num(self.q)})"
        return f"{self.dist}({_num(self.low)}, {_num(self.high)})"

    def as_json(self) -> dict:
        """JSON-ready dict; keys whose value is None (and ``options`` outside a choice) are left out."""
        out: dict[str, Any] = {"dist": self.dist}
        for name in ("low", "high", "q"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.dist == "choice":
            out["options"] = [list(o) if isinstance(o, tuple) else o for o in self.options]
        out["int"] = self.integer
        return out

    # ----------------------------------------------------------------- values

    def _index(self, value: Any) -> int | None:
        for i, option in enumerate(self.options):
            if isinstance(option, bool) != isinstance(value, bool):
                continue
            if option == value:
                return i
        return None

    def contains(self, value: Any) -> bool:
        if self.dist == "choice":
            return self._index(value) is not None
        if not _is_number(value) or not math.isfinite(value):
            return False
        assert self.low is not None and self.high is not None
        if not (self.low <= value <= self.high):
            return False
        if self.integer and value != int(value):
            return False
        if self.dist == "quniform":
            assert self.q is not None
            ratio = value / self.q
            return abs(ratio - round(ratio)) <= _EPS * max(1.0, abs(ratio))
        return True

    def point(self, value: Any) -> Any:
        """``value`` in hyperopt's point encoding (``points_to_evaluate``): choice -> index."""
        if self.dist == "choice":
            index = self._index(value)
            if index is None:
                raise ValueError(f"{value!r} is not one of {self.describe()}")
            return index
        if self.integer:
            return int(value)
        return float(value)


# --------------------------------------------------------------------------- anchoring


def kind_of(row: Row) -> str:
    """``"int"``, ``"float"`` or ``"categorical"`` (str and bool parameters)."""
    if row.type == "int":
        return "int"
    if row.type == "float":
        return "float"
    return "categorical"


def _accepts(row: Row, value: Any) -> bool:
    if row.type == "bool":
        return isinstance(value, bool)
    if row.type == "str":
        return isinstance(value, str)
    if not _is_number(value):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if row.type == "int":
        return isinstance(value, int)
    return True


def _scalar(row: Row, value: Any) -> Any:
    """An all-equal tuple of a tuple parameter stands for its one element."""
    if isinstance(value, (tuple, list)) and row.tuple_size > 0:
        if len(value) == row.tuple_size and value and all(v == value[0] and type(v) is type(value[0]) for v in value):
            return value[0]
        return None
    return value


def _bounds(row: Row, value: float) -> tuple[float, float] | None:
    assert row.min is not None and row.max is not None
    if row.base == "rel":
        a, b = value * row.min, value * row.max
        lo, hi = min(a, b), max(a, b)
    else:
        lo, hi = min(row.min, value), max(row.max, value)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return lo, hi


def _choice(row: Row, value: Any) -> Space:
    if row.base == "add":
        # Offsets around the user's value (kernel sizes 3 -> 1, 3, 5), clipped to Min/Max.
        near = {value + offset for offset in row.choices}
        options = sorted(
            v for v in near
            if (row.min is None or v >= row.min) and (row.max is None or v <= row.max)
        )
        if value not in options:
            options = sorted(options + [value])
        return Space("choice", options=tuple(options), integer=row.type == "int")
    options = list(row.choices)
    if isinstance(value, str):
        # Your spelling in place of the option it names: Keras reads an optimizer's name in any
        # case ('RMSprop' is 'rmsprop'), so both in the set would be one optimizer drawn twice as often.
        options = [value if isinstance(o, str) and o.lower() == value.lower() else o for o in options]
    if not any(isinstance(o, bool) == isinstance(value, bool) and o == value for o in options):
        options.append(value)
    if all(_is_number(o) for o in options):
        options.sort()
    return Space("choice", options=tuple(options), integer=row.type == "int")


def _pow2(row: Row, value: int) -> Space | None:
    if value <= 0:
        return None
    bounds = _bounds(row, value)
    if bounds is None:
        return None
    lo, hi = bounds
    options = {value}
    k = 0
    while 2 ** k <= hi:
        if 2 ** k >= lo - _EPS:
            options.add(2 ** k)
        k += 1
    return Space("choice", options=tuple(sorted(options)), integer=True)


def _continuous(row: Row, value: float) -> Space | None:
    bounds = _bounds(row, value)
    if bounds is None:
        return None
    lo, hi = bounds
    if row.hptype == "loguniform":
        if value <= 0 or lo <= 0:
            return None
        lo, hi = min(_round(lo), value), max(_round(hi), value)
        if lo >= hi:
            return None
        return Space("loguniform", low=lo, high=hi)

    integer = row.int
    if row.hptype == "quniform" or integer:
        q = row.step if row.step is not None else 1.0
        if integer:
            q = max(1, int(round(q)))
        if integer and value != int(value):
            return None
        ratio = value / q
        if abs(ratio - round(ratio)) > _EPS * max(1.0, abs(ratio)):
            # the user's value is off the grid: fall back to a grid that contains it
            if integer:
                q = 1
            else:
                lo, hi = min(_round(lo), value), max(_round(hi), value)
                return Space("uniform", low=float(lo), high=float(hi)) if lo < hi else None
        if integer:
            low, high = math.floor(lo / q) * q, math.ceil(hi / q) * q
            if row.min is not None and row.min > 0 and value >= 1:
                low = max(low, q)
            low, high = int(min(low, value)), int(max(high, value))
            if low >= high:
                return None
            return Space("quniform", low=low, high=high, q=int(q), integer=True)
        low = _round(math.floor(lo / q + _EPS) * q)
        high = _round(math.ceil(hi / q - _EPS) * q)
        low, high = min(low, value), max(high, value)
        if low >= high:
            return None
        return Space("quniform", low=float(low), high=float(high), q=_round(q))

    lo, hi = min(_round(lo), value), max(_round(hi), value)
    if lo >= hi:
        return None
    return Space("uniform", low=float(lo), high=float(hi))


def anchor(row: Row, value: Any) -> Space | None:
    """The search space for ``row`` around the user's literal ``value``.

    ``value`` is an int/float/str/bool (or an all-equal tuple of a tuple parameter, which
    stands for its element).  Returns None when the value cannot be tuned with this row:
    wrong type (a bool where an int is expected, a float for an int), a non-finite number,
    zero or a negative number for a log scale or pow2, or a range that collapses to a point.
    """
    value = _scalar(row, value)
    if value is None or not _accepts(row, value):
        return None
    if row.hptype == "choice":
        return _choice(row, value)
    if row.hptype == "pow2":
        return _pow2(row, value)
    if row.hptype in ("uniform", "loguniform", "quniform"):
        return _continuous(row, value)
    return None
