"""What a generated script hands to the runtime, and the state of the trial running in this
process (the user's fit() call reaches optpar_fit with no handle to the search, so the trial's
settings live in one object per process)."""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass, field
from typing import Callable

# Changes only when the contract between a generated script and the runtime changes (what
# main() takes, what optpar_fit does with its arguments), not with optpar's version: a script
# generated for API 1 runs on every optpar that supports API 1.
# 2: the script splits its command line at "--" (options.split_argv); 3: main() takes passes;
# 4: a notebook's statements that feed the measured fit nothing run inside `with idle(...)` (skipping.py)
# 5: main() takes unseeded (what the program's seeds leave out)
# 6: absl_flags() parses and sets an absl program's flags (absl_run.py)
API_VERSION = 6


def required_api(passes: bool, idle: bool = False, unseeded: bool = False, absl: bool = False) -> int:
    """The oldest runtime API a generated script runs on: 6 for one that starts an absl program
    through absl_run(), 5 for one that hands main() what its
    program's seeds leave unseeded, 4 for a notebook's with statements that feed the measured fit
    nothing, 3 for one that hands main() the passes of a loop of one-epoch fits, so that the others
    stay as they were generated."""
    return 6 if absl else 5 if unseeded else 4 if idle else 3 if passes else 2


@dataclass(frozen=True)
class Program:
    """The part of a generated script specific to one model."""

    source: str  # the model file, as the script names it
    space: dict  # hyperopt space, by hyperparameter id
    defaults: dict  # the user's own values
    baseline: dict  # the defaults in hyperopt's encoding (hp.choice entries as indices)
    params: dict  # the dict run_trial() reads; the runtime fills it before each trial
    run_trial: Callable[[], object]
    seeds: tuple[str, ...] = ()  # where the program seeds its random numbers
    fit_at: str = ""  # the measured fit() in the model file, "model.py:LINE:COL"
    argv: tuple[str, ...] | None = None  # the program's own command line (after "--"); None: not split
    passes: tuple[str, int] | None = None  # a loop of one-epoch fits: (id of its tuned bound N, start)
    unseeded: tuple[str, ...] = ()  # what a Keras training draws from that the program's seeds leave out

    def planned_passes(self, values: dict) -> int | None:
        """The epochs a trial trains through a loop of one-epoch fits (N - start), None without one."""
        bound = None if self.passes is None else values.get(self.passes[0])
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            return None
        return max(int(bound) - self.passes[1], 1)

    def refusal_line(self, message: object) -> str:
        """A refusal as the one line a user reads: where (the measured fit), then what."""
        return "%s: error: %s" % (self.fit_at or self.source, message)


@dataclass
class TrialState:
    """The trial running in this process, as optpar_fit needs it; `active` is False outside one,
    and optpar_fit is then the user's plain fit()."""

    active: bool = False
    metric: str | None = None  # the tuned metric; None: picked from the first validation logs
    requested: str | None = None  # --metric as given (None: automatic)
    mode: str | None = None  # --mode as given (None: from the metric's name)
    patience: int = 3
    prune: str | None = None  # --prune: median | asha | none (None: the default rule)
    curves: tuple = ()  # the finished trials' prune.Curve records, for the pruner
    protected: bool = False  # never pruned: the user's configuration
    fold: tuple | None = None  # --folds: (index, count) of the fold this run of the program validates on
    folded: bool = False  # optpar_fit used the fold (array data, no validation_data of the user's)
    unvalidated: bool = False  # the measured fit() has no validation data and none can be added
    passes: int | None = None  # the epochs of a loop of one-epoch fits (Program.planned_passes)
    verbose: bool = False
    trial_dir: str | None = None  # where this trial's callbacks write their files
    board: object = None  # the trial's TensorBoard run (board.TrialRun) with --tensorboard
    recorder: object = None  # the recorder of the fit() running or last run
    finished: object = None  # the recorder of the last fit() that finished
    runs: list = field(default_factory=list)  # recorders of earlier models this run of the program trained
    fitting: bool = False
    routed: dict = field(default_factory=dict)  # the user's file path (absolute) -> the trial's
    holdouts: dict = field(default_factory=dict)  # id(dataset) -> (dataset, split), once per search
    pristine: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)
    noted: set = field(default_factory=set)  # notes already printed by this process

    def __reduce__(self):  # per process: a Spark worker gets a fresh one
        return (TrialState, ())


STATE = TrialState()


class Refusal(Exception):
    """The search cannot run on this script as it is: one line that says what to change. Raised
    before any training where possible; it stops the search (exit 2) instead of failing every
    trial."""


class TrialOver(BaseException):
    """Raised by the measured fit() when it runs again after the trial has ended (pruned, diverged,
    or stopped improving on the same model): the rest of the user's loop is skipped and the trial
    ends as if the program had. A BaseException, so the user's `except Exception` lets it pass."""


class Interrupt:
    """Ctrl-C during a search. The first one is remembered as well as raised: a KeyboardInterrupt
    that Python delivers inside a destructor, a weakref or gc callback (TensorFlow's, jax's
    `_xla_gc_callback`) is printed as "Exception ignored" with a traceback and dropped there, so
    there it is only remembered, and the search checks the flag after every epoch and every trial."""

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum, frame) -> None:
        self.requested = True
        if not _dropped_there(frame):
            raise KeyboardInterrupt


    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __reduce__(self):
        return (Interrupt, ())


def _dropped_there(frame) -> bool:
    """Whether an exception raised in `frame` would be printed and dropped: the frame is a
    destructor's or weakref's, or it runs inside a gc callback (`gc.callbacks`)."""
    code = getattr(frame, "f_code", None)
    if code is not None and (code.co_name == "__del__" or code.co_filename.endswith("weakref.py")):
        return True
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks} - {None}
    while callbacks and frame is not None:
        if frame.f_code in callbacks:
            return True
        frame = frame.f_back
    return False


INTERRUPT = Interrupt()


def note(text: str) -> None:
    """Print a note once per process (a search says each of its decisions once)."""
    import sys

    if text not in STATE.noted:
        STATE.noted.add(text)
        print("note: %s" % text, file=sys.stderr)
        sys.stderr.flush()


def default_mode(metric: str) -> str:
    name = metric.lower()
    return "max" if any(word in name for word in ("acc", "auc", "precision", "recall")) else "min"
