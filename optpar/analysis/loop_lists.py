"""A loop variable that walks a list of literals: `for units in [64, 32]: Dense(units)`,
`HIDDEN_UNITS = [64, 32]` ... `for units in HIDDEN_UNITS:`, keras-io's `for size in [256, 512, 728]:`
block loop, `for i, units in enumerate(...)`, `[Dense(u) for u in HIDDEN_UNITS]`. Each item is a
value of its own, tuned where it is written, as a constant is: the rewrite reads
`HIDDEN_UNITS = [params["hidden_units_0"], params["hidden_units_1"]]`.

The rule, checked statically: the name read is the target of the nearest loop around the read
that binds it (a `for` whose body holds the read, or a comprehension of one `for`), as a plain
name or as the second name of `enumerate(...)`; the loop's body does not bind it again; and the
loop walks a list or tuple display whose items are all literals (no `*`): written in the loop, or
held by a name bound once in the file, by a parameter's default, or by what a call of the function
passes (each call's list has values of its own: `mlp(x, [64, 32])`, `mlp(x, HEAD_UNITS)`); and
nothing changes that list in place (`.append`, `x[0] = ...`). A `for` loop whose body trains a
model (a `fit` call in it, or in a function of the file it calls) is the user's own sweep, one
model per item (`for lr in [1e-4, 1e-3, 1e-2]: ... model.fit(...)`): its items are not tuned, for
a trial runs the whole sweep and its best would be a list of unrelated values.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.facts import FOLLOW_DEPTH, Facts, Literal
from optpar.analysis.fit import FIT
from optpar.analysis.syntax import FUNCTIONS, literal_value
from optpar.csvrows import Key

_CHANGERS = frozenset({"append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear"})
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def training_loops(facts: Facts, keyed: Sequence[tuple[ast.Call, Key]]) -> frozenset[int]:
    """The ids of the `for` loops whose body trains a model: a `fit` call in it, or in a function
    of the file's top level it calls."""
    fits = {id(call) for call, key in keyed if key == FIT}
    if not fits:
        return frozenset()
    fitting = {id(f) for f in facts.tree.body if isinstance(f, FUNCTIONS) and any(id(n) in fits for n in ast.walk(f))}
    found = set()
    for loop in ast.walk(facts.tree):
        if not isinstance(loop, ast.For):
            continue
        inside = [node for stmt in loop.body for node in ast.walk(stmt) if isinstance(node, ast.Call)]
        if any(id(call) in fits or isinstance(call.func, ast.Name)
               and id(facts.top_level(call.func.id, FUNCTIONS)) in fitting for call in inside):
            found.add(id(loop))
    return frozenset(found)


def loop_items(facts: Facts, name: ast.Name, sweeps: frozenset[int] = frozenset()) -> list[Literal] | None:
    """One Literal per item of the list the loop variable `name` walks (of each list, when the
    loop is in a function whose calls pass lists of their own); None when the rule fails or the
    loop is one of `sweeps` (training_loops)."""
    loop = _loop(facts, name, sweeps)
    if loop is None:
        return None
    target, iterable = loop
    found = _displays(facts, iterable, name.id, 0)
    if not found:
        return None
    items = []
    for display, label, written in found:
        items += [Literal(item, f"{label}_{index}", f"{written}, item {index}") for index, item in enumerate(display.elts)]
    return items


def _loop(facts: Facts, name: ast.Name, sweeps: frozenset[int]) -> tuple[ast.expr, ast.expr] | None:
    """(the loop's target, what it walks) of the nearest loop around `name` that binds it."""
    child, node = name, facts.parents.get(name)
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                                      ast.ClassDef)):
        if isinstance(node, ast.For) and child in node.body:
            bound = _bound(node.target, node.iter, name.id)
            if bound is not None:
                return None if _rebound(node.body, name.id) or id(node) in sweeps else bound
        elif isinstance(node, _COMPREHENSIONS) and child not in node.generators:
            bound = [b for g in node.generators if (b := _bound(g.target, g.iter, name.id)) is not None]
            if bound:
                return bound[0] if len(node.generators) == 1 else None
        child, node = node, facts.parents.get(node)
    return None


def _bound(target: ast.expr, iterable: ast.expr, name: str) -> tuple[ast.expr, ast.expr] | None:
    if isinstance(target, ast.Name) and target.id == name:
        return target, iterable
    if (isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name)
            and target.elts[1].id == name and isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name) and iterable.func.id == "enumerate"
            and len(iterable.args) == 1 and not iterable.keywords):
        return target.elts[1], iterable.args[0]
    if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
        return target, ast.Constant(None)  # bound otherwise (zip, pairs): never a display
    return None


def _rebound(body: list[ast.stmt], name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del))
               for statement in body for n in ast.walk(statement))


def _displays(facts: Facts, node: ast.expr, label: str, depth: int,
              written: str | None = None) -> list[tuple[ast.List | ast.Tuple, str, str]] | None:
    """[(a list or tuple display of literals `node` holds, the name its items are called by, how
    the list is written)]: one, or one per call of the function whose parameter `node` is
    (`mlp(x, [64, 32])`, `mlp(x, HEAD_UNITS)`), the calls that pass no such list left out; None
    when it holds none."""
    if isinstance(node, (ast.List, ast.Tuple)):
        ok = node.elts and all(literal_value(item)[0] for item in node.elts)
        return [(node, label, written or f"{label} = {facts.lines.segment(node)}")] if ok else None
    if not isinstance(node, ast.Name) or depth >= FOLLOW_DEPTH:
        return None
    where, function = facts.resolve(node)
    if where == "param":
        if facts.changed_in_place(node.id, _CHANGERS):
            return None
        found = [display for passed in facts.values_passed(function, node.id)
                 for display in _displays(facts, passed.value, passed.label, depth + 1, passed.written) or []]
        return found or None
    value = facts.only_value(node.id)
    if value is None or facts.changed_in_place(node.id, _CHANGERS):
        return None
    return _displays(facts, value, node.id, depth + 1)
