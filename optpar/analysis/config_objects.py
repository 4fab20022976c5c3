"""A value read from a settings class: `CFG.lr` where `class CFG: lr = 1e-3` (a class used as a
namespace of settings, as notebooks write them), or `cfg.units` where `cfg = Config()` and
`Config` is such a class or a dataclass whose field `units: int = 64` has a literal default. The
literal in the class body is the user's value, tuned where it is written, as a constant is.

The rule, checked statically: the class defined once, at the file's top level, with no base but
`object`, no decorator but `dataclass` (`@dataclass`, `@dataclasses.dataclass(...)`), and a body
of settings only (assignments of names, plain or annotated; a docstring; `pass`): no method, so
nothing computes or changes a setting. The attribute assigned once there, to a literal. Read as
the class itself, or through a name bound once, where it is read, to an instance made with no
arguments (`cfg = Config()`; arguments would replace the defaults), or through a parameter every
call of whose function passes such a name on under its own name (`build(cfg)`) or makes such an
instance there (`main(Config())`), and which the function does not rebind. Nothing in the
file sets the attribute on the class or the name (`CFG.lr = ...`, `setattr`).
"""

from __future__ import annotations

import ast

from optpar.analysis.facts import Facts, Literal
from optpar.analysis.syntax import literal_value
from optpar.imports import dotted


def class_setting(facts: Facts, node: ast.Attribute) -> Literal | None:
    """The literal of the setting `node` (`CFG.lr`, `cfg.units`) reads; None when the rule fails."""
    if not isinstance(node.value, ast.Name) or not isinstance(node.ctx, ast.Load):
        return None
    holder = node.value
    where, function = facts.resolve(holder)
    if where == "param" and facts.rebinds(function, holder.id):
        return None  # `cfg = other` in the function: not what the calls pass
    cls = _settings_class(facts, holder.id) if where == "module" else None
    if cls is None:
        cls = facts.follow(holder, lambda target, value, depth: _instance_of(facts, target, value))
    if cls is None and where == "param":
        cls = _passed_instance(facts, function, holder.id)
    if cls is None or _set_anywhere(facts, {cls.name, holder.id}, node.attr):
        return None
    assigned = [(stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target, stmt.value) for stmt in cls.body
                if isinstance(stmt, (ast.Assign, ast.AnnAssign))]
    found = [value for target, value in assigned if isinstance(target, ast.Name) and target.id == node.attr]
    if len(found) != 1 or found[0] is None or not literal_value(found[0])[0]:
        return None
    literal = found[0]
    return Literal(literal, node.attr, f"{cls.name}.{node.attr} = {facts.lines.segment(literal)}")


def _instance_of(facts: Facts, target: ast.expr, value: ast.expr) -> ast.ClassDef | None:
    """The settings class of `cfg = Config()` (no arguments)."""
    if not (isinstance(target, ast.Name) and isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and not value.args and not value.keywords):
        return None
    return _settings_class(facts, value.func.id)


def _passed_instance(facts: Facts, function: ast.AST, name: str) -> ast.ClassDef | None:
    """The settings class of a parameter every call of whose function makes it one there, with
    no arguments: `main(Config())`."""
    passed = facts.passed_for(function, name)
    if not passed:
        return None
    made = {value.func.id if isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and not value.args and not value.keywords else None for value in passed}
    name = made.pop() if len(made) == 1 else None
    return _settings_class(facts, name) if name is not None else None


def _settings_class(facts: Facts, name: str) -> ast.ClassDef | None:
    cls = facts.top_level(name, ast.ClassDef)
    if cls is None or cls.keywords or any(dotted(base) != "object" for base in cls.bases):
        return None
    if not all(_is_dataclass(facts, decorator) for decorator in cls.decorator_list):
        return None
    settings = all(
        isinstance(stmt, ast.Pass)
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        or (isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets))
        or (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name))
        for stmt in cls.body)
    return cls if settings else None


def _is_dataclass(facts: Facts, decorator: ast.expr) -> bool:
    called = decorator.func if isinstance(decorator, ast.Call) else decorator
    return facts.imports.qualify(dotted(called) or "") == "dataclasses.dataclass"


def _set_anywhere(facts: Facts, holders: set[str], attr: str) -> bool:
    """Whether the file sets or deletes `<holder>.attr` or calls `setattr`/`delattr` on a holder."""
    for node in ast.walk(facts.tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.attr == attr
                and isinstance(node.value, ast.Name) and node.value.id in holders):
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
                and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in holders):
            return True
    return False
