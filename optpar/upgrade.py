"""`optpar upgrade`: the Keras 1 keywords that Keras 3 rejects (OPT202-OPT219, metadata/keras1.csv)
renamed to their Keras 3 names, so that an old script runs, and tunes, on Keras 3.

Only the keyword's name changes (`SGD(lr=0.01)` becomes `SGD(learning_rate=0.01)`); its value,
the comments and the formatting stay as written. A keyword is left as it is when its call also
passes the new name (renamed, the call would pass it twice), and so is Keras 1's positional
kernel (`Conv2D(32, 3, 3)`, OPT201): both are reported, for the user to edit.
"""

from __future__ import annotations

from optpar.analysis import Analysis, Diagnostic
from optpar.analysis.syntax import source_lines
from optpar.errors import UserError


def renamed_text(analysis: Analysis) -> tuple[str, list[Diagnostic], list[Diagnostic]]:
    """The source with each renamable keyword renamed; the diagnostics renamed, and those left."""
    done = [d for d in analysis.diagnostics if d.rename is not None]
    left = [d for d in analysis.diagnostics if d.rename is None]
    lines = source_lines(analysis.text)  # as the diagnostics' columns count them
    for diag in sorted(done, key=lambda d: (d.line, -d.col)):  # right to left within a line
        old, new = diag.rename
        line, start = lines[diag.line - 1], diag.col - 1
        if line[start:start + len(old)] != old:
            raise UserError(analysis.path, diag.line, diag.col, f"could not find the keyword {old!r} here")
        lines[diag.line - 1] = line[:start] + new + line[start + len(old):]
    return "".join(lines), done, left
