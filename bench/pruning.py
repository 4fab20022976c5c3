"""Pruning (stopping hopeless trials early) on the digits CNN: optpar's --prune rules against
KerasTuner's Hyperband and Optuna's pruners, by the best validation loss found and the epochs
trained to find it.

    .venv/bin/python bench/pruning.py [--evals 20] [--seeds 0 1 2] [--arms ...] [--json OUT]
    .venv/bin/python bench/pruning.py --merge RUN.json [RUN.json ...]   (the report over runs kept
                                      with --json: more seeds, or arms run on their own)

The model is examples/digits_cnn.py with two textual changes: ``EPOCHS = 9  # optpar: skip``
(nine epochs, not tuned) and ``keras.optimizers.Adam(learning_rate=1e-3)`` instead of Adadelta.
The bench refactors it with the real CLI (`optpar refactor`) in a temporary folder and checks that
the generated SPACE has exactly the ids and ranges of the table below (SPACE_TABLE); the
competitors search that same space, translated by hand. Every arm uses the example's data split
(validation data = its test part), trains at most 9 epochs per configuration and scores a trial by
its best val_loss over the epochs it ran. Each search runs in its own process, one at a time.

Arms (each runs --evals configurations per seed, except kt-hyperband, which picks its own number):

* ``optpar-none``, ``optpar-median``, ``optpar-asha``: the generated script as a user runs it,
  `python digits_cnn_tune.py --max-evals N --seed S --out DIR --quiet --prune MODE` (TPE, trial 1
  the user's configuration, optpar's default early stopping with patience 3 on every trial).
  A pruning arm runs with `--max-evals 4N --budget-epochs 9N`: it goes on past N trials until it
  has trained the epochs of N full trainings; its N-trial figures are its first N trials, the
  best@E figures see every trial.
* ``kt-hyperband``: keras_tuner.Hyperband(max_epochs=9, factor=3, objective="val_loss"), one
  Hyperband iteration (3 brackets, 23 trials when none fails). A trial that continues an earlier
  one (a higher rung) starts from that trial's best checkpoint and trains only the epochs from
  `initial_epoch` on; epochs are counted as trained. KerasTuner treats ``seed=0`` as "no seed"
  (``seed or random.randint(...)``), so the tuner gets ``seed=S + 1``. It never tries the user's
  configuration. A failed trial (a shape that does not fit the 8x8 input) can leave a rung short
  of candidates, and Hyperband then never runs that bracket's later rungs. The bench stubs out
  the tuner's per-trial `import tensorboard` (it only patches TensorBoard callbacks; there are
  none, and tensorflow-cpu does not install tensorboard).
* ``optuna-median``: TPESampler(seed=S) + MedianPruner(n_startup_trials=5, n_warmup_steps=2).
* ``optuna-hyperband``: TPE + HyperbandPruner(min_resource=1, max_resource=9,
  reduction_factor=3), with a fixed study_name (the pruner picks a trial's bracket from a hash of
  the study name and the trial number).
* ``optuna-sha``: TPE + SuccessiveHalvingPruner() (its defaults: min_resource "auto", which waits
  for the first finished trial, reduction_factor 4).
* ``optuna-none``: TPE, NopPruner.

Optuna trials report the epoch's val_loss with ``trial.report(value, step)``, step = epochs
trained so far (1..9), from a Keras callback, which raises optuna.TrialPruned when
``trial.should_prune()``. Nothing is enqueued (Optuna, like KerasTuner, never runs the user's
configuration; study.enqueue_trial(DEFAULTS) would be the one-line way to give it trial 1).
TPESampler's defaults are kept: its first 10 trials are random, so with one seed the four Optuna arms
draw the same first 10 configurations (optpar's TPE starts from max(3, min(20, evals // 3)) random
ones, after the user's). Competitor trials get no early stopping unless --competitor-patience N (0, the tools' own default).
Like optpar, every arm stops a trial whose loss or val_loss is not finite and counts it as failed,
and every model starts from ``keras.utils.set_random_seed(0)`` (the example's seed).

Statuses: ``ok``, ``pruned`` (stopped by the arm's pruning rule), ``fail``. A kt-hyperband trial is
``pruned`` when it stopped before 9 epochs and no later trial continued it (Hyperband did not
promote it, or left its bracket unfinished). "best" is the lowest val_loss any trial reached (pruned ones included; "best ok" counts
finished trials only). "best@E" is the best among the trials, in execution order, whose epochs fit
in a cumulative budget of E epochs (the final best when the arm finished earlier; "-" when no trial
fit). "worse" counts the seeds whose best is worse than the user's configuration (trial 1 of the
optpar arms of that seed). Wall time is each search's process, start-up included.

The generated script runs with PYTHONPATH = this checkout (--optpar-root to point elsewhere);
`optpar-median` and `optpar-asha` need its `--prune` option. optuna and keras-tuner are needed
for their arms only (not optpar dependencies).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "digits_cnn.py"
MAX_EPOCHS = 9
SPARE_TRIALS = 4  # an optpar pruning arm may run up to 4 x --evals trials within its epoch budget
BUDGETS = (30, 60, 100)

OPTPAR_ARMS = ("optpar-none", "optpar-median", "optpar-asha")
OPTUNA_ARMS = ("optuna-median", "optuna-hyperband", "optuna-sha", "optuna-none")
ARMS = OPTPAR_ARMS + ("kt-hyperband",) + OPTUNA_ARMS

ACTIVATIONS = ("relu", "elu", "selu", "tanh", "gelu", "swish")
# The anchored space optpar writes for the model (id: kind and range), checked against the
# generated SPACE before anything runs; Optuna and KerasTuner get it translated by hand below.
SPACE_TABLE = {
    "batch_size": ("choice", (8, 16, 32, 64, 128)),
    "conv2d_filters": ("choice", (8, 16, 32, 64, 128)),
    "conv2d_kernel_size": ("choice", (1, 3, 5)),
    "conv2d_activation": ("choice", ACTIVATIONS),
    "conv2d_1_filters": ("choice", (16, 32, 64, 128, 256)),
    "conv2d_1_kernel_size": ("choice", (1, 3, 5)),
    "conv2d_1_activation": ("choice", ACTIVATIONS),
    "max_pooling2d_pool_size": ("choice", (2, 3)),
    "dropout_rate": ("uniform", 0.0, 0.6),
    "dense_units": ("choice", (32, 64, 128, 256, 512)),
    "dense_activation": ("choice", ACTIVATIONS),
    "dropout_1_rate": ("uniform", 0.0, 0.6),
    "adam_learning_rate": ("loguniform", 1e-4, 1e-2),
}


# -- the model and its space ---------------------------------------------------------------------

def write_model(work: Path) -> None:
    """examples/digits_cnn.py with 9 fixed epochs and Adam, as `work`/digits_cnn.py."""
    text = EXAMPLE.read_text()
    for old, new in (("EPOCHS = 2\n", "EPOCHS = %d  # optpar: skip\n" % MAX_EPOCHS),
                     ("keras.optimizers.Adadelta(learning_rate=1.0)",
                      "keras.optimizers.Adam(learning_rate=1e-3)")):
        if text.count(old) != 1:
            raise SystemExit("%s changed: cannot find %r; update write_model()" % (EXAMPLE, old))
        text = text.replace(old, new)
    (work / "digits_cnn.py").write_text(text)


def describe(expr) -> tuple:
    """A hyperopt space entry as SPACE_TABLE writes it: ("choice", options), ("uniform", lo, hi),
    ("loguniform", lo, hi) (bounds as values, not logs), or ("?", ...) for anything else."""
    while expr.name in ("float", "int") and len(expr.pos_args) == 1:
        expr = expr.pos_args[0]
    if expr.name == "switch":
        return ("choice", tuple(arg.obj for arg in expr.pos_args[1:]))
    if expr.name == "hyperopt_param":
        dist = expr.pos_args[1]
        args = [arg.obj for arg in dist.pos_args]
        if dist.name == "uniform":
            return ("uniform", *args)
        if dist.name == "loguniform":
            return ("loguniform", math.exp(args[0]), math.exp(args[1]))
        return (dist.name, *args)
    return ("?", str(expr))


def same_spec(got: tuple, want: tuple) -> bool:
    if got[0] != want[0] or len(got) != len(want):
        return False
    if want[0] == "choice":
        return tuple(got[1]) == tuple(want[1])
    return all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got[1:], want[1:]))


def load_generated(script: Path) -> types.ModuleType:
    module = types.ModuleType("digits_cnn_tune")  # not __main__: the search does not start
    module.__file__ = str(script)
    with contextlib.redirect_stdout(io.StringIO()):  # its top-level code prints the data's shape
        exec(compile(script.read_text(), str(script), "exec"), module.__dict__)
    return module


def check_space(space: dict) -> None:
    """Stop when the generated SPACE is not the one the competitors' translation was written for."""
    problems = []
    if sorted(space) != sorted(SPACE_TABLE):
        problems.append("ids %s, expected %s" % (", ".join(space), ", ".join(SPACE_TABLE)))
    for name, want in SPACE_TABLE.items():
        if name in space and not same_spec(describe(space[name]), want):
            problems.append("%s is %r, expected %r" % (name, describe(space[name]), want))
    if problems:
        raise SystemExit("the generated SPACE differs from bench/pruning.py's SPACE_TABLE "
                         "(update the table and the translations):\n  " + "\n  ".join(problems))


def load_data():
    """The example's data and split."""
    import keras
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype("float32") / 16.0).reshape(-1, 8, 8, 1)
    y = keras.utils.to_categorical(digits.target, 10)
    return train_test_split(x, y, test_size=0.2, random_state=0)


def build_model(p: dict):
    """The example's model and compile() from a hyperparameter dict (ids of SPACE_TABLE)."""
    import keras
    from keras.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from keras.models import Sequential

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)  # the example's seed, where its training starts
    model = Sequential()
    model.add(Input(shape=(8, 8, 1)))
    model.add(Conv2D(p["conv2d_filters"], kernel_size=(p["conv2d_kernel_size"],) * 2,
                     activation=p["conv2d_activation"]))
    model.add(Conv2D(p["conv2d_1_filters"], (p["conv2d_1_kernel_size"],) * 2,
                     activation=p["conv2d_1_activation"]))
    model.add(MaxPooling2D(pool_size=(p["max_pooling2d_pool_size"],) * 2))
    model.add(Dropout(p["dropout_rate"]))
    model.add(Flatten())
    model.add(Dense(p["dense_units"], activation=p["dense_activation"]))
    model.add(Dropout(p["dropout_1_rate"]))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.Adam(learning_rate=p["adam_learning_rate"]),
                  metrics=["accuracy"])
    return model


def optuna_params(trial) -> dict:
    """SPACE_TABLE for Optuna: hp.choice -> suggest_categorical, hp.uniform -> suggest_float,
    hp.loguniform -> suggest_float(log=True), same bounds."""
    values = {}
    for name, spec in SPACE_TABLE.items():
        if spec[0] == "choice":
            values[name] = trial.suggest_categorical(name, list(spec[1]))
        elif spec[0] == "uniform":
            values[name] = trial.suggest_float(name, spec[1], spec[2])
        elif spec[0] == "loguniform":
            values[name] = trial.suggest_float(name, spec[1], spec[2], log=True)
        else:
            raise AssertionError(spec)
    return values


def keras_tuner_params(hp) -> dict:
    """SPACE_TABLE for KerasTuner: hp.Choice, hp.Float, hp.Float(sampling="log"), same bounds."""
    values = {}
    for name, spec in SPACE_TABLE.items():
        if spec[0] == "choice":
            values[name] = hp.Choice(name, list(spec[1]))
        elif spec[0] == "uniform":
            values[name] = hp.Float(name, spec[1], spec[2])
        elif spec[0] == "loguniform":
            values[name] = hp.Float(name, spec[1], spec[2], sampling="log")
        else:
            raise AssertionError(spec)
    return values


# -- competitor arms (child processes) -----------------------------------------------------------

def epoch_log_class():
    import keras

    class EpochLog(keras.callbacks.Callback):
        """Keeps each epoch's val_loss, stops a diverged run (as optpar does) and, given an Optuna
        trial, reports the epoch's val_loss (step = epochs trained) and prunes."""

        def __init__(self, trial=None):
            super().__init__()
            self.trial = trial
            self.values: list = []
            self.diverged = False

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            value = logs.get("val_loss")
            value = None if value is None else float(value)
            self.values.append(value)
            loss = logs.get("loss")
            if value is None or not math.isfinite(value) or (loss is not None and not math.isfinite(float(loss))):
                self.diverged = self.model.stop_training = True
                return
            if self.trial is not None:
                import optuna

                self.trial.report(value, len(self.values))
                if self.trial.should_prune():
                    raise optuna.TrialPruned("pruned at epoch %d" % len(self.values))

    return EpochLog


def best_of(values) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return min(finite) if finite else None


def fit_callbacks(log, patience: int) -> list:
    import keras

    extra = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)] if patience else []
    return [log] + extra


def run_optuna(arm: str, seed: int, evals: int, patience: int, data) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    x_train, x_test, y_train, y_test = data
    pruner = {
        "optuna-median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
        "optuna-hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=MAX_EPOCHS,
                                                                   reduction_factor=3),
        "optuna-sha": lambda: optuna.pruners.SuccessiveHalvingPruner(),
        "optuna-none": lambda: optuna.pruners.NopPruner(),
    }[arm]()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=pruner, study_name="bench-pruning-%s-seed%d" % (arm, seed))
    rows: list[dict] = []
    EpochLog = epoch_log_class()

    def objective(trial):
        params = optuna_params(trial)
        row = {"number": trial.number + 1, "status": "fail", "val_loss": None, "epochs": 0,
               "params": params, "error": None}
        rows.append(row)
        start = time.perf_counter()
        log = EpochLog(trial)
        try:
            model = build_model(params)
            model.fit(x_train, y_train, batch_size=params["batch_size"], epochs=MAX_EPOCHS, verbose=0,
                      validation_data=(x_test, y_test), callbacks=fit_callbacks(log, patience))
        except optuna.TrialPruned:
            row["status"] = "pruned"
            raise
        except Exception as exc:
            row["error"] = exception_line("".join(traceback.format_exception_only(type(exc), exc)))
            raise
        finally:
            row.update(val_loss=best_of(log.values), epochs=len(log.values),
                       duration_s=round(time.perf_counter() - start, 3))
        if log.diverged:
            row["error"] = "val_loss or loss not finite at epoch %d" % len(log.values)
            raise FloatingPointError(row["error"])
        row["status"] = "ok"
        return row["val_loss"]

    study.optimize(objective, n_trials=evals, catch=(Exception,), gc_after_trial=True)
    for row, trial in zip(rows, study.trials):
        row["tool_state"] = trial.state.name
    return rows


def run_keras_tuner(seed: int, patience: int, data, directory: Path) -> list[dict]:
    import keras_tuner as kt

    x_train, x_test, y_train, y_test = data
    EpochLog = epoch_log_class()

    class DigitsModel(kt.HyperModel):
        def build(self, hp):
            # every id is declared here, batch_size included, so that the first trial samples it too
            return build_model(keras_tuner_params(hp))

        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    class Tuner(kt.Hyperband):
        """Hyperband, keeping every trial's epochs in the order the trials ran."""

        def __init__(self, *args, **kwargs):
            self.log: dict = {}
            super().__init__(*args, **kwargs)

        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            # KerasTuner imports tensorboard here for every trial (to patch TensorBoard callbacks,
            # which the bench has none of); tensorflow-cpu does not install it.
            return

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            self.log[trial.trial_id] = {"start": time.perf_counter(), "values": [], "diverged": False}

        def on_epoch_end(self, trial, model, epoch, logs=None):
            super().on_epoch_end(trial, model, epoch, logs)
            entry = self.log[trial.trial_id]
            value = (logs or {}).get("val_loss")
            entry["values"].append(None if value is None else float(value))

        def on_trial_end(self, trial):
            entry = self.log[trial.trial_id]
            entry["duration_s"] = round(time.perf_counter() - entry["start"], 3)
            super().on_trial_end(trial)

    tuner = Tuner(DigitsModel(), objective="val_loss", max_epochs=MAX_EPOCHS, factor=3,
                  seed=seed + 1,  # KerasTuner takes seed=0 for no seed
                  directory=str(directory), project_name="digits", overwrite=True,
                  max_consecutive_failed_trials=10 ** 6)  # shapes that do not fit 8x8 fail; go on
    log_cb = EpochLog()  # KerasTuner copies it per trial; only its NaN stop matters here
    tuner.search(x_train, y_train, epochs=MAX_EPOCHS, validation_data=(x_test, y_test), verbose=0,
                 callbacks=fit_callbacks(log_cb, patience))

    trials = tuner.oracle.trials
    continued = {t.hyperparameters.values.get("tuner/trial_id") for t in trials.values()}
    rows = []
    for number, (trial_id, entry) in enumerate(tuner.log.items(), 1):
        trial = trials[trial_id]
        values = dict(trial.hyperparameters.values)
        tuner_values = {k: values.pop(k) for k in list(values) if k.startswith("tuner/")}
        finite = all(v is not None and math.isfinite(v) for v in entry["values"])
        row = {"number": number, "val_loss": best_of(entry["values"]), "epochs": len(entry["values"]),
               "params": values, "error": None, "duration_s": entry.get("duration_s"),
               "tool_state": str(trial.status), "kt_score": trial.score, "kt_id": trial_id,
               "kt_continues": tuner_values.pop("tuner/trial_id", None),
               **{k.replace("tuner/", "kt_"): v for k, v in tuner_values.items()}}
        if str(trial.status) != "COMPLETED":
            row["status"] = "fail"
            row["error"] = exception_line(trial.message)
        elif not entry["values"] or not finite:
            row["status"] = "fail"
            row["error"] = "val_loss not finite"
        elif tuner_values.get("tuner/epochs", MAX_EPOCHS) < MAX_EPOCHS and trial_id not in continued:
            row["status"] = "pruned"
        else:
            row["status"] = "ok"
        rows.append(row)
    return rows


def exception_line(message: str | None) -> str:
    """The `SomeError: text` line of a traceback (the last one), with the line that says what went
    wrong when Keras' first line only names the layer."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in (message or "").splitlines()]
    found = [n for n, line in enumerate(lines) if re.match(r"[A-Za-z_][\w.]*(Error|Exception)\b", line)]
    if not found:
        return next((line for line in reversed(lines) if line), "?")
    text = lines[found[-1]]
    if text.rstrip(".").endswith(".call()"):
        text += " " + next((line for line in lines[found[-1] + 1:] if line), "")
    return text


def run_child(arm: str, seed: int, evals: int, out: Path, patience: int) -> None:
    import keras

    keras.utils.set_random_seed(0)
    data = load_data()
    out.mkdir(parents=True, exist_ok=True)
    if arm == "kt-hyperband":
        rows = run_keras_tuner(seed, patience, data, out / "kt")
    else:
        rows = run_optuna(arm, seed, evals, patience, data)
    (out / "trials.json").write_text(json.dumps({"trials": rows}, indent=1, default=str))


# -- running the arms ------------------------------------------------------------------------------

def prune_supported(optpar_root: Path) -> bool:
    options = optpar_root / "optpar" / "runtime" / "options.py"
    return options.exists() and "prune" in options.read_text()


def cell_value(text: str):
    """A trials.csv cell as the number it shows, or the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_optpar_trials(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        records = [dict(zip(header, row)) for row in reader]
    metric = header[2]
    names = header[3:header.index("duration_s")]
    rows = []
    for record in sorted(records, key=lambda r: int(r["number"])):
        value = record[metric]
        rows.append({"number": int(record["number"]), "status": record["status"],
                     "val_loss": float(value) if value not in ("", None) else None,
                     "epochs": int(record["epochs_run"] or 0),
                     "params": {name: cell_value(record[name]) for name in names},
                     "error": record["error"] or None,
                     "duration_s": float(record["duration_s"]) if record["duration_s"] else None})
    return rows


def run_arm(arm: str, script: Path, seed: int, evals: int, out: Path, env: dict, prune: bool,
            patience: int) -> list[dict]:
    if arm in OPTPAR_ARMS:
        mode = arm.split("-", 1)[1]
        cmd = [sys.executable, str(script), "--max-evals", str(evals), "--seed", str(seed),
               "--out", str(out), "--quiet"]
        if prune:
            cmd += ["--prune", mode]
        if mode != "none":
            # Pruning frees epochs: the search goes on past --evals trials until it has trained
            # what --evals full trainings would (the first --evals trials are the --evals arm).
            cmd[3] = str(SPARE_TRIALS * evals)
            cmd += ["--budget-epochs", str(MAX_EPOCHS * evals)]
        elif mode != "none":
            raise SystemExit("%s: the generated script has no --prune option yet" % arm)
    else:
        cmd = [sys.executable, __file__, "--child", arm, str(seed), str(evals), str(out), str(patience)]
    proc = subprocess.run(cmd, cwd=script.parent, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 1: every trial failed, still a result
        raise SystemExit("%s seed %d failed (exit %d):\n%s" % (arm, seed, proc.returncode, proc.stderr[-3000:]))
    if arm in OPTPAR_ARMS:
        return read_optpar_trials(out)
    return json.loads((out / "trials.json").read_text())["trials"]


# -- the report ----------------------------------------------------------------------------------

def best_within(trials: list[dict], budget: int | None) -> float | None:
    """The best val_loss of the trials (in execution order) whose epochs fit in `budget` epochs in
    all (None: no budget)."""
    best, spent = None, 0
    for trial in trials:
        spent += trial["epochs"]
        if budget is not None and spent > budget:
            break
        value = trial["val_loss"]
        if trial["status"] != "fail" and value is not None and (best is None or value < best):
            best = value
    return best


def summarise(trials: list[dict], baseline: float | None, budgets, wall: float, evals: int | None = None) -> dict:
    """`evals`: the best, epochs and counts are of the first `evals` trials (an optpar pruning arm
    runs on, up to the epochs of `evals` full trainings); the budgets see every trial."""
    everything, trials = trials, trials[:evals] if evals else trials
    ok = [t["val_loss"] for t in trials if t["status"] == "ok" and t["val_loss"] is not None]
    best = best_within(trials, None)
    return {
        "trials": len(trials),
        "trials_in_budget": len(everything),
        "best": best,
        "best_ok": min(ok) if ok else None,
        "at": {str(b): best_within(everything, b) for b in budgets},
        "epochs": sum(t["epochs"] for t in trials),
        "pruned": sum(t["status"] == "pruned" for t in trials),
        "failed": sum(t["status"] == "fail" for t in trials),
        "baseline": baseline,
        "worse": None if baseline is None else (best is None or best > baseline),
        "wall_s": round(wall, 1),
        # The trials' own time (model built, compiled, trained), of the trials counted above: a
        # trial pruned at epoch 1 still pays its start, so it saves less time than epochs.
        "trials_s": round(sum(t.get("duration_s") or 0.0 for t in trials), 1),
    }


def fmt(value, spec="%.3f") -> str:
    return "-" if value is None else spec % value


def mean_sd(values: list, spec="%.3f") -> str:
    """'mean±sd' of the values that exist ('-' for none; '(k/n)' when some are missing)."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    text = spec % statistics.mean(present)
    if len(present) > 1:
        text += "±" + spec % statistics.stdev(present)
    if len(present) < len(values):
        text += "(%d/%d)" % (len(present), len(values))
    return text


def report(args, results: dict, walls: dict, baselines: dict) -> dict:
    budgets = args.budgets
    table: dict = {}
    for arm in args.arms:
        for seed in args.seeds:
            table.setdefault(arm, {})[seed] = summarise(
                results[arm][seed], baselines.get(seed), budgets, walls[arm][seed],
                args.evals if arm in OPTPAR_ARMS and arm != "optpar-none" else None)

    print(f"digits CNN (examples/digits_cnn.py, Adam, {MAX_EPOCHS} epochs), {args.evals} evaluations "
          f"per search (kt-hyperband: its own), seeds {args.seeds}; baseline = the user's configuration")
    print()
    print("per seed:")
    at_heads = "".join(f" {'best@' + str(b):>9s}" for b in budgets)
    print(f"  {'arm':16s} {'seed':>4s} {'trials':>6s} {'best':>7s} {'best ok':>7s}{at_heads} "
          f"{'epochs':>6s} {'pruned':>6s} {'failed':>6s} {'baseline':>8s} {'worse':>5s} {'wall s':>7s}")
    for arm in args.arms:
        for seed in args.seeds:
            row = table[arm][seed]
            ats = "".join(f" {fmt(row['at'][str(b)]):>9s}" for b in budgets)
            worse = "-" if row["worse"] is None else ("yes" if row["worse"] else "no")
            print(f"  {arm:16s} {seed:4d} {row['trials']:6d} {fmt(row['best']):>7s} {fmt(row['best_ok']):>7s}"
                  f"{ats} {row['epochs']:6d} {row['pruned']:6d} {row['failed']:6d} "
                  f"{fmt(row['baseline']):>8s} {worse:>5s} {row['wall_s']:7.0f}")
    print()
    print(f"mean±sd over {len(args.seeds)} seed(s); x none: ratio to optpar-none's mean:")
    print(f"  {'arm':16s} {'trials':>6s} {'best':>13s}" + "".join(f" {'best@' + str(b):>13s}" for b in budgets)
          + f" {'epochs':>11s} {'x none':>6s} {'pruned':>6s} {'failed':>6s} {'worse':>5s} {'wall s':>10s} {'x none':>6s}"
          + f" {'trials s':>10s} {'x none':>6s}")
    summary: dict = {}
    reference = table.get("optpar-none")
    ref_epochs = statistics.mean(r["epochs"] for r in reference.values()) if reference else None
    ref_wall = statistics.mean(r["wall_s"] for r in reference.values()) if reference else None
    ref_trials_s = statistics.mean(r["trials_s"] for r in reference.values()) if reference else None
    for arm in args.arms:
        rows = list(table[arm].values())
        epochs = statistics.mean(r["epochs"] for r in rows)
        wall = statistics.mean(r["wall_s"] for r in rows)
        known = [r["worse"] for r in rows if r["worse"] is not None]
        summary[arm] = {
            "trials": statistics.mean(r["trials"] for r in rows),
            "best": mean_sd([r["best"] for r in rows]),
            "at": {str(b): mean_sd([r["at"][str(b)] for r in rows]) for b in budgets},
            "epochs": mean_sd([r["epochs"] for r in rows], "%.0f"),
            "epochs_ratio": None if not ref_epochs else round(epochs / ref_epochs, 2),
            "pruned": statistics.mean(r["pruned"] for r in rows),
            "failed": statistics.mean(r["failed"] for r in rows),
            "worse": None if not known else "%d/%d" % (sum(known), len(known)),
            "wall_s": mean_sd([r["wall_s"] for r in rows], "%.0f"),
            "wall_ratio": None if not ref_wall else round(wall / ref_wall, 2),
            "trials_s": mean_sd([r["trials_s"] for r in rows], "%.0f"),
            "trials_s_ratio": None if not ref_trials_s else round(
                statistics.mean(r["trials_s"] for r in rows) / ref_trials_s, 2),
        }
        s = summary[arm]
        print(f"  {arm:16s} {s['trials']:6.1f} {s['best']:>13s}"
              + "".join(f" {s['at'][str(b)]:>13s}" for b in budgets)
              + f" {s['epochs']:>11s} {fmt(s['epochs_ratio'], '%.2f'):>6s} {s['pruned']:6.1f} {s['failed']:6.1f} "
              f"{s['worse'] or '-':>5s} {s['wall_s']:>10s} {fmt(s['wall_ratio'], '%.2f'):>6s}"
              f" {s['trials_s']:>10s} {fmt(s['trials_s_ratio'], '%.2f'):>6s}")
    print()
    print("why trials failed:")
    for arm in args.arms:
        errors: dict = {}
        for trials in results[arm].values():
            for t in trials:
                if t["status"] == "fail":
                    key = (t.get("error") or "?")[:110]
                    errors[key] = errors.get(key, 0) + 1
        for text, count in sorted(errors.items(), key=lambda kv: -kv[1]):
            print(f"  {arm:16s} {count:3d}x {text}")
    if "optpar-none" in results:
        print()
        print("goal: a pruning arm's best within the epochs of half of optpar-none's search, against "
              "optpar-none's best (<= 1.05 is within 5 %):")
        for arm in [a for a in args.arms if a in OPTPAR_ARMS and a != "optpar-none"]:
            ratios = []
            for seed in args.seeds:
                plain = table["optpar-none"][seed]
                half = best_within(results[arm][seed], plain["epochs"] // 2)
                ratios.append(None if half is None or not plain["best"] else half / plain["best"])
                summary[arm].setdefault("half_epochs_ratio", {})[str(seed)] = ratios[-1]
            print(f"  {arm:16s} " + " / ".join(fmt(r) for r in ratios)
                  + f"  (seeds {' / '.join(map(str, args.seeds))})")
    return {"per_seed": table, "summary": summary}


def merge(args) -> int:
    """The report over several --json runs of this bench (the same settings; each adds seeds or
    arms): every arm must have every seed."""
    results: dict = {}
    walls: dict = {}
    baselines: dict = {}
    settings = None
    for path in args.merge:
        data = json.loads(path.read_text())
        mine = {k: data["settings"][k] for k in ("evals", "max_epochs", "competitor_patience")}
        if settings not in (None, mine):
            raise SystemExit("%s: ran with %s, the others with %s" % (path, mine, settings))
        settings = mine
        baselines.update({int(seed): value for seed, value in data["baseline"].items()})
        for arm, by_seed in data["trials"].items():
            for seed, trials in by_seed.items():
                results.setdefault(arm, {})[int(seed)] = trials
                walls.setdefault(arm, {})[int(seed)] = data["wall_s"][arm][seed]
    results = {arm: by_seed for arm, by_seed in results.items() if arm in args.arms}  # --arms: some of them
    seeds = sorted({seed for by_seed in results.values() for seed in by_seed})
    missing = ["%s seed %d" % (arm, seed) for arm in results for seed in seeds if seed not in results[arm]]
    if missing:
        raise SystemExit("not in the merged runs: " + ", ".join(missing))
    args.evals, args.seeds = settings["evals"], seeds
    args.arms = [arm for arm in ARMS if arm in results]
    tables = report(args, results, walls, baselines)
    if args.json:
        args.json.write_text(json.dumps({"settings": {**settings, "seeds": seeds, "arms": args.arms,
                                                      "budgets": args.budgets, "merged": [str(p) for p in args.merge]},
                                         "baseline": baselines, **tables, "trials": results, "wall_s": walls},
                                        indent=1, default=str))
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        arm, seed, evals, out, patience = sys.argv[2:7]
        run_child(arm, int(seed), int(evals), Path(out), int(patience))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS),
                        help="cumulative epoch budgets for best-so-far (default 30 60 100)")
    parser.add_argument("--competitor-patience", type=int, default=0, metavar="N",
                        help="early stopping for the KerasTuner and Optuna trials (default 0: none)")
    parser.add_argument("--optpar-root", type=Path, default=ROOT,
                        help="the optpar checkout the generated script runs with (PYTHONPATH)")
    parser.add_argument("--json", type=Path, default=None, help="also write the tables and every trial here")
    parser.add_argument("--merge", type=Path, nargs="+", default=None, metavar="JSON",
                        help="run nothing: report the union of earlier --json runs (other seeds, other "
                             "arms; with --arms, of those arms only)")
    args = parser.parse_args()
    if args.merge:
        return merge(args)

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(args.optpar_root), os.environ.get("PYTHONPATH")])))
    prune = prune_supported(args.optpar_root)
    results: dict = {}
    walls: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-pruning-") as tmp:
        work = Path(tmp)
        write_model(work)
        scan = subprocess.run([sys.executable, "-m", "optpar", "scan", "digits_cnn.py"], cwd=work, env=env,
                              capture_output=True, text=True, check=True)
        if any(line.split()[1:2] == ["epochs"] for line in scan.stdout.splitlines()):
            raise SystemExit("`optpar scan` lists epochs; the bench needs it fixed at %d:\n%s"
                             % (MAX_EPOCHS, scan.stdout))
        subprocess.run([sys.executable, "-m", "optpar", "refactor", "digits_cnn.py"], cwd=work, env=env,
                       check=True, capture_output=True)
        script = work / "digits_cnn_tune.py"
        check_space(load_generated(script).SPACE)
        print("space: %d ids, as SPACE_TABLE; --prune %s" % (len(SPACE_TABLE), "yes" if prune else "not yet"),
              file=sys.stderr, flush=True)
        for seed in args.seeds:
            for arm in args.arms:
                start = time.perf_counter()
                trials = run_arm(arm, script, seed, args.evals, work / f"{arm}-{seed}", env, prune,
                                 args.competitor_patience)
                wall = time.perf_counter() - start
                results.setdefault(arm, {})[seed] = trials
                walls.setdefault(arm, {})[seed] = wall
                print(f"{arm:16s} seed {seed}: {len(trials)} trials, "
                      f"{sum(t['epochs'] for t in trials)} epochs in {wall:5.0f} s", file=sys.stderr, flush=True)

    baselines = {}
    for seed in args.seeds:
        for arm in OPTPAR_ARMS:
            first = results.get(arm, {}).get(seed, [None])[0]
            if first is not None and first["status"] == "ok":
                baselines[seed] = first["val_loss"]
                break
    tables = report(args, results, walls, baselines)
    if args.json:
        args.json.write_text(json.dumps({
            "settings": {"evals": args.evals, "seeds": args.seeds, "arms": args.arms, "budgets": args.budgets,
                         "max_epochs": MAX_EPOCHS, "competitor_patience": args.competitor_patience,
                         "prune_option": prune},
            "baseline": baselines, **tables, "trials": results, "wall_s": walls,
        }, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
