"""tf.data batch sizes: `ds.batch(32)` is tuned where the dataset trains the measured fit() and
fit() has validation data of its own; a pipeline that only feeds evaluation, a fit() that would be
scored on held-out batches, and a `.batch` that is not a dataset's are left as written."""
from __future__ import annotations

import pytest

from conftest import analyze_text

PIPELINE = """\
import tensorflow as tf
import keras
import numpy as np

{constants}x = np.zeros((64, 4), "float32")
y = np.zeros((64,), "int32")
train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch({train})
train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
val_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch({val})
test_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch({test})
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=2{validation})
model.evaluate(test_ds)
"""


def batch_sites(text: str) -> dict[str, tuple[int, str, str]]:
    """{id: (line, value as written, call)} of the batch-size sites."""
    return {s.id: (s.line, s.value, s.call) for s in analyze_text(text).sites if s.param == "batch_size"}


def pipeline(constants="", train="32", val="256", test="128", validation=", validation_data=val_ds"):
    return PIPELINE.format(constants=constants, train=train, val=val, test=test, validation=validation)


def test_the_training_datasets_batch_size_is_tuned_not_the_validation_or_test_ones():
    assert batch_sites(pipeline()) == {"dataset_batch_size": (7, "32", "tf.data.Dataset.batch")}


def test_a_constant_shared_by_training_and_validation_is_one_site_at_its_definition():
    text = pipeline(constants="BATCH_SIZE = 64\n", train="BATCH_SIZE", val="BATCH_SIZE")
    assert batch_sites(text) == {"batch_size": (5, "64", "tf.data.Dataset.batch")}


@pytest.mark.parametrize("validation", ["", ", validation_split=0.2"])
def test_without_validation_data_no_batch_size_is_tuned(validation):  # no-op
    # optpar scores such a fit on whole batches it holds out: the batch size would change them.
    text = pipeline(validation=validation)
    assert batch_sites(text) == {}
    assert {s.id for s in analyze_text(text).sites} == {"compile_optimizer", "fit_epochs"}  # the rest as before


def test_padded_batch_and_a_helper_that_builds_the_training_pipeline():
    text = """\
import tensorflow as tf
import keras

BATCH_SIZE = 16


def prepare(ds, shuffle=False):
    if shuffle:
        ds = ds.shuffle(1000)
    return ds.padded_batch(BATCH_SIZE)


train_ds = prepare(tf.data.Dataset.range(10), shuffle=True)
val_ds = tf.data.Dataset.range(10).batch(64)
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(train_ds, epochs=2, validation_data=val_ds)
"""
    assert batch_sites(text) == {"batch_size": (4, "16", "tf.data.Dataset.padded_batch")}


@pytest.mark.parametrize("change", [
    ("import tensorflow as tf\n", "import tensorflow_probability as tfp\n"),  # no TensorFlow: not a tf.data .batch
    ("model = keras", "class Loader:\n    def batch(self, n):\n        return n\n\n\nmodel = keras"),
])
def test_a_batch_method_that_is_not_a_datasets_is_left_alone(change):  # no-op
    text = pipeline().replace("tf.data.Dataset.from_tensor_slices((x, y))", "Loader()").replace(*change)
    text = text.replace("tf.data.AUTOTUNE", "1")
    assert batch_sites(text) == {}


def test_a_module_function_named_batch_is_not_a_datasets():  # no-op
    text = pipeline(train="32").replace(
        "tf.data.Dataset.from_tensor_slices((x, y)).shuffle(64).batch(32)", "np.batch(32)")
    assert batch_sites(text) == {}


def test_image_folders_batch_size_follows_the_same_rules():
    text = """\
import keras

train_ds, val_ds = keras.utils.image_dataset_from_directory(
    "images", validation_split=0.2, subset="both", seed=1, batch_size=32)
model = keras.Sequential([keras.Input((256, 256, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=2{validation})
"""
    assert batch_sites(text.format(validation=", validation_data=val_ds")) == {
        "image_dataset_from_directory_batch_size": (4, "32", "keras.utils.image_dataset_from_directory")}
    assert batch_sites(text.format(validation="")) == {}


def test_the_rewrite_is_idempotent(tmp_path):
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(pipeline(constants="BATCH_SIZE = 64\n", train="BATCH_SIZE"), encoding="utf-8")
    refactored = generate(path).refactored
    assert 'BATCH_SIZE = params["batch_size"]' in refactored
    assert analyze_text(refactored, "again.py").sites == ()


def test_only_the_data_fit_trains_on_counts_in_its_own_scope_and_not_a_batch_undone_later():
    text = """\
import tensorflow as tf
import keras

ds = tf.data.Dataset.range(100)
packed_ds = ds.batch(10000).map(lambda x: x).unbatch()
for features in packed_ds.batch(1000).take(1):
    print(features)


def eval_input_fn():
    ds_train = tf.data.Dataset.range(10)
    return ds_train.batch(128)


ds_train = packed_ds.shuffle(100).batch(64)
ds_val = tf.data.Dataset.range(10).batch(64)
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(ds_train, epochs=2, validation_data=ds_val)
"""
    assert batch_sites(text) == {"dataset_batch_size": (15, "64", "tf.data.Dataset.batch")}


@pytest.mark.parametrize("module", ["keras.utils", "keras.preprocessing"])
def test_keras_ios_time_series_windows_batch_size(module):
    text = f"""\
import keras
import numpy as np

batch_size = 256
x = np.zeros((1000, 3), "float32")
train = {module}.timeseries_dataset_from_array(x[:800], x[5:805, 0], sequence_length=5, batch_size=batch_size)
val = {module}.timeseries_dataset_from_array(x[800:-5], x[805:, 0], sequence_length=5, batch_size=batch_size)
model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(32), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(train, epochs=2, validation_data=val)
"""
    call = f"keras.{module.split('.')[1]}.timeseries_dataset_from_array"
    assert batch_sites(text) == {"batch_size": (4, "256", call)}


def fit_batch(text: str) -> bool:
    return any(s.id.startswith("fit_batch") for s in analyze_text(text).sites)


ON_DATASET = PIPELINE.format(constants="", train=32, val=32, test=32, validation=", validation_data=val_ds")


def test_fits_batch_size_on_a_dataset_is_held():
    """Keras ignores fit(batch_size=) for a tf.data.Dataset (gh6: a pipeline of `.batch(16)` trains
    16 at a time whatever is drawn): only the pipeline's own `.batch()` is tuned."""
    text = ON_DATASET.replace("model.fit(train_ds, epochs=2", "model.fit(train_ds, batch_size=64, epochs=2")
    assert not fit_batch(text) and "dataset_batch_size" in batch_sites(text)
    unbatched = text.replace(".shuffle(64).batch(32)", ".shuffle(64)")  # a chain from tf.data, no batch
    assert not fit_batch(unbatched)


def test_fits_batch_size_on_arrays_is_tuned():  # no-op
    text = ON_DATASET.replace("model.fit(train_ds, epochs=2, validation_data=val_ds)",
                              "model.fit(x, y, batch_size=64, epochs=2, validation_split=0.2)")
    assert fit_batch(text)
    from_a_dataset = text.replace('x = np.zeros((64, 4), "float32")',
                                  'x = np.stack(list(tf.data.Dataset.range(64).as_numpy_iterator()))')
    assert fit_batch(from_a_dataset)  # an array made from a dataset is an array
