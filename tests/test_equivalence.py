"""The generated script, run with DEFAULTS, builds the same model as the user's program.

Both programs run for real up to their fit() call (no training: fit is patched to record its
arguments and the model, then stop the program), and what they built is compared.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import types

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

from conftest import FIXTURES, TUNABLE_FIXTURES, model_path  # noqa: E402
from optpar.pipeline import generate  # noqa: E402
from optpar.runtime import options  # noqa: E402


class _Stop(Exception):
    """Raised by the patched fit(): the program stops there."""


def _plain(value):
    """Arrays (and nested containers of them) as comparable fingerprints."""
    if hasattr(value, "element_spec") and hasattr(value, "cardinality"):  # a tf.data.Dataset
        return ("dataset", str(value.element_spec), int(value.cardinality()))
    if isinstance(value, np.ndarray) or hasattr(value, "numpy"):
        array = np.asarray(value)
        return ("array", array.shape, str(array.dtype), hashlib.sha1(array.tobytes()).hexdigest())
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _drop_names(value):
    if isinstance(value, dict):
        return {k: _drop_names(v) for k, v in value.items() if k != "name"}
    if isinstance(value, (list, tuple)):
        return [_drop_names(v) for v in value]
    return value


def _model_summary(model) -> dict:
    try:
        config = model.get_config()
    except Exception as exc:  # subclassed models without get_config
        config = f"no config: {type(exc).__name__}"
    return {
        "class": type(model).__name__,
        "config": _drop_names(config),
        "layers": [(type(layer).__name__, _drop_names(layer.get_config())) for layer in model.layers],
        "optimizer": (type(model.optimizer).__name__, _drop_names(model.optimizer.get_config())),
        "loss": str(model.loss),
    }


@pytest.fixture
def record(monkeypatch):
    """Patch keras.Model.fit/evaluate/predict; return the list the fit calls are recorded in."""
    calls = []

    def fit(self, *args, **kwargs):
        calls.append({"model": _model_summary(self), "args": _plain(list(args)), "kwargs": kwargs})
        raise _Stop

    def evaluate(self, *args, **kwargs):
        return [0.0, 0.0]

    def predict(self, *args, **kwargs):
        return np.zeros((1, 1))

    monkeypatch.setattr(keras.Model, "fit", fit)
    monkeypatch.setattr(keras.Model, "evaluate", evaluate)
    monkeypatch.setattr(keras.Model, "predict", predict)
    # Both programs run here as if started with no arguments: an argparse program parses
    # sys.argv, and the generated script splits it (options.split_argv); pytest's own is restored.
    monkeypatch.setattr(sys, "argv", ["model.py"])
    monkeypatch.setattr(options, "_PROGRAM_ARGV", None)
    return calls


def _run_original(path) -> None:
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    with pytest.raises(_Stop):
        exec(code, {"__name__": "__main__", "__file__": str(path)})


def _run_generated(path, text) -> dict:
    # A module of its own, as the script is when run: a dataclass looks its module up.
    module = types.ModuleType("optpar_equivalence_test")
    module.__file__ = str(path)
    scope = module.__dict__
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, str(path), "exec"), scope)
        assert scope["params"] == scope["DEFAULTS"]
        with pytest.raises(_Stop):
            scope["run_trial"]()
    finally:
        sys.modules.pop(module.__name__, None)
    return scope


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_generated_script_builds_the_same_model(tmp_path, monkeypatch, record, name):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    shutil.copyfile(model_path(name), path)
    generated = generate(path)

    keras.backend.clear_session()
    _run_original(path)
    keras.backend.clear_session()
    _run_generated(generated.out_path, generated.text)
    keras.backend.clear_session()

    assert len(record) == 2
    original, trial = record
    assert trial["model"] == original["model"]
    assert trial["args"] == original["args"]  # the same data reaches fit()

    # Outside a search, optpar_fit(model.fit, ...) is the user's own call, argument for argument.
    orig_kwargs = dict(original["kwargs"])
    trial_kwargs = dict(trial["kwargs"])
    orig_callbacks = orig_kwargs.pop("callbacks", None)
    trial_callbacks = trial_kwargs.pop("callbacks", None)
    assert _plain(trial_kwargs) == _plain(orig_kwargs)
    for key in ("epochs", "batch_size"):
        assert trial_kwargs.get(key) == orig_kwargs.get(key)
    assert [type(c).__name__ for c in orig_callbacks or []] == [type(c).__name__ for c in trial_callbacks or []]


def test_changed_params_change_the_model(tmp_path, monkeypatch, record):
    """A control for the test above: with other params, run_trial builds another model."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sequential_list.py"
    shutil.copyfile(FIXTURES / "sequential_list.py", path)
    generated = generate(path)
    keras.backend.clear_session()
    scope = _run_generated(generated.out_path, generated.text)
    scope["params"].update(dense_units=32, fit_epochs=1, compile_optimizer="sgd")
    with pytest.raises(_Stop):
        scope["run_trial"]()
    keras.backend.clear_session()
    default, changed = record
    assert changed["model"] != default["model"]
    assert changed["model"]["layers"][0][1]["units"] == 32
    assert default["model"]["layers"][0][1]["units"] == 128
    assert changed["model"]["optimizer"][0] == "SGD"
    assert changed["kwargs"]["epochs"] == 1
