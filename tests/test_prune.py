"""The pruning rules on made-up curves (no training): which trial stops, and when."""
from __future__ import annotations

import pytest

from optpar.runtime.prune import DEFAULT_RULE, MIN_EPOCHS, Curve, Pruner, on_for, pruner_for

MEDIAN = Pruner("median", warmup_trials=5, warmup_epochs=2)
ASHA = Pruner("asha", warmup_trials=5, warmup_epochs=1, eta=3)

# Five finished trials whose loss falls by 1 an epoch, from 9 .. 13 at epoch 1: at epoch 2 their
# bests are 8 .. 12, at epoch 3 7 .. 11 (median 9). Whole numbers: no float rounding involved.
FINISHED = [Curve(tuple(float(10 + k - e) for e in range(1, 10))) for k in range(5)]


def test_curve_running_best_and_where_it_ends():
    finished = Curve((0.5, 0.3, 0.4))
    assert finished.best_at(1, "min") == 0.5
    assert finished.best_at(3, "min") == 0.3
    assert finished.best_at(2, "max") == 0.5
    # Stopped early by patience: its final best holds for the epochs it did not train.
    assert finished.best_at(9, "min") == 0.3
    # Pruned: nothing beyond the epoch it stopped at.
    assert Curve((0.5, 0.3, 0.4), pruned=True).best_at(4, "min") is None
    assert Curve(()).best_at(1, "min") is None


def test_median_stops_a_trial_worse_than_the_median_after_the_warmup_epochs():
    bad = [15.0, 14.0, 13.0]
    assert MEDIAN.should_stop(bad, FINISHED, "min", planned=9)
    assert MEDIAN.should_stop([11.0, 10.0, 9.5], FINISHED, "min", planned=9)
    # The first epochs are a warm-up: never stopped there.
    assert not MEDIAN.should_stop(bad[:2], FINISHED, "min", planned=9)
    # At the median or better: goes on.
    assert not MEDIAN.should_stop([11.0, 10.0, 9.0], FINISHED, "min", planned=9)
    assert not MEDIAN.should_stop([5.0, 4.0, 3.0], FINISHED, "min", planned=9)


def test_median_judges_the_running_best_not_the_last_epoch():
    # One bad last epoch after a good one: its best (8) is below the median (9).
    assert not MEDIAN.should_stop([10.0, 8.0, 16.0], FINISHED, "min", planned=9)


def test_no_trial_stops_before_the_warmup_trials_have_finished():
    bad = [15.0, 14.0, 13.0, 12.0]
    assert not MEDIAN.should_stop(bad, FINISHED[:4], "min", planned=9)
    assert not ASHA.should_stop(bad[:2], FINISHED[:4], "min", planned=9)


def test_median_leaves_pruned_trials_out_of_the_median():
    pruned = [Curve((50.0, 50.0, 50.0), pruned=True)] * 10
    # With the pruned trials counted the median would be 50 and nothing would stop.
    assert MEDIAN.should_stop([15.0, 14.0, 13.0], FINISHED + pruned, "min", planned=9)


def test_median_in_max_mode_mirrors_min_mode():
    accuracies = [Curve(tuple(-v for v in c.values)) for c in FINISHED]
    assert MEDIAN.should_stop([-15.0, -14.0, -13.0], accuracies, "max", planned=9)
    assert not MEDIAN.should_stop([-5.0, -4.0, -3.0], accuracies, "max", planned=9)


def test_nothing_stops_at_the_last_planned_epoch():
    assert not MEDIAN.should_stop([15.0, 14.0, 13.0], FINISHED, "min", planned=3)


def test_asha_rungs_start_after_the_warmup_and_grow_by_eta():
    assert ASHA.rungs(9) == (2, 6)
    assert ASHA.rungs(20) == (2, 6, 18)
    assert ASHA.rungs(2) == ()
    assert Pruner("asha", warmup_epochs=0, eta=3).rungs(10) == (1, 3, 9)


def test_asha_keeps_the_top_third_at_a_rung_and_decides_nowhere_else():
    # At epoch 2 the finished bests are 8 .. 12; with the new trial, 6 values: the top 2 go on.
    assert not ASHA.should_stop([8.0, 7.0], FINISHED, "min", planned=9)  # best of all
    assert not ASHA.should_stop([10.0, 9.0], FINISHED, "min", planned=9)  # ties the second
    assert ASHA.should_stop([10.0, 9.5], FINISHED, "min", planned=9)  # third of six: stops
    # Epoch 3 is no rung: the same trial goes on there.
    assert not ASHA.should_stop([10.0, 9.5, 9.5], FINISHED, "min", planned=9)
    # Nor is epoch 1, a warm-up epoch.
    assert not ASHA.should_stop([30.0], FINISHED, "min", planned=9)


def test_asha_counts_pruned_trials_that_reached_the_rung():
    pruned = [Curve((20.0, 20.0), pruned=True)] * 6
    # 12 values at rung 2: the top 4 go on, and 10 is now the 3rd best.
    assert not ASHA.should_stop([11.0, 10.0], FINISHED + pruned, "min", planned=9)
    # A pruned trial that stopped before the rung does not count there.
    early = [Curve((20.0,), pruned=True)] * 6
    assert ASHA.should_stop([11.0, 10.0], FINISHED + early, "min", planned=9)


def test_when_pruning_is_on():
    assert pruner_for(None).rule == DEFAULT_RULE
    assert pruner_for("median").rule == "median" and pruner_for("none") is None
    # By default only for trainings long enough to stop early in.
    assert not on_for(None, MIN_EPOCHS - 1) and on_for(None, MIN_EPOCHS) and not on_for(None, None)
    # Asked for by name: on whatever the epochs.
    assert on_for("median", 2) and on_for("asha", None)
    assert not on_for("none", 100)
    # With --folds the default is off; a rule asked for by name still applies.
    assert not on_for(None, 100, folds=5) and on_for("asha", 100, folds=5) and on_for(None, 100, folds=1)


def test_tpe_starts_with_the_random_trials_of_the_full_trainings_a_budget_pays_for():
    from types import SimpleNamespace

    from optpar.runtime.search import _startup

    def startup(max_evals, budget, records):
        return _startup(SimpleNamespace(max_evals=max_evals, budget_epochs=budget), SimpleNamespace(records=records))

    nine = [{"epochs": 9, "planned_epochs": 9}]
    assert startup(20, None, nine) == 6  # a third of --max-evals, as without a budget
    # 80 trials allowed, but 180 epochs pay for 20 full trainings of 9: 6 random trials, not 20.
    assert startup(80, 180, nine) == 6
    assert startup(80, 180, []) == 20  # nothing known yet: --max-evals
    assert startup(6, None, []) == 3 and startup(300, None, []) == 20


@pytest.mark.parametrize("rule", ["median", "asha"])
def test_every_rule_has_a_warmup(rule):
    pruner = pruner_for(rule)
    hopeless = [99.0] * 8
    # Nothing stops before a trial (the user's) has finished, nor before the first epoch's end.
    assert pruner.warmup_trials >= 1
    assert not pruner.should_stop(hopeless, [], "min", planned=9)
    assert not pruner.should_stop([], FINISHED, "min", planned=9)
    assert pruner.warmup_epochs >= (2 if rule == "median" else 0)


def test_asha_with_fewer_than_eta_trials_at_a_rung_keeps_only_the_best():
    asha = pruner_for("asha")
    first = [Curve((1.0, 0.5, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2))]  # trial 1, trained to its end
    assert asha.should_stop([1.2], first, "min", planned=9)  # worse at epoch 1: stops
    assert not asha.should_stop([0.9], first, "min", planned=9)  # better: goes on
    assert not asha.should_stop([0.9, 0.8], first, "min", planned=9)  # epoch 2 is no rung


# --------------------------------------------------------------------------
# End to end: a real search whose trials train 6 epochs
# --------------------------------------------------------------------------
# One learning rate of the two cannot learn in 6 epochs (1e-7): once the warm-up trials have
# finished, a trial with it is clearly worse than the median at epoch 3. `--algo rand` draws the
# same configurations whatever the results, so searches with and without pruning can be compared
# row by row.

import csv  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import tune_script_builder as builder  # noqa: E402

EPOCHS = 6
HOPELESS = 1e-07
# Widths enough that 16 trials need no configuration twice (the runtime trains each one once).
SPACE6 = builder.SPACE.replace(
    'hp.choice("dense_units", [4, 8, 16, 32])', 'hp.choice("dense_units", [4, 8, 12, 16, 20, 24, 28, 32, 40, 48])'
).replace(
    'hp.loguniform("adam_learning_rate", math.log(1e-3), math.log(3e-2))',
    'hp.choice("adam_learning_rate", [1e-07, 0.03])',
).replace(
    'scope.int(hp.quniform("fit_epochs", 1, 2, 1))', 'hp.choice("fit_epochs", [6])'
).replace(
    'DEFAULTS = {"dense_units": 8, "adam_learning_rate": 0.001, "fit_epochs": 2}',
    'DEFAULTS = {"dense_units": 8, "adam_learning_rate": 0.03, "fit_epochs": 6}',
).replace(
    'BASELINE_POINT = {"dense_units": 1, "adam_learning_rate": 0.001, "fit_epochs": 2}',
    'BASELINE_POINT = {"dense_units": 1, "adam_learning_rate": 1, "fit_epochs": 0}',
)
SEARCH = ["--algo", "rand", "--seed", "0"]


def read_rows(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def ok(proc, code=0):
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def test_space_of_these_tests_is_what_they_say():
    assert SPACE6 != builder.SPACE and SPACE6.count("[1e-07, 0.03]") == 1 and SPACE6.count("[6]") == 1
    assert SPACE6.count("[4, 8, 12, 16, 20, 24, 28, 32, 40, 48]") == 1
    assert '"fit_epochs": 6}' in SPACE6 and '"fit_epochs": 0}' in SPACE6


@pytest.fixture(scope="module")
def median_search(tmp_path_factory):
    """One search of 10 trials with --prune median: (script, results folder, process)."""
    folder = tmp_path_factory.mktemp("median")
    script = builder.write_script(folder, space=SPACE6)
    out = folder / "runs"
    proc = ok(builder.run_script(script, "--max-evals", "10", "--prune", "median", "--out", str(out), *SEARCH))
    return script, out, proc


def test_a_pruned_trial_has_its_row_its_progress_line_and_survives_a_resume(median_search):
    script, out, proc = median_search
    rows = read_rows(out)
    records = json.loads((out / "trials.json").read_text())["trials"]
    warmup = pruner_for("median").warmup_trials
    # Trial 1 (the user's configuration) and the warm-up trials train to their end.
    assert all(r["status"] == "ok" for r in rows[:warmup])
    late_hopeless = [r for r in rows[warmup:] if float(r["adam_learning_rate"]) == HOPELESS]
    assert late_hopeless, "the draw has a hopeless trial after the warm-up"
    for row in late_hopeless:
        record = records[int(row["number"]) - 1]
        # Stopped at the first epoch after the warm-up epochs; its value is its best there.
        assert row["status"] == "pruned" and int(row["epochs_run"]) == 3
        assert float(row["val_loss"]) == min(record["curve"]) and len(record["curve"]) == 3
        assert f"trial {row['number']}/10  pruned at epoch 3 (val_loss=" in proc.stderr
    pruned = [r for r in rows if r["status"] == "pruned"]
    best = json.loads((out / "best.json").read_text())
    assert best["pruned"] == len(pruned) and best["failed"] == 0
    assert best["epochs_trained"] == sum(int(r["epochs_run"]) for r in rows)
    # The best is a trial that trained to its end.
    assert best["best_metric"] == min(float(r["val_loss"]) for r in rows if r["status"] == "ok")
    assert f"10 trials (0 failed, {len(pruned)} pruned)" in proc.stdout
    assert f"pruning saved {3 * len(pruned)} more" in proc.stdout

    # A resume keeps the pruned trials as they were (in a copy: other tests read this search).
    copy = out.parent / "resumed"
    shutil.copytree(out, copy)
    proc = ok(builder.run_script(script, "--max-evals", "11", "--prune", "median", "--out", str(copy), *SEARCH))
    assert "resuming: 10 of 11" in proc.stderr
    assert read_rows(copy)[:10] == rows


def test_prune_none_trains_every_trial_to_its_end_and_changes_nothing_else(median_search, tmp_path):
    script, pruned_run, _ = median_search
    plain_run = tmp_path / "plain"
    proc = ok(builder.run_script(script, "--max-evals", "10", "--prune", "none", "--out", str(plain_run), *SEARCH))
    pruned, plain = read_rows(pruned_run)[:10], read_rows(plain_run)
    assert "pruned" not in proc.stderr and "pruned" not in proc.stdout
    assert all(r["status"] == "ok" for r in plain)
    assert any(r["status"] == "pruned" for r in pruned)
    for a, b in zip(pruned, plain):
        same = ("dense_units", "adam_learning_rate", "fit_epochs")
        assert [a[k] for k in same] == [b[k] for k in same]
        if a["status"] == "ok":  # the same training, to the last digit
            assert (a["val_loss"], a["epochs_run"]) == (b["val_loss"], b["epochs_run"])
        else:
            assert int(a["epochs_run"]) < int(b["epochs_run"]) == EPOCHS
            assert float(a["val_loss"]) >= float(b["val_loss"])


def test_short_trainings_are_not_pruned_by_default(tmp_path):
    # The builder's model trains 1-2 epochs: the default leaves pruning off, as --prune none.
    script = builder.write_script(tmp_path)
    default, plain = tmp_path / "default", tmp_path / "plain"
    ok(builder.run_script(script, "--max-evals", "3", "--seed", "1", "--out", str(default)))
    ok(builder.run_script(script, "--max-evals", "3", "--seed", "1", "--prune", "none", "--out", str(plain)))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "duration_s"} for r in rows]  # noqa: E731
    assert strip(read_rows(default)) == strip(read_rows(plain))


EARLY_STOPPING_RUN_TRIAL = builder.RUN_TRIAL.replace(
    "batch_size=64, verbose=0)",
    "batch_size=64, verbose=0,\n               callbacks=[keras.callbacks.EarlyStopping(monitor=\"val_loss\", "
    "min_delta=1.0, patience=1)])",
)


def test_a_users_early_stopping_still_stops_trials_under_pruning(tmp_path):
    # The user's EarlyStopping asks for an improvement of 1.0 a epoch: it stops every trial after
    # epoch 2, before the pruner may decide; those trials finished, they were not pruned.
    assert EARLY_STOPPING_RUN_TRIAL != builder.RUN_TRIAL
    script = builder.write_script(tmp_path, run_trial=EARLY_STOPPING_RUN_TRIAL, space=SPACE6)
    out = tmp_path / "runs"
    ok(builder.run_script(script, "--max-evals", "7", "--prune", "median", "--out", str(out), *SEARCH))
    rows = read_rows(out)
    assert [(r["status"], r["epochs_run"]) for r in rows] == [("ok", "2")] * 7


def test_budget_epochs_stops_the_search_when_spent(tmp_path):
    script = builder.write_script(tmp_path, space=SPACE6)
    out = tmp_path / "runs"
    proc = ok(builder.run_script(script, "--max-evals", "10", "--budget-epochs", "10", "--prune", "none",
                                 "--out", str(out), *SEARCH))
    rows = read_rows(out)
    trained = sum(int(r["epochs_run"]) for r in rows)
    # The trial that crossed the budget finishes; no new one starts after it.
    assert trained >= 10 and trained - int(rows[-1]["epochs_run"]) < 10
    assert f"budget: {trained} epochs trained (--budget-epochs 10), starting no new trial" in proc.stderr
    assert json.loads((out / "best.json").read_text())["epochs_trained"] == trained


PROTECTED_DRIVER = """\
import json

import model_tune
from optpar.runtime.prune import Curve
from optpar.runtime.state import Program
from optpar.runtime.trial import Objective

# The user's own learning rate is the hopeless one here.
defaults = dict(model_tune.DEFAULTS, adam_learning_rate=1e-07)
program = Program(model_tune.SOURCE, model_tune.SPACE, defaults, model_tune.BASELINE_POINT,
                  model_tune.params, model_tune.run_trial)
objective = Objective(program, "val_loss", "min", 0, prune="median")
objective.curves = (Curve((0.01,) * 6),) * 5  # five finished trials far better at every epoch
users = objective.evaluate(dict(defaults))
other = objective.evaluate(dict(defaults, dense_units=16))
print(json.dumps([[r["status"], r.get("pruned", False), r["epochs"]] for r in (users, other)]))
"""


def test_the_users_configuration_is_never_pruned(tmp_path):
    builder.write_script(tmp_path, space=SPACE6)
    driver = tmp_path / "driver.py"
    driver.write_text(PROTECTED_DRIVER)
    proc = ok(builder.run_script(driver))
    users, other = json.loads(proc.stdout.strip().splitlines()[-1])
    assert users == ["ok", False, EPOCHS]
    assert other == ["ok", True, 3]


@pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")
def test_spark_workers_prune_against_the_curves_the_driver_sends(median_search):
    pytest.importorskip("pyspark")
    script, out, _ = median_search
    spark_out = out.parent / "spark"
    shutil.copytree(out, spark_out)
    ok(builder.run_script(script, "--max-evals", "16", "--prune", "median", "--backend", "spark",
                          "--parallelism", "2", "--out", str(spark_out), *SEARCH, timeout=400))
    rows = read_rows(spark_out)
    kept, new = rows[:10], rows[10:]
    assert kept == read_rows(out)[:10] and len(new) == 6
    # Every trial sent had at least the 10 finished curves: a hopeless one stops at epoch 3, as
    # the local ones did (each a configuration of its own: none is trained twice).
    hopeless = [r for r in new if float(r["adam_learning_rate"]) == HOPELESS]
    assert hopeless
    for row in hopeless:
        assert (row["status"], row["epochs_run"]) == ("pruned", "3")
    tried = [(r["dense_units"], r["adam_learning_rate"]) for r in rows]
    assert len(set(tried)) == len(tried)


def test_epochs_saved_counts_up_to_where_finished_trials_stopped(tmp_path):
    from optpar.runtime.store import Store

    store = Store(None, str(tmp_path), "val_loss", "min")

    def record(status, epochs, planned=300):
        return {"status": status, "epochs": epochs, "planned_epochs": planned}

    # fit() asks for 300 epochs, but early stopping ends the finished trials at 40 to 60:
    store.records = [record("ok", 40), record("ok", 50), record("ok", 60), record("pruned", 3), record("pruned", 9)]
    assert store.epochs_saved() == (50 - 3) + (50 - 9)  # not (300 - 3) + (300 - 9)
    # Without early stopping, what fit() asked for.
    store.records = [record("ok", 9, 9), record("pruned", 1, 9), record("pruned", 3, 9)]
    assert store.epochs_saved() == 8 + 6


@pytest.mark.parametrize("values, planned", [
    ({"epochs": 13}, 12), ({"epochs": 1}, 1), ({"epochs": 5.0}, 4), ({"units": 8}, None), ({"epochs": True}, None),
])
def test_a_loop_of_one_epoch_fits_plans_its_passes(values, planned):
    from optpar.runtime.state import Program

    program = Program("model.py", {}, {}, {}, {}, lambda: None, passes=("epochs", 1))
    assert program.planned_passes(values) == planned
    assert Program("model.py", {}, {}, {}, {}, lambda: None).planned_passes(values) is None
