"""Where a program seeds its random number generators: calls of the functions that
`metadata/seeds.csv` lists (`keras.utils.set_random_seed`, `np.random.seed`, ...), resolved through
the file's imports. The generated script lists them, and a search says when there is none."""

from __future__ import annotations

import ast
import csv
import functools
import re

from optpar.imports import ImportTable, canonical, dotted
from optpar.metadata import bundled_folder


# What a Keras 3 training draws from (checked: two runs of one seeded program): Python's random
# module gives the seeds of initial weights and dropout; TensorFlow's, as the backend, fit()'s
# shuffling. Seeding only some of them (`tf.random.set_seed(0)`, common in TensorFlow 2
# tutorials) leaves the results varying from run to run.
DRAWN_FROM = ("Python", "TensorFlow")


@functools.lru_cache(maxsize=1)
def seed_functions() -> dict[str, frozenset[str]]:
    """Each seeding function, with the generators it seeds (the Seeds column: "Python, NumPy")."""
    with (bundled_folder() / "seeds.csv").open(encoding="utf-8", newline="") as handle:
        return {row["Function"]: frozenset(part.strip() for part in re.split(r",| and ", row["Seeds"]))
                for row in csv.DictReader(handle)}


def _seeding(tree: ast.Module) -> list[tuple[ast.Call, str]]:
    """The seeding calls, in source order, each with the function it resolves to."""
    table = ImportTable()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            table.add(node)
    wanted = seed_functions()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        text = dotted(node.func)
        qualified = table.qualify(text) if text else None
        function = None if qualified is None else canonical(qualified) or qualified
        if function in wanted:
            found.append((node, function))
    return sorted(found, key=lambda pair: (pair[0].lineno, pair[0].col_offset))


def seeding_calls(tree: ast.Module, path: str) -> tuple[str, ...]:
    """`model.py:12 keras.utils.set_random_seed(0)` for each seeding call, in source order."""
    return tuple(f"{path}:{node.lineno} {ast.unparse(node)}" for node, _ in _seeding(tree))


def unseeded(tree: ast.Module) -> tuple[str, ...]:
    """What a Keras training draws from (DRAWN_FROM) that the program's seeding calls leave
    unseeded; () when it has none (a search says so already) or they seed all of it."""
    seeded = set().union(*(seed_functions()[function] for _, function in _seeding(tree)))
    return tuple(g for g in DRAWN_FROM if g not in seeded) if seeded else ()
