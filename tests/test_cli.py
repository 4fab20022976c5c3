"""The command line: scan formats, refactor --diff/--check, one-line errors, no heavy imports."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ALL_FIXTURES, EXAMPLES, FIXTURES, ROOT, TUNABLE_FIXTURES, model_path, run_optpar

ERROR_LINE = re.compile(r"^.+:\d+:\d+: error: \S")
FLAKE8_LINE = re.compile(r"^.+\.py:\d+:\d+: OPT\d{3} \S")


def assert_one_error_line(err: str, pattern=ERROR_LINE) -> None:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert pattern.match(lines[0]), lines[0]
    assert "Traceback" not in err


# -- scan -------------------------------------------------------------------------------------

def test_scan_json_fields(run_cli, fixture_copy):
    path = fixture_copy("digits_cnn.py")
    code, out, err = run_cli("scan", path, "--format", "json")
    assert code == 0 and err == ""
    items = json.loads(out)
    sites = [i for i in items if i.get("severity") == "info"]
    assert len(sites) == 14
    for item in sites:
        for key in ("id", "file", "line", "col", "call", "param", "value", "kind", "space"):
            assert key in item
        assert item["file"] == str(path)
        assert item["kind"] in ("int", "float", "categorical")
        line = path.read_text().splitlines()[item["line"] - 1]
        assert line[item["col"] - 1:].startswith(item["value"])
    by_id = {i["id"]: i for i in sites}
    assert by_id["epochs"]["value"] == "2" and by_id["epochs"]["line"] == 10
    assert by_id["dense_units"]["call"] == "keras.layers.Dense"
    assert by_id["dense_units"]["space"]["dist"] == "choice"
    assert by_id["adadelta_learning_rate"]["space"]["dist"] == "loguniform"


def test_scan_flake8_format(run_cli):
    code, out, err = run_cli("scan", FIXTURES / "keras1_idioms.py", FIXTURES / "paper_forms.py",
                             "--format", "flake8")
    assert code == 0
    lines = out.splitlines()
    assert lines and all(FLAKE8_LINE.match(line) for line in lines), out
    found = {line.split(": ")[1].split()[0] for line in lines}
    assert {"OPT101", "OPT201", "OPT202", "OPT203"} <= found


def test_scan_table(run_cli):
    code, out, err = run_cli("scan", FIXTURES / "regression_constants.py")
    assert code == 0
    assert "hidden" in out and "learning_rate" in out
    assert re.search(r"^\d+ hyperparameters? in 1 of 1 file", out, re.M)


def test_scan_walks_folders_and_skips_generated_scripts(run_cli, tmp_path):
    sub = tmp_path / "pkg" / "models"
    sub.mkdir(parents=True)
    shutil.copyfile(model_path("digits_cnn.py"), sub / "digits_cnn.py")
    shutil.copyfile(FIXTURES / "no_keras.py", tmp_path / "no_keras.py")
    (tmp_path / "notes.txt").write_text("keras.layers.Dense(128)\n")
    hidden = tmp_path / ".venv"
    hidden.mkdir()
    shutil.copyfile(FIXTURES / "sequential_list.py", hidden / "sequential_list.py")
    assert run_cli("refactor", sub / "digits_cnn.py")[0] == 0
    code, out, err = run_cli("scan", tmp_path, "--format", "json")
    assert code == 0, err
    files = {item["file"] for item in json.loads(out)}
    assert files == {str(sub / "digits_cnn.py")}


def test_scan_all_fixtures_counts(run_cli):
    code, out, err = run_cli("scan", FIXTURES, EXAMPLES, "--format", "json")
    assert code == 0, err
    files = {i["file"] for i in json.loads(out)}
    assert {str(model_path(n)) for n in TUNABLE_FIXTURES} <= files
    assert str(FIXTURES / "no_keras.py") not in files


def test_scan_no_keras_file(run_cli):
    code, out, err = run_cli("scan", FIXTURES / "no_keras.py")
    assert code == 0
    assert "no hyperparameters found" in out
    code, out, err = run_cli("scan", FIXTURES / "no_keras.py", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_scan_reports_what_the_analysis_finds_when_keras_is_reached_through_tensorflow(run_cli, tmp_path):
    # The quick "uses Keras" test is the import test the analysis and the hook use: a program
    # that imports tensorflow but never spells "keras" is scanned like it is refactored.
    path = tmp_path / "estimator.py"
    path.write_text("import tensorflow as tf\nmodel = build()\nmodel.fit(x, y, epochs=10)\n")
    code, out, err = run_cli("scan", path, "--format", "json")
    assert code == 0, err
    assert [item["id"] for item in json.loads(out)] == ["fit_epochs"]


def test_scan_bad_file_among_good_ones(run_cli, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import keras\nx = (\n")
    code, out, err = run_cli("scan", model_path("digits_cnn.py"), bad, "--format", "flake8")
    assert code == 2
    assert_one_error_line(err)
    assert err.startswith(f"{bad}:")
    assert "digits_cnn.py:" in out  # the good file is still reported


def test_scan_via_subprocess():
    proc = run_optpar("scan", "fixtures/sequential_list.py", "--format", "flake8", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 9
    assert lines[0].startswith("fixtures/sequential_list.py:17:27: OPT101 dense_units")


# -- refactor ----------------------------------------------------------------------------------

def test_refactor_writes_the_tuning_script(run_cli, fixture_copy):
    path = fixture_copy("sequential_list.py")
    code, out, err = run_cli("refactor", path)
    tune = path.with_name("sequential_list_tune.py")
    assert code == 0
    assert tune.exists()
    assert str(tune) in out and "9 hyperparameters" in out
    compile(tune.read_text(), str(tune), "exec")


def test_refactor_output_option(run_cli, fixture_copy):
    path = fixture_copy("digits_cnn.py")
    out_path = path.parent / "elsewhere" / "search.py"
    code, out, err = run_cli("refactor", path, "-o", out_path)
    assert code == 0 and out_path.exists()
    assert not path.with_name("digits_cnn_tune.py").exists()


def test_refactor_diff_writes_nothing(run_cli, fixture_copy):
    path = fixture_copy("digits_cnn.py")
    before = sorted(p.name for p in path.parent.iterdir())
    code, out, err = run_cli("refactor", path, "--diff")
    assert code == 0
    assert sorted(p.name for p in path.parent.iterdir()) == before
    assert out.startswith(f"--- a/{path}\n+++ b/{path}\n")
    assert '-model.add(Dense(128, activation="relu"))' in out
    assert '+model.add(Dense(params["dense_units"], activation=params["dense_activation"]))' in out
    assert "+EPOCHS = params[\"epochs\"]" in out


def test_refactor_check(run_cli, fixture_copy):
    path = fixture_copy("functional_main.py")
    tune = path.with_name("functional_main_tune.py")
    code, out, err = run_cli("refactor", path, "--check")
    assert code == 1 and "missing" in err and not tune.exists()
    assert run_cli("refactor", path)[0] == 0
    assert run_cli("refactor", path, "--check")[0] == 0
    # the model changes: the script is stale
    path.write_text(path.read_text().replace("Dropout(0.3)(x)\n    x = layers.Dense(32",
                                             "Dropout(0.4)(x)\n    x = layers.Dense(32"))
    stale = tune.read_bytes()
    code, out, err = run_cli("refactor", path, "--check")
    assert code == 1 and "stale" in err
    assert tune.read_bytes() == stale  # --check writes nothing
    assert run_cli("refactor", path)[0] == 0
    assert run_cli("refactor", path, "--check")[0] == 0


def test_refactor_via_subprocess(tmp_path):
    shutil.copyfile(FIXTURES / "paper_forms.py", tmp_path / "paper_forms.py")
    proc = run_optpar("refactor", "paper_forms.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "paper_forms_tune.py").read_text()
    assert text.startswith("# Generated by optpar")
    assert "# Regenerate with: optpar refactor paper_forms.py -o paper_forms_tune.py" in text


def test_refactor_keras1_file_warns_in_flake8_style(run_cli, fixture_copy):
    path = fixture_copy("keras1_idioms.py")
    code, out, err = run_cli("refactor", path)
    assert code == 0
    warnings = err.strip().splitlines()
    assert len(warnings) == 8 and all(FLAKE8_LINE.match(w) for w in warnings)
    assert "Traceback" not in err


# -- errors: one line, exit 2, nothing half-written --------------------------------------------

BAD_INPUTS = {
    "syntax": b"import keras\nmodel = keras.Sequential([\n",
    "undecodable": b"import keras\nx = '\xff\xfe\xfa'\n",
    "nul": b"import keras\x00\nx = 1\n",
    "empty": b"",
    "blank": b"\n\n   \n",
    "bad-coding": b"# -*- coding: no-such-codec -*-\nimport keras\n",
    "indent": b"import keras\n  x = 1\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["scan", "refactor"])
def test_bad_input_is_one_line_exit_2(run_cli, tmp_path, kind, command):
    path = tmp_path / "model.py"
    path.write_bytes(BAD_INPUTS[kind])
    tune = tmp_path / "model_tune.py"
    tune.write_bytes(b"# an older script the user has\n")
    code, out, err = run_cli(command, path)
    assert code == 2
    assert_one_error_line(err)
    assert err.startswith(f"{path}:")
    assert tune.read_bytes() == b"# an older script the user has\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py", "model_tune.py"]


def test_bad_input_via_subprocess(tmp_path):
    (tmp_path / "model.py").write_bytes(BAD_INPUTS["syntax"])
    proc = run_optpar("refactor", "model.py", cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr)
    assert proc.stderr.startswith("model.py:")


def test_missing_path(run_cli, tmp_path):
    for command in ("scan", "refactor"):
        code, out, err = run_cli(command, tmp_path / "nope.py")
        assert code == 2
        assert_one_error_line(err)


def test_folder_given_to_refactor(run_cli, tmp_path):
    code, out, err = run_cli("refactor", tmp_path)
    assert code == 2
    assert_one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_nothing_to_tune_leaves_the_old_script(run_cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text("import keras\nmodel.compile(loss='mse')\nmodel.fit(x, y)\n")
    tune = tmp_path / "model_tune.py"
    tune.write_text("old\n")
    code, out, err = run_cli("refactor", path)
    assert code == 2
    assert_one_error_line(err)
    assert "no tunable hyperparameters" in err
    assert tune.read_text() == "old\n"


@pytest.mark.parametrize("csv", [
    "Layer,ParamName\nkeras.layers.Dense,units\n",
    "foo,bar\n1,2\n",
    "Layer,ParamName,Hptype,TupleSize,ParamOrder,Base,Type,Min,Max,Int,Set\n"
    "keras.layers.Dense,units,range,0,zero,,int,1,5,,\n",
])
def test_bad_metadata_csv(run_cli, fixture_copy, csv):
    path = fixture_copy("digits_cnn.py")
    bad = path.with_name("bad.csv")
    bad.write_text(csv)
    tune = path.with_name("digits_cnn_tune.py")
    tune.write_text("old\n")
    code, out, err = run_cli("refactor", path, "--metadata", bad)
    assert code == 2
    assert_one_error_line(err)
    assert err.startswith(f"{bad}:")
    assert tune.read_text() == "old\n"
    code, out, err = run_cli("scan", path, "--metadata", bad)
    assert code == 2
    assert_one_error_line(err)


@pytest.mark.parametrize("argv", [
    ["scan", "--bogus", "examples/digits_cnn.py"],
    ["refactor"],
    ["refactor", "examples/digits_cnn.py", "--diff", "--check"],
    ["scan", "examples/digits_cnn.py", "--format", "xml"],
    ["frobnicate"],
])
def test_bad_options(run_cli, argv):
    code, out, err = run_cli(*argv)
    assert code == 2
    assert_one_error_line(err, re.compile(r"^optpar( \w+)?: error: "))


# -- no heavy imports ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["scan", "examples/digits_cnn.py"],
    ["refactor", "examples/digits_cnn.py", "--diff"],
])
def test_scan_and_refactor_import_no_tensorflow_keras_hyperopt(argv):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "optpar", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            modules.add(name.split(".")[0])
    assert "optpar" in modules  # the parse worked
    assert not modules & {"tensorflow", "keras", "hyperopt"}


@pytest.mark.parametrize("argv", [["scan"], ["sync", "--check"]])
def test_scan_and_a_hook_with_nothing_to_rewrite_do_not_import_the_rewriter(argv, tmp_path):
    model = tmp_path / "digits_cnn.py"  # no sibling tuning script: the hook passes it over
    model.write_text((ROOT / "examples" / "digits_cnn.py").read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "optpar", *argv, str(model)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "optpar" in modules
    assert "libcst" not in modules


def test_refactor_writes_script_importing_only_the_runtime(run_cli, fixture_copy):
    path = fixture_copy("regression_constants.py")
    assert run_cli("refactor", path)[0] == 0
    text = path.with_name("regression_constants_tune.py").read_text()
    assert re.findall(r"^(?:from|import) optpar.*$", text, re.M) == [
        "from optpar import runtime as optpar_runtime", "from optpar.runtime import optpar_fit"]
    assert "# Generated by optpar from regression_constants.py (runtime API 2)" in text


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_scan_every_fixture_exit_0(run_cli, name):
    code, out, err = run_cli("scan", model_path(name), "--format", "flake8")
    assert code == 0
    assert all(FLAKE8_LINE.match(line) for line in out.splitlines())


def test_an_expression_too_deep_to_read_is_one_line_and_writes_nothing(tmp_path, run_cli):
    path = tmp_path / "deep.py"
    path.write_text("import keras\nx = 1\nz = " + " + ".join(["x"] * 2000) + "\n"
                    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])\n"
                    "model.compile(optimizer='adam', loss='mse')\nmodel.fit(x, z, epochs=2)\n", encoding="utf-8")
    code, out, err = run_cli("refactor", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"{path}:1:1: error: the program nests too deeply for optpar to read (an expression "
                                "of hundreds of terms, or as many calls one inside another); split it into shorter "
                                "statements"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.py"]
