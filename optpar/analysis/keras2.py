"""OPT220-OPT223: Keras 2 forms that Keras 3 rejects, each with the one-line edits that
`optpar upgrade` makes (`Diagnostic.fix`); a form it cannot rewrite safely gets no fix.

The Keras names are data: the arguments Keras 3 takes only as a list are roles.csv's `list_only`
rows (`metrics=` of `compile`), the backend functions now in `keras.ops` and the history keys
Keras 3 renamed and the modules it dropped are keras2.csv's rows (`backend.pow,ops.power`,
`history.lr,history.learning_rate`, `module.layers.core,module.layers`).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.records import Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.csvrows import Key
from optpar.imports import canonical, dotted
from optpar.metadata import Catalog

REWRITES = " (optpar upgrade rewrites it)"


def lint(path: str, text: str, facts: Facts, lines: SourceLines, catalog: Catalog,
         keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """The diagnostics of the file's Keras 2 forms, by position."""
    found: list[Diagnostic] = []
    backend = catalog.moved("backend")
    top: dict[str, tuple[str, ast.alias, bool]] | None = None
    for call, key in keyed:
        for keyword in call.keywords:
            if (key, keyword.arg) in catalog.roles.list_only:
                found.extend(_string_list(path, lines, keyword))
        if key[0] == "backend" and key[1] in backend and not _tf_keras(facts, call.func):
            top = _top_level_imports(facts) if top is None else top
            found.append(_backend_function(path, facts, lines, top, call.func, key[1], backend[key[1]]))
    found.extend(_history_keys(path, text, facts, lines, catalog.moved("history"), keyed))
    found.extend(_modules(path, facts, lines, catalog.moved("module")))
    found.sort(key=lambda d: (d.line, d.col))
    return found


def _string_list(path: str, lines: SourceLines, keyword: ast.keyword) -> list[Diagnostic]:
    """OPT220: `metrics='acc'`, a string literal where Keras 3 takes a list: written `['acc']`."""
    value = keyword.value
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return []
    line, col, text = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1, lines.segment(value)
    fix = (TextEdit(line, col, text, f"[{text}]"),) if value.end_lineno == value.lineno else ()
    message = f"Keras 2 string {keyword.arg}={text} is rejected by Keras 3; use a list: {keyword.arg}=[{text}]"
    return [Diagnostic(path, line, col, "OPT220", message + (REWRITES if fix else ""), fix)]


def _tf_keras(facts: Facts, func: ast.expr) -> bool:
    """Whether `func` is tf_keras's: Keras 2 kept as a package of its own, where the backend has it."""
    qualified = facts.imports.qualify(dotted(func) or "")
    return qualified is not None and qualified.split(".")[0] == "tf_keras"


def _backend_function(path: str, facts: Facts, lines: SourceLines, top: dict[str, tuple[str, ast.alias, bool]],
                      func: ast.expr, old: str, new: str) -> Diagnostic:
    """OPT221: `K.sum(x)`, a backend function Keras 3 moved to `keras.ops`."""
    line, col = func.lineno, lines.char_col(func.lineno, func.col_offset) + 1
    fix = _ops_call(facts, lines, top, func, new)
    message = f"Keras 2 backend function '{old}' is gone from Keras 3; use 'keras.ops.{new}'"
    return Diagnostic(path, line, col, "OPT221", message + (REWRITES if fix else ""), fix)


def _ops_call(facts: Facts, lines: SourceLines, top: dict[str, tuple[str, ast.alias, bool]],
              func: ast.expr, new: str) -> tuple[TextEdit, ...]:
    """The edits that call `keras.ops.<new>` instead of the backend function `func` names.

    `keras.backend.sum` and `tf.keras.backend.sum` become `keras.ops.sum` and `tf.keras.ops.sum`.
    `K.sum` (`K` the backend module, imported once at the top level) becomes a name of `keras.ops`
    the file imports at its top level (`ops.sum` after `from keras import ops`), else `keras.ops.sum`
    where the file imports `keras` so, else `ops.sum` with `ops` imported beside `K`
    (`from keras import backend as K, ops`), when the file binds no other `ops`. Otherwise none:
    the function is imported by its name (`from keras.backend import sum`), the module is bound
    more than once or away from the top level, or the call is written over lines.
    """
    receiver = dotted(func.value) if isinstance(func, ast.Attribute) else None
    if receiver is None or func.end_lineno != func.lineno:
        return ()
    text = lines.segment(func)
    if text != f"{receiver}.{func.attr}":  # spaces or parentheses inside: left to the user
        return ()
    at = (func.lineno, lines.char_col(func.lineno, func.col_offset) + 1)
    if "." in receiver:
        head, _, last = receiver.rpartition(".")
        return (TextEdit(*at, text, f"{head}.ops.{new}"),) if last == "backend" else ()
    if receiver not in top or facts.bindings[receiver] != 1:
        return ()
    module, alias, imported_as = top[receiver]
    if not _is_keras3(module, "keras.backend") or not module.endswith(".backend"):
        return ()
    for name, (qualified, _, _) in top.items():
        if _is_keras3(qualified, "keras.ops") and facts.bindings[name] == 1:
            return (TextEdit(*at, text, f"{name}.{new}"),)
    for name, (qualified, _, _) in top.items():
        if _is_keras3(qualified, "keras") and facts.bindings[name] == 1:
            return (TextEdit(*at, text, f"{name}.ops.{new}"),)
    if facts.bindings["ops"]:
        return ()
    added = f", {module.removesuffix('backend')}ops as ops" if imported_as else ", ops"
    return (TextEdit(*at, text, f"ops.{new}"),
            TextEdit(alias.end_lineno, lines.char_col(alias.end_lineno, alias.end_col_offset) + 1, "", added))


def _is_keras3(qualified: str, name: str) -> bool:
    """Whether `qualified` is Keras 3's `name` (`tensorflow.keras.ops` is `keras.ops`; tf_keras's is not)."""
    return canonical(qualified) == name and qualified.split(".")[0] != "tf_keras"


def _top_level_imports(facts: Facts) -> dict[str, tuple[str, ast.alias, bool]]:
    """Name -> (what it is, the alias that binds it, whether by `import a.b as name`) for the
    imports at the module's top level."""
    found: dict[str, tuple[str, ast.alias, bool]] = {}
    for stmt in facts.tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    found[alias.asname] = (alias.name, alias, True)
                else:
                    found[alias.name.split(".")[0]] = (alias.name.split(".")[0], alias, False)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            for alias in stmt.names:
                found[alias.asname or alias.name] = (f"{stmt.module}.{alias.name}", alias, False)
    return found


def _history_keys(path: str, text: str, facts: Facts, lines: SourceLines, renamed: Mapping[str, str],
                  keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """OPT222: `history.history["lr"]`, where `history` holds what a model's `fit` returned (or
    is the fit call itself): the key Keras 3 logs under another name (`"learning_rate"`)."""
    quoted = [f"{q}{old}{q}" for old in renamed for q in "'\""]
    if not any(key in text for key in quoted):  # the walk below only where it can find one
        return []
    fits = {id(call) for call, key in keyed if key == ("Model", "fit")}
    found: list[Diagnostic] = []
    for node in ast.walk(facts.tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "history" and isinstance(node.slice, ast.Constant)
                and node.slice.value in renamed and _fit_result(facts, fits, node.value.value)):
            continue
        key = node.slice
        old, new = key.value, renamed[key.value]
        line, col, written = key.lineno, lines.char_col(key.lineno, key.col_offset) + 1, lines.segment(key)
        quote = written[-1]
        fix: tuple[TextEdit, ...] = ()
        if key.end_lineno == key.lineno and quote in "'\"" and written.endswith(f"{quote}{old}{quote}"):
            fix = (TextEdit(line, col, written, f"{written[:-len(old) - 1]}{new}{quote}"),)
        message = f"Keras 2 history key {old!r} is not logged by Keras 3; use {new!r}"
        found.append(Diagnostic(path, line, col, "OPT222", message + (REWRITES if fix else ""), fix))
    return found


def _fit_result(facts: Facts, fits: set[int], node: ast.expr) -> bool:
    """Whether `node` is a model's `fit(...)` call, or a name that holds only what such calls return."""
    if isinstance(node, ast.Call):
        return id(node) in fits
    values = facts.scope_values(node) if isinstance(node, ast.Name) else None
    return bool(values) and all(isinstance(v, ast.Call) and id(v) in fits for v in values)


def _modules(path: str, facts: Facts, lines: SourceLines, moved: Mapping[str, str]) -> list[Diagnostic]:
    """OPT223: an import from a Keras 2 module Keras 3 dropped (`from keras.layers.core import
    Dense`), whose names Keras 3 holds in another (`keras.layers`): the module's path is rewritten
    in `from ... import ...` and in `import ... as name`; a plain `import keras.layers.core`, read
    by its full path, is reported only."""
    found: list[Diagnostic] = []
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            start = lines.char_col(node.lineno, node.col_offset)  # the module follows `from`
            col = lines.lines[node.lineno - 1].find(node.module, start) + 1
            written = [(node.module, node.lineno, col, col > 0)]
            found.extend(_module_imported_by_name(path, lines, node, col, moved))
        elif isinstance(node, ast.Import):
            written = [(a.name, a.lineno, lines.char_col(a.lineno, a.col_offset) + 1, a.asname is not None)
                       for a in node.names]
        else:
            continue
        for module, line, col, renamable in written:
            head, rest = _keras_path(module)
            if rest not in moved:
                continue
            new = f"{head}{moved[rest]}"
            fix = (TextEdit(line, col, module, new),) if renamable else ()
            message = f"Keras 2 module '{module}' is gone from Keras 3; import from '{new}'"
            found.append(Diagnostic(path, line, max(col, 1), "OPT223", message + (REWRITES if fix else ""), fix))
    return found


def _module_imported_by_name(path: str, lines: SourceLines, node: ast.ImportFrom, col: int,
                             moved: Mapping[str, str]) -> list[Diagnostic]:
    """OPT223 for the module itself imported by its name: `from keras.utils import np_utils`
    becomes `from keras import utils as np_utils` (the one name of its statement; beside others,
    reported only)."""
    found: list[Diagnostic] = []
    for alias in node.names:
        head, rest = _keras_path(f"{node.module}.{alias.name}")
        if rest not in moved:
            continue
        parent, _, last = f"{head}{moved[rest]}".rpartition(".")
        line, at = alias.lineno, lines.char_col(alias.lineno, alias.col_offset) + 1
        fix: tuple[TextEdit, ...] = ()
        if len(node.names) == 1 and col > 0 and lines.lines[line - 1][at - 1:].startswith(alias.name):
            fix = (TextEdit(node.lineno, col, node.module, parent),
                   TextEdit(line, at, alias.name, last + ("" if alias.asname else f" as {alias.name}")))
        message = (f"Keras 2 module '{node.module}.{alias.name}' is gone from Keras 3; "
                   f"import {parent}.{last} as {alias.asname or alias.name}")
        found.append(Diagnostic(path, line, at, "OPT223", message + (REWRITES if fix else ""), fix))
    return found


def _keras_path(module: str) -> tuple[str, str]:
    """(`keras.` or `tensorflow.keras.`, the rest of the path); ("", "") for another module."""
    for head in ("keras.", "tensorflow.keras."):
        if module.startswith(head):
            return head, module[len(head):]
    return "", ""
