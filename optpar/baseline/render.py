"""A Recipe as a plain Keras script: data loading with the ordinary libraries, a seeded split, the
model, training with early stopping, and the held-out metric. Every choice is a literal in a
Keras call, where `optpar scan` finds it."""

from __future__ import annotations

import os
from pathlib import Path

from optpar.baseline.infer import TEST_FRACTION, VALIDATION_SPLIT, Recipe
from optpar.baseline.probe import Arrays, Images, Table

SEED = 0


def render(recipe: Recipe, out: Path, command: str) -> str:
    """The script's text; `out` is where it will be written (the data path is relative to it)."""
    data = recipe.data
    parts = [_header(recipe, command), _imports(recipe), _constants(recipe, out), _load(recipe)]
    if not isinstance(data, Images):
        parts.append(_split(recipe))
    parts += [_inputs(recipe), _model(recipe), _train(recipe), _report(recipe)]
    return "\n\n".join(p.rstrip("\n") for p in parts if p) + "\n"


def _header(recipe: Recipe, command: str) -> str:
    lines = [f'"""A baseline Keras model for {recipe.data.path.name}, written by optpar new.', "",
             f"Regenerate: {command}", "What optpar inferred from the data, and why:"]
    lines += [f"  {decision}" for decision in recipe.decisions]
    lines += ["Every choice is a literal below: edit it, or search for better ones with `optpar tune`.", '"""']
    return "\n".join(lines)


def _imports(recipe: Recipe) -> str:
    lines = ["from pathlib import Path", "", "import keras", "import numpy as np"]
    if isinstance(recipe.data, Table):
        lines.append("import pandas as pd")
    return "\n".join(lines)


def _data_path(path: Path, out: Path) -> str:
    try:
        relative = os.path.relpath(path.resolve(), out.resolve().parent)
    except ValueError:  # another drive
        return f"Path({_str(str(path.resolve()))})"
    return f"Path(__file__).resolve().parent / {_str(Path(relative).as_posix())}"


def _constants(recipe: Recipe, out: Path) -> str:
    data = recipe.data
    lines = [f"DATA = {_data_path(data.path, out)}"]
    if isinstance(data, Table):
        lines.append(f"TARGET = {_str(data.target.name)}")
        if recipe.text:
            lines.append(f"TEXT = {_str(recipe.text)}")
        lines += [_list("NUMERIC", recipe.numeric)] if recipe.numeric else []
        lines += [_list("CATEGORICAL", recipe.categorical)] if recipe.categorical else []
    lines += [f"SEED = {SEED}", "", "keras.utils.set_random_seed(SEED)"]
    return "\n".join(lines)


def _str(text: str) -> str:
    """A string literal in double quotes (the style of the rest of the script)."""
    if text.isprintable() and "\\" not in text and '"' not in text:
        return f'"{text}"'
    return repr(text)


def _list(name: str, items: tuple[str, ...]) -> str:
    """`NAME = [...]` on one line, or wrapped at 100 columns."""
    one_line = f"{name} = [{', '.join(map(_str, items))}]"
    if len(one_line) <= 100:
        return one_line
    lines, line = [f"{name} = ["], "   "
    for item in map(_str, items):
        if len(line) + len(item) + 2 > 100:
            lines.append(line)
            line = "   "
        line += f" {item},"
    return "\n".join(lines + [line, "]"])


def _labels(recipe: Recipe, values: str) -> list[str]:
    if recipe.label == "categorical":
        return [f"classes, y = np.unique({values}, return_inverse=True)"]
    return [f"y = {values}.astype(\"float32\")"]


def _load(recipe: Recipe) -> str:
    data = recipe.data
    if isinstance(data, Table):
        read = "pd.read_csv(DATA)" if data.reader == "csv" else "pd.read_parquet(DATA)"
        lines = [f"frame = {read}.dropna(subset=[TARGET])"]
        return "\n".join(lines + _labels(recipe, "frame[TARGET].to_numpy()"))
    if isinstance(data, Arrays):
        x_key, y_key = data.keys
        if data.reader == "npz":
            lines = [f"arrays = np.load(DATA{', allow_pickle=True' if data.x_kind == 'ragged' else ''})"]
            x, y = f"arrays[{_str(x_key)}]", f"arrays[{_str(y_key)}]"
        else:
            lines = []
            x = f"np.load(DATA{', allow_pickle=True' if data.x_kind == 'ragged' else ''})"
            y = f"np.load(DATA.with_name({_str(y_key)}))"
        if len(data.y_shape) == 2:
            y += ".argmax(axis=1)" if data.y_shape[1] > 1 else "[:, 0]"
        lines += _x_lines(recipe, x)
        return "\n".join(lines + _labels(recipe, y))
    height, width, channels = recipe.image
    return "\n".join([
        "train_data, validation_data = keras.utils.image_dataset_from_directory(",
        "    DATA,",
        f"    validation_split={VALIDATION_SPLIT},",
        '    subset="both",',
        "    seed=SEED,",
        f"    image_size=({height}, {width}),",
        f'    color_mode="{"grayscale" if channels == 1 else "rgb"}",',
        f"    batch_size={int(recipe.setting('batch_size'))},",
        ")",
        "classes = train_data.class_names",
    ])


def _x_lines(recipe: Recipe, x: str) -> list[str]:
    data = recipe.data
    if recipe.tokens:
        if data.x_kind == "ragged":
            return [f"x = keras.utils.pad_sequences(list({x}), maxlen={recipe.sequence_length})"]
        return [f"x = {x}[:, -{recipe.sequence_length}:]" if data.x_shape[1] > recipe.sequence_length else f"x = {x}"]
    if recipe.input == "image":
        lines = [f"x = {x}.astype(\"float32\")" + (f" / {recipe.scale:g}" if recipe.scale else "")]
        if recipe.channels_first:
            lines.append("x = np.moveaxis(x, 1, -1)  # channels last")
        elif len(data.x_shape) == 3:
            lines.append("x = x[..., np.newaxis]  # one channel")
        return lines
    if recipe.flatten:
        return [f"x = {x}.reshape(len({x}), -1).astype(\"float32\")"]
    return [f"x = {x}.astype(\"float32\")"]


def _split(recipe: Recipe) -> str:
    lines = ["# A seeded split: the test rows are never trained on, and the script reports its metric on them.",
             "order = np.random.default_rng(SEED).permutation(len(y))",
             f"test, train = order[: int(len(y) * {TEST_FRACTION})], order[int(len(y) * {TEST_FRACTION}):]"]
    if recipe.label == "continuous":
        lines.append("y = (y - y[train].mean()) / y[train].std()  # standardized target")
    return "\n".join(lines)


def _inputs(recipe: Recipe) -> str:
    """The model's input arrays: `x` (token ids or features), or `tokens` and `features` for a text
    column beside other columns (the features then normalized by a layer adapted here)."""
    if not isinstance(recipe.data, Table):
        return ""
    if not recipe.text:
        return "\n".join(_features(recipe, "x"))
    if not recipe.two_inputs:
        return "\n".join(_tokens(recipe, "x"))
    return "\n".join(_tokens(recipe, "tokens") + _features(recipe, "features")
                     + ["normalize = keras.layers.Normalization()", "normalize.adapt(features[train])"])


def _tokens(recipe: Recipe, name: str) -> list[str]:
    return ['texts = frame[TEXT].fillna("").astype(str).to_numpy()',
            f"vectorize = keras.layers.TextVectorization(max_tokens={int(recipe.setting('vocabulary'))}, "
            f"output_sequence_length={recipe.sequence_length})",
            "vectorize.adapt(texts[train])",
            f"{name} = np.asarray(vectorize(texts))"]


def _features(recipe: Recipe, name: str) -> list[str]:
    lines = ['numeric = frame[NUMERIC].astype("float32")'] if recipe.numeric else []
    if not recipe.categorical:
        return lines + [f"{name} = numeric.fillna(numeric.iloc[train].median()).to_numpy()"]
    lines.append("columns = [numeric.fillna(numeric.iloc[train].median()).to_numpy()]" if recipe.numeric
                 else "columns = []")
    lines += ["for name in CATEGORICAL:  # one-hot, with a column for values unseen in training",
              '    values = frame[name].fillna("").astype(str).to_numpy()',
              '    lookup = keras.layers.StringLookup(output_mode="one_hot")',
              "    lookup.adapt(values[train])",
              '    columns.append(np.asarray(lookup(values), dtype="float32"))']
    lines.append(f"{name} = np.concatenate(columns, axis=1)")
    return lines


def _model(recipe: Recipe) -> str:
    lines = _two_inputs(recipe) if recipe.two_inputs else _sequential(recipe)
    loss = ('loss="sparse_categorical_crossentropy",\n    metrics=["accuracy"],' if recipe.label == "categorical"
            else 'loss="mean_squared_error",')
    lines += ["model.compile(",
              f"    optimizer=keras.optimizers.Adam(learning_rate={recipe.setting('learning_rate'):g}),",
              f"    {loss}",
              ")"]
    return "\n".join(lines)


def _output(recipe: Recipe) -> str:
    return ('keras.layers.Dense(len(classes), activation="softmax")' if recipe.label == "categorical"
            else "keras.layers.Dense(1)")


def _two_inputs(recipe: Recipe) -> list[str]:
    """A functional model: the token ids through the sequence branch, beside the normalized features."""
    units, dropout = int(recipe.setting("units")), recipe.setting("dropout")
    return [f"tokens_input = keras.Input(shape=({recipe.sequence_length},))",
            "features_input = keras.Input(shape=(features.shape[1],))",
            f"text = keras.layers.Embedding(vectorize.vocabulary_size(), {int(recipe.setting('embedding_dim'))})"
            "(tokens_input)",
            f'text = keras.layers.Conv1D({units}, 5, padding="same", activation="relu")(text)',
            "text = keras.layers.GlobalMaxPooling1D()(text)",
            f"text = keras.layers.Dropout({dropout:g})(text)",
            "hidden = keras.layers.Concatenate()([text, normalize(features_input)])",
            f'hidden = keras.layers.Dense({units}, activation="relu")(hidden)',
            f"hidden = keras.layers.Dropout({dropout:g})(hidden)",
            f"outputs = {_output(recipe)}(hidden)",
            "model = keras.Model([tokens_input, features_input], outputs)"]


def _sequential(recipe: Recipe) -> list[str]:
    units, dropout = int(recipe.setting("units")), recipe.setting("dropout")
    layers = []
    if recipe.input == "features":
        layers += ["keras.Input(shape=(x.shape[1],))",
                   "keras.layers.Normalization(mean=x[train].mean(axis=0), variance=x[train].var(axis=0))"]
        layers += [f'keras.layers.Dense({units}, activation="relu")', f"keras.layers.Dropout({dropout:g})"]
    elif recipe.input == "image":
        height, width, channels = recipe.image
        layers.append(f"keras.Input(shape=({height}, {width}, {channels}))")
        if isinstance(recipe.data, Images):
            layers.append("keras.layers.Rescaling(1 / 255)")
        filters = int(recipe.setting("filters"))
        for block in range(recipe.blocks):
            layers += [f'keras.layers.Conv2D({filters * 2 ** block}, 3, padding="same", activation="relu")',
                       "keras.layers.MaxPooling2D()"]
        side = min(height, width) // 2 ** recipe.blocks
        layers.append("keras.layers.Flatten()" if side <= 4 else "keras.layers.GlobalAveragePooling2D()")
        layers += [f"keras.layers.Dropout({dropout:g})", f'keras.layers.Dense({units * 2}, activation="relu")',
                   f"keras.layers.Dropout({dropout:g})"]
    else:
        vocabulary = "vectorize.vocabulary_size()" if recipe.text else str(recipe.vocabulary)
        layers += [f"keras.Input(shape=({recipe.sequence_length},))",
                   f"keras.layers.Embedding({vocabulary}, {int(recipe.setting('embedding_dim'))})",
                   f'keras.layers.Conv1D({units}, 5, padding="same", activation="relu")',
                   "keras.layers.GlobalMaxPooling1D()",
                   f"keras.layers.Dropout({dropout:g})",
                   f'keras.layers.Dense({units}, activation="relu")',
                   f"keras.layers.Dropout({dropout:g})"]
    layers.append(_output(recipe))
    return ["model = keras.Sequential(["] + [f"    {layer}," for layer in layers] + ["])"]


def _x(recipe: Recipe, rows: str) -> str:
    """The model's input for some rows (`train`, `test`)."""
    return f"[tokens[{rows}], features[{rows}]]" if recipe.two_inputs else f"x[{rows}]"


def _train(recipe: Recipe) -> str:
    images = isinstance(recipe.data, Images)
    lines = ["model.fit("]
    lines += ["    train_data,", "    validation_data=validation_data,"] if images else \
             [f"    {_x(recipe, 'train')},", "    y[train],", f"    validation_split={VALIDATION_SPLIT},",
              f"    batch_size={int(recipe.setting('batch_size'))},"]
    lines += [f"    epochs={int(recipe.setting('max_epochs'))},  # an upper bound: early stopping decides; optpar: skip",
              f"    callbacks=[keras.callbacks.EarlyStopping(patience={int(recipe.setting('patience'))}, "
              "restore_best_weights=True)],",
              "    verbose=2,", ")"]
    return "\n".join(lines)


def _report(recipe: Recipe) -> str:
    if isinstance(recipe.data, Images):
        return "\n".join(["loss, accuracy = model.evaluate(validation_data, verbose=0)",
                          'print(f"validation accuracy: {accuracy:.4f}")'])
    if recipe.label == "categorical":
        return "\n".join([f"loss, accuracy = model.evaluate({_x(recipe, 'test')}, y[test], verbose=0)",
                          'print(f"test accuracy: {accuracy:.4f}")'])
    return "\n".join([f"predicted = model.predict({_x(recipe, 'test')}, verbose=0)[:, 0]",
                      "r2 = 1 - np.sum((y[test] - predicted) ** 2) / np.sum((y[test] - y[test].mean()) ** 2)",
                      'print(f"test R2: {r2:.4f}")'])
