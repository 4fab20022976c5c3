"""A program that reads its own command line (argparse at its top level, as research scripts do).
The tuning script runs the program's top level before its search starts, so the two command
lines are split at "--": the search's options before it, the program's own after it, left in
sys.argv where the program's argparse reads them (before: argparse saw --max-evals and exited 2)."""
from __future__ import annotations

import csv
import json
import sys
import textwrap

import pytest

from conftest import run_optpar
from optpar.runtime import options, search


@pytest.mark.parametrize("argv, own, left", [
    (["t.py", "--max-evals", "3"], ["--max-evals", "3"], ["t.py"]),  # no "--": all the search's
    (["t.py", "--max-evals", "3", "--", "--units", "16"], ["--max-evals", "3"], ["t.py", "--units", "16"]),
    (["t.py", "--", "--max-evals", "3"], [], ["t.py", "--max-evals", "3"]),
    (["t.py", "--out", "r", "--", "a", "--", "b"], ["--out", "r"], ["t.py", "a", "--", "b"]),  # the first "--"
    (["t.py"], [], ["t.py"]),
])
def test_split_argv(argv, own, left, monkeypatch):
    monkeypatch.setattr(options, "_PROGRAM_ARGV", None)
    assert options.split_argv(argv) == own
    assert argv == left
    assert options.program_argv() == tuple(left[1:])


@pytest.mark.parametrize("arg, stops", [
    ("--units", True), ("--units=32", True), ("--uni", True),  # argparse reads an abbreviation too
    ("-u", True), ("-u32", True),
    ("--units-file", False), ("--data", False), ("32", False), ("--", False),
])
def test_a_tuned_option_after_the_separator_stops_the_script(arg, stops, monkeypatch, capsys):
    """An option whose default the search tunes, given on the command line, would hold one value
    in every trial while trials.csv reported others: the script stops (exit 2) and says so."""
    monkeypatch.setattr(options, "_PROGRAM_ARGV", None)
    argv = ["t.py", "--max-evals", "3", "--", "--data", "d", arg]
    if not stops:
        assert options.split_argv(argv, tuned=("-u", "--units")) == ["--max-evals", "3"]
        return
    with pytest.raises(SystemExit) as stopped:
        options.split_argv(argv, tuned=("-u", "--units"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: %s after \"--\" sets " % arg) and "which the search tunes" in err
    assert err.count("\n") == 1


def test_the_resume_command_keeps_the_programs_arguments(monkeypatch):
    monkeypatch.setattr(options, "_PROGRAM_ARGV", ("--units", "16"))
    monkeypatch.setattr(sys, "argv", ["model_tune.py", "--units", "16"])
    command = search._resume_command(["--max-evals", "3"])
    assert command.endswith("model_tune.py --max-evals 3 -- --units 16")


MODEL = textwrap.dedent("""\
    import argparse
    import json

    import keras
    import numpy as np

    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--tag", default="none")
    args = parser.parse_args()
    with open("seen-%s.json" % args.units, "w") as handle:
        json.dump(vars(args), handle)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(args.units, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
""")


def test_a_program_with_its_own_argparse_tunes_its_option_and_gets_its_other_arguments(tmp_path):
    """`--units`'s default is tuned (each trial parses its command line again, with the trial's
    value as the default); `--tag` comes from what follows "--"; the search's own options never
    reach the program."""
    pytest.importorskip("hyperopt")
    pytest.importorskip("keras")
    (tmp_path / "model.py").write_text(MODEL)
    proc = run_optpar("tune", "model.py", "--max-evals", "3", "--seed", "1", "--out", "runs", "--quiet",
                      "--", "--tag", "x", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"] and rows[0]["units"] == "8"
    assert len({r["units"] for r in rows}) > 1  # (--seed 1: the search tried other widths)
    for row in rows:  # what the program parsed in each trial: the trial's units, the user's tag
        assert json.loads((tmp_path / ("seen-%s.json" % row["units"])).read_text()) == {
            "units": int(row["units"]), "tag": "x"}
    # Giving the tuned option itself would fix it in every trial: refused before any training.
    proc = run_optpar("tune", "model.py", "--max-evals", "2", "--out", "runs2", "--", "--units", "4",
                      cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith('error: --units after "--" sets --units')
    assert not (tmp_path / "runs2").exists()


REQUIRED = textwrap.dedent("""\
    import argparse
    import numpy as np
    import keras

    parser = argparse.ArgumentParser()
    parser.add_argument("procedure", choices=["train", "inference"])
    parser.add_argument("--units", type=int, default=4)
    args = parser.parse_args()
    x = np.random.default_rng(0).random((32, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(args.units), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    if args.procedure == "train":
        model.fit(x, x.sum(axis=1), epochs=1, validation_split=0.25)
""")


def test_a_required_argument_not_given_is_one_line_before_anything_runs(tmp_path):
    (tmp_path / "model.py").write_text(REQUIRED, encoding="utf-8")
    proc = run_optpar("tune", "model.py", "--max-evals", "1", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('model.py:6:1: error: the program needs the command-line argument "procedure" '
                                   "(argparse); pass its arguments after --: optpar tune model.py -- ...")
    assert not (tmp_path / "model_tune.py").exists()
    proc = run_optpar("tune", "model.py", "--max-evals", "1", "--", "train", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("argument, needed", [
    ('"path"', True), ('"--data", required=True', True), ('"paths", nargs="+"', True),
    ('"data", nargs=1', True), ('"data", nargs=argparse.ONE_OR_MORE', True),
    ('"path", nargs="?", default="a.csv"', False), ('"rest", nargs="*"', False), ('"--data", default="a.csv"', False),
    ('"rest", nargs=argparse.REMAINDER', False), ('"data", nargs=count', False),
])
def test_which_arguments_the_command_line_must_give(argument, needed):
    from conftest import analyze_text

    text = REQUIRED.replace('"procedure", choices=["train", "inference"]', argument)
    assert bool(analyze_text(text).required_arguments) is needed
    assert not analyze_text(text.replace("parser.parse_args()", "parser.parse_args([])")).required_arguments
