import json
import re

import libcst
import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from optpar.errors import UserError
from optpar.notebook import MAGIC_MARKER, NotebookError, is_notebook, read_notebook

MODEL_CELLS = [
    "import keras\nfrom keras import layers\n",
    "model = keras.Sequential([\n    layers.Dense(128, activation=\"relu\"),\n    layers.Dense(10),\n])\n",
    "model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=\"mse\")\nmodel.fit(x, y, epochs=10)",
]


def write(tmp_path, cells, name="model.ipynb", **meta):
    nb = new_notebook(cells=cells, metadata=meta or {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def is_placeholder(src, line: int) -> bool:
    """Program line `line` (1-based) stands in for IPython syntax: `pass` or `name = None`, with
    the magic kept as a comment (a timed statement that stays Python is not a placeholder)."""
    text = src.text.splitlines()[line - 1]
    return re.fullmatch(rf"\s*(?:pass|\w+ = None)  # {re.escape(MAGIC_MARKER)} .*", text) is not None


def model_notebook(tmp_path):
    cells = [
        new_markdown_cell("# A model\nSome *prose* with `code`."),
        new_code_cell(MODEL_CELLS[0], execution_count=1, metadata={"tags": ["imports"]}),
        new_raw_cell("raw text, not python ("),
        new_code_cell(
            MODEL_CELLS[1],
            execution_count=2,
            outputs=[new_output("stream", name="stdout", text="built\n")],
            metadata={"collapsed": False},
        ),
        new_code_cell(
            MODEL_CELLS[2],
            execution_count=3,
            outputs=[new_output("execute_result", data={"text/plain": "<History>"}, execution_count=3)],
        ),
    ]
    return write(tmp_path, cells)


def test_is_notebook():
    assert is_notebook("a/model.ipynb")
    assert is_notebook("MODEL.IPYNB")
    assert not is_notebook("model.py")
    assert not is_notebook("ipynb.py")


def test_program_text_is_code_cells_in_order(tmp_path):
    src = read_notebook(model_notebook(tmp_path))
    assert src.text == MODEL_CELLS[0] + MODEL_CELLS[1] + MODEL_CELLS[2] + "\n"
    libcst.parse_module(src.text)
    assert src.path.endswith("model.ipynb")


def test_locate_and_label(tmp_path):
    src = read_notebook(model_notebook(tmp_path))
    # cell numbers count every cell (markdown, raw included): code cells are 2, 4 and 5
    assert src.locate(1) == (2, 1)
    assert src.locate(2) == (2, 2)
    assert src.locate(3) == (4, 1)
    assert src.locate(4) == (4, 2)
    assert src.locate(6) == (4, 4)
    assert src.locate(7) == (5, 1)
    assert src.locate(8) == (5, 2)
    with pytest.raises(ValueError):
        src.locate(9)
    with pytest.raises(ValueError):
        src.locate(0)
    assert src.label(4, 18) == f"{src.path}:cell_4:2:18"
    assert src.position(4, 18) == (f"{src.path}:cell_4", 2, 18)
    err = UserError(*src.position(4, 18), "boom")
    assert str(err) == f"{src.path}:cell_4:2:18: error: boom"


def test_empty_cells_take_no_lines(tmp_path):
    path = write(tmp_path, [new_code_cell(""), new_code_cell("x = 1"), new_code_cell(""), new_code_cell("y = 2\n")])
    src = read_notebook(path)
    assert src.text == "x = 1\ny = 2\n"
    assert src.locate(1) == (2, 1)
    assert src.locate(2) == (4, 1)
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())


def test_unchanged_text_gives_identical_notebook(tmp_path):
    path = model_notebook(tmp_path)
    src = read_notebook(path)
    out = src.with_text(src.text)
    assert json.loads(out) == json.loads(path.read_text())
    assert out == path.read_text()  # byte-identical when nbformat wrote the original


def test_changed_literal_changes_only_that_cell(tmp_path):
    path = model_notebook(tmp_path)
    src = read_notebook(path)
    new = src.text.replace("Dense(128", 'Dense(params["dense_units"]')
    out = json.loads(src.with_text(new))
    before = json.loads(path.read_text())
    assert out["metadata"] == before["metadata"]
    changed = [i for i, (a, b) in enumerate(zip(before["cells"], out["cells"])) if a != b]
    assert changed == [3]
    cell, old = out["cells"][3], before["cells"][3]
    assert "".join(cell["source"]) == MODEL_CELLS[1].replace("Dense(128", 'Dense(params["dense_units"]')
    for key in ("outputs", "execution_count", "metadata", "id"):
        assert cell[key] == old[key]


def test_last_line_without_newline_is_kept(tmp_path):
    path = model_notebook(tmp_path)
    src = read_notebook(path)
    out = json.loads(src.with_text(src.text.replace("epochs=10", "epochs=12")))
    assert "".join(out["cells"][4]["source"]).endswith("epochs=12)")


def test_with_text_needs_same_line_count(tmp_path):
    src = read_notebook(model_notebook(tmp_path))
    with pytest.raises(ValueError, match="lines"):
        src.with_text(src.text + "extra = 1\n")
    with pytest.raises(ValueError):
        src.with_text("\n".join(src.text.splitlines()[:-1]) + "\n")


MAGIC_CELL = """\
%matplotlib inline
!pip install -q keras
files = !ls *.csv
t = %timeit -o f()
%load_ext autoreload
keras.layers.Dense?
??keras
import keras
for i in range(3):
    %time train(i)
    if i:
        !echo {i}
x = 1  # a comment with %magic and keras?
s = '''
%not a magic inside a string
!neither
'''
d = dict(
    a=1,
)
"""


def test_magics_become_valid_python_with_same_line_count(tmp_path):
    path = write(tmp_path, [new_code_cell(MAGIC_CELL)])
    src = read_notebook(path)
    libcst.parse_module(src.text)
    compile(src.text, "nb", "exec")
    lines = src.text.splitlines()
    assert len(lines) == len(MAGIC_CELL.splitlines())
    assert lines[0] == f"pass  # {MAGIC_MARKER} %matplotlib inline"
    assert lines[2].startswith("files = None  # ")
    assert lines[3].startswith("t = None  # ")
    assert lines[5].startswith("pass  #") and lines[6].startswith("pass  #")
    assert lines[9] == f"    train(i)  # {MAGIC_MARKER} %time"  # the timed statement is kept
    assert lines[11].startswith("        pass  # ")
    # untouched: comments, strings, brackets
    assert lines[12] == "x = 1  # a comment with %magic and keras?"
    assert lines[14] == "%not a magic inside a string"
    assert lines[15] == "!neither"
    assert [is_placeholder(src, n) for n in range(1, 8)] == [True, True, True, True, True, True, True]
    assert not is_placeholder(src, 8)
    assert "optpar:" not in src.text  # placeholders never look like directives


def test_magics_are_restored(tmp_path):
    path = write(tmp_path, [new_code_cell(MAGIC_CELL, outputs=[new_output("stream", text="x")])])
    src = read_notebook(path)
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())
    out = json.loads(src.with_text(src.text.replace("x = 1", "x = 2")))
    assert "".join(out["cells"][0]["source"]) == MAGIC_CELL.replace("x = 1", "x = 2")


def test_directive_text_in_magic_is_neutralised(tmp_path):
    path = write(tmp_path, [new_code_cell("!echo '# optpar: bogus'\nx = 1\n")])
    src = read_notebook(path)
    assert "optpar:" not in src.text
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())


def test_cell_magic_with_foreign_body_is_not_python(tmp_path):
    bash = "%%bash\nfor f in *; do\n  echo $f\ndone\n\n"
    path = write(tmp_path, [new_code_cell("import keras\n"), new_code_cell(bash), new_code_cell("y = 2\n")])
    src = read_notebook(path)
    libcst.parse_module(src.text)
    lines = src.text.splitlines()
    assert all(line.startswith("pass") for line in lines[1:6])
    assert lines[6] == "y = 2"
    assert src.locate(7) == (3, 1)
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())


def test_magic_continued_with_a_backslash_is_one_placeholder(tmp_path):
    # as in Hands-On ML's chapter 19: a shell command over three lines, one inside a block
    cell = (
        "!saved_model_cli show --dir '{path}' \\\n"
        "                      --tag_set serve \\\n"
        "        --signature_def serving_default\n"
        "if colab:\n"
        "    !curl '{url}' | \\\n"
        "  apt-key add -\n"
        "    x = 1\n"
        "y = 2  \\\n"
        "    + 1\n"
    )
    path = write(tmp_path, [new_code_cell(cell)])
    src = read_notebook(path)
    compile(src.text, "nb", "exec")
    lines = src.text.splitlines()
    assert [is_placeholder(src, n) for n in range(1, 10)] == [True] * 3 + [False, True, True] + [False] * 3
    assert lines[4].startswith("    pass") and lines[5].startswith("    pass")  # the block's indent
    assert lines[7:] == ["y = 2  \\", "    + 1"]  # a Python continuation is left alone
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())


def test_time_cell_magic_keeps_python_body(tmp_path):
    path = write(tmp_path, [new_code_cell("%%time\nmodel.fit(x, y, epochs=5)\n")])
    src = read_notebook(path)
    assert src.text.splitlines()[1] == "model.fit(x, y, epochs=5)"
    out = json.loads(src.with_text(src.text.replace("epochs=5", "epochs=7")))
    assert "".join(out["cells"][0]["source"]) == "%%time\nmodel.fit(x, y, epochs=7)\n"


def test_broken_json_is_one_line_error(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{\n  "cells": [\n    {"cell_type": "code",,}\n  ]\n}\n')
    with pytest.raises(NotebookError) as info:
        read_notebook(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3:")
    assert ": error: invalid notebook JSON" in message
    assert "\n" not in message
    assert isinstance(info.value, UserError)


def test_not_a_notebook_is_one_line_error(tmp_path):
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]\n")
    with pytest.raises(NotebookError) as info:
        read_notebook(path)
    assert str(info.value).startswith(f"{path}:1:1: error: not a valid Jupyter notebook")
    assert "\n" not in str(info.value)


def test_invalid_notebook_structure_is_error(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}))
    with pytest.raises(NotebookError) as info:
        read_notebook(path)
    assert "\n" not in str(info.value)


def test_missing_file_is_error(tmp_path):
    with pytest.raises(NotebookError, match="cannot read notebook"):
        read_notebook(tmp_path / "nope.ipynb")


def test_non_python_notebook_is_error(tmp_path):
    path = write(tmp_path, [new_code_cell("x <- 1")], kernelspec={"name": "ir", "language": "R", "display_name": "R"})
    with pytest.raises(NotebookError, match="not Python"):
        read_notebook(path)


def test_timed_line_magic_keeps_statement(tmp_path):
    cell = "import keras\n%time history = model.fit(x, y, epochs=5)\nfor i in r:\n    %timeit f(i, 2)\n%time -n1 g()\n"
    path = write(tmp_path, [new_markdown_cell("m"), new_code_cell(cell)])
    src = read_notebook(path)
    compile(src.text, "nb", "exec")
    lines = src.text.splitlines()
    assert lines[1] == f"history = model.fit(x, y, epochs=5)  # {MAGIC_MARKER} %time"
    assert lines[3] == f"    f(i, 2)  # {MAGIC_MARKER} %timeit"
    assert lines[4].startswith("pass  # ")  # options: not a plain statement
    assert not is_placeholder(src, 2) and is_placeholder(src, 5)
    # columns on a kept line are shifted back to the cell's own
    col = lines[1].index("5") + 1
    assert src.position(2, col) == (f"{src.path}:cell_2", 2, cell.splitlines()[1].index("5") + 1)
    assert src.label(4, 5) == f"{src.path}:cell_2:4:13"
    assert src.label(4, 1) == f"{src.path}:cell_2:4:1"
    new = src.text.replace("epochs=5", 'epochs=params["fit_epochs"]').replace("f(i, 2)", "f(i, 3)")
    out = json.loads(src.with_text(new))
    assert "".join(out["cells"][1]["source"]) == (
        cell.replace("epochs=5", 'epochs=params["fit_epochs"]').replace("f(i, 2)", "f(i, 3)")
    )
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())
    with pytest.raises(ValueError, match="marker"):
        src.with_text(src.text.replace(f"# {MAGIC_MARKER} %time\n", "\n", 1))


FRAGMENTS = [
    "x = 1", "%time f()", "    %time g(1)", "!ls", "y = !ls", "%matplotlib inline", "obj?", "",
    "def f():", "    return 1", "s = '''", "%inside string", "'''", "d = (", "    1,", ")",
    "%%bash", "%%time", "z = 2  # c?", "t = %timeit -o f()", "\tpass",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=6), min_size=1, max_size=4), st.booleans())
def test_round_trip_any_cells(tmp_path, cells, trailing_newline):
    sources = ["\n".join(lines) + ("\n" if trailing_newline and lines else "") for lines in cells]
    path = write(tmp_path, [new_code_cell(s) for s in sources], name="prop.ipynb")
    src = read_notebook(path)
    assert src.text.count("\n") == sum(len(s.split("\n")) - (1 if s.endswith("\n") else 0) for s in sources if s)
    assert json.loads(src.with_text(src.text)) == json.loads(path.read_text())


def test_refactor_places_a_notebooks_warnings_in_their_cells(tmp_path, capsys):
    from optpar.cli import main

    path = write(tmp_path, [
        new_markdown_cell("# A model"),
        new_code_cell("import numpy as np\nimport keras\nx, y = np.zeros((8, 4)), np.zeros(8)"),
        new_code_cell("model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])\n"
                      "model.compile(optimizer=keras.optimizers.Adam(lr=0.01), loss='mse')"),
        new_code_cell("model.fit(x, y, epochs=3, validation_split=0.25)"),
    ])
    assert main(["refactor", str(path)]) == 0
    err = capsys.readouterr().err
    # the third cell (the markdown one counts, as the notebook shows it), not the program's line 5
    assert f"{path}:cell_3:2:47: OPT202 Keras 1 argument 'lr'" in err
