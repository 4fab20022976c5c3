"""A file that upsamples (an autoencoder, a U-Net) keeps its pooling sizes: the model gives back
its input's size, which a pooling size tuned alone breaks (keras-io's denoising autoencoder failed
2 of 3 trials on the shape). roles.csv's `upsampling` and `downsampling` rows; before/after pairs,
the files left as before, and the rows a user adds."""
from __future__ import annotations

import json

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


# -- sizes on a branch of an elementwise sum -------------------------------------------------------

ENCODER = """\
import keras
from keras import layers

def encoder(inputs, ff_dim=8):
    x = layers.MultiHeadAttention(key_dim=16, num_heads=2, dropout=0.1)(inputs, inputs)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs
    x = layers.Conv1D(filters=ff_dim, kernel_size={kernel}, activation="relu"{padding})(res)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size={kernel}{padding})(x)
    return x + res

inputs = keras.Input((20, 4))
x = layers.Conv1D(4, 3)(inputs)
x = encoder(x)
x = layers.GlobalAveragePooling1D()(x)
outputs = layers.Dense(2, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x_train, y_train, epochs=5, validation_split=0.2)
"""


def sites_of(text: str) -> dict[tuple[str, int], object]:
    return {(s.param, s.span.line): s.default for s in analyze_text(text).sites}


@pytest.mark.parametrize("kernel", [1, 3])
def test_a_valid_padded_kernel_on_a_summed_branch_is_held(kernel):
    """keras-io's time-series transformer: a kernel of 3 where 1 was written shrinks the branch by
    2, and `x + res` fails. The rule reads the padding, not the size: 1 and 3 are held alike."""
    found = sites_of(ENCODER.format(kernel=kernel, padding=""))
    assert ("kernel_size", 8) not in found and ("kernel_size", 10) not in found
    assert ("filters", 4) in found  # the width (ff_dim's default) and the rest as before
    assert ("kernel_size", 14) in found  # before the branches part: the sum sees its output on both sides


def test_a_same_padded_kernel_on_a_summed_branch_is_tuned():  # no-op
    found = sites_of(ENCODER.format(kernel=3, padding=', padding="same"'))
    assert found[("kernel_size", 8)] == 3 and found[("kernel_size", 10)] == 3


RESNET_BLOCK = """\
from keras import layers, models

def identity_block(input_tensor, kernel_size, filters, padding="same"):
    x = layers.Conv2D(filters, (1, 1))(input_tensor)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding=padding)(x)
    x = layers.Conv2D(8, (1, 1))(x)
    x = layers.add([x, input_tensor])
    return layers.Activation("relu")(x)

inputs = layers.Input((16, 16, 8))
x = identity_block(inputs, 3, 16)
x = identity_block(x, 3, 16{second})
y = layers.MaxPooling2D((2, 2){pool})(x)
x = layers.MaxPooling2D((2, 2){pool})(y)
r = layers.Conv2D(8, 1, strides=2, padding="same")(y)
x += r
outputs = layers.Dense(1, activation="sigmoid")(layers.Flatten()(x))
model = models.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy")
model.fit(x_train, y_train, epochs=5, validation_split=0.2)
"""


def test_the_pointwise_convolutions_of_a_residual_block_are_held():
    """ResNet50's identity block: the 1x1 convolutions (valid padding) are held, the kernel the
    calls pass to the same-padded one stays tuned, a call at a time."""
    found = sites_of(RESNET_BLOCK.format(second="", pool=""))
    assert ("kernel_size", 4) not in found and ("kernel_size", 8) not in found
    assert found[("kernel_size", 13)] == 3 and found[("kernel_size", 14)] == 3


def test_a_padding_parameter_that_a_call_makes_valid_holds_the_kernel():
    found = sites_of(RESNET_BLOCK.format(second=', padding="valid"', pool=""))
    assert ("kernel_size", 13) not in found and ("kernel_size", 14) not in found


def test_a_pooling_size_on_a_summed_branch_is_held_unless_same_padded_with_strides():
    found = sites_of(RESNET_BLOCK.format(second="", pool=""))
    assert ("pool_size", 15) in found  # the trunk: both sides of `x += r` see its output
    assert ("pool_size", 16) not in found  # default strides: the pool size is the stride
    assert ("kernel_size", 17) in found  # the other branch, same-padded
    found = sites_of(RESNET_BLOCK.format(second="", pool=', strides=2, padding="same"'))
    assert ("pool_size", 15) in found and ("pool_size", 16) in found


SHORTCUT = """\
from keras import layers, models

def res_block(inputs, filters, stride=1):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same")(inputs)
    x = layers.Conv2D(filters, 3, padding="same")(x)
{shortcut}
    return layers.add([x, shortcut])

inputs = layers.Input((32, 32, 3))
x = layers.Conv2D(16, 3, padding="same")(inputs)
x = res_block(x, 16)
x = res_block(x, 32, stride=2)
outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling2D()(x))
model = models.Model(inputs, outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x_train, y_train, epochs=5, validation_split=0.2)
"""


@pytest.mark.parametrize("shortcut", [
    pytest.param("    if stride != 1:\n        shortcut = layers.Conv2D(filters, 1, strides=stride)(inputs)\n"
                 "        shortcut = layers.BatchNormalization()(shortcut)\n    else:\n        shortcut = inputs",
                 id="projection-in-if"),
    pytest.param("    if stride == 1:\n        shortcut = inputs\n    else:\n"
                 "        shortcut = layers.Conv2D(filters, 1, strides=stride)(inputs)", id="projection-in-else"),
    pytest.param("    shortcut = inputs\n    if stride != 1:\n        shortcut = layers.Conv2D(filters, 1, strides=stride)(inputs)",
                 id="projection-replacing-the-input"),
])
def test_a_shortcut_made_in_an_arm_of_an_if_is_a_branch_of_the_sum(shortcut):
    """ResNet's block: the projection that a stride calls for is made under `if`, and the input
    itself under `else`; either reaches the sum. Its 1x1 kernel (valid padding) is held (gh6's
    ResNet20 lost 2 of 5 draws to a kernel of 3 there); the same-padded kernels stay tuned."""
    found = sites_of(SHORTCUT.format(shortcut=shortcut))
    assert not any(param == "kernel_size" and line in (7, 8, 9, 10, 11) for param, line in found)
    assert found[("kernel_size", 4)] == 3 and found[("kernel_size", 5)] == 3


def test_a_shortcut_with_no_layer_in_either_arm_holds_nothing():  # no-op
    text = SHORTCUT.format(shortcut="    if stride != 1:\n        shortcut = inputs\n    else:\n        shortcut = inputs")
    found = sites_of(text)
    assert found[("kernel_size", 4)] == 3 and found[("kernel_size", 5)] == 3


def test_held_sizes_stay_held_after_apply(tmp_path, run_cli):
    """Idempotence: the sites depend on the padding, never on a size, so the applied file scans to
    the same ids, and applying the same best again changes nothing."""
    path = tmp_path / "model.py"
    path.write_text(ENCODER.format(kernel=1, padding=""), encoding="utf-8")
    before = {s.id: s.default for s in analyze_text(path.read_text()).sites}
    assert "conv1d_1_kernel_size" in before and "conv1d_kernel_size" not in before
    best = {**before, "conv1d_1_kernel_size": 5, "ff_dim": 16}
    assert set(best) == set(before)
    (tmp_path / "best.json").write_text(json.dumps({"best": best, "baseline": before}), encoding="utf-8")
    code, _, err = run_cli("apply", str(path), str(tmp_path / "best.json"), "--in-place")
    assert code == 0, err
    applied = path.read_text()
    assert "layers.Conv1D(4, 5)(inputs)" in applied and "ff_dim=16" in applied
    assert {s.id: s.default for s in analyze_text(applied).sites} == best
    (tmp_path / "best.json").write_text(json.dumps({"best": best, "baseline": best}), encoding="utf-8")
    code, _, err = run_cli("apply", str(path), str(tmp_path / "best.json"), "--in-place")
    assert code == 0 and path.read_text() == applied


def test_a_kernel_row_needs_a_parameter(tmp_path, run_cli):
    path = tmp_path / "model.py"
    path.write_text(ENCODER.format(kernel=1, padding=""), encoding="utf-8")
    roles = tmp_path / "roles.csv"
    roles.write_text("Role,Layer,Name,Position,Size\nkernel,layers.Conv1D,,,\n", encoding="utf-8")
    code, _, err = run_cli("scan", str(path), "--metadata", str(roles))
    assert code == 2 and err.startswith(f"{roles}:2:") and "Name must be a Python identifier" in err


def test_a_sum_of_numbers_that_reuse_a_layers_name_holds_nothing():  # no-op
    """`x + w` after `(x, y, w, h) = box`: `w` is no layer's output and meets no other input, so
    the sum is not one of tensors, even when `x` last named a convolution's output."""
    text = ENCODER.format(kernel=3, padding="") + "for box in boxes:\n    (x, y, w, h) = box\n    right = x + w\n"
    text = text.replace("    return x + res\n", "    return x\n")
    found = sites_of(text)
    assert found[("kernel_size", 8)] == 3 and found[("kernel_size", 10)] == 3 and found[("kernel_size", 14)] == 3


VALID_AUTOENCODER = """\
import numpy as np
import keras
from keras import layers
PAD = "same"
x_train = np.zeros((64, 28, 28, 1))
inputs = keras.Input((28, 28, 1))
x = layers.Conv2D(16, 3, activation="relu")(inputs)
x = layers.Conv2D(16, 3, activation="relu", padding=PAD)(x)
x = layers.{up}(x)
outputs = layers.Conv2D(1, 1)(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
model.fit(x_train, x_train, epochs=2, validation_split=0.2)
"""


def kernel_ids(text: str) -> list[str]:
    return [s.id for s in analyze_text(text).sites if s.param == "kernel_size"]


def test_a_file_that_upsamples_keeps_the_kernel_sizes_of_valid_convolutions():
    """A transposed convolution of "valid" padding gives back the k - 1 a convolution took: a
    kernel tuned alone breaks the output's size (an MNIST autoencoder: 3 of 5 trials). A kernel
    of "same" padding changes no size and stays tuned."""
    text = VALID_AUTOENCODER.format(up='Conv2DTranspose(16, 3, activation="relu")')
    assert kernel_ids(text) == ["conv2d_1_kernel_size"]
    assert kernel_ids(VALID_AUTOENCODER.format(up="UpSampling2D(1)")) == ["conv2d_1_kernel_size"]


def test_a_file_that_does_not_upsample_tunes_its_valid_kernels():  # no-op: the rule as before
    text = VALID_AUTOENCODER.format(up="Conv2D(16, 3)")
    assert kernel_ids(text) == ["conv2d_kernel_size", "conv2d_1_kernel_size", "conv2d_2_kernel_size"]


def test_held_kernels_are_the_same_after_apply():  # idempotence: padding decides, not the size
    text = VALID_AUTOENCODER.format(up='Conv2DTranspose(16, 3, activation="relu")')
    applied = text.replace('Conv2D(16, 3, activation="relu", padding=PAD)', 'Conv2D(16, 5, activation="relu", padding=PAD)')
    assert kernel_ids(applied) == kernel_ids(text) == ["conv2d_1_kernel_size"]
