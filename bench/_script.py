"""Shared by the bench scripts: load a generated-style tuning script (the
test builder's tiny user part, handed to optpar.runtime) as a module namespace."""
from __future__ import annotations

import os
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tune_script_builder as builder  # noqa: E402

# Fixed 2 epochs (no fit_epochs parameter) so both sides train the same amount.
SPACE = builder.SPACE.replace(
    '    "fit_epochs": scope.int(hp.quniform("fit_epochs", 1, 2, 1)),\n', ""
).replace(', "fit_epochs": 2}', "}")
RUN_TRIAL = builder.RUN_TRIAL.replace('epochs=params["fit_epochs"]', "epochs=2")


def load_generated(path: Path) -> types.ModuleType:
    """Write the script to `path` and execute it as a module (not __main__)."""
    path.write_text(builder.script_text(run_trial=RUN_TRIAL, space=SPACE))
    module = types.ModuleType("model_tune")
    module.__file__ = str(path)
    sys.modules["model_tune"] = module
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def program(ns: types.ModuleType):
    """What the script's main() hands to the runtime."""
    from optpar.runtime.state import Program

    return Program(ns.SOURCE, ns.SPACE, ns.DEFAULTS, ns.BASELINE_POINT, ns.params, ns.run_trial, ns.SEEDS)
