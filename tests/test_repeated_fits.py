"""The measured fit() run several times in one run of the user's program, as real scripts do: a
new model per fold (cross-validation written by hand) is scored by the mean of the models' bests;
the same model trained on in a loop of short fits (keras's addition_rnn, lstm_stateful) is one
curve, and a trial that has ended trains no further. Real searches on the runtime tests' tiny model.
"""
from __future__ import annotations

import json

import pytest

import tune_script_builder as builder

SEARCH = ["--max-evals", "3", "--algo", "rand", "--seed", "0"]

MODEL = '''\
def build(learning_rate):
    model = keras.Sequential([
        keras.Input(shape=(8,)),
        keras.layers.Dense(params["dense_units"], activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="binary_crossentropy")
    return model
'''

# The user's own cross-validation: three folds, a new model each, and the script's own figure,
# the mean of each fold's best validation loss, appended to folds.jsonl by every run.
BY_HAND = MODEL + '''
def run_trial():
    bests = []
    for fold in range(3):
        held = np.arange(256) % 3 == fold
        model = build(params["adam_learning_rate"] * 10)
        history = optpar_fit(model.fit, x_data[~held], y_data[~held], epochs=params["fit_epochs"],
                             batch_size=64, verbose=0, validation_data=(x_data[held], y_data[held]))
        bests.append(min(history.history["val_loss"]))
    with open("folds.jsonl", "a") as handle:
        handle.write(json.dumps(bests) + "\\n")
'''

# One model trained on in a loop of one-epoch fits. LOOPS and the learning rate are filled in.
CONTINUED = MODEL + '''
def run_trial():
    model = build(LEARNING_RATE)
    for _ in range(LOOPS):
        optpar_fit(model.fit, x_data[64:], y_data[64:], epochs=1, batch_size=64, verbose=0,
                   validation_data=(x_data[:64], y_data[:64]))
        with open("fits.txt", "a") as handle:
            handle.write("fit\\n")
'''


def search(tmp_path, run_trial, *more):
    script = builder.write_script(tmp_path, run_trial="import json\n" + run_trial)
    proc = builder.run_script(script, *SEARCH, "--out", str(tmp_path / "out"), *more)
    assert proc.returncode == 0, proc.stderr
    records = json.loads((tmp_path / "out" / "trials.json").read_text())["trials"]
    return proc, records


def test_a_new_model_per_fold_is_scored_by_the_mean_of_the_folds_bests(tmp_path):
    proc, records = search(tmp_path, BY_HAND)
    assert "trains a new model each time it runs" in proc.stderr
    # What the user's script computes for itself, run by run, is the trial's score.
    runs = [json.loads(line) for line in (tmp_path / "folds.jsonl").read_text().splitlines()]
    assert len(runs) == len(records) == 3
    for record, bests in zip(records, runs):
        assert record["status"] == "ok" and len(bests) == 3
        assert record["metric"] == pytest.approx(sum(bests) / 3, rel=1e-6)
        assert record["epochs"] == 3 * record["values"]["fit_epochs"]  # every fold's training counts
        # The curve is the first model's.
        assert min(record["curve"]) == pytest.approx(bests[0], rel=1e-6)


def test_the_same_model_fitted_in_a_loop_is_one_curve_scored_by_its_best_epoch(tmp_path):
    proc, records = search(tmp_path, CONTINUED.replace("LOOPS", "5").replace("LEARNING_RATE", "0.5"),
                           "--patience", "0")
    assert "runs again on the same model" in proc.stderr
    for record in records:
        assert record["status"] == "ok" and record["epochs"] == 5 and len(record["curve"]) == 5
        assert record["metric"] == min(record["curve"])
        assert record["planned_epochs"] == 1  # what fit() asked for; the loop is the user's


def test_a_stalled_model_trains_no_further_and_the_loop_ends(tmp_path):
    # A learning rate of 0: the validation loss never improves, so patience 2 ends the trial after
    # 3 epochs; the next fit() of the loop ends the run instead of training.
    proc, records = search(tmp_path, CONTINUED.replace("LOOPS", "8").replace("LEARNING_RATE", "0.0"),
                           "--patience", "2")
    assert [r["epochs"] for r in records] == [3, 3, 3]
    assert all(r["status"] == "ok" and "error" not in r for r in records)
    assert (tmp_path / "fits.txt").read_text().count("fit") == 9  # 3 fits in each of 3 trials


def test_a_diverged_first_model_trains_no_other(tmp_path):
    diverging = BY_HAND.replace("validation_data=(x_data[held], y_data[held])",
                                "validation_data=(x_data[held], y_data[held] * np.nan)")
    proc = builder.run_script(builder.write_script(tmp_path, run_trial="import json\n" + diverging),
                              *SEARCH, "--out", str(tmp_path / "out"))
    records = json.loads((tmp_path / "out" / "trials.json").read_text())["trials"]
    assert records and all(r["status"] == "fail" and "diverged" in r["error"] for r in records), proc.stderr
    assert all(r["epochs"] == 1 for r in records)  # stopped at its first epoch; no second fold trained
    assert not (tmp_path / "folds.jsonl").exists()  # the user's loop never reached its end
