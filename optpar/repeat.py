"""`# optpar: repeat(low, high)`: a layer line is a block the search repeats 1 or more times.

The line may be a layer of a Sequential list (`layers.Dense(64),  # optpar: repeat(1, 4)`), a
`model.add(...)` line, or a functional line whose input and output are one name
(`x = layers.Dense(64)(x)`). The line as written is the block built once, so its count is 1.

The refactored program and `apply` write the block as a loop over `range(count)`, the form a
user writes for a stack of layers:

    for _ in range(3):  # optpar: repeat(1, 4)        (a model.add or a functional line)
        model.add(layers.Dense(64))
    *[layers.Dense(64) for _ in range(3)],  # optpar: repeat(1, 4)     (a Sequential list)

With the comment kept on the loop's line, a later scan tunes the loop's count within the same
bounds (`repeat` on a loop-count line acts as `range(low, high)`), so a tuned file tunes again.
A count of 1 leaves the line as it was.
"""

from __future__ import annotations

import ast

from optpar.analysis import Analysis, Site
from optpar.analysis.naming import IdUniquer, make_site
from optpar.analysis.syntax import SourceLines, called_name, snake
from optpar.directives import Directive
from optpar.errors import UserError
from optpar.space import Space

CALL = "repeat"  # Site.call of a repeated block; Site.param says which form: statement | element
WHERE = ("put `# optpar: repeat(low, high)` on a layer line: an element of a Sequential list, a "
         "model.add(...) line, or x = layers.X(...)(x)")


def repeat_site(analysis: Analysis, directive: Directive, ids: IdUniquer, on_line: list[Site]) -> Site:
    """The repeated block the directive's line holds; its id is its layer's (`dense_1_repeat`
    beside `dense_1_units`), taken from the other sites of the line when there are some."""
    blocks = _blocks(analysis.tree, directive.line)
    if len(blocks) != 1:
        why = "no layer line here" if not blocks else f"{len(blocks)} layers on this line; give each a line"
        raise UserError(analysis.path, directive.line, directive.col, f"{why}: {WHERE}")
    node, layer, form = blocks[0]
    lines = SourceLines.of(analysis.text)
    name = _callee(layer)
    base = next((s.id[: -len(s.param) - 1] for s in on_line if s.code == "OPT101" and s.id.endswith("_" + s.param)),
                snake(name))
    space = Space("quniform", low=min(directive.low, 1), high=directive.high, q=1, integer=True)
    return make_site(
        ids.claim(f"{base}_repeat"), analysis.path, lines, node, call=CALL, param=form, default=1,
        kind="int", space=space, origin=f"{analysis.path}:{node.lineno} {name}(...) repeated (# optpar comment)",
        constant=None, code="OPT105")


def _callee(call: ast.Call) -> str:
    return called_name(call.func) or "block"


def _blocks(tree: ast.Module, line: int) -> list[tuple[ast.AST, ast.Call, str]]:
    """(node to repeat, its layer call, form) for each block that starts on `line`."""
    found: list[tuple[ast.AST, ast.Call, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.List):
            found += [(e, e, "element") for e in node.elts if isinstance(e, ast.Call) and e.lineno == line]
        elif getattr(node, "lineno", None) != line:
            continue
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "add"
              and len(node.value.args) == 1 and isinstance(node.value.args[0], ast.Call)):
            found.append((node, node.value.args[0], "statement"))
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Call)
              and len(node.value.args) == 1 and not node.value.keywords
              and isinstance(node.value.args[0], ast.Name) and node.value.args[0].id == node.targets[0].id):
            found.append((node, node.value.func, "statement"))
    return found


# -- writing the block as a loop (refactor: count = params["id"]; apply: count = 3) -------------

def as_loop(count: str):
    """`make` for a statement: the line inside `for _ in range(count):`, its comment on the for."""

    import libcst as cst  # not at import: scan never rewrites

    def make(line: cst.SimpleStatementLine) -> cst.For:
        loop = cst.ensure_type(cst.parse_statement(f"for _ in range({count}):\n    pass\n"), cst.For)
        inner = line.with_changes(leading_lines=(), trailing_whitespace=cst.TrailingWhitespace())
        return loop.with_changes(leading_lines=line.leading_lines,
                                 body=cst.IndentedBlock(header=line.trailing_whitespace, body=[inner]))

    return make


def as_comprehension(count: str):
    """`make` for a list element: `*[element for _ in range(count)]`."""

    import libcst as cst

    def make(element: cst.Element) -> cst.StarredElement:
        comprehension = cst.ensure_type(cst.parse_expression(f"[_ for _ in range({count})]"), cst.ListComp)
        return cst.StarredElement(value=comprehension.with_changes(elt=element.value), comma=element.comma)

    return make
