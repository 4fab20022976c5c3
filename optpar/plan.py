"""Where each statement of the user's program goes in the tuning script: the setup (run once, at
import), run_trial() (run per trial, with the tuned values in `params`), or left out (after the
measured fit()).

The split is a dataflow pass over the statements that lead to the measured fit() call: a statement
belongs to the trial when it holds a tuned value or reads a name that such a statement (or a
function that holds a tuned value) produces; every other statement runs once. A `def` or `class`
runs in the trial when what it reads as it runs (defaults, decorators, bases, class attributes)
holds a tuned value or a name the trial binds. A statement that makes a layer or an optimizer
(roles.csv `fresh`) runs in the trial when the trial reads what it binds: each trial gets its own.
Nothing after the measured fit() runs: the cut is the last statement that holds it, calls a function
that runs it, or makes or calls a method of a class of the file whose methods do. A statement
that feeds the measured fit nothing (analysis/relevance.py: an earlier experiment) runs once, though
it binds names the trial binds too, unless it has to follow a trial statement (`plot_model(model)`
of the trial's model runs in the trial); if there it would read another value than the program's
(a name the trial binds again, last bound by a statement run once), the whole file is placed by
the rule above. Such statements are also `Plan.idle`: a notebook's script runs each in
`with optpar_runtime.idle(...)`, which says and skips a failure (runtime/skipping.py).

The program is the module, or a function the top level calls (a `main()`, found by climbing from
the function that holds fit() to the one the program starts from): its body becomes run_trial(),
after the top-level statements that hold or read a tuned value (the trial's prologue).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from optpar.analysis import Analysis
from optpar.analysis.relevance import free_names
from optpar.errors import UserError
from optpar.units import (FUNCTIONS, SCOPES, Unit, body_ranges, called_names, contains, imported_names,
                          is_definition, is_docstring, is_future_import, is_main_guard, units_of, writes, writes_of)


@dataclass(frozen=True)
class Driver:
    """The function whose body becomes run_trial(); its definition stands in `Plan.setup`."""

    unit: Unit
    once: tuple[Unit, ...]  # the statements of its body that do not depend on a tuned value
    argv: str | None = None  # started by absl's app.run(main): the parameter it passes argv in
    start: Unit | None = None  # the top-level statement that calls it: `main()`, `app.run(main)`

    @property
    def name(self) -> str:
        return self.unit.first.name


@dataclass(frozen=True)
class Plan:
    """The program laid out as a tuning script."""

    setup: tuple[Unit, ...]  # the script's top level, in the program's order: what runs once at import
    driver: Driver | None  # None: the module itself is the program
    trial: tuple[Unit, ...]  # run_trial()'s statements, in order
    declared: tuple[str, ...]  # the names run_trial() declares global
    omitted: tuple[Unit, ...]  # after the measured fit(): not run during the search
    # of `setup` and `trial`, the statements that feed the measured fit nothing (a notebook's script
    # says and skips a failure of one)
    idle: tuple[Unit, ...] = ()


def plan(analysis: Analysis, module: cst.Module) -> Plan:
    """`module` is the program with its `params[...]` lookups and the measured fit() instrumented."""
    return _Planner(analysis, module).plan()


class _Planner:
    """Decide which statements run once, which run per trial, and which are left out."""

    def __init__(self, analysis: Analysis, module: cst.Module) -> None:
        self.tree = analysis.tree
        self.path = analysis.path
        self.imports = imported_names(self.tree)
        self.top = units_of(module.body, self.tree.body, self.imports)
        # An absl flag is used where the program reads it (`FLAGS.units`); its DEFINE runs once.
        run = analysis.absl_run
        self.site_points = [(s.span.line, s.span.col) for s in analysis.sites if not s.absl_flag] + sorted(
            run.reads if run is not None else ())
        self.started = None if run is None else (run.span.line, run.span.col, run.main)
        fit = analysis.fit
        self.fit_point = (fit.span.line, fit.span.col)
        self.idle = analysis.idle
        self.fresh_points = analysis.fresh

    def _calls(self, unit: Unit) -> set[str]:
        """The names `unit` calls, `main` of an `app.run(main)` included (absl calls it)."""
        if self.started is not None and unit.holds(*self.started[:2]):
            return unit.calls | {self.started[2]}
        return unit.calls

    def _starts(self, unit: Unit, name: str) -> bool:
        """`name()` as a statement of its own, or absl's `app.run(name)`."""
        return unit.is_bare_call(name) or (
            self.started is not None and self.started[2] == name and len(unit.ast) == 1
            and isinstance(unit.first, ast.Expr) and unit.holds(*self.started[:2]))

    def _holds_site(self, unit: Unit) -> bool:
        return any(unit.holds(line, col) for line, col in self.site_points)

    def _makes_fresh(self, unit: Unit) -> bool:
        """Whether the statement makes a Keras object that holds one model's state (a layer, an
        optimizer): made once, each trial would reuse trial 1's (its weights, or variables a new
        model does not have: "This optimizer can only be called for the variables it was
        originally built with")."""
        return any(unit.holds(line, col) for line, col in self.fresh_points)

    def _runs_at_definition(self, unit: Unit, bound: set[str]) -> bool:
        """A `def` or `class` whose parts that run with the statement itself (a parameter's default,
        a decorator, a base, a class attribute) hold a tuned value or read a name in `bound`, the
        names the trial binds: it must run again in each trial, after what it reads."""
        stmt = unit.first
        if len(unit.ast) != 1 or not isinstance(stmt, SCOPES):
            return False
        bodies = body_ranges(stmt)

        def at_definition(line: int, col: int) -> bool:
            return not any(start <= (line, col) < end for start, end in bodies)

        reads = (n for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
        return (any(contains(stmt, line, col) and at_definition(line, col) for line, col in self.site_points)
                or any(n.id in bound and at_definition(n.lineno, n.col_offset) for n in reads))

    def _pull_definitions(self, definitions: list[Unit], into: list[Unit]) -> bool:
        """Move from `definitions` to `into` each one that runs at definition what `into` binds
        (a class deriving from a moved class follows it), or whose name `into` binds again
        (`model = model()`: trial 1 would leave trial 2 the instance in place of the class);
        True when one moved."""
        moved = False
        while True:
            bound = writes_of(into)
            rebound = set().union(*(writes(s) for u in into for s in u.ast if not isinstance(s, SCOPES)))
            again = False
            for unit in list(definitions):
                if self._runs_at_definition(unit, bound) or (
                        isinstance(unit.first, SCOPES) and unit.first.name in rebound):
                    definitions.remove(unit)
                    into.append(unit)
                    moved = again = True
            if not again:
                return moved

    def _prologue(self, tainted: set[str], driver: Unit | None = None) -> list[Unit]:
        """The top-level statements that run in each trial before a driver function's body: those
        that hold a tuned value or read one, and the definitions that read those when they run."""
        prologue: list[Unit] = []
        definitions: list[Unit] = []
        for unit in self.top:
            if unit is driver or is_docstring(unit.first) or unit.is_main_guard:
                continue
            if driver is not None and self._starts(unit, driver.first.name):
                continue  # the program's `main()` with no __main__ guard: run_trial() is its body
            if is_definition(unit.first):
                definitions.append(unit)
            elif self._holds_site(unit) or unit.reads & tainted:
                prologue.append(unit)
        self._pull_definitions(definitions, prologue)
        order = {id(u): i for i, u in enumerate(self.top)}
        prologue.sort(key=lambda u: order[id(u)])
        return prologue

    def _only_calls(self, name: str) -> bool:
        """The top level's only part in training is one bare `name()` call (a `main()`)."""
        tainted = self._tainted_names([])
        calls = 0
        for unit in self.module_units():
            if is_definition(unit.first) or is_docstring(unit.first):
                continue
            if self._starts(unit, name):
                calls += 1
            elif name in self._calls(unit) or self._holds_site(unit) or unit.reads & tainted or self._calls(unit) & tainted:
                return False
        return calls == 1

    def _tainted_names(self, extra_units: list[Unit]) -> set[str]:
        """Names whose value depends on a tuned value: fixpoint over module-level statements."""
        tainted: set[str] = set()
        units = self.module_units() + extra_units
        changed = True
        while changed:
            changed = False
            for unit in units:
                if unit.is_main_guard:
                    continue
                if self._holds_site(unit) or unit.reads & tainted:
                    new = unit.writes - tainted
                    if new:
                        tainted |= new
                        changed = True
        return tainted

    def module_units(self) -> list[Unit]:
        """The top level, with the body of `if __name__ == "__main__":` in place of the block."""
        units: list[Unit] = []
        for unit in self.top:
            if len(unit.ast) == 1 and is_main_guard(unit.first):
                units += units_of(unit.cst.body.body, unit.first.body, self.imports)
            else:
                units.append(unit)
        return units

    def _driver(self) -> tuple[int | None, list[Unit]]:
        """(index of the top-level function that drives training, or None for the module; its units)."""
        line, col = self.fit_point
        index = next(i for i, u in enumerate(self.top) if u.holds(line, col))
        stmt = self.top[index].first
        if not isinstance(stmt, FUNCTIONS):
            return None, self.module_units()
        # Climb from the function holding fit() to the function the program starts from.
        seen = {stmt.name}
        while True:
            callers = [
                i for i, u in enumerate(self.top)
                if isinstance(u.first, FUNCTIONS) and u.first.name not in seen and stmt.name in called_names(u.first)
            ]
            if len(callers) != 1:
                break
            index, stmt = callers[0], self.top[callers[0]].first
            seen.add(stmt.name)
        required = len(stmt.args.posonlyargs) + len(stmt.args.args) - len(stmt.args.defaults)
        required += sum(1 for d in stmt.args.kw_defaults if d is None)
        units = self.module_units()
        fitters = self._fitter_names()  # the functions that reach fit(), however deep
        called = any(self._calls(u) & fitters for u in units if not is_definition(u.first))
        # absl's app.run(main) passes main the command line's arguments left after the flags
        argv = self._argv(stmt)
        if ((required == 0 or argv is not None and required == 1) and isinstance(stmt, ast.FunctionDef)
                and _inlinable(stmt, line) and self.top[index] not in self._prologue(self._tainted_names([]))
                and (self._only_calls(stmt.name) or not called)):
            body = self.top[index].cst.body.body
            return index, units_of(body, stmt.body, self.imports)
        # The top level calls it and does more, or it takes arguments: the top level is the program.
        if not called:
            raise UserError(self.path, stmt.lineno, stmt.col_offset + 1,
                            f"{stmt.name}() runs fit() but takes arguments and nothing at the top level "
                            "calls it; optpar needs a program that trains when it runs")
        return None, units

    def _argv(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
        """The parameter `function` gets the command line's arguments in, when absl's app.run starts it."""
        positional = [*function.args.posonlyargs, *function.args.args]
        if self.started is None or self.started[2] != function.name or not positional:
            return None
        return positional[0].arg

    def plan(self) -> Plan:
        driver_index, driver_units = self._driver()
        in_module = driver_index is None
        tainted = self._tainted_names([] if in_module else driver_units)
        # The statement of the driver that (directly or through its functions) runs fit().
        fitters = self._fitter_names()
        classes, methods = self._fitting_classes(fitters)
        line, col = self.fit_point
        running = [i for i, u in enumerate(driver_units) if not is_definition(u.first)]
        if not running:
            raise UserError(self.path, line, col + 1, "nothing in the program runs this fit(); optpar needs a "
                            "program that trains when it runs")
        # The last statement that may run it; when none is seen to (reached another way), the
        # whole program runs in each trial.
        cut = max((i for i in running if driver_units[i].holds(line, col) or self._calls(driver_units[i]) & (fitters | classes)
                   or _method_calls(driver_units[i]) & methods), default=running[-1])
        omitted = driver_units[cut + 1:]
        idle = self.idle if in_module else frozenset()
        trial, once, definitions = self._place(driver_units[:cut + 1], in_module, tainted, idle)
        if self._reads_another_value(driver_units[:cut + 1], trial, idle):
            # A statement that feeds the fit nothing but has to run in the trial, where it would
            # read another value than the program's: keep the program's order as it was, every
            # statement judged alike.
            idle = frozenset()
            trial, once, definitions = self._place(driver_units[:cut + 1], in_module, tainted, idle)
        if in_module:
            moved = {id(u.cst) for u in [*trial, *omitted]}
            setup = [u for u in driver_units if id(u.cst) not in moved]
            # Feeding the fit nothing is the analysis' fact, whichever placement was kept.
            skippable = tuple(u for u in [*setup, *trial] if self._idle(u, self.idle) and not is_future_import(u.first)
                              and not is_docstring(u.first) and not u.is_main_guard)
            return Plan(tuple(setup), None, tuple(trial), tuple(sorted(writes_of(trial))), tuple(omitted),
                        skippable)
        driver = self.top[driver_index]
        prologue = self._prologue(tainted, driver)
        moved = {id(u.cst) for u in prologue}
        setup = [u for u in self.top if id(u.cst) not in moved]
        start = next((u for u in self.top if self._starts(u, driver.first.name)), None)
        return Plan(tuple(setup), Driver(driver, tuple(once), self._argv(driver.first), start), (*prologue, *trial),
                    tuple(sorted(writes_of(prologue))), tuple(omitted))

    def _reads_another_value(self, units: list[Unit], trial: list[Unit], idle: frozenset[int]) -> bool:
        """Whether an idle statement the trial runs reads a name the trial also writes, whose
        value where the program reads it comes from a statement run once (or from before the
        program): from trial 2 on it would read the last trial's. `plot_model(model)` after the
        trial's `model = ...` reads the trial's model, as the program does."""
        position = {id(u): i for i, u in enumerate(units)}
        in_trial = {id(u) for u in trial}
        trial_writes = writes_of(trial)
        for unit in trial:
            if not self._idle(unit, idle):
                continue
            for name in unit.reads & trial_writes:
                last = next((u for u in reversed(units[:position[id(unit)]]) if name in u.writes), None)
                if last is None or id(last) not in in_trial:
                    return True
        return False

    def _idle(self, unit: Unit, idle: frozenset[int]) -> bool:
        """A statement that feeds the measured fit nothing (analysis/relevance.py): it runs once,
        and what it binds is not needed by the fit, so the trial may bind the same names."""
        return bool(idle) and all(stmt.lineno in idle for stmt in unit.ast)

    def _place(self, units: list[Unit], in_module: bool, tainted: set[str],
               idle: frozenset[int]) -> tuple[list[Unit], list[Unit], list[Unit]]:
        """(the trial's statements, those run once, the definitions that stay at the top) of the
        driver's statements up to and including the one that runs fit()."""
        trial: list[Unit] = []
        once: list[Unit] = []
        definitions: list[Unit] = []  # in module mode, the defs and classes that stay at the top
        cut = len(units) - 1
        for i, unit in enumerate(units):
            if in_module and (is_definition(unit.first) or is_docstring(unit.first)):
                definitions.append(unit)
                continue
            if unit.is_main_guard:
                continue
            if i == cut or self._holds_site(unit) or (
                    not self._idle(unit, idle) and (unit.reads & tainted or self._calls(unit) & tainted)):
                trial.append(unit)
            else:
                once.append(unit)
        # A statement run once must not write what the trial writes, nor rebind what an earlier
        # trial statement read, nor read what an earlier trial statement bound or name a file an
        # earlier trial statement names (run once, it would run before any trial had bound the
        # name or written the file), and a definition must not read what the trial binds: those
        # stay in the trial, in order.
        position = {id(u): i for i, u in enumerate(units)}  # not list.index: Units compare deeply
        changed = True
        while changed:
            changed = self._pull_definitions(definitions, trial)
            trial_writes = writes_of(trial)
            trial_reads = set().union(*(u.reads for u in trial))
            for unit in list(once):
                before = [u for u in trial if position[id(u)] < position[id(unit)]]
                read_before = set().union(*(u.reads for u in before))
                named_before = set().union(*(u.paths for u in before))
                written = read_before if self._idle(unit, idle) else trial_writes | read_before
                if not self._idle(unit, idle) and self._makes_fresh(unit):
                    written = written | trial_reads  # read by the trial: remade in it
                # a function of the file it calls reads what only the trial binds (a tuned
                # constant's `hidden = params["hidden"]`): run once, the name is not bound yet
                called = set().union(*(free_names(d.first) for d in definitions if _defined(d) & self._calls(unit)))
                if (unit.writes & written or unit.reads & writes_of(before) or unit.paths & named_before
                        or called & trial_writes - self._bound_once(once, definitions)):
                    once.remove(unit)
                    trial.append(unit)
                    changed = True
            trial.sort(key=lambda u: position[id(u)])
        return trial, once, definitions

    @staticmethod
    def _bound_once(once: list[Unit], definitions: list[Unit]) -> set[str]:
        return writes_of(once) | set().union(*(_defined(d) for d in definitions))

    def _fitting_classes(self, fitters: set[str]) -> tuple[set[str], set[str]]:
        """The classes of the file whose methods run the measured fit() (a trainer object:
        `trainer = VAETrainer(); trainer.train()`), and those methods' names, however deep
        through one another (`self.train()`): making one, or calling one of them by name, may
        train."""
        line, col = self.fit_point
        classes: set[str] = set()
        methods: set[str] = set()
        for unit in self.top:
            if not isinstance(unit.first, ast.ClassDef):
                continue
            own = [m for m in unit.first.body if isinstance(m, FUNCTIONS)]
            reaching: set[str] = set()
            changed = True
            while changed:
                changed = False
                for method in own:
                    if method.name not in reaching and (
                            contains(method, line, col) or called_names(method) & fitters
                            or _attribute_calls(method) & reaching):
                        reaching.add(method.name)
                        changed = True
            if reaching:
                classes.add(unit.first.name)
                methods |= reaching
        return classes, methods

    def _fitter_names(self) -> set[str]:
        """Top-level functions that run the measured fit(), directly or through another."""
        line, col = self.fit_point
        names: set[str] = set()
        changed = True
        while changed:
            changed = False
            for unit in self.top:
                stmt = unit.first
                if isinstance(stmt, FUNCTIONS) and stmt.name not in names:
                    if unit.holds(line, col) or called_names(stmt) & names:
                        names.add(stmt.name)
                        changed = True
        return names


def _defined(unit: Unit) -> set[str]:
    """The name a `def` or `class` statement binds (empty for any other statement)."""
    return {unit.first.name} if len(unit.ast) == 1 and isinstance(unit.first, SCOPES) else set()


def _attribute_calls(node: ast.AST) -> set[str]:
    """The names of the methods called on something in `node`: `trainer.train()` gives train."""
    return {n.func.attr for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}


def _method_calls(unit: Unit) -> set[str]:
    return set().union(*(_attribute_calls(s) for s in unit.ast))


def _inlinable(function: ast.FunctionDef, fit_line: int) -> bool:
    """Whether the body of `function` up to its statement that runs fit() (on `fit_line` or
    before: what the tuning script takes of it) still means the same in the script: no `return`,
    `global` or `yield` of its own (`if not exists(path): return`), and no `nonlocal` in a function
    inside it (its locals become the script's globals). A driver that is not is run by its call,
    like a driver that takes arguments. What follows the fit (`return model`) is not taken."""
    todo: list[tuple[ast.AST, bool]] = [(node, False) for node in function.body if node.lineno <= fit_line]
    while todo:
        node, nested = todo.pop()
        if isinstance(node, ast.Nonlocal):
            return False
        if not nested and isinstance(node, (ast.Return, ast.Global, ast.Yield, ast.YieldFrom)):
            return False
        inner = nested or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
        todo.extend((child, inner) for child in ast.iter_child_nodes(node))
    return True
