"""Tests of optpar.runtime, the search a generated script hands itself to.

Most tests build a real tuning script (tests/tune_script_builder.py: a tiny
Dense model on generated data, handed to optpar.runtime.main) and run it in a
subprocess, so they exercise exactly what a user runs. Each trial trains for
1-2 epochs.
"""
from __future__ import annotations

import ast
import csv
import gc
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tune_script_builder as builder
from optpar.runtime.fit import trial_callbacks, under
from optpar.runtime.state import Interrupt, TrialState, default_mode
from optpar.runtime.trial import error_text

DEFAULTS = {"dense_units": 8, "adam_learning_rate": 0.001, "fit_epochs": 2}
CHOICES = [4, 8, 16, 32]


def read_csv(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def read_records(out: Path) -> list[dict]:
    return json.loads((out / "trials.json").read_text())["trials"]


def point(row: dict) -> tuple:
    return (int(row["dense_units"]), float(row["adam_learning_rate"]), int(row["fit_epochs"]))


def assert_ok(proc, code=0):
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


# --------------------------------------------------------------------------
# The runtime package itself
# --------------------------------------------------------------------------

RUNTIME = Path(__file__).resolve().parent.parent / "optpar" / "runtime"


def test_importing_the_runtime_is_light_and_needs_nothing_else_of_optpar():
    """A generated script imports optpar.runtime first: no TensorFlow, Keras, hyperopt or NumPy
    until a search starts, and nothing of optpar outside the runtime (--standalone carries it)."""
    code = ("import sys, optpar.runtime; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'keras', 'hyperopt', 'numpy', 'libcst'}), sorted(m for m in sys.modules "
            "if m.startswith('optpar') and not m.startswith('optpar.runtime') and m != 'optpar'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["[]", "[]"], proc.stdout + proc.stderr
    for path in RUNTIME.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module-level imports: the standard library and the runtime
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module == "__future__" or node.module.startswith("optpar.runtime") or \
                    node.module.split(".")[0] in sys.stdlib_module_names, (path.name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in sys.stdlib_module_names, (path.name, alias.name)


def test_an_idle_statement_that_fails_is_a_note_and_an_exit_still_ends(capsys):
    import optpar.runtime.skipping as module
    from optpar.runtime import idle

    module._SKIPPED.clear()
    with idle("nb.ipynb:cell_4:1:1"):
        missing_name  # noqa: F821 -- a NameError before any skip is said
    with idle("nb.ipynb:cell_4:2:1"):
        raise ImportError("You must install pydot\nmore text")
    with idle("nb.ipynb:cell_5:1:1"):
        done = True
    assert done
    for line in (7, 8):
        with idle(f"nb.ipynb:cell_{line}:1:1"):
            pydot.Dot()  # noqa: F821 -- what the skipped statement would have bound
    module.say_skipped()
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "note: nb.ipynb:cell_4:1:1: skipped: it feeds the measured fit() nothing and raised NameError: "
        "name 'missing_name' is not defined",
        "note: nb.ipynb:cell_4:2:1: skipped: it feeds the measured fit() nothing and raised "
        "ImportError: You must install pydot",
        "note: 2 more statements that feed the measured fit() nothing skipped (nb.ipynb:cell_7:1:1 to "
        "nb.ipynb:cell_8:1:1): a NameError on what a skipped statement would have bound"]
    with pytest.raises(SystemExit):
        with idle("nb.ipynb:cell_6:1:1"):
            raise SystemExit(3)
    module._SKIPPED.clear()


def test_trial_callbacks_keep_the_users_and_add_the_recorder():
    import keras

    state = TrialState()
    callbacks = trial_callbacks(None, state)
    assert [type(c).__name__ for c in callbacks] == ["Recorder"]
    assert callbacks[0].patience == 3 and state.recorder is callbacks[0]

    mine = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=7)
    other = keras.callbacks.TerminateOnNaN()
    callbacks = trial_callbacks((other, mine), state)
    assert [type(c).__name__ for c in callbacks] == ["TerminateOnNaN", "EarlyStopping", "Recorder"]
    assert callbacks[1].patience == 7 and callbacks[1].monitor == "val_accuracy"
    assert callbacks[2].patience == 0  # the user's own early stopping, not a second one

    callbacks = trial_callbacks(other, state)  # a single callback, not a list
    assert [type(c).__name__ for c in callbacks] == ["TerminateOnNaN", "Recorder"]
    state.patience = 0
    assert trial_callbacks([], state)[-1].patience == 0


def test_callbacks_that_write_files_write_under_each_trial(tmp_path):
    import keras

    state = TrialState()
    checkpoint = keras.callbacks.ModelCheckpoint("ckpt/best.keras", save_best_only=True)
    logger = keras.callbacks.CSVLogger(str(tmp_path / "elsewhere" / "log.csv"))
    board = keras.callbacks.TensorBoard(log_dir="logs")
    user = [checkpoint, logger, board]

    state.trial_dir = str(tmp_path / "trials" / "1")
    first = trial_callbacks(user, state)
    assert first[0].filepath == str(tmp_path / "trials" / "1" / "ckpt" / "best.keras")
    assert first[1].filename == str(tmp_path / "trials" / "1" / "log.csv")
    assert first[2].log_dir == str(tmp_path / "trials" / "1" / "logs")
    first[0].best = 0.01  # trial 1 saved a very good model

    state.trial_dir = str(tmp_path / "trials" / "2")
    second = trial_callbacks(user, state)
    assert second[0].filepath == str(tmp_path / "trials" / "2" / "ckpt" / "best.keras")
    assert second[0].best != 0.01  # trial 2's checkpoint starts afresh, as in the user's run
    # The user's own objects are untouched.
    assert checkpoint.filepath == "ckpt/best.keras" and board.log_dir == "logs"
    assert under("/runs/trials/3", "../up/x.h5") == "/runs/trials/3/up/x.h5"


def test_mode_error_text_and_plain_values():
    import numpy as np

    from optpar.runtime.trial import plain as to_plain

    assert default_mode("val_loss") == "min"
    assert default_mode("val_accuracy") == "max"
    assert default_mode("val_AUC") == "max"
    assert default_mode("val_mae") == "min"
    error = error_text(ValueError("first line\n  details\nlast line"))
    assert error == "ValueError: first line details last line"
    assert len(error_text(RuntimeError("x" * 5000))) <= 300
    plain = to_plain({"a": np.float64(0.5), "b": np.int64(3), "c": (np.int32(1), 2)})
    assert plain == {"a": 0.5, "b": 3, "c": [1, 2]}
    assert type(plain["a"]) is float and type(plain["b"]) is int
    json.dumps(plain)


# --------------------------------------------------------------------------
# Real searches
# --------------------------------------------------------------------------

def test_error_text_drops_keras_boilerplate():
    keras_error = (
        "Exception encountered when calling Functional.call().\n\n"
        "Input 0 of layer \"dense\" is incompatible with the layer: expected axis -1 of input "
        "shape to have value 8, but received input with shape (None, 4)\n\n"
        "Arguments received by Functional.call():\n"
        "  \u2022 inputs=tf.Tensor(shape=(None, 4), dtype=float32)\n"
        "  \u2022 training=True\n"
    )
    assert error_text(ValueError(keras_error)) == (
        "ValueError: Input 0 of layer \"dense\" is incompatible with the layer: expected axis -1 "
        "of input shape to have value 8, but received input with shape (None, 4)")
    assert error_text(KeyError()) == "KeyError"
    pooled = ("Exception encountered when calling MaxPooling2D.call().\n\n\x1b[1mComputed output size "
              "would be zero or negative.\x1b[0m\n\nArguments received by MaxPooling2D.call():\n"
              "  \u2022 kwargs=<class 'inspect._empty'>")
    assert error_text(ValueError(pooled)) == (
        "ValueError: Computed output size would be zero or negative.")


def test_search_baseline_first_results_and_resume(tmp_path):
    script = builder.write_script(tmp_path)
    out = tmp_path / "runs"
    args = ["--max-evals", "4", "--out", str(out), "--seed", "1"]
    proc = builder.run_script(script, *args)
    assert_ok(proc)
    assert "note: fit() has no validation data" in proc.stderr
    assert "trial 1/4  val_loss=" in proc.stderr and "trial 4/4" in proc.stderr

    rows = read_csv(out)
    assert [r["number"] for r in rows] == ["1", "2", "3", "4"]
    assert list(rows[0]) == ["number", "status", "val_loss", "dense_units", "adam_learning_rate",
                             "fit_epochs", "duration_s", "epochs_run", "files", "error"]
    # Trial 1 is the user's configuration, with real values (8, not choice index 1).
    assert point(rows[0]) == (8, 0.001, 2)
    for row in rows:
        assert row["status"] == "ok" and int(row["dense_units"]) in CHOICES
        assert 1 <= int(row["epochs_run"]) <= int(row["fit_epochs"])
        assert float(row["duration_s"]) > 0

    best = json.loads((out / "best.json").read_text())
    assert best["source"] == "model.py" and best["metric"] == "val_loss" and best["mode"] == "min"
    assert best["baseline"] == DEFAULTS
    assert best["trials"] == 4 and best["failed"] == 0
    assert best["best"]["dense_units"] in CHOICES
    assert isinstance(best["best"]["fit_epochs"], int)
    assert best["baseline_metric"] == pytest.approx(float(rows[0]["val_loss"]))
    assert best["best_metric"] <= best["baseline_metric"]
    assert best["best_metric"] == pytest.approx(min(float(r["val_loss"]) for r in rows))
    assert (out / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Summary table: baseline and best value of each hyperparameter.
    assert "hyperparameter" in proc.stdout and "dense_units" in proc.stdout
    assert str(out) in proc.stdout

    # The same command again: nothing is re-run, nothing changes.
    before = (out / "trials.json").read_bytes()
    proc = builder.run_script(script, *args)
    assert_ok(proc)
    assert "nothing to do" in proc.stderr
    assert (out / "trials.json").read_bytes() == before

    # A bigger budget continues the search: old trials unchanged, no repeats.
    args[1] = "6"
    proc = builder.run_script(script, *args)
    assert_ok(proc)
    assert "resuming: 4 of 6" in proc.stderr
    more = read_csv(out)
    assert len(more) == 6 and more[:4] == rows
    assert len({point(r) for r in more}) == 6


FLAKY_USER = '''
_calls = [0]
'''

FLAKY_RUN_TRIAL = builder.RUN_TRIAL.replace(
    '    """Build, compile and fit the user\'s model once with the values in `params`."""\n',
    '''    """Fails on its 2nd call, diverges on its 3rd: NaN targets make the loss NaN on any CPU
    (NaN inputs do not: a relu may turn them into 0)."""
    _calls[0] += 1
    if _calls[0] == 2:
        raise ValueError("boom: units %d rejected" % params["dense_units"])
    y = y_data.copy()
    if _calls[0] == 3:
        y[:] = np.nan
''').replace("model.fit, x_data, y_data,", "model.fit, x_data, y,")


TRIAL_GRAPHS_DRIVER = """\
import gc
import json

import keras
from tensorflow.python.framework import ops
from tensorflow.python.framework.func_graph import FuncGraph

import model_tune

registry = ops._gradient_registry._registry
from optpar.runtime.state import Program
from optpar.runtime.trial import Objective

program = Program(model_tune.SOURCE, model_tune.SPACE, model_tune.DEFAULTS, model_tune.BASELINE_POINT,
                  model_tune.params, model_tune.run_trial)
objective = Objective(program, "val_loss", "min", 3).evaluate
graphs = []
for units in (4, 8, 16):
    result = objective(dict(model_tune.DEFAULTS, dense_units=units))
    assert result["status"] == "ok", result
    keras.backend.clear_session()
    graphs.append(sum(isinstance(o, FuncGraph) for o in gc.get_objects()))
custom = [name for name in registry if str(name).startswith("CustomGradient-")]
print(json.dumps({"graphs": graphs, "custom": len(custom)}))
"""


def test_trials_do_not_keep_their_graphs(tmp_path):
    # tf.custom_gradient (Keras's optimizer uses it in every train function)
    # registers a gradient function per trace in a global registry; its
    # closure held each trial's traced graphs alive (~4.5 MB a trial).
    builder.write_script(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(TRIAL_GRAPHS_DRIVER)
    proc = builder.run_script(driver)
    assert_ok(proc)
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts["custom"] == 0, counts
    assert counts["graphs"] == [0, 0, 0], counts


def test_failed_and_nan_trials_do_not_stop_the_search(tmp_path):
    """Trial 2 fails before its model trains (invalid: not counted, another is drawn in its
    place); trial 3 diverges while training (failed: counted)."""
    script = builder.write_script(tmp_path, run_trial=FLAKY_RUN_TRIAL, extra=FLAKY_USER)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "4", "--algo", "rand", "--out", str(out))
    assert_ok(proc)
    rows = read_csv(out)
    assert [r["status"] for r in rows] == ["ok", "invalid", "fail", "ok", "ok"]
    assert rows[1]["error"].startswith("ValueError: boom: units")
    assert rows[1]["val_loss"] == "" and rows[1]["epochs_run"] == "0"
    assert "FloatingPointError" in rows[2]["error"] and "nan" in rows[2]["error"].lower()
    assert "trial 2/5  INVALID, not counted: failed before training (ValueError: boom" in proc.stderr
    assert "trial 3/5  FAILED (FloatingPointError" in proc.stderr and "trial 5/5  " in proc.stderr
    assert "4 trials (1 failed)" in proc.stdout
    assert "1 more configuration failed before training an epoch and was drawn again" in proc.stdout
    best = json.loads((out / "best.json").read_text())
    assert (best["trials"], best["failed"], best["invalid"]) == (4, 1, 1)
    assert math.isfinite(best["best_metric"])


BREAKS_UNLESS_DEFAULT = builder.RUN_TRIAL.replace(
    '    """Build, compile and fit the user\'s model once with the values in `params`."""\n',
    '    if params["adam_learning_rate"] != 0.001:  # every configuration but the user\'s builds no model\n'
    '        raise ValueError("no model with a learning rate of %g" % params["adam_learning_rate"])\n')


def test_trials_that_fail_before_training_are_redrawn_up_to_max_evals_of_them(tmp_path):
    """After --max-evals invalid trials, the next ones count as failed: the search ends."""
    script = builder.write_script(tmp_path, run_trial=BREAKS_UNLESS_DEFAULT)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "3", "--out", str(out))
    assert_ok(proc)
    statuses = [r["status"] for r in read_csv(out)]
    assert statuses[0] == "ok" and statuses.count("invalid") == 3 and statuses.count("fail") == 2
    assert statuses.index("fail") > max(i for i, s in enumerate(statuses) if s == "invalid")
    assert "3 trials (2 failed)" in proc.stdout
    assert "3 more configurations failed before training an epoch and were drawn again" in proc.stdout


def test_without_a_trained_configuration_nothing_is_invalid(tmp_path):  # no-op
    """Your configuration failing before training too: the error is the script's, so every trial
    counts."""
    run_trial = 'def run_trial():\n    raise ValueError("no model with %d units" % params["dense_units"])\n'
    script = builder.write_script(tmp_path, run_trial=run_trial)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "3", "--algo", "rand", "--seed", "3", "--out", str(out))
    assert_ok(proc, 1)
    rows = read_csv(out)
    assert {r["status"] for r in rows} == {"fail"} and len(rows) <= 3


def test_a_resumed_search_keeps_its_invalid_trials_uncounted(tmp_path):
    script = builder.write_script(tmp_path, run_trial=FLAKY_RUN_TRIAL, extra=FLAKY_USER)
    out = tmp_path / "runs"
    assert_ok(builder.run_script(script, "--max-evals", "3", "--algo", "rand", "--out", str(out)))
    first = read_csv(out)
    assert [r["status"] for r in first] == ["ok", "invalid", "fail", "ok"]
    proc = builder.run_script(script, "--max-evals", "4", "--algo", "rand", "--out", str(out))
    assert_ok(proc)
    assert "resuming: 3 of 4 trials already done" in proc.stderr
    rows = read_csv(out)
    assert rows[:4] == first and len(rows) == 5
    assert json.loads((out / "best.json").read_text())["trials"] == 4


def test_an_untrained_failure_counts_where_the_store_redraws_none(tmp_path):
    """Spark dispatches trials ahead (Store(redraws=0)): there a failure before training is an
    ordinary failed trial; on one machine it is invalid."""
    import hyperopt

    from optpar.runtime.state import Program
    from optpar.runtime.store import Store, trial_doc

    program = Program("model.py", {"units": None}, {"units": 8}, {}, {}, lambda: None)
    for redraws, expected in ((0, "fail"), (1, "invalid")):
        trials = hyperopt.Trials()
        docs = [trial_doc(trials, 0, {"units": [8]}, {"status": "ok", "metric": 0.5, "loss": 0.5}),
                trial_doc(trials, 1, {"units": [2]}, {"status": "fail", "error": "ValueError: x", "untrained": True})]
        for doc in docs:
            doc["result"]["values"] = {"units": doc["misc"]["vals"]["units"][0]}
        trials.insert_trial_docs(docs)
        trials.refresh()
        store = Store(program, str(tmp_path), "val_loss", "min", redraws=redraws)
        records = store.update_from(trials, 0, 0)
        assert [r["status"] for r in records] == ["ok", expected]
        assert "untrained" not in records[1]


def test_a_search_whose_trials_all_fail_alike_stops_after_two(tmp_path):
    """Your configuration and the next trial fail with one error (a missing file): the others
    would too, so no third trial starts."""
    run_trial = 'def run_trial():\n    raise FileNotFoundError("data/train.csv")\n'
    script = builder.write_script(tmp_path, run_trial=run_trial)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "6", "--out", str(out))
    assert_ok(proc, 1)
    assert [r["status"] for r in read_csv(out)] == ["fail", "fail"]
    assert "every trial so far (2, your configuration among them) failed with the same error" in proc.stderr
    assert "all 2 trials failed; first error: FileNotFoundError: data/train.csv" in proc.stderr


def test_trials_that_fail_apart_go_on(tmp_path):  # no-op: an error that names the value drawn
    run_trial = 'def run_trial():\n    raise ValueError("units %d rejected" % params["dense_units"])\n'
    script = builder.write_script(tmp_path, run_trial=run_trial)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "4", "--algo", "rand", "--seed", "3", "--out", str(out))
    assert_ok(proc, 1)
    rows = read_csv(out)
    errors = [r["error"] for r in rows]
    assert len(rows) >= 3 and len(set(errors[:3])) > 1 and "failed with the same error" not in proc.stderr


def test_every_trial_failing_exits_1_with_the_reason(tmp_path):
    run_trial = 'def run_trial():\n    raise RuntimeError("cannot load data.csv\\nFileNotFoundError: data.csv")\n'
    script = builder.write_script(tmp_path, run_trial=run_trial)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "2", "--out", str(out))
    assert_ok(proc, 1)
    assert "all 2 trials failed" in proc.stderr
    assert "RuntimeError: cannot load data.csv FileNotFoundError: data.csv" in proc.stderr
    assert [r["status"] for r in read_csv(out)] == ["fail", "fail"]
    best = json.loads((out / "best.json").read_text())
    assert best["best"] is None and best["failed"] == 2


def test_missing_metric_stops_the_search_and_lists_what_the_model_logs(tmp_path):
    script = builder.write_script(tmp_path)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "3", "--metric", "val_auc", "--out", str(out))
    assert_ok(proc, 2)
    error = [line for line in proc.stderr.splitlines() if ": error: " in line]
    # This hand-built script gives main() no fit_at: the refusal names the model file alone.
    assert len(error) == 1 and error[0].startswith("model.py: error: ") and "'val_auc' is not in the epoch logs" in error[0]
    assert "val_accuracy" in error[0] and "val_loss" in error[0] and "--metric" in error[0]
    assert "trial 2/" not in proc.stderr  # stopped after the first trial
    # The refused trial is not kept: the fixed command starts afresh.
    proc = builder.run_script(script, "--max-evals", "1", "--metric", "val_accuracy", "--out", str(out))
    assert_ok(proc)
    # A later run on another metric must not mix its scores with these trials.
    proc = builder.run_script(script, "--max-evals", "2", "--metric", "val_loss", "--out", str(out))
    assert_ok(proc, 2)
    assert "scored on val_accuracy" in proc.stderr


def test_max_mode_metric(tmp_path):
    script = builder.write_script(tmp_path)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "2", "--metric", "val_accuracy",
                              "--patience", "0", "--out", str(out), "--quiet")
    assert_ok(proc)
    assert "trial 1/2" not in proc.stderr  # --quiet
    best = json.loads((out / "best.json").read_text())
    assert best["mode"] == "max"
    assert best["best_metric"] >= best["baseline_metric"]


SLOW_USER = "import time as _sleep_clock\n"
SLOW_RUN_TRIAL = builder.RUN_TRIAL.replace(
    "    model = keras.Sequential", "    _sleep_clock.sleep(0.5)\n    model = keras.Sequential")


def wait_for_records(out: Path, count: int, proc, limit: float = 240) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(read_records(out)) >= count:
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.2)
    raise AssertionError("no %d trials persisted in time" % count)


def test_resume_after_sigkill(tmp_path):
    script = builder.write_script(tmp_path, run_trial=SLOW_RUN_TRIAL, extra=SLOW_USER)
    out = tmp_path / "runs"
    args = ["--max-evals", "5", "--out", str(out), "--seed", "3"]
    proc = builder.start_script(script, *args)
    try:
        wait_for_records(out, 2, proc)
    finally:
        proc.kill()  # SIGKILL: no handler runs
        proc.communicate()
    kept = read_records(out)
    assert 2 <= len(kept) < 5
    proc = builder.run_script(script, *args)
    assert_ok(proc)
    assert "resuming: %d of 5" % len(kept) in proc.stderr
    records = read_records(out)
    assert len(records) == 5
    assert records[: len(kept)] == kept
    assert records[0]["baseline"] and records[0]["values"] == DEFAULTS
    points = [json.dumps(r["values"], sort_keys=True) for r in records]
    assert len(set(points)) == 5
    assert len(read_csv(out)) == 5


def test_a_ctrl_c_inside_a_gc_callback_is_kept_for_later_not_printed_and_lost():
    """jax registers `_xla_gc_callback` in gc.callbacks; a KeyboardInterrupt raised inside one is
    printed as "Exception ignored ... Traceback" and dropped. There the Ctrl-C is only remembered
    (the search checks the flag after each epoch); anywhere else it is raised at once."""
    interrupt, seen = Interrupt(), []

    def deep():
        interrupt.handler(signal.SIGINT, sys._getframe())  # the signal arrives two calls down

    def callback(phase, info):
        if phase == "start":
            try:
                deep()
                seen.append("kept")
            except KeyboardInterrupt:
                seen.append("raised")

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert seen and set(seen) == {"kept"} and interrupt.requested
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()
    with pytest.raises(KeyboardInterrupt):
        Interrupt().handler(signal.SIGINT, sys._getframe())


def test_ctrl_c_keeps_trials_and_says_how_to_resume(tmp_path):
    script = builder.write_script(tmp_path, run_trial=SLOW_RUN_TRIAL, extra=SLOW_USER)
    out = tmp_path / "runs"
    proc = builder.start_script(script, "--max-evals", "30", "--out", str(out))
    try:
        wait_for_records(out, 1, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "run the same command to resume" in stderr and "--max-evals 30" in stderr
    assert "Traceback" not in stderr
    assert len(read_csv(out)) == len(read_records(out)) >= 1


# The second trial sends itself a Ctrl-C and swallows the KeyboardInterrupt, as
# a destructor or a callback run inside TensorFlow does; the search must stop anyway.
SWALLOW_USER = "import signal as _sig\nimport time as _clock\n_trial_calls = [0]\n"
SWALLOW_RUN_TRIAL = builder.RUN_TRIAL.replace(
    "    model = keras.Sequential",
    "    _trial_calls[0] += 1\n"
    "    if _trial_calls[0] == 2:\n"
    "        try:\n"
    "            os.kill(os.getpid(), _sig.SIGINT)\n"
    "            _clock.sleep(2)\n"
    "        except KeyboardInterrupt:\n"
    "            pass\n"
    "    model = keras.Sequential")


def test_ctrl_c_swallowed_inside_a_trial_still_stops_the_search(tmp_path):
    script = builder.write_script(tmp_path, run_trial=SWALLOW_RUN_TRIAL, extra=SWALLOW_USER)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "6", "--out", str(out))
    assert_ok(proc, 130)
    assert "run the same command to resume" in proc.stderr
    assert "Traceback" not in proc.stderr
    records = read_records(out)
    assert len(records) == 1 and records[0]["baseline"], records  # the interrupted trial is not kept


def test_timeout_stops_starting_trials(tmp_path):
    script = builder.write_script(tmp_path)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "50", "--timeout", "0.5", "--out", str(out))
    assert_ok(proc)
    assert "timeout" in proc.stderr
    assert 1 <= len(read_csv(out)) < 50
    assert json.loads((out / "best.json").read_text())["trials"] == len(read_csv(out))


LOOP_RUN_TRIAL = builder.RUN_TRIAL.replace(
    "    optpar_fit(model.fit,",
    "    for _round in range(2):\n        optpar_fit(model.fit,",
).replace("batch_size=64, verbose=0)", "batch_size=64, verbose=0)\n        model.predict_classes(x_data)")


def test_an_error_after_the_measured_fit_finished_does_not_fail_the_trial(tmp_path):
    """keras' addition_rnn.py trains in a loop and calls predict_classes (gone in Keras 3) after
    each fit: the user's run stops there, and so does the trial, with the score it has."""
    script = builder.write_script(tmp_path, run_trial=LOOP_RUN_TRIAL)
    out = tmp_path / "runs"
    proc = builder.run_script(script, "--max-evals", "2", "--out", str(out))
    assert_ok(proc)
    rows = read_csv(out)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[0]["error"].startswith("ignored, after fit() had finished: AttributeError")
    assert "predict_classes" in rows[0]["error"] and float(rows[0]["val_loss"]) > 0
