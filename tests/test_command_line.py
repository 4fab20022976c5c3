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
    args = parser.parse_args()
    with open("seen.json", "w") as handle:
        json.dump(vars(args), handle)

    EPOCHS = 2
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(args.units, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=EPOCHS, batch_size=32, validation_split=0.25, verbose=0)
""")


def test_a_program_with_its_own_argparse_tunes_and_gets_its_arguments_after_the_separator(tmp_path):
    pytest.importorskip("hyperopt")
    pytest.importorskip("keras")
    (tmp_path / "model.py").write_text(MODEL)
    seen = tmp_path / "seen.json"

    def tune(out, *extra):
        proc = run_optpar("tune", "model.py", "--max-evals", "2", "--out", out, "--quiet", *extra,
                          cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        with (tmp_path / out / "trials.csv").open(newline="") as handle:
            assert [r["status"] for r in csv.DictReader(handle)] == ["ok", "ok"]
        return json.loads(seen.read_text())

    # The search's options do not reach the program: its own defaults hold.
    assert tune("runs") == {"units": 8}
    # What follows "--" does, through optpar tune and the tuning script.
    assert tune("runs4", "--", "--units", "4") == {"units": 4}
