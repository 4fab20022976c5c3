"""The split of a program into what runs once and what runs per trial (run_trial), for the
shapes real scripts have: a driver spread over functions, a main(), a fit() call laid out over
several lines. Source strings in, the generated run_trial() out; nothing is run."""
from __future__ import annotations

import ast

import pytest

from optpar.pipeline import generate

HEAD = "import keras\nfrom keras import layers\n"


def generated(tmp_path, body: str) -> str:
    path = tmp_path / "model.py"
    path.write_text(HEAD + body, encoding="utf-8")
    return generate(path).text


def run_trial(text: str) -> str:
    tree = ast.parse(text)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "run_trial")
    return ast.get_source_segment(text, node)


def top_level_functions(text: str) -> set[str]:
    head = text.split("def run_trial():")[0]
    return {n.name for n in ast.parse(head).body if isinstance(n, ast.FunctionDef)}


NET2NET = '''
def make_teacher(epochs):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=epochs, validation_split=0.2)
    return model


def make_student(teacher, epochs):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(32, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=epochs, validation_split=0.2)


def wider_experiment():
    make_student(teacher, epochs=3)


def deeper_experiment():
    make_student(teacher, epochs=3)


x = y = None
teacher = make_teacher(epochs=3)
wider_experiment()
deeper_experiment()
'''


def test_a_top_level_that_does_more_than_call_the_driver_is_the_program(tmp_path):
    """keras' mnist_net2net.py: the measured fit() is reached through deeper_experiment(), but
    the top level also trains a teacher and runs another experiment. run_trial() is that top
    level, and every function it calls is still defined (it used to inline one and drop it)."""
    text = generated(tmp_path, NET2NET)
    trial = run_trial(text)
    assert "teacher = make_teacher(epochs=3)" in trial
    assert "wider_experiment()" in trial and "deeper_experiment()" in trial
    assert {"make_teacher", "make_student", "wider_experiment", "deeper_experiment"} <= top_level_functions(text)
    compile(text, "model_tune.py", "exec")


MAIN = '''
def main():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=3, validation_split=0.2)


x = y = None
if __name__ == "__main__":
    main()
'''


def test_a_main_the_top_level_only_calls_becomes_run_trial(tmp_path):
    text = generated(tmp_path, MAIN)
    trial = run_trial(text)
    assert 'layers.Dense(params["dense_units"]' in trial and "main()" not in trial
    assert "main" not in top_level_functions(text)


def test_main_called_twice_is_not_inlined(tmp_path):
    text = generated(tmp_path, MAIN.replace("    main()\n", "    main()\n    main()\n"))
    trial = run_trial(text)
    assert trial.count("main()") == 2 and "main" in top_level_functions(text)


@pytest.mark.parametrize("call, expected", [
    ("model.fit(x, y, epochs=3, validation_split=0.2)\n",
     'optpar_fit(model.fit, x, y, epochs=params["fit_epochs"], validation_split=0.2)'),
    ("model.fit(\n    x,\n    y,\n    epochs=3,\n)\n",
     'optpar_fit(\n    model.fit,\n    x,\n    y,\n    epochs=params["fit_epochs"],\n)'),
    ("history = model.fit(x, y, epochs=3)  # train\n",
     'history = optpar_fit(model.fit, x, y, epochs=params["fit_epochs"])'),
])
def test_the_measured_fit_goes_through_optpar_fit(tmp_path, call, expected):
    body = ('model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])\n'
            'model.compile(optimizer="adam", loss="mse")\n' + "x = y = None\n" + call)
    trial = run_trial(generated(tmp_path, body))
    assert expected.replace("\n", "\n    ") in trial


DEFAULTS = '''
def create_model(hidden_units=64, dropout_rate=0.2):
    inputs = keras.Input((4,))
    x = layers.Dense(hidden_units, activation="relu")(inputs)
    x = layers.Dropout(dropout_rate)(x)
    return keras.Model(inputs, layers.Dense(2)(x))


x = y = None
model = create_model()
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_a_function_whose_default_is_tuned_is_defined_again_in_each_trial(tmp_path):
    """A default is evaluated when `def` runs: defined once at import, it would keep the first
    trial's value for good."""
    text = generated(tmp_path, DEFAULTS)
    trial = run_trial(text)
    assert 'def create_model(hidden_units=params["hidden_units"], dropout_rate=params["dropout_rate"]):' in trial
    assert trial.index("def create_model(") < trial.index("model = create_model()")
    assert "create_model" not in top_level_functions(text)
    compile(text, "model_tune.py", "exec")
