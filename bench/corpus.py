"""Run optpar over a folder of real scripts: no crash, every tuning script compiles.

usage: python bench/corpus.py FOLDER
Prints files, hyperparameters found, tuning scripts written (each compiled), and the reasons the
other files were refused. Exit 1 on any crash (an exception that is not a one-line UserError).
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections import defaultdict
from pathlib import Path

from optpar.errors import UserError
from optpar.pipeline import analyze_path, generate


def main() -> int:
    folder = Path(sys.argv[1])
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".ipynb"))
    out = Path(tempfile.mkdtemp())
    sites = scripts = 0
    refused: dict[str, list[Path]] = defaultdict(list)
    crashes: list[tuple[Path, str]] = []
    for path in files:
        try:
            sites += len(analyze_path(path).sites)
            generated = generate(path, out=out / f"{path.stem}_tune.py")
            compile(generated.text, str(generated.out_path), "exec")
            scripts += 1
        except UserError as exc:
            refused[exc.message.split(":")[0][:70]].append(path)
        except Exception:  # noqa: BLE001 - a crash is what this counts
            crashes.append((path, traceback.format_exc(limit=4)))
    print(f"{len(files)} files, {sites} hyperparameters, {scripts} tuning scripts (all compile), "
          f"{len(crashes)} crashes")
    for reason, paths in sorted(refused.items(), key=lambda kv: -len(kv[1])):
        print(f"  refused {len(paths):3}: {reason}  (e.g. {paths[0]})")
    for path, trace in crashes:
        print(f"CRASH {path}\n{trace}")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
