"""One walk over a module gathers what every rule asks about: parents, calls in source order, the
import table, how often each name is bound, literal definitions (`EPOCHS = 15`), classes and the
user's `keras.Model` subclasses. Queries answer from those facts: which scope binds a name, what a
name last held, a parameter's default, the calls of a function.

Nothing here knows the metadata; the rules (`outputs`, `rules`, `keras1`, `fit`) do.
"""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable, TypeVar

from optpar.analysis.syntax import FUNCTIONS, SourceLines, literal_value, parameter_default, snake
from optpar.csvrows import Key
from optpar.imports import KERAS_ROOTS, ImportTable, dotted

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)
FOLLOW_DEPTH = 4  # how many functions a name is followed through (passed on, returned)
T = TypeVar("T")


@dataclass(frozen=True)
class Scope:
    """The names one function binds in its own scope (its nested functions and classes excluded)."""

    params: frozenset[str]
    stores: frozenset[str]  # assigned, deleted, imported, defined, caught
    declared_global: frozenset[str]
    declared_nonlocal: frozenset[str]


@dataclass(frozen=True)
class Literal:
    """A literal a name holds: at a constant's definition or as a parameter's default."""

    node: ast.expr  # the literal
    name: str  # the constant's (or the parameter's) name
    definition: str  # `EPOCHS = 15`, `build_model(units=64)`: where the name gets it
    flags: tuple[str, ...] = ()  # a command-line option's flags (`--units`), which also set it
    absl_flag: str = ""  # an absl flag's name: a trial sets the flag, its DEFINE runs once


@dataclass(frozen=True)
class Passed:
    """What one call of a function passes for a parameter (or the default the calls that pass
    nothing share), named for the ids and the origin comments."""

    value: ast.expr
    label: str  # the parameter's name; with several calls `conv_block_filters`, `conv_block_1_filters`
    written: str  # `conv_block(filters=32), call 2 of 2`, `conv_block(kernel_size=3), its default`


class Facts:
    """The facts of one module (built by :func:`collect`) and the questions asked about them.

    The answers that need a second look at the tree (assignments by scope, the uses of each name,
    function scopes, parameter defaults) are worked out on first use and kept for this module.
    """

    def __init__(self, tree: ast.Module, lines: SourceLines, parents: dict[ast.AST, ast.AST],
                 calls: list[ast.Call], imports: ImportTable, bindings: Counter[str],
                 literal_defs: dict[str, ast.expr], classes: list[ast.ClassDef],
                 partials: dict[str, ast.Call] | None = None) -> None:
        self.tree, self.lines, self.parents = tree, lines, parents
        self.partials = partials or {}  # DefaultConv2D -> its functools.partial(Conv2D, ...) call
        self.calls: tuple[ast.Call, ...] = tuple(calls)
        self.imports, self.bindings, self.literal_defs = imports, bindings, literal_defs
        self.classes: tuple[ast.ClassDef, ...] = tuple(classes)
        self.model_classes = _model_classes(self.classes, imports)  # name -> the user's keras.Model subclass
        self._model_class_ids = {id(cls) for cls in self.model_classes.values()}
        self.user_methods = frozenset(  # methods of the user's other classes: `x.fit` may be one
            item.name
            for cls in self.classes if not self.is_model_class(cls)
            for item in cls.body if isinstance(item, FUNCTIONS))
        self._assignments: dict[int, list[tuple[int, str, ast.expr]]] | None = None
        self._uses: dict[str, tuple[list[ast.Call], bool]] | None = None
        self._scopes: dict[int, Scope] = {}
        self._defaults: dict[tuple[int, str], Literal | None] = {}

    # -- where a node is -----------------------------------------------------------------------
    def scope(self, node: ast.AST) -> ast.AST:
        """The function, lambda or module whose scope holds `node`."""
        node = self.parents.get(node)
        while node is not None and not isinstance(node, _SCOPES):
            node = self.parents.get(node)
        return node if node is not None else self.tree

    def enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, ast.ClassDef):
            node = self.parents.get(node)
        return node

    def is_model_class(self, cls: ast.ClassDef) -> bool:
        return id(cls) in self._model_class_ids

    def assigned_name(self, call: ast.Call) -> str | None:
        """`name` of `name = call` (or `name: T = call`)."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1:
            target = parent.targets[0]
        elif isinstance(parent, ast.AnnAssign) and parent.value is call:
            target = parent.target
        else:
            return None
        return target.id if isinstance(target, ast.Name) else None

    # -- what a name held --------------------------------------------------------------------
    def _assignments_by_scope(self) -> dict[int, list[tuple[int, str, ast.expr]]]:
        if self._assignments is None:  # every `name = value`, by scope, built once
            self._assignments = defaultdict(list)
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self._assignments[id(self.scope(node))].append((node.lineno, target.id, node.value))
        return self._assignments

    def only_value(self, name: str) -> ast.expr | None:
        """The value of the one `name = value` in the file, when the name is bound nowhere else."""
        if self.bindings[name] != 1:
            return None
        values = [v for assigned in self._assignments_by_scope().values() for _, target, v in assigned
                  if target == name]
        return values[0] if len(values) == 1 else None

    def last_assignment(self, name: str, scope: ast.AST, before: int) -> ast.expr | None:
        """The value of the last `name = value` in `scope` on a line before `before`."""
        best: tuple[int, ast.expr] | None = None
        for lineno, target, value in self._assignments_by_scope().get(id(scope), ()):
            if target == name and lineno < before and (best is None or lineno >= best[0]):
                best = (lineno, value)
        return best[1] if best else None

    def value_before(self, name: ast.Name) -> ast.expr | None:
        """The value of the last `name = value` before the read `name`, in the scope it binds in
        (`ds = ds.prefetch(2)` after `ds = make()`); None for a parameter or when there is none."""
        kind, function = self.resolve(name)
        return None if kind == "param" else self.last_assignment(name.id, function or self.tree, name.lineno)

    def self_attribute(self, node: ast.AST, attr: str) -> ast.Call | None:
        """The call assigned to `self.<attr>` in the class around `node` (also as one element of
        `self.a, self.b = A(...), B(...)`)."""
        cls = self.enclosing_class(node)
        if cls is None:
            return None
        for sub in ast.walk(cls):
            if not isinstance(sub, ast.Assign):
                continue
            for target in sub.targets:
                pairs = ([(target, sub.value)] if not isinstance(target, ast.Tuple)
                         else zip(target.elts, sub.value.elts) if isinstance(sub.value, ast.Tuple)
                         and len(sub.value.elts) == len(target.elts) else [])
                for one, value in pairs:
                    if (isinstance(value, ast.Call) and isinstance(one, ast.Attribute) and one.attr == attr
                            and isinstance(one.value, ast.Name) and one.value.id == "self"):
                        return value
        return None

    def constant(self, name: str) -> Literal | None:
        """The literal of a name bound once in the whole file, to a literal (`EPOCHS = 15`)."""
        if self.bindings[name] != 1 or name not in self.literal_defs:
            return None
        literal = self.literal_defs[name]
        return Literal(literal, name, f"{name} = {self.lines.segment(literal)}")

    def changed_in_place(self, name: str, methods: frozenset[str]) -> bool:
        """Whether the file changes the object `name` holds in place anywhere: an item set or
        deleted (`name[k] = v`, `del name[k]`), or one of `methods` called on it (`.update()`)."""
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del))
                    and isinstance(node.value, ast.Name) and node.value.id == name):
                return True
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == name):
                return True
        return False

    def assigned_values(self, name: str, scope: ast.AST) -> list[ast.expr] | None:
        """The values of every `name = value` in `scope`; None when the name is also bound another
        way anywhere in the file (a loop target, `+=`, an import, ...)."""
        by_scope = self._assignments_by_scope()
        everywhere = sum(target == name for assigned in by_scope.values() for _, target, _ in assigned)
        if everywhere != self.bindings[name]:
            return None
        return [value for _, target, value in by_scope.get(id(scope), ()) if target == name]

    def scope_values(self, name: ast.Name) -> list[ast.expr] | None:
        """The values of every `name = value` in the scope where `name` (a read) binds; None for
        a parameter, or a name that scope also binds another way (a loop target, `+=`, `with`)."""
        kind, function = self.resolve(name)
        if kind == "param":
            return None
        scope = function if function is not None else self.tree
        values = [v for _, target, v in self._assignments_by_scope().get(id(scope), ()) if target == name.id]
        stores = 0
        todo = list(ast.iter_child_nodes(scope))
        while todo:
            node = todo.pop()
            if isinstance(node, (*FUNCTIONS, ast.ClassDef, ast.Lambda)):
                stores += getattr(node, "name", None) == name.id
                continue
            if isinstance(node, ast.Name) and node.id == name.id and not isinstance(node.ctx, ast.Load):
                stores += 1
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                stores += any((a.asname or a.name).split(".")[0] == name.id for a in node.names)
            elif isinstance(node, ast.ExceptHandler):
                stores += node.name == name.id
            todo.extend(ast.iter_child_nodes(node))
        return values if stores == len(values) else None

    # -- names: which scope binds them; a function's parameter defaults ------------------------
    def scope_of(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Scope:
        cached = self._scopes.get(id(function))
        if cached is None:
            cached = self._scopes[id(function)] = _scope_of(function)
        return cached

    def resolve(self, name: ast.Name) -> tuple[str, ast.AST | None]:
        """Where a name read binds: ("param", function), ("local", function) or ("module", None).
        Class bodies are skipped (their names are not visible to their methods)."""
        child, node = name, self.parents.get(name)
        while node is not None:
            inside = (child in node.body) if isinstance(node, FUNCTIONS) else (
                isinstance(node, ast.Lambda) and child is node.body)
            if inside:
                scope = self.scope_of(node)
                if name.id in scope.declared_global:
                    return "module", None
                if name.id not in scope.declared_nonlocal:
                    if name.id in scope.params:
                        return "param", node
                    if name.id in scope.stores:
                        return "local", node
            child, node = node, self.parents.get(node)
        return "module", None

    def default(self, function: ast.AST, name: str) -> Literal | None:
        """A parameter's literal default, when it is the value every run of the function sees:
        a plain (non-method, undecorated) function, called in this file by name only, no call
        passing that parameter, and the parameter never rebound in the function."""
        cache_key = (id(function), name)
        if cache_key not in self._defaults:
            self._defaults[cache_key] = self._find_default(function, name)
        return self._defaults[cache_key]

    def _find_default(self, function: ast.AST, name: str) -> Literal | None:
        passed = self.passed_for(function, name)
        if passed is None or any(value is not None for value in passed):
            return None  # callers we cannot see, or one that passes the parameter
        literal = parameter_default(function, name)
        if literal is None or not literal_value(literal)[0] or self.rebinds(function, name):
            return None
        return Literal(literal, name, f"{self.call_name(function)}({name}={self.lines.segment(literal)})")

    def call_name(self, function: ast.AST) -> str:
        """The name a function is called by: a class's for its `__init__`."""
        return self._constructed(function) or getattr(function, "name", "lambda")

    def _constructed(self, function: ast.AST) -> str | None:
        """The class whose `__init__` `function` is, when calls of the class by name are the
        only calls of it: a class of the file's top level, defined once (a subclass names it as
        a base, which `uses_of` counts as a use other than a call)."""
        cls = self.parents.get(function)
        if (not isinstance(function, FUNCTIONS) or function.name != "__init__" or not isinstance(cls, ast.ClassDef)
                or cls not in self.tree.body or self.bindings[cls.name] != 1):
            return None
        return cls.name

    def passed_once(self, function: ast.AST, name: str) -> ast.expr | None:
        """What the one call of `function` in the file passes for its parameter `name`
        (`build_model(64)` for `units`), when that call passes it and the function never
        rebinds it; None otherwise (several calls: which one builds the measured model?)."""
        passed = self.passed_for(function, name)
        if not passed or len(passed) != 1 or passed[0] is None or self.rebinds(function, name):
            return None
        return passed[0]

    def rebinds(self, function: ast.AST, name: str) -> bool:
        scope = self.scope_of(function)
        return name in scope.stores or name in scope.declared_global or any(
            isinstance(node, ast.Nonlocal) and name in node.names for node in ast.walk(function))

    def passed_for(self, function: ast.AST, name: str) -> list[ast.expr | None] | None:
        """What each call of `function` passes for its parameter `name`, in source order (see
        :meth:`passed_by_call`)."""
        by_call = self.passed_by_call(function, name)
        return None if by_call is None else [value for _, value in by_call]

    def values_passed(self, function: ast.AST, name: str) -> list[Passed]:
        """What the calls of `function` pass for its parameter `name`, one entry a call in source
        order, and its default once for the calls that pass nothing; [] when the callers are not
        all seen (passed_by_call) or the function rebinds the name. With several calls, each
        call's value is named apart, numbered as the ids of Keras calls are."""
        by_call = self.passed_by_call(function, name)
        if not by_call or self.rebinds(function, name):
            return []
        callee, count = self.call_name(function), len(by_call)
        found: list[Passed] = []
        default = parameter_default(function, name)
        for index, (_, value) in enumerate(by_call):
            if value is not None:
                label = name if count == 1 else f"{snake(callee)}_{index}_{name}" if index else f"{snake(callee)}_{name}"
                where = f", call {index + 1} of {count}" if count > 1 else ""
                found.append(Passed(value, label, f"{callee}({name}={self.lines.segment(value)}){where}"))
            elif default is not None and not any(p.value is default for p in found):
                found.append(Passed(default, name, f"{callee}({name}={self.lines.segment(default)}), its default"))
        return found

    def passed_by_call(self, function: ast.AST, name: str) -> list[tuple[ast.Call, ast.expr | None]] | None:
        """(each call of `function`, what it passes for its parameter `name`; None: that call
        leaves the default), in source order, when every call can be seen: a plain function
        (not a lambda, a method or decorated), defined once, called by name in this file and
        not passed around as a value, no call unpacking `*args` or `**kwargs`; or the `__init__`
        of a top-level class, made only by calls of the class by name (`Block(32)`). None
        otherwise."""
        if not isinstance(function, FUNCTIONS) or function.decorator_list:
            return None  # a lambda, or called through a decorator we cannot see into
        callee = self.call_name(function)
        if callee == function.name and (
                self.bindings[function.name] != 1 or self.enclosing_class(function) is not None):
            return None  # defined twice, or a method (or in one)
        calls, referenced = self.uses_of(callee)
        if referenced or not calls:
            return None  # passed around as a value, or subclassed: callers we cannot see
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        if callee != function.name:
            positional = positional[1:]  # `self`: `Block(32)` passes 32 for the next one
        index = positional.index(name) if name in positional else None
        passed: list[tuple[ast.Call, ast.expr | None]] = []
        for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                return None
            given = [k.value for k in call.keywords if k.arg == name]
            if index is not None and len(call.args) > index:
                given.append(call.args[index])
            passed.append((call, given[0] if given else None))
        return passed

    def only_binding(self, name: str, scope: ast.AST) -> tuple[ast.expr, ast.expr] | None:
        """(target, value) of the one statement binding `name` in `scope`, when it is
        `name = value` or a pair `name, other = value` (`other, name = value`); None when the
        name is bound another way anywhere in the file (a loop, an import, `+=`) or more than
        once in the scope."""
        stores = [node for node in ast.walk(self.tree)
                  if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del))]
        if len(stores) != self.bindings[name]:
            return None
        here = [node for node in stores if self.scope(node) is scope]
        if len(here) != 1:
            return None
        store = here[0]
        parent = self.parents.get(store)
        if isinstance(parent, ast.Assign) and parent.targets == [store]:
            return store, parent.value
        if (isinstance(parent, (ast.Tuple, ast.List)) and len(parent.elts) == 2
                and all(isinstance(e, ast.Name) for e in parent.elts)):
            statement = self.parents.get(parent)
            if isinstance(statement, ast.Assign) and statement.targets == [parent]:
                return parent, statement.value
        return None

    def follow(self, name: ast.Name, judge: Callable[[ast.expr, ast.expr, int], T | None], depth: int = 0) -> T | None:
        """What `judge(target, value, depth)` makes of the one binding of `name` in the scope the
        read resolves to; a parameter is followed to what every call of its function passes
        under the same name (`build(args)`), when all of them come to the same answer."""
        if depth > FOLLOW_DEPTH:
            return None
        where, function = self.resolve(name)
        if where == "param":
            passed = self.passed_for(function, name.id) or [None]
            found = [self.follow(value, judge, depth + 1) if isinstance(value, ast.Name) and value.id == name.id
                     else None for value in passed]
            return found[0] if found[0] is not None and all(f is found[0] for f in found) else None
        binding = self.only_binding(name.id, function or self.tree)
        return None if binding is None else judge(*binding, depth)

    def top_level(self, name: str, kind: type) -> ast.AST | None:
        """The `def` or `class` (`kind`) of the file's top level named `name`, bound nowhere else,
        or else only by imports of the top level that it replaces before anything there reads them
        (`from typing import get_args`, then `def get_args(): ...`)."""
        found = [node for node in self.tree.body if isinstance(node, kind) and node.name == name]
        if len(found) != 1:
            return None
        definition = found[0]
        replaced = [(stmt, alias) for stmt in self.tree.body if isinstance(stmt, (ast.Import, ast.ImportFrom))
                    for alias in stmt.names if (alias.asname or alias.name).split(".")[0] == name]
        if self.bindings[name] != 1 + len(replaced) or any(s.lineno > definition.lineno for s, _ in replaced):
            return None
        if replaced:
            first = min(s.lineno for s, _ in replaced)
            between = [s for s in self.tree.body if first < s.lineno < definition.lineno and not isinstance(s, FUNCTIONS)]
            if any(isinstance(n, ast.Name) and n.id == name for s in between for n in ast.walk(s)):
                return None  # read while it is still the import
        return definition

    def uses_of(self, function: str) -> tuple[list[ast.Call], bool]:
        """(the calls `function(...)` in the file, whether its name is also read otherwise)."""
        if self._uses is None:
            uses: dict[str, tuple[list[ast.Call], bool]] = {}
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    calls, referenced = uses.get(node.id, ([], False))
                    parent = self.parents.get(node)
                    if isinstance(parent, ast.Call) and parent.func is node:
                        calls.append(parent)
                    else:
                        referenced = True
                    uses[node.id] = (calls, referenced)
            self._uses = uses
        return self._uses.get(function, ([], False))


def _pairs(target: ast.expr, value: ast.expr) -> list[tuple[ast.Name, ast.expr]]:
    """The names an assignment binds, each with the expression it gets: `n = v`, and the
    element-wise `epochs, lr = 100, 0.01` (a tuple or list of names and one of as many values,
    no starred name)."""
    if isinstance(target, ast.Name):
        return [(target, value)]
    if (isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts) and all(isinstance(t, ast.Name) for t in target.elts)):
        return list(zip(target.elts, value.elts))
    return []


def collect(tree: ast.Module, lines: SourceLines, aliases: Mapping[Key, Key] | None = None) -> Facts:
    """The one walk over the tree; `aliases`: a second name of a Keras class -> its key."""
    parents: dict[ast.AST, ast.AST] = {}
    calls: list[ast.Call] = []
    imports = ImportTable(aliases=aliases or {})
    bindings: Counter[str] = Counter()
    literal_defs: dict[str, ast.expr] = {}
    classes: list[ast.ClassDef] = []
    assigns: list[ast.Assign] = []
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
        if isinstance(node, ast.Call):
            calls.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.add(node)
            for alias in node.names:
                bindings[(alias.asname or alias.name).split(".")[0]] += 1
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bindings[node.id] += 1
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            bindings[node.name] += 1
            if isinstance(node, ast.ClassDef):
                classes.append(node)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                bindings[name] += 1
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bindings[node.name] += 1
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            assigns.append(node)
            for target, value in _pairs(node.targets[0], node.value):
                if literal_value(value)[0]:
                    literal_defs[target.id] = value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name) and literal_value(node.value)[0]:
                literal_defs[node.target.id] = node.value
    calls.sort(key=lambda c: (c.lineno, c.col_offset))
    # A user's own class or function named like a Keras one is not Keras.
    for stmt in tree.body:
        if isinstance(stmt, (*FUNCTIONS, ast.ClassDef)):
            imports.shadowed.add(stmt.name)
    partials = _other_names(assigns, imports, bindings)
    return Facts(tree, lines, parents, calls, imports, bindings, literal_defs, classes, partials)


def _other_names(assigns: list[ast.Assign], imports: ImportTable, bindings: Counter[str]) -> dict[str, ast.Call]:
    """Add to `imports` the names a program gives Keras itself, each bound once: a module or a
    class (`keras = tf.keras`, `KL = keras.layers`, `Dense = tf.keras.layers.Dense`), or a class
    with some of its arguments given (`DefaultConv2D = partial(keras.layers.Conv2D,
    kernel_size=3)`: a Conv2D, whose calls take the rest). Returns the names bound to a
    `functools.partial` -> that call, whose own arguments are the class's too."""
    partials: dict[str, ast.Call] = {}
    for node in sorted(assigns, key=lambda node: (node.lineno, node.col_offset)):  # `keras = tf.keras` before `KL = keras.layers`
        for target, value in _pairs(node.targets[0], node.value):
            if bindings[target.id] != 1 or target.id in imports.names or target.id in imports.shadowed:
                continue
            wrapped = partial_of(imports, value)
            text = dotted(wrapped if wrapped is not None else value)
            qualified = imports.qualify(text) if text else None
            if qualified is None or qualified.split(".")[0] not in KERAS_ROOTS:
                continue
            imports.names[target.id] = qualified
            if wrapped is not None:
                partials[target.id] = value
    return partials


def partial_of(imports: ImportTable, node: ast.expr) -> ast.expr | None:
    """`X` of `functools.partial(X, ...)` (or `partial(X, ...)` imported from functools)."""
    if isinstance(node, ast.Call) and node.args and not isinstance(node.args[0], ast.Starred):
        if imports.qualify(dotted(node.func) or "") == "functools.partial":
            return node.args[0]
    return None


def _model_classes(classes: tuple[ast.ClassDef, ...], imports: ImportTable) -> dict[str, ast.ClassDef]:
    """The user's subclasses of keras.Model, directly or through another such class."""
    found: dict[str, ast.ClassDef] = {}
    ids: set[int] = set()
    changed = True
    while changed:
        changed = False
        for cls in classes:
            if id(cls) not in ids and any(
                    imports.key(base) == ("models", "Model")
                    or (isinstance(base, ast.Name) and base.id in found)
                    for base in cls.bases):
                ids.add(id(cls))
                found[cls.name] = cls
                changed = True
    return found


def _scope_of(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> Scope:
    args = function.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    stores: set[str] = set()
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    stack: list[ast.AST] = list(function.body) if isinstance(function, FUNCTIONS) else [function.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (*FUNCTIONS, ast.ClassDef, ast.Lambda)):
            if not isinstance(node, ast.Lambda):
                stores.add(node.name)
                stack.extend(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                stack.extend([*node.bases, *node.keywords])
            else:  # defaults are evaluated here; the body is another scope
                stack.extend(d for d in [*node.args.defaults, *node.args.kw_defaults] if d is not None)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            stores.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stores.add(node.name)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
        stack.extend(ast.iter_child_nodes(node))
    return Scope(frozenset(params), frozenset(stores), frozenset(declared_global),
                 frozenset(declared_nonlocal))
