"""--folds K: a trial is scored by K-fold cross-validation over fit()'s training arrays.

The cut itself on small arrays (no training), then real searches on the runtime tests' tiny model:
the fold of the script's own split runs first and is exactly the plain trial, the score is the mean
of the folds, and a fit() that cannot be cut trains once, as without --folds.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import tune_script_builder as builder
from optpar.runtime.fit import with_fold
from optpar.runtime.state import Refusal, TrialState


def cut(arguments: dict, index: int, count: int) -> dict:
    state = TrialState()
    state.fold = (index, count)
    result = with_fold(dict(arguments), state)
    assert state.folded
    return result


ROWS = np.arange(10)


def test_the_last_fold_is_what_validation_split_holds_out():
    # Keras's validation_split=0.2 trains on the first 8 rows and validates on the last 2.
    got = cut({"x": ROWS, "y": ROWS * 10, "validation_split": 0.2}, 4, 5)
    assert "validation_split" not in got
    assert got["x"].tolist() == list(range(8)) and got["y"].tolist() == [r * 10 for r in range(8)]
    assert [part.tolist() for part in got["validation_data"]] == [[8, 9], [80, 90]]


def test_with_other_fold_counts_the_first_fold_is_still_the_scripts_own_split():
    # validation_split=0.2 with 3 folds: the last 2 rows, then the 8 before them in two blocks.
    held = [cut({"x": ROWS, "y": ROWS, "validation_split": 0.2}, index, 3)["validation_data"][0].tolist()
            for index in (2, 0, 1)]
    assert held == [[8, 9], [0, 1, 2, 3], [4, 5, 6, 7]]


def test_every_row_is_validated_once_and_never_trained_on_in_its_fold():
    seen = []
    for index in range(3):
        got = cut({"x": ROWS, "y": ROWS}, index, 3)
        held = got["validation_data"][0].tolist()
        assert not set(held) & set(got["x"].tolist())
        assert sorted(held + got["x"].tolist()) == list(range(10))
        seen += held
    assert sorted(seen) == list(range(10))


def test_inputs_in_a_list_or_a_dict_and_sample_weights_are_cut_alike():
    weights = ROWS / 10
    got = cut({"x": [ROWS, ROWS + 100], "y": {"out": ROWS}, "sample_weight": weights}, 1, 5)
    x_held, y_held, w_held = got["validation_data"]
    assert [a.tolist() for a in x_held] == [[2, 3], [102, 103]]
    assert y_held["out"].tolist() == [2, 3] and w_held.tolist() == [0.2, 0.3]
    assert got["x"][1].tolist() == [100, 101, 104, 105, 106, 107, 108, 109]
    assert got["sample_weight"].tolist() == [0.0, 0.1, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def test_fewer_examples_than_folds_is_refused():
    with pytest.raises(Refusal, match="--folds 5 needs at least 5 training examples; fit\\(\\) has 3"):
        cut({"x": ROWS[:3], "y": ROWS[:3]}, 0, 5)


# -- real searches ----------------------------------------------------------------------------------

OWN_DATA = builder.RUN_TRIAL.replace("batch_size=64, verbose=0)",
                                     "batch_size=64, verbose=0, validation_data=(x_data[:64], y_data[:64]))")
SEARCH = ["--max-evals", "2", "--algo", "rand", "--seed", "0"]


def rows(out) -> list[dict]:
    with open(out / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def run(script, out, *more):
    proc = builder.run_script(script, *SEARCH, "--out", str(out), *more)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_trial_is_the_mean_of_its_folds_and_its_first_fold_is_the_plain_trial(tmp_path):
    # The builder's fit() has no validation data: a plain trial validates on the last 20 %.
    script = builder.write_script(tmp_path)
    plain = run(script, tmp_path / "plain")
    folded = run(script, tmp_path / "folded", "--folds", "3")
    assert "--folds 3: each trial trains 3 times" in folded.stderr and "--folds" not in plain.stderr
    best = json.loads((tmp_path / "folded" / "best.json").read_text())
    records = json.loads((tmp_path / "folded" / "trials.json").read_text())["trials"]
    plain_records = json.loads((tmp_path / "plain" / "trials.json").read_text())["trials"]
    for record, alone in zip(records, plain_records):
        assert len(record["folds"]) == 3
        assert record["metric"] == pytest.approx(sum(record["folds"]) / 3)
        # The script's own split runs first, from the same random state: the plain trial.
        assert record["folds"][0] == pytest.approx(alone["metric"], rel=1e-6)
        assert record["curve"] == pytest.approx(alone["curve"], rel=1e-6)
    assert best["baseline_folds"] == records[0]["folds"]
    # Epochs count every fold's training; the summary says which figure the user gets after apply.
    assert [int(r["epochs_run"]) for r in rows(tmp_path / "folded")] == [3 * r["epochs"] for r in plain_records]
    assert "the mean over 3 folds (--folds); on the script's own validation split" in folded.stdout


def test_a_fit_with_its_own_validation_data_trains_once(tmp_path):
    script = builder.write_script(tmp_path, run_trial=OWN_DATA)
    plain = run(script, tmp_path / "plain")
    folded = run(script, tmp_path / "folded", "--folds", "4")
    assert "--folds 4: this fit() is not cut into folds" in folded.stderr
    strip = lambda found: [{k: v for k, v in r.items() if k != "duration_s"} for r in found]  # noqa: E731
    assert strip(rows(tmp_path / "folded")) == strip(rows(tmp_path / "plain"))
    assert "best_folds" not in json.loads((tmp_path / "folded" / "best.json").read_text())
    assert "--folds" not in plain.stderr
