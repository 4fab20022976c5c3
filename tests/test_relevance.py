"""Values in code that does not feed the measured fit() are left as written (analysis/relevance.py).

A notebook that trains several models one after another is scored on its last fit(): the values
of the models before it change nothing the search measures. Before/after pairs on scan ids, the
forms that feed the fit (a builder, a callback list, a teacher, a function with `global`), and
the cases left as before (one model; a fit inside a function); and the functions and classes
nothing runs, whose values and fits are left out wherever the measured fit is."""
from __future__ import annotations

import pytest

from conftest import analyze_text

DATA = """\
import numpy as np
import keras
from keras import layers

x = np.random.rand(64, 8).astype("float32")
y = (x[:, 0] > 0.5).astype("int32")
"""

TWO_MODELS = DATA + """
model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2)

model = keras.Sequential([layers.Dense(64, activation="tanh"), layers.Dropout(0.3),
                          layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
"""


def ids(text: str) -> dict[str, object]:
    return {s.id: s.default for s in analyze_text(text).sites}


def test_an_earlier_model_is_left_as_written():
    assert ids(TWO_MODELS) == {
        "dense_units": 64, "dense_activation": "tanh", "dropout_rate": 0.3, "adam_learning_rate": 1e-3,
        "fit_epochs": 5, "fit_batch_size": 32}


def test_one_model_keeps_every_value():  # no-op: everything feeds the one fit
    one = TWO_MODELS.split("\nmodel = keras.Sequential([layers.Dense(64")[0] + "\n"
    assert ids(one) == {"dense_units": 16, "dense_activation": "relu", "compile_optimizer": "adam",
                        "fit_epochs": 3, "fit_batch_size": 16}


BUILDERS = DATA + """
def build_other(units=32):
    return keras.Sequential([layers.Dense(units, activation="relu"), layers.Dense(2, activation="softmax")])

def build(units=64):
    return keras.Sequential([layers.Dense(units, activation="relu"), layers.Dense(2, activation="softmax")])

unused = keras.callbacks.EarlyStopping(patience=7)
callbacks = [keras.callbacks.EarlyStopping(patience=3)]
callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.5))
other = build_other()
model = build()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=5, validation_split=0.2, callbacks=callbacks)
"""


def test_the_builder_the_fit_uses_and_the_callbacks_it_gets_are_tuned():
    found = ids(BUILDERS)
    assert found["units"] == 64 and found["early_stopping_patience"] == 3
    assert found["reduce_lr_on_plateau_factor"] == 0.5  # appended: the list is changed in place
    assert 32 not in found.values() and 7 not in found.values()  # build_other's units, the unused callback


TEACHER = DATA + """
teacher = keras.Sequential([layers.Dense(128, activation="relu"), layers.Dense(2)])
teacher.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
teacher.fit(x, y, epochs=4)

student = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(2)])
distiller = Distiller(student=student, teacher=teacher)
distiller.compile(optimizer="adam")
distiller.fit(x, y, epochs=3, validation_split=0.2)
"""


def test_a_teacher_trained_first_feeds_the_distiller():
    found = ids(TEACHER)
    assert 128 in found.values() and 4 in found.values()  # the teacher's width and epochs
    assert 16 in found.values() and 3 in found.values()


def test_a_comparison_trained_last_is_measured_alone():
    """keras-io's distillation ends by training a student from scratch: its fit is the measured
    one, and the teacher's values feed nothing it scores."""
    text = TEACHER + """
scratch = keras.Sequential([layers.Dense(24, activation="relu"), layers.Dense(2)])
scratch.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
scratch.fit(x, y, epochs=6, validation_split=0.2)
"""
    assert set(ids(text).values()) == {24, "relu", "adam", 6}


def test_a_function_that_sets_the_model_as_a_global_feeds_the_fit():
    text = DATA + """
def make():
    global model
    model = keras.Sequential([layers.Dense(48, activation="relu"), layers.Dense(2, activation="softmax")])

make()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=2, validation_split=0.2)
"""
    assert ids(text)["dense_units"] == 48


def test_a_fit_inside_a_function_keeps_every_value():  # no-op: the runtime scores every model it trains
    text = DATA + """
def train(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, validation_split=0.2)

train(keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(2, activation="softmax")]))
train(keras.Sequential([layers.Dense(24, activation="relu"), layers.Dense(2, activation="softmax")]))
"""
    values = set(ids(text).values())
    assert {8, 24} <= values


NEVER_RUN = DATA + """
def old_model():  # kept from an earlier experiment; nothing calls it
    model = keras.Sequential([layers.Dense(512, activation="tanh"), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=9, validation_split=0.2)

class Unused(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(256, activation="elu")

def build():
    return keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(2, activation="softmax")])

def main():
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2)

def later():  # after main, and nothing calls it either: its fit is not the one measured
    other = keras.Sequential([layers.Dense(4), layers.Dense(2, activation="softmax")])
    other.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    other.fit(x, y, epochs=7, validation_split=0.2)

if __name__ == "__main__":
    main()
"""


def test_a_function_or_class_nothing_runs_is_left_as_written_and_its_fit_is_not_measured():
    analysis = analyze_text(NEVER_RUN)
    assert {s.id: s.default for s in analysis.sites} == {
        "dense_units": 16, "dense_activation": "relu", "compile_optimizer": "adam",
        "fit_epochs": 2, "fit_batch_size": 16}
    assert analysis.fit.span.line == NEVER_RUN.splitlines().index(
        '    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2)') + 1


def test_what_is_called_read_or_decorated_runs():  # no-op: each of them may run
    text = NEVER_RUN.replace("def old_model():", "@register\ndef old_model():").replace(
        "    model = build()", "    model = build() if Unused else later()")
    values = set(ids(text).values())
    assert {512, 256, 4, 16} <= values


def test_a_module_of_functions_that_nothing_calls_keeps_every_value():  # no-op: a library's file
    text = NEVER_RUN.split('if __name__ == "__main__":')[0]
    assert {512, 16, 4} <= set(ids(text).values())


def test_a_constant_two_builders_read_does_not_tie_the_earlier_model_to_the_fit():
    text = DATA + """
hidden = 32

def first():
    return keras.Sequential([layers.Dense(hidden), layers.Dense(64, activation="relu"), layers.Dense(2)])

def second():
    return keras.Sequential([layers.Dense(hidden), layers.Dense(16, activation="relu"), layers.Dense(2)])

model = first()
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
model.fit(x, y, epochs=1, validation_split=0.2)
model = second()
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=2, validation_split=0.2)
"""
    assert ids(text) == {"hidden": 32, "dense_units": 16, "dense_activation": "relu", "compile_optimizer": "adam",
                         "fit_epochs": 2}


def test_a_builder_called_for_an_earlier_model_keeps_the_values_that_call_passes():
    text = DATA + """
def get_model(rate, decay):
    return keras.Sequential([layers.Dense(8, kernel_regularizer=keras.regularizers.l2(decay)),
                             layers.Dropout(rate), layers.Dense(2, activation="softmax")])

first = get_model(0.3, 1e-3)
first.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
first.fit(x, y, epochs=1, validation_split=0.2)
model = get_model(0.4, 1e-4)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=2, validation_split=0.2)
"""
    values = {s.default for s in analyze_text(text).sites}
    assert {0.4, 1e-4} <= values and not {0.3, 1e-3} & values


@pytest.mark.parametrize("guard", [False, True])
def test_a_cross_validation_loop_at_the_top_level_feeds_the_fit(guard):
    loop = """
folds = []
for train, val in [(slice(0, 48), slice(48, 64))]:
    model = keras.Sequential([layers.Dense(12, activation="relu"), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x[train], y[train], epochs=3, validation_data=(x[val], y[val]))
    folds.append(history.history["val_loss"][-1])
"""
    if guard:
        loop = '\nif __name__ == "__main__":\n' + "".join(f"    {line}\n" if line else "\n" for line in loop.splitlines())
    found = ids(DATA + "\nearlier = keras.Sequential([layers.Dense(99)])\n" + loop)
    assert found["dense_units"] == 12 and found["fit_epochs"] == 3 and 99 not in found.values()


FINDER = DATA + """
class Record(keras.callbacks.Callback):
    def __init__(self):
        self.losses = []

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def find_rate(model, data, labels, epochs=1):
    record = Record()
    model.fit(data, labels, epochs=epochs, callbacks=[record])
    return record.losses


def center(data):
    data[:] = data - data.mean(axis=0)


center(x)
model = keras.Sequential([layers.Dense(40, activation="relu"), layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
losses = find_rate(model, x, y)
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=5, validation_split=0.2)
"""


def test_a_rate_finder_on_an_earlier_model_reads_the_data_and_feeds_nothing():
    """Hands-On ML's chapter 11: `find_learning_rate(model, X, y)` fits a model it is given and
    only reads the data; passing the data made every model before it a part of the measured one.
    A callback class's `self` is its methods' own, not a name the file binds."""
    analysis = analyze_text(FINDER)
    assert {s.default for s in analysis.sites} == {64, "relu", "adam", 5}
    lines = FINDER.splitlines()
    finder_line = lines.index("losses = find_rate(model, x, y)") + 1
    assert finder_line in analysis.idle  # run once, not in each trial


def test_a_helper_that_changes_the_data_in_place_still_feeds_the_fit():  # no-op: as before
    lines = FINDER.splitlines()
    assert lines.index("center(x)") + 1 not in analyze_text(FINDER).idle


def test_a_model_made_again_in_a_with_block_is_another_model():
    """Hands-On ML's chapter 19 builds its last model under `with strategy.scope():`."""
    text = TWO_MODELS.replace("\nmodel = keras.Sequential([layers.Dense(64", "\nwith scope():\n    model = keras.Sequential([layers.Dense(64")
    text = text.replace("\n                          layers.Dense(2, activation=\"softmax\")])\nmodel.compile(optimizer=keras",
                        "\n                              layers.Dense(2, activation=\"softmax\")])\n    model.compile(optimizer=keras")
    assert "with scope():\n    model = " in text and "\n    model.compile(optimizer=keras" in text
    assert ids(text) == ids(TWO_MODELS)


def test_a_plot_of_the_measured_model_feeds_nothing():
    """roles.csv `reads_only`: plot_model(model) draws the model; np.random.shuffle(x) changes x."""
    text = TWO_MODELS.replace("model.fit(x, y, epochs=5", "keras.utils.plot_model(model)\nnp.random.shuffle(x)\nmodel.fit(x, y, epochs=5")
    lines = text.splitlines()
    idle = analyze_text(text).idle
    assert lines.index("keras.utils.plot_model(model)") + 1 in idle
    assert lines.index("np.random.shuffle(x)") + 1 not in idle
    assert ids(text) == ids(TWO_MODELS)


def test_a_library_setter_feeds_the_fit_and_a_value_shown_alone_does_not():
    """A notebook line `regularizers.l1(0.001)` shows a value; `keras.utils.set_random_seed(SEED)`
    and `os.environ[...] = ...` set what the fit runs under."""
    text = TWO_MODELS.replace("\nmodel = keras.Sequential([layers.Dense(64",
                              "\nimport os\nSEED = 7\nkeras.utils.set_random_seed(SEED)\nos.environ['TF_DETERMINISTIC_OPS'] = '1'\n"
                              "keras.regularizers.l1(0.001)\nmodel = keras.Sequential([layers.Dense(64")
    lines = text.splitlines()
    idle = analyze_text(text).idle
    fed = [line for line in ("SEED = 7", "keras.utils.set_random_seed(SEED)", "os.environ['TF_DETERMINISTIC_OPS'] = '1'")
           if lines.index(line) + 1 in idle]
    assert fed == [] and lines.index("keras.regularizers.l1(0.001)") + 1 in idle
    assert ids(text) == ids(TWO_MODELS)  # the shown value is not tuned


SAVED = TWO_MODELS.replace(
    'model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2)\n',
    'model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2)\nmodel.save(f"{out}/my_model.keras")\n').replace(
    'model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)\n',
    'model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2,\n'
    '          callbacks=[keras.callbacks.ModelCheckpoint(f"{out}/my_model.keras", save_best_only=True)])\n')


def test_a_model_saved_where_a_later_checkpoint_writes_does_not_feed_that_fit():
    assert ids(SAVED) == ids(TWO_MODELS)  # both only write the file: the second fit reads nothing of the first


def test_a_model_saved_and_loaded_back_feeds_the_fit():  # no-op: the file carries the first model on
    text = SAVED.replace('model = keras.Sequential([layers.Dense(64, activation="tanh"), layers.Dropout(0.3),\n'
                         '                          layers.Dense(2, activation="softmax")])\n',
                         'model = keras.models.load_model(f"{out}/my_model.keras")\n')
    assert {"dense_units", "fit_epochs"} <= ids(text).keys() and ids(text)["dense_units"] == 16


def test_a_path_a_name_holds_is_the_file_it_names():
    held = 'best = "my_model.keras"\n' + SAVED.replace('f"{out}/my_model.keras"', "best")
    assert ids(held) == ids(TWO_MODELS)  # written twice through the name: still no data between the fits
    loaded = held.replace('model = keras.Sequential([layers.Dense(64, activation="tanh"), layers.Dropout(0.3),\n'
                          '                          layers.Dense(2, activation="softmax")])\n',
                          'model = keras.models.load_model(best)\n')
    assert ids(loaded)["dense_units"] == 16  # read back through the name: the first model feeds the fit


def test_a_model_trained_through_a_checkpoint_whose_file_is_loaded_feeds_the_fit():
    text = DATA + (
        'first = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(1)])\n'
        'first.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")\n'
        'cb = keras.callbacks.ModelCheckpoint("best.keras", monitor="loss")\n'
        'first.fit(x, y, epochs=3, batch_size=8, callbacks=[cb])\n'
        'model = keras.models.load_model("best.keras")\n'
        'model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2)\n')
    assert ids(text)["dense_units"] == 16 and ids(text)["adam_learning_rate"] == 3e-3
    alone = text.replace('model = keras.models.load_model("best.keras")\n',
                         'model = keras.Sequential([layers.Dense(32), layers.Dense(1)])\nmodel.compile(loss="mse")\n')
    assert ids(alone)["dense_units"] == 32 and "adam_learning_rate" not in ids(alone)  # the file is only written


DEMOS = DATA + """
def build(width=16):
    return keras.Sequential([layers.Dense(width, activation="relu"), layers.Dense(2, activation="softmax")])

def saving_demo():  # trains a model of its own, saves its weights and loads them into a copy
    model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=4, verbose=0)
    model.save_weights("demo.weights.h5")
    copy = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(2, activation="softmax")])
    copy.load_weights("demo.weights.h5")

def helper_demo():
    show(keras.Sequential([layers.Dense(48, activation="tanh"), layers.Dense(2, activation="softmax")]))

def show(model):
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=6, verbose=0)

def training():
    model = build()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2)

def main():
    print("demos")
    saving_demo()
    helper_demo()
    training()

if __name__ == "__main__":
    main()
"""

MEASURED = {"width": 16, "dense_activation": "relu", "compile_optimizer": "adam", "fit_epochs": 2,
            "fit_batch_size": 16}


def test_demos_a_driver_runs_before_the_fit_are_left_as_written():
    """A `main()` that runs demo functions, each with a model of its own, before the one that
    trains last: the demos' values change nothing measured, and drawn apart, the two copies
    linked by save_weights/load_weights would fail on loading (gh6's ly028716)."""
    assert ids(DEMOS) == MEASURED


def test_demos_run_from_the_top_level_are_left_as_written():
    text = DEMOS.replace('if __name__ == "__main__":\n    main()\n', "saving_demo()\ntraining()\n")
    assert ids(text) == MEASURED


@pytest.mark.parametrize("change", [
    pytest.param(("    saving_demo()\n", "    saving_demo(x)\n"), id="called-with-arguments"),
    pytest.param(("    saving_demo()\n    helper_demo()\n    training()\n", "    training()\n    saving_demo()\n    helper_demo()\n"),
                 id="after-the-fit"),
    pytest.param(('    copy.load_weights("demo.weights.h5")\n',
                  '    copy.load_weights("demo.weights.h5")\n    keras.utils.set_random_seed(1)\n'), id="sets-a-seed"),
    pytest.param(('    model = build()\n', '    model = build()\n    model.load_weights("demo.weights.h5")\n'),
                 id="its-file-is-loaded-by-the-fit"),
    pytest.param(('    copy.load_weights("demo.weights.h5")\n', '    copy.load_weights("demo.weights.h5")\n    x[:] = 0\n'),
                 id="changes-the-data"),
    pytest.param(("    saving_demo()\n", "    result = saving_demo()\n"), id="its-result-is-kept"),
])
def test_a_demo_that_may_feed_the_fit_keeps_its_values(change):  # no-op: as before
    text = DEMOS.replace(*change)
    assert text != DEMOS
    assert 32 in ids(text).values()


def test_demo_values_stay_left_out_after_apply(tmp_path, run_cli):  # idempotence
    import json

    path = tmp_path / "demos.py"
    path.write_text(DEMOS, encoding="utf-8")
    best = {**MEASURED, "width": 64, "fit_epochs": 3}
    (tmp_path / "best.json").write_text(json.dumps({"best": best, "baseline": MEASURED}), encoding="utf-8")
    code, _, err = run_cli("apply", str(path), str(tmp_path / "best.json"), "--in-place")
    assert code == 0, err
    assert ids(path.read_text()) == best and path.read_text().count("layers.Dense(32") == 2
