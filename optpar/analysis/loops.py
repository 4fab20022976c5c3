"""Depth as a hyperparameter: the count of a loop that builds Keras layers.

`for _ in range(N):` whose body builds a layer, or `[layers.Dense(64) for _ in range(N)]`, repeats
a block N times. N is tuned when it is a literal, a constant bound once to one (`NUM_BLOCKS = 3`),
or such a constant seen through simple arithmetic: keras-io's ResNet writes `n = 3`,
`depth = n * 6 + 2`, `num_res_blocks = int((depth - 2) / 6)` and loops over
`range(num_res_blocks)`; the tuned value is `n`, at its definition. The layers inside the loop
keep one hyperparameter per call site, shared by the repetitions, so nothing that is not built
is ever sampled.

The same module finds the other loop whose bound is a hyperparameter: a loop around the measured
fit() that trains one epoch per pass, whose bound is the real number of epochs (epoch_loop,
epoch_loop_bound).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from optpar.analysis.calls import bound_arguments
from optpar.analysis.facts import Facts, Literal
from optpar.analysis.fit import FIT
from optpar.analysis.outputs import Outputs
from optpar.analysis.rules import Candidate, held_literal
from optpar.analysis.syntax import FUNCTIONS, literal_value
from optpar.csvrows import Key
from optpar.metadata import Catalog, Row
from optpar.space import anchor

LOOP: Key = ("builtins", "range")
# The count's space: integers from 1 to twice the user's count (rel bounds 0.01 .. 2, at least 1).
COUNT = Row(layer="builtins.range", param="count", hptype="quniform", tuple_size=0, order=0, base="rel",
            type="int", min=0.01, max=2.0, int=True, choices=(), step=1.0, source="optpar/analysis/loops.py")
# What may stand between the count and its constant: arithmetic, int() and round().
_ARITHMETIC = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call,
               ast.operator, ast.unaryop, ast.expr_context)
_MAX_HOPS = 8


def loop_candidates(facts: Facts, outputs: Outputs, keyed: Sequence[tuple[ast.Call, Key]]) -> Iterator[Candidate]:
    """A candidate for the count of each loop that builds a layer, in source order."""
    builders = {id(call) for call, key in keyed if key[0] == "layers"}
    for call in facts.calls:
        if not _is_range(facts, call) or not _builds(facts, call, builders):
            continue
        found = held_literal(facts, outputs, call.args[0])
        if found is None and isinstance(call.args[0], ast.Name):
            root = _root(facts, call.args[0])
            found = None if root is None else (root.node, root)
        if found is None:
            continue
        node, constant = found
        value = count_of(node)
        if value is not None:
            yield Candidate(call, LOOP, COUNT, node, value, constant)


def epoch_loop(facts: Facts, outputs: Outputs, catalog: Catalog, measured: ast.Call | None) -> ast.For | None:
    """The `for ... in range(...)` loop around the measured fit() when that fit trains one epoch
    per pass (keras's addition_rnn: `for epoch in range(1, epochs): model.fit(..., epochs=1)`):
    its `epochs=1` is then how the script trains, not a hyperparameter. The loop is the nearest
    one around the fit in its function."""
    if measured is None:
        return None
    epochs = next((arg for r, arg in bound_arguments(catalog, FIT, measured) if r.param == "epochs"), None)
    held = None if epochs is None else held_literal(facts, outputs, epochs)
    if held is None or count_of(held[0]) != 1:
        return None
    loop = _loop_around(facts, measured)
    return loop if loop is not None and _is_range(facts, loop.iter, counts=(1, 2)) else None


def epoch_loop_bound(facts: Facts, outputs: Outputs, catalog: Catalog, measured: ast.Call,
                     loop: ast.For) -> Candidate | None:
    """The bound N of that loop's `range([start,] N)`, the real number of epochs, in the space of
    fit()'s epochs: when start, if written, is the literal 0 or 1, and the lowest N of the space
    still trains a pass."""
    row = catalog.row(FIT, "epochs")
    start = loop_start(loop)
    if row is None or start is None:
        return None
    found = held_literal(facts, outputs, loop.iter.args[-1])
    value = None if found is None else count_of(found[0])
    space = None if value is None else anchor(row, value)
    if space is None or space.low is None or space.low <= start:
        return None
    return Candidate(measured, FIT, row, found[0], value, found[1], use="the passes of a loop around fit()")


def loop_start(loop: ast.For) -> int | None:
    """The start of an epoch loop's `range([start,] N)` when it is 0 (or not written) or 1."""
    first = loop.iter.args[:-1]
    start = first[0].value if first and isinstance(first[0], ast.Constant) else None if first else 0
    return start if type(start) is int and start in (0, 1) else None


def _loop_around(facts: Facts, node: ast.AST) -> ast.For | None:
    """The nearest `for` statement whose body holds `node`, within its function."""
    child, parent = node, facts.parents.get(node)
    while parent is not None and not isinstance(parent, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
        if isinstance(parent, ast.For):
            return parent if any(child is stmt for stmt in parent.body) else None
        child, parent = parent, facts.parents.get(parent)
    return None


def count_of(node: ast.expr) -> int | None:
    """The literal's value when it can be a count (a whole number, at least 1)."""
    ok, value = literal_value(node)
    return value if ok and isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _is_range(facts: Facts, call: ast.expr, counts: tuple[int, ...] = (1,)) -> bool:
    """`range(N)` (or, with counts (1, 2), `range(start, N)`), the builtin (not rebound), iterated
    by a for or a comprehension."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
            and _builtin_range(facts) and len(call.args) in counts and not call.keywords
            and not any(isinstance(a, ast.Starred) for a in call.args)):
        return False
    parent = facts.parents.get(call)
    return isinstance(parent, (ast.For, ast.comprehension)) and parent.iter is call


# The builtin under another import: Python 2 compatibility shims (keras legacy examples).
_RANGE_IMPORTS = frozenset({"six.moves.range", "builtins.range", "future.builtins.range"})


def _builtin_range(facts: Facts) -> bool:
    """`range` is the builtin: never bound in the file, or bound once, by `from six.moves import range`."""
    return facts.bindings["range"] == 0 or (
        facts.bindings["range"] == 1 and facts.imports.names.get("range") in _RANGE_IMPORTS)


def _builds(facts: Facts, call: ast.Call, builders: set[int]) -> bool:
    """Whether the loop over `call` builds a Keras layer in its body (or a comprehension's element)."""
    loop = facts.parents[call]
    if isinstance(loop, ast.For):
        body: list[ast.AST] = list(loop.body)
    else:
        comprehension = facts.parents[loop]
        body = [getattr(comprehension, name) for name in ("elt", "key", "value") if hasattr(comprehension, name)]
    return any(id(node) in builders for part in body for node in ast.walk(part))


def _root(facts: Facts, name: ast.Name, hops: int = 0) -> Literal | None:
    """The one constant bound to a literal that the value of `name` is computed from, through
    arithmetic, int() and round(), whatever path the value takes: every assignment of the name
    in its scope, or, for a function's parameter, what every call of the function passes."""
    constant = facts.constant(name.id)
    if constant is not None or hops >= _MAX_HOPS:
        return constant
    where, function = facts.resolve(name)
    if where == "param":
        sources = _passed(facts, function, name.id)
    else:
        sources = facts.assigned_values(name.id, function if function is not None else facts.tree)
    if not sources:
        return None
    roots = [_root_of(facts, source, hops + 1) for source in sources]
    first = roots[0]
    if first is None or any(r is None or r.node is not first.node for r in roots):
        return None
    return first


def _root_of(facts: Facts, value: ast.expr, hops: int) -> Literal | None:
    """The root of an arithmetic expression over one name (see _root)."""
    if not all(isinstance(n, _ARITHMETIC) for n in ast.walk(value)):
        return None
    calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)]
    if any(not (isinstance(c.func, ast.Name) and c.func.id in ("int", "round") and facts.bindings[c.func.id] == 0)
           for c in calls):
        return None
    functions = {id(c.func) for c in calls}
    names = [n for n in ast.walk(value) if isinstance(n, ast.Name) and id(n) not in functions]
    if not names or len({n.id for n in names}) != 1:
        return None
    return _root(facts, names[0], hops)


def _passed(facts: Facts, function: ast.AST, param: str) -> list[ast.expr] | None:
    """What every call of a plain function passes for `param` (None: a call we cannot read, the
    function passed around, or a call that leaves the parameter to its default)."""
    if not isinstance(function, FUNCTIONS) or function.decorator_list or facts.bindings[function.name] != 1:
        return None
    calls, referenced = facts.uses_of(function.name)
    if referenced or not calls:
        return None
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    index = positional.index(param) if param in positional else None
    passed = []
    for call in calls:
        keyword = next((k.value for k in call.keywords if k.arg == param), None)
        if keyword is None and index is not None and index < len(call.args):
            keyword = call.args[index]
        if keyword is None or isinstance(keyword, ast.Starred) or any(isinstance(a, ast.Starred) for a in call.args):
            return None
        passed.append(keyword)
    return passed
