"""Search spaces anchored on the user's value, and the hyperopt code they render to."""

from __future__ import annotations

import math
import subprocess
import sys

import hyperopt
import hyperopt.pyll.stochastic
import numpy as np
import pytest
from hyperopt import hp
from hyperopt.pyll import scope
from hypothesis import given, settings
from hypothesis import strategies as st

from optpar.metadata import Row, load_catalog
from optpar.space import Space, anchor, kind_of

CAT = load_catalog()


def row(layer: str, param: str) -> Row:
    r = CAT.row(layer, param)
    assert r is not None, (layer, param)
    return r


def make_row(hptype="uniform", base="abs", type_="float", lo=0.0, hi=1.0, integer=False,
             choices=(), step=None, tuple_size=0) -> Row:
    return Row("layers.Test", "p", hptype, tuple_size, 0, base, type_, lo, hi, integer,
               tuple(choices), step, "test.csv:2")


def evaluate(code: str):
    return eval(compile(code, "<space>", "eval"), {"hp": hp, "scope": scope, "math": math})


def samples(space: Space, n: int = 200, seed: int = 0) -> list:
    expr = evaluate(space.code("x"))
    rng = np.random.default_rng(seed)
    return [hyperopt.pyll.stochastic.sample(expr, rng=rng) for _ in range(n)]


# --------------------------------------------------------------------- anchoring examples


def test_units_128_gives_powers_of_two_around_it():
    space = anchor(row("layers.Dense", "units"), 128)
    assert space == Space("choice", options=(32, 64, 128, 256, 512), integer=True)
    assert space.code("dense_units") == 'hp.choice("dense_units", [32, 64, 128, 256, 512])'
    assert space.describe() == "choice(32, 64, 128, 256, 512)"


@pytest.mark.parametrize("value, options", [
    (3, (1, 3, 5)), ((3, 3), (1, 3, 5)), (1, (1, 3)), (2, (2, 4)), (7, (5, 7, 9)),
])
def test_kernel_size_choices_are_offsets_around_the_users_value(value, options):
    # Base add: small images do not get a 7x7 kernel because the user wrote 3x3.
    assert anchor(row("layers.Conv2D", "kernel_size"), value) == Space("choice", options=options, integer=True)


def test_transposed_kernel_moves_by_one():
    assert anchor(row("layers.Conv2DTranspose", "kernel_size"), 4).options == (3, 4, 5)


def test_offset_choice_is_clipped_by_max_and_keeps_the_users_value():
    r = make_row("choice", base="add", type_="int", lo=1, hi=4, integer=True, choices=(-2, 0, 2))
    assert anchor(r, 3).options == (1, 3)
    assert anchor(r, 6).options == (4, 6)  # 8 is above Max, 6 itself always stays


def test_units_not_a_power_of_two_is_kept():
    assert anchor(row("layers.Dense", "units"), 100).options == (32, 64, 100, 128, 256)


def test_small_width_stays_positive():
    assert anchor(row("layers.Dense", "units"), 1).options == (1, 2, 4)


def test_learning_rate_is_loguniform_around_the_users_value():
    space = anchor(row("optimizers.Adam", "learning_rate"), 1e-3)
    assert (space.dist, space.low, space.high) == ("loguniform", 1e-4, 1e-2)
    assert space.code("adam_learning_rate") == \
        'hp.loguniform("adam_learning_rate", math.log(0.0001), math.log(0.01))'
    assert space.describe() == "loguniform(0.0001, 0.01)"


def test_int_literal_accepted_for_a_float_parameter():
    space = anchor(row("optimizers.SGD", "learning_rate"), 1)
    assert (space.low, space.high) == (0.1, 10.0) and space.contains(1)


def test_dropout_is_capped_at_0_6_but_widened_for_the_users_value():
    assert anchor(row("layers.Dropout", "rate"), 0.25) == Space("uniform", low=0.0, high=0.6)
    wide = anchor(row("layers.Dropout", "rate"), 0.8)
    assert (wide.low, wide.high) == (0.0, 0.8) and wide.contains(0.8)
    assert wide.code("dropout_rate") == 'hp.uniform("dropout_rate", 0.0, 0.8)'


def test_epochs_15_is_an_integer_quniform_containing_15():
    space = anchor(row("Model.fit", "epochs"), 15)
    assert space.dist == "quniform" and space.integer and space.contains(15)
    assert space.code("fit_epochs") == 'scope.int(hp.quniform("fit_epochs", 7, 30, 1))'
    assert space.describe() == "int(7..30)"
    assert all(isinstance(v, int) for v in (space.low, space.high, space.q))


def test_one_epoch_never_goes_to_zero():
    space = anchor(row("Model.fit", "epochs"), 1)
    assert space.low >= 1 and space.contains(1)


def test_batch_size_powers_of_two():
    assert anchor(row("Model.fit", "batch_size"), 32).options == (8, 16, 32, 64, 128)


def test_activation_choice_keeps_the_table_order():
    space = anchor(row("layers.Dense", "activation"), "relu")
    assert space.options == ("relu", "elu", "selu", "tanh", "gelu", "swish")
    assert space.point("relu") == 0 and space.point("tanh") == 3
    assert kind_of(row("layers.Dense", "activation")) == "categorical"


def test_an_optimizer_named_in_another_case_takes_the_place_of_its_option():
    space = anchor(row("Model.compile", "optimizer"), "RMSprop")
    assert space.options == ("adam", "nadam", "RMSprop", "sgd")
    assert anchor(row("Model.compile", "optimizer"), "rmsprop").options == ("adam", "nadam", "rmsprop", "sgd")  # no-op


def test_user_value_missing_from_the_set_is_added():
    space = anchor(row("layers.Activation", "activation"), "mish")
    assert space.options[-1] == "mish" and space.contains("mish")
    fixed = make_row("choice", type_="int", lo=None, hi=None, integer=True, choices=(1, 3, 5, 7))
    k = anchor(fixed, 4)
    assert k.options == (1, 3, 4, 5, 7)
    assert k.point(4) == 2


def test_all_equal_tuple_is_one_value_and_unequal_is_not_tuned():
    k = row("layers.Conv2D", "kernel_size")
    assert anchor(k, (3, 3)) == anchor(k, 3)
    assert anchor(k, (3, 5)) is None
    assert anchor(k, (3, 3, 3)) is None


@pytest.mark.parametrize(
    "layer, param, value",
    [
        ("layers.Dense", "units", True),          # bool where an int is expected
        ("layers.Dense", "units", 128.0),         # float where an int is expected
        ("layers.Dense", "units", "128"),
        ("layers.Dense", "units", 0),
        ("layers.Dense", "units", -8),
        ("layers.Dense", "activation", 3),
        ("layers.Dropout", "rate", "0.5"),
        ("layers.Dropout", "rate", False),
        ("layers.Dropout", "rate", math.nan),
        ("optimizers.Adam", "learning_rate", 0.0),  # no log of 0
        ("optimizers.Adam", "learning_rate", -0.1),
        ("optimizers.Adam", "weight_decay", None),
        ("Model.fit", "epochs", 0),               # rel range collapses to a point
    ],
)
def test_untunable_values_give_none(layer, param, value):
    assert anchor(row(layer, param), value) is None


def test_kind_of():
    assert kind_of(row("layers.Dense", "units")) == "int"
    assert kind_of(row("layers.Dropout", "rate")) == "float"
    assert kind_of(row("Model.compile", "optimizer")) == "categorical"


def test_float_quniform_off_grid_value_falls_back_to_uniform():
    r = make_row("quniform", "abs", "float", 0.0, 1.0, step=0.1)
    on = anchor(r, 0.3)
    assert on.dist == "quniform" and on.contains(0.3)
    off = anchor(r, 0.33)
    assert off.dist == "uniform" and off.contains(0.33)


def test_integer_quniform_with_step():
    r = make_row("quniform", "rel", "int", 0.5, 2.0, integer=True, step=5)
    space = anchor(r, 20)
    assert (space.low, space.high, space.q) == (10, 40, 5) and space.describe() == "int(10..40 step 5)"
    assert anchor(r, 12).q == 1  # off the grid: step 1 keeps 12 reachable


# --------------------------------------------------------------------- rendering


def test_as_json():
    assert anchor(row("Model.fit", "epochs"), 15).as_json() == \
        {"dist": "quniform", "low": 7, "high": 30, "q": 1, "int": True}
    assert anchor(row("layers.Dense", "units"), 128).as_json() == \
        {"dist": "choice", "options": [32, 64, 128, 256, 512], "int": True}
    assert anchor(row("layers.Dropout", "rate"), 0.5).as_json() == \
        {"dist": "uniform", "low": 0.0, "high": 0.6, "int": False}


def test_tuple_options_render_as_tuples():
    space = Space("choice", options=((2, 2), (3, 3)))
    assert space.code("pool") == 'hp.choice("pool", [(2, 2), (3, 3)])'
    assert samples(space, 20)[0] in {(2, 2), (3, 3)}
    assert space.as_json()["options"] == [[2, 2], [3, 3]]


def test_label_with_quotes_is_escaped():
    assert evaluate(Space("choice", options=(1,)).code('a"b')) is not None


def test_bool_choice_is_not_confused_with_ints():
    space = anchor(make_row("choice", "abs", "bool", None, None, choices=[True, False]), False)
    assert space.point(False) == 1 and space.contains(True) and not space.contains(1)


def test_point_for_numeric_spaces():
    assert anchor(row("Model.fit", "epochs"), 15).point(15) == 15
    assert anchor(row("optimizers.Adam", "learning_rate"), 1e-3).point(1e-3) == 1e-3
    with pytest.raises(ValueError):
        anchor(row("layers.Dense", "units"), 128).point(7)


CASES = [
    ("layers.Dense", "units", 128),
    ("layers.Dense", "units", 100),
    ("layers.Dense", "activation", "relu"),
    ("layers.Conv2D", "kernel_size", 3),
    ("layers.Dropout", "rate", 0.8),
    ("optimizers.Adam", "learning_rate", 1e-3),
    ("optimizers.SGD", "momentum", 0.9),
    ("layers.LayerNormalization", "epsilon", 1e-6),
    ("Model.fit", "epochs", 15),
    ("Model.fit", "batch_size", 32),
    ("callbacks.EarlyStopping", "patience", 3),
    ("Model.compile", "optimizer", "adam"),
]


@pytest.mark.parametrize("layer, param, value", CASES)
def test_code_samples_with_real_hyperopt_stay_inside(layer, param, value):
    space = anchor(row(layer, param), value)
    code = space.code(f"{layer}_{param}")
    compile(code, "<space>", "eval")
    drawn = samples(space)
    for v in drawn:
        if space.dist == "choice":
            assert v in space.options
        else:
            assert space.low - 1e-12 <= v <= space.high + 1e-12
        if space.integer:
            assert isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    if space.dist != "choice":
        assert len(set(drawn)) > 1


def test_baseline_point_is_accepted_by_fmin():
    """point() is what fmin's points_to_evaluate wants: trial 1 is the user's configuration."""
    spaces = {
        "units": anchor(row("layers.Dense", "units"), 128),
        "act": anchor(row("layers.Dense", "activation"), "tanh"),
        "lr": anchor(row("optimizers.Adam", "learning_rate"), 1e-3),
        "epochs": anchor(row("Model.fit", "epochs"), 15),
    }
    user = {"units": 128, "act": "tanh", "lr": 1e-3, "epochs": 15}
    search = {k: evaluate(s.code(k)) for k, s in spaces.items()}
    seen = []

    def objective(params):
        seen.append(params)
        return 0.0

    hyperopt.fmin(objective, search, algo=hyperopt.rand.suggest, max_evals=1,
                  points_to_evaluate=[{k: s.point(user[k]) for k, s in spaces.items()}],
                  rstate=np.random.default_rng(0), show_progressbar=False)
    assert seen[0] == user


def test_space_module_does_not_import_hyperopt():
    code = "import sys, optpar.space; print('hyperopt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------- property test

numeric_rows = st.builds(
    lambda hptype, base, lo, span, integer, step: make_row(
        hptype, base, "int" if integer else "float", lo, lo + span,
        integer=integer, step=(step if hptype == "quniform" else None)),
    hptype=st.sampled_from(["uniform", "loguniform", "quniform"]),
    base=st.sampled_from(["rel", "abs"]),
    lo=st.floats(0.01, 100, allow_nan=False),
    span=st.floats(0, 1000, allow_nan=False),
    integer=st.booleans(),
    step=st.sampled_from([0.05, 0.1, 0.5, 1.0, 2.0, 5.0]),
).filter(lambda r: not (r.int and r.hptype == "loguniform"))
pow2_rows = st.builds(
    lambda base, lo, span: make_row("pow2", base, "int", lo, lo + span, integer=True),
    base=st.sampled_from(["rel", "abs"]),
    lo=st.floats(0.01, 8, allow_nan=False),
    span=st.floats(0, 64, allow_nan=False),
)
values = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(1e-8, 1e-2),
    st.booleans(),
    st.text(max_size=5),
)


@settings(max_examples=400, deadline=None)
@given(r=st.one_of(numeric_rows, pow2_rows), value=values)
def test_anchor_never_crashes_and_contains_the_users_value(r, value):
    space = anchor(r, value)
    if space is None:
        return
    assert space.contains(value)
    compile(space.code("x"), "<space>", "eval")
    if space.dist != "choice":
        assert space.low < space.high
        if space.dist == "loguniform":
            assert space.low > 0
    if r.int:
        assert space.integer and isinstance(space.point(value), int)
    space.describe()
    space.as_json()


@settings(max_examples=200, deadline=None)
@given(
    choices=st.lists(st.sampled_from(["relu", "elu", "tanh", "gelu", "a", "b"]), min_size=1, unique=True),
    value=st.one_of(st.text(max_size=4), st.integers(), st.booleans()),
)
def test_string_choice_always_contains_a_string_value(choices, value):
    space = anchor(make_row("choice", "abs", "str", None, None, choices=choices), value)
    if isinstance(value, str):
        spelled = tuple(value if c.lower() == value.lower() else c for c in choices)
        assert space.contains(value) and space.options[: len(choices)] == spelled
        assert space.options[space.point(value)] == value
        assert len({o.lower() for o in space.options}) == len(space.options)
    else:
        assert space is None
