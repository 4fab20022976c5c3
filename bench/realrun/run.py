"""Run unmodified example scripts offline, then `optpar tune` them, and say what happened.

    python bench/realrun/run.py CORPUS_DIR [--only PATTERN] [--jobs 1] [--timeout 600]
                                [--max-evals 3] [--out /tmp/realrun] [--resume]

For each .py / .ipynb under CORPUS_DIR (`*_tune.py` skipped), in a temporary copy of its folder
(under OUT/work/, so nothing is written into the corpus), with shim/sitecustomize.py on
PYTHONPATH (keras.datasets replaced by small generated data, get_file refused, Model.fit capped
at 2 epochs):

1. the original: `python FILE` (a notebook: its code cells, magics made `pass` as optpar reads them). It trained
   when at least one fit call finished without error (shim log), even if the script failed after
   it (the summary counts those).
2. only if it trained: `optpar tune FILE --max-evals N --out DIR --quiet`; then DIR/trials.csv:
   is trial 1 (the user's configuration) `ok`; the exit code; why not.

Verdicts of the tune: `ok` (exit 0 and trial 1 ok), `refused` (a one-line `path:line:col: error:`
with exit 2, no traceback; `fits` says whether any training ran before it), `failed` (anything
else: trial 1 failed, a traceback, a timeout). The summary also counts the trials after trial 1
that failed in the scripts that tuned (a drawn configuration the model cannot take), which an `ok`
verdict does not show. Prints a table and a summary and writes both to
OUT/results.json (rewritten after every script, so it shows progress; `--resume` keeps what is
done).
"""

import argparse
import csv
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from optpar.notebook import NotebookError, read_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHIM = HERE / "shim"
VENV = REPO / ".venv" / "bin"
REFUSAL = re.compile(r"^\S.*:\d+:\d+: error: ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def find_scripts(corpus: Path, only: str | None) -> list[Path]:
    files = sorted(p for p in corpus.rglob("*")
                   if p.suffix in (".py", ".ipynb") and p.is_file() and not p.stem.endswith("_tune")
                   and ".ipynb_checkpoints" not in p.parts)
    if only:
        glob = any(c in only for c in "*?[")
        files = [p for p in files if (fnmatch.fnmatch(str(p.relative_to(corpus)), only) if glob
                                      else only in str(p.relative_to(corpus)))]
    return files


def notebook_as_script(notebook: Path, out: Path) -> Path:
    """The notebook's code cells as one program, IPython syntax made Python as optpar reads it
    (a magic is `pass` at its indentation, `%time stmt` runs stmt, `%%bash` cells do not run)."""
    try:
        text = read_notebook(notebook).text
    except NotebookError:  # not JSON (hyperas ships Python saved as .ipynb)
        text = notebook.read_text(errors="replace")
    out.write_text(text)
    return out


def run(cmd: list[str], cwd: Path, log: Path, stem: Path, timeout: float) -> dict:
    """Run cmd in its own process group; stdout/stderr to stem.out/.err; kill the group on timeout."""
    env = dict(os.environ, REALRUN_LOG=str(log), MPLBACKEND="Agg", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SHIM), os.environ.get("PYTHONPATH")])))
    t0 = time.time()
    with open(f"{stem}.out", "w") as out, open(f"{stem}.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    stderr = Path(f"{stem}.err").read_text(errors="replace")
    return {"exit": code, "seconds": round(time.time() - t0, 1), "stderr": stderr,
            "events": read_log(log)}


def read_log(log: Path) -> list[dict]:
    if not log.exists():
        return []
    events = []
    for line in log.read_text().splitlines():
        try:  # a process killed at the time limit can leave half a line
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def last_error(stderr: str) -> str:
    """The exception line of the last traceback (its first line), else the last non-empty line."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    starts = [i for i, l in enumerate(lines) if l.startswith("Traceback (most recent call last)")]
    if starts:
        tail = lines[starts[-1] + 1:]
        for i, line in enumerate(tail):
            if not line.startswith((" ", "\t")) and not line.startswith("During handling"):
                more = "Exception encountered when calling" in line or line.rstrip().endswith(":")
                if more and i + 1 < len(tail):  # the message is on the next line
                    line = line.rstrip() + " " + ANSI.sub("", tail[i + 1]).strip()
                return line.strip()[:400]
    return lines[-1].strip()[:400] if lines else ""


def normalise(reason: str) -> str:
    """A short class for grouping: no file positions, paths, numbers or long tails."""
    reason = re.sub(r"^\S+:\d+:\d+: error: ", "error: ", reason)
    reason = re.sub(r"(/[\w.+-]+)+", "PATH", reason)
    reason = re.sub(r"\b\d+(\.\d+)?\b", "N", reason)
    reason = re.sub(r"^(\w+\.)+(?=\w+(Error|Exception)\b)", "", reason)
    return reason[:110]


def trained(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("event") == "fit" and not e.get("error") and e.get("epochs_run")]


def first_trial(tune_dir: Path) -> dict | None:
    path = tune_dir / "trials.csv"
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # invalid: failed before training and drawn again, not counted as a trial
    return {"status": rows[0]["status"], "error": rows[0].get("error", ""),
            "trials": sum(r["status"] != "invalid" for r in rows),
            "ok": sum(r["status"] == "ok" for r in rows),
            "failed": sum(r["status"] == "fail" for r in rows[1:]),
            "invalid": sum(r["status"] == "invalid" for r in rows)} if rows else None


def realrun(path: Path, corpus: Path, out: Path, args) -> dict:
    rel = str(path.relative_to(corpus))
    work = out / "work" / re.sub(r"[^\w.-]+", "__", rel)
    shutil.rmtree(work, ignore_errors=True)
    src = work / "src"
    shutil.copytree(path.parent, src, ignore=shutil.ignore_patterns(
        "*_tune.py", "optpar-runs", "__pycache__", ".ipynb_checkpoints"))
    target = src / path.name
    result = {"script": rel}

    original = target if path.suffix == ".py" else notebook_as_script(target, src / (path.stem + "__nb.py"))
    o = run([str(VENV / "python"), original.name], src, work / "original.jsonl", work / "original",
            args.timeout)
    fits = trained(o["events"])
    result["original"] = {
        # It trained when a fit() finished, even if the script failed after it (a Keras 2 call in
        # its training loop, a plot): optpar scores a trial once its measured fit() is done.
        "verdict": "trained" if fits else ("no-fit" if o["exit"] == 0 else "failed"),
        "exit": o["exit"], "seconds": o["seconds"], "fits": len(fits),
        "epochs_run": [e["epochs_run"] for e in fits], "history": fits[-1]["history"] if fits else None,
        "datasets": sorted({e["dataset"] for e in o["events"] if e.get("event") == "load_data"}),
        "reason": ("" if o["exit"] == 0 else f"timeout after {args.timeout:.0f} s" if o["exit"] is None
                   else last_error(o["stderr"])),
    }
    if result["original"]["verdict"] != "trained":
        return result

    tune_dir = work / "tune"
    t = run([str(VENV / "optpar"), "tune", target.name, "--max-evals", str(args.max_evals),
             "--out", str(tune_dir), "--quiet"], src, work / "tune.jsonl", work / "tune", args.timeout)
    trial = first_trial(tune_dir)
    tune_fits = [e for e in t["events"] if e.get("event") == "fit"]
    err_lines = [l for l in t["stderr"].splitlines() if l.strip()]
    last = err_lines[-1].strip() if err_lines else ""
    refusals = [l.strip() for l in err_lines if REFUSAL.match(l)]
    if t["exit"] == 0 and trial and trial["status"] == "ok":
        verdict, reason = "ok", ""
    elif t["exit"] == 2 and refusals and "Traceback" not in t["stderr"]:
        verdict, reason = "refused", refusals[-1]
    elif t["exit"] is None and trial and trial["status"] == "ok":
        verdict, reason = "slow", f"trial 1 ok; {trial['trials']} trials done in {args.timeout:.0f} s"
    elif t["exit"] is None:
        done = f" ({trial['trials']} trials done, trial 1 {trial['status']})" if trial else " (no trial done)"
        verdict, reason = "failed", f"timeout after {args.timeout:.0f} s{done}"
    elif trial and trial["status"] != "ok":
        verdict, reason = "failed", "trial 1: " + (trial["error"].splitlines() or [""])[0][:400]
    else:
        verdict, reason = "failed", last_error(t["stderr"]) or f"exit {t['exit']}"
    result["tune"] = {"verdict": verdict, "exit": t["exit"], "seconds": t["seconds"], "reason": reason,
                      "trial1": trial and trial["status"], "trials": trial and trial["trials"],
                      "trials_ok": trial and trial["ok"], "later_failed": trial and trial["failed"],
                      "invalid": trial and trial["invalid"],
                      "fits": len(tune_fits),
                      "stderr_last": last[:400]}
    return result


def summarise(results: list[dict]) -> dict:
    originals = [r for r in results if r["original"]["verdict"] == "trained"]
    tuned = [r for r in results if "tune" in r]
    by = lambda verdict: [r for r in tuned if r["tune"]["verdict"] == verdict]

    def classes(rows, key):
        groups = defaultdict(list)
        for r in rows:
            groups[normalise(r[key]["reason"])].append(r["script"])
        return [{"reason": k, "count": len(v), "scripts": v,
                 "example": next(r[key]["reason"] for r in rows if r["script"] == v[0])}
                for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))]

    # A slow script whose trial 1 was ok within the time limit tuned end to end, only not all trials.
    ok, slow, refused, failed = by("ok"), by("slow"), by("refused"), by("failed")
    return {
        "scripts": len(results),
        "originals_trained": len(originals),
        "originals_no_fit": [r["script"] for r in results if r["original"]["verdict"] == "no-fit"],
        "originals_crashed": [r["script"] for r in originals if r["original"]["exit"] != 0],
        "originals_failed": classes([r for r in results if r["original"]["verdict"] == "failed"], "original"),
        "tuned_ok": len(ok) + len(slow),
        "tuned_slow": [r["script"] for r in slow],
        "tuned_ok_percent": round(100.0 * (len(ok) + len(slow)) / len(originals), 1) if originals else None,
        # trials after trial 1 that failed (a drawn configuration the model cannot take), by script
        "later_failed": {r["script"]: r["tune"]["later_failed"] for r in ok + slow if r["tune"].get("later_failed")},
        "later_trials": sum((r["tune"]["trials"] or 1) - 1 for r in ok + slow),
        # configurations that failed before training, drawn again in place (not counted above)
        "invalid": {r["script"]: r["tune"]["invalid"] for r in ok + slow if r["tune"].get("invalid")},
        "refused": len(refused),
        "refused_before_training": sum(r["tune"]["fits"] == 0 for r in refused),
        "refused_reasons": classes(refused, "tune"),
        "failed": len(failed),
        "failed_classes": classes(failed, "tune"),
        "goal_met": bool(originals) and len(ok) + len(slow) >= 0.9 * len(originals)
                    and not failed and all(r["tune"]["fits"] == 0 for r in refused),
    }


def report(results: list[dict], summary: dict) -> str:
    lines = [f"{'script':58} {'original':9} {'ep':5} {'tune':8} {'t1':5} reason"]
    for r in results:
        o, t = r["original"], r.get("tune")
        reason = (t or o)["reason"]
        lines.append(f"{r['script'][:58]:58} {o['verdict']:9} {','.join(map(str, o['epochs_run']))[:5]:5} "
                     f"{t['verdict'] if t else '-':8} {(t and t['trial1']) or '-':5} {reason[:150]}")
    s = summary
    lines += ["", f"scripts: {s['scripts']}",
              f"originals trained: {s['originals_trained']} of {s['scripts']} "
              f"({len(s['originals_crashed'])} of them failed after a fit() had finished; "
              f"no fit call: {len(s['originals_no_fit'])}; "
              f"failed: {sum(c['count'] for c in s['originals_failed'])})"]
    for c in s["originals_failed"]:
        lines.append(f"  {c['count']:3}  {c['reason']}   e.g. {', '.join(c['scripts'][:3])}")
    lines.append(f"tuned end to end, trial 1 ok: {s['tuned_ok']} of {s['originals_trained']} "
                 f"({s['tuned_ok_percent']} %; {len(s['tuned_slow'])} of them slow: trial 1 ok, "
                 f"not every trial done within the time limit)")
    later = s.get("later_failed", {})
    lines.append(f"later trials failed: {sum(later.values())} of {s.get('later_trials', 0)}, in {len(later)} "
                 f"script(s)" + (": " + ", ".join(f"{n} ({k})" for n, k in list(later.items())[:3]) if later else ""))
    invalid = s.get("invalid", {})
    if invalid:
        lines.append(f"invalid configurations drawn again (failed before training, not counted): "
                     f"{sum(invalid.values())}, in " + ", ".join(f"{n} ({k})" for n, k in invalid.items()))
    lines.append(f"refused: {s['refused']} ({s['refused_before_training']} before any training)")
    for c in s["refused_reasons"]:
        lines.append(f"  {c['count']:3}  {c['reason']}   e.g. {', '.join(c['scripts'][:3])}")
    lines.append(f"failed: {s['failed']}")
    crashed = {r["script"] for r in results if r["original"]["verdict"] == "trained" and r["original"]["exit"] != 0}
    for c in s["failed_classes"]:
        names = [n + ("*" if n in crashed else "") for n in c["scripts"][:3]]
        lines.append(f"  {c['count']:3}  {c['reason']}   e.g. {', '.join(names)}")
    if crashed & {n for c in s["failed_classes"] for n in c["scripts"]}:
        lines.append("  (* the original did not finish either: it trained, then failed or timed out)")
    lines.append(f"goal (>= 90 % ok, every other one refused before training): "
                 f"{'met' if s['goal_met'] else 'not met'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--only", help="substring (or glob) of the path relative to CORPUS")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="seconds, for the original and for the tune")
    parser.add_argument("--max-evals", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/realrun"))
    parser.add_argument("--resume", action="store_true", help="keep the scripts already in OUT/results.json")
    parser.add_argument("--report", action="store_true", help="only print the report of OUT/results.json")
    args = parser.parse_args(argv)
    corpus, out = args.corpus.resolve(), args.out.resolve()
    if args.report:
        rows = json.loads((out / "results.json").read_text())["scripts"]
        print(report(rows, summarise(rows)))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    scripts = find_scripts(corpus, args.only)
    done = {}
    if args.resume and (out / "results.json").exists():
        done = {r["script"]: r for r in json.loads((out / "results.json").read_text())["scripts"]}
    results = {rel: r for rel, r in done.items() if corpus / rel in scripts}
    lock = threading.Lock()

    def one(path: Path) -> None:
        rel = str(path.relative_to(corpus))
        if rel in results:
            return
        try:
            r = realrun(path, corpus, out, args)
        except Exception as exc:  # a harness bug must not stop the corpus
            r = {"script": rel, "original": {"verdict": "failed", "exit": None, "seconds": 0, "fits": 0,
                 "epochs_run": [], "history": None, "datasets": [],
                 "reason": f"realrun error: {type(exc).__name__}: {exc}"}}
        t = r.get("tune")
        with lock:
            results[rel] = r
            print(f"[{len(results)}/{len(scripts)}] {rel}: original {r['original']['verdict']}"
                  f"{', tune ' + t['verdict'] if t else ''} {(t or r['original'])['reason'][:160]}", flush=True)
            save()

    def save() -> None:
        rows = [results[str(p.relative_to(corpus))] for p in scripts if str(p.relative_to(corpus)) in results]
        data = {"corpus": str(corpus), "settings": {"timeout": args.timeout, "max_evals": args.max_evals,
                "epochs_cap": int(os.environ.get("REALRUN_EPOCHS", "2")),
                "steps_cap": int(os.environ.get("REALRUN_STEPS", "20"))},
                "summary": summarise(rows), "scripts": rows}
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(out / "results.json")
        return rows, data["summary"]

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(one, scripts))
    rows, summary = save()
    text = report(rows, summary)
    (out / "report.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
