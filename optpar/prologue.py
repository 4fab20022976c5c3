# Added by optpar. TensorFlow writes start-up messages to stderr from C++ (oneDNN, absl,
# CUDA factories) that TF_CPP_MIN_LOG_LEVEL no longer hides (tensorflow/tensorflow#100442).
# Unless you set TF_CPP_MIN_LOG_LEVEL yourself, those lines are dropped from stderr;
# every other line passes unchanged.
import os as _optpar_os


def _optpar_filter_native_logs():
    import atexit
    import re
    import sys
    import threading

    chatter = re.compile(
        rb"WARNING: All log messages before absl::InitializeLog\(\) is called"
        rb"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
        rb"|E\d{4} [\d:.]+ +\d+ \S+:\d+\] Unable to register cu"
        rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IW] \S+:\d+\] "
        rb"|To enable the following instructions: .*rebuild TensorFlow"
    )
    marker = b"\0optpar-stderr-drained\0"
    try:
        sys.stderr.flush()
        original = _optpar_os.dup(2)
        read_end, write_end = _optpar_os.pipe()
        _optpar_os.dup2(write_end, 2)
        _optpar_os.close(write_end)
    except (OSError, ValueError):
        return
    drained = threading.Event()

    def pump():
        pending = b""
        while True:
            chunk = _optpar_os.read(read_end, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if line != marker and not chatter.match(line))
            if kept:
                _optpar_os.write(original, kept)
            if marker in lines:
                drained.set()
        if pending and not chatter.match(pending):
            _optpar_os.write(original, pending)
        drained.set()

    threading.Thread(target=pump, name="optpar-stderr", daemon=True).start()

    def restore():  # at exit: forward what is still in the pipe, then stderr is itself again
        try:
            sys.stderr.flush()
            _optpar_os.write(2, marker + b"\n")
            drained.wait(5)
            _optpar_os.dup2(original, 2)
        except (OSError, ValueError):
            pass

    atexit.register(restore)


if "TF_CPP_MIN_LOG_LEVEL" not in _optpar_os.environ:
    _optpar_os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    _optpar_filter_native_logs()
