"""Depth as a hyperparameter: the count of a loop that builds Keras layers (optpar.analysis.loops).

Each form: before/after (the refactored program), a no-op case, idempotence; then apply, and a
real search over the depth of an LSTM stack (fixtures/lstm_depth.py)."""
from __future__ import annotations

import csv
import json
import os

import pytest

from conftest import analyze_text, run_optpar

HEAD = "import keras\nfrom keras import layers\n"
FIT = "model.compile(loss='mse')\nmodel.fit(x, y, validation_split=0.1)\n"


def refactored(tmp_path, text: str) -> str:
    from optpar.pipeline import generate

    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    return generate(path).refactored


def depth_sites(text: str) -> dict[str, tuple[int, str, str]]:
    """{id: (line, value as written, space)} of the loop counts."""
    return {s.id: (s.line, s.value, s.space.describe()) for s in analyze_text(text).sites if s.code == "OPT104"}


FORMS = [
    pytest.param(
        "model = keras.Sequential()\nfor _ in range(3):\n    model.add(layers.Dense(8))\n",
        "for _ in range(3):", 'for _ in range(params["loop_count"]):', {"loop_count": (4, "3", "int(1..6)")},
        id="literal"),
    pytest.param(
        "NUM_BLOCKS = 2\nmodel = keras.Sequential()\nfor i in range(NUM_BLOCKS):\n    model.add(layers.Dense(8))\n",
        "NUM_BLOCKS = 2", 'NUM_BLOCKS = params["num_blocks"]', {"num_blocks": (3, "2", "int(1..4)")},
        id="constant"),
    pytest.param(
        "x = inputs = keras.Input((4,))\nfor _ in range(4):\n    x = layers.Dense(8)(x)\n"
        "model = keras.Model(inputs, layers.Dense(1)(x))\n",
        "range(4)", 'range(params["loop_count"])', {"loop_count": (4, "4", "int(1..8)")}, id="functional"),
    pytest.param(
        "model = keras.Sequential([layers.Dense(8) for _ in range(2)] + [layers.Dense(1)])\n",
        "range(2)", 'range(params["loop_count"])', {"loop_count": (3, "2", "int(1..4)")}, id="comprehension"),
    pytest.param(
        # keras-io's ResNet: the count reaches range() through arithmetic, a function's parameter
        # and an if/else; the tuned value is n.
        "n = 3\nif VERSION == 1:\n    depth = n * 6 + 2\nelse:\n    depth = n * 9 + 2\n"
        "def resnet(depth):\n    x = inputs = keras.Input((4,))\n    blocks = int((depth - 2) / 6)\n"
        "    for _ in range(blocks):\n        x = layers.Dense(8)(x)\n    return keras.Model(inputs, x)\n"
        "model = resnet(depth=depth)\n",
        "n = 3", 'n = params["n"]', {"n": (3, "3", "int(1..6)")}, id="resnet-arithmetic"),
]


@pytest.mark.parametrize("body, before, after, sites", FORMS)
def test_loop_count_before_after(tmp_path, body, before, after, sites):
    text = HEAD + body + FIT
    assert depth_sites(text) == sites
    out = refactored(tmp_path, text)
    assert before in text and before not in out and after in out


@pytest.mark.parametrize("body, before, after, sites", FORMS)
def test_loop_count_rewrite_is_idempotent(tmp_path, body, before, after, sites):
    out = refactored(tmp_path, HEAD + body + FIT)
    assert depth_sites(out) == {}  # nothing left to make a hyperparameter of


NOT_DEPTH = [
    pytest.param("for epoch in range(10):\n    print(epoch)\n", id="loop-builds-no-layer"),
    pytest.param("model = keras.Sequential()\nfor _ in range(1, 3):\n    model.add(layers.Dense(8))\n",
                 id="start-and-stop"),
    pytest.param("def build(n):\n    return [layers.Dense(8) for _ in range(n)]\nbuild(3)\nbuild(4)\n",
                 id="two-calls-two-values"),
    pytest.param("K = 2\nK = 3\nmodel = keras.Sequential()\nfor _ in range(K):\n    model.add(layers.Dense(8))\n",
                 id="constant-bound-twice"),
    pytest.param("model = keras.Sequential()\nfor _ in range(len(xs)):\n    model.add(layers.Dense(8))\n",
                 id="computed-from-data"),
    pytest.param("range = lambda n: [0, 1]\nmodel = keras.Sequential()\nfor _ in range(3):\n"
                 "    model.add(layers.Dense(8))\n", id="range-rebound"),
    pytest.param("model = keras.Sequential()\nfor _ in range(0):\n    model.add(layers.Dense(8))\n",
                 id="zero"),
]


@pytest.mark.parametrize("body", NOT_DEPTH)
def test_loops_that_are_not_a_depth_are_left_alone(body):
    assert depth_sites(HEAD + body + FIT) == {}


def test_layers_in_a_loop_keep_one_hyperparameter_per_call_site():
    text = HEAD + "model = keras.Sequential()\nfor _ in range(3):\n    model.add(layers.Dense(8))\n" \
        "    model.add(layers.Dropout(0.2))\nmodel.add(layers.Dense(1))\n" + FIT
    assert sorted(s.id for s in analyze_text(text).sites) == ["dense_units", "dropout_rate", "loop_count"]


def test_apply_writes_the_depth_back_where_it_was(tmp_path):
    from optpar.analysis import analyze
    from optpar.apply import applied_text
    from optpar.metadata import load_catalog

    text = HEAD + "NUM_BLOCKS = 2  # how deep\nmodel = keras.Sequential()\nfor _ in range(NUM_BLOCKS):\n" \
        "    model.add(layers.Dense(8))\nfor _ in range(3):\n    model.add(layers.Dense(4))\n" + FIT
    analysis = analyze(text, "model.py", load_catalog())
    defaults = {s.id: s.default for s in analysis.sites}
    best = dict(defaults, num_blocks=4, loop_count=1)
    once = applied_text(analysis, best, defaults, "best.json")[0]
    assert "NUM_BLOCKS = 4  # how deep\n" in once and "for _ in range(1):\n" in once
    assert once.replace("NUM_BLOCKS = 4", "NUM_BLOCKS = 2").replace("range(1)", "range(3)") == text
    # The same values again on the applied file: nothing changes.
    again = analyze(once, "model.py", load_catalog())
    assert applied_text(again, best, best, "best.json")[0] == once


ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def test_a_search_over_the_depth_of_an_lstm_stack_then_apply(tmp_path, fixture_copy):
    pytest.importorskip("hyperopt")
    model = fixture_copy("lstm_depth.py")
    proc = run_optpar("tune", model.name, "--max-evals", "4", "--algo", "rand", "--seed", "2", "--out", "runs",
                      "--quiet", cwd=tmp_path, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Trials of different depths, each a real training that finished.
    assert len({row["num_layers"] for row in rows}) >= 2, rows
    assert all(row["status"] == "ok" for row in rows), rows
    best = json.loads((tmp_path / "runs" / "best.json").read_text())
    proc = run_optpar("apply", model.name, "runs/best.json", "--in-place", cwd=tmp_path, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert f"NUM_LAYERS = {best['best']['num_layers']}  # recurrent layers" in model.read_text()


# --------------------------------------------------------------------------
# `# optpar: repeat(low, high)`: a layer line as a repeated block (optpar.repeat)
# --------------------------------------------------------------------------

REPEATED = HEAD + """\
model = keras.Sequential([
    keras.Input(shape=(8,)),
    layers.Dense(64, activation="relu"),  # optpar: repeat(1, 4)
    layers.Dense(1),
])
head = keras.Sequential()
head.add(layers.Dense(32))  # optpar: repeat(1, 3)
head.add(layers.Dense(1))
x = inputs = keras.Input((8,))
x = layers.Dense(16)(x)  # optpar: repeat(2, 5)
out = keras.Model(inputs, layers.Dense(1)(x))
model = keras.Sequential([model, head, out])  # each form feeds the measured fit
""" + FIT

REPEAT_FORMS = [
    pytest.param("dense_repeat", 4, '    layers.Dense(64, activation="relu"),  # optpar: repeat(1, 4)\n',
                 '    *[layers.Dense(params["dense_units"], activation=params["dense_activation"]) '
                 'for _ in range(params["dense_repeat"])],  # optpar: repeat(1, 4)\n',
                 '    *[layers.Dense(64, activation="relu") for _ in range(3)],  # optpar: repeat(1, 4)\n',
                 id="sequential-list"),
    pytest.param("dense_1_repeat", 3, "head.add(layers.Dense(32))  # optpar: repeat(1, 3)\n",
                 'for _ in range(params["dense_1_repeat"]):  # optpar: repeat(1, 3)\n'
                 '    head.add(layers.Dense(params["dense_1_units"]))\n',
                 "for _ in range(3):  # optpar: repeat(1, 3)\n    head.add(layers.Dense(32))\n",
                 id="model-add"),
    pytest.param("dense_2_repeat", 5, "x = layers.Dense(16)(x)  # optpar: repeat(2, 5)\n",
                 'for _ in range(params["dense_2_repeat"]):  # optpar: repeat(2, 5)\n'
                 '    x = layers.Dense(params["dense_2_units"])(x)\n',
                 "for _ in range(3):  # optpar: repeat(2, 5)\n    x = layers.Dense(16)(x)\n",
                 id="functional"),
]


def analysis_of(text: str):
    from optpar.analysis import analyze
    from optpar.config import Config
    from optpar.controls import apply_controls
    from optpar.metadata import load_catalog

    return apply_controls(analyze(text, "model.py", load_catalog()), Config(path=None))


def applied(text: str, **values) -> str:
    from optpar.apply import applied_text

    analysis = analysis_of(text)
    defaults = {s.id: s.default for s in analysis.sites}
    return applied_text(analysis, dict(defaults, **values), defaults, "best.json")[0]


@pytest.mark.parametrize("hp_id, high, line, refactored_line, applied_line", REPEAT_FORMS)
def test_repeat_before_after(tmp_path, hp_id, high, line, refactored_line, applied_line):
    site = {s.id: s for s in analysis_of(REPEATED).sites}[hp_id]
    # The line as written is the block built once; the space runs from 1 to the comment's high.
    assert (site.code, site.default, site.space.describe()) == ("OPT105", 1, f"int(1..{high})")
    assert line in REPEATED
    assert refactored_line in refactored(tmp_path, REPEATED)
    assert applied(REPEATED, **{hp_id: 3}) == REPEATED.replace(line, applied_line)


@pytest.mark.parametrize("hp_id, high, line, refactored_line, applied_line", REPEAT_FORMS)
def test_a_repeated_block_tunes_again_after_apply(hp_id, high, line, refactored_line, applied_line):
    once = applied(REPEATED, **{hp_id: 3})
    # The loop apply wrote is a depth with the comment's own bounds and the chosen count...
    low = int(line.split("repeat(")[1].split(",")[0])
    depth = [s for s in analysis_of(once).sites if s.code == "OPT104"]
    assert [(s.default, s.space.describe()) for s in depth] == [(3, f"int({low}..{high})")]
    # ...and writing the same count again changes nothing.
    assert applied(once, **{depth[0].id: 3}) == once


def test_a_count_of_one_leaves_the_line_as_it_was():
    assert applied(REPEATED, dense_repeat=1, dense_1_repeat=1) == REPEATED


@pytest.mark.parametrize("text, message", [
    (HEAD + "units = 3  # optpar: repeat(1, 4)\n", "no layer line here"),
    (HEAD + "m = keras.Sequential([layers.Dense(4), layers.Dense(2)])  # optpar: repeat(1, 4)\n",
     "2 layers on this line"),
    (HEAD + "m.add(layers.Dense(4))  # optpar: repeat(0, 4)\n", "whole numbers of at least 1"),
    (HEAD + "m.add(layers.Dense(4))  # optpar: repeat(3, 3)\n", "empty repeat"),
    (HEAD + "m.add(layers.Dense(4))  # optpar: repeat(1.5, 3)\n", "whole numbers of at least 1"),
    (HEAD + "m.add(layers.Dense(4))  # optpar: repeat(4)\n", "repeat needs two whole numbers"),
])
def test_a_repeat_that_cannot_be_read_is_an_error_at_the_comment(text, message):
    from optpar.errors import UserError

    with pytest.raises(UserError) as caught:
        analysis_of(text + FIT)
    assert message in str(caught.value) and str(caught.value).startswith("model.py:3:")


def test_a_repeated_block_trains_at_every_depth(tmp_path):
    pytest.importorskip("hyperopt")
    model = tmp_path / "stack.py"
    model.write_text(
        "import keras\nimport numpy as np\nfrom keras import layers\n\nkeras.utils.set_random_seed(0)\n"
        "x = np.random.default_rng(0).normal(size=(128, 4)).astype('float32')\ny = x.sum(axis=1)\n"
        "model = keras.Sequential()\nmodel.add(keras.Input(shape=(4,)))\n"
        "model.add(layers.Dense(8, activation='relu'))  # optpar: repeat(1, 4)\n"
        "model.add(layers.Dense(1))\nmodel.compile(optimizer='adam', loss='mse')\n"
        "model.fit(x, y, epochs=1, batch_size=32, validation_split=0.25, verbose=0)\n")
    proc = run_optpar("tune", model.name, "--max-evals", "5", "--algo", "rand", "--seed", "0", "--out", "runs",
                      "--quiet", cwd=tmp_path, timeout=600, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len({row["dense_repeat"] for row in rows}) >= 2 and all(row["status"] == "ok" for row in rows), rows
