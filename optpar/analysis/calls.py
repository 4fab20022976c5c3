"""Which Keras callable a call is, and which of its arguments feeds which metadata row."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from types import MappingProxyType

from optpar.analysis.facts import Facts, partial_of
from optpar.analysis.syntax import called_name
from optpar.csvrows import Key
from optpar.imports import dotted
from optpar.metadata import Catalog, Row
from optpar.roles import Role, Roles


def callee(facts: Facts, roles: Roles, call: ast.Call) -> Key | None:
    """The catalog key of what `call` calls: resolved through the imports (`layers.Dense`); a
    model method (`model.fit(...)` on an object we cannot resolve, with a keyword that only
    Keras's method takes: roles.csv's `model_method` rows; or on a name that only ever holds a
    model Keras made, `model = keras.Sequential(...)`: `model.fit(dataset)`); or a tf.data.Dataset method
    (`ds.batch(32)` in a program that imports TensorFlow: its `dataset_method` rows)."""
    key = facts.imports.key(call.func)
    if key is not None:
        return key
    wrapped = partial_of(facts.imports, call)  # partial(layers.Conv2D, kernel_size=3): a Conv2D's arguments
    if wrapped is not None:
        return facts.imports.key(wrapped)
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr in facts.user_methods and not made_by_keras(facts, roles, func.value):
        return None  # `x.fit` may be a method of the file's own class
    if func.attr not in roles.methods and func.attr not in roles.dataset_methods:
        return None
    receiver = dotted(func.value)
    if receiver is not None:
        head = receiver.split(".")[0]
        if head in facts.imports.names and facts.imports.qualify(receiver) is not None:
            return None  # re.compile, np.fit: a module's function, not a model's or a dataset's
    if func.attr in roles.dataset_methods:
        return ("Dataset", func.attr) if facts.imports.uses_tensorflow else None
    keywords = {k.arg for k in call.keywords if k.arg}
    method = roles.methods[func.attr]
    if keywords & roles.method_keywords.get(method, frozenset()) or made_by_keras(facts, roles, func.value):
        return ("Model", method)  # a keyword only Keras's method takes, or a model Keras made
    return None


def made_by_keras(facts: Facts, roles: Roles, receiver: ast.expr) -> bool:
    """Whether every value the name `receiver` holds where it is read is a Keras model: made by a
    `model_maker` call (`keras.Sequential(...)`, `load_model(...)`) or a Model subclass of the file."""
    values = facts.scope_values(receiver) if isinstance(receiver, ast.Name) else None
    return bool(values) and all(isinstance(v, ast.Call) and makes_model(facts, roles, v) for v in values)


def makes_model(facts: Facts, roles: Roles, call: ast.Call) -> bool:
    """Whether `call` makes a Keras model: a `model_maker` (`keras.Sequential(...)`,
    `load_model(...)`) or a Model subclass of the file."""
    return (facts.imports.key(call.func) in roles.model_makers
            or isinstance(call.func, ast.Name) and call.func.id in facts.model_classes)


def bound_arguments(catalog: Catalog, key: Key, call: ast.Call) -> Iterator[tuple[Row, ast.expr]]:
    """(row, argument) for each argument of `call` that a metadata row describes: by position
    (up to the first `*args`), then by keyword."""
    params = catalog.params(key)
    positional = catalog.positional(key)
    given = call.args
    if called_name(call.func) == "partial" and given:  # partial(layers.Conv2D, 32): the class, then its arguments
        given = given[1:]
    for index, arg in enumerate(given):
        if isinstance(arg, ast.Starred):
            break
        row = positional[index] if index < len(positional) else None
        if row is not None:
            yield row, arg
    for keyword in call.keywords:
        if keyword.arg and keyword.arg in params:
            yield params[keyword.arg], keyword.value


def qualified_name(key: Key) -> str:
    """`keras.layers.Dense`, `keras.Model.fit`, `tf.data.Dataset.batch`: how a site names its call."""
    if key[0] == "Model":
        return f"keras.Model.{key[1]}"
    if key[0] == "Dataset":
        return f"tf.data.Dataset.{key[1]}"
    if key[0] == "builtins":
        return key[1]
    return f"keras.{key[0]}.{key[1]}"


def is_width_layer(facts: Facts, catalog: Catalog, call: ast.Call) -> bool:
    """A Keras layer with a parameter that sets the width of what it outputs (units, filters)."""
    key = facts.imports.key(call.func)
    return key is not None and bool(catalog.roles.width & set(catalog.params(key)))


def role_arguments(call: ast.Call, rows: Mapping[str, Role],
                   renamed: Mapping[str, str] = MappingProxyType({})) -> Iterator[tuple[str, ast.expr]]:
    """(parameter, argument) for each parameter `rows` names (parameter -> its roles.csv row)
    that `call` passes: by keyword (`renamed`: a Keras 1 keyword -> its Keras 3 name), else at the
    row's position (not past a `*args`)."""
    given = {renamed.get(k.arg, k.arg): k.value for k in call.keywords if k.arg}
    for name, row in rows.items():
        value = given.get(name)
        if value is None and row.position is not None and row.position < len(call.args):
            if any(isinstance(a, ast.Starred) for a in call.args[:row.position + 1]):
                continue
            value = call.args[row.position]
        if value is not None and not isinstance(value, ast.Starred):
            yield name, value
