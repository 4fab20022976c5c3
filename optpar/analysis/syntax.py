"""The stdlib `ast` as optpar reads it: parsing with one-line errors, character columns and exact
source text (ast counts UTF-8 bytes, editors and libcst count characters), literal values."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from optpar.analysis.records import Span
from optpar.errors import UserError

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def snake(name: str) -> str:
    """Keras's layer-name style: Conv2D -> conv2d, BatchNormalization -> batch_normalization."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


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


@dataclass(frozen=True)
class SourceLines:
    """A program's lines, to turn ast positions into character spans and exact source text."""

    lines: tuple[str, ...]

    @classmethod
    def of(cls, text: str) -> SourceLines:
        return cls(tuple(source_lines(text)))

    def char_col(self, line: int, byte_col: int) -> int:
        return char_col(self.lines, line, byte_col)

    def span(self, node: ast.AST) -> Span:
        return node_span(self.lines, node)

    def attribute_name(self, node: ast.Attribute) -> tuple[int, int, bool]:
        """(line, 1-based column) of the name after the dot of `node` (`fit_generator` in
        `model.fit_generator`), and whether it is written there as it is named (an edit can
        replace it)."""
        line = node.end_lineno
        col = self.char_col(line, node.end_col_offset) - len(node.attr) + 1
        return line, col, self.lines[line - 1][col - 1:].startswith(node.attr)

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node (ast.get_source_segment re-splits the file each call)."""
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            line = self.lines[first].encode("utf-8")
            return line[node.col_offset:node.end_col_offset].decode("utf-8", errors="replace")
        parts = [self.lines[first].encode("utf-8")[node.col_offset:].decode("utf-8", errors="replace")]
        parts += self.lines[first + 1:last]
        parts.append(self.lines[last].encode("utf-8")[:node.end_col_offset].decode("utf-8", errors="replace"))
        return "".join(parts)


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


def parameter_default(function: ast.AST, name: str) -> ast.expr | None:
    """The default value expression of a function's parameter, if it has one."""
    if not isinstance(function, (*FUNCTIONS, ast.Lambda)):
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


def is_main_guard(stmt: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (either way round)."""
    if not isinstance(stmt, ast.If) or not isinstance(stmt.test, ast.Compare):
        return False
    parts = [stmt.test.left, *stmt.test.comparators]
    names = {p.id for p in parts if isinstance(p, ast.Name)}
    values = {p.value for p in parts if isinstance(p, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


# A string that names a file or folder: no blank, and a separator or a file extension
# ("run_1/cp.weights.h5", "my_model.keras"; not "relu" nor "val_loss").
_PATH = re.compile(r"[^\s]*(/[^\s]*|\.[A-Za-z][A-Za-z0-9]{0,9})")


def is_path(text: str) -> bool:
    """Whether a string literal reads as a file name (`my_model.keras`, `logs/run1`)."""
    return _PATH.fullmatch(text) is not None


def paths(node: ast.AST) -> set[str]:
    """The file names a statement spells out as string literals."""
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str) and is_path(n.value)}


def called_name(func: ast.expr | None) -> str | None:
    """The name a call is made by: `save` of `model.save(...)`, `open` of `open(...)`."""
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def root_name(node: ast.AST) -> str | None:
    """`model` of `model.layers[0].trainable`, of `x[i]`; None when no name is at the root."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
