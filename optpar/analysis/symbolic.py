"""OPT237: a TensorFlow function called on a Keras symbolic tensor, which Keras 3 refuses.

Keras 2 let a functional model be built with TensorFlow's functions between its layers:
`x = tf.concat([a, b], axis=-1)`, `outputs = tf.nn.softmax(x)`. In Keras 3 a layer's output
while the model is built is a KerasTensor, a placeholder of a shape, and every TensorFlow
function raises on it ("A KerasTensor cannot be used as input to a TensorFlow function"). Its
`keras.ops` twin takes it and returns another (keras2.csv `tf_op` rows: `tf_op.concat,
ops.concatenate`). On a real tensor the twin computes the same, so the rule only needs to
know that an argument is symbolic to say why, not to be safe.

A value is symbolic when it is `keras.Input(...)`, a layer or model (a Keras call, or a name
every assignment of which is one) applied to a symbolic value (`Dense(8)(x)`, `dense(x)`), a
`tf_op` function of one, arithmetic or a subscript on one, or a name whose last assignment
before the read, in its scope, is one (`x = layers.Dense(8)(x)` then `tf.nn.relu(x)`).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence

from optpar.analysis.facts import Facts
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import SourceLines
from optpar.csvrows import Key
from optpar.imports import dotted

_SAME_KEYWORDS = frozenset({"axis", "keepdims", "dtype"})  # named alike in TensorFlow and keras.ops
_DEPTH = 60
_INPUT = ("layers", "Input")


def tf_functions(path: str, facts: Facts, lines: SourceLines, moved: Mapping[str, str],
                 keyed: Sequence[tuple[ast.Call, Key]], ops: str | None) -> list[Diagnostic]:
    """OPT237 for every call of a `tf_op` function with a symbolic argument. `ops`: how the file
    names `keras.ops` at its top level (`ops`, `keras.ops`), or None: then `<tf>.keras.ops`."""
    if not moved:
        return []
    judge = _Symbolic(facts, {id(call): key for call, key in keyed}, moved)
    found = []
    for node in ast.walk(facts.tree):
        if isinstance(node, ast.Call) and (old := judge.tf_function(node)) is not None:
            if any(judge.holds(arg) for arg in _tensor_arguments(node)):
                found.append(_diagnostic(path, lines, node, old, moved[old], ops))
    return found


class _Symbolic:
    def __init__(self, facts: Facts, keys: Mapping[int, Key], moved: Mapping[str, str]) -> None:
        self.facts, self.keys, self.moved = facts, keys, moved
        self._known: dict[int, bool] = {}

    def tf_function(self, call: ast.Call) -> str | None:
        """The `tf_op` name a call calls (`nn.softmax` for `tf.nn.softmax(...)`), or None."""
        text = dotted(call.func)
        qualified = self.facts.imports.qualify(text) if text else None
        if not qualified or not qualified.startswith("tensorflow."):
            return None
        name = qualified.removeprefix("tensorflow.")
        return name if name in self.moved else None

    def holds(self, node: ast.expr, depth: int = 0) -> bool:
        """Whether `node` is a symbolic tensor while the model is built."""
        if depth > _DEPTH:
            return False
        if id(node) not in self._known:
            self._known[id(node)] = False  # a cycle is not symbolic
            self._known[id(node)] = self._judge(node, depth + 1)
        return self._known[id(node)]

    def _judge(self, node: ast.expr, depth: int) -> bool:
        if isinstance(node, ast.Name):
            value = self.facts.value_before(node)
            return value is not None and self.holds(value, depth)
        if isinstance(node, ast.BinOp):
            return self.holds(node.left, depth) or self.holds(node.right, depth)
        if isinstance(node, ast.UnaryOp):
            return self.holds(node.operand, depth)
        if isinstance(node, ast.Subscript):
            return self.holds(node.value, depth)
        if not isinstance(node, ast.Call):
            return False
        if self.keys.get(id(node)) == _INPUT:
            return True
        if not any(self.holds(arg, depth) for arg in _tensor_arguments(node)):
            return False
        return self.tf_function(node) is not None or self._keras_callable(node.func)

    def _keras_callable(self, func: ast.expr) -> bool:
        """A Keras layer or model: `Dense(8)` (a Keras call, or of a class of the file's that
        subclasses a Keras layer or model), or a name every assignment of which in its scope is
        one (`dense = Dense(8)`)."""
        if isinstance(func, ast.Call):
            return id(func) in self.keys or self._keras_class(func.func)
        if isinstance(func, ast.Name):
            values = self.facts.scope_values(func)
            return bool(values) and all(isinstance(v, ast.Call) and self._keras_callable(v) for v in values)
        return False

    def _keras_class(self, func: ast.expr, depth: int = 0) -> bool:
        """`MyDense` of `class MyDense(keras.layers.Layer)`, directly or through another such class."""
        cls = self.facts.top_level(func.id, ast.ClassDef) if isinstance(func, ast.Name) else None
        return cls is not None and depth < _DEPTH and any(
            (self.facts.imports.key(base) or ("",))[0] in ("layers", "models") or self._keras_class(base, depth + 1)
            for base in cls.bases)


def _tensor_arguments(call: ast.Call) -> list[ast.expr]:
    """The positional arguments, and the elements of a list or tuple among them (`tf.concat([a, b])`)."""
    found: list[ast.expr] = []
    for arg in call.args:
        found.extend(arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg])
    return found


def _diagnostic(path: str, lines: SourceLines, call: ast.Call, old: str, new: str, ops: str | None) -> Diagnostic:
    func = call.func
    line, col = func.lineno, lines.char_col(func.lineno, func.col_offset) + 1
    text = lines.segment(func)
    head = text.split(".")[0]
    target = f"{ops or head + '.keras.ops'}.{new}"
    fixable = (func.end_lineno == func.lineno and text == dotted(func)
               and all(k.arg in _SAME_KEYWORDS for k in call.keywords))
    fix = (TextEdit(line, col, text, target),) if fixable else ()
    message = (f"TensorFlow function 'tf.{old}' on a Keras tensor fails in Keras 3 while the model is "
               f"built; use '{target}'")
    return Diagnostic(path, line, col, "OPT237", message + (REWRITES if fix else ""), fix)
