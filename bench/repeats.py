"""How often a search proposes a configuration it already tried, on the search spaces optpar
writes for real scripts, with and without the runtime's redrawing (optpar/runtime/repeats.py).

    .venv/bin/python bench/repeats.py DIR [--evals 20] [--seeds 0 1 2]

DIR holds generated tuning scripts (`*_tune.py`, at any depth: `optpar refactor` over a corpus).
Only each script's `SPACE = {...}` block is read and evaluated (with hyperopt's `hp`, `scope` and
`math`); nothing of the user's program runs and nothing trains. Each space is searched as the
runtime does (TPE, a third of the trials as random start-up, the user's values as trial 1 are left
out) with a stand-in objective: a fixed pseudo-random loss per configuration, so TPE narrows in
as it does on a real one. Printed: for the spaces with no continuous dimension (where a repeat can
happen), the mean share of the trials that repeat an earlier one, and with the redrawing, how many
searches stopped because the space was used up.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
from pathlib import Path

import numpy as np
from hyperopt import Trials, fmin, hp, rand, tpe
from hyperopt.pyll import scope

from optpar.runtime.repeats import Repeats, key, untried

SPACE = re.compile(r"^SPACE = \{\n.*?^\}\n", re.S | re.M)
CONTINUOUS = ("hp.uniform", "hp.loguniform", "hp.normal", "hp.lognormal")


def spaces(folder: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(folder.rglob("*_tune.py")):
        match = SPACE.search(path.read_text(encoding="utf-8"))
        if match is None or any(name in match.group(0) for name in CONTINUOUS):
            continue
        names = {"hp": hp, "scope": scope, "math": math}
        exec(match.group(0), names)  # noqa: S102 - optpar's own generated text, a dict of hp calls
        found[str(path.relative_to(folder))] = names["SPACE"]
    return found


def loss(point: dict) -> float:
    text = repr(sorted(point.items())).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big") / 2 ** 32


def run(space: dict, evals: int, seed: int, redraw: bool) -> tuple[int, int, bool]:
    """(trials run, trials that repeat an earlier one, whether the space was used up)."""
    def suggest(new_ids, domain, trials, s):
        return tpe.suggest(new_ids, domain, trials, s, n_startup_jobs=max(3, min(20, evals // 3)))

    repeats = Repeats()
    algo = untried(suggest, rand.suggest, repeats) if redraw else suggest
    trials = Trials()
    fmin(loss, space, algo=algo, max_evals=evals, trials=trials, rstate=np.random.default_rng(seed),
         show_progressbar=False)
    keys = [key(t["misc"]["vals"]) for t in trials.trials]
    return len(keys), len(keys) - len(set(keys)), bool(repeats.used_up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--evals", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    found = spaces(args.folder)
    plain = [run(space, args.evals, seed, False) for space in found.values() for seed in args.seeds]
    redrawn = [run(space, args.evals, seed, True) for space in found.values() for seed in args.seeds]
    searches = len(plain)
    with_repeats = sum(1 for _, r, _ in plain if r)
    share = sum(r / n for n, r, _ in plain) / searches
    print(f"{len(found)} spaces with no continuous dimension, {len(args.seeds)} seeds, {args.evals} trials each")
    print(f"TPE as it is: {with_repeats} of {searches} searches repeat a configuration; a search spends "
          f"{share:.1%} of its trials on repeats on average ({sum(r for _, r, _ in plain)} of "
          f"{sum(n for n, _, _ in plain)} trials)")
    print(f"with the redrawing: {sum(r for _, r, _ in redrawn)} repeats; {sum(u for *_, u in redrawn)} "
          f"searches stopped early, the space used up (trials run: {sum(n for n, _, _ in redrawn)})")


if __name__ == "__main__":
    main()
