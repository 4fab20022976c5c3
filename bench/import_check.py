"""Which heavy modules do `optpar scan` and `optpar refactor` import? (none of them should)

usage: python bench/import_check.py FILE
Runs both commands under `python -X importtime` and lists any tensorflow, keras or hyperopt import.
`scan` rewrites nothing, so it must not import the rewriter (libcst) either.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("tensorflow", "keras", "hyperopt", "torch", "jax")
REWRITER = ("libcst",)


def heavy_imports(argv: list[str], forbidden: tuple[str, ...] = HEAVY) -> tuple[list[str], float]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "optpar", *argv],
                          capture_output=True, text=True)
    found, total = [], 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:"):].split("|")]
        if not parts[0].isdigit():
            continue
        name = parts[2]
        if name.split(".")[0] in forbidden:
            found.append(name)
        if not line.split("|")[2].startswith("  "):
            total += int(parts[1])
    return found, total / 1e6


def main() -> int:
    target = sys.argv[1]
    out = Path(tempfile.mkdtemp()) / "x_tune.py"
    bad = 0
    for argv, forbidden in ((["scan", target], HEAVY + REWRITER),
                            (["refactor", target, "-o", str(out)], HEAVY)):
        found, seconds = heavy_imports(argv, forbidden)
        print(f"optpar {argv[0]}: imports {seconds:.3f} s in all; "
              f"{', '.join(forbidden)}: {found or 'none'}")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
