"""`optpar apply`: best values written back as literals, comments and formatting kept."""
from __future__ import annotations

import json
import re

import pytest

from conftest import TUNABLE_FIXTURES
from optpar.apply import applied_text
from optpar.pipeline import analyze_path


def defaults_of(path) -> dict:
    return {s.id: s.default for s in analyze_path(path).sites}


def write_best(folder, best: dict, baseline: dict, name: str = "best.json"):
    path = folder / name
    path.write_text(json.dumps({"best": best, "baseline": baseline}), encoding="utf-8")
    return path


def apply_text(path, best: dict, baseline: dict | None = None) -> str:
    analysis = analyze_path(path)
    baseline = defaults_of(path) if baseline is None else baseline
    return applied_text(analysis, best, baseline, "best.json")[0]


# -- round trip: DEFAULTS give the file back byte for byte --------------------------------------

@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_applying_defaults_is_a_no_op(fixture_copy, run_cli, name):
    path = fixture_copy(name)
    original = path.read_bytes()
    defaults = defaults_of(path)
    assert apply_text(path, defaults) == original.decode("utf-8")
    best = write_best(path.parent, defaults, defaults)
    code, out, err = run_cli("apply", path, best, "--in-place")
    assert code == 0
    assert path.read_bytes() == original


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_defaults_of_generated_script_round_trip(fixture_copy, name):
    """The DEFAULTS dict of the generated script is what apply accepts as baseline and best."""
    from optpar.pipeline import generate

    path = fixture_copy(name)
    text = generate(path).text
    start = text.index("DEFAULTS = {")
    end = text.index("\n}\n", start) + 3
    scope: dict = {}
    exec(text[start:end], scope)
    defaults = scope["DEFAULTS"]
    assert apply_text(path, defaults, defaults) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_change_then_defaults_gives_back_the_original(fixture_copy, name):
    path = fixture_copy(name)
    original = path.read_text(encoding="utf-8")
    defaults = defaults_of(path)
    changed = {}
    for site in analyze_path(path).sites:
        if site.space.dist == "choice":
            changed[site.id] = next(o for o in site.space.options if o != site.default)
        elif site.space.integer:
            changed[site.id] = site.default + 1
        else:
            changed[site.id] = round((site.space.low + site.space.high) / 2, 6)
    new_text = apply_text(path, changed, defaults)
    assert new_text != original
    path.write_text(new_text, encoding="utf-8")
    assert defaults_of(path) == changed  # the new file holds the new values at the same sites
    back = apply_text(path, defaults, changed)
    # floats are written in short form, so compare what the file means and where it differs
    assert defaults_of_text(path, back) == defaults
    assert len(back.splitlines()) == len(original.splitlines())
    differing = [(a, b) for a, b in zip(original.splitlines(), back.splitlines()) if a != b]
    for a, b in differing:  # only the spelling of a number can differ (1e-3 vs 0.001)
        assert _numbers(a) == _numbers(b), (a, b)


def defaults_of_text(path, text):
    path.write_text(text, encoding="utf-8")
    return defaults_of(path)


def _numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d*)?(?:e-?\d+)?", line)]


# -- before / after ------------------------------------------------------------------------------

MODEL = '''\
import keras
from keras.layers import Conv2D, Dense

EPOCHS = 15  # how long
model = keras.Sequential([
    Conv2D(32, kernel_size=(3, 3), activation='relu'),   # features
    Dense(128,
          activation="relu"),
    Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
model.fit(x, y, epochs=EPOCHS, validation_split=0.1)
'''

APPLY_CASES = [
    pytest.param({"epochs": 30}, "EPOCHS = 15  # how long", "EPOCHS = 30  # how long", id="constant"),
    pytest.param({"conv2d_kernel_size": 5}, "kernel_size=(3, 3)", "kernel_size=(5, 5)", id="tuple"),
    pytest.param({"conv2d_activation": "tanh"},
                 "activation='relu'),   # features", "activation='tanh'),   # features",
                 id="single-quotes-kept"),
    pytest.param({"dense_activation": "elu"},
                 '          activation="relu"),', '          activation="elu"),',
                 id="double-quotes-kept"),
    pytest.param({"dense_units": 256}, "    Dense(128,\n", "    Dense(256,\n", id="int"),
    pytest.param({"adam_learning_rate": 0.0025}, "learning_rate=1e-3", "learning_rate=0.0025",
                 id="float"),
    pytest.param({"adam_learning_rate": 2.5e-05}, "learning_rate=1e-3", "learning_rate=2.5e-5",
                 id="small-float"),
]


@pytest.mark.parametrize("best, before, after", APPLY_CASES)
def test_apply_before_after(tmp_path, best, before, after):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    assert before in MODEL
    assert apply_text(path, best) == MODEL.replace(before, after)


@pytest.mark.parametrize("best, before, after", APPLY_CASES)
def test_apply_is_idempotent(tmp_path, best, before, after):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    once = apply_text(path, best)
    path.write_text(once, encoding="utf-8")
    new_baseline = {**defaults_of(path)}
    assert apply_text(path, best, new_baseline) == once


UNPACKED = """\
import keras

n_epoch, lr = 100, 0.01  # set hyper-parameters
model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
model.fit(x, y, epochs=n_epoch, validation_split=0.1)
"""


def test_apply_writes_an_unpacked_constant_in_its_place_and_is_idempotent(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(UNPACKED, encoding="utf-8")
    assert sorted(defaults_of(path)) == ["lr", "n_epoch"]
    once = apply_text(path, {"n_epoch": 40, "lr": 0.0025})
    assert once == UNPACKED.replace("n_epoch, lr = 100, 0.01", "n_epoch, lr = 40, 0.0025")
    path.write_text(once, encoding="utf-8")
    assert apply_text(path, {"n_epoch": 40, "lr": 0.0025}, defaults_of(path)) == once


def test_apply_list_for_tuple_value(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    assert "kernel_size=(7, 7)" in apply_text(path, {"conv2d_kernel_size": [7, 7]})


# -- the command ---------------------------------------------------------------------------------

def test_apply_diff_is_the_default_and_writes_nothing(run_cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    best = write_best(tmp_path, {"epochs": 30, "dense_units": 64}, defaults_of(path))
    for extra in ([], ["--diff"]):
        code, out, err = run_cli("apply", path, best, *extra)
        assert code == 0
        assert path.read_text() == MODEL
        assert out.startswith(f"--- a/{path}\n+++ b/{path}\n")
        assert "-EPOCHS = 15  # how long\n+EPOCHS = 30  # how long\n" in out
        assert "-    Dense(128,\n+    Dense(64,\n" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "model.py"]


def test_apply_in_place(run_cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    best = write_best(tmp_path, {"epochs": 30, "conv2d_kernel_size": 5, "dense_activation": "elu"}, defaults_of(path))
    code, out, err = run_cli("apply", path, best, "--in-place")
    assert code == 0
    assert path.read_text() == MODEL.replace("EPOCHS = 15", "EPOCHS = 30").replace("(3, 3)", "(5, 5)").replace(
        'activation="relu"', 'activation="elu"')
    # each change as the file had it and has it now
    for change in ("epochs: 15 -> 30", "conv2d_kernel_size: (3, 3) -> (5, 5)", 'dense_activation: "relu" -> "elu"'):
        assert change + "\n" in out
    # applying the same best again: nothing to do
    code, out, err = run_cli("apply", path, write_best(tmp_path, {"epochs": 30}, {"epochs": 30}, "b2.json"),
                             "--in-place")
    assert code == 0 and "already" in err


def test_apply_best_json_from_runtime_format(run_cli, tmp_path):
    """best.json as the runtime writes it: extra keys, metrics."""
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    data = {"best": {"dense_units": 64}, "best_metric": 0.1, "baseline": defaults_of(path),
            "baseline_metric": 0.2, "source": "model.py"}
    (tmp_path / "best.json").write_text(json.dumps(data))
    code, out, err = run_cli("apply", path, tmp_path / "best.json", "--in-place")
    assert code == 0
    assert "    Dense(64,\n" in path.read_text()


@pytest.mark.parametrize("best, baseline, message", [
    ({"dense_9_units": 64}, {}, "no longer has"),
    ({"dense_units": 64}, {"dense_units": 96}, "dense_units"),
    ({"epochs": 30}, {"epochs": 10}, "epochs"),
])
def test_apply_stale_best_json_is_an_error(run_cli, tmp_path, best, baseline, message):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    best_path = write_best(tmp_path, best, baseline)
    for mode in ("--in-place", "--diff"):
        code, out, err = run_cli("apply", path, best_path, mode)
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and re.match(r"^.+:\d+:\d+: error: ", lines[0])
        assert message in lines[0]
        assert "Traceback" not in err
        assert out == ""
        assert path.read_text() == MODEL


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"best": [1]}'])
def test_apply_bad_best_json(run_cli, tmp_path, content):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    (tmp_path / "best.json").write_text(content)
    code, out, err = run_cli("apply", path, tmp_path / "best.json", "--in-place")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "error:" in err
    assert path.read_text() == MODEL


def test_apply_missing_best_json(run_cli, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL, encoding="utf-8")
    code, out, err = run_cli("apply", path, tmp_path / "nope.json")
    assert code == 2 and "error:" in err and path.read_text() == MODEL


def test_apply_round_trip_on_fixture_via_cli(run_cli, fixture_copy):
    path = fixture_copy("digits_cnn.py")
    original = path.read_text()
    defaults = defaults_of(path)
    best = write_best(path.parent, {"epochs": 3, "conv2d_kernel_size": 5, "dense_units": 64,
                                    "adadelta_learning_rate": 0.5}, defaults)
    assert run_cli("apply", path, best, "--in-place")[0] == 0
    text = path.read_text()
    assert "EPOCHS = 3\n" in text
    assert "Conv2D(32, kernel_size=(5, 5), activation=\"relu\")" in text
    assert "Dense(64, activation=\"relu\")" in text
    assert "Adadelta(learning_rate=0.5)" in text
    back = write_best(path.parent, defaults, {**defaults, "epochs": 3, "conv2d_kernel_size": 5,
                                              "dense_units": 64, "adadelta_learning_rate": 0.5},
                      "back.json")
    assert run_cli("apply", path, back, "--in-place")[0] == 0
    assert path.read_text() == original


OPTION_MODEL = '''\
import argparse

import keras

parser = argparse.ArgumentParser()
parser.add_argument("--units", type=int, default=64)  # width
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()
model = keras.Sequential([keras.layers.Dense(args.units, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss="mse")
model.fit(x, y, epochs=3, validation_split=0.1)
'''


CONFIG_MODEL = '''\
import keras

CONFIG = {
    "units": 64,  # width
    "rate": 0.25,
}
model = keras.Sequential([keras.layers.Dense(CONFIG["units"], activation="relu"),
                          keras.layers.Dropout(CONFIG["rate"]), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.1)
'''


@pytest.mark.parametrize("model, best, changes", [
    pytest.param(OPTION_MODEL, {"units": 128, "lr": 0.0025},
                 [("default=64)  # width", "default=128)  # width"), ("default=1e-3)", "default=0.0025)")],
                 id="option-default"),
    pytest.param(CONFIG_MODEL, {"units": 128, "rate": 0.4},
                 [('"units": 64,  # width', '"units": 128,  # width'), ('"rate": 0.25,', '"rate": 0.4,')],
                 id="config-entry"),
])
def test_apply_writes_where_the_value_is_written_and_is_idempotent(tmp_path, model, best, changes):
    path = tmp_path / "model.py"
    path.write_text(model, encoding="utf-8")
    assert set(defaults_of(path)) >= set(best)
    expected = model
    for before, after in changes:
        assert before in expected
        expected = expected.replace(before, after)
    once = apply_text(path, best)
    assert once == expected
    path.write_text(once, encoding="utf-8")
    assert apply_text(path, best, defaults_of(path)) == once
