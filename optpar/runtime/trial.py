"""One trial: the values into `params`, a fresh Keras session, the random state of the user's
run, `run_trial()`, and the score (the best epoch's value of the tuned metric). Failures become
failed trials that say what went wrong, and the search goes on."""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sys
import time
import uuid

from optpar.runtime import board, randomness
from optpar.runtime.devices import enable_gpu_memory_growth
from optpar.runtime.fit import metric_refusal, read_routed_files
from optpar.runtime.state import INTERRUPT, STATE, Program, Refusal, TrialOver, default_mode, note

MAX_ERROR_CHARS = 300

# Lines of Keras's and TensorFlow's error texts that say where, not what: Keras wraps a layer's
# error in "Exception encountered when calling X.call()." ... "Arguments received by X.call():
# ..."; TensorFlow's graph errors list the Python frames that defined the failing op ("Detected
# at node ... defined at (most recent call last):", "File ..., line N, in f") and end with the
# op's name ("[[{{node ...}}]] [Op:__inference_...]").
WHERE_LINE = re.compile(
    r"Exception encountered when calling|Graph execution error:?$|Detected at node .* defined at"
    r"|File \".*\", line \d+|\[\[\{\{node |\[Op:|Detected unsupported operations|Stack trace")


def error_text(exc: BaseException) -> str:
    """`Type: message` on one line, with what went wrong and not where."""
    kept = []
    for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines():  # no terminal colours
        line = line.strip()
        if line.startswith("Arguments received by"):
            break
        if line and not WHERE_LINE.match(line):
            kept.append(line)
    text = type(exc).__name__ + (": " + " ".join(kept) if kept else "")
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 3] + "..."
    return text


def plain(value):
    """numpy scalars/arrays and tuples inside `value` as plain Python values."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def as_written(values: dict, defaults: dict) -> dict:
    """The values a trial runs with, as `optpar apply` writes them into the source: floats to 4
    significant digits (the user's own values as they are), so that the applied best is exactly
    the configuration that scored."""
    written = {}
    for key, value in values.items():
        if isinstance(value, float) and math.isfinite(value) and value != defaults.get(key):
            value = float("%.4g" % value)
        written[key] = value
    return written


# -- TensorFlow housekeeping --------------------------------------------------------------------

class _RetraceFilter:
    """Drops TensorFlow's "triggered tf.function retracing" warning: a search builds a new model
    each trial, so retracing is expected, not a bug."""

    def filter(self, record):
        return "tf.function retracing" not in record.getMessage()


def _quiet_retracing() -> None:
    import logging

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetraceFilter) for f in logger.filters):
        logger.addFilter(_RetraceFilter())


def gradient_registry():
    """TensorFlow's global table of gradient functions ({op type: entry}), or None (another
    backend, or a TensorFlow that keeps it elsewhere)."""
    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            return None
        from tensorflow.python.framework import ops

        registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
        return registry if isinstance(registry, dict) else None
    except Exception:
        return None


def forget_custom_gradients(registry, known) -> None:
    """Drop the `CustomGradient-<n>` entries a trial added to TensorFlow's gradient registry.
    `tf.custom_gradient` registers one, never removed, each time a function using it is traced;
    Keras's optimizer does so in every train function (its gradient all-reduce), and the entry's
    closure holds tensors of the traced graph, so every trial's train graphs (and TensorFlow's
    native copies of them) outlived `clear_session()`: about 4.5 MB a trial on a tiny model
    (tensorflow/tensorflow#27492). The graphs these entries serve belong to the trial's model,
    which the next `clear_session()` frees."""
    if registry is None or known is None:
        return
    try:
        for name in [n for n in list(registry) if n not in known]:
            if isinstance(name, str) and name.startswith("CustomGradient-"):
                registry.pop(name, None)
    except Exception:
        pass


# -- the objective ------------------------------------------------------------------------------

class Objective:
    """What hyperopt calls for each trial. Never raises an `Exception`: failures become `fail`
    results carrying the error text; a refusal also carries `refused`."""

    fmin_pass_expr_memo_ctrl = True  # hyperopt passes ctrl: the trial's number

    def __init__(self, program: Program, metric=None, mode=None, patience=3, out=None, verbose=False,
                 random_state=None, prune="none", tensorboard=None, folds=1) -> None:
        self.program = program
        self.requested = metric
        self.metric = metric
        self.mode = mode
        self.patience = patience
        self.prune = prune  # --prune (None: the default rule)
        # The finished trials' curves (prune.Curve), refreshed by the search after each trial;
        # on Spark they travel with the objective, as they were when the trial was sent.
        self.curves = ()
        self.out = None if out is None else os.path.abspath(out)
        self.verbose = verbose
        self.random_state = random_state
        self.tensorboard = None if tensorboard is None else os.path.abspath(tensorboard)  # --tensorboard DIR
        self.folds = folds  # --folds K: a trial is K runs of the program, one per validation fold
        self._process_ready = False  # the once-per-process set-up is done

    def __call__(self, expr, memo, ctrl):
        from hyperopt import pyll

        values = pyll.rec_eval(expr, memo=memo)
        trial = getattr(ctrl, "current_trial", None)
        number = None if trial is None else trial["tid"] + 1  # None: a Spark worker, which is not told
        trial_dir = None
        if self.out is not None:
            # A Spark worker gets a fresh copy of the objective per trial: a random part keeps two
            # trials of one worker process apart.
            name = "%d" % number if number is not None else "w%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
            trial_dir = os.path.join(self.out, "trials", name)
        run = None
        if self.tensorboard is not None:
            run = board.run_name(number) if number is not None else board.worker_run_name()
        return self.evaluate(values, trial_dir, run)

    def evaluate(self, values, trial_dir=None, run=None) -> dict:
        """Run one trial with these values (real ones, not hp.choice indices); `run`: its
        TensorBoard run, a folder name under --tensorboard DIR."""
        program = self.program
        values = as_written(plain(values), program.defaults)
        if not self._process_ready:
            enable_gpu_memory_growth()
            _quiet_retracing()
            read_routed_files()
            self._process_ready = True
        program.params.clear()
        program.params.update(values)
        state = STATE
        state.active, state.requested, state.mode = True, self.requested, self.mode
        state.metric, state.patience, state.verbose = self.metric, self.patience, self.verbose
        state.prune, state.curves = self.prune, tuple(self.curves)
        state.protected = values == plain(program.defaults)  # the user's configuration
        state.passes = program.planned_passes(values)
        state.trial_dir, state.routed = trial_dir, {}
        state.board = None if run is None or self.tensorboard is None else board.TrialRun(
            os.path.join(self.tensorboard, run), run)
        start = time.perf_counter()
        epochs, trained = [], 0  # the first run's epoch logs; the epochs of every run
        # Looked up each trial, not kept on self: Spark pickles the objective.
        gradients = gradient_registry()
        known = None if gradients is None else set(gradients)
        result = {"values": values, "pid": os.getpid()}
        board_run = state.board
        try:
            # --folds K: the program runs once per fold, the fold of the script's own split first
            # (it alone is pruned, logged to TensorBoard and drawn as the trial's curve); the
            # score is the mean of the folds' bests.
            order = [None] if self.folds < 2 else [self.folds - 1, *range(self.folds - 1)]
            scores = []
            for position, fold in enumerate(order):
                if position:
                    state.protected, state.board = True, None
                state.fold, state.folded = (None if fold is None else (fold, self.folds)), False
                runs = self._run(program, state, result)
                recorder = runs[0]
                trained += sum(len(run.epochs) for run in runs)
                bests = [self._score(run.epochs, state.metric) for run in runs]
                scores.append(sum(bests) / len(bests))
                if position == 0:
                    epochs, planned, pruned = recorder.epochs, recorder.planned, recorder.pruned
                    self.metric = state.metric
                    if fold is not None and not state.folded:
                        note("--folds %d: this fit() is not cut into folds (it has validation data of its "
                             "own, trains on a tf.data.Dataset or a generator, or the tuned metric is a "
                             "training one): each trial trains once" % self.folds)
                    if pruned or not state.folded:
                        break
                del recorder, runs
            metric = sum(scores) / len(scores)
            mode = self.mode or default_mode(self.metric)
            # A pruned trial reports its best up to where it stopped, as the literature does:
            # the optimizer learns from it like from any other trial.
            result.update(status="ok", loss=metric if mode == "min" else -metric,
                          metric=metric, metric_name=self.metric, mode=mode,
                          curve=[row[self.metric] for row in epochs if self.metric in row])
            result["planned_epochs"] = planned
            if pruned:
                result["pruned"] = True
            if len(scores) > 1:
                result["folds"] = scores
        except Exception as exc:  # noqa: BLE001 - every failure is a failed trial
            # Failed before the model trained an epoch (these values build no model, or it
            # breaks at its first batch): cheap, and the search may draw another (Store.update_from).
            untrained = not trained and not state.runs and not getattr(state.recorder, "epochs", None)
            state.recorder = state.finished = None
            state.runs = []
            if INTERRUPT.requested:
                raise KeyboardInterrupt from None  # Ctrl-C, seen through an error of TF's
            result.update(status="fail", error=error_text(exc))
            if isinstance(exc, Refusal):
                result.update(error=str(exc), refused=True)
            elif untrained:
                result["untrained"] = True
            del exc
        finally:
            state.active, state.fold, state.board = False, None, None
            # Without this the trial's train graphs stay alive for good.
            forget_custom_gradients(gradients, known)
            if board_run is not None:
                board_run.close()
                result["board"] = board_run.name
        result.update(duration_s=round(time.perf_counter() - start, 3), epochs=trained)
        if state.routed:
            result["files"] = os.path.relpath(state.trial_dir, self.out)
        return result

    def _run(self, program: Program, state, result: dict) -> list:
        """One run of the program in a fresh Keras session from the user's random state; the
        recorders of its measured fit(), one per model it trained (more than one: a training loop
        that builds a new model each time)."""
        import keras

        state.recorder = state.finished = None
        state.runs = []
        # A fresh Keras session; it also runs gc.collect() (free_memory=True), which frees the
        # previous trial's model: no second collection needed.
        keras.backend.clear_session()
        if self.random_state is not None:
            randomness.restore(self.random_state)
        if program.argv is not None:  # on a Spark worker, the command line the driver's program had
            sys.argv[1:] = program.argv
        try:
            with contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO()):
                program.run_trial()
        except TrialOver:
            pass  # the measured fit() ran again after the trial had ended
        except Exception as exc:  # noqa: BLE001
            # The score is known once the measured fit() has finished: what the user's code
            # does after it (a removed Keras 2 call in a training loop, a plot) cannot change
            # it, and the user's own run stops there too.
            if state.finished is None or state.fitting or isinstance(exc, Refusal):
                raise
            result["error"] = "ignored, after fit() had finished: " + error_text(exc)
            del exc
        runs, recorder, state.runs, state.recorder, state.finished = state.runs, state.finished, [], None, None
        if recorder is None:
            raise RuntimeError("the measured fit() call did not run (no epoch logs)")
        return [*runs, recorder]

    def _score(self, epochs: list[dict], metric: str | None) -> float:
        if not epochs:
            raise RuntimeError("fit() ran no epoch")
        if metric is None or all(row.get(metric) is None for row in epochs):
            keys = list(dict.fromkeys(key for row in epochs for key in row))
            raise Refusal(metric_refusal(self.requested, keys))
        series = [row[metric] for row in epochs if metric in row]
        for number, row in enumerate(epochs, 1):
            if metric in row and not (row[metric] is not None and math.isfinite(row[metric])):
                raise FloatingPointError("%s is %s at epoch %d: the training diverged" % (metric, row[metric], number))
        losses = [row.get("loss") for row in epochs if "loss" in row]
        if any(not math.isfinite(value) for value in losses):
            raise FloatingPointError("the training loss is not finite: the training diverged")
        mode = self.mode or default_mode(metric)
        return min(series) if mode == "min" else max(series)
