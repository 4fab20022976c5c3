"""Metadata rows + facts -> typed candidates: the literal values a Keras call's arguments hold.

A call counts when `calls.callee` resolves it to a catalog key; each argument a row describes is
a candidate when it holds a literal: written there (`Dense(128)`), a constant bound once to one
(`EPOCHS = 15`), a parameter's default that every call sees (`def build(units=64)`), what the one
call of a function passes for a parameter (`build(64)`, or a name holding a literal), a
command-line option's default (`args.units`, cli_options), a config dict's entry
(`CONFIG["units"]`, config_dicts) or a settings class's (`CFG.lr`, `cfg.units`, config_objects). Output
layers, output widths and output activations (roles.csv) are never candidates, nor are the batch
sizes datasets.untuned leaves.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from optpar.analysis.calls import bound_arguments
from optpar.analysis.absl_flags import flag_default
from optpar.analysis.cli_options import option_default, unpacked_option
from optpar.analysis.config_dicts import dict_entry
from optpar.analysis.config_objects import class_setting
from optpar.analysis.facts import FOLLOW_DEPTH, Facts, Literal
from optpar.analysis.loop_lists import loop_items, training_loops
from optpar.analysis.outputs import Outputs
from optpar.analysis.syntax import literal_value
from optpar.csvrows import Key
from optpar.metadata import Catalog, Row


@dataclass(frozen=True)
class Candidate:
    """One value that may become a site, before naming and the search space."""

    call: ast.Call  # the Keras call whose argument holds it
    key: Key  # the call's catalog key
    row: Row  # the metadata row of the argument
    node: ast.expr  # the literal: at the call, or at the constant's or the default's definition
    value: object  # its value (the scalar of an all-equal tuple)
    constant: Literal | None = None  # where a name gets it, when the argument is a name
    use: str | None = None  # what the literal is to the call, when it is not the argument itself


def candidates(facts: Facts, catalog: Catalog, outputs: Outputs,
               keyed: Sequence[tuple[ast.Call, Key]],
               untuned: Collection[tuple[int, str]] = ()) -> Iterator[Candidate]:
    """In call order, then argument order (positional first): the order ids are numbered in.
    `untuned`: (id of a call, parameter) left as written (datasets.untuned: batch sizes)."""
    roles = catalog.roles
    sweeps = training_loops(facts, keyed)
    for call, key in keyed:
        if call in outputs.calls:
            continue
        for row, arg in bound_arguments(catalog, key, call):
            if call in outputs.width_frozen and row.param in roles.width:
                continue
            if (id(call), row.param) in untuned:
                continue
            for node, constant in _held(facts, outputs, arg, sweeps):
                value = tunable_value(catalog, row, node, hidden=call in outputs.hidden)
                if value is not None:
                    yield Candidate(call, key, row, node, value, constant)


def _held(facts: Facts, outputs: Outputs, arg: ast.expr, sweeps: frozenset[int],
          depth: int = 0) -> list[tuple[ast.expr, Literal | None]]:
    """The literals an argument holds: one (held_literal); one per item of the list a loop
    variable walks (loop_lists; not a loop that trains a model per item, `sweeps`); or one per
    call of the function whose parameter it is."""
    items = (loop_items(facts, arg, sweeps) if isinstance(arg, ast.Name) and arg.id not in outputs.blocked
             else None)
    if items is not None:
        return [(item.node, item) for item in items]
    found = held_literal(facts, outputs, arg)
    return [found] if found is not None else _passed_by_each_call(facts, outputs, arg, sweeps, depth)


def _passed_by_each_call(facts: Facts, outputs: Outputs, arg: ast.expr, sweeps: frozenset[int],
                         depth: int) -> list[tuple[ast.expr, Literal | None]]:
    """A parameter of a function called several times (`conv_block(x, 32)`, `conv_block(x, 64)`):
    what each call passes is a value of its own, tuned where that call writes it
    (`conv_block_filters`, `conv_block_1_filters`), and the default is one more, for the calls
    that leave it. A call that passes something else (`filters * 2`) keeps it; a list its loop
    variable walks, or a name holding a literal, is followed as at a Keras call. Also what the
    one call of a function passes when that is a loop variable."""
    if not isinstance(arg, ast.Name) or arg.id in outputs.blocked or depth >= FOLLOW_DEPTH:
        return []
    where, function = facts.resolve(arg)
    if where != "param":
        return []
    held: list[tuple[ast.expr, Literal | None]] = []
    for passed in facts.values_passed(function, arg.id):
        for node, literal in _held(facts, outputs, passed.value, sweeps, depth + 1):
            if literal is None and literal_value(node)[0]:
                literal = Literal(node, passed.label, passed.written)
            if literal is not None:
                held.append((node, literal))
    return held


def held_literal(facts: Facts, outputs: Outputs, arg: ast.expr,
                 depth: int = 0) -> tuple[ast.expr, Literal | None] | None:
    """(the literal an argument holds, where a name got it); None when it holds none we can tune."""
    if isinstance(arg, ast.Attribute):  # `args.units`, `CFG.lr`: an option's default, a setting, or nothing
        held = option_default(facts, arg) or flag_default(facts, arg) or class_setting(facts, arg)
        return None if held is None else (held.node, held)
    if isinstance(arg, ast.Subscript):  # `CONFIG["units"]`: a config dict's entry, or nothing
        entry = dict_entry(facts, arg)
        return None if entry is None else (entry.node, entry)
    if not isinstance(arg, ast.Name):
        return arg, None
    if arg.id in outputs.blocked:
        return None
    where, function = facts.resolve(arg)
    if where == "param" and facts.default(function, arg.id) is None:
        option = unpacked_option(facts, function, arg.id)  # train(**vars(args))
        return (option.node, option) if option is not None else _passed(facts, outputs, function, arg.id, depth)
    constant = facts.default(function, arg.id) if where == "param" else facts.constant(arg.id)
    if constant is None and where != "param" and depth < FOLLOW_DEPTH:
        # another name for an option, an entry or a constant: `epochs = args.epochs`
        value = facts.only_value(arg.id)
        held = held_literal(facts, outputs, value, depth + 1) if isinstance(
            value, (ast.Attribute, ast.Subscript, ast.Name)) else None
        return held if held is not None and held[1] is not None else None
    return None if constant is None else (constant.node, constant)


def _passed(facts: Facts, outputs: Outputs, function: ast.AST, name: str,
            depth: int) -> tuple[ast.expr, Literal | None] | None:
    """What a parameter holds when its function's one call passes it: the literal written at the
    call (`build_model(64)`: the site is `64`), or what the passed name or entry holds."""
    value = facts.passed_once(function, name)
    held = None if value is None or depth >= FOLLOW_DEPTH else held_literal(facts, outputs, value, depth + 1)
    if held is None or held[1] is not None:
        return held
    node = held[0]
    if not literal_value(node)[0]:
        return None
    return node, Literal(node, name, f"{facts.call_name(function)}({name}={facts.lines.segment(node)})")


def tunable_value(catalog: Catalog, row: Row, node: ast.expr, hidden: bool = False) -> object | None:
    """The value of a literal for `row` (the scalar of an all-equal tuple), or None: not a
    literal (None itself is not one), a tuple the row cannot take as one value, an output
    activation (`sigmoid`) unless the layer is `hidden` (another layer that sets a width takes
    its output)."""
    ok, value = literal_value(node)
    if not ok:
        return None
    if isinstance(value, tuple):
        if row.tuple_size < 2 or len(value) != row.tuple_size or len(set(value)) != 1:
            return None
        value = value[0]
    roles = catalog.roles
    if isinstance(value, str) and row.param in roles.activation and value in roles.output_activations and not hidden:
        return None
    return value
