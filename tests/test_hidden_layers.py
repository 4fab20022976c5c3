"""A layer with an output activation (sigmoid, ...) that another layer setting a width follows is
hidden: its width and activation are tuned like any hidden layer's; one whose output a written
`Reshape` needs keeps its width (outputs.hidden_layers)."""
from __future__ import annotations

import json

import pytest

from conftest import analyze_text

MLP = """\
import keras
from keras import layers
model = keras.Sequential([
    keras.Input((784,)),
    layers.Dense(32, activation="sigmoid"),
    layers.Dropout(0.2),
    layers.Dense(32, activation="sigmoid"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=2, validation_split=0.2)
"""

FUNCTIONAL = """\
import keras
from keras import layers
inputs = keras.Input((8,))
h = layers.Dense(64, activation="sigmoid")(inputs)
gate = layers.Dense(8, activation="sigmoid")(h)
x = layers.Multiply()([gate, inputs])
d = layers.Dense(147, activation="relu")(x)
r = layers.Reshape((7, 7, 3))(layers.BatchNormalization()(d))
outputs = layers.Dense(1, activation="sigmoid")(layers.Flatten()(r))
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x, y, epochs=2, validation_split=0.2)
"""


def sites(text: str) -> dict[tuple[str, int], object]:
    return {(s.param, s.span.line): s.default for s in analyze_text(text).sites}


def test_hidden_sigmoid_layers_of_a_sequential_are_tuned():
    found = sites(MLP)
    assert found[("units", 5)] == 32 and found[("activation", 5)] == "sigmoid"
    assert found[("units", 7)] == 32 and found[("activation", 7)] == "sigmoid"
    assert ("units", 8) not in found and ("activation", 8) not in found  # the output layer


def test_a_hidden_sigmoid_offers_other_activations_and_itself():
    site = next(s for s in analyze_text(MLP).sites if s.param == "activation")
    assert "sigmoid" in site.space.options and "relu" in site.space.options


def test_functional_hidden_gate_and_reshape():
    found = sites(FUNCTIONAL)
    assert found[("units", 4)] == 64 and found[("activation", 4)] == "sigmoid"  # a Dense takes it
    assert ("units", 5) not in found and ("activation", 5) not in found  # a gate: Multiply needs its width
    assert ("units", 7) not in found and found[("activation", 7)] == "relu"  # Reshape((7, 7, 3)) needs 147
    assert ("units", 9) not in found  # the output


@pytest.mark.parametrize("text", [
    pytest.param(MLP.replace('    layers.Dense(10, activation="softmax"),\n', ""), id="sigmoid-last-is-the-output"),
    pytest.param("from keras import layers\nprobs = layers.Dense(1, activation='sigmoid')\n"
                 "h = layers.Dense(16, activation='relu')\n", id="no-model-the-net-holds"),
    pytest.param("import keras\nfrom keras import layers\nx = keras.Input((8,))\n"
                 "m = keras.Sequential([layers.Dense(8, activation='sigmoid'), layers.Reshape((2, 4)), mylayer])\n"
                 "m.compile(loss='mse')\nm.fit(x, x, epochs=2)\n", id="followed-by-no-width-layer"),
])
def test_a_layer_with_an_output_activation_that_nothing_follows_keeps_its_width(text):  # no-op
    last_sigmoid = max(i for i, line in enumerate(text.splitlines(), 1) if "sigmoid" in line)
    assert ("units", last_sigmoid) not in sites(text)


def test_a_reshape_computed_in_the_code_leaves_the_width_tuned():
    """`Reshape((7, 7, filters))` may follow a tuned constant; only a shape written in numbers
    holds the width before it."""
    text = FUNCTIONAL.replace("layers.Reshape((7, 7, 3))", "layers.Reshape((7, 7, d.shape[-1] // 49))")
    assert sites(text)[("units", 7)] == 147


def test_tuned_hidden_layers_apply_and_scan_to_the_same_ids(tmp_path, run_cli):  # idempotence
    path = tmp_path / "mlp.py"
    path.write_text(MLP, encoding="utf-8")
    before = {s.id: s.default for s in analyze_text(MLP).sites}
    units = [k for k, v in before.items() if v == 32]
    activations = [k for k, v in before.items() if v == "sigmoid"]
    assert len(units) == 2 and len(activations) == 2
    best = {**before, units[0]: 64, activations[0]: "relu"}
    (tmp_path / "best.json").write_text(json.dumps({"best": best, "baseline": before}), encoding="utf-8")
    code, _, err = run_cli("apply", str(path), str(tmp_path / "best.json"), "--in-place")
    assert code == 0, err
    applied = path.read_text()
    assert 'layers.Dense(64, activation="relu")' in applied
    assert {s.id: s.default for s in analyze_text(applied).sites} == best


# The layer a wrapper applies sets the width of what the wrapper outputs (roles.csv `wrapper`).
WRAPPED_SEQUENTIAL = """\
import keras
from keras.layers import LSTM, Dense, TimeDistributed
model = keras.Sequential()
model.add(LSTM(20, return_sequences=True, input_shape=(20, 1)))
model.add(TimeDistributed(Dense(1)))
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=5)
"""

WRAPPED_FUNCTIONAL = """\
import keras
from keras import layers
inputs = keras.Input((20, 1))
h = layers.Bidirectional(layers.LSTM(32, return_sequences=True))(inputs)
outputs = layers.TimeDistributed(layers.Dense(3, activation="softmax"))(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=5)
"""


@pytest.mark.parametrize("text, hidden", [(WRAPPED_SEQUENTIAL, 20), (WRAPPED_FUNCTIONAL, 32)],
                         ids=["sequential", "functional"])
def test_a_wrapped_output_layer_is_held_and_the_layer_before_it_is_tuned(text, hidden):
    sites = {site.id: site for site in analyze_text(text).sites}
    assert "dense_units" not in sites and "dense_activation" not in sites  # the wrapped output layer
    assert sites["lstm_units"].default == hidden  # the hidden recurrent layer


def test_the_output_of_a_keras1_model_given_output_is_held():
    text = ("from keras.layers import Input, Dense\nfrom keras.models import Model\ninp = Input(shape=(784,))\n"
            "h = Dense(32, activation='relu')(inp)\nout = Dense(784, activation='tanh')(h)\n"
            "auto = Model(input=inp, output=out)\nauto.compile(optimizer='adam', loss='mse')\nauto.fit(x, x, epochs=5)\n")
    sites = {site.id: site for site in analyze_text(text).sites}
    assert sites["dense_units"].default == 32 and "dense_1_units" not in sites  # 784 must match the input


def test_heads_an_output_adds_together_are_each_held():
    text = ("from tensorflow import keras\nK = keras.backend\ninp = keras.layers.Input(shape=[4])\n"
            "h = keras.layers.Dense(32, activation='elu')(inp)\nstate_values = keras.layers.Dense(1)(h)\n"
            "raw_advantages = keras.layers.Dense(2)(h)\n"
            "advantages = raw_advantages - K.max(raw_advantages, axis=1, keepdims=True)\n"
            "q_values = state_values + advantages\nmodel = keras.Model(inputs=[inp], outputs=[q_values])\n"
            "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, y, epochs=5)\n")
    sites = {site.id: site for site in analyze_text(text).sites}
    assert sites["dense_units"].default == 32  # the hidden layer only: one state value, one advantage per action
    assert not {"dense_1_units", "dense_2_units"} & set(sites)
