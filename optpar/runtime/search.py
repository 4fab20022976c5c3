"""The search a generated script runs: its command line, hyperopt's fmin with the user's own
configuration as trial 1, a save after every trial (so a rerun resumes), Ctrl-C that keeps what
finished, and the summary.

A configuration that fails before its model trains an epoch, while the user's own configuration
trained (a kernel and pool chain that shrinks a small image below nothing), is `invalid`: it is
kept (trials.csv says so) but --max-evals does not count it, so the search draws another in its
place, up to --max-evals of them; after that they count as failed trials. Only on one machine:
Spark dispatches its trials ahead, so there every trial counts."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time

from optpar.runtime import board, options, prune, randomness
from optpar.runtime.repeats import ALGO_TRIES, RANDOM_TRIES, Repeats, untried
from optpar.runtime.skipping import say_skipped
from optpar.runtime.state import API_VERSION, INTERRUPT, Program, default_mode, note
from optpar.runtime.store import Store, trial_doc
from optpar.runtime.devices import enable_gpu_memory_growth
from optpar.runtime.trial import Objective, error_text, plain


def main(*, source: str, space: dict, defaults: dict, baseline: dict, params: dict, run_trial,
         seeds=(), fit_at: str = "", api: int = API_VERSION, argv=None, passes=None, unseeded=()) -> int:
    """Run (or resume) the search of a generated script; 0 ok, 1 every trial failed, 2 bad input,
    130 interrupted."""
    if api > API_VERSION:
        print("error: %s was generated for optpar's runtime API %d; this optpar has API %d: upgrade "
              "optpar, or regenerate the script" % (sys.argv[0] or "the script", api, API_VERSION),
              file=sys.stderr)
        return 2
    say_skipped()  # the setup's statements skipped on a name a skipped one would have bound
    program = Program(source, space, defaults, baseline, params, run_trial, tuple(seeds), fit_at,
                      options.program_argv(), None if passes is None else tuple(passes), tuple(unseeded))
    INTERRUPT.requested = False
    previous = _on_sigint(INTERRUPT.handler)
    try:
        return _search(program, argv)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def parse_args(program: Program, argv=None) -> argparse.Namespace:
    stem = os.path.splitext(os.path.basename(program.source))[0]
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tune",
        description="Tune the hyperparameters of %s with hyperopt. Running the same command again "
                    "resumes an interrupted search." % program.source,
        epilog='arguments after "--" are your program\'s own command line (what its argparse reads)')
    options.add_options(parser)
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = os.path.join("optpar-runs", stem)
    if args.mode is None and args.metric is not None:
        args.mode = default_mode(args.metric)
    return args


def _startup(args, store: Store) -> int:
    """TPE's random start-up: a third of the trials the search is to run, from 3 to 20. With
    --budget-epochs, the trials are counted as the full trainings the budget pays for (the
    budget over the epochs a trial's fit() asks for), so that pruning, which runs more trials in
    the same epochs, spends its extra trials on TPE's guesses, not on more random ones."""
    trials = args.max_evals
    planned = [r.get("planned_epochs") or r.get("epochs") or 0 for r in store.records]
    if args.budget_epochs is not None and any(planned):
        trials = min(trials, max(1, args.budget_epochs // max(planned)))
    return max(3, min(20, trials // 3))


def _algo(args, store: Store, repeats: Repeats):
    """The hyperopt algorithm of --algo, redrawing a configuration the search already tried."""
    import hyperopt

    return untried(_proposer(args, store), hyperopt.rand.suggest, repeats)


def _proposer(args, store: Store):
    import hyperopt

    if args.algo == "tpe":
        def suggest(new_ids, domain, trials, seed):
            return hyperopt.tpe.suggest(new_ids, domain, trials, seed, n_startup_jobs=_startup(args, store))

        return suggest
    if args.algo == "rand":
        return hyperopt.rand.suggest
    if args.algo == "anneal":
        return hyperopt.anneal.suggest
    try:
        import lightgbm  # noqa: F401 - atpe.suggest needs it
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise ValueError("--algo atpe needs lightgbm and scikit-learn (%s)" % exc)
    return hyperopt.atpe.suggest


def _search(program: Program, argv) -> int:
    args = parse_args(program, argv)
    if args.tensorboard is not None:
        try:
            args.tensorboard = board.check_dir(args.tensorboard)
        except ValueError as exc:
            print("error: %s" % exc, file=sys.stderr)
            return 2
    import hyperopt
    import numpy as np

    # Before anything else runs: the random state the user's program has where its training
    # starts. Every trial starts from it.
    random_state = randomness.take()
    started = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    store = Store(program, args.out, args.metric, args.mode,
                  redraws=args.max_evals if args.backend == "local" else 0)
    repeats = Repeats()
    try:
        kept = store.load()
        algo = _algo(args, store, repeats)
        tensorboard = None if args.tensorboard is None else board.Board.open(
            args.tensorboard, program.space, kept, store.metric, store.mode)
    except (ValueError, OSError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    n_kept, n_done = len(kept), len(store.counted_records())
    if n_kept:
        print("resuming: %d of %d trials already done in %s" % (n_done, args.max_evals, args.out), file=sys.stderr)
    enable_gpu_memory_growth()

    if n_done < args.max_evals:
        objective = Objective(program, store.metric, store.mode, args.patience, args.out, args.verbose,
                              random_state, args.prune, args.tensorboard, args.folds)
        objective.curves = store.curves()
        if args.backend == "spark":
            from optpar.runtime.spark import spark_trials, unshippable

            refusal = unshippable(objective)
            if refusal:
                print(program.refusal_line(refusal), file=sys.stderr)
                return 2
            trials = spark_trials(args, program.source)
        else:
            trials = hyperopt.Trials()
        docs = [trial_doc(trials, tid, rec["vals"], rec) for tid, rec in enumerate(kept)]
        baseline_tid = None
        if not any(rec.get("baseline") for rec in kept):
            # Trial 1 is always the user's own configuration.
            baseline_tid = n_kept
            docs.append(trial_doc(trials, baseline_tid, {k: [plain(v)] for k, v in program.baseline.items()}))
        if docs:
            trials.insert_trial_docs(docs)
            trials.refresh()

        def after_trial(trials_now, *unused):
            _save_and_report(store, trials_now, baseline_tid, n_kept, args, started, tensorboard)
            INTERRUPT.check()  # after the save: a trial that finished is kept
            objective.curves = store.curves()  # what the next trials are pruned against
            if store.refused:
                return True, []
            why = _budget_spent(store, args, started) or _failing_alike(store)
            done = len(store.counted_records()) >= args.max_evals
            if why and not args.quiet and args.backend == "local" and not done:
                print("%s, starting no new trial" % why, file=sys.stderr)
            return bool(why) or done, []

        # fmin evaluates a queued (baseline) trial only inside its loop, which it skips when
        # len(trials) already equals max_evals: in local mode ask for one more and let
        # after_trial stop at --max-evals (invalid trials not counted).
        fmin_evals = args.max_evals + store.redraws
        if baseline_tid is not None and args.backend == "local":
            fmin_evals += 1
        try:
            hyperopt.fmin(objective, program.space, algo=algo, max_evals=fmin_evals, trials=trials,
                          rstate=np.random.default_rng(args.seed + n_kept), early_stop_fn=after_trial,
                          show_progressbar=False, return_argmin=False)
        except hyperopt.exceptions.AllTrialsFailed:
            pass
        except KeyboardInterrupt:
            _on_sigint(signal.SIG_IGN)  # a second Ctrl-C must not cut the saving short
            _save_and_report(store, trials, baseline_tid, n_kept, args, started, tensorboard)
            _finish_files(store)
            print("\ninterrupted: %d finished trials are kept in %s; run the same command to resume:\n  %s"
                  % (len(store.records), args.out, _resume_command(argv)), file=sys.stderr)
            return 130
        _save_and_report(store, trials, baseline_tid, n_kept, args, started, tensorboard)
        if store.refused:
            print(program.refusal_line(next(iter(store.refused.values()))), file=sys.stderr)
            return 2
    else:
        print("nothing to do: the search already has %d trials (--max-evals %d)" % (n_done, args.max_evals),
              file=sys.stderr)

    _finish_files(store)
    if not store.ok_records():
        first = next((r.get("error") for r in store.records if r.get("error")), "no trial ran")
        print("error: all %d trials failed; first error: %s" % (len(store.records), first), file=sys.stderr)
        return 1
    _summary(store, program, args.tensorboard, repeats)
    return 0


def _failing_alike(store: Store) -> str:
    """Why the search starts no new trial when every trial so far, your configuration (trial 1)
    among them, failed with one and the same error (a missing file, an import, a bug before the
    model trains): other values would fail the same way. Trials that fail apart (an error naming
    a value, a shape) go on; so does the search once a trial trains."""
    records = store.records
    if len(records) < 2 or not any(r.get("baseline") for r in records):
        return ""
    errors = {r.get("error") if r["status"] == "fail" else None for r in records}
    if len(errors) != 1 or None in errors:
        return ""
    return "every trial so far (%d, your configuration among them) failed with the same error" % len(records)


def _budget_spent(store: Store, args, started) -> str:
    """Why the search starts no new trial (--timeout, --budget-epochs), or ""."""
    if args.timeout is not None and time.monotonic() - started >= args.timeout:
        return "timeout: %gs reached" % args.timeout
    trained = store.epochs_trained()
    if args.budget_epochs is not None and trained >= args.budget_epochs:
        return "budget: %d epochs trained (--budget-epochs %d)" % (trained, args.budget_epochs)
    return ""


def _on_sigint(handler):
    """Install `handler` for SIGINT and return the previous one (None, and nothing changed,
    outside the main thread, where Python cannot do it)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, handler)


def _resume_command(argv) -> str:
    words = [os.path.basename(sys.executable), sys.argv[0] if sys.argv else "model_tune.py"]
    words += list(sys.argv[1:] if argv is None else argv)
    program = options.program_argv()
    if argv is not None and program:
        words += ["--", *program]
    return " ".join(shlex.quote(w) for w in words)


def _finish_files(store: Store) -> None:
    if not store.records:
        return
    store.save()
    try:
        store.write_plot()
    except Exception as exc:  # matplotlib missing or broken: the rest is saved
        print("warning: no convergence.png (%s)" % error_text(exc), file=sys.stderr)


def _save_and_report(store: Store, trials, baseline_tid, n_kept, args, started, tensorboard=None) -> None:
    for record in store.update_from(trials, baseline_tid, n_kept):
        if tensorboard is not None:
            try:
                tensorboard.record(record, store.metric, store.mode)
            except OSError as exc:  # the results are saved; TensorBoard misses this trial
                print("warning: no TensorBoard session for trial %d (%s)" % (record["number"], error_text(exc)),
                      file=sys.stderr)
        if record["status"] == "pruned":
            note("pruning (%s) stops trials that are clearly worse than the earlier ones at the same "
                 "epoch; --prune none trains every trial to its end" % (args.prune or prune.DEFAULT_RULE))
        if not args.quiet:
            _progress(store, record, args, started)


def _progress(store: Store, record: dict, args, started) -> None:
    pick = min if store.mode == "min" else max
    so_far = [r["metric"] for r in store.records[: record["number"]] if r["status"] == "ok"]
    best = pick(so_far) if so_far else None
    if record["status"] == "ok":
        what = "%s=%.4f" % (store.metric, record["metric"])
    elif record["status"] == "pruned":
        what = "pruned at epoch %d (%s=%.4f)" % (record.get("epochs", 0), store.metric, record["metric"])
    elif record["status"] == "invalid":
        what = "INVALID, not counted: failed before training (%s)" % record.get("error", "")
    else:
        what = "FAILED (%s)" % record.get("error", "")
    # The trials the search runs grow by one for each invalid one so far.
    planned = args.max_evals + len([r for r in store.invalid_records() if r["number"] <= record["number"]])
    print("trial %d/%d  %s  best=%s  elapsed %ds" % (
        record["number"], planned, what, "-" if best is None else "%.4f" % best,
        time.monotonic() - started), file=sys.stderr)
    sys.stderr.flush()


def _fmt(value) -> str:
    return "%.4g" % value if isinstance(value, float) else str(value)


def _summary(store: Store, program: Program, tensorboard: str | None = None, repeats: Repeats | None = None) -> None:
    best = store.best_record()
    baseline = store.baseline_record()
    rows = [("hyperparameter", "baseline", "best")]
    for name in program.space:
        rows.append((name, _fmt(program.defaults.get(name, "")),
                     "" if best is None else _fmt(best["values"].get(name, ""))))
    base_metric = None if baseline is None else baseline.get("metric")
    rows.append((store.metric, "failed" if baseline is not None and base_metric is None
                 else _fmt(base_metric) if base_metric is not None else "-",
                 "" if best is None else _fmt(best["metric"])))
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(str(cell).ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
        if i == 0 or i == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    if best is not None and best.get("folds"):
        def own(record):  # the first fold: the script's own split
            return _fmt(record["folds"][0]) if record and record.get("folds") else "-"

        lines.append("%s: the mean over %d folds (--folds); on the script's own validation split, what "
                     "it shows after apply: baseline %s, best %s"
                     % (store.metric, len(best["folds"]), own(baseline), own(best)))
    n_pruned, n_invalid = len(store.pruned_records()), len(store.invalid_records())
    lines.append("")
    lines.append("%d trials (%d failed%s); best is trial %s" % (
        len(store.counted_records()), len(store.failed_records()), ", %d pruned" % n_pruned if n_pruned else "",
        "-" if best is None else best["number"]))
    if n_invalid:
        lines.append("%d more configuration%s failed before training an epoch and %s drawn again in place "
                     "(trials.csv: invalid)" % (n_invalid, "s" if n_invalid > 1 else "",
                                               "were" if n_invalid > 1 else "was"))
    if n_pruned:
        lines.append("epochs trained: %d; pruning saved %d more" % (store.epochs_trained(), store.epochs_saved()))
    if repeats is not None and repeats.used_up:
        lines.append("no untried configuration left after %d trials (%d redraws found none): the search "
                     "stopped before --max-evals" % (repeats.used_up, ALGO_TRIES + RANDOM_TRIES))
    elif repeats is not None and repeats.redrawn:
        lines.append("%d proposal%s repeated a configuration already tried and %s drawn again"
                     % (repeats.redrawn, "s" if repeats.redrawn > 1 else "", "were" if repeats.redrawn > 1 else "was"))
    lines.append("results: %s (best.json, trials.csv, convergence.png)" % store.out)
    if tensorboard is not None:
        lines.append("TensorBoard: tensorboard --logdir %s" % shlex.quote(os.path.relpath(tensorboard)))
    if not program.seeds:
        lines.append("note: %s sets no random seed, so its results vary from run to run; with one "
                     "(e.g. keras.utils.set_random_seed(0)) the best above is what you get again" % program.source)
    elif program.unseeded:
        lines.append("note: %s leaves %s's random numbers unseeded, which Keras 3 also draws from (initial "
                     "weights and dropout from Python's, fit()'s shuffling from TensorFlow's), so its results "
                     "vary from run to run; with keras.utils.set_random_seed(0), which seeds them all, the best "
                     "above is what you get again" % (program.source, " and ".join(program.unseeded)))
    print("\n".join(lines))
