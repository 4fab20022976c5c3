"""An optimizer's learning rate that a LearningRateScheduler overwrites before the first step,
with a schedule that ignores the current rate, is held (roles.csv's `rate_schedule` and
`learning_rate` rows); a schedule that reads the rate keeps it tuned."""
from __future__ import annotations

import pytest

from conftest import analyze_text

SCRIPT = """\
import keras
from keras.callbacks import LearningRateScheduler

{schedule}
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
model.fit(x, y, epochs=3, validation_split=0.2, callbacks=[LearningRateScheduler({name})])
"""


def ids(schedule: str, name: str = "step_decay") -> set[str]:
    return {s.id for s in analyze_text(SCRIPT.format(schedule=schedule, name=name)).sites}


@pytest.mark.parametrize("schedule, name", [
    pytest.param("def step_decay(epoch):\n    return 0.001 * 0.1 ** (epoch // 10)\n", "step_decay", id="epoch-alone"),
    pytest.param("def step_decay(epoch, lr):\n    return 0.01 if epoch < 5 else 0.001\n", "step_decay", id="rate-unread"),
    pytest.param("", "lambda epoch: 1e-3 * 0.9 ** epoch", id="lambda-of-the-epoch"),
    pytest.param("", "schedule=lambda e, lr=None: 1e-3", id="keyword-lambda-rate-unread"),
])
def test_a_rate_the_schedule_overwrites_unread_is_held(schedule, name):
    """gh6's image classifier: Adam's learning rate was tuned while step_decay(epoch) replaced it
    before the first batch, so no trial ever used the drawn value."""
    found = ids(schedule, name)
    assert "adam_learning_rate" not in found
    assert {"dense_units", "fit_epochs"} <= found  # the rest as before


@pytest.mark.parametrize("schedule, name", [
    pytest.param("def decay(epoch, lr):\n    return lr * 0.9 if epoch > 2 else lr\n", "decay", id="reads-the-rate"),
    pytest.param("", "lambda epoch, lr: lr * 0.95", id="lambda-reads-the-rate"),
    pytest.param("from mylib import schedule\n", "schedule", id="a-function-of-another-module"),
    pytest.param("def decay(*args):\n    return args[1] * 0.9\n", "decay", id="varargs"),
])
def test_a_schedule_that_may_read_the_rate_keeps_it_tuned(schedule, name):  # no-op
    assert "adam_learning_rate" in ids(schedule, name)


def test_without_a_scheduler_the_rate_is_tuned():  # no-op
    text = SCRIPT.format(schedule="", name="x").replace(", callbacks=[LearningRateScheduler(x)]", "")
    assert "adam_learning_rate" in {s.id for s in analyze_text(text).sites}


def test_the_held_rate_stays_held_after_apply():  # idempotence: the schedule decides, not the value
    schedule = "def step_decay(epoch):\n    return 0.001 * 0.1 ** (epoch // 10)\n"
    applied = SCRIPT.format(schedule=schedule, name="step_decay").replace("learning_rate=0.001", "learning_rate=0.01")
    assert {s.id for s in analyze_text(applied).sites} == ids(schedule)


DECAY = "def step_decay(epoch):\n    return 0.001 * 0.1 ** (epoch // 10)\n"


@pytest.mark.parametrize("given", [
    pytest.param("cbs = [early, LearningRateScheduler(step_decay)]\n", id="a-list-held-in-a-name"),
    pytest.param("cbs = [early]\ncbs.append(LearningRateScheduler(step_decay))\n", id="appended"),
    pytest.param("sched = LearningRateScheduler(step_decay)\ncbs = [early] + [sched]\n", id="a-sum-of-lists"),
])
def test_a_scheduler_the_measured_fit_gets_through_names_holds_the_rate(given):
    text = SCRIPT.format(schedule=DECAY + "early = keras.callbacks.EarlyStopping()\n" + given, name="x").replace(
        "callbacks=[LearningRateScheduler(x)]", "callbacks=cbs")
    assert "adam_learning_rate" not in {s.id for s in analyze_text(text).sites}


RANGE_TEST = """\
import keras
lr_schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-8 * 10 ** (epoch / 20))
probe = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
probe.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e-8, momentum=0.9))
probe.fit(x, y, epochs=100, callbacks=[lr_schedule])
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e-5, momentum=0.9))
model.fit(x, y, epochs=2, validation_split=0.2{callbacks})
"""


def test_a_range_test_before_the_measured_fit_leaves_its_rate_tuned():
    """A learning-rate range test on a throw-away model (the TF course's time-series notebooks),
    then the model measured, trained with the rate chosen and no scheduler (gh7)."""
    found = {(s.span.line, s.param): s.default for s in analyze_text(RANGE_TEST.format(callbacks="")).sites}
    assert found[(7, "learning_rate")] == 1e-5


@pytest.mark.parametrize("callbacks", [", callbacks=[lr_schedule]", ", **options"])
def test_the_measured_fit_given_the_scheduler_or_what_cannot_be_told_holds_it(callbacks):  # as before
    found = {(s.span.line, s.param) for s in analyze_text(RANGE_TEST.format(callbacks=callbacks)).sites}
    assert (7, "learning_rate") not in found
