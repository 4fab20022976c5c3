"""The finished trials, kept as JSON records and written atomically after every trial:
`trials.json` (what a resumed search starts from), `trials.csv`, `best.json` and
`convergence.png`."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics

from optpar.runtime.prune import Curve
from optpar.runtime.state import default_mode, note
from optpar.runtime.trial import MAX_ERROR_CHARS, plain

STORE_VERSION = 1


def atomic_write(path, text):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def point_of(vals):
    """hyperopt's misc ``vals`` ({name: [v] or []}) as a point {name: v}."""
    return {k: v[0] for k, v in vals.items() if len(v)}


class Store:
    """``trials.json`` (the resumable state), ``trials.csv`` and ``best.json``.

    ``metric`` and ``mode`` are what the search tunes: given (``--metric``,
    ``--mode``), or None until the first trial that scored says what the
    model logs. Refused trials (the script cannot be tuned as it is) are
    never kept: a rerun after the fix starts afresh.

    ``redraws``: how many trials may be ``invalid`` (failed before their
    model trained an epoch, while your configuration trained: the values
    build no model) and so not count as trials; 0 counts every one."""

    def __init__(self, program, out, metric, mode, redraws=0):
        self.program = program
        self.out = out
        self.metric = metric
        self.mode = mode
        self.path = os.path.join(out, "trials.json")
        self.records = []
        self.refused = {}  # tid -> why the script cannot be tuned as it is
        self.redraws = redraws

    def load(self):
        """Read the finished trials of an earlier run; raise ValueError when
        they belong to a different search."""
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("version") != STORE_VERSION:
            raise ValueError("%s: unknown format version %r" % (self.path, data.get("version")))
        if sorted(data.get("space", [])) != sorted(self.program.space):
            raise ValueError(
                "%s holds trials of a different search space (%s); use another --out"
                % (self.path, ", ".join(data.get("space", [])))
            )
        stored = (data.get("metric"), data.get("mode"))
        if stored[0] is not None:
            if self.metric is None and self.mode in (None, stored[1]):
                self.metric, self.mode = stored
            elif (self.metric, self.mode or default_mode(self.metric)) != stored:
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
            record = record_from_doc(doc, self.program.space)
            if record is None:
                continue
            if record.get("refused"):
                self.refused[tid] = record["error"]
                continue
            if self.metric is None and record.get("metric_name"):
                self.metric, self.mode = record["metric_name"], record["mode"]
                if self.metric != "val_loss":
                    note("the model logs no val_loss; the search tunes %s (%s) instead "
                         "(choose another with --metric NAME --mode min|max)" % (self.metric, self.mode))
            record.pop("metric_name", None)
            record.pop("mode", None)
            if record.pop("pruned", False):
                record["status"] = "pruned"
            if record.pop("untrained", False) and self._may_redraw([*self.records, *new]):
                record["status"] = "invalid"
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
            "version": STORE_VERSION,
            "source": self.program.source,
            "metric": self.metric,
            "mode": self.mode,
            "space": list(self.program.space),
            "trials": self.records,
        }
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")
        self.write_csv()
        self.write_best()

    def _may_redraw(self, records) -> bool:
        trained = any(r.get("baseline") and r["status"] in ("ok", "pruned") for r in records)
        return trained and sum(r["status"] == "invalid" for r in records) < self.redraws

    def counted_records(self):
        """The trials --max-evals counts: all but the invalid ones."""
        return [r for r in self.records if r["status"] != "invalid"]

    def invalid_records(self):
        return [r for r in self.records if r["status"] == "invalid"]

    def ok_records(self):
        """The trials that trained to their end (the best is one of them)."""
        return [r for r in self.records if r["status"] == "ok"]

    def failed_records(self):
        return [r for r in self.records if r["status"] == "fail"]

    def pruned_records(self):
        return [r for r in self.records if r["status"] == "pruned"]

    def curves(self):
        """The finished trials' curves of the tuned metric, for the pruner."""
        return tuple(Curve(tuple(r["curve"]), r["status"] == "pruned") for r in self.records
                     if r["status"] != "fail" and r.get("curve"))

    def epochs_trained(self):
        return sum(r.get("epochs") or 0 for r in self.records)

    def epochs_saved(self):
        """The epochs pruned trials did not train: up to what their fit() asked for, or, when the
        trials that ran to their end stopped sooner (early stopping), up to the median of those."""
        ran = [r["epochs"] for r in self.ok_records() if r.get("epochs")]
        typical = statistics.median(ran) if ran else None
        saved = 0
        for record in self.pruned_records():
            planned = record.get("planned_epochs") or 0
            expected = planned if typical is None else min(planned, typical)
            saved += max(0, int(expected) - (record.get("epochs") or 0))
        return saved

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
        names = list(self.program.space)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["number", "status", self.metric or "metric"] + names
                        + ["duration_s", "epochs_run", "files", "error"])
        for r in self.records:
            values = r.get("values") or {}
            writer.writerow(
                [r["number"], r["status"], "" if r.get("metric") is None else r["metric"]]
                + [_cell(values.get(name, "")) for name in names]
                + [r.get("duration_s", ""), r.get("epochs", ""), r.get("files", ""), r.get("error", "")]
            )
        atomic_write(os.path.join(self.out, "trials.csv"), buffer.getvalue())

    def write_best(self):
        best = self.best_record()
        baseline = self.baseline_record()
        data = {
            "source": self.program.source,
            "metric": self.metric,
            "mode": self.mode,
            "best": None if best is None else _in_space_order(best["values"], self.program.space),
            "best_metric": None if best is None else best["metric"],
            "baseline": plain(self.program.defaults),
            "baseline_metric": None if baseline is None else baseline.get("metric"),
            "trials": len(self.counted_records()),
            "failed": len(self.failed_records()),
            "invalid": len(self.invalid_records()),
            "pruned": len(self.pruned_records()),
            "epochs_trained": self.epochs_trained(),
        }
        for key, record in (("best_folds", best), ("baseline_folds", baseline)):
            if record is not None and record.get("folds"):
                data[key] = record["folds"]  # --folds: the script's own split first
        atomic_write(
            os.path.join(self.out, "best.json"), json.dumps(data, indent=2) + "\n"
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
        pruned = self.pruned_records()
        if pruned:
            ax.plot([r["number"] for r in pruned], [r["metric"] for r in pruned], "x", color="tab:gray",
                    label="pruned trial (its best when stopped)")
        failed = [r["number"] for r in self.failed_records()]
        if failed:
            for x in failed:
                ax.axvline(x, color="tab:red", alpha=0.2, lw=3)
            ax.plot([], [], color="tab:red", alpha=0.2, lw=3, label="failed trial")
        baseline = self.baseline_record()
        if baseline is not None and baseline.get("metric") is not None:
            ax.axhline(baseline["metric"], color="gray", ls="--", label="baseline (your values)")
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric)
        ax.set_title("%s: %s per trial (%s)" % (self.program.source, self.metric, self.mode))
        ax.legend(loc="best")
        fig.tight_layout()
        tmp = os.path.join(self.out, "convergence.tmp-%d.png" % os.getpid())
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, os.path.join(self.out, "convergence.png"))


def _in_space_order(values, space):
    ordered = {k: values[k] for k in space if k in values}
    ordered.update((k, v) for k, v in values.items() if k not in ordered)
    return ordered


def _cell(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def record_from_doc(doc, space):
    """A finished hyperopt trial document as a JSON-able record (None when
    the trial did not finish: new, running or cancelled)."""
    import hyperopt

    result = doc.get("result") or {}
    vals = plain(doc["misc"]["vals"])
    if doc["state"] == hyperopt.JOB_STATE_DONE and result.get("status") in (
        "ok",
        "fail",
    ):
        record = {k: plain(v) for k, v in result.items()}
    elif doc["state"] == hyperopt.JOB_STATE_ERROR:
        # SparkTrials: the task itself failed (e.g. the worker crashed).
        kind, trace = (list(doc["misc"].get("error") or ("", "")) + ["", ""])[:2]
        last = (str(trace or "").strip().splitlines() or [""])[-1]
        record = {
            "status": "fail",
            "error": ("worker error %s %s" % (kind, last))[:MAX_ERROR_CHARS],
        }
    else:
        return None
    if "values" not in record:
        record["values"] = plain(hyperopt.space_eval(space, point_of(vals)))
    record["tid"] = doc["tid"]
    record["vals"] = vals
    record.setdefault("metric", None)
    return record


def trial_doc(trials, tid, vals, record=None):
    """A hyperopt trial document: a finished one rebuilt from a record, or a
    new one (the baseline) to be evaluated."""
    import hyperopt

    doc = {
        "state": hyperopt.JOB_STATE_NEW,
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
        doc["state"] = hyperopt.JOB_STATE_DONE
        doc["result"] = {
            k: v for k, v in record.items() if k not in ("tid", "vals", "number", "baseline")
        }
        if record["status"] == "pruned":  # hyperopt knows ok and fail; it learns from both alike
            doc["result"].update(status="ok", pruned=True)
        elif record["status"] == "invalid":
            doc["result"].update(status="fail")
    return doc
