import time

import pytest

from optpar.directives import Directive, DirectiveError, parse_directives
from optpar.errors import UserError


def one(text):
    found = parse_directives(text, "m.py")
    assert len(found) == 1
    return next(iter(found.items()))


def test_skip():
    line, d = one("x = 1\nDense(128)  # optpar: skip\n")
    assert line == 2
    assert d == Directive(line=2, col=13, kind="skip")


@pytest.mark.parametrize(
    "comment, options",
    [
        ("choice(16, 32, 48)", (16, 32, 48)),
        ("choice('relu', \"tanh\", 'a,b')", ("relu", "tanh", "a,b")),
        ("choice(True, False, None)", (True, False, None)),
        ("choice((3, 3), (5, 5))", ((3, 3), (5, 5))),
        ("choice(-1, 0.5, 1e-3)", (-1, 0.5, 1e-3)),
        ("choice(1, True)", (1, True)),  # equal but not the same literal
        ("choice('only')", ("only",)),
    ],
)
def test_choice(comment, options):
    _, d = one(f"Dense(16)  # optpar: {comment}\n")
    assert d.kind == "choice"
    assert d.options == options
    assert [type(o) for o in d.options] == [type(o) for o in options]


def test_float_range():
    _, d = one("Dropout(0.2)  # optpar: range(0.1, 0.5)\n")
    assert (d.kind, d.low, d.high, d.log, d.is_integer) == ("range", 0.1, 0.5, False, False)


def test_log_range():
    _, d = one("Adam(1e-3)  # optpar: range(1e-4, 1e-2, log)\n")
    assert (d.low, d.high, d.log) == (1e-4, 1e-2, True)
    _, d = one("Adam(1e-3)  # optpar: range(1e-4, 1e-2, log=True)\n")
    assert d.log
    _, d = one("Adam(1e-3)  # optpar: range(1e-4, 1e-2, log=False)\n")
    assert not d.log


def test_int_range():
    _, d = one("fit(epochs=10)  # optpar: range(8, 64)\n")
    assert (d.low, d.high, d.is_integer) == (8, 64, True)
    assert type(d.low) is int and type(d.high) is int


def test_mixed_range_is_float():
    _, d = one("x = 1  # optpar: range(1, 2.5)\n")
    assert type(d.low) is float and d.low == 1.0 and not d.is_integer


def test_directive_after_other_comment_text_and_followed_by_comment():
    _, d = one("x = 1  # noqa  # optpar: skip\n")
    assert d.kind == "skip" and d.col == 8
    _, d = one("x = 1  # optpar: choice(1, 2)  # two options\n")
    assert d.options == (1, 2)
    _, d = one("x = 1  #optpar:skip\n")
    assert d.kind == "skip"


def test_several_lines_and_comment_only_line():
    text = "a = 1  # optpar: skip\n# optpar: range(1, 3)\nb = 2\nc = 3  # optpar: choice(1, 2)\n"
    found = parse_directives(text, "m.py")
    assert sorted(found) == [1, 2, 4]
    assert found[2].col == 1


def test_hash_inside_strings_is_not_a_comment():
    text = (
        's = "# optpar: bogus(1)"\n'
        "t = '''\n# optpar: choice()\n'''\n"
        "u = f'{x}#optpar: skip'  # optpar: skip\n"
    )
    found = parse_directives(text, "m.py")
    assert list(found) == [5]
    assert found[5].col == 26


def test_no_directives_is_fast():
    text = "import keras\n" + "model.add(keras.layers.Dense(128, activation='relu'))  # comment\n" * 20000
    start = time.perf_counter()
    assert parse_directives(text, "m.py") == {}
    assert time.perf_counter() - start < 0.05
    assert parse_directives("", "m.py") == {}
    assert parse_directives("x = 'optpar: in a string only'\n", "m.py") == {}


def test_broken_source_gives_directives_found_so_far():
    text = "x = 1  # optpar: skip\ny = (\n"
    assert list(parse_directives(text, "m.py")) == [1]


@pytest.mark.parametrize("comment, name, kind", [
    ("units=choice(16, 32, 48)", "units", "choice"),
    ('activation = choice("relu", "tanh")', "activation", "choice"),
    ("rate=range(0.1, 0.5)", "rate", "range"),
    ("learning_rate=range(1e-4, 1e-2, log=True)", "learning_rate", "range"),
    ("units=skip", "units", "skip"),
    ("DRÖPOUT=range(0.1, 0.5)", "DRÖPOUT", "range"),
])
def test_named_directive(comment, name, kind):
    _, d = one(f"Dense(32, activation='relu')  # optpar: {comment}\n")
    assert (d.name, d.kind) == (name, kind)
    _, unnamed = one(f"x = 1  # optpar: {comment.split('=', 1)[1].strip()}\n")
    assert unnamed.name is None and unnamed.kind == kind


def test_spec_renders_the_directive_without_its_name():
    _, d = one("x = 1  # optpar: units=choice(16, 'a', (3, 3))\n")
    assert d.spec() == "choice(16, 'a', (3, 3))"
    _, d = one("x = 1  # optpar: range(1e-4, 1e-2, log)\n")
    assert d.spec() == "range(0.0001, 0.01, log)"


ERRORS = [
    ("x = 1  # optpar: bogus", 1, 8, "unknown optpar directive 'bogus'"),
    ("x = 1  # optpar: skipp", 1, 8, "unknown optpar directive 'skipp'"),
    ("x = 1  # optpar:", 1, 8, "empty optpar directive"),
    ("x = 1  # optpar: skip(1)", 1, 8, "skip takes no arguments"),
    ("x = 1  # optpar: skip because", 1, 8, "malformed optpar directive"),
    ("x = 1  # optpar: choice()", 1, 8, "empty choice()"),
    ("x = 1  # optpar: choice", 1, 8, "choice needs arguments"),
    ("x = 1  # optpar: choice(1, 1)", 1, 8, "duplicate option 1"),
    ("x = 1  # optpar: choice(a, b)", 1, 8, "not a literal: 'a'"),
    ("x = 1  # optpar: choice(f(1))", 1, 8, "not a literal: 'f(1)'"),
    ("x = 1  # optpar: choice(*xs)", 1, 8, "does not take * or **"),
    ("x = 1  # optpar: choice(1, k=2)", 1, 8, "no keyword arguments"),
    ("x = 1  # optpar: choice(1, 2", 1, 8, "malformed optpar directive"),
    ("x = 1  # optpar: range(0.5, 0.1)", 1, 8, "empty range"),
    ("x = 1  # optpar: range(3, 3)", 1, 8, "empty range"),
    ("x = 1  # optpar: range(0, 1, log)", 1, 8, "log range needs a positive low bound"),
    ("x = 1  # optpar: range(-1.0, 1.0, log=True)", 1, 8, "log range needs a positive low bound"),
    ("x = 1  # optpar: range(1)", 1, 8, "range needs two bounds"),
    ("x = 1  # optpar: range(1, 2, 3)", 1, 8, "range needs two bounds"),
    ("x = 1  # optpar: range(1, 2, lin)", 1, 8, "unknown range option 'lin'"),
    ("x = 1  # optpar: range(1, 2, step=1)", 1, 8, "unknown range option 'step'"),
    ("x = 1  # optpar: range(1, 2, log, log=True)", 1, 8, "log given twice"),
    ("x = 1  # optpar: range(1, 2, log=1)", 1, 8, "log must be True or False"),
    ("x = 1  # optpar: range('a', 'b')", 1, 8, "range bounds must be numbers"),
    ("x = 1  # optpar: range(True, 2)", 1, 8, "range bounds must be numbers"),
    ("x = 1  # optpar: range(1, 1e999)", 1, 8, "range bounds must be finite"),
    ("x = 1  # optpar: skip  # optpar: skip", 1, 8, "more than one"),
    ("x = 1  # optpar: __import__('os')", 1, 8, "unknown optpar directive '__import__'"),
    ("x = 1\n\nif x:\n    y = (1,  # optpar: choice()\n         2)", 4, 14, "empty choice()"),
    ("x = 1  # optpar: units=", 1, 8, "nothing after 'units='"),
    ("x = 1  # optpar: units==choice(1)", 1, 8, "malformed optpar directive"),
    ("x = 1  # optpar: 1units=choice(1)", 1, 8, "malformed optpar directive"),
    ("x = 1  # optpar: units=bogus(1)", 1, 8, "unknown optpar directive 'bogus'"),
    ("x = 1  # optpar: units=choice(1, 1)", 1, 8, "duplicate option 1"),
    ("x = 1  # optpar: choice(b'x')", 1, 8, "choice option b'x' must be a finite number"),
    ("x = 1  # optpar: choice(1e999)", 1, 8, "must be a finite number"),
    ("x = 1  # optpar: choice({1, 2})", 1, 8, "must be a finite number, a string"),
    ("x = 1  # optpar: choice(1j)", 1, 8, "must be a finite number, a string"),
]


@pytest.mark.parametrize("text, line, col, message", ERRORS)
def test_malformed(text, line, col, message):
    with pytest.raises(DirectiveError) as info:
        parse_directives(text + "\n", "pkg/m.py")
    rendered = str(info.value)
    assert rendered.startswith(f"pkg/m.py:{line}:{col}: error: ")
    assert message in rendered
    assert "\n" not in rendered
    assert isinstance(info.value, UserError)
    assert (info.value.line, info.value.col) == (line, col)


def test_never_evaluates():
    with pytest.raises(DirectiveError):
        parse_directives("x = 1  # optpar: choice(__import__('os').system('false'))\n", "m.py")
