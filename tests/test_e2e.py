"""End to end, with real training: refactor -> search -> best.json -> apply -> the model still runs."""
from __future__ import annotations

import ast
import csv
import json
import math
import os
import subprocess
import sys

import pytest

from conftest import run_optpar

pytest.importorskip("hyperopt")
pytest.importorskip("keras")

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _defaults(script_text: str) -> dict:
    tree = ast.parse(script_text)
    node = next(n for n in tree.body if isinstance(n, ast.Assign)
                and isinstance(n.targets[0], ast.Name) and n.targets[0].id == "DEFAULTS")
    return ast.literal_eval(node.value)


def _space_options(script_text: str) -> dict:
    """{id: [options]} of the hp.choice entries of SPACE."""
    tree = ast.parse(script_text)
    node = next(n for n in tree.body if isinstance(n, ast.Assign)
                and isinstance(n.targets[0], ast.Name) and n.targets[0].id == "SPACE")
    out = {}
    for key, value in zip(node.value.keys, node.value.values):
        if isinstance(value, ast.Call) and ast.unparse(value.func) == "hp.choice":
            out[ast.literal_eval(key)] = ast.literal_eval(value.args[1])
    return out


def _check_results(runs, defaults: dict, options: dict, evals: int) -> dict:
    best = json.loads((runs / "best.json").read_text())
    assert set(best["best"]) == set(defaults)
    for hp_id, value in best["best"].items():
        assert isinstance(value, type(defaults[hp_id])) or (
            isinstance(defaults[hp_id], float) and isinstance(value, (int, float))), (hp_id, value)
        if hp_id in options:  # a real value of the space, not an hp.choice index
            assert value in options[hp_id], (hp_id, value)
    assert best["baseline"] == defaults
    assert math.isfinite(best["best_metric"]) and math.isfinite(best["baseline_metric"])
    assert best["best_metric"] <= best["baseline_metric"]
    with (runs / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == evals
    return best


def test_refactor_then_run_the_generated_script(tmp_path, fixture_copy, run_cli):
    model = fixture_copy("sequential_list.py")
    code, out, err = run_cli("refactor", model, "-o", tmp_path / "x_tune.py")
    assert code == 0, err
    script = (tmp_path / "x_tune.py").read_text()
    proc = subprocess.run([sys.executable, "x_tune.py", "--max-evals", "2", "--out", "runs",
                           "--seed", "1", "--quiet"],
                          cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_results(tmp_path / "runs", _defaults(script), _space_options(script), 2)


def _backend_env(backend: str) -> dict:
    """The environment of a run on a Keras backend; skips when that backend is not installed."""
    if backend != "tensorflow":
        pytest.importorskip(backend)
    return {**ENV, "KERAS_BACKEND": backend}


# CI runs it on TensorFlow and on JAX (the `jax` extra); torch when it is installed.
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_tune_then_apply_then_the_model_still_runs(tmp_path, fixture_copy, backend):
    env = _backend_env(backend)
    model = fixture_copy("regression_constants.py")
    original = model.read_text()
    proc = run_optpar("tune", model.name, "--max-evals", "2", "--seed", "3", "--out", "runs",
                      "--quiet", cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = (tmp_path / "regression_constants_tune.py").read_text()
    assert "# Note: fit() has no validation data" in script
    best = _check_results(tmp_path / "runs", _defaults(script), _space_options(script), 2)

    proc = run_optpar("apply", model.name, "runs/best.json", "--in-place", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    applied = model.read_text()
    if best["best"] == best["baseline"]:
        assert applied == original
    # comments, docstring and layout survive; only literals at sites may change
    assert len(applied.splitlines()) == len(original.splitlines())
    assert applied.splitlines()[0] == original.splitlines()[0]
    proc = subprocess.run([sys.executable, model.name], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "final training mse:" in proc.stdout
    # applying the same best.json again: the file no longer holds the baseline it was searched
    # with (refused, exit 2) unless best was the baseline (nothing to do, exit 0); never a write
    proc = run_optpar("apply", model.name, "runs/best.json", "--in-place", cwd=tmp_path, env=ENV)
    assert proc.returncode == (0 if best["best"] == best["baseline"] else 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert model.read_text() == applied


def test_ctrl_c_during_optpar_tune_stops_the_search_cleanly(tmp_path, fixture_copy):
    """Ctrl-C in a terminal reaches optpar and the search (one process group): the
    search keeps its finished trials and says how to resume; optpar waits for it."""
    import signal
    import time

    model = fixture_copy("regression_constants.py")
    proc = subprocess.Popen([sys.executable, "-m", "optpar", "tune", model.name, "--max-evals", "40",
                             "--out", "runs"], cwd=tmp_path, env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trials = tmp_path / "runs" / "trials.json"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if trials.exists() and json.loads(trials.read_text())["trials"]:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr[-3000:]
    assert "run the same command to resume" in stderr
    assert "Traceback" not in stderr
    kept = json.loads(trials.read_text())["trials"]
    with open(tmp_path / "runs" / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(kept) >= 1
