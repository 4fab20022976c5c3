"""Write values (the best ones a search found) back into the user's own source, as literals.

Only the literals at the sites change; comments and formatting stay as written. A value equal to
the user's own leaves its literal untouched, so applying DEFAULTS gives the file back byte for byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import libcst as cst

from optpar.analysis import Analysis, Site
from optpar.errors import UserError
from optpar.rewrite import apply_edits, site_edits


def render(value: object, original: str) -> str:
    """A literal for `value`, in the style of the literal it replaces."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        quote = "'" if original[:1] == "'" else '"'
        body = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
        return f"{quote}{body}{quote}"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        text = f"{value:.4g}"
        if "e" in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}e{int(exponent)}"
        elif "." not in text:
            text += ".0"
        return text
    raise ValueError(f"cannot write {value!r} as a literal")


def written(site: Site, value: object) -> str:
    """The source text of `value` at this site: a literal in the style of the one it replaces
    (a tuple site repeats it: `(5, 5)`)."""
    one = render(value, site.value.lstrip("( "))
    return f"({', '.join([one] * site.tuple_size)})" if site.tuple_size else one


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
        except (TypeError, ValueError):
            return False
    return a == b and type(a) is type(b)


def load_best(path: str | Path) -> tuple[dict, dict]:
    """(best values, baseline values) from a best.json written by a search."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(path, 1, 1, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(path, 1, 1, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(path, exc.lineno, exc.colno, f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UserError(path, 1, 1, "expected a JSON object with a \"best\" entry")
    best = data.get("best", data)
    baseline = data.get("baseline", {})
    if not isinstance(best, dict) or not isinstance(baseline, dict):
        raise UserError(path, 1, 1, "\"best\" and \"baseline\" must be objects")
    return best, baseline


def _coerce(site: Site, value: object, best_path: str) -> object:
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise UserError(best_path, 1, 1, f"{site.id}: expected one value, got {list(value)}")
        value = value[0]
    if site.kind == "int" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if site.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def applied_text(analysis: Analysis, best: Mapping[str, object], baseline: Mapping[str, object],
                 best_path: str) -> tuple[str, list[tuple[Site, object]]]:
    """The source with the best values written in, and the (site, new value) pairs changed."""
    sites = {s.id: s for s in analysis.sites}
    missing = [hp_id for hp_id in best if hp_id not in sites]
    if missing:
        raise UserError(analysis.path, 1, 1,
                        f"the file no longer has the hyperparameter(s) {', '.join(sorted(missing))} "
                        f"of {best_path}: it changed since the search; refactor and search again")
    for hp_id, old in baseline.items():
        site = sites.get(hp_id)
        if site is not None and not _same(_coerce(site, old, best_path), site.default):
            raise UserError(analysis.path, site.line, site.col,
                            f"{hp_id} is {site.value} here but was {old!r} when {best_path} was "
                            "searched: the file changed; refactor and search again")
    changes: list[tuple[Site, object]] = []
    for hp_id, value in best.items():
        site = sites[hp_id]
        value = _coerce(site, value, best_path)
        if not _same(value, site.default):
            changes.append((site, value))
    if not changes:
        return analysis.text, []
    new_values = {site.id: value for site, value in changes}

    def literal(site: Site) -> str | None:
        return written(site, new_values[site.id]) if site.id in new_values else None

    module = cst.parse_module(analysis.text)
    new, missed = apply_edits(module, site_edits([s for s, _ in changes], literal))
    if missed:
        span = missed[0].span
        raise UserError(analysis.path, span.line, span.col + 1, "could not place the value here")
    return new.code, changes
