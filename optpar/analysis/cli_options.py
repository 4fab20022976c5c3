"""A value read from the program's command line: `args.units`, where `args = parser.parse_args()`
and `parser.add_argument("--units", type=int, default=64)`. Its default is the user's value,
tuned at the `default=` literal as a constant is at its definition.

The rule, checked statically (nothing runs): `parser` bound once in the file, to
`argparse.ArgumentParser(...)`; `args`, where it is read, bound once in that scope to
`parser.parse_args(...)`, to the namespace of `parser.parse_known_args(...)` (`args, rest = ...`
or `...[0]`), or to a call of a function of the file whose one `return` gives either (or a name
bound so: `args = parser.parse_args(); return args`); or a parameter every call of whose
function passes such a namespace on under its name (`build(args)`). Exactly one
`parser.add_argument(...)` stores that name (its `dest`), with a literal `default=`, a plain
store (no `action`, no `nargs`, no `**kwargs`); and nothing assigns `args.<name>`.
"""

from __future__ import annotations

import ast

from optpar.analysis.config_dicts import DICT_CHANGERS
from optpar.analysis.facts import FOLLOW_DEPTH, Facts, Literal
from optpar.analysis.syntax import FUNCTIONS, literal_value
from optpar.imports import dotted


def option_default(facts: Facts, node: ast.Attribute) -> Literal | None:
    """The literal default of the option `node` (`args.units`) reads; None when the rule fails."""
    if not isinstance(node.value, ast.Name) or not isinstance(node.ctx, ast.Load):
        return None
    parsed = _parsed(facts, node.value)
    if parsed is None or _assigns(facts, node.value.id, node.attr):
        return None
    return _default(facts, parsed, node.attr)


def unpacked_option(facts: Facts, function: ast.AST, name: str) -> Literal | None:
    """The literal default of the option a parameter gets from the namespace unpacked into the one
    call of its function: `train(**vars(args))`, or `args = vars(parser.parse_args())` then
    `train(**args)` (the parameter `epochs` gets the option `--epochs`). The call passes nothing
    else under that name, and the dict is bound once and never changed in place."""
    if not isinstance(function, FUNCTIONS) or function.decorator_list or facts.bindings[function.name] != 1:
        return None
    calls, referenced = facts.uses_of(function.name)
    if referenced or len(calls) != 1:
        return None
    call = calls[0]
    unpacked = [k.value for k in call.keywords if k.arg is None]
    if len(unpacked) != 1 or any(k.arg == name for k in call.keywords) or any(
            isinstance(a, ast.Starred) for a in call.args):
        return None
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if name in positional[:len(call.args)]:
        return None  # passed by position
    mapping = unpacked[0]
    if isinstance(mapping, ast.Name):
        if facts.changed_in_place(mapping.id, DICT_CHANGERS):
            return None
        mapping = facts.only_value(mapping.id)
    if not (isinstance(mapping, ast.Call) and isinstance(mapping.func, ast.Name) and mapping.func.id == "vars"
            and facts.bindings["vars"] == 0 and len(mapping.args) == 1 and not mapping.keywords):
        return None
    namespace = mapping.args[0]
    if isinstance(namespace, ast.Name):
        parsed = _parsed(facts, namespace)
        if parsed is None or _assigns(facts, namespace.id, name):
            return None
    else:
        parsed = _call(facts, namespace, "namespace", 0)
    return None if parsed is None else _default(facts, parsed, name)


def _default(facts: Facts, parsed: ast.Call, dest: str) -> Literal | None:
    """The literal default of the option `dest` of the parser whose parse call is `parsed`."""
    parser = parsed.func.value.id
    made = facts.only_value(parser)
    if not isinstance(made, ast.Call) or facts.imports.qualify(dotted(made.func) or "") != "argparse.ArgumentParser":
        return None
    adds = [call for call in facts.calls
            if isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
            and isinstance(call.func.value, ast.Name) and call.func.value.id == parser]
    if any(_dest(call) is None for call in adds):
        return None  # one we cannot read could store the same name
    found = [call for call in adds if _dest(call) == dest]
    if len(found) != 1:
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
    return Literal(literal, dest, f"{parser}.add_argument({written}, default={facts.lines.segment(literal)})",
                   flags)


def _parsed(facts: Facts, name: ast.Name, depth: int = 0) -> ast.Call | None:
    """The `parser.parse_args(...)` (or `parse_known_args`) call whose namespace `name` holds
    wherever it is read: bound to it (`args = parser.parse_args()`, `args, rest =
    parser.parse_known_args()`, `args = parser.parse_known_args()[0]`), or to what a function of
    the file returns (`args = get_args()`)."""

    def judge(target: ast.expr, value: ast.expr, depth: int) -> ast.Call | None:
        if isinstance(target, ast.Name):
            return _call(facts, value, "namespace", depth)
        return _call(facts, value, "pair", depth) if target.elts[0].id == name.id else None

    return facts.follow(name, judge, depth)


def _call(facts: Facts, value: ast.expr, wanted: str, depth: int) -> ast.Call | None:
    """The parse call `value` gives as a namespace (`wanted` "namespace": `parser.parse_args()`,
    `parser.parse_known_args()[0]`) or as parse_known_args' pair ("pair"), itself or through
    the one `return` of a function of the file it calls."""
    if depth > FOLLOW_DEPTH:
        return None
    if wanted == "namespace" and isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Constant) \
            and value.slice.value == 0:
        return _call(facts, value.value, "pair", depth + 1)
    function = facts.top_level(value.func.id, FUNCTIONS) if (
        isinstance(value, ast.Call) and isinstance(value.func, ast.Name)) else None
    if function is not None:
        returns = [n for n in ast.walk(function) if isinstance(n, ast.Return)]
        if len(returns) != 1 or returns[0].value is None:
            return None
        returned = returns[0].value
        if isinstance(returned, ast.Name):  # args = parser.parse_args(); return args
            return _parsed(facts, returned, depth + 1) if wanted == "namespace" else None
        return _call(facts, returned, wanted, depth + 1)
    method = "parse_args" if wanted == "namespace" else "parse_known_args"
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == method and isinstance(value.func.value, ast.Name)):
        return value
    return None


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


def required_arguments(facts: Facts) -> list[ast.Call]:
    """The `parser.add_argument(...)` calls whose argument the command line must give: a
    positional one that needs a value (`_needs_one`) or one with `required=True`, on an
    `argparse.ArgumentParser` whose `parse_args()` or `parse_known_args()` reads `sys.argv` (is
    called with no arguments). Run with no arguments, the program stops at its usage line."""
    parsers = {call.func.value.id for call in facts.calls
               if isinstance(call.func, ast.Attribute) and call.func.attr in ("parse_args", "parse_known_args")
               and not call.args and not call.keywords and isinstance(call.func.value, ast.Name)}
    found = []
    for call in facts.calls:
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
                and isinstance(call.func.value, ast.Name) and call.func.value.id in parsers):
            continue
        made = facts.only_value(call.func.value.id)
        if not isinstance(made, ast.Call) or facts.imports.qualify(dotted(made.func) or "") != "argparse.ArgumentParser":
            continue
        keywords = {k.arg: k.value for k in call.keywords}
        if None in keywords or not call.args or not isinstance(call.args[0], ast.Constant):
            continue  # **options: what they hold is not written here
        required = keywords.get("required")
        if (not str(call.args[0].value).startswith("-") and _needs_one(facts, keywords.get("nargs"))) or (
                isinstance(required, ast.Constant) and required.value is True):
            found.append(call)
    return found


def _needs_one(facts: Facts, nargs: ast.expr | None) -> bool:
    """Whether a positional argument with this `nargs` needs at least one value: none given, a
    count of 1 or more, `'+'` or `argparse.ONE_OR_MORE` (`'?'`, `'*'`, REMAINDER and a value
    not written as a literal: no)."""
    if nargs is None:
        return True
    if isinstance(nargs, ast.Constant):
        return nargs.value == "+" or (type(nargs.value) is int and nargs.value >= 1)
    return facts.imports.qualify(dotted(nargs) or "") == "argparse.ONE_OR_MORE"
