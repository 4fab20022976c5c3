"""Resident memory over many trials of a tiny model through the runtime's
objective (what each trial of a generated script runs), in MB of growth a
trial; `--plain` runs a naive loop (clear_session + build + fit) instead,
and `--plain --fixed` that loop plus the runtime's one fix (dropping the
trial's `CustomGradient-<n>` entries from TensorFlow's gradient registry,
which otherwise keep every trial's train graphs alive).

    .venv/bin/python bench/memory.py [--trials 50] [--plain [--fixed]]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _script  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5, help="trials left out of the slope")
    parser.add_argument("--plain", action="store_true", help="naive loop instead of the runtime")
    parser.add_argument("--fixed", action="store_true",
                        help="with --plain: drop each trial's custom-gradient registry entries")
    args = parser.parse_args()
    if args.fixed and not args.plain:
        parser.error("--fixed goes with --plain (the runtime objective always has the fix)")
    import keras
    import numpy as np
    from hyperopt.pyll.stochastic import sample

    with tempfile.TemporaryDirectory() as tmp:
        ns = _script.load_generated(Path(tmp) / "model_tune.py")
    from optpar.runtime import trial

    objective = trial.Objective(_script.program(ns), "val_loss", "min", 3).evaluate
    rng = np.random.default_rng(0)
    points = [sample(ns.SPACE, rng=rng) for _ in range(args.trials)]

    registry = trial.gradient_registry() if args.fixed else None

    def plain(p):
        keras.backend.clear_session(free_memory=False)
        known = None if registry is None else set(registry)
        model = keras.Sequential([keras.Input(shape=(8,)),
                                  keras.layers.Dense(p["dense_units"], activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(p["adam_learning_rate"]),
                      loss="binary_crossentropy")
        history = model.fit(ns.x_data, ns.y_data, epochs=2, batch_size=64,
                            validation_split=0.2, verbose=0)
        trial.forget_custom_gradients(registry, known)
        return {"loss": min(history.history["val_loss"]), "status": "ok"}

    run = plain if args.plain else objective
    rss = []
    for point in points:
        result = run(point)
        assert result["status"] == "ok", result
        rss.append(rss_mb())
    xs = np.arange(args.warmup, len(rss))
    slope = np.polyfit(xs, np.array(rss[args.warmup:]), 1)[0]
    name = ("plain loop + fix" if args.fixed else "plain loop") if args.plain else "runtime objective"
    name += f" ({keras.backend.backend()})"
    print(f"{name}: RSS {rss[0]:.0f} MB after trial 1, "
          f"{rss[-1]:.0f} MB after trial {len(rss)}; growth {slope:.2f} MB/trial "
          f"(least squares over trials {args.warmup + 1}-{len(rss)}; target < 2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
