"""A value read from an absl flag: `FLAGS.units`, where `flags.DEFINE_integer("units", 64, "...")`
and the program starts with `app.run(main)`. Its default is the user's value, tuned at the
default's literal as an argparse option's is; the tuning script sets the flag as each trial
starts (runtime/absl_run.py), since absl defines a flag once per process.

The rule, checked statically (nothing runs): the top level, or its `if __name__ == "__main__":`,
runs `app.run(main)` (absl's, or TensorFlow's `tf.compat.v1.app.run`) once, with `main` a function
of the file; the flag is read as `FLAGS.units`, with `FLAGS` absl's `flags.FLAGS` (as it is, or a
name bound once to it), or as `UNITS.value`, with `UNITS` bound once to its DEFINE; exactly one
`flags.DEFINE_<type>(...)` of the file names the flag, at the top level, with a literal default
and the global flag set (no `flag_values=`); and nothing assigns `FLAGS.<name>`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from optpar.analysis.facts import Facts, Literal
from optpar.analysis.syntax import FUNCTIONS, is_main_guard, literal_value
from optpar.imports import dotted

# The modules that hold absl's flags and app, as a program imports them.
FLAG_MODULES = ("absl.flags", "tensorflow.compat.v1.flags", "tensorflow.compat.v1.app.flags")
RUNNERS = ("absl.app.run", "tensorflow.compat.v1.app.run")
# The DEFINE functions whose flag holds the literal as its value (an enum's or a list's does not).
DEFINES = ("DEFINE_integer", "DEFINE_float", "DEFINE_string", "DEFINE_bool", "DEFINE_boolean")


@dataclass(frozen=True)
class Start:
    """`app.run(main)`: absl parses the command line into the flags, then calls main(argv)."""

    call: ast.Call
    main: str  # the function it starts


def start(facts: Facts) -> Start | None:
    """The one `app.run(main)` the program runs at its top level, or None."""
    statements = [s for top in facts.tree.body for s in (top.body if is_main_guard(top) else [top])]
    found = []
    for stmt in statements:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(call, ast.Call) and facts.imports.qualify(dotted(call.func) or "") in RUNNERS:
            found.append(call)
    runs = [c for c in facts.calls if facts.imports.qualify(dotted(c.func) or "") in RUNNERS]
    if len(found) != 1 or len(runs) != 1:
        return None
    call = found[0]
    given = [*call.args, *(k.value for k in call.keywords if k.arg == "main")]
    if not given and not call.keywords and facts.imports.qualify(dotted(call.func)) == RUNNERS[1]:
        given = [ast.Name("main")]  # TensorFlow's app.run() runs the main of the program's module
    if len(given) != 1 or len(call.keywords) > (0 if call.args else 1):
        return None  # app.run(main, argv=...) or a flags parser of its own
    main = given[0]
    if not isinstance(main, ast.Name) or facts.top_level(main.id, FUNCTIONS) is None:
        return None
    return Start(call, main.id)


def flag_default(facts: Facts, node: ast.Attribute) -> Literal | None:
    """The literal default of the absl flag `node` reads (`FLAGS.units`, or `UNITS.value` where
    `UNITS = flags.DEFINE_integer(...)`); None when the rule fails."""
    name = _read_flag(facts, node)
    if name is None or start(facts) is None:
        return None
    defines = [call for call in facts.calls if isinstance(call.func, ast.Attribute)
               and call.func.attr.startswith("DEFINE") and _flag_name(call) in (name, None)
               and _in_module(facts, call.func.value)]
    if len(defines) != 1 or defines[0].func.attr not in DEFINES or facts.scope(defines[0]) is not facts.tree:
        return None
    define = defines[0]
    keywords = {k.arg: k.value for k in define.keywords}
    if None in keywords or "flag_values" in keywords or _assigns(facts, name):
        return None
    literal = define.args[1] if len(define.args) > 1 else keywords.get("default")
    if literal is None or not literal_value(literal)[0]:
        return None
    written = f"{dotted(define.func)}({facts.lines.segment(define.args[0] if define.args else keywords['name'])}, " \
              f"{facts.lines.segment(literal)})"
    return Literal(literal, name, written, (f"--{name}", f"-{name}"), absl_flag=name)


def flag_reads(facts: Facts, names: set[str]) -> frozenset[tuple[int, int]]:
    """(line, byte column) of each read of a flag in `names` (`FLAGS.units`, `UNITS.value`): where
    the program uses a tuned value, as the planner needs it (the DEFINE itself runs once)."""
    return frozenset((n.lineno, n.col_offset) for n in ast.walk(facts.tree)
                     if isinstance(n, ast.Attribute) and _read_flag(facts, n) in names)


def _read_flag(facts: Facts, node: ast.Attribute) -> str | None:
    """The name of the flag `node` reads: `FLAGS.units` or `flags.FLAGS.units`, or `UNITS.value`
    with `UNITS` bound once to a DEFINE call (absl's FlagHolder); None for anything else."""
    if not isinstance(node.ctx, ast.Load):
        return None
    if node.attr == "value" and isinstance(node.value, ast.Name):
        define = facts.only_value(node.value.id)
        if (isinstance(define, ast.Call) and isinstance(define.func, ast.Attribute)
                and define.func.attr.startswith("DEFINE") and _in_module(facts, define.func.value)):
            return _flag_name(define)
    return node.attr if _is_flag_values(facts, node.value) else None


def _flag_name(call: ast.Call) -> str | None:
    """The name a DEFINE call gives its flag; None when it is not written as a literal."""
    name = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "name"), None)
    return name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None


def _in_module(facts: Facts, node: ast.expr) -> bool:
    """`flags` in `flags.DEFINE_integer`: one of absl's flag modules."""
    return facts.imports.qualify(dotted(node) or "") in FLAG_MODULES


def _is_flag_values(facts: Facts, node: ast.expr) -> bool:
    """`flags.FLAGS`, or a name bound once to it (`FLAGS = flags.FLAGS`, `from absl.flags import FLAGS`)."""
    if isinstance(node, ast.Name):
        bound = facts.only_value(node.id)
        if bound is not None:
            return _is_flag_values(facts, bound)
    text = facts.imports.qualify(dotted(node) or "")
    return text is not None and text.rpartition(".")[::2] in {(m, "FLAGS") for m in FLAG_MODULES}


def _assigns(facts: Facts, attr: str) -> bool:
    """Whether the program sets a flag of that name itself (`FLAGS.units = 32`)."""
    return any(isinstance(n, ast.Attribute) and isinstance(n.ctx, (ast.Store, ast.Del)) and n.attr == attr
               and _is_flag_values(facts, n.value) for n in ast.walk(facts.tree))
