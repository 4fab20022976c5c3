"""`optpar upgrade`: the Keras 1 keywords that Keras 3 rejects (OPT202-OPT219, metadata/keras1.csv)
renamed to their Keras 3 names, so that an old script runs, and tunes, on Keras 3.

Each diagnostic that carries a fix (`Diagnostic.fix`) is a handful of edits of one line each; here
the keyword's name (`SGD(lr=0.01)` becomes `SGD(learning_rate=0.01)`); its value, the comments and
the formatting stay as written. A keyword is left as it is when its call also passes the new name
(renamed, the call would pass it twice), and so is Keras 1's positional kernel (`Conv2D(32, 3, 3)`,
OPT201): both are reported, for the user to edit.
"""

from __future__ import annotations

from optpar.analysis import Analysis, Diagnostic
from optpar.analysis.syntax import source_lines
from optpar.errors import UserError


def renamed_text(analysis: Analysis) -> tuple[str, list[Diagnostic], list[Diagnostic]]:
    """The source with every fix applied; the diagnostics fixed, and those left. An edit that
    several fixes share (one import for all the uses of `K`) is made once."""
    done = [d for d in analysis.diagnostics if d.fix]
    left = [d for d in analysis.diagnostics if not d.fix]
    lines = source_lines(analysis.text)  # as the diagnostics' columns count them
    edits = dict.fromkeys(edit for diag in done for edit in diag.fix)
    for edit in sorted(edits, key=lambda e: (e.line, -e.col)):  # right to left within a line
        line, start = lines[edit.line - 1], edit.col - 1
        if line[start:start + len(edit.old)] != edit.old:
            raise UserError(analysis.path, edit.line, edit.col, f"could not find {edit.old!r} here")
        lines[edit.line - 1] = line[:start] + edit.new + line[start + len(edit.old):]
    return "".join(lines), done, left
