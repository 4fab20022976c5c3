"""An optimizer's learning rate that no step uses: held as written.

`LearningRateScheduler(schedule)` (roles.csv's `rate_schedule` rows) sets the optimizer's
learning rate from `schedule(epoch, lr)` before every epoch, the first one too. A schedule that
ignores the current rate (`def step_decay(epoch): return 0.001 * 0.1 ** (epoch // 10)`, a lambda
of the epoch alone, or an `lr` parameter it never reads) overwrites `Adam(learning_rate=...)`
before the first step: a learning rate tuned there is a dimension with no effect, whose best
`apply` would write back meaning nothing (gh6's image classifier; keras's cifar10_resnet has
the same form). So the file's optimizer learning rates (roles.csv's `learning_rate` rows) are
held. A schedule that reads the rate (`lambda epoch, lr: lr * 0.9`) scales the tuned value, and
anything else (a schedule object, a function of another module) may: those keep it tuned.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.syntax import FUNCTIONS
from optpar.csvrows import Key
from optpar.roles import Role, Roles


def scheduled_rates(facts: Facts, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]]) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each optimizer learning rate a schedule overwrites unread."""
    if not any(key in roles.rate_schedules and _ignores_rate(facts, _schedule(call, roles.rate_schedules[key]))
               for call, key in keyed):
        return frozenset()
    return frozenset((id(call), param) for call, key in keyed if key[0] == "optimizers" for param in roles.learning_rates)


def _schedule(call: ast.Call, row: Role) -> ast.expr | None:
    keyword = next((k.value for k in call.keywords if k.arg == row.name), None)
    if keyword is not None:
        return keyword
    positional = call.args[:row.position + 1] if row.position is not None else []
    if len(positional) <= (row.position or 0) or any(isinstance(a, ast.Starred) for a in positional):
        return None
    return positional[row.position or 0]


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
