"""Which heavy modules do `optpar scan` and `optpar refactor` import? (none of them should)

usage: python bench/import_check.py FILE
Runs both commands under `python -X importtime` and lists any tensorflow, keras or hyperopt import.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HEAVY = ("tensorflow", "keras", "hyperopt", "torch", "jax")


def heavy_imports(argv: list[str]) -> tuple[list[str], float]:
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
        if name.split(".")[0] in HEAVY:
            found.append(name)
        if not line.split("|")[2].startswith("  "):
            total += int(parts[1])
    return found, total / 1e6


def main() -> int:
    target = sys.argv[1]
    out = Path(tempfile.mkdtemp()) / "x_tune.py"
    bad = 0
    for argv in (["scan", target], ["refactor", target, "-o", str(out)]):
        found, seconds = heavy_imports(argv)
        print(f"optpar {argv[0]}: imports {seconds:.3f} s in all; heavy modules: {found or 'none'}")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
