"""Is the best a search reports what the user gets? tune, apply, run the script again, compare.

usage: python bench/reproduce.py [--evals 5] [--seed 0] [NAME ...]

For each bundled seeded model (default: every fixture/example whose search can run here), in a
fresh folder: `optpar tune NAME --max-evals N`, then `optpar apply NAME runs/best.json --in-place`,
then `python NAME` with nothing changed but a recorder of the epoch logs of its last fit() call
(a sitecustomize.py on PYTHONPATH that wraps keras.Model.fit; the script itself is not edited).
The user's figure is that fit's best epoch of the tuned metric, as the search scores a trial.
Prints one row per model and the largest relative difference.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["examples/digits_cnn.py", "fixtures/seeded_model.py", "fixtures/figure5_chain.py",
          "fixtures/tfdata_validation.py", "fixtures/run_experiment.py", "fixtures/sequential_list.py",
          "fixtures/functional_main.py", "fixtures/custom_metric_only.py", "fixtures/lstm_sequences.py"]

RECORDER = '''\
import json, os
try:
    import keras
except ImportError:
    keras = None
if keras is not None:
    _fit = keras.Model.fit

    def fit(self, *args, **kwargs):
        history = _fit(self, *args, **kwargs)
        with open(os.environ["OPTPAR_BENCH_HISTORY"], "w") as handle:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, handle)
        return history

    keras.Model.fit = fit
'''


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


def one(model: Path, evals: int, seed: int, work: Path) -> dict:
    folder = work / model.stem
    folder.mkdir()
    shutil.copyfile(model, folder / model.name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    optpar = [sys.executable, "-m", "optpar"]
    proc = run([*optpar, "tune", model.name, "--max-evals", str(evals), "--seed", str(seed),
                "--out", "runs", "--quiet"], folder, env)
    if proc.returncode != 0:
        return {"model": model.name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    best = json.loads((folder / "runs" / "best.json").read_text())
    proc = run([*optpar, "apply", model.name, "runs/best.json", "--in-place"], folder, env)
    if proc.returncode != 0:
        return {"model": model.name, "error": proc.stderr.strip()}
    (folder / "shim").mkdir()
    (folder / "shim" / "sitecustomize.py").write_text(RECORDER)
    history = folder / "history.json"
    proc = run([sys.executable, model.name], folder,
               {**env, "PYTHONPATH": str(folder / "shim"), "OPTPAR_BENCH_HISTORY": str(history)})
    if proc.returncode != 0 or not history.exists():
        return {"model": model.name, "error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    values = json.loads(history.read_text())[best["metric"]]
    got = min(values) if best["mode"] == "min" else max(values)
    number = next(i + 1 for i, row in enumerate(_rows(folder)) if row["status"] == "ok"
                  and math.isclose(float(row[best["metric"]]), best["best_metric"], rel_tol=0, abs_tol=0))
    return {"model": model.name, "metric": best["metric"], "best_trial": number,
            "reported": best["best_metric"], "rerun": got,
            "relative_difference": abs(got - best["best_metric"]) / max(abs(best["best_metric"]), 1e-12)}


def _rows(folder: Path) -> list[dict]:
    import csv

    with (folder / "runs" / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models (default: %s)" % ", ".join(MODELS))
    parser.add_argument("--evals", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = [ROOT / name for name in (args.names or MODELS)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            result = one(model, args.evals, args.seed, Path(tmp))
            results.append(result)
            if "error" in result:
                print(f"{result['model']:<26} ERROR {result['error']}")
            else:
                print(f"{result['model']:<26} {result['metric']:<32} best trial {result['best_trial']:>2}  "
                      f"reported {result['reported']:.10g}  rerun {result['rerun']:.10g}  "
                      f"rel. diff {result['relative_difference']:.1e}")
    done = [r for r in results if "error" not in r]
    exact = sum(r["reported"] == r["rerun"] for r in done)
    worst = max((r["relative_difference"] for r in done), default=float("nan"))
    print(f"{len(done)} of {len(results)} models: the applied best, run again, gives the reported "
          f"metric exactly in {exact}; largest relative difference {worst:.1e}")
    return 0 if len(done) == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
