"""End to end, with real training: the forms real Keras scripts train in (tf.data pipelines,
models that log no val_loss, GANs, run_experiment(model) with callbacks that write files, drivers
spread over functions, seeds), each tuned through `optpar tune` on a fixture, 2-3 short trials."""
from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys

import pytest

from conftest import run_optpar

pytest.importorskip("hyperopt")
pytest.importorskip("keras")

ENV = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
ENV.pop("TF_CPP_MIN_LOG_LEVEL", None)


def tune(path, *args, timeout=300):
    return run_optpar("tune", path.name, "--out", "runs", "--seed", "0", *args,
                      cwd=path.parent, timeout=timeout, env=ENV)


def rows(path) -> list[dict]:
    with (path.parent / "runs" / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


REFUSAL = re.compile(r"^[\w.]+\.py:\d+:\d+: error: ")  # where (the measured fit), then what


def errors(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if REFUSAL.match(line)]


def test_a_tf_data_pipeline_without_validation_tunes(fixture_copy):
    path = fixture_copy("tfdata_pipeline.py")
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "batches, taken once, are the validation data of every trial" in proc.stderr
    assert [r["status"] for r in rows(path)][0] == "ok"
    # TensorFlow's C++ start-up chatter is not shown.
    assert "oneDNN" not in proc.stderr and "absl::InitializeLog" not in proc.stderr


def test_a_model_that_logs_no_val_loss_is_tuned_on_the_validation_metric_it_logs(fixture_copy):
    path = fixture_copy("custom_metric_only.py")
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "tunes val_sparse_categorical_accuracy (max) instead" in proc.stderr
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert (best["metric"], best["mode"]) == ("val_sparse_categorical_accuracy", "max")
    assert best["best_metric"] >= best["baseline_metric"]


def test_a_gan_stops_after_one_trial_and_says_which_metric_to_pick(fixture_copy):
    path = fixture_copy("gan_train_step.py")
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(errors(proc)) == 1
    # It points at the fit() the search measures: `history = gan.fit(...)` on line 66.
    assert errors(proc)[0].startswith("gan_train_step.py:66:11: error: ")
    assert "d_loss, g_loss" in errors(proc)[0] and "--metric" in errors(proc)[0]
    assert "trial 2/3" not in proc.stderr
    proc = tune(path, "--max-evals", "2", "--metric", "g_loss", "--mode", "min")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok"]


def test_a_train_step_that_logs_no_validation_metric_is_refused_before_it_trains(tmp_path):
    path = tmp_path / "two_losses.py"
    path.write_text(
        "import numpy as np\nimport tensorflow as tf\nimport keras\n\n"
        "class TwoLosses(keras.Model):\n"
        "    def train_step(self, data):\n"
        "        x, y = data\n"
        "        with tf.GradientTape() as tape:\n"
        "            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))\n"
        "        grads = tape.gradient(loss, self.trainable_weights)\n"
        "        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))\n"
        "        return {\"a_loss\": loss, \"b_loss\": 2.0 * loss}\n\n"
        "inputs = keras.Input((4,))\nmodel = TwoLosses(inputs, keras.layers.Dense(1)(keras.layers.Dense(8)(inputs)))\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-3))  # no loss: Keras cannot validate it\n"
        "x = np.random.default_rng(0).random((64, 4)).astype('float32')\n"
        "model.fit(x, x.sum(axis=1, keepdims=True), epochs=2, batch_size=16,\n"
        "          callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: open('epochs.log', 'a').write('x'))])\n",
        encoding="utf-8")
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert errors(proc) == ["two_losses.py:18:1: error: the model logs no validation metric (no val_loss, no val_*); "
                            "it reports a_loss, b_loss: choose what to tune with --metric NAME --mode min|max, "
                            "e.g. --metric a_loss --mode min"]
    assert not (tmp_path / "epochs.log").exists()  # read from its train_step: no epoch ran for it


def test_metrics_only_train_step_updates_are_refused_after_one_epoch_and_a_training_metric_tunes(tmp_path):
    path = tmp_path / "tracker.py"  # a VAE's form: trackers as `metrics`, Keras's test_step never updates them
    path.write_text(
        "import numpy as np\nimport tensorflow as tf\nimport keras\n\n"
        "class AE(keras.Model):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.enc, self.dec = keras.layers.Dense(4, activation='relu'), keras.layers.Dense(8)\n"
        "        self.tracker = keras.metrics.Mean(name='total_loss')\n\n"
        "    @property\n    def metrics(self):\n        return [self.tracker]\n\n"
        "    def call(self, x):\n        return self.dec(self.enc(x))\n\n"
        "    def train_step(self, data):\n"
        "        with tf.GradientTape() as tape:\n            loss = tf.reduce_mean(tf.square(data - self(data)))\n"
        "        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_weights), self.trainable_weights))\n"
        "        self.tracker.update_state(loss)\n        return {m.name: m.result() for m in self.metrics}\n\n"
        "x = np.random.default_rng(0).random((64, 8)).astype('float32')\nmodel = AE()\n"
        "model.compile(optimizer=keras.optimizers.Adam(1e-3), loss='mse')\n"
        "model.fit(x, epochs=2, batch_size=16, validation_data=(x, x))\n", encoding="utf-8")
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 2, proc.stderr[-3000:]
    [line] = errors(proc)
    assert line.startswith("tracker.py:28:1: error: every validation metric is 0.0 while its training value is not (total_loss ")
    assert line.endswith("tune a training metric: --metric total_loss --mode min")
    proc = tune(path, "--max-evals", "2", "--metric", "total_loss", "--mode", "min")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok"]


def test_callback_files_go_under_each_trial_and_trials_stay_quiet(fixture_copy):
    path = fixture_copy("run_experiment.py")  # ModelCheckpoint + CSVLogger, then load_weights
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [(r["status"], r["files"]) for r in rows(path)] == [("ok", "trials/1"), ("ok", "trials/2")]
    for trial in ("1", "2"):
        folder = path.parent / "runs" / "trials" / trial
        assert (folder / "checkpoint.weights.h5").is_file() and (folder / "training.csv").is_file()
    assert not (path.parent / "checkpoint.weights.h5").exists()
    assert not (path.parent / "training.csv").exists()
    assert "Test accuracy" not in proc.stdout  # what a trial prints is shown with --verbose only
    proc = tune(path, "--max-evals", "3", "--verbose")
    assert proc.returncode == 0 and "Test accuracy" in proc.stdout


def test_a_driver_spread_over_functions_runs_its_first_trial(fixture_copy):
    path = fixture_copy("multi_function_driver.py")
    proc = tune(path, "--max-evals", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert rows(path)[0]["status"] == "ok"


def test_the_applied_best_of_a_seeded_model_gives_the_reported_metric(fixture_copy):
    path = fixture_copy("seeded_model.py")
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sets no random seed" not in proc.stdout and "unseeded" not in proc.stdout
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    proc = run_optpar("apply", path.name, "runs/best.json", "--in-place", cwd=path.parent, env=ENV)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([sys.executable, path.name], cwd=path.parent, env=ENV, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    printed = float(run.stdout.split("best val_loss:")[1].split()[0])
    assert math.isclose(printed, best["best_metric"], rel_tol=1e-4), (printed, best["best_metric"])


def applied(path, best) -> str:
    """`optpar apply --in-place` of runs/best.json, then the file run as it is: its best
    val_loss (printed each epoch, `verbose=2`) is the best the search reported. The new text."""
    proc = run_optpar("apply", path.name, "runs/best.json", "--in-place", cwd=path.parent, env=ENV)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([sys.executable, path.name], cwd=path.parent, env=ENV, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    losses = [float(v) for v in re.findall(r"val_loss: ([0-9.]+)", run.stdout)]
    assert losses and math.isclose(min(losses), best["best_metric"], rel_tol=1e-3, abs_tol=1e-4), (
        losses, best["best_metric"])  # Keras prints 4 decimals
    return path.read_text()


def test_tuned_command_line_options_and_config_entries_applied_give_the_reported_metric(fixture_copy):
    """A research-style script (argparse defaults, a config dict): the search tunes the values
    where they are written, and the file after `apply` trains to the best the search reported."""
    path = fixture_copy("argparse_config.py")
    proc = tune(path, "--max-evals", "3", "--", "--verbose", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert best["best"] != best["baseline"]  # (seed 0: a trial other than the user's won)
    text = applied(path, best)
    assert "parser.add_argument(\"--lr\", type=float, default=1e-3)" not in text


def test_tuned_settings_classes_applied_give_the_reported_metric(fixture_copy):
    """A notebook-style script (`class CFG` read as `CFG.lr`, a dataclass instance passed to the
    model builder): the values are tuned in the class bodies, and the file after `apply` trains
    to the best the search reported."""
    path = fixture_copy("settings_class.py")
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert best["best"] != best["baseline"]  # (seed 0: a trial other than the user's won)
    text = applied(path, best)
    assert "lr: float = 0.1  #" not in text and "class CFG:" in text


def test_a_tf_data_batch_size_is_tuned_and_applied_to_the_reported_metric(fixture_copy):
    """keras-io's form: `.batch(BATCH_SIZE)` in a tf.data pipeline and validation_data=val_ds. The
    search tries other batch sizes, and the file after `apply` trains to the best it reported."""
    path = fixture_copy("tfdata_validation.py")
    path.write_text(path.read_text().replace("verbose=0)", "verbose=2)"))  # applied() reads each epoch
    proc = tune(path, "--max-evals", "4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len({row["batch_size"] for row in rows(path)}) > 1
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert best["best"]["batch_size"] != best["baseline"]["batch_size"]  # (seed 0: trial 4, 32, won)
    text = applied(path, best)
    assert f"BATCH_SIZE = {best['best']['batch_size']}\n" in text


def test_items_of_a_list_a_layer_loop_walks_are_tuned_and_applied_to_the_reported_metric(fixture_copy):
    """keras-io's `for size in [16, 32]:` block loop and a head built from `HEAD_UNITS = [64, 8]`:
    each item is tuned in its list, and the file after `apply` trains to the best reported."""
    path = fixture_copy("layer_loops.py")
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert best["best"]["size_0"] != best["baseline"]["size_0"]  # (seed 0: trial 3 won)
    text = applied(path, best)
    assert f"for size in [{best['best']['size_0']}, {best['best']['size_1']}]:" in text
    assert f"HEAD_UNITS = [{best['best']['head_units_0']}, {best['best']['head_units_1']}]" in text


def test_values_each_call_of_a_helper_passes_are_tuned_and_applied_to_the_reported_metric(fixture_copy):
    """keras-io's `conv_block(x, 16)` / `conv_block(x, 32, kernel_size=5)` and `mlp(x, [64], 0.1)` /
    `mlp(x, HEAD_UNITS, 0.3)`: each call's values are tuned at that call, the head a helper makes
    is not, and the file after `apply` trains to the best the search reported."""
    path = fixture_copy("block_helpers.py")
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all(row["status"] == "ok" for row in rows(path))
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    assert best["best"]["conv_block_filters"] != best["baseline"]["conv_block_filters"]  # (seed 0: trial 3 won)
    assert "num_classes" not in best["best"]
    text = applied(path, best)
    assert f"x = conv_block(inputs, {best['best']['conv_block_filters']})\n" in text
    assert f"x = mlp(x, HEAD_UNITS, {best['best']['mlp_1_dropout_rate']!r})\n" in text


EPOCH_LOOP = """\
import keras
import numpy as np

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 4)).astype("float32")
y = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")

EPOCHS = 6
for epoch in range(1, EPOCHS):
    model.fit(x, y, batch_size=32, epochs=1, validation_split=0.25, verbose=2)
"""


def test_the_bound_of_a_loop_of_one_epoch_fits_is_tuned_and_applied_to_the_reported_metric(tmp_path):
    """keras's addition_rnn form: `for epoch in range(1, EPOCHS): model.fit(..., epochs=1)`. EPOCHS
    is the hyperparameter (each trial trains EPOCHS - 1 epochs on one curve), `epochs=1` stays,
    and the file after `apply` trains to the best the search reported."""
    path = tmp_path / "model.py"
    path.write_text(EPOCH_LOOP)
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = rows(path)
    assert (trials[0]["epochs"], trials[0]["epochs_run"]) == ("6", "5")
    assert all(int(row["epochs_run"]) <= int(row["epochs"]) - 1 for row in trials)
    assert len({row["epochs"] for row in trials}) > 1
    best = json.loads((path.parent / "runs" / "best.json").read_text())
    text = applied(path, best)
    assert f"EPOCHS = {best['best']['epochs']}\n" in text and "epochs=1, validation_split" in text


def test_trials_of_a_loop_of_one_epoch_fits_are_pruned_on_the_passes_they_plan(tmp_path):
    """12 passes of fit(epochs=1): each trial plans EPOCHS - 1 epochs, so the default pruning is on
    (before, a trial planned 1 epoch and was never pruned) and a hopeless trial stops after a
    pass or a few: the program's loop ends there."""
    path = tmp_path / "model.py"
    path.write_text(EPOCH_LOOP.replace("EPOCHS = 6", "EPOCHS = 13"))
    proc = tune(path, "--max-evals", "6")
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = rows(path)
    assert (trials[0]["status"], trials[0]["epochs_run"]) == ("ok", "12")  # the user's run, never pruned
    pruned = [row for row in trials if row["status"] == "pruned"]
    assert pruned and all(int(row["epochs_run"]) < int(row["epochs"]) - 1 for row in pruned)
    assert "pruning saved" in proc.stdout


PARAMS_DICT = """\
import keras
import numpy as np

params = {"units": 64, "lr": 1e-3, "epochs": 2}

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
y = x.sum(axis=1)
model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(params["units"], activation="relu"),
                          keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=params["lr"]), loss="mse")
model.fit(x, y, epochs=params["epochs"], validation_split=0.2, verbose=0)
"""


def test_a_config_dict_named_params_is_tuned_and_not_overwritten(tmp_path):
    """The tuning script's own dict is `params`; a program with a `params` of its own (here the
    config dict that holds the values) gets `optpar_params` instead (before: the program's dict
    replaced the script's, and every trial failed on a KeyError)."""
    path = tmp_path / "model.py"
    path.write_text(PARAMS_DICT)
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok", "ok"]
    assert 'optpar_params["units"]' in (tmp_path / "model_tune.py").read_text()
    assert len({r["units"] for r in rows(path)}) > 1


OWN_NAMES = """\
import keras
import numpy as np

SPACE = {"note": "the user's own, not optpar's"}
DEFAULTS = {"units": 32}


def run_trial():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    y = x.sum(axis=1)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(DEFAULTS["units"], activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    print(SPACE["note"])


run_trial()
"""


def test_a_program_using_the_scripts_names_and_calling_its_main_with_no_guard_tunes(tmp_path):
    """A program with its own SPACE, DEFAULTS and run_trial() (the script's names get an optpar_
    prefix instead; before: hyperopt got the program's SPACE and failed with a traceback), whose
    driver is called at the top level with no `if __name__` guard (before: that call ran inside
    each trial, where the driver is no longer defined: every trial failed on a NameError)."""
    path = tmp_path / "model.py"
    path.write_text(OWN_NAMES)
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok"]
    text = (tmp_path / "model_tune.py").read_text()
    assert "space=OPTPAR_SPACE" in text and "run_trial=optpar_run_trial" in text
    assert "units" in rows(path)[0]  # DEFAULTS["units"]: the program's config dict, tuned


MAIN_WITH_DEFAULTS = """\
import keras
import numpy as np


def main(verbose=0, *, seed=0):
    keras.utils.set_random_seed(seed)
    x = np.random.default_rng(seed).normal(size=(200, 4)).astype("float32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x.sum(axis=1), epochs=2, validation_split=0.2, verbose=verbose)


if __name__ == "__main__":
    main()
"""


def test_a_main_with_parameters_nothing_tunes_trains_in_every_trial(tmp_path):
    """run_trial() is main's body; its parameters are bound to their defaults once (before: every
    trial failed with NameError: name 'verbose' is not defined)."""
    path = tmp_path / "model.py"
    path.write_text(MAIN_WITH_DEFAULTS)
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok"]


CLASS_REBOUND = """\
import keras
import numpy as np


class mnist_model(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(16, activation="relu")
        self.d2 = keras.layers.Dense(1)

    def call(self, inputs):
        return self.d2(self.d1(inputs))


keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
mnist_model = mnist_model()
mnist_model.compile(optimizer="adam", loss="mse")
mnist_model.fit(x, x.sum(axis=1), epochs=2, validation_split=0.2, verbose=0)
"""


def test_a_class_name_bound_to_its_instance_trains_in_every_trial(tmp_path):
    """duckzhao's `mnist_model = mnist_model()`: trials 2 and 3 used to fail with "missing a
    required argument: 'inputs'" (trial 1 had left the instance where the class was)."""
    path = tmp_path / "model.py"
    path.write_text(CLASS_REBOUND)
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok", "ok"]


def test_a_script_without_a_seed_is_told_that_results_vary(fixture_copy):
    path = fixture_copy("figure5_chain.py")
    text = path.read_text()
    assert "keras.utils.set_random_seed(18)\n" in text
    path.write_text(text.replace("keras.utils.set_random_seed(18)\n", ""))
    proc = tune(path, "--max-evals", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sets no random seed, so its results vary from run to run" in proc.stdout


def test_a_script_seeding_tensorflow_only_is_told_that_results_still_vary(fixture_copy):
    """`tf.random.set_seed(0)` alone, as many TensorFlow 2 tutorials write it: Keras 3 draws its
    initial weights from Python's random module, so two runs differ (before: the search said
    nothing, as if the best were what the user gets again)."""
    path = fixture_copy("figure5_chain.py")
    text = path.read_text()
    path.write_text(text.replace("keras.utils.set_random_seed(18)\n", "import tensorflow as tf\ntf.random.set_seed(18)\n"))
    proc = tune(path, "--max-evals", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("note: figure5_chain.py leaves Python's random numbers unseeded, which Keras 3 also draws from"
            in proc.stdout), proc.stdout
    assert "sets no random seed" not in proc.stdout


SHARED_OPTIMIZER = """\
import numpy as np
import keras

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).random((96, 4)).astype("float32")
y = x.sum(axis=1)
optimizer = keras.optimizers.Adam()
norm = keras.layers.BatchNormalization()
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), norm, keras.layers.Dense(1)])
model.compile(optimizer=optimizer, loss="mse")
model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
"""


def test_an_optimizer_and_a_layer_made_at_the_top_serve_every_trial(tmp_path):
    """Before, both ran once: trial 2's new model failed on trial 1's optimizer ("Unknown
    variable ... This optimizer can only be called for the variables it was originally built
    with"), as in 2 of 3 trials of kimjunil/mlops_mnist."""
    path = tmp_path / "model.py"
    path.write_text(SHARED_OPTIMIZER)
    proc = tune(path, "--max-evals", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok", "ok", "ok"], rows(path)


def test_spark_refuses_at_once_what_it_cannot_send_to_its_workers(fixture_copy):
    pytest.importorskip("pyspark")
    path = fixture_copy("tfdata_pipeline.py")  # its tf.data pipeline is built once, at the top
    proc = tune(path, "--max-evals", "2", "--backend", "spark", "--parallelism", "1")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(errors(proc)) == 1 and "train_ds (a _PrefetchDataset" in errors(proc)[0]
    assert "--backend local" in errors(proc)[0]
    assert not (path.parent / "runs" / "trials.csv").exists()  # nothing ran


MIXTURE_OF_EXPERTS = '''\
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
NUM_EXPERTS = 4
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = x[:, :2]


def make_experts(num_experts=NUM_EXPERTS):
    return layers.Dense(num_experts, activation="relu")


model = keras.Sequential([keras.Input((4,)), make_experts(), layers.Dense(NUM_EXPERTS), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
'''

SHOWN_AFTER_TRAINING = '''\
import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
y = x[:, :2]
model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
import optpar_absent_module  # like keras-io's `import IPython`, where it is not installed


def show(model):
    optpar_absent_module.display(model)


show(model)
'''


@pytest.mark.parametrize("program", [MIXTURE_OF_EXPERTS, SHOWN_AFTER_TRAINING], ids=["moe", "after_fit"])
def test_keras_io_forms_that_used_to_fail_at_import_tune(tmp_path, program):
    """mnist_moe: a default reading a tuned constant (NameError: NUM_EXPERTS); wgan_gp: an import
    after the measured fit() of a module that is not installed (ModuleNotFoundError)."""
    path = tmp_path / "model.py"
    path.write_text(program, encoding="utf-8")
    proc = tune(path, "--max-evals", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["status"] for r in rows(path)] == ["ok"]


def test_a_notebooks_earlier_cell_that_fails_is_skipped_and_the_search_goes_on(tmp_path):
    """A notebook's earlier cell that fails where the search runs (a plot that needs pydot, a
    progress bar that needs widgets; here a file that is not there, a package that is not
    installed and the class that needs it) feeds the measured fit nothing: the search says so in
    one line each, with the cell and line, and tunes the last model."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    cells = [
        new_code_cell("import numpy as np\nimport keras\nkeras.utils.set_random_seed(0)\n"
                      "x = np.random.default_rng(0).normal(size=(64, 4)).astype('float32')\n"
                      "y = (x[:, 0] > 0).astype('int32')"),
        new_markdown_cell("A first try, saved by an earlier session:"),
        new_code_cell("first = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(2)])\n"
                      "summary = open('first_summary.txt').read()"),
        new_code_cell("import a_tuner_not_installed as kt\n\nclass Tuned(kt.HyperModel):\n    pass"),
        new_code_cell("model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation='relu'),\n"
                      "                          keras.layers.Dense(2, activation='softmax')])\n"
                      "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
                      "model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)"),
    ]
    path = tmp_path / "model.ipynb"
    nbformat.write(new_notebook(cells=cells), str(path))
    proc = tune(path, "--max-evals", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    skipped = [line for line in proc.stderr.splitlines() if "skipped" in line]
    assert [line.split(" skipped")[0] for line in skipped] == [
        "note: model.ipynb:cell_3:2:1:", "note: model.ipynb:cell_4:1:1:",
        "note: 1 more statement that feed the measured fit() nothing"], skipped
    assert "FileNotFoundError" in skipped[0] and "ModuleNotFoundError" in skipped[1]
    assert "(model.ipynb:cell_4:3:1): a NameError on what a skipped statement would have bound" in skipped[2]
    assert [r["status"] for r in rows(path)] == ["ok", "ok"]
