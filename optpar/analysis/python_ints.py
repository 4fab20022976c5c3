"""OPT235: a NumPy number where Keras 3 takes only a Python int.

Keras 2 turned a layer's size into an int itself, so `Dense(np.prod(shape))` (a VAE's decoder)
and `Embedding(np.max(x) + 1, 64)` ran. Keras 3 refuses a NumPy integer there ("expected a
positive integer"). The parameters are roles.csv's `python_int` rows; the value is a call of a
NumPy reduction (`np.prod`, `np.max`, ...), alone or in arithmetic with other values. The fix
wraps it in `int(...)`, which is what Keras 2 did with it.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from optpar.analysis.facts import Facts
from optpar.analysis.records import Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.imports import dotted
from optpar.roles import Role

REWRITES = " (optpar upgrade rewrites it)"
# NumPy functions that return a NumPy scalar from an array: what Keras 2 took as a size
_REDUCTIONS = frozenset({"prod", "product", "max", "amax", "min", "amin", "sum", "argmax", "argmin",
                         "count_nonzero", "floor", "ceil", "round", "sqrt"})


def numpy_sizes(path: str, facts: Facts, lines: SourceLines, call: ast.Call, rows: Mapping[str, Role],
                renamed: Mapping[str, str]) -> list[Diagnostic]:
    """The diagnostics of `call`'s arguments that `rows` (parameter -> its `python_int` row) names
    and that hold a NumPy number; `renamed`: a Keras 1 keyword -> its Keras 3 name (`output_dim`
    of Dense is `units`), which OPT206 renames in the same upgrade."""
    found = []
    given = {renamed.get(k.arg, k.arg): k.value for k in call.keywords if k.arg}
    for name, row in rows.items():
        value = given.get(name)
        if value is None and row.position is not None and row.position < len(call.args):
            value = call.args[row.position]
        if value is not None and not isinstance(value, ast.Starred) and _numpy_number(facts, value):
            found.append(_wrapped(path, lines, value, name))
    return found


def _numpy_number(facts: Facts, node: ast.expr) -> bool:
    if isinstance(node, ast.BinOp):
        return _numpy_number(facts, node.left) or _numpy_number(facts, node.right)
    if isinstance(node, ast.UnaryOp):
        return _numpy_number(facts, node.operand)
    if isinstance(node, ast.IfExp):
        return _numpy_number(facts, node.body) or _numpy_number(facts, node.orelse)
    if not isinstance(node, ast.Call):
        return False
    qualified = facts.imports.qualify(dotted(node.func) or "") or ""
    module, _, function = qualified.rpartition(".")
    return module == "numpy" and function in _REDUCTIONS


def _wrapped(path: str, lines: SourceLines, value: ast.expr, name: str) -> Diagnostic:
    line, col = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1
    end = lines.char_col(value.end_lineno, value.end_col_offset) + 1
    fix = (TextEdit(line, col, "", "int("), TextEdit(value.end_lineno, end, "", ")"))
    message = f"{name}={lines.segment(value)} is a NumPy number, which Keras 3 refuses; pass int(...)"
    return Diagnostic(path, line, col, "OPT235", message + REWRITES, fix)
