"""The user's own say over what is tuned: `# optpar:` comments and the config's include/exclude.

A comment on the line of a value overrides the metadata for that site:
`# optpar: skip`, `# optpar: choice(16, 32, 48)`, `# optpar: range(0.1, 0.5)`,
`# optpar: range(1e-4, 1e-2, log)`. On the line of a constant (`DROPOUT = 0.3  # optpar: ...`)
that no Keras call uses, it makes the constant a hyperparameter of its own.
"""

from __future__ import annotations

import ast
import dataclasses

from optpar.config import Config
from optpar.directives import Directive, parse_directives
from optpar.errors import UserError
from optpar.match import Analysis, Site, literal_value, node_span, source_lines
from optpar.space import Space


def directive_space(directive: Directive, value: object, path: str) -> Space:
    """The space a comment asks for; the user's own value is always part of it."""
    if directive.kind == "choice":
        options = tuple(directive.options)
        if value not in options:
            options = (*options, value)
        return Space("choice", options=options)
    if isinstance(value, (str, bool)) or not isinstance(value, (int, float)):
        raise UserError(path, directive.line, directive.col,
                        f"range() needs a number here, the value is {value!r}")
    low, high = min(directive.low, value), max(directive.high, value)
    if directive.log:
        return Space("loguniform", low=float(low), high=float(high))
    if directive.is_integer and isinstance(value, int):
        return Space("quniform", low=low, high=high, q=1, integer=True)
    return Space("uniform", low=float(low), high=float(high))


def _kind(value: object) -> str:
    if isinstance(value, bool) or isinstance(value, str):
        return "categorical"
    return "int" if isinstance(value, int) else "float"


def _constant_site(analysis: Analysis, directive: Directive, taken: set[str]) -> Site | None:
    for stmt in ast.walk(analysis.tree):
        if (isinstance(stmt, ast.Assign) and stmt.lineno == directive.line and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            ok, value = literal_value(stmt.value)
            if not ok or isinstance(value, tuple):
                return None
            name = stmt.targets[0].id
            node = stmt.value
            text = ast.get_source_segment(analysis.text, node) or repr(value)
            hp_id = name.lower()
            while hp_id in taken:
                hp_id += "_"
            return Site(
                id=hp_id, file=analysis.path,
                span=node_span(source_lines(analysis.text), node),
                call="", param=name, value=text, default=value, tuple_size=0, kind=_kind(value),
                space=directive_space(directive, value, analysis.path),
                origin=f"{analysis.path}:{node.lineno} {name} = {text} (# optpar comment)",
                constant=name, code="OPT103",
            )
    return None


def apply_controls(analysis: Analysis, config: Config) -> Analysis:
    directives = parse_directives(analysis.text, analysis.path)
    by_line: dict[int, list[Site]] = {}
    for site in analysis.sites:
        by_line.setdefault(site.span.line, []).append(site)
    sites: list[Site] = []
    for site in analysis.sites:
        directive = directives.get(site.span.line)
        if directive is None:
            sites.append(site)
            continue
        if directive.kind == "skip":
            continue
        if len(by_line[site.span.line]) > 1:
            raise UserError(analysis.path, directive.line, directive.col,
                            f"this line holds {len(by_line[site.span.line])} hyperparameters "
                            f"({', '.join(s.id for s in by_line[site.span.line])}); put the one "
                            "to control on a line of its own")
        sites.append(dataclasses.replace(
            site, space=directive_space(directive, site.default, analysis.path)))
    taken = {s.id for s in sites}
    for line, directive in sorted(directives.items()):
        if directive.kind == "skip" or line in by_line:
            continue
        site = _constant_site(analysis, directive, taken)
        if site is None:
            raise UserError(analysis.path, directive.line, directive.col,
                            "no tunable value on this line (put the comment on the line of the "
                            "value, or of a constant such as `DROPOUT = 0.3`)")
        taken.add(site.id)
        sites.append(site)
    sites = [s for s in sites if config.wants(s.id)]
    sites.sort(key=lambda s: (s.span.line, s.span.col))
    if len(sites) == len(analysis.sites) and all(a is b for a, b in zip(sites, analysis.sites)):
        return analysis
    return dataclasses.replace(analysis, sites=tuple(sites))
