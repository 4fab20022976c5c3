"""Replace expressions at known source spans, with libcst, keeping everything else as written.

Both the refactor (literal -> `params["id"]`) and apply (`params` value -> literal) are a
mapping from spans (found by `match`, with the stdlib ast) to new expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from optpar import repeat
from optpar.analysis import AbslRun, FitCall, Site, Span


@dataclass(frozen=True)
class Edit:
    """Replace the node at `span` by what `make` builds from it (with the edits inside it done).
    `level`: an expression; a statement (its line: `make` gets the SimpleStatementLine); a list
    element (`make` gets the Element)."""

    span: Span
    make: Callable[[cst.CSTNode], cst.CSTNode]
    level: str = "expression"  # expression | statement | element


def params_ref(site: Site, lookup: str = "params") -> str:
    """The lookup that replaces a site's literal: `params["id"]` (`lookup`: the dict's name,
    naming.lookup_name)."""
    ref = f'{lookup}["{site.id}"]'
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
        if site.call == repeat.CALL:  # a block: written as a loop over range(code)
            make = repeat.as_loop(code) if site.param == "statement" else repeat.as_comprehension(code)
            edits.append(Edit(site.span, make, site.param))
            continue
        span = _inner(site.span, site.value) if site.tuple_size else site.span
        edits.append(Edit(span, lambda _node, code=code: cst.parse_expression(code)))
    return edits


def fit_edit(fit: FitCall) -> Edit:
    """`model.fit(args)` -> `optpar_fit(model.fit, args)`: the runtime decides at run time, when
    the data's type is known, how the trial validates, and adds its callbacks."""

    def make(node: cst.BaseExpression) -> cst.BaseExpression:
        assert isinstance(node, cst.Call)
        # `fit(\n    x, ...)` gets the method on a line of its own, `fit(x, ...)` inline.
        layout = node.whitespace_before_args
        after = layout if isinstance(layout, cst.ParenthesizedWhitespace) else cst.SimpleWhitespace(" ")
        method = cst.Arg(value=node.func, comma=cst.Comma(whitespace_after=after) if node.args
                         else cst.MaybeSentinel.DEFAULT)
        return node.with_changes(func=cst.Name("optpar_fit"), args=[method, *node.args])

    return Edit(fit.span, make)


def absl_values(sites: Sequence[Site], lookup: str = "params") -> list[str]:
    """The tuned absl flags' entries of the dict absl_flags() sets: `"units": params["units"]`."""
    return [f'"{s.absl_flag}": {params_ref(s, lookup)}' for s in sites if s.absl_flag]


def absl_run_edit(run: AbslRun, sites: Sequence[Site], lookup: str = "params") -> Edit:
    """`app.run(main)` -> `main(optpar_runtime.absl_flags({"units": params["units"]}))`: absl's
    start without its exit, the tuned flags set to the trial's values before main runs."""
    values = "{" + ", ".join(absl_values(sites, lookup)) + "}"
    return Edit(run.span, lambda _node: cst.parse_expression(f"{run.main}(optpar_runtime.absl_flags({values}))"))


class _Replacer(cst.CSTTransformer):
    def __init__(self, edits: Mapping[tuple[int, int, int, int], Edit],
                 positions: Mapping[cst.CSTNode, CodeRange]) -> None:
        super().__init__()
        self.edits = dict(edits)
        self.positions = positions
        self.done: set[tuple[int, int, int, int]] = set()

    def on_leave(self, original_node, updated_node):
        if isinstance(original_node, cst.BaseExpression):
            at = original_node, "expression"
        elif isinstance(original_node, cst.SimpleStatementLine) and len(original_node.body) == 1:
            at = original_node.body[0], "statement"
        elif isinstance(original_node, cst.Element):
            at = original_node.value, "element"
        else:
            return updated_node
        r = self.positions.get(at[0])
        if r is not None:
            key = (at[1], r.start.line, r.start.column, r.end.line, r.end.column)
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
    table = {(e.level, e.span.line, e.span.col, e.span.end_line, e.span.end_col): e for e in edits}
    replacer = _Replacer(table, positions_of(module) if positions is None else positions)
    new = module.visit(replacer)
    missed = [e for k, e in table.items() if k not in replacer.done]
    return new, missed
