"""The measured fit(): the last Keras `fit` call of the file, and whether it has validation data
(roles.csv's `validation` rows: by keyword, or given positionally)."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.analysis.records import FitCall
from optpar.analysis.syntax import SourceLines
from optpar.csvrows import Key
from optpar.roles import Roles


FIT: Key = ("Model", "fit")


def measured_call(keyed: Sequence[tuple[ast.Call, Key]]) -> ast.Call | None:
    fits = [call for call, key in keyed if key == FIT]
    return fits[-1] if fits else None


def measured_fit(lines: SourceLines, roles: Roles, keyed: Sequence[tuple[ast.Call, Key]]) -> FitCall | None:
    call = measured_call(keyed)
    if call is None:
        return None
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    has_validation = any(r.name in keywords or (r.position is not None and len(call.args) > r.position)
                         for r in roles.validation.get("fit", ()))
    callbacks = keywords.get("callbacks")
    return FitCall(lines.span(call), has_validation,
                   lines.span(callbacks) if callbacks is not None else None)
