"""OPT2xx: Keras 1 and 2 argument forms that Keras 3 rejects or misreads, on the calls the
matcher resolved.

Argument names come from keras1.csv (`nb_epoch` renamed `epochs`, `border_mode` renamed
`padding`, ...; a row with no New is an argument Keras 3 dropped, removed: `fit(workers=4)`,
`ModelCheckpoint(period=5)`); positional forms (`Conv2D(32, 3, 3)`: OPT201) from roles.csv's
`keras1_positional` rows.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.records import Diagnostic, TextEdit
from optpar.analysis.removal import removed_arguments
from optpar.analysis.syntax import SourceLines, literal_value
from optpar.csvrows import Key
from optpar.metadata import Catalog, Keras1Rule


def lint(path: str, lines: SourceLines, catalog: Catalog,
         keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """The diagnostics of the resolved calls, by position."""
    rules: dict[Key, tuple[Keras1Rule, ...]] = {}
    found: list[Diagnostic] = []
    for call, key in keyed:
        if key not in rules:
            rules[key] = catalog.keras1_rules(key)
        given = {keyword.arg for keyword in call.keywords}
        removed = {rule.old: (rule.code, rule.message) for rule in rules[key] if not rule.new}
        if given & removed.keys():
            found.extend(removed_arguments(path, lines, call, removed))
        for keyword in call.keywords:
            for rule in rules[key]:
                if keyword.arg == rule.old and rule.new:
                    # renamed by `optpar upgrade` unless the call passes the new name too
                    line, col = keyword.lineno, lines.char_col(keyword.lineno, keyword.col_offset) + 1
                    fix = () if rule.new in given else (TextEdit(line, col, rule.old, rule.new),)
                    found.append(Diagnostic(path, line, col, rule.code,
                                            rule.message + (" (optpar upgrade renames it)" if fix else ""), fix))
        message = _positional(lines, catalog, call, key)
        if message is not None:
            found.append(Diagnostic(path, call.lineno, lines.char_col(call.lineno, call.col_offset) + 1,
                                    "OPT201", message))
    found.sort(key=lambda d: (d.line, d.col))
    return found


def _positional(lines: SourceLines, catalog: Catalog, call: ast.Call, key: Key) -> str | None:
    """`Conv2D(filters, 3, 3)`: integers where Keras 1 read the kernel and Keras 3 reads more."""
    role = catalog.roles.keras1_positional.get(key)
    if role is None:
        return None
    start, end = role.position, role.position + role.size
    if len(call.args) < end or not all(literal_value(a)[0] and isinstance(literal_value(a)[1], int)
                                       for a in call.args[start:end]):
        return None
    given = ", ".join(lines.segment(a) for a in call.args[start:end])
    return (f"Keras 1 form {key[1]}(filters, {given}): Keras 3 reads the third argument as "
            f"strides; write {role.name}=({given})")
