"""OPT220-OPT240: Keras 2 forms that Keras 3 rejects, each with the one-line edits that
`optpar upgrade` makes (`Diagnostic.fix`); a form it cannot rewrite safely gets no fix.

The Keras names are data: the arguments Keras 3 takes only as a list are roles.csv's `list_only`
rows (`metrics=` of `compile`), the backend functions now in `keras.ops` and the history keys
Keras 3 renamed, the modules it dropped and the model methods it renamed are keras2.csv's rows
(`backend.pow,ops.power`, `history.lr,history.learning_rate`, `module.layers.core,module.layers`,
`method.fit_generator,method.fit`), and so are the names Keras 3 keeps only in TensorFlow's Keras
(`legacy.preprocessing.image.ImageDataGenerator,tensorflow.keras.preprocessing.image.ImageDataGenerator`).
"""

from __future__ import annotations

import ast
import posixpath
import re
import string
from collections.abc import Mapping, Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.int_shapes import int_shapes
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.removal import removed_arguments
from optpar.analysis.syntax import SourceLines, called_name
from optpar.analysis.multi_outputs import output_count, per_output
from optpar.analysis.objects import renamed_members, variable_method
from optpar.analysis.python_ints import numpy_sizes, step_counts
from optpar.analysis.symbolic import tf_functions
from optpar.analysis.weight_positions import keras2_positions
from optpar.csvrows import Key
from optpar.imports import canonical, dotted
from optpar.metadata import Catalog



def lint(path: str, text: str, facts: Facts, lines: SourceLines, catalog: Catalog,
         keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """The diagnostics of the file's Keras 2 forms, by position."""
    found: list[Diagnostic] = []
    backend = catalog.moved("backend")
    top: dict[str, tuple[str, ast.alias, bool]] | None = None
    padding = catalog.moved("padding")
    methods = catalog.moved("variable")
    for call, key in keyed:
        outputs = None  # the model's outputs, counted for compile's metrics
        for keyword in call.keywords:
            if (key, keyword.arg) in catalog.roles.list_only:
                if outputs is None and isinstance(call.func, ast.Attribute):
                    outputs = output_count(facts, call.func.value)
                found.extend(_string_list(path, lines, keyword, outputs))
                found.extend(per_output(path, lines, keyword, outputs))
            elif keyword.arg == "padding" and key[0] == "layers":
                found.extend(_padding(path, lines, keyword.value, padding))
        if key in catalog.roles.python_ints:
            renamed = {rule.old: rule.new for rule in catalog.keras1_rules(key) if rule.new}
            found.extend(numpy_sizes(path, facts, lines, call, catalog.roles.python_ints[key], renamed))
        if key in catalog.roles.shape_tuples:
            found.extend(int_shapes(path, facts, lines, call, catalog.roles.shape_tuples[key]))
        if key[0] == "backend" and key[1] in backend and not _tf_keras(facts, call.func):
            top = _top_level_imports(facts) if top is None else top
            found.append(_backend_function(path, facts, lines, top, call.func, key[1], backend[key[1]]))
        elif key[0] == "backend" and key[1] in methods and not _tf_keras(facts, call.func):
            found.append(variable_method(path, lines, call, key[1], methods[key[1]]))
    found.extend(_history_keys(path, text, facts, lines, catalog.moved("history"), keyed))
    found.extend(_modules(path, facts, lines, catalog.moved("module")))
    found.extend(_renamed_layers(path, facts, lines, catalog.moved("layer"), catalog.moved("module")))
    found.extend(_save_paths(path, facts, lines, keyed, makes_folders=_makes_folders(text)))
    found.extend(_model_methods(path, facts, lines, catalog, keyed))
    found.extend(_legacy_names(path, facts, lines, catalog.moved("legacy")))
    found.extend(_metric_names(path, facts, lines, catalog.moved("metric"), keyed))
    found.extend(renamed_members(path, facts, lines, catalog, keyed))
    found.extend(keras2_positions(path, facts, lines, catalog.roles.keras2_positions, catalog.moved("layer_method")))
    tf_ops = catalog.moved("tf_op")
    if tf_ops and facts.imports.uses_tensorflow:
        found.extend(tf_functions(path, facts, lines, tf_ops, keyed, _ops_module(facts, top or _top_level_imports(facts))))
    found.sort(key=lambda d: (d.line, d.col))
    return found


def _string_list(path: str, lines: SourceLines, keyword: ast.keyword, outputs: int | None) -> list[Diagnostic]:
    """OPT220: `metrics='acc'`, a string literal where Keras 3 takes a list: written `['acc']`, or
    `[['acc']] * 2` for a model of 2 outputs (OPT238)."""
    value = keyword.value
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return []
    line, col, text = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1, lines.segment(value)
    new = f"[[{text}]] * {outputs}" if outputs is not None and outputs >= 2 else f"[{text}]"
    fix = (TextEdit(line, col, text, new),) if value.end_lineno == value.lineno else ()
    message = f"Keras 2 string {keyword.arg}={text} is rejected by Keras 3; use a list: {keyword.arg}={new}"
    return [Diagnostic(path, line, col, "OPT220", message + (REWRITES if fix else ""), fix)]


def _padding(path: str, lines: SourceLines, value: ast.expr, lower: Mapping[str, str]) -> list[Diagnostic]:
    """OPT229: `MaxPool1D(2, padding='SAME')`, TensorFlow's spelling: Keras 2 read it in any
    case; Keras 3's pooling layers fail on it when a model is built, its convolutions lower-case it
    (keras2.csv's `padding` rows; rewritten on every layer, where it means the same)."""
    if not (isinstance(value, ast.Constant) and value.value in lower):
        return []
    new = lower[value.value]
    line, col, written = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1, lines.segment(value)
    fix = (TextEdit(line, col + 1, value.value, new),) if written[1:-1] == value.value else ()
    message = f"padding={written} is rejected by Keras 3, which takes it in lower case: padding={written[0]}{new}{written[0]}"
    return [Diagnostic(path, line, col, "OPT229", message + (REWRITES if fix else ""), fix)]


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
    ops = _ops_module(facts, top)
    if ops is not None:
        return (TextEdit(*at, text, f"{ops}.{new}"),)
    if facts.bindings["ops"]:
        return ()
    added = f", {module.removesuffix('backend')}ops as ops" if imported_as else ", ops"
    return (TextEdit(*at, text, f"ops.{new}"),
            TextEdit(alias.end_lineno, lines.char_col(alias.end_lineno, alias.end_col_offset) + 1, "", added))


def _ops_module(facts: Facts, top: dict[str, tuple[str, ast.alias, bool]]) -> str | None:
    """How the file names Keras 3's `keras.ops` at its top level (`ops`, `keras.ops`), or None."""
    for wanted, suffix in (("keras.ops", ""), ("keras", ".ops")):
        for name, (qualified, _, _) in top.items():
            if _is_keras3(qualified, wanted) and facts.bindings[name] == 1:
                return name + suffix
    return None


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
    is the fit call itself), or a name holding that `history.history`: the key Keras 3 logs under
    another name (`"learning_rate"`)."""
    quoted = [f"{q}{old}{q}" for old in renamed for q in "'\""]
    if not any(key in text for key in quoted):  # the walk below only where it can find one
        return []
    fits = {id(call) for call, key in keyed if key == ("Model", "fit")}
    found: list[Diagnostic] = []
    for node in ast.walk(facts.tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and node.slice.value in renamed and _history_of_fit(facts, fits, node.value)):
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


def _renamed_layers(path: str, facts: Facts, lines: SourceLines, renamed: Mapping[str, str],
                    modules: Mapping[str, str]) -> list[Diagnostic]:
    """OPT241: a layer class Keras 3 dropped for another (`layer` rows of keras2.csv: `CuDNNLSTM`,
    whose work `LSTM` does on cuDNN where it can). `layers.CuDNNLSTM(...)` calls `layers.LSTM`;
    `from keras.layers import CuDNNLSTM` imports `LSTM as CuDNNLSTM`, so every use of the name
    stays as written. `modules`: the Keras 2 modules whose names Keras 3 moved (`layers.recurrent`
    is `layers`), from which the layer is imported too."""
    found: list[Diagnostic] = []

    def diagnose(line: int, col: int, old: str, fix: tuple[TextEdit, ...]) -> None:
        message = f"Keras 2 layer '{old}' is gone from Keras 3; use '{renamed[old]}' (it runs on cuDNN where it can)"
        found.append(Diagnostic(path, line, col, "OPT241", message + (REWRITES if fix else ""), fix))

    for node in ast.walk(facts.tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            head, rest = _keras_path(node.module)
            if not head or modules.get(rest, rest) != "layers":
                continue
            for alias in node.names:
                if alias.name not in renamed:
                    continue
                line, at = alias.lineno, lines.char_col(alias.lineno, alias.col_offset) + 1
                written = lines.lines[line - 1][at - 1:].startswith(alias.name)
                new = renamed[alias.name] + ("" if alias.asname else f" as {alias.name}")
                diagnose(line, at, alias.name, (TextEdit(line, at, alias.name, new),) if written else ())
        elif isinstance(node, ast.Attribute) and node.attr in renamed:
            qualified = facts.imports.qualify(dotted(node.value) or "")
            if qualified is None or not _is_keras3(qualified, "keras.layers"):
                continue
            line, col, written = lines.attribute_name(node)
            diagnose(line, col, node.attr, (TextEdit(line, col, node.attr, renamed[node.attr]),) if written else ())
    return found


def _keras_path(module: str) -> tuple[str, str]:
    """(`keras.` or `tensorflow.keras.`, the rest of the path); ("", "") for another module."""
    for head in ("keras.", "tensorflow.keras."):
        if module.startswith(head):
            return head, module[len(head):]
    return "", ""


# -- OPT224: the paths Keras 3 saves to ----------------------------------------------------------

# What each saving call needs its path to end in under Keras 3 (its own checks), the ending it is
# given when it has none of them, and the endings of Keras 2 and TensorFlow saving that the new
# one replaces (a TensorFlow checkpoint's `.ckpt`, a SavedModel's `.tf` or folder's `/`).
_WEIGHTS = ((".weights.h5",), ".weights.h5")
_CHECKPOINT = ((".keras", ".h5"), ".keras")
_MODEL = ((".keras", ".h5", ".hdf5"), ".keras")
_REPLACED = (".weights.h5", ".keras", ".hdf5", ".h5", ".ckpt", ".tf", "/")
# The calls that read a saved path: a literal equal to a renamed path follows it there.
_READERS = frozenset({"load_model", "load_weights", "save", "save_weights", "ModelCheckpoint", "save_model"})
# The endings of TensorFlow's own formats, whose writers made the folders of their path (a
# checkpoint's prefix with `.ckpt` or no ending, a SavedModel): Keras 3's files do not, except
# ModelCheckpoint's.
_MADE_ITS_FOLDER = (".ckpt", ".tf", "")


def _save_paths(path: str, facts: Facts, lines: SourceLines, keyed: Sequence[tuple[ast.Call, Key]],
                makes_folders: bool = False) -> list[Diagnostic]:
    """OPT224: a path Keras 3 refuses to save to. `ModelCheckpoint('best.hdf5')` writes a model
    only to `.keras` or `.h5`, `ModelCheckpoint(..., save_weights_only=True)` and
    `model.save_weights(...)` only to `.weights.h5`, `model.save('saved_model')` (a SavedModel
    folder in TensorFlow 2) only to `.keras`, `.h5` or `.hdf5`. The path's literal (written in the
    call, or the one value of the name passed) gets the ending Keras 3 wants in place of the old
    one (`best.keras`, `cp.weights.h5` for `cp.ckpt`), and every literal of the file equal to it
    follows (`load_model('best.hdf5')`). A path built otherwise is left alone.

    TensorFlow's checkpoint and SavedModel writers made the folders of their path; Keras 3's
    `save` and `save_weights` do not. Where a renamed path of theirs is in a folder
    (`./checkpoints/my_checkpoint`, TensorFlow's tutorial) and nothing in the file makes folders
    (`makes_folders`), a second OPT224, reported only, says to make it."""
    models = _model_receivers(keyed)
    needs: dict[int, tuple[ast.expr, set[tuple[tuple[str, ...], str]], str]] = {}
    unmade: dict[int, str] = {}  # the literals a saver that makes no folder writes: its name
    for call in facts.calls:
        need, argument, name = _saving(facts, models, call)
        literal = _path_literal(facts, argument) if argument is not None else None
        if need is None or literal is None or _ending(literal) is None:
            continue
        if _ending(literal).endswith(need[0]):
            continue
        needs.setdefault(id(literal), (literal, set(), name))[1].add(need)
        if name != "ModelCheckpoint":
            unmade.setdefault(id(literal), name)
    found: list[Diagnostic] = []
    for literal, wanted, name in needs.values():
        value = _ending(literal)
        old = next((end for end in _REPLACED if value.endswith(end)), "")
        ends, end = next(iter(wanted))
        new_value = value[:len(value) - len(old)] + end
        first = _literal_edit(lines, literal, old, end) if len({need[1] for need in wanted}) == 1 else None
        fix: tuple[TextEdit, ...] = ()
        if first is not None:  # one ending wanted, and the literal can take it
            fix = (first, *(edit for node in _same_literals(facts, literal)
                             if (edit := _literal_edit(lines, node, old, end)) is not None))
        line, col = literal.lineno, lines.char_col(literal.lineno, literal.col_offset) + 1
        shown = repr(value) if isinstance(literal, ast.Constant) else lines.segment(literal)
        message = (f"Keras 3's {name} does not save to {shown}: the path must end in "
                   f"{' or '.join(repr(e) for e in ends)}; use {new_value!r}")
        found.append(Diagnostic(path, line, col, "OPT224", message + (REWRITES if fix else ""), fix))
        folder = posixpath.dirname(new_value) if isinstance(literal, ast.Constant) else ""
        if id(literal) in unmade and old in _MADE_ITS_FOLDER and folder not in ("", ".") and not makes_folders:
            found.append(Diagnostic(path, line, col, "OPT224", (
                f"Keras 3's {unmade[id(literal)]} does not make the folder {folder!r} of {new_value!r} "
                f"(TensorFlow's format did): make it before saving, e.g. os.makedirs({folder!r}, exist_ok=True)")))
    return found


def _makes_folders(text: str) -> bool:
    """Whether the file may make folders: `os.makedirs`, `Path.mkdir`, `tf.io.gfile.makedirs`, a
    notebook's `!mkdir -p` (read loosely: a word in the text is enough to stay quiet)."""
    return "mkdir" in text or "makedirs" in text


def _saving(facts: Facts, models: set[str], call: ast.Call) -> tuple[tuple[tuple[str, ...], str] | None, ast.expr | None, str]:
    """(what its path must end in, the path argument, the call's name) for a call that saves."""
    key = facts.imports.key(call.func)
    if key == ("callbacks", "ModelCheckpoint"):
        weights = next((k.value for k in call.keywords if k.arg == "save_weights_only"), None)
        if weights is not None and not (isinstance(weights, ast.Constant) and isinstance(weights.value, bool)):
            return None, None, ""
        only = weights is not None and weights.value
        return (_WEIGHTS if only else _CHECKPOINT), _argument(call, 0, "filepath"), "ModelCheckpoint"
    if key == ("models", "save_model") or key == ("saving", "save_model"):
        return _MODEL, _argument(call, 1, "filepath"), "save_model"
    func = call.func
    if key is None and isinstance(func, ast.Attribute) and func.attr in ("save", "save_weights"):
        receiver = dotted(func.value)
        known = receiver in models or (func.attr == "save_weights" and receiver is not None
                                       and receiver.split(".")[0] not in facts.imports.names)
        if not known or any(k.arg in ("max_shard_size", "save_format") for k in call.keywords):
            return None, None, ""  # `save` is too common a name to trust on an object not known as a model
        return (_MODEL if func.attr == "save" else _WEIGHTS), _argument(call, 0, "filepath"), f"Model.{func.attr}"
    return None, None, ""


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    given = next((k.value for k in call.keywords if k.arg == keyword), None)
    if given is None and len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[:index + 1]):
        given = call.args[index]
    return given


def _path_literal(facts: Facts, node: ast.expr) -> ast.expr | None:
    """The string literal `node` is, the one literal the name `node` holds, or the last part of
    an `os.path.join(...)` that ends in a literal."""
    if isinstance(node, ast.Name):
        values = facts.scope_values(node)
        node = values[0] if values and len(values) == 1 else None
    if (isinstance(node, ast.Call) and node.args and not node.keywords
            and facts.imports.qualify(dotted(node.func) or "") == "os.path.join"):
        node = node.args[-1]
    return node if isinstance(node, (ast.Constant, ast.JoinedStr)) else None


def _ending(literal: ast.expr) -> str | None:
    """A path literal's text, as far as it is known at its end: a string, or an f-string's last
    literal part (`f"{d}/best.hdf5"`: "/best.hdf5"); None for anything else."""
    if isinstance(literal, ast.Constant):
        return literal.value if isinstance(literal.value, str) else None
    last = literal.values[-1] if isinstance(literal, ast.JoinedStr) and literal.values else None
    return last.value if isinstance(last, ast.Constant) and isinstance(last.value, str) else None


def _same_literals(facts: Facts, literal: ast.expr) -> list[ast.Constant]:
    """The file's other string literals equal to the path `literal`: all of them when the path
    has a dot or a slash (`best.hdf5`), else only those a saving or loading call reads."""
    if not isinstance(literal, ast.Constant):
        return []
    value = literal.value
    if "." in value or "/" in value:
        return [node for node in ast.walk(facts.tree)
                if isinstance(node, ast.Constant) and node.value == value and node is not literal]
    found = []
    for call in facts.calls:
        if called_name(call.func) in _READERS:
            found.extend(a for a in [*call.args[:2], *(k.value for k in call.keywords)]
                         if isinstance(a, ast.Constant) and a.value == value and a is not literal)
    return found


def _literal_edit(lines: SourceLines, node: ast.expr, old: str, new: str) -> TextEdit | None:
    """The edit that ends the single-line literal `node` in `new` instead of `old`: only that
    ending changes (OPT228 may rename a `{val_acc}` field earlier in the same literal)."""
    written = lines.segment(node)
    quote = written[-1:]
    if node.end_lineno != node.lineno or quote not in ("'", '"') or written.endswith(quote * 3):
        return None
    if not written.endswith(old + quote):
        return None
    line, col = node.lineno, lines.char_col(node.lineno, node.col_offset) + 1
    return TextEdit(line, col + len(written) - 1 - len(old), old, new)


# -- OPT225, OPT226: model methods and the fit arguments Keras 3 dropped ------------------------

# `fit` is a key of keras1.csv, whose rows with no New say which of its arguments Keras 3 dropped;
# `evaluate` and `predict` dropped the same ones (`workers=`: a keras.utils.PyDataset takes it).
_LIKE_FIT = frozenset({"evaluate", "predict"})


def _model_receivers(keyed: Sequence[tuple[ast.Call, Key]]) -> set[str]:
    """What the file calls a model's `fit`, `compile`, ... on (`model`, `self.net`)."""
    return {dotted(call.func.value) for call, key in keyed
            if key[0] == "Model" and isinstance(call.func, ast.Attribute)} - {None}


def _model_methods(path: str, facts: Facts, lines: SourceLines, catalog: Catalog,
                   keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """OPT225: `model.fit_generator(gen, ...)`, a model method Keras 3 renamed (`fit`): renamed
    where the call passes at most its first argument by position, since the two methods' other
    positional parameters differ. The arguments of `evaluate` and `predict` that Keras 3 dropped
    from them as from `fit` (OPT226, `workers=`): removed (keras1.lint does `fit`'s). A count of
    steps given as a float (OPT236, roles.csv `step_count`), on any of the three."""
    renamed = catalog.moved("method")
    dropped = [rule for rule in catalog.keras1_rules(("Model", "fit")) if not rule.new]
    models = _model_receivers(keyed)
    found: list[Diagnostic] = []
    top: dict[str, str] | None = None
    for call in facts.calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and dotted(func.value) in models):
            continue
        method = renamed.get(func.attr, func.attr)
        if func.attr in renamed:
            found.append(_renamed_method(path, lines, call, func, method))
        elif func.attr == "predict_classes":
            found.append(_predict_classes(path, lines, call, func, _losses(keyed, dotted(func.value))))
        steps = catalog.roles.step_counts.get(("Model", method))
        if steps:  # OPT236: `steps_per_epoch=len(x) / 32`
            top = {name: module for name, (module, _, _) in _top_level_imports(facts).items()} if top is None else top
            found.extend(step_counts(path, facts, lines, call, steps, top))
        if method in _LIKE_FIT:
            found.extend(removed_arguments(path, lines, call, {
                rule.old: (rule.code, rule.message.replace("fit()", f"{method}()")) for rule in dropped}))
    return found


def _renamed_method(path: str, lines: SourceLines, call: ast.Call, func: ast.Attribute, new: str) -> Diagnostic:
    line, col, written = lines.attribute_name(func)
    fix: tuple[TextEdit, ...] = ()
    if len(call.args) <= 1 and written:
        fix = (TextEdit(line, col, func.attr, new),
               *(TextEdit(k.lineno, lines.char_col(k.lineno, k.col_offset) + 1, "generator", "x")
                 for k in call.keywords if k.arg == "generator"))  # the data is fit's `x`
    message = f"Keras 2 method '{func.attr}' is gone from Keras 3; use '{new}'"
    if not fix:
        message += " with its arguments by keyword (their positions differ)"
    return Diagnostic(path, line, col, "OPT225", message + (REWRITES if fix else ""), fix)


# The losses of a model whose outputs are one probability per class: Keras 2's `predict_classes`
# took the argmax of such an output (of more than one unit; a single unit it thresholded at 0.5).
_PER_CLASS_LOSSES = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy",
                               "CategoricalCrossentropy", "SparseCategoricalCrossentropy"})


def _losses(keyed: Sequence[tuple[ast.Call, Key]], receiver: str | None) -> set[str | None]:
    """The losses the file compiles the model `receiver` with: a string's value or a loss class's
    name (`keras.losses.CategoricalCrossentropy()`), None for any other form."""
    found: set[str | None] = set()
    for call, key in keyed:
        if key != ("Model", "compile") or not isinstance(call.func, ast.Attribute) or dotted(call.func.value) != receiver:
            continue
        loss = _argument(call, 1, "loss")
        if isinstance(loss, ast.Constant) and isinstance(loss.value, str):
            found.add(loss.value)
        elif isinstance(loss, ast.Call) and not loss.args and not loss.keywords:
            found.add(called_name(loss.func))
        else:
            found.add(None)
    return found


def _predict_classes(path: str, lines: SourceLines, call: ast.Call, func: ast.Attribute, losses: set[str | None]) -> Diagnostic:
    """OPT225: `model.predict_classes(x)`, gone since Keras 2.6. It was `predict` followed by the
    argmax over the last axis (an output of one unit: a threshold at 0.5). Where every compile of
    the model has a loss of one probability per class, it becomes `model.predict(x).argmax(axis=-1)`
    (NumPy's method on what `predict` returns: no import); otherwise it is reported only."""
    line, col, written = lines.attribute_name(func)
    fix: tuple[TextEdit, ...] = ()
    if losses and losses <= _PER_CLASS_LOSSES and written:
        end = (call.end_lineno, lines.char_col(call.end_lineno, call.end_col_offset) + 1)
        fix = (TextEdit(line, col, func.attr, "predict"), TextEdit(*end, "", ".argmax(axis=-1)"))
    message = ("Keras 2 method 'predict_classes' is gone from Keras 3; use 'predict' and take the class: "
               + ("'predict(x).argmax(axis=-1)'" if fix else
                  "'predict(x).argmax(axis=-1)' for one output unit per class, "
                  "'(predict(x) > 0.5).astype(\"int32\")' for a single sigmoid unit"))
    return Diagnostic(path, line, col, "OPT225", message + (REWRITES if fix else ""), fix)


# -- OPT227: names Keras 3 keeps only in TensorFlow's Keras ------------------------------------

def _legacy_names(path: str, facts: Facts, lines: SourceLines, moved: Mapping[str, str]) -> list[Diagnostic]:
    """OPT227: `from keras.preprocessing.image import ImageDataGenerator`, a name of a Keras 2
    module that Keras 3 dropped and TensorFlow's Keras (`tensorflow.keras`, Keras 3's own
    `keras._tf_keras`) still holds, with every other name of that module: the statement imports
    from `tensorflow.keras.preprocessing.image` instead. The module imported by its name or
    bound with `as` (`from keras.preprocessing import text`, then `text.Tokenizer`) is rewritten
    the same way when the file reads such a name through it."""
    legacy: dict[str, set[str]] = {}  # "preprocessing.image" -> {"ImageDataGenerator", ...}
    for old in moved:
        module, _, name = old.rpartition(".")
        legacy.setdefault(module, set()).add(name)
    if not legacy:
        return []
    read = {(node.value.id, node.attr) for node in ast.walk(facts.tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
    found: list[Diagnostic] = []
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level and node.module.startswith("keras."):
            rest = node.module[len("keras."):]
            if rest in legacy:
                names = [a.name for a in node.names if a.name in legacy[rest]]
            else:
                names = [f"{a.name}.{n}" for a in node.names if f"{rest}.{a.name}" in legacy
                         for n in sorted(legacy[f"{rest}.{a.name}"]) if (a.asname or a.name, n) in read]
            if names:
                start = lines.char_col(node.lineno, node.col_offset)
                col = lines.lines[node.lineno - 1].find(node.module, start) + 1
                found.append(_legacy_import(path, node.lineno, col, node.module, names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                rest = alias.name[len("keras."):] if alias.name.startswith("keras.") else ""
                names = [n for n in sorted(legacy.get(rest, ())) if alias.asname and (alias.asname, n) in read]
                if names:
                    found.append(_legacy_import(path, alias.lineno, lines.char_col(alias.lineno, alias.col_offset) + 1,
                                                alias.name, names))
    return found


def _legacy_import(path: str, line: int, col: int, module: str, names: list[str]) -> Diagnostic:
    new = f"tensorflow.{module}"
    fix = (TextEdit(line, col, module, new),) if col > 0 else ()
    message = (f"Keras 3 has {', '.join(repr(n) for n in names)} only in TensorFlow's Keras; "
               f"import from '{new}'")
    return Diagnostic(path, line, max(col, 1), "OPT227", message + (REWRITES if fix else ""), fix)


# -- OPT228: a metric read under the name Keras 2 logged it as ----------------------------------

def _metric_names(path: str, facts: Facts, lines: SourceLines, aliases: Mapping[str, str],
                  keyed: Sequence[tuple[ast.Call, Key]]) -> list[Diagnostic]:
    """OPT228: `history.history['val_acc']`, `EarlyStopping(monitor='val_acc')` or
    `ModelCheckpoint('w-{val_acc:.2f}.h5')` in a file that compiles `metrics=['accuracy']`. Keras
    2.2 logged that metric as `acc`, Keras 3 logs it as written in `compile` (`accuracy`): the
    name read becomes the compiled one. Only where every `compile` of the file lists its metrics
    as strings, and exactly one of them is another name of the metric read (keras2.csv's `metric`
    rows: `acc` and `accuracy`, `mae` and `mean_absolute_error`, ...)."""
    compiled: set[str] = set()
    for call, key in keyed:
        if key != ("Model", "compile"):
            continue
        for keyword in call.keywords:
            if keyword.arg in ("metrics", "weighted_metrics"):
                value = keyword.value
                items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else None
                if items is None or not all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
                    return []  # a metric object or a name: what it logs is not known here
                compiled.update(i.value for i in items)
            elif keyword.arg is None:
                return []
    groups: dict[str, set[str]] = {}
    for old, new in aliases.items():
        group = groups.get(old, set()) | groups.get(new, set()) | {old, new}
        for name in group:
            groups[name] = group

    def renamed(read: str) -> str | None:
        prefix = "val_" if read.startswith("val_") else ""
        base = read[len(prefix):]
        if base in compiled or base not in groups:
            return None
        logged = groups[base] & compiled
        return prefix + logged.pop() if len(logged) == 1 else None

    found: list[Diagnostic] = []
    for literal, is_path in _metric_reads(facts, keyed):
        if not is_path:  # a key or a monitor: the whole string
            new = renamed(literal.value)
            pairs = [(literal.value, new)] if new else []
        else:  # a checkpoint path: its `{val_acc:.2f}` fields
            fields = set(_format_fields(_ending(literal)))
            pairs = [(name, new) for name in sorted(fields) if (new := renamed(name))]
        if not pairs:
            continue
        written = lines.segment(literal)
        line, col = literal.lineno, lines.char_col(literal.lineno, literal.col_offset) + 1
        edits: list[TextEdit] = []
        for old, new in pairs:
            if not is_path:  # the whole key, quotes included
                edits += [TextEdit(line, col, written, written.replace(old, new))] if written[1:-1] == old else []
            else:  # each `{old` field of the path, alone: OPT224 may change its ending
                edits += [TextEdit(line, col + m.start() + 1, old, new)
                          for m in re.finditer(r"\{" + re.escape(old) + r"(?=[:}!])", written)]
        fix = tuple(edits) if literal.end_lineno == line else ()
        shown = ", ".join(f"{old!r} as {new!r}" for old, new in pairs)
        message = f"Keras 3 logs a metric under the name compile() gives it: read {shown}"
        found.append(Diagnostic(path, line, col, "OPT228", message + (REWRITES if fix else ""), fix))
    return found


def _metric_reads(facts: Facts, keyed: Sequence[tuple[ast.Call, Key]]) -> list[tuple[ast.expr, bool]]:
    """The literals that name a logged metric, each with whether it is a path: a key of what
    `fit` returned (`h.history['acc']`, or a name holding `h.history`), a callback's `monitor=`,
    and a ModelCheckpoint's path (its format fields)."""
    fits = {id(call) for call, key in keyed if key == ("Model", "fit")}
    found: list[tuple[ast.expr, bool]] = []
    for node in ast.walk(facts.tree):
        if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
                and isinstance(node.slice.value, str) and _history_of_fit(facts, fits, node.value)):
            found.append((node.slice, False))
    for call, key in keyed:
        if key[0] != "callbacks":
            continue
        for keyword in call.keywords:
            if keyword.arg == "monitor" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                found.append((keyword.value, False))
        if key[1] == "ModelCheckpoint" and (argument := _argument(call, 0, "filepath")) is not None:
            literal = _path_literal(facts, argument)
            if literal is not None and _ending(literal) is not None:
                found.append((literal, True))
    return found


def _history_of_fit(facts: Facts, fits: set[int], node: ast.expr) -> bool:
    """Whether `node` is `h.history` with `h` what a fit returned, or a name that holds only that."""
    if isinstance(node, ast.Attribute):
        return node.attr == "history" and _fit_result(facts, fits, node.value)
    values = facts.scope_values(node) if isinstance(node, ast.Name) else None
    return bool(values) and all(isinstance(v, ast.Attribute) and _history_of_fit(facts, fits, v) for v in values)


def _format_fields(text: str) -> list[str]:
    """The names of the `{name:spec}` fields of a format string."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return []
