"""Per-trial wall time: the generated script's search (runtime: baseline first,
EarlyStopping, recorder, gc, JSON/CSV persistence after every trial) against a
hand-written hyperopt + Keras objective on the same model, data, space, seed.

    .venv/bin/python bench/trial_overhead.py [--evals 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _script  # noqa: E402


def hand_written(ns, evals: int, seed: int) -> float:
    """What a user would write by hand: fmin + Trials, baseline first."""
    import hyperopt
    import keras
    import numpy as np
    from hyperopt.fmin import generate_trials_to_calculate

    x, y = ns.x_data, ns.y_data

    def objective(p):
        keras.backend.clear_session()
        model = keras.Sequential([
            keras.Input(shape=(8,)),
            keras.layers.Dense(p["dense_units"], activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=p["adam_learning_rate"]),
                      loss="binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, epochs=2, batch_size=64, validation_split=0.2, verbose=0)
        return {"loss": min(history.history["val_loss"]), "status": hyperopt.STATUS_OK}

    trials = generate_trials_to_calculate([dict(ns.BASELINE_POINT)])
    start = time.perf_counter()
    hyperopt.fmin(objective, ns.SPACE, algo=hyperopt.rand.suggest, max_evals=evals,
                  trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False)
    return (time.perf_counter() - start) / evals


def generated(ns, evals: int, seed: int, out: str) -> float:
    start = time.perf_counter()
    code = ns.optpar_runtime.main(
        source=ns.SOURCE, space=ns.SPACE, defaults=ns.DEFAULTS, baseline=ns.BASELINE_POINT, params=ns.params,
        run_trial=ns.run_trial, seeds=ns.SEEDS,
        argv=["--max-evals", str(evals), "--algo", "rand", "--seed", str(seed), "--out", out, "--quiet"])
    assert code == 0
    return (time.perf_counter() - start) / evals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ns = _script.load_generated(Path(tmp) / "model_tune.py")
        import contextlib
        import io

        # warm-up: TF graph/kernel caches, matplotlib import
        with contextlib.redirect_stdout(io.StringIO()):
            generated(ns, 2, args.seed, str(Path(tmp) / "warm"))
        hand_written(ns, 2, args.seed)
        hand, gen = [], []
        for r in range(args.rounds):
            hand.append(hand_written(ns, args.evals, args.seed))
            with contextlib.redirect_stdout(io.StringIO()):
                gen.append(generated(ns, args.evals, args.seed, str(Path(tmp) / f"run{r}")))
        h, g = min(hand), min(gen)
        print(f"hand-written : {h:.3f} s/trial  (rounds: {', '.join('%.3f' % v for v in hand)})")
        print(f"generated    : {g:.3f} s/trial  (rounds: {', '.join('%.3f' % v for v in gen)})")
        print(f"ratio        : {g / h:.3f}  (target <= 1.05; {args.evals} trials a round, best round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
