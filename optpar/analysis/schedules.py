"""An optimizer's learning rate that no step uses: held as written.

`LearningRateScheduler(schedule)` (roles.csv's `rate_schedule` rows) sets the optimizer's
learning rate from `schedule(epoch, lr)` before every epoch, the first one too. A schedule that
ignores the current rate (`def step_decay(epoch): return 0.001 * 0.1 ** (epoch // 10)`, a lambda
of the epoch alone, or an `lr` parameter it never reads) overwrites `Adam(learning_rate=...)`
before the first step: a learning rate tuned there is a dimension with no effect, whose best
`apply` would write back meaning nothing (gh6's image classifier; keras's cifar10_resnet has
the same form). So the file's optimizer learning rates (roles.csv's `learning_rate` rows) are
held. A schedule that reads the rate (`lambda epoch, lr: lr * 0.9`) scales the tuned value, and
anything else (a schedule object, a function of another module) may: those keep it tuned. So
does a scheduler the measured fit is not given: a learning-rate range test on a throw-away model
before it (`fit(..., callbacks=[lr_schedule])`, then a new model trained without) leaves the
measured model's rate its own. Where the fit's callbacks cannot be followed (a parameter), the
rates are held as before.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.calls import role_arguments
from optpar.analysis.facts import Facts
from optpar.analysis.syntax import FUNCTIONS
from optpar.csvrows import Key
from optpar.roles import Role, Roles


def scheduled_rates(facts: Facts, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]],
                    measured: ast.Call | None = None) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each optimizer learning rate a schedule overwrites unread
    in the measured fit."""
    schedulers = [call for call, key in keyed
                  if key in roles.rate_schedules and _ignores_rate(facts, _schedule(call, roles.rate_schedules[key]))]
    given = _callbacks(facts, measured)
    if not schedulers or given is not None and not any(_reaches(facts, given, call, 0) for call in schedulers):
        return frozenset()
    return frozenset((id(call), param) for call, key in keyed if key[0] == "optimizers" for param in roles.learning_rates)


def _callbacks(facts: Facts, fit: ast.Call | None) -> ast.expr | None:
    """What the fit is given as `callbacks=`: an empty list when nothing; None when it cannot be
    told (no fit known, `**kwargs`)."""
    if fit is None or any(k.arg is None for k in fit.keywords):
        return None
    return next((k.value for k in fit.keywords if k.arg == "callbacks"), ast.List(elts=[], ctx=ast.Load()))


def _reaches(facts: Facts, node: ast.expr, target: ast.Call, depth: int) -> bool:
    """Whether `target` (a scheduler's call) may be in `node` (a fit's callbacks): in a list or
    tuple, a sum of them, through names and `name.append(...)`; what cannot be followed may."""
    if node is target:
        return True
    if depth > 8:
        return True
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_reaches(facts, e.value if isinstance(e, ast.Starred) else e, target, depth + 1) for e in node.elts)
    if isinstance(node, ast.BinOp):
        return _reaches(facts, node.left, target, depth + 1) or _reaches(facts, node.right, target, depth + 1)
    if isinstance(node, ast.Name):
        value = facts.value_before(node)
        if value is None:
            return True  # a parameter, or bound where it cannot be followed
        appended = [call.args[-1] for call in facts.calls  # append(x), extend([...]), insert(i, x)
                    if isinstance(call.func, ast.Attribute) and call.func.attr in ("append", "extend", "insert")
                    and isinstance(call.func.value, ast.Name) and call.func.value.id == node.id and call.args]
        return any(_reaches(facts, v, target, depth + 1) for v in [value, *appended])
    return isinstance(node, ast.Call) and facts.imports.key(node.func) is None  # a function's result: unknown


def _schedule(call: ast.Call, row: Role) -> ast.expr | None:
    return next((value for _, value in role_arguments(call, {row.name: row})), None)


def _ignores_rate(facts: Facts, schedule: ast.expr | None) -> bool:
    """Whether the schedule is a lambda or a function of the file's top level that takes the
    epoch alone, or whose second parameter (the current rate) it never reads."""
    function = schedule if isinstance(schedule, ast.Lambda) else (
        facts.top_level(schedule.id, FUNCTIONS) if isinstance(schedule, ast.Name) else None)
    if function is None or function.args.vararg or function.args.kwarg:
        return False
    params = [*function.args.posonlyargs, *function.args.args]
    if len(params) < 2:
        return True
    body = [function.body] if isinstance(function, ast.Lambda) else function.body
    rate = params[1].arg
    return not any(isinstance(node, ast.Name) and node.id == rate for part in body for node in ast.walk(part))
