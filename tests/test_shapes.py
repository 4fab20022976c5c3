"""A file that upsamples (an autoencoder, a U-Net) keeps its pooling sizes: the model gives back
its input's size, which a pooling size tuned alone breaks (keras-io's denoising autoencoder failed
2 of 3 trials on the shape). roles.csv's `upsampling` and `downsampling` rows; before/after pairs,
the files left as before, and the rows a user adds."""
from __future__ import annotations

import pytest

from conftest import analyze_text

AUTOENCODER = """\
import keras
from keras import layers
inputs = keras.Input((28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu", padding="same")(inputs)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
x = layers.Conv2D(32, 3, activation="relu", padding="same")(x)
x = layers.{up}(x)
outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
model = keras.Model(inputs, outputs)
"""


def params(text: str) -> list[tuple[str, str]]:
    return [(s.call.rsplit(".", 1)[1], s.param) for s in analyze_text(text).sites]


@pytest.mark.parametrize("up", ["UpSampling2D((2, 2))", "Conv2DTranspose(32, 3, strides=2, padding='same')"])
def test_a_file_that_upsamples_keeps_its_pooling_sizes(up):
    found = params(AUTOENCODER.format(up=up))
    assert ("MaxPooling2D", "pool_size") not in found
    assert ("Conv2D", "filters") in found and ("Conv2D", "kernel_size") in found  # the rest as before


def test_a_file_that_only_pools_tunes_its_pooling_sizes():  # no-op: the rule as before
    text = AUTOENCODER.format(up="Flatten()").replace(
        'outputs = layers.Conv2D(1, 3, activation="sigmoid", padding="same")(x)', "outputs = layers.Dense(1)(x)")
    assert ("MaxPooling2D", "pool_size") in params(text)


def test_the_rule_holds_under_other_import_spellings():
    text = AUTOENCODER.format(up="UpSampling2D(2)").replace("from keras import layers", "import tensorflow as tf\nlayers = tf.keras.layers")
    assert ("MaxPooling2D", "pool_size") not in params(text)
    text = AUTOENCODER.format(up="UpSampling2D(2)").replace(
        "from keras import layers", "from tensorflow.keras import layers as L").replace("layers.", "L.")
    assert ("MaxPooling2D", "pool_size") not in params(text)


def test_a_roles_row_of_the_users_adds_an_upsampling_layer(tmp_path, run_cli):
    """A layer of another library that upsamples is made one with a row, not code."""
    text = AUTOENCODER.format(up="Resizing(28, 28)")
    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    roles = tmp_path / "roles.csv"
    roles.write_text("Role,Layer,Name,Position,Size\nupsampling,layers.Resizing,,,\n", encoding="utf-8")
    code, out, _ = run_cli("scan", str(path), "--format", "json")
    assert code == 0 and '"max_pooling2d_pool_size"' in out
    code, out, _ = run_cli("scan", str(path), "--format", "json", "--metadata", str(roles))
    assert code == 0 and '"max_pooling2d_pool_size"' not in out and '"conv2d_filters"' in out


def test_a_downsampling_row_needs_a_parameter(tmp_path, run_cli):
    path = tmp_path / "model.py"
    path.write_text(AUTOENCODER.format(up="UpSampling2D(2)"), encoding="utf-8")
    roles = tmp_path / "roles.csv"
    roles.write_text("Role,Layer,Name,Position,Size\ndownsampling,layers.MaxPooling2D,,,\n", encoding="utf-8")
    code, _, err = run_cli("scan", str(path), "--metadata", str(roles))
    assert code == 2 and err.startswith(f"{roles}:2:") and "Name must be a Python identifier" in err
