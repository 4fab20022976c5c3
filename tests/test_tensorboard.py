"""--tensorboard DIR: one run per trial (its per-epoch metrics), and the search in the HParams
tab, read back with tensorboard's own reader."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import tune_script_builder as builder
from optpar.runtime import board

pytest.importorskip("hyperopt")
pytest.importorskip("keras")

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

# dense_units 0 makes Keras refuse the layer: a failed trial. A choice of strings beside numbers.
SPACE = builder.SPACE.replace(
    'hp.choice("dense_units", [4, 8, 16, 32]),',
    'hp.choice("dense_units", [0, 8, 16]),\n    "dense_activation": hp.choice("dense_activation", ["relu", "tanh"]),',
).replace(
    'DEFAULTS = {"dense_units": 8,', 'DEFAULTS = {"dense_units": 8, "dense_activation": "relu",',
).replace(
    'BASELINE_POINT = {"dense_units": 1,', 'BASELINE_POINT = {"dense_units": 1, "dense_activation": 0,',
)
RUN_TRIAL = builder.RUN_TRIAL.replace('activation="relu"', 'activation=params["dense_activation"]')
# --algo rand draws the same points whatever the results: with seed 2, trial 2 has dense_units 0.
SEARCH = ["--max-evals", "3", "--algo", "rand", "--seed", "2"]

USERS_BOARD = builder.RUN_TRIAL.replace(
    "batch_size=64, verbose=0)",
    'batch_size=64, verbose=0,\n               callbacks=[keras.callbacks.TensorBoard(log_dir="logs")])',
)


def ok(proc, code=0):
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def summaries(folder: Path) -> dict:
    """{tag: [(step, value)]} of the event files in `folder` (not below it): scalars as floats,
    the hparams plugin's data as its decoded message."""
    found: dict = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                plugin = value.metadata.plugin_data
                if plugin.plugin_name == metadata.PLUGIN_NAME:
                    data = plugin_data_pb2.HParamsPluginData.FromString(plugin.content)
                else:
                    data = tensor_util.make_ndarray(value.tensor).item()
                found.setdefault(value.tag, []).append((event.step, data))
    return found


def shown(value):
    """A hyperparameter value as the session start holds it (google.protobuf.Value)."""
    kind = value.WhichOneof("kind")
    return {"number_value": value.number_value, "string_value": value.string_value,
            "bool_value": value.bool_value}[kind]


def check_session(run: Path, record: dict, metric: str = "val_loss") -> dict:
    """The run's hparams session against the trial's record; returns its summaries."""
    root = summaries(run)
    start = root[metadata.SESSION_START_INFO_TAG][0][1].session_start_info
    assert start.group_name == run.name
    assert {k: shown(v) for k, v in start.hparams.items()} == record["values"]
    end = root[metadata.SESSION_END_INFO_TAG][0][1].session_end_info
    status = {"ok": api_pb2.STATUS_SUCCESS, "pruned": api_pb2.STATUS_SUCCESS, "fail": api_pb2.STATUS_FAILURE,
              "invalid": api_pb2.STATUS_FAILURE}
    assert end.status == status[record["status"]]
    assert root["optpar/epochs"] == [(0, record["epochs"])]
    assert root["optpar/pruned"] == [(0, float(record["status"] == "pruned"))]
    if record["status"] in ("fail", "invalid"):
        assert "optpar/best_" + metric not in root
    else:
        assert root["optpar/best_" + metric] == [(0, pytest.approx(record["metric"], rel=1e-6))]
    return root


def check_epochs(run: Path, record: dict) -> None:
    """Keras's layout: train/ and validation/, epoch_<name> at steps 0, 1, ..."""
    steps = list(range(record["epochs"]))
    train, validation = summaries(run / "train"), summaries(run / "validation")
    assert [s for s, _ in train["epoch_loss"]] == steps and [s for s, _ in train["epoch_accuracy"]] == steps
    assert [s for s, _ in validation["epoch_loss"]] == steps
    assert [v for _, v in validation["epoch_loss"]] == pytest.approx(record["curve"], rel=1e-6)
    assert min(v for _, v in validation["epoch_loss"]) == pytest.approx(record["metric"], rel=1e-6)


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board")
    script = builder.write_script(folder, run_trial=RUN_TRIAL, space=SPACE)
    proc = ok(builder.run_script(script, *SEARCH, "--out", "out", "--tensorboard", "tb"))
    return folder, proc


def test_every_trial_has_a_run_with_its_epochs_values_and_status(search):
    folder, proc = search
    out, tb = folder / "out", folder / "tb"
    records = json.loads((out / "trials.json").read_text())["trials"]
    statuses = [r["status"] for r in records]
    assert statuses[:2] == ["ok", "invalid"] and "ok" in statuses[2:], "the draw this test relies on"
    assert sorted(p.name for p in tb.iterdir() if p.is_dir()) == ["trial-%04d" % n for n in range(1, len(records) + 1)]
    for record in records:
        run = tb / ("trial-%04d" % record["number"])
        check_session(run, record)
        if record["status"] == "ok":
            check_epochs(run, record)
        else:  # Keras refused Dense(0) before any epoch
            assert "Dense" in record["error"] or "units" in record["error"]
            assert not (run / "train").exists()
    # Real values, as trials.csv and best.json have them (not hp.choice indices).
    assert records[1]["values"]["dense_units"] == 0 and records[0]["values"]["dense_activation"] == "relu"
    best = json.loads((out / "best.json").read_text())
    best_record = min((r for r in records if r["status"] == "ok"), key=lambda r: r["metric"])
    assert best["best"] == best_record["values"]
    assert "TensorBoard: tensorboard --logdir tb" in proc.stdout


def test_the_experiment_lists_every_hyperparameter_with_its_domain_and_the_metrics(search):
    folder, _ = search
    root = summaries(folder / "tb")
    experiment = root[metadata.EXPERIMENT_TAG][0][1].experiment
    infos = {info.name: info for info in experiment.hparam_infos}
    assert list(infos) == ["dense_units", "dense_activation", "adam_learning_rate", "fit_epochs"]
    assert [v.number_value for v in infos["dense_units"].domain_discrete.values] == [0, 8, 16]
    assert [v.string_value for v in infos["dense_activation"].domain_discrete.values] == ["relu", "tanh"]
    assert infos["dense_activation"].type == api_pb2.DATA_TYPE_STRING
    interval = infos["adam_learning_rate"].domain_interval
    assert (interval.min_value, interval.max_value) == (0.001, 0.03)
    interval = infos["fit_epochs"].domain_interval
    assert (interval.min_value, interval.max_value) == (1, 2)
    metrics = [(m.name.group, m.name.tag) for m in experiment.metric_infos]
    assert metrics[0] == ("", "optpar/best_val_loss")
    assert ("validation", "epoch_loss") in metrics and ("train", "epoch_loss") in metrics


def test_a_resume_keeps_the_finished_runs_and_replaces_what_an_interrupted_trial_left(search, tmp_path):
    folder, _ = search
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    records = json.loads((copy / "out" / "trials.json").read_text())["trials"]
    interrupted = copy / "tb" / ("trial-%04d" % (len(records) + 1))
    (interrupted / "train").mkdir(parents=True)  # an interrupted trial's
    (interrupted / "train" / "events.out.tfevents.1.x").write_bytes(b"")
    (copy / "tb" / "notes.txt").write_text("the user's")
    before = {p: p.read_bytes() for p in (copy / "tb" / "trial-0001").rglob("*") if p.is_file()}
    board.Board.open(str(copy / "tb"), {}, records, "val_loss", "min")
    assert not interrupted.exists() and (copy / "tb" / "notes.txt").exists()
    assert {p: p.read_bytes() for p in (copy / "tb" / "trial-0001").rglob("*") if p.is_file()} == before


def test_a_pruned_trial_and_a_spark_workers_run(tmp_path):
    from hyperopt import hp

    space = {"units": hp.choice("units", [8, (3, 3), None]), "rate": hp.uniform("rate", 0.0, 0.5)}
    tb = board.Board.open(str(tmp_path), space, [], "val_accuracy", "max")
    worker = board.TrialRun(str(tmp_path / "worker-7-0a1b2c3d"), "worker-7-0a1b2c3d")
    worker.epoch({"loss": 0.5, "accuracy": 0.7, "val_loss": 0.6, "val_accuracy": 0.65})
    worker.close()
    record = {"number": 4, "status": "pruned", "metric": 0.65, "epochs": 1, "board": "worker-7-0a1b2c3d",
              "values": {"units": [3, 3], "rate": 0.25}}
    tb.record(record, "val_accuracy", "max")
    run = tmp_path / "trial-0004"
    assert not (tmp_path / "worker-7-0a1b2c3d").exists() and record["board"] == "trial-0004"
    assert summaries(run / "validation")["epoch_accuracy"] == [(0, pytest.approx(0.65))]
    root = summaries(run)
    start = root[metadata.SESSION_START_INFO_TAG][0][1].session_start_info
    assert {k: shown(v) for k, v in start.hparams.items()} == {"units": "[3, 3]", "rate": 0.25}
    assert root[metadata.SESSION_END_INFO_TAG][0][1].session_end_info.status == api_pb2.STATUS_SUCCESS
    assert root["optpar/pruned"] == [(0, 1.0)] and root["optpar/best_val_accuracy"] == [(0, pytest.approx(0.65))]
    infos = summaries(tmp_path)[metadata.EXPERIMENT_TAG][0][1].experiment.hparam_infos
    assert [v.string_value for v in infos[0].domain_discrete.values] == ["8", "[3, 3]", "null"]


def test_a_users_tensorboard_callback_writes_each_trials_run(tmp_path):
    script = builder.write_script(tmp_path, run_trial=USERS_BOARD)
    ok(builder.run_script(script, "--max-evals", "2", "--out", "out", "--tensorboard", "tb"))
    records = json.loads((tmp_path / "out" / "trials.json").read_text())["trials"]
    assert [r["status"] for r in records] == ["ok", "ok"]
    for record in records:
        run = tmp_path / "tb" / ("trial-%04d" % record["number"])
        check_session(run, record)
        # The user's callback wrote the epochs (one event file each: optpar wrote none beside it).
        assert len(list((run / "validation").glob("events.out.tfevents.*"))) == 1
        check_epochs(run, record)
    assert not (tmp_path / "logs").exists() and not (tmp_path / "out" / "trials").exists()
    # Without --tensorboard each trial's copy writes <out>/trials/<n>/logs: test_runtime.py's
    # test_callbacks_that_write_files_write_under_each_trial.


def test_a_file_is_not_a_tensorboard_folder(tmp_path, capsys):
    from optpar.runtime import main

    (tmp_path / "tb").write_text("")
    code = main(source="model.py", space={}, defaults={}, baseline={}, params={}, run_trial=lambda: None,
                argv=["--tensorboard", str(tmp_path / "tb"), "--out", str(tmp_path / "out")])
    assert code == 2
    assert capsys.readouterr().err == "error: --tensorboard %s is a file, not a folder\n" % (tmp_path / "tb")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_spark_local_mode_trains_every_trial_and_each_worker_writes_its_run(tmp_path):
    """One Spark search in local mode (a JVM start costs seconds; one search checks all three):
    the trials train on Spark's Python workers, each worker writes its trial's TensorBoard run,
    and the program's own command line (after "--") is the workers' sys.argv too."""
    pytest.importorskip("pyspark")
    script = builder.write_script(tmp_path, extra="import sys\n", run_trial=builder.RUN_TRIAL.replace(
        "    model = keras.Sequential", "    assert sys.argv[1:] == ['--tag', 'x'], sys.argv\n    model = keras.Sequential"))
    # Three trials on two workers: one worker trains two of them, in turn.
    ok(builder.run_script(script, "--max-evals", "3", "--backend", "spark", "--parallelism", "2",
                          "--out", "out", "--tensorboard", "tb", "--", "--tag", "x", timeout=400))
    records = json.loads((tmp_path / "out" / "trials.json").read_text())["trials"]
    assert len(records) == 3
    assert all(r["status"] == "ok" for r in records), records
    baseline = [r for r in records if r["baseline"]]
    assert len(baseline) == 1 and baseline[0]["values"] == {"dense_units": 8, "adam_learning_rate": 0.001,
                                                             "fit_epochs": 2}
    best = json.loads((tmp_path / "out" / "best.json").read_text())
    assert best["best_metric"] <= best["baseline_metric"]
    assert best["best"]["dense_units"] in (4, 8, 16, 32)
    # Python workers are reused: 3 trials on 2 slots need at most 2 processes
    # (hyperopt's task alone would get a fresh interpreter, and import keras, for each).
    assert len({r["pid"] for r in records}) < len(records), records
    assert sorted(p.name for p in (tmp_path / "tb").iterdir() if p.is_dir()) == [
        "trial-0001", "trial-0002", "trial-0003"]
    for record in records:
        run = tmp_path / "tb" / ("trial-%04d" % record["number"])
        check_session(run, record)
        check_epochs(run, record)
        assert math.isfinite(record["metric"])
