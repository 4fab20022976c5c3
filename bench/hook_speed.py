"""How long does the pre-commit hook take over a folder of real scripts?

usage: python bench/hook_speed.py FOLDER

Copies FOLDER to a temporary place, gives every Keras script there a tuning script (so the hook
has real work: it regenerates and compares each one), then times `optpar sync --check` over all
files, as pre-commit would pass them. Files that import no Keras are skipped before any parse.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    src = Path(sys.argv[1])
    work = Path(tempfile.mkdtemp()) / "repo"
    shutil.copytree(src, work)
    files = sorted(str(p) for p in work.rglob("*") if p.suffix in (".py", ".ipynb"))
    models = 0
    for f in files:
        done = subprocess.run([sys.executable, "-m", "optpar", "refactor", f],
                              capture_output=True, text=True)
        models += done.returncode == 0
    files = sorted(str(p) for p in work.rglob("*") if p.suffix in (".py", ".ipynb"))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "optpar", "sync", "--check", *files],
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(f"{len(files)} files ({models} models with a tuning script): "
          f"optpar sync --check {wall:.2f} s wall, exit {done.returncode}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
