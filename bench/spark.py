"""Trials per minute of the generated script with --backend local and with
--backend spark at parallelism 1 and 2 (pyspark local mode), same tiny model.
Wall time includes interpreter, TensorFlow and Spark start-up, as a user sees
it; also reports how many Python worker processes ran the Spark trials.

    .venv/bin/python bench/spark.py [--evals 6] [--marginal]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import tune_script_builder as builder  # noqa: E402


def run(script: Path, out: Path, evals: int, *extra: str) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = builder.run_script(script, "--max-evals", str(evals), "--algo", "rand",
                              "--out", str(out), "--quiet", *extra, timeout=900)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return wall, json.loads((out / "trials.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=6)
    parser.add_argument("--marginal", action="store_true",
                        help="also run 2x --evals and report the cost of one more trial, "
                             "start-up excluded: (wall(2N) - wall(N)) / N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = builder.write_script(Path(tmp))
        setups = [("local", []),
                  ("spark p=1", ["--backend", "spark", "--parallelism", "1"]),
                  ("spark p=2", ["--backend", "spark", "--parallelism", "2"])]
        for name, extra in setups:
            wall, data = run(script, Path(tmp) / name.replace(" ", "_"), args.evals, *extra)
            trials = data["trials"]
            pids = {t.get("pid") for t in trials}
            mean = sum(t.get("duration_s", 0) for t in trials) / len(trials)
            print(f"{name:10s} {args.evals} trials in {wall:6.1f} s -> {60 * args.evals / wall:5.1f} "
                  f"trials/min; mean trial {mean:.2f} s; {len(pids)} worker process(es)", flush=True)
            if args.marginal:
                wall2, data2 = run(script, Path(tmp) / (name.replace(" ", "_") + "_2x"), 2 * args.evals,
                                   *extra)
                extra_trial = (wall2 - wall) / args.evals
                print(f"{'':10s} {2 * args.evals} trials in {wall2:6.1f} s -> one more trial costs "
                      f"{extra_trial:.2f} s of wall time ({60 / extra_trial:.1f} trials/min once started); "
                      f"{len({t.get('pid') for t in data2['trials']})} worker process(es)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
