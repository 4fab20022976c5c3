"""The metadata table: which Keras arguments are hyperparameters, and how to search them.

The knowledge lives in CSV files (``metadata/keras.csv``, ``metadata/keras1.csv``,
``metadata/keras2.csv`` and ``metadata/roles.csv``, read by :mod:`optpar.roles`; shipped as package data); this module reads
them once, validates every cell and returns an immutable :class:`Catalog`.  Every problem is
reported as a :class:`MetadataError`, a :class:`~optpar.errors.UserError` whose text is
``path:line:col: error: message`` (line = CSV line, col = 1-based column).

The CSV is data, never code: the ``Set`` column is parsed with :func:`ast.literal_eval`.
This module imports neither tensorflow, keras nor hyperopt.
"""

from __future__ import annotations

import ast
import functools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from optpar.csvrows import IDENT, Cells, Key, MetadataError, check_header, key_of, read_table
from optpar.roles import Roles, read_roles

__all__ = [
    "HPTYPES",
    "BASES",
    "TYPES",
    "METADATA_COLUMNS",
    "KERAS1_COLUMNS",
    "Row",
    "Keras1Rule",
    "Moved",
    "Catalog",
    "MetadataError",
    "key_of",
    "read_metadata",
    "read_keras1",
    "read_keras2",
    "load_catalog",
    "bundled_paths",
]

HPTYPES = ("choice", "uniform", "loguniform", "quniform", "pow2")
#: Only meaningful in an extra (override) CSV: removes the bundled row with the same key.
OFF = "off"
BASES = ("rel", "abs", "add")
TYPES = ("int", "float", "str", "bool")

METADATA_COLUMNS = (
    "Layer", "ParamName", "Hptype", "TupleSize", "ParamOrder", "Base",
    "Type", "Min", "Max", "Int", "Set", "Step",
)
METADATA_REQUIRED = ("Layer", "ParamName", "Hptype", "Type")
KERAS1_COLUMNS = ("Code", "Layer", "Old", "New", "Message")
KERAS2_COLUMNS = ("Old", "New")
# keras2.csv: what an old name's first part is (the form optpar rewrites) -> the new name's
MOVED_FORMS = MappingProxyType({"backend": "ops", "history": "history", "module": "module", "method": "method",
                                "legacy": "tensorflow", "metric": "metric", "padding": "padding",
                                "optimizer": "optimizer", "metric_object": "metric_object", "variable": "variable",
                                "tf_op": "ops", "layer_method": "layer_method", "layer": "layer"})

_CODE = re.compile(r"OPT\d{3}\Z")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Row:
    """One tunable parameter of one Keras callable."""

    layer: str          # "layers.Dense", "optimizers.schedules.ExponentialDecay", "Model.fit"
    param: str          # keyword name in Keras 3
    hptype: str         # one of HPTYPES
    tuple_size: int     # 0 scalar, n: may be written as an n-tuple
    order: int | None   # positional index (without self); None: keyword only
    base: str           # "rel" | "abs" | "add" (choice: the Set holds offsets)
    type: str           # one of TYPES
    min: float | None
    max: float | None
    int: bool
    choices: tuple
    step: float | None
    source: str = ""    # "path:line" of the CSV row

    @property
    def key(self) -> Key:
        return key_of(self.layer)


@dataclass(frozen=True)
class Keras1Rule:
    """An argument name of Keras 1 or 2 that Keras 3 rejects or misreads, and its modern name
    (none: the argument is removed, `fit(workers=4)`)."""

    code: str       # "OPT202"
    layer: str      # "layers.Dense", or a pattern "optimizers.*", "layers.*", "*"
    old: str
    new: str        # "" when Keras 3 has no such argument and `upgrade` removes it
    message: str
    source: str = ""

    @property
    def is_pattern(self) -> bool:
        return self.layer == "*" or self.layer.endswith(".*")

    def applies_to(self, key: Key) -> bool:
        if self.layer == "*":
            return True
        if self.layer.endswith(".*"):
            return key_of(self.layer[:-2] + ".X")[0] == key[0]
        return key_of(self.layer) == key


@dataclass(frozen=True)
class Moved:
    """A Keras 2 name Keras 3 dropped, and where the same meaning is now (keras2.csv): a backend
    function (`backend.pow` -> `ops.power`), a key of a fit's history (`history.lr`), or a module
    whose names Keras 3 holds in another (`module.layers.core` -> `module.layers`), or a model
    method Keras 3 renamed (`method.fit_generator` -> `method.fit`), or a name of a Keras 2 module
    that Keras 3 keeps only in TensorFlow's Keras (`legacy.preprocessing.image.ImageDataGenerator`
    -> `tensorflow.keras.preprocessing.image.ImageDataGenerator`), or two names of one metric that
    Keras 2 logged under one of them and Keras 3 logs as compiled (`metric.acc` -> `metric.accuracy`),
    or a layer's `padding=` that Keras 2 read in any case and Keras 3 only in lower case
    (`padding.SAME` -> `padding.same`)."""

    form: str       # "backend", "history", "module", "method", "legacy", "metric" or "padding": Old's first part
    old: str        # "pow", "lr"
    new: str        # "power", "learning_rate"
    source: str = ""


_EMPTY: Mapping[str, Row] = MappingProxyType({})


@dataclass(frozen=True, eq=False)
class Catalog:
    """All metadata rows, keyed by ``key_of(layer)`` then parameter name."""

    table: Mapping[Key, Mapping[str, Row]] = field(default_factory=dict)
    keras1: tuple[Keras1Rule, ...] = ()
    roles: Roles = field(default_factory=Roles)  # Keras policy: roles.csv
    keras2: tuple[Moved, ...] = ()  # keras2.csv

    def moved(self, form: str) -> Mapping[str, str]:
        """Old name -> new name of one form of keras2.csv (`"backend"`: `{"pow": "power", ...}`)."""
        return {m.old: m.new for m in self.keras2 if m.form == form}

    def params(self, key: Key | str) -> Mapping[str, Row]:
        """Tunable parameters of a callable (empty mapping when it is unknown)."""
        return self.table.get(_as_key(key), _EMPTY)

    def row(self, key: Key | str, param: str) -> Row | None:
        return self.params(key).get(param)

    def knows(self, key: Key | str) -> bool:
        return _as_key(key) in self.table

    def positional(self, key: Key | str) -> tuple[Row | None, ...]:
        """``result[i]`` is the row bound by the i-th positional argument (None: not tuned).

        The tuple is as long as the highest tuned position + 1; positions past its end are
        not tuned either.
        """
        rows = [r for r in self.params(key).values() if r.order is not None]
        if not rows:
            return ()
        out: list[Row | None] = [None] * (max(r.order for r in rows) + 1)  # type: ignore[type-var]
        for r in rows:
            out[r.order] = r  # type: ignore[index]
        return tuple(out)

    def keras1_rules(self, key: Key | str) -> tuple[Keras1Rule, ...]:
        """Rules that apply to a callable; a rule naming the layer itself beats a pattern."""
        k = _as_key(key)
        chosen: dict[str, Keras1Rule] = {}
        for rule in self.keras1:
            if not rule.applies_to(k):
                continue
            prev = chosen.get(rule.old)
            if prev is None or (prev.is_pattern and not rule.is_pattern):
                chosen[rule.old] = rule
        return tuple(chosen.values())

    def __len__(self) -> int:
        return sum(len(p) for p in self.table.values())


def _as_key(key: Key | str) -> Key:
    return key_of(key) if isinstance(key, str) else key


# --------------------------------------------------------------------------- reading


def _type_ok(value: object, type_: str) -> bool:
    if type_ == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if type_ == "int":
        return isinstance(value, int)
    if type_ == "float":
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, str)


def _parse_set(c: Cells, type_: str) -> tuple:
    text = c.get("Set")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise c.error("Set", f"Set must be a Python list literal, not {text!r}") from None
    if not isinstance(value, list):
        raise c.error("Set", f"Set must be a Python list literal, not {text!r}")
    if not value:
        raise c.error("Set", "Set is empty")
    for item in value:
        if not _type_ok(item, type_):
            raise c.error("Set", f"Set element {item!r} is not of Type {type_}")
    if len(set(map(repr, value))) != len(value):
        raise c.error("Set", "Set has duplicate elements")
    return tuple(value)


def _parse_row(c: Cells) -> Row | None:
    layer = c.get("Layer")
    try:
        key_of(layer)
    except ValueError:
        raise c.error("Layer", f"Layer must be a dotted Keras path like 'layers.Dense', not {layer!r}") from None
    param = c.get("ParamName")
    if not IDENT.match(param):
        raise c.error("ParamName", f"ParamName must be a Python identifier, not {param!r}")
    hptype = c.one_of("Hptype", HPTYPES + (OFF,))
    type_ = c.one_of("Type", TYPES)
    tuple_size = c.natural("TupleSize", 0)
    order = c.natural("ParamOrder", None)
    base = c.one_of("Base", BASES, default="abs")
    int_text = c.get("Int")
    if int_text not in ("", "0", "1"):
        raise c.error("Int", f"Int must be 0 or 1, not {int_text!r}")
    integer = int_text == "1" if int_text else (type_ == "int")
    lo, hi, step = c.number("Min"), c.number("Max"), c.number("Step")
    source = f"{c.shown}:{c.line}"
    if hptype == OFF:
        return Row(layer, param, OFF, tuple_size or 0, order, base, type_, None, None, integer, (), None, source)

    if integer and type_ != "int":
        raise c.error("Int", f"Int 1 needs Type int, not {type_}")
    if c.get("Set") and hptype != "choice":
        raise c.error("Set", f"Set is only used by choice rows, not {hptype}")
    if step is not None and hptype != "quniform":
        raise c.error("Step", f"Step is only used by quniform rows, not {hptype}")

    choices: tuple = ()
    if hptype == "choice":
        if not c.get("Set"):
            raise c.error("Set" if "Set" in c.index else "Hptype", "choice needs a Set")
        if base == "add":
            # The Set holds offsets from the user's value; Min/Max clip the result.
            if type_ not in ("int", "float"):
                raise c.error("Base", f"Base add needs Type int or float, not {type_}")
            if lo is not None and hi is not None and lo > hi:
                raise c.error("Min", f"Min {lo:g} is greater than Max {hi:g}")
        else:
            for name in ("Min", "Max"):
                if c.get(name):
                    raise c.error(name, f"{name} is not used by choice rows (the Set lists the values)")
        choices = _parse_set(c, type_)
    else:
        if type_ in ("str", "bool"):
            raise c.error("Type", f"Type {type_} needs Hptype choice, not {hptype}")
        if base == "add":
            raise c.error("Base", f"Base add is only used by choice rows, not {hptype}")
        for name, v in (("Min", lo), ("Max", hi)):
            if v is None:
                raise c.error(name if name in c.index else "Hptype", f"{hptype} needs {name}")
        assert lo is not None and hi is not None
        if lo > hi:
            raise c.error("Min", f"Min {lo:g} is greater than Max {hi:g}")
        if type_ == "int" and not integer:
            raise c.error("Int", f"Type int with Hptype {hptype} needs Int 1")
        if hptype == "loguniform":
            if integer:
                raise c.error("Int", "loguniform cannot be Int; use pow2 or quniform")
            if lo <= 0:
                what = "multiplier" if base == "rel" else "bound"
                raise c.error("Min", f"loguniform needs Min > 0 (a {what} of {lo:g} has no logarithm)")
        if hptype == "pow2":
            if not integer:
                raise c.error("Int", "pow2 needs Type int and Int 1")
            if lo <= 0:
                raise c.error("Min", f"pow2 needs Min > 0, not {lo:g}")
            if base == "abs" and hi < 1:
                raise c.error("Max", f"pow2 with abs base needs Max >= 1, not {hi:g}")
        if base == "rel" and lo < 0:
            raise c.error("Min", f"rel base needs Min >= 0 (a multiplier), not {lo:g}")
        if hptype == "quniform":
            if step is None:
                if not integer:
                    raise c.error("Step" if "Step" in c.index else "Hptype", "quniform needs a Step")
                step = 1.0
            if step <= 0:
                raise c.error("Step", f"Step must be > 0, not {step:g}")
            if integer and step != int(step):
                raise c.error("Step", f"an Int row needs an integer Step, not {step:g}")
    return Row(layer, param, hptype, tuple_size or 0, order, base, type_,
               lo, hi, integer, choices, step, source)


def read_metadata(path: str | os.PathLike) -> list[Row]:
    """Read and validate one metadata CSV (rows in file order; ``off`` rows included)."""
    shown, header_line, header, raw = read_table(path)
    index = check_header(shown, header_line, header, METADATA_COLUMNS, METADATA_REQUIRED)
    rows: list[Row] = []
    seen: dict[tuple[Key, str], int] = {}
    orders: dict[tuple[Key, int], str] = {}
    for line, cells in raw:
        c = Cells(shown, line, cells, index)
        row = _parse_row(c)
        if row is None:
            continue
        ident = (row.key, row.param)
        if ident in seen:
            raise c.error("ParamName", f"duplicate row for {row.layer} {row.param} (first at line {seen[ident]})")
        seen[ident] = line
        if row.order is not None and row.hptype != OFF:
            slot = (row.key, row.order)
            if slot in orders:
                raise c.error("ParamOrder", f"ParamOrder {row.order} of {row.layer} is already used by {orders[slot]!r}")
            orders[slot] = row.param
        rows.append(row)
    return rows


def read_keras1(path: str | os.PathLike) -> list[Keras1Rule]:
    """Read and validate one Keras-1 rename CSV."""
    shown, header_line, header, raw = read_table(path)
    index = check_header(shown, header_line, header, KERAS1_COLUMNS, KERAS1_COLUMNS)
    rules: list[Keras1Rule] = []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in raw:
        c = Cells(shown, line, cells, index)
        code, layer, old, new, message = (c.get(n) for n in KERAS1_COLUMNS)
        if not _CODE.match(code):
            raise c.error("Code", f"Code must look like OPT202, not {code!r}")
        pattern_ok = layer == "*" or (layer.endswith(".*") and IDENT.match(layer[:-2].split(".")[-1] or ""))
        if not pattern_ok:
            try:
                key_of(layer)
            except ValueError:
                raise c.error("Layer", f"Layer must be a dotted path or a pattern like 'layers.*', not {layer!r}") from None
        for name, value in (("Old", old), ("New", new)):
            if not IDENT.match(value) and not (name == "New" and value == ""):  # no New: removed
                raise c.error(name, f"{name} must be a Python identifier, not {value!r}")
        if not message:
            raise c.error("Message", "Message is empty")
        ident = (layer, old)
        if ident in seen:
            raise c.error("Old", f"duplicate rule for {layer} {old} (first at line {seen[ident]})")
        seen[ident] = line
        rules.append(Keras1Rule(code, layer, old, new, message, f"{shown}:{line}"))
    return rules


def read_keras2(path: str | os.PathLike) -> list[Moved]:
    """Read and validate the table of Keras 2 names Keras 3 moved: `Old,New`, each a dotted
    `form.name` (`backend.sum,ops.sum`, `history.lr,history.learning_rate`)."""
    shown, header_line, header, raw = read_table(path)
    index = check_header(shown, header_line, header, KERAS2_COLUMNS, KERAS2_COLUMNS)
    moved: list[Moved] = []
    seen: dict[tuple[str, str], int] = {}
    for line, cells in raw:
        c = Cells(shown, line, cells, index)
        old_form, _, old = c.get("Old").partition(".")
        if old_form not in MOVED_FORMS or not _moved_name(old_form, old):
            forms = " or ".join(f"'{form}.name'" for form in MOVED_FORMS)
            raise c.error("Old", f"Old must be {forms}, not {c.get('Old')!r}")
        new_form, _, new = c.get("New").partition(".")
        if new_form != MOVED_FORMS[old_form] or not _moved_name(old_form, new):
            raise c.error("New", f"New of a {old_form} name must be '{MOVED_FORMS[old_form]}.name', not {c.get('New')!r}")
        if (old_form, old) in seen:
            raise c.error("Old", f"duplicate row for {c.get('Old')} (first at line {seen[old_form, old]})")
        seen[old_form, old] = line
        moved.append(Moved(old_form, old, new, f"{shown}:{line}"))
    return moved


def _moved_name(form: str, name: str) -> bool:
    """A name of keras2.csv: an identifier, or for a module or a legacy name its dotted path."""
    dotted_forms = ("module", "legacy", "tensorflow", "tf_op")
    return all(IDENT.match(part) for part in name.split(".")) if form in dotted_forms else bool(IDENT.match(name))


def _kind_of_file(path: str | os.PathLike) -> str:
    """"keras1", "roles" or "metadata", by the header of the file."""
    _, _, header, _ = read_table(path)
    if "Code" in header or "Old" in header:
        return "keras1"
    return "roles" if "Role" in header else "metadata"


# --------------------------------------------------------------------------- catalog


def bundled_paths() -> tuple[Path, Path]:
    """Paths of the bundled ``keras.csv`` and ``keras1.csv``."""
    folder = bundled_folder()
    return folder / "keras.csv", folder / "keras1.csv"


def bundled_folder() -> Path:
    """The folder of the bundled tables (metadata/ in a checkout, optpar/tables installed)."""
    candidates = []
    try:
        # installed wheel: setup.cfg ships the folder metadata/ as the data package optpar.tables
        candidates.append(Path(str(resources.files("optpar") / "tables")))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        pass
    here = Path(__file__).resolve().parent
    candidates += [here / "tables", here.parent / "metadata"]  # source checkout / editable
    for folder in candidates:
        if (folder / "keras.csv").is_file():
            return folder
    return candidates[-1]


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[tuple[Row, ...], tuple[Keras1Rule, ...], Roles, tuple[Moved, ...]]:
    table_path, keras1_path = bundled_paths()
    rows = tuple(r for r in read_metadata(table_path) if r.hptype != OFF)
    roles = Roles.of(read_roles(bundled_folder() / "roles.csv"))
    keras2 = tuple(read_keras2(bundled_folder() / "keras2.csv"))
    return rows, tuple(read_keras1(keras1_path)), roles, keras2


def _merge(rows: dict[tuple[Key, str], Row], new: Sequence[Row], shown: str) -> None:
    for r in new:
        ident = (r.key, r.param)
        if r.hptype == OFF:
            rows.pop(ident, None)
        else:
            rows.pop(ident, None)   # re-insert so an override keeps file order of the override
            rows[ident] = r
    # ParamOrder must stay unambiguous after merging
    slots: dict[tuple[Key, int], Row] = {}
    for r in rows.values():
        if r.order is None:
            continue
        other = slots.setdefault((r.key, r.order), r)
        if other is not r:
            culprit = r if r.source.startswith(shown + ":") else other
            line = int(culprit.source.rsplit(":", 1)[1])
            raise MetadataError(shown, line, METADATA_COLUMNS.index("ParamOrder") + 1,
                                f"ParamOrder {r.order} of {r.layer} is used by both {other.param!r} and {r.param!r}")


def _class_path(roles: Roles, layer: str) -> str:
    """A row's Layer with an alias (`layers.MaxPool2D`, roles.csv `class_alias`) as the class it
    names (`layers.MaxPooling2D`): a call of either has the class's key."""
    if layer.endswith("*"):
        return layer
    named = roles.aliases.get(key_of(layer))
    return f"{named[0]}.{named[1]}" if named else layer


def load_catalog(extra: Sequence[str | os.PathLike] = ()) -> Catalog:
    """The bundled table, then each extra CSV in order.

    An extra CSV is a metadata table (header with Layer, ParamName, Hptype, Type; the other
    columns are optional), a Keras-1 rule table (header ``Code,Layer,Old,New,Message``) or a
    roles table (header with Role, Layer, Name).
    A metadata row with the same (Layer, ParamName) as an earlier one replaces it, Hptype
    ``off`` removes it; new rows add.  A rule with the same (Layer, Old) replaces the earlier one.
    Role rows add to the bundled ones. keras2.csv is the bundled one only.
    """
    if isinstance(extra, (str, os.PathLike)):
        extra = (extra,)
    base_rows, base_rules, roles, keras2 = _bundled()
    merged: dict[tuple[Key, str], Row] = {(r.key, r.param): r for r in base_rows}
    rules: dict[tuple[str, str], Keras1Rule] = {(r.layer, r.old): r for r in base_rules}
    for path in extra:
        kind = _kind_of_file(path)
        if kind == "keras1":
            for rule in read_keras1(path):
                rule = replace(rule, layer=_class_path(roles, rule.layer))
                rules.pop((rule.layer, rule.old), None)
                rules[(rule.layer, rule.old)] = rule
        elif kind == "roles":
            roles = roles + Roles.of(read_roles(path))
        else:
            _merge(merged, [replace(r, layer=_class_path(roles, r.layer)) for r in read_metadata(path)],
                   os.fspath(path))
    table: dict[Key, dict[str, Row]] = {}
    for (key, param), r in merged.items():
        table.setdefault(key, {})[param] = r
    frozen = MappingProxyType({k: MappingProxyType(v) for k, v in table.items()})
    return Catalog(frozen, tuple(rules.values()), roles, keras2)
