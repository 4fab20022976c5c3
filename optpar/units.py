"""Top-level statements as units the planner moves about, and what each reads, binds and changes.

A unit is one libcst statement (what the tuning script copies, comments and formatting kept) with
the stdlib `ast` statements it holds (what the dataflow is read from): `a = 1; b = 2` is one
line, one unit, two statements.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import libcst as cst

from optpar.analysis.syntax import is_main_guard, paths, root_name

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
SCOPES = (*FUNCTIONS, ast.ClassDef)


def reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def writes(stmt: ast.stmt) -> set[str]:
    """Names a statement binds in its own scope (not inside nested functions)."""
    if isinstance(stmt, SCOPES):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, SCOPES):
            names.add(node.name)
            continue
        elif isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


def mutates(stmt: ast.stmt) -> set[str]:
    """Objects a statement changes in place: `model.add(...)` (a call whose result is dropped),
    `cfg.x = 1`, `d[k] = v`; nested functions and classes have their own scope."""
    names: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        if isinstance(node, (*SCOPES, ast.Lambda)):
            continue
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)):
            names.add(root_name(node.value.func.value))
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store):
            names.add(root_name(node.value))
        stack.extend(ast.iter_child_nodes(node))
    names.discard(None)
    return names


def contains(stmt: ast.stmt, line: int, col: int) -> bool:
    if not (stmt.lineno <= line <= stmt.end_lineno):
        return False
    if stmt.lineno == stmt.end_lineno:  # a line may hold several statements: `a = 1; b = 2`
        return stmt.col_offset <= col < max(stmt.end_col_offset, col + 1) if line == stmt.lineno else False
    return True


def is_definition(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (*SCOPES, ast.Import, ast.ImportFrom))


def is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def is_future_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"


def body_ranges(stmt: ast.stmt) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The (start, end) positions of the function bodies inside `stmt`: code there runs when the
    function is called, the rest of a `def` or `class` (defaults, decorators, class attributes)
    when the statement itself runs."""
    ranges = []
    for node in ast.walk(stmt):
        if isinstance(node, FUNCTIONS):
            first, last = node.body[0], node.body[-1]
            ranges.append(((first.lineno, first.col_offset), (last.end_lineno, last.end_col_offset)))
        elif isinstance(node, ast.Lambda):
            ranges.append(((node.body.lineno, node.body.col_offset),
                           (node.body.end_lineno, node.body.end_col_offset)))
    return ranges


def called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def imported_names(tree: ast.Module) -> frozenset[str]:
    return frozenset(
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    )


@dataclass(frozen=True)
class Unit:
    """One libcst statement and the ast statements it holds. What it reads, binds, names and
    calls is worked out once (the planner asks again at every pass of its fixpoint)."""

    cst: cst.BaseStatement
    ast: tuple[ast.stmt, ...]
    imports: frozenset[str] = frozenset()  # names bound by imports: calling np.f() does not change np

    @property
    def first(self) -> ast.stmt:
        return self.ast[0]

    @cached_property
    def reads(self) -> set[str]:
        return set().union(*(reads(s) for s in self.ast))

    @cached_property
    def writes(self) -> set[str]:
        bound = set().union(*(writes(s) for s in self.ast))
        changed = set().union(*(mutates(s) for s in self.ast))
        return bound | (changed - self.imports)

    @cached_property
    def paths(self) -> set[str]:
        """Files it names: one that a trial statement before it writes, it may read."""
        return set().union(*(paths(s) for s in self.ast))

    @cached_property
    def calls(self) -> set[str]:
        """Names called by name anywhere in the statement: `f(...)`."""
        return set().union(*(called_names(s) for s in self.ast))

    def holds(self, line: int, col: int) -> bool:
        return any(contains(s, line, col) for s in self.ast)

    def is_bare_call(self, name: str) -> bool:
        """`name()` as a statement of its own."""
        stmt = self.first
        return (len(self.ast) == 1 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == name
                and not stmt.value.args and not stmt.value.keywords)

    @property
    def is_main_guard(self) -> bool:
        return any(is_main_guard(s) for s in self.ast)


def units_of(cst_body: Sequence[cst.BaseStatement], ast_body: Sequence[ast.stmt],
             imports: frozenset[str]) -> list[Unit]:
    units, i = [], 0
    for stmt in cst_body:
        n = len(stmt.body) if isinstance(stmt, cst.SimpleStatementLine) else 1
        units.append(Unit(stmt, tuple(ast_body[i:i + n]), imports))
        i += n
    return units


def writes_of(units: Sequence[Unit]) -> set[str]:
    return set().union(*(u.writes for u in units))
