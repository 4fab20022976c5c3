"""Widths that must stay equal: the layers whose outputs are summed elementwise.

`x += residual`, `layers.add([x, shortcut])`, `layers.Add()([x, y])`, `x + y` (also subtract,
multiply, average, maximum, minimum: roles.csv's `sum` rows) need inputs of one width. Each input is followed back through
`name = value` assignments and the layers that keep a width (Dropout, BatchNormalization, ...) to
the layers that set it (roles.csv's `width` parameters); inputs that are themselves sums join their
groups. A group whose widths are all written as one name (`Dense(units)` twice, `filters` in a
residual block, the loop variable of keras-io's `for size in [...]`) is tuned as that one value. A
group that writes them otherwise (`Dense(512)` and `Dense(512)`, keras's demo_functional) keeps
them as written: tuned apart, they fail the trial on the shape (2 of 3 trials did). An input that
cannot be followed (a model, a function of yours) leaves its sum alone.
"""

from __future__ import annotations

import ast

from optpar.analysis.calls import bound_arguments, is_width_layer
from optpar.analysis.facts import Facts
from optpar.metadata import Catalog

_OPERATORS = (ast.Add, ast.Sub, ast.Mult)
_DEPTH = 40


Sums = tuple[tuple[ast.AST, list[ast.expr]], ...]


def elementwise_sums(facts: Facts, catalog: Catalog) -> Sums:
    """(each elementwise sum of the file, its inputs), in one walk: merges and shapes read them."""
    return tuple((node, inputs) for node in ast.walk(facts.tree)
                 if (inputs := _merge_inputs(facts, catalog, node)) is not None)


def coupled_widths(facts: Facts, catalog: Catalog, sums: Sums) -> tuple[set[ast.Call], set[str]]:
    """(the width layers of the groups that keep their widths, the names they read for them)."""
    groups = _Groups()
    follow = _Follow(facts, catalog)
    for node, inputs in sums:
        scope = facts.scope(node)
        found = [follow.sources(value, scope, node.lineno) for value in inputs]
        if len(found) < 2 or any(f is None for f in found):
            continue
        layers = [call for f in found for call in f]
        if len({id(c) for c in layers}) > 1:
            groups.join(layers)
    kept: set[ast.Call] = set()
    names: set[str] = set()
    for group in groups.all():
        widths = [arg for call in group for arg in follow.widths(call)]
        if len({_written(arg) for arg in widths}) > 1:
            kept.update(group)
            names.update(arg.id for arg in widths if isinstance(arg, ast.Name))
    return kept, names


def _written(arg: ast.expr) -> object:
    """What makes two width arguments one value: the same name, else the same node."""
    return ("name", arg.id) if isinstance(arg, ast.Name) else ("node", id(arg))


def _merge_inputs(facts: Facts, catalog: Catalog, node: ast.AST) -> list[ast.expr] | None:
    if isinstance(node, ast.AugAssign) and isinstance(node.op, _OPERATORS) and isinstance(node.target, ast.Name):
        return [ast.Name(node.target.id, ast.Load()), node.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
        return [node.left, node.right]
    if not isinstance(node, ast.Call):
        return None
    layer = isinstance(node.func, ast.Call)  # layers.Add()([a, b]); else layers.add([a, b]), ops.add(a, b)
    if facts.imports.key(node.func.func if layer else node.func) not in catalog.roles.sums or not node.args:
        return None
    return _items(node.args[0]) if layer or len(node.args) == 1 else list(node.args)


def _items(value: ast.expr) -> list[ast.expr] | None:
    return list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else None


class _Follow:
    def __init__(self, facts: Facts, catalog: Catalog) -> None:
        self.facts, self.catalog = facts, catalog

    def widths(self, call: ast.Call) -> list[ast.expr]:
        key = self.facts.imports.key(call.func)
        return [arg for row, arg in bound_arguments(self.catalog, key, call)
                if row.param in self.catalog.roles.width] if key is not None else []

    def sources(self, expr: ast.expr, scope: ast.AST, before: int, depth: int = 0) -> list[ast.Call] | None:
        """The width layers whose width `expr` has; [] for a value that is no layer's output (a
        number), None when it cannot be followed."""
        facts = self.facts
        if depth > _DEPTH:
            return None
        if isinstance(expr, ast.Name):
            value = facts.last_assignment(expr.id, scope, before)
            if value is None:
                return [] if facts.resolve(expr)[0] == "module" and expr.id in facts.literal_defs else None
            return self.sources(value, scope, value.lineno, depth + 1)
        if isinstance(expr, ast.Constant):
            return []
        inputs = _merge_inputs(facts, self.catalog, expr)
        if inputs is not None:
            found = [self.sources(value, scope, before, depth + 1) for value in inputs]
            return None if any(f is None for f in found) else [c for f in found for c in f]
        if not isinstance(expr, ast.Call):
            return None
        layer = expr.func
        if isinstance(layer, ast.Name):  # d = Dense(64); d(x)
            layer = facts.last_assignment(layer.id, scope, expr.lineno) or layer
        if not isinstance(layer, ast.Call) or isinstance(layer.func, ast.Lambda):
            return None
        key = facts.imports.key(layer.func)
        if key is None or key[0] != "layers":
            return None
        if self.widths(layer):
            return [layer]
        if is_width_layer(facts, self.catalog, layer) or not expr.args:
            return None  # a width layer whose width is not written here, or nothing to follow
        return self.sources(expr.args[0], scope, before, depth + 1)


class _Groups:
    """Union-find over layer calls."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.calls: dict[int, ast.Call] = {}

    def _root(self, key: int) -> int:
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def join(self, calls: list[ast.Call]) -> None:
        for call in calls:
            self.calls.setdefault(id(call), call)
            self.parent.setdefault(id(call), id(call))
        first = self._root(id(calls[0]))
        for call in calls[1:]:
            self.parent[self._root(id(call))] = first

    def all(self) -> list[list[ast.Call]]:
        found: dict[int, list[ast.Call]] = {}
        for key, call in self.calls.items():
            found.setdefault(self._root(key), []).append(call)
        return list(found.values())
