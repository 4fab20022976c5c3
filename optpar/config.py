"""Project configuration: ``[optpar]`` in ``setup.cfg`` or ``[tool.optpar]`` in ``pyproject.toml``.

The configuration is found by walking up from the target file's folder to the filesystem
root; the **nearest file that has an optpar section** wins (files without one are passed
over, so a ``pyproject.toml`` that only configures black does not hide a ``setup.cfg`` with
``[optpar]`` further up). When one folder has both files with an optpar section,
**pyproject.toml wins** (as for mypy and isort) and setup.cfg's section is ignored.

Keys (``-`` and ``_`` are interchangeable: ``max-evals`` = ``max_evals``)::

    [tool.optpar]                      # [optpar] in setup.cfg
    metadata = ["extra_layers.csv"]    # extra metadata CSVs, relative to the config's folder
    include = ["dense*", "adam_*"]     # hyperparameter ids to keep (fnmatch); empty = all
    exclude = ["*_epochs"]             # hyperparameter ids to drop (applied after include)
    models = ["models/*.py"]           # model files the pre-commit hook keeps a tuning script for
    max-evals = 30                     # default search options (see SEARCH_KEYS)
    algo = "tpe"

In setup.cfg a list is written one item a line or comma-separated; numbers are plain text.
In pyproject.toml lists are TOML arrays (a single string is taken as a one-item list) and
numbers must be TOML numbers. Any unknown key or bad value is a :class:`ConfigError`
(``path:line:1: error: ...``, the line being that of the key).
"""

from __future__ import annotations

import configparser
import difflib
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any

from optpar.errors import UserError
from optpar.runtime.options import BY_NAME, CONFIG_KEYS, to_argv

__all__ = ["Config", "ConfigError", "SEARCH_KEYS", "load_config"]

LIST_KEYS = ("metadata", "include", "exclude", "models")

#: Search options a configuration may set, in the order the command line lists them.
SEARCH_KEYS = CONFIG_KEYS


class ConfigError(UserError):
    """A bad optpar configuration: unknown key, value of the wrong type or out of range."""


@dataclass(frozen=True)
class Config:
    """The optpar settings of one project (all empty when no config file was found)."""

    path: str | None
    metadata: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    search: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def folder(self) -> Path | None:
        """The folder of the config file (``models`` globs are relative to it)."""
        return Path(self.path).parent if self.path else None

    def wants(self, hp_id: str) -> bool:
        """Keep hyperparameter ``hp_id``? (matches an include pattern, if any, and no exclude)"""
        if self.include and not any(fnmatch.fnmatchcase(hp_id, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(hp_id, p) for p in self.exclude)

    def search_argv(self) -> list[str]:
        """The search options as command-line flags, e.g. ``["--max-evals", "30"]``."""
        return to_argv(dict(self.search))

    def model_paths(self) -> list[Path]:
        """Files matched by the ``models`` globs (resolved, sorted, files only)."""
        if not self.models or self.folder is None:
            return []
        found: set[Path] = set()
        for pattern in self.models:
            found.update(p.resolve() for p in self.folder.glob(pattern) if p.is_file())
        return sorted(found)

    def is_model(self, path: str | PathLike[str]) -> bool:
        """True when ``path`` is matched by one of the ``models`` globs."""
        return Path(path).resolve() in set(self.model_paths())


def load_config(start: str | PathLike[str]) -> Config:
    """The configuration for ``start`` (a file or a folder); ``Config(path=None)`` if none."""
    here = Path(start).resolve()
    folder = here if here.is_dir() else here.parent
    for candidate in (folder, *folder.parents):
        for name, reader in (("pyproject.toml", _read_pyproject), ("setup.cfg", _read_setup_cfg)):
            file = candidate / name
            try:
                text = file.read_text(encoding="utf-8")
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                continue
            except (OSError, UnicodeDecodeError) as exc:
                if "optpar" in _safe_read(file):
                    raise ConfigError(str(file), 1, 1, f"cannot read config: {exc}") from None
                continue
            if "optpar" not in text:  # cheap: skip parsing files that cannot configure us
                continue
            section = reader(str(file), text)
            if section is not None:
                return _build(str(file), text, section, name)
    return Config(path=None)


def _safe_read(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


# -- readers: file text -> {raw key: raw value} or None when there is no optpar section ---
def _read_pyproject(path: str, text: str) -> dict[str, Any] | None:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
        elif "(at end of document)" in msg:
            line, col = max(1, len(text.splitlines())), 1
        else:
            line, col = 1, 1
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg) or "invalid TOML"
        raise ConfigError(path, line, col, f"invalid TOML: {msg}") from None
    tool = data.get("tool")
    if not isinstance(tool, dict) or "optpar" not in tool:
        return None
    section = tool["optpar"]
    if not isinstance(section, dict):
        raise ConfigError(path, _toml_key_line(text, "optpar"), 1, "tool.optpar must be a table")
    return section


def _read_setup_cfg(path: str, text: str) -> dict[str, Any] | None:
    parser = configparser.RawConfigParser(strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep keys as written
    try:
        parser.read_string(text, source=path)
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else 1
        raise ConfigError(path, line, 1, "invalid setup.cfg syntax") from None
    except configparser.DuplicateOptionError as exc:
        message = f"duplicate key {exc.option!r} in [{exc.section}]"
        raise ConfigError(path, exc.lineno or 1, 1, message) from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(path, exc.lineno or 1, 1, f"duplicate section [{exc.section}]") from None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(path, exc.lineno, 1, "setup.cfg must start with a [section] header") from None
    except configparser.Error as exc:
        raise ConfigError(path, 1, 1, f"invalid setup.cfg: {exc.message}") from None
    if not parser.has_section("optpar"):
        return None
    return dict(parser.items("optpar"))


# -- line finding -----------------------------------------------------------------------------
def _cfg_key_line(text: str, key: str) -> int:
    in_section = False
    for number, line in enumerate(text.splitlines(), 1):
        header = re.match(r"\s*\[([^\]]*)\]", line)
        if header:
            in_section = header.group(1).strip() == "optpar"
            continue
        if in_section and re.match(rf"{re.escape(key)}\s*[=:]", line):
            return number
    return 1


def _toml_key_line(text: str, key: str) -> int:
    lines = text.splitlines()
    key_re = re.compile(rf"""\s*(?:tool\s*\.\s*optpar\s*\.\s*)?["']?{re.escape(key)}["']?\s*=""")
    in_section = False
    for number, line in enumerate(lines, 1):
        header = re.match(r"\s*\[\s*([^\]]*?)\s*\]", line)
        if header:
            in_section = re.sub(r"\s", "", header.group(1)).replace('"', "") == "tool.optpar"
            if key == "optpar" and header.group(1).replace(" ", "").startswith("tool.optpar"):
                return number
            continue
        if in_section and key_re.match(line):
            return number
    for number, line in enumerate(lines, 1):  # dotted keys or inline tables: any mention
        if re.search(rf"""(?<![\w-])["']?{re.escape(key)}["']?\s*=""", line):
            return number
    return 1


# -- validation -------------------------------------------------------------------------------
def _build(path: str, text: str, section: Mapping[str, Any], file_name: str) -> Config:
    toml = file_name == "pyproject.toml"
    where = "[tool.optpar]" if toml else "[optpar]"

    def fail(raw_key: str, message: str) -> ConfigError:
        line = _toml_key_line(text, raw_key) if toml else _cfg_key_line(text, raw_key)
        return ConfigError(path, line, 1, message)

    known = set(LIST_KEYS) | set(SEARCH_KEYS)
    seen: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}
    search: dict[str, object] = {}
    for raw_key, value in section.items():
        key = raw_key.replace("-", "_")
        if key not in known:
            spelled = sorted(k.replace("_", "-") for k in known)
            close = difflib.get_close_matches(raw_key.replace("_", "-"), spelled, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(spelled)})"
            raise fail(raw_key, f"unknown key {raw_key!r} in {where}{hint}")
        if key in seen:
            raise fail(raw_key, f"{raw_key!r} repeats {seen[key]!r}")
        seen[key] = raw_key
        if key in LIST_KEYS:
            items = _as_list(value, toml, lambda m, k=raw_key: fail(k, m), raw_key)
            lists[key] = _check_list(key, raw_key, items, path, lambda m, k=raw_key: fail(k, m))
        else:
            search[key] = _check_search(key, raw_key, value, toml, lambda m, k=raw_key: fail(k, m))
    return Config(
        path=path,
        metadata=lists.get("metadata", ()),
        include=lists.get("include", ()),
        exclude=lists.get("exclude", ()),
        models=lists.get("models", ()),
        search=MappingProxyType(search),
    )


def _as_list(value: Any, toml: bool, fail: Callable[[str], ConfigError], raw_key: str) -> list[str]:
    if isinstance(value, str):
        if toml:
            return [value.strip()] if value.strip() else []
        return [item.strip() for item in re.split(r"[,\n]", value) if item.strip()]
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise fail(f"{raw_key} must be a list of strings, got {item!r} in it")
        return [item.strip() for item in value]
    raise fail(f"{raw_key} must be a list of strings, got {type(value).__name__}")


def _check_list(
    key: str, raw_key: str, items: list[str], path: str, fail: Callable[[str], ConfigError]
) -> tuple[str, ...]:
    folder = Path(path).parent
    result: list[str] = []
    for item in items:
        if not item:
            raise fail(f"{raw_key} has an empty entry")
        if key != "metadata" and "[" in item and not re.search(r"\[[^\]]+\]", item):
            raise fail(f"{raw_key}: bad pattern {item!r} (unclosed '[')")
        if key == "metadata":
            csv = Path(item) if Path(item).is_absolute() else folder / item
            if not csv.is_file():
                raise fail(f"metadata file not found: {item} (looked for {csv})")
            result.append(str(csv))
            continue
        if key == "models":
            if Path(item).is_absolute():
                raise fail(f"models: pattern {item!r} must be relative to {folder}")
            for part in item.replace("\\", "/").split("/"):
                if "**" in part and part != "**":
                    raise fail(f"models: bad glob {item!r} ('**' must be a whole path component)")
        result.append(item)
    return tuple(result)


def _check_search(
    key: str, raw_key: str, value: Any, toml: bool, fail: Callable[[str], ConfigError]
) -> object:
    try:
        return BY_NAME[key].coerce(value, raw_key, typed=toml)
    except ValueError as exc:
        raise fail(str(exc)) from None
