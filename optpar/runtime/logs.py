"""TensorFlow writes start-up messages to stderr from C++ (oneDNN, absl, CUDA factories) that
TF_CPP_MIN_LOG_LEVEL no longer hides (tensorflow/tensorflow#100442). A generated script calls
`quiet_native_logs()` before anything imports TensorFlow: unless the user set TF_CPP_MIN_LOG_LEVEL,
those lines are dropped from stderr (a pipe read by a thread), and every other line passes."""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading


def quiet_native_logs() -> None:
    """Hide TensorFlow's C++ chatter from stderr, unless TF_CPP_MIN_LOG_LEVEL is set."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    _filter_native_logs()


# absl's and TensorFlow's formats for INFO and WARNING lines, CUDA's factory-registration
# errors (seen on machines with a GPU), and the CPU-feature notice.
CHATTER = re.compile(
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    rb"|E\d{4} [\d:.]+ +\d+ \S+:\d+\] Unable to register cu"
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\] "
    rb"|To enable the following instructions: .*rebuild TensorFlow"
)


def _filter_native_logs() -> None:
    chatter = CHATTER
    marker = b"\0optpar-stderr-drained\0"
    try:
        sys.stderr.flush()
        original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except (OSError, ValueError):
        return
    drained = threading.Event()

    def pump():
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if line != marker and not chatter.match(line))
            if kept:
                os.write(original, kept)
            if marker in lines:
                drained.set()
        if pending and not chatter.match(pending):
            os.write(original, pending)
        drained.set()

    threading.Thread(target=pump, name="optpar-stderr", daemon=True).start()

    def restore():  # at exit: forward what is still in the pipe, then stderr is itself again
        try:
            sys.stderr.flush()
            os.write(2, marker + b"\n")
            drained.wait(5)
            os.dup2(original, 2)
        except (OSError, ValueError):
            pass

    atexit.register(restore)
