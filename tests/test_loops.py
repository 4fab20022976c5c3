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
