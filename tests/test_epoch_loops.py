"""A loop around the measured fit() that trains one epoch per pass (keras's addition_rnn:
`for epoch in range(1, epochs): model.fit(..., epochs=1)`): the loop's bound is the number of
epochs the model trains, so it is tuned in fit()'s epochs space and `epochs=1` is left as written.
Before/after pairs, the loops left alone, and idempotence; the real search is in test_real_forms."""
from __future__ import annotations

import pytest

from conftest import analyze_text

HEAD = """\
import keras
import numpy as np
from keras import layers

x = np.zeros((8, 4))
y = np.zeros((8,))
model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
"""


def epochs_sites(body: str) -> dict[str, tuple[int, str, str]]:
    """{id: (line, value as written, space)} of the sites that set how long the model trains."""
    return {s.id: (s.line, s.value, s.space.describe()) for s in analyze_text(HEAD + body).sites
            if s.param == "epochs"}


def refactored(tmp_path, body: str) -> str:
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(HEAD + body, encoding="utf-8")
    return generate(path).refactored


FORMS = [
    pytest.param("epochs = 30\nfor epoch in range(1, epochs):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n",
                 "epochs = 30", 'epochs = params["epochs"]', {"epochs": (9, "30", "int(15..60)")},
                 id="addition_rnn"),
    pytest.param("for i in range(10):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n",
                 "range(10)", 'range(params["fit_epochs"])', {"fit_epochs": (9, "10", "int(5..20)")},
                 id="literal"),
    pytest.param("PASSES = 8\ndef train():\n    for _ in range(0, PASSES):\n"
                 "        if True:\n            model.fit(x, y, epochs=1, validation_split=0.2)\n\ntrain()\n",
                 "PASSES = 8", 'PASSES = params["passes"]', {"passes": (9, "8", "int(4..16)")},
                 id="in-a-function"),
]


@pytest.mark.parametrize("body, before, after, sites", FORMS)
def test_the_bound_of_a_loop_of_one_epoch_fits_is_tuned(tmp_path, body, before, after, sites):
    assert epochs_sites(body) == sites
    text = refactored(tmp_path, body)
    assert before not in text and after in text
    assert "epochs=1, validation_split=0.2)" in text  # as written


@pytest.mark.parametrize("imported, values", [
    ("from six.moves import range\n", ["30"]),  # the legacy examples' Python 2 shim: the builtin
    ("from builtins import range\n", ["30"]),
    ("from mylib import range\n", ["1"]),  # someone else's range: fit's epochs as before
    ("range = print\n", ["1"]),
])
def test_range_imported_from_a_compatibility_module_is_the_builtin(imported, values):
    body = imported + "for epoch in range(1, 30):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n"
    assert sorted(value for _, value, _ in epochs_sites(body).values()) == values


@pytest.mark.parametrize("body, values", [
    # fit trains 2 epochs a pass: its epochs are the hyperparameter, the loop is left alone
    ("for i in range(10):\n    model.fit(x, y, epochs=2, validation_split=0.2)\n", ["2"]),
    # the fit in the loop is not the measured one (the last fit of the file is)
    ("for i in range(10):\n    model.fit(x, y, epochs=1, validation_split=0.2)\nmodel.fit(x, y, epochs=3)\n",
     ["1", "3"]),
    # one epoch a pass, but a start that is not 0 or 1, or not a literal, or too few passes for
    # the space (half the bound would train nothing): nothing is tuned
    ("for i in range(5, 30):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n", []),
    ("START = 1\nfor i in range(START, 30):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n", []),
    ("for i in range(1, 3):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n", []),
    # not a range(N) / range(start, N) loop right around the fit: fit's epochs as before
    ("for i in range(1, 30, 2):\n    model.fit(x, y, epochs=1, validation_split=0.2)\n", ["1"]),
    ("def train():\n    model.fit(x, y, epochs=1, validation_split=0.2)\nfor i in range(10):\n    train()\n", ["1"]),
    ("while True:\n    model.fit(x, y, epochs=1, validation_split=0.2)\n    break\n", ["1"]),
    ("for lr in [0.1, 0.01]:\n    model.fit(x, y, epochs=1, validation_split=0.2)\n", ["1"]),
])
def test_other_loops_tune_no_bound(body, values):  # no-op
    assert sorted(value for _, value, _ in epochs_sites(body).values()) == values


def test_the_rewrite_is_idempotent(tmp_path):
    text = refactored(tmp_path, FORMS[0].values[0])
    assert 'epochs = params["epochs"]' in text
    assert [s for s in analyze_text(text, "again.py").sites if s.param == "epochs"] == []


def generated(tmp_path, body: str) -> str:
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(HEAD + body, encoding="utf-8")
    return generate(path).text


@pytest.mark.parametrize("body, passes", [
    (FORMS[0].values[0], "passes=('epochs', 1)"),
    (FORMS[1].values[0], "passes=('fit_epochs', 0)"),
])
def test_the_script_tells_the_runtime_the_passes_it_plans_pruning_on(tmp_path, body, passes):
    """The runtime sees fit(epochs=1) each pass: the script hands it the tuned bound and the
    loop's start, so a trial plans EPOCHS - 1 epochs (pruning and the epoch counts use them).
    Only such a script needs runtime API 3."""
    text = generated(tmp_path, body)
    assert text.rstrip().endswith(f"{passes}))") and "(runtime API 3)" in text and "api=3," in text


@pytest.mark.parametrize("body", [
    "for i in range(10):\n    model.fit(x, y, epochs=2, validation_split=0.2)\n",  # not a loop of one-epoch fits
    "epochs = 30  # optpar: skip\nfor epoch in range(1, epochs):\n"
    "    model.fit(x, y, epochs=1, validation_split=0.2)\nmodel.compile(optimizer='adam', loss='mse')\n",
])
def test_a_script_without_a_tuned_loop_bound_hands_no_passes(tmp_path, body):  # no-op
    text = generated(tmp_path, body)
    assert "passes=" not in text and "(runtime API 2)" in text and "api=2," in text
