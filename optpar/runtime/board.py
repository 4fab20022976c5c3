"""TensorBoard (`--tensorboard DIR`): one run per trial, and the search in the HParams tab.

The process that runs a trial writes its per-epoch metrics as Keras's TensorBoard callback does
(`DIR/trial-0003/train` and `.../validation`: `epoch_loss`, `epoch_accuracy`, ...); a user's own
TensorBoard callback, when fit() has one, writes there instead. The search writes the experiment
once in DIR (every hyperparameter with its domain, the metrics), and each trial's session in its
run when it records the trial: the values it ran with, its status, its score. A Spark worker does
not know its trial's number: it writes `DIR/worker-<pid>-<id>`, which the search renames.

tensorboard's own protos and record writer, no TensorFlow: it works on every Keras backend.
Standard library at import; tensorboard is imported when something is written.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass

RUN = "trial-%04d"  # a trial's run, by its number in trials.csv
WORKER_RUN = "worker-%d-%s"  # a Spark worker's run (pid, a random id) until the search renames it
# The event files this module writes in DIR itself end so: a new search replaces only those.
SUFFIX = ".optpar"
OURS = re.compile(r"(trial-\d{4,}|worker-\d+-[0-9a-f]+)$")
PREFIX = "optpar/"  # the tags of a trial's summary, beside Keras's epoch_* ones


def run_name(number: int) -> str:
    return RUN % number


def worker_run_name() -> str:
    """A name no other trial's run has: a Spark worker gets a fresh copy of the objective for each
    trial, so it cannot count its trials."""
    return WORKER_RUN % (os.getpid(), uuid.uuid4().hex[:8])


def check_dir(folder: str) -> str:
    """The absolute path of the --tensorboard folder; ValueError with a one-line reason when it
    cannot be one, or when tensorboard is not installed."""
    path = os.path.abspath(folder)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError("--tensorboard %s is a file, not a folder" % folder)
    if importlib.util.find_spec("tensorboard") is None:
        raise ValueError("--tensorboard needs the tensorboard package (pip install tensorboard)")
    return path


# -- the space as TensorBoard shows it ------------------------------------------------------------

@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter of the space, with the domain TensorBoard draws its axis from."""

    name: str
    kind: str  # real | int | discrete | free (a distribution TensorBoard has no domain for)
    low: float | None = None
    high: float | None = None
    options: tuple = ()  # discrete: the values, as TensorBoard holds them

    @property
    def text(self) -> bool:
        """Whether TensorBoard holds the values as strings (a choice of strings, None, tuples...)."""
        return self.kind == "discrete" and any(isinstance(o, str) for o in self.options)

    def shown(self, value):
        """`value` as TensorBoard holds it: a bool, a number or a string."""
        if self.text and not isinstance(value, str):
            return json.dumps(value)
        return _plain_option(value)


def _plain_option(value):
    return value if isinstance(value, (bool, int, float, str)) else json.dumps(value)


def _literal(node):
    """The value of a constant hyperopt expression (a literal, a tuple or dict of them); ValueError
    for one that draws (a hyperparameter nested in a choice)."""
    kind = getattr(node, "name", None)
    if kind == "literal":
        return node.obj
    if kind == "pos_args":
        return tuple(_literal(a) for a in node.pos_args)
    if kind == "dict":
        return {key: _literal(value) for key, value in node.named_args}
    raise ValueError("not a constant: %s" % kind)


def hyperparameter(name: str, expr) -> Hyperparameter:
    """The domain of a hyperopt expression: hp.choice, hp.uniform, hp.loguniform, hp.quniform
    (scope.int around it: integers); anything else is shown without a domain."""
    integer = False
    node = expr
    while getattr(node, "name", None) in ("float", "int"):
        integer = integer or node.name == "int"
        node = node.pos_args[0]
    try:
        if node.name == "switch":
            options = tuple(_plain_option(_literal(o)) for o in node.pos_args[1:])
            if any(isinstance(o, str) for o in options):
                options = tuple(o if isinstance(o, str) else json.dumps(o) for o in options)
            elif any(isinstance(o, bool) for o in options) and not all(isinstance(o, bool) for o in options):
                options = tuple(json.dumps(o) for o in options)
            elif not any(isinstance(o, bool) for o in options):
                options = tuple(float(o) for o in options)  # TensorBoard's numbers are doubles
            return Hyperparameter(name, "discrete", options=tuple(dict.fromkeys(options)))
        if node.name == "hyperopt_param":
            dist = node.pos_args[1]
            bounds = [float(_literal(a)) for a in dist.pos_args[:2]]
            if dist.name in ("loguniform", "qloguniform"):
                bounds = [math.exp(b) for b in bounds]
            if dist.name in ("uniform", "quniform", "loguniform", "qloguniform"):
                low, high = (float("%.4g" % b) for b in bounds)
                if integer:
                    return Hyperparameter(name, "int", math.ceil(low), math.floor(high))
                return Hyperparameter(name, "real", low, high)
    except Exception:  # noqa: BLE001 - a shape not foreseen: shown without a domain
        pass
    return Hyperparameter(name, "free")


# -- event files -----------------------------------------------------------------------------------

class EventFile:
    """One TensorBoard event file, written synchronously (no writer thread to stop)."""

    def __init__(self, folder: str, suffix: str = "") -> None:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        os.makedirs(folder, exist_ok=True)
        now = time.time()
        name = "events.out.tfevents.%010d.%s.%d.%s%s" % (now, socket.gethostname(), os.getpid(),
                                                        uuid.uuid4().hex[:8], suffix)
        self._event = event_pb2.Event
        self._handle = open(os.path.join(folder, name), "wb")
        self._records = RecordWriter(self._handle)
        self._write(event_pb2.Event(wall_time=now, file_version="brain.Event:2"))

    def _write(self, event) -> None:
        self._records.write(event.SerializeToString())
        self._handle.flush()

    def summary(self, values, step: int = 0, wall_time: float | None = None) -> None:
        """Write `values` (Summary.Value protos) as one event."""
        from tensorboard.compat.proto import summary_pb2

        self._write(self._event(wall_time=time.time() if wall_time is None else wall_time, step=step,
                                summary=summary_pb2.Summary(value=list(values))))

    def close(self) -> None:
        self._handle.close()


def scalar(tag: str, value: float, display_name: str = ""):
    """A scalar as tf.summary.scalar writes it: a float32 tensor with the scalar plugin's metadata."""
    import numpy as np
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.scalar import metadata
    from tensorboard.util import tensor_util

    return summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(np.float32(value)),
                                     metadata=metadata.create_summary_metadata(display_name, ""))


def _hparams_value(tag: str, data):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    return summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data),
                                     tensor=metadata.NULL_TENSOR)


# -- the trial's process: per-epoch metrics --------------------------------------------------------

class TrialRun:
    """A trial's run as the process that trains it writes it: each epoch's logs, training ones in
    `train/`, validation ones (without `val_`) in `validation/`, tagged `epoch_<name>` as Keras's
    TensorBoard callback tags them. A user's own TensorBoard callback claims the run: it writes
    the same there, and this writes nothing more."""

    def __init__(self, folder: str, name: str) -> None:
        self.folder = folder
        self.name = name  # relative to DIR
        self.claimed = False
        self.step = 0  # epochs so far, over every fit() of the trial
        self._files: dict[str, EventFile] = {}

    def claim(self) -> str:
        """The folder a user's TensorBoard callback writes to."""
        self.claimed = True
        os.makedirs(self.folder, exist_ok=True)
        return self.folder

    def epoch(self, row: dict) -> None:
        if not self.claimed:
            groups: dict[str, list] = {}
            for key, value in row.items():
                group, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                groups.setdefault(group, []).append(scalar("epoch_" + name, value))
            for group, values in groups.items():
                if group not in self._files:
                    self._files[group] = EventFile(os.path.join(self.folder, group))
                self._files[group].summary(values, step=self.step)
        self.step += 1

    def close(self) -> None:
        for events in self._files.values():
            events.close()
        self._files.clear()


# -- the search: the experiment and each trial's session -------------------------------------------

STATUS = {"ok": "STATUS_SUCCESS", "pruned": "STATUS_SUCCESS", "fail": "STATUS_FAILURE",
          "invalid": "STATUS_FAILURE"}


class Board:
    """The --tensorboard folder as the search writes it: the experiment once, then each trial's
    session as the trial is recorded."""

    def __init__(self, folder: str, space: dict) -> None:
        self.folder = folder
        self.hyperparameters = tuple(hyperparameter(name, expr) for name, expr in space.items())
        self.configured = False

    @classmethod
    def open(cls, folder: str, space: dict, kept: list[dict], metric: str | None, mode: str | None) -> Board:
        """The folder of a search that keeps the records `kept`: what an earlier search left there
        beyond them (an interrupted trial's run, another search's) is removed, the experiment is
        written anew, and the kept trials that have no run get their session."""
        board = cls(folder, space)
        os.makedirs(folder, exist_ok=True)
        keep = {run_name(record["number"]) for record in kept}
        for entry in os.listdir(folder):
            path = os.path.join(folder, entry)
            if os.path.isdir(path) and OURS.fullmatch(entry) and entry not in keep:
                shutil.rmtree(path, ignore_errors=True)
            elif entry.endswith(SUFFIX) and "tfevents" in entry and os.path.isfile(path):
                os.remove(path)  # the experiment, written anew
        board.configure(metric, mode)
        for record in kept:
            if not os.path.isdir(board.run_folder(record["number"])):
                board.session(record, metric)
        return board

    def run_folder(self, number: int) -> str:
        return os.path.join(self.folder, run_name(number))

    def configure(self, metric: str | None, mode: str | None) -> None:
        """The experiment: every hyperparameter with its domain, and the metrics (once the tuned
        one is known)."""
        if self.configured or metric is None:
            return
        from tensorboard.plugins.hparams import summary_v2 as hp

        hparams = []
        for h in self.hyperparameters:
            if h.kind == "discrete":
                domain = hp.Discrete(list(h.options))
            elif h.kind == "real":
                domain = hp.RealInterval(h.low, h.high)
            elif h.kind == "int" and h.low <= h.high:
                domain = hp.IntInterval(h.low, h.high)
            else:
                domain = None
            hparams.append(hp.HParam(h.name, domain))
        base = metric[4:] if metric.startswith("val_") else metric
        metrics = [hp.Metric(PREFIX + "best_" + metric, display_name="%s (best epoch, %s)" % (metric, mode or "min"))]
        for name in dict.fromkeys(("loss", base)):
            metrics.append(hp.Metric("epoch_" + name, group="validation", display_name="val_" + name + " (last epoch)"))
            metrics.append(hp.Metric("epoch_" + name, group="train", display_name=name + " (last epoch)"))
        metrics.append(hp.Metric(PREFIX + "epochs", display_name="epochs trained"))
        metrics.append(hp.Metric(PREFIX + "pruned", display_name="pruned"))
        events = EventFile(self.folder, SUFFIX)
        try:
            events.summary(hp.hparams_config_pb(hparams, metrics).value)
        finally:
            events.close()
        self.configured = True

    def record(self, record: dict, metric: str | None, mode: str | None) -> None:
        """A trial the search has recorded: its run under its number (a Spark worker's renamed),
        and its session."""
        self.configure(metric, mode)
        target = self.run_folder(record["number"])
        written = record.get("board")
        if written and os.path.join(self.folder, written) != target:
            source = os.path.join(self.folder, written)
            if os.path.isdir(source):
                if os.path.exists(target):
                    shutil.rmtree(target)
                os.replace(source, target)
        record["board"] = run_name(record["number"])
        self.session(record, metric)

    def session(self, record: dict, metric: str | None = None) -> None:
        """The trial's session in its run: start (its values), its score, end (its status)."""
        from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
        from tensorboard.plugins.hparams import metadata
        from tensorboard.plugins.hparams import summary_v2 as hp

        ended = time.time()
        started = ended - float(record.get("duration_s") or 0.0)
        values = record.get("values") or {}
        shown = {h.name: h.shown(values[h.name]) for h in self.hyperparameters if h.name in values}
        start = hp.hparams_pb(shown, trial_id=run_name(record["number"]), start_time_secs=started)
        scores = [scalar(PREFIX + "epochs", record.get("epochs") or 0, "epochs trained"),
                  scalar(PREFIX + "pruned", float(record["status"] == "pruned"), "pruned")]
        if metric is not None and record.get("metric") is not None:
            scores.insert(0, scalar(PREFIX + "best_" + metric, record["metric"], metric + " (best epoch)"))
        status = getattr(api_pb2, STATUS.get(record["status"], "STATUS_UNKNOWN"))
        end = plugin_data_pb2.HParamsPluginData(
            session_end_info=plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=ended))
        events = EventFile(self.run_folder(record["number"]), SUFFIX)
        try:
            events.summary(start.value, wall_time=started)
            events.summary(scores, wall_time=ended)
            events.summary([_hparams_value(metadata.SESSION_END_INFO_TAG, end)], wall_time=ended)
        finally:
            events.close()
