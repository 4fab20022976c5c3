"""Widths summed elementwise must stay equal (`x += residual`, `layers.add([...])`, `Add()`, `x + y`):
written as one name they are one value, tuned; written apart they are kept, since tuned apart they
fail the trial on the shape (keras's demo_functional lost 2 of 3 trials). Before/after pairs and the
sums left alone."""
from __future__ import annotations

import pytest

from conftest import analyze_text

HEAD = "import keras\nfrom keras import layers\ninputs = keras.Input((8,))\n"
TAIL = "model = keras.Model(inputs, layers.Dense(1)(x))\n"


def widths(body: str) -> dict[int, str]:
    """{line: value} of the tuned widths."""
    return {s.line: s.value for s in analyze_text(HEAD + body + TAIL).sites if s.param == "units"}


def test_keras_demo_functional_keeps_the_summed_widths_and_tunes_the_others():
    body = """\
x = layers.Dense(512, activation="relu")(inputs)
residual = x
x = layers.Dense(256, activation="relu")(x)
x = layers.Dense(512, activation="relu")(x)
x += residual
x = layers.Dense(64)(x)
"""
    assert widths(body) == {6: "256", 9: "64"}


@pytest.mark.parametrize("merge", [
    "x = layers.add([a, b])", "x = layers.Add()([a, b])", "x = a + b", "x = keras.ops.add(a, b)",
    "x = layers.Average()([a, layers.Dropout(0.1)(b)])",
])
def test_each_spelling_of_a_sum_keeps_the_widths_written_apart(merge):
    body = f"a = layers.Dense(32)(inputs)\nb = layers.BatchNormalization()(layers.Dense(32)(inputs))\n{merge}\n"
    assert widths(body) == {}


def test_widths_written_as_one_name_stay_one_tuned_value():  # no-op: tuned as before
    body = "UNITS = 32\na = layers.Dense(UNITS)(inputs)\nb = layers.Dense(UNITS)(a)\nx = layers.add([a, b])\n"
    assert widths(body) == {4: "32"}


def test_a_constant_summed_with_a_literal_is_kept_everywhere():
    body = "UNITS = 32\na = layers.Dense(UNITS)(inputs)\nb = layers.Dense(32)(a)\nc = layers.Dense(UNITS)(b)\nx = a + b\n"
    assert widths(body) == {}  # tuning UNITS would change a (and c) but not b


@pytest.mark.parametrize("body", [
    "a = layers.Dense(32)(inputs)\nx = layers.Concatenate()([a, layers.Dense(16)(inputs)])\n",  # not a sum
    "a = layers.Dense(32)(inputs)\nx = a * 2.0 + 1\n",  # a number
    "a = layers.Dense(32)(inputs)\nx = a + encoder(inputs)\n",  # what encoder() gives cannot be followed
])
def test_other_expressions_leave_the_widths_tuned(body):  # no-op
    assert 4 in widths(body)


def test_a_residual_block_in_a_helper_keeps_one_value_per_call():
    """keras-io's form: the convolution and its 1x1 shortcut both read `filters`, so each call's
    value is one hyperparameter, tuned (the rule of helpers called several times)."""
    text = HEAD.replace("(8,)", "(8, 8, 3)") + """\
def block(x, filters):
    shortcut = layers.Conv2D(filters, 1, padding="same")(x)
    x = layers.Conv2D(filters, 3, padding="same")(x)
    return layers.add([x, shortcut])
x = block(inputs, 16)
x = block(x, 32)
model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(x)))
"""
    found = {s.id: s.value for s in analyze_text(text).sites if s.param == "filters"}
    assert found == {"block_filters": "16", "block_1_filters": "32"}
