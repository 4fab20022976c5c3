"""Which calls make a model's outputs: never tuned (DESIGN.md, "Search-space rules").

- the end of each Sequential chain, back to and including the last layer that sets a width;
- the layers behind a functional `Model(inputs, outputs)`, also through the user's own Model
  subclasses (`MyModel(inputs, outputs)`, `super().__init__(inputs, outputs)`), and what a
  subclass's `call` returns; through the user's own functions (`outputs = dense_block(x, 1)`,
  `model.add(dense_layer(10))`): the layers they return, for every call of them;
- the safety net: a layer with an output activation (softmax, ...), or followed in a Sequential
  by an `Activation("softmax")`, keeps its width wherever it is, unless it is hidden: a layer
  that sets a width comes after it in a Sequential, or takes its output directly
  (`Dense(10)(Dense(32, activation="sigmoid")(x))`, also through a name). A hidden layer's
  output activation is an ordinary one, tuned like `relu` (an MLP of sigmoid layers).

What counts as a width, an output activation or an activation layer is roles.csv's.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from optpar.analysis.calls import bound_arguments, is_width_layer, role_arguments
from optpar.analysis.chains import Chains, sequential_chains
from optpar.analysis.facts import FOLLOW_DEPTH, Facts
from optpar.analysis.merges import Sums, coupled_widths, elementwise_sums
from optpar.analysis.syntax import FUNCTIONS, literal_value, parameter_default
from optpar.csvrows import Key
from optpar.imports import canonical, dotted
from optpar.metadata import Catalog
from optpar.roles import Roles


@dataclass(frozen=True)
class Outputs:
    calls: frozenset[ast.Call]  # layers that make a model's outputs: nothing of theirs is tuned
    width_frozen: frozenset[ast.Call]  # layers with an output activation, or summed (merges): widths kept
    blocked: frozenset[str]  # names those calls read there: the constants (or defaults) are kept
    hidden: frozenset[ast.Call] = frozenset()  # layers another width layer follows: no output activation


def find_outputs(facts: Facts, catalog: Catalog, sums: Sums | None = None) -> Outputs:
    chains = sequential_chains(facts)
    calls = _OutputLayers(facts, catalog).find(chains)
    hidden, reshaped = hidden_layers(facts, catalog, chains)
    hidden -= calls
    width_frozen, blocked = _output_activation_widths(facts, catalog, chains, calls | hidden)
    width_frozen |= reshaped
    blocked |= {arg.id for call in reshaped for row, arg in bound_arguments(catalog, facts.imports.key(call.func), call)
                if row.param in catalog.roles.width and isinstance(arg, ast.Name)}
    sums = elementwise_sums(facts, catalog) if sums is None else sums
    summed, names = coupled_widths(facts, catalog, sums)  # widths summed elementwise, written apart
    width_frozen, blocked = width_frozen | summed, blocked | names
    for call in calls:
        for arg in [*call.args, *(k.value for k in call.keywords)]:
            if isinstance(arg, ast.Name):
                blocked.add(arg.id)
    return Outputs(frozenset(calls), frozenset(width_frozen), frozenset(blocked), frozenset(hidden))


def partial_outputs(facts: Facts, catalog: Catalog, outputs: Outputs) -> set[tuple[int, str]]:
    """(id of a `functools.partial` call, parameter) that an output layer made through it takes
    from it: `Dense10 = partial(Dense, activation="softmax")`, then `Dense10(10)` last. What the
    output layer gives itself (`RegularizedDense(10, activation="softmax")`) leaves the hidden
    layers' value of the partial tuned. A width is held where the output's width is."""
    held: set[tuple[int, str]] = set()
    for call in outputs.calls | outputs.width_frozen:
        if not (isinstance(call.func, ast.Name) and call.func.id in facts.partials):
            continue
        made = facts.partials[call.func.id]
        key = facts.imports.key(call.func)
        own = {row.param for row, _ in bound_arguments(catalog, key, call)}
        for row, _ in bound_arguments(catalog, key, made):
            if row.param not in own and (call in outputs.calls or row.param in catalog.roles.width):
                held.add((id(made), row.param))
    return held


def hidden_layers(facts: Facts, catalog: Catalog, chains: Chains) -> tuple[set[ast.Call], set[ast.Call]]:
    """(the hidden layers, the widths a reshape needs). A layer is hidden when what takes its
    output is a layer that sets a width, or a layer that keeps the size (Dropout, Flatten) and
    is hidden itself: it follows in a Sequential, or takes it as its first input
    (`Dense(10)(h)` where `h = Dense(32, activation="sigmoid")(x)`); a merge (`Multiply()([g,
    x])`) is no such layer. A layer that sets a width and whose output reaches a reshape (roles.csv
    `reshape` rows) the same way keeps its width: `Reshape((7, 7, 64))` needs 3136. A shape
    computed in the code (`Reshape((w, h * filters))`) may follow a tuned constant: not kept."""
    taken_by: dict[ast.Call, list[ast.Call]] = {}

    def keras(node: ast.expr | None) -> bool:
        return isinstance(node, ast.Call) and facts.imports.key(node.func) is not None

    for chain in [*chains.named, *chains.unnamed]:
        for layer, after in zip(chain, chain[1:]):
            if keras(layer) and keras(after):
                taken_by.setdefault(layer, []).append(after)
    for call in facts.calls:  # Dense(10)(x): the layer Dense(10) is call.func
        if not (keras(call.func) and call.args):
            continue
        given = call.args[0]
        if isinstance(given, ast.Name):
            given = facts.last_assignment(given.id, facts.scope(call), call.lineno)
        if isinstance(given, ast.Call) and keras(given.func):
            taken_by.setdefault(given.func, []).append(call.func)
    reshapes = catalog.roles.reshapes
    memo: dict[tuple[ast.Call, bool], bool] = {}

    def reaches(layer: ast.Call, width: bool, depth: int = 0) -> bool:
        """width: whether every layer taking its output sets a width (through size keepers);
        else whether some layer taking it is a reshape."""
        if (layer, width) not in memo:
            memo[layer, width] = False  # a cycle (a layer object called twice) decides nothing
            after = taken_by.get(layer, [])
            if width:
                found = bool(after) and depth < 25 and all(
                    is_width_layer(facts, catalog, a) or (facts.imports.key(a.func) not in reshapes
                                                          and reaches(a, True, depth + 1)) for a in after)
            else:
                found = depth < 25 and any(
                    (facts.imports.key(a.func) in reshapes and _written_shape(a))
                    or (not is_width_layer(facts, catalog, a) and reaches(a, False, depth + 1)) for a in after)
            memo[layer, width] = found
        return memo[layer, width]

    hidden = {layer for layer in taken_by if reaches(layer, True)}
    reshaped = {layer for layer in taken_by if is_width_layer(facts, catalog, layer) and reaches(layer, False)}
    return hidden, reshaped


def _written_shape(call: ast.Call) -> bool:
    """Whether a reshape's target is written as numbers: `Reshape((7, 7, 64))`, `Reshape((-1, 128))`."""
    target = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "target_shape"), None)
    return isinstance(target, (ast.Tuple, ast.List)) and bool(target.elts) and all(
        literal_value(e)[0] and type(literal_value(e)[1]) is int for e in target.elts)


class _OutputLayers:
    """Marks the calls that make the outputs of the module's models."""

    def __init__(self, facts: Facts, catalog: Catalog) -> None:
        self.facts, self.catalog = facts, catalog
        self.marked: set[ast.Call] = set()
        # a model's outputs by keyword: `outputs=`, and Keras 1's name for it (keras1.csv's `output`)
        self.keywords = frozenset({"outputs"} | {rule.old for rule in catalog.keras1_rules(("models", "Model"))
                                                 if rule.new == "outputs"})

    def find(self, chains: Chains) -> set[ast.Call]:
        facts = self.facts
        for call in facts.calls:
            key = facts.imports.key(call.func)
            if key == ("models", "Sequential"):
                continue  # chains.py's
            if key == ("models", "Model"):
                self._mark_model_outputs(call, _outputs_argument(call, 1, self.keywords))
            elif isinstance(call.func, ast.Name) and call.func.id in facts.model_classes:
                # A user's Model subclass called like keras.Model: MyModel(inputs, outputs).
                index = self._init_outputs_index(facts.model_classes[call.func.id], frozenset())
                self._mark_model_outputs(call, _outputs_argument(call, index, self.keywords))
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "__init__":
                self._mark_model_outputs(call, self._init_outputs(call))
        for layers in [*chains.unnamed, *chains.named]:
            self._mark_trailing(layers)
        for cls in facts.classes:
            if not facts.is_model_class(cls):
                continue
            for item in cls.body:
                if isinstance(item, ast.FunctionDef) and item.name == "call":
                    for node in ast.walk(item):
                        if isinstance(node, ast.Return) and node.value is not None:
                            self._mark(node.value, item, node.lineno + 1)
        return self.marked

    def _mark_trailing(self, layers: tuple[ast.expr, ...]) -> None:
        for layer in reversed(layers):
            if not isinstance(layer, ast.Call):
                break
            if (helper := self._helper(layer.func)) is not None:  # model.add(dense_layer(10, "softmax"))
                self._mark_layers(helper, 0)
                break
            self.marked.add(layer)
            if (is_width_layer(self.facts, self.catalog, layer) or self._wrapped_width(layer)
                    or self.facts.imports.key(layer.func) is None):
                break

    def _mark(self, expr: ast.expr, scope: ast.AST, before: int, depth: int = 0) -> None:
        """Mark the layers that produce `expr`, walking back through names and layer calls up
        to and including the first layer that sets a width."""
        if depth > 25 or expr is None:
            return
        facts = self.facts
        if isinstance(expr, (ast.List, ast.Tuple)):
            for element in expr.elts:
                self._mark(element, scope, before, depth + 1)
        elif isinstance(expr, ast.Dict):
            for value in expr.values:
                self._mark(value, scope, before, depth + 1)
        elif isinstance(expr, ast.BinOp):  # q = value + advantage: arithmetic on tensors merges them
            self._mark(expr.left, scope, before, depth + 1)
            self._mark(expr.right, scope, before, depth + 1)
        elif isinstance(expr, ast.UnaryOp):
            self._mark(expr.operand, scope, before, depth + 1)
        elif isinstance(expr, ast.Name):
            value = facts.last_assignment(expr.id, scope, before)
            if value is not None:
                self._mark(value, scope, value.lineno, depth + 1)
        elif isinstance(expr, ast.Call):
            if (helper := self._helper(expr.func)) is not None:  # out = dense_block(x, 1)
                for value in returned(helper):
                    self._mark(value, helper, value.lineno + 1, depth + 1)
                return
            layer = expr.func
            if isinstance(layer, ast.Call) and (helper := self._helper(layer.func)) is not None:
                self._mark_layers(helper, depth + 1)  # out = dense_layer(1)(x)
                return
            if isinstance(layer, ast.Name):  # a layer held in a variable: out = Dense(10); out(x)
                layer = facts.last_assignment(layer.id, scope, expr.lineno) or layer
            elif isinstance(layer, ast.Attribute) and dotted(layer) and dotted(layer).startswith("self."):
                layer = facts.self_attribute(expr, layer.attr) or layer
            if isinstance(layer, ast.Call):
                self.marked.add(layer)
                if not is_width_layer(facts, self.catalog, layer) and not self._wrapped_width(layer) and expr.args:
                    self._mark(expr.args[0], scope, before, depth + 1)
            elif facts.imports.key(expr.func) is not None:
                # keras.ops / layers.add(...) merging branches: each branch is an output.
                for arg in expr.args:
                    self._mark(arg, scope, before, depth + 1)
            elif expr.args and (facts.imports.qualify(dotted(expr.func) or "") or "").split(".")[0] in (
                    "tensorflow", "keras"):
                # tf.sigmoid(x), tf.nn.softmax(x): a function of the output, which its layer makes
                self._mark(expr.args[0], scope, before, depth + 1)

    def _wrapped_width(self, layer: ast.Call) -> bool:
        """Mark the layer a wrapper applies (`TimeDistributed(Dense(1))`); whether it sets the width."""
        row = self.catalog.roles.wrappers.get(self.facts.imports.key(layer.func))
        if row is None:
            return False
        inner = next((value for _, value in role_arguments(layer, {row.name: row})), None)
        if not isinstance(inner, ast.Call):
            return False
        self.marked.add(inner)
        return is_width_layer(self.facts, self.catalog, inner) or self._wrapped_width(inner)

    def _helper(self, func: ast.expr) -> ast.AST | None:
        """The user's own top-level function a call calls (`dense_block(x, 1)`), if it is one."""
        return self.facts.top_level(func.id, FUNCTIONS) if isinstance(func, ast.Name) else None

    def _mark_layers(self, helper: ast.AST, depth: int) -> None:
        """Mark the Keras layers a helper returns unapplied (`return layers.Dense(n)`), through
        the helpers it returns the layers of: for every call, since one of them makes an output."""
        if depth > 25:
            return
        for value in returned(helper):
            if isinstance(value, ast.Call) and (inner := self._helper(value.func)) is not None:
                self._mark_layers(inner, depth + 1)
            elif isinstance(value, ast.Call) and self.facts.imports.key(value.func) is not None:
                self.marked.add(value)

    def _mark_model_outputs(self, call: ast.Call, outputs: ast.expr | None) -> None:
        if outputs is not None:
            self._mark(outputs, self.facts.scope(call), call.lineno)

    def _init_outputs_index(self, cls: ast.ClassDef, seen: frozenset[str]) -> int | None:
        """Where `outputs` is among the positional arguments (self excluded) of the __init__ that
        calling `cls` runs: the user's own, when the class or a user base defines one, else
        keras.Model(inputs, outputs)'s; None when that __init__ takes no `outputs`."""
        init = next((item for item in cls.body
                     if isinstance(item, FUNCTIONS) and item.name == "__init__"), None)
        if init is None:
            return self._base_init_outputs_index(cls, seen)
        names = [a.arg for a in [*init.args.posonlyargs, *init.args.args]][1:]
        return names.index("outputs") if "outputs" in names else None

    def _base_init_outputs_index(self, cls: ast.ClassDef, seen: frozenset[str]) -> int | None:
        model_classes = self.facts.model_classes
        for base in cls.bases:
            if (isinstance(base, ast.Name) and base.id in model_classes
                    and base.id not in seen and base.id != cls.name):
                return self._init_outputs_index(model_classes[base.id], seen | {cls.name})
        return 1

    def _init_outputs(self, call: ast.Call) -> ast.expr | None:
        """The outputs of `super().__init__(inputs, outputs)` in a Model subclass, or of
        `keras.Model.__init__(self, inputs, outputs)` / `MyBase.__init__(self, ...)`."""
        facts = self.facts
        owner = call.func.value
        if (isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
                and owner.func.id == "super"):
            cls = facts.enclosing_class(call)
            if cls is None or not facts.is_model_class(cls):
                return None
            return _outputs_argument(call, self._base_init_outputs_index(cls, frozenset()), self.keywords)
        if facts.imports.key(owner) == ("models", "Model"):
            return _outputs_argument(call, 1, self.keywords, offset=1)
        if isinstance(owner, ast.Name) and owner.id in facts.model_classes:
            index = self._init_outputs_index(facts.model_classes[owner.id], frozenset())
            return _outputs_argument(call, index, self.keywords, offset=1)
        return None


def returned(function: ast.AST) -> list[ast.expr]:
    """What the `return` statements of `function` itself (not of a function in it) return."""
    found: list[ast.expr] = []
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            found.append(node.value)
        elif not isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _outputs_argument(call: ast.Call, index: int | None, keywords: frozenset[str],
                      offset: int = 0) -> ast.expr | None:
    """The `outputs` argument of a Model-like call: by one of `keywords`, or at a positional index."""
    keyword = next((k.value for k in call.keywords if k.arg in keywords), None)
    if keyword is not None or index is None:
        return keyword
    position = index + offset
    if len(call.args) <= position or any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        return None
    return call.args[position]


# -- the safety net: output activations --------------------------------------------------------

def _output_activation_widths(facts: Facts, catalog: Catalog, chains: Chains,
                              outputs: set[ast.Call]) -> tuple[set[ast.Call], set[str]]:
    """A layer with an output activation (softmax, ...), or followed in a Sequential by an
    Activation layer with one, is an output layer wherever it is: its width is never tuned,
    nor a constant or default that gives it. Returns (those layers, the names giving widths)."""
    roles = catalog.roles
    frozen: list[tuple[ast.Call, Key]] = []
    for call in facts.calls:
        key = facts.imports.key(call.func)
        if key is None or call in outputs or not catalog.knows(key):
            continue
        if any(row.param in roles.activation and is_output_activation(facts, roles, arg)
               for row, arg in bound_arguments(catalog, key, call)):
            frozen.append((call, key))
    for chain in chains.named:
        for layer, after in zip(chain, chain[1:]):
            if isinstance(layer, ast.Call) and _is_output_activation_layer(facts, roles, after):
                key = facts.imports.key(layer.func)
                if key is not None and catalog.knows(key):
                    frozen.append((layer, key))
    blocked = {arg.id for call, key in frozen for row, arg in bound_arguments(catalog, key, call)
               if row.param in roles.width and isinstance(arg, ast.Name)}
    return {call for call, _ in frozen}, blocked


def _is_output_activation_layer(facts: Facts, roles: Roles, node: ast.expr) -> bool:
    """Activation("softmax"), Softmax()."""
    if not isinstance(node, ast.Call):
        return False
    key = facts.imports.key(node.func)
    if key in roles.output_layers:
        return True
    role = roles.activation_layers.get(key)
    if role is None:
        return False
    given = node.args[role.position] if len(node.args) > role.position else next(
        (k.value for k in node.keywords if k.arg == role.name), None)
    return given is not None and is_output_activation(facts, roles, given)


def is_output_activation(facts: Facts, roles: Roles, node: ast.expr, depth: int = 0) -> bool:
    """`"softmax"`, `keras.activations.softmax`, `tf.nn.sigmoid`, or a name bound to one (a
    constant; a parameter whose default is one, or that a call of its function passes one)."""
    if isinstance(node, ast.Name):
        where, function = facts.resolve(node)
        if where == "param":  # def head(x, activation="softmax"), or a call head(x, "softmax")
            values = [parameter_default(function, node.id), *(facts.passed_for(function, node.id) or ())]
            return depth < FOLLOW_DEPTH and any(
                value is not None and value is not node and is_output_activation(facts, roles, value, depth + 1)
                for value in values)
        if node.id in facts.literal_defs and facts.bindings[node.id] == 1:
            node = facts.literal_defs[node.id]
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in roles.output_activations
    text = dotted(node)  # keras.activations.softmax, tf.nn.sigmoid
    if text is None or "." not in text or text.rsplit(".", 1)[1] not in roles.output_activations:
        return False
    qualified = facts.imports.qualify(text)
    return qualified is not None and (canonical(qualified) is not None
                                      or qualified.split(".")[0] == "tensorflow")
