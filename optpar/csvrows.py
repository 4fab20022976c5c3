"""Validated CSV tables: rows with their line numbers, cells read by column name, and every
problem a :class:`MetadataError` at ``path:line:col`` (line = CSV line, col = 1-based column).

The shared reading of optpar's tables (``keras.csv``, ``keras1.csv``, ``roles.csv`` and the
user's own ``--metadata`` files), and the Keras paths they name (``layers.Dense``).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence

from optpar.errors import UserError

__all__ = ["Cells", "IDENT", "Key", "MetadataError", "check_header", "key_of", "read_table"]

Key = tuple[str, str]

_PREFIXES = ("tensorflow.keras.", "tf.keras.", "keras.")
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class MetadataError(UserError):
    """A problem in a metadata CSV; ``str(e)`` is ``path:line:col: error: message``."""


def key_of(path: str) -> Key:
    """``"layers.Dense"`` -> ``("layers", "Dense")``; a leading ``keras.`` is dropped.

    ``"optimizers.schedules.ExponentialDecay"`` -> ``("optimizers", "ExponentialDecay")``,
    ``"Model.fit"`` -> ``("Model", "fit")``.
    """
    p = path.strip()
    for prefix in _PREFIXES:
        if p.startswith(prefix):
            p = p[len(prefix):]
            break
    parts = p.split(".")
    if len(parts) < 2 or not all(IDENT.match(x) for x in parts):
        raise ValueError(f"not a dotted Keras path: {path!r}")
    return parts[0], parts[-1]


def read_table(path: str | os.PathLike) -> tuple[str, int, list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of a CSV; blank lines and '#' comment lines skipped."""
    shown = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            header: list[str] | None = None
            header_line = 1
            rows: list[tuple[int, list[str]]] = []
            last = 0
            for cells in reader:
                start, last = last + 1, reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if cells[0].lstrip().startswith("#"):
                    continue
                if header is None:
                    header = [c.strip() for c in cells]
                    header_line = start
                    continue
                rows.append((start, cells))
    except csv.Error as exc:
        raise MetadataError(shown, max(last + 1, 1), 1, f"malformed CSV: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MetadataError(shown, 1, 1, f"cannot read metadata file: {reason}") from None
    if header is None:
        raise MetadataError(shown, 1, 1, "empty metadata file (no header line)")
    return shown, header_line, header, rows


def check_header(shown: str, line: int, header: list[str], known: Sequence[str],
                  required: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if name not in known:
            raise MetadataError(shown, line, i + 1, f"unknown column {name!r} (expected one of {', '.join(known)})")
        if name in index:
            raise MetadataError(shown, line, i + 1, f"duplicate column {name!r}")
        index[name] = i
    for name in required:
        if name not in index:
            raise MetadataError(shown, line, 1, f"missing required column {name!r}")
    return index


class Cells:
    """Access to one CSV row by column name, raising MetadataError at the right column."""

    def __init__(self, shown: str, line: int, cells: list[str], index: dict[str, int]) -> None:
        self.shown, self.line, self.cells, self.index = shown, line, cells, index
        if len(cells) > len(index):
            raise MetadataError(shown, line, len(index) + 1, f"expected {len(index)} fields, found {len(cells)}")

    def col(self, name: str) -> int:
        return self.index.get(name, 0) + 1

    def get(self, name: str) -> str:
        i = self.index.get(name)
        if i is None or i >= len(self.cells):
            return ""
        return self.cells[i].strip()

    def error(self, name: str, message: str) -> MetadataError:
        return MetadataError(self.shown, self.line, self.col(name), message)

    def number(self, name: str) -> float | None:
        text = self.get(name)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise self.error(name, f"{name} must be a number, not {text!r}") from None
        if not math.isfinite(value):
            raise self.error(name, f"{name} must be a finite number, not {text!r}")
        return value

    def natural(self, name: str, default: int | None) -> int | None:
        text = self.get(name)
        if not text:
            return default
        if not re.fullmatch(r"\d+", text):
            raise self.error(name, f"{name} must be a non-negative integer, not {text!r}")
        return int(text)

    def one_of(self, name: str, allowed: Sequence[str], default: str | None = None) -> str:
        text = self.get(name)
        if not text and default is not None:
            return default
        if text not in allowed:
            raise self.error(name, f"unknown {name} {text!r} (expected one of {', '.join(allowed)})")
        return text
