# ---------------------------------------------------------------------------
# optpar runtime: the search loop of a generated tuning script.
#
# This text is copied verbatim from optpar/runtime.py to the end of every
# generated ``<model>_tune.py``; the script does not need optpar to run.
# It relies on the names the generated part defines above it:
#   SOURCE, NOTES, SPACE, DEFAULTS, BASELINE_POINT, params, run_trial().
# Every module-level name of the runtime starts with an underscore (except
# ``optpar_callbacks`` and ``main``) so that it cannot shadow a name of the
# user's code, which reads its globals at call time.
# ---------------------------------------------------------------------------
import argparse as _argparse
import csv as _csv
import functools as _functools
import json as _json
import math as _math
import os as _os
import re as _re
import shlex as _shlex
import signal as _signal
import sys as _sys
import threading as _threading
import time as _time

import hyperopt as _hyperopt
import keras as _keras
import numpy as _np

_OPTPAR_STORE_VERSION = 1
_OPTPAR_MAX_ERROR_CHARS = 300


class _OptparTrialState:
    """What ``optpar_callbacks`` needs to know about the trial being run.

    The objective sets ``metric``/``mode``/``patience`` before calling
    ``run_trial()`` and takes the recorder back afterwards; outside a search
    the defaults below apply.
    """

    def __init__(self):
        self.metric = "val_loss"
        self.mode = "min"
        self.patience = 3
        self.recorder = None


_OPTPAR_STATE = _OptparTrialState()


class _OptparInterrupt:
    """Ctrl-C during a search. The first one is remembered as well as raised:
    a KeyboardInterrupt that Python delivers inside a destructor or a callback
    of TensorFlow's is printed and dropped there, so the search also checks
    the flag after every epoch and every trial, where raising is safe."""

    def __init__(self):
        self.requested = False

    def handler(self, signum, frame):
        self.requested = True
        code = getattr(frame, "f_code", None)
        if code is not None and (code.co_name == "__del__" or code.co_filename.endswith("weakref.py")):
            return  # raised here, it would be printed as "Exception ignored" and lost
        raise KeyboardInterrupt

    def check(self):
        if self.requested:
            raise KeyboardInterrupt


_OPTPAR_INTERRUPT = _OptparInterrupt()


def _optpar_default_mode(metric):
    name = metric.lower()
    for word in ("acc", "auc", "precision", "recall"):
        if word in name:
            return "max"
    return "min"


def _optpar_is_finite(value):
    return value is not None and _math.isfinite(value)


def _optpar_float(value):
    """A Keras log value as a plain float (None when it is not a scalar)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        try:
            return float(_np.asarray(value).reshape(()))
        except Exception:
            return None


def _optpar_plain(value):
    """numpy scalars/arrays and tuples inside ``value`` as plain Python values."""
    if isinstance(value, _np.generic):
        return value.item()
    if isinstance(value, _np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _optpar_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_optpar_plain(v) for v in value]
    return value


class _OptparRecorder(_keras.callbacks.Callback):
    """Keeps each epoch's logs as plain floats (no tensors, no model refs)."""

    def __init__(self, metric):
        super().__init__()
        self.metric = metric
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        row = {}
        for key, value in (logs or {}).items():
            number = _optpar_float(value)
            if number is not None:
                row[str(key)] = number
        self.epochs.append(row)
        # A diverged run cannot recover: stop it instead of training on NaNs.
        for key in (self.metric, "loss"):
            if key in row and not _math.isfinite(row[key]):
                self.model.stop_training = True
        _OPTPAR_INTERRUPT.check()


def _optpar_is_early_stopping(callback):
    return any(cls.__name__ == "EarlyStopping" for cls in type(callback).__mro__)


def optpar_callbacks(user_callbacks=None):
    """The callbacks for the tuned ``fit`` call: the user's own, a recorder
    of the epoch logs, and an EarlyStopping on the tuned metric unless the
    user already has one (or ``--patience 0``)."""
    if user_callbacks is None:
        callbacks = []
    elif isinstance(user_callbacks, (list, tuple)):
        callbacks = list(user_callbacks)
    else:
        callbacks = [user_callbacks]
    state = _OPTPAR_STATE
    recorder = _OptparRecorder(state.metric)
    state.recorder = recorder
    callbacks.append(recorder)
    if state.patience > 0 and not any(_optpar_is_early_stopping(c) for c in callbacks):
        callbacks.append(
            _keras.callbacks.EarlyStopping(
                monitor=state.metric,
                mode=state.mode,
                patience=state.patience,
                restore_best_weights=False,
            )
        )
    return callbacks


def _optpar_error_text(exc):
    """``Type: message`` on one line. Keras wraps a layer's error between
    "Exception encountered when calling X.call()." and "Arguments received by
    X.call(): * inputs=..."; neither says what went wrong, so both go."""
    kept = []
    for line in _re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines():  # no terminal colours
        line = line.strip()
        if line.startswith("Arguments received by"):
            break
        if line and not line.startswith("Exception encountered when calling"):
            kept.append(line)
    text = type(exc).__name__ + (": " + " ".join(kept) if kept else "")
    if len(text) > _OPTPAR_MAX_ERROR_CHARS:
        text = text[: _OPTPAR_MAX_ERROR_CHARS - 3] + "..."
    return text


class _OptparRetraceFilter:
    """Drops TensorFlow's "triggered tf.function retracing" warning: a search
    builds a new model each trial, so retracing is expected, not a bug."""

    def filter(self, record):
        return "tf.function retracing" not in record.getMessage()


def _optpar_quiet_retracing():
    import logging

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _OptparRetraceFilter) for f in logger.filters):
        logger.addFilter(_OptparRetraceFilter())


def _optpar_enable_gpu_memory_growth():
    """Let TensorFlow allocate GPU memory as needed (no-op on CPU)."""
    try:
        if _keras.backend.backend() != "tensorflow":
            return
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):
                pass  # already initialised: nothing to do any more
    except Exception:
        pass


def _optpar_gradient_registry():
    """TensorFlow's global table of gradient functions ({op type: entry}),
    or None (another backend, or a TensorFlow that keeps it elsewhere)."""
    try:
        if _keras.backend.backend() != "tensorflow":
            return None
        from tensorflow.python.framework import ops

        registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
        return registry if isinstance(registry, dict) else None
    except Exception:
        return None


def _optpar_forget_custom_gradients(registry, known):
    """Drop the ``CustomGradient-<n>`` entries a trial added to TensorFlow's
    gradient registry. ``tf.custom_gradient`` registers one, never removed,
    each time a function using it is traced; Keras's optimizer does so in
    every train function (its gradient all-reduce), and the entry's closure
    holds tensors of the traced graph, so every trial's train graphs (and
    TensorFlow's native copies of them) outlived ``clear_session()``:
    about 4.5 MB a trial on a tiny model. The graphs these entries serve
    belong to the trial's model, which the next ``clear_session()`` frees."""
    if registry is None or known is None:
        return
    try:
        for name in [n for n in list(registry) if n not in known]:
            if isinstance(name, str) and name.startswith("CustomGradient-"):
                registry.pop(name, None)
    except Exception:
        pass


class _OptparObjective:
    """One trial: set ``params``, fresh Keras session, ``run_trial()``,
    score = best epoch value of the metric. Never raises an ``Exception``:
    failures become ``STATUS_FAIL`` results carrying the error text."""

    def __init__(self, metric, mode, patience):
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self._gpu_ready = False

    def __call__(self, values):
        values = _optpar_plain(values)
        if not self._gpu_ready:
            _optpar_enable_gpu_memory_growth()
            _optpar_quiet_retracing()
            self._gpu_ready = True
        params.clear()
        params.update(values)
        state = _OPTPAR_STATE
        state.metric, state.mode, state.patience = self.metric, self.mode, self.patience
        state.recorder = None
        # A fresh Keras session; it also runs gc.collect() (free_memory=True),
        # which frees the previous trial's model: no second collection needed.
        _keras.backend.clear_session()
        start = _time.perf_counter()
        epochs = []
        # Looked up each trial, not kept on self: Spark pickles the objective.
        gradients = _optpar_gradient_registry()
        known = None if gradients is None else set(gradients)
        try:
            run_trial()
            recorder, state.recorder = state.recorder, None
            if recorder is None:
                raise RuntimeError("the fit call did not use optpar_callbacks(): no epoch logs")
            epochs = recorder.epochs
            del recorder
            metric = self._score(epochs)
        except Exception as exc:  # noqa: BLE001 - every failure is a failed trial
            state.recorder = None
            if _OPTPAR_INTERRUPT.requested:
                raise KeyboardInterrupt from None  # Ctrl-C, seen through an error of TF's
            error = _optpar_error_text(exc)
            del exc
            return {
                "status": _hyperopt.STATUS_FAIL,
                "error": error,
                "values": values,
                "duration_s": round(_time.perf_counter() - start, 3),
                "epochs": len(epochs),
                "pid": _os.getpid(),
            }
        finally:
            # Without this the trial's train graphs stay alive for good.
            _optpar_forget_custom_gradients(gradients, known)
        return {
            "status": _hyperopt.STATUS_OK,
            "loss": metric if self.mode == "min" else -metric,
            "metric": metric,
            "values": values,
            "duration_s": round(_time.perf_counter() - start, 3),
            "epochs": len(epochs),
            "pid": _os.getpid(),
        }

    def _score(self, epochs):
        if not epochs:
            raise RuntimeError("fit() ran no epoch")
        series = [row.get(self.metric) for row in epochs]
        if all(value is None for value in series):
            keys = sorted({key for row in epochs for key in row})
            raise KeyError(
                "metric %r is not in the epoch logs; available: %s"
                % (self.metric, ", ".join(keys) or "(none)")
            )
        for number, value in enumerate(series, 1):
            if not _optpar_is_finite(value):
                raise FloatingPointError("%s is %s at epoch %d" % (self.metric, value, number))
        losses = [row.get("loss") for row in epochs if "loss" in row]
        if any(not _math.isfinite(value) for value in losses):
            raise FloatingPointError("training loss is not finite")
        return min(series) if self.mode == "min" else max(series)


# --------------------------------------------------------------------------
# Persistence: the finished trials as JSON records, written atomically.
# --------------------------------------------------------------------------

def _optpar_atomic_write(path, text):
    tmp = "%s.tmp-%d" % (path, _os.getpid())
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        _os.fsync(handle.fileno())
    _os.replace(tmp, path)


def _optpar_point(vals):
    """hyperopt's misc ``vals`` ({name: [v] or []}) as a point {name: v}."""
    return {k: v[0] for k, v in vals.items() if len(v)}


class _OptparStore:
    """``trials.json`` (the resumable state), ``trials.csv`` and ``best.json``."""

    def __init__(self, out, metric, mode):
        self.out = out
        self.metric = metric
        self.mode = mode
        self.path = _os.path.join(out, "trials.json")
        self.records = []

    def load(self):
        """Read the finished trials of an earlier run; raise ValueError when
        they belong to a different search."""
        if not _os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as handle:
            data = _json.load(handle)
        if data.get("version") != _OPTPAR_STORE_VERSION:
            raise ValueError("%s: unknown format version %r" % (self.path, data.get("version")))
        if sorted(data.get("space", [])) != sorted(SPACE):
            raise ValueError(
                "%s holds trials of a different search space (%s); use another --out"
                % (self.path, ", ".join(data.get("space", [])))
            )
        if (data.get("metric"), data.get("mode")) != (self.metric, self.mode):
            raise ValueError(
                "%s holds trials scored on %s (%s); rerun with --metric %s --mode %s or use another --out"
                % (self.path, data.get("metric"), data.get("mode"), data.get("metric"), data.get("mode"))
            )
        self.records = list(data.get("trials", []))
        for index, record in enumerate(self.records):
            record["tid"] = index  # the resumed search renumbers them 0..n-1
        return self.records

    def update_from(self, trials, baseline_tid, n_kept):
        """Append the trials finished since the last save (keeping the
        ``n_kept`` loaded records exactly as they were)."""
        known = {rec["tid"] for rec in self.records}
        new = []
        for doc in sorted(trials._dynamic_trials, key=lambda d: d["tid"]):
            tid = doc["tid"]
            if tid < n_kept or tid in known:
                continue
            record = _optpar_record_from_doc(doc, self.mode)
            if record is None:
                continue
            record["baseline"] = tid == baseline_tid
            new.append(record)
        if not new:
            return []
        self.records.extend(new)
        for number, record in enumerate(self.records, 1):
            record["number"] = number
        self.save()
        return new

    def save(self):
        data = {
            "version": _OPTPAR_STORE_VERSION,
            "source": SOURCE,
            "metric": self.metric,
            "mode": self.mode,
            "space": list(SPACE),
            "trials": self.records,
        }
        _optpar_atomic_write(self.path, _json.dumps(data, indent=1, sort_keys=True) + "\n")
        self.write_csv()
        self.write_best()

    def ok_records(self):
        return [r for r in self.records if r["status"] == _hyperopt.STATUS_OK]

    def best_record(self):
        ok = self.ok_records()
        if not ok:
            return None
        pick = min if self.mode == "min" else max
        return pick(ok, key=lambda r: r["metric"])

    def baseline_record(self):
        for record in self.records:
            if record.get("baseline"):
                return record
        return None

    def write_csv(self):
        import io

        names = list(SPACE)
        buffer = io.StringIO()
        writer = _csv.writer(buffer, lineterminator="\n")
        writer.writerow(["number", "status", self.metric] + names + ["duration_s", "epochs", "error"])
        for r in self.records:
            values = r.get("values") or {}
            writer.writerow(
                [r["number"], r["status"], "" if r.get("metric") is None else r["metric"]]
                + [_optpar_cell(values.get(name, "")) for name in names]
                + [r.get("duration_s", ""), r.get("epochs", ""), r.get("error", "")]
            )
        _optpar_atomic_write(_os.path.join(self.out, "trials.csv"), buffer.getvalue())

    def write_best(self):
        best = self.best_record()
        baseline = self.baseline_record()
        data = {
            "source": SOURCE,
            "metric": self.metric,
            "mode": self.mode,
            "best": None if best is None else _optpar_in_space_order(best["values"]),
            "best_metric": None if best is None else best["metric"],
            "baseline": _optpar_plain(DEFAULTS),
            "baseline_metric": None if baseline is None else baseline.get("metric"),
            "trials": len(self.records),
            "failed": len(self.records) - len(self.ok_records()),
        }
        _optpar_atomic_write(
            _os.path.join(self.out, "best.json"), _json.dumps(data, indent=2) + "\n"
        )

    def write_plot(self):
        """convergence.png: metric per trial, best so far, baseline."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        xs = [r["number"] for r in self.ok_records()]
        ys = [r["metric"] for r in self.ok_records()]
        ax.plot(xs, ys, "o", color="tab:blue", label="trial")
        best_x, best_y, best = [], [], None
        for x, y in zip(xs, ys):
            if best is None or (y < best if self.mode == "min" else y > best):
                best = y
            best_x.append(x)
            best_y.append(best)
        if best_x:
            ax.step(best_x, best_y, where="post", color="tab:orange", label="best so far")
        failed = [r["number"] for r in self.records if r["status"] != _hyperopt.STATUS_OK]
        if failed:
            for x in failed:
                ax.axvline(x, color="tab:red", alpha=0.2, lw=3)
            ax.plot([], [], color="tab:red", alpha=0.2, lw=3, label="failed trial")
        baseline = self.baseline_record()
        if baseline is not None and baseline.get("metric") is not None:
            ax.axhline(baseline["metric"], color="gray", ls="--", label="baseline (your values)")
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric)
        ax.set_title("%s: %s per trial (%s)" % (SOURCE, self.metric, self.mode))
        ax.legend(loc="best")
        fig.tight_layout()
        tmp = _os.path.join(self.out, "convergence.tmp-%d.png" % _os.getpid())
        fig.savefig(tmp, dpi=100)
        _os.replace(tmp, _os.path.join(self.out, "convergence.png"))


def _optpar_in_space_order(values):
    ordered = {k: values[k] for k in SPACE if k in values}
    ordered.update((k, v) for k, v in values.items() if k not in ordered)
    return ordered


def _optpar_cell(value):
    if isinstance(value, (list, dict)):
        return _json.dumps(value)
    return value


def _optpar_record_from_doc(doc, mode):
    """A finished hyperopt trial document as a JSON-able record (None when
    the trial did not finish: new, running or cancelled)."""
    result = doc.get("result") or {}
    vals = _optpar_plain(doc["misc"]["vals"])
    if doc["state"] == _hyperopt.JOB_STATE_DONE and result.get("status") in (
        _hyperopt.STATUS_OK,
        _hyperopt.STATUS_FAIL,
    ):
        record = {k: _optpar_plain(v) for k, v in result.items()}
    elif doc["state"] == _hyperopt.JOB_STATE_ERROR:
        # SparkTrials: the task itself failed (e.g. the worker crashed).
        kind, trace = (list(doc["misc"].get("error") or ("", "")) + ["", ""])[:2]
        last = (str(trace or "").strip().splitlines() or [""])[-1]
        record = {
            "status": _hyperopt.STATUS_FAIL,
            "error": ("worker error %s %s" % (kind, last))[:_OPTPAR_MAX_ERROR_CHARS],
        }
    else:
        return None
    if "values" not in record:
        record["values"] = _optpar_plain(_hyperopt.space_eval(SPACE, _optpar_point(vals)))
    record["tid"] = doc["tid"]
    record["vals"] = vals
    record.setdefault("metric", None)
    return record


def _optpar_doc(trials, tid, vals, record=None):
    """A hyperopt trial document: a finished one rebuilt from a record, or a
    new one (the baseline) to be evaluated."""
    doc = {
        "state": _hyperopt.JOB_STATE_NEW,
        "tid": tid,
        "spec": None,
        "result": {"status": "new"},
        "misc": {
            "tid": tid,
            "cmd": ("domain_attachment", "FMinIter_Domain"),
            "workdir": None,
            "idxs": {k: ([tid] if len(v) else []) for k, v in vals.items()},
            "vals": {k: list(v) for k, v in vals.items()},
        },
        "exp_key": trials._exp_key,
        "owner": None,
        "version": 0,
        "book_time": None,
        "refresh_time": None,
    }
    if record is not None:
        doc["state"] = _hyperopt.JOB_STATE_DONE
        doc["result"] = {
            k: v for k, v in record.items() if k not in ("tid", "vals", "number", "baseline")
        }
    return doc


# --------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------

def _optpar_parse_args(argv):
    stem = _os.path.splitext(_os.path.basename(SOURCE))[0]
    parser = _argparse.ArgumentParser(
        prog=_os.path.basename(_sys.argv[0]) if _sys.argv and _sys.argv[0] else "tune",
        description="Tune the hyperparameters of %s with hyperopt. Running the same "
        "command again resumes an interrupted search." % SOURCE,
    )
    parser.add_argument("--max-evals", type=int, default=20, metavar="N",
                        help="total number of trials, the baseline included (default 20)")
    parser.add_argument("--algo", choices=["tpe", "rand", "anneal", "atpe"], default="tpe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=_os.path.join("optpar-runs", stem), metavar="DIR",
                        help="results folder (default optpar-runs/%s)" % stem)
    parser.add_argument("--timeout", type=float, default=None, metavar="SEC",
                        help="start no new trial after SEC seconds")
    parser.add_argument("--metric", default="val_loss", help="epoch log key to optimise (default val_loss)")
    parser.add_argument("--mode", choices=["min", "max"], default=None,
                        help="default: max for accuracy/auc/precision/recall metrics, else min")
    parser.add_argument("--patience", type=int, default=3, metavar="N",
                        help="EarlyStopping patience added to fit (0: none; default 3)")
    parser.add_argument("--backend", choices=["local", "spark"], default="local")
    parser.add_argument("--parallelism", type=int, default=2, metavar="K",
                        help="concurrent trials with --backend spark (default 2)")
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="default local[K]")
    parser.add_argument("--quiet", action="store_true", help="no per-trial progress lines")
    args = parser.parse_args(argv)
    if args.max_evals < 1:
        parser.error("--max-evals must be at least 1")
    if args.patience < 0:
        parser.error("--patience must be >= 0")
    if args.parallelism < 1:
        parser.error("--parallelism must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be > 0")
    if args.mode is None:
        args.mode = _optpar_default_mode(args.metric)
    return args


def _optpar_algo(args):
    if args.algo == "tpe":
        startup = max(3, min(20, args.max_evals // 3))
        return _functools.partial(_hyperopt.tpe.suggest, n_startup_jobs=startup)
    if args.algo == "rand":
        return _hyperopt.rand.suggest
    if args.algo == "anneal":
        return _hyperopt.anneal.suggest
    try:
        import lightgbm  # noqa: F401 - atpe.suggest needs it
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ValueError("--algo atpe needs lightgbm and scikit-learn (%s)" % exc)
    return _hyperopt.atpe.suggest


class _OptparDrainingRDD:
    """An RDD whose ``mapPartitions`` reads each partition to its end before
    the function runs. hyperopt's trial task ignores its one-element input,
    and pyspark does not reuse a Python worker that left input unread, so
    every trial paid a new interpreter and ``import keras``. Everything else
    is the RDD's own."""

    def __init__(self, rdd):
        self._rdd = rdd

    def mapPartitions(self, f, *args, **kwargs):
        def drained(iterator):
            return f(iter(list(iterator)))

        return self._rdd.mapPartitions(drained, *args, **kwargs)

    def withResources(self, profile):
        return _OptparDrainingRDD(self._rdd.withResources(profile))

    def __getattr__(self, name):
        return getattr(self._rdd, name)


class _OptparReusingContext:
    """A SparkContext whose ``parallelize`` gives a :class:`_OptparDrainingRDD`."""

    def __init__(self, context):
        self._context = context

    def parallelize(self, *args, **kwargs):
        return _OptparDrainingRDD(self._context.parallelize(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._context, name)


class _OptparReusingSession:
    """The SparkSession handed to SparkTrials: its own, with the context above."""

    def __init__(self, session):
        self._session = session
        self.sparkContext = _OptparReusingContext(session.sparkContext)

    def __getattr__(self, name):
        return getattr(self._session, name)


def _optpar_spark_trials(args):
    """SparkTrials on a local-mode session that stays on 127.0.0.1."""
    _os.environ["PYSPARK_PYTHON"] = _sys.executable
    _os.environ["PYSPARK_DRIVER_PYTHON"] = _sys.executable
    _os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*")
    warnings.filterwarnings("ignore", message="Spark session is not provided.*")
    from pyspark.sql import SparkSession

    logging.getLogger("py4j").setLevel(logging.ERROR)
    logging.getLogger("hyperopt").setLevel(logging.WARNING)
    master = args.spark_master or "local[%d]" % args.parallelism
    # Spark's default log4j profile prints INFO/WARN chatter: use an ERROR-only one.
    log_conf = _os.path.join(_os.path.abspath(args.out), ".spark-log4j2.properties")
    _optpar_atomic_write(log_conf, "rootLogger.level = error\n"
                         "rootLogger.appenderRef.stderr.ref = console\n"
                         "appender.console.type = Console\n"
                         "appender.console.name = console\n"
                         "appender.console.target = SYSTEM_ERR\n"
                         "appender.console.layout.type = PatternLayout\n"
                         "appender.console.layout.pattern = spark %p %c{1}: %m%n\n")
    session = (
        SparkSession.builder.master(master)
        .appName("optpar " + _os.path.basename(SOURCE))
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.log.level", "ERROR")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.configurationFile=file:" + log_conf)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return _hyperopt.SparkTrials(parallelism=args.parallelism, spark_session=_OptparReusingSession(session),
                                 timeout=None if args.timeout is None else max(1, int(args.timeout)))


def _optpar_fmt(value):
    if isinstance(value, float):
        return "%.4g" % value
    return str(value)


def _optpar_summary(store, args):
    best = store.best_record()
    baseline = store.baseline_record()
    rows = [("hyperparameter", "baseline", "best")]
    for name in SPACE:
        rows.append((name, _optpar_fmt(DEFAULTS.get(name, "")),
                     "" if best is None else _optpar_fmt(best["values"].get(name, ""))))
    base_metric = None if baseline is None else baseline.get("metric")
    rows.append((args.metric, "failed" if baseline is not None and base_metric is None
                 else _optpar_fmt(base_metric) if base_metric is not None else "-",
                 "" if best is None else _optpar_fmt(best["metric"])))
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    n_failed = len(store.records) - len(store.ok_records())
    lines.append("")
    lines.append("%d trials (%d failed); best is trial %s" % (
        len(store.records), n_failed, "-" if best is None else best["number"]))
    lines.append("results: %s (best.json, trials.csv, convergence.png)" % store.out)
    print("\n".join(lines))


def _optpar_resume_command(argv):
    words = [_os.path.basename(_sys.executable), _sys.argv[0] if _sys.argv else "model_tune.py"]
    words += list(_sys.argv[1:] if argv is None else argv)
    return " ".join(_shlex.quote(w) for w in words)


def main(argv=None):
    """Run (or resume) the search; 0 ok, 1 every trial failed, 2 bad input,
    130 interrupted."""
    _OPTPAR_INTERRUPT.requested = False
    previous = _optpar_on_sigint(_OPTPAR_INTERRUPT.handler)
    try:
        return _optpar_main(argv)
    finally:
        if previous is not None:
            _signal.signal(_signal.SIGINT, previous)


def _optpar_main(argv):
    args = _optpar_parse_args(argv)
    started = _time.monotonic()
    for note in NOTES:
        print("note: %s" % note)
    _sys.stdout.flush()
    _os.makedirs(args.out, exist_ok=True)
    store = _OptparStore(args.out, args.metric, args.mode)
    try:
        kept = store.load()
        algo = _optpar_algo(args)
    except ValueError as exc:
        print("error: %s" % exc, file=_sys.stderr)
        return 2
    n_kept = len(kept)
    if n_kept:
        print("resuming: %d of %d trials already done in %s" % (n_kept, args.max_evals, args.out),
              file=_sys.stderr)
    _optpar_enable_gpu_memory_growth()

    if n_kept < args.max_evals:
        trials = _optpar_spark_trials(args) if args.backend == "spark" else _hyperopt.Trials()
        docs = [_optpar_doc(trials, tid, rec["vals"], rec) for tid, rec in enumerate(kept)]
        baseline_tid = None
        if not any(rec.get("baseline") for rec in kept):
            # Trial 1 is always the user's own configuration.
            baseline_tid = n_kept
            point = {k: [_optpar_plain(v)] for k, v in BASELINE_POINT.items()}
            docs.append(_optpar_doc(trials, baseline_tid, point))
        if docs:
            trials.insert_trial_docs(docs)
            trials.refresh()
        objective = _OptparObjective(args.metric, args.mode, args.patience)

        def after_trial(trials_now, *unused):
            _optpar_save_and_report(store, trials_now, baseline_tid, n_kept, args, started)
            _OPTPAR_INTERRUPT.check()  # after the save: a trial that finished is kept
            stop = args.timeout is not None and _time.monotonic() - started >= args.timeout
            if stop and not args.quiet and args.backend == "local" and len(store.records) < args.max_evals:
                print("timeout: %gs reached, starting no new trial" % args.timeout, file=_sys.stderr)
            return stop or len(store.records) >= args.max_evals, []

        # fmin evaluates a queued (baseline) trial only inside its loop, which
        # it skips when len(trials) already equals max_evals: in local mode
        # ask for one more and let after_trial stop at --max-evals.
        fmin_evals = args.max_evals
        if baseline_tid is not None and args.backend == "local":
            fmin_evals += 1

        try:
            _hyperopt.fmin(
                objective,
                SPACE,
                algo=algo,
                max_evals=fmin_evals,
                trials=trials,
                rstate=_np.random.default_rng(args.seed + n_kept),
                early_stop_fn=after_trial,
                show_progressbar=False,
                return_argmin=False,
            )
        except _hyperopt.exceptions.AllTrialsFailed:
            pass
        except KeyboardInterrupt:
            _optpar_ignore_interrupts()  # a second Ctrl-C must not cut the saving short
            _optpar_save_and_report(store, trials, baseline_tid, n_kept, args, started)
            _optpar_finish_files(store)
            print("\ninterrupted: %d finished trials are kept in %s; run the same command to resume:\n  %s"
                  % (len(store.records), args.out, _optpar_resume_command(argv)), file=_sys.stderr)
            return 130
        _optpar_save_and_report(store, trials, baseline_tid, n_kept, args, started)
    else:
        print("nothing to do: the search already has %d trials (--max-evals %d)"
              % (n_kept, args.max_evals), file=_sys.stderr)

    _optpar_finish_files(store)
    if not store.ok_records():
        first = next((r.get("error") for r in store.records if r.get("error")), "no trial ran")
        print("error: all %d trials failed; first error: %s" % (len(store.records), first),
              file=_sys.stderr)
        return 1
    _optpar_summary(store, args)
    return 0


def _optpar_on_sigint(handler):
    """Install ``handler`` for SIGINT and return the previous one (None, and
    nothing changed, outside the main thread, where Python cannot do it)."""
    if _threading.current_thread() is not _threading.main_thread():
        return None
    return _signal.signal(_signal.SIGINT, handler)


def _optpar_ignore_interrupts():
    _optpar_on_sigint(_signal.SIG_IGN)


def _optpar_finish_files(store):
    if not store.records:
        return
    store.save()
    try:
        store.write_plot()
    except Exception as exc:  # matplotlib missing or broken: the rest is saved
        print("warning: no convergence.png (%s)" % _optpar_error_text(exc), file=_sys.stderr)


def _optpar_save_and_report(store, trials, baseline_tid, n_kept, args, started):
    for record in store.update_from(trials, baseline_tid, n_kept):
        if not args.quiet:
            _optpar_progress(store, record, args, started)


def _optpar_progress(store, record, args, started):
    pick = min if args.mode == "min" else max
    so_far = [r["metric"] for r in store.records[: record["number"]]
              if r["status"] == _hyperopt.STATUS_OK]
    best = {"metric": pick(so_far)} if so_far else None
    if record["status"] == _hyperopt.STATUS_OK:
        what = "%s=%.4f" % (args.metric, record["metric"])
    else:
        what = "FAILED (%s)" % record.get("error", "")
    print("trial %d/%d  %s  best=%s  elapsed %ds" % (
        record["number"], args.max_evals, what,
        "-" if best is None else "%.4f" % best["metric"],
        _time.monotonic() - started), file=_sys.stderr)
    _sys.stderr.flush()
