"""Jupyter notebooks as Python programs.

A notebook is read as **one Python program**: its code cells in notebook order, each cell's
source normalised to end with a newline and the cells concatenated (no separator lines, so
the program's line count is the sum of the cells' line counts). Markdown and raw cells are
skipped. Every later stage (parse, match, rewrite) sees ordinary Python text;
:meth:`NotebookSource.with_text` puts a rewritten program back into the notebook.

IPython syntax would not parse as Python, so each such line is replaced by a Python line of
the **same indentation** (blocks stay valid, the line count never changes):

=============================  ==============================================
``%matplotlib inline``         ``pass  # [optpar magic] %matplotlib inline``
``!pip install x``             ``pass  # [optpar magic] !pip install x``
``?obj`` / ``obj?`` / ``??``   ``pass  # [optpar magic] obj?``
``files = !ls``                ``files = None  # [optpar magic] files = !ls``
``t = %timeit -o f()``         ``t = None  # [optpar magic] t = %timeit -o f()``
=============================  ==============================================

The line magics ``%time``, ``%timeit`` and ``%prun`` followed by a statement (no options)
keep that statement as Python -- ``%time model.fit(x, y, epochs=5)`` becomes
``model.fit(x, y, epochs=5)  # [optpar magic] %time`` -- so its hyperparameters are found
and it runs (once) while tuning; ``with_text`` puts the ``%time`` back in front of the
possibly rewritten statement, and :meth:`NotebookSource.position` shifts columns on such a
line to the cell's own. Every other line magic is replaced by a placeholder and does not run.

Only lines that *start a statement* are considered (a ``%`` line inside a triple-quoted
string or inside open brackets is left alone). The marker is ``[optpar magic]`` -- it
deliberately does not contain ``optpar:`` so that it is never read as an inline directive.

Cell magics (``%%...`` on the first non-blank line of a cell):

* ``%%time``, ``%%timeit``, ``%%capture`` and ``%%prun`` run their body as Python, so only the
  magic line becomes a placeholder and the body stays Python: its hyperparameters are found
  and, in the tuning script, it runs once like any other code.
* every other cell magic (``%%bash``, ``%%writefile``, ``%%html``, ...) makes the whole cell
  non-Python: every line becomes a placeholder, so the cell's body is **not run** while tuning.

A magic continued over several lines with a trailing backslash (``!cmd \\`` then
``--flag``, as IPython joins them) is a placeholder on each of its lines, all at the first
line's indentation. Not handled (rare in model notebooks): IPython autocall (``/f x``,
``,f a b``).

Positions: :meth:`NotebookSource.label` gives ``model.ipynb:cell_3:2:5`` (cell 3 of the
notebook counting *all* cells, markdown included, as notebook editors number them; line 2 of
that cell; column 5). It is ``path:line:col`` with the cell folded into the path, the form
nbQA uses, so flake8-style problem matchers still read line and column.
:meth:`NotebookSource.position` returns the same as ``(path, line, col)`` for a ``UserError``.

``nbformat`` is imported lazily, only when a notebook is actually read or written.
"""

from __future__ import annotations

import bisect
import copy
import json
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from optpar.errors import UserError

__all__ = [
    "MAGIC_MARKER",
    "NotebookError",
    "NotebookSource",
    "is_notebook",
    "read_notebook",
]

#: Comment text that marks a line standing in for IPython syntax.
MAGIC_MARKER = "[optpar magic]"

#: Cell magics whose body is ordinary Python code.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

#: Line magics that run the rest of their line as a Python statement; the statement is kept.
_TIMED_LINE_MAGIC = re.compile(r"(%(?:time|timeit|prun)\s+)(?!-)(.*)$")
_KEPT_SUFFIX = f"  # {MAGIC_MARKER} "
_ASSIGN_MAGIC = re.compile(r"([A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*=\s*[!%]")
_BRACKETS_OPEN = "([{"
_BRACKETS_CLOSE = ")]}"


class NotebookError(UserError):
    """A notebook that cannot be read: unreadable file, invalid JSON, invalid format."""


@dataclass(frozen=True)
class _Cell:
    index: int  # position in nb.cells (0-based)
    first_line: int  # first program line (1-based)
    line_count: int
    ends_with_newline: bool
    # (line within the cell, 0-based; original text; magic prefix kept off a Python statement,
    # e.g. "%time ", or "" for a placeholder line)
    magics: tuple[tuple[int, str, str], ...]


@dataclass(frozen=True)
class NotebookSource:
    """A notebook read as one Python program (see the module docstring)."""

    path: str
    text: str
    cells: tuple[_Cell, ...] = field(repr=False)
    notebook: Any = field(repr=False, compare=False)  # the parsed nbformat v4 NotebookNode

    # -- positions -------------------------------------------------------------------------
    def locate(self, line: int) -> tuple[int, int]:
        """Program line (1-based) -> (cell number, line within the cell), both 1-based.

        The cell number counts every cell of the notebook, markdown and raw included.
        """
        cell = self._cell_at(line)
        return cell.index + 1, line - cell.first_line + 1

    def position(self, line: int, col: int) -> tuple[str, int, int]:
        """``(path, line, col)`` for a message: the path is ``nb.ipynb:cell_N``."""
        cell_no, cell_line = self.locate(line)
        cell = self.cells[[c.index for c in self.cells].index(cell_no - 1)]
        for offset, original, prefix in cell.magics:
            if offset == cell_line - 1 and prefix:
                indent = len(original) - len(original.lstrip(" \t"))
                if col > indent:  # the statement sits after "%time " in the cell
                    col += len(prefix)
        return f"{self.path}:cell_{cell_no}", cell_line, col

    def label(self, line: int, col: int) -> str:
        """``model.ipynb:cell_3:2:5`` -- cell 3, line 2 of that cell, column 5."""
        path, cell_line, col = self.position(line, col)
        return f"{path}:{cell_line}:{col}"

    def _cell_at(self, line: int) -> _Cell:
        starts = [c.first_line for c in self.cells]
        i = bisect.bisect_right(starts, line) - 1
        if i < 0 or line >= self.cells[i].first_line + self.cells[i].line_count:
            # Empty cells share their first_line with the next cell; bisect picks the last
            # cell starting at or before ``line``, so only a line past the end lands here.
            raise ValueError(f"line {line} is outside the notebook's program text")
        return self.cells[i]

    # -- writing back ----------------------------------------------------------------------
    def with_text(self, new_text: str) -> str:
        """The notebook JSON with the code cells replaced by the slices of ``new_text``.

        ``new_text`` must have the same number of lines as :attr:`text` (each cell keeps its
        line count); a ``ValueError`` is raised otherwise. Magic placeholder lines get their
        original text back. Cells whose source does not change are left exactly as read;
        outputs, execution counts and metadata are never touched. The result ends with a
        newline, as ``nbformat.write`` would write it.
        """
        import nbformat

        lines = _split_lines(new_text)
        expected = sum(c.line_count for c in self.cells)
        if len(lines) != expected:
            raise ValueError(
                f"{self.path}: rewritten program has {len(lines)} lines, "
                f"the notebook's code cells have {expected}"
            )
        nb = copy.deepcopy(self.notebook)
        for cell in self.cells:
            start = cell.first_line - 1
            cell_lines = lines[start : start + cell.line_count]
            for offset, original, prefix in cell.magics:
                cell_lines[offset] = _restore(original, prefix, cell_lines[offset], self.path)
            source = "\n".join(cell_lines)
            if cell.ends_with_newline and cell_lines:
                source += "\n"
            if source != nb.cells[cell.index].source:
                nb.cells[cell.index].source = source
        out = nbformat.writes(nb, version=nbformat.NO_CONVERT)
        return out if out.endswith("\n") else out + "\n"


# -- reading -------------------------------------------------------------------------------
def is_notebook(path: str | PathLike[str]) -> bool:
    """True for a ``.ipynb`` path (by name only; the file is not opened)."""
    return str(path).lower().endswith(".ipynb")


def read_notebook(path: str | PathLike[str]) -> NotebookSource:
    """Read a notebook (converted to format v4) as one Python program.

    Raises :class:`NotebookError` (one line, with position where JSON gives one) for an
    unreadable file, invalid JSON, a document that is not a valid notebook, or a notebook
    whose kernel language is not Python.
    """
    import nbformat

    name = str(path)
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(name, 1, 1, f"cannot read notebook: {_reason(exc)}") from None
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NotebookError(name, exc.lineno, exc.colno, f"invalid notebook JSON: {exc.msg}") from None
    try:
        nb = nbformat.reader.reads(raw)
        nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises a zoo of types: NBFormatError, ValidationError, KeyError...
        raise NotebookError(name, 1, 1, f"not a valid Jupyter notebook: {_reason(exc)}") from None

    language = _language(nb)
    if language is not None and language.lower() not in {"python", "python3", "ipython"}:
        raise NotebookError(name, 1, 1, f"notebook language is {language!r}, not Python")

    chunks: list[str] = []
    cells: list[_Cell] = []
    next_line = 1
    for index, nb_cell in enumerate(nb.cells):
        if nb_cell.get("cell_type") != "code":
            continue
        source = nb_cell.source
        if not isinstance(source, str):  # defensive: nbformat joins list sources on read
            source = "".join(source)
        lines = _split_lines(source)
        program_lines, magics = _neutralise(lines)
        cells.append(
            _Cell(
                index=index,
                first_line=next_line,
                line_count=len(lines),
                ends_with_newline=source.endswith("\n"),
                magics=tuple(magics),
            )
        )
        chunks.extend(line + "\n" for line in program_lines)
        next_line += len(lines)
    return NotebookSource(path=name, text="".join(chunks), cells=tuple(cells), notebook=nb)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _language(nb: Any) -> str | None:
    meta = nb.get("metadata", {})
    info = meta.get("language_info") or {}
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        return info["name"]
    spec = meta.get("kernelspec") or {}
    if isinstance(spec, dict) and isinstance(spec.get("language"), str):
        return spec["language"]
    return None


def _split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only; a final newline does not start another line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


# -- magics --------------------------------------------------------------------------------
def _placeholder(line: str, target: str | None = None) -> str:
    stripped = line.lstrip(" \t")
    indent = line[: len(line) - len(stripped)]
    # The comment is informative only: the original line is restored verbatim on write.
    note = stripped.rstrip("\r").replace("\r", " ").replace("\f", " ").replace("optpar:", "optpar :")
    statement = f"{target} = None" if target else "pass"
    return f"{indent}{statement}  # {MAGIC_MARKER} {note}".rstrip()


def _restore(original: str, prefix: str, new_line: str, path: str) -> str:
    """The cell line to write back for a magic line (see ``_neutralise``)."""
    if not prefix:
        return original  # a placeholder: the line was never Python
    suffix = _KEPT_SUFFIX + prefix.strip()
    if not new_line.endswith(suffix):
        raise ValueError(f"{path}: the marker of a {prefix.strip()} line was changed: {new_line!r}")
    body = new_line[: -len(suffix)]
    stripped = body.lstrip(" \t")
    cr = "\r" if original.endswith("\r") else ""
    return f"{body[: len(body) - len(stripped)]}{prefix}{stripped}{cr}"


def _line_magic(stripped: str) -> tuple[bool, str | None]:
    """Is this statement-start line IPython syntax? Returns (is_magic, assignment target)."""
    if not stripped or stripped.startswith("#"):
        return False, None
    if stripped[0] in "%!?":
        return True, None
    match = _ASSIGN_MAGIC.match(stripped)
    if match:
        # ``x = !ls`` / ``x = %time f()``; ``x != y`` and ``x == y`` do not match the regex.
        return True, re.sub(r"\s+", "", match.group(1))
    if _code_part(stripped).endswith("?"):  # ``obj?`` / ``obj??`` help
        return True, None
    return False, None


def _neutralise(lines: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """Replace IPython syntax in one cell; returns the program lines and (offset, original)."""
    out = list(lines)
    magics: list[tuple[int, str, str]] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(None, 1)
        name = name[0] if name else ""
        if name not in PYTHON_BODY_CELL_MAGICS:
            for i, line in enumerate(lines):
                out[i] = _placeholder(line.lstrip(" \t")) if line.strip() else "pass"
                magics.append((i, line, ""))
            return out, magics
        out[first] = _placeholder(lines[first])
        magics.append((first, lines[first], ""))
        start = first + 1
    else:
        start = 0

    scanner = _Scanner()
    continued = False  # the line before was a magic ending with a backslash
    for i in range(start, len(lines)):
        line = lines[i]
        if scanner.at_statement_start() and not continued:
            stripped = line.lstrip(" \t")
            timed = _TIMED_LINE_MAGIC.match(stripped)
            if timed and timed.group(2).strip():
                prefix = timed.group(1)
                indent = line[: len(line) - len(stripped)]
                out[i] = f"{indent}{stripped[len(prefix):].rstrip(chr(13))}{_KEPT_SUFFIX}{prefix.strip()}"
                magics.append((i, line, prefix))
                scanner.feed(out[i])
                continue
            is_magic, target = _line_magic(stripped)
            if is_magic:
                out[i] = _placeholder(line, target)
                magics.append((i, line, ""))
                continued = _ends_continued(line)
                indent = line[: len(line) - len(stripped)]
                continue
        elif continued:  # ``!cmd \`` goes on here, as IPython joins it: not Python either
            out[i] = indent + _placeholder(line.lstrip(" \t"))
            magics.append((i, line, ""))
            continued = _ends_continued(line)
            continue
        scanner.feed(line)
    return out, magics


def _ends_continued(line: str) -> bool:
    """Does this magic line end with a backslash, continuing the command on the next line?"""
    return line.rstrip("\r").endswith("\\")


class _Scanner:
    """Tracks, line by line, whether the next line starts a new statement.

    Knows just enough Python lexing for that: string literals (single and triple quoted,
    with escapes), comments, bracket depth and backslash continuations.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.in_triple: str | None = None
        self.continued = False

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.in_triple is None and not self.continued

    def feed(self, line: str) -> None:
        line = line.rstrip("\r")
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.in_triple is not None:
                end = _find_string_end(line, i, self.in_triple)
                if end < 0:
                    return
                self.in_triple = None
                i = end
                continue
            ch = line[i]
            if ch == "#":
                return
            if ch in "'\"":
                quote = line[i : i + 3] if line[i : i + 3] in ("'''", '"""') else ch
                end = _find_string_end(line, i + len(quote), quote)
                if end < 0:
                    if len(quote) == 3:
                        self.in_triple = quote
                    return  # an unterminated single-quoted string: leave it to the parser
                i = end
                continue
            if ch in _BRACKETS_OPEN:
                self.depth += 1
            elif ch in _BRACKETS_CLOSE:
                self.depth = max(0, self.depth - 1)
            elif ch == "\\" and i == n - 1:
                self.continued = True
                return
            i += 1


def _code_part(line: str) -> str:
    """``line`` without its trailing comment (strings are skipped), right-stripped."""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "#":
            return line[:i].rstrip()
        if ch in "'\"":
            quote = line[i : i + 3] if line[i : i + 3] in ("'''", '"""') else ch
            end = _find_string_end(line, i + len(quote), quote)
            if end < 0:
                return line.rstrip()
            i = end
            continue
        i += 1
    return line.rstrip()


def _find_string_end(line: str, i: int, quote: str) -> int:
    """Index just past the closing ``quote`` at or after ``i``, or -1 if not on this line."""
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if line.startswith(quote, i):
            return i + len(quote)
        i += 1
    return -1
