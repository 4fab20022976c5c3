"""Notebooks end to end through the command line: scan positions, refactor, apply into the notebook."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from optpar.cli import main

CELLS = [
    "%matplotlib inline\nimport numpy as np\nfrom keras import layers, models\n",
    "x = np.random.rand(64, 4)\ny = (x.sum(axis=1) > 2).astype('int32')\n!echo data ready\n",
    "model = models.Sequential([\n    layers.Input((4,)),\n    layers.Dense(32, activation='relu'),\n"
    "    layers.Dense(1, activation='sigmoid'),\n])\n",
    "model.compile(optimizer='adam', loss='binary_crossentropy')\n"
    "model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25)\n",
]


def write_notebook(path):
    nb = new_notebook()
    nb.cells.append(new_markdown_cell("# A model"))
    for i, source in enumerate(CELLS):
        cell = new_code_cell(source, execution_count=i + 1)
        cell.outputs.append(new_output("stream", name="stdout", text=f"out {i}\n"))
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_scan_reports_cell_positions(tmp_path, capsys):
    path = tmp_path / "model.ipynb"
    write_notebook(path)
    assert main(["scan", "--format", "flake8", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    dense = [line for line in lines if "dense_units" in line]
    # cell 4 of the notebook (the markdown cell counts), line 3 of that cell, the `32`
    assert dense == [f"{path}:cell_4:3:18: OPT101 dense_units: Dense(units=32) -> choice(8, 16, 32, 64, 128)"]


def test_refactor_writes_a_python_tuning_script(tmp_path, capsys):
    path = tmp_path / "model.ipynb"
    write_notebook(path)
    assert main(["refactor", str(path)]) == 0
    script = (tmp_path / "model_tune.py").read_text()
    compile(script, "model_tune.py", "exec")
    assert 'layers.Dense(params["dense_units"]' in script
    assert "echo data ready" in script and "%matplotlib" in script  # kept as inert placeholders
    assert "x = np.random.rand(64, 4)" in script.split("def run_trial")[0]  # data: once


def test_apply_writes_into_the_notebook_keeping_outputs(tmp_path, capsys):
    path = tmp_path / "model.ipynb"
    write_notebook(path)
    before = json.loads(path.read_text())
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"best": {"dense_units": 64, "fit_epochs": 3},
                                "baseline": {"dense_units": 32, "fit_epochs": 2}}))
    assert main(["apply", str(path), str(best), "--in-place"]) == 0
    after = json.loads(path.read_text())
    code_before = [c for c in before["cells"] if c["cell_type"] == "code"]
    code_after = [c for c in after["cells"] if c["cell_type"] == "code"]
    assert "layers.Dense(64, activation='relu')" in "".join(code_after[2]["source"])
    assert "epochs=3" in "".join(code_after[3]["source"])
    assert "%matplotlib inline" in "".join(code_after[0]["source"])
    assert "!echo data ready" in "".join(code_after[1]["source"])
    for old, new in zip(code_before, code_after):
        assert new["outputs"] == old["outputs"] and new["execution_count"] == old["execution_count"]
    assert after["metadata"] == before["metadata"]
    assert code_after[0]["source"] == code_before[0]["source"]  # untouched cells stay as they were
