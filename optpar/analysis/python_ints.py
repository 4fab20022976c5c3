"""OPT235, OPT236: a number Keras 3 refuses where it takes only a Python int.

Keras 2 turned a layer's size into an int itself, so `Dense(np.prod(shape))` (a VAE's decoder)
and `Embedding(np.max(x) + 1, 64)` ran. Keras 3 refuses a NumPy integer, or a float, there
("expected a positive integer"). The parameters are roles.csv's `python_int` rows; the value is a
call of a NumPy reduction (`np.prod`, `np.max`, ...) or a true division (`n / 2`), alone or in
arithmetic with other values. The fix wraps it in `int(...)`, which is what Keras 2 did (OPT235).

A count of steps (`fit(steps_per_epoch=len(x_train) / 32)`, roles.csv `step_count` rows) Keras 2
took as a float and ran up to (its last partial batch too); Keras 3 takes only an int. A true
division there becomes `math.ceil(...)` where the file imports `math` at its top level, else
`int(np.ceil(...))` where it imports NumPy so, else it is reported only (OPT236); a NumPy
number is wrapped in `int(...)`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from optpar.analysis.calls import role_arguments
from optpar.analysis.facts import Facts
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.imports import dotted
from optpar.roles import Role

# NumPy functions that return a NumPy scalar from an array: what Keras 2 took as a size
_REDUCTIONS = frozenset({"prod", "product", "max", "amax", "min", "amin", "sum", "argmax", "argmin",
                         "count_nonzero", "floor", "ceil", "round", "sqrt"})


def numpy_sizes(path: str, facts: Facts, lines: SourceLines, call: ast.Call, rows: Mapping[str, Role],
                renamed: Mapping[str, str]) -> list[Diagnostic]:
    """OPT235: the diagnostics of `call`'s arguments that `rows` (parameter -> its `python_int`
    row) names and that hold a NumPy number or a true division's float; `renamed`: a Keras 1
    keyword -> its Keras 3 name (`output_dim` of Dense is `units`), which OPT206 renames in the
    same upgrade."""
    return [_wrapped(path, lines, value, name, ("int(", ")"), "OPT235")
            for name, value in role_arguments(call, rows, renamed)
            if _numpy_number(facts, value) or _divided(value)]


def step_counts(path: str, facts: Facts, lines: SourceLines, call: ast.Call, rows: Mapping[str, Role],
                top: Mapping[str, str]) -> list[Diagnostic]:
    """OPT236: a count of steps given as a true division's float or a NumPy number; `top`: the
    names the file imports at its top level -> what they are (`np` -> `numpy`)."""
    found = []
    for name, value in role_arguments(call, rows):
        if _numpy_number(facts, value) and not _divided(value):
            found.append(_wrapped(path, lines, value, name, ("int(", ")"), "OPT236"))
        elif _divided(value):
            math = next((local for local, module in top.items() if module == "math"), None)
            numpy = next((local for local, module in top.items() if module == "numpy"), None)
            ends = (f"{math}.ceil(", ")") if math else (f"int({numpy}.ceil(", "))") if numpy else None
            found.append(_wrapped(path, lines, value, name, ends, "OPT236", "its last partial batch too"))
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


def _divided(node: ast.expr) -> bool:
    """Whether the value is a true division's float (`len(x) / 32`, `2 * n / 3`)."""
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, ast.Div) or (
            not isinstance(node.op, ast.FloorDiv) and (_divided(node.left) or _divided(node.right)))
    if isinstance(node, ast.UnaryOp):
        return _divided(node.operand)
    return False


def _wrapped(path: str, lines: SourceLines, value: ast.expr, name: str, ends: tuple[str, str] | None,
             code: str, ran: str = "") -> Diagnostic:
    line, col = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1
    end = lines.char_col(value.end_lineno, value.end_col_offset) + 1
    fix = (TextEdit(line, col, "", ends[0]), TextEdit(value.end_lineno, end, "", ends[1])) if ends else ()
    what = "a float" if _divided(value) else "a NumPy number"
    message = f"{name}={lines.segment(value)} is {what}, which Keras 3 refuses: it takes an int"
    message += f" (Keras 2 ran {ran})" if ran else ""
    return Diagnostic(path, line, col, code, message + (REWRITES if fix else "; pass math.ceil(...)"), fix)
