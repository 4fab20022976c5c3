"""metadata/roles.csv: Keras policy as rows, loaded and checked like the other tables."""
from __future__ import annotations

from pathlib import Path

import pytest

from optpar.metadata import MetadataError, load_catalog
from optpar.roles import ROLE_COLUMNS, Roles, read_roles

HEADER = ",".join(ROLE_COLUMNS)


def write(tmp_path: Path, body: str, name: str = "roles.csv") -> Path:
    path = tmp_path / name
    path.write_text(f"{HEADER}\n{body}", encoding="utf-8")
    return path


def test_bundled_roles_hold_the_policy_the_matcher_had_in_code():
    roles = load_catalog().roles
    assert roles.width == {"units", "filters", "output_dim"}
    assert roles.output_activations == {"softmax", "sigmoid", "linear", "log_softmax"}
    assert roles.activation == {"activation"}
    assert roles.output_layers == {("layers", "Softmax")}
    assert roles.activation_layers[("layers", "Activation")].position == 0
    assert dict(roles.methods) == {"fit": "fit", "compile": "compile", "fit_generator": "fit"}
    assert {"epochs", "batch_size", "nb_epoch"} <= roles.method_keywords["fit"]
    assert {"optimizer", "loss", "metrics"} <= roles.method_keywords["compile"]
    assert {(r.name, r.position) for r in roles.validation["fit"]} == {("validation_split", 6),
                                                                        ("validation_data", 7)}
    conv = roles.keras1_positional[("layers", "Conv2D")]
    assert (conv.name, conv.position, conv.size) == ("kernel_size", 1, 2)
    assert roles.list_only == {(("Model", "compile"), "metrics"), (("Model", "compile"), "weighted_metrics")}


def test_header_only_file_adds_nothing(tmp_path):  # no-op
    extra = write(tmp_path, "# nothing yet\n")
    assert read_roles(extra) == []
    assert load_catalog([extra]).roles.rows == load_catalog().roles.rows


def test_extra_roles_add_to_the_bundled_ones(tmp_path):
    extra = write(tmp_path, "output_activation,,softplus,,\nwidth,,num_heads,,\n")
    roles = load_catalog([extra]).roles
    assert "softplus" in roles.output_activations and "softmax" in roles.output_activations
    assert "num_heads" in roles.width and "units" in roles.width
    assert Roles() + roles == roles.__class__.of(roles.rows)


def test_an_extra_output_activation_changes_what_is_tuned(tmp_path):
    from optpar.analysis import analyze

    text = 'import keras\nh = keras.layers.Dense(64, activation="softplus")\n'
    plain = [s.id for s in analyze(text, "m.py", load_catalog()).sites]
    assert plain == ["dense_units", "dense_activation"]
    extra = write(tmp_path, "output_activation,,softplus,,\n")
    assert [s.id for s in analyze(text, "m.py", load_catalog([extra])).sites] == []


@pytest.mark.parametrize("row, col, message", [
    ("size,,units,,", 1, "unknown Role 'size'"),
    ("width,layers.Dense,units,,", 2, "width rows name no Layer"),
    ("output_layer,,,,", 2, "output_layer rows need a Layer"),
    ("output_layer,Dense,,,", 2, "Layer must be a dotted Keras path"),
    ("output_layer,layers.Softmax,axis,,", 3, "output_layer rows take no Name"),
    ("model_method,layers.Dense,epochs,,", 2, "model_method rows name a model method like 'Model.fit'"),
    ("dataset_method,Model.fit,,,", 2, "dataset_method rows name a dataset method like 'Dataset.batch'"),
    ("needs_validation,Dataset.batch,,,", 3, "Name must be a Python identifier"),
    ("width,,2units,,", 3, "Name must be a Python identifier"),
    ("activation_layer,layers.Activation,activation,,", 4, "activation_layer rows need a Position"),
    ("width,,units,0,", 4, "width rows take no Position"),
    ("activation_layer,layers.Activation,activation,first,", 4, "Position must be a non-negative integer"),
    ("keras1_positional,layers.Conv2D,kernel_size,1,1", 5, "keras1_positional rows need a Size of 2 or more"),
    ("validation,Model.fit,validation_data,7,2", 5, "validation rows take no Size"),
])
def test_each_mistake_is_reported_at_its_cell(tmp_path, row, col, message):
    extra = write(tmp_path, row + "\n")
    with pytest.raises(MetadataError) as err:
        load_catalog([extra])
    assert str(err.value).startswith(f"{extra}:2:{col}: error: {message}")


def test_a_row_naming_an_alias_names_the_class_instead(tmp_path):
    extra = write(tmp_path, "downsampling,layers.MaxPool2D,pool_size,,\nclass_alias,layers.MaxPool2D,MaxPooling2D,,\n")
    with pytest.raises(MetadataError) as err:
        read_roles(extra)
    assert str(err.value) == (f"{extra}:2:2: error: layers.MaxPool2D is an alias of layers.MaxPooling2D (line 3): "
                              "name the class")


def test_duplicate_row_names_the_first(tmp_path):
    extra = write(tmp_path, "width,,units,,\n\nwidth,,units,,\n")
    with pytest.raises(MetadataError) as err:
        read_roles(extra)
    assert str(err.value) == f"{extra}:4:3: error: duplicate width row for units (first at line 2)"


def test_unknown_column_and_missing_column(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("Role,Layer,Name,Colour\nwidth,,units,red\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r":1:4: error: unknown column 'Colour'"):
        read_roles(path)
    path.write_text("Role,Name\nwidth,units\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r":1:1: error: missing required column 'Layer'"):
        read_roles(path)
