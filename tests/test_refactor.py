"""`optpar refactor`: the model rewrite (before -> after) and the shape of the generated script."""
from __future__ import annotations

import ast
import re
import shutil

import pytest

from conftest import TUNABLE_FIXTURES, model_path
from optpar.errors import UserError
from optpar.pipeline import analyze_path, generate

HEAD = "import keras\nfrom keras.layers import Conv2D, Dense, Dropout\n"
FIT = "model.fit(x, y, validation_split=0.1)\n"


def refactored(tmp_path, text: str, name: str = "model.py") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return generate(path).refactored


# (before, after): the model part only; HEAD and FIT are added around both.
CASES = [
    pytest.param(
        'h = Dense(128, activation="relu")  # hidden layer\n',
        'h = Dense(params["dense_units"], activation=params["dense_activation"])  # hidden layer\n',
        id="literal-and-same-line-comment"),
    pytest.param(
        "c = Conv2D(32, kernel_size=(3, 3))\n",
        'c = Conv2D(params["conv2d_filters"], kernel_size=(params["conv2d_kernel_size"], '
        'params["conv2d_kernel_size"]))\n',
        id="square-tuple"),
    pytest.param(
        "c = Conv2D(32, (3, 5))\n",
        'c = Conv2D(params["conv2d_filters"], (3, 5))\n',
        id="non-square-tuple-kept"),
    pytest.param(
        "RATE = 0.25\n\n# dropout after the block\nd = Dropout(RATE)\n",
        '\nRATE = params["rate"]\n\n# dropout after the block\nd = Dropout(RATE)\n'[1:],
        id="constant-at-definition"),
    pytest.param(
        "layer = Dense(\n"
        "    64,   # width\n"
        "    activation = 'tanh' ,\n"
        ")\n",
        "layer = Dense(\n"
        '    params["dense_units"],   # width\n'
        '    activation = params["dense_activation"] ,\n'
        ")\n",
        id="odd-formatting-kept"),
    pytest.param(
        "opt = keras.optimizers.Adam(learning_rate=1e-3, amsgrad=True)\n",
        'opt = keras.optimizers.Adam(learning_rate=params["adam_learning_rate"], amsgrad=True)\n',
        id="optimizer"),
    pytest.param(
        'h = Dense(64, activation="relu"); out = Dense(10, activation="softmax")(h)\n',
        'h = Dense(params["dense_units"], activation=params["dense_activation"]); '
        'out = Dense(10, activation="softmax")(h)\n',
        id="two-statements-one-line"),
]


def fit_of(before: str) -> str:
    """The measured fit, on a model made from what `before` binds: only values that feed the fit
    are tuned (analysis/relevance.py)."""
    names = sorted({t.id for stmt in ast.parse(before).body if isinstance(stmt, ast.Assign)
                    for t in stmt.targets if isinstance(t, ast.Name)})
    return f"model = build({', '.join(names)})\n" + FIT


@pytest.mark.parametrize("before, after", CASES)
def test_refactor_before_after(tmp_path, before, after):
    fit = fit_of(before)
    assert refactored(tmp_path, HEAD + before + fit) == HEAD + after + fit


@pytest.mark.parametrize("before, after", CASES)
def test_refactor_is_idempotent(tmp_path, before, after):
    """The refactored model has no literal left to tune: refactoring it again finds nothing."""
    once = refactored(tmp_path, HEAD + before + fit_of(before))
    path = tmp_path / "again.py"
    path.write_text(once, encoding="utf-8")
    assert analyze_path(path).sites == ()
    with pytest.raises(UserError, match="no tunable hyperparameters"):
        generate(path)


def test_fit_epochs_and_batch_size(tmp_path):
    text = HEAD + "model.fit(x, y, epochs=10, batch_size=32, validation_split=0.1)  # train\n"
    assert refactored(tmp_path, text) == HEAD + (
        'model.fit(x, y, epochs=params["fit_epochs"], batch_size=params["fit_batch_size"], '
        "validation_split=0.1)  # train\n")


@pytest.mark.parametrize("body", [
    'model = keras.Sequential([Dense(10, activation="softmax")])\n' + FIT,
    "model.compile(loss='mse', metrics=['mae'])\n" + FIT,
    "x = 1\n" + FIT,
])
def test_nothing_tunable_is_a_user_error(tmp_path, body):
    path = tmp_path / "model.py"
    path.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(UserError, match="no tunable hyperparameters") as info:
        generate(path)
    assert info.value.path == str(path)


def test_no_fit_call_is_a_user_error(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(HEAD + "h = Dense(64)\n", encoding="utf-8")
    with pytest.raises(UserError, match="fit"):
        generate(path)


def test_non_ascii_constant_with_directive_refactors(tmp_path):
    text = HEAD + "DRÖPOUT = 0.3  # optpar: range(0.1, 0.5)\nd = Dropout(0.2)\n" + FIT
    assert 'DRÖPOUT = params["dröpout"]' in refactored(tmp_path, text)


# -- every fixture ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """{fixture name: Generated}, each from a copy in a tmp folder."""
    folder = tmp_path_factory.mktemp("fixtures")
    out = {}
    for name in TUNABLE_FIXTURES:
        shutil.copyfile(model_path(name), folder / name)
        out[name] = generate(folder / name)
    return out


def _run_trial_source(text: str) -> str:
    tree = ast.parse(text)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run_trial")
    return ast.get_source_segment(text, func)


def _outside_run_trial(text: str) -> str:
    return text.replace(_run_trial_source(text), "")


def _module_dict(text: str, name: str) -> dict:
    tree = ast.parse(text)
    node = next(n for n in tree.body if isinstance(n, ast.Assign)
                and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name)
    return ast.literal_eval(node.value)


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_generated_script_shape(generated, name):
    gen = generated[name]
    text = gen.text
    compile(text, gen.out_path.name, "exec")
    assert gen.out_path.name == name.replace(".py", "_tune.py")
    assert text.startswith("# Generated by optpar")
    assert name in text.splitlines()[0]
    for symbol in ("SPACE = {", "DEFAULTS = {", "BASELINE_POINT = {", "params = dict(DEFAULTS)",
                   "def run_trial():", 'if __name__ == "__main__":'):
        assert symbol in text
    sites = gen.analysis.sites
    defaults = _module_dict(text, "DEFAULTS")
    assert list(defaults) == [s.id for s in sites]
    assert defaults == {s.id: s.default for s in sites}
    assert set(_module_dict(text, "BASELINE_POINT")) == set(defaults)


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_every_space_entry_names_its_source_line(generated, name):
    gen = generated[name]
    lines = gen.text.splitlines()
    start = lines.index("SPACE = {")
    for site in gen.analysis.sites:
        entry = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith(f'"{site.id}":'))
        comment = lines[entry - 1].strip()
        assert comment.startswith("#")
        assert re.search(rf"{re.escape(name)}:{site.line}\b", comment), comment


BUILDERS = {"functional_main.py": "build_model(", "paper_forms.py": "keras.Model(",
            "subclassed_model.py": "SmallClassifier(num_classes", "digits_cnn.py": "Sequential(",
            "sequential_list.py": "Sequential(", "regression_constants.py": "Sequential(",
            "lstm_sequences.py": "Sequential(", "conv1d_keras_aliases.py": "Sequential("}


@pytest.mark.parametrize("name, builder", sorted(BUILDERS.items()))
def test_generated_run_trial_builds_and_fits_the_model(generated, name, builder):
    text = generated[name].text
    trial = _run_trial_source(text)
    assert ".compile(" in trial and re.search(r"optpar_fit\(\s*model\.fit,", trial)
    assert builder in trial
    assert builder not in _outside_run_trial(text).split("# optpar runtime")[0].replace(
        "def build_model(", "")


@pytest.mark.parametrize("name, loader", [("digits_cnn.py", "load_digits("),
                                          ("sequential_list.py", "load_digits("),
                                          ("paper_forms.py", "load_breast_cancer("),
                                          ("functional_main.py", "load_breast_cancer("),
                                          ("regression_constants.py", "load_diabetes(")])
def test_data_loading_runs_once_outside_run_trial(generated, name, loader):
    text = generated[name].text
    assert loader not in _run_trial_source(text)
    assert loader in _outside_run_trial(text)


def test_functional_main_split_and_scaling_run_once(generated):
    trial = _run_trial_source(generated["functional_main.py"].text)
    assert "train_test_split(" not in trial
    assert "StandardScaler()" not in trial


@pytest.mark.parametrize("name", ["digits_cnn.py", "conv1d_keras_aliases.py", "functional_main.py",
                                  "lstm_sequences.py", "paper_forms.py"])
def test_statements_after_fit_are_commented_out(generated, name):
    text = generated[name].text
    code = [line for line in text.split("# optpar runtime")[0].splitlines()
            if ".evaluate(" in line]
    assert code, "the evaluate() line is shown"
    assert all(line.lstrip().startswith("#") for line in code)


def test_fit_without_validation_gets_a_note(generated):
    text = generated["regression_constants.py"].text
    trial = _run_trial_source(text)
    assert re.search(r"optpar_fit\(\s*model\.fit,", trial)  # the runtime holds out what the data allow
    header = text.split("import math")[0]
    assert "# Note: fit() has no validation data: each trial holds out 20%" in header


@pytest.mark.parametrize("name", ["digits_cnn.py", "sequential_list.py", "functional_main.py"])
def test_fit_with_validation_gets_no_note(generated, name):
    text = generated[name].text
    assert "# Note:" not in text.split("import math")[0]
    assert text.count("validation_split") == (model_path(name)).read_text().count("validation_split") \
        + _count_runtime(text, "validation_split")


def _count_runtime(text: str, word: str) -> int:
    return text.split("# optpar runtime", 1)[1].count(word) if "# optpar runtime" in text else 0


def test_main_function_becomes_run_trial(generated):
    text = generated["functional_main.py"].text
    trial = _run_trial_source(text)
    assert "model = build_model(x_train.shape[1])" in trial
    assert 'learning_rate=params["adam_learning_rate"]' in trial
    tree = ast.parse(text)
    top_functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "build_model" in top_functions
    # the user's main() became run_trial(); the search's is optpar_runtime.main
    assert "main" not in top_functions
    user_guard = "if __name__ == \"__main__\":\n    main()\n"
    assert user_guard not in text


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_refactored_model_keeps_every_other_line(generated, name):
    gen = generated[name]
    before = (model_path(name)).read_text(encoding="utf-8").splitlines()
    after = gen.refactored.splitlines()
    assert len(after) == len(before)
    site_lines = {s.line for s in gen.analysis.sites}
    for number, (old, new) in enumerate(zip(before, after), start=1):
        if number not in site_lines:
            assert new == old
        else:
            assert "params[" in new


@pytest.mark.parametrize("name", TUNABLE_FIXTURES)
def test_refactoring_the_outputs_finds_nothing_new(tmp_path, generated, name):
    gen = generated[name]
    tune = tmp_path / gen.out_path.name
    tune.write_text(gen.text, encoding="utf-8")
    assert analyze_path(tune).sites == ()
    model = tmp_path / f"refactored_{name}"
    model.write_text(gen.refactored, encoding="utf-8")
    assert analyze_path(model).sites == ()
    with pytest.raises(UserError, match="no tunable hyperparameters"):
        generate(model)


def test_generation_is_deterministic(tmp_path):
    shutil.copyfile(model_path("digits_cnn.py"), tmp_path / "digits_cnn.py")
    assert generate(tmp_path / "digits_cnn.py").text == generate(tmp_path / "digits_cnn.py").text


def test_output_option_names_the_script(tmp_path):
    shutil.copyfile(model_path("digits_cnn.py"), tmp_path / "digits_cnn.py")
    gen = generate(tmp_path / "digits_cnn.py", tmp_path / "sub" / "search.py")
    assert gen.out_path == tmp_path / "sub" / "search.py"
    assert "optpar refactor ../digits_cnn.py -o search.py" in gen.text


def test_upgrading_optpar_leaves_the_script_as_it_was(tmp_path, monkeypatch):
    """The header stamps the runtime API, not optpar's version: an upgrade that keeps the API
    does not make committed tuning scripts stale (optpar sync --check stays green)."""
    import optpar

    shutil.copyfile(model_path("digits_cnn.py"), tmp_path / "digits_cnn.py")
    before = generate(tmp_path / "digits_cnn.py").text
    monkeypatch.setattr(optpar, "__version__", "99.0.0")
    assert generate(tmp_path / "digits_cnn.py").text == before
    assert "(runtime API 2)" in before.splitlines()[0] and "0.1.0" not in before


def test_a_generated_script_is_short(generated):
    """What is specific to the model, and nothing of the runtime: digits_cnn.py's 48 lines give a
    script under 250 lines (the runtime used to be pasted in: 895 lines more)."""
    lines = generated["digits_cnn.py"].text.splitlines()
    assert len(lines) < 250


# A driver whose body does not mean the same at the top level is run by its call, not inlined:
# the tuning script compiles and its values are still tuned.
DRIVER_HEAD = "import os\nimport keras\n\nSEEN = 0\n\n\ndef main():\n"
DRIVER_TAIL = ("    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16), keras.layers.Dense(1)])\n"
               "    model.compile(optimizer='adam', loss='mse')\n    model.fit(x, y, epochs=3, validation_split=0.2)\n\n\n"
               "if __name__ == '__main__':\n    main()\n")


@pytest.mark.parametrize("body", [
    "    if not os.path.exists('data.npz'):\n        return\n",
    "    global SEEN\n    SEEN += 1\n",
    "    count = 0\n\n    def bump():\n        nonlocal count\n        count += 1\n\n    bump()\n",
], ids=["early-return", "global", "nonlocal"])
def test_a_driver_that_returns_early_or_declares_names_gives_a_script_that_compiles(tmp_path, body):
    path = tmp_path / "model.py"
    path.write_text(DRIVER_HEAD + body + DRIVER_TAIL, encoding="utf-8")
    generated = generate(path)
    compile(generated.text, str(generated.out_path), "exec")
    assert {"dense_units", "fit_epochs"} <= {site.id for site in generated.analysis.sites}
    assert _run_trial(generated.text).endswith("    main()\n")  # each trial runs main() as written


@pytest.mark.parametrize("body, after", [
    ("    def scale(v):\n        return v * 2\n\n", ""),  # a function's own return
    ("", "    return model\n"),  # after the fit: not part of the trial
], ids=["nested-return", "return-after-fit"])
def test_a_driver_whose_returns_the_trial_does_not_take_is_still_inlined(tmp_path, body, after):
    path = tmp_path / "model.py"
    tail = DRIVER_TAIL.replace("validation_split=0.2)\n", "validation_split=0.2)\n" + after)
    path.write_text(DRIVER_HEAD + body + tail, encoding="utf-8")
    generated = generate(path)
    compile(generated.text, str(generated.out_path), "exec")
    assert "main()" not in _run_trial(generated.text)  # main's statements are the trial's


def _run_trial(text: str) -> str:
    """The body of the generated script's run_trial, up to its first blank line."""
    return text.split("def run_trial():\n")[1].split("\n\n")[0] + "\n"
