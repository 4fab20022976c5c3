"""Every row of the bundled tables names something that exists in the installed Keras 3."""

from __future__ import annotations

import csv
import importlib
import inspect

import keras
import pytest

from optpar.metadata import bundled_paths, key_of, load_catalog

TABLE, KERAS1 = bundled_paths()


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def _resolve(path: str):
    obj = keras
    if path.startswith("Dataset."):  # tf.data.Dataset's methods: batch, padded_batch
        import tensorflow as tf

        obj = tf.data
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _signature_params(obj) -> list[inspect.Parameter]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    return [p for p in params if p.name != "self"]


TABLE_ROWS = _rows(TABLE)


@pytest.mark.parametrize("row", TABLE_ROWS, ids=lambda r: f"{r['Layer']}.{r['ParamName']}")
def test_row_matches_installed_keras(row):
    obj = _resolve(row["Layer"])
    params = _signature_params(obj)
    names = [p.name for p in params]
    assert row["ParamName"] in names, f"{row['Layer']} has no parameter {row['ParamName']!r}: {names}"
    index = names.index(row["ParamName"])
    param = params[index]
    assert param.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    if row["Layer"].startswith("Model."):
        assert row["ParamOrder"] == "", "Model.fit/compile rows are matched by keyword only"
    else:
        assert row["ParamOrder"] != "", "a constructor/function row needs its ParamOrder"
        assert int(row["ParamOrder"]) == index
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def _default(row):
    obj = _resolve(row["Layer"])
    return next(p for p in _signature_params(obj) if p.name == row["ParamName"]).default


def _anchorable(row) -> bool:
    """Rows whose Keras default is a literal the row can anchor on (not required, not None,
    not 0 for a range relative to the value)."""
    default = _default(row)
    if default is inspect.Parameter.empty or default is None:
        return False
    return not (default == 0 and row["Base"] == "rel")


DEFAULT_ROWS = [r for r in TABLE_ROWS if _anchorable(r)]


@pytest.mark.parametrize("row", DEFAULT_ROWS, ids=lambda r: f"{r['Layer']}.{r['ParamName']}")
def test_keras_default_value_is_tunable_by_its_row(row):
    """A user who writes the Keras default explicitly gets a search space containing it."""
    from optpar.space import anchor

    default = _default(row)
    space = anchor(load_catalog().row(key_of(row["Layer"]), row["ParamName"]), default)
    scalar = default[0] if isinstance(default, tuple) else default
    assert space is not None and space.contains(scalar)


def test_table_covers_the_documented_calls():
    keys = {(r["Layer"], r["ParamName"]) for r in TABLE_ROWS}
    required = [
        ("layers.Dense", "units"), ("layers.Dense", "activation"),
        ("layers.Conv2D", "filters"), ("layers.Conv2D", "kernel_size"),
        ("layers.DepthwiseConv2D", "depth_multiplier"), ("layers.MaxPooling2D", "pool_size"),
        ("layers.Dropout", "rate"), ("layers.SpatialDropout2D", "rate"),
        ("layers.BatchNormalization", "momentum"), ("layers.LayerNormalization", "epsilon"),
        ("layers.Embedding", "output_dim"), ("layers.LSTM", "recurrent_dropout"),
        ("layers.MultiHeadAttention", "num_heads"), ("layers.LeakyReLU", "negative_slope"),
        ("regularizers.l2", "l2"), ("regularizers.L1L2", "l1"),
        ("optimizers.SGD", "momentum"), ("optimizers.AdamW", "weight_decay"),
        ("optimizers.schedules.ExponentialDecay", "initial_learning_rate"),
        ("Model.compile", "optimizer"), ("Model.fit", "epochs"), ("Model.fit", "batch_size"),
        ("callbacks.EarlyStopping", "patience"),
    ]
    assert [k for k in required if k not in keys] == []
    assert ("layers.Embedding", "input_dim") not in keys


KERAS1_ROWS = _rows(KERAS1)


@pytest.mark.parametrize("rule", [r for r in KERAS1_ROWS if r["Layer"] != "models.Model"],
                         ids=lambda r: f"{r['Code']}-{r['Old']}")
def test_keras1_rule_targets_exist(rule):
    if rule["Layer"].endswith("*"):
        prefix = rule["Layer"][:-2]
        assert prefix == "" or _resolve(prefix) is not None
        return
    names = [p.name for p in _signature_params(_resolve(rule["Layer"]))]
    assert rule["New"] in names or rule["New"] == ""  # no New: the argument is removed
    assert rule["Old"] not in names, "the old name must really be gone in Keras 3"


def test_keras1_model_arguments_are_refused_and_their_new_names_build_the_model():
    """keras.Model takes `*args, **kwargs` (a functional model's), so its rows are tried for real."""
    rows = {r["Old"]: r["New"] for r in KERAS1_ROWS if r["Layer"] == "models.Model"}
    assert rows == {"input": "inputs", "output": "outputs"}
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1)(inputs)
    assert keras.Model(**{rows["input"]: inputs, rows["output"]: outputs}).output_shape == (None, 1)
    with pytest.raises((TypeError, ValueError)):
        keras.Model(input=inputs, output=outputs)


ROLE_ROWS = _rows(TABLE.with_name("roles.csv"))
KERAS1_OLD = {r["Old"] for r in KERAS1_ROWS}


@pytest.mark.parametrize("row", [r for r in ROLE_ROWS if r["Position"] and r["Role"] != "keras2_position"],
                         ids=lambda r: f"{r['Role']}-{r['Layer']}.{r['Name']}")
def test_role_position_is_the_parameters_real_position(row):  # keras2_position rows: Keras 2's, tested below
    names = [p.name for p in _signature_params(_resolve(row["Layer"]))]
    assert names.index(row["Name"]) == int(row["Position"])


@pytest.mark.parametrize("row", [r for r in ROLE_ROWS if r["Role"] in ("model_method", "output_layer")],
                         ids=lambda r: f"{r['Role']}-{r['Layer']}.{r['Name']}")
def test_role_names_what_keras_has(row):
    obj = _resolve(row["Layer"])
    if row["Name"]:  # a method's keyword, or a Keras 1 one keras1.csv warns about
        assert row["Name"] in [p.name for p in _signature_params(obj)] or row["Name"] in KERAS1_OLD


def test_width_and_activation_roles_are_catalog_parameters():
    catalog = load_catalog()
    params = {param for rows in catalog.table.values() for param in rows}
    assert catalog.roles.width | catalog.roles.activation <= params


KERAS2_ROWS = _rows(TABLE.with_name("keras2.csv"))


@pytest.mark.parametrize("row", [r for r in KERAS2_ROWS if r["Old"].startswith("backend.")], ids=lambda r: r["Old"])
def test_a_moved_backend_function_is_gone_from_the_backend_and_in_ops(row):
    old, new = row["Old"].split(".")[1], row["New"].split(".")[1]
    assert not hasattr(keras.backend, old), f"keras.backend.{old} still exists: no need to rewrite it"
    assert callable(getattr(keras.ops, new, None)), f"keras.ops has no {new}"


def test_a_history_key_keras3_logs_is_the_new_one(tmp_path):
    renamed = load_catalog().moved("history")
    assert renamed
    x = keras.ops.convert_to_numpy(keras.random.uniform((8, 2), seed=0))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, x[:, :1], epochs=1, verbose=0,
                        callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)])
    for old, new in renamed.items():
        assert new in history.history and old not in history.history


@pytest.mark.parametrize("name", sorted(name for _, name in load_catalog().roles.list_only))
def test_a_list_only_argument_rejects_a_string(name):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=f"Expected `{name}` argument to be a list"):
        model.compile(optimizer="sgd", loss="mse", **{name: "mae"})


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("module").items()))
def test_a_moved_module_is_gone_and_its_new_home_imports(old, new):
    for head in ("keras.", "tensorflow.keras."):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(head + old)
    importlib.import_module("keras." + new)


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("method").items()))
def test_a_renamed_model_method_is_gone_and_its_new_name_is_a_method(old, new):
    assert not hasattr(keras.Model, old) and callable(getattr(keras.Model, new, None))


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("layer").items()))
def test_a_dropped_layer_class_is_gone_and_its_new_name_is_a_layer_taking_its_arguments(old, new):
    assert not hasattr(keras.layers, old)
    layer = getattr(keras.layers, new)(4, return_sequences=True, go_backwards=True, stateful=False,
                                       kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal")
    assert isinstance(layer, keras.layers.Layer)


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("legacy").items()))
def test_a_legacy_name_is_gone_from_keras3_and_tensorflow_keras_holds_it(old, new):
    module, _, name = old.rpartition(".")
    try:
        assert not hasattr(importlib.import_module("keras." + module), name)
    except ModuleNotFoundError:
        pass  # keras.preprocessing.text: the whole module is gone
    new_module, _, new_name = new.rpartition(".")
    assert hasattr(importlib.import_module("tensorflow." + new_module), new_name)
    for kept in dir(_keras3_module(module)):  # the statement's other names import from there too
        assert kept.startswith("_") or hasattr(importlib.import_module("tensorflow." + new_module), kept)


def _keras3_module(module):
    try:
        return importlib.import_module("keras." + module)
    except ModuleNotFoundError:
        return None


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("metric").items()))
def test_two_names_of_a_metric_are_one_metric_logged_as_compiled(old, new):
    x = keras.ops.convert_to_numpy(keras.random.uniform((8, 2), seed=0))
    y = (x[:, :1] > 0.5).astype("float32")
    for name in (old, new):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[name])
        logged = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25).history
        assert name in logged and f"val_{name}" in logged
    if old != "acc":  # compile() reads 'acc' and 'accuracy' by the loss; keras.metrics.get knows the others
        assert type(keras.metrics.get(old)) is type(keras.metrics.get(new))


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("padding").items()))
def test_a_padding_keras3_takes_only_in_lower_case(old, new):
    x = keras.Input((4, 1))
    with pytest.raises(ValueError, match="padding"):  # a pooling layer fails when called on a model's input
        keras.layers.MaxPooling1D(2, padding=old)(x)
    keras.layers.MaxPooling1D(2, padding=new)(x)


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("optimizer").items()))
def test_an_optimizer_attribute_keras3_renamed_holds_the_same_value(old, new):
    optimizer = keras.optimizers.SGD(0.25)  # exact in float32
    assert not hasattr(optimizer, old) and float(getattr(optimizer, new)) == 0.25


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("variable").items()))
def test_a_backend_write_keras3_dropped_is_the_variables_method(old, new):
    import tensorflow as tf

    assert not hasattr(keras.backend, old)
    keras2, keras3 = tf.Variable(2.0), keras.Variable(2.0)
    getattr(tf.keras.backend, old)(keras2, 1.0)  # TensorFlow's Keras 2 backend, on its own variable
    getattr(keras3, new)(1.0)
    assert float(keras3.numpy()) == float(keras2.numpy())


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("metric_object").items()))
def test_a_metric_method_keras3_renamed_resets_the_metric(old, new):
    metric = keras.metrics.Mean()
    assert not hasattr(metric, old)
    metric.update_state([1.0, 3.0])
    getattr(metric, new)()
    assert float(metric.result()) == 0.0 and float(metric.count) == 0.0


ALIAS_ROWS = [r for r in _rows(TABLE.with_name("roles.csv")) if r["Role"] == "class_alias"]


@pytest.mark.parametrize("row", ALIAS_ROWS, ids=lambda r: r["Layer"])
def test_a_class_alias_is_the_class_it_names(row):
    module, _, alias = row["Layer"].rpartition(".")
    named = getattr(_resolve(module), row["Name"])
    assert getattr(_resolve(module), alias) is named and named.__name__ == row["Name"]


def test_every_second_name_of_a_keras_layer_has_an_alias_row():
    rows = {(r["Layer"], r["Name"]) for r in ALIAS_ROWS}
    for name in dir(keras.layers):
        cls = getattr(keras.layers, name)
        if inspect.isclass(cls) and name != cls.__name__ and hasattr(keras.layers, cls.__name__):
            assert (f"layers.{name}", cls.__name__) in rows


@pytest.mark.parametrize("row", [r for r in ROLE_ROWS if r["Role"] == "python_int"], ids=lambda r: f"{r['Layer']}.{r['Name']}")
def test_a_size_keras3_takes_only_as_a_python_int_refuses_a_numpy_one(row):
    import numpy as np

    layer = _resolve(row["Layer"])
    others = {"Embedding": {"input_dim": 10, "output_dim": 4}, "MultiHeadAttention": {"key_dim": 4}}.get(
        row["Layer"].split(".")[-1], {})
    with pytest.raises((ValueError, TypeError)):
        layer(**{**others, row["Name"]: np.int64(4)})
    layer(**{**others, row["Name"]: int(np.int64(4))})


@pytest.mark.parametrize("row", [r for r in ROLE_ROWS if r["Role"] == "shape_tuple"], ids=lambda r: f"{r['Layer']}.{r['Name']}")
def test_a_shape_keras3_takes_only_as_a_tuple_refuses_an_int(row):
    import warnings

    make = _resolve(row["Layer"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # InputLayer(input_shape=) is deprecated, and still taken
        with pytest.raises(ValueError, match="shape"):
            make(**{row["Name"]: 3})
        made = [make(**{row["Name"]: (3,)})] + ([make((3,))] if row["Position"] else [])
    for tensor in made:  # Input gives a tensor; InputLayer a layer holding it
        assert tuple(getattr(tensor, "output", tensor).shape) == (None, 3)


def test_a_weights_keras2_parameters_are_keywords_of_keras3s_add_weight():
    """Each keras2_position row names a keyword Keras 3's add_weight takes (the fix names each
    argument by it); the layer_method row says add_variable becomes add_weight, whose initializer
    defaults as Keras 2's did."""
    import numpy as np

    rows = [r for r in ROLE_ROWS if r["Role"] == "keras2_position"]
    assert rows and {r["Layer"] for r in rows} == {"Layer.add_weight", "Layer.add_variable"}
    renamed = load_catalog().moved("layer_method")
    assert renamed == {"add_variable": "add_weight"}
    params = inspect.signature(keras.layers.Layer.add_weight).parameters
    assert {r["Name"] for r in rows} <= set(params)
    layer = keras.layers.Dense(2)
    weight = layer.add_weight(**{"name": "w", "shape": (2, 3), "dtype": "float32", "trainable": True})
    assert tuple(weight.shape) == (2, 3) and float(np.abs(np.asarray(weight)).sum()) > 0  # glorot, not zeros
    with pytest.raises((TypeError, ValueError)):
        keras.layers.Dense(2).add_weight("w", (2, 3))  # Keras 2's order


@pytest.mark.parametrize("row", [r for r in ROLE_ROWS if r["Role"] == "step_count"], ids=lambda r: f"{r['Layer']}.{r['Name']}")
def test_a_count_of_steps_is_a_parameter_of_its_method_and_refuses_a_float(row):
    import numpy as np

    method = row["Layer"].split(".")[1]
    assert row["Name"] in inspect.signature(getattr(keras.Model, method)).parameters
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), dtype="float32")
    data = {"fit": dict(x=x, y=x[:, :1], validation_data=(x, x[:, :1])), "evaluate": dict(x=x, y=x[:, :1]),
            "predict": dict(x=x)}[method]
    with pytest.raises(TypeError):
        getattr(model, method)(**data, verbose=0, **{row["Name"]: 1.5})
    getattr(model, method)(**data, verbose=0, **{row["Name"]: 1})


# The arguments each keras.ops twin is called with, positionally as TensorFlow takes them too.
_TF_OP_ARGS = {
    "concatenate": lambda x: ([x, x], 1), "stack": lambda x: ([x, x], 1), "reshape": lambda x: (x, (4, 3)),
    "expand_dims": lambda x: (x, 1), "squeeze": lambda x: (x[:, :1], 1), "transpose": lambda x: (x, (1, 0)),
    "matmul": lambda x: (x, _t(x)), "cast": lambda x: (x, "int32"),
    "clip": lambda x: (x, 0.2, 0.5), "shape": lambda x: (x,),
    **{name: (lambda x: (x, 2.0 * x)) for name in ("add", "subtract", "multiply", "maximum", "minimum")},
    **{name: (lambda x: (x, 1)) for name in ("mean", "sum", "max", "min", "prod", "softmax", "log_softmax")},
}


def _t(x):
    import numpy as np

    return np.ascontiguousarray(np.asarray(x).T)


@pytest.mark.parametrize("old, new", sorted(load_catalog().moved("tf_op").items()))
def test_a_tensorflow_function_and_its_keras_ops_twin_compute_the_same(old, new):
    import numpy as np
    import tensorflow as tf

    function = tf
    for part in old.split("."):
        function = getattr(function, part)
    x = np.linspace(0.1, 1.2, 12, dtype="float32").reshape(3, 4)
    args = _TF_OP_ARGS.get(new, lambda x: (x,))(x)
    expected = function(*args)
    got = getattr(keras.ops, new)(*args)
    if new == "shape":
        assert tuple(got) == tuple(int(n) for n in expected)
    else:
        assert np.allclose(keras.ops.convert_to_numpy(got), np.asarray(expected), rtol=1e-5, atol=1e-6)


def test_a_tensorflow_function_refuses_a_keras_tensor_and_its_twin_takes_it():
    import tensorflow as tf

    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="KerasTensor cannot be used as input to a TensorFlow function"):
        tf.concat([inputs, inputs], axis=-1)
    assert tuple(keras.ops.concatenate([inputs, inputs], axis=-1).shape) == (None, 8)


def test_keras3_saves_make_no_folder_but_a_checkpoint_callback_makes_its_own(tmp_path):
    """What OPT224's folder note says: `save_weights` and `save` write only into a folder that
    exists (TensorFlow's checkpoint and SavedModel writers made theirs); ModelCheckpoint makes it."""
    import numpy as np

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(OSError):
        model.save_weights(str(tmp_path / "checkpoints" / "w.weights.h5"))
    with pytest.raises(OSError):
        model.save(str(tmp_path / "saved_model" / "m.keras"))
    callback = keras.callbacks.ModelCheckpoint(str(tmp_path / "training_1" / "cp.weights.h5"), save_weights_only=True)
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[callback])
    assert (tmp_path / "training_1" / "cp.weights.h5").is_file()


def test_predict_classes_is_gone_and_the_argmax_of_predict_is_one_class_per_row():
    """OPT225's rewrite of `predict_classes` on a per-class output: Keras 2 took the argmax over
    the last axis, so a row's class is its most probable unit, for each row."""
    import numpy as np

    assert not hasattr(keras.Model, "predict_classes") and not hasattr(keras.Model, "predict_proba")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    x = np.random.default_rng(0).random((5, 3)).astype("float32")
    proba = model.predict(x, verbose=0)
    classes = model.predict(x, verbose=0).argmax(axis=-1)
    assert classes.shape == (5,) and all(proba[i, classes[i]] == proba[i].max() for i in range(5))
