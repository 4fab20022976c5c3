"""optpar_fit's decisions, in process: which validation data a trial gets for each kind of
training data, which metric it tunes, and the random state every trial starts from. The runtime's
functions are called directly with real Keras models and real tf.data pipelines.
"""
from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
np = pytest.importorskip("numpy")

from optpar.runtime import fit as rt_fit  # noqa: E402
from optpar.runtime import randomness, trial  # noqa: E402
from optpar.runtime.state import Refusal, TrialState  # noqa: E402


def _model():
    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _ids(dataset) -> list[int]:
    return [int(v) for x, _ in dataset.as_numpy_iterator() for v in x.reshape(-1)]


# -- validation data by kind of training data ---------------------------------------------------

def test_a_shuffled_dataset_keeps_its_held_out_batches_out_of_training_in_every_epoch():
    """The trap: shuffle() reshuffles on every pass, so take()/skip() would mix validation
    examples into training. The held-out examples are the same in every trial, and no epoch of
    any trial trains on one of them."""
    ids = np.arange(200, dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((ids, ids)).shuffle(200).batch(10)
    state = TrialState()
    validation_sets = []
    for _trial in range(2):
        arguments = rt_fit.with_validation({"x": dataset, "epochs": 3}, _model(), state)
        assert "validation_split" not in arguments
        train, validation = arguments["x"], arguments["validation_data"]
        held_out = set(_ids(validation))
        validation_sets.append(held_out)
        assert len(held_out) == 40  # 4 of 20 batches
        for _epoch in range(3):
            seen = _ids(train)
            assert len(seen) == 160 and not held_out & set(seen)
            assert held_out | set(seen) == set(range(200))
    assert validation_sets[0] == validation_sets[1]


def test_training_batches_change_order_between_epochs_but_not_between_trials():
    ids = np.arange(100, dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((ids, ids)).batch(5)
    state = TrialState()
    orders = []
    for _trial in range(2):
        train = rt_fit.with_validation({"x": dataset}, _model(), state)["x"]
        orders.append([_ids(train) for _epoch in range(2)])
    assert orders[0][0] != orders[0][1]  # a new order each epoch
    assert orders[0] == orders[1]  # every trial sees the same sequence of epochs


def test_arrays_get_keras_validation_split():
    state = TrialState()
    x = np.zeros((10, 1))
    assert rt_fit.with_validation({"x": x, "y": x}, _model(), state)["validation_split"] == 0.2
    given = {"x": x, "y": x, "validation_data": (x, x)}
    assert rt_fit.with_validation(dict(given), _model(), state) == given
    kept = rt_fit.with_validation({"x": x, "y": x, "validation_split": 0.1}, _model(), state)
    assert kept["validation_split"] == 0.1


@pytest.mark.parametrize("rows, says", [
    (4, "that is 1 of 4 rows, so every trial is scored on it alone: --folds 4"),  # fractus-io's XOR
    (13, "that is 3 of 13 rows, so every trial is scored on them alone: --folds 5"),
    (50, None),  # 10 rows held out: no more said
])
def test_a_split_of_a_few_rows_says_so_and_names_folds(rows, says, capsys):
    from optpar.runtime.state import STATE

    STATE.noted.clear()
    x = np.zeros((rows, 1))
    assert rt_fit.with_validation({"x": [x, x], "y": x}, _model(), TrialState())["validation_split"] == 0.2
    err = capsys.readouterr().err
    assert "fit() has no validation data" in err
    assert (says in err) if says else "rows, so every trial" not in err


@pytest.mark.parametrize("make, words", [
    (lambda: tf.data.Dataset.from_tensor_slices(([1.0], [1.0])).repeat().batch(2), "repeats forever"),
    (lambda: tf.data.Dataset.range(10).filter(lambda v: v > 7).map(lambda v: (v, v)).batch(2), "of 1 batch"),
    (lambda: ((np.zeros((2, 1)), np.zeros((2, 1))) for _ in range(3)), "generator"),
    (lambda: tf.data.Dataset.from_tensor_slices(([1.0], [1.0])).batch(2), "of 1 batch"),
])
def test_data_optpar_cannot_split_is_refused_before_training(make, words):
    with pytest.raises(Refusal) as caught:
        rt_fit.with_validation({"x": make()}, _model(), TrialState())
    message = str(caught.value)
    assert words in message and "validation_data=" in message and "\n" not in message


def test_a_dataset_of_unknown_length_is_counted_and_split():
    ids = tf.data.Dataset.range(100).filter(lambda v: v % 2 == 0).map(lambda v: (v, v)).batch(5)
    assert int(ids.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    arguments = rt_fit.with_validation({"x": ids}, _model(), TrialState())
    train, held = ([int(v) for batch in part for v in batch[0].numpy()]
                   for part in (arguments["x"], arguments["validation_data"]))
    assert len(held) == 10 and len(train) == 40  # 2 of the 10 batches held out
    assert sorted(train + held) == list(range(0, 100, 2)) and not set(train) & set(held)


def test_a_dataset_of_unknown_length_with_steps_per_epoch_is_refused_before_reading_it():
    def endless():
        while True:
            yield np.zeros((2, 1)), np.zeros((2, 1))

    spec = (tf.TensorSpec((None, 1), tf.float64),) * 2
    dataset = tf.data.Dataset.from_generator(endless, output_signature=spec)
    with pytest.raises(Refusal, match="unknown length, with steps_per_epoch"):
        rt_fit.with_validation({"x": dataset, "steps_per_epoch": 10}, _model(), TrialState())


def test_a_py_dataset_is_refused_and_one_with_validation_data_is_not():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return np.zeros((2, 1)), np.zeros((2, 1))

    with pytest.raises(Refusal, match="Batches"):
        rt_fit.with_validation({"x": Batches()}, _model(), TrialState())
    arguments = {"x": Batches(), "validation_data": Batches()}
    assert rt_fit.with_validation(dict(arguments), _model(), TrialState()) == arguments


def test_a_model_that_can_only_train_gets_no_validation():
    class OnlyTrains(keras.Model):  # a GAN's shape: train_step, no call, no test_step
        def train_step(self, data):
            return {"g_loss": 0.0}

    x = np.zeros((10, 1))
    arguments = rt_fit.with_validation({"x": x}, OnlyTrains(), TrialState())
    assert "validation_split" not in arguments
    state = TrialState()
    state.requested = "loss"  # tuning a training metric needs no held-out data
    assert "validation_split" not in rt_fit.with_validation({"x": x}, _model(), state)


class OwnTraining(keras.Model):
    """A VAE's shape: a `call`, and a `train_step` that computes its loss itself."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x) - x))
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_weights), self.trainable_weights))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}


class OwnTrainingAndTest(OwnTraining):
    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return {"loss": tf.reduce_mean(tf.square(self(x) - x))}


class AddedLoss(keras.Model):
    """keras-io's endpoint layer pattern: no loss in compile(), one added in `call`."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        out = self.dense(x)
        self.add_loss(tf.reduce_mean(tf.square(out - x)))
        return out


@pytest.mark.parametrize("make, loss, validates", [
    (OwnTraining, None, False),  # Keras's test_step: "No loss to compute"
    (OwnTraining, "mse", True),  # the compiled loss is what Keras's test_step computes
    (OwnTrainingAndTest, None, True),
    (AddedLoss, None, True),
    (_model, "mse", True),
], ids=["own-train-step", "own-train-step-and-a-loss", "own-test-step", "added-loss", "plain"])
def test_whether_a_model_gets_validation_data_is_whether_keras_can_evaluate_it(make, loss, validates):
    model = make()
    if make is not _model:
        model.compile(optimizer="sgd", loss=loss)
    x = np.linspace(0, 1, 20, dtype="float32").reshape(-1, 1)
    arguments = rt_fit.with_validation({"x": x, "y": x}, model, TrialState())
    assert ("validation_split" in arguments) is validates
    # What Keras does with the validation split is what the rule said it would.
    if validates:
        history = model.fit(x, x, validation_split=0.2, epochs=1, verbose=0)
        assert "val_loss" in history.history
    else:
        with pytest.raises(ValueError, match="No loss to compute"):
            model.fit(x, x, validation_split=0.2, epochs=1, verbose=0)


# -- the metric -------------------------------------------------------------------------------

@pytest.mark.parametrize("requested, keys, picked", [
    (None, ["loss", "accuracy", "val_loss", "val_accuracy"], "val_loss"),
    (None, ["sparse_categorical_accuracy", "val_sparse_categorical_accuracy"], "val_sparse_categorical_accuracy"),
    (None, ["d_loss", "g_loss"], None),
    ("g_loss", ["d_loss", "g_loss"], "g_loss"),
    ("val_auc", ["loss", "val_loss"], None),
])
def test_the_metric_is_the_one_asked_for_else_val_loss_else_a_validation_metric(requested, keys, picked):
    assert rt_fit.pick_metric(requested, keys) == picked


def test_a_model_without_validation_metrics_is_told_how_to_pick_one():
    message = rt_fit.metric_refusal(None, ["d_loss", "g_loss"])
    assert "d_loss, g_loss" in message and "--metric d_loss --mode min" in message


# -- random state -----------------------------------------------------------------------------

def test_every_trial_starts_from_the_random_state_taken_before_the_first():
    keras.utils.set_random_seed(7)
    np.random.permutation(10)  # the data loading of the user's program draws too
    snapshot = randomness.take()

    def draws():
        keras.backend.clear_session()  # as each trial does; it forgets Keras's seed
        randomness.restore(snapshot)
        layer = keras.layers.Dense(3)
        layer.build((None, 2))
        return (random.random(), float(np.random.rand()), float(tf.random.uniform(())),
                layer.kernel.numpy().tolist())

    first = draws()
    np.random.rand(5), random.random(), tf.random.uniform(())  # a trial draws more
    assert draws() == first


def test_values_are_run_as_apply_writes_them():
    from optpar.apply import render

    values = trial.as_written({"lr": 0.00123456, "rate": 0.1142977101, "units": 64, "act": "relu"},
                              {"lr": 0.00123456})
    assert values == {"lr": 0.00123456, "rate": 0.1143, "units": 64, "act": "relu"}
    assert float(render(values["rate"], "0.5")) == values["rate"]


def test_a_graph_error_says_what_went_wrong_not_where():
    text = (
        "Graph execution error:\n\n"
        "Detected at node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits defined at "
        "(most recent call last):\n"
        '  File "/tmp/model_tune.py", line 10, in <module>\n\n'
        '  File "/venv/keras/src/losses/losses.py", line 2040, in sparse_categorical_crossentropy\n\n'
        "Received a label value of 9 which is outside the valid range of [0, 8).  Label values: 9 5\n"
        "\t [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits}}]] "
        "[Op:__inference_multi_step_on_iterator_1234]")
    error = trial.error_text(tf.errors.InvalidArgumentError(None, None, text))
    assert error == ("InvalidArgumentError: Received a label value of 9 which is outside the valid "
                     "range of [0, 8).  Label values: 9 5")
    layer = ("Exception encountered when calling Dense.call().\n\n"
             "Input 0 of layer dense is incompatible with the layer: expected axis -1 of input shape "
             "to have value 4\n\nArguments received by Dense.call():\n  • inputs=tf.Tensor(shape=(None, 3))")
    assert trial.error_text(ValueError(layer)) == (
        "ValueError: Input 0 of layer dense is incompatible with the layer: expected axis -1 of input "
        "shape to have value 4")


class OnlyTrains(keras.Model):
    def train_step(self, data):
        return {"d_loss": 0.5, "g_loss": 0.25}


class OnlyTrainsItsOwnWay(keras.Model):
    def train_step(self, data):
        logs = {"d_loss": 0.5, "g_loss": 0.25}
        return logs  # keys the source does not show


def _searching(monkeypatch):
    """The runtime's state as in a trial of a local search, with no metric asked for."""
    state = rt_fit.STATE
    for name, value in (("active", True), ("requested", None), ("metric", None), ("prune", "none"),
                        ("verbose", False), ("trial_dir", None), ("board", None), ("fold", None),
                        ("patience", 0), ("finished", None), ("runs", [])):
        monkeypatch.setattr(state, name, value)
    return state


def test_a_model_that_logs_nothing_to_tune_is_refused_before_it_trains(monkeypatch):
    """No validation data can be added (a GAN's shape) and no --metric: no epoch will ever log a
    val_* metric, and its train_step's source names what it logs."""
    state = _searching(monkeypatch)
    model = OnlyTrains()
    model.compile(optimizer="sgd")
    with pytest.raises(Refusal, match="it reports d_loss, g_loss: choose what to tune with --metric"):
        rt_fit.optpar_fit(model.fit, np.zeros((8, 1), dtype="float32"), epochs=4, batch_size=4)
    assert state.finished is None  # no epoch ran


def test_a_model_that_logs_nothing_to_tune_trains_one_epoch_not_all(monkeypatch):
    """The same, where the source does not show the keys: the trial stops after one epoch,
    whose logs name what could be tuned."""
    state = _searching(monkeypatch)
    model = OnlyTrainsItsOwnWay()
    model.compile(optimizer="sgd")
    x = np.zeros((8, 1), dtype="float32")
    history = rt_fit.optpar_fit(model.fit, x, epochs=4, batch_size=4)
    assert len(history.history["g_loss"]) == 1
    assert list(state.finished.epochs[0]) == ["d_loss", "g_loss"]
    # With a training metric to tune, it trains every epoch.
    monkeypatch.setattr(state, "requested", "g_loss")
    monkeypatch.setattr(state, "metric", None)
    monkeypatch.setattr(state, "finished", None)  # a new trial
    history = rt_fit.optpar_fit(model.fit, x, epochs=4, batch_size=4)
    assert len(history.history["g_loss"]) == 4


@pytest.mark.parametrize("row, refused", [
    ({"total_loss": 0.12, "val_total_loss": 0.0}, True),  # a tracker only train_step updates
    ({"loss": 0.3, "kl": 0.1, "val_loss": 0.0, "val_kl": 0.0}, True),
    ({"loss": 0.3, "accuracy": 0.5, "val_loss": 0.2, "val_accuracy": 0.0}, False),  # a poor first epoch
    ({"loss": 0.0, "val_loss": 0.0}, False),  # nothing left to learn, on both
    ({"loss": 0.3}, False),  # no validation: another refusal's case
])
def test_validation_metrics_never_updated_are_told_apart_from_zeros(row, refused):
    from optpar.runtime.fit import never_validated

    assert bool(never_validated(row)) is refused


def test_a_zero_validation_loss_is_refused_only_for_a_model_with_its_own_train_step(monkeypatch):
    """A hinge loss can be exactly 0.0 on clean validation data while the noisy training data's is
    not: a model trained by Keras's own train_step validates what it trains, so that is a score."""
    row = {"loss": 0.81, "val_loss": 0.0}
    for model, refused in ((keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), False),
                           (OnlyTrains(), True)):
        state = _searching(monkeypatch)
        recorder = rt_fit.recorder_class()(state, 0)
        recorder.set_model(model)
        if refused:
            with pytest.raises(Refusal, match="every validation metric is 0.0"):
                recorder.on_epoch_end(0, row)
        else:
            recorder.on_epoch_end(0, row)
            assert state.metric == "val_loss"
