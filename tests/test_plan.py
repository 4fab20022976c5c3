"""The split of a program into what runs once and what runs per trial (run_trial), for the
shapes real scripts have: a driver spread over functions, a main(), a fit() call laid out over
several lines. Source strings in, the generated run_trial() out; nothing is run."""
from __future__ import annotations

import ast

import pytest

from conftest import analyze_text
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
    assert 'teacher = make_teacher(epochs=params["epochs"])' in trial  # its one call's value, tuned
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


@pytest.mark.parametrize("signature, bound", [
    ("main(verbose=0)", ["verbose = 0"]),
    ("main(verbose: int = 0, *rest, name=None, **options)", ["verbose = 0", "name = None", "rest = ()", "options = {}"]),
])
def test_a_mains_parameters_are_bound_as_its_call_binds_them(tmp_path, signature, bound):
    """run_trial() is main's body: what it reads of main's parameters (defaults nothing tunes)
    is bound where main was defined. Before, `def main(verbose=0)` failed every trial with
    NameError: name 'verbose' is not defined."""
    body = MAIN.replace("def main():", f"def {signature}:").replace("validation_split=0.2)", "validation_split=0.2, verbose=verbose)")
    text = generated(tmp_path, body)
    setup = text.split("def run_trial():")[0]
    assert setup.split("# main()'s parameters, as its call binds them.\n")[1].splitlines()[:len(bound)] == bound
    assert "verbose=verbose" in run_trial(text)


def test_a_main_without_parameters_binds_nothing(tmp_path):  # no-op
    assert "as its call binds them" not in generated(tmp_path, MAIN)


REBOUND = '''
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


x = y = None
{name} = Net()
{name}.compile(optimizer="adam", loss="mse")
{name}.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_a_class_whose_name_the_trial_binds_again_is_defined_in_each_trial(tmp_path):
    """`Net = Net()` (duckzhao's mnist_model): run once at the top, trial 1 would leave trial 2
    the instance where the class was ("missing a required argument: 'inputs'")."""
    text = generated(tmp_path, REBOUND.format(name="Net"))
    trial = run_trial(text)
    assert trial.index("class Net(keras.Model):") < trial.index("Net = Net()")
    assert "Net" not in top_level_classes(text)


def test_a_class_the_trial_only_calls_stays_at_the_top(tmp_path):  # no-op
    text = generated(tmp_path, REBOUND.format(name="model"))
    assert "class Net" not in run_trial(text) and "Net" in top_level_classes(text)


def test_a_class_the_trial_only_changes_stays_at_the_top(tmp_path):  # no-op: `Net.last = model` rebinds nothing
    text = generated(tmp_path, REBOUND.format(name="model").replace('model.compile(', 'Net.last = model\nmodel.compile('))
    assert "Net.last = model" in run_trial(text)
    assert "class Net" not in run_trial(text) and "Net" in top_level_classes(text)


def top_level_classes(text: str) -> set[str]:
    head = text.split("def run_trial():")[0]
    return {n.name for n in ast.parse(head).body if isinstance(n, ast.ClassDef)}


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


def top_level_names(text: str) -> set[str]:
    """Names the generated script binds at its top level, before run_trial()."""
    head = text.split("def run_trial():")[0]
    return {name for stmt in ast.parse(head).body for node in ast.walk(stmt)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))
            for name in ([node.name] if hasattr(node, "name") else [a.asname or a.name for a in node.names])}


MOE = '''
NUM_EXPERTS = 4
x = y = None


def make_layer(num_experts=NUM_EXPERTS):
    return layers.Dense(num_experts)


model = keras.Sequential([keras.Input((4,)), make_layer(), layers.Dense(NUM_EXPERTS), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
'''

MOE_TRIAL = '''def run_trial():
    """One evaluation: the code of model.py that builds, compiles and fits the model,
    reading its tuned values from `params`."""
    global NUM_EXPERTS, make_layer, model
    NUM_EXPERTS = params["num_experts"]


    def make_layer(num_experts=NUM_EXPERTS):
        return layers.Dense(num_experts)


    model = keras.Sequential([keras.Input((4,)), make_layer(), layers.Dense(NUM_EXPERTS), layers.Dense(2)])
    model.compile(optimizer=params["compile_optimizer"], loss="mse")
    optpar_fit(model.fit, x, y, epochs=params["fit_epochs"], validation_split=0.2)'''


def test_a_def_whose_default_reads_a_tuned_constant_is_defined_again_in_each_trial(tmp_path):
    """keras-io mnist_moe: `def f(num_experts=NUM_EXPERTS)` with NUM_EXPERTS tuned. Left at the
    top, the default is read before run_trial() has bound NUM_EXPERTS (NameError), or freezes
    the first trial's value."""
    text = generated(tmp_path, MOE)
    assert run_trial(text) == MOE_TRIAL
    assert "make_layer" not in top_level_names(text)
    compile(text, "model_tune.py", "exec")


@pytest.mark.parametrize("definition, name", [
    ("def make_layer(num_experts=NUM_EXPERTS):\n    return layers.Dense(num_experts)\n", "make_layer"),
    ("class Router:\n    experts = NUM_EXPERTS\n", "Router"),
    ("@functools.lru_cache(NUM_EXPERTS)\ndef route(i):\n    return i\n", "route"),
    ("class Gate(Bases[NUM_EXPERTS]):\n    pass\n", "Gate"),
    ("class Router:\n    experts = NUM_EXPERTS\n\n\nclass BigRouter(Router):\n    pass\n", "BigRouter"),
])
@pytest.mark.parametrize("driven", [False, True])
def test_what_a_definition_reads_when_it_runs_follows_the_tuned_constant(tmp_path, definition, name, driven):
    """A default, a decorator, a base or a class attribute is read when `def`/`class` runs: the
    statement runs in run_trial(), after the constant, at the top level as in a main()."""
    model = ('model = keras.Sequential([keras.Input((4,)), layers.Dense(NUM_EXPERTS), layers.Dense(2)])\n'
             'model.compile(optimizer="adam", loss="mse")\nmodel.fit(x, y, epochs=3, validation_split=0.2)\n')
    program = "import functools\nNUM_EXPERTS = 4\nx = y = Bases = None\n\n\n" + definition + "\n\n"
    if driven:
        program += "def main():\n" + "".join("    " + line + "\n" for line in model.splitlines())
        program += '\n\nif __name__ == "__main__":\n    main()\n'
    else:
        program += model
    text = generated(tmp_path, program)
    trial = run_trial(text)
    assert name not in top_level_names(text)
    assert 'NUM_EXPERTS = params["num_experts"]' in trial
    assert trial.index('NUM_EXPERTS = params["num_experts"]') < trial.index(definition.splitlines()[0])
    compile(text, "model_tune.py", "exec")


def test_a_definition_that_reads_the_constant_only_when_called_stays_at_the_top(tmp_path):
    """No-op: a body runs when the function is called, from the trial, and sees that trial's value."""
    text = generated(tmp_path, MOE.replace("def make_layer(num_experts=NUM_EXPERTS):\n    return layers.Dense(num_experts)",
                                           "def make_layer():\n    return layers.Dense(NUM_EXPERTS)"))
    assert "make_layer" in top_level_names(text)
    assert "def make_layer" not in run_trial(text)


WGAN = '''
x = y = None
model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
import IPython


def show(model):
    IPython.display.display(model)


class Later:
    pass
show(model)
'''

WGAN_OMITTED = '''# Not run during the search (after fit() in model.py):
#     import IPython
#     def show(model):
#         IPython.display.display(model)
#     class Later:
#         pass
#     show(model)
'''


def test_everything_after_the_measured_fit_is_left_out_imports_and_definitions_too(tmp_path):
    """keras-io wgan_gp: an `import IPython` after fit() stayed in the script and failed where
    IPython is not installed. Nothing after the measured fit() at the top level runs during the
    search; it is shown, commented, below run_trial()."""
    text = generated(tmp_path, WGAN)
    assert not {"IPython", "show", "Later"} & top_level_names(text)
    assert WGAN_OMITTED in text
    compile(text, "model_tune.py", "exec")


def test_imports_and_definitions_before_the_fit_stay_at_the_top(tmp_path):
    """No-op: only what follows the measured fit() is left out."""
    before, after = WGAN.split("model.fit(x, y, epochs=3, validation_split=0.2)\n")
    text = generated(tmp_path, after + before + "model.fit(x, y, epochs=3, validation_split=0.2)\n")
    assert {"IPython", "show", "Later"} <= top_level_names(text)
    assert "Not run during the search" not in text


def layout_of(body: str):
    """(plan, {field: [first line of each statement]}) of HEAD + body, as the planner sees it."""
    import libcst as cst

    from optpar.plan import plan

    analysis = analyze_text(HEAD + body)
    module = cst.parse_module(analysis.text)
    layout = plan(analysis, module)
    def first_lines(units) -> list[str]:
        return [module.code_for_node(u.cst).strip().splitlines()[0] for u in units]

    return layout, {field: first_lines(getattr(layout, field)) for field in ("setup", "trial", "omitted")}


def test_the_plan_of_a_module_names_where_each_statement_goes():
    layout, lines = layout_of(WGAN)
    assert layout.driver is None
    assert lines == {
        "setup": ["import keras", "from keras import layers", "x = y = None"],
        "trial": ['model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])',
                  'model.compile(optimizer="adam", loss="mse")',
                  "model.fit(x, y, epochs=3, validation_split=0.2)"],
        "omitted": ["import IPython", "def show(model):", "class Later:", "show(model)"],
    }
    assert layout.declared == ("model",)


def test_the_plan_of_a_main_keeps_its_definition_in_place_of_its_body():
    layout, lines = layout_of(MAIN)
    assert layout.driver is not None and layout.driver.name == "main"
    assert layout.driver.unit in layout.setup and layout.driver.once == ()
    assert lines["setup"] == ["import keras", "from keras import layers", "def main():", "x = y = None",
                              'if __name__ == "__main__":']
    assert len(lines["trial"]) == 3 and lines["omitted"] == [] and layout.declared == ()


CHECKPOINTS = '''
import os

x = y = None
model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
path = "run_1/model.weights.h5"
model.fit(x, y, epochs=3)
model.save_weights(path)
folder = os.path.dirname(path)
print(os.listdir(folder))
path = "run_2/model.weights.h5"
model.save_weights(path)
model.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_a_statement_that_reads_what_the_trial_bound_before_it_runs_in_the_trial():
    """tensorflow/docs save_and_load.ipynb: `checkpoint_dir = os.path.dirname(checkpoint_path)`
    came after the trial's `checkpoint_path = ...` (the trial's because a later cell rebinds it)
    but, tuning nothing itself, ran once at import, before any trial had bound the name: a
    NameError before trial 1. A statement reads what the trial bound before it, so it runs in the
    trial, after it, and so does what reads its names in turn."""
    layout, lines = layout_of(CHECKPOINTS)
    assert lines["setup"] == ["import keras", "from keras import layers", "import os", "x = y = None"]
    assert lines["trial"][-6:] == ["model.save_weights(path)", "folder = os.path.dirname(path)",
                                   "print(os.listdir(folder))", 'path = "run_2/model.weights.h5"',
                                   "model.save_weights(path)", "model.fit(x, y, epochs=3, validation_split=0.2)"]


def test_a_statement_that_reads_only_what_runs_once_stays_once():
    """No-op: what reads names bound at import only (`x`, a module) still runs once."""
    layout, lines = layout_of(CHECKPOINTS.replace("folder = os.path.dirname(path)", "folder = os.path.dirname(str(x))"))
    assert "folder = os.path.dirname(str(x))" in lines["setup"]
    assert "print(os.listdir(folder))" in lines["setup"]


SAVED = '''
x = y = None
model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3)
model.save("my_model.keras")
restored = keras.models.load_model("my_model.keras")
restored.summary()
model = keras.Sequential([keras.Input((4,)), layers.Dense(32, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_a_statement_that_reads_a_file_the_trial_wrote_before_it_runs_in_the_trial():
    """save_and_load.ipynb again: `load_model('my_model.keras')` tunes nothing and read no name
    of the trial, so it ran once at import, before the trial's `model.save('my_model.keras')`
    had written the file: a traceback before trial 1 in a clean folder. A statement that names a
    file an earlier trial statement names runs in the trial, after it. Here the restored model is
    the measured one: the saved model feeds it through the file."""
    layout, lines = layout_of(SAVED.split("model = keras.Sequential([keras.Input((4,)), layers.Dense(32")[0]
                              + "restored.fit(x, y, epochs=3, validation_split=0.2)\n")
    assert lines["trial"][:2] == [
        'model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])',
        'model.compile(optimizer="adam", loss="mse")']
    assert 'restored = keras.models.load_model("my_model.keras")' in lines["trial"]
    assert "restored.summary()" in lines["trial"]
    assert lines["setup"] == ["import keras", "from keras import layers", "x = y = None"]


def test_an_earlier_experiment_that_saves_and_loads_a_file_runs_once_in_order():
    """The notebook form: the saved and restored model is an earlier experiment, the measured fit
    trains another model. The experiment feeds it nothing and runs once, at the top, in its own
    order (the file is written before it is read); each trial trains the measured model only."""
    layout, lines = layout_of(SAVED)
    setup = lines["setup"]
    assert setup.index('model.save("my_model.keras")') < setup.index('restored = keras.models.load_model("my_model.keras")')
    assert lines["trial"] == [
        'model = keras.Sequential([keras.Input((4,)), layers.Dense(32, activation="relu"), layers.Dense(2)])',
        'model.compile(optimizer="adam", loss="mse")', "model.fit(x, y, epochs=3, validation_split=0.2)"]


@pytest.mark.parametrize("text", ["relu", "val_loss", "Restored model, accuracy: {:5.2f}%", "1e-3"])
def test_a_string_that_names_no_file_ties_nothing(text):
    """No-op: a word the trial also spells (an activation, a metric, a message) is not a file."""
    from optpar.units import paths

    assert paths(ast.parse(repr(text))) == set()
    layout, lines = layout_of(SAVED.replace('"my_model.keras")\nrestored', '"my_model.keras")\nprint(%r)\nrestored' % text)
                              .replace('load_model("my_model.keras")', 'load_model("other.keras")'))
    assert "print(%r)" % text not in lines["trial"]
    assert 'restored = keras.models.load_model("other.keras")' in lines["setup"]



def test_annotated_names_run_trial_declares_global_lose_their_annotation(tmp_path):
    # Python refuses `global m` beside `m: keras.Model = ...`; the annotation says nothing at run time.
    text = generated(tmp_path, """\
x = y = None
units: int = 64
m: keras.Model = keras.Sequential([keras.Input((8,)), layers.Dense(units), layers.Dense(1)])
flag: bool
m.compile(optimizer="adam", loss="mse")
m.fit(x, y, epochs=1)
""")
    compile(text, "model_tune.py", "exec")  # a SyntaxError before
    trial = run_trial(text)
    assert "    global m, units\n" in trial
    assert '    units = params["units"]\n' in trial and "    m = keras.Sequential(" in trial


EXPERIMENTS = '''
import numpy as np

x = np.zeros((8, 4))
y = np.zeros((8, 2))
model = keras.Sequential([keras.Input((4,)), layers.Dense(16, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
history = model.fit(x, y, epochs=2)
print(history.history["loss"])
model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_an_earlier_experiment_runs_once_not_in_each_trial():
    """A notebook's earlier model feeds the measured fit nothing (analysis/relevance.py): it runs
    once at the top of the tuning script, and each trial trains only the measured model, though
    both bind `model` and `history`."""
    layout, lines = layout_of(EXPERIMENTS)
    assert lines["trial"] == [
        'model = keras.Sequential([keras.Input((4,)), layers.Dense(64, activation="relu"), layers.Dense(2)])',
        'model.compile(optimizer="adam", loss="mse")', "model.fit(x, y, epochs=3, validation_split=0.2)"]
    assert "history = model.fit(x, y, epochs=2)" in lines["setup"] and layout.declared == ("model",)


def test_the_statements_that_feed_the_fit_nothing_are_marked_idle():
    layout, _ = layout_of(EXPERIMENTS)
    first = [u.first.lineno for u in layout.idle]
    lines = (HEAD + EXPERIMENTS).splitlines()
    assert [lines[n - 1].split("(")[0] for n in first] == [
        "model = keras.Sequential", "model.compile", "history = model.fit", "print"]


def generated_notebook(tmp_path, cells: list[str]) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    path = tmp_path / "model.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in [HEAD, *cells]]), str(path))
    return generate(path).text


def test_a_notebook_runs_an_idle_statement_in_a_with_that_skips_its_failure(tmp_path):
    """A notebook's earlier cells run one by one where they were written; one that fails where
    the search runs (pydot, Colab) must not end it, so each statement that feeds the measured fit
    nothing runs in `with optpar_runtime.idle("<its cell and line>")`."""
    data, earlier, last = EXPERIMENTS.split("model = keras.Sequential")[0], *(
        "model = keras.Sequential" + part for part in EXPERIMENTS.split("model = keras.Sequential")[1:])
    text = generated_notebook(tmp_path, [data, earlier, last])
    compile(text, "model_tune.py", "exec")
    assert "with optpar_runtime.idle('model.ipynb:cell_3:3:1'):\n    history = model.fit(x, y, epochs=2)\n" in text
    assert "\nx = np.zeros((8, 4))\n" in text  # the data feed the fit: as written
    assert "(runtime API 4)" in text
    assert generated_notebook(tmp_path, [data, earlier, last]) == text  # idempotent


def test_a_notebooks_idle_statement_in_the_trial_is_skippable_too(tmp_path):
    """`plot_model(model)` of the measured model reads the trial's model, so it runs in each trial
    (Chollet's chapter 7: a plot that needs pydot failed every trial); it still feeds nothing."""
    data, earlier, last = EXPERIMENTS.split("model = keras.Sequential")[0], *(
        "model = keras.Sequential" + part for part in EXPERIMENTS.split("model = keras.Sequential")[1:])
    last = last.replace("model.compile(", "keras.utils.plot_model(model)\nmodel.compile(")
    text = generated_notebook(tmp_path, [data, earlier, last])
    assert "    with optpar_runtime.idle('model.ipynb:cell_4:2:1'):\n        keras.utils.plot_model(model)\n" in run_trial(text)
    assert "with optpar_runtime.idle('model.ipynb:cell_3:3:1'):\n    history = model.fit(x, y, epochs=2)\n" in text
    assert "history = model.fit(x, y, epochs=2)" not in run_trial(text)  # the earlier experiment: once


def test_a_script_runs_its_idle_statements_as_written(tmp_path):  # no-op: a script runs top to bottom
    text = generated(tmp_path, EXPERIMENTS)
    assert "optpar_runtime.idle(" not in text and "(runtime API 2)" in text
    assert "\nhistory = model.fit(x, y, epochs=2)\n" in text


def test_a_notebook_of_one_model_has_no_idle_statement(tmp_path):  # no-op
    one = EXPERIMENTS.split("history = model.fit")[0].replace("model.compile", "model.fit(x, y, epochs=2)\nmodel.compile")
    text = generated_notebook(tmp_path, [one])
    assert "optpar_runtime.idle(" not in text and "(runtime API 2)" in text


def test_a_library_setting_feeds_the_fit_and_a_plot_of_an_earlier_model_does_not():
    """`keras.utils.set_random_seed(SEED)` sets what every later fit runs under: it is not idle (a
    failure there would change the measured run). `keras.utils.plot_model(model)` only looks."""
    body = EXPERIMENTS.replace("history = model.fit(x, y, epochs=2)",
                               "keras.utils.plot_model(model)\nSEED = 3\nkeras.utils.set_random_seed(SEED)\nhistory = model.fit(x, y, epochs=2)")
    layout, _ = layout_of(body)
    idle = {(HEAD + body).splitlines()[u.first.lineno - 1] for u in layout.idle}
    assert "keras.utils.plot_model(model)" in idle
    assert not {"SEED = 3", "keras.utils.set_random_seed(SEED)"} & idle


def test_an_idle_statement_that_reads_what_the_trial_binds_runs_in_the_trial():
    """`print(len(model.layers))` between the trial's model and its fit reads the trial's `model`,
    so it runs in the trial, where the program has it; the earlier experiment still runs once."""
    body = EXPERIMENTS.replace('model.compile(optimizer="adam", loss="mse")\nmodel.fit(x, y, epochs=3',
                               'print(len(model.layers))\nmodel.compile(optimizer="adam", loss="mse")\nmodel.fit(x, y, epochs=3')
    assert "print(len(model.layers))" in body
    _, lines = layout_of(body)
    assert "print(len(model.layers))" in lines["trial"]
    assert "history = model.fit(x, y, epochs=2)" in lines["setup"]


def test_an_idle_statement_that_would_read_the_last_trials_value_keeps_the_order():
    """`print(len(model.layers), history.history)` after the trial's model reads that model, so it
    joins the trial; it also reads the earlier experiment's `history`, which the measured
    `history = model.fit(...)` binds again: from trial 2 on it would see the last trial's. The
    program's order stays as it was (every statement judged alike)."""
    body = EXPERIMENTS.replace('model.compile(optimizer="adam", loss="mse")\nmodel.fit(x, y, epochs=3',
                               'print(len(model.layers), history.history)\n'
                               'model.compile(optimizer="adam", loss="mse")\nhistory = model.fit(x, y, epochs=3')
    assert "history = model.fit(x, y, epochs=3" in body
    layout, lines = layout_of(body)
    assert "history = model.fit(x, y, epochs=2)" in lines["trial"]  # as before the rule


TRAINER_CLASS = '''
class Trainer:
    def __init__(self, units=64, epochs=3):
        self.model = keras.Sequential([keras.Input((4,)), layers.Dense(units), layers.Dense(1)])
        self.model.compile(optimizer="adam", loss="mse")
        self.epochs = epochs

    def train(self):
        self.model.fit(x, y, epochs=self.epochs, validation_split=0.2)

    def run(self):
        self.train()

    def show(self):
        print(self.model.predict(x))


x = y = None
trainer = Trainer()
trainer.run()
trainer.show()
'''


def test_a_fit_in_a_method_of_a_trainer_object_runs_through_the_calls_of_its_methods(tmp_path):
    """`trainer = Trainer(); trainer.run()` where run() calls train(), which fits (a VAE trainer
    of a Deep Learning with Python reader's copy): the trial runs up to `trainer.run()`, what comes
    after is left out (before: the refactor crashed with a traceback, finding no statement that
    reaches the fit)."""
    text = generated(tmp_path, TRAINER_CLASS)
    trial = run_trial(text)
    assert "trainer = Trainer()" in trial and "trainer.run()" in trial
    assert "trainer.show()" not in trial and "#     trainer.show()" in text


def test_a_method_named_like_a_fitting_one_on_another_object_only_lengthens_the_trial(tmp_path):
    text = generated(tmp_path, TRAINER_CLASS.replace("trainer.show()", "trainer.show()\nother.run()"))
    assert "other.run()" in run_trial(text)  # conservative: it may train


def test_a_fit_reached_another_way_runs_the_whole_program_in_the_trial(tmp_path):
    """The trainer made and driven through a callable the planner does not follow: every
    statement runs in the trial, rather than a traceback."""
    body = TRAINER_CLASS.replace("trainer = Trainer()\ntrainer.run()\n", "steps = [Trainer, 'run']\ngo(steps)\n")
    body = body.replace("x = y = None\n", "x = y = None\ndef go(s):\n    getattr(s[0](), s[1])()\n")
    trial = run_trial(generated(tmp_path, body))
    assert "go(steps)" in trial and "trainer.show()" in trial


SHARED = '''
optimizer = keras.optimizers.Adam()
base = keras.applications.MobileNetV2(include_top=False, weights=None)
base.trainable = True
norm = layers.BatchNormalization()
inputs = keras.Input((4,))
model = keras.Sequential([inputs, base, layers.Dense(8, activation="relu"), norm, layers.Dense(1)])
model.compile(optimizer=optimizer, loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2)
'''


def test_a_layer_or_optimizer_made_once_and_read_by_the_trial_is_made_in_each_trial(tmp_path):
    """Made once, trial 2 would train trial 1's layer (its weights, a fine-tuned base's) or hand a new model to trial
    1's optimizer, which Keras 3 refuses ("This optimizer can only be called for the variables it
    was originally built with": kimjunil/mlops_mnist, trials 2 and 3 failed)."""
    text = generated(tmp_path, "x = y = None\n" + SHARED)
    trial = run_trial(text)
    assert "optimizer = keras.optimizers.Adam()" in trial and "norm = layers.BatchNormalization()" in trial
    assert "base = keras.applications.MobileNetV2(" in trial and "base.trainable = True" in trial  # fine-tuned
    assert "inputs = keras.Input((4,))" not in trial  # no-op: a symbolic input holds no state
    assert "\ninputs = keras.Input((4,))" in text.split("def run_trial")[0]


def test_a_layer_an_earlier_experiment_makes_stays_out_of_the_trial(tmp_path):  # no-op
    earlier = "x = y = None\nold = keras.optimizers.SGD()\nfirst = keras.Sequential([layers.Dense(1)])\n" \
              "first.compile(optimizer=old, loss='mse')\nfirst.fit(x, y, epochs=1)\n"
    trial = run_trial(generated(tmp_path, earlier + SHARED))
    assert "SGD()" not in trial and "first.fit" not in trial


def test_a_preprocessing_layer_adapted_once_is_shared_by_the_trials(tmp_path):  # no-op
    """What `adapt` computes does not train: the pass over the data runs once (roles.csv
    `stateless`), while a layer with weights is remade."""
    body = "x = y = None\nnorm = layers.Normalization()\nnorm.adapt(x)\n" + SHARED.replace("norm = layers.BatchNormalization()\n", "")
    text = generated(tmp_path, body)
    assert "norm.adapt(x)" not in run_trial(text) and "\nnorm.adapt(x)" in text.split("def run_trial")[0]


EARLIER_MODEL = '''
import numpy as np
x = np.zeros((8, 4)); y = np.zeros(8)
hidden = 32

def first():
    return keras.Sequential([layers.Dense(hidden), layers.Dense(1)])

def second():
    return keras.Sequential([layers.Dense(hidden), layers.Dense(16, activation="relu"), layers.Dense(1)])

old = first()
old.compile(optimizer="adam", loss="mse")
old.fit(x, y, epochs=1)
model = second()
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, validation_split=0.2)
'''


def test_an_earlier_model_whose_builder_reads_a_tuned_constant_is_built_in_the_trial(tmp_path):
    # `old = first()` feeds the measured fit nothing, but `first` reads `hidden`, which only the
    # trial binds: run once before it, it stopped with "NameError: name 'hidden' is not defined".
    trial = run_trial(generated(tmp_path, EARLIER_MODEL))
    assert trial.index('hidden = params["hidden"]') < trial.index("old = first()") < trial.index("model = second()")


def test_an_earlier_model_that_reads_no_tuned_value_runs_once(tmp_path):  # no-op
    text = generated(tmp_path, EARLIER_MODEL.replace("layers.Dense(hidden), layers.Dense(1)])", "layers.Dense(8), layers.Dense(1)])", 1))
    assert "old = first()" not in run_trial(text) and "old = first()" in text
