"""A configuration already tried is not trained again. A search over few values (every space of
choices and integers: a hyperopt proposal repeats an earlier one often, all the more once TPE
narrows in) would spend a whole training to learn what it knows, exactly so when the program is
seeded. So a proposal that repeats one of the search's trials (ok, failed or pruned alike) is drawn
again: by the search's own algorithm with other seeds, then at random; when no untried
configuration turns up, the space is taken as used up and the search stops, as KerasTuner's does.
"""

from __future__ import annotations

from dataclasses import dataclass

ALGO_TRIES = 10  # redraws by the search's algorithm (TPE may keep proposing its favourite)
RANDOM_TRIES = 100  # then random draws


@dataclass
class Repeats:
    """What the redrawing did, for the summary."""

    redrawn: int = 0  # proposals that repeated a trial and were drawn again
    used_up: int = 0  # the number of trials when no untried configuration turned up (0: never)


def key(vals: dict) -> tuple:
    """A configuration as hyperopt's trial documents hold it (`{"units": [2]}`), comparable."""
    return tuple(sorted((label, tuple(values)) for label, values in vals.items()))


def untried(suggest, random_suggest, repeats: Repeats):
    """`suggest` (a hyperopt algorithm), redrawing a proposal that repeats a trial of the search."""
    import numpy as np

    def wrapped(new_ids, domain, trials, seed):
        seen = {key(doc["misc"]["vals"]) for doc in trials.trials}
        rng = np.random.default_rng(seed)
        for attempt in range(ALGO_TRIES + RANDOM_TRIES):
            draw = suggest if attempt < ALGO_TRIES else random_suggest
            docs = draw(new_ids, domain, trials, seed if attempt == 0 else int(rng.integers(2 ** 31 - 1)))
            keys = [key(doc["misc"]["vals"]) for doc in docs]
            if not seen.intersection(keys) and len(set(keys)) == len(keys):
                repeats.redrawn += attempt > 0
                return docs
        repeats.used_up = len(seen)
        return []  # hyperopt's fmin stops on an empty proposal

    return wrapped
