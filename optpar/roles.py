"""Keras policy as rows: ``metadata/roles.csv``.

What the matcher has to know about Keras beyond which arguments are tuned: which parameters set
a layer's width, which activations only an output layer has, which keywords tell a model's
``fit``/``compile`` from another library's, where ``fit`` takes its validation data, which
``tf.data.Dataset`` methods are tuned, which values are tuned only when the measured ``fit`` has
validation data of its own, which sizes a model that upsamples must keep (an autoencoder's
output has its input's size: a pooling size tuned alone breaks it), and the Keras 1 positional
forms to warn about. Adding such knowledge
for a new Keras API is a row here, not code. The file is read and checked like the other tables
(``path:line:col: error: ...``).

``Role,Layer,Name,Position,Size``; which cells each role takes:

==================  =======================  ==========================  ========  ====
Role                Layer                    Name                        Position  Size
==================  =======================  ==========================  ========  ====
width               --                       parameter (``units``)       --        --
activation          --                       parameter (``activation``)  --        --
output_activation   --                       activation (``softmax``)    --        --
output_layer        layer (``Softmax``)      --                          --        --
activation_layer    layer (``Activation``)   its activation parameter    required  --
model_method        ``Model.<method>``       a keyword of the method     --        --
method_alias        ``Model.<method>``       an older name of it         --        --
class_alias         an alias (``layers.      the class it names          --        --
                    Convolution2D``)         (``Conv2D``)
validation          ``Model.<method>``       a validation argument       optional  --
dataset_method      ``Dataset.<method>``     --                          --        --
needs_validation    a call (``Dataset.batch``) its parameter             --        --
keras1_positional   layer (``Conv2D``)       the Keras 3 parameter       required  >= 2
list_only           ``Model.<method>``       its list argument           --        --
upsampling          layer (``UpSampling*``)  --                          --        --
downsampling        layer (``MaxPooling*``)  the size it divides by      --        --
kernel              layer (``Conv2D``)       the kernel size             --        --
sum                 layer (``Add``)          --                          --        --
model_maker         a call (``Sequential``)  --                          --        --
reads_only          a call (``plot_model``)  --                          --        --
writes_file         a call (``Model.save``)  --                          --        --
python_int          layer (``Dense``)        a size Keras 3 takes only   optional  --
                                             as a Python int (``units``)
step_count          ``Model.<method>``       a count of steps Keras 2    --        --
                                             ran up to (``steps_per_epoch``)
shape_tuple         layer (``Input``)        a shape Keras 3 takes only  optional  --
                                             as a tuple (``shape``)
keras2_position     a method (``Layer.       its Keras 2 parameter at    required  --
                    add_weight``)            that position (``name``)
fresh               a module (``layers``)    --                          --        --
stateless           a call (``Input``)       --                          --        --
reshape             layer (``Reshape``)      --                          --        --
wrapper             layer (``TimeDistrib     the layer it wraps          required  --
                    uted``)                  (``layer``)
learning_rate       --                       an optimizer's learning     --        --
                                             rate (``learning_rate``)
rate_schedule       a call (``Learning       its schedule (``schedule``) required  --
                    RateScheduler``)
==================  =======================  ==========================  ========  ====
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from optpar.csvrows import IDENT, Cells, Key, check_header, key_of, read_table

__all__ = ["ROLE_COLUMNS", "ROLES", "Role", "Roles", "read_roles"]

ROLE_COLUMNS = ("Role", "Layer", "Name", "Position", "Size")

# role -> (Layer: "" none / "layer" / "method" (Model.) / "dataset" (Dataset.) / "call" (any),
# Name required, Position: "" none / "optional" / "required", Size required)
_SHAPES: Mapping[str, tuple[str, bool, str, bool]] = MappingProxyType({
    "width": ("", True, "", False),
    "activation": ("", True, "", False),
    "output_activation": ("", True, "", False),
    "output_layer": ("layer", False, "", False),
    "activation_layer": ("layer", True, "required", False),
    "model_method": ("method", True, "", False),
    "method_alias": ("method", True, "", False),
    "class_alias": ("layer", True, "", False),
    "validation": ("method", True, "optional", False),
    "dataset_method": ("dataset", False, "", False),
    "needs_validation": ("call", True, "", False),
    "keras1_positional": ("layer", True, "required", True),
    "list_only": ("method", True, "", False),
    "upsampling": ("layer", False, "", False),
    "downsampling": ("layer", True, "", False),
    "kernel": ("layer", True, "", False),
    "sum": ("layer", False, "", False),
    "model_maker": ("call", False, "", False),
    "reads_only": ("call", False, "", False),
    "writes_file": ("call", False, "", False),
    "python_int": ("layer", True, "optional", False),
    "step_count": ("method", True, "", False),
    "shape_tuple": ("layer", True, "optional", False),
    "keras2_position": ("call", True, "required", False),
    "fresh": ("module", False, "", False),
    "stateless": ("call", False, "", False),
    "reshape": ("layer", False, "", False),
    "wrapper": ("layer", True, "required", False),
    "learning_rate": ("", True, "", False),
    "rate_schedule": ("call", True, "required", False),
})
ROLES = tuple(_SHAPES)


@dataclass(frozen=True)
class Role:
    """One row of roles.csv."""

    role: str
    layer: str  # "" where the role names no layer
    name: str  # "" where the role names no parameter
    position: int | None = None
    size: int | None = None
    source: str = ""  # "path:line"

    @property
    def key(self) -> Key | None:
        return key_of(self.layer) if self.layer and "." in self.layer else None


def _empty() -> Mapping:
    return MappingProxyType({})


def _by_layer(rows: Iterable[Role]) -> dict[Key, Mapping[str, Role]]:
    found: dict[Key, dict[str, Role]] = {}
    for row in rows:
        found.setdefault(row.key, {})[row.name] = row
    return {key: MappingProxyType(params) for key, params in found.items()}


def _by_position(rows: Iterable[Role]) -> dict[str, tuple[Role, ...]]:
    found: dict[str, list[Role]] = {}
    for row in rows:
        found.setdefault(row.key[1], []).append(row)
    return {method: tuple(sorted(params, key=lambda r: r.position)) for method, params in found.items()}


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType({k: (frozenset(v) if isinstance(v, set) else v) for k, v in mapping.items()})


@dataclass(frozen=True)
class Roles:
    """The rows of roles.csv, indexed the way the matcher asks."""

    rows: tuple[Role, ...] = ()
    width: frozenset[str] = frozenset()  # parameters that set the width of a layer's output
    activation: frozenset[str] = frozenset()  # parameters that name a layer's activation
    output_activations: frozenset[str] = frozenset()  # softmax, sigmoid, ...
    output_layers: frozenset[Key] = frozenset()  # layers that are an output activation (Softmax)
    activation_layers: Mapping[Key, Role] = field(default_factory=_empty)  # Activation("softmax")
    method_keywords: Mapping[str, frozenset[str]] = field(default_factory=_empty)  # fit -> epochs, ...
    methods: Mapping[str, str] = field(default_factory=_empty)  # name written -> method (fit_generator -> fit)
    # a second name Keras exports a class under -> the class (layers.MaxPool2D -> layers.MaxPooling2D):
    # a call of either has the class's key, so the class's rows hold for both
    aliases: Mapping[Key, Key] = field(default_factory=_empty)
    validation: Mapping[str, tuple[Role, ...]] = field(default_factory=_empty)  # fit -> its validation arguments
    keras1_positional: Mapping[Key, Role] = field(default_factory=_empty)
    # (method, parameter): an argument Keras 3 takes only as a list, tuple or dict (compile's
    # metrics): a string there, which Keras 2 took, is rejected (OPT220)
    list_only: frozenset[tuple[Key, str]] = frozenset()
    dataset_methods: frozenset[str] = frozenset()  # batch, padded_batch: tuned on a tf.data.Dataset
    # (call, parameter): a value that changes what optpar would hold out of the training data (a
    # dataset's batch size changes which batches are held out), tuned only when fit() has its own
    needs_validation: frozenset[tuple[Key, str]] = frozenset()
    upsampling: frozenset[Key] = frozenset()  # layers that multiply a size back (UpSampling2D, Conv2DTranspose)
    # (layer, parameter): a size that divides what upsampling layers multiply back (pool_size),
    # held as written in a file that upsamples
    downsampling: frozenset[tuple[Key, str]] = frozenset()
    # (layer, parameter): a kernel size that changes the output's size unless padding is "same"
    # (or "causal"), held on a branch that is summed elementwise
    kernels: frozenset[tuple[Key, str]] = frozenset()
    sums: frozenset[Key] = frozenset()  # elementwise merges (Add()([a, b]), add([a, b]), ops.add): equal widths
    # calls that return a Keras model (Sequential, load_model): `m.fit` on what they made is Keras's
    # even where a class of the file has a `fit` of its own
    model_makers: frozenset[Key] = frozenset()
    # calls that only read what they are passed (plot_model(model) draws it): not a change in place
    reads_only: frozenset[Key] = frozenset()
    # the names of calls that write the file they are given and read nothing from it
    # (`model.save("m.keras")`, `ModelCheckpoint("m.keras")`): a path they write is no data they read
    writers: frozenset[str] = frozenset()
    # layer -> {parameter: row}: a size Keras 3 takes only as a Python int (Dense's units), which
    # Keras 2 turned into one itself: a NumPy number there is OPT235
    python_ints: Mapping[Key, Mapping[str, Role]] = field(default_factory=_empty)
    # method -> {parameter: row}: a count of steps Keras 2 took as a float and ran up to, which
    # Keras 3 takes only as an int (fit's steps_per_epoch): a true division there is OPT236
    step_counts: Mapping[Key, Mapping[str, Role]] = field(default_factory=_empty)
    # call -> {parameter: row}: a shape Keras 3 takes only as a tuple (Input's shape), where
    # Keras 2 made an int a tuple of one: an int there is OPT239
    shape_tuples: Mapping[Key, Mapping[str, Role]] = field(default_factory=_empty)
    # a method of the user's layers -> its Keras 2 parameters by position (add_weight(name, shape,
    # ...)), where Keras 3 reads the first as the shape: a string there is OPT240
    keras2_positions: Mapping[str, tuple[Role, ...]] = field(default_factory=_empty)
    # Keras modules whose calls make an object holding one model's state (a layer's weights, an
    # optimizer's variables): made once and read by each trial, trial 2 would get trial 1's
    fresh_modules: frozenset[str] = frozenset()
    stateless: frozenset[Key] = frozenset()  # calls of those modules that make no such object (Input)
    # layers that need their input's size exactly (Reshape((7, 7, 64)) takes 3136): the width of
    # the layer before one is kept
    reshapes: frozenset[Key] = frozenset()
    # layers that apply another layer they are given (TimeDistributed(Dense(1))): the wrapped
    # layer sets the width of what the wrapper outputs -> its row (the argument it is)
    wrappers: Mapping[Key, Role] = field(default_factory=_empty)
    learning_rates: frozenset[str] = frozenset()  # an optimizer's parameter that is its learning rate
    # callback -> its row: a callback that sets the optimizer's learning rate from its schedule
    # before every epoch (LearningRateScheduler); a schedule that ignores the current rate makes
    # the optimizer's own rate a value no step uses, held as written
    rate_schedules: Mapping[Key, Role] = field(default_factory=_empty)

    @classmethod
    def of(cls, rows: Iterable[Role]) -> Roles:
        rows = tuple(dict.fromkeys(rows))
        names: dict[str, set[str]] = {}
        keywords: dict[str, set[str]] = {}
        methods: dict[str, str] = {}
        validation: dict[str, list[Role]] = {}
        for row in rows:
            names.setdefault(row.role, set()).add(row.name)
            if row.role == "model_method":
                keywords.setdefault(row.key[1], set()).add(row.name)
                methods.setdefault(row.key[1], row.key[1])
            elif row.role == "method_alias":
                methods[row.name] = row.key[1]
            elif row.role == "validation":
                validation.setdefault(row.key[1], []).append(row)
        return cls(
            rows=rows,
            width=frozenset(names.get("width", ())),
            activation=frozenset(names.get("activation", ())),
            output_activations=frozenset(names.get("output_activation", ())),
            output_layers=frozenset(r.key for r in rows if r.role == "output_layer"),
            activation_layers=_frozen({r.key: r for r in rows if r.role == "activation_layer"}),
            method_keywords=_frozen(keywords),
            methods=_frozen(methods),
            aliases=_frozen({r.key: (r.key[0], r.name) for r in rows if r.role == "class_alias"}),
            validation=_frozen({method: tuple(found) for method, found in validation.items()}),
            keras1_positional=_frozen({r.key: r for r in rows if r.role == "keras1_positional"}),
            list_only=frozenset((r.key, r.name) for r in rows if r.role == "list_only"),
            dataset_methods=frozenset(r.key[1] for r in rows if r.role == "dataset_method"),
            needs_validation=frozenset((r.key, r.name) for r in rows if r.role == "needs_validation"),
            upsampling=frozenset(r.key for r in rows if r.role == "upsampling"),
            downsampling=frozenset((r.key, r.name) for r in rows if r.role == "downsampling"),
            kernels=frozenset((r.key, r.name) for r in rows if r.role == "kernel"),
            sums=frozenset(r.key for r in rows if r.role == "sum"),
            model_makers=frozenset(r.key for r in rows if r.role == "model_maker"),
            reads_only=frozenset(r.key for r in rows if r.role == "reads_only"),
            writers=frozenset(r.key[1] for r in rows if r.role == "writes_file"),
            python_ints=_frozen(_by_layer(r for r in rows if r.role == "python_int")),
            step_counts=_frozen(_by_layer(r for r in rows if r.role == "step_count")),
            shape_tuples=_frozen(_by_layer(r for r in rows if r.role == "shape_tuple")),
            keras2_positions=_frozen(_by_position(r for r in rows if r.role == "keras2_position")),
            fresh_modules=frozenset(r.layer for r in rows if r.role == "fresh"),
            stateless=frozenset(r.key for r in rows if r.role == "stateless"),
            reshapes=frozenset(r.key for r in rows if r.role == "reshape"),
            wrappers=_frozen({r.key: r for r in rows if r.role == "wrapper"}),
            learning_rates=frozenset(names.get("learning_rate", ())),
            rate_schedules=_frozen({r.key: r for r in rows if r.role == "rate_schedule"}),
        )

    def __add__(self, other: Roles) -> Roles:
        return Roles.of([*self.rows, *other.rows])


def _parse_role(c: Cells) -> Role:
    role = c.one_of("Role", ROLES)
    layer_kind, wants_name, position_kind, wants_size = _SHAPES[role]
    layer, name = c.get("Layer"), c.get("Name")
    if not layer_kind and layer:
        raise c.error("Layer", f"{role} rows name no Layer (they hold for every layer), not {layer!r}")
    if layer_kind == "module":
        if not IDENT.match(layer):
            raise c.error("Layer", f"{role} rows name a Keras module like 'layers', not {layer!r}")
    elif layer_kind:
        if not layer:
            raise c.error("Layer", f"{role} rows need a Layer")
        try:
            key = key_of(layer)
        except ValueError:
            raise c.error("Layer", f"Layer must be a dotted Keras path like 'layers.Dense', not {layer!r}") from None
        if layer_kind == "method" and key[0] != "Model":
            raise c.error("Layer", f"{role} rows name a model method like 'Model.fit', not {layer!r}")
        if layer_kind == "dataset" and key[0] != "Dataset":
            raise c.error("Layer", f"{role} rows name a dataset method like 'Dataset.batch', not {layer!r}")
    if wants_name and not IDENT.match(name):
        raise c.error("Name", f"Name must be a Python identifier, not {name!r}")
    if not wants_name and name:
        raise c.error("Name", f"{role} rows take no Name, not {name!r}")
    position = c.natural("Position", None)
    if position is None and position_kind == "required":
        raise c.error("Position", f"{role} rows need a Position")
    if position is not None and not position_kind:
        raise c.error("Position", f"{role} rows take no Position")
    size = c.natural("Size", None)
    if wants_size and (size is None or size < 2):
        raise c.error("Size", f"{role} rows need a Size of 2 or more")
    if size is not None and not wants_size:
        raise c.error("Size", f"{role} rows take no Size")
    return Role(role, layer, name, position, size, f"{c.shown}:{c.line}")


def read_roles(path: str | os.PathLike) -> list[Role]:
    """Read and validate one roles CSV (rows in file order)."""
    shown, header_line, header, raw = read_table(path)
    index = check_header(shown, header_line, header, ROLE_COLUMNS, ("Role", "Layer", "Name"))
    rows: list[Role] = []
    seen: dict[tuple[str, Key | str | None, str], int] = {}
    cells_of: dict[int, Cells] = {}
    for line, cells in raw:
        c = Cells(shown, line, cells, index)
        row = _parse_role(c)
        ident = (row.role, row.key or row.layer, row.name)
        if ident in seen:
            what = " ".join(part for part in (row.layer, row.name) if part)
            raise c.error("Name" if row.name else "Layer",
                          f"duplicate {row.role} row for {what} (first at line {seen[ident]})")
        seen[ident] = line
        rows.append(row)
        cells_of[id(row)] = c
    aliases = {row.key: row for row in rows if row.role == "class_alias"}
    for row in rows:
        alias = aliases.get(row.key) if row.role != "class_alias" else None
        if alias is not None:  # a call of the alias has its class's key: this row would never match
            raise cells_of[id(row)].error("Layer", f"{row.layer} is an alias of {alias.key[0]}.{alias.name} "
                                                   f"(line {alias.source.rsplit(':', 1)[1]}): name the class")
    return rows
