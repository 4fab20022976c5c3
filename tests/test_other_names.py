"""Names a program gives Keras itself (facts._other_names): a module or a class bound once
(`keras = tf.keras`, `layers = tf.keras.layers`, `Dense = tf.keras.layers.Dense`), and a class
with some of its arguments given (`DefaultConv2D = partial(keras.layers.Conv2D, kernel_size=3)`,
Hands-On ML's chapters 11 and 14): their calls are Keras calls, tuned like any other."""
from __future__ import annotations

import json

import pytest

from conftest import analyze_text

FIT = "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\nmodel.fit(x, y, epochs=2, validation_split=0.2)\n"

PARTIAL = """\
from functools import partial
import tensorflow as tf
DefaultConv2D = partial(tf.keras.layers.Conv2D, kernel_size=3, padding="same", activation="relu")
model = tf.keras.Sequential([
    tf.keras.Input((28, 28, 1)),
    DefaultConv2D(filters=64, kernel_size=7),
    tf.keras.layers.MaxPool2D(),
    DefaultConv2D(filters=128),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(10, activation="softmax"),
])
""" + FIT


def sites(text: str) -> dict[tuple[int, str], object]:
    return {(s.span.line, s.param): s.default for s in analyze_text(text).sites}


@pytest.mark.parametrize("names, layer", [
    pytest.param("keras = tf.keras\n", "keras.layers.Dense", id="keras"),
    pytest.param("layers = tf.keras.layers\n", "layers.Dense", id="layers"),
    pytest.param("keras = tf.keras\nKL = keras.layers\n", "KL.Dense", id="a-name-of-a-name"),
    pytest.param("Dense = tf.keras.layers.Dense\n", "Dense", id="a-class"),
    pytest.param("Dense, Drop = tf.keras.layers.Dense, tf.keras.layers.Dropout\n", "Dense", id="a-tuple"),
])
def test_a_name_given_to_keras_is_keras(names, layer):
    text = (f"import tensorflow as tf\n{names}model = tf.keras.Sequential([{layer}(32, activation='relu'), "
            f"tf.keras.layers.Dense(10, activation='softmax')])\n" + FIT)
    line = text.splitlines().index(next(l for l in text.splitlines() if l.startswith("model ="))) + 1
    found = sites(text)
    assert found[(line, "units")] == 32 and found[(line, "activation")] == "relu"


def test_a_partial_class_is_tuned_where_its_arguments_are_written():
    found = sites(PARTIAL)
    assert found[(3, "kernel_size")] == 3 and found[(3, "activation")] == "relu"  # shared by every call
    assert found[(6, "filters")] == 64 and found[(6, "kernel_size")] == 7  # what a call gives itself
    assert found[(8, "filters")] == 128 and (8, "kernel_size") not in found


def test_what_an_output_takes_from_a_partial_stays_as_written():
    text = PARTIAL.replace('    tf.keras.layers.Dense(10, activation="softmax"),\n', "    Head(),\n").replace(
        "model = tf.keras.Sequential", 'Head = partial(tf.keras.layers.Dense, 10, activation="softmax")\nmodel = tf.keras.Sequential')
    assert not [key for key in sites(text) if key[0] == 4]  # Head's 10 and softmax: the output's
    # Hands-On ML's RegularizedDense: hidden layers and the output, which gives itself softmax
    shared = PARTIAL.replace('    tf.keras.layers.Dense(10, activation="softmax"),\n',
                             '    Regularized(64),\n    Regularized(10, activation="softmax"),\n').replace(
        "model = tf.keras.Sequential", 'Regularized = partial(tf.keras.layers.Dense, activation="elu")\nmodel = tf.keras.Sequential')
    found = sites(shared)
    assert found[(4, "activation")] == "elu" and found[(11, "units")] == 64 and (12, "units") not in found


@pytest.mark.parametrize("text", [
    pytest.param("import tensorflow as tf\nlayers = tf.keras.layers\nlayers = mylib.layers\n"
                 "model = tf.keras.Sequential([layers.Dense(32), tf.keras.layers.Dense(1)])\n" + FIT, id="bound-twice"),
    pytest.param("import tensorflow as tf\nimport mylib\nlayers = mylib.layers\n"
                 "model = tf.keras.Sequential([layers.Dense(32), tf.keras.layers.Dense(1)])\n" + FIT, id="not-keras"),
    pytest.param("import tensorflow as tf\nfrom functools import partial\nimport mylib\nMyDense = partial(mylib.Dense, 32)\n"
                 "model = tf.keras.Sequential([MyDense(), tf.keras.layers.Dense(1)])\n" + FIT, id="partial-of-another-library"),
])
def test_other_names_of_other_things_are_not_keras(text):  # no-op
    assert 32 not in sites(text).values()


def test_a_tuned_partial_applies_and_scans_to_the_same_ids(tmp_path, run_cli):  # idempotence
    path = tmp_path / "cnn.py"
    path.write_text(PARTIAL, encoding="utf-8")
    before = {s.id: s.default for s in analyze_text(PARTIAL).sites}
    shared = next(s.id for s in analyze_text(PARTIAL).sites if s.span.line == 3 and s.param == "kernel_size")
    best = {**before, shared: 5}
    (tmp_path / "best.json").write_text(json.dumps({"best": best, "baseline": before}), encoding="utf-8")
    code, _, err = run_cli("apply", str(path), str(tmp_path / "best.json"), "--in-place")
    assert code == 0, err
    applied = path.read_text()
    assert 'partial(tf.keras.layers.Conv2D, kernel_size=5, padding="same", activation="relu")' in applied
    assert {s.id: s.default for s in analyze_text(applied).sites} == best


def test_a_partial_cnn_tunes_end_to_end(tmp_path, run_cli):
    """The tuning script writes params lookups into the partial and trains: trial 1 ok."""
    import csv

    pytest.importorskip("hyperopt")
    data = ("import numpy as np\nx = np.random.default_rng(0).random((64, 28, 28, 1)).astype('float32')\n"
            "y = np.random.default_rng(1).integers(0, 10, 64)\n")
    path = tmp_path / "cnn.py"
    path.write_text(data + PARTIAL.replace("epochs=2", "epochs=1"), encoding="utf-8")
    code, _, err = run_cli("tune", str(path), "--max-evals", "2", "--out", str(tmp_path / "runs"), "--seed", "0")
    assert code == 0, err[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)][0] == "ok"
