"""Programs configured with absl flags and started by `app.run(main)`, as TensorFlow's own models
are: a flag's default is tuned at its DEFINE (as an argparse option's is), and the tuning script
parses the flags once and sets the tuned ones as each trial starts, since absl defines a flag once
per process and app.run ends the process when main returns (before: "main() runs fit() but takes
arguments and nothing at the top level calls it")."""
from __future__ import annotations

import csv
import json
import textwrap

import pytest

from conftest import analyze_text, run_optpar, site_map
from optpar.emit import build_script

HEAD = textwrap.dedent("""\
    from absl import app, flags
    import keras
    import numpy as np

    FLAGS = flags.FLAGS
    flags.DEFINE_integer("units", 8, "Hidden units.")
    flags.DEFINE_float("learning_rate", 0.01, "Adam's step.")
    flags.DEFINE_string("tag", "none", "A name for the run.")
""")

MAIN = textwrap.dedent("""\


    def main(argv):
        del argv  # unused
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 4)).astype("float32")
        y = (x.sum(axis=1) > 0).astype("float32")
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense({units}, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=FLAGS.learning_rate), loss="binary_crossentropy")
        model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
        model.save(FLAGS.tag + ".keras")


    if __name__ == "__main__":
        {start}
""")


def program(units: str = "FLAGS.units", start: str = "app.run(main)", head: str = HEAD) -> str:
    return head + MAIN.format(units=units, start=start)


def tuned_flags(text: str) -> dict:
    return {s.id: (s.value, s.absl_flag) for s in site_map(text).values() if s.absl_flag}


def test_a_flags_default_is_tuned_at_its_define():
    sites = site_map(program())
    assert tuned_flags(program()) == {"units": ("8", "units"), "learning_rate": ("0.01", "learning_rate")}
    assert sites["units"].line == 6 and sites["units"].code == "OPT102"
    assert sites["units"].flags == ("--units", "-units")
    assert "flags.DEFINE_integer(\"units\", 8)" in sites["units"].origin


@pytest.mark.parametrize("head, units, start", [
    pytest.param(HEAD.replace("FLAGS = flags.FLAGS\n", "from absl.flags import FLAGS\n"), "FLAGS.units",
                 "app.run(main)", id="imported-FLAGS"),
    pytest.param(HEAD.replace('flags.DEFINE_integer("units", 8, "Hidden units.")',
                              'flags.DEFINE_integer(name="units", default=8, help="Hidden units.")'),
                 "FLAGS.units", "app.run(main=main)", id="keywords"),
    pytest.param(HEAD.replace('flags.DEFINE_integer("units"', 'UNITS = flags.DEFINE_integer("units"'),
                 "UNITS.value", "app.run(main)", id="flag-holder"),
    pytest.param(HEAD.replace("from absl import app, flags\n", "import tensorflow as tf\n")
                 .replace("flags.", "tf.compat.v1.flags."), "FLAGS.units", "tf.compat.v1.app.run()", id="tf.compat.v1"),
])
def test_the_forms_of_a_flag(head, units, start):
    assert tuned_flags(program(units=units, head=head, start=start))["units"] == ("8", "units")


def test_flags_FLAGS_read_as_it_is():
    text = program(units="flags.FLAGS.units")
    assert tuned_flags(text)["units"] == ("8", "units")


@pytest.mark.parametrize("text", [
    pytest.param(program(start="FLAGS(['model.py'])\n    main([])"), id="no-app.run"),
    pytest.param(program(start="app.run(main, argv=['model.py'])"), id="app.run-with-argv"),
    pytest.param(program().replace('flags.DEFINE_string("tag"', 'flags.DEFINE_integer("units", 4, "again")\n'
                                   'flags.DEFINE_string("tag"'), id="defined-twice"),
    pytest.param(program().replace('"Hidden units.")', '"Hidden units.", flag_values=OTHER)'), id="another-flag-set"),
    pytest.param(program().replace("del argv  # unused", "FLAGS.units = 4"), id="assigned"),
    pytest.param(program().replace('flags.DEFINE_integer("units", 8, "Hidden units.")',
                                   'flags.DEFINE_enum("units", "8", ["8", "16"], "Hidden units.")'), id="an-enum"),
    pytest.param(program().replace("FLAGS = flags.FLAGS", "FLAGS = other.FLAGS"), id="not-absl"),
])
def test_a_flag_the_rule_cannot_follow_is_left_as_written(text):
    assert "units" not in tuned_flags(text)


def test_the_tuning_script_parses_once_and_sets_the_tuned_flags_in_each_trial():
    script = build_script(analyze_text(program(units="FLAGS.units")), "model.py", "model_tune.py").text
    setup, trial = script.split("def run_trial():")
    assert 'flags.DEFINE_integer("units", 8, "Hidden units.")' in setup  # its DEFINE runs once, as written
    assert "argv = optpar_runtime.absl_flags()" in setup
    assert "x = rng.normal" in setup  # the data is made once
    assert '(the `if __name__ == "__main__":` block is replaced' in setup
    body = trial.split("\nif __name__")[0]
    assert body.index('"units": params["units"],') < body.index("model = keras.Sequential")
    assert "#     model.save(FLAGS.tag" in body  # after the measured fit(): not run in the search
    assert "runtime API 6" in script


def test_app_run_at_the_top_level_is_left_as_a_comment():
    text = program().replace('if __name__ == "__main__":\n    app.run(main)', "app.run(main)")
    setup = build_script(analyze_text(text), "model.py", "model_tune.py").text.split("def run_trial():")[0]
    assert "\n# app.run(main)  (the search runs main() as run_trial() below)\n" in setup


def test_a_top_level_that_does_more_runs_main_in_each_trial():
    """A tuned constant at the top level: the top level is the program, and app.run(main) becomes
    a call of main with the flags parsed and set, never absl's exit."""
    text = program().replace('FLAGS = flags.FLAGS', 'FLAGS = flags.FLAGS\nEPOCHS = 2').replace("epochs=2", "epochs=EPOCHS")
    trial = build_script(analyze_text(text), "model.py", "model_tune.py").text.split("def run_trial():")[1]
    assert 'EPOCHS = params["epochs"]' in trial
    assert 'main(optpar_runtime.absl_flags({"units": params["units"], "learning_rate": params["learning_rate"]}))' in trial


def test_a_program_that_is_not_absl_keeps_its_script():
    text = program(start="main(None)").replace("from absl import app, flags", "from absl import flags")
    script = build_script(analyze_text(text.replace("FLAGS.units", "8")), "model.py", "model_tune.py").text
    assert "absl_flags" not in script and "runtime API 2" in script


def test_refactor_is_idempotent_and_apply_writes_the_define(tmp_path):
    (tmp_path / "model.py").write_text(program())
    for out in ("a.py", "b.py"):
        assert run_optpar("refactor", "model.py", "-o", out, cwd=tmp_path).returncode == 0
    assert (tmp_path / "a.py").read_text().replace("b.py", "a.py") == (tmp_path / "b.py").read_text().replace(
        "b.py", "a.py")
    (tmp_path / "best.json").write_text(json.dumps({"best": {"units": 16, "learning_rate": 0.02}}))
    proc = run_optpar("apply", "model.py", "best.json", "--in-place", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "model.py").read_text()
    assert 'flags.DEFINE_integer("units", 16, "Hidden units.")' in text
    assert 'flags.DEFINE_float("learning_rate", 0.02, "Adam\'s step.")' in text
    assert text.replace("16", "8", 1).replace("0.02", "0.01", 1) == program()


def test_an_absl_program_tunes_its_flags_and_keeps_its_other_flags(tmp_path):
    """A real search: each trial trains with the trial's flag values; a flag given after "--"
    reaches the program; one the search tunes is refused, and so is one the program lacks."""
    pytest.importorskip("hyperopt")
    pytest.importorskip("absl")
    text = program(units="FLAGS.units").replace(
        'model.fit(x, y, epochs=2,', 'print("seen", FLAGS.units, FLAGS.tag, flush=True)\n'
        '    model.fit(x, y, epochs=2,')
    (tmp_path / "model.py").write_text(text)
    proc = run_optpar("tune", "model.py", "--max-evals", "3", "--seed", "1", "--out", "runs", "--verbose",
                      "--", "--tag=mine", cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (tmp_path / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"] and rows[0]["units"] == "8"
    seen = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("seen ")]
    assert seen == [[r["units"], "mine"] for r in rows]  # the trial's value, the user's other flag
    assert not list(tmp_path.glob("*.keras"))  # main's save, after the measured fit, did not run
    proc = run_optpar("tune", "model.py", "--max-evals", "2", "--out", "runs2", "--", "--units=4", cwd=tmp_path)
    assert proc.returncode == 2 and 'error: --units=4 after "--" sets --units' in proc.stderr
    proc = run_optpar("tune", "model.py", "--max-evals", "2", "--out", "runs3", "--", "--unknown=4",
                      cwd=tmp_path, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == "error: Unknown command line flag 'unknown'"
