"""What a non-editable install (a wheel) carries: every package under optpar/ and the files it
reads with importlib.resources (the script templates). setup.cfg lists both by hand."""
from __future__ import annotations

import configparser
import fnmatch

from conftest import ROOT


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config


def test_every_package_is_listed():
    listed = set(_setup_cfg()["options"]["packages"].split())
    found = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "optpar").rglob("__init__.py")}
    assert found <= listed, f"add to [options] packages in setup.cfg: {sorted(found - listed)}"


def test_the_templates_are_package_data():
    patterns = _setup_cfg()["options.package_data"]["optpar"].replace(",", " ").split()
    templates = [p.relative_to(ROOT / "optpar").as_posix() for p in (ROOT / "optpar" / "templates").iterdir()]
    assert templates and all(any(fnmatch.fnmatch(t, pattern) for pattern in patterns) for t in templates)
