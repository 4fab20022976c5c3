"""Replace expressions at known source spans, with libcst, keeping everything else as written.

Both the refactor (literal -> `params["id"]`) and apply (`params` value -> literal) are a
mapping from spans (found by `match`, with the stdlib ast) to new expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from optpar.match import FitCall, Site, Span


@dataclass(frozen=True)
class Edit:
    """Replace the expression at `span` by what `make` builds from the original node."""

    span: Span
    make: Callable[[cst.BaseExpression], cst.BaseExpression]


def params_ref(site: Site) -> str:
    ref = f'params["{site.id}"]'
    if site.tuple_size:
        return "(" + ", ".join([ref] * site.tuple_size) + ")"
    return ref


def _inner(span: Span, text: str) -> Span:
    """An ast tuple span includes its parentheses; libcst's does not."""
    if not text.startswith("("):
        return span
    head = len(text) - len(text[1:].lstrip())
    tail = len(text) - len(text[:-1].rstrip()) if text.endswith(")") else 0
    if "\n" in text:
        return span
    return Span(span.line, span.col + head, span.end_line, span.end_col - tail)


def site_edits(sites: Sequence[Site], render: Callable[[Site], str] = params_ref) -> list[Edit]:
    edits = []
    for site in sites:
        code = render(site)
        if code is None:
            continue
        span = _inner(site.span, site.value) if site.tuple_size else site.span
        edits.append(Edit(span, lambda _node, code=code: cst.parse_expression(code)))
    return edits


def fit_edit(fit: FitCall, validation_split: float | None) -> Edit:
    """callbacks=optpar_callbacks(<the user's>), and a validation split when there is none."""

    def make(node: cst.BaseExpression) -> cst.BaseExpression:
        assert isinstance(node, cst.Call)
        args = list(node.args)
        user = None
        for i, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "callbacks":
                user = arg.value
                args[i] = arg.with_changes(value=_callbacks_call(user))
        if user is None:
            args = _append(args, "callbacks", _callbacks_call(None))
        if validation_split is not None:
            args = _append(args, "validation_split", cst.Float(repr(validation_split)))
        return node.with_changes(args=args)

    return Edit(fit.span, make)


def _callbacks_call(user: cst.BaseExpression | None) -> cst.Call:
    args = [cst.Arg(user)] if user is not None else []
    return cst.Call(func=cst.Name("optpar_callbacks"), args=args)


def _append(args: list[cst.Arg], keyword: str, value: cst.BaseExpression) -> list[cst.Arg]:
    new = cst.Arg(value=value, keyword=cst.Name(keyword),
                  equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    if not args:
        return [new]
    last = args[-1]
    if last.comma is cst.MaybeSentinel.DEFAULT:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return [*args, new]
    # A trailing comma (often before a newline): keep the layout, add ours after it, spaced
    # like the arguments before it.
    if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
        args[-1] = last.with_changes(comma=args[-2].comma)
    return [*args, new.with_changes(comma=last.comma)]


class _Replacer(cst.CSTTransformer):
    def __init__(self, edits: Mapping[tuple[int, int, int, int], Edit],
                 positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        super().__init__()
        self.edits = dict(edits)
        self.positions = positions
        self.done: set[tuple[int, int, int, int]] = set()

    def on_leave(self, original_node, updated_node):
        if isinstance(original_node, cst.BaseExpression):
            r = self.positions.get(original_node)
            if r is not None:
                key = (r.start.line, r.start.column, r.end.line, r.end.column)
                edit = self.edits.get(key)
                if edit is not None and key not in self.done:
                    self.done.add(key)
                    return edit.make(updated_node)
        return updated_node


def positions_of(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    """Every node's source range; compute it once to apply several edit sets to one module."""
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def apply_edits(module: cst.Module, edits: Sequence[Edit],
                positions: Mapping[cst.CSTNode, CodeRange] | None = None) -> tuple[cst.Module, list[Edit]]:
    """The module with every edit applied; also the edits whose span matched no node.
    ``positions`` (from :func:`positions_of` on the same module) saves recomputing them."""
    table = {(e.span.line, e.span.col, e.span.end_line, e.span.end_col): e for e in edits}
    replacer = _Replacer(table, positions_of(module) if positions is None else positions)
    new = module.visit(replacer)
    missed = [e for k, e in table.items() if k not in replacer.done]
    return new, missed
