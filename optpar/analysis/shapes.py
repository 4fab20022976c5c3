"""Sizes a model's shape depends on: held as written where tuning them alone breaks the shape.

- In a file that upsamples (roles.csv's `upsampling` rows: `UpSampling2D`, `Conv2DTranspose`; an
  autoencoder, a U-Net, a decoder), the pooling sizes (`downsampling` rows), and the kernel sizes
  of layers whose padding is not "same" (`kernel` rows). Such a model gives back its input's
  size: the upsampling multiplies back by the sizes the pooling divided by, and a transposed
  convolution with "valid" padding (Keras's default) gives back the k - 1 its convolution took,
  so a pooling or kernel size tuned alone fails every trial that draws it, on the shape
  (keras-io's denoising autoencoder: 2 of 3 trials; an MNIST autoencoder of "valid"
  convolutions and transposed ones: 3 of 5). A file that only pools keeps these sizes tuned.
- On a branch that is summed elementwise (`x + res`, `layers.add([x, shortcut])`: roles.csv's
  `sum` rows), the kernel sizes of layers whose padding is not "same" (`kernel` rows) and the
  pooling sizes (`downsampling` rows) unless padding is "same" and strides are written. The
  branches must give one size; with "valid" padding (Keras's default) a kernel of 3 where 1 was
  written shrinks its branch by 2 (keras-io's time-series transformer, the 1×1
  convolutions of ResNet's blocks). Which sizes are held depends on the padding, never on the size
  itself, so a file's sites are the same before and after `apply`. A branch runs from the sum back
  through the layers applied one after another, up to where it meets another input of the sum.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.merges import Sums
from optpar.analysis.syntax import parameter_default
from optpar.csvrows import Key
from optpar.roles import Roles

SIZE_KEEPING_PADDING = frozenset({"same", "causal"})
_DEPTH = 60
_PATHS = 16  # the paths followed back from one input of a sum


def coupled_sizes(facts: Facts, roles: Roles,
                  keyed: Sequence[tuple[ast.Call, Key]]) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each downsampling size, and each kernel size whose padding is
    not "same", held because the file upsamples."""
    if not any(key in roles.upsampling for _, key in keyed):
        return frozenset()
    held = {(id(call), param) for call, key in keyed for k, param in roles.downsampling if k == key}
    held.update((id(call), param) for call, key in keyed for k, param in roles.kernels
                if k == key and not _keeps_size(facts, call))
    return frozenset(held)


def summed_sizes(facts: Facts, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]],
                 sums: Sums) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each kernel size (padding not "same") and pooling size on a
    branch of an elementwise sum."""
    on_branch: set[int] = set()
    for node, inputs in sums:
        if not inputs or len(inputs) < 2:
            continue
        scope = facts.scope(node)
        # each input's paths: one, or one per arm of an if/else that assigns it (ResNet's shortcut)
        branches = [_paths(facts, roles, value, scope, node.lineno) for value in inputs]
        shared = [{point for other in branches[:index] + branches[index + 1:] for path in other for point, _ in path}
                  for index in range(len(branches))]
        if not all(any(layer is not None or point in others for path in paths for point, layer in path)
                   for paths, others in zip(branches, shared)):
            continue  # an input that is no layer's output and meets no other: not a sum of tensors
        for paths, others in zip(branches, shared):
            for path in paths:
                for point, layer in path:
                    if point in others:
                        break  # where the branches meet: what comes before is shared
                    if layer is not None:
                        on_branch.add(id(layer))
    held: set[tuple[int, str]] = set()
    for call, key in keyed:
        if id(call) not in on_branch:
            continue
        same = _keeps_size(facts, call)
        if not same:
            held.update((id(call), param) for k, param in roles.kernels if k == key)
        if not (same and _strides_written(call)):  # strides default to the pooling size
            held.update((id(call), param) for k, param in roles.downsampling if k == key)
    return frozenset(held)


def _paths(facts: Facts, roles: Roles, expr: ast.expr, scope: ast.AST,
           before: int) -> list[list[tuple[object, ast.Call | None]]]:
    """The paths one input of a sum may come by, from the sum back, each a list of points: (what
    identifies the point, the layer applied there or None). A path follows names to their last
    assignment and a layer's application (`Conv1D(...)(x)`) to its first input; it stops at
    anything else (a function of yours, an op, another merge, a parameter). Where that last
    assignment is in an arm of an if/else, the other arm's (or, with none there, the one before
    the `if`) starts another path: `shortcut = Conv2D(f, 1, strides=s)(inputs)` under `if`,
    `shortcut = inputs` under `else`."""
    done: list[list[tuple[object, ast.Call | None]]] = []
    todo: list[tuple[list[tuple[object, ast.Call | None]], ast.expr, int]] = [([], expr, before)]
    seen: set[int] = set()  # the assignments a path has taken
    while todo and len(done) < _PATHS:
        points, expr, before = todo.pop()
        done.append(_path(facts, roles, points, expr, scope, before, todo, seen))
    return done


def _path(facts: Facts, roles: Roles, points: list[tuple[object, ast.Call | None]], expr: ast.expr,
          scope: ast.AST, before: int, todo: list, seen: set[int]) -> list[tuple[object, ast.Call | None]]:
    for _ in range(_DEPTH):
        if isinstance(expr, ast.Name):
            value = facts.last_assignment(expr.id, scope, before)
            if value is None:
                points.append((("name", id(scope), expr.id), None))
                break
            seen.add(id(value))
            for other in _other_arm(facts, expr.id, value, scope):
                if id(other) not in seen:
                    seen.add(id(other))
                    todo.append((list(points), other, other.lineno))
            expr, before = value, value.lineno
            continue
        layer = expr.func if isinstance(expr, ast.Call) and expr.args else None
        if isinstance(layer, ast.Name):  # conv = Conv1D(...); conv(x)
            layer = facts.last_assignment(layer.id, scope, expr.lineno) or layer
        key = facts.imports.key(layer.func) if isinstance(layer, ast.Call) else None
        if key is None or key[0] != "layers" or key in roles.sums:
            points.append((id(expr), None))
            break
        points.append((id(expr), layer))
        expr = expr.args[0]
    return points


def _other_arm(facts: Facts, name: str, value: ast.expr, scope: ast.AST) -> list[ast.expr]:
    """Where `name = value` is in one arm of an `if`: the value `name` gets last in the other arm,
    or, when that arm does not assign it, the last one before the `if` ([] when none)."""
    statement = facts.parents.get(value)
    branch = facts.parents.get(statement)
    if not isinstance(statement, ast.Assign) or not isinstance(branch, ast.If):
        return []
    arm = branch.orelse if statement in branch.body else branch.body
    assigned = [node.value for stmt in arm for node in ast.walk(stmt)
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)]
    if assigned:
        return [max(assigned, key=lambda v: v.lineno)]
    earlier = facts.last_assignment(name, scope, branch.lineno)
    return [] if earlier is None else [earlier]


def _strides_written(layer: ast.Call) -> bool:
    """Pooling layers take (pool_size, strides, padding): strides given, by keyword or position."""
    return len(layer.args) > 1 or any(k.arg == "strides" for k in layer.keywords)


def _keeps_size(facts: Facts, layer: ast.Call) -> bool:
    """Whether the layer's `padding` is "same" (or "causal") whatever the call: written so, or a
    constant or parameter every value of which is. Keras's default is "valid"."""
    padding = next((k.value for k in layer.keywords if k.arg == "padding"), None)
    if padding is None:
        return False
    values = [padding]
    if isinstance(padding, ast.Name):
        where, function = facts.resolve(padding)
        if where == "param":
            passed = facts.values_passed(function, padding.id)  # [] when no call is seen
            values = [p.value for p in passed] or [parameter_default(function, padding.id)]
        else:
            constant = facts.constant(padding.id)
            values = [constant.node if constant is not None else None]
    return all(isinstance(v, ast.Constant) and isinstance(v.value, str)
               and v.value.lower() in SIZE_KEEPING_PADDING for v in values)
