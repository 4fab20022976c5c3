"""The metadata table loads, overrides work, and every mistake in a CSV is reported precisely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from optpar.metadata import (
    METADATA_COLUMNS,
    Catalog,
    MetadataError,
    bundled_paths,
    key_of,
    load_catalog,
    read_keras1,
    read_keras2,
    read_metadata,
)

HEADER = ",".join(METADATA_COLUMNS)


def write(tmp_path: Path, text: str, name: str = "extra.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------- bundled table


def test_bundled_table_loads_and_knows_the_common_calls():
    cat = load_catalog()
    assert isinstance(cat, Catalog)
    assert cat.knows(("layers", "Dense"))
    assert set(cat.params("layers.Dense")) == {"units", "activation"}
    units = cat.params(("layers", "Dense"))["units"]
    assert (units.hptype, units.order, units.base, units.type, units.int) == ("pow2", 0, "rel", "int", True)
    assert units.source.endswith("keras.csv:2")
    lr = cat.row(("optimizers", "Adam"), "learning_rate")
    assert (lr.hptype, lr.base, lr.min, lr.max) == ("loguniform", "rel", 0.1, 10.0)
    epochs = cat.row(("Model", "fit"), "epochs")
    assert epochs.order is None and epochs.int and epochs.step == 1
    assert cat.row(("layers", "Conv2D"), "kernel_size").tuple_size == 2
    assert cat.row(("optimizers", "ExponentialDecay"), "initial_learning_rate") is not None


def test_bundled_header_is_exactly_the_documented_one():
    table, keras1 = bundled_paths()
    assert table.read_text(encoding="utf-8").splitlines()[0] == HEADER
    assert keras1.read_text(encoding="utf-8").splitlines()[0] == "Code,Layer,Old,New,Message"


def test_unknown_callable_has_no_params():
    cat = load_catalog()
    assert not cat.knows(("layers", "Flatten"))
    assert dict(cat.params(("layers", "Flatten"))) == {}
    assert cat.positional(("layers", "Flatten")) == ()


def test_never_tuned_parameters_have_no_rows():
    cat = load_catalog()
    forbidden = {"input_dim", "input_shape", "name", "loss", "metrics", "from_logits", "padding",
                 "seed", "strides", "verbose", "validation_split", "shuffle"}
    rows = [row for params in cat.table.values() for row in params.values()]
    assert not [r for r in rows if r.param in forbidden]
    bad_acts = {"softmax", "linear", "sigmoid"}
    for row in rows:
        if row.type == "str":
            assert not bad_acts & set(row.choices), row


def test_positional_binding():
    cat = load_catalog()
    pos = cat.positional(("layers", "Conv2D"))
    assert pos[0].param == "filters" and pos[1].param == "kernel_size"
    assert pos[2] is None  # strides: never tuned
    assert pos[7].param == "activation"
    assert len(pos) <= 99  # positions past the end are not tuned either
    assert cat.positional(("layers", "Embedding"))[0] is None  # input_dim
    assert cat.positional(("layers", "Embedding"))[1].param == "output_dim"


def test_loaded_once_per_process():
    assert load_catalog().params("layers.Dense")["units"] is load_catalog().params("layers.Dense")["units"]


def test_metadata_module_does_not_import_heavy_libraries():
    code = ("import sys, optpar.metadata as m; m.load_catalog(); "
            "print(sorted(n for n in ('tensorflow', 'keras', 'hyperopt') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "path, key",
    [
        ("layers.Dense", ("layers", "Dense")),
        ("keras.layers.Dense", ("layers", "Dense")),
        ("tensorflow.keras.layers.Dense", ("layers", "Dense")),
        ("optimizers.schedules.ExponentialDecay", ("optimizers", "ExponentialDecay")),
        ("Model.fit", ("Model", "fit")),
    ],
)
def test_key_of(path, key):
    assert key_of(path) == key


def test_key_of_rejects_a_bare_name():
    with pytest.raises(ValueError):
        key_of("Dense")


# --------------------------------------------------------------------- keras1 rules


def test_keras1_rules_patterns_and_specific_rules():
    cat = load_catalog()
    adam = {r.old: r for r in cat.keras1_rules(("optimizers", "Adam"))}
    assert adam["lr"].new == "learning_rate" and adam["lr"].code == "OPT202"
    assert "lr" not in {r.old for r in cat.keras1_rules(("layers", "Dense"))}
    dense = {r.old: r.new for r in cat.keras1_rules(("layers", "Dense"))}
    assert dense["output_dim"] == "units" and dense["init"] == "kernel_initializer"
    emb = {r.old: r.new for r in cat.keras1_rules(("layers", "Embedding"))}
    assert "output_dim" not in emb  # Embedding's output_dim is legitimate
    assert emb["init"] == "embeddings_initializer"  # the specific rule beats layers.*
    fit = {r.old: r.new for r in cat.keras1_rules(("Model", "fit"))}
    assert fit == {"nb_epoch": "epochs", "workers": "", "use_multiprocessing": "", "max_queue_size": ""}
    renames = {(r.code, r.old, r.new) for r in cat.keras1 if r.new}  # a rename has a code of its own
    codes = [code for code, _, _ in renames]  # (one, on each call it is written for: l2(l=) and L2(l=))
    assert len(codes) == len(set(codes)) and "OPT201" not in codes
    assert {r.code for r in cat.keras1 if not r.new} == {"OPT226"}  # one code: an argument Keras 3 dropped


def test_keras1_messages_are_one_short_sentence():
    for rule in load_catalog().keras1:
        assert rule.old in rule.message and rule.new in rule.message
        assert "\n" not in rule.message and len(rule.message) < 120


# --------------------------------------------------------------------- overrides


def test_override_changes_a_range_and_adds_rows(tmp_path):
    extra = write(tmp_path, HEADER + "\n"
                  "layers.Dropout,rate,uniform,0,0,abs,float,0.1,0.3,0,,\n"
                  "layers.GroupNormalization,groups,choice,0,0,abs,int,,,1,\"[8, 16, 32]\",\n")
    cat = load_catalog([extra])
    rate = cat.row(("layers", "Dropout"), "rate")
    assert (rate.min, rate.max) == (0.1, 0.3)
    assert rate.source == f"{extra}:2"
    assert cat.row(("layers", "GroupNormalization"), "groups").choices == (8, 16, 32)
    # the bundled table is untouched
    assert load_catalog().row(("layers", "Dropout"), "rate").max == 0.6


def test_override_with_only_required_columns_and_off(tmp_path):
    extra = write(tmp_path, "Layer,ParamName,Hptype,Type,Set\n"
                  "layers.Dense,activation,choice,str,\"['relu', 'tanh']\"\n"
                  "Model.fit,batch_size,off,int,\n")
    cat = load_catalog([extra])
    act = cat.row("layers.Dense", "activation")
    assert act.choices == ("relu", "tanh") and act.order is None and act.tuple_size == 0
    assert cat.row("Model.fit", "batch_size") is None
    assert cat.row("Model.fit", "epochs") is not None


def test_extra_keras1_file(tmp_path):
    extra = write(tmp_path, "Code,Layer,Old,New,Message\n"
                  "OPT290,layers.LSTM,consume_less,implementation,Keras 1 argument 'consume_less' is gone\n")
    cat = load_catalog([extra])
    assert {r.old for r in cat.keras1_rules("layers.LSTM")} >= {"consume_less", "dropout_W"}


def test_a_row_or_rule_naming_an_alias_holds_for_the_class(tmp_path):
    rows = write(tmp_path, HEADER + "\nlayers.MaxPool2D,strides,choice,0,1,abs,int,,,1,\"[1, 2]\",\n"
                 "layers.MaxPool2D,pool_size,off,0,0,abs,int,,,1,,\n")
    rules = write(tmp_path, "Code,Layer,Old,New,Message\n"
                  "OPT291,layers.Convolution2D,nb_row,kernel_size,Keras 1 argument 'nb_row' is gone\n", "rules.csv")
    cat = load_catalog([rows, rules])
    assert cat.row("layers.MaxPooling2D", "strides").choices == (1, 2)
    assert cat.row("layers.MaxPooling2D", "pool_size") is None  # `off` on the alias turns the class's row off
    assert "nb_row" in {r.old for r in cat.keras1_rules("layers.Conv2D")}


def test_override_clashing_param_order_is_an_error(tmp_path):
    extra = write(tmp_path, HEADER + "\nlayers.Dense,use_bias,choice,0,0,abs,bool,,,0,\"[True, False]\",\n")
    with pytest.raises(MetadataError) as err:
        load_catalog([extra])
    assert str(err.value).startswith(f"{extra}:2:5: error: ParamOrder 0 of layers.Dense")


# --------------------------------------------------------------------- validation errors

GOOD = "layers.Dense,units,pow2,0,0,rel,int,0.25,4,1,,"

BAD_ROWS = [
    # (row, column, words in the message)
    ("layers.Dense,units,gaussian,0,0,rel,int,0.25,4,1,,", 3, "unknown Hptype 'gaussian'"),
    ("layers.Dense,units,pow2,0,0,relative,int,0.25,4,1,,", 6, "unknown Base 'relative'"),
    ("layers.Dense,units,pow2,0,0,rel,integer,0.25,4,1,,", 7, "unknown Type 'integer'"),
    ("layers.Dense,units,pow2,0,0,rel,int,small,4,1,,", 8, "Min must be a number"),
    ("layers.Dense,units,pow2,0,0,rel,int,0.25,big,1,,", 9, "Max must be a number"),
    ("layers.Dropout,rate,quniform,0,0,abs,float,0,0.5,0,,x", 12, "Step must be a number"),
    ("layers.Dense,units,pow2,0,0,rel,int,4,0.25,1,,", 8, "Min 4 is greater than Max 0.25"),
    ("layers.Dense,activation,choice,0,1,abs,str,,,0,,", 11, "choice needs a Set"),
    ("layers.Dense,activation,choice,0,1,abs,str,,,0,relu,", 11, "Set must be a Python list literal"),
    ("layers.Dense,activation,choice,0,1,abs,str,,,0,\"('relu', 'tanh')\",", 11, "Set must be a Python list literal"),
    ("layers.Dense,activation,choice,0,1,abs,str,,,0,\"['relu', 3]\",", 11, "Set element 3 is not of Type str"),
    ("layers.Conv2D,kernel_size,choice,2,1,abs,int,,,1,\"[1, 3.5]\",", 11, "Set element 3.5 is not of Type int"),
    ("layers.Conv2D,kernel_size,choice,2,1,add,str,,,0,\"['a']\",", 6, "Base add needs Type int or float"),
    ("layers.Conv2D,kernel_size,choice,2,1,add,int,5,1,1,\"[-2, 0, 2]\",", 8, "Min 5 is greater than Max 1"),
    ("layers.Dense,units,pow2,0,0,add,int,0.25,4,1,,", 6, "Base add is only used by choice rows"),
    ("layers.Dense,units,pow2,0,-1,rel,int,0.25,4,1,,", 5, "ParamOrder must be a non-negative integer"),
    ("layers.Dense,units,pow2,0,first,rel,int,0.25,4,1,,", 5, "ParamOrder must be a non-negative integer"),
    ("layers.Dense,units,pow2,x,0,rel,int,0.25,4,1,,", 4, "TupleSize must be a non-negative integer"),
    ("layers.Dense,units,pow2,0,0,rel,int,0.25,4,yes,,", 10, "Int must be 0 or 1"),
    ("optimizers.Adam,learning_rate,loguniform,0,0,rel,float,0,10,0,,", 8, "loguniform needs Min > 0"),
    ("optimizers.Adam,learning_rate,loguniform,0,0,abs,float,0,0.1,0,,", 8, "loguniform needs Min > 0"),
    ("layers.Dropout,rate,quniform,0,0,abs,float,0,0.5,0,,", 12, "quniform needs a Step"),
    ("layers.Dropout,rate,uniform,0,0,abs,float,,0.5,0,,", 8, "uniform needs Min"),
    ("layers.Dense,activation,uniform,0,1,abs,str,0,1,0,,", 7, "Type str needs Hptype choice"),
    ("Dense,units,pow2,0,0,rel,int,0.25,4,1,,", 1, "Layer must be a dotted Keras path"),
    ("layers.Dense,units and more,pow2,0,0,rel,int,0.25,4,1,,", 2, "ParamName must be a Python identifier"),
    ("layers.Dense,units,pow2,0,0,rel,int,0.25,4,1,,,extra", 13, "expected 12 fields, found 13"),
]


@pytest.mark.parametrize("row, col, words", BAD_ROWS)
def test_validation_error_names_file_line_and_column(tmp_path, row, col, words):
    # line 1 header, line 2 a good row, line 3 the bad one
    path = write(tmp_path, HEADER + "\nlayers.ReLU,negative_slope,uniform,0,1,abs,float,0,0.5,0,,\n" + row + "\n")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    e = err.value
    assert (e.path, e.line, e.col) == (str(path), 3, col)
    assert str(e) == f"{path}:3:{col}: error: {e.message}"
    assert words in e.message


def test_error_through_load_catalog_has_the_same_text(tmp_path):
    path = write(tmp_path, HEADER + "\n\n" + "layers.Dense,units,pow2,0,0,rel,int,0.25,4,2,,\n")
    with pytest.raises(MetadataError) as err:
        load_catalog([path])
    assert str(err.value) == f"{path}:3:10: error: Int must be 0 or 1, not '2'"


def test_unknown_column(tmp_path):
    path = write(tmp_path, HEADER + ",Comment\n" + GOOD + ",x\n")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert str(err.value).startswith(f"{path}:1:13: error: unknown column 'Comment'")


def test_missing_required_column(tmp_path):
    path = write(tmp_path, "Layer,ParamName,Type\nlayers.Dense,units,int\n")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert str(err.value) == f"{path}:1:1: error: missing required column 'Hptype'"


def test_duplicate_row_within_one_file(tmp_path):
    path = write(tmp_path, HEADER + "\n" + GOOD + "\n# a comment line\nkeras.layers.Dense,units,pow2,0,0,rel,int,0.5,2,1,,\n")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert str(err.value) == f"{path}:4:2: error: duplicate row for keras.layers.Dense units (first at line 2)"


def test_multiline_quoted_cell_keeps_line_numbers(tmp_path):
    path = write(tmp_path, HEADER + "\n"
                 'layers.Dense,activation,choice,0,1,abs,str,,,0,"[\'relu\',\n \'tanh\']",\n'
                 + "layers.Dense,units,pow2,0,0,rel,int,0.25,4,1,,oops\n")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert (err.value.line, err.value.col) == (4, 12)
    assert "Step must be a number" in err.value.message


def test_missing_file_is_reported_at_line_1_col_1(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(MetadataError) as err:
        load_catalog([path])
    assert str(err.value).startswith(f"{path}:1:1: error: cannot read metadata file")


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert (err.value.line, err.value.col) == (1, 1)


def test_set_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"[__import__('os').system('touch {marker}')]"
    path = write(tmp_path, HEADER + f'\nlayers.Dense,activation,choice,0,1,abs,str,,,0,"{payload}",\n')
    with pytest.raises(MetadataError) as err:
        read_metadata(path)
    assert (err.value.line, err.value.col) == (2, 11)
    assert "Set must be a Python list literal" in err.value.message
    assert not marker.exists()


def test_keras1_validation(tmp_path):
    path = write(tmp_path, "Code,Layer,Old,New,Message\n"
                 "OPT250,layers.*,nb_row,kernel_size,ok\n"
                 "E1,layers.*,nb_col,kernel_size,bad code\n")
    with pytest.raises(MetadataError) as err:
        read_keras1(path)
    assert str(err.value) == f"{path}:3:1: error: Code must look like OPT202, not 'E1'"
    dup = write(tmp_path, "Code,Layer,Old,New,Message\n"
                "OPT250,layers.*,nb_row,kernel_size,ok\n"
                "OPT251,layers.*,nb_row,kernel_size,again\n", name="dup.csv")
    with pytest.raises(MetadataError) as err:
        read_keras1(dup)
    assert (err.value.line, err.value.col) == (3, 3)


def test_keras2_table_is_read_by_form_and_checked_at_its_cell(tmp_path):
    backend = load_catalog().moved("backend")
    assert backend["sum"] == "sum" and backend["pow"] == "power" and "epsilon" not in backend
    assert load_catalog().moved("history") == {"lr": "learning_rate"}
    assert load_catalog().moved("module")["layers.core"] == "layers"
    cases = [("backend.sum,ops.sum\nlayers.Dense,ops.dense\n", (3, 1), "Old must be 'backend.name' or 'history.name'"),
             ("backend.sum,backend.sum\n", (2, 2), "New of a backend name must be 'ops.name'"),
             ("backend.sum,ops.sum\nbackend.sum,ops.add\n", (3, 1), "duplicate row for backend.sum (first at line 2)"),
             ("module.layers.core,module.layers.2d\n", (2, 2), "New of a module name must be 'module.name'")]
    for body, at, message in cases:
        path = write(tmp_path, "Old,New\n" + body, name="keras2.csv")
        with pytest.raises(MetadataError) as err:
            read_keras2(path)
        assert (err.value.line, err.value.col) == at and message in err.value.message
