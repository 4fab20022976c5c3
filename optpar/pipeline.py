"""From a path to an analysis or a tuning script: reading, matching, controls, emitting.

Everything `optpar scan`, `refactor` and the pre-commit hook need, without TensorFlow, Keras or
hyperopt imports.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from optpar.config import Config, load_config
from optpar.controls import apply_controls
from optpar.emit import Script, build_script, output_name
from optpar.errors import UserError
from optpar.match import Analysis, analyze
from optpar.metadata import Catalog, MetadataError, load_catalog


@dataclass(frozen=True)
class Source:
    path: Path
    text: str
    notebook: object | None = None  # optpar.notebook.NotebookSource for .ipynb files


@dataclass(frozen=True)
class Generated:
    source: Path
    out_path: Path
    text: str  # the tuning script
    refactored: str  # the user's program with params[...] lookups
    analysis: Analysis


def read_source(path: str | os.PathLike) -> Source:
    path = Path(path)
    if path.is_dir():
        raise UserError(path, 1, 1, "is a directory, not a file")
    if path.suffix == ".ipynb":
        from optpar.notebook import read_notebook

        notebook = read_notebook(path)
        return Source(path, notebook.text, notebook)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(path, 1, 1, "no such file") from None
    except OSError as exc:
        raise UserError(path, 1, 1, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise UserError(path, 1, 1, "file is empty")
    if b"\x00" in data:
        raise UserError(path, 1, 1, "not a text file (it contains NUL bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise UserError(path, 1, 1, f"cannot decode as Python source: {reason}") from None
    return Source(path, text.lstrip("\ufeff") if encoding == "utf-8-sig" else text)


def catalog_for(config: Config, extra: tuple[str, ...] = ()) -> Catalog:
    try:
        return load_catalog([*config.metadata, *extra])
    except MetadataError as exc:
        raise UserError(exc.path, exc.line, exc.col, exc.message) from None


def analyze_source(source: Source, catalog: Catalog, config: Config) -> Analysis:
    try:
        analysis = analyze(source.text, str(source.path), catalog)
        return apply_controls(analysis, config)
    except UserError as exc:
        raise in_cells(source, exc) from None


def in_cells(source: Source, exc: UserError) -> UserError:
    """An error inside a notebook's program, re-pointed at its cell: `nb.ipynb:cell_3:2:5`."""
    if source.notebook is None or exc.path != str(source.path):
        return exc
    try:
        path, line, col = source.notebook.position(exc.line, exc.col)
    except ValueError:
        return exc
    return UserError(path, line, col, exc.message)


def analyze_path(path: str | os.PathLike, catalog: Catalog | None = None,
                 config: Config | None = None) -> Analysis:
    config = config or load_config(Path(path).parent)
    catalog = catalog or catalog_for(config)
    return analyze_source(read_source(path), catalog, config)


def generate(path: str | os.PathLike, out: str | os.PathLike | None = None,
             config: Config | None = None, metadata: tuple[str, ...] = (), standalone: bool = False) -> Generated:
    path = Path(path)
    config = config or load_config(path.parent)
    catalog = catalog_for(config, metadata)
    source = read_source(path)
    analysis = analyze_source(source, catalog, config)
    out_path = Path(out) if out is not None else output_name(path.with_suffix(".py"))
    try:
        source_name = os.path.relpath(path, out_path.parent)
    except ValueError:  # another drive on Windows
        source_name = str(path)
    try:
        script: Script = build_script(analysis, source_name, out_path.name, standalone)
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


def with_sites(analysis: Analysis, sites) -> Analysis:
    return dataclasses.replace(analysis, sites=tuple(sites))
