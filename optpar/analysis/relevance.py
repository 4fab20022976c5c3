"""Which code feeds the measured fit(): values anywhere else are left as written.

A notebook that trains several models one after another (a book chapter: a network on IMDB, then
one on Reuters, then one on Boston housing) is scored on its last fit(). The values of the models
before it change nothing the search measures; tuned, they are dimensions the optimizer searches
in vain (Chollet's chapter 4: 47 values, 7 of them the measured model's).

The rule, for a measured fit() at the file's top level (also inside a loop, a `with` or the
`if __name__ == "__main__":` block there). Walking back from the statement that holds it, a
statement feeds it when it binds a name that is still needed (an assignment, a loop target, an
import, `global` in a function of yours it calls) or may change one in place (`model.compile(...)`,
`model.add(...)`, `callbacks.append(...)`, `np.random.shuffle(x)`; `other_model.fit(x)` only reads
`x`, and so do `plot_model(model)` and a function of the file that only reads the parameter it is
passed in), or names a file one of them names (`model.save("m.keras")` before
`keras.models.load_model("m.keras")`), or sets what every fit after it runs under (a setter of
keras, tensorflow, numpy, random, torch, jax or os that reads only modules and constants:
`keras.utils.set_random_seed(SEED)`, `os.environ["TF_DETERMINISTIC_OPS"] = "1"`); what it reads
becomes needed, and the functions and classes of the file it calls are read too, body and all. A
plain assignment at the top level, or in the body of a `with` there, ends the need for what it
binds (an earlier `model = ...` is another model) unless it reads it. A function or class of the
file feeds the fit when code that does calls it. The statements before
the fit that feed it nothing run once in the tuning script, not in each trial (plan.py). A fit()
inside a function is left alone: a function called for several models scores their mean (the runtime's
rule), so every value there is tuned as before; only the functions and classes nothing runs are
left out (`never_run`), and the demos a driver runs before the fit (`idle_functions`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from optpar.analysis.facts import FOLLOW_DEPTH, Facts
from optpar.analysis.syntax import FUNCTIONS, called_name, is_main_guard, is_path, root_name

_SCOPES = (*FUNCTIONS, ast.ClassDef)


@dataclass(frozen=True)
class Feeding:
    """The top-level statements (the `__main__` block's in its place) that feed the measured fit."""

    body: tuple[ast.stmt, ...]
    statements: frozenset[int]  # ids of those that feed it
    fit_index: int  # the position in `body` of the one that holds the fit

    def feeds(self, node: ast.AST, facts: Facts) -> bool:
        """Whether `node` lies in a statement (or a definition) that feeds the fit."""
        return inside(node, self.statements, facts)

    def idle_lines(self) -> frozenset[int]:
        """The first lines of the statements before the fit that feed it nothing: the planner runs
        them once, not in each trial (a definition or an import stays where it is), and a
        notebook's script says and skips a failure of one (`import keras_tuner` where it is not
        installed, and the `class ...(kt.HyperModel)` that needs it)."""
        return frozenset(stmt.lineno for stmt in self.body[:self.fit_index] if id(stmt) not in self.statements)


def feeding(facts: Facts, measured: ast.Call | None, reads_only: frozenset = frozenset(),
            writers: frozenset[str] = frozenset()) -> Feeding | None:
    """Which top-level statements feed the measured fit; None when every one counts (no fit, or a
    fit inside a function). `reads_only`: the keys of calls that change nothing they are passed
    (roles.csv: `plot_model`); `writers`: the names of calls that write the file they are given
    and read nothing from it (roles.csv `writes_file`: `save`, `ModelCheckpoint`)."""
    if measured is None:
        return None
    body = _top_level(facts.tree)
    top = _ancestor_in(facts, measured, body)
    if top is None or isinstance(top, _SCOPES):
        return None
    definitions = {stmt.name: stmt for stmt in body if isinstance(stmt, _SCOPES)}
    flow = _Flow(definitions, _modules(body), facts, reads_only, writers)
    index = body.index(top)
    needed = flow.uses(top)
    used = set(needed)
    feeding_statements = {id(top)}
    for stmt in reversed(body[:index]):
        if isinstance(stmt, _SCOPES):
            continue  # a definition feeds the fit when code that does calls it, below
        if not flow.feeds(stmt, needed):
            continue
        feeding_statements.add(id(stmt))
        needed = (needed - _kills(stmt)) | flow.uses(stmt)
        used |= needed
    feeding_statements |= {id(stmt) for name, stmt in definitions.items() if name in used}
    return Feeding(tuple(body), frozenset(feeding_statements), index)


def never_run(facts: Facts, idle: frozenset[str] = frozenset()) -> frozenset[int]:
    """The ids of the file's top-level functions and classes that nothing runs: no top-level
    statement reads their name, nor a definition that one reads, and they have no decorator
    (which may register them). `def test_functional(): ...` beside the `main()` that trains: its
    fit is not the measured one, and its values change nothing. `idle`: functions read only
    where nothing they do reaches the measured fit (`idle_functions`), counted as never run,
    with what only they call."""
    body = _top_level(facts.tree)
    definitions = {stmt.name: stmt for stmt in body if isinstance(stmt, _SCOPES) and stmt.name not in idle}
    todo: list[str] = []
    for stmt in body:
        if isinstance(stmt, _SCOPES):
            todo += [stmt.name] if stmt.decorator_list and stmt.name not in idle else []
        else:
            todo += list(_names(stmt)[0] & definitions.keys())
    reached: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += list(free_names(definitions[name]) & definitions.keys())
    return frozenset(id(d) for d in body if isinstance(d, _SCOPES) and d.name not in reached)


def idle_functions(facts: Facts, measured: ast.Call | None, dead: frozenset[int], reads_only: frozenset = frozenset(),
                   writers: frozenset[str] = frozenset()) -> frozenset[str]:
    """For a measured fit inside a function of the file: the functions that a driver runs as
    demos before it, doing nothing it reads. A driver is the code that leads to the fit: the top
    level, then the body of a function it calls as `main()`, and so on while one statement leads
    on. A demo is a function of the file called there as a bare statement with no arguments
    (`model_saving_demo()` before `training()`), everywhere it is named, that does not lead to
    the fit, binds or changes nothing the rest reads, sets no global state (a seed) and names
    no file that other code names. A demo builds, trains and drops its own model: its values
    change nothing the search measures, so they stay as written (a demo that saves weights and
    loads them into the same architecture written again would fail when the two are drawn apart).
    `dead`: `never_run`'s functions, whose calls run nothing."""
    if measured is None:
        return frozenset()
    body = _top_level(facts.tree)
    target = _ancestor_in(facts, measured, body)
    if not isinstance(target, FUNCTIONS):
        return frozenset()
    definitions = {stmt.name: stmt for stmt in body if isinstance(stmt, _SCOPES)}
    if not any(isinstance(call.func, ast.Name) and isinstance(definitions.get(call.func.id), FUNCTIONS)
               and call.func.id != target.name and _bare_call(facts.parents.get(call)) for call in facts.calls):
        return frozenset()  # no function called as a bare statement: no demo (most files; the rest is slower)
    flow = _Flow(definitions, _modules(body), facts, reads_only, writers)
    path = {target.name}  # the functions that lead to the fit: a demo reaches none of them
    idle_statements: list[ast.stmt] = []
    for _ in range(FOLLOW_DEPTH):
        leads = [stmt for stmt in body if not isinstance(stmt, _SCOPES)
                 and path & {d.name for d in flow._called(_names(stmt)[0])}]
        if len(leads) != 1:
            break
        lead = leads[0]
        idle_statements += _demos_before(flow, body, lead, path)
        driver = _bare_call(lead)
        if driver is None or driver in path or not isinstance(definitions.get(driver), FUNCTIONS):
            break
        path.add(driver)
        body = definitions[driver].body
    idle = {_bare_call(stmt) for stmt in idle_statements}
    ids = {id(stmt) for stmt in idle_statements}
    for node in ast.walk(facts.tree) if idle else ():  # named anywhere else that runs (passed, returned, called with arguments)
        if (isinstance(node, ast.Name) and node.id in idle and not _is_bare_call_in(facts, node, ids)
                and not inside(node, dead, facts)):
            idle.discard(node.id)
    return frozenset(idle)


def _demos_before(flow: _Flow, body: list[ast.stmt], lead: ast.stmt, path: set[str]) -> list[ast.stmt]:
    """The bare calls before `lead` in `body` that feed it nothing (`idle_functions`)."""
    index = body.index(lead)
    needed = flow.uses(lead)
    found: list[ast.stmt] = []
    for stmt in reversed(body[:index]):
        if isinstance(stmt, _SCOPES):
            continue
        name = _bare_call(stmt)
        if not flow.feeds(stmt, needed) and name is not None and isinstance(flow.definitions.get(name), FUNCTIONS):
            called = flow._called({name})
            if not (path & {d.name for d in called} or _touches_the_rest(flow, called)):
                found.append(stmt)
                continue
        needed = (needed - _kills(stmt)) | flow.uses(stmt)
    return found


def _touches_the_rest(flow: _Flow, called: list[ast.AST]) -> bool:
    """Whether the functions a demo runs set global state (a seed), declare a global, or name a
    file that code outside them names too (weights saved for a later load)."""
    inside_ids = {id(n) for d in called for n in ast.walk(d)}
    for definition in called:
        for node in ast.walk(definition):
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                return True
            if isinstance(node, ast.stmt) and _sets_global_state(node, _names(node)[0], flow.facts, flow.modules):
                return True
    files = {path for d in called for path, _ in flow._paths(d)}
    if not files:
        return False
    return any(path in files for path, node in flow._paths(flow.facts.tree) if id(node) not in inside_ids)


def _bare_call(stmt: ast.AST | None) -> str | None:
    """`name` of a statement `name()`: a call by a plain name, with no arguments, its result unused."""
    if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name)
            and not stmt.value.args and not stmt.value.keywords):
        return stmt.value.func.id
    return None


def _is_bare_call_in(facts: Facts, node: ast.Name, statements: set[int]) -> bool:
    call = facts.parents.get(node)
    return isinstance(call, ast.Call) and call.func is node and id(facts.parents.get(call)) in statements



def inside(node: ast.AST, ids: frozenset[int], facts: Facts) -> bool:
    """Whether `node` lies in one of the statements `ids` names."""
    while node is not None and id(node) not in ids:
        node = facts.parents.get(node)
    return node is not None


# The libraries whose global state a fit runs under: a seed, a dtype policy, a session, a device
# setting, an environment variable (`keras.utils.set_random_seed(0)`, `os.environ[...] = "2"`), and
# how their setters are named (`regularizers.l1(0.01)` alone on a line only shows a value).
_GLOBAL_STATE = frozenset({"keras", "tensorflow", "tf_keras", "numpy", "random", "torch", "jax", "os"})
_SETTER = re.compile(r"(?:set_|enable_|disable_)\w*|\w*seed|clear_session|run_functions_eagerly|putenv")


def _sets_global_state(stmt: ast.stmt, reads: set[str], facts: Facts, modules: frozenset[str]) -> bool:
    """A call of such a library's setter as a statement, or an assignment to one of its attributes
    or items, that reads nothing but modules and constants: it feeds every fit after it
    (`keras.plot_model(model)` reads a model: it only looks)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        target = stmt.value.func
        if not (isinstance(target, ast.Attribute) and _SETTER.fullmatch(target.attr)):
            return False
    elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
          and isinstance(stmt.targets[0], (ast.Attribute, ast.Subscript))):
        target = stmt.targets[0]
    else:
        return False
    qualified = facts.imports.qualify(root_name(target) or "")
    return (qualified is not None and qualified.split(".")[0] in _GLOBAL_STATE
            and all(name in modules or facts.constant(name) is not None for name in reads))


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """The module's statements, with the body of `if __name__ == "__main__":` in its place."""
    found: list[ast.stmt] = []
    for stmt in tree.body:
        found.extend(stmt.body if is_main_guard(stmt) else [stmt])
    return found


def _ancestor_in(facts: Facts, node: ast.AST, body: list[ast.stmt]) -> ast.stmt | None:
    members = {id(stmt) for stmt in body}
    while node is not None and id(node) not in members:
        node = facts.parents.get(node)
    return node


def _modules(body: list[ast.stmt]) -> frozenset[str]:
    """Names of modules: imported, or bound at the top level to a module's attribute
    (`layers = tf.keras.layers`). Reading them changes nothing."""
    found: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            found |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
              and root_name(stmt.value) in found):
            found.add(stmt.targets[0].id)
    return frozenset(found)


def _kills(stmt: ast.stmt) -> set[str]:
    """The names a statement surely binds anew: the targets of a plain assignment (`model = ...`,
    `(x, y), _ = ...`), also in the body of a `with` (`with strategy.scope(): model = ...`), not of
    one that may not run (in a loop, an if)."""
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return set().union(*(_kills(inner) for inner in stmt.body))
    if isinstance(stmt, ast.Assign):
        todo = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        todo = [stmt.target]
    else:
        return set()
    found: set[str] = set()
    while todo:
        target = todo.pop()
        if isinstance(target, ast.Name):
            found.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            todo.extend(target.elts)
        elif isinstance(target, ast.Starred):
            todo.append(target.value)
    return found


_INNER = (*_SCOPES, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _names(node: ast.AST) -> tuple[set[str], set[str]]:
    """(the names `node` reads, the names it binds) in its own scope; a function, lambda, class
    or comprehension in it reads what it reads from outside itself."""
    loads: set[str] = set()
    stores: set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if current is not node and isinstance(current, _INNER):
            if isinstance(current, _SCOPES):
                stores.add(current.name)
            loads |= free_names(current)
            continue
        if isinstance(current, ast.Name):
            (loads if isinstance(current.ctx, ast.Load) else stores).add(current.id)
        elif isinstance(current, (ast.Import, ast.ImportFrom)):
            stores |= {(a.asname or a.name).split(".")[0] for a in current.names}
        elif isinstance(current, ast.ExceptHandler) and current.name:
            stores.add(current.name)
        todo.extend(ast.iter_child_nodes(current))
    return loads, stores


def free_names(scope: ast.AST) -> set[str]:
    """The names a function, lambda, class or comprehension reads from outside itself."""
    loads: set[str] = set()
    stores: set[str] = set()
    for child in ast.iter_child_nodes(scope):
        if isinstance(child, _INNER):  # a method of a class: its parameters (`self`) are its own
            loads |= free_names(child)
            stores |= {child.name} if isinstance(child, _SCOPES) else set()
            continue
        inner_loads, inner_stores = _names(child)
        loads |= inner_loads
        stores |= inner_stores
    declared = {n for node in ast.walk(scope) if isinstance(node, (ast.Global, ast.Nonlocal)) for n in node.names}
    if isinstance(scope, (*FUNCTIONS, ast.Lambda)):
        args = scope.args
        stores |= {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
                   if a is not None}
    return loads - (stores - declared)


class _Flow:
    """What a top-level statement reads before it binds (with what the functions and classes of
    the file it calls read from outside them), binds, and may change in place."""

    def __init__(self, definitions: dict[str, ast.AST], modules: frozenset[str], facts: Facts,
                 reads_only: frozenset, writers: frozenset[str] = frozenset()) -> None:
        self.definitions, self.modules, self.facts, self.reads_only = definitions, modules, facts, reads_only
        self.writers = writers
        self.bound = frozenset(facts.bindings)  # every name the file binds
        self._free = {name: free_names(d) for name, d in definitions.items()}  # read once: every statement asks
        self._changed_params: dict[str, set[str]] = {}  # a function of the file -> the parameters it may change

    def _called(self, names: set[str]) -> list[ast.AST]:
        """The definitions of the file `names` reach, through what they read."""
        found, seen, todo = [], set(), list(names & self.definitions.keys())
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                found.append(self.definitions[name])
                todo.extend(self._free[name] & self.definitions.keys())
        return found

    def uses(self, stmt: ast.stmt) -> set[str]:
        names = _exposed(stmt)
        return names.union(self._read_files(stmt), *(self._free[d.name] | {d.name} for d in self._called(names)))

    def _read_files(self, stmt: ast.stmt) -> set[str]:
        """The files a statement may read: every file it names, but one it only hands to a call
        that writes it (`model.save("m.keras")`, `ModelCheckpoint("m.keras")`): a model saved to
        a file an unrelated later checkpoint writes again does not feed that fit."""
        return {f"file:{path}" for path, node in self._paths(stmt)
                if called_name(getattr(self._call_given(node), "func", None)) not in self.writers}

    def _named_files(self, stmt: ast.stmt) -> set[str]:
        """The files a statement names, as names of their own: read or written there."""
        return {f"file:{path}" for path, _ in self._paths(stmt)}

    def _paths(self, stmt: ast.stmt) -> list[tuple[str, ast.expr]]:
        """(path, where it is given) for each file a statement names: a path literal, or a name
        bound once in the file to one (`ModelCheckpoint(ckpt)` after `ckpt = "best.keras"`, where
        the assignment itself names no file: the name carries it)."""
        found = []
        for node in ast.walk(stmt):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and is_path(node.value):
                held = self.facts.parents.get(node)
                if not (isinstance(held, ast.Assign) and len(held.targets) == 1 and isinstance(held.targets[0], ast.Name)
                        and self.facts.constant(held.targets[0].id) is not None):
                    found.append((node.value, node))
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                literal = self.facts.constant(node.id)
                value = literal.node if literal is not None else None
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and is_path(value.value):
                    found.append((value.value, node))
        return found

    def _call_given(self, node: ast.AST) -> ast.Call | None:
        """The call that `node` is an argument of, through an f-string, `+`, `.format` or
        `os.path.join` that builds the path."""
        parent = self.facts.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.Call):
                if called_name(parent.func) not in ("join", "format"):
                    return parent if node is not parent.func else None
            elif not isinstance(parent, (ast.JoinedStr, ast.FormattedValue, ast.BinOp, ast.keyword, ast.Attribute)):
                return None
            node, parent = parent, self.facts.parents.get(parent)
        return None

    def feeds(self, stmt: ast.stmt, needed: set[str]) -> bool:
        """Whether the statement binds or may change a name still `needed`, or sets the global
        state every later fit runs under."""
        reads = _names(stmt)[0]
        return bool(self.binds(stmt, reads) & needed or self.changes(stmt, reads) & needed
                    or _sets_global_state(stmt, reads, self.facts, self.modules))

    def binds(self, stmt: ast.stmt, reads: set[str]) -> set[str]:
        """`reads`: what `_names` says the statement reads (the caller has it). A statement that
        hands on a name holding a writer (`m1.fit(..., callbacks=[cb])` after
        `cb = ModelCheckpoint("best.keras")`) writes that writer's files too."""
        names = _names(stmt)[1] | self._named_files(stmt)
        for name in reads:
            made = self.facts.only_value(name)
            if isinstance(made, ast.Call) and called_name(made.func) in self.writers:
                names |= {f"file:{path}" for path, _ in self._paths(made)}
        for definition in self._called(reads):
            names |= {n for node in ast.walk(definition) if isinstance(node, ast.Global) for n in node.names}
        return names

    def changes(self, stmt: ast.stmt, reads: set[str]) -> set[str]:
        """Names whose object the statement may change in place: the receiver of a method call
        (`model.add(...)`, `callbacks.append(...)`), the root of an attribute or item it sets
        (`model.trainable = False`, `x[i] = 0`), a name passed to a function (`np.random.shuffle(x)`;
        to a function of the file only where its body may change that parameter; not to a
        builtin, nor to another object's method: `other.fit(x)` only reads x). In a function of
        the file it calls, the names it reads from outside."""
        found = self._changed_in(stmt)
        for definition in self._called(reads):
            found |= self._changed_in(definition) & self._free[definition.name]
        # a name bound once to a literal holds a number, a string or a tuple: nothing changes it in
        # place (`layers.Dense(hidden)` only reads `hidden = 32`)
        return {name for name in found - self.modules - self.definitions.keys() if self.facts.constant(name) is None}

    def _changed_in(self, node: ast.AST) -> set[str]:
        found: set[str] = set()
        for current in ast.walk(node):
            if isinstance(current, ast.Call):
                root = root_name(current.func)
                if isinstance(current.func, ast.Attribute) and root not in self.modules:
                    found.add(root)
                elif isinstance(current.func, ast.Name) and isinstance(self.definitions.get(root), FUNCTIONS):
                    found |= self._changed_arguments(current, self.definitions[root])
                elif ((root in self.modules if isinstance(current.func, ast.Attribute) else root in self.bound)
                      and self.facts.imports.key(current.func) not in self.reads_only):  # plot_model(model) draws it
                    found |= {a.id for a in [*current.args, *(k.value for k in current.keywords)]
                              if isinstance(a, ast.Name)}
            elif isinstance(current, (ast.Attribute, ast.Subscript)) and isinstance(current.ctx, (ast.Store, ast.Del)):
                found.add(root_name(current))
        found.discard(None)
        return found

    def _changed_arguments(self, call: ast.Call, function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
        """The names `call` passes to parameters of the file's `function` that its body may change
        (`find_learning_rate(model, x, y)` fits `model` and only reads `x` and `y`); every name
        passed through `*args` or `**kwargs`."""
        changed = self._changed_params.get(function.name)
        if changed is None:
            params = set(self.facts.scope_of(function).params)
            self._changed_params[function.name] = params  # a recursive call: whatever it may change
            changed = self._changed_params[function.name] = self._changed_in(function) & params
        args = function.args
        positional = [a.arg for a in [*args.posonlyargs, *args.args]]
        named = {*positional, *(a.arg for a in args.kwonlyargs)}
        rest, extra = (args.vararg.arg if args.vararg else None), (args.kwarg.arg if args.kwarg else None)
        passed: list[tuple[str | None, ast.expr]] = []  # (the parameter, None: any; the argument)
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                passed += [(None, a.value if isinstance(a, ast.Starred) else a) for a in call.args[index:]]
                break
            passed.append((positional[index] if index < len(positional) else rest, arg))
        passed += [(k.arg if k.arg in named else extra if k.arg else None, k.value) for k in call.keywords]
        return {value.id for param, value in passed
                if isinstance(value, ast.Name) and (param is None or param in changed)}


def _exposed(stmt: ast.stmt) -> set[str]:
    """The names a statement reads before it binds them itself (`for i in ...`: not `i`; a loop
    body's `history = model.fit(...)` then `history.history`: not `history`)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return _names(stmt.iter)[0] | (_sequence(stmt.body) - _names(stmt.target)[1]) | _sequence(stmt.orelse)
    if isinstance(stmt, (ast.While, ast.If)):
        return _names(stmt.test)[0] | _sequence(stmt.body) | _sequence(stmt.orelse)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        bound = set().union(*(_names(i.optional_vars)[1] for i in stmt.items if i.optional_vars is not None))
        return set().union(*(_names(i.context_expr)[0] for i in stmt.items)) | (_sequence(stmt.body) - bound)
    if isinstance(stmt, ast.Try):
        handlers = set().union(*(_sequence(h.body) - {h.name} | (_names(h.type)[0] if h.type else set())
                                 for h in stmt.handlers))
        return _sequence(stmt.body) | handlers | _sequence(stmt.orelse) | _sequence(stmt.finalbody)
    return _names(stmt)[0]


def _sequence(stmts: list[ast.stmt]) -> set[str]:
    live: set[str] = set()
    for stmt in reversed(stmts):
        live = (live - _kills(stmt)) | _exposed(stmt)
    return live
