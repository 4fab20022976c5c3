"""Write the tuning script: the search space, the user's program laid out by `optpar.plan` (what
runs once, what runs per trial in run_trial(), what is left out) with its `params[...]` lookups,
and the hand-over to optpar's runtime, rendered into optpar/templates/tune_script.py.tmpl.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Callable, Sequence

import libcst as cst

from optpar.analysis import Analysis, Site
from optpar.analysis.naming import script_names
from optpar.errors import UserError
from optpar.plan import Driver, Plan, plan
from optpar.rewrite import absl_run_edit, absl_values, apply_edits, fit_edit, params_ref, positions_of, site_edits
from optpar.runtime.state import API_VERSION, required_api
from optpar.seeds import seeding_calls, unseeded
from optpar.source import GENERATED_MARK, STANDALONE_MARK
from optpar.units import Unit, is_future_import

_MAX_OMITTED_LINES = 12
NO_VALIDATION_NOTE = ("fit() has no validation data: each trial holds out 20% of the training data "
                      "(the last 20% of arrays, or a fifth of a tf.data.Dataset's batches, taken once), "
                      "unless the model can only train (a custom train_step and no call)")
MAIN_GUARD_NOTE = "# (the `if __name__ == \"__main__\":` block is replaced by the search's main() below)"


@dataclass(frozen=True)
class Script:
    text: str  # the tuning script
    refactored: str  # the user's program with params[...] lookups (what --diff shows)
    notes: tuple[str, ...]


def _template(name: str) -> Template:
    return Template((resources.files("optpar") / "templates" / name).read_text(encoding="utf-8"))


def _lines(lines: Sequence[str]) -> str:
    """Lines as a block of text that ends with a newline, or nothing."""
    return "".join(f"{line}\n" for line in lines)


def runtime_sources() -> dict[str, str]:
    """{module name: source} of the runtime package, for `--standalone`."""
    folder = resources.files("optpar").joinpath("runtime")
    return {("optpar.runtime" if entry.name == "__init__.py" else f"optpar.runtime.{entry.name[:-3]}"):
            entry.read_text(encoding="utf-8")
            for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".py")}


def standalone_block() -> str:
    """The runtime package as source text inside the script, and an importer that serves it: the
    script then runs where `import optpar` is impossible (Spark ships it by value anyway)."""
    sources = []
    for name, source in runtime_sources().items():
        if "\'\'\'" in source or source.rstrip().endswith("\\"):
            raise AssertionError(f"{name} cannot be carried as a raw string")
        sources.append(f"    {name!r}: r\'\'\'{source}\'\'\',")
    return _template("standalone.py.tmpl").substitute(mark=STANDALONE_MARK, api=API_VERSION, sources=_lines(sources))


# -- text of the generated parts ----------------------------------------------------------------

def _space_block(sites: Sequence[Site], names: dict[str, str]) -> str:
    lines = ["# The search space: one entry per tuned value, anchored on the value you wrote.", f"{names['SPACE']} = {{"]
    for site in sites:
        lines.append(f"    # {site.origin}")
        lines.append(f"    {site.id!r}: {site.space.code(site.id)},")
    lines.append("}")
    lines.append("# Your own values: trial 1 of every search runs exactly these.")
    lines.append(f"{names['DEFAULTS']} = {{")
    for site in sites:
        lines.append(f"    {site.id!r}: {site.default!r},  # {site.origin}")
    lines.append("}")
    lines.append("# DEFAULTS as hyperopt encodes them (hp.choice entries as indices).")
    lines.append(f"{names['BASELINE_POINT']} = {{")
    for site in sites:
        lines.append(f"    {site.id!r}: {site.space.point(site.default)!r},")
    lines.append("}")
    lines.append("# The values of the trial being run; the code below reads them.")
    lines.append(f"{names['params']} = dict({names['DEFAULTS']})")
    return _double_quoted("\n".join(lines) + "\n")


def _double_quoted(code: str) -> str:
    """Single-quoted string literals as double-quoted ones where nothing else changes."""
    out = []
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        text = token.string
        plain = text[:1] == SQ and text[:3] != SQ * 3 and DQ not in text and BS not in text
        if token.type == tokenize.STRING and plain:
            text = DQ + text[1:-1] + DQ
        out.append(token._replace(string=text))
    return tokenize.untokenize(out)


SQ, DQ, BS = chr(39), chr(34), chr(92)


def _commented(code: str) -> list[str]:
    lines = code.strip("\n").splitlines()
    shown = [f"#     {line}".rstrip() for line in lines[:_MAX_OMITTED_LINES]]
    if len(lines) > _MAX_OMITTED_LINES:
        shown.append(f"#     ... ({len(lines) - _MAX_OMITTED_LINES} more lines)")
    return shown


def _tuned_flags(sites) -> str:
    """split_argv's arguments: the flags of the command-line options the search tunes (a value
    given with one after "--" would override every trial's)."""
    flags = [flag for site in sites for flag in site.flags]
    return "tuned=%r" % (tuple(flags),) if flags else ""


def build_script(analysis: Analysis, source_name: str, out_name: str, standalone: bool = False,
                 fit_at: str = "", where: Callable[[int, int], str] | None = None) -> Script:
    """`where(line, col)` names a place of a notebook's program (`model.ipynb:cell_3:2:1`): given, the
    statements that feed the measured fit nothing run in `with optpar_runtime.idle(...)`. A
    notebook's cells run one by one where they were written, and one that fails elsewhere (pydot,
    Colab, widgets) is common; a script runs top to bottom, so its author has seen each run."""
    path = analysis.path
    if not analysis.sites:
        raise UserError(path, 1, 1, "no tunable hyperparameters found (nothing to tune)")
    if analysis.fit is None:
        raise UserError(path, 1, 1, "no Keras fit() call found: optpar needs the call that trains the model")
    try:
        original = cst.parse_module(analysis.text)
    except cst.ParserSyntaxError as exc:
        raise UserError(path, exc.raw_line, exc.raw_column + 1, f"syntax error: {exc.message}") from None
    names = script_names(analysis.tree)
    edits = site_edits(analysis.sites, lambda site: params_ref(site, names["params"]))
    positions = positions_of(original)
    refactored, missed = apply_edits(original, edits, positions)
    if missed:
        span = missed[0].span
        raise UserError(path, span.line, span.col + 1, "internal: could not place a params[...] lookup here")
    notes = () if analysis.fit.has_validation else (NO_VALIDATION_NOTE,)
    # an absl flag is set as the trial starts main (absl defines it once): its DEFINE stays as written
    trial_edits = site_edits([s for s in analysis.sites if not s.absl_flag],
                             lambda site: params_ref(site, names["params"]))
    if analysis.absl_run is not None:
        trial_edits.append(absl_run_edit(analysis.absl_run, analysis.sites, names["params"]))
    trial_module, missed = apply_edits(original, [*trial_edits, fit_edit(analysis.fit)], positions)
    if missed:
        span = analysis.fit.span
        raise UserError(path, span.line, span.col + 1, "internal: could not instrument this fit() call")
    layout = plan(analysis, trial_module)
    code = trial_module.code_for_node
    passes = analysis.fit.passes if analysis.fit.passes and any(
        s.id == analysis.fit.passes[0] for s in analysis.sites) else None
    left = unseeded(analysis.tree)
    text = _template("tune_script.py.tmpl").substitute(
        mark=GENERATED_MARK, source=source_name, out=out_name,
        api=required_api(passes is not None, bool(_idle_units(layout, where)), bool(left),
                         analysis.absl_run is not None),
        passes=("" if passes is None else f",\n        passes={passes!r}") + (f", unseeded={left!r}" if left else ""),
        flag=" --standalone" if standalone else "",
        notes=_lines([f"# Note: {n}" for n in notes]),
        future=_lines([code(u.cst).strip("\n") for u in layout.setup if is_future_import(u.first)]),
        standalone=standalone_block() + "\n\n" if standalone else "",
        source_literal=repr(source_name), fit_at=repr(fit_at),
        tuned_flags=_tuned_flags(analysis.sites),
        seeds=repr(list(seeding_calls(analysis.tree, path))),
        space=_space_block(analysis.sites, names), **{"n_" + k: v for k, v in names.items()},
        setup=_setup_block(layout, code, names["run_trial"], where, analysis.absl_run is not None),
        run_trial=_run_trial(trial_module, layout, source_name, names, where,
                             absl_values(analysis.sites, names["params"]) if analysis.absl_run else ()),
        omitted=_omitted_block(layout, code, source_name),
    )
    return Script(text=text, refactored=refactored.code, notes=notes)


def _setup_block(layout: Plan, code: Callable[[cst.CSTNode], str], run_trial: str,
                 where: Callable[[int, int], str] | None, absl: bool = False) -> str:
    """The script's top level between the search space and run_trial(): what runs once. With
    `where` (a notebook), a statement that feeds the measured fit nothing runs in
    `with optpar_runtime.idle(...)`. `absl`: absl's app.run starts the program; its flags are
    parsed where the driver's body starts."""
    lines = []
    driver = layout.driver
    idle = _idle_units(layout, where)
    for unit in layout.setup:
        if is_future_import(unit.first):  # in its place at the top of the script
            continue
        if unit.is_main_guard:
            lines.append(MAIN_GUARD_NOTE)
        elif driver is not None and unit is driver.start:  # `main()`, or absl's `app.run(main)`
            lines.append(f"# {driver.name}()  (the search calls it, as {run_trial}() below)"
                         if unit.is_bare_call(driver.name)
                         else f"# {ast.unparse(unit.first)}  (the search runs {driver.name}() as {run_trial}() below)")
        elif driver is not None and unit is driver.unit:
            if absl:
                parse = f"{driver.argv} = " if driver.argv else ""
                lines.append(f"{parse}optpar_runtime.absl_flags()  # absl parses your program's flags, as app.run did")
            lines += _parameters(driver, code)
            if driver.once:
                lines.append(f"# From {driver.name}(): the part that does not depend on a tuned value runs once.")
                lines += [code(u.cst).rstrip("\n") for u in driver.once]
            lines.append(f"# {driver.name}() runs as {run_trial}() below.")
        elif id(unit.cst) in idle:
            if IDLE_NOTE not in lines:
                lines.append(IDLE_NOTE)
            lines.append(code(_in_idle(unit.cst, unit, where)).rstrip("\n"))
        else:
            lines.append(code(unit.cst).rstrip("\n"))
    return _lines(lines)


def _parameters(driver: Driver, code: Callable[[cst.CSTNode], str]) -> list[str]:
    """The driver's parameters bound as its call binds them: run_trial() is its body, and reads
    them. A call with no arguments gives each its default (`def main(verbose=0)`: `verbose = 0`,
    `*args` empty); absl's app.run passes the command line's arguments in the first (bound where
    the flags are parsed)."""
    function = driver.unit.cst
    assert isinstance(function, cst.FunctionDef)
    params = function.params
    lines = [f"{p.name.value} = {code(p.default)}" for p in (*params.posonly_params, *params.params, *params.kwonly_params)
             if p.default is not None and p.name.value != driver.argv]
    if isinstance(params.star_arg, cst.Param):
        lines.append(f"{params.star_arg.name.value} = ()")
    if params.star_kwarg is not None:
        lines.append(f"{params.star_kwarg.name.value} = {{}}")
    if lines:
        lines.insert(0, f"# {driver.name}()'s parameters, as its call binds them.")
    return lines


IDLE_NOTE = ("# A statement in `with optpar_runtime.idle(...)` feeds the measured fit() nothing: it runs once,\n"
             "# and if it fails, the search says so in one line and goes on without it.")


def _idle_units(layout: Plan, where: Callable[[int, int], str] | None) -> set[int]:
    """The ids of the statements the script runs in `with optpar_runtime.idle(...)`: a notebook's
    (`where` given) that feed the measured fit nothing."""
    return {id(u.cst) for u in layout.idle} if where is not None else set()


def _in_idle(statement: cst.BaseStatement, unit: Unit, where: Callable[[int, int], str]) -> cst.With:
    """`statement` (the code of `unit`) inside `with optpar_runtime.idle("<where it is>"):`, its
    leading comments kept above."""
    label = where(unit.first.lineno, unit.first.col_offset + 1)
    wrapper = cst.parse_statement(f"with optpar_runtime.idle({label!r}):\n    pass\n")
    assert isinstance(wrapper, cst.With) and isinstance(wrapper.body, cst.IndentedBlock)
    return wrapper.with_changes(
        leading_lines=statement.leading_lines,
        body=wrapper.body.with_changes(body=[statement.with_changes(leading_lines=())]))


def _omitted_block(layout: Plan, code: Callable[[cst.CSTNode], str], source_name: str) -> str:
    if not layout.omitted:
        return ""
    lines = [f"# Not run during the search (after fit() in {source_name}):"]
    for unit in layout.omitted:
        lines += _commented(code(unit.cst))
    return _lines(lines)


def _run_trial(module: cst.Module, layout: Plan, source_name: str, names: dict[str, str],
               where: Callable[[int, int], str] | None, flags: Sequence[str] = ()) -> str:
    """`flags`: the tuned absl flags' entries (`"units": params["units"]`), set as a trial starts
    when run_trial() is the body of an absl program's main."""
    header = [
        f"def {names['run_trial']}():",
        f'    """One evaluation: the code of {source_name} that builds, compiles and fits the model,',
        f'    reading its tuned values from `{names["params"]}`."""',
    ]
    if layout.declared:
        header.append(f"    global {', '.join(layout.declared)}")
    if flags and layout.driver is not None:
        header.append("    optpar_runtime.absl_flags({  # the flags the search tunes, as if given on the command line")
        header += [f"        {entry}," for entry in flags]
        header.append("    })")
    func = cst.parse_statement("\n".join(header) + "\n    pass\n")
    assert isinstance(func, cst.FunctionDef)
    plain = _PlainAssignments(frozenset(layout.declared))
    idle = _idle_units(layout, where)

    def statement(unit: Unit) -> cst.BaseStatement:
        node = unit.cst.visit(plain)
        return _in_idle(node, unit, where) if id(unit.cst) in idle else node

    new_body = list(func.body.body[:-1]) + [
        (_strip_leading_blank if i == 0 else _unindented_blanks)(statement(u)) for i, u in enumerate(layout.trial)]
    func = func.with_changes(body=func.body.with_changes(body=new_body))
    return module.code_for_node(func).rstrip("\n") + "\n"


class _PlainAssignments(cst.CSTTransformer):
    """`units: int = 64` of a name run_trial() declares global, as `units = 64` (Python refuses an
    annotated global); a bare `units: int` as `pass`. Nested functions and classes are their own."""

    def __init__(self, declared: frozenset[str]) -> None:
        super().__init__()
        self.declared = declared

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_AnnAssign(self, original: cst.AnnAssign, updated: cst.AnnAssign) -> cst.BaseSmallStatement:
        if not (isinstance(updated.target, cst.Name) and updated.target.value in self.declared):
            return updated
        if updated.value is None:
            return cst.Pass()
        return cst.Assign(targets=[cst.AssignTarget(updated.target)], value=updated.value)


def _strip_leading_blank(stmt: cst.BaseStatement) -> cst.BaseStatement:
    lines = [line for line in stmt.leading_lines if line.comment is not None]
    return stmt.with_changes(leading_lines=lines)


def _unindented_blanks(stmt: cst.BaseStatement) -> cst.BaseStatement:
    lines = [line.with_changes(indent=False) if line.comment is None else line
             for line in stmt.leading_lines]
    return stmt.with_changes(leading_lines=lines)

