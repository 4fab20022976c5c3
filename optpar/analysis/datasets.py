"""Which batch sizes of data pipelines are tuned (roles.csv's `needs_validation` rows:
`ds.batch(32)`, `image_dataset_from_directory(batch_size=32)`).

Only those of the data the measured fit() trains on, and only when that fit() has validation data
of its own. Without it, optpar scores the fit on whole batches it holds out of the training data, so
a batch size would change which examples each trial is scored on. A pipeline that only feeds
evaluation, a plot or a print changes speed, not the score; a batch undone by `.unbatch()` (a
batch-wise `map`) changes nothing. What feeds the training data is followed from fit's `x` through
`name = value` assignments, in the scope that reads the name, and into the file's own functions
that build it (`train_ds = prepare(ds)`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.fit import FIT
from optpar.csvrows import Key
from optpar.imports import dotted
from optpar.roles import Roles

UNDONE_BY = "unbatch"
_DEPTH = 20


def untuned(facts: Facts, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]],
            fit: ast.Call | None) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each `needs_validation` argument left as written."""
    held = [(call, key) for call, key in keyed if any(k == key for k, _ in roles.needs_validation)]
    if not held:
        return frozenset()
    position = next((r.position for r in roles.validation.get("fit", ()) if r.name == "validation_data"), None)
    if fit is not None and _arguments(fit, "validation_data", position):
        training = _fed(facts, _arguments(fit, "x", 0))
        held = [(call, key) for call, key in held if id(call) not in training or _undone(facts, call)]
    return frozenset((id(call), param) for call, key in held for k, param in roles.needs_validation if k == key)


def ignored_batch_sizes(facts: Facts, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]]) -> frozenset[tuple[int, str]]:
    """(id of a fit call, "batch_size") where fit trains on a tf.data.Dataset, whose own batching
    decides the batches: Keras ignores fit's batch_size there (gh6: `fit(train, batch_size=32)`
    on a pipeline of `.batch(16)` trains 16 at a time whatever is drawn). The pipeline's own
    `.batch()` is tuned as above."""
    keys = {id(call): key for call, key in keyed}
    loaders = {key for key, _ in roles.needs_validation if key[0] != "Dataset"}
    return frozenset((id(call), "batch_size") for call, key in keyed if key == FIT
                     and any(_dataset(facts, keys, loaders, x, 0) for x in _arguments(call, "x", 0)))


def _dataset(facts: Facts, keys: dict[int, Key], loaders: set[Key], node: ast.expr, depth: int) -> bool:
    """Whether `node` is a tf.data.Dataset: a chain of calls from `tf.data` (`Dataset.from_tensor_slices(
    ...).shuffle(8).batch(16)`), a keyed Dataset method or loader, or a name whose last assignment
    before the read, in its scope, is one."""
    if depth > _DEPTH:
        return False
    if isinstance(node, ast.Name):
        value = facts.value_before(node)
        return value is not None and _dataset(facts, keys, loaders, value, depth + 1)
    if not isinstance(node, ast.Call):
        return False
    key = keys.get(id(node))
    if key is not None and (key[0] == "Dataset" or key in loaders):
        return True
    text = dotted(node.func)
    qualified = facts.imports.qualify(text) if text else None
    if qualified and qualified.startswith("tensorflow.data."):
        return True
    return isinstance(node.func, ast.Attribute) and _dataset(facts, keys, loaders, node.func.value, depth + 1)


def _arguments(call: ast.Call, keyword: str, position: int | None) -> list[ast.expr]:
    found = [k.value for k in call.keywords if k.arg == keyword]
    if position is not None and len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        found.append(call.args[position])
    return found


def _fed(facts: Facts, roots: Iterable[ast.AST]) -> set[int]:
    """ids of the calls in `roots`, in the values assigned to the names they read (in the scope
    that reads them, else at the top level), and in the bodies of the file's functions they call."""
    assigned = _assignments(facts)
    seen: set[tuple[int, str]] = set()
    entered: set[str] = set()
    calls: set[int] = set()
    queue = list(roots)
    while queue:
        for node in ast.walk(queue.pop()):
            if isinstance(node, ast.Call):
                calls.add(id(node))
                name = node.func.id if isinstance(node.func, ast.Name) else None
                function = facts.top_level(name, ast.FunctionDef) if name and name not in entered else None
                if function is not None:
                    entered.add(name)
                    queue.extend(function.body)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                scope = facts.scope(node)
                if (id(scope), node.id) not in assigned:
                    scope = facts.tree
                if (id(scope), node.id) not in seen:
                    seen.add((id(scope), node.id))
                    queue.extend(assigned.get((id(scope), node.id), ()))
    return calls


def _assignments(facts: Facts) -> dict[tuple[int, str], list[ast.expr]]:
    """(id of a scope, name) -> the values assigned to it there: `name = value`, and the whole value
    of an unpacking (`train_ds, val_ds = image_dataset_from_directory(...)`)."""
    found: dict[tuple[int, str], list[ast.expr]] = {}
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.Assign):
            scope = id(facts.scope(node))
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found.setdefault((scope, name.id), []).append(node.value)
    return found


def _undone(facts: Facts, call: ast.Call) -> bool:
    """`ds.batch(10000).map(pack).unbatch()`: the batch is undone later in the same chain."""
    node: ast.AST = call
    while isinstance(attribute := facts.parents.get(node), ast.Attribute):
        outer = facts.parents.get(attribute)
        if not (isinstance(outer, ast.Call) and outer.func is attribute):
            return False
        if attribute.attr == UNDONE_BY:
            return True
        node = outer
    return False
