"""optpar.analysis.calls, .rules, .keras1 and .fit on their own: facts + metadata -> records."""
from __future__ import annotations

import ast
import textwrap

import pytest

from conftest import facts_of as parsed
from optpar.analysis.calls import bound_arguments, callee
from optpar.analysis.fit import measured_fit
from optpar.analysis.keras1 import lint
from optpar.analysis.outputs import Outputs, find_outputs
from optpar.analysis.rules import Candidate, candidates

NO_OUTPUTS = Outputs(frozenset(), frozenset(), frozenset())


def keyed(facts, catalog):
    return [(c, k) for c in facts.calls if (k := callee(facts, catalog.roles, c)) is not None]


def found(text: str, catalog, outputs: Outputs | None = None) -> list[Candidate]:
    facts = parsed(text)
    outputs = find_outputs(facts, catalog) if outputs is None else outputs
    return list(candidates(facts, catalog, outputs, keyed(facts, catalog)))


def test_callee_resolves_imports_and_model_methods(catalog):
    facts = parsed("""
        import re
        from keras import layers
        layers.Dense(4)
        model.fit(x, epochs=3)
        model.compile(loss="mse")
        model.fit_generator(gen, epochs=2)
        re.compile("x", flags=0)
        clf.fit(x, y)
    """)
    assert [callee(facts, catalog.roles, c) for c in facts.calls] == [
        ("layers", "Dense"), ("Model", "fit"), ("Model", "compile"), ("Model", "fit"), None, None]


def test_arguments_bind_by_position_then_keyword(catalog):
    call = ast.parse('Dense(8, "relu", use_bias=False, units2=3)').body[0].value
    assert [(r.param, ast.unparse(a)) for r, a in bound_arguments(catalog, ("layers", "Dense"), call)] == [
        ("units", "8"), ("activation", "'relu'")]
    starred = ast.parse("Dense(*args, activation='relu')").body[0].value
    assert [r.param for r, _ in bound_arguments(catalog, ("layers", "Dense"), starred)] == ["activation"]


def test_candidates_written_constant_and_default(catalog):
    result = found("""
        from keras import layers
        UNITS = 32
        def block(rate=0.25):
            return layers.Dropout(rate)
        h = layers.Dense(UNITS, activation="tanh")
        block()
    """, catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value, c.constant and c.constant.definition) for c in result] == [
        ("rate", 0.25, "block(rate=0.25)"), ("units", 32, "UNITS = 32"), ("activation", "tanh", None)]


# A command-line option's default (cli_options): `args.units` where the parser says `default=64`.
OPTIONS = textwrap.dedent("""\
    import argparse
    from keras import layers
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("-r", "--dropout-rate", type=float, default=0.25, help="rate")
    parser.add_argument("--act", dest="activation", default="tanh")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("data")
    args = parser.parse_args()
    h = layers.Dense(args.units, activation=args.activation)
    h = layers.Dropout(args.dropout_rate)
""")


def test_an_options_default_is_a_candidate_at_its_definition(catalog):
    result = found(OPTIONS, catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value, c.node.lineno, c.constant.definition, c.constant.flags) for c in result] == [
        ("units", 64, 4, 'parser.add_argument("--units", default=64)', ("--units",)),
        ("activation", "tanh", 6, 'parser.add_argument("--act", default="tanh")', ("--act",)),
        ("rate", 0.25, 5, 'parser.add_argument("-r", "--dropout-rate", default=0.25)', ("-r", "--dropout-rate")),
    ]


GET_ARGS = textwrap.dedent("""\
    import argparse
    from keras import layers
    def get_args():
        parser = argparse.ArgumentParser()
        parser.add_argument("--units", type=int, default=64)
        return parser.parse_args()
    def main():
        args = get_args()
        return layers.Dense(args.units)
    main()
""")


def test_an_option_parsed_in_a_function_that_returns_the_namespace(catalog):
    source = GET_ARGS
    assert [(c.value, c.node.lineno) for c in found(source, catalog, NO_OUTPUTS)] == [(64, 5)]
    # Passed on to a function under its name, by position or by keyword.
    for call in ("build(args)", "build(n=1, args=args)"):
        passed = source.replace("    return layers.Dense(args.units)",
                                "    return %s\ndef build(args, n=0):\n    return layers.Dense(args.units)" % call)
        assert "def build" in passed
        assert [(c.value, c.node.lineno) for c in found(passed, catalog, NO_OUTPUTS)] == [(64, 5)], call
    # Two returns: which one gives the namespace is not known statically.
    two = source.replace("    return parser.parse_args()", "    if x:\n        return None\n    return parser.parse_args()")
    assert found(two, catalog, NO_OUTPUTS) == []


@pytest.mark.parametrize("change", [
    ("    return layers.Dense(args.units)", "    units = args.units\n    return layers.Dense(units)"),
    ("    return layers.Dense(args.units)", "    units = args.units\n    width = units\n    return layers.Dense(width)"),
    ("import argparse", "import argparse\nfrom typing import get_args"),  # replaced by the def below it
])
def test_an_option_read_under_another_name_or_through_a_shadowing_helper_is_followed(catalog, change):
    """`epochs = args.epochs` then `fit(epochs=epochs)`: a name bound once to an option (or to
    a name that is one) is that option. A helper named like an import it replaces is the helper."""
    before, after = change
    assert before in GET_ARGS
    source = GET_ARGS.replace(before, after)
    line = source.splitlines().index('    parser.add_argument("--units", type=int, default=64)') + 1
    assert [(c.value, c.node.lineno) for c in found(source, catalog, NO_OUTPUTS)] == [(64, line)]


@pytest.mark.parametrize("change", [
    ("    return layers.Dense(args.units)", "    units = args.units\n    units = 2 * units\n    return layers.Dense(units)"),
    ("    return layers.Dense(args.units)", "    units = args.other\n    return layers.Dense(units)"),
    ("import argparse", "import argparse\nfrom typing import get_args\nget_args(int)"),  # read as the import
])
def test_another_name_that_may_not_hold_the_option_is_not_followed(catalog, change):  # no-op
    before, after = change
    assert before in GET_ARGS
    assert found(GET_ARGS.replace(before, after), catalog, NO_OUTPUTS) == []


@pytest.mark.parametrize("change", [
    ("    return parser.parse_args()", "    args = parser.parse_args()\n    return args"),
    ("    return parser.parse_args()", "    args, unknown = parser.parse_known_args()\n    return args"),
    ("    return parser.parse_args()", "    return parser.parse_known_args()[0]"),
    ("    args = get_args()", "    args, _ = get_args()"),
])
def test_a_namespace_a_function_returns_by_name_or_from_a_pair_is_followed(catalog, change):
    """The common `def parse_args(): ...; args = parser.parse_args(); return args`: `args` is
    bound in two functions, once in each; each read is resolved in its own scope."""
    before, after = change
    assert before in GET_ARGS
    source = GET_ARGS.replace(before, after)
    if after.endswith("get_args()"):
        source = source.replace("return parser.parse_args()", "return parser.parse_known_args()")
    assert [(c.value, c.node.lineno) for c in found(source, catalog, NO_OUTPUTS)] == [(64, 5)]


@pytest.mark.parametrize("change", [
    ("    args = get_args()", "    args, _ = get_args()"),  # a namespace is not a pair
    ("    return parser.parse_args()", "    args = parser.parse_args()\n    args = fix(args)\n    return args"),
    ("    return parser.parse_args()", "    return parser.parse_known_args()"),  # the pair, read as a namespace
    ("    return parser.parse_args()", "    for args in [parser.parse_args()]:\n        pass\n    return args"),
])
def test_a_returned_name_that_may_not_be_the_namespace_is_not_followed(catalog, change):
    before, after = change
    assert before in GET_ARGS
    assert found(GET_ARGS.replace(before, after), catalog, NO_OUTPUTS) == []


@pytest.mark.parametrize("parse", [
    "args, rest = parser.parse_known_args()",
    "args, _ = parser.parse_known_args(sys.argv[1:])",
    "[args, rest] = parser.parse_known_args()",
    "args = parser.parse_known_args()[0]",
])
def test_an_option_parsed_with_parse_known_args_is_a_candidate(catalog, parse):
    """A script meant to run in a notebook too parses with parse_known_args(), which leaves the
    kernel's own options alone: the namespace is the first of the pair it returns."""
    result = found(OPTIONS.replace("args = parser.parse_args()", parse), catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value) for c in result] == [("units", 64), ("activation", "tanh"), ("rate", 0.25)]


@pytest.mark.parametrize("parse", [
    "rest, args = parser.parse_known_args()",  # the namespace is the first of the pair
    "args = parser.parse_known_args()",  # the pair itself: args.units fails at run time
    "args = parser.parse_known_args()[1]",
    "args, rest = parser.parse_args()",
    "args, rest = parser.parse_known_args()\nargs, more = parser.parse_known_args(rest)",  # bound twice
])
def test_a_pair_that_does_not_hold_the_namespace_first_is_not_a_candidate(catalog, parse):
    result = found(OPTIONS.replace("args = parser.parse_args()", parse), catalog, NO_OUTPUTS)
    assert [c.row.param for c in result if c.constant is not None] == []


@pytest.mark.parametrize("change", [
    ("args = parser.parse_args()", "args = parser.parse_args()\nargs.units = 32"),  # set by the program
    ('"--units", type=int, default=64', '"--units", type=int, default=64, nargs="?"'),  # nargs
    ('"--units", type=int, default=64', '"--units", type=int, default=64, action="append"'),
    ('"--units", type=int, default=64', '"--units", type=int, default=int("64")'),  # not a literal
    ("args = parser.parse_args()", "args = parser.parse_args()\nargs = fix(args)"),  # bound twice
    ('parser.add_argument("data")', 'parser.add_argument("--units", type=int, default=8)'),  # two options
    ("parser = argparse.ArgumentParser()", "parser = MyParser()"),  # not argparse's
    ("h = layers.Dense(args.units,", "def f(args):\n    return layers.Dense(args.units)\nh = layers.Dense(8,"),
    ("h = layers.Dense(args.units,", "def f(args):\n    return layers.Dense(args.units)\nf(other)\nh = layers.Dense(8,"),
    ("h = layers.Dense(args.units,", "def f(args):\n    return layers.Dense(args.units)\nf(args)\nf(x)\nh = layers.Dense(8,"),
])
def test_an_option_that_may_not_hold_its_default_is_not_a_candidate(catalog, change):
    before, after = change
    assert before in OPTIONS
    result = found(OPTIONS.replace(before, after), catalog, NO_OUTPUTS)
    assert "units" not in [c.constant.name for c in result if c.constant is not None]


# A config dict's entry (config_dicts): `CONFIG["units"]` where `CONFIG = {"units": 64, ...}`.
CONFIG = textwrap.dedent("""\
    from keras import layers
    CONFIG = {"units": 64, "rate": 0.25, "name": "mlp"}
    h = layers.Dense(CONFIG["units"])
    h = layers.Dropout(CONFIG["rate"])
    h = layers.Dense(CONFIG["units"])
""")


def test_a_config_dicts_entry_is_a_candidate_where_it_is_written(catalog):
    result = found(CONFIG, catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value, c.node.lineno, c.node.col_offset, c.constant.definition) for c in result] == [
        ("units", 64, 2, 19, "CONFIG['units'] = 64"), ("rate", 0.25, 2, 31, "CONFIG['rate'] = 0.25"),
        ("units", 64, 2, 19, "CONFIG['units'] = 64")]  # one entry read twice: one site (naming)


def test_a_dict_made_by_keywords_is_a_config_dict(catalog):
    source = CONFIG.replace('{"units": 64, "rate": 0.25, "name": "mlp"}', 'dict(units=64, rate=0.25, name="mlp")')
    result = found(source, catalog, NO_OUTPUTS)
    assert [(c.value, c.node.lineno, c.node.col_offset, c.constant.definition) for c in result] == [
        (64, 2, 20, "CONFIG['units'] = 64"), (0.25, 2, 29, "CONFIG['rate'] = 0.25"),
        (64, 2, 20, "CONFIG['units'] = 64")]
    for other in ('dict(units=64, rate=0.25, **EXTRA)', 'dict(BASE, units=64, rate=0.25)'):
        assert found(source.replace('dict(units=64, rate=0.25, name="mlp")', other), catalog, NO_OUTPUTS) == []
    shadowed = source.replace("from keras import layers", "from keras import layers\nfrom mylib import dict")
    assert found(shadowed, catalog, NO_OUTPUTS) == []


@pytest.mark.parametrize("change", [
    ('h = layers.Dropout(CONFIG["rate"])', 'CONFIG["units"] = 32'),  # set in place
    ('h = layers.Dropout(CONFIG["rate"])', 'CONFIG["units"] += 32'),
    ('h = layers.Dropout(CONFIG["rate"])', 'CONFIG.update(units=32)'),
    ('h = layers.Dropout(CONFIG["rate"])', 'del CONFIG["name"]'),
    ('"name": "mlp"}', '"name": "mlp", **EXTRA}'),  # spread: another units may come with it
    ('"name": "mlp"}', '"name": "mlp", "units": 8}'),  # the key twice
    ('"units": 64', '"units": int("64")'),  # not a literal
    ('h = layers.Dropout(CONFIG["rate"])', 'CONFIG = load()'),  # bound twice
])
def test_a_dict_entry_that_may_not_hold_its_literal_is_not_a_candidate(catalog, change):
    before, after = change
    assert before in CONFIG
    result = found(CONFIG.replace(before, after), catalog, NO_OUTPUTS)
    assert [c.constant.name for c in result if c.constant is not None and c.constant.name == "units"] == []


# A settings class's attribute (config_objects): `CFG.lr` where `class CFG: lr = 1e-3`, or
# `cfg.units` where `cfg = Config()` and Config is such a class or a dataclass.
SETTINGS = textwrap.dedent("""\
    from dataclasses import dataclass
    from keras import layers
    class CFG:
        units = 64
        rate: float = 0.25
    @dataclass(frozen=True)
    class Config:
        \"\"\"Model settings.\"\"\"
        width: int = 32
    def block(cfg):
        return layers.Dense(cfg.width)
    h = layers.Dense(CFG.units)
    h = layers.Dropout(CFG.rate)
    cfg = Config()
    h = block(cfg)
""")


def test_a_settings_class_attribute_is_a_candidate_where_it_is_written(catalog):
    result = found(SETTINGS, catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value, c.node.lineno, c.node.col_offset, c.constant.definition) for c in result] == [
        ("units", 32, 9, 17, "Config.width = 32"),
        ("units", 64, 4, 12, "CFG.units = 64"), ("rate", 0.25, 5, 18, "CFG.rate = 0.25")]


@pytest.mark.parametrize("change, name", [
    (("h = layers.Dropout(CFG.rate)", "CFG.units = 32"), "units"),  # set by the program
    (("h = layers.Dropout(CFG.rate)", "setattr(CFG, 'units', 32)"), "units"),
    (("    units = 64", "    units = 64\n    units = 128"), "units"),  # assigned twice
    (("    units = 64", "    units = int('64')"), "units"),  # not a literal
    (("class CFG:", "class CFG(Base):"), "units"),  # a base could hold another units
    (("class CFG:", "@register\nclass CFG:"), "units"),  # a decorator could change it
    (("    rate: float = 0.25", "    rate: float = 0.25\n    def scale(self):\n        return 2"), "units"),  # a method
    (("h = layers.Dropout(CFG.rate)", "CFG = load()"), "units"),  # bound twice
    (("h = layers.Dense(CFG.units)", "def f(CFG):\n    return layers.Dense(CFG.units)\nh = f(other)"), "units"),
    (("cfg = Config()", "cfg = Config(width=16)"), "width"),  # the instance's own value
    (("cfg = Config()", "cfg = Config()\ncfg = Config()"), "width"),  # bound twice where read
    (("h = block(cfg)", "h = block(cfg)\nh = block(other)"), "width"),  # a caller passes something else
    (("cfg = Config()", "cfg = Config()\ncfg.width = 8"), "width"),
    (("h = block(cfg)", "h = block(Config(width=16))"), "width"),  # made with its own value
    (("h = block(cfg)", "h = block(Config())\nh = block(CFG())"), "width"),  # two classes
    (("def block(cfg):", "def block(cfg):\n    cfg = other"), "width"),  # rebound in the function
])
def test_a_class_setting_that_may_not_hold_its_literal_is_not_a_candidate(catalog, change, name):
    """The class's own (`CFG.units`) and an instance's (`cfg.width`, through `block(cfg)`)."""
    before, after = change
    assert before in SETTINGS
    result = found(SETTINGS.replace(before, after), catalog, NO_OUTPUTS)
    assert [c.constant.name for c in result if c.constant is not None and c.constant.name == name] == []


def test_a_settings_instance_made_in_the_call_is_read_through_the_parameter(catalog):
    """`main(Config())`: the parameter holds a fresh instance at every call, so `cfg.width` is the
    class's literal, tuned where the class writes it."""
    text = SETTINGS.replace("cfg = Config()\nh = block(cfg)", "h = block(Config())\nh = block(Config())")
    result = found(text, catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value, c.constant.definition) for c in result][0] == ("units", 32, "Config.width = 32")


def test_nothing_tunable_yields_nothing(catalog):  # no-op
    assert found("""
        from keras import layers
        n = compute()
        h = layers.Dense(n, activation=pick())
        out = layers.Dense(10, activation="softmax")
    """, catalog) == []


def test_square_tuples_are_one_value_and_others_are_left(catalog):
    result = found("from keras import layers\na = layers.Conv2D(8, (3, 3))\nb = layers.Conv2D(8, (3, 5))\n",
                   catalog, NO_OUTPUTS)
    assert [(c.row.param, c.value) for c in result] == [("filters", 8), ("kernel_size", 3), ("filters", 8)]


def test_keras1_lint_names_and_positional_forms(catalog):
    facts = parsed("""
        from keras import layers
        c = layers.Conv2D(32, 3, 3, border_mode="same")
        d = layers.Conv2D(32, (3, 3), padding="same")
    """)
    diagnostics = lint("m.py", facts.lines, catalog, keyed(facts, catalog))
    assert [(d.line, d.code) for d in diagnostics] == [(3, "OPT201"), (3, "OPT204")]
    assert diagnostics[0].message.endswith("write kernel_size=(3, 3)")


def test_keras3_code_has_no_diagnostics(catalog):  # no-op
    facts = parsed("from keras import layers\nc = layers.Conv2D(32, 3, strides=2)\n")
    assert lint("m.py", facts.lines, catalog, keyed(facts, catalog)) == []


@pytest.mark.parametrize("fit, validation", [
    ("model.fit(x, y, epochs=3, validation_split=0.2)", True),
    ("model.fit(x, y, 32, 3, 1, None, 0.2, shuffle=True)", True),
    ("model.fit(x, y, epochs=3, callbacks=cbs)", False),
])
def test_the_measured_fit_is_the_last_one(catalog, fit, validation):
    facts = parsed(f"import keras\nmodel.fit(a, b, epochs=1, validation_data=v)\n{fit}\n")
    found_fit = measured_fit(facts.lines, catalog.roles, keyed(facts, catalog))
    assert found_fit.span.line == 3 and found_fit.has_validation is validation
    assert (found_fit.callbacks is not None) is ("callbacks" in fit)


def test_no_fit_call(catalog):  # no-op
    facts = parsed("import keras\nmodel.compile(loss='mse')\n")
    assert measured_fit(facts.lines, catalog.roles, keyed(facts, catalog)) is None


SPLAT = textwrap.dedent("""\
    import argparse
    from keras import layers
    def train(units, rate=0.5):
        return layers.Dense(units), layers.Dropout(rate)
    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--units", type=int, default=64)
        parser.add_argument("--rate", type=float, default=0.25)
        args = vars(parser.parse_args())
        train(**args)
""")


@pytest.mark.parametrize("change", [
    ("", ""),
    ("    args = vars(parser.parse_args())\n    train(**args)\n",
     "    args = parser.parse_args()\n    train(**vars(args))\n"),
    ("    train(**args)\n", "    train(**args)\n    print(args['units'])\n"),  # only read
])
def test_options_unpacked_into_the_call_of_a_function_are_its_parameters(catalog, change):
    """`train(**vars(parser.parse_args()))`: each parameter gets the option of its name, tuned at
    that option's `default=`; a default of the function's own (`rate=0.5`) is never used."""
    before, after = change
    assert before in SPLAT
    source = SPLAT.replace(before, after)
    assert sorted((c.value, c.node.lineno) for c in found(source, catalog, NO_OUTPUTS)) == [(0.25, 8), (64, 7)]


@pytest.mark.parametrize("change", [
    ("    train(**args)\n", "    args['units'] = 8\n    train(**args)\n"),  # changed in place
    ("    train(**args)\n", "    args.update(units=8)\n    train(**args)\n"),
    ("    train(**args)\n", "    train(**args)\n    train(**args)\n"),  # two calls
    ("    train(**args)\n", "    train(8, **args)\n"),  # passed by position
    ("    args = vars(parser.parse_args())\n", "    args = dict(parser.parse_args()._get_kwargs())\n"),
    ("import argparse\n", "import argparse\nfrom mine import vars\n"),  # not the builtin
])
def test_options_that_may_not_reach_the_parameter_unchanged_are_not_followed(catalog, change):  # no-op
    before, after = change
    assert before in SPLAT
    result = found(SPLAT.replace(before, after), catalog, NO_OUTPUTS)
    options = [c.constant.name for c in result if c.constant is not None and c.constant.definition.startswith("parser")]
    assert "units" not in options
