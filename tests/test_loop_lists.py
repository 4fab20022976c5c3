"""A loop variable that walks a list of literals (`for units in HIDDEN_UNITS: Dense(units)`): each
item is a hyperparameter of its own, tuned in the list where it is written. Before/after pairs, the
cases left alone, and idempotence."""
from __future__ import annotations

import pytest

from conftest import analyze_text

HEAD = """\
import keras
from keras import layers

"""
MODEL = "model = keras.Model(inputs, layers.Dense(1)(h))\n"
FIT = """\
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, validation_split=0.2)
"""


def found(body: str) -> dict[str, tuple[int, str, str]]:
    """{id: (line, value as written, parameter)} of the sites, the fit's and compile's left out."""
    return {s.id: (s.line, s.value, s.param) for s in analyze_text(HEAD + body + FIT).sites
            if not s.id.startswith(("fit_", "compile_"))}


def test_a_named_list_is_tuned_item_by_item_where_it_is_written():
    body = """\
HIDDEN_UNITS = [64, 32]
inputs = keras.Input((4,))
h = inputs
for units in HIDDEN_UNITS:
    h = layers.Dense(units)(h)
model = keras.Model(inputs, layers.Dense(1)(h))
"""
    assert found(body) == {"hidden_units_0": (4, "64", "units"), "hidden_units_1": (4, "32", "units")}


def test_keras_ios_block_loop_tunes_each_width_once_for_every_layer_that_reads_it():
    body = """\
inputs = keras.Input((32, 32, 3))
x = inputs
for size in [256, 512, 728]:
    residual = x
    x = layers.SeparableConv2D(size, 3, padding="same")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    residual = layers.Conv2D(size, 1, strides=2, padding="same")(residual)
    x = layers.add([x, residual])
model = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling2D()(x)))
"""
    sizes = {k: v for k, v in found(body).items() if k.startswith("size_")}
    assert sizes == {"size_0": (6, "256", "filters"), "size_1": (6, "512", "filters"),
                     "size_2": (6, "728", "filters")}


@pytest.mark.parametrize("loop, line", [
    ("for i, units in enumerate(HIDDEN):\n    h = layers.Dense(units)(h)\n", 4),
    ("for units in (64, 32):\n    h = layers.Dense(units)(h)\n", 7),
    ("h = keras.Sequential([layers.Dense(u) for u in HIDDEN])(h)\n", 4),
])
def test_enumerate_tuples_and_comprehensions(loop, line):
    body = f"HIDDEN = [64, 32]\ninputs = keras.Input((4,))\nh = inputs\n{loop}{MODEL}"
    assert sorted(v[:2] for v in found(body).values()) == [(line, "32"), (line, "64")]


def test_a_list_passed_to_a_helper_is_tuned_at_the_call_or_at_the_default():
    body = """\
def build(hidden_units{default}):
    inputs = keras.Input((4,))
    h = inputs
    for units in hidden_units:
        h = layers.Dense(units, activation="relu")(h)
    return keras.Model(inputs, layers.Dense(1)(h))


model = build({passed})
"""
    assert found(body.format(default="=[64, 32]", passed="")).keys() >= {"hidden_units_0", "hidden_units_1"}
    at_call = found(body.format(default="", passed="[128, 16]"))
    assert (at_call["hidden_units_0"], at_call["hidden_units_1"]) == ((12, "128", "units"), (12, "16", "units"))


@pytest.mark.parametrize("change", [
    "HIDDEN.append(16)\n",  # changed in place
    "HIDDEN[0] = 8\n",
    "HIDDEN = [64, 16]\n",  # bound twice
])
def test_a_list_that_changes_is_left_alone(change):  # no-op
    body = f"HIDDEN = [64, 32]\n{change}inputs = keras.Input((4,))\nh = inputs\nfor units in HIDDEN:\n" \
           "    h = layers.Dense(units)(h)\nmodel = keras.Model(inputs, layers.Dense(1)(h))\n"
    assert found(body) == {}


@pytest.mark.parametrize("loop", [
    "for units in [64, WIDTH]:\n    h = layers.Dense(units)(h)\n",  # an item that is not a literal
    "for units in [64, 32]:\n    units = units * 2\n    h = layers.Dense(units)(h)\n",  # rebound in the loop
    "for units, rate in zip([64, 32], [0.1, 0.2]):\n    h = layers.Dense(units)(h)\n",  # not one list
    "for units in range(16, 64, 16):\n    h = layers.Dense(units)(h)\n",  # not a list display
])
def test_loops_that_do_not_walk_a_list_of_literals_are_left_alone(loop):  # no-op
    body = f"WIDTH = int('8')\ninputs = keras.Input((4,))\nh = inputs\n{loop}{MODEL}"
    assert found(body) == {}


def generated(tmp_path, hidden: str):
    """The tuning script of a runnable model whose Dense layers walk `HIDDEN = <hidden>`."""
    from optpar.pipeline import generate

    body = f"import numpy as np\nx = np.zeros((8, 4))\ny = np.zeros((8,))\nHIDDEN = {hidden}\n" \
           "inputs = keras.Input((4,))\nh = inputs\nfor units in HIDDEN:\n    h = layers.Dense(units)(h)\n" \
           "model = keras.Model(inputs, layers.Dense(1)(h))\n"
    path = tmp_path / "model.py"
    path.write_text(HEAD + body + FIT, encoding="utf-8")
    return generate(path)


def test_the_rewrite_is_idempotent(tmp_path):
    refactored = generated(tmp_path, "[64, 32]").refactored
    assert 'HIDDEN = [params["hidden_0"], params["hidden_1"]]' in refactored
    assert analyze_text(refactored, "again.py").sites == ()


def test_a_list_written_over_several_lines_gives_a_script_that_compiles(tmp_path):
    """A regression: keras-io's ViT writes `mlp_head_units = [\n    2048,\n    1024,\n]`; the
    origin comments of its items held the line breaks and the script could not be generated."""
    text = generated(tmp_path, "[\n    64,\n    32,\n]").text
    compile(text, "model_tune.py", "exec")
    assert "model.py:8 HIDDEN = [ 64, 32, ], item 0, used as Dense(units) at line 14\n" in text


SWEEP = """\
import keras
from keras import layers

histories = []
for lr in [1e-4, 1e-3, 1e-2]:
    model = keras.Sequential([keras.Input((8,)), layers.Dense(30, activation="relu"), layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(lr))
    histories.append(model.fit(x, y, validation_split=0.2, epochs=5))
"""


def test_a_loop_that_trains_a_model_per_item_is_the_users_own_sweep():
    """`for lr in [...]: build, compile, fit`: a trial runs the whole sweep, so its items are not
    tuned (gh6: six learning rates tuned apart, the best a list of six unrelated values)."""
    sites = {s.id for s in analyze_text(SWEEP).sites}
    assert not any(s.startswith("sgd") or "lr" in s for s in sites)
    assert {"dense_units", "dense_activation", "fit_epochs"} <= sites  # the sweep's model, as before


def test_a_sweep_through_a_function_that_trains_is_not_tuned_either():
    text = SWEEP.replace("for lr in [1e-4, 1e-3, 1e-2]:\n", "def train(lr):\n").replace(
        "    histories.append(model.fit(x, y, validation_split=0.2, epochs=5))\n",
        "    return model.fit(x, y, validation_split=0.2, epochs=5)\n") + "for lr in [1e-4, 1e-3, 1e-2]:\n    histories.append(train(lr))\n"
    assert not any("lr" in s.id or s.id.startswith("sgd") for s in analyze_text(text).sites)


def test_a_loop_that_builds_layers_before_the_fit_still_tunes_its_items():  # no-op
    body = "inputs = keras.Input((4,))\nh = inputs\nfor units in [64, 32]:\n    h = layers.Dense(units)(h)\n" + MODEL
    assert {k: v[1] for k, v in found(body).items()} == {"units_0": "64", "units_1": "32"}
