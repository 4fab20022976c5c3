"""OPT240: a layer's weight made with Keras 2's order of arguments, name first.

TensorFlow's guide to custom layers wrote `self.kernel = self.add_variable("kernel",
shape=[...])` (and `self.add_weight("kernel", ...)`): Keras 2 took the name first. Keras 3 takes
the shape first (`add_weight(shape, initializer, dtype, ...)`) and reads "kernel" as one ("Could
not interpret initializer identifier" or a shape error when the model is built). The methods and
their Keras 2 order are roles.csv's `keras2_position` rows; a call of one on `self` whose first
argument is a string is that form. The fix names each positional argument by its Keras 2
parameter, and calls `add_weight` for `add_variable` (keras2.csv's `layer_method` row: Keras 3's
`add_variable` requires an initializer), `add_weight(name="kernel", shape=[...])`; a call with
more positional arguments than the rows name, or one that also passes a name it would get, is
reported only.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from optpar.analysis.facts import Facts
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.roles import Role


def keras2_positions(path: str, facts: Facts, lines: SourceLines, rows: Mapping[str, tuple[Role, ...]],
                     renamed: Mapping[str, str]) -> list[Diagnostic]:
    """`renamed`: a method whose Keras 3 namesake takes other arguments -> the one to call
    (`add_variable` requires an initializer in Keras 3; `add_weight` defaults it as Keras 2 did)."""
    found = []
    for call in facts.calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in rows and isinstance(func.value, ast.Name)
                and func.value.id == "self" and call.args and _a_string(call.args[0])):
            continue
        names = [row.name for row in rows[func.attr]]
        given = {k.arg for k in call.keywords}
        fix: tuple[TextEdit, ...] = ()
        line, col, _ = lines.attribute_name(func)
        if (len(call.args) <= len(names) and not any(isinstance(a, ast.Starred) for a in call.args)
                and not given & set(names[:len(call.args)])):
            fix = tuple(TextEdit(arg.lineno, lines.char_col(arg.lineno, arg.col_offset) + 1, "", f"{name}=")
                        for arg, name in zip(call.args, names))
            if func.attr in renamed:
                fix = (TextEdit(line, col, func.attr, renamed[func.attr]), *fix)
        message = (f"{func.attr}({lines.segment(call.args[0])}, ...) passes the name first, Keras 2's order; "
                   f"Keras 3 reads the first argument as the shape: pass them by name")
        found.append(Diagnostic(path, line, col, "OPT240", message + (REWRITES if fix else ""), fix))
    return found


def _a_string(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))
