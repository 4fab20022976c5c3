"""optpar.analysis.naming: stable ids, the one id-uniquer, and where Sites are made."""
from __future__ import annotations

import ast

import pytest

from conftest import site_map
from optpar.analysis.naming import SCRIPT_NAMES, IdUniquer, identifier, make_site, script_names, snake
from optpar.analysis.syntax import SourceLines
from optpar.space import Space


@pytest.mark.parametrize("name, expected", [
    ("Dense", "dense"), ("Conv2D", "conv2d"), ("BatchNormalization", "batch_normalization"),
    ("LSTM", "lstm"), ("ExponentialDecay", "exponential_decay"), ("fit", "fit"),
])
def test_snake(name, expected):
    assert snake(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("EPOCHS", "epochs"), ("_HIDDEN_", "hidden"), ("my-encoder 1", "my_encoder_1"),
    ("1st", "p_1st"), ("", "p_"), ("DRÖPOUT", "dröpout"),
])
def test_identifier(text, expected):
    assert identifier(text) == expected


def test_uniquer_numbers_from_two():
    ids = IdUniquer(["dense_units"])
    assert [ids.claim("dense_units"), ids.claim("dense_units"), ids.claim("epochs")] == [
        "dense_units_2", "dense_units_3", "epochs"]


def test_uniquer_gives_a_free_id_back_as_it_is():  # no-op
    assert IdUniquer().claim("fit_epochs") == "fit_epochs"


def test_make_site_takes_span_text_and_tuple_size_from_the_node():
    text = 'x = f(kernel_size=(3, 3), label="größe")\n'
    tree = ast.parse(text)
    call = tree.body[0].value
    lines = SourceLines.of(text)
    site = make_site("conv2d_kernel_size", "m.py", lines, call.keywords[0].value, call="keras.layers.Conv2D",
                     param="kernel_size", default=3, kind="int", space=Space("choice", options=(1, 3, 5)),
                     origin="here", constant=None, code="OPT101")
    assert (site.value, site.tuple_size, site.line, site.col) == ("(3, 3)", 2, 1, 19)
    label = make_site("x", "m.py", lines, call.keywords[1].value, call="", param="label", default="größe",
                      kind="categorical", space=Space("choice", options=("größe",)), origin="",
                      constant="LABEL", code="OPT103")
    assert label.value == '"größe"' and text[label.span.col:label.span.end_col] == '"größe"'


def test_a_comment_constant_named_like_a_site_gets_the_same_suffix_rule():
    text = ("import keras\n"
            "dense_units = 0.3  # optpar: range(0.1, 0.5)\n"
            "h = keras.layers.Dense(64)\n")
    assert set(site_map(text)) == {"dense_units", "dense_units_2"}


@pytest.mark.parametrize("source, renamed", [
    ("x = 1\nd['params'] = 2\nd.SPACE = 3\n", {}),  # a string, an attribute: not names (no-op)
    ("params = {'units': 64}\n", {"params": "optpar_params"}),  # a config dict called params
    ("def fit_model(params):\n    pass\n", {"params": "optpar_params"}),
    ("import params\n", {"params": "optpar_params"}),
    ("params = {}\noptpar_params = 2\n", {"params": "optpar_params_2"}),
    ("SPACE = 'x'\ndef run_trial():\n    pass\n", {"SPACE": "OPTPAR_SPACE", "run_trial": "optpar_run_trial"}),
])
def test_the_scripts_own_names_shadow_nothing_of_the_program(source, renamed):
    assert script_names(ast.parse(source)) == {name: renamed.get(name, name) for name in SCRIPT_NAMES}
