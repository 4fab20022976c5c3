"""The whole generated tuning script of every tunable fixture, against a reviewed copy in
fixtures/expected/<stem>_tune.py: a change to the output is a diff in review, not a surprise.

Generated from inside the fixture's folder with a relative path, as `optpar refactor model.py`
is run, so nothing in the files depends on the machine. Left out: the NOT_TUNABLE fixtures
(no_keras.py has nothing to tune and raises UserError; keras1_idioms.py is not a runnable program).

To accept a change on purpose: OPTPAR_UPDATE_GOLDEN=1 pytest tests/test_golden.py, then review
`git diff fixtures/expected`.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import FIXTURES, TUNABLE_FIXTURES, model_path

EXPECTED = FIXTURES / "expected"
UPDATE = os.environ.get("OPTPAR_UPDATE_GOLDEN") == "1"


def golden_path(name: str) -> Path:
    return EXPECTED / f"{Path(name).stem}_tune.py"


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_the_generated_script_is_the_reviewed_one(name, monkeypatch):
    from optpar.pipeline import generate

    path = model_path(name)
    monkeypatch.chdir(path.parent)
    text = generate(path.name).text
    expected = golden_path(name)
    if UPDATE:
        EXPECTED.mkdir(exist_ok=True)
        expected.write_text(text, encoding="utf-8", newline="")
        return
    assert expected.is_file(), (f"no {expected.relative_to(FIXTURES.parent)}: "
                                "write it with OPTPAR_UPDATE_GOLDEN=1 pytest tests/test_golden.py")
    with expected.open(encoding="utf-8", newline="") as handle:
        reviewed = handle.read()
    assert text == reviewed, (
        f"the script generated from {name} differs from {expected.relative_to(FIXTURES.parent)}; "
        "if the change is intended, run OPTPAR_UPDATE_GOLDEN=1 pytest tests/test_golden.py "
        "and review `git diff fixtures/expected`")


def test_every_golden_file_has_its_fixture():
    stale = {p.name for p in EXPECTED.glob("*_tune.py")} - {golden_path(n).name for n in TUNABLE_FIXTURES}
    assert not stale, f"golden files without a tunable fixture (delete them): {sorted(stale)}"
