"""Find the tunable hyperparameters of a Keras program.

This stage only *collects*: it reads the program with the stdlib `ast` (exact spans, C speed;
nothing is executed), resolves callees through the import table, binds arguments against the
metadata catalog and returns `Site` records. Changing code is `rewrite`'s job, done with libcst.

The data flows one way, each step a module that can be read and tested alone:

    syntax   parse, character columns, literal values
    facts    one walk: parents, calls, imports, bindings, literal definitions, classes; scopes
             and parameter defaults on demand
    calls    which catalog key a call is, which argument feeds which row
    chains   the layer lists of Sequential models
    outputs  which calls make a model's outputs (never tuned), the output-activation net, and
             (merges) the widths summed elementwise that are written apart
    rules    metadata rows + facts -> Candidate records (with cli_options, absl_flags, config_dicts,
             config_objects, loop_lists: where a name or an attribute gets its literal)
    naming   stable ids, the one id-uniquer, Site construction
    keras1   the keras1.csv lint on the same facts (OPT201-OPT219, OPT226, OPT233-OPT234); keras2: OPT220-OPT238
             (objects: an optimizer's lr, a variable's writers, a metric's reset_states; python_ints;
             symbolic: TensorFlow functions on Keras tensors; multi_outputs: metrics per output)
    fit      the measured fit() call; with absl_flags, absl's `app.run(main)` that starts the program
    loops    the counts of loops that build layers (depth); the bound of a loop of fit(epochs=1)
    datasets which data pipelines' batch sizes are left as written
    shapes   which sizes a model that upsamples keeps (pooling sizes)
    schedules an optimizer's learning rate a LearningRateScheduler overwrites unread: held

The Keras policy they apply (widths, output activations, fit/compile keywords, ...) is data:
metadata/roles.csv, on the catalog.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import chain

from optpar.analysis.absl_flags import flag_reads, start
from optpar.analysis.calls import callee
from optpar.analysis.facts import Facts, collect
from optpar.analysis.datasets import ignored_batch_sizes, untuned
from optpar.analysis.fit import measured_call, measured_fit
from optpar.analysis import keras1, keras2
from optpar.analysis.merges import elementwise_sums
from optpar.analysis.loops import epoch_loop, epoch_loop_bound, loop_candidates, loop_start
from optpar.analysis.naming import sites
from optpar.analysis.outputs import find_outputs, partial_outputs
from optpar.analysis.records import AbslRun, Analysis, Diagnostic, FitCall, Site, Span
from optpar.analysis.cli_options import required_arguments
from optpar.analysis.relevance import Feeding, feeding, idle_functions, inside, never_run
from optpar.analysis.rules import Candidate, candidates
from optpar.analysis.schedules import scheduled_rates
from optpar.analysis.shapes import coupled_sizes, summed_sizes
from optpar.analysis.syntax import SourceLines, parse_python
from optpar.metadata import Catalog

__all__ = ["AbslRun", "Analysis", "Diagnostic", "FitCall", "Site", "Span", "analyze"]


def analyze(text: str, path: str, catalog: Catalog) -> Analysis:
    tree = parse_python(text, path)
    lines = SourceLines.of(text)
    facts = collect(tree, lines, catalog.roles.aliases)
    if not facts.imports.uses_keras:
        return Analysis(path, text, tree, (), (), None, False)
    sums = elementwise_sums(facts, catalog)  # read by the output rules and the held sizes
    outputs = find_outputs(facts, catalog, sums)
    keyed = [(call, key) for call in facts.calls
             if (key := callee(facts, catalog.roles, call)) is not None]
    # the measured fit is the last one that runs; a function nothing calls runs none
    dead = never_run(facts)
    live = [(call, key) for call, key in keyed if not inside(call, dead, facts)]
    if measured_call(live) is None:  # a module of functions that nothing calls: all of them count
        dead, live = frozenset(), keyed
    fit = measured_fit(lines, catalog.roles, live)
    measured = measured_call(live)
    idle = idle_functions(facts, measured, dead, catalog.roles.reads_only, catalog.roles.writers)
    if idle:  # demos a driver runs before the fit: their values change nothing it measures
        dead = never_run(facts, idle)
    held = (untuned(facts, catalog.roles, keyed, measured) | coupled_sizes(facts, catalog.roles, keyed)
            | summed_sizes(facts, catalog.roles, keyed, sums) | scheduled_rates(facts, catalog.roles, keyed, measured)
            | ignored_batch_sizes(facts, catalog.roles, keyed) | partial_outputs(facts, catalog, outputs))
    passes = None
    if (loop := epoch_loop(facts, outputs, catalog, measured)) is not None:
        held = held | {(id(measured), "epochs")}  # the loop's bound is how long it trains
        passes = epoch_loop_bound(facts, outputs, catalog, measured, loop)
    # values in code that does not feed the measured fit stay as written
    fed = feeding(facts, measured, catalog.roles.reads_only, catalog.roles.writers)
    found = sites((c for c in chain(candidates(facts, catalog, outputs, keyed, held),
                                    loop_candidates(facts, outputs, keyed), [passes] if passes else ())
                   if _runs_for_the_fit(c, fed, dead, facts)), path, lines)
    if passes is not None and fit is not None:  # the runtime plans pruning on the loop's passes
        bound = lines.span(passes.node)
        fit = replace(fit, passes=next(((s.id, loop_start(loop)) for s in found if s.span == bound), None))
    roles = catalog.roles
    fresh = frozenset((call.lineno, call.col_offset) for call, key in keyed
                      if key[0] in roles.fresh_modules and key not in roles.stateless or key in roles.model_makers)
    diagnostics = sorted(chain(keras1.lint(path, lines, catalog, keyed),
                               keras2.lint(path, text, facts, lines, catalog, keyed)), key=lambda d: (d.line, d.col))
    run = start(facts)
    return Analysis(path, text, tree, tuple(found), tuple(diagnostics), fit, True,
                    fed.idle_lines() if fed is not None else frozenset(), fresh,
                    None if run is None else AbslRun(lines.span(run.call), run.main,
                                                     flag_reads(facts, {s.absl_flag for s in found if s.absl_flag})),
                    tuple((call.lineno, lines.char_col(call.lineno, call.col_offset) + 1, lines.segment(call.args[0]))
                          for call in required_arguments(facts)))


def _runs_for_the_fit(candidate: Candidate, fed: Feeding | None, dead: frozenset[int], facts: Facts) -> bool:
    """Whether both the call a value is an argument of and the value itself (a literal passed
    to a function of the file, a constant) lie in code that feeds the measured fit: a call of a
    builder for an earlier model passes values of its own (`get_model(0.3, 1e-3)` before
    `get_model(0.3, 1e-4)`)."""
    if fed is not None:
        return fed.feeds(candidate.call, facts) and fed.feeds(candidate.node, facts)
    return not inside(candidate.call, dead, facts) and not inside(candidate.node, dead, facts)
