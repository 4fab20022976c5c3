"""A value read from a configuration dict: `CONFIG["units"]`, where `CONFIG = {"units": 64, ...}`.
Its literal in the dict is the user's value, tuned where it is written, as a constant is.

The rule, checked statically: the name bound once in the file, to a dict display whose keys are
string literals (no `**` spread) or to `dict(units=64, ...)` (keywords only, `dict` not
rebound), one entry under that key holding a literal, the key read as a string literal, and
nothing in the file changing the dict in place (`CONFIG["units"] = 32`, `del`, `+=`, `.update()`,
`.pop()`, `.setdefault()`, `.clear()`, `.popitem()`). A dict passed to a function is read there as
whatever the function calls it, so it is not followed.
"""

from __future__ import annotations

import ast

from optpar.analysis.facts import Facts, Literal
from optpar.analysis.syntax import literal_value

DICT_CHANGERS = frozenset({"update", "pop", "setdefault", "clear", "popitem", "__setitem__", "__delitem__"})


def dict_entry(facts: Facts, node: ast.Subscript) -> Literal | None:
    """The literal of the entry `node` (`CONFIG["units"]`) reads; None when the rule fails."""
    if not (isinstance(node.value, ast.Name) and isinstance(node.ctx, ast.Load)
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
        return None
    name, key = node.value.id, node.slice.value
    if facts.resolve(node.value)[0] == "param":
        return None
    table = facts.only_value(name)
    if isinstance(table, ast.Dict) and all(k is not None for k in table.keys):
        entries = [value for k, value in zip(table.keys, table.values)
                   if isinstance(k, ast.Constant) and k.value == key]
    elif (isinstance(table, ast.Call) and isinstance(table.func, ast.Name) and table.func.id == "dict"
          and not facts.bindings["dict"] and not table.args and all(k.arg is not None for k in table.keywords)):
        entries = [k.value for k in table.keywords if k.arg == key]  # dict(units=64, ...)
    else:
        return None
    if len(entries) != 1 or not literal_value(entries[0])[0] or facts.changed_in_place(name, DICT_CHANGERS):
        return None
    literal = entries[0]
    return Literal(literal, key, f"{name}[{key!r}] = {facts.lines.segment(literal)}")
