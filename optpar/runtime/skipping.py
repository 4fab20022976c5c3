"""Statements of your program that feed the measured fit() nothing (analysis/relevance.py).

The tuning script of a notebook runs each of them once, at its top level, inside
``with optpar_runtime.idle("model.ipynb:cell_12:3:1"):``. One that fails there (a plot that needs
pydot, a progress bar that needs a notebook's widgets, a download, an earlier experiment's own
error) is said in one line and skipped: what it would have done changes nothing the search
measures, so it does not end the search before its first trial. An interrupt or ``sys.exit()``
still ends it. Once one was skipped, a later ``NameError`` most likely reads what the skipped one
would have bound (``kt`` after ``import keras_tuner as kt``): those are counted, and said in one
line where the search starts (``say_skipped``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from optpar.runtime.state import note

_FOLLOWERS: list[str] = []  # where a NameError came after a skipped statement
_SKIPPED: list[str] = []  # where a statement was skipped and said


@contextmanager
def idle(where: str) -> Iterator[None]:
    """Run the statement in the ``with`` block; an ``Exception`` from it is a note, not an end."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 -- whatever the statement raises, it feeds nothing
        if isinstance(exc, NameError) and _SKIPPED:
            _FOLLOWERS.append(where)
            return
        _SKIPPED.append(where)
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        note(f"{where}: skipped: it feeds the measured fit() nothing and raised "
             f"{type(exc).__name__}{': ' + reason if reason else ''}")


def say_skipped() -> None:
    """The statements skipped on a name a skipped one would have bound, in one line (main() calls
    it as the search starts)."""
    if _FOLLOWERS:
        count, first, last = len(_FOLLOWERS), _FOLLOWERS[0], _FOLLOWERS[-1]
        _FOLLOWERS.clear()
        span = first if count == 1 else f"{first} to {last}"
        note(f"{count} more statement{'s' if count > 1 else ''} that feed the measured fit() nothing "
             f"skipped ({span}): a NameError on what a skipped statement would have bound")
