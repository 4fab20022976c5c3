"""Find the tunable hyperparameters of a Keras program.

This stage only *collects*: it reads the program with the stdlib `ast` (exact spans, C speed;
nothing is executed), resolves callees through the import table, binds arguments against the
metadata catalog and returns `Site` records. Changing code is `rewrite`'s job, done with libcst.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Iterator

from optpar.errors import UserError
from optpar.imports import ImportTable, canonical, dotted
from optpar.metadata import Catalog, Row
from optpar.space import Space, anchor, kind_of

@dataclass(frozen=True)
class Span:
    """A source range: 1-based lines, 0-based character columns, end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Site:
    """One tunable value: where it is, what it feeds, and the space to search."""

    id: str
    file: str
    span: Span
    call: str  # qualified callee, e.g. keras.layers.Dense or keras.Model.fit
    param: str
    value: str  # the original source text
    default: object  # the user's value (the scalar of an all-equal tuple)
    tuple_size: int  # 0: scalar; n: written as an n-tuple of equal values
    kind: str  # int | float | categorical
    space: Space
    origin: str  # where it came from, for comments and messages
    constant: str | None = None  # the constant's name when the value sits at its definition
    code: str = "OPT101"

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col + 1

    def as_json(self) -> dict:
        return {
            "id": self.id, "file": self.file, "line": self.line, "col": self.col,
            "call": self.call, "param": self.param, "value": self.value,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "kind": self.kind, "space": self.space.as_json(), "describe": self.space.describe(),
            "constant": self.constant, "code": self.code,
        }


@dataclass(frozen=True)
class Diagnostic:
    """A warning about the user's code (OPT2xx)."""

    file: str
    line: int
    col: int
    code: str
    message: str


@dataclass(frozen=True)
class FitCall:
    """The fit() call whose validation metric a trial reports (the last one in the file)."""

    span: Span
    has_validation: bool
    callbacks: Span | None  # the value of callbacks=..., when given


@dataclass(frozen=True)
class Analysis:
    path: str
    text: str
    tree: ast.Module
    sites: tuple[Site, ...]
    diagnostics: tuple[Diagnostic, ...]
    fit: FitCall | None
    uses_keras: bool


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class _Bound:
    """A literal a call's argument holds: written there, or at a constant's or a default's definition."""

    node: ast.expr  # the literal
    value: object
    constant: str | None = None  # the constant's (or the parameter's) name
    definition: str | None = None  # `EPOCHS = 15`, `build_model(units=64)`: where the name gets it


@dataclass(frozen=True)
class _Scope:
    """The names one function binds in its own scope (its nested functions and classes excluded)."""

    params: frozenset[str]
    stores: frozenset[str]  # assigned, deleted, imported, defined, caught
    declared_global: frozenset[str]
    declared_nonlocal: frozenset[str]


def _parameter_default(function: ast.AST, name: str) -> ast.expr | None:
    """The default value expression of a function's parameter, if it has one."""
    if not isinstance(function, (*_FUNCTIONS, ast.Lambda)):
        return None
    args = function.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    if name in positional:
        index = positional.index(name) - (len(positional) - len(args.defaults))
        return args.defaults[index] if index >= 0 else None
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        if arg.arg == name:
            return default
    return None


def parse_python(text: str, path: str) -> ast.Module:
    """ast.parse with a one-line UserError for bad input."""
    if "\x00" in text:
        raise UserError(path, 1, 1, "file contains NUL bytes (binary?)")
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise UserError(path, exc.lineno or 1, exc.offset or 1, f"syntax error: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise UserError(path, 1, 1, f"cannot parse: {exc}") from None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """Lines as Python's tokenizer sees them (str.splitlines also splits on \\f, \\v, ...)."""
    lines, start = [], 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def char_col(lines: list[str], line: int, byte_col: int) -> int:
    """ast columns count UTF-8 bytes; editors and libcst count characters."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_col
    return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))


def node_span(lines: list[str], node: ast.AST) -> Span:
    return Span(node.lineno, char_col(lines, node.lineno, node.col_offset),
                node.end_lineno, char_col(lines, node.end_lineno, node.end_col_offset))


def analyze(text: str, path: str, catalog: Catalog) -> Analysis:
    tree = parse_python(text, path)
    return _Matcher(text, path, tree, catalog).run()


def snake(name: str) -> str:
    """Keras's layer-name style: Conv2D -> conv2d, BatchNormalization -> batch_normalization."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _identifier(text: str) -> str:
    ident = re.sub(r"\W+", "_", text).strip("_").lower()
    return ident if ident and not ident[0].isdigit() else f"p_{ident}"


def literal_value(node: ast.expr) -> tuple[bool, object]:
    """The Python value of a literal node (numbers, strings, bools, tuples of numbers)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str)) and not isinstance(node.value, complex):
            return True, node.value
        return False, None
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) in (int, float)):
        value = node.operand.value
        return True, -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Tuple) and node.elts:
        values = []
        for element in node.elts:
            ok, value = literal_value(element)
            if not ok or isinstance(value, (str, tuple)):
                return False, None
            values.append(value)
        return True, tuple(values)
    return False, None


class _Matcher:
    def __init__(self, text: str, path: str, tree: ast.Module, catalog: Catalog) -> None:
        self.text, self.path, self.tree, self.catalog = text, path, tree, catalog
        self.roles = catalog.roles
        self.lines = source_lines(text)
        self.assignments: dict[int, list[tuple[int, str, ast.expr]]] | None = None
        self.rules_cache: dict[tuple[str, str], tuple] = {}
        self.table = ImportTable()
        self.parents: dict[ast.AST, ast.AST] = {}
        self.calls: list[ast.Call] = []
        self.bindings: Counter[str] = Counter()
        self.literal_defs: dict[str, ast.expr] = {}
        self.classes: list[ast.ClassDef] = []
        self.output_calls: set[ast.Call] = set()
        self.width_frozen: set[ast.Call] = set()  # layers with an output activation
        self.chains: list[list[ast.expr]] = []  # Sequential layer lists, with their add() calls
        self.blocked_constants: set[str] = set()
        self.diagnostics: list[Diagnostic] = []
        self.model_class_ids: set[int] = set()
        self.model_classes: dict[str, ast.ClassDef] = {}
        self.scopes: dict[int, _Scope] = {}
        self.function_uses: dict[str, tuple[list[ast.Call], bool]] | None = None
        self.defaults: dict[tuple[int, str], _Bound | None] = {}

    # -- pass 1: one walk collects everything the rules need -------------------------------
    def _collect(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.Call):
                self.calls.append(node)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                self.table.add(node)
                for alias in node.names:
                    self.bindings[(alias.asname or alias.name).split(".")[0]] += 1
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                self.bindings[node.id] += 1
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bindings[node.name] += 1
                if isinstance(node, ast.ClassDef):
                    self.classes.append(node)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                for name in node.names:
                    self.bindings[name] += 1
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.bindings[node.name] += 1
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and literal_value(node.value)[0]:
                    self.literal_defs[target.id] = node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                if isinstance(node.target, ast.Name) and literal_value(node.value)[0]:
                    self.literal_defs[node.target.id] = node.value
        self.calls.sort(key=lambda c: (c.lineno, c.col_offset))
        # A user's own class or function named like a Keras one is not Keras.
        for stmt in self.tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.table.shadowed.add(stmt.name)
        self._find_model_classes()
        self.user_methods = {
            item.name
            for cls in self.classes if not self._is_keras_model_class(cls)
            for item in cls.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
        }

    # -- helpers -----------------------------------------------------------------------------
    def _span(self, node: ast.AST) -> Span:
        return node_span(self.lines, node)

    def _char_col(self, line: int, byte_col: int) -> int:
        return char_col(self.lines, line, byte_col)

    def _source(self, node: ast.AST) -> str:
        """The exact source text of a node (ast.get_source_segment re-splits the file each call)."""
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            line = self.lines[first].encode("utf-8")
            return line[node.col_offset:node.end_col_offset].decode("utf-8", errors="replace")
        parts = [self.lines[first].encode("utf-8")[node.col_offset:].decode("utf-8", errors="replace")]
        parts += self.lines[first + 1:last]
        parts.append(self.lines[last].encode("utf-8")[:node.end_col_offset].decode("utf-8", errors="replace"))
        return "".join(parts)

    def _scope(self, node: ast.AST) -> ast.AST:
        node = self.parents.get(node)
        while node is not None and not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Module)
        ):
            node = self.parents.get(node)
        return node if node is not None else self.tree

    def _find_model_classes(self) -> None:
        """The user's subclasses of keras.Model, directly or through another such class."""
        changed = True
        while changed:
            changed = False
            for cls in self.classes:
                if id(cls) not in self.model_class_ids and any(
                        self.table.key(base) == ("models", "Model")
                        or (isinstance(base, ast.Name) and base.id in self.model_classes)
                        for base in cls.bases):
                    self.model_class_ids.add(id(cls))
                    self.model_classes[cls.name] = cls
                    changed = True

    def _layer_list(self, expr: ast.expr | None, scope: ast.AST, before: int, depth: int = 0) -> list[ast.expr]:
        """The layers of `Sequential(expr)`: a list, a name bound to one, or a sum of those."""
        if depth > 10 or expr is None:
            return []
        if isinstance(expr, (ast.List, ast.Tuple)):
            return list(expr.elts)
        if isinstance(expr, ast.Name):
            value = self._last_assignment(expr.id, scope, before)
            if value is None:
                return []
            added = self._appended(expr.id, scope, value.lineno, before)
            if added is None:
                return []
            return [*self._layer_list(value, scope, value.lineno, depth + 1), *added]
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return [*self._layer_list(expr.left, scope, before, depth + 1),
                    *self._layer_list(expr.right, scope, before, depth + 1)]
        return []

    def _appended(self, name: str, scope: ast.AST, after: int, before: int) -> list[ast.expr] | None:
        """What `name.append(x)` / `name.extend([...])` add to a list between two lines of a
        scope; None when the list is changed in another way there (insert, +=, ...)."""
        added: list[ast.expr] = []
        for node in ast.walk(scope):
            if not after < getattr(node, "lineno", 0) < before:
                continue
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                return None
        for call in self.calls:
            func = call.func
            if (not after < call.lineno < before or not isinstance(func, ast.Attribute)
                    or not isinstance(func.value, ast.Name) or func.value.id != name
                    or self._scope(call) is not scope):
                continue
            if func.attr == "append" and len(call.args) == 1:
                added.append(call.args[0])
            elif func.attr == "extend" and len(call.args) == 1 and isinstance(call.args[0], (ast.List, ast.Tuple)):
                added.extend(call.args[0].elts)
            elif func.attr in ("extend", "insert", "pop", "remove", "reverse", "sort", "clear"):
                return None
        return added

    def _is_keras_model_class(self, cls: ast.ClassDef) -> bool:
        return id(cls) in self.model_class_ids

    def _enclosing_class(self, node: ast.AST) -> ast.ClassDef | None:
        node = self.parents.get(node)
        while node is not None and not isinstance(node, ast.ClassDef):
            node = self.parents.get(node)
        return node

    def _key(self, call: ast.Call) -> tuple[str, str] | None:
        key = self.table.key(call.func)
        if key is not None:
            return key
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in self.roles.methods:
            if func.attr in self.user_methods:
                return None
            receiver = dotted(func.value)
            if receiver is not None:
                head = receiver.split(".")[0]
                if head in self.table.names and self.table.qualify(receiver) is not None:
                    return None  # re.compile, np.fit: a module's function, not a model
            keywords = {k.arg for k in call.keywords if k.arg}
            method = self.roles.methods[func.attr]
            if keywords & self.roles.method_keywords.get(method, frozenset()):
                return ("Model", method)
        return None

    def _is_width_layer(self, call: ast.Call) -> bool:
        key = self.table.key(call.func)
        return key is not None and bool(self.roles.width & set(self.catalog.params(key)))

    # -- output layers: never tuned ----------------------------------------------------------
    def _mark_trailing(self, layers: list[ast.expr]) -> None:
        for layer in reversed(layers):
            if not isinstance(layer, ast.Call):
                break
            self.output_calls.add(layer)
            if self._is_width_layer(layer) or self.table.key(layer.func) is None:
                break

    def _last_assignment(self, name: str, scope: ast.AST, before: int) -> ast.expr | None:
        if self.assignments is None:  # every `name = value`, by scope, built once
            self.assignments = defaultdict(list)
            for node in ast.walk(self.tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self.assignments[id(self._scope(node))].append((node.lineno, target.id, node.value))
        best: tuple[int, ast.expr] | None = None
        for lineno, target, value in self.assignments.get(id(scope), ()):
            if target == name and lineno < before and (best is None or lineno >= best[0]):
                best = (lineno, value)
        return best[1] if best else None

    def _mark_outputs(self, expr: ast.expr, scope: ast.AST, before: int, depth: int = 0) -> None:
        if depth > 25 or expr is None:
            return
        if isinstance(expr, (ast.List, ast.Tuple)):
            for element in expr.elts:
                self._mark_outputs(element, scope, before, depth + 1)
        elif isinstance(expr, ast.Dict):
            for value in expr.values:
                self._mark_outputs(value, scope, before, depth + 1)
        elif isinstance(expr, ast.Name):
            value = self._last_assignment(expr.id, scope, before)
            if value is not None:
                self._mark_outputs(value, scope, value.lineno, depth + 1)
        elif isinstance(expr, ast.Call):
            layer = expr.func
            if isinstance(layer, ast.Name):  # a layer held in a variable: out = Dense(10); out(x)
                layer = self._last_assignment(layer.id, scope, expr.lineno) or layer
            elif isinstance(layer, ast.Attribute) and dotted(layer) and dotted(layer).startswith("self."):
                layer = self._self_attribute(expr, layer.attr) or layer
            if isinstance(layer, ast.Call):
                self.output_calls.add(layer)
                if not self._is_width_layer(layer) and expr.args:
                    self._mark_outputs(expr.args[0], scope, before, depth + 1)
            elif self.table.key(expr.func) is not None:
                # keras.ops / layers.add(...) merging branches: each branch is an output.
                for arg in expr.args:
                    self._mark_outputs(arg, scope, before, depth + 1)

    def _self_attribute(self, node: ast.AST, attr: str) -> ast.Call | None:
        cls = self._enclosing_class(node)
        if cls is None:
            return None
        for sub in ast.walk(cls):
            if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Call):
                for target in sub.targets:
                    if (isinstance(target, ast.Attribute) and target.attr == attr
                            and isinstance(target.value, ast.Name) and target.value.id == "self"):
                        return sub.value
        return None

    def _find_outputs(self) -> None:
        # Sequential chains: `m = Sequential([...])` (or `Sequential()`), then `m.add(...)` calls on
        # the same name in the same scope; the output is the end of the list followed by the adds.
        chains: dict[tuple[int, str], list[ast.expr]] = {}
        every_chain: list[list[ast.expr]] = []
        for call in self.calls:
            key = self.table.key(call.func)
            if key == ("models", "Sequential"):
                layers = call.args[0] if call.args else next(
                    (k.value for k in call.keywords if k.arg == "layers"), None)
                listed = self._layer_list(layers, self._scope(call), call.lineno)
                target = self._assigned_name(call)
                if target is None:
                    self._mark_trailing(listed)
                else:
                    chains[(id(self._scope(call)), target)] = listed
                    every_chain.append(listed)
            elif key == ("models", "Model"):
                self._mark_model_outputs(call, self._outputs_argument(call, 1))
            elif isinstance(call.func, ast.Name) and call.func.id in self.model_classes:
                # A user's Model subclass called like keras.Model: MyModel(inputs, outputs).
                index = self._init_outputs_index(self.model_classes[call.func.id], frozenset())
                self._mark_model_outputs(call, self._outputs_argument(call, index))
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "__init__":
                self._mark_model_outputs(call, self._init_outputs(call))
            elif (isinstance(call.func, ast.Attribute) and call.func.attr == "add"
                  and isinstance(call.func.value, ast.Name) and len(call.args) == 1):
                chain_key = (id(self._scope(call)), call.func.value.id)
                if chain_key not in chains:
                    chains[chain_key] = []
                    every_chain.append(chains[chain_key])
                chains[chain_key].append(call.args[0])
        for layers in every_chain:
            self._mark_trailing(layers)
        self.chains = every_chain
        for cls in self.classes:
            if not self._is_keras_model_class(cls):
                continue
            for item in cls.body:
                if isinstance(item, ast.FunctionDef) and item.name == "call":
                    for node in ast.walk(item):
                        if isinstance(node, ast.Return) and node.value is not None:
                            self._mark_outputs(node.value, item, node.lineno + 1)
        self._freeze_output_activation_widths()
        for call in self.output_calls:
            for arg in [*call.args, *(k.value for k in call.keywords)]:
                if isinstance(arg, ast.Name):
                    self.blocked_constants.add(arg.id)

    def _assigned_name(self, call: ast.Call) -> str | None:
        """`name` of `name = call` (or `name: T = call`)."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1:
            target = parent.targets[0]
        elif isinstance(parent, ast.AnnAssign) and parent.value is call:
            target = parent.target
        else:
            return None
        return target.id if isinstance(target, ast.Name) else None

    def _mark_model_outputs(self, call: ast.Call, outputs: ast.expr | None) -> None:
        if outputs is not None:
            self._mark_outputs(outputs, self._scope(call), call.lineno)

    @staticmethod
    def _outputs_argument(call: ast.Call, index: int | None, offset: int = 0) -> ast.expr | None:
        """The `outputs` argument of a Model-like call: by keyword, or at a positional index."""
        keyword = next((k.value for k in call.keywords if k.arg == "outputs"), None)
        if keyword is not None or index is None:
            return keyword
        position = index + offset
        if len(call.args) <= position or any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
            return None
        return call.args[position]

    def _init_outputs_index(self, cls: ast.ClassDef, seen: frozenset[str]) -> int | None:
        """Where `outputs` is among the positional arguments (self excluded) of the __init__ that
        calling `cls` runs: the user's own, when the class or a user base defines one, else
        keras.Model(inputs, outputs)'s; None when that __init__ takes no `outputs`."""
        init = next((item for item in cls.body
                     if isinstance(item, _FUNCTIONS) and item.name == "__init__"), None)
        if init is None:
            return self._base_init_outputs_index(cls, seen)
        names = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
        return names.index("outputs") if "outputs" in names else None

    def _base_init_outputs_index(self, cls: ast.ClassDef, seen: frozenset[str]) -> int | None:
        for base in cls.bases:
            if (isinstance(base, ast.Name) and base.id in self.model_classes
                    and base.id not in seen and base.id != cls.name):
                return self._init_outputs_index(self.model_classes[base.id], seen | {cls.name})
        return 1

    def _init_outputs(self, call: ast.Call) -> ast.expr | None:
        """The outputs of `super().__init__(inputs, outputs)` in a Model subclass, or of
        `keras.Model.__init__(self, inputs, outputs)` / `MyBase.__init__(self, ...)`."""
        owner = call.func.value
        if (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
                and owner.func.id == "super"):
            cls = self._enclosing_class(call)
            if cls is None or not self._is_keras_model_class(cls):
                return None
            return self._outputs_argument(call, self._base_init_outputs_index(cls, frozenset()))
        if self.table.key(owner) == ("models", "Model"):
            return self._outputs_argument(call, 1, offset=1)
        if isinstance(owner, ast.Name) and owner.id in self.model_classes:
            index = self._init_outputs_index(self.model_classes[owner.id], frozenset())
            return self._outputs_argument(call, index, offset=1)
        return None

    def _freeze_output_activation_widths(self) -> None:
        """A layer with an output activation (softmax, ...), or followed in a Sequential by an
        Activation layer with one, is an output layer wherever it is: its width is never tuned,
        nor a constant or default that gives it."""
        for call in self.calls:
            key = self.table.key(call.func)
            if key is None or call in self.output_calls or not self.catalog.knows(key):
                continue
            if any(row.param in self.roles.activation and self._is_output_activation(arg)
                   for row, arg in self._arguments(call, key)):
                self._freeze_width(call, key)
        for chain in self.chains:
            for layer, after in zip(chain, chain[1:]):
                if isinstance(layer, ast.Call) and self._is_output_activation_layer(after):
                    key = self.table.key(layer.func)
                    if key is not None and self.catalog.knows(key):
                        self._freeze_width(layer, key)

    def _freeze_width(self, call: ast.Call, key: tuple[str, str]) -> None:
        self.width_frozen.add(call)
        for row, arg in self._arguments(call, key):
            if row.param in self.roles.width and isinstance(arg, ast.Name):
                self.blocked_constants.add(arg.id)

    def _is_output_activation_layer(self, node: ast.expr) -> bool:
        """Activation("softmax"), Softmax()."""
        if not isinstance(node, ast.Call):
            return False
        key = self.table.key(node.func)
        if key in self.roles.output_layers:
            return True
        role = self.roles.activation_layers.get(key)
        if role is None:
            return False
        given = node.args[role.position] if len(node.args) > role.position else next(
            (k.value for k in node.keywords if k.arg == role.name), None)
        return given is not None and self._is_output_activation(given)

    def _is_output_activation(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            where, function = self._resolve(node)
            if where == "param":  # def head(x, activation="softmax")
                node = _parameter_default(function, node.id) or node
            elif node.id in self.literal_defs and self.bindings[node.id] == 1:
                node = self.literal_defs[node.id]
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) and node.value in self.roles.output_activations
        text = dotted(node)  # keras.activations.softmax, tf.nn.sigmoid
        if text is None or "." not in text or text.rsplit(".", 1)[1] not in self.roles.output_activations:
            return False
        qualified = self.table.qualify(text)
        return qualified is not None and (canonical(qualified) is not None
                                          or qualified.split(".")[0] == "tensorflow")

    # -- binding arguments to catalog rows ---------------------------------------------------
    def _arguments(self, call: ast.Call, key: tuple[str, str]) -> Iterator[tuple[Row, ast.expr]]:
        params = self.catalog.params(key)
        positional = self.catalog.positional(key)
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            row = positional[index] if index < len(positional) else None
            if row is not None:
                yield row, arg
        for keyword in call.keywords:
            if keyword.arg and keyword.arg in params:
                yield params[keyword.arg], keyword.value

    def _keras1(self, call: ast.Call, key: tuple[str, str]) -> None:
        rules = self.rules_cache.get(key)
        if rules is None:
            rules = self.rules_cache[key] = self.catalog.keras1_rules(key)
        for keyword in call.keywords:
            for rule in rules:
                if keyword.arg == rule.old:
                    self.diagnostics.append(Diagnostic(
                        self.path, keyword.lineno, self._char_col(keyword.lineno, keyword.col_offset) + 1,
                        rule.code, rule.message))
        positional = self.roles.keras1_positional.get(key)
        if positional is not None:
            start, end = positional.position, positional.position + positional.size
            if len(call.args) >= end and all(literal_value(a)[0] and isinstance(literal_value(a)[1], int)
                                             for a in call.args[start:end]):
                given = ", ".join(self._source(a) for a in call.args[start:end])
                self.diagnostics.append(Diagnostic(
                    self.path, call.lineno, self._char_col(call.lineno, call.col_offset) + 1, "OPT201",
                    f"Keras 1 form {key[1]}(filters, {given}): Keras 3 reads the third "
                    f"argument as strides; write {positional.name}=({given})"))

    def _value_of(self, row: Row, node: ast.expr) -> _Bound | None:
        """The literal an argument holds, or None when it holds none we can tune."""
        bound = _Bound(node, None)
        if isinstance(node, ast.Name):
            if node.id in self.blocked_constants:
                return None
            where, function = self._resolve(node)
            if where == "param":
                bound = self._default(function, node.id)
            elif self.bindings[node.id] == 1 and node.id in self.literal_defs:
                literal = self.literal_defs[node.id]
                bound = _Bound(literal, None, node.id, f"{node.id} = {self._source(literal)}")
            else:
                return None
            if bound is None:
                return None
        ok, value = literal_value(bound.node)
        if not ok:
            return None
        if isinstance(value, tuple):
            if row.tuple_size < 2 or len(value) != row.tuple_size or len(set(value)) != 1:
                return None
            value = value[0]
        if isinstance(value, str) and row.param in self.roles.activation and value in self.roles.output_activations:
            return None
        return dataclasses.replace(bound, value=value)

    # -- names: which scope binds them; a function's parameter defaults -----------------------
    def _scope_of(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> _Scope:
        cached = self.scopes.get(id(function))
        if cached is not None:
            return cached
        args = function.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        stores: set[str] = set()
        declared_global: set[str] = set()
        declared_nonlocal: set[str] = set()
        stack: list[ast.AST] = list(function.body) if isinstance(function, _FUNCTIONS) else [function.body]
        while stack:
            node = stack.pop()
            if isinstance(node, (*_FUNCTIONS, ast.ClassDef, ast.Lambda)):
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
        scope = _Scope(frozenset(params), frozenset(stores), frozenset(declared_global),
                       frozenset(declared_nonlocal))
        self.scopes[id(function)] = scope
        return scope

    def _resolve(self, name: ast.Name) -> tuple[str, ast.AST | None]:
        """Where a name read binds: ("param", function), ("local", function) or ("module", None).
        Class bodies are skipped (their names are not visible to their methods)."""
        child, node = name, self.parents.get(name)
        while node is not None:
            inside = (child in node.body) if isinstance(node, _FUNCTIONS) else (
                isinstance(node, ast.Lambda) and child is node.body)
            if inside:
                scope = self._scope_of(node)
                if name.id in scope.declared_global:
                    return "module", None
                if name.id not in scope.declared_nonlocal:
                    if name.id in scope.params:
                        return "param", node
                    if name.id in scope.stores:
                        return "local", node
            child, node = node, self.parents.get(node)
        return "module", None

    def _default(self, function: ast.AST, name: str) -> _Bound | None:
        """A parameter's literal default, when it is the value every run of the function sees:
        a plain (non-method, undecorated) function, called in this file by name only, no call
        passing that parameter, and the parameter never rebound in the function."""
        cache_key = (id(function), name)
        if cache_key not in self.defaults:
            self.defaults[cache_key] = self._find_default(function, name)
        return self.defaults[cache_key]

    def _find_default(self, function: ast.AST, name: str) -> _Bound | None:
        if not isinstance(function, _FUNCTIONS) or function.decorator_list:
            return None  # a lambda, or called through a decorator we cannot see into
        if self.bindings[function.name] != 1 or self._enclosing_class(function) is not None:
            return None  # defined twice, or a method (or in one)
        literal = _parameter_default(function, name)
        if literal is None or not literal_value(literal)[0]:
            return None
        scope = self._scope_of(function)
        if name in scope.stores or name in scope.declared_global or any(
                isinstance(node, ast.Nonlocal) and name in node.names for node in ast.walk(function)):
            return None
        calls, referenced = self._uses_of(function.name)
        if referenced or not calls:
            return None  # passed around as a value: callers we cannot see
        positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        index = positional.index(name) if name in positional else None
        for call in calls:
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                return None
            if any(k.arg == name for k in call.keywords) or (index is not None and len(call.args) > index):
                return None
        return _Bound(literal, None, name, f"{function.name}({name}={self._source(literal)})")

    def _uses_of(self, function: str) -> tuple[list[ast.Call], bool]:
        """(the calls `function(...)` in the file, whether its name is also read otherwise)."""
        if self.function_uses is None:
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
            self.function_uses = uses
        return self.function_uses.get(function, ([], False))

    def run(self) -> Analysis:
        self._collect()
        uses_keras = self.table.uses_keras
        if not uses_keras:
            return Analysis(self.path, self.text, self.tree, (), (), None, False)
        self._find_outputs()
        found: list[tuple[ast.Call, tuple[str, str], Row, _Bound]] = []
        fits: list[ast.Call] = []
        for call in self.calls:
            key = self._key(call)
            if key is None:
                continue
            self._keras1(call, key)
            if key == ("Model", "fit"):
                fits.append(call)
            if call in self.output_calls:
                continue
            for row, arg in self._arguments(call, key):
                if call in self.width_frozen and row.param in self.roles.width:
                    continue
                bound = self._value_of(row, arg)
                if bound is not None:
                    found.append((call, key, row, bound))
        sites = self._make_sites(found)
        fit = self._fit_call(fits[-1]) if fits else None
        self.diagnostics.sort(key=lambda d: (d.line, d.col))
        return Analysis(self.path, self.text, self.tree, tuple(sites), tuple(self.diagnostics),
                        fit, uses_keras)

    def _call_name(self, call: ast.Call, key: tuple[str, str]) -> str:
        if key[0] == "Model":
            return f"keras.Model.{key[1]}"
        return f"keras.{key[0]}.{key[1]}"

    def _make_sites(self, found: list) -> list[Site]:
        counters: Counter[str] = Counter()
        call_base: dict[ast.Call, str] = {}
        by_constant: dict[int, Site] = {}  # by the literal at the definition
        used_ids: set[str] = set()
        sites: list[Site] = []
        for call, key, row, bound in found:
            node, value, constant = bound.node, bound.value, bound.constant
            space = anchor(row, value)
            if space is None:
                continue
            short = f"{key[1]}({row.param}=...)"
            if constant is not None:
                if id(node) in by_constant:
                    continue
                hp_id = _identifier(constant)
                origin = (f"{self.path}:{node.lineno} {bound.definition}, "
                          f"used as {key[1]}({row.param}) at line {call.lineno}")
            else:
                if call not in call_base:
                    base = key[1] if key[0] == "Model" else snake(key[1])
                    name = next((k.value for k in call.keywords if k.arg == "name"), None)
                    if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value:
                        base = _identifier(name.value)
                    else:
                        n = counters[base]
                        counters[base] += 1
                        base = f"{base}_{n}" if n else base
                    call_base[call] = base
                hp_id = f"{call_base[call]}_{row.param}"
                origin = f"{self.path}:{node.lineno} {key[1]}({row.param}={self._source(node)})"
            unique, n = hp_id, 2
            while unique in used_ids:
                unique, n = f"{hp_id}_{n}", n + 1
            used_ids.add(unique)
            site = Site(
                id=unique, file=self.path, span=self._span(node),
                call=self._call_name(call, key), param=row.param, value=self._source(node),
                default=value, tuple_size=len(node.elts) if isinstance(node, ast.Tuple) else 0,
                kind=kind_of(row), space=space, origin=origin, constant=constant,
                code="OPT102" if constant else "OPT101",
            )
            if constant is not None:
                by_constant[id(node)] = site
            sites.append(site)
        sites.sort(key=lambda s: (s.span.line, s.span.col))
        return sites

    def _fit_call(self, call: ast.Call) -> FitCall:
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        given = self.roles.validation.get("fit", ())
        has_validation = any(r.name in keywords or (r.position is not None and len(call.args) > r.position)
                             for r in given)
        callbacks = keywords.get("callbacks")
        return FitCall(self._span(call), has_validation,
                       self._span(callbacks) if callbacks is not None else None)


def iter_sites(analyses: Iterable[Analysis]) -> Iterator[Site]:
    for analysis in analyses:
        yield from analysis.sites
