"""OPT239: a whole number where Keras 3 takes a shape, a tuple.

Keras 2's `InputLayer` turned `Input(shape=784)` into `(784,)` itself; Keras 3 refuses it ("Cannot
convert '784' to a shape"), and so the model is never built. The parameters are roles.csv's
`shape_tuple` rows (`Input`'s `shape`, `InputLayer`'s `input_shape`); the value is an int: a
literal (`784`, `(784)`), arithmetic of ints, `len(...)`, `int(...)`, one entry of an array's
`.shape` (`x_train.shape[1]`), or a name last assigned one of those. The fix makes it a tuple of
one: `shape=(784,)`, or `shape=(784,)` from `shape=(784)` by adding the comma only.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from optpar.analysis.calls import role_arguments
from optpar.analysis.facts import Facts
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.roles import Role

_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow)


def int_shapes(path: str, facts: Facts, lines: SourceLines, call: ast.Call,
               rows: Mapping[str, Role]) -> list[Diagnostic]:
    """The diagnostics of `call`'s shape arguments (`rows`: parameter -> its `shape_tuple` row)
    that hold an int."""
    return [_tupled(path, lines, call, value, name)
            for name, value in role_arguments(call, rows) if _an_int(facts, value, 0)]


def _an_int(facts: Facts, node: ast.expr, depth: int) -> bool:
    if depth > 8:
        return False
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, _INT_OPS) and _an_int(facts, node.left, depth + 1) and _an_int(facts, node.right, depth + 1)
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, (ast.USub, ast.UAdd)) and _an_int(facts, node.operand, depth + 1)
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in ("len", "int") and not facts.imports.qualify(node.func.id)
    if isinstance(node, ast.Subscript):  # x_train.shape[1], x.shape[-1]: not a slice
        index = node.slice
        return (isinstance(node.value, ast.Attribute) and node.value.attr == "shape"
                and not isinstance(index, ast.Slice) and _an_int(facts, index, depth + 1))
    if isinstance(node, ast.Name):
        value = facts.value_before(node)
        return value is not None and _an_int(facts, value, depth + 1)
    return False


def _tupled(path: str, lines: SourceLines, call: ast.Call, value: ast.expr, name: str) -> Diagnostic:
    line, col = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1
    end_line, end = value.end_lineno, lines.char_col(value.end_lineno, value.end_col_offset) + 1
    if _parenthesized(lines, call, value):  # shape=(784): the parentheses are there, add the comma
        fix = (TextEdit(end_line, end, "", ","),)
    else:
        fix = (TextEdit(line, col, "", "("), TextEdit(end_line, end, "", ",)"))
    message = (f"{name}={lines.segment(value)} is an int, which Keras 3 refuses as a shape "
               f"(Keras 2 made it a tuple of one)")
    return Diagnostic(path, line, col, "OPT239", message + REWRITES, fix)


def _parenthesized(lines: SourceLines, call: ast.Call, value: ast.expr) -> bool:
    """Whether the value is written in parentheses of its own (`shape=(784)`, `Input((n))`), not
    only the call's."""
    before = lines.lines[value.lineno - 1].encode("utf-8")[:value.col_offset].decode("utf-8", "replace").rstrip()
    after = lines.lines[value.end_lineno - 1].encode("utf-8")[value.end_col_offset:].decode("utf-8", "replace").lstrip()
    if not (before.endswith("(") and after.startswith(")")):
        return False
    # the call's own "(" right after its function is not the value's (`Input(784)`)
    if value.lineno == call.func.end_lineno:
        own = lines.lines[value.lineno - 1].encode("utf-8")[:call.func.end_col_offset].decode("utf-8", "replace")
        if before.startswith(own) and before[len(own):].strip() == "(":
            return False
    return True
