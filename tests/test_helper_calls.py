"""A function of the user's called several times (`conv_block(x, 32)`, `conv_block(x, 64)`):
what each call passes to a parameter that reaches a Keras argument is a hyperparameter of its
own, tuned at that call; a list each call passes to a loop in the function has items of its own;
a function that makes a model's output keeps that output's values. Before/after pairs, the cases
left alone, idempotence, and `apply` writing into the calls."""
from __future__ import annotations

import pytest

from conftest import analyze_text
from optpar.apply import applied_text

HEAD = "import keras\nfrom keras import layers\n"
BLOCKS = HEAD + """\
def conv_block(x, filters, kernel_size=3):
    return layers.Conv2D(filters, kernel_size, padding="same")(x)
inputs = keras.Input((8, 8, 1))
x = conv_block(inputs, 16)
x = conv_block(x, 32, kernel_size=5)
model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))
"""


FIT = 'model.compile(optimizer="adam", loss="mse")\nmodel.fit(data, target, epochs=2, validation_split=0.2)\n'


def found(text: str) -> dict[str, tuple[int, str]]:
    """{id: (line, value as written)} of the sites."""
    return {s.id: (s.line, s.value) for s in analyze_text(text).sites}


def refactored(tmp_path, text: str) -> str:
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(text + FIT, encoding="utf-8")
    return generate(path).refactored


def test_each_call_passes_values_of_its_own_and_the_default_serves_the_calls_that_leave_it():
    sites = {s.id: s for s in analyze_text(BLOCKS).sites}
    assert {k: (s.line, s.value) for k, s in sites.items()} == {
        "kernel_size": (3, "3"), "conv_block_filters": (6, "16"), "conv_block_1_filters": (7, "32"),
        "conv_block_1_kernel_size": (7, "5")}
    assert sites["conv_block_1_filters"].origin == (
        "model.py:7 conv_block(filters=32), call 2 of 2, used as Conv2D(filters) at line 4")
    assert sites["kernel_size"].origin.startswith("model.py:3 conv_block(kernel_size=3), its default")


def test_the_rewrite_puts_each_lookup_at_its_call(tmp_path):
    text = refactored(tmp_path, BLOCKS)
    assert 'x = conv_block(inputs, params["conv_block_filters"])\n' in text
    assert 'x = conv_block(x, params["conv_block_1_filters"], kernel_size=params["conv_block_1_kernel_size"])\n' in text
    assert 'def conv_block(x, filters, kernel_size=params["kernel_size"]):' in text


def test_the_rewrite_is_idempotent(tmp_path):
    assert analyze_text(refactored(tmp_path, BLOCKS), "again.py").sites == ()


def test_apply_writes_each_best_value_into_its_call():
    analysis = analyze_text(BLOCKS)
    best = {"kernel_size": 3, "conv_block_filters": 8, "conv_block_1_filters": 64, "conv_block_1_kernel_size": 5}
    baseline = {"kernel_size": 3, "conv_block_filters": 16, "conv_block_1_filters": 32, "conv_block_1_kernel_size": 5}
    new, changes = applied_text(analysis, best, baseline, "best.json")
    assert sorted(site.id for site, _ in changes) == ["conv_block_1_filters", "conv_block_filters"]
    assert new == BLOCKS.replace("conv_block(inputs, 16)", "conv_block(inputs, 8)").replace(
        "conv_block(x, 32,", "conv_block(x, 64,")


def test_a_constant_passed_by_several_calls_is_one_value_and_a_computed_one_is_left():
    text = BLOCKS.replace("conv_block(inputs, 16)", "conv_block(inputs, WIDTH)").replace(
        "conv_block(x, 32, kernel_size=5)", "conv_block(x, WIDTH)\nx = conv_block(x, 2 * WIDTH)")
    assert found("WIDTH = 24\n" + text) == {"width": (1, "24"), "kernel_size": (4, "3")}


MLP = HEAD + """\
HEAD_UNITS = [32, 16]
def mlp(x, hidden_units, dropout_rate):
    for units in hidden_units:
        x = layers.Dense(units, activation="gelu")(x)
        x = layers.Dropout(dropout_rate)(x)
    return x
inputs = keras.Input((4,))
x = mlp(inputs, [64], 0.1)
x = mlp(x, HEAD_UNITS, 0.3)
model = keras.Model(inputs, layers.Dense(1)(x))
"""


def test_keras_ios_mlp_tunes_the_list_and_the_rate_of_each_call(tmp_path):
    sites = {s.id: s for s in analyze_text(MLP).sites}
    assert {k: (s.line, s.value) for k, s in sites.items() if k != "dense_activation"} == {
        "head_units_0": (3, "32"), "head_units_1": (3, "16"), "mlp_hidden_units_0": (10, "64"),
        "mlp_dropout_rate": (10, "0.1"), "mlp_1_dropout_rate": (11, "0.3")}
    assert sites["mlp_hidden_units_0"].origin.startswith("model.py:10 mlp(hidden_units=[64]), call 1 of 2, item 0")
    text = refactored(tmp_path, MLP)
    assert 'x = mlp(inputs, [params["mlp_hidden_units_0"]], params["mlp_dropout_rate"])\n' in text


def test_a_list_a_call_passes_that_is_not_all_literals_keeps_its_items():
    text = MLP.replace("mlp(inputs, [64], 0.1)", "mlp(inputs, [2 * 32], 0.1)")
    assert {"head_units_0", "head_units_1", "mlp_dropout_rate"} <= set(found(text))
    assert not any(k.startswith("mlp_hidden_units") for k in found(text))


@pytest.mark.parametrize("change", [
    ("x = conv_block(x, 32, kernel_size=5)", "x = conv_block(*(x, 32))"),  # unpacked: its values unseen
    ("x = conv_block(x, 32, kernel_size=5)", "x = conv_block(x, 32)\nmake = conv_block"),  # passed around
    ("def conv_block", "@keras.saving.register_keras_serializable()\ndef conv_block"),  # decorated
    ("    return layers.Conv2D", "    filters = filters // 2\n    return layers.Conv2D"),  # rebound
])
def test_calls_that_may_not_hold_their_values_are_left_alone(change):  # no-op
    old, new = change
    assert not {"conv_block_filters", "conv_block_1_filters"} & set(found(BLOCKS.replace(old, new)))


def test_a_method_called_several_times_is_left_alone():  # no-op: its callers are not all seen
    text = HEAD + """\
class Net(keras.Model):
    def block(self, units):
        return layers.Dense(units)
    def __init__(self):
        super().__init__()
        self.a = self.block(64)
        self.b = self.block(32)
"""
    assert found(text) == {}


@pytest.mark.parametrize("outputs", [
    "model = keras.Model(inputs, dense_block(x, 3))",  # the functional model's output
    "model = keras.Model(inputs, [dense_block(x, 3)])",
])
def test_a_function_that_makes_the_output_keeps_its_layers_for_every_call(outputs):
    """Its width is the number of classes for one call: never tuned, for any call (which layer
    object the output is cannot be told apart statically from the others)."""
    text = HEAD + f"""\
def dense_block(x, n, act=None):
    return layers.Dense(n, activation=act)(x)
inputs = keras.Input((4,))
x = dense_block(inputs, 32, "relu")
{outputs}
"""
    assert found(text) == {}


def test_an_output_through_a_function_called_once_is_not_tuned():
    """A regression: `outputs = dense_block(x, 1)` tuned the 1, the output width of a regression."""
    text = HEAD + """\
def dense_block(x, n):
    return layers.Dense(n)(x)
inputs = keras.Input((8,))
x = layers.Dense(32)(inputs)
model = keras.Model(inputs, dense_block(x, 1))
"""
    assert found(text) == {"dense_units": (6, "32")}


def test_a_layer_a_function_makes_for_the_end_of_a_sequential_is_an_output():
    text = HEAD + """\
def dense_layer(n, act="relu"):
    return layers.Dense(n, activation=act)
model = keras.Sequential([keras.Input((4,)), dense_layer(16)])
model.add(dense_layer(3, "softmax"))
"""
    assert found(text) == {}


def test_an_output_activation_passed_by_one_call_keeps_the_width_of_every_call():
    """The safety net: `head(x, 10, "softmax")` passes an output activation to the layer in the
    function, so its width is never tuned, whichever call; the other call's activation is."""
    text = HEAD + """\
def block(x, n, act):
    return layers.Dense(n, activation=act)(x)
inputs = keras.Input((4,))
x = block(inputs, 32, "relu")
y = block(x, 10, "softmax")
model = keras.Model(inputs, layers.Dense(1)(x))
"""
    assert found(text) == {"block_act": (6, '"relu"')}
