"""Statements of your program that feed the measured fit() nothing (analysis/relevance.py).

The tuning script of a notebook runs each of them once, at its top level, inside
``with optpar_runtime.idle("model.ipynb:cell_12:3:1"):``. One that fails there (a plot that needs
pydot, a progress bar that needs a notebook's widgets, a download, an earlier experiment's error)
is said in one line and skipped: what it would have done changes nothing the search measures, so
it does not end the search before its first trial. An interrupt or ``sys.exit()`` still ends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from optpar.runtime.state import note


@contextmanager
def idle(where: str) -> Iterator[None]:
    """Run the statement in the ``with`` block; an ``Exception`` from it is a note, not an end."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 -- whatever the statement raises, it feeds nothing
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        note(f"{where}: skipped: it feeds the measured fit() nothing and raised "
             f"{type(exc).__name__}{': ' + reason if reason else ''}")
