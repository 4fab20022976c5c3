"""realrun shim: run unmodified Keras scripts offline, briefly, and record their training.

Put this folder on PYTHONPATH. Python imports ``sitecustomize`` at start-up; this one only
installs an import hook (it imports neither numpy nor keras), which patches Keras modules
right after they first execute, before anything else can bind their functions:

* ``keras.src.datasets.<name>``: ``load_data`` (and ``get_word_index`` for imdb/reuters)
  returns small seeded generated data with the real per-example shapes, dtypes and label
  ranges; the label is drawn first and the input depends on it, so models can learn.
  Every public spelling (``keras.datasets.mnist``, ``tf.keras.datasets.mnist``,
  ``from keras.datasets import mnist``) re-exports these functions, so all see the patch.
* ``keras.src.utils.file_utils.get_file``: raises ``OfflineDownloadError`` (no download).
* ``keras.src.models.model.Model.fit``: epochs capped at ``initial_epoch + REALRUN_EPOCHS``
  (default 2) and epochs made short: ``steps_per_epoch`` and ``validation_steps`` capped at
  ``REALRUN_STEPS`` (default 20), given or not, when the data has more batches than that (arrays,
  tensors, datasets of known or infinite length; Keras restarts a known-length input at its end).
  Whatever reaches ``Model.fit`` (the script, the tuning script, a wrapper) is capped the same way.

Each fit call (and each replaced loader / refused download) appends one JSON line to the
file named by ``REALRUN_LOG``, if set. The generated data has the real datasets' sizes
(scripts hardcode them: ``x_train.reshape(60000, 784)``); ``REALRUN_TRAIN`` / ``REALRUN_TEST``
set others.
"""

import functools
import importlib.abc
import json
import os
import sys
import time
import zlib

EPOCHS = int(os.environ.get("REALRUN_EPOCHS", "2"))
STEPS = int(os.environ.get("REALRUN_STEPS", "20"))


def _sizes(train, test):
    """The real dataset's sizes (scripts hardcode them: ``x_train.reshape(60000, 784)``), unless
    REALRUN_TRAIN / REALRUN_TEST ask for others."""
    return int(os.environ.get("REALRUN_TRAIN", train)), int(os.environ.get("REALRUN_TEST", test))


class OfflineDownloadError(RuntimeError):
    """A script asked keras.utils.get_file for a download; realrun runs offline."""


def _log(record):
    path = os.environ.get("REALRUN_LOG")
    if not path:
        return
    record = dict(record, pid=os.getpid(), script=os.path.basename(sys.argv[0] or "?"))
    with open(path, "a") as f:  # one write per line: safe enough across processes
        f.write(json.dumps(record, default=str) + "\n")


def _rng(name, *args):
    import numpy as np

    return np.random.RandomState(zlib.crc32(repr((name,) + args).encode()))


# -- generated data -------------------------------------------------------------------------

def _images(name, shape, classes, label_shape, label_dtype, sizes):
    """Class prototypes (smooth random blobs, 0..120) plus uniform noise (0..134), uint8."""
    import numpy as np

    rng = _rng(name, shape, classes)
    h, w = shape[0], shape[1]
    coarse = rng.randint(0, 121, size=(classes, (h + 3) // 4, (w + 3) // 4, *shape[2:])).astype("uint8")
    protos = np.kron(coarse, np.ones((1, 4, 4) + (1,) * (len(shape) - 2), dtype="uint8"))[:, :h, :w]

    def split(n):
        y = rng.randint(0, classes, size=n)
        x = protos[y]
        x += rng.randint(0, 135, size=x.shape, dtype="uint8")
        return x, y.astype(label_dtype).reshape((n,) + label_shape)

    return tuple(split(n) for n in sizes)


def _channels_first(data):
    from keras.src import backend

    if backend.image_data_format() != "channels_first":
        return data
    return tuple((x.transpose(0, 3, 1, 2), y) for x, y in data)


def mnist_load_data(path="mnist.npz"):
    return _images("mnist", (28, 28), 10, (), "uint8", _sizes(60000, 10000))


def fashion_mnist_load_data():
    return _images("fashion_mnist", (28, 28), 10, (), "uint8", _sizes(60000, 10000))


def cifar10_load_data():
    return _channels_first(_images("cifar10", (32, 32, 3), 10, (1,), "uint8", _sizes(50000, 10000)))


def cifar100_load_data(label_mode="fine"):
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"`label_mode` must be one of `'fine'`, `'coarse'`. Received: label_mode={label_mode}.")
    classes = 100 if label_mode == "fine" else 20
    return _channels_first(_images("cifar100", (32, 32, 3), classes, (1,), "int64", _sizes(50000, 10000)))


VOCAB = 10000  # raw word ranks 1..VOCAB when num_words is not given


def _sequences(name, classes, num_words, skip_top, maxlen, start_char, oov_char, index_from, n_train, n_test):
    """Ragged lists of word ids (frequent words common), 30 % of them words of the example's class."""
    import numpy as np

    rng = _rng(name, num_words, maxlen)
    n = n_train + n_test
    labels = rng.randint(0, classes, size=n).astype("int64")
    longest = 400 if not maxlen else max(3, min(400, maxlen - 2))
    lengths = rng.randint(min(10, longest), longest + 1, size=n)
    ranks = np.exp(rng.uniform(0, np.log(VOCAB), size=lengths.sum())).astype("int64")
    signal = rng.rand(ranks.size) < 0.3
    owner = np.repeat(labels, lengths)
    ranks[signal] = 20 + 2 * owner[signal] + rng.randint(0, 2, size=signal.sum())
    words = ranks + index_from
    keep = np.ones(words.size, dtype=bool)
    if num_words or skip_top:
        top = num_words or (VOCAB + index_from + 1)
        bad = (words < skip_top) | (words >= top)
        if oov_char is not None:
            words[bad] = oov_char
        else:
            keep = ~bad
    xs = []
    for seq, kept in zip(np.split(words, np.cumsum(lengths)[:-1]), np.split(keep, np.cumsum(lengths)[:-1])):
        seq = seq[kept].tolist()
        xs.append([start_char] + seq if start_char is not None else seq)

    def ragged(items):
        out = np.empty(len(items), dtype="object")
        out[:] = items
        return out

    return (ragged(xs[:n_train]), labels[:n_train]), (ragged(xs[n_train:]), labels[n_train:])


def imdb_load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
                   start_char=1, oov_char=2, index_from=3, **kwargs):
    return _sequences("imdb", 2, num_words, skip_top, maxlen, start_char, oov_char, index_from,
                      *_sizes(25000, 25000))


def reuters_load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2,
                      seed=113, start_char=1, oov_char=2, index_from=3):
    n = sum(_sizes(8982, 2246))
    n_train = int(n * (1 - test_split))
    return _sequences("reuters", 46, num_words, skip_top, maxlen, start_char, oov_char, index_from,
                      n_train, n - n_train)


def get_word_index(path="word_index.json"):
    return {f"word{rank}": rank for rank in range(1, VOCAB + 1)}


def _regression(name, features, scale, offset, test_split, n):
    import numpy as np

    rng = _rng(name, test_split)
    x = rng.gamma(2.0, 1.0, size=(n, features)) * rng.uniform(0.5, 50, size=features)
    w = rng.randn(features) / x.std(axis=0)
    y = offset + scale * np.tanh(0.5 * ((x - x.mean(axis=0)) @ w) / np.sqrt(features)) + 0.05 * scale * rng.randn(n)
    cut = int(n * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def boston_housing_load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    if not 0 <= test_split < 1:
        raise ValueError("`test_split` must be between 0 and 1.")
    return _regression("boston_housing", 13, 20.0, 25.0, test_split, sum(_sizes(404, 102)))


def california_housing_load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113):
    if not 0 <= test_split < 1:
        raise ValueError("`test_split` must be between 0 and 1.")
    if version not in ("large", "small"):
        raise ValueError(f"Argument `version` must be one of 'small', 'large'. Received: version={version}")
    (x, y), (xt, yt) = _regression("california_housing", 8, 200000.0, 250000.0, test_split,
                                            sum(_sizes(16512, 4128)) if version == "large" else 600)
    return (x.astype("float32"), y.astype("float32")), (xt.astype("float32"), yt.astype("float32"))


_CALIFORNIA_COLUMNS = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                       "Latitude", "Longitude"]


def sklearn_fetch_california_housing(*, data_home=None, download_if_missing=True, return_X_y=False,
                                     as_frame=False, **kwargs):
    """scikit-learn's loader (a download on first use): the real 20640 rows of 8 features, the
    target in units of 100,000 dollars, as a Bunch, a frame or ``(X, y)`` as asked."""
    import numpy as np
    from sklearn.utils import Bunch

    (x, y), _ = _regression("sklearn_california_housing", 8, 1.0, 2.0, 0.0, 20640)
    x, y = x.astype(np.float64), np.clip(y, 0.15, 5.0)
    _log({"event": "load_data", "dataset": "sklearn_california_housing", "x": [str(x.dtype), list(x.shape)],
          "y": [str(y.dtype), list(y.shape)]})
    if as_frame:
        import pandas as pd

        x = pd.DataFrame(x, columns=_CALIFORNIA_COLUMNS)
        y = pd.Series(y, name="MedHouseVal")
    if return_X_y:
        return x, y
    frame = pd.concat([x, y], axis=1) if as_frame else None
    return Bunch(data=x, target=y, frame=frame, feature_names=list(_CALIFORNIA_COLUMNS),
                 target_names=["MedHouseVal"], DESCR="generated offline by bench/realrun")


def _patch_sklearn_california(module):
    module.fetch_california_housing = sklearn_fetch_california_housing


def _logged_loader(name, fn):
    @functools.wraps(fn)
    def load_data(*args, **kwargs):
        data = fn(*args, **kwargs)
        (x, y), _ = data
        _log({"event": "load_data", "dataset": name, "x": [str(x.dtype), list(x.shape)],
              "y": [str(y.dtype), list(y.shape)]})
        return data

    load_data.__realrun__ = True
    return load_data


# -- offline and capped training ------------------------------------------------------------

def get_file(fname=None, origin=None, *args, **kwargs):
    _log({"event": "get_file", "fname": fname, "origin": origin})
    raise OfflineDownloadError(f"download attempted (offline): get_file({fname!r}, origin={origin!r})")


def _batches(data, batch_size, fraction=1.0):
    """How many batches one pass over ``data`` takes, when cheap to tell: arrays and tensors
    (by their first dimension), a tf.data.Dataset of known cardinality (inf when infinite),
    a PyDataset with ``num_batches``; else None."""
    if isinstance(data, dict):
        data = next(iter(data.values()), None)
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    if type(data).__module__.startswith("tensorflow") and hasattr(data, "cardinality"):
        count = int(data.cardinality())
        return float("inf") if count == -1 else (count if count >= 0 else None)
    if hasattr(data, "num_batches"):
        return getattr(data, "num_batches", None)
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return -(-int(shape[0] * fraction) // (batch_size or 32))
    return None


def _cap_steps(given, batches):
    if isinstance(given, int) and not isinstance(given, bool):
        return min(given, STEPS)
    if given is None and batches is not None and batches > STEPS:
        return STEPS
    return given


def _capped_fit(fit):
    import inspect

    signature = inspect.signature(fit)

    @functools.wraps(fit)
    def capped(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:  # Keras 1 keywords (nb_epoch=...): let Keras say what is wrong
            return fit(self, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        asked = {k: a.get(k) for k in ("epochs", "steps_per_epoch", "validation_steps")}
        start = a.get("initial_epoch") or 0
        if isinstance(a.get("epochs"), int):
            a["epochs"] = min(a["epochs"], start + EPOCHS)
        split = a.get("validation_split") or 0.0
        batch = a.get("batch_size")
        try:
            train = _batches(a.get("x"), batch, 1.0 - split)
            if a.get("validation_data") is not None:
                val = _batches(a["validation_data"], a.get("validation_batch_size") or batch)
            else:
                val = _batches(a.get("x"), a.get("validation_batch_size") or batch, split) if split else None
        except Exception:  # unusual data: cap only what was given
            train = val = None
        a["steps_per_epoch"] = _cap_steps(a.get("steps_per_epoch"), train)
        a["validation_steps"] = _cap_steps(a.get("validation_steps"), val)
        record = {"event": "fit", "model": type(self).__name__, "asked": asked,
                  "epochs": a.get("epochs"), "initial_epoch": start,
                  "steps_per_epoch": a.get("steps_per_epoch"), "validation_steps": a.get("validation_steps")}
        t0 = time.time()
        try:
            history = fit(*bound.args, **bound.kwargs)
        except BaseException as exc:
            _log(dict(record, seconds=round(time.time() - t0, 2), epochs_run=0,
                      error=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]))
            raise
        logs = getattr(history, "history", None) or {}
        final = {}
        for key, values in logs.items():
            try:
                final[key] = float(values[-1])
            except (TypeError, ValueError, IndexError):
                pass
        _log(dict(record, seconds=round(time.time() - t0, 2),
                  epochs_run=len(getattr(history, "epoch", []) or []), history=final, error=None))
        return history

    capped.__realrun__ = True
    return capped


def _patch_model(module):
    module.Model.fit = _capped_fit(module.Model.fit)


def _patch_file_utils(module):
    module.get_file = get_file


def _dataset_patch(name, loader, word_index=False):
    def patch(module):
        module.load_data = _logged_loader(name, loader)
        if word_index:
            module.get_word_index = get_word_index
    return patch


PATCHES = {
    "keras.src.models.model": _patch_model,
    "keras.src.utils.file_utils": _patch_file_utils,
    "keras.src.datasets.mnist": _dataset_patch("mnist", mnist_load_data),
    "keras.src.datasets.fashion_mnist": _dataset_patch("fashion_mnist", fashion_mnist_load_data),
    "keras.src.datasets.cifar10": _dataset_patch("cifar10", cifar10_load_data),
    "keras.src.datasets.cifar100": _dataset_patch("cifar100", cifar100_load_data),
    "keras.src.datasets.imdb": _dataset_patch("imdb", imdb_load_data, word_index=True),
    "keras.src.datasets.reuters": _dataset_patch("reuters", reuters_load_data, word_index=True),
    "keras.src.datasets.boston_housing": _dataset_patch("boston_housing", boston_housing_load_data),
    "keras.src.datasets.california_housing": _dataset_patch("california_housing", california_housing_load_data),
    "sklearn.datasets._california_housing": _patch_sklearn_california,
}


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules with the other finders, then runs the patch after the module's
    own code, so ``from keras.src.x import f`` elsewhere already gets the patched ``f``."""

    def find_spec(self, name, path, target=None):
        patch = PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        loader.exec_module = exec_module
        return spec


if not any(isinstance(f, _PatchingFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _PatchingFinder())
