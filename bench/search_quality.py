"""Search quality on the digits CNN fixture: optpar's anchored space against
the OptPar paper's style of space and against random search.

    .venv/bin/python bench/search_quality.py [--evals 20] [--seeds 0 1 2] [--json OUT]

Three arms, each run --evals trials for every seed, each in its own process:

* ``optpar``  the generated script as a user runs it: `python digits_cnn_tune.py
  --algo tpe --seed S` (anchored space, the user's configuration as trial 1).
* ``random``  the same script with `--algo rand`: random search over the
  anchored space, trial 1 the user's configuration too.
* ``paper``   the paper's style of space, with TPE and no baseline trial: the
  same ids, the same training (the generated `run_trial()` and objective,
  EarlyStopping included), but values from one fixed table that does not look
  at the user's values: every Keras activation (softmax, linear and exponential
  included), filters and units from fixed lists, kernel sizes `quniform(1, 5)`,
  dropout `uniform(0, 1)` and the learning rate `uniform(1e-4, 1)`.  Batch
  size, epochs and pool size keep optpar's space, so the arms differ only where
  the paper's approach and ours differ.

For each arm and seed it reports the best val_loss, how many trials failed, how
many ended near chance (val_loss >= 2.0; chance on 10 classes is ln 10 = 2.30),
and the first trial that beat the user's configuration (its val_loss measured
as trial 1 of the optpar arm of the same seed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "digits_cnn.py"
NEAR_CHANCE = 2.0

ACTIVATIONS = ["relu", "sigmoid", "softmax", "softplus", "softsign", "tanh", "selu", "elu",
               "exponential", "linear"]


def paper_space(anchored: dict) -> dict:
    """The paper's style of space for the fixture's ids (see the module docstring)."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    def kernel(name):
        return scope.int(hp.quniform(name, 1, 5, 1))

    space = {
        "batch_size": anchored["batch_size"],
        "epochs": anchored["epochs"],
        "max_pooling2d_pool_size": anchored["max_pooling2d_pool_size"],
        "conv2d_filters": hp.choice("conv2d_filters", [16, 32, 64, 128]),
        "conv2d_1_filters": hp.choice("conv2d_1_filters", [16, 32, 64, 128]),
        "conv2d_kernel_size": kernel("conv2d_kernel_size"),
        "conv2d_1_kernel_size": kernel("conv2d_1_kernel_size"),
        "conv2d_activation": hp.choice("conv2d_activation", ACTIVATIONS),
        "conv2d_1_activation": hp.choice("conv2d_1_activation", ACTIVATIONS),
        "dense_activation": hp.choice("dense_activation", ACTIVATIONS),
        "dense_units": hp.choice("dense_units", [64, 128, 256, 512, 1024]),
        "dropout_rate": hp.uniform("dropout_rate", 0.0, 1.0),
        "dropout_1_rate": hp.uniform("dropout_1_rate", 0.0, 1.0),
        "adadelta_learning_rate": hp.uniform("adadelta_learning_rate", 1e-4, 1.0),
    }
    if sorted(space) != sorted(anchored):
        raise SystemExit("the fixture's hyperparameters changed (%s); update paper_space()"
                         % ", ".join(sorted(anchored)))
    return space


def run_paper_arm(script: Path, seed: int, evals: int, out: Path) -> None:
    """In a child process: the generated script's objective over the paper's space."""
    import functools

    import hyperopt
    import numpy as np

    module = types.ModuleType("digits_cnn_tune")
    module.__file__ = str(script)
    exec(compile(script.read_text(), str(script), "exec"), module.__dict__)
    space = paper_space(module.SPACE)
    from optpar.runtime.state import Program
    from optpar.runtime.trial import Objective

    program = Program(module.SOURCE, space, module.DEFAULTS, module.BASELINE_POINT, module.params,
                      module.run_trial, module.SEEDS)
    objective = Objective(program, "val_loss", "min", 3)  # hyperopt passes it the trial
    trials = hyperopt.Trials()
    startup = max(3, min(20, evals // 3))  # what the generated script uses for tpe
    hyperopt.fmin(objective, space, algo=functools.partial(hyperopt.tpe.suggest, n_startup_jobs=startup),
                  max_evals=evals, trials=trials, rstate=np.random.default_rng(seed),
                  show_progressbar=False)
    rows = []
    for doc in trials.trials:
        result = doc["result"]
        rows.append({"status": result["status"], "metric": result.get("metric"),
                     "error": result.get("error"), "values": result.get("values")})
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials.json").write_text(json.dumps({"trials": rows}, indent=1))


def run_arm(arm: str, script: Path, seed: int, evals: int, out: Path) -> list[dict]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    if arm == "paper":
        cmd = [sys.executable, __file__, "--paper-arm", str(script), str(seed), str(evals), str(out)]
    else:
        algo = "tpe" if arm == "optpar" else "rand"
        cmd = [sys.executable, str(script), "--max-evals", str(evals), "--algo", algo,
               "--seed", str(seed), "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, cwd=script.parent, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: every trial failed, still a result
        raise SystemExit("%s seed %d failed:\n%s" % (arm, seed, proc.stderr[-3000:]))
    trials = json.loads((out / "trials.json").read_text())["trials"]
    return [{"status": t["status"], "metric": t.get("metric"), "error": t.get("error")}
            for t in trials]


def summarise(trials: list[dict], baseline: float) -> dict:
    ok = [t["metric"] for t in trials if t["status"] == "ok" and t["metric"] is not None]
    beat = next((n for n, t in enumerate(trials, 1)
                 if t["status"] == "ok" and t["metric"] is not None and t["metric"] < baseline), None)
    return {
        "best": min(ok) if ok else None,
        "failed": sum(t["status"] != "ok" for t in trials),
        "near_chance": sum(m >= NEAR_CHANCE for m in ok),
        "first_beat": beat,
        "trials": len(trials),
    }


def fmt(value, spec="%.3f") -> str:
    return "-" if value is None else spec % value


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--paper-arm":
        script, seed, evals, out = sys.argv[2:6]
        run_paper_arm(Path(script), int(seed), int(evals), Path(out))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["optpar", "paper", "random"],
                        choices=["optpar", "paper", "random"])
    parser.add_argument("--json", type=Path, default=None, help="also write every trial here")
    args = parser.parse_args()
    if "optpar" not in args.arms:
        parser.error("the optpar arm measures the baseline; keep it")

    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = work / "digits_cnn_tune.py"
        (work / "digits_cnn.py").write_text(FIXTURE.read_text())
        subprocess.run([sys.executable, "-m", "optpar", "refactor", "digits_cnn.py"], cwd=work,
                       check=True, capture_output=True)
        for seed in args.seeds:
            for arm in args.arms:
                start = time.perf_counter()
                trials = run_arm(arm, script, seed, args.evals, work / f"{arm}-{seed}")
                results.setdefault(arm, {})[seed] = trials
                print(f"{arm:7s} seed {seed}: {len(trials)} trials in {time.perf_counter() - start:5.0f} s",
                      file=sys.stderr, flush=True)

    print(f"digits CNN ({FIXTURE.name}), {args.evals} evaluations per search, seeds {args.seeds}")
    header = f"{'arm':7s} {'seed':>4s} {'baseline':>8s} {'best':>7s} {'failed':>6s} {'~chance':>7s} {'beats baseline at':>17s}"
    print(header)
    table: dict = {}
    for arm in args.arms:
        for seed in args.seeds:
            baseline = results["optpar"][seed][0]["metric"]
            row = summarise(results[arm][seed], baseline)
            row["baseline"] = baseline
            table.setdefault(arm, {})[seed] = row
            print(f"{arm:7s} {seed:4d} {fmt(baseline):>8s} {fmt(row['best']):>7s} {row['failed']:6d} "
                  f"{row['near_chance']:7d} {fmt(row['first_beat'], '%d'):>17s}")
    print()
    print("mean over seeds:")
    for arm in args.arms:
        rows = list(table[arm].values())
        bests = [r["best"] for r in rows if r["best"] is not None]
        beats = [r["first_beat"] for r in rows if r["first_beat"] is not None]
        print(f"  {arm:7s} best val_loss {fmt(statistics.mean(bests) if bests else None)}; "
              f"failed {statistics.mean(r['failed'] for r in rows):.1f}/{args.evals}; "
              f"near chance {statistics.mean(r['near_chance'] for r in rows):.1f}/{args.evals}; "
              f"beat the baseline in {len(beats)}/{len(rows)} searches"
              + (f", at trial {statistics.mean(beats):.1f} on average" if beats else ""))
    print()
    print("why trials failed:")
    for arm in args.arms:
        errors: dict = {}
        for trials in results[arm].values():
            for t in trials:
                if t["status"] != "ok":
                    key = (t.get("error") or "?")[:110]
                    errors[key] = errors.get(key, 0) + 1
        for text, count in sorted(errors.items(), key=lambda kv: -kv[1]):
            print(f"  {arm:7s} {count:3d}x {text}")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "trials": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
