"""OPT238: one list of metrics for a model of several outputs, which Keras 3 reads otherwise.

Keras 2 gave every output of a functional model all the metrics of `compile(metrics=['mae'])`.
Keras 3 takes a list of metrics per output: a list of one refuses a model of two outputs ("tuple
arity mismatch"), and a list as long as the outputs gives each output one of them. Written
`metrics=[['mae']] * 2`, each output gets them all again, logged as Keras 2 logged them
(`y1_mae`, `y2_mae`). The same holds for `weighted_metrics` (roles.csv's `list_only` rows).

The outputs are counted where the model is made: `Model(inputs, [a, b])` (a list or tuple
written there, or a name holding one), assigned to the name `compile` is called on, directly or
through a function of the file that returns it.
"""

from __future__ import annotations

import ast

from optpar.analysis.facts import FOLLOW_DEPTH, Facts
from optpar.analysis.outputs import returned
from optpar.analysis.records import REWRITES, Diagnostic, TextEdit
from optpar.analysis.syntax import FUNCTIONS, SourceLines

_MODEL = ("models", "Model")


def output_count(facts: Facts, receiver: ast.expr) -> int | None:
    """How many outputs the model `receiver` names has, when every value it holds is a
    `Model(...)` whose outputs are written as a list or tuple of that length; else None."""
    counts = {_count(facts, value, 0) for value in _values(facts, receiver)} or {None}
    return counts.pop() if len(counts) == 1 else None


def per_output(path: str, lines: SourceLines, keyword: ast.keyword, outputs: int | None) -> list[Diagnostic]:
    """OPT238 for `metrics=[...]`, a list or tuple of strings, on a model of 2 outputs or more."""
    value = keyword.value
    if (outputs is None or outputs < 2 or not isinstance(value, (ast.List, ast.Tuple)) or not value.elts
            or not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts)):
        return []
    line, col = value.lineno, lines.char_col(value.lineno, value.col_offset) + 1
    end_line, end_col = value.end_lineno, lines.char_col(value.end_lineno, value.end_col_offset) + 1
    fix = (TextEdit(line, col, "", "["), TextEdit(end_line, end_col, "", f"] * {outputs}"))
    message = (f"Keras 3 takes {keyword.arg}= of a model of {outputs} outputs as one list per output "
               f"(Keras 2 gave each output all of them); use {keyword.arg}=[{lines.segment(value)}] * {outputs}")
    return [Diagnostic(path, line, col, "OPT238", message + REWRITES, fix)]


def _values(facts: Facts, node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.Name):
        return facts.scope_values(node) or []
    return [node]


def _count(facts: Facts, value: ast.expr, depth: int) -> int | None:
    if depth > FOLLOW_DEPTH or not isinstance(value, ast.Call):
        return None
    if facts.imports.key(value.func) == _MODEL:
        outputs = next((k.value for k in value.keywords if k.arg == "outputs"), None)
        if outputs is None and len(value.args) >= 2 and not any(isinstance(a, ast.Starred) for a in value.args[:2]):
            outputs = value.args[1]
        if isinstance(outputs, ast.Name):
            held = facts.scope_values(outputs) or []
            outputs = held[0] if len(held) == 1 else None
        if isinstance(outputs, (ast.List, ast.Tuple)) and not any(isinstance(e, ast.Starred) for e in outputs.elts):
            return len(outputs.elts)
        return None
    helper = facts.top_level(value.func.id, FUNCTIONS) if isinstance(value.func, ast.Name) else None
    if helper is None:
        return None
    counts = set()
    for result in returned(helper):
        held = facts.scope_values(result) if isinstance(result, ast.Name) else [result]
        counts.update(_count(facts, v, depth + 1) for v in held or [None])
    return counts.pop() if len(counts) == 1 else None
