# ---------------------------------------------------------------------------
# optpar runtime: the search loop of a generated tuning script.
#
# This text is copied verbatim from optpar/runtime.py to the end of every
# generated ``<model>_tune.py``; the script does not need optpar to run.
# It relies on the names the generated part defines above it:
#   SOURCE, SEEDS, SPACE, DEFAULTS, BASELINE_POINT, params, run_trial().
# Every module-level name of the runtime starts with an underscore (except
# ``optpar_fit`` and ``main``) so that it cannot shadow a name of the
# user's code, which reads its globals at call time.
# ---------------------------------------------------------------------------
import argparse as _argparse
import contextlib as _contextlib
import copy as _copy
import csv as _csv
import functools as _functools
import inspect as _inspect
import io as _io
import json as _json
import math as _math
import os as _os
import random as _random
import re as _re
import shlex as _shlex
import signal as _signal
import sys as _sys
import threading as _threading
import time as _time
import weakref as _weakref

import hyperopt as _hyperopt
import keras as _keras
import numpy as _np

_OPTPAR_STORE_VERSION = 1
_OPTPAR_MAX_ERROR_CHARS = 300
# Share of the training data held out for validation when fit() has none.
_OPTPAR_VALIDATION_SHARE = 0.2
# A tf.data.Dataset without validation data is held in memory once to split it;
# past this size optpar asks for validation_data instead.
_OPTPAR_HOLDOUT_MAX_BYTES = 2 * 1024 ** 3
# Callbacks that write files, and the attribute naming where: each trial's copy
# writes under the trial's own folder.
_OPTPAR_FILE_CALLBACKS = {
    "ModelCheckpoint": "filepath",
    "CSVLogger": "filename",
    "TensorBoard": "log_dir",
    "BackupAndRestore": "backup_dir",
}


class _OptparRefusal(Exception):
    """The search cannot run on this script as it is: one line that says what
    to change. Raised before any training where possible; it stops the search
    (exit 2) instead of failing every trial."""


class _OptparTrialState:
    """What ``optpar_fit`` needs to know about the search and the trial being
    run. The objective sets it before calling ``run_trial()``; outside a
    search (``active`` False) ``optpar_fit`` is a plain ``fit``."""

    def __init__(self):
        self.active = False
        self.metric = None  # the tuned metric; None: pick it from the first logs
        self.requested = None  # --metric as given (None: automatic)
        self.mode = None  # --mode as given (None: from the metric's name)
        self.patience = 3
        self.verbose = False
        self.trial_dir = None  # where this trial's callbacks write their files
        self.recorder = None  # the recorder of the fit() call running or last run
        self.finished = None  # the recorder of the last fit() call that finished
        self.fitting = False
        self.routed = {}  # this trial's callback files: the user's path (absolute) -> the trial's
        self.holdouts = {}  # id(dataset) -> _OptparHoldout, split once per search
        self.pristine = _weakref.WeakKeyDictionary()  # callback -> copy before any trial
        self.noted = set()  # notes already printed by this process

    def __reduce__(self):  # the state is per process: a Spark worker gets a fresh one
        return (_OptparTrialState, ())


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


def _optpar_as_written(values):
    """The values a trial runs with, as ``optpar apply`` writes them into the
    source: floats to 4 significant digits (the user's own values as they
    are), so that the applied best is exactly the configuration that scored."""
    written = {}
    for key, value in values.items():
        if isinstance(value, float) and _math.isfinite(value) and value != DEFAULTS.get(key):
            value = float("%.4g" % value)
        written[key] = value
    return written


def _optpar_note(text):
    """Print a note once per process (a search prints each of its decisions once)."""
    state = _OPTPAR_STATE
    if text not in state.noted:
        state.noted.add(text)
        print("note: %s" % text, file=_sys.stderr)
        _sys.stderr.flush()


# --------------------------------------------------------------------------
# The metric: --metric, or val_loss, or the validation metric the model logs
# --------------------------------------------------------------------------

def _optpar_pick_metric(requested, keys):
    """The metric to tune among the epoch log ``keys``: ``requested`` when
    given, else val_loss, else the first validation metric logged. None while
    the logs hold no validation metric yet (validation may run every n-th
    epoch only)."""
    if requested is not None:
        return requested if requested in keys else None
    if "val_loss" in keys:
        return "val_loss"
    return next((key for key in keys if key.startswith("val_")), None)


def _optpar_metric_refusal(requested, keys):
    reported = ", ".join(keys) or "nothing"
    example = next((k for k in keys if k.startswith("val_")), None) or next(iter(keys), "loss")
    how = "--metric %s --mode %s" % (example, _optpar_default_mode(example))
    if requested is not None:
        return "metric %r is not in the epoch logs; the model reports %s (choose one with %s)" % (
            requested, reported, how)
    return ("the model logs no validation metric (no val_loss, no val_*); it reports %s: "
            "choose what to tune with --metric NAME --mode min|max, e.g. %s" % (reported, how))


class _OptparRecorder(_keras.callbacks.Callback):
    """Keeps each epoch's logs as plain floats (no tensors, no model refs),
    settles the tuned metric from the first validation logs, and stops a
    trial that diverged or (unless the user has an EarlyStopping of their
    own) stopped improving for ``patience`` epochs."""

    def __init__(self, state, patience):
        super().__init__()
        self.state = state
        self.patience = patience
        self.epochs = []
        self.best = None
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        row = {}
        for key, value in (logs or {}).items():
            number = _optpar_float(value)
            if number is not None:
                row[str(key)] = number
        self.epochs.append(row)
        state = self.state
        if state.metric is None:
            state.metric = _optpar_pick_metric(state.requested, list(row))
        metric = state.metric
        value = row.get(metric) if metric is not None else None
        # A diverged run cannot recover: stop it instead of training on NaNs.
        if ("loss" in row and not _math.isfinite(row["loss"])) or (value is not None and not _math.isfinite(value)):
            self.model.stop_training = True
        elif value is not None:
            if self.best is None or (value < self.best if self._mode() == "min" else value > self.best):
                self.best, self.wait = value, 0
            else:
                self.wait += 1
                if self.patience and self.wait >= self.patience:
                    self.model.stop_training = True
        _OPTPAR_INTERRUPT.check()

    def _mode(self):
        return self.state.mode or _optpar_default_mode(self.state.metric)


# --------------------------------------------------------------------------
# optpar_fit: the user's fit() call during a search
# --------------------------------------------------------------------------

def _optpar_is_early_stopping(callback):
    return any(cls.__name__ == "EarlyStopping" for cls in type(callback).__mro__)


def _optpar_file_attribute(callback):
    for cls in type(callback).__mro__:
        attribute = _OPTPAR_FILE_CALLBACKS.get(cls.__name__)
        if attribute is not None and cls.__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
            return attribute
    return None


def _optpar_under(folder, path):
    """``path`` (a file or folder a callback writes) moved under ``folder``:
    a relative path keeps its shape, an absolute one keeps its name."""
    path = _os.fspath(path)
    if _os.path.isabs(path):
        return _os.path.join(folder, _os.path.basename(path.rstrip("/\\")) or "files")
    parts = [p for p in _os.path.normpath(path).split(_os.sep) if p not in ("", ".", "..")]
    return _os.path.join(folder, *parts) if parts else folder


def _optpar_trial_callbacks(user_callbacks, state):
    """The callbacks of one trial: each of the user's as it was before the
    first trial (a shared ModelCheckpoint must not remember the previous
    trial's best), the ones that write files writing under the trial's
    folder, then the recorder."""
    if user_callbacks is None:
        callbacks = []
    elif isinstance(user_callbacks, (list, tuple)):
        callbacks = list(user_callbacks)
    else:
        callbacks = [user_callbacks]
    fresh = []
    for callback in callbacks:
        try:
            first = state.pristine.get(callback)
            if first is None:
                first = state.pristine[callback] = _copy.copy(callback)
            callback = _copy.copy(first)
        except (TypeError, _copy.Error):
            pass  # cannot be copied (or weakly referenced): used as it is
        attribute = _optpar_file_attribute(callback)
        if attribute is not None and state.trial_dir is not None:
            old = getattr(callback, attribute, None)
            if old:
                new = _optpar_under(state.trial_dir, old)
                _os.makedirs(new if attribute in ("log_dir", "backup_dir") else _os.path.dirname(new), exist_ok=True)
                setattr(callback, attribute, new)
                if attribute == "backup_dir":  # BackupAndRestore derives its paths at once
                    options = ("save_freq", "double_checkpoint", "delete_checkpoint")
                    callback.__init__(new, **{k: getattr(callback, k) for k in options if hasattr(callback, k)})
                state.routed[_os.path.abspath(_os.fspath(old))] = new
        fresh.append(callback)
    patience = 0 if any(_optpar_is_early_stopping(c) for c in fresh) else state.patience
    recorder = _OptparRecorder(state, patience)
    state.recorder = recorder
    return fresh + [recorder]


def _optpar_routed(path):
    """Where a file the user's code reads back lives during a trial: a path a
    callback was told to write is under the trial's folder now."""
    state = _OPTPAR_STATE
    if not (state.active and state.routed and isinstance(path, (str, _os.PathLike))):
        return path
    wanted = _os.path.abspath(_os.fspath(path))
    for old, new in state.routed.items():
        if wanted == old:
            return new
        if wanted.startswith(old + _os.sep):
            return new + wanted[len(old):]
    return path


def _optpar_read_routed_files():
    """Point Keras's readers (``Model.load_weights``, ``load_model``) at the
    routed files, so that ``model.load_weights(checkpoint_path)`` after
    ``fit`` reads the checkpoint this trial wrote. Installed once; outside a
    trial they pass the path through unchanged."""
    def reading(read):
        if getattr(read, "_optpar_routed", False):
            return read

        @_functools.wraps(read)
        def wrapper(*args, **kwargs):
            args = list(args)
            index = 1 if args and isinstance(args[0], _keras.Model) else 0
            if len(args) > index:
                args[index] = _optpar_routed(args[index])
            for key in ("filepath", "path"):
                if key in kwargs:
                    kwargs[key] = _optpar_routed(kwargs[key])
            return read(*args, **kwargs)

        wrapper._optpar_routed = True
        return wrapper

    _keras.Model.load_weights = reading(_keras.Model.load_weights)
    for module in (_keras.models, _keras.saving):
        module.load_model = reading(module.load_model)


def _optpar_data_kind(x):
    """'dataset' (tf.data), 'generator' (a Python iterator, PyDataset, Sequence,
    DataLoader: nothing optpar can split), or 'arrays' (what Keras's own
    validation_split takes)."""
    if x is None:
        return "arrays"
    kind = type(x)
    names = {cls.__name__ for cls in kind.__mro__}
    module = kind.__module__.split(".")[0]
    if module == "tensorflow" and hasattr(x, "element_spec") and hasattr(x, "cardinality"):
        return "dataset"
    if names & {"PyDataset", "Sequence", "DataLoader", "Dataset", "IterableDataset"}:
        return "generator"
    if _inspect.isgenerator(x) or (hasattr(x, "__next__") and hasattr(x, "__iter__")):
        return "generator"
    return "arrays"


class _OptparHoldout:
    """A finite tf.data.Dataset split once, for the whole search: one pass
    over it is held in memory, every fifth batch or so is the validation data
    of every trial, the others train. A dataset built with shuffle() would
    reshuffle on every pass, so a split by position (take/skip) would mix
    validation examples into training; batches held in memory cannot."""

    def __init__(self, dataset, share):
        import tensorflow as tf

        count = int(dataset.cardinality())
        if count == int(tf.data.INFINITE_CARDINALITY):
            raise _OptparRefusal(
                "fit() trains on a tf.data.Dataset that repeats forever and has no validation data; "
                "pass validation_data=... to fit() so that trials can be compared")
        if count == int(tf.data.UNKNOWN_CARDINALITY):
            raise _OptparRefusal(
                "fit() trains on a tf.data.Dataset of unknown length (filter(), from_generator(), ...) and "
                "has no validation data; pass validation_data=... to fit() so that trials can be compared")
        if count < 2:
            raise _OptparRefusal(
                "fit() trains on a tf.data.Dataset of %d batch and has no validation data; pass "
                "validation_data=... to fit() (optpar holds out whole batches)" % count)
        batches, size = [], 0
        for batch in dataset.as_numpy_iterator():
            size += sum(_np.asarray(part).nbytes for part in tf.nest.flatten(batch))
            if size > _OPTPAR_HOLDOUT_MAX_BYTES:
                raise _OptparRefusal(
                    "fit() trains on a tf.data.Dataset without validation data that is too large to "
                    "hold out in memory (over %d MB); pass validation_data=... to fit()"
                    % (_OPTPAR_HOLDOUT_MAX_BYTES // 2 ** 20))
            batches.append(batch)
        count = len(batches)
        held = max(1, int(round(count * share)))
        picked = {int((j + 0.5) * count / held) for j in range(held)}
        self.validation_batches = [b for i, b in enumerate(batches) if i in picked]
        self.train_batches = [b for i, b in enumerate(batches) if i not in picked]
        self.spec = dataset.element_spec
        self.epoch = 0
        self.text = (
            "fit() has a tf.data.Dataset of %d batches and no validation data: %d of its batches, "
            "taken once, are the validation data of every trial; the other %d train, in a new order "
            "each epoch" % (count, len(self.validation_batches), len(self.train_batches)))

    def datasets(self):
        import tensorflow as tf

        self.epoch = 0

        def train():
            order = _np.random.default_rng(self.epoch).permutation(len(self.train_batches))
            self.epoch += 1
            for index in order:
                yield self.train_batches[index]

        def validation():
            yield from self.validation_batches

        return (tf.data.Dataset.from_generator(train, output_signature=self.spec),
                tf.data.Dataset.from_generator(validation, output_signature=self.spec))


def _optpar_can_validate(model):
    """Whether Keras can evaluate ``model`` on validation data: it has a
    ``test_step`` or a ``call`` of its own. A GAN-style model with only a
    custom ``train_step`` has neither, and logs training metrics only."""
    kind = type(model)
    return any(getattr(kind, name, None) is not getattr(_keras.Model, name, None) for name in ("test_step", "call"))


def _optpar_with_validation(arguments, model, state):
    """``fit`` arguments with validation data: the user's, or a split of the
    training data decided from what it is. None is added when the search
    tunes a training metric, or when the model cannot be validated."""
    if arguments.get("validation_data") is not None:
        return arguments
    if state.requested is not None and not state.requested.startswith("val_"):
        return arguments
    if not _optpar_can_validate(model):
        return arguments
    x = arguments.get("x")
    share = arguments.get("validation_split") or 0.0
    kind = _optpar_data_kind(x)
    if kind == "arrays":
        if not share:
            arguments["validation_split"] = _OPTPAR_VALIDATION_SHARE
            _optpar_note("fit() has no validation data: the last %d%% of the training arrays are the "
                         "validation data of every trial (validation_split=%g)"
                         % (_OPTPAR_VALIDATION_SHARE * 100, _OPTPAR_VALIDATION_SHARE))
        return arguments
    if kind == "generator":
        raise _OptparRefusal(
            "fit() trains on %s and has no validation data, which optpar cannot hold out from a "
            "generator; pass validation_data=... to fit() so that trials can be compared" % type(x).__name__)
    holdout = state.holdouts.get(id(x))
    if holdout is None or holdout[0] is not x:
        holdout = state.holdouts[id(x)] = (x, _OptparHoldout(x, share or _OPTPAR_VALIDATION_SHARE))
    split = holdout[1]
    _optpar_note(split.text)
    arguments["x"], arguments["validation_data"] = split.datasets()
    arguments.pop("validation_split", None)
    steps = arguments.get("steps_per_epoch")
    if steps is not None and steps > len(split.train_batches):
        arguments["steps_per_epoch"] = len(split.train_batches)
    return arguments


def optpar_fit(fit, *args, **kwargs):
    """Run the user's ``model.fit(...)`` as a trial: with validation data
    (the user's, or held out), the user's callbacks routed to the trial's
    folder, optpar's recorder, and no progress bar unless ``--verbose``.
    Outside a search it is the plain call."""
    state = _OPTPAR_STATE
    if getattr(fit, "__name__", "") == "fit_generator" and not hasattr(type(fit.__self__), "fit_generator"):
        fit = fit.__self__.fit  # Keras 1/2 spelling; Keras 3 has fit only
    if not state.active:
        return fit(*args, **kwargs)
    try:
        arguments = dict(_inspect.signature(fit).bind(*args, **kwargs).arguments)
    except TypeError:
        return fit(*args, **kwargs)  # Keras says what is wrong with the call
    arguments = _optpar_with_validation(arguments, fit.__self__, state)
    arguments["callbacks"] = _optpar_trial_callbacks(arguments.get("callbacks"), state)
    if not state.verbose:
        arguments["verbose"] = 0
    state.fitting = True
    try:
        history = fit(**arguments)
    finally:
        state.fitting = False
    state.finished = state.recorder
    return history


# Lines of Keras's and TensorFlow's error texts that say where, not what: Keras wraps a
# layer's error in "Exception encountered when calling X.call()." ... "Arguments received by
# X.call(): ..."; TensorFlow's graph errors list the Python frames that defined the failing op
# ("Detected at node ... defined at (most recent call last):", "File ..., line N, in f") and
# end with the op's name ("[[{{node ...}}]] [Op:__inference_...]").
_OPTPAR_WHERE_LINE = _re.compile(
    r"Exception encountered when calling|Graph execution error:?$|Detected at node .* defined at"
    r"|File \".*\", line \d+|\[\[\{\{node |\[Op:|Detected unsupported operations|Stack trace")


def _optpar_error_text(exc):
    """``Type: message`` on one line, with what went wrong and not where."""
    kept = []
    for line in _re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines():  # no terminal colours
        line = line.strip()
        if line.startswith("Arguments received by"):
            break
        if line and not _OPTPAR_WHERE_LINE.match(line):
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


# --------------------------------------------------------------------------
# Random state: every trial starts from the state the user's program had
# when its training began, so trial 1 is the user's own run
# --------------------------------------------------------------------------

def _optpar_tf_context():
    if "tensorflow" not in _sys.modules:
        return None
    try:
        from tensorflow.python.eager import context

        return context.context()
    except Exception:
        return None


def _optpar_random_state():
    """The random state of Python, NumPy, Keras and TensorFlow, as plain
    picklable values (Spark ships it to its workers)."""
    from keras.src.backend.common import global_state

    snapshot = {"python": _random.getstate(), "numpy": _np.random.get_state(),
                "keras_seed": global_state.get_global_attribute("global_random_seed")}
    generator = global_state.get_global_attribute("global_seed_generator")
    if generator is not None:
        snapshot["keras_generator"] = (generator._initial_seed, _np.asarray(generator.state.value))
    ctx = _optpar_tf_context()
    if ctx is not None and getattr(ctx, "_rng", None) is not None:
        snapshot["tf"] = (ctx._seed, ctx._rng.getstate())
    if _keras.backend.backend() == "torch":
        import torch

        snapshot["torch"] = torch.random.get_rng_state()
    return snapshot


def _optpar_restore_random_state(snapshot):
    """Put back what ``_optpar_random_state`` took; after ``clear_session()``
    (which forgets the seed ``keras.utils.set_random_seed`` recorded)."""
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_random_seed", snapshot["keras_seed"])
    if "keras_generator" in snapshot:
        from keras.src.random.seed_generator import SeedGenerator

        seed, value = snapshot["keras_generator"]
        generator = SeedGenerator(seed if seed is not None else 0)
        generator.state.assign(value)
        global_state.set_global_attribute("global_seed_generator", generator)
    ctx = _optpar_tf_context()
    if ctx is not None:
        if "tf" in snapshot:
            seed, rng_state = snapshot["tf"]
            ctx._set_global_seed(seed)
            ctx._rng.setstate(rng_state)
        elif getattr(ctx, "_rng", None) is not None:
            ctx._seed, ctx._rng = None, None
    if "torch" in snapshot:
        import torch

        torch.random.set_rng_state(snapshot["torch"])
    _random.setstate(snapshot["python"])
    _np.random.set_state(snapshot["numpy"])


# --------------------------------------------------------------------------
# One trial
# --------------------------------------------------------------------------

class _OptparObjective:
    """One trial: set ``params``, fresh Keras session, the random state of
    the user's run, ``run_trial()``, score = best epoch value of the metric.
    Never raises an ``Exception``: failures become ``STATUS_FAIL`` results
    carrying the error text; a refusal also carries ``refused``."""

    fmin_pass_expr_memo_ctrl = True  # hyperopt passes ctrl: the trial's number

    def __init__(self, metric=None, mode=None, patience=3, out=None, verbose=False, random_state=None):
        self.requested = metric
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self.out = None if out is None else _os.path.abspath(out)
        self.verbose = verbose
        self.random_state = random_state
        self._calls = 0
        self._process_ready = False  # the once-per-process set-up is done

    def _trial_dir(self, ctrl):
        if self.out is None:
            return None
        trial = getattr(ctrl, "current_trial", None)
        if trial is not None:
            name = "%d" % (trial["tid"] + 1)
        else:  # a Spark worker: no trial number here
            name = "w%d-%d" % (_os.getpid(), self._calls)
        return _os.path.join(self.out, "trials", name)

    def __call__(self, expr, memo, ctrl):
        values = _hyperopt.pyll.rec_eval(expr, memo=memo)
        self._calls += 1
        return self.evaluate(values, self._trial_dir(ctrl))

    def evaluate(self, values, trial_dir=None):
        """Run one trial with these values (real ones, not hp.choice indices)."""
        values = _optpar_as_written(_optpar_plain(values))
        if not self._process_ready:
            _optpar_enable_gpu_memory_growth()
            _optpar_quiet_retracing()
            _optpar_read_routed_files()
            self._process_ready = True
        params.clear()
        params.update(values)
        state = _OPTPAR_STATE
        state.active, state.requested, state.mode = True, self.requested, self.mode
        state.metric, state.patience, state.verbose = self.metric, self.patience, self.verbose
        state.trial_dir, state.routed = trial_dir, {}
        state.recorder = state.finished = None
        # A fresh Keras session; it also runs gc.collect() (free_memory=True),
        # which frees the previous trial's model: no second collection needed.
        _keras.backend.clear_session()
        if self.random_state is not None:
            _optpar_restore_random_state(self.random_state)
        start = _time.perf_counter()
        epochs = []
        # Looked up each trial, not kept on self: Spark pickles the objective.
        gradients = _optpar_gradient_registry()
        known = None if gradients is None else set(gradients)
        result = {"values": values, "pid": _os.getpid()}
        try:
            try:
                with _contextlib.nullcontext() if self.verbose else _contextlib.redirect_stdout(_io.StringIO()):
                    run_trial()
            except Exception as exc:  # noqa: BLE001
                # The score is known once the measured fit() has finished: what the user's code
                # does after it (a removed Keras 2 call in a training loop, a plot) cannot change
                # it, and the user's own run stops there too.
                if state.finished is None or state.fitting or isinstance(exc, _OptparRefusal):
                    raise
                result["error"] = "ignored, after fit() had finished: " + _optpar_error_text(exc)
                del exc
            recorder, state.recorder, state.finished = state.finished, None, None
            if recorder is None:
                raise RuntimeError("the measured fit() call did not run (no epoch logs)")
            epochs = recorder.epochs
            del recorder
            metric = self._score(epochs, state.metric)
            self.metric = state.metric
            mode = self.mode or _optpar_default_mode(self.metric)
            result.update(status=_hyperopt.STATUS_OK, loss=metric if mode == "min" else -metric,
                          metric=metric, metric_name=self.metric, mode=mode)
        except Exception as exc:  # noqa: BLE001 - every failure is a failed trial
            state.recorder = state.finished = None
            if _OPTPAR_INTERRUPT.requested:
                raise KeyboardInterrupt from None  # Ctrl-C, seen through an error of TF's
            result.update(status=_hyperopt.STATUS_FAIL, error=_optpar_error_text(exc))
            if isinstance(exc, _OptparRefusal):
                result.update(error=str(exc), refused=True)
            del exc
        finally:
            state.active = False
            # Without this the trial's train graphs stay alive for good.
            _optpar_forget_custom_gradients(gradients, known)
        result.update(duration_s=round(_time.perf_counter() - start, 3), epochs=len(epochs))
        if state.routed:
            result["files"] = _os.path.relpath(state.trial_dir, self.out)
        return result

    def _score(self, epochs, metric):
        if not epochs:
            raise RuntimeError("fit() ran no epoch")
        if metric is None or all(row.get(metric) is None for row in epochs):
            keys = list(dict.fromkeys(key for row in epochs for key in row))
            raise _OptparRefusal(_optpar_metric_refusal(self.requested, keys))
        series = [row.get(metric) for row in epochs if metric in row]
        for number, row in enumerate(epochs, 1):
            if metric in row and not _optpar_is_finite(row[metric]):
                raise FloatingPointError("%s is %s at epoch %d: the training diverged" % (metric, row[metric], number))
        losses = [row.get("loss") for row in epochs if "loss" in row]
        if any(not _math.isfinite(value) for value in losses):
            raise FloatingPointError("the training loss is not finite: the training diverged")
        mode = self.mode or _optpar_default_mode(metric)
        return min(series) if mode == "min" else max(series)


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
    """``trials.json`` (the resumable state), ``trials.csv`` and ``best.json``.

    ``metric`` and ``mode`` are what the search tunes: given (``--metric``,
    ``--mode``), or None until the first trial that scored says what the
    model logs. Refused trials (the script cannot be tuned as it is) are
    never kept: a rerun after the fix starts afresh."""

    def __init__(self, out, metric, mode):
        self.out = out
        self.metric = metric
        self.mode = mode
        self.path = _os.path.join(out, "trials.json")
        self.records = []
        self.refused = {}  # tid -> why the script cannot be tuned as it is

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
        stored = (data.get("metric"), data.get("mode"))
        if stored[0] is not None:
            if self.metric is None and self.mode in (None, stored[1]):
                self.metric, self.mode = stored
            elif (self.metric, self.mode or _optpar_default_mode(self.metric)) != stored:
                raise ValueError(
                    "%s holds trials scored on %s (%s); rerun with --metric %s --mode %s or use another --out"
                    % (self.path, stored[0], stored[1], stored[0], stored[1])
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
            if tid < n_kept or tid in known or tid in self.refused:
                continue
            record = _optpar_record_from_doc(doc, self.mode)
            if record is None:
                continue
            if record.get("refused"):
                self.refused[tid] = record["error"]
                continue
            if self.metric is None and record.get("metric_name"):
                self.metric, self.mode = record["metric_name"], record["mode"]
                if self.metric != "val_loss":
                    _optpar_note("the model logs no val_loss; the search tunes %s (%s) instead "
                                 "(choose another with --metric NAME --mode min|max)" % (self.metric, self.mode))
            record.pop("metric_name", None)
            record.pop("mode", None)
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
        writer.writerow(["number", "status", self.metric or "metric"] + names
                        + ["duration_s", "epochs_run", "files", "error"])
        for r in self.records:
            values = r.get("values") or {}
            writer.writerow(
                [r["number"], r["status"], "" if r.get("metric") is None else r["metric"]]
                + [_optpar_cell(values.get(name, "")) for name in names]
                + [r.get("duration_s", ""), r.get("epochs", ""), r.get("files", ""), r.get("error", "")]
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
    parser.add_argument("--metric", default=None,
                        help="epoch log key to optimise (default val_loss, or the validation metric "
                        "the model logs when it logs no val_loss)")
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
    parser.add_argument("--verbose", action="store_true",
                        help="show what trials print (Keras progress bars, model.summary(), ...)")
    args = parser.parse_args(argv)
    if args.max_evals < 1:
        parser.error("--max-evals must be at least 1")
    if args.patience < 0:
        parser.error("--patience must be >= 0")
    if args.parallelism < 1:
        parser.error("--parallelism must be >= 1")
    if args.timeout is not None and args.timeout <= 0:
        parser.error("--timeout must be > 0")
    if args.mode is None and args.metric is not None:
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


def _optpar_unshippable(objective):
    """Why Spark cannot send a trial to its workers (None when it can): the
    objective travels pickled, with ``run_trial`` and every global it reads.
    Names the global that cannot be pickled (a tf.data.Dataset, a file
    handle, ...), following the functions ``run_trial`` calls."""
    from pyspark import cloudpickle

    try:
        cloudpickle.dumps(objective)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means it cannot be sent
        whole = _optpar_error_text(exc)
    namespace = run_trial.__globals__
    seen = set()

    def codes(code):
        yield code
        for const in code.co_consts:
            if hasattr(const, "co_names"):
                yield from codes(const)

    def find(function):
        for code in codes(function.__code__):
            for name in code.co_names:
                if name in seen or name not in namespace:
                    continue
                seen.add(name)
                value = namespace[name]
                if _inspect.isfunction(value) and value.__module__ == function.__module__:
                    found = find(value)
                    if found:
                        return found
                    continue
                try:
                    cloudpickle.dumps(value)
                except Exception as exc:  # noqa: BLE001
                    return "%s (a %s: %s)" % (name, type(value).__name__, _optpar_error_text(exc))
        return None

    culprit = find(run_trial) or whole
    return ("--backend spark sends run_trial() and what it reads to the workers, and %s cannot be "
            "sent; create it in the code that runs per trial, or use --backend local" % culprit)


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
    rows.append((store.metric, "failed" if baseline is not None and base_metric is None
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
    if not SEEDS:
        lines.append("note: %s sets no random seed, so its results vary from run to run; with one "
                     "(e.g. keras.utils.set_random_seed(0)) the best above is what you get again" % SOURCE)
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
    # Before anything else runs: the random state the user's program has
    # where its training starts. Every trial starts from it.
    random_state = _optpar_random_state()
    started = _time.monotonic()
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
        objective = _OptparObjective(store.metric, store.mode, args.patience, args.out, args.verbose,
                                     random_state)
        if args.backend == "spark":
            unshippable = _optpar_unshippable(objective)
            if unshippable:
                print("error: %s" % unshippable, file=_sys.stderr)
                return 2
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

        def after_trial(trials_now, *unused):
            _optpar_save_and_report(store, trials_now, baseline_tid, n_kept, args, started)
            _OPTPAR_INTERRUPT.check()  # after the save: a trial that finished is kept
            if store.refused:
                return True, []
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
        if store.refused:
            print("error: %s" % next(iter(store.refused.values())), file=_sys.stderr)
            return 2
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
    pick = min if store.mode == "min" else max
    so_far = [r["metric"] for r in store.records[: record["number"]]
              if r["status"] == _hyperopt.STATUS_OK]
    best = {"metric": pick(so_far)} if so_far else None
    if record["status"] == _hyperopt.STATUS_OK:
        what = "%s=%.4f" % (store.metric, record["metric"])
    else:
        what = "FAILED (%s)" % record.get("error", "")
    print("trial %d/%d  %s  best=%s  elapsed %ds" % (
        record["number"], args.max_evals, what,
        "-" if best is None else "%.4f" % best["metric"],
        _time.monotonic() - started), file=_sys.stderr)
    _sys.stderr.flush()
