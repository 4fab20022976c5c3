"""The one-line edits that remove arguments from a call (`fit(x, y, workers=4)` -> `fit(x, y)`),
for the keyword arguments Keras 3 no longer takes (keras1.csv rows with no New)."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from optpar.analysis.records import Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines


def removed_arguments(path: str, lines: SourceLines, call: ast.Call,
                      reasons: Mapping[str, tuple[str, str]]) -> list[Diagnostic]:
    """A diagnostic for each keyword of `call` that `reasons` names (keyword -> (code, message)),
    with the edit that removes it. Arguments next to each other on a line go as one run: with the
    comma before them (`, workers=4, use_multiprocessing=True`) when the argument before the run
    ends on their line, else with the comma after them when the argument after it starts there;
    a run alone on its line goes with the comma after it, and with its indent when nothing is
    left (the line stays, empty, so that a notebook's cells keep theirs). A run written over
    lines is reported only."""
    arguments = sorted([*call.args, *call.keywords], key=lambda a: (a.lineno, a.col_offset))
    dropped = [isinstance(a, ast.keyword) and a.arg in reasons for a in arguments]
    found: list[Diagnostic] = []
    index = 0
    while index < len(arguments):
        if not dropped[index]:
            index += 1
            continue
        end = index
        while end + 1 < len(arguments) and dropped[end + 1] and arguments[end + 1].lineno == arguments[end].end_lineno:
            end += 1
        before = arguments[index - 1] if index else None
        after = arguments[end + 1] if end + 1 < len(arguments) else None
        fix = _run_edit(lines, arguments[index], arguments[end], end - index, before, after)
        for keyword in arguments[index:end + 1]:
            code, message = reasons[keyword.arg]
            line, col = keyword.lineno, lines.char_col(keyword.lineno, keyword.col_offset) + 1
            found.append(Diagnostic(path, line, col, code, message + (" (optpar upgrade removes it)" if fix else ""), fix))
        index = end + 1
    return found


def _run_edit(lines: SourceLines, first: ast.AST, last: ast.AST, inner_commas: int,
              before: ast.AST | None, after: ast.AST | None) -> tuple[TextEdit, ...]:
    if first.lineno != last.end_lineno:
        return ()
    line = first.lineno
    text = lines.lines[line - 1]
    shares_line = (before is not None and before.end_lineno == line) or (after is not None and after.lineno == line)
    if before is not None and before.end_lineno == line:
        start, stop = lines.char_col(line, before.end_col_offset), lines.char_col(line, last.end_col_offset)
    elif after is not None and after.lineno == line:
        start, stop = lines.char_col(line, first.col_offset), lines.char_col(line, after.col_offset)
    else:  # alone on its line: with the comma after it, and the indent when nothing else is left
        start, stop = lines.char_col(line, first.col_offset), lines.char_col(line, last.end_col_offset)
        rest = text[stop:]
        if rest.lstrip(" ").startswith(","):
            stop += len(rest) - len(rest.lstrip(" ,"))
        if not text[:start].strip() and not text[stop:].strip():
            start = 0
    removed = text[start:stop]
    if removed.count(",") < inner_commas + shares_line or not removed.strip(" ,"):
        return ()
    return (TextEdit(line, start + 1, removed, ""),)
