"""optpar new: from data to a readable baseline Keras script (probe -> infer -> render)."""

from __future__ import annotations

from pathlib import Path

from optpar.baseline.infer import Recipe, infer
from optpar.baseline.probe import probe
from optpar.baseline.render import render

__all__ = ["new"]


def new(data: str | Path, out: str | Path, target: str | None = None, epochs: int | None = None,
        command: str = "") -> tuple[str, Recipe]:
    """The script for `data` (to be written at `out`) and the recipe it was made from."""
    recipe = infer(probe(data, target), epochs)
    return render(recipe, Path(out), command), recipe
