"""Stopping hopeless trials early: at the end of an epoch, a trial whose tuned metric is clearly
worse than the finished trials' at the same epoch stops, and the search goes on.

Two published rules, both fed by the running best of the tuned metric (the objective is the best
epoch, so a trial is judged by the best it has reached, not by one noisy epoch):

* ``median``: median stopping (Golovin et al. 2017, Optuna's ``MedianPruner``): after the
  warm-up epochs, stop when the trial's best so far is worse than the median of the finished,
  unpruned trials' bests at the same epoch.
* ``asha``: asynchronous successive halving (Li et al. 2020) with epochs as the resource: at the
  rungs r, r*eta, r*eta^2, ... epochs (r: the first epoch after the warm-up epochs), a trial goes
  on only when it is among the top 1/eta of every trial that reached that rung (pruned ones
  included; the best one when fewer than eta did); otherwise it stops.

A finished trial that trained fewer epochs than planned (early stopping) keeps its final best
for the epochs it did not run: it stopped because it no longer improved. A pruned trial's curve
ends where it stopped. Standard library only.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RULES = ("asha", "median")  # --prune takes these, and none
# The default rule, and the fewest planned epochs for which it is on: a shorter training has
# too few epochs to stop at. Chosen by bench/pruning.py (see the README).
DEFAULT_RULE = "asha"
MIN_EPOCHS = 5


@dataclass(frozen=True)
class Curve:
    """A finished trial's tuned metric, epoch by epoch (``values[0]`` is epoch 1)."""

    values: tuple[float, ...]
    pruned: bool = False

    def best_at(self, epoch: int, mode: str) -> float | None:
        """The running best at `epoch` (1-based); None when the trial did not get there."""
        if not self.values or (self.pruned and epoch > len(self.values)):
            return None
        seen = self.values[:epoch]
        return min(seen) if mode == "min" else max(seen)


@dataclass(frozen=True)
class Pruner:
    rule: str  # median | asha
    warmup_trials: int = 5  # finished trials needed before any trial is stopped
    warmup_epochs: int = 2  # epochs never stopped at
    eta: int = 3  # asha: reduction factor (rungs at r, r*eta, r*eta^2, ... epochs)

    def rungs(self, planned: int) -> tuple[int, ...]:
        """The epochs at which asha decides, before the last planned epoch."""
        found, rung = [], self.warmup_epochs + 1
        while rung < planned:
            found.append(rung)
            rung *= self.eta
        return tuple(found)

    def should_stop(self, own: Sequence[float], finished: Sequence[Curve], mode: str, planned: int | None) -> bool:
        """Whether a trial whose metric reads `own` so far (one value per epoch) stops now.
        `planned`: the epochs its fit() asked for (None: unknown)."""
        epoch = len(own)
        if not own or len(finished) < self.warmup_trials or (planned is not None and epoch >= planned):
            return False
        best = min(own) if mode == "min" else max(own)
        worse = (lambda a, b: a > b) if mode == "min" else (lambda a, b: a < b)
        if epoch <= self.warmup_epochs:
            return False
        if self.rule == "median":
            others = [c.best_at(epoch, mode) for c in finished if not c.pruned]
            others = [v for v in others if v is not None]
            return bool(others) and worse(best, statistics.median(others))
        if epoch not in self.rungs(planned if planned is not None else epoch + 1):
            return False
        at_rung = [v for v in (c.best_at(epoch, mode) for c in finished) if v is not None]
        # Fewer than eta trials at the rung: only the best of them goes on (as Optuna's
        # SuccessiveHalvingPruner); the user's configuration, never pruned, is the first.
        ranked = sorted(at_rung + [best], reverse=mode == "max")
        keep = max(1, (len(at_rung) + 1) // self.eta)
        return worse(best, ranked[keep - 1])


# Each rule's warm-up, measured with bench/pruning.py.
SETTINGS = {
    "median": Pruner("median", warmup_trials=5, warmup_epochs=2),
    # Rungs at 1, 3, 9, ... epochs (the minimum resource of KerasTuner's Hyperband and Optuna's
    # HyperbandPruner(1, ...)), from trial 2 on (trial 1, the user's, trains to its end): best
    # within 30/60/100/180 epochs 0.078/0.050/0.050/0.032 against 0.083/0.056/0.050/0.033 with
    # rungs from epoch 2 and 2 warm-up trials, in 67 epochs for the first 20 trials against 91 (bench/pruning.py, seeds 0-2; README).
    # eta 2, 3 and 4 replayed over the same 600 random-search orders end within 0.001 of each
    # other at 30, 60 and 100 epochs (bench/prune_replay.py), so eta stays 3.
    "asha": Pruner("asha", warmup_trials=1, warmup_epochs=0),
}


def pruner_for(rule: str | None) -> Pruner | None:
    """The pruner of `--prune` (None: the default rule; "none": no pruning)."""
    if rule == "none":
        return None
    return SETTINGS[rule or DEFAULT_RULE]


def on_for(rule: str | None, planned: int | None, folds: int = 1) -> bool:
    """Whether pruning applies to a fit() of `planned` epochs: always when asked for by name,
    by default only from MIN_EPOCHS epochs on and without --folds (the pruner sees the first fold
    only, and a trial stopped there would be ranked against the other trials' means of K folds)."""
    if rule == "none":
        return False
    if rule is not None:
        return True
    return planned is not None and planned >= MIN_EPOCHS and folds < 2
