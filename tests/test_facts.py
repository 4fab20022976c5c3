"""optpar.analysis.facts: the one walk, and the questions answered from it (no metadata)."""
from __future__ import annotations

import ast

from conftest import facts_of
from optpar.analysis.facts import Facts


def name_in(facts: Facts, ident: str, nth: int = 0) -> ast.Name:
    found = [n for n in ast.walk(facts.tree) if isinstance(n, ast.Name) and n.id == ident
             and isinstance(n.ctx, ast.Load)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))[nth]


def test_calls_in_source_order_and_imports_resolved():
    facts = facts_of("""
        from keras import layers as L
        y = f(L.Dense(2))
        z = L.Dropout(0.5)
    """)
    assert [ast.unparse(c.func) for c in facts.calls] == ["f", "L.Dense", "L.Dropout"]
    assert facts.imports.key(facts.calls[1].func) == ("layers", "Dense")
    assert facts.imports.uses_keras


def test_a_program_without_keras_has_no_keras_facts():  # no-op
    facts = facts_of("import numpy as np\nx = np.zeros(3)\n")
    assert not facts.imports.uses_keras
    assert facts.model_classes == {} and facts.user_methods == frozenset()


def test_constants_are_names_bound_once_to_a_literal():
    facts = facts_of("""
        EPOCHS = 15
        RATE = 0.1
        RATE = 0.2
        NAME: str = "relu"
        SHAPE = compute()
    """)
    epochs = facts.constant("EPOCHS")
    assert (epochs.name, epochs.definition, ast.unparse(epochs.node)) == ("EPOCHS", "EPOCHS = 15", "15")
    assert facts.constant("NAME").definition == "NAME = \"relu\""
    assert facts.constant("RATE") is None  # bound twice
    assert facts.constant("SHAPE") is None  # not a literal
    assert facts.constant("MISSING") is None


def test_constants_unpacked_from_a_tuple_of_literals_are_constants_too():
    facts = facts_of("""
        EPOCHS, RATE = 15, 0.1
        [UNITS, ACT] = (64, "relu")
        A, B = compute()
        C, *D = 1, 2, 3
        E, F = 1, 2
        E = 3
        (G, H), I = (1, 2), 3
    """)
    assert facts.constant("EPOCHS").definition == "EPOCHS = 15"
    assert ast.unparse(facts.constant("RATE").node) == "0.1"
    assert facts.constant("UNITS").definition == "UNITS = 64"
    assert facts.constant("ACT").definition == "ACT = \"relu\""
    assert facts.constant("F").definition == "F = 2"
    assert [facts.constant(n) for n in "ABCDEGHI"] == [None] * 8  # computed, starred, bound twice, nested


def test_resolve_finds_the_binding_scope():
    facts = facts_of("""
        units = 8
        def build(units=64, act="relu"):
            local = 3
            return f(units, local, act, other)
        class C:
            units = 1
            def m(self):
                return g(units)
    """)
    where, function = facts.resolve(name_in(facts, "units", 0))
    assert where == "param" and function.name == "build"
    assert facts.resolve(name_in(facts, "local"))[0] == "local"
    assert facts.resolve(name_in(facts, "other")) == ("module", None)
    assert facts.resolve(name_in(facts, "units", 1)) == ("module", None)  # class bodies are skipped


def test_parameter_default_every_call_sees():
    facts = facts_of("""
        def build(units=64, rate=0.5):
            return units, rate
        build(rate=0.2)
        build()
    """)
    build = facts.tree.body[0]
    units = facts.default(build, "units")
    assert (units.name, units.definition) == ("units", "build(units=64)")
    assert facts.default(build, "rate") is None  # a call passes it


def test_defaults_of_methods_and_functions_passed_around_are_not_known():  # no-op cases
    facts = facts_of("""
        class Net:
            def build(self, units=64):
                return units
        def head(units=10):
            return units
        callbacks = [head]
    """)
    method = facts.tree.body[0].body[0]
    assert facts.default(method, "units") is None
    assert facts.default(facts.tree.body[1], "units") is None


def test_model_subclasses_directly_and_through_another():
    facts = facts_of("""
        import keras
        class Base(keras.Model):
            pass
        class Net(Base):
            def fit(self):
                pass
        class Helper:
            def fit(self):
                pass
    """)
    assert set(facts.model_classes) == {"Base", "Net"}
    assert facts.user_methods == {"fit"}  # Helper's, not the models'


def test_last_assignment_and_assigned_name():
    facts = facts_of("""
        layers_ = [a]
        layers_ = [b]
        model = make(layers_)
    """)
    call = facts.calls[-1]
    assert facts.assigned_name(call) == "model"
    assert ast.unparse(facts.last_assignment("layers_", facts.tree, call.lineno)) == "[b]"
    assert facts.last_assignment("layers_", facts.tree, 2) is None
