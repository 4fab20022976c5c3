"""Forms of real Keras code the matcher must read right (no Keras import, source strings in):

1. the output layer of a user's keras.Model subclass, and any layer with an output activation;
2. Sequential([...]) followed by model.add(...) (the OptPar paper's Figure 5);
3. `# optpar:` comments on a line with several hyperparameters;
4. function parameter defaults as hyperparameters.
Each rule: before/after, a no-op case, an aliased import, idempotence where it applies.
"""
from __future__ import annotations

import json

import pytest

from conftest import analyze_text, site_map
from optpar.errors import UserError

FIT = "model.fit(x, y, validation_split=0.1)\n"


def ids(text: str) -> list[str]:
    return [site.id for site in analyze_text(text).sites]


def values(text: str) -> dict[str, tuple[int, str]]:
    """{site id: (line, value as written)}."""
    return {s.id: (s.line, s.value) for s in analyze_text(text).sites}


def refactored_sites(tmp_path, text: str) -> tuple:
    """The sites left in the refactored program: () when the rewrite is idempotent."""
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    return analyze_text(generate(path).refactored, "again.py").sites


# -- 1. output layers of Model subclasses ----------------------------------------------------

DEBUGGING_TIPS = """\
import keras
from keras import layers

class MyModel(keras.Model):
    def train_step(self, data):
        return super().train_step(data)

inputs = keras.Input((28, 28))
x = layers.Flatten()(inputs)
x = layers.Dense(256, activation="relu")(x)
outputs = layers.Dense(10, activation="relu")(x)
model = {call}
"""


@pytest.mark.parametrize("call", [
    "MyModel(inputs, outputs)",
    "MyModel(inputs=inputs, outputs=outputs)",
    "MyModel(inputs, outputs=outputs, name='m')",
])
def test_functional_graph_passed_to_a_model_subclass_keeps_its_head(call):
    # relu, not softmax: the head is found as the model's output, not by its activation.
    assert values(DEBUGGING_TIPS.format(call=call)) == {
        "dense_units": (10, "256"), "dense_activation": (10, '"relu"')}


def test_subclass_of_a_subclass_is_a_model():
    text = DEBUGGING_TIPS.format(call="Child(inputs, outputs)").replace(
        "inputs = keras.Input", "class Child(MyModel):\n    pass\n\ninputs = keras.Input")
    assert {line for line, _ in values(text).values()} == {13}


def test_a_class_that_is_not_a_model_marks_no_output():  # no-op
    text = DEBUGGING_TIPS.format(call="Wrapper(inputs, outputs)").replace(
        "class MyModel(keras.Model):", "class Wrapper:")
    assert "dense_1_units" in ids(text)


def test_subclass_whose_init_takes_no_outputs_marks_nothing_by_position():  # no-op
    text = DEBUGGING_TIPS.format(call="MyModel(inputs, outputs)").replace(
        "    def train_step(self, data):\n        return super().train_step(data)\n",
        "    def __init__(self, backbone, head):\n        super().__init__()\n")
    assert "dense_1_units" in ids(text)


@pytest.mark.parametrize("imports, base", [
    ("import tensorflow as tf", "tf.keras.Model"),
    ("from keras.models import Model as M", "M"),
    ("from tensorflow import keras as K", "K.Model"),
])
def test_model_subclass_under_aliased_imports(imports, base):
    text = DEBUGGING_TIPS.format(call="MyModel(inputs, outputs)").replace(
        "class MyModel(keras.Model):", f"{imports}\nclass MyModel({base}):")
    assert "dense_1_units" not in ids(text) and "dense_units" in ids(text)


PACKAGED = """\
import keras
from keras import layers

class Classifier(keras.Model):
    def __init__(self, num_classes=10, **kwargs):
        inputs = keras.Input(shape=(64,))
        x = layers.Dense(128, activation="relu")(inputs)
        outputs = layers.Dense(10, activation="relu", name="classification_head")(x)
        {init}

model = Classifier()
"""


@pytest.mark.parametrize("init", [
    "super().__init__(inputs, outputs, **kwargs)",
    "super().__init__(inputs=inputs, outputs=outputs)",
    "super(Classifier, self).__init__(inputs, outputs)",
    "keras.Model.__init__(self, inputs, outputs)",
    "keras.Model.__init__(self, inputs=inputs, outputs=outputs)",
])
def test_model_subclass_building_its_graph_in_init_keeps_its_head(init):
    assert values(PACKAGED.format(init=init)) == {
        "dense_units": (7, "128"), "dense_activation": (7, '"relu"')}


def test_num_classes_default_of_the_head_is_not_tuned():
    text = PACKAGED.format(init="super().__init__(inputs, outputs)").replace(
        "layers.Dense(10, activation=\"relu\", name", "layers.Dense(num_classes, activation=\"softmax\", name")
    assert set(ids(text)) == {"dense_units", "dense_activation"}


def test_super_init_of_a_class_that_is_not_a_model_marks_nothing():  # no-op
    text = PACKAGED.format(init="super().__init__(inputs, outputs)").replace(
        "class Classifier(keras.Model):", "class Classifier(object):")
    assert "classification_head_units" in ids(text)


def test_model_subclass_forms_are_idempotent(tmp_path):
    text = PACKAGED.format(init="super().__init__(inputs, outputs)") + FIT
    assert refactored_sites(tmp_path, text) == ()


# -- 1b. a layer with an output activation: its width is never tuned --------------------------

@pytest.mark.parametrize("activation", [
    '"softmax"', "'sigmoid'", '"linear"', '"log_softmax"',
    "keras.activations.softmax", "tf.nn.sigmoid", "ACT",
])
def test_width_of_a_layer_with_an_output_activation_is_never_tuned(activation):
    text = ("import keras\nimport tensorflow as tf\nACT = 'softmax'\n"
            f"h = keras.layers.Dense(64, activation={activation})\n"
            "c = keras.layers.Conv2D(1, 3, activation=" + activation + ")\n")
    assert ids(text) == ["conv2d_kernel_size"]


def test_relu_layer_width_is_still_tuned():  # no-op
    text = "import keras\nh = keras.layers.Dense(64, activation='relu')\n"
    assert ids(text) == ["dense_units", "dense_activation"]


def test_output_activation_under_an_aliased_import():
    text = "from keras.layers import Dense as D\nh = D(64, 'softmax')\ng = D(32, 'relu')\n"
    assert values(text) == {"dense_units": (3, "32"), "dense_activation": (3, "'relu'")}


def test_constant_giving_the_width_of_an_output_activation_layer_is_not_tuned():
    text = ("import keras\nHIDDEN = 32\n"
            "a = keras.layers.Dense(HIDDEN, activation='relu')\n"
            "b = keras.layers.Dense(HIDDEN, activation='sigmoid')\n")
    assert "hidden" not in ids(text)


def test_layer_before_a_softmax_activation_in_a_list_sum_is_an_output():
    # keras legacy mnist_transfer_cnn: Sequential(feature_layers + classification_layers).
    text = ("from keras.layers import Activation, Dense, Dropout, Flatten\n"
            "from keras.models import Sequential\n"
            "num_classes = 5\n"
            "def train_model(model, num_classes):\n"
            "    pass\n"
            "feature_layers = [Flatten()]\n"
            "classification_layers = [Dense(128), Activation('relu'), Dropout(0.5),\n"
            "                         Dense(num_classes), Activation('softmax')]\n"
            "model = Sequential(feature_layers + classification_layers)\n")
    assert ids(text) == ["dense_units", "activation_activation", "dropout_rate"]


@pytest.mark.parametrize("build, tuned", [
    ("hidden = [Dense(64), Dense(10)]\nmodel = Sequential(hidden)\n", [64]),
    ("hidden = [Dense(64)]\nhidden.append(Dense(10))\nmodel = Sequential(hidden)\n", [64]),
    ("hidden = [Dense(64)]\nfor u in (32, 16):\n    hidden.append(Dense(u))\n"
     "hidden.extend([Dense(10)])\nmodel = Sequential(hidden)\n", [64, 32, 16]),  # the loop's items too
    ("hidden = [Dense(64)]\nhidden.insert(0, Dense(10))\nmodel = Sequential(hidden)\n", [64, 10]),  # unknown
    ("hidden = [Dense(64)]\nhidden += [Dense(10)]\nmodel = Sequential(hidden)\n", [64, 10]),  # unknown
])
def test_a_layer_list_held_in_a_name(build, tuned):
    text = "from keras.layers import Dense\nfrom keras.models import Sequential\n" + build
    assert [s.default for s in analyze_text(text).sites] == tuned


# -- 2. Sequential([...]) then model.add(...) -----------------------------------------------

FIGURE5 = """\
import keras
from keras import layers
model = keras.Sequential([
    keras.Input(shape=(4,)),
    layers.Dense(units=24, activation="relu"),
])
model.add(layers.Dense(24, activation="relu"))
model.add(layers.Dense(3, activation="relu"))
"""


def test_list_then_adds_the_output_is_the_last_add():
    assert values(FIGURE5) == {
        "dense_units": (5, "24"), "dense_activation": (5, '"relu"'),
        "dense_1_units": (7, "24"), "dense_1_activation": (7, '"relu"'),
    }


def test_list_without_adds_keeps_its_last_layer():  # no-op: the rule as before
    text = FIGURE5.split("model.add")[0]
    assert ids(text) == []


def test_list_then_adds_under_aliased_imports():
    text = (FIGURE5.replace("import keras\nfrom keras import layers\n",
                            "from tensorflow.keras.models import Sequential as S\n"
                            "from tensorflow.keras import layers as L, Input\n")
            .replace("keras.Sequential", "S").replace("keras.Input", "Input")
            .replace("layers.", "L."))
    assert [line for line, _ in values(text).values()] == [5, 5, 7, 7]


def test_each_sequential_assigned_to_a_name_has_its_own_chain():
    text = ("import keras\nfrom keras import layers\n"
            "model = keras.Sequential([layers.Dense(8)])\n"
            "model.add(layers.Dense(16))\n"
            "model.add(layers.Dense(2))\n"
            "model = keras.Sequential([layers.Dense(32), layers.Dense(4)])\n")
    assert values(text) == {"dense_units": (3, "8"), "dense_1_units": (4, "16"),
                            "dense_2_units": (6, "32")}


def test_adds_in_another_function_do_not_extend_the_list():
    text = ("import keras\nfrom keras import layers\n"
            "def build():\n"
            "    model = keras.Sequential([layers.Dense(8), layers.Dense(2)])\n"
            "    return model\n"
            "model = build()\n"
            "model.add(layers.Dense(3))\n")
    assert ids(text) == ["dense_units"]


def test_list_then_adds_is_idempotent(tmp_path):
    assert refactored_sites(tmp_path, FIGURE5 + FIT) == ()


# -- 3. # optpar: comments on a line with several hyperparameters ------------------------------

LINE = """\
import keras
from keras import layers
model = keras.Sequential([
    {layer},  # optpar: {directive}
    layers.Dense(10, activation="softmax"),
])
"""
DENSE = 'layers.Dense(32, activation="relu")'


def spaces(layer: str, directive: str | None) -> dict:
    """{site id: space} of the line `layer,  # optpar: directive` (no comment for None)."""
    text = LINE.format(layer=layer, directive=directive or "")
    if directive is None:
        text = text.replace("  # optpar: ", "")
    return {s.id: s.space for s in analyze_text(text).sites}


@pytest.mark.parametrize("directive, controlled, options", [
    ("choice(16, 32, 48)", "dense_units", (16, 32, 48)),  # 32 is among them
    ("choice(16, 48)", "dense_units", (16, 48, 32)),  # ints: only units is an int
    ('choice("relu", "tanh")', "dense_activation", ("relu", "tanh")),
    ('choice("elu", "tanh")', "dense_activation", ("elu", "tanh", "relu")),
    ("units=choice(16, 32, 48)", "dense_units", (16, 32, 48)),
    ('activation=choice("relu", "tanh")', "dense_activation", ("relu", "tanh")),
    ('activation = choice("relu", "tanh")', "dense_activation", ("relu", "tanh")),
])
def test_choice_controls_the_one_site_it_fits(directive, controlled, options):
    found = spaces(DENSE, directive)
    assert found[controlled].dist == "choice" and found[controlled].options == options
    other = ({"dense_units", "dense_activation"} - {controlled}).pop()
    assert found[other] == spaces(DENSE, None)[other]  # the other keeps the metadata's space


def test_choice_of_32_goes_to_the_int_not_to_a_string():
    text = LINE.format(layer='layers.Dense(32, name="32")', directive='choice(16, 32, 48)')
    site = site_map(text)["p_32_units"]
    assert site.space.options == (16, 32, 48)


def test_range_controls_the_one_numeric_site():
    found = spaces(DENSE, "range(8, 64)")
    assert (found["dense_units"].dist, found["dense_units"].low, found["dense_units"].high) == (
        "quniform", 8, 64)
    assert found["dense_activation"].dist == "choice"


def test_range_among_numbers_picks_the_one_inside_it():
    found = spaces('layers.Dense(32), layers.Dropout(0.2)', "range(0.1, 0.5)")
    assert (found["dropout_rate"].low, found["dropout_rate"].high) == (0.1, 0.5)
    assert found["dense_units"].dist == "choice"


def test_named_range_picks_by_parameter_name():
    found = spaces('layers.Dense(32), layers.Dropout(0.2)', "rate=range(0.0, 0.3)")
    assert (found["dropout_rate"].low, found["dropout_rate"].high) == (0.0, 0.3)


def test_skip_skips_every_site_of_the_line_and_a_named_skip_one():
    assert not {"dense_units", "dense_activation"} & set(spaces(DENSE, "skip"))
    named = spaces(DENSE, "units=skip")
    assert "dense_units" not in named and "dense_activation" in named


@pytest.mark.parametrize("layer, directive, message", [
    ("layers.Conv2D(32, 3, activation='relu')", "range(1, 64)",
     "range(1, 64) fits 2 of the 3 hyperparameters on this line (filters=32, kernel_size=3, "
     "activation='relu'); name the one it is for, e.g. # optpar: filters=range(1, 64)"),
    ("layers.Conv2D(32, 3, activation='relu')", "choice(True, False)",
     "fits none of the 3 hyperparameters on this line"),
    ("layers.Dense(64), layers.Dense(64)", "choice(32, 64)",
     "put the one to control on a line of its own"),
    (DENSE, "rate=range(0.1, 0.5)",
     "no hyperparameter named 'rate' on this line (it has units=32, activation=\"relu\")"),
    ("layers.Dense(64), layers.Dense(32)", "units=choice(8, 16)",
     "2 hyperparameters named 'units' on this line"),
])
def test_ambiguous_or_unmatched_comment_is_an_error_at_the_comment(layer, directive, message):
    text = LINE.format(layer=layer, directive=directive)
    with pytest.raises(UserError) as info:
        analyze_text(text)
    assert (info.value.line, info.value.col) == (4, text.splitlines()[3].index("#") + 1)
    assert message in info.value.message
    assert "\n" not in str(info.value) and str(info.value).startswith("model.py:4:")


def test_named_comment_resolves_what_was_ambiguous():
    found = spaces("layers.Conv2D(32, 3, activation='relu')", "kernel_size=choice(3, 5)")
    assert found["conv2d_kernel_size"].options == (3, 5)


@pytest.mark.parametrize("directive", ["choice((3, 3), (5, 5))", "kernel_size=choice((3, 3), (5, 5))"])
def test_choice_of_square_tuples_for_a_square_kernel(directive):
    found = spaces("layers.Conv2D(32, (3, 3), activation='relu')", directive)
    assert found["conv2d_kernel_size"].options == (3, 5)


def test_comment_on_a_line_of_one_site_is_unchanged():  # no-op: the old rule
    text = "import keras\nd = keras.layers.Dropout(0.3)  # optpar: choice(0.1, 0.2)\n"
    assert site_map(text)["dropout_rate"].space.options == (0.1, 0.2, 0.3)


def test_comment_on_a_function_default_line_picks_by_name_or_value():
    head = "import keras\n"
    body = ("    h = keras.layers.Dense(units)\n"
            "    return keras.layers.Dropout(dropout)(h)\n"
            "build()\n")
    named = site_map(head + "def build(units=64, dropout=0.2):  # optpar: dropout=range(0.1, 0.5)\n" + body)
    assert (named["dropout"].space.low, named["dropout"].space.high) == (0.1, 0.5)
    by_value = site_map(head + "def build(units=64, dropout=0.2):  # optpar: choice(32, 64)\n" + body)
    assert by_value["units"].space.options == (32, 64)


def test_comment_naming_a_constant():
    text = "import keras\nBATCH = 32  # optpar: BATCH=choice(16, 32)\nmodel.fit(x, y, batch_size=BATCH)\n"
    assert site_map(text)["batch"].space.options == (16, 32)
    same = text.replace("BATCH=choice", "batch_size=choice")  # the parameter it feeds
    assert site_map(same)["batch"].space.options == (16, 32)
    unused = "import keras\nDROPOUT = 0.3  # optpar: rate=range(0.1, 0.5)\nh = keras.layers.Dense(8)\n"
    with pytest.raises(UserError, match="no hyperparameter named 'rate'"):
        analyze_text(unused)


def test_scan_json_is_one_complete_document_when_a_file_has_an_error(tmp_path, run_cli):
    good = tmp_path / "a_good.py"
    good.write_text("import keras\nh = keras.layers.Dense(64)\n", encoding="utf-8")
    bad = tmp_path / "b_bad.py"
    bad.write_text(LINE.format(layer="layers.Conv2D(32, 3)", directive="range(1, 64)"), encoding="utf-8")
    odd = tmp_path / "c_odd.py"
    odd.write_text("import keras\nh = keras.layers.Dense(64)  # optpar: choice(b'x')\n", encoding="utf-8")
    code, out, err = run_cli("scan", "--format", "json", good, bad, odd)
    assert code == 2
    found = json.loads(out)  # complete: it parses
    assert [(f["file"], f["id"]) for f in found] == [(str(good), "dense_units")]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}:4:") and "name the one it is for" in lines[0]
    assert lines[1].startswith(f"{odd}:2:") and "choice option b'x' must be" in lines[1]


# -- 4. function defaults -------------------------------------------------------------------

BUILD = """\
import keras
from keras import layers
def build_model(units=64, dropout=0.2, learning_rate=1e-3, num_classes=10):
    model = keras.Sequential([
        layers.Dense(units, activation="relu"),
        layers.Dropout(dropout),
        layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model
model = {call}
"""


def test_defaults_of_a_model_building_function_are_hyperparameters():
    sites = site_map(BUILD.format(call="build_model()"))
    assert list(sites) == ["units", "dropout", "learning_rate", "dense_activation"]
    units = sites["units"]
    assert (units.line, units.col, units.value, units.default) == (3, len("def build_model(units=") + 1, "64", 64)
    assert (units.constant, units.code, units.param, units.call) == ("units", "OPT102", "units",
                                                                     "keras.layers.Dense")
    assert units.origin == "model.py:3 build_model(units=64), used as Dense(units) at line 5"
    assert sites["dropout"].param == "rate" and sites["dropout"].space.dist == "uniform"
    assert sites["learning_rate"].space.dist == "loguniform"
    assert "num_classes" not in sites  # it feeds the output layer


@pytest.mark.parametrize("call", ["build_model(units=32)", "build_model(32)"])
def test_a_value_the_one_call_passes_is_tuned_at_the_call_not_at_the_default(call):
    """The function's one call passes 32: that is the value the model is built with, so the
    site is the 32 at the call (`apply` writes the best there), and the default 64 is left."""
    text = BUILD.format(call=call)
    sites = site_map(text)
    units = sites["units"]
    assert (units.line, units.value, units.default, units.constant) == (text.count("\n"), "32", 32, "units")
    assert units.origin.startswith(f"model.py:{text.count(chr(10))} build_model(units=32), used as Dense(units)")
    assert "dropout" in sites  # its default, as before


@pytest.mark.parametrize("call", ["build_model(**config)", "build_model(*args)", "build_model(UNKNOWN)",
                                  "build_model(UNKNOWN) if x else build_model(2 * UNKNOWN)"])
def test_a_value_passed_that_is_not_one_literal_is_not_tuned(call):
    """No-op: what an unpacked call or a computed value passes is not a literal."""
    assert "units" not in ids(BUILD.format(call=call))


def test_a_literal_passed_through_two_functions_is_tuned_where_it_is_written():
    text = ("import keras\n"
            "def block(n):\n"
            "    return keras.layers.Dense(n)\n"
            "def tower(width):\n"
            "    return keras.Sequential([block(width), keras.layers.Dense(1)])\n"
            "model = tower(48)\n")
    assert values(text) == {"width": (6, "48")}


@pytest.mark.parametrize("change", [
    ("model = {call}", "model = None"),  # never called here: its callers are elsewhere
    ("model = {call}", "clf = Wrapper(model=build_model)"),  # passed around: callers unseen
    ("    model = keras.Sequential", "    units = units * 2\n    model = keras.Sequential"),  # rebound
    ("def build_model", "@register\ndef build_model"),  # decorated
    ("def build_model", "def build_model(x):\n    pass\ndef build_model"),  # defined twice
])
def test_defaults_that_are_not_hyperparameters(change):  # no-op cases
    old, new = change
    text = BUILD.replace(old, new).format(call="build_model()")
    assert "units" not in ids(text)


def test_a_default_no_keras_call_takes_is_not_a_site():  # no-op
    text = BUILD.format(call="build_model()") + "def other(units=8):\n    return units\nother()\n"
    assert ids(text) == ["units", "dropout", "learning_rate", "dense_activation"]


def test_method_defaults_are_not_tuned():  # no-op
    text = ("import keras\n"
            "class Builder:\n"
            "    def build(self, units=64):\n"
            "        return keras.layers.Dense(units)\n"
            "Builder().build()\n")
    assert ids(text) == []


def test_one_default_used_twice_is_one_hyperparameter():
    text = ("import keras\n"
            "def create_model(hidden_units=64):\n"
            "    inputs = keras.Input(shape=(8,))\n"
            "    x = keras.layers.Dense(hidden_units, activation='relu')(inputs)\n"
            "    x = keras.layers.Dense(hidden_units, activation='relu')(x)\n"
            "    outputs = keras.layers.Dense(3, activation='softmax')(x)\n"
            "    return keras.Model(inputs=inputs, outputs=outputs)\n"
            "model = create_model()\n")
    assert ids(text) == ["hidden_units", "dense_activation", "dense_1_activation"]


def test_nested_and_keyword_only_defaults():
    text = ("import keras\n"
            "def main(*, epochs=3):\n"
            "    def block(units=32):\n"
            "        return keras.layers.Dense(units)\n"
            "    model = keras.Sequential([block(), keras.layers.Dense(1)])\n"
            "    model.fit(x, y, epochs=epochs)\n"
            "main()\n")
    assert values(text) == {"epochs": (2, "3"), "units": (3, "32")}
    assert values(text.replace("main()\n", "main(epochs=5)\n"))["epochs"] == (7, "5")  # the call's


def test_defaults_of_two_functions_with_one_name_are_two_hyperparameters():
    text = ("import keras\n"
            "def encoder(units=64):\n"
            "    return keras.layers.Dense(units)\n"
            "def decoder(units=32):\n"
            "    return keras.layers.Dense(units)\n"
            "e, d = encoder(), decoder()\n")
    assert values(text) == {"units": (2, "64"), "units_2": (4, "32")}


def test_defaults_under_an_aliased_import():
    text = BUILD.format(call="build_model()").replace(
        "import keras\nfrom keras import layers\n",
        "import tensorflow as tf\nkeras = tf.keras\nfrom tensorflow.keras import layers as layers\n")
    assert {"units", "dropout"} <= set(ids(text))


def test_a_module_constant_is_tuned_beside_a_parameter_of_the_same_name():
    text = ("import keras\n"
            "units = 64\n"
            "def describe(units):\n"
            "    return f'{units} units'\n"
            "h = keras.layers.Dense(units)\n")
    site = site_map(text)["units"]
    assert (site.line, site.constant, site.origin) == (
        2, "units", "model.py:2 units = 64, used as Dense(units) at line 5")


def test_a_parameter_without_default_shadows_the_module_constant():
    """The module's `units = 64` is not what Dense gets: the parameter is, 8 from the one call."""
    text = ("import keras\n"
            "units = 64\n"
            "def layer(units):\n"
            "    return keras.layers.Dense(units)\n"
            "h = layer(8)\n")
    assert values(text) == {"units": (5, "8")}
    two_calls = text.replace("h = layer(8)\n", "h = layer(8)\nk = layer(16)\n")
    assert values(two_calls) == {"layer_units": (5, "8"), "layer_1_units": (6, "16")}  # never the 64


def test_function_defaults_are_idempotent(tmp_path):
    text = BUILD.format(call="build_model()") + FIT
    assert refactored_sites(tmp_path, text) == ()


def test_apply_writes_the_best_value_into_the_default():
    from optpar.apply import applied_text

    text = BUILD.format(call="build_model()")
    analysis = analyze_text(text)
    new, changes = applied_text(analysis, {"units": 128, "dropout": 0.2}, {"units": 64}, "best.json")
    assert [site.id for site, _ in changes] == ["units"]
    assert new == text.replace("def build_model(units=64,", "def build_model(units=128,")
    again, changes = applied_text(analyze_text(new), {"units": 128}, {"units": 128}, "best.json")
    assert again == new and changes == []


BLOCK = """import keras
from keras import layers
num_heads = 2
class Block(layers.Layer):
    def __init__(self, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=16)
        self.ffn = layers.Dense(ff_dim, activation="relu")
        self.drop = layers.Dropout(rate)
block = Block(num_heads, ff_dim=64)
"""


def test_a_layer_class_made_once_takes_its_values_from_the_constructor_call():
    """keras-io's TransformerBlock(embed_dim, num_heads, ff_dim): the values its __init__ hands
    to Keras are tuned where they are written: a constant passed by name, a literal at the call,
    a default no call passes."""
    assert values(BLOCK) == {"num_heads": (3, "2"), "multi_head_attention_key_dim": (7, "16"),
                             "ff_dim": (10, "64"), "dense_activation": (8, '"relu"'), "rate": (5, "0.1")}
    assert site_map(BLOCK)["ff_dim"].origin.startswith("model.py:10 Block(ff_dim=64), used as Dense(units)")


def test_a_class_made_twice_tunes_what_each_call_passes_and_the_default_both_see():
    """Two instances, each with its own values: what each construction writes is a value of its
    own (`block_ff_dim`, `block_1_ff_dim`), the constant passed once is tuned at its definition,
    and `rate`, the default neither passes, is one value for both."""
    text = BLOCK.replace("block = Block(num_heads, ff_dim=64)\n",
                         "block = Block(num_heads, ff_dim=64)\nother = Block(4, ff_dim=8)\n")
    found = values(text)
    assert {k: found[k] for k in ("num_heads", "block_1_num_heads", "block_ff_dim", "block_1_ff_dim", "rate")} == {
        "num_heads": (3, "2"), "block_1_num_heads": (11, "4"), "block_ff_dim": (10, "64"),
        "block_1_ff_dim": (11, "8"), "rate": (5, "0.1")}
    assert site_map(text)["block_1_ff_dim"].origin.startswith(
        "model.py:11 Block(ff_dim=8), call 2 of 2, used as Dense(units)")


@pytest.mark.parametrize("change", [
    ("block = Block(num_heads, ff_dim=64)\n", "block = Block(num_heads, ff_dim=64)\nclass Wide(Block):\n    pass\n"),
    ("block = Block(num_heads, ff_dim=64)\n", "block = Block(num_heads, ff_dim=64)\nmake = Block\n"),
    ("block = Block(num_heads, ff_dim=64)\n", "block = Block(**config)\n"),
])
def test_a_class_made_elsewhere_too_keeps_its_constructor_values_untuned(change):
    """No-op: a subclass, the class passed around, a call unpacking a dict: its callers are not
    all seen, so neither its defaults nor the values passed are tuned."""
    before, after = change
    assert before in BLOCK
    found = ids(BLOCK.replace(before, after))
    assert not {"num_heads", "ff_dim", "rate"} & set(found)


def test_constructor_values_are_idempotent(tmp_path):
    text = BLOCK.replace("import keras\n", "import keras\nimport numpy as np\n") + (
        "x = np.zeros((8, 4, 16), 'float32')\n"
        "model = keras.Sequential([keras.Input((4, 16)), block, layers.GlobalAveragePooling1D(), layers.Dense(1)])\n"
        "model.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, x[:, 0, :1], epochs=1, validation_split=0.25)\n")
    assert refactored_sites(tmp_path, text) == ()


# -- a second name of a Keras class: its class's rows and roles hold -------------------------
ALIASED = ("import keras\nfrom keras.layers import Convolution2D, MaxPool2D\n"
           "model = keras.Sequential([keras.Input((12, 12, 1)), Convolution2D(8, 3, activation='relu'),\n"
           "    MaxPool2D(2), keras.layers.SeparableConvolution1D(4, 3), keras.layers.GlobalAvgPool2D(),\n"
           "    keras.layers.Dense(3, activation='softmax')])\n" + FIT)


def test_an_alias_of_a_layer_is_tuned_as_the_layer():
    assert values(ALIASED) == values(ALIASED.replace("Convolution2D", "Conv2D").replace("MaxPool2D", "MaxPooling2D")
                                     .replace("SeparableConvolution1D", "SeparableConv1D")
                                     .replace("GlobalAvgPool2D", "GlobalAveragePooling2D"))
    assert {"conv2d_filters", "conv2d_kernel_size", "max_pooling2d_pool_size", "separable_conv1d_filters"} <= set(ids(ALIASED))


def test_a_name_that_only_looks_like_an_alias_is_not_keras():  # no-op
    text = "import keras\nfrom mylib import Convolution2D, MaxPool2D\nc = Convolution2D(8, 3)\np = MaxPool2D(2)\n" + FIT
    assert not {i for i in ids(text) if "conv" in i or "pool" in i}


def test_an_aliased_layer_is_refactored_idempotently(tmp_path):
    assert refactored_sites(tmp_path, ALIASED) == ()


def test_the_output_layer_of_a_subclass_assigned_beside_another_layer_keeps_its_width():
    text = ("import keras\n\nclass AE(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
            "        self.enc, self.dec = keras.layers.Dense(4), keras.layers.Dense(8)\n\n"
            "    def call(self, x):\n        return self.dec(self.enc(x))\n\nmodel = AE()\n" + FIT)
    assert values(text)["dense_units"] == (6, "4") and "dense_1_units" not in ids(text)
    assert values(text.replace("self.enc, self.dec = keras.layers.Dense(4), keras.layers.Dense(8)",
                               "self.enc = keras.layers.Dense(4)\n        self.dec = keras.layers.Dense(8)"))["dense_units"] == (6, "4")
