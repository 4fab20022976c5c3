"""From a path to an analysis or a tuning script: reading, matching, controls, emitting.

Everything `optpar scan`, `refactor` and the pre-commit hook need, without TensorFlow, Keras or
hyperopt imports. Writing a tuning script needs the rewriter (libcst); reading and matching do
not, so `emit` (and `plan`, which it uses) is imported by `generate` alone and `scan` never
loads libcst.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from optpar.analysis import Analysis, analyze
from optpar.config import Config, load_config
from optpar.controls import apply_controls
from optpar.errors import UserError
from optpar.metadata import Catalog, load_catalog
from optpar.source import Source, in_cells, position_label, read_source, tune_script_for


@dataclass(frozen=True)
class Generated:
    source: Path
    out_path: Path
    text: str  # the tuning script
    refactored: str  # the user's program with params[...] lookups
    analysis: Analysis


def catalog_for(config: Config, extra: tuple[str, ...] = ()) -> Catalog:
    return load_catalog([*config.metadata, *extra])


def analyze_source(source: Source, catalog: Catalog, config: Config) -> Analysis:
    try:
        analysis = analyze(source.text, str(source.path), catalog)
        return apply_controls(analysis, config)
    except UserError as exc:
        raise in_cells(source, exc) from None


def analyze_path(path: str | os.PathLike, catalog: Catalog | None = None,
                 config: Config | None = None) -> Analysis:
    config = config or load_config(Path(path).parent)
    catalog = catalog or catalog_for(config)
    return analyze_source(read_source(path), catalog, config)


def generate(path: str | os.PathLike, out: str | os.PathLike | None = None,
             config: Config | None = None, metadata: tuple[str, ...] = (), standalone: bool = False) -> Generated:
    from optpar.emit import build_script  # the rewriter (libcst): only when a script is written

    path = Path(path)
    config = config or load_config(path.parent)
    catalog = catalog_for(config, metadata)
    source = read_source(path)
    analysis = analyze_source(source, catalog, config)
    out_path = Path(out) if out is not None else tune_script_for(path)
    try:
        source_name = os.path.relpath(path, out_path.parent)
    except ValueError:  # another drive on Windows
        source_name = str(path)
    try:
        fit = analysis.fit.span if analysis.fit is not None else None
        fit_at = position_label(source, source_name, fit.line, fit.col + 1) if fit is not None else ""
        where = (lambda line, col: position_label(source, source_name, line, col)) if source.notebook else None
        script = build_script(analysis, source_name, out_path.name, standalone, fit_at, where)
    except UserError as exc:
        raise in_cells(source, exc) from None
    return Generated(path, out_path, script.text, script.refactored, analysis)


def write_atomic(path: Path, text: str) -> None:
    """Write all of `text` or nothing: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
