"""optpar_fit: the user's `model.fit(...)` as a trial runs it.

Decided at run time, when the data's type is known: the validation data (the user's, or a share
held out of what Keras or optpar can split), the callbacks (the user's, copied as they were before
the first trial and writing under the trial's folder, or its TensorBoard run, plus optpar's
recorder), and the output (quiet unless --verbose). Keras is imported when a trial runs, not
before.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import os
import weakref

from optpar.runtime import prune
from optpar.runtime.state import INTERRUPT, STATE, Refusal, TrialOver, TrialState, default_mode, note

# Share of the training data held out for validation when fit() has none.
VALIDATION_SHARE = 0.2
# A tf.data.Dataset without validation data is held in memory once to split it; past this size
# optpar asks for validation_data instead.
HOLDOUT_MAX_BYTES = 2 * 1024 ** 3
HOLDOUT_MAX_BATCHES = 1_000_000
# Callbacks that write files, and the attribute naming where: each trial's copy writes under
# the trial's own folder.
FILE_CALLBACKS = {
    "ModelCheckpoint": "filepath",
    "CSVLogger": "filename",
    "TensorBoard": "log_dir",
    "BackupAndRestore": "backup_dir",
}


def optpar_fit(fit, *args, **kwargs):
    """Run the user's `model.fit(...)` as a trial: with validation data (the user's, or held out),
    the user's callbacks routed to the trial's folder, optpar's recorder, and no progress bar
    unless --verbose. Outside a search it is the plain call."""
    state = STATE
    if getattr(fit, "__name__", "") == "fit_generator" and not hasattr(type(fit.__self__), "fit_generator"):
        fit = fit.__self__.fit  # Keras 1/2 spelling; Keras 3 has fit only
    if not state.active:
        return fit(*args, **kwargs)
    try:
        arguments = dict(inspect.signature(fit).bind(*args, **kwargs).arguments)
    except TypeError:
        return fit(*args, **kwargs)  # Keras says what is wrong with the call
    model = fit.__self__
    recorder = again(state, model)
    arguments = with_validation(arguments, model, state)
    if state.unvalidated and (state.requested or "val_").startswith("val_"):  # it asks what will not be logged
        keys = returned_keys(model)  # what its train_step logs, when its source says
        if keys:
            raise Refusal(metric_refusal(state.requested, keys))
    arguments["callbacks"] = trial_callbacks(arguments.get("callbacks"), state, recorder)
    if not state.verbose:
        arguments["verbose"] = 0
    state.fitting = True
    try:
        history = fit(**arguments)
    finally:
        state.fitting = False
        state.recorder.set_model(None)  # a finished run keeps its logs, not its model
    state.finished = state.recorder
    return history


def again(state: TrialState, model):
    """The measured fit() called again in one run of the program (a training loop): on the same
    model its epochs continue the trial's curve (the recorder to go on with is returned); on a new
    model (cross-validation written by hand) it is another run, and the trial's score is the mean
    of the runs' bests. A trial that has ended (pruned, diverged; on the same model also stalled)
    trains no more: TrialOver ends the program's run."""
    previous = state.finished
    if previous is None:
        return None
    if previous.trained() is model:
        if previous.stopped:
            raise TrialOver
        note("the measured fit() runs again on the same model: its epochs continue the trial's "
             "curve, and the score is the best over all of them")
        return previous
    if previous.stopped in ("pruned", "diverged", "unvalidated"):
        raise TrialOver
    note("the measured fit() trains a new model each time it runs (a loop of yours: folds, or a sweep): a "
         "trial's score is the mean of the models' bests, and only the first model can be pruned")
    state.runs.append(previous)
    state.finished, state.protected, state.board = None, True, None
    return None


# -- the metric: --metric, or val_loss, or the validation metric the model logs --------------------

def pick_metric(requested: str | None, keys) -> str | None:
    """The metric to tune among the epoch log `keys`: `requested` when given, else val_loss,
    else the first validation metric logged. None while the logs hold no validation metric yet
    (validation may run every n-th epoch only)."""
    if requested is not None:
        return requested if requested in keys else None
    if "val_loss" in keys:
        return "val_loss"
    return next((key for key in keys if key.startswith("val_")), None)


def metric_refusal(requested: str | None, keys) -> str:
    reported = ", ".join(keys) or "nothing"
    example = next((k for k in keys if k.startswith("val_")), None) or next(iter(keys), "loss")
    how = "--metric %s --mode %s" % (example, default_mode(example))
    if requested is not None:
        return "metric %r is not in the epoch logs; the model reports %s (choose one with %s)" % (
            requested, reported, how)
    return ("the model logs no validation metric (no val_loss, no val_*); it reports %s: "
            "choose what to tune with --metric NAME --mode min|max, e.g. %s" % (reported, how))


def never_validated(row: dict) -> str | None:
    """The refusal for epoch logs whose validation metrics were never updated: every `val_*`
    exactly 0.0 while a training value it mirrors is not. A model whose `metrics` property lists
    trackers only its own `train_step` updates logs them so (Keras's `test_step` updates the
    compiled loss and metrics only): a search on them would compare zeros. None otherwise."""
    validation = {key: value for key, value in row.items() if key.startswith("val_")}
    if not validation or any(value != 0.0 for value in validation.values()):
        return None
    trained = [key[4:] for key in validation if isinstance(row.get(key[4:]), float) and row[key[4:]] != 0.0]
    if not trained:
        return None
    shown = ", ".join(f"{key} {row[key]:.4g}" for key in trained)
    return ("every validation metric is 0.0 while its training value is not (%s): the model's metrics "
            "are updated by its train_step only, never on validation data; give the model a test_step "
            "that updates them, or tune a training metric: --metric %s --mode %s"
            % (shown, trained[0], default_mode(trained[0])))


def returned_keys(model) -> list[str]:
    """The keys of the dicts its own `train_step` returns (`{"d_loss": ..., "g_loss": ...}`),
    read from its source before any training; [] when it returns anything else, or has no
    source to read (then one epoch shows what it logs)."""
    import ast
    import inspect
    import textwrap

    step = getattr(type(model), "train_step", None)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(step)))
    except (OSError, TypeError, SyntaxError):
        return []
    keys: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Return):
            value = node.value
            if not (isinstance(value, ast.Dict) and value.keys
                    and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys)):
                return []
            keys += [k.value for k in value.keys]
    return list(dict.fromkeys(keys))


def log_value(value):
    """A Keras log value as a plain float (None when it is not a scalar)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        try:
            import numpy as np

            return float(np.asarray(value).reshape(()))
        except Exception:
            return None


_RECORDER = []  # the class, once made (not functools.lru_cache: Spark pickles that by reference)


def recorder_class():
    """The recorder callback (a Keras class: made when the first trial runs)."""
    if _RECORDER:
        return _RECORDER[0]
    import keras

    class Recorder(keras.callbacks.Callback):
        """Keeps each epoch's logs as plain floats (no tensors, no model refs), settles the tuned
        metric from the first validation logs, and stops a trial that diverged or (unless the
        user has an EarlyStopping of their own) stopped improving for `patience` epochs."""

        def __init__(self, state: TrialState, patience: int) -> None:
            super().__init__()
            self.state = state
            self.patience = patience
            self.epochs: list[dict] = []
            self.best = None
            self.wait = 0
            self.stopped = None  # why the recorder stopped the training: pruned, diverged, stalled, unvalidated
            self.planned = None  # the epochs the first fit() asked for, or a loop of one-epoch fits' passes
            self.trained = lambda: None  # the model trained (a weak reference)

        @property
        def pruned(self) -> bool:
            return self.stopped == "pruned"

        def set_model(self, model):
            super().set_model(model)
            if model is not None:
                try:
                    self.trained = weakref.ref(model)
                except TypeError:
                    self.trained = lambda: model

        def on_train_begin(self, logs=None):
            if self.planned is None:  # a loop of one-epoch fits plans its passes
                self.planned = self.state.passes or (self.params or {}).get("epochs")

        def stop(self, why: str) -> None:
            self.model.stop_training, self.stopped = True, why

        def on_epoch_end(self, epoch, logs=None):
            row = {str(k): v for k, v in ((k, log_value(v)) for k, v in (logs or {}).items()) if v is not None}
            self.epochs.append(row)
            state = self.state
            if state.board is not None:
                state.board.epoch(row)
            if state.metric is None:
                # (a model of Keras's own training step validates what it trains: a val_loss of 0.0 is one)
                own_step = self.model is not None and overrides(self.model, "train_step")
                refusal = never_validated(row) if state.requested is None and own_step else None
                if refusal:
                    raise Refusal(refusal)
                state.metric = pick_metric(state.requested, list(row))
                if state.metric is None and state.unvalidated:
                    # Nothing to tune will ever be logged: one epoch shows what is, for the refusal.
                    self.stop("unvalidated")
            value = row.get(state.metric) if state.metric is not None else None
            # A diverged run cannot recover: stop it instead of training on NaNs.
            if ("loss" in row and not math.isfinite(row["loss"])) or (value is not None and not math.isfinite(value)):
                self.stop("diverged")
            elif value is not None:
                mode = state.mode or default_mode(state.metric)
                if self.best is None or (value < self.best if mode == "min" else value > self.best):
                    self.best, self.wait = value, 0
                else:
                    self.wait += 1
                    if self.patience and self.wait >= self.patience:
                        self.stop("stalled")
                if not self.stopped and self._hopeless(mode):
                    self.stop("pruned")
            INTERRUPT.check()

        def _hopeless(self, mode: str) -> bool:
            state = self.state
            folds = state.fold[1] if state.folded else 1
            if state.protected or not prune.on_for(state.prune, self.planned, folds):
                return False
            pruner = prune.pruner_for(state.prune)
            own = [row[state.metric] for row in self.epochs if state.metric in row]
            return pruner.should_stop(own, state.curves, mode, self.planned)

    _RECORDER.append(Recorder)
    return Recorder


# -- callbacks ----------------------------------------------------------------------------------

def _is_early_stopping(callback) -> bool:
    return any(cls.__name__ == "EarlyStopping" for cls in type(callback).__mro__)


def _file_attribute(callback) -> str | None:
    for cls in type(callback).__mro__:
        attribute = FILE_CALLBACKS.get(cls.__name__)
        if attribute is not None and cls.__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
            return attribute
    return None


def under(folder: str, path) -> str:
    """`path` (a file or folder a callback writes) moved under `folder`: a relative path keeps
    its shape, an absolute one keeps its name."""
    path = os.fspath(path)
    if os.path.isabs(path):
        return os.path.join(folder, os.path.basename(path.rstrip("/\\")) or "files")
    parts = [p for p in os.path.normpath(path).split(os.sep) if p not in ("", ".", "..")]
    return os.path.join(folder, *parts) if parts else folder


def trial_callbacks(user_callbacks, state: TrialState, recorder=None) -> list:
    """The callbacks of one trial: each of the user's as it was before the first trial (a shared
    ModelCheckpoint must not remember the previous trial's best), the ones that write files
    writing under the trial's folder (a TensorBoard callback: the trial's run with --tensorboard),
    then the recorder (`recorder` when the same model trains on, else a new one)."""
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
                first = state.pristine[callback] = copy.copy(callback)
            callback = copy.copy(first)
        except (TypeError, copy.Error):
            pass  # cannot be copied (or weakly referenced): used as it is
        attribute = _file_attribute(callback)
        old = getattr(callback, attribute, None) if attribute else None
        if old and attribute == "log_dir" and state.board is not None and not state.board.claimed:
            # The user's TensorBoard writes the trial's run (and optpar's writer, the same, stops).
            setattr(callback, attribute, state.board.claim())
        elif old and state.trial_dir is not None:
            new = under(state.trial_dir, old)
            os.makedirs(new if attribute in ("log_dir", "backup_dir") else os.path.dirname(new), exist_ok=True)
            setattr(callback, attribute, new)
            if attribute == "backup_dir":  # BackupAndRestore derives its paths at once
                options = ("save_freq", "double_checkpoint", "delete_checkpoint")
                callback.__init__(new, **{k: getattr(callback, k) for k in options if hasattr(callback, k)})
            state.routed[os.path.abspath(os.fspath(old))] = new
        fresh.append(callback)
    if recorder is None:
        patience = 0 if any(_is_early_stopping(c) for c in fresh) else state.patience
        recorder = recorder_class()(state, patience)
    state.recorder = recorder
    return fresh + [state.recorder]


def routed(path):
    """Where a file the user's code reads back lives during a trial: a path a callback was told
    to write is under the trial's folder now."""
    state = STATE
    if not (state.active and state.routed and isinstance(path, (str, os.PathLike))):
        return path
    wanted = os.path.abspath(os.fspath(path))
    for old, new in state.routed.items():
        if wanted == old:
            return new
        if wanted.startswith(old + os.sep):
            return new + wanted[len(old):]
    return path


def read_routed_files() -> None:
    """Point Keras's readers (`Model.load_weights`, `load_model`) at the routed files, so that
    `model.load_weights(checkpoint_path)` after fit reads the checkpoint this trial wrote.
    Installed once per process; outside a trial they pass the path through unchanged."""
    import keras

    def reading(read):
        if getattr(read, "_optpar_routed", False):
            return read

        @functools.wraps(read)
        def wrapper(*args, **kwargs):
            args = list(args)
            index = 1 if args and isinstance(args[0], keras.Model) else 0
            if len(args) > index:
                args[index] = routed(args[index])
            for key in ("filepath", "path"):
                if key in kwargs:
                    kwargs[key] = routed(kwargs[key])
            return read(*args, **kwargs)

        wrapper._optpar_routed = True
        return wrapper

    keras.Model.load_weights = reading(keras.Model.load_weights)
    for module in (keras.models, keras.saving):
        module.load_model = reading(module.load_model)


# -- validation data ------------------------------------------------------------------------------

def data_kind(x) -> str:
    """'dataset' (tf.data), 'generator' (a Python iterator, PyDataset, Sequence, DataLoader:
    nothing optpar can split), or 'arrays' (what Keras's own validation_split takes)."""
    if x is None:
        return "arrays"
    kind = type(x)
    names = {cls.__name__ for cls in kind.__mro__}
    if kind.__module__.split(".")[0] == "tensorflow" and hasattr(x, "element_spec") and hasattr(x, "cardinality"):
        return "dataset"
    if names & {"PyDataset", "Sequence", "DataLoader", "Dataset", "IterableDataset"}:
        return "generator"
    if inspect.isgenerator(x) or (hasattr(x, "__next__") and hasattr(x, "__iter__")):
        return "generator"
    return "arrays"


class Holdout:
    """A finite tf.data.Dataset split once, for the whole search: one pass over it (which also
    counts one of unknown length, after filter() or from_generator()) is held in memory, every
    fifth batch or so is the validation data of every trial, the others train. A dataset built
    with shuffle() would reshuffle on every pass, so a split by position (take/skip) would mix
    validation examples into training; batches held in memory cannot."""

    def __init__(self, dataset, share: float, stepped: bool = False) -> None:
        import numpy as np
        import tensorflow as tf

        count = int(dataset.cardinality())
        if count == int(tf.data.INFINITE_CARDINALITY):
            raise Refusal("fit() trains on a tf.data.Dataset that repeats forever and has no validation data; "
                          "pass validation_data=... to fit() so that trials can be compared")
        unknown = count == int(tf.data.UNKNOWN_CARDINALITY)  # filter(), from_generator(): counted here
        if unknown and stepped:  # steps_per_epoch given: the way an endless generator is trained on
            raise Refusal("fit() trains on a tf.data.Dataset of unknown length, with steps_per_epoch, and has no "
                          "validation data; pass validation_data=... to fit() so that trials can be compared")
        batches, size = [], 0
        for batch in dataset.as_numpy_iterator():
            size += sum(np.asarray(part).nbytes for part in tf.nest.flatten(batch))
            if size > HOLDOUT_MAX_BYTES or len(batches) == HOLDOUT_MAX_BATCHES:
                raise Refusal("fit() trains on a tf.data.Dataset without validation data that is too large to "
                              "hold out in memory (over %d MB or %d batches%s); pass validation_data=... to fit()"
                              % (HOLDOUT_MAX_BYTES // 2 ** 20, HOLDOUT_MAX_BATCHES,
                                 ", or endless" if unknown else ""))
            batches.append(batch)
        count = len(batches)
        if count < 2:
            raise Refusal("fit() trains on a tf.data.Dataset of %d batch and has no validation data; pass "
                          "validation_data=... to fit() (optpar holds out whole batches)" % count)
        held = max(1, int(round(count * share)))
        picked = {int((j + 0.5) * count / held) for j in range(held)}
        self.validation_batches = [b for i, b in enumerate(batches) if i in picked]
        self.train_batches = [b for i, b in enumerate(batches) if i not in picked]
        self.spec = dataset.element_spec
        self.epoch = 0
        self.text = ("fit() has a tf.data.Dataset of %d batches and no validation data: %d of its batches, "
                     "taken once, are the validation data of every trial; the other %d train, in a new "
                     "order each epoch" % (count, len(self.validation_batches), len(self.train_batches)))

    def datasets(self):
        import numpy as np
        import tensorflow as tf

        self.epoch = 0

        def train():
            order = np.random.default_rng(self.epoch).permutation(len(self.train_batches))
            self.epoch += 1
            for index in order:
                yield self.train_batches[index]

        def validation():
            yield from self.validation_batches

        return (tf.data.Dataset.from_generator(train, output_signature=self.spec),
                tf.data.Dataset.from_generator(validation, output_signature=self.spec))


def can_validate(model) -> bool:
    """Whether Keras can evaluate `model` on validation data: it has a `test_step` of its own, or
    Keras's `test_step` can run it: a `call` to predict with and a loss to compute. A GAN-style
    model with only a custom `train_step` has no `call`; a VAE-style one has a `call`, but its
    `train_step` computes the loss itself and `compile()` was given none, so Keras's `test_step`
    stops with "No loss to compute". Both log training metrics only."""
    if overrides(model, "test_step"):
        return True
    if not overrides(model, "call"):
        return False
    return (not overrides(model, "train_step") or overrides(model, "compute_loss")
            or getattr(model, "loss", None) is not None)


def overrides(model, name: str) -> bool:
    """Whether the model's class has a `name` (train_step, call, ...) of its own, not Keras's."""
    import keras

    return getattr(type(model), name, None) is not getattr(keras.Model, name, None)


FEW_ROWS = 10  # fewer held-out rows than this: each trial's score rests on a handful, said once


def _few_rows(x, share: float) -> str:
    """What the note adds when the held-out share is a few rows (an XOR of 4 rows holds out 1,
    which the other 3 do not teach): the count, and `--folds`, which validates on every row."""
    try:
        rows = _length(x)
    except TypeError:
        return ""
    held = rows - math.floor(rows * (1 - share))  # as Keras 3 splits
    if held >= FEW_ROWS:
        return ""
    return ("; that is %d of %d rows, so every trial is scored on %s alone: --folds %d validates on each row "
            "in turn" % (held, rows, "it" if held == 1 else "them", min(5, max(2, rows))))


def _length(data) -> int:
    while isinstance(data, (list, tuple, dict)):
        data = next(iter(data.values())) if isinstance(data, dict) else data[0]
    return len(data)


def _cut(data, start: int, stop: int, held: bool):
    """Rows start:stop of training arrays (`held`), or the others; arrays in a list, tuple or dict
    (a model of several inputs) are cut alike."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _cut(value, start, stop, held) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_cut(value, start, stop, held) for value in data)
    if held:
        return data[start:stop]
    if stop >= len(data):
        return data[:start]  # the last fold: the training rows Keras's validation_split keeps
    if start == 0:
        return data[stop:]
    import numpy as np

    return np.concatenate([np.asarray(data[:start]), np.asarray(data[stop:])])


def with_fold(arguments: dict, state: TrialState) -> dict:
    """`fit` arguments that validate on fold `index` of `count` of the training arrays, training on
    the others. The last fold is the rows Keras's own validation_split (or optpar's default share)
    holds out, so that the trial's first run is the script's own; the rows before it are cut into
    count - 1 blocks of consecutive rows."""
    index, count = state.fold
    rows = _length(arguments.get("x"))
    if rows < count:
        raise Refusal("--folds %d needs at least %d training examples; fit() has %d" % (count, count, rows))
    share = arguments.get("validation_split") or VALIDATION_SHARE
    own = min(rows - 1, max(count - 1, int(math.floor(rows * (1.0 - share)))))  # as Keras splits
    if index == count - 1:
        start, stop = own, rows
    else:
        start, stop = own * index // (count - 1), own * (index + 1) // (count - 1)
    held = [_cut(arguments.get(key), start, stop, True) for key in ("x", "y", "sample_weight")]
    for key in ("x", "y", "sample_weight"):
        if arguments.get(key) is not None:
            arguments[key] = _cut(arguments[key], start, stop, False)
    arguments["validation_data"] = tuple(held) if held[2] is not None else tuple(held[:2])
    arguments.pop("validation_split", None)
    state.folded = True
    note("--folds %d: each trial trains %d times on fit()'s training arrays, validating in turn on "
         "the last %d%% (the script's own split, first) and on %d blocks of the rows before it; its "
         "score is the mean of the folds' bests" % (count, count, round(share * 100), count - 1))
    return arguments


def with_validation(arguments: dict, model, state: TrialState) -> dict:
    """`fit` arguments with validation data: the user's, or a split of the training data decided
    from what it is. None is added when the search tunes a training metric, or when the model
    cannot be validated (then `state.unvalidated`: no val_* metric will ever be logged)."""
    state.unvalidated = False
    if arguments.get("validation_data") is not None:
        return arguments
    if state.requested is not None and not state.requested.startswith("val_"):
        return arguments
    if not can_validate(model):
        state.unvalidated = not arguments.get("validation_split")
        return arguments
    x = arguments.get("x")
    share = arguments.get("validation_split") or 0.0
    kind = data_kind(x)
    if kind == "arrays":
        if state.fold is not None:
            return with_fold(arguments, state)
        if not share:
            arguments["validation_split"] = VALIDATION_SHARE
            note("fit() has no validation data: the last %d%% of the training arrays are the validation "
                 "data of every trial (validation_split=%g)%s" % (VALIDATION_SHARE * 100, VALIDATION_SHARE,
                                                                  _few_rows(x, VALIDATION_SHARE)))
        return arguments
    if kind == "generator":
        raise Refusal("fit() trains on %s and has no validation data, which optpar cannot hold out from a "
                      "generator; pass validation_data=... to fit() so that trials can be compared"
                      % type(x).__name__)
    holdout = state.holdouts.get(id(x))
    if holdout is None or holdout[0] is not x:
        stepped = arguments.get("steps_per_epoch") is not None
        holdout = state.holdouts[id(x)] = (x, Holdout(x, share or VALIDATION_SHARE, stepped))
    split = holdout[1]
    note(split.text)
    arguments["x"], arguments["validation_data"] = split.datasets()
    arguments.pop("validation_split", None)
    steps = arguments.get("steps_per_epoch")
    if steps is not None and steps > len(split.train_batches):
        arguments["steps_per_epoch"] = len(split.train_batches)
    return arguments
