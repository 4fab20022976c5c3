"""Generated Keras-like programs: analyze/generate/apply never crash and always round-trip."""
from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import analyze_text
from optpar.apply import applied_text
from optpar.errors import UserError
from optpar.pipeline import generate

# (import lines, layers prefix, optimizers prefix, Sequential, Model, Input)
IMPORT_STYLES = [
    ("import keras", "keras.layers.", "keras.optimizers.", "keras.Sequential", "keras.Model",
     "keras.Input"),
    ("from keras import layers, optimizers, models, Input", "layers.", "optimizers.",
     "models.Sequential", "models.Model", "Input"),
    ("from keras.layers import *\nfrom keras.optimizers import Adam, SGD, RMSprop\n"
     "from keras.models import Sequential, Model\nfrom keras import Input",
     "", "", "Sequential", "Model", "Input"),
    ("import tensorflow as tf", "tf.keras.layers.", "tf.keras.optimizers.", "tf.keras.Sequential",
     "tf.keras.Model", "tf.keras.Input"),
    ("from tensorflow import keras", "keras.layers.", "keras.optimizers.", "keras.Sequential",
     "keras.Model", "keras.Input"),
    ("import keras as K\nfrom keras import layers as L\nimport keras.optimizers as O", "L.", "O.",
     "K.Sequential", "K.Model", "K.Input"),
]

ints = st.integers(min_value=-3, max_value=600).map(str)
floats = st.floats(min_value=1e-6, max_value=2.0, allow_nan=False).flatmap(
    lambda x: st.sampled_from([repr(x), f"{x:.3g}", f"{x:.2e}", f"{x:.1e}".replace("e-0", "e-")]))
strings = st.sampled_from(["relu", "tanh", "softmax", "sigmoid", "elu", "linear", "it's", 'a"b',
                           "x\\y", "ünï", ""]).flatmap(
    lambda s: st.sampled_from([repr(s), '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"']))
others = st.sampled_from(["True", "None", "x", "-0.5", "(3, 3)", "(3, 5)", "(2,)", "[1, 2]",
                          "1 + 1", "'re' 'lu'", "0x10", "1_000", "1e3", "2j"])
literal = st.one_of(ints, floats, strings, others)
comment = st.sampled_from(["", "  # a comment", "  # optpar: skip", "  # noqa", "  # é ñ"])


@st.composite
def layer(draw, p: str) -> str:
    kind = draw(st.sampled_from(["dense", "dense_kw", "dropout", "conv", "bn", "leaky", "flatten"]))
    v = lambda: draw(literal)  # noqa: E731
    if kind == "dense":
        return f"{p}Dense({v()}, activation={v()})"
    if kind == "dense_kw":
        return f"{p}Dense(units={v()}, activation={v()}, name={draw(strings)})"
    if kind == "dropout":
        return f"{p}Dropout({v()})"
    if kind == "conv":
        return f"{p}Conv2D({v()}, kernel_size={v()}, padding={v()}, strides={v()})"
    if kind == "bn":
        return f"{p}BatchNormalization(momentum={v()})"
    if kind == "leaky":
        return f"{p}Dense({v()}, activation={p}LeakyReLU(negative_slope={v()}))"
    return f"{p}Flatten()"


@st.composite
def program(draw) -> str:
    imports, lp, op, seq, model_cls, inp = draw(st.sampled_from(IMPORT_STYLES))
    lines = [imports, ""]
    constants = draw(st.lists(st.sampled_from(["EPOCHS", "BATCH", "HIDDEN", "RATE"]), unique=True,
                              max_size=3))
    for name in constants:
        lines.append(f"{name} = {draw(literal)}{draw(comment)}")
    if draw(st.booleans()):
        lines.append(f"EXTRA = {draw(literal)}  # optpar: range(0.1, 0.5)")
    layers = draw(st.lists(layer(lp), min_size=1, max_size=5))
    if "HIDDEN" in constants:
        layers.insert(0, f"{lp}Dense(HIDDEN)")
    if "RATE" in constants:
        layers.append(f"{lp}Dropout(RATE)")
    structure = draw(st.sampled_from(["list", "add", "functional", "function"]))
    body = []
    if structure == "list":
        body.append(f"model = {seq}([")
        body.append(f"    {inp}(shape=(8,)),")
        body += [f"    {ly},{draw(comment)}" for ly in layers]
        body.append(f"    {lp}Dense({draw(literal)}, activation={draw(literal)}),")
        body.append("])")
    elif structure == "add":
        body.append(f"model = {seq}()")
        body += [f"model.add({ly}){draw(comment)}" for ly in layers]
        body.append(f"model.add({lp}Dense({draw(literal)}))")
        if draw(st.booleans()):
            body.append(f"model.add({lp}Activation({draw(literal)}))")
    else:
        body.append(f"inputs = {inp}(shape=(8,))")
        body.append("x = inputs")
        body += [f"x = {ly}(x){draw(comment)}" for ly in layers]
        body.append(f"outputs = {lp}Dense({draw(literal)}, activation={draw(literal)})(x)")
        body.append(f"model = {model_cls}(inputs, outputs)")
    optimizer = draw(st.sampled_from([
        f"{op}Adam(learning_rate={draw(literal)})", f"{op}SGD({draw(literal)}, momentum={draw(literal)})",
        draw(strings), f"{op}RMSprop(learning_rate=RATE)" if "RATE" in constants else "'adam'"]))
    body.append(f"model.compile(optimizer={optimizer}, loss={draw(strings)}, metrics=['accuracy'])")
    epochs = "EPOCHS" if "EPOCHS" in constants else draw(literal)
    batch = "BATCH" if "BATCH" in constants else draw(literal)
    extra = draw(st.sampled_from(["", ", validation_split=0.2", ", validation_data=(x, y)", ", verbose=0"]))
    body.append(f"history = model.fit(x, y, epochs={epochs}, batch_size={batch}{extra}){draw(comment)}")
    body.append("print(model.evaluate(x, y))")
    extras = draw(st.lists(st.sampled_from(["print('hi')", "# just a comment", "z = [i for i in range(3)]",
                                            "import numpy as np", "y2 = y * 2  # é"]), max_size=3))
    if structure == "function":
        lines.append("x = y = None")
        lines += extras
        lines.append("")
        lines.append("def main():")
        lines += ["    " + line for line in body]
        lines += ["", "", "if __name__ == '__main__':", "    main()"]
    else:
        lines.append("x = y = None")
        lines += extras + body
    return "\n".join(lines) + "\n"


def _check(text: str) -> None:
    try:
        analysis = analyze_text(text)
    except UserError:
        return
    # every site points at its own source text
    lines = text.splitlines()
    for site in analysis.sites:
        if site.span.line == site.span.end_line:
            assert lines[site.line - 1][site.span.col:site.span.end_col] == site.value
    # applying the user's own values gives the source back, byte for byte
    defaults = {s.id: s.default for s in analysis.sites}
    assert applied_text(analysis, defaults, defaults, "best.json")[0] == text
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.py"
        path.write_text(text, encoding="utf-8")
        try:
            gen = generate(path)
        except UserError:
            return
        compile(gen.text, str(gen.out_path), "exec")
        ast.parse(gen.refactored)
        assert gen.text.startswith("# Generated by optpar")
        # refactoring the refactored model finds nothing left to tune (or refuses it)
        try:
            assert analyze_text(gen.refactored).sites == ()
        except UserError:
            pass


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program())
def test_generated_programs_round_trip(text):
    _check(text)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(program(), st.integers(min_value=0, max_value=10_000), st.sampled_from(["", "(", ")", ":", "\x00",
                                                                              "\n  ", "é", "'"]))
def test_mangled_programs_only_raise_user_errors(text, position, junk):
    position %= len(text)
    _check(text[:position] + junk + text[position:])
