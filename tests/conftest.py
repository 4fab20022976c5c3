"""Shared helpers for the optpar test-suite: fixture paths, a catalog, a CLI runner."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.py"))
# Fixtures that are not (runnable) Keras programs.
NOT_TUNABLE = {"no_keras.py", "keras1_idioms.py"}
TUNABLE_FIXTURES = [name for name in ALL_FIXTURES if name not in NOT_TUNABLE]


@pytest.fixture(scope="session")
def catalog():
    from optpar.metadata import load_catalog

    return load_catalog()


def analyze_text(text: str, path: str = "model.py", controls: bool = True):
    """Analyse `text` with the bundled catalog (and the `# optpar:` comments, as the CLI does)."""
    from optpar.config import Config
    from optpar.controls import apply_controls
    from optpar.match import analyze
    from optpar.metadata import load_catalog

    analysis = analyze(text, path, _catalog())
    if controls:
        analysis = apply_controls(analysis, Config(path=None))
    return analysis


_CATALOG = []


def _catalog():
    if not _CATALOG:
        from optpar.metadata import load_catalog

        _CATALOG.append(load_catalog())
    return _CATALOG[0]


def site_map(text: str, path: str = "model.py") -> dict:
    """{site id: Site} for `text`."""
    return {site.id: site for site in analyze_text(text, path).sites}


@pytest.fixture
def fixture_copy(tmp_path):
    """copy(name) -> path of a copy of fixtures/<name> in a fresh tmp folder."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copyfile(FIXTURES / name, dest)
        return dest

    return copy


@pytest.fixture
def run_cli(capsys):
    """run_cli(*argv) -> (exit code, stdout, stderr) of optpar.cli.main, in process."""
    from optpar.cli import main

    def run(*argv: str):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def run_optpar(*argv, cwd=None, timeout=120, env=None):
    """`python -m optpar ...` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "optpar", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)
