"""Where a program seeds its random numbers (optpar/seeds.py), and what it leaves unseeded that a
Keras 3 training draws from: the summary's note says so, and the script hands it to main()."""
from __future__ import annotations

import ast
import textwrap

import pytest

from optpar.emit import build_script
from optpar.pipeline import analyze_path
from optpar.seeds import seeding_calls, unseeded

HEAD = "import random\nimport numpy as np\nimport tensorflow as tf\nimport keras\n"


@pytest.mark.parametrize("calls, left", [
    ("keras.utils.set_random_seed(0)", ()),
    ("tf.keras.utils.set_random_seed(0)", ()),
    ("random.seed(0)\ntf.random.set_seed(0)", ()),
    ("random.seed(0)\ntf.compat.v1.set_random_seed(0)", ()),
    ("tf.random.set_seed(0)", ("Python",)),
    ("np.random.seed(0)\ntf.random.set_seed(0)", ("Python",)),
    ("random.seed(0)", ("TensorFlow",)),
    ("np.random.seed(0)", ("Python", "TensorFlow")),
    ("", ()),  # no seed at all: the search says so in its own words
    ("x = tf.random.uniform(())", ()),  # no-op: drawing is not seeding
])
def test_what_the_seeding_calls_leave_unseeded(calls, left):
    tree = ast.parse(HEAD + calls + "\n")
    assert unseeded(tree) == left


def test_seeding_calls_are_listed_in_source_order():
    tree = ast.parse(HEAD + "tf.random.set_seed(1)\nrandom.seed(2)\n")
    assert seeding_calls(tree, "m.py") == ("m.py:5 tf.random.set_seed(1)", "m.py:6 random.seed(2)")


MODEL = textwrap.dedent("""\
    import tensorflow as tf
    import keras
    SEEDING
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=3, validation_split=0.2)
""")


@pytest.mark.parametrize("seeding, passed, api", [
    ("tf.random.set_seed(0)", ", unseeded=('Python',)", "api=5"),
    ("keras.utils.set_random_seed(0)", None, "api=2"),  # no-op: the script stays as it was
    ("", None, "api=2"),
])
def test_the_script_hands_main_what_is_left_unseeded_only_when_something_is(tmp_path, seeding, passed, api):
    path = tmp_path / "model.py"
    path.write_text(MODEL.replace("SEEDING", seeding))
    text = build_script(analyze_path(path), "model.py", "model_tune.py").text
    assert api in text
    assert ("unseeded=" in text) == (passed is not None)
    if passed:
        assert passed in text
