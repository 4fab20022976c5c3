"""optpar.analysis.chains and .outputs on their own: which calls make a model's outputs."""
from __future__ import annotations

import ast

import pytest

from conftest import facts_of
from optpar.analysis.chains import sequential_chains
from optpar.analysis.outputs import Outputs, find_outputs, is_output_activation


def marked(facts, calls) -> list[str]:
    return sorted(ast.unparse(c) for c in calls)


def test_sequential_chain_is_its_list_then_its_adds():
    facts = facts_of("""
        from keras import layers, Sequential
        base = [layers.Dense(8)]
        base.append(layers.Dense(4))
        m = Sequential(base + [layers.Dropout(0.1)])
        m.add(layers.Dense(2))
        Sequential([layers.Dense(3)])
    """)
    chains = sequential_chains(facts)
    assert [[ast.unparse(layer) for layer in chain] for chain in chains.named] == [
        ["layers.Dense(8)", "layers.Dense(4)", "layers.Dropout(0.1)", "layers.Dense(2)"]]
    assert [[ast.unparse(layer) for layer in chain] for chain in chains.unnamed] == [["layers.Dense(3)"]]


def test_a_list_changed_otherwise_is_not_followed():  # no-op
    facts = facts_of("""
        from keras import layers, Sequential
        base = [layers.Dense(8)]
        base.insert(0, layers.Dense(4))
        m = Sequential(base)
    """)
    assert sequential_chains(facts).named == ((),)


def test_trailing_layers_up_to_the_last_width(catalog):
    facts = facts_of("""
        from keras import layers, Sequential
        m = Sequential([layers.Dense(64), layers.Dense(10), layers.Dropout(0.2)])
    """)
    assert marked(facts, find_outputs(facts, catalog).calls) == ["layers.Dense(10)", "layers.Dropout(0.2)"]


def test_functional_and_subclass_outputs(catalog):
    facts = facts_of("""
        import keras
        from keras import layers
        x = keras.Input((4,))
        h = layers.Dense(32)(x)
        out = layers.Dense(3, name="head")(h)
        model = keras.Model(x, out)
        class Net(keras.Model):
            def __init__(self):
                super().__init__()
                self.top = layers.Dense(5)
            def call(self, x):
                return self.top(x)
    """)
    outputs = find_outputs(facts, catalog)
    assert marked(facts, outputs.calls) == ["layers.Dense(3, name='head')", "layers.Dense(5)"]
    assert outputs.width_frozen == frozenset() and outputs.blocked == frozenset()


def test_the_output_activation_net_keeps_widths_and_their_constants(catalog):
    facts = facts_of("""
        from keras import layers
        CLASSES = 7
        probs = layers.Dense(CLASSES, activation="softmax")
        hidden = layers.Dense(16, activation="relu")
    """)
    outputs = find_outputs(facts, catalog)
    assert marked(facts, outputs.width_frozen) == ["layers.Dense(CLASSES, activation='softmax')"]
    assert outputs.blocked == {"CLASSES"}
    assert outputs.calls == frozenset()


def test_no_model_no_outputs(catalog):  # no-op
    facts = facts_of("""
        from keras import layers
        hidden = layers.Dense(16, activation="relu")
    """)
    assert find_outputs(facts, catalog) == Outputs(frozenset(), frozenset(), frozenset())


@pytest.mark.parametrize("expr, expected", [
    ('"softmax"', True), ("keras.activations.sigmoid", True), ("tf.nn.softmax", True), ("ACT", True),
    ('"relu"', False), ("mylib.softmax", False), ("softmax", False),
])
def test_output_activation_forms(catalog, expr, expected):
    facts = facts_of(f"""
        import keras
        import tensorflow as tf
        import mylib
        ACT = "sigmoid"
        y = f({expr})
    """)
    assert is_output_activation(facts, catalog.roles, facts.calls[-1].args[0]) is expected
