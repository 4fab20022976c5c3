"""The layers of each `Sequential` model, in order: its list (written there, held in a name,
grown by `append`/`extend`, or a sum of lists), then the `model.add(...)` calls on its name."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from optpar.analysis.facts import Facts

_CHANGES = ("extend", "insert", "pop", "remove", "reverse", "sort", "clear")


@dataclass(frozen=True)
class Chains:
    """Layer lists of the Sequential models of a module."""

    named: tuple[tuple[ast.expr, ...], ...]  # `m = Sequential([...])` and its `m.add(...)` calls
    unnamed: tuple[tuple[ast.expr, ...], ...]  # `Sequential([...])` used without a name


def sequential_chains(facts: Facts) -> Chains:
    # `m = Sequential([...])` (or `Sequential()`), then `m.add(...)` calls on the same name in the
    # same scope; a later `m = Sequential(...)` starts a new chain.
    chains: dict[tuple[int, str], list[ast.expr]] = {}
    named: list[list[ast.expr]] = []
    unnamed: list[list[ast.expr]] = []
    for call in facts.calls:
        if facts.imports.key(call.func) == ("models", "Sequential"):
            layers = call.args[0] if call.args else next(
                (k.value for k in call.keywords if k.arg == "layers"), None)
            listed = layer_list(facts, layers, facts.scope(call), call.lineno)
            target = facts.assigned_name(call)
            if target is None:
                unnamed.append(listed)
            else:
                chains[(id(facts.scope(call)), target)] = listed
                named.append(listed)
        elif (isinstance(call.func, ast.Attribute) and call.func.attr == "add"
              and isinstance(call.func.value, ast.Name) and len(call.args) == 1):
            chain_key = (id(facts.scope(call)), call.func.value.id)
            if chain_key not in chains:
                chains[chain_key] = []
                named.append(chains[chain_key])
            chains[chain_key].append(call.args[0])
    return Chains(tuple(map(tuple, named)), tuple(map(tuple, unnamed)))


def layer_list(facts: Facts, expr: ast.expr | None, scope: ast.AST, before: int,
               depth: int = 0) -> list[ast.expr]:
    """The layers of `Sequential(expr)`: a list, a name bound to one, or a sum of those."""
    if depth > 10 or expr is None:
        return []
    if isinstance(expr, (ast.List, ast.Tuple)):
        return list(expr.elts)
    if isinstance(expr, ast.Name):
        value = facts.last_assignment(expr.id, scope, before)
        if value is None:
            return []
        added = appended(facts, expr.id, scope, value.lineno, before)
        if added is None:
            return []
        return [*layer_list(facts, value, scope, value.lineno, depth + 1), *added]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [*layer_list(facts, expr.left, scope, before, depth + 1),
                *layer_list(facts, expr.right, scope, before, depth + 1)]
    return []


def appended(facts: Facts, name: str, scope: ast.AST, after: int, before: int) -> list[ast.expr] | None:
    """What `name.append(x)` / `name.extend([...])` add to a list between two lines of a
    scope; None when the list is changed in another way there (insert, +=, ...)."""
    added: list[ast.expr] = []
    for node in ast.walk(scope):
        if not after < getattr(node, "lineno", 0) < before:
            continue
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return None
    for call in facts.calls:
        func = call.func
        if (not after < call.lineno < before or not isinstance(func, ast.Attribute)
                or not isinstance(func.value, ast.Name) or func.value.id != name
                or facts.scope(call) is not scope):
            continue
        if func.attr == "append" and len(call.args) == 1:
            added.append(call.args[0])
        elif func.attr == "extend" and len(call.args) == 1 and isinstance(call.args[0], (ast.List, ast.Tuple)):
            added.extend(call.args[0].elts)
        elif func.attr in _CHANGES:
            return None
    return added
