"""Command line: argument parsing and output only; the work is in pipeline, emit and apply."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Sequence

from optpar import __version__
from optpar.errors import UserError
from optpar.runtime.options import OPTIONS, add_options, to_argv

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "__pycache__", "node_modules", "site-packages",
             ".tox", ".nox", "build", "dist", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="optpar", description="Tune the literal hyperparameters of a Keras script.")
    parser.add_argument("--version", action="version", version=f"optpar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = sub.add_parser("scan", help="list the tunable hyperparameters of files or folders")
    scan.add_argument("paths", nargs="+", metavar="PATH")
    scan.add_argument("--format", choices=["table", "flake8", "json"], default="table")
    scan.add_argument("--metadata", action="append", default=[], metavar="CSV")

    refactor = sub.add_parser("refactor", help="write the tuning script <stem>_tune.py")
    refactor.add_argument("path", metavar="FILE")
    refactor.add_argument("-o", "--output", metavar="OUT")
    mode = refactor.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="show the rewrite of the model; write nothing")
    mode.add_argument("--check", action="store_true", help="exit 1 when OUT is missing or stale")
    refactor.add_argument("--metadata", action="append", default=[], metavar="CSV")
    refactor.add_argument("--standalone", action="store_true",
                          help="carry optpar's runtime inside the script, for machines without optpar")

    tune = sub.add_parser("tune", help="refactor, then run the search",
                          epilog='arguments after "--" are passed to your program (what its argparse reads)')
    tune.add_argument("path", metavar="FILE")
    tune.add_argument("--metadata", action="append", default=[], metavar="CSV")
    add_options(tune, defaults=False)  # None: the configuration file's value, else the script's default

    apply = sub.add_parser("apply", help="write the best values of a search back into FILE")
    apply.add_argument("path", metavar="FILE")
    apply.add_argument("best", metavar="BEST_JSON")
    how = apply.add_mutually_exclusive_group()
    how.add_argument("--diff", action="store_true", help="show the change (the default)")
    how.add_argument("--in-place", action="store_true", help="rewrite FILE")

    upgrade = sub.add_parser("upgrade", help="rewrite the Keras 1 and 2 forms Keras 3 rejects (lr=, nb_epoch=, metrics='acc', K.sum, ...) in FILE")
    upgrade.add_argument("path", metavar="FILE")
    how = upgrade.add_mutually_exclusive_group()
    how.add_argument("--diff", action="store_true", help="show the change (the default)")
    how.add_argument("--in-place", action="store_true", help="rewrite FILE")

    new = sub.add_parser("new", help="write a baseline Keras script for DATA (table, arrays or image folder)")
    new.add_argument("data", metavar="DATA", help=".csv, .parquet, .npz, x.npy + y.npy, or a folder of class folders")
    new.add_argument("--target", metavar="COLUMN", help="a table's label column (default: target, label, class or y)")
    new.add_argument("-o", "--output", metavar="OUT", help="the script to write (default: <DATA stem>_model.py)")
    new.add_argument("--epochs", type=_positive, metavar="N", help="the upper bound on epochs (default: by data type)")
    new.add_argument("--force", action="store_true", help="replace OUT when it exists")

    sync = sub.add_parser("sync", help="pre-commit: regenerate stale tuning scripts of model files")
    sync.add_argument("paths", nargs="*", metavar="FILE")
    sync.add_argument("--check", action="store_true", help="write nothing; exit 1 when one is stale")
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    program: list[str] = []
    if argv[:1] == ["tune"] and "--" in argv:  # optpar tune FILE [options] -- the program's own arguments
        cut = argv.index("--")
        argv, program = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    args.program_args = program
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except RecursionError:  # libcst and ast walk an expression of hundreds of terms by recursion
        where = getattr(args, "path", None) or " ".join(getattr(args, "paths", None) or ["optpar"])
        print(f"{where}:1:1: error: the program nests too deeply for optpar to read (an expression of "
              "hundreds of terms, or as many calls one inside another); split it into shorter statements",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optpar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


# -- scan ----------------------------------------------------------------------------------

def iter_files(paths: Sequence[str]) -> Iterator[Path]:
    from optpar.source import is_program

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for name in sorted(files):
                    if is_program(name):
                        yield Path(root) / name
        else:
            yield path


def cmd_scan(args) -> int:
    from optpar.config import load_config
    from optpar.imports import imports_keras
    from optpar.pipeline import analyze_source, catalog_for
    from optpar.source import is_generated, position_label, read_source

    findings: list[dict] = []
    errors = 0
    files = 0
    catalogs: dict = {}
    out = sys.stdout
    for path in iter_files(args.paths):
        if is_generated(path):
            continue
        try:
            source = read_source(path)
            files += 1
            if not imports_keras(source.text):  # no Keras: not even an ast
                continue
            config = load_config(path.parent)
            key = (config.path, tuple(args.metadata))
            if key not in catalogs:
                catalogs[key] = catalog_for(config, tuple(args.metadata))
            analysis = analyze_source(source, catalogs[key], config)
        except UserError as exc:
            print(str(exc), file=sys.stderr)
            errors += 1
            continue
        for site in analysis.sites:
            item = site.as_json()
            item["where"] = position_label(source, site.file, site.line, site.col)
            item["severity"] = "info"
            item["message"] = f"{site.id}: {site.use} -> {site.space.describe()}"
            findings.append(item)
        for diag in analysis.diagnostics:
            findings.append({"file": diag.file, "line": diag.line, "col": diag.col,
                             "where": position_label(source, diag.file, diag.line, diag.col),
                             "code": diag.code, "severity": "warning", "message": diag.message})
    if args.format == "json":
        for item in findings:
            item.pop("where", None) if not item["where"].startswith(item["file"] + ":cell") else None
        # Serialized whole before a byte is written: stdout gets one complete document (of every
        # file read without error; those errors went to stderr) or, on a crash, nothing.
        out.write(json.dumps(findings, indent=2, default=repr) + "\n")
    elif args.format == "flake8":
        for item in findings:
            out.write(f"{item['where']}: {item['code']} {item['message']}\n")
    else:
        _table(findings, files, out)
    return 2 if errors else 0


def _table(findings: list[dict], files: int, out) -> None:
    sites = [f for f in findings if f["severity"] == "info"]
    warnings = [f for f in findings if f["severity"] == "warning"]
    current = None
    for item in findings:
        if item["file"] != current:
            current = item["file"]
            out.write(f"{current}\n")
        where = item["where"][len(item["file"]) + 1:]
        if item["severity"] == "info":
            value = item["value"] if len(item["value"]) <= 14 else item["value"][:13] + "…"
            out.write(f"  {where:<9} {item['id']:<30} {value:<14} {item['describe']}\n")
        else:
            out.write(f"  {where:<9} {item['code']} {item['message']}\n")
    if not sites and not warnings:
        out.write("no hyperparameters found\n")
        return
    nfiles = len({f["file"] for f in sites})
    out.write(f"{len(sites)} hyperparameter{'s' * (len(sites) != 1)} in {nfiles} of {files} "
              f"file{'s' * (files != 1)}, {len(warnings)} warning{'s' * (len(warnings) != 1)}\n")


# -- refactor ------------------------------------------------------------------------------

def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def cmd_refactor(args) -> int:
    from optpar.pipeline import generate, write_atomic
    from optpar.source import position_label, read_source

    generated = generate(args.path, args.output, metadata=tuple(args.metadata), standalone=args.standalone)
    n = len(generated.analysis.sites)
    if args.diff:
        before = read_source(args.path).text
        sys.stdout.writelines(difflib.unified_diff(
            before.splitlines(keepends=True), generated.refactored.splitlines(keepends=True),
            f"a/{args.path}", f"b/{args.path}"))
        return 0
    if args.check:
        if _current(generated.out_path) != generated.text:
            state = "missing" if not generated.out_path.exists() else "stale"
            print(f"{generated.out_path} is {state} (run: optpar refactor {args.path})", file=sys.stderr)
            return 1
        return 0
    write_atomic(generated.out_path, generated.text)
    source = read_source(args.path) if generated.analysis.diagnostics else None
    for diag in generated.analysis.diagnostics:
        print(f"{position_label(source, diag.file, diag.line, diag.col)}: {diag.code} {diag.message}", file=sys.stderr)
    print(f"wrote {generated.out_path}: {n} hyperparameter{'s' * (n != 1)} "
          f"(search with: python {generated.out_path} --max-evals 20)")
    return 0


# -- new -----------------------------------------------------------------------------------

def cmd_new(args) -> int:
    from optpar.baseline import new
    from optpar.pipeline import write_atomic

    data = Path(args.data)
    out = Path(args.output) if args.output else Path(f"{data.stem if data.is_file() else data.resolve().name}_model.py")
    if out.exists() and not args.force:
        raise UserError(out, 1, 1, "exists; pass --force to replace it")
    command = " ".join(["optpar new", args.data] + (["--target", args.target] if args.target else [])
                       + ["-o", str(out)] + (["--epochs", str(args.epochs)] if args.epochs else []))
    text, recipe = new(data, out, args.target, args.epochs, command)
    for decision in recipe.decisions:
        print(decision)
    write_atomic(out, text)
    print(f"wrote {out} (train: python {out}; tune: optpar tune {out})")
    return 0


# -- tune ----------------------------------------------------------------------------------

def _search_argv(args, config) -> list[str]:
    """The search options for the script: the command line's, else the configuration's."""
    values = dict(config.search)
    values.update({option.name: getattr(args, option.name) for option in OPTIONS
                   if getattr(args, option.name) not in (None, False)})
    return to_argv(values)


def cmd_tune(args) -> int:
    from optpar.config import load_config
    from optpar.pipeline import generate, write_atomic

    path = Path(args.path)
    config = load_config(path.parent)
    generated = generate(path, config=config, metadata=tuple(args.metadata))
    if generated.analysis.required_arguments and not args.program_args:
        from optpar.source import position_label, read_source

        line, col, written = generated.analysis.required_arguments[0]
        print(f"{position_label(read_source(path), str(path), line, col)}: error: the program needs the command-line "
              f"argument {written} (argparse); pass its arguments after --: optpar tune {path} -- ...", file=sys.stderr)
        return 2
    write_atomic(generated.out_path, generated.text)
    argv = _search_argv(args, config)
    if args.out is None and "--out" not in argv:
        argv += ["--out", str(Path("optpar-runs") / path.stem)]
    print(f"wrote {generated.out_path}: {len(generated.analysis.sites)} hyperparameters; searching",
          file=sys.stderr)
    program = ["--", *args.program_args] if args.program_args else []
    return _run_search([sys.executable, str(generated.out_path), *argv, *program], dict(os.environ))


def _run_search(command: list[str], env: dict) -> int:
    """Run the tuning script and return its exit code. A Ctrl-C in a terminal
    reaches the script too (same process group), which finishes its bookkeeping
    and says how to resume, so optpar waits for it. A second Ctrl-C is passed
    on (in case only optpar got the first), a third kills the search."""
    proc = subprocess.Popen(command, env=env)
    interrupts = 0
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts == 2:
                proc.send_signal(signal.SIGINT)
            elif interrupts >= 3:
                proc.kill()


# -- apply ---------------------------------------------------------------------------------

def cmd_apply(args) -> int:
    from optpar.apply import applied_text, load_best, written
    from optpar.config import load_config
    from optpar.pipeline import analyze_source, catalog_for
    from optpar.source import read_source

    path = Path(args.path)
    config = load_config(path.parent)
    source = read_source(path)
    analysis = analyze_source(source, catalog_for(config), config)
    best, baseline = load_best(args.best)
    new_text, changes = applied_text(analysis, best, baseline, args.best)
    if not changes:
        print(f"{path}: already has the best values", file=sys.stderr)
        return 0
    if _write_or_diff(path, source, new_text, args.in_place):
        for site, value in changes:
            print(f"{path}:{site.line}:{site.col}: {site.id}: {site.value} -> {written(site, value)}")
    return 0


def _write_or_diff(path: Path, source, new_text: str, in_place: bool) -> bool:
    """`--in-place`: write `new_text` over FILE atomically (a notebook: into its cells); otherwise
    print the unified diff. True when it wrote."""
    from optpar.pipeline import write_atomic

    if in_place:
        write_atomic(path, new_text if source.notebook is None else source.notebook.with_text(new_text))
        return True
    sys.stdout.writelines(difflib.unified_diff(
        source.text.splitlines(keepends=True), new_text.splitlines(keepends=True), f"a/{path}", f"b/{path}"))
    return False


def cmd_upgrade(args) -> int:
    from optpar.config import load_config
    from optpar.pipeline import analyze_source, catalog_for
    from optpar.source import position_label, read_source
    from optpar.upgrade import renamed_text, shown_change

    path = Path(args.path)
    source = read_source(path)
    config = load_config(path.parent)
    new_text, done, left = renamed_text(analyze_source(source, catalog_for(config), config))
    for diag in left:
        print(f"{position_label(source, str(path), diag.line, diag.col)}: note: {diag.code} left as it is: "
              f"{diag.message}", file=sys.stderr)
    if not done:
        print(f"{path}: no Keras 1 or 2 form to rewrite", file=sys.stderr)
        return 0
    if not _write_or_diff(path, source, new_text, args.in_place):
        return 0
    for diag in done:
        old, new = shown_change(source.text, diag)
        print(f"{position_label(source, str(path), diag.line, diag.col)}: {diag.code} {old} -> {new}")
    return 0


def cmd_sync(args) -> int:
    from optpar.hooks import sync

    return sync(args.paths, check=args.check)


COMMANDS = {"scan": cmd_scan, "refactor": cmd_refactor, "tune": cmd_tune, "apply": cmd_apply,
            "upgrade": cmd_upgrade, "new": cmd_new, "sync": cmd_sync}
