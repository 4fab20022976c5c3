"""OPT230-OPT232: the names Keras 3 changed on a Keras object a script holds.

A learning-rate callback of Keras 2 reads `K.get_value(self.model.optimizer.lr)` and writes
`K.set_value(self.model.optimizer.lr, lr)`. Keras 3 names the attribute `learning_rate`
(keras2.csv `optimizer` rows, OPT230), and the backend functions that write a variable are its
methods now: `K.set_value(v, x)` is `v.assign(x)`, `K.update_add(v, x)` is `v.assign_add(x)`
(keras2.csv `variable` rows, OPT231). Reading one (`K.get_value(v)`) is a backend row
(`keras.ops.convert_to_numpy`, OPT221). A custom training loop's `train_loss.reset_states()` is
`reset_state()` (keras2.csv `metric_object` rows, OPT232).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from optpar.analysis.calls import made_by_keras, makes_model
from optpar.analysis.facts import Facts
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.csvrows import Key
from optpar.metadata import Catalog
from optpar.roles import Roles

_OPEN = re.compile(r"\(\s*\Z")  # what may stand between the function's name and its variable
_COMMA = re.compile(r"\s*,\s*\Z")  # ... and between the variable and the value (or the line's end)
_ATOMS = (ast.Name, ast.Attribute, ast.Subscript, ast.Call)  # a receiver written without parentheses
_BY_NAME = frozenset({"hasattr", "getattr", "setattr"})  # builtins that name an attribute in a string


@dataclass(frozen=True)
class _Kind:
    """A kind of Keras object whose attribute or method names Keras 3 changed."""

    form: str  # its keras2.csv rows
    module: str  # where its constructors are (`keras.optimizers.SGD`: "optimizers")
    held_as: str  # the attribute a model holds one under ("optimizer"), or ""
    listed_as: str  # the attribute a model lists them under ("metrics"), or ""
    code: str
    noun: str


_KINDS = (_Kind("optimizer", "optimizers", "optimizer", "", "OPT230", "optimizer attribute"),
          _Kind("metric_object", "metrics", "", "metrics", "OPT232", "metric method"))


def renamed_members(path: str, facts: Facts, lines: SourceLines, catalog: Catalog,
                    keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """OPT230, OPT232: `model.optimizer.lr` or `train_loss.reset_states()`, an attribute or method
    under the name Keras 3 dropped, on an object of its kind.

    The object is the attribute a model holds it under (`self.model.optimizer`), a constructor
    call of its kind, a name every assignment of which is one (`opt = keras.optimizers.SGD(0.1)`;
    `opt.lr`), `self.x` where the class assigns one to it, or the target of a loop over the
    attribute a model lists them under (`for m in self.metrics:`). The name in a string given to
    `hasattr`, `getattr` or `setattr` with such an object is renamed too."""
    kinds = [(kind, renamed, {id(call) for call, key in keyed if key[0] == kind.module})
             for kind in _KINDS if (renamed := catalog.moved(kind.form))]
    found: list[Diagnostic] = []
    for node in ast.walk(facts.tree) if kinds else ():
        if isinstance(node, ast.Attribute):  # `opt.lr`
            name, owner, rename, where = node.attr, node.value, _renamed_attribute, node
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _BY_NAME
              and not facts.bindings[node.func.id] and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            name, owner, rename, where = node.args[1].value, node.args[0], _renamed_string, node.args[1]  # hasattr(opt, "lr")
        else:
            continue
        for kind, renamed, constructed in kinds:
            if name in renamed and (_holds(facts, catalog.roles, owner, constructed, kind)
                                    or _given_to_backend(facts, where, owner, kind)):
                found.append(rename(path, lines, where, renamed[name], kind))
    return found


def _given_to_backend(facts: Facts, node: ast.AST, owner: ast.expr, kind: _Kind) -> bool:
    """`K.get_value(self.model.optimizer.lr)`, `K.set_value(x.optimizer.lr, v)`: the attribute, on
    an attribute named as a model holds the object, is the first argument of a Keras backend
    function, which takes a Keras variable, so the object is of `kind` whatever holds it (an
    LRFinder that keeps `self.model = model`)."""
    call = facts.parents.get(node)
    return (bool(kind.held_as) and isinstance(owner, ast.Attribute) and owner.attr == kind.held_as
            and isinstance(call, ast.Call) and bool(call.args) and call.args[0] is node
            and (facts.imports.key(call.func) or ("",))[0] == "backend")


def _holds(facts: Facts, roles: Roles, value: ast.expr, constructed: set[int], kind: _Kind) -> bool:
    """Whether `value` is an object of `kind`: its constructor's call, the attribute a Keras model
    holds it under (`self.model.optimizer` in a callback, `model.optimizer`), `self.x` where the
    class assigns one, or a name every assignment of which is one of those (`opt = model.optimizer`);
    for metrics also the target of a loop over a Keras model's `metrics`."""
    if isinstance(value, ast.Call):
        return id(value) in constructed
    if isinstance(value, ast.Attribute):
        if kind.held_as and value.attr == kind.held_as:
            return _keras_model(facts, roles, value.value)
        made = facts.self_attribute(value, value.attr) if _on_self(value) else None
        return made is not None and id(made) in constructed
    if isinstance(value, ast.Name):
        if kind.listed_as and _loop_over(facts, roles, value, kind.listed_as):
            return True
        values = facts.scope_values(value)
        return bool(values) and all(not isinstance(v, ast.Name) and _holds(facts, roles, v, constructed, kind)
                                    for v in values)
    return False


def _keras_model(facts: Facts, roles: Roles, node: ast.expr) -> bool:
    """Whether `node` is a Keras model: `self` in a subclass of keras.Model, `self.model` in a
    Keras callback (or where the class assigns it a model Keras makes), or a name that only ever
    holds a model Keras made (`model = keras.Sequential(...)`)."""
    if isinstance(node, ast.Name):
        cls = facts.enclosing_class(node) if node.id == "self" else None
        return facts.is_model_class(cls) if cls is not None else made_by_keras(facts, roles, node)
    if isinstance(node, ast.Attribute) and _on_self(node) and node.attr == "model":
        cls = facts.enclosing_class(node)
        if cls is not None and any((facts.imports.key(base) or ("",))[0] == "callbacks" for base in cls.bases):
            return True
        made = facts.self_attribute(node, "model")
        return made is not None and makes_model(facts, roles, made)
    return False


def _on_self(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id == "self"


def _loop_over(facts: Facts, roles: Roles, name: ast.Name, listed_as: str) -> bool:
    """Whether `name` is read in the body of `for name in <a Keras model>.<listed_as>:`."""
    node = facts.parents.get(name)
    while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)):
        if (isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == name.id
                and isinstance(node.iter, ast.Attribute) and node.iter.attr == listed_as
                and _keras_model(facts, roles, node.iter.value)):
            return True
        node = facts.parents.get(node)
    return False


def _renamed_attribute(path: str, lines: SourceLines, node: ast.Attribute, new: str, kind: _Kind) -> Diagnostic:
    line, col, written = lines.attribute_name(node)
    fix = (TextEdit(line, col, node.attr, new),) if written else ()
    message = f"Keras 2 {kind.noun} '{node.attr}' is gone from Keras 3; use '{new}'"
    return Diagnostic(path, line, col, kind.code, message + (REWRITES if fix else ""), fix)


def _renamed_string(path: str, lines: SourceLines, node: ast.Constant, new: str, kind: _Kind) -> Diagnostic:
    line, col = node.lineno, lines.char_col(node.lineno, node.col_offset) + 1
    written = lines.segment(node)
    fix = (TextEdit(line, col + 1, node.value, new),) if written[1:-1] == node.value and written[0] in "'\"" else ()
    message = f"Keras 2 {kind.noun} '{node.value}' is gone from Keras 3; use '{new}'"
    return Diagnostic(path, line, col, kind.code, message + (REWRITES if fix else ""), fix)


def variable_method(path: str, lines: SourceLines, call: ast.Call, old: str, new: str) -> Diagnostic:
    """OPT231: `K.set_value(v, x)`, a backend function that writes a variable, which Keras 3 has
    as the variable's method: `v.assign(x)`. Two edits, neither inside `v` (OPT230 may rename its
    `.lr`): the function's name and `(` go, and the comma after `v` becomes `.assign(`; a `v`
    that is not a name, attribute, subscript or call gets parentheses. Rewritten when the call
    passes just the two by position and the function, `(`, `v` and its comma share a line."""
    line, col = call.lineno, lines.char_col(call.lineno, call.col_offset) + 1
    fix = _method_edits(lines, call, new)
    shown = lines.segment(call.args[0]) if call.args and call.args[0].lineno == call.args[0].end_lineno else "variable"
    message = f"Keras 2 backend function '{old}' is gone from Keras 3; call the variable's method: {shown}.{new}(...)"
    return Diagnostic(path, line, col, "OPT231", message + (REWRITES if fix else ""), fix)


def _method_edits(lines: SourceLines, call: ast.Call, new: str) -> tuple[TextEdit, ...]:
    if (len(call.args) != 2 or call.keywords or any(isinstance(a, ast.Starred) for a in call.args)
            or not isinstance(call.func, ast.Attribute)):
        return ()
    variable, value = call.args
    line = call.lineno
    if variable.lineno != line or variable.end_lineno != line:
        return ()
    text = lines.lines[line - 1]
    start = lines.char_col(line, call.col_offset)
    name_end = lines.char_col(line, call.func.end_col_offset)
    at, end = lines.char_col(line, variable.col_offset), lines.char_col(line, variable.end_col_offset)
    after = lines.char_col(line, value.col_offset) if value.lineno == line else len(text.rstrip("\r\n"))
    if call.func.end_lineno != line or not _OPEN.match(text[name_end:at]) or not _COMMA.match(text[end:after]):
        return ()
    bare = isinstance(variable, _ATOMS)
    return (TextEdit(line, start + 1, text[start:at], "" if bare else "("),
            TextEdit(line, end + 1, text[end:after], f".{new}(" if bare else f").{new}("))
