"""From what the probe saw to the choices of a baseline model, one rule at a time, each with the
reason printed beside it (Emel's type inference and heuristics, as rules we can test alone).

Input type: image (channels last or first, both sides at least MIN_SIDE, no more than MAX_ASPECT
to one), sequence (a text column, with the table's numeric and categorical columns as a second
input when it has any; or integer token lists), features (everything else). Label:
categorical (strings, or whole numbers with at most MAX_CLASSES values) or continuous. The
training settings come from metadata/baseline.csv.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from optpar.baseline.probe import Arrays, Column, Data, Images, Table
from optpar.csvrows import Cells, check_header, read_table
from optpar.errors import UserError
from optpar.metadata import bundled_folder

MAX_CLASSES = 20  # whole-number labels with more distinct values are a regression target
MIN_SIDE = 8  # an image's shorter side, in pixels
MAX_ASPECT = 4  # an image's longer side over its shorter side
MAX_IMAGE_SIDE = 128  # larger images are resized to this (the longer side) for a baseline
MIN_TEXT_WORDS = 3  # a string column with this many words on average is text, not a category
MAX_CATEGORIES = 50  # a short-string column with more distinct values (and one per row) is an identifier
MIN_TOKENS = 100  # integer features whose values reach this are token ids
MAX_SEQUENCE = 400  # tokens kept per example
TEST_FRACTION = 0.2  # held out from training; the script reports its metric on it
VALIDATION_SPLIT = 0.2  # of the rest: what early stopping (and optpar tune) watches
SETTINGS = ("batch_size", "learning_rate", "max_epochs", "patience", "units", "filters", "dropout",
            "embedding_dim", "vocabulary")
INPUTS = ("features", "image", "sequence")


@dataclass(frozen=True)
class Decision:
    topic: str
    value: str
    why: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.value} ({self.why})"


@dataclass(frozen=True)
class Recipe:
    """Every choice of the baseline script; render.py writes it out."""

    data: Data
    input: str  # features | image | sequence
    label: str  # categorical | continuous
    classes: int  # categorical: number of classes
    numeric: tuple[str, ...] = ()  # table columns (beside the text column too)
    categorical: tuple[str, ...] = ()
    text: str | None = None  # the text column
    image: tuple[int, int, int] | None = None  # height, width, channels of the model's input
    channels_first: bool = False  # arrays: move the channel axis last
    scale: float | None = None  # arrays of pixels: divide by this
    flatten: bool = False  # arrays: reshape each example to one row of features
    tokens: bool = False  # arrays of integer token ids (padded or ragged)
    sequence_length: int = 0
    vocabulary: int = 0
    blocks: int = 0  # convolution blocks
    settings: tuple[tuple[str, float], ...] = ()
    decisions: tuple[Decision, ...] = ()

    def setting(self, name: str):
        return dict(self.settings)[name]

    @property
    def two_inputs(self) -> bool:
        return two_inputs(self.text, self.numeric, self.categorical)


def two_inputs(text, numeric, categorical) -> bool:
    """A text column beside numeric or categorical columns: a model with a token input and a
    features input."""
    return bool(text and (numeric or categorical))


# -- heuristics (metadata/baseline.csv) -------------------------------------------------------

@dataclass(frozen=True)
class Heuristic:
    setting: str
    input: str
    min_examples: int
    value: float
    why: str


@functools.lru_cache(maxsize=1)
def heuristics() -> tuple[Heuristic, ...]:
    shown, line, header, rows = read_table(bundled_folder() / "baseline.csv")
    columns = ("Setting", "Input", "MinExamples", "Value", "Why")
    index = check_header(shown, line, header, columns, columns)
    found = []
    for number, cells in rows:
        c = Cells(shown, number, cells, index)
        value = c.number("Value")
        if value is None:
            raise c.error("Value", "Value is required")
        found.append(Heuristic(c.one_of("Setting", SETTINGS), c.one_of("Input", ("*",) + INPUTS),
                               c.natural("MinExamples", 0), value, c.get("Why")))
    return tuple(found)


def heuristic(setting: str, input: str, examples: int) -> Decision:
    for row in heuristics():
        if row.setting == setting and row.input in ("*", input) and examples >= row.min_examples:
            value = int(row.value) if row.value == int(row.value) and setting != "learning_rate" else row.value
            return Decision(setting.replace("_", " "), f"{value:g}", row.why)
    raise UserError(bundled_folder() / "baseline.csv", 1, 1, f"no row for {setting} with input {input}")


# -- the label -----------------------------------------------------------------------------------

def label_rule(column: Column, where) -> tuple[str, int, Decision]:
    """(categorical|continuous, classes, decision)."""
    if column.distinct == 0:
        raise UserError(where, 1, 1, f"the target {column.name!r} has no values")
    if column.distinct == 1:
        raise UserError(where, 1, 1, f"the target {column.name!r} has a single value: nothing to learn")
    if column.dtype == "string":
        return "categorical", column.distinct, Decision("label", f"categorical, {column.distinct} classes",
                                                         f"{column.name!r} holds strings")
    if column.integral and column.distinct <= MAX_CLASSES:
        return "categorical", column.distinct, Decision(
            "label", f"categorical, {column.distinct} classes",
            f"{column.name!r} holds {column.distinct} whole numbers (at most {MAX_CLASSES})")
    why = (f"{column.name!r} holds {column.distinct} distinct whole numbers (more than {MAX_CLASSES})"
           if column.integral else f"{column.name!r} holds fractional numbers")
    return "continuous", 0, Decision("label", "continuous", why)


# -- the input ---------------------------------------------------------------------------------

def column_role(column: Column) -> tuple[str, str]:
    """numeric | categorical | text | dropped, and why."""
    if column.missing == column.rows:
        return "dropped", "empty"
    if column.distinct <= 1:
        return "dropped", "a single value"
    if column.dtype == "number":
        if column.consecutive:
            return "dropped", "a row number"
        return "numeric", ""
    if column.words >= MIN_TEXT_WORDS:
        return "text", f"{column.words:.1f} words on average"
    if column.distinct > MAX_CATEGORIES and column.distinct >= 0.5 * (column.rows - column.missing):
        return "dropped", f"{column.distinct} distinct short strings: an identifier"
    return "categorical", ""


def image_layout(shape: tuple[int, ...]) -> tuple[tuple[int, int, int], bool] | None:
    """((height, width, channels), channels first) of an image batch's shape, or None."""
    def image_like(h: int, w: int) -> bool:
        return min(h, w) >= MIN_SIDE and max(h, w) <= MAX_ASPECT * min(h, w)
    if len(shape) == 3 and image_like(shape[1], shape[2]):
        return (shape[1], shape[2], 1), False
    if len(shape) == 4 and shape[3] in (1, 3, 4) and image_like(shape[1], shape[2]):
        return (shape[1], shape[2], shape[3]), False
    if len(shape) == 4 and shape[1] in (1, 3, 4) and image_like(shape[2], shape[3]):
        return (shape[2], shape[3], shape[1]), True
    return None


def conv_blocks(height: int, width: int) -> int:
    """Convolution blocks (each halving the size) until the shorter side is about 2 to 4 pixels."""
    return max(1, min(4, int(math.log2(min(height, width) / 2))))


def infer(data: Data, epochs: int | None = None) -> Recipe:
    """The baseline's choices; `epochs` (optpar new --epochs) replaces the upper bound on epochs."""
    recipe = _table(data) if isinstance(data, Table) else _arrays(data) if isinstance(data, Arrays) else _images(data)
    if epochs is None:
        return recipe
    settings = tuple((name, float(epochs) if name == "max_epochs" else value) for name, value in recipe.settings)
    decisions = tuple(Decision(d.topic, str(epochs), "--epochs") if d.topic == "max epochs" else d
                      for d in recipe.decisions)
    return dataclasses.replace(recipe, settings=settings, decisions=decisions)


def _finish(data: Data, input: str, label: str, classes: int, examples: int, decisions: list[Decision],
            **layout) -> Recipe:
    model = {"features": "a dense network (one hidden layer) on normalized features",
             "image": f"a convolutional network, {layout.get('blocks', 0)} blocks",
             "sequence": "an embedding, a 1-D convolution and global max pooling"}[input]
    if two_inputs(layout.get("text"), layout.get("numeric"), layout.get("categorical")):
        model += ", concatenated with the normalized features, then one hidden layer"
    decisions.append(Decision("model", model, "from the input type"))
    decisions.append(Decision("output", "softmax, sparse categorical cross-entropy" if label == "categorical"
                              else "linear, mean squared error on the standardized target", "from the label type"))
    settings = []
    for name in SETTINGS:
        if name == "filters" and input != "image" or name in ("embedding_dim", "vocabulary") and input != "sequence":
            continue
        if name == "vocabulary" and layout.get("tokens"):
            continue  # token ids: the data's own vocabulary
        decision = heuristic(name, input, examples)
        settings.append((name, float(decision.value)))
        decisions.append(decision)
    if isinstance(data, Images):
        decisions.append(Decision("split", f"{VALIDATION_SPLIT:g} validation", "seeded; the script reports "
                                  "the validation metric (a folder has no test split)"))
    else:
        decisions.append(Decision("split", f"{TEST_FRACTION:g} test, {VALIDATION_SPLIT:g} of the rest validation",
                                  "seeded; the script reports the test metric"))
    return Recipe(data, input, label, classes, settings=tuple(settings), decisions=tuple(decisions), **layout)


def _table(data: Table) -> Recipe:
    label, classes, decision = label_rule(data.target, data.path)
    decisions = [decision]
    roles: dict[str, list[str]] = {"numeric": [], "categorical": [], "text": [], "dropped": []}
    for column in data.columns:
        role, why = column_role(column)
        roles[role].append(column.name)
        if why:
            decisions.append(Decision(f"column {column.name!r}", role, why))
    if roles["text"]:
        text = max(roles["text"], key=lambda n: next(c.words for c in data.columns if c.name == n))
        decisions.insert(0, _text_input(text, roles))
        column = next(c for c in data.columns if c.name == text)
        length = max(8, min(MAX_SEQUENCE, column.long_words))
        decisions.append(Decision("sequence length", str(length), "the 95th percentile of words per row"))
        return _finish(data, "sequence", label, classes, data.rows, decisions, text=text, sequence_length=length,
                       numeric=tuple(roles["numeric"]), categorical=tuple(roles["categorical"]))
    if not roles["numeric"] and not roles["categorical"]:
        raise UserError(data.path, 1, 1, "no usable input column besides the target")
    decisions.insert(0, Decision("input", "features", f"{len(roles['numeric'])} numeric, "
                                 f"{len(roles['categorical'])} categorical column(s); no text, not an image"))
    return _finish(data, "features", label, classes, data.rows, decisions,
                   numeric=tuple(roles["numeric"]), categorical=tuple(roles["categorical"]))


def _text_input(text: str, roles: dict[str, list[str]]) -> Decision:
    """The input decision of a table with a text column: the text alone, or beside the numeric and
    categorical columns (a second text column is left out: the model reads one)."""
    beside = [f"{len(roles[role])} {role} ({_names(roles[role])})" for role in ("numeric", "categorical")
              if roles[role]]
    extra = [n for n in roles["text"] if n != text]
    if not beside:
        return Decision("input", f"sequence, the text column {text!r}",
                        "a column of sentences" + (f"; left out: {_names(extra)}" if extra else ""))
    left_out = f"; left out: {_names(extra)} (the model reads one text column, the wordiest)" if extra else ""
    return Decision("input", f"sequence and features, the text column {text!r} with "
                    + " and ".join(beside) + " column(s)",
                    "a column of sentences beside other columns: two model inputs" + left_out)


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names[:6]) + (", ..." if len(names) > 6 else "")


def _arrays(data: Arrays) -> Recipe:
    label, classes, decision = label_rule(data.target, data.path)
    decisions = [decision]
    examples = data.x_shape[0]
    if data.x_kind == "other":
        raise UserError(data.path, 1, 1, f"{data.keys[0]} holds sequences that are not integer token ids "
                                         "(for images of mixed sizes, use a folder of image files)")
    if data.x_kind == "ragged" or (data.x_kind == "int" and len(data.x_shape) == 2 and data.x_min >= 0
                                   and data.x_max >= MIN_TOKENS and data.x_distinct >= MIN_TOKENS):
        length = data.long_length if data.x_kind == "ragged" else data.x_shape[1]
        length = max(8, min(MAX_SEQUENCE, length))
        vocabulary = int(data.x_max) + 1
        why = ("lists of integers of varying length" if data.x_kind == "ragged"
               else f"integers from {data.x_min:g} to {data.x_max:g}, {data.x_distinct} distinct values")
        decisions.insert(0, Decision("input", "sequence of token ids", why))
        decisions.append(Decision("sequence length", str(length), "padded or cut to this many tokens"))
        decisions.append(Decision("vocabulary", str(vocabulary), "the largest token id + 1"))
        return _finish(data, "sequence", label, classes, examples, decisions, tokens=True,
                       sequence_length=length, vocabulary=vocabulary)
    layout = image_layout(data.x_shape)
    if layout is not None:
        (height, width, channels), first = layout
        scale = 255.0 if data.x_max > 16 else (16.0 if data.x_max > 1 else None)
        decisions.insert(0, Decision("input", f"image {height}x{width}, {channels} channel(s)"
                                     + (", channels first" if first else ""),
                                     f"x has shape {_shape(data.x_shape)}"))
        if scale:
            decisions.append(Decision("scale", f"pixels / {scale:g}", f"values reach {data.x_max:g}"))
        blocks = conv_blocks(height, width)
        return _finish(data, "image", label, classes, examples, decisions, image=(height, width, channels),
                       channels_first=first, scale=scale, blocks=blocks)
    flatten = len(data.x_shape) != 2
    decisions.insert(0, Decision("input", "features", f"x has shape {_shape(data.x_shape)}"
                                 + ("; not image-like, flattened" if flatten else "")))
    return _finish(data, "features", label, classes, examples, decisions, flatten=flatten)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _images(data: Images) -> Recipe:
    classes = len(data.classes)
    decisions = [Decision("label", f"categorical, {classes} classes", "one sub-folder per class")]
    (width, height), _ = data.sizes[0]
    why = f"{sum(data.counts)} images, {'greyscale' if data.greyscale else 'colour'}"
    if len(data.sizes) > 1:
        why += f"; {len(data.sizes)} sizes, resized to the most common"
    if max(width, height) > MAX_IMAGE_SIDE:
        ratio = MAX_IMAGE_SIDE / max(width, height)
        width, height = max(MIN_SIDE, round(width * ratio)), max(MIN_SIDE, round(height * ratio))
        why += f"; resized to at most {MAX_IMAGE_SIDE} pixels a side"
    channels = 1 if data.greyscale else 3
    decisions.insert(0, Decision("input", f"image {height}x{width}, {channels} channel(s)", why))
    return _finish(data, "image", "categorical", classes, sum(data.counts), decisions,
                   image=(height, width, channels), scale=255.0, blocks=conv_blocks(height, width))
