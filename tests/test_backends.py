"""Every Keras 3 backend: the runtime's per-backend steps, and a search on JAX that never loads
TensorFlow (the end-to-end tune -> apply -> run test of test_e2e.py runs on each backend too)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import model_path, run_optpar
from optpar.runtime.devices import ENVIRONMENT, share_devices

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def test_allocator_defaults_are_set_and_the_users_own_win():
    environ = {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"}
    share_devices(environ)
    assert environ == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:128"}
    share_devices(environ)  # idempotent
    assert environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def test_importing_the_runtime_sets_them_before_keras_is_imported():
    code = textwrap.dedent("""
        import os, sys
        from optpar import runtime
        print(sorted((k, os.environ.get(k)) for k in %r), "keras" in sys.modules)
    """ % sorted(ENVIRONMENT))
    env = {k: v for k, v in ENV.items() if k not in ENVIRONMENT}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(sorted(ENVIRONMENT.items())) + " False"


RUN_AND_REPORT = textwrap.dedent("""
    import runpy, sys
    sys.argv = sys.argv[1:]
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    import keras
    print("backend:", keras.backend.backend(), "tensorflow loaded:", "tensorflow" in sys.modules)
    sys.exit(code)
""")


def test_a_search_on_jax_trains_and_never_loads_tensorflow(tmp_path):
    pytest.importorskip("jax")
    model = tmp_path / "digits_cnn.py"
    # keras.utils.set_random_seed itself imports TensorFlow when it is installed (to seed it too):
    # without that call, any TensorFlow import in the run would be optpar's.
    text = model_path("digits_cnn.py").read_text()
    assert "keras.utils.set_random_seed(0)\n" in text
    model.write_text(text.replace("keras.utils.set_random_seed(0)\n", ""))
    env = {**ENV, "KERAS_BACKEND": "jax"}
    proc = run_optpar("refactor", model.name, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, "digits_cnn_tune.py", "--max-evals", "2",
                           "--seed", "0", "--out", "runs", "--quiet"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "backend: jax tensorflow loaded: False" in proc.stdout
    best = json.loads((tmp_path / "runs" / "best.json").read_text())
    assert best["baseline_metric"] < 2.3  # it learned: chance on 10 classes is ln 10 = 2.30
    assert best["best_metric"] <= best["baseline_metric"]
