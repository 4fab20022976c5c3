"""How fast is `optpar scan` next to the libcst parse of the same files?

usage: python bench/scan_speed.py FOLDER [--one FILE]

Prints, for every .py file under FOLDER: the time libcst alone takes to parse them all, the time
`optpar scan` takes for the same files in one process (reading, matching, formatting), and the ratio
(target: at most 1.5). With --one, the wall time of a whole `optpar scan FILE` command (interpreter
start-up and imports included; target under 1 s).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--one", help="a single file to time as a whole command")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import libcst

    from optpar.cli import main as optpar_main

    files = sorted(p for p in Path(args.folder).rglob("*.py"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    lines = sum(t.count("\n") for t in texts)

    def parse_all() -> None:
        for text in texts:
            libcst.parse_module(text)

    def scan_all() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            optpar_main(["scan", "--format", "json", *map(str, files)])

    scan_all()  # warm the metadata cache and imports, as a long-lived process would be
    parse = best_of(args.repeat, parse_all)
    scan = best_of(args.repeat, scan_all)
    print(f"{len(files)} files, {lines} lines")
    print(f"libcst.parse_module: {parse:.3f} s")
    print(f"optpar scan:         {scan:.3f} s  ({scan / parse:.2f}x the libcst parse; target <= 1.5x)")

    if args.one:
        cmd = [sys.executable, "-m", "optpar", "scan", args.one]
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(cmd, check=False, capture_output=True)
            walls.append(time.perf_counter() - start)
        n = Path(args.one).read_text(encoding="utf-8").count("\n")
        print(f"optpar scan {args.one} ({n} lines): {min(walls):.3f} s wall "
              f"(median {statistics.median(walls):.3f} s; target < 1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
