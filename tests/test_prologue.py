"""quiet_native_logs(), the first thing a generated script runs, hides TensorFlow's C++ start-up
chatter from stderr, and only that: a user's own stderr lines, and everything when the user set
TF_CPP_MIN_LOG_LEVEL, pass unchanged. Checked with lines in the formats TensorFlow and absl
write, in a real process."""
from __future__ import annotations

import os
import subprocess
import sys


CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795466580.607666    2500 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1795466582.346257    2500 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with flags.",
    "E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579] Unable to register cuDNN factory: ...",
    "2025-09-17 14:44:05.157831: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:32] Could not find cuda",
]
PROLOGUE = "from optpar.runtime import quiet_native_logs\nquiet_native_logs()\n"
OWN = ["a line of the user's own", "E0000 00:00:1.0 1 model.cc:1] an error TensorFlow reports stays"]


def _run(tmp_path, env_extra: dict) -> str:
    body = "import os, sys\n"
    for line in CHATTER + OWN:
        body += f"os.write(2, {(line + chr(10)).encode()!r})\n"
    body += "print('stderr from Python', file=sys.stderr)\nraise SystemExit(3)\n"
    script = tmp_path / "model_tune.py"
    script.write_text(PROLOGUE + "\n" + body, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, str(script)], env={**env, **env_extra}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 3
    return proc.stderr


def test_chatter_is_dropped_and_everything_else_passes(tmp_path):
    err = _run(tmp_path, {})
    assert err.splitlines() == OWN + ["stderr from Python"]


def test_a_user_who_set_the_log_level_sees_everything(tmp_path):
    err = _run(tmp_path, {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert err.splitlines() == CHATTER + OWN + ["stderr from Python"]


def test_a_traceback_is_not_lost(tmp_path):
    script = tmp_path / "model_tune.py"
    script.write_text(PROLOGUE + "\nraise ValueError('the last words')\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.rstrip().endswith("ValueError: the last words")
