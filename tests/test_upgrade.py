"""`optpar upgrade`: the Keras 1 keywords Keras 3 rejects, renamed in place (OPT202-OPT219)."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import analyze_text
from optpar.upgrade import renamed_text


def upgraded(text: str) -> str:
    return renamed_text(analyze_text(text))[0]


HEAD = "import keras\nfrom keras.layers import Dense, Embedding\n"

CASES = [
    pytest.param("opt = keras.optimizers.SGD(lr=0.01, momentum=0.9)  # old\n",
                 "opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)  # old\n", id="lr"),
    pytest.param("model.fit(x, y, nb_epoch=10,\n          batch_size=32)\n",
                 "model.fit(x, y, epochs=10,\n          batch_size=32)\n", id="nb_epoch"),
    pytest.param("h = Dense(output_dim=64, init='he_normal')(x)\n",
                 "h = Dense(units=64, kernel_initializer='he_normal')(x)\n", id="two-in-one-call"),
    pytest.param("e = Embedding(1000, 8, init='uniform')\n",
                 "e = Embedding(1000, 8, embeddings_initializer='uniform')\n", id="embedding's-own-name"),
    pytest.param("h = Dense(8, name='é', init = 'zeros')(x)\n",
                 "h = Dense(8, name='é', kernel_initializer = 'zeros')(x)\n", id="after-non-ascii"),
]


@pytest.mark.parametrize("before, after", CASES)
def test_a_keras1_keyword_is_renamed_and_nothing_else_changes(before, after):
    assert upgraded(HEAD + before) == HEAD + after


@pytest.mark.parametrize("before, after", CASES)
def test_upgrade_is_idempotent(before, after):
    once = upgraded(HEAD + before)
    assert upgraded(once) == once
    assert analyze_text(once).diagnostics == ()


def test_a_keras3_file_is_left_byte_for_byte():  # no-op
    text = HEAD + "opt = keras.optimizers.SGD(learning_rate=0.01)\nmodel.fit(x, y, epochs=3)\nlr = 1\nf(lr=2)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert (new, done, left) == (text, [], [])


def test_a_call_passing_both_names_and_the_positional_kernel_are_left_and_reported():
    text = HEAD + ("opt = keras.optimizers.SGD(lr=0.1, learning_rate=0.01)\n"
                   "c = keras.layers.Conv2D(32, 3, 3)\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []
    assert [d.code for d in left] == ["OPT202", "OPT201"]


def test_cli_shows_a_diff_by_default_and_writes_only_in_place(run_cli, tmp_path):
    path = tmp_path / "old.py"
    text = HEAD + "opt = keras.optimizers.Adam(lr=1e-3)\n"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("upgrade", path)
    assert code == 0 and "-opt = keras.optimizers.Adam(lr=1e-3)" in out and "+opt = keras.optimizers.Adam(learning_rate=1e-3)" in out
    assert path.read_text(encoding="utf-8") == text
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 0 and out == f"{path}:3:29: OPT202 lr -> learning_rate\n"
    assert path.read_text(encoding="utf-8") == text.replace("lr=", "learning_rate=")
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert (code, out, err) == (0, "", f"{path}: no Keras 1 keyword to rename\n")


def test_cli_bad_input_is_one_line_and_nothing_written(run_cli, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import keras\nkeras.optimizers.SGD(lr=0.1\n", encoding="utf-8")
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 2 and err.startswith(f"{path}:") and "error:" in err and len(err.splitlines()) == 1
    assert path.read_text(encoding="utf-8") == "import keras\nkeras.optimizers.SGD(lr=0.1\n"


def test_a_notebook_is_upgraded_in_its_cell_and_keeps_the_rest(run_cli, tmp_path):
    path = tmp_path / "old.ipynb"
    nb = new_notebook(cells=[new_markdown_cell("# Old model"), new_code_cell("import keras\n%matplotlib inline"),
                             new_code_cell("opt = keras.optimizers.RMSprop(lr=0.001)")])
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="kept\n")]
    nbformat.write(nb, path)
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 0 and out == f"{path}:cell_3:1:32: OPT202 lr -> learning_rate\n"
    after = nbformat.read(path, as_version=4)
    assert after.cells[2].source == "opt = keras.optimizers.RMSprop(learning_rate=0.001)"
    assert after.cells[1].source == "import keras\n%matplotlib inline"
    assert after.cells[0] == nb.cells[0] and after.cells[2].outputs == nb.cells[2].outputs


def test_an_upgraded_keras1_script_trains_on_keras3(tmp_path, run_cli):
    script = tmp_path / "old.py"
    script.write_text(
        "import numpy as np\nimport keras\n"
        "x = np.random.default_rng(0).random((32, 3)).astype('float32'); y = x.sum(axis=1)\n"
        "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, init='glorot_uniform'), keras.layers.Dense(1)])\n"
        "model.compile(optimizer=keras.optimizers.SGD(lr=0.01), loss='mse')\n"
        "model.fit(x, y, nb_epoch=2, verbose=0)\nprint('trained')\n", encoding="utf-8")
    before = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert before.returncode != 0 and "ecognized" in before.stderr  # Keras 3 rejects the Keras 1 names
    assert run_cli("upgrade", script, "--in-place")[0] == 0
    after = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert after.returncode == 0 and after.stdout.strip() == "trained", after.stderr[-2000:]
