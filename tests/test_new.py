"""optpar new: data -> a baseline Keras script that runs, and that optpar tune tunes unchanged.

The rules one by one (label, column roles, image layout, convolution blocks, the heuristics table),
the one-line errors for bad data, and end to end on sklearn's bundled data written out as CSV,
Parquet and .npz, an .npy pair, a generated image folder and two generated text tables (text alone;
text beside a price and a category: two model inputs): the script trains and reports its held-out
metric, and `optpar tune --max-evals 3` finishes with trial 1 ok.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import run_optpar

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

from optpar.baseline.infer import (Decision, column_role, conv_blocks, heuristic, image_layout,  # noqa: E402
                                   label_rule)
from optpar.baseline.probe import Column  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


# -- the rules, one by one ---------------------------------------------------------------------

def _column(dtype="number", distinct=3, rows=100, missing=0, integral=True, consecutive=False, words=0.0):
    return Column("c", dtype, rows, distinct, missing, integral, consecutive, words, int(words))


@pytest.mark.parametrize("column, kind, classes", [
    (_column("string", distinct=2), "categorical", 2),
    (_column(distinct=10), "categorical", 10),
    (_column(distinct=20), "categorical", 20),
    (_column(distinct=21), "continuous", 0),
    (_column(distinct=5, integral=False), "continuous", 0),
])
def test_label_rule(column, kind, classes):
    got_kind, got_classes, decision = label_rule(column, "data.csv")
    assert (got_kind, got_classes) == (kind, classes)
    assert decision.topic == "label" and decision.why


@pytest.mark.parametrize("column, role", [
    (_column(distinct=50, integral=False), "numeric"),
    (_column(distinct=100, consecutive=True), "dropped"),  # a row number
    (_column(distinct=1), "dropped"),  # a single value
    (_column(missing=100, distinct=0), "dropped"),  # empty
    (_column("string", distinct=4, words=1.0), "categorical"),
    (_column("string", distinct=90, words=1.0), "dropped"),  # an identifier
    (_column("string", distinct=90, words=7.5), "text"),
])
def test_column_role(column, role):
    assert column_role(column)[0] == role


@pytest.mark.parametrize("shape, layout", [
    ((100, 8, 8), ((8, 8, 1), False)),
    ((100, 28, 28, 1), ((28, 28, 1), False)),
    ((100, 32, 32, 3), ((32, 32, 3), False)),
    ((100, 3, 32, 32), ((32, 32, 3), True)),  # channels first
    ((100, 64), None),  # a table
    ((100, 4, 4), None),  # too small
    ((100, 8, 80), None),  # not square-ish
    ((100, 50, 7), None),  # a sequence of vectors
])
def test_image_layout(shape, layout):
    assert image_layout(shape) == layout


@pytest.mark.parametrize("side, blocks", [(8, 2), (16, 3), (28, 3), (32, 4), (224, 4), (5, 1)])
def test_conv_blocks_end_near_two_to_four_pixels(side, blocks):
    assert conv_blocks(side, side) == blocks


@pytest.mark.parametrize("examples, batch", [(150, 32), (1999, 32), (2000, 64), (12_000, 128), (60_000, 256)])
def test_batch_size_from_the_number_of_examples(examples, batch):
    assert heuristic("batch_size", "features", examples).value == str(batch)


def test_learning_rate_by_input_type():
    rates = {kind: float(heuristic("learning_rate", kind, 1000).value) for kind in ("features", "image", "sequence")}
    assert rates["features"] > rates["image"]
    assert isinstance(heuristic("patience", "image", 10), Decision)


# -- the data sets -------------------------------------------------------------------------------

def _frame(name: str):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(as_frame=True).frame


def _write_images(folder, classes=("cross", "horizontal", "vertical"), per_class=12, size=(16, 16)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size[::-1]).astype(np.uint8)
            line = int(rng.integers(3, min(size) - 3))
            if k in (0, 1):
                pixels[line, :] = 255
            if k in (0, 2):
                pixels[:, line] = 255
            Image.fromarray(pixels, "L").save(folder / name / f"{i:03d}.png")
    return folder


WORDS = {"pos": "good great fine lovely superb nice".split(), "neg": "bad awful poor sad ugly dull".split()}
COMMON = "the a film was and it very really plot acting".split()


def _review(rng, label: str) -> str:
    return " ".join(str(rng.choice(COMMON)) if rng.random() < 0.6 else str(rng.choice(WORDS[label]))
                    for _ in range(int(rng.integers(5, 15))))


def _write_reviews(path, rows=120):
    """A text column and the target: nothing else."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(rows):
        label = ("pos", "neg")[i % 2]
        records.append({"review": _review(rng, label), "sentiment": label})
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def _write_priced_reviews(path, rows=1000):
    """A text column, a price and a sales channel; the target is (positive review) XOR (price > 0).
    The price is independent of the words, so a model of the text alone (or of the price alone)
    cannot beat one half on average: only both inputs together predict the target."""
    rng = np.random.default_rng(0)
    records = []
    for _ in range(rows):
        label = str(rng.choice(["pos", "neg"]))
        price = float(rng.choice([-1, 1]) * rng.uniform(0.5, 3))
        records.append({"review": _review(rng, label), "price": round(price, 2),
                        "channel": str(rng.choice(["web", "phone", "shop"])),
                        "target": "yes" if (label == "pos") != (price > 0) else "no"})
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def _write_mixed(path):
    """A table with a categorical string column, missing numbers and a row-number column."""
    frame = _frame("iris").rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame.insert(0, "row", range(len(frame)))
    frame["colour"] = np.where(frame["target"] == 0, "blue", np.where(frame.index % 2, "red", "green"))
    frame.loc[::7, "sepal_length"] = np.nan
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    frame.to_csv(path, index=False)
    return path


def _make(kind: str, folder):
    """(DATA path, extra `optpar new` arguments, the metric line the script prints)."""
    if kind == "wine.csv":
        _frame("wine").to_csv(folder / "wine.csv", index=False)
        return folder / "wine.csv", [], "test accuracy"
    if kind == "diabetes.parquet":
        pytest.importorskip("pyarrow")
        _frame("diabetes").to_parquet(folder / "diabetes.parquet")
        return folder / "diabetes.parquet", [], "test R2"
    if kind == "digits.npz":
        from sklearn.datasets import load_digits
        digits = load_digits()
        np.savez(folder / "digits.npz", x=digits.images, y=digits.target)
        return folder / "digits.npz", [], "test accuracy"
    if kind == "breast_cancer.npy":
        from sklearn.datasets import load_breast_cancer
        data = load_breast_cancer()
        np.save(folder / "x.npy", data.data)
        np.save(folder / "y.npy", data.target)
        return folder / "x.npy", [], "test accuracy"
    if kind == "iris_mixed.csv":
        return _write_mixed(folder / "iris_mixed.csv"), [], "test accuracy"
    if kind == "images":
        return _write_images(folder / "images"), [], "validation accuracy"
    if kind == "reviews.csv":
        return _write_reviews(folder / "reviews.csv"), ["--target", "sentiment"], "test accuracy"
    if kind == "priced_reviews.csv":
        return _write_priced_reviews(folder / "priced_reviews.csv"), [], "test accuracy"
    raise AssertionError(kind)


KINDS = ["wine.csv", "diabetes.parquet", "digits.npz", "breast_cancer.npy", "iris_mixed.csv", "images", "reviews.csv",
         "priced_reviews.csv"]
EXPECTED_INPUT = {"wine.csv": "features", "diabetes.parquet": "features", "digits.npz": "image",
                  "breast_cancer.npy": "features", "iris_mixed.csv": "features", "images": "image",
                  "reviews.csv": "sequence, the text column 'review' (", "priced_reviews.csv": "sequence and features"}
# Epochs of the end-to-end scripts (2 unless named), and the least metric each must reach (-10 unless
# named): the text and the price together are learnt in a few epochs; either alone stays near 0.5.
EPOCHS = {"priced_reviews.csv": 10}
LEAST = {"priced_reviews.csv": 0.8}


@pytest.mark.parametrize("kind", KINDS)
def test_new_writes_a_script_that_scan_tunes(kind, tmp_path, run_cli):
    data, extra, _ = _make(kind, tmp_path)
    out = tmp_path / "model.py"
    code, stdout, stderr = run_cli("new", data, *extra, "-o", out, "--epochs", "2")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].startswith(f"input: {EXPECTED_INPUT[kind]}")
    assert any(line.startswith("label: ") for line in lines)
    assert lines[-1].startswith(f"wrote {out}")
    text = out.read_text()
    compile(text, str(out), "exec")
    code, stdout, _ = run_cli("scan", out, "--format", "json")
    ids = {finding["id"] for finding in json.loads(stdout)}
    assert "adam_learning_rate" in ids and "early_stopping_patience" in ids
    assert not any("epochs" in hp_id for hp_id in ids)  # the bound is left to early stopping
    assert ids & {"dense_units", "conv2d_filters", "embedding_output_dim"}


def test_the_mixed_table_is_read_column_by_column(tmp_path, run_cli):
    data = _write_mixed(tmp_path / "iris.csv")
    code, stdout, _ = run_cli("new", data, "-o", tmp_path / "m.py")
    assert code == 0
    assert "column 'row': dropped (a row number)" in stdout
    assert "label: categorical, 3 classes ('target' holds strings)" in stdout
    text = (tmp_path / "m.py").read_text()
    assert 'CATEGORICAL = ["colour"]' in text
    assert '"row"' not in text.split("NUMERIC = ", 1)[1].split("]", 1)[0]


def test_a_text_column_beside_other_columns_makes_two_inputs(tmp_path, run_cli):
    data = _write_priced_reviews(tmp_path / "priced.csv", rows=200)
    code, stdout, _ = run_cli("new", data, "-o", tmp_path / "m.py")
    assert code == 0
    first = stdout.splitlines()[0]
    assert first.startswith("input: sequence and features, the text column 'review' with 1 numeric ('price') "
                            "and 1 categorical ('channel') column(s)"), first
    assert "left out" not in stdout and "dropped" not in stdout
    text = (tmp_path / "m.py").read_text()
    assert 'TEXT = "review"\nNUMERIC = ["price"]\nCATEGORICAL = ["channel"]\n' in text
    assert "keras.layers.Concatenate()([text, normalize(features_input)])" in text
    assert "model = keras.Model([tokens_input, features_input], outputs)" in text
    assert text.count("[tokens[train], features[train]]") == 1 and "x[" not in text


def test_a_text_only_table_keeps_one_input(tmp_path, run_cli):
    data = _write_reviews(tmp_path / "reviews.csv")
    code, stdout, _ = run_cli("new", data, "--target", "sentiment", "-o", tmp_path / "m.py")
    assert code == 0
    assert stdout.splitlines()[0] == "input: sequence, the text column 'review' (a column of sentences)"
    text = (tmp_path / "m.py").read_text()
    assert "model = keras.Sequential([\n    keras.Input(shape=(" in text
    assert "Concatenate" not in text and "NUMERIC" not in text and "features" not in text
    assert "x = np.asarray(vectorize(texts))" in text


def test_a_second_text_column_is_named_and_left_out():
    from optpar.baseline.infer import infer
    from optpar.baseline.probe import Table

    def text(name, words):
        return Column(name, "string", 100, 90, 0, words=words, long_words=int(words) + 2)

    columns = (text("title", 3.5), text("body", 12.0), Column("price", "number", 100, 80, 0))
    recipe = infer(Table("t.csv", "csv", 100, columns, Column("label", "string", 100, 2, 0, words=1.0)))
    assert (recipe.text, recipe.numeric, recipe.categorical) == ("body", ("price",), ())
    assert recipe.two_inputs
    assert str(recipe.decisions[0]).endswith("left out: 'title' (the model reads one text column, the wordiest))")


def test_the_script_reads_its_data_relative_to_itself(tmp_path, run_cli):
    (tmp_path / "data").mkdir()
    _frame("wine").to_csv(tmp_path / "data" / "wine.csv", index=False)
    (tmp_path / "models").mkdir()
    code, _, _ = run_cli("new", tmp_path / "data" / "wine.csv", "-o", tmp_path / "models" / "wine.py")
    assert code == 0
    assert 'DATA = Path(__file__).resolve().parent / "../data/wine.csv"' in (tmp_path / "models" / "wine.py").read_text()


# -- bad data: one line, exit 2, nothing written -----------------------------------------------------

def _bad_inputs(folder):
    cases = {}
    pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}).to_csv(folder / "no_target.csv", index=False)
    cases["no_target"] = (folder / "no_target.csv", [], "no target column: pass --target COLUMN (columns: a, b)")
    pd.DataFrame({"a": [1, 2, 3], "label": [1, 1, 1]}).to_csv(folder / "one.csv", index=False)
    cases["single_class"] = (folder / "one.csv", [], "the target 'label' has a single value: nothing to learn")
    cases["missing_column"] = (folder / "no_target.csv", ["--target", "y"], "no column 'y' (columns: a, b)")
    (folder / "empty").mkdir()
    cases["empty_folder"] = (folder / "empty", [], "no images: expected one sub-folder per class")
    _write_images(folder / "single", classes=("only",), per_class=2)
    cases["one_class_folder"] = (folder / "single", [], "a single class (only)")
    np.savez(folder / "short.npz", x=np.zeros((5, 3)), y=np.zeros(4))
    cases["lengths"] = (folder / "short.npz", [], "x has 5 examples but y has 4")
    np.savez(folder / "keys.npz", a=np.zeros((5, 3)))
    cases["keys"] = (folder / "keys.npz", [], "no x and y arrays in the archive (it holds: a; expected x and y)")
    (folder / "notes.txt").write_text("hello\n")
    cases["suffix"] = (folder / "notes.txt", [], "unknown kind of data '.txt'")
    (folder / "broken").mkdir()
    _write_images(folder / "broken", classes=("a", "b"), per_class=1)
    (folder / "broken" / "a" / "bad.png").write_bytes(b"not a png")
    cases["unreadable_image"] = (folder / "broken", [], "not a readable image")
    return cases


BAD = ["no_target", "single_class", "missing_column", "empty_folder", "one_class_folder", "lengths", "keys", "suffix",
       "unreadable_image"]


@pytest.mark.parametrize("case", BAD)
def test_bad_data_is_a_one_line_error(case, tmp_path, run_cli):
    data, extra, message = _bad_inputs(tmp_path)[case]
    out = tmp_path / "model.py"
    code, stdout, stderr = run_cli("new", data, *extra, "-o", out)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and ": error: " in stderr, stderr
    assert message in stderr
    assert not out.exists()


def test_an_existing_script_is_not_replaced_without_force(tmp_path, run_cli):
    data, _, _ = _make("wine.csv", tmp_path)
    out = tmp_path / "model.py"
    out.write_text("# my own work\n")
    code, _, stderr = run_cli("new", data, "-o", out)
    assert code == 2 and "exists; pass --force to replace it" in stderr
    assert out.read_text() == "# my own work\n"
    assert run_cli("new", data, "-o", out, "--force")[0] == 0
    assert out.read_text().startswith('"""A baseline Keras model for wine.csv')


def test_the_same_data_gives_the_same_script(tmp_path, run_cli):
    data, _, _ = _make("wine.csv", tmp_path)
    run_cli("new", data, "-o", tmp_path / "a.py")
    first = (tmp_path / "a.py").read_text()
    run_cli("new", data, "-o", tmp_path / "a.py", "--force")
    assert (tmp_path / "a.py").read_text() == first


# -- end to end: the scripts train, and optpar tune tunes them unchanged ------------------------------

RUN_ALL = textwrap.dedent("""
    import runpy, sys
    import keras
    for path in sys.argv[1:]:
        keras.backend.clear_session()
        print("==", path, flush=True)
        runpy.run_path(path, run_name="__main__")
""")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """{kind: (folder, metric line)}: every kind's data and its script (2 epochs at most, or EPOCHS)."""
    from optpar.cli import main

    made = {}
    for kind in KINDS:
        folder = tmp_path_factory.mktemp(kind.replace(".", "_"))
        data, extra, metric = _make(kind, folder)
        assert main(["new", str(data), *extra, "-o", str(folder / "model.py"),
                     "--epochs", str(EPOCHS.get(kind, 2))]) == 0
        made[kind] = (folder, metric)
    return made


def test_every_generated_script_trains_and_reports_its_metric(scripts):
    paths = [str(folder / "model.py") for folder, _ in scripts.values()]
    proc = subprocess.run([sys.executable, "-c", RUN_ALL, *paths], capture_output=True, text=True, env=ENV,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sections = proc.stdout.split("== ")[1:]
    assert len(sections) == len(scripts)
    for (kind, (_, metric)), section in zip(scripts.items(), sections):
        line = next((x for x in section.splitlines() if x.startswith(metric + ": ")), None)
        assert line is not None, (kind, section[-500:])
        value = float(line.split(": ")[1])
        assert LEAST.get(kind, -10) < value <= 1.0, (kind, line)


@pytest.fixture(scope="module")
def tuned(scripts):
    """{kind: (completed `optpar tune --max-evals 3` process, the script before it)}, two searches
    at a time (each is mostly one busy core: starting TensorFlow, then tiny trainings)."""
    from concurrent.futures import ThreadPoolExecutor

    def tune(kind):
        folder, _ = scripts[kind]
        before = (folder / "model.py").read_text()
        return run_optpar("tune", "model.py", "--max-evals", "3", "--seed", "0", "--out", "runs", "--quiet",
                          cwd=folder, timeout=300, env=ENV), before

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(KINDS, pool.map(tune, KINDS)))


@pytest.mark.parametrize("kind", KINDS)
def test_optpar_tune_runs_the_generated_script_unchanged(kind, scripts, tuned):
    folder, _ = scripts[kind]
    proc, before = tuned[kind]
    assert proc.returncode == 0, proc.stderr[-3000:]
    with (folder / "runs" / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert rows[0]["status"] == "ok", rows[0]
    assert (folder / "model.py").read_text() == before
