"""A value read from the program's command line: `args.units`, where `args = parser.parse_args()`
and `parser.add_argument("--units", type=int, default=64)`. Its default is the user's value,
tuned at the `default=` literal as a constant is at its definition.

The rule, checked statically (nothing runs): `args` and `parser` each bound once in the file,
`parser` to `argparse.ArgumentParser(...)`, `args` to `parser.parse_args(...)` (or to a call of a
function of the file whose one `return` gives it: `args = get_args()`), and read there or in a
function every call of which passes it on under its name (`build(args)`); exactly one
`parser.add_argument(...)` stores that name (its `dest`), with a literal `default=`, a plain
store (no `action`, no `nargs`, no `**kwargs`); and nothing assigns `args.<name>`.
"""

from __future__ import annotations

import ast

from optpar.analysis.facts import Facts, Literal
from optpar.analysis.syntax import FUNCTIONS, literal_value
from optpar.imports import dotted


def option_default(facts: Facts, node: ast.Attribute) -> Literal | None:
    """The literal default of the option `node` (`args.units`) reads; None when the rule fails."""
    if not isinstance(node.value, ast.Name) or not isinstance(node.ctx, ast.Load):
        return None
    namespace = node.value.id
    where, function = facts.resolve(node.value)
    if where == "param" and not _passed_along(facts, function, namespace):
        return None  # a function's parameter: whatever its callers pass
    parsed = _through_function(facts, facts.only_value(namespace))
    if not (isinstance(parsed, ast.Call) and isinstance(parsed.func, ast.Attribute)
            and parsed.func.attr == "parse_args" and isinstance(parsed.func.value, ast.Name)):
        return None
    parser = parsed.func.value.id
    made = facts.only_value(parser)
    if not isinstance(made, ast.Call) or facts.imports.qualify(dotted(made.func) or "") != "argparse.ArgumentParser":
        return None
    adds = [call for call in facts.calls
            if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
            and isinstance(call.func.value, ast.Name) and call.func.value.id == parser]
    if any(_dest(call) is None for call in adds):
        return None  # one we cannot read could store the same name
    found = [call for call in adds if _dest(call) == node.attr]
    if len(found) != 1 or _assigns(facts, namespace, node.attr):
        return None
    keywords = {k.arg: k.value for k in found[0].keywords}
    action = keywords.get("action")
    if None in keywords or "nargs" in keywords or (
            action is not None and not (isinstance(action, ast.Constant) and action.value == "store")):
        return None
    literal = keywords.get("default")
    if literal is None or not literal_value(literal)[0]:
        return None
    flags = tuple(a.value for a in found[0].args)
    written = ", ".join(facts.lines.segment(a) for a in found[0].args)
    return Literal(literal, node.attr, f"{parser}.add_argument({written}, default={facts.lines.segment(literal)})",
                   flags)


def _passed_along(facts: Facts, function: ast.AST, name: str) -> bool:
    """Whether every call of `function` passes a variable of the same name, not itself a
    parameter, for its parameter `name`: `def build(args): ...` called as `build(args)`."""
    passed = facts.passed_for(function, name)
    return bool(passed) and all(isinstance(value, ast.Name) and value.id == name
                                and facts.resolve(value)[0] != "param" for value in passed)


def _through_function(facts: Facts, value: ast.expr | None) -> ast.expr | None:
    """`get_args()`, a function of the file (defined once) whose one `return` gives
    `parser.parse_args()`: that call; any other value as it is."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and facts.bindings[value.func.id] == 1):
        return value
    function = next((node for node in facts.tree.body
                     if isinstance(node, FUNCTIONS) and node.name == value.func.id), None)
    returns = [] if function is None else [n for n in ast.walk(function) if isinstance(n, ast.Return)]
    return returns[0].value if len(returns) == 1 else value


def _dest(call: ast.Call) -> str | None:
    """The attribute an `add_argument` call stores (argparse's rule: `dest=`, else the first long
    flag, else the first short one, dashes to underscores); None when not written as literals."""
    for keyword in call.keywords:
        if keyword.arg == "dest":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) and isinstance(
                keyword.value.value, str) else None
    flags = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    if len(flags) != len(call.args) or not flags:
        return None
    if not flags[0].startswith("-"):
        return flags[0]  # a positional argument
    chosen = next((f for f in flags if f.startswith("--")), flags[0])
    return chosen.lstrip("-").replace("-", "_")


def _assigns(facts: Facts, namespace: str, attr: str) -> bool:
    """Whether the program sets `namespace.attr` itself somewhere (`args.units = 32`)."""
    return any(isinstance(n, ast.Attribute) and isinstance(n.ctx, (ast.Store, ast.Del)) and n.attr == attr
               and isinstance(n.value, ast.Name) and n.value.id == namespace for n in ast.walk(facts.tree))
