"""Write the tuning script: the user's program with `params[...]` lookups, split into the part
that runs once (data) and the part that runs per trial (build, compile, fit), plus the search space
and the runtime that drives hyperopt.

The split is a dataflow pass over the statements that lead to the measured fit() call: a statement
belongs to the trial when it holds a tuned value or reads a name that such a statement (or a
function that holds a tuned value) produces; every other statement runs once. A `def` or `class`
runs in the trial when what it reads as it runs (defaults, decorators, bases, class attributes)
holds a tuned value or a name the trial binds. Nothing after the measured fit() runs.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import libcst as cst

from optpar.errors import UserError
from optpar.analysis import Analysis, Site
from optpar.rewrite import apply_edits, fit_edit, positions_of, site_edits
from optpar.runtime.state import API_VERSION
from optpar.seeds import seeding_calls
from optpar.source import GENERATED_MARK, STANDALONE_MARK

_MAX_OMITTED_LINES = 12
NO_VALIDATION_NOTE = ("fit() has no validation data: each trial holds out 20% of the training data "
                      "(the last 20% of arrays, or a fifth of a tf.data.Dataset's batches, taken once), "
                      "unless the model can only train (a custom train_step and no call)")


@dataclass(frozen=True)
class Script:
    text: str  # the tuning script
    refactored: str  # the user's program with params[...] lookups (what --diff shows)
    notes: tuple[str, ...]


RUNTIME_IMPORTS = (
    "from optpar import runtime as optpar_runtime",
    "from optpar.runtime import optpar_fit",
    "",
    "optpar_runtime.quiet_native_logs()  # TensorFlow's C++ start-up chatter off stderr",
)


def runtime_sources() -> dict[str, str]:
    """{module name: source} of the runtime package, for `--standalone`."""
    folder = resources.files("optpar").joinpath("runtime")
    return {("optpar.runtime" if entry.name == "__init__.py" else f"optpar.runtime.{entry.name[:-3]}"):
            entry.read_text(encoding="utf-8")
            for entry in sorted(folder.iterdir(), key=lambda e: e.name) if entry.name.endswith(".py")}


def standalone_block() -> str:
    """The runtime package as source text inside the script, and an importer that serves it: the
    script then runs where `import optpar` is impossible (Spark ships it by value anyway)."""
    lines = [
        f"{STANDALONE_MARK} (optpar refactor --standalone): the sources below are optpar/runtime/",
        f"# as of runtime API {API_VERSION}, served to `from optpar import runtime` by an importer.",
        "import importlib.abc as _optpar_abc",
        "import importlib.util as _optpar_util",
        "import linecache as _optpar_linecache",
        "import sys as _optpar_sys",
        "import types as _optpar_types",
        "",
        "_OPTPAR_RUNTIME = {",
    ]
    for name, source in runtime_sources().items():
        if "\'\'\'" in source or source.rstrip().endswith("\\"):
            raise AssertionError(f"{name} cannot be carried as a raw string")
        lines.append(f"    {name!r}: r\'\'\'{source}\'\'\',")
    lines += [
        "}",
        "",
        "",
        "class _OptparRuntimeImporter(_optpar_abc.MetaPathFinder, _optpar_abc.Loader):",
        "    def find_spec(self, name, path=None, target=None):",
        "        if name in _OPTPAR_RUNTIME:",
        "            return _optpar_util.spec_from_loader(name, self, is_package=name == 'optpar.runtime')",
        "        return None",
        "",
        "    def create_module(self, spec):",
        "        return None",
        "",
        "    def exec_module(self, module):",
        "        source = _OPTPAR_RUNTIME[module.__name__]",
        "        filename = '<%s, carried in %s>' % (module.__name__, __file__)",
        "        _optpar_linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)",
        "        exec(compile(source, filename, 'exec'), module.__dict__)",
        "",
        "",
        "if _optpar_util.find_spec('optpar') is None:  # optpar is not installed here",
        "    _optpar_sys.modules['optpar'] = _optpar_types.ModuleType('optpar')",
        "    _optpar_sys.modules['optpar'].__path__ = []",
        "_optpar_sys.meta_path.insert(0, _OptparRuntimeImporter())",
        "_optpar_sys.modules.pop('optpar.runtime', None)",
    ]
    return "\n".join(lines) + "\n"


# -- names read and written by statements ----------------------------------------------------

def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _writes(stmt: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not inside nested functions)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _root(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _mutates(stmt: ast.stmt) -> set[str]:
    """Objects a statement changes in place: `model.add(...)` (a call whose result is dropped),
    `cfg.x = 1`, `d[k] = v`; nested functions and classes have their own scope."""
    names: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)):
            names.add(_root(node.value.func.value))
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            names.add(_root(node.value))
        stack.extend(ast.iter_child_nodes(node))
    names.discard(None)
    return names


def _contains(stmt: ast.stmt, line: int, col: int) -> bool:
    if not (stmt.lineno <= line <= stmt.end_lineno):
        return False
    if stmt.lineno == stmt.end_lineno:  # a line may hold several statements: `a = 1; b = 2`
        return stmt.col_offset <= col < max(stmt.end_col_offset, col + 1) if line == stmt.lineno else False
    return True


def _is_main_guard(stmt: ast.stmt) -> bool:
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    parts = [stmt.test.left, *stmt.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def _is_definition(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))


def _body_ranges(stmt: ast.stmt) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of the function bodies inside `stmt`: code there runs when the
    function is called, the rest of a `def` or `class` (defaults, decorators, class attributes)
    when the statement itself runs."""
    ranges = []
    for node in ast.walk(stmt):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first, last = node.body[0], node.body[-1]
            ranges.append(((first.lineno, first.col_offset), (last.end_lineno, last.end_col_offset)))
        elif isinstance(node, ast.Lambda):
            ranges.append(((node.body.lineno, node.body.col_offset),
                           (node.body.end_lineno, node.body.end_col_offset)))
    return ranges


def _is_bare_call(unit: "_Unit", name: str) -> bool:
    """`name()` as a statement of its own."""
    stmt = unit.first
    return (len(unit.ast) == 1 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == name
            and not stmt.value.args and not stmt.value.keywords)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


@dataclass
class _Unit:
    """One libcst statement and the ast statements it holds (`a = 1; b = 2` is one line, two statements)."""

    cst: cst.BaseStatement
    ast: list[ast.stmt]

    @property
    def reads(self) -> set[str]:
        return set().union(*(_reads(s) for s in self.ast)) if self.ast else set()

    imports: frozenset = frozenset()  # names bound by imports: calling np.f() does not change np

    @property
    def writes(self) -> set[str]:
        bound = set().union(*(_writes(s) for s in self.ast)) if self.ast else set()
        changed = set().union(*(_mutates(s) for s in self.ast)) if self.ast else set()
        return bound | (changed - self.imports)

    def holds(self, line: int, col: int) -> bool:
        return any(_contains(s, line, col) for s in self.ast)

    @property
    def first(self) -> ast.stmt:
        return self.ast[0]

    @property
    def last(self) -> ast.stmt:
        return self.ast[-1]


def _units(cst_body: Sequence, ast_body: list[ast.stmt], imports: frozenset) -> list[_Unit]:
    units, i = [], 0
    for stmt in cst_body:
        n = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        units.append(_Unit(stmt, ast_body[i:i + n], imports))
        i += n
    return units


def _imported_names(tree: ast.Module) -> frozenset:
    return frozenset(
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    )


class _Planner:
    """Decide which statements run once, which run per trial, and which are left out."""

    def __init__(self, analysis: Analysis, module: cst.Module) -> None:
        self.analysis = analysis
        self.tree = analysis.tree
        self.path = analysis.path
        self.module = module
        self.imports = _imported_names(self.tree)
        self.top = _units(module.body, self.tree.body, self.imports)
        self.site_points = [(s.span.line, s.span.col) for s in analysis.sites]
        fit = analysis.fit
        self.fit_point = (fit.span.line, fit.span.col)

    def _holds_site(self, unit_or_stmt) -> bool:
        holds = unit_or_stmt.holds if isinstance(unit_or_stmt, _Unit) else (
            lambda line, col: _contains(unit_or_stmt, line, col))
        return any(holds(line, col) for line, col in self.site_points)

    def _runs_at_definition(self, unit: _Unit, bound: set[str]) -> bool:
        """A `def` or `class` whose parts that run with the statement itself (a parameter's default,
        a decorator, a base, a class attribute) hold a tuned value or read a name in `bound`, the
        names the trial binds: it must run again in each trial, after what it reads."""
        stmt = unit.first
        if len(unit.ast) != 1 or not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return False
        bodies = _body_ranges(stmt)

        def at_definition(line: int, col: int) -> bool:
            return not any(start <= (line, col) < end for start, end in bodies)

        reads = (n for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        return (any(_contains(stmt, line, col) and at_definition(line, col) for line, col in self.site_points)
                or any(n.id in bound and at_definition(n.lineno, n.col_offset) for n in reads))

    def _pull_definitions(self, definitions: list[_Unit], into: list[_Unit]) -> bool:
        """Move from `definitions` to `into` each one that runs at definition what `into` binds
        (a class deriving from a moved class follows it); True when one moved."""
        moved = False
        while True:
            bound = _writes_of(into)
            again = False
            for unit in list(definitions):
                if self._runs_at_definition(unit, bound):
                    definitions.remove(unit)
                    into.append(unit)
                    moved = again = True
            if not again:
                return moved

    def _prologue(self, tainted: set[str], driver: _Unit | None = None) -> list[_Unit]:
        """The top-level statements that run in each trial before a driver function's body: those
        that hold a tuned value or read one, and the definitions that read those when they run."""
        prologue: list[_Unit] = []
        definitions: list[_Unit] = []
        for unit in self.top:
            if unit is driver or _is_docstring(unit.first) or any(_is_main_guard(s) for s in unit.ast):
                continue
            if _is_definition(unit.first):
                definitions.append(unit)
            elif self._holds_site(unit) or unit.reads & tainted:
                prologue.append(unit)
        self._pull_definitions(definitions, prologue)
        prologue.sort(key=self.top.index)
        return prologue

    def _only_calls(self, name: str) -> bool:
        """The top level's only part in training is one bare `name()` call (a `main()`)."""
        tainted = self._tainted_names([])
        calls = 0
        for unit in self.module_units():
            if _is_definition(unit.first) or _is_docstring(unit.first):
                continue
            if _is_bare_call(unit, name):
                calls += 1
            elif name in _called_names_of(unit) or self._holds_site(unit) or unit.reads & tainted \
                    or _called_names_of(unit) & tainted:
                return False
        return calls == 1

    def _tainted_names(self, extra_units: list[_Unit]) -> set[str]:
        """Names whose value depends on a tuned value: fixpoint over module-level statements."""
        tainted: set[str] = set()
        units = self.module_units() + extra_units
        changed = True
        while changed:
            changed = False
            for unit in units:
                if any(_is_main_guard(s) for s in unit.ast):
                    continue
                if self._holds_site(unit) or unit.reads & tainted:
                    new = unit.writes - tainted
                    if new:
                        tainted |= new
                        changed = True
        return tainted

    def module_units(self) -> list[_Unit]:
        """The top level, with the body of `if __name__ == "__main__":` in place of the block."""
        units: list[_Unit] = []
        for unit in self.top:
            if len(unit.ast) == 1 and _is_main_guard(unit.first):
                units += _units(unit.cst.body.body, unit.first.body, self.imports)
            else:
                units.append(unit)
        return units

    def _driver(self) -> tuple[int | None, list[_Unit]]:
        """(index of the top-level function that drives training, or None for the module; its units)."""
        line, col = self.fit_point
        index = next(i for i, u in enumerate(self.top) if u.holds(line, col))
        stmt = self.top[index].first
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None, self.module_units()
        # Climb from the function holding fit() to the function the program starts from.
        seen = {stmt.name}
        while True:
            callers = [
                i for i, u in enumerate(self.top)
                if isinstance(u.first, (ast.FunctionDef, ast.AsyncFunctionDef))
                and u.first.name not in seen and stmt.name in _called_names(u.first)
            ]
            if len(callers) != 1:
                break
            index, stmt = callers[0], self.top[callers[0]].first
            seen.add(stmt.name)
        required = len(stmt.args.posonlyargs) + len(stmt.args.args) - len(stmt.args.defaults)
        required += sum(1 for d in stmt.args.kw_defaults if d is None)
        units = self.module_units()
        fitters = self._fitter_names()  # the functions that reach fit(), however deep
        called = any(_called_names_of(u) & fitters for u in units if not _is_definition(u.first))
        if (required == 0 and isinstance(stmt, ast.FunctionDef)
                and self.top[index] not in self._prologue(self._tainted_names([]))
                and (self._only_calls(stmt.name) or not called)):
            body = self.top[index].cst.body.body
            return index, _units(body, stmt.body, self.imports)
        # The top level calls it and does more, or it takes arguments: the top level is the program.
        if not called:
            raise UserError(self.path, stmt.lineno, stmt.col_offset + 1,
                            f"{stmt.name}() runs fit() but takes arguments and nothing at the top level "
                            "calls it; optpar needs a program that trains when it runs")
        return None, units

    def plan(self):
        driver_index, driver_units = self._driver()
        in_module = driver_index is None
        tainted = self._tainted_names([] if in_module else driver_units)
        # The statement of the driver that (directly or through its functions) runs fit().
        fitters = self._fitter_names()
        line, col = self.fit_point
        cut = max(
            i for i, u in enumerate(driver_units)
            if not _is_definition(u.first) and (u.holds(line, col) or _called_names_of(u) & fitters)
        )
        trial: list[_Unit] = []
        setup: list[_Unit] = []
        definitions: list[_Unit] = []  # in module mode, the defs and classes that stay at the top
        omitted = driver_units[cut + 1:]
        for i, unit in enumerate(driver_units[:cut + 1]):
            if in_module and (_is_definition(unit.first) or _is_docstring(unit.first)):
                definitions.append(unit)
                continue
            if any(_is_main_guard(s) for s in unit.ast):
                continue
            if i == cut or self._holds_site(unit) or unit.reads & tainted or _called_names_of(unit) & tainted:
                trial.append(unit)
            else:
                setup.append(unit)
        # A statement run once must not write what the trial writes, nor rebind what an earlier
        # trial statement read, and a definition must not read what the trial binds: those stay
        # in the trial, in order.
        changed = True
        while changed:
            changed = self._pull_definitions(definitions, trial)
            trial_writes = _writes_of(trial)
            for unit in list(setup):
                pos = driver_units.index(unit)
                read_before = set().union(*(u.reads for u in trial if driver_units.index(u) < pos)) if trial else set()
                if unit.writes & (trial_writes | read_before):
                    setup.remove(unit)
                    trial.append(unit)
                    changed = True
            trial.sort(key=driver_units.index)
        prologue = [] if in_module else self._prologue(tainted, self.top[driver_index])
        return driver_index, driver_units, setup, prologue, trial, omitted

    def _fitter_names(self) -> set[str]:
        """Top-level functions that run the measured fit(), directly or through another."""
        line, col = self.fit_point
        names: set[str] = set()
        changed = True
        while changed:
            changed = False
            for unit in self.top:
                stmt = unit.first
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name not in names:
                    if unit.holds(line, col) or _called_names(stmt) & names:
                        names.add(stmt.name)
                        changed = True
        return names


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _writes_of(units: list[_Unit]) -> set[str]:
    return set().union(*(u.writes for u in units)) if units else set()


def _called_names_of(unit: _Unit) -> set[str]:
    return set().union(*(_called_names(s) for s in unit.ast)) if unit.ast else set()


# -- text of the generated parts ----------------------------------------------------------------

def _space_block(sites: Sequence[Site]) -> str:
    lines = ["# The search space: one entry per tuned value, anchored on the value you wrote.", "SPACE = {"]
    for site in sites:
        lines.append(f"    # {site.origin}")
        lines.append(f"    {site.id!r}: {site.space.code(site.id)},")
    lines.append("}")
    lines.append("# Your own values: trial 1 of every search runs exactly these.")
    lines.append("DEFAULTS = {")
    for site in sites:
        lines.append(f"    {site.id!r}: {site.default!r},  # {site.origin}")
    lines.append("}")
    lines.append("# DEFAULTS as hyperopt encodes them (hp.choice entries as indices).")
    lines.append("BASELINE_POINT = {")
    for site in sites:
        lines.append(f"    {site.id!r}: {site.space.point(site.default)!r},")
    lines.append("}")
    lines.append("# The values of the trial being run; the code below reads them.")
    lines.append("params = dict(DEFAULTS)")
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


def build_script(analysis: Analysis, source_name: str, out_name: str, standalone: bool = False) -> Script:
    path = analysis.path
    if not analysis.sites:
        raise UserError(path, 1, 1, "no tunable hyperparameters found (nothing to tune)")
    if analysis.fit is None:
        raise UserError(path, 1, 1, "no Keras fit() call found: optpar needs the call that trains the model")
    try:
        original = cst.parse_module(analysis.text)
    except cst.ParserSyntaxError as exc:
        raise UserError(path, exc.raw_line, exc.raw_column + 1, f"syntax error: {exc.message}") from None
    notes: list[str] = []
    edits = site_edits(analysis.sites)
    positions = positions_of(original)
    refactored, missed = apply_edits(original, edits, positions)
    if missed:
        span = missed[0].span
        raise UserError(path, span.line, span.col + 1, "internal: could not place a params[...] lookup here")
    if not analysis.fit.has_validation:
        notes.append(NO_VALIDATION_NOTE)
    trial_module, missed = apply_edits(original, [*edits, fit_edit(analysis.fit)], positions)
    if missed:
        span = analysis.fit.span
        raise UserError(path, span.line, span.col + 1, "internal: could not instrument this fit() call")

    planner = _Planner(analysis, trial_module)
    driver_index, driver_units, setup, prologue, trial, omitted = planner.plan()
    code = trial_module.code_for_node
    moved = {id(u.cst) for u in [*prologue, *trial, *omitted, *(setup if driver_index is not None else [])]}

    flag = " --standalone" if standalone else ""
    out: list[str] = [
        f"{GENERATED_MARK} from {source_name} (runtime API {API_VERSION}): edit {source_name}, not this file.",
        f"# Regenerate with: optpar refactor {source_name} -o {out_name}{flag}",
        f"# Search with:     python {out_name} --max-evals 20    (python {out_name} --help lists the options)",
    ]
    out += [f"# Note: {n}" for n in notes]
    out.append("")
    body = driver_units if driver_index is None else list(planner.top)
    # `from __future__` imports must stay first.
    for unit in body:
        if isinstance(unit.first, ast.ImportFrom) and unit.first.module == "__future__":
            out.append(code(unit.cst).strip("\n"))
    if standalone:
        out += [standalone_block(), ""]
    out += [*RUNTIME_IMPORTS, "", "import math", "", "from hyperopt import hp", "from hyperopt.pyll import scope", ""]
    out.append(f"SOURCE = {source_name!r}")
    out.append("# Where your program seeds its random numbers; every trial starts from the random state")
    out.append("# your program has where its training starts, so trial 1 is your own run.")
    out.append(f"SEEDS = {list(seeding_calls(analysis.tree, path))!r}")
    out.append("")
    out.append(_space_block(analysis.sites))
    for i, unit in enumerate(body):
        if isinstance(unit.first, ast.ImportFrom) and unit.first.module == "__future__":
            continue
        if any(_is_main_guard(s) for s in unit.ast):
            out.append("# (the `if __name__ == \"__main__\":` block is replaced by the search's main() below)")
            continue
        if i == driver_index:
            if setup:
                out.append(f"# From {unit.first.name}(): the part that does not depend on a tuned value runs once.")
                out += [code(u.cst).rstrip("\n") for u in setup]
            out.append(f"# {unit.first.name}() runs as run_trial() below.")
            continue
        if id(unit.cst) in moved:
            continue
        out.append(code(unit.cst).rstrip("\n"))
    out.append("")
    out.append("")
    out.append(_run_trial(trial_module, driver_index is None, prologue, trial, source_name))
    if omitted:
        out.append(f"# Not run during the search (after fit() in {source_name}):")
        for unit in omitted:
            out += _commented(code(unit.cst))
    out.append("")
    out.append("")
    out.append('if __name__ == "__main__":')
    out.append("    raise SystemExit(optpar_runtime.main(")
    out.append("        source=SOURCE, space=SPACE, defaults=DEFAULTS, baseline=BASELINE_POINT, params=params,")
    out.append(f"        run_trial=run_trial, seeds=SEEDS, api={API_VERSION}))")
    text = "\n".join(out) + "\n"
    return Script(text=text, refactored=refactored.code, notes=tuple(notes))


def _run_trial(module: cst.Module, in_module: bool, prologue, trial, source_name: str) -> str:
    statements = [u.cst for u in [*prologue, *trial]]
    declared = set().union(*(u.writes for u in prologue)) if prologue else set()
    if in_module:
        declared |= set().union(*(u.writes for u in trial)) if trial else set()
    header = [
        "def run_trial():",
        f'    """One evaluation: the code of {source_name} that builds, compiles and fits the model,',
        '    reading its tuned values from `params`."""',
    ]
    if declared:
        header.append(f"    global {', '.join(sorted(declared))}")
    func = cst.parse_statement("\n".join(header) + "\n    pass\n")
    assert isinstance(func, cst.FunctionDef)
    new_body = list(func.body.body[:-1]) + [_strip_leading_blank(s) if i == 0 else _unindented_blanks(s)
                                             for i, s in enumerate(statements)]
    func = func.with_changes(body=func.body.with_changes(body=new_body))
    return module.code_for_node(func).rstrip("\n") + "\n"


def _strip_leading_blank(stmt: cst.BaseStatement) -> cst.BaseStatement:
    lines = [line for line in stmt.leading_lines if line.comment is not None]
    return stmt.with_changes(leading_lines=lines)


def _unindented_blanks(stmt: cst.BaseStatement) -> cst.BaseStatement:
    lines = [line.with_changes(indent=False) if line.comment is None else line
             for line in stmt.leading_lines]
    return stmt.with_changes(leading_lines=lines)

