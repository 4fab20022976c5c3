"""Pruning rules replayed over a pool of finished curves: which rule finds the best model within an
epoch budget, with far less noise than three live searches.

    .venv/bin/python bench/prune_replay.py [--pool DIR] [--pool-evals 70] [--pool-seeds 10 11]
                                           [--orders 600] [--rules asha:3 asha:2 median none]

The pool: the digits CNN of bench/pruning.py (9 epochs, Adam) searched at random with no pruning,
`digits_cnn_tune.py --algo rand --prune none --max-evals N --seed S` per pool seed (about 10 min
for 2 x 70 trials on 2 cores, run once; `--pool DIR` keeps and reuses it). Each trial's curve (its
val_loss epoch by epoch, optpar's default early stopping included) is what that configuration would
show at every epoch under any rule: a run is deterministic from the user's random state.

A replay is one random order of the pool after the user's configuration (trial 1, never pruned):
trial by trial, the rule (optpar's own `prune.Pruner`, called as in a search) sees the curves of the
trials before it and stops the trial at the first epoch it says so. For each rule and order: the
best val_loss among the trials whose epochs fit in 30, 60 and 100 epochs in all, and the epochs of
the first 20 trials. ``kt`` is KerasTuner's `Hyperband(max_epochs=9, factor=3)` over the same
orders (brackets of 9 x 1, 5 x 3 and 3 x 9 epochs; a promoted configuration continues from where it
stopped, as KerasTuner's checkpoints let it; no trial 1). Every rule replays the same orders.

This replays random search only: TPE's choices depend on what earlier trials scored, so a rule that
stops trials sooner also changes which configurations come next; bench/pruning.py measures that
(three live searches per arm).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from optpar.runtime.prune import Curve, Pruner, SETTINGS  # noqa: E402

import pruning  # noqa: E402  - the bench's model (write_model) and its settings

BUDGETS = pruning.BUDGETS
PLANNED = pruning.MAX_EPOCHS
FIRST = 20  # the epochs of the first FIRST trials, as bench/pruning.py's --evals 20


def make_pool(folder: Path, evals: int, seeds: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(pruning.os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0",
               PYTHONPATH=str(pruning.ROOT))
    pruning.write_model(folder)
    subprocess.run([sys.executable, "-m", "optpar", "refactor", "digits_cnn.py"], cwd=folder, env=env,
                   check=True, capture_output=True)
    runs = [subprocess.Popen([sys.executable, "digits_cnn_tune.py", "--algo", "rand", "--prune", "none",
                              "--max-evals", str(evals), "--seed", str(seed), "--out", "pool-%d" % seed,
                              "--quiet"], cwd=folder, env=env, stdout=subprocess.DEVNULL)
            for seed in seeds if not (folder / ("pool-%d" % seed) / "trials.json").exists()]
    for run in runs:
        if run.wait() not in (0, 1):
            raise SystemExit("a pool search failed (exit %d)" % run.returncode)


def read_pool(folder: Path, seeds: list[int]):
    """The user's curve and the pool's (None for a failed trial: it costs no epoch)."""
    user, pool = None, []
    for seed in seeds:
        for trial in json.loads((folder / ("pool-%d" % seed) / "trials.json").read_text())["trials"]:
            curve = tuple(trial["curve"]) if trial["status"] == "ok" else None
            if trial.get("baseline"):
                user = curve
            else:
                pool.append(curve)
    return user, pool


def replay(pruner: Pruner | None, order) -> list[tuple[int, float | None]]:
    """(epochs trained, best val_loss) per trial, in order; order[0] is the user's."""
    finished, rows = [], []
    for number, curve in enumerate(order):
        if curve is None:
            rows.append((0, None))
            continue
        ran = len(curve)
        if pruner is not None and number > 0:
            for epoch in range(1, len(curve)):
                if pruner.should_stop(curve[:epoch], finished, "min", PLANNED):
                    ran = epoch
                    break
        finished.append(Curve(curve[:ran], ran < len(curve)))
        rows.append((ran, min(curve[:ran])))
    return rows


def replay_kt(order) -> list[tuple[int, float | None]]:
    """KerasTuner's Hyperband(max_epochs=9, factor=3), one iteration, on order[1:]."""
    pool, rows = iter(order[1:]), []
    for count, start in ((9, 1), (5, 3), (3, 9)):
        batch = [next(pool) for _ in range(count)]
        rows += [(0, None)] * sum(c is None for c in batch)
        live, done, epochs = [c for c in batch if c is not None], 0, start
        while live:
            for curve in live:
                until = min(epochs, len(curve))
                rows.append((max(0, until - done), min(curve[:until])))
            if epochs >= PLANNED:
                break
            live = sorted(live, key=lambda c: min(c[:epochs]))[:max(1, len(live) // 3)]
            done, epochs = epochs, epochs * 3
    return rows


def best_within(rows, budget: int) -> float | None:
    spent, best = 0, None
    for epochs, value in rows:
        spent += epochs
        if spent > budget:
            break
        if value is not None and (best is None or value < best):
            best = value
    return best


def rule(text: str) -> Pruner | None | str:
    if text in ("none", "kt"):
        return None if text == "none" else "kt"
    name, _, eta = text.partition(":")
    base = SETTINGS[name]
    return Pruner(base.rule, base.warmup_trials, base.warmup_epochs, int(eta) if eta else base.eta)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, default=None, help="the pool's folder (default: a temporary one)")
    parser.add_argument("--pool-evals", type=int, default=70)
    parser.add_argument("--pool-seeds", type=int, nargs="+", default=[10, 11])
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--rules", nargs="+", default=["asha:3", "asha:2", "median", "none", "kt"],
                        help="asha[:ETA], median, none, kt (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prune-replay-") as tmp:
        folder = args.pool or Path(tmp)
        make_pool(folder, args.pool_evals, args.pool_seeds)
        user, pool = read_pool(folder, args.pool_seeds)
    finals = sorted(min(c) for c in pool if c)
    print("pool: %d random configurations (%d failed), the user's %.4f; finals: best %.4f, %d of %d better "
          "than the user's" % (len(pool), sum(c is None for c in pool), min(user), finals[0],
                               sum(v < min(user) for v in finals), len(finals)))
    rng = random.Random(0)
    orders = [[user] + rng.sample(pool, len(pool)) for _ in range(args.orders)]
    print("%d orders; mean±sd of the best within each budget, epochs of the first %d trials:" % (args.orders, FIRST))
    print("  %-8s" % "rule" + "".join("%15s" % ("best@%d" % b) for b in BUDGETS) + "%12s" % "epochs")
    for text in args.rules:
        pruner = rule(text)
        rows = [replay_kt(o) if pruner == "kt" else replay(pruner, o) for o in orders]
        cells = []
        for budget in BUDGETS:
            found = [v for v in (best_within(r, budget) for r in rows) if v is not None]
            cells.append("%.4f±%.4f" % (statistics.mean(found), statistics.stdev(found)))
        epochs = [sum(e for e, _ in r[:FIRST]) for r in rows]
        print("  %-8s" % text + "".join("%15s" % c for c in cells) + "%12s" % ("%.0f±%.0f" % (
            statistics.mean(epochs), statistics.stdev(epochs))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
