"""What `optpar scan` finds: the matcher's rules, one source string at a time (no Keras import)."""
from __future__ import annotations


import pytest

from conftest import analyze_text, site_map
from optpar.errors import UserError


def ids(text: str) -> list[str]:
    return [site.id for site in analyze_text(text).sites]


def codes(text: str) -> list[str]:
    return [d.code for d in analyze_text(text).diagnostics]


# -- import styles ---------------------------------------------------------------------------

IMPORT_STYLES = [
    ("import keras", "keras.layers.Dense"),
    ("from keras import layers", "layers.Dense"),
    ("from keras.layers import Dense", "Dense"),
    ("import tensorflow as tf", "tf.keras.layers.Dense"),
    ("from tensorflow import keras", "keras.layers.Dense"),
    ("from tensorflow.keras import layers", "layers.Dense"),
    ("from tensorflow.keras.layers import Dense", "Dense"),
    ("from keras import layers as L", "L.Dense"),
    ("import keras.layers as KL", "KL.Dense"),
    ("import keras as K", "K.layers.Dense"),
]


@pytest.mark.parametrize("imports, dense", IMPORT_STYLES)
def test_dense_found_under_every_import_style(imports, dense):
    sites = site_map(f'{imports}\nhidden = {dense}(128, activation="relu")\n')
    assert set(sites) == {"dense_units", "dense_activation"}
    assert sites["dense_units"].call == "keras.layers.Dense"
    assert sites["dense_units"].default == 128
    assert sites["dense_units"].kind == "int"
    assert sites["dense_activation"].default == "relu"
    assert sites["dense_activation"].kind == "categorical"


@pytest.mark.parametrize("imports, adam", [
    ("import keras.optimizers as O", "O.Adam"),
    ("from keras.optimizers import Adam", "Adam"),
    ("from keras import optimizers", "optimizers.Adam"),
    ("import tensorflow as tf", "tf.keras.optimizers.Adam"),
    ("from tensorflow.keras.optimizers import Adam as A", "A"),
])
def test_optimizer_found_under_aliases(imports, adam):
    sites = site_map(f"{imports}\nopt = {adam}(learning_rate=1e-3)\n")
    assert list(sites) == ["adam_learning_rate"]
    site = sites["adam_learning_rate"]
    assert site.value == "1e-3" and site.default == 0.001 and site.kind == "float"
    assert site.space.low < 0.001 < site.space.high


def test_unrelated_module_with_keras_like_names_is_not_keras():
    text = "import keras\nimport mylib.layers as layers\nhidden = layers.Dense(128)\n"
    assert ids(text) == []


# -- positional vs keyword ---------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    'Dense(128, "relu")',
    'Dense(units=128, activation="relu")',
    'Dense(128, activation="relu")',
    'Dense(activation="relu", units=128)',
])
def test_positional_and_keyword_arguments_are_the_same_site(call):
    sites = site_map(f"from keras.layers import Dense\nh = {call}\n")
    assert {k: s.default for k, s in sites.items()} == {"dense_units": 128, "dense_activation": "relu"}
    assert {s.param for s in sites.values()} == {"units", "activation"}


# -- tuples ------------------------------------------------------------------------------------

@pytest.mark.parametrize("arg", ["kernel_size=(3, 3)", "(3, 3)", "kernel_size=(3,3)"])
def test_square_kernel_is_one_value(arg):
    site = site_map(f"from keras.layers import Conv2D\nc = Conv2D(32, {arg})\n")["conv2d_kernel_size"]
    assert site.default == 3
    assert site.tuple_size == 2
    assert site.value.replace(" ", "") == "(3,3)"
    assert site.kind == "int"


@pytest.mark.parametrize("arg", ["kernel_size=(3, 5)", "(5, 3)", "kernel_size=(3, 3, 3)"])
def test_non_square_kernel_is_not_tuned(arg):
    sites = site_map(f"from keras.layers import Conv2D\nc = Conv2D(32, {arg})\n")
    assert "conv2d_kernel_size" not in sites
    assert "conv2d_filters" in sites


def test_scalar_kernel_size_is_tuned_as_scalar():
    site = site_map("from keras.layers import Conv2D\nc = Conv2D(32, kernel_size=3)\n")["conv2d_kernel_size"]
    assert site.tuple_size == 0 and site.default == 3


# -- inline objects and variables ---------------------------------------------------------------

def test_inline_activation_object():
    sites = site_map(
        "import keras\n"
        "h = keras.layers.Dense(16, activation=keras.layers.LeakyReLU(negative_slope=0.1))\n"
    )
    assert set(sites) == {"dense_units", "leaky_re_lu_negative_slope"}
    assert sites["leaky_re_lu_negative_slope"].default == 0.1
    assert sites["leaky_re_lu_negative_slope"].call == "keras.layers.LeakyReLU"


def test_inline_optimizer_in_compile():
    sites = site_map(
        "from keras.optimizers import Adam\n"
        'model.compile(optimizer=Adam(learning_rate=1e-3), loss="mse", metrics=["mae"])\n'
    )
    assert list(sites) == ["adam_learning_rate"]
    assert sites["adam_learning_rate"].line == 2


def test_layer_in_a_variable_is_tuned_at_its_definition():
    text = ("from keras.layers import Dense, ReLU\n"
            "actv = ReLU(negative_slope=0.1)\n"
            "x = Dense(16)(inputs)\n"
            "x = actv(x)\n")
    site = site_map(text)["re_lu_negative_slope"]
    assert site.line == 2
    assert site.value == "0.1"


# -- module constants -------------------------------------------------------------------------

def test_constant_used_in_fit_is_one_site_at_its_definition():
    text = ("import keras\n"
            "EPOCHS = 15\n"
            "\n"
            "model.fit(x, y, epochs=EPOCHS, batch_size=32)\n")
    sites = site_map(text)
    assert set(sites) == {"epochs", "fit_batch_size"}
    site = sites["epochs"]
    assert site.line == 2 and site.col == len("EPOCHS = ") + 1
    assert site.constant == "EPOCHS"
    assert site.default == 15 and site.value == "15"
    assert site.code == "OPT102"


def test_constants_unpacked_from_a_tuple_are_sites_at_their_elements():
    text = ("import keras\n"
            "n_epoch, batch = 100, 32  # hyper-parameters\n"
            "model.fit(x, y, epochs=n_epoch, batch_size=batch)\n")
    sites = site_map(text)
    assert set(sites) == {"n_epoch", "batch"}
    assert (sites["n_epoch"].line, sites["n_epoch"].col, sites["n_epoch"].value) == (2, 18, "100")
    assert (sites["batch"].line, sites["batch"].col, sites["batch"].default) == (2, 23, 32)


def test_an_unpacked_constant_bound_again_or_shaping_data_is_not_tuned():  # no-op
    text = ("import keras\n"
            "img_rows, img_cols = 28, 28\n"
            "n_epoch, batch = 100, 32\n"
            "batch = 64\n"
            "x = x.reshape(-1, img_rows, img_cols, 1)\n"
            "model.fit(x, y, epochs=n_epoch, batch_size=batch)\n")
    assert ids(text) == ["n_epoch"]


def test_constant_used_twice_is_one_hyperparameter():
    text = ("from keras import layers, models\n"
            "HIDDEN = 128\n"
            "model = models.Sequential([\n"
            "    layers.Dense(HIDDEN, activation='relu'),\n"
            "    layers.Dense(HIDDEN, activation='relu'),\n"
            "    layers.Dense(1),\n"
            "])\n")
    found = ids(text)
    assert found.count("hidden") == 1
    assert site_map(text)["hidden"].line == 2
    assert not any("units" in i for i in found)


def test_constant_assigned_twice_is_not_tuned():
    text = ("import keras\n"
            "EPOCHS = 15\n"
            "EPOCHS = 30\n"
            "model.fit(x, y, epochs=EPOCHS)\n")
    assert ids(text) == []


def test_constant_used_by_the_output_layer_is_not_tuned():
    text = ("from keras import layers, models\n"
            "NUM_CLASSES = 10\n"
            "model = models.Sequential([layers.Dense(64), layers.Dense(NUM_CLASSES)])\n")
    assert ids(text) == ["dense_units"]


def test_constant_reassigned_in_a_function_is_not_tuned():
    text = ("import keras\n"
            "EPOCHS = 15\n"
            "def f():\n"
            "    EPOCHS = 3\n"
            "    model.fit(x, y, epochs=EPOCHS)\n")
    assert "epochs" not in ids(text)


# -- never tuned -------------------------------------------------------------------------------

def test_output_layer_of_sequential_list_is_not_tuned():
    text = ("import keras\n"
            "model = keras.Sequential([\n"
            "    keras.layers.Dense(64, activation='relu'),\n"
            "    keras.layers.Dense(10, activation='relu'),\n"
            "])\n")
    sites = site_map(text)
    assert set(sites) == {"dense_units", "dense_activation"}
    assert all(s.line == 3 for s in sites.values())


def test_last_model_add_layer_and_trailing_activation_are_output():
    text = ("from keras.layers import Activation, Dense\n"
            "from keras.models import Sequential\n"
            "model = Sequential()\n"
            "model.add(Dense(64, activation='relu'))\n"
            "model.add(Dense(10))\n"
            "model.add(Activation('relu'))\n")
    sites = site_map(text)
    assert [s.line for s in sites.values()] == [4, 4]


def test_softmax_activation_after_the_last_dense():
    text = ("from keras.layers import Activation, Dense\n"
            "from keras.models import Sequential\n"
            "model = Sequential()\n"
            "model.add(Dense(64))\n"
            "model.add(Activation('relu'))\n"
            "model.add(Dense(10))\n"
            "model.add(Activation('softmax'))\n")
    sites = site_map(text)
    assert {s.line for s in sites.values()} == {4, 5}
    assert "dense_1_units" not in sites


def test_functional_output_layer_is_not_tuned():
    text = ("import keras\n"
            "inputs = keras.Input(shape=(8,))\n"
            "x = keras.layers.Dense(64, activation='relu')(inputs)\n"
            "x = keras.layers.Dropout(0.5)(x)\n"
            "outputs = keras.layers.Dense(3, activation='relu')(x)\n"
            "model = keras.Model(inputs, outputs)\n")
    sites = site_map(text)
    assert set(sites) == {"dense_units", "dense_activation", "dropout_rate"}
    assert {s.line for s in sites.values()} == {3, 4}


def test_functional_output_given_by_keyword():
    text = ("import keras\n"
            "inputs = keras.Input(shape=(8,))\n"
            "h = keras.layers.Dense(64)(inputs)\n"
            "model = keras.Model(inputs=inputs, outputs=keras.layers.Dense(3)(h))\n")
    assert [s.line for s in analyze_text(text).sites] == [3]


def test_subclassed_model_returned_layer_is_not_tuned():
    text = ("import keras\n"
            "from keras import layers\n"
            "class Net(keras.Model):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.hidden = layers.Dense(32, activation='relu')\n"
            "        self.out = layers.Dense(3, activation='relu')\n"
            "    def call(self, x):\n"
            "        return self.out(self.hidden(x))\n")
    sites = site_map(text)
    assert {s.line for s in sites.values()} == {6}


@pytest.mark.parametrize("returned, output_tuned", [
    ("x = self.out(self.hidden(x))\n        prob = tf.sigmoid(x)\n        return prob", False),
    ("return tf.nn.softmax(self.out(self.hidden(x)))", False),
    ("return keras.ops.sigmoid(self.out(self.hidden(x)))", False),
    # a sum is the output too: each term must have the output's width (the labels')
    ("return self.out(self.hidden(x)) + other(x)", False),
])
def test_a_subclass_returning_a_function_of_its_last_layer_keeps_that_layer(returned, output_tuned):
    """wqf-c/tfLearn: `x = self.outlayer(x); prob = tf.sigmoid(x); return prob` with a binary
    cross-entropy: Dense(1) is the output, and units 2 or 4 fail every such trial."""
    text = ("import keras\nimport tensorflow as tf\nfrom keras import layers\n"
            "class Net(keras.Model):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.hidden = layers.Dense(32, activation='relu')\n"
            "        self.out = layers.Dense(1)\n"
            "    def call(self, x):\n"
            f"        {returned}\n")
    assert {s.line for s in site_map(text).values()} == ({7, 8} if output_tuned else {7})


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "linear"])
def test_output_activations_are_never_tuned(activation):
    # Nor the width of a layer that has one: it is an output layer wherever it is.
    text = f"from keras.layers import Dense\nh = Dense(64, activation='{activation}')\n"
    assert ids(text) == []
    assert ids(text.replace(f"'{activation}'", "'relu'")) == ["dense_units", "dense_activation"]


def test_loss_metrics_name_padding_and_input_shape_are_not_tuned():
    text = ("import keras\n"
            "from keras import layers\n"
            "inputs = keras.Input(shape=(28, 28, 1), name='img')\n"
            "c = layers.Conv2D(32, 3, padding='same', name='conv', input_shape=(28, 28, 1))\n"
            "model.compile(optimizer='adam', loss='mse', metrics=['mae'])\n")
    sites = site_map(text)
    assert {s.param for s in sites.values()} <= {"filters", "kernel_size", "optimizer"}
    values = {s.value for s in sites.values()}
    assert not values & {"'same'", "'mse'", "'img'", "'conv'", "(28, 28, 1)"}


def test_users_own_dense_class_is_not_keras():
    text = ("import keras\n"
            "class Dense:\n"
            "    def __init__(self, units):\n"
            "        self.units = units\n"
            "h = Dense(128)\n")
    assert ids(text) == []


def test_users_own_dense_function_shadows_a_keras_import():
    text = ("from keras.layers import Dense\n"
            "def Dense(units, activation=None):\n"
            "    return units\n"
            "h = Dense(128, activation='relu')\n")
    assert ids(text) == []


def test_re_compile_and_sklearn_fit_are_not_keras():
    text = ("import re\n"
            "import keras\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "pattern = re.compile('a+', flags=0)\n"
            "clf = LogisticRegression(C=1.0, max_iter=200)\n"
            "clf.fit(X, y)\n")
    analysis = analyze_text(text)
    assert analysis.sites == ()
    assert analysis.fit is None


def test_user_class_with_fit_method_is_not_a_keras_model():
    text = ("import keras\n"
            "class Trainer:\n"
            "    def fit(self, x, epochs=1, batch_size=8):\n"
            "        pass\n"
            "t = Trainer()\n"
            "t.fit(x, epochs=10, batch_size=32)\n")
    assert ids(text) == []


HYPERMODEL = ("import keras\n"
              "import keras_tuner as kt\n"
              "class MyHyperModel(kt.HyperModel):\n"
              "    def fit(self, hp, model, x, y, **kwargs):\n"
              "        return model.fit(x, y, **kwargs)\n"
              "{model}\n"
              "model.compile(optimizer='adam', loss='mse')\n"
              "model.fit(x, y, epochs=10, batch_size=32)\n")


@pytest.mark.parametrize("made", [
    "model = keras.Sequential([keras.layers.Dense(8)])",
    "model = keras.models.load_model('m.keras')",
    "class Net(keras.Model):\n    pass\nmodel = Net()\nmodel = keras.Sequential([keras.layers.Dense(8)])",
])
def test_a_model_keras_made_fits_beside_a_class_with_its_own_fit(made):
    # Hands-On ML's chapter 10: a KerasTuner HyperModel with a fit() hid every model.fit of the notebook
    analysis = analyze_text(HYPERMODEL.format(model=made))
    assert analysis.fit is not None and analysis.fit.span.line == HYPERMODEL.format(model=made).count("\n")
    assert {"compile_optimizer", "fit_epochs"} <= set(ids(HYPERMODEL.format(model=made)))


@pytest.mark.parametrize("made", [
    "model = make_model()",  # could be anything: the class's fit stays possible
    "model = keras.Sequential()\nmodel = MyHyperModel()",
    "model = keras.Sequential()\nfor model in models:\n    pass",
])
def test_a_receiver_not_surely_keras_made_is_left_alone(made):
    analysis = analyze_text(HYPERMODEL.format(model=made))
    assert analysis.fit is None and "fit_epochs" not in ids(HYPERMODEL.format(model=made))


@pytest.mark.parametrize("made, found", [
    ("model = keras.Sequential([keras.layers.Dense(8)])", True),
    ("model = keras.models.load_model('m.keras')", True),
    ("class Net(keras.Model):\n    pass\nmodel = Net()", True),
    ("model = make_model()", False),  # no keyword of Keras's fit, and a model nobody can tell: left
    ("model = keras.Sequential()\nmodel = Pipeline()", False),
])
def test_a_fit_with_no_keyword_is_keras_s_on_a_model_keras_made(made, found):
    """`model.fit(train_dataset())` (Packt's Hands-On Neural Networks with TensorFlow 2.0): no
    keyword tells Keras's fit from another library's, but the model is Keras's own. Before, such a
    program was refused ("no Keras fit() call found")."""
    text = f"import keras\n{made}\nmodel.compile(optimizer='adam', loss='mse')\nmodel.fit(train_dataset())\n"
    analysis = analyze_text(text)
    assert (analysis.fit is not None) == found
    if found:
        assert analysis.fit.span.line == text.count("\n")


def test_file_without_keras_has_no_sites():
    text = ("from sklearn.linear_model import LogisticRegression\n"
            "clf = LogisticRegression(C=1.0)\n"
            "clf.fit(X, y, epochs=10)\n"
            "Dense = lambda units: units\n"
            "h = Dense(128)\n")
    analysis = analyze_text(text)
    assert analysis.sites == () and not analysis.uses_keras


# -- Keras 1 diagnostics ----------------------------------------------------------------------

@pytest.mark.parametrize("line, code", [
    ("m.add(Conv2D(32, 3, 3))", "OPT201"),
    ("opt = SGD(lr=0.01)", "OPT202"),
    ("m.fit(x, y, nb_epoch=10)", "OPT203"),
    ("m.add(Conv2D(32, 3, border_mode='same'))", "OPT204"),
    ("m.add(Dense(64, init='he_normal'))", "OPT205"),
    ("m.add(Dense(output_dim=64))", "OPT206"),
])
def test_keras1_idioms_are_diagnosed(line, code):
    text = ("from keras.layers import Conv2D, Dense, Embedding\n"
            "from keras.optimizers import SGD\n"
            f"{line}\n")
    analysis = analyze_text(text)
    assert [d.code for d in analysis.diagnostics] == [code]
    diag = analysis.diagnostics[0]
    assert diag.line == 3 and diag.col >= 1


def test_output_dim_of_embedding_is_keras3_and_not_diagnosed():
    text = "from keras.layers import Embedding\ne = Embedding(50, output_dim=16)\n"
    analysis = analyze_text(text)
    assert analysis.diagnostics == ()
    assert site_map(text)["embedding_output_dim"].default == 16


def test_keras3_conv2d_has_no_diagnostic():
    text = "from keras.layers import Conv2D\nc = Conv2D(32, (3, 3), strides=1)\n"
    assert codes(text) == []


# -- ids ----------------------------------------------------------------------------------------

MODEL = """\
import keras
from keras import layers

model = keras.Sequential([
    layers.Conv2D(32, (3, 3), activation="relu"),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.Flatten(),
    layers.Dense(128, activation="relu"),
    layers.Dense(64, activation="relu", name="encoder"),
    layers.Dense(32, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
model.fit(x, y, epochs=10, batch_size=32, validation_split=0.1)
"""


def test_readable_ids():
    assert ids(MODEL) == [
        "conv2d_filters", "conv2d_kernel_size", "conv2d_activation",
        "conv2d_1_filters", "conv2d_1_kernel_size", "conv2d_1_activation",
        "dense_units", "dense_activation",
        "encoder_units", "encoder_activation",
        "dense_1_units", "dense_1_activation",
        "adam_learning_rate", "fit_epochs", "fit_batch_size",
    ]


@pytest.mark.parametrize("where, line", [(3, "import numpy as np"),
                                        (4, "print('an unrelated line')"),
                                        (13, "# a comment")])
def test_ids_are_stable_when_an_unrelated_line_is_inserted(where, line):
    lines = MODEL.splitlines(keepends=True)
    lines.insert(where - 1, line + "\n")
    before = [(s.id, s.value) for s in analyze_text(MODEL).sites]
    after = [(s.id, s.value) for s in analyze_text("".join(lines)).sites]
    assert after == before


def test_ids_are_unique():
    found = ids(MODEL)
    assert len(found) == len(set(found))


def test_site_spans_point_at_the_value(catalog):
    for site in analyze_text(MODEL).sites:
        line = MODEL.splitlines()[site.line - 1]
        assert line[site.col - 1:].startswith(site.value)


# -- # optpar: comments --------------------------------------------------------------------

BASE = """\
import keras
from keras import layers
model = keras.Sequential([
    layers.Dense(128, activation="relu"),{c1}
    layers.Dropout(0.3),{c2}
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(
    learning_rate=1e-3,{c3}
), loss="mse")
"""


def test_skip_comment_removes_the_sites_of_its_line():
    plain = ids(BASE.format(c1="", c2="", c3=""))
    skipped = ids(BASE.format(c1="  # optpar: skip", c2="", c3=""))
    assert "dense_units" in plain and "dense_activation" in plain
    assert skipped == [i for i in plain if not i.startswith("dense_")]


def test_choice_comment_sets_the_space():
    sites = site_map(BASE.format(c1="", c2="  # optpar: choice(0.1, 0.2)", c3=""))
    space = sites["dropout_rate"].space
    assert space.dist == "choice"
    assert set(space.options) == {0.1, 0.2, 0.3}  # the user's own value stays in the space


def test_log_range_comment_sets_the_space():
    sites = site_map(BASE.format(c1="", c2="", c3="  # optpar: range(1e-4, 1e-2, log)"))
    space = sites["adam_learning_rate"].space
    assert space.dist == "loguniform"
    assert (space.low, space.high) == (1e-4, 1e-2)


def test_comment_on_a_line_with_two_sites_controls_the_one_it_fits():
    # 16 and 32 are ints: only units=128 can take them (the user's 128 stays in the space).
    sites = site_map(BASE.format(c1="  # optpar: choice(16, 32)", c2="", c3=""))
    assert sites["dense_units"].space.options == (16, 32, 128)
    assert sites["dense_activation"].space.dist == "choice" and "tanh" in sites["dense_activation"].space.options


def test_comment_that_fits_two_sites_of_its_line_is_an_error():
    text = BASE.format(c1="", c2="", c3="").replace(
        'layers.Dense(128, activation="relu"),', 'layers.Dense(128), layers.Dense(64),  # optpar: range(8, 256)')
    with pytest.raises(UserError) as info:
        analyze_text(text)
    line = text.splitlines()[3]
    assert (info.value.line, info.value.col) == (4, line.index("#") + 1)
    assert "# optpar: units=range(8, 256)" not in str(info.value)  # both are `units`
    assert "line of its own" in str(info.value)


@pytest.mark.parametrize("comment", ["# optpar: choose(1, 2)", "# optpar: range(5)",
                                     "# optpar: range(0.5, 0.1)", "# optpar: choice(",
                                     "# optpar:", "# optpar: skip(1)"])
def test_malformed_comment_is_a_user_error_at_its_position(comment):
    text = BASE.format(c1="", c2="  " + comment, c3="")
    with pytest.raises(UserError) as info:
        analyze_text(text)
    line = text.splitlines()[4]
    assert info.value.line == 5
    assert info.value.col == line.index("#") + 1
    assert str(info.value).startswith("model.py:5:")


def test_choice_comment_on_a_constant_of_the_fit_call():
    text = ("import keras\n"
            "BATCH = 32  # optpar: choice(16, 32, 64)\n"
            "model.fit(x, y, batch_size=BATCH)\n")
    site = site_map(text)["batch"]
    assert site.space.dist == "choice" and set(site.space.options) == {16, 32, 64}


def test_comment_on_an_unused_constant_makes_a_site():
    text = ("import keras\n"
            "DROPOUT = 0.3  # optpar: range(0.1, 0.5)\n"
            "h = keras.layers.Dense(64)\n")
    site = site_map(text)["dropout"]
    assert site.default == 0.3 and site.line == 2 and site.value == "0.3"
    assert site.space.dist == "uniform" and (site.space.low, site.space.high) == (0.1, 0.5)


def test_comment_on_a_line_without_a_value_is_an_error():
    text = "import keras\nh = keras.layers.Dense(64)\nprint(h)  # optpar: skip(1)\n"
    with pytest.raises(UserError):
        analyze_text(text)
    with pytest.raises(UserError) as info:
        analyze_text("import keras\nh = keras.layers.Dense(64)\nprint(h)  # optpar: range(1, 2)\n")
    assert info.value.line == 3


def test_comment_in_a_string_is_not_a_directive():
    text = 'import keras\nh = keras.layers.Dense(64, name="# optpar: skip")\n'
    sites = analyze_text(text).sites
    assert [s.param for s in sites] == ["units"]  # a site, not skipped


def test_directives_through_analyze_path(tmp_path):
    from optpar.pipeline import analyze_path

    path = tmp_path / "model.py"
    path.write_text(BASE.format(c1="", c2="  # optpar: skip", c3=""), encoding="utf-8")
    assert "dropout_rate" not in [s.id for s in analyze_path(path).sites]
    path.write_text(BASE.format(c1="", c2="  # optpar: choice(0.3, 0.4", c3=""), encoding="utf-8")
    with pytest.raises(UserError) as info:
        analyze_path(path)
    assert info.value.path == str(path) and info.value.line == 5


# -- columns -------------------------------------------------------------------------------

def test_non_ascii_text_before_a_literal_gives_the_character_column():
    line = 'label = "größe→"; h = keras.layers.Dense(128)'
    text = f"import keras\n{line}\n"
    site = site_map(text)["dense_units"]
    assert site.col == line.index("128") + 1
    assert line[site.span.col:site.span.end_col] == "128"


def test_non_ascii_constant_with_a_comment_is_placed_at_the_character_column():
    line = 'DRÖPOUT_É = 0.3  # optpar: range(0.1, 0.5)'
    text = f"import keras\n{line}\nh = keras.layers.Dense(64)\n"
    site = site_map(text)["dröpout_é"]
    assert line[site.span.col:site.span.end_col] == "0.3"


def test_syntax_error_is_a_user_error():
    with pytest.raises(UserError) as info:
        analyze_text("import keras\nx = (\n")
    assert info.value.line >= 2

