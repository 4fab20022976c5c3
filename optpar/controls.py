"""The user's own say over what is tuned: `# optpar:` comments and the config's include/exclude.

A comment on the line of a value overrides the metadata for that site:
`# optpar: skip`, `# optpar: choice(16, 32, 48)`, `# optpar: range(0.1, 0.5)`,
`# optpar: range(1e-4, 1e-2, log)`, and `# optpar: repeat(1, 4)` on a layer line (optpar.repeat).
On the line of a constant (`DROPOUT = 0.3  # optpar: ...`) that no Keras call uses, it makes the
constant a hyperparameter of its own.

On a line with several hyperparameters (`Dense(32, activation="relu"),  # optpar: ...`):
- `skip` skips all of them; `units=skip` only the one named;
- a name (`units=choice(...)`, `activation=...`, `rate=range(...)`, or a constant's or function
  parameter's own name) picks the one whose parameter, or constant, has that name;
- `choice(...)` picks the one whose value is among the options (32 among ints, never "32");
  failing that, the one whose value has the options' type (a number among numbers);
- `range(...)` picks the one numeric value; of several, the one inside the range;
- a comment that fits more than one, or none, is an error that says to name the parameter.
"""

from __future__ import annotations

import ast
import dataclasses

from optpar.analysis import Analysis, Site
from optpar.analysis.naming import IdUniquer, identifier, make_site
from optpar.analysis.syntax import SourceLines, literal_value
from optpar.config import Config
from optpar.directives import Directive, parse_directives
from optpar.errors import UserError
from optpar.repeat import repeat_site
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


def _category(value: object) -> str:
    """What kind of literal a value is, for matching it with a comment's options."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__  # str, tuple, NoneType


def _for_site(directive: Directive, site: Site) -> Directive:
    """A choice for a square tuple (`kernel_size=(3, 3)`, tuned as one number) may list its
    options as tuples: choice((3, 3), (5, 5)) is choice(3, 5)."""
    if directive.kind != "choice" or not site.tuple_size:
        return directive
    options = tuple(
        option[0] if isinstance(option, tuple) and len(option) == site.tuple_size
        and len(set(option)) == 1 else option
        for option in directive.options)
    return dataclasses.replace(directive, options=options)


def _among(value: object, options: tuple) -> bool:
    return any(_category(option) == _category(value) and option == value for option in options)


def _fitting(directive: Directive, sites: list[Site]) -> list[Site]:
    """The sites of a line that an unnamed choice(...) or range(...) fits."""
    if directive.kind == "choice":
        exact = [s for s in sites if _among(s.default, _for_site(directive, s).options)]
        if exact:
            return exact
        return [s for s in sites
                if {_category(o) for o in _for_site(directive, s).options} == {_category(s.default)}]
    numeric = [s for s in sites if _category(s.default) == "number"]
    inside = [s for s in numeric if directive.low <= s.default <= directive.high]
    return inside if len(numeric) > 1 and inside else numeric


def _label(site: Site) -> str:
    return site.constant or site.param


def _targets(directive: Directive, sites: list[Site], path: str) -> list[Site]:
    """The sites of the directive's line that it controls."""
    def error(message: str) -> UserError:
        return UserError(path, directive.line, directive.col, message)

    listed = ", ".join(f"{_label(s)}={s.value}" for s in sites)
    if directive.name is not None:
        named = ([s for s in sites if s.constant == directive.name]
                 or [s for s in sites if s.param == directive.name])
        if not named:
            raise error(f"no hyperparameter named {directive.name!r} on this line "
                        f"(it has {listed})")
        if len(named) > 1:
            raise error(f"{len(named)} hyperparameters named {directive.name!r} on this line "
                        f"({', '.join(s.id for s in named)}); put the one to control on a line "
                        "of its own")
        return named
    if directive.kind == "skip" or len(sites) == 1:
        return sites
    fits = _fitting(directive, sites)
    if len(fits) == 1:
        return fits
    candidates = fits or sites
    labels = [_label(s) for s in candidates]
    how = (f"name the one it is for, e.g. # optpar: {labels[0]}={directive.spec()}"
           if len(set(labels)) == len(labels) else "put the one to control on a line of its own")
    fitted = f"fits {len(fits)}" if fits else "fits none"
    raise error(f"{directive.spec()} {fitted} of the {len(sites)} hyperparameters on this line "
                f"({listed}); {how}")


def _kind(value: object) -> str:
    if isinstance(value, bool) or isinstance(value, str):
        return "categorical"
    return "int" if isinstance(value, int) else "float"


def _constant_site(analysis: Analysis, directive: Directive, ids: IdUniquer) -> Site | None:
    for stmt in ast.walk(analysis.tree):
        if (isinstance(stmt, ast.Assign) and stmt.lineno == directive.line and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)):
            ok, value = literal_value(stmt.value)
            if not ok or isinstance(value, tuple):
                return None
            name = stmt.targets[0].id
            if directive.name is not None and directive.name != name:
                raise UserError(analysis.path, directive.line, directive.col,
                                f"no hyperparameter named {directive.name!r} on this line "
                                f"(the constant here is {name})")
            lines, node = SourceLines.of(analysis.text), stmt.value
            origin = f"{analysis.path}:{node.lineno} {name} = {lines.segment(node)} (# optpar comment)"
            return make_site(
                ids.claim(identifier(name)), analysis.path, lines, node, call="", param=name,
                default=value, kind=_kind(value), space=directive_space(directive, value, analysis.path),
                origin=origin, constant=name, code="OPT103")
    return None


def apply_controls(analysis: Analysis, config: Config) -> Analysis:
    directives = parse_directives(analysis.text, analysis.path)
    by_line: dict[int, list[Site]] = {}
    for site in analysis.sites:
        by_line.setdefault(site.span.line, []).append(site)
    controlled: dict[str, Directive] = {}  # site id -> the directive that controls it
    blocks = []  # the repeat directives on lines with no loop count: repeated blocks
    for line, directive in list(directives.items()):
        if directive.kind != "repeat":
            continue
        del directives[line]
        loops = [s for s in by_line.get(line, ()) if s.code == "OPT104"]
        if len(loops) == 1:  # a block repeated before: the loop's count, within the same bounds
            controlled[loops[0].id] = dataclasses.replace(directive, kind="range")
        else:
            blocks.append(directive)
    for line, directive in directives.items():
        for site in _targets(directive, by_line[line], analysis.path) if line in by_line else ():
            controlled[site.id] = directive
    sites: list[Site] = []
    for site in analysis.sites:
        directive = controlled.get(site.id)
        if directive is None:
            sites.append(site)
        elif directive.kind != "skip":
            sites.append(dataclasses.replace(
                site, space=directive_space(_for_site(directive, site), site.default, analysis.path)))
    ids = IdUniquer(s.id for s in sites)
    for line, directive in sorted(directives.items()):
        if directive.kind == "skip" or line in by_line:
            continue
        site = _constant_site(analysis, directive, ids)
        if site is None:
            raise UserError(analysis.path, directive.line, directive.col,
                            "no tunable value on this line (put the comment on the line of the "
                            "value, or of a constant such as `DROPOUT = 0.3`)")
        sites.append(site)
    sites += [repeat_site(analysis, directive, ids, by_line.get(directive.line, [])) for directive in blocks]
    sites = [s for s in sites if config.wants(s.id)]
    sites.sort(key=lambda s: (s.span.line, s.span.col))
    if len(sites) == len(analysis.sites) and all(a is b for a, b in zip(sites, analysis.sites)):
        return analysis
    return dataclasses.replace(analysis, sites=tuple(sites))
