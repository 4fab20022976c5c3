"""Where a program seeds its random number generators: calls of the functions that
`metadata/seeds.csv` lists (`keras.utils.set_random_seed`, `np.random.seed`, ...), resolved through
the file's imports. The generated script lists them, and a search says when there is none."""

from __future__ import annotations

import ast
import csv
import functools

from optpar.imports import ImportTable, canonical, dotted
from optpar.metadata import bundled_folder


@functools.lru_cache(maxsize=1)
def seed_functions() -> frozenset[str]:
    with (bundled_folder() / "seeds.csv").open(encoding="utf-8", newline="") as handle:
        return frozenset(row["Function"] for row in csv.DictReader(handle))


def seeding_calls(tree: ast.Module, path: str) -> tuple[str, ...]:
    """`model.py:12 keras.utils.set_random_seed(0)` for each seeding call, in source order."""
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
        if qualified is not None and (canonical(qualified) or qualified) in wanted:
            found.append((node.lineno, node.col_offset, f"{path}:{node.lineno} {ast.unparse(node)}"))
    return tuple(text for _, _, text in sorted(found))
