"""A configuration already tried is not trained again: hyperopt's proposals that repeat a trial
are drawn again, and a search whose space is used up stops. Before, a search over two choices of
two widths ran 8 trials of 3 configurations (5 repeats, each the same val_loss: the program is
seeded) and never tried the best one."""
from __future__ import annotations

import csv

import pytest

from conftest import run_optpar

hyperopt = pytest.importorskip("hyperopt")
from hyperopt import hp  # noqa: E402

from optpar.runtime.repeats import Repeats, key, untried  # noqa: E402


def search(space, algo, max_evals, seed=0):
    trials = hyperopt.Trials()
    hyperopt.fmin(lambda point: 0.0, space, algo=algo, max_evals=max_evals, trials=trials,
                  rstate=__import__("numpy").random.default_rng(seed), show_progressbar=False)
    return [key(t["misc"]["vals"]) for t in trials.trials]


SMALL = {"a": hp.choice("a", [1, 2]), "b": hp.choice("b", [1, 2, 3])}


@pytest.mark.parametrize("proposer", [hyperopt.tpe.suggest, hyperopt.rand.suggest, hyperopt.anneal.suggest],
                         ids=["tpe", "rand", "anneal"])
def test_every_configuration_once_then_the_search_stops(proposer):
    repeats = Repeats()
    tried = search(SMALL, untried(proposer, hyperopt.rand.suggest, repeats), max_evals=20)
    assert len(tried) == 6 == len(set(tried))  # the 6 of the space, each once
    assert repeats.used_up == 6


def test_without_it_the_same_search_repeats():  # what the redrawing is for
    tried = search(SMALL, hyperopt.rand.suggest, max_evals=20)
    assert len(set(tried)) < len(tried)


def test_a_continuous_space_is_searched_as_before():  # no-op: a float is never drawn twice
    repeats = Repeats()
    space = {"lr": hp.loguniform("lr", -9, -2), "a": hp.choice("a", [1, 2])}
    assert search(space, untried(hyperopt.tpe.suggest, hyperopt.rand.suggest, repeats), 12) == search(
        space, hyperopt.tpe.suggest, 12)
    assert repeats == Repeats()


def test_a_repeat_is_drawn_again_and_counted():
    proposals = []

    def stubborn(new_ids, domain, trials, seed):  # proposes the first trial's point once more, then defers
        docs = (hyperopt.rand.suggest if proposals else replay)(new_ids, domain, trials, seed)
        proposals.append(seed)
        return docs

    def replay(new_ids, domain, trials, seed):
        docs = hyperopt.rand.suggest(new_ids, domain, trials, seed)
        docs[0]["misc"]["vals"] = dict(trials.trials[0]["misc"]["vals"])
        return docs

    repeats = Repeats()
    trials = hyperopt.Trials()
    hyperopt.fmin(lambda point: 0.0, SMALL, algo=hyperopt.rand.suggest, max_evals=1, trials=trials,
                  rstate=__import__("numpy").random.default_rng(0), show_progressbar=False)
    algo = untried(stubborn, hyperopt.rand.suggest, repeats)
    hyperopt.fmin(lambda point: 0.0, SMALL, algo=algo, max_evals=2, trials=trials,
                  rstate=__import__("numpy").random.default_rng(1), show_progressbar=False)
    assert len(proposals) == 2 and repeats.redrawn == 1 and repeats.used_up == 0
    assert len({key(t["misc"]["vals"]) for t in trials.trials}) == 2


MODEL = """\
import keras
import numpy as np

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(120, 4)).astype("float32")
y = (x.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([
    keras.Input(shape=(4,)),
    keras.layers.Dense(8),  # optpar: choice(4, 8)
    keras.layers.Dense(8),  # optpar: choice(4, 8)
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy")  # optpar: skip
model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, verbose=0)  # optpar: skip
"""


def test_a_search_over_four_configurations_trains_each_once_and_resumes_so(tmp_path):
    pytest.importorskip("keras")
    (tmp_path / "model.py").write_text(MODEL)
    proc = run_optpar("tune", "model.py", "--max-evals", "2", "--out", "runs", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_optpar("tune", "model.py", "--max-evals", "8", "--out", "runs", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    configurations = [(r["dense_units"], r["dense_1_units"]) for r in rows]
    assert sorted(configurations) == [("4", "4"), ("4", "8"), ("8", "4"), ("8", "8")]  # each once, resumed ones too
    assert "no untried configuration left after 4 trials" in proc.stdout
