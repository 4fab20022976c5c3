"""What `optpar new` reads from the data: shapes, column types, distinct values, image sizes.

A probe only describes; the decisions are in infer.py. pandas (tables), numpy (arrays) and
Pillow (image folders) are imported when their kind of data is read, and a missing one is a
one-line error that names the extra to install.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from optpar.errors import UserError

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# What keras.utils.image_dataset_from_directory decodes.
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
X_KEYS = ("x", "X", "images", "data", "inputs")
Y_KEYS = ("y", "Y", "labels", "label", "target", "targets")
TARGET_NAMES = ("target", "label", "labels", "class", "y")  # a table's target when --target is not given
IMAGES_READ = 2000  # an image folder's sizes are read from this many files at most (evenly spread)


@dataclass(frozen=True)
class Column:
    """One column of a table, or the label array."""

    name: str
    dtype: str  # number | string
    rows: int
    distinct: int
    missing: int
    integral: bool = False  # number: every value a whole number
    consecutive: bool = False  # number: the values are start, start+1, ... (a row number)
    words: float = 0.0  # string: mean whitespace-separated words
    long_words: int = 0  # string: the 95th percentile of words


@dataclass(frozen=True)
class Table:
    path: Path
    reader: str  # csv | parquet
    rows: int
    columns: tuple[Column, ...]
    target: Column


@dataclass(frozen=True)
class Arrays:
    path: Path
    reader: str  # npz | npy
    keys: tuple[str, str]  # npz: the x and y keys; npy: the x and y file names
    x_shape: tuple[int, ...]
    x_kind: str  # float | int | ragged (an object array of sequences) | other
    x_min: float
    x_max: float
    x_distinct: int  # int x: distinct values (up to 10_000)
    long_length: int  # ragged x: the 95th percentile of lengths
    y_shape: tuple[int, ...]
    target: Column


@dataclass(frozen=True)
class Images:
    path: Path
    classes: tuple[str, ...]
    counts: tuple[int, ...]  # images per class
    sizes: tuple[tuple[tuple[int, int], int], ...]  # (width, height) -> images read, most common first
    greyscale: bool


Data = Table | Arrays | Images


def needs(module: str, kind: str):
    """Import `module` for reading `kind`, or stop with the install line."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        raise UserError(kind, 1, 1, f"reading it needs {module.split('.')[0]}: pip install 'optpar[new]'") from None


def probe(path: str | Path, target: str | None = None) -> Data:
    """Describe the data at `path` (a table, a .npz, an .npy pair or a folder)."""
    path = Path(path)
    if path.is_dir():
        if (path / "x.npy").is_file():
            return _arrays_npy(path / "x.npy")
        return _images(path)
    if not path.is_file():
        raise UserError(path, 1, 1, "no such file or folder")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _table(path, TABLE_SUFFIXES[suffix], target)
    if suffix == ".npz":
        return _arrays_npz(path)
    if suffix == ".npy":
        return _arrays_npy(path)
    raise UserError(path, 1, 1, f"unknown kind of data {suffix or path.name!r} (optpar new reads .csv, .parquet, "
                                ".npz, x.npy + y.npy, or a folder of images with one sub-folder per class)")


# -- tables ----------------------------------------------------------------------------------

def _table(path: Path, reader: str, target: str | None) -> Table:
    pd = needs("pandas", str(path))
    try:
        if reader == "csv":
            frame = pd.read_csv(path)
        else:
            needs("pyarrow", str(path))
            frame = pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(path, 1, 1, f"cannot read the table: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if frame.empty:
        raise UserError(path, 1, 1, "the table has no rows")
    names = [str(c) for c in frame.columns]
    if target is None:
        found = [n for n in names if n.lower() in TARGET_NAMES]
        if not found:
            raise UserError(path, 1, 1, "no target column: pass --target COLUMN (columns: %s)" % _listed(names))
        target = found[0]
    elif target not in names:
        raise UserError(path, 1, 1, "no column %r (columns: %s)" % (target, _listed(names)))
    frame.columns = names
    columns = tuple(describe(frame[n], n) for n in names if n != target)
    return Table(path, reader, len(frame), columns, describe(frame[target], target))


def _listed(names: list[str]) -> str:
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def describe(series, name: str) -> Column:
    """A pandas Series (or anything pandas.Series accepts) as a Column."""
    pd = needs("pandas", name)
    series = pd.Series(series)
    present = series.dropna()
    rows, missing = len(series), int(series.isna().sum())
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = present.astype("float64")
        integral = bool(len(values)) and bool((values == values.round()).all())
        distinct = int(values.nunique())
        consecutive = integral and distinct == len(values) > 1 and float(values.max() - values.min()) == len(values) - 1
        return Column(name, "number", rows, distinct, missing, integral, consecutive)
    text = present.astype(str)
    words = text.str.split().str.len()
    return Column(name, "string", rows, int(text.nunique()), missing,
                  words=float(words.mean()) if len(words) else 0.0,
                  long_words=int(words.quantile(0.95)) if len(words) else 0)


# -- arrays ------------------------------------------------------------------------------------

def _arrays_npz(path: Path) -> Arrays:
    np = needs("numpy", str(path))
    try:
        with np.load(path, allow_pickle=True) as archive:
            keys = list(archive.files)
            x_key = next((k for k in X_KEYS if k in keys), None)
            y_key = next((k for k in Y_KEYS if k in keys), None)
            if x_key is None or y_key is None:
                raise UserError(path, 1, 1, "no x and y arrays in the archive (it holds: %s; expected x and y)"
                                % (", ".join(keys) or "nothing"))
            x, y = archive[x_key], archive[y_key]
    except (OSError, ValueError) as exc:
        raise UserError(path, 1, 1, f"cannot read the arrays: {exc}") from None
    return _arrays(path, "npz", (x_key, y_key), x, y)


def _arrays_npy(path: Path) -> Arrays:
    np = needs("numpy", str(path))
    name = path.name
    if name.lower() == "x.npy":
        y_path = path.with_name("y.npy" if name == "x.npy" else "Y.npy")
    elif path.stem.lower().endswith("_x"):
        y_path = path.with_name(path.stem[:-1] + ("y" if path.stem.endswith("x") else "Y") + ".npy")
    else:
        raise UserError(path, 1, 1, "an .npy input is x.npy (or NAME_x.npy) beside y.npy (or NAME_y.npy)")
    if not y_path.is_file():
        raise UserError(path, 1, 1, f"no labels: {y_path.name} is missing beside it")
    try:
        x, y = np.load(path, allow_pickle=True), np.load(y_path, allow_pickle=True)
    except (OSError, ValueError) as exc:
        raise UserError(path, 1, 1, f"cannot read the arrays: {exc}") from None
    return _arrays(path, "npy", (path.name, y_path.name), x, y)


def _arrays(path: Path, reader: str, keys: tuple[str, str], x, y) -> Arrays:
    np = needs("numpy", str(path))
    if x.ndim == 0 or len(x) == 0:
        raise UserError(path, 1, 1, f"{keys[0]} is empty")
    if len(y) != len(x):
        raise UserError(path, 1, 1, f"{keys[0]} has {len(x)} examples but {keys[1]} has {len(y)}")
    long_length, x_distinct, lo, hi = 0, 0, 0.0, 0.0
    if x.dtype == object:
        try:
            lengths = np.array([len(item) for item in x])
            flat = np.concatenate([np.asarray(item) for item in x if len(item)])
        except TypeError:
            raise UserError(path, 1, 1, f"{keys[0]} holds objects that are not sequences") from None
        kind = "ragged" if flat.size and np.issubdtype(flat.dtype, np.integer) else "other"  # infer.py refuses other
        long_length = int(np.percentile(lengths, 95)) if len(lengths) else 0
        if flat.size:
            lo, hi = float(flat.min()), float(flat.max())
    elif np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool:
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise UserError(path, 1, 1, f"{keys[0]} holds NaN or infinite values")
        kind = "int" if np.issubdtype(x.dtype, np.integer) else "float"
        lo, hi = float(x.min()), float(x.max())
        if kind == "int":
            x_distinct = int(len(np.unique(x.ravel()[:1_000_000])))
    else:
        raise UserError(path, 1, 1, f"{keys[0]} has dtype {x.dtype}: expected numbers or token sequences")
    labels = y
    if y.ndim == 2 and y.shape[1] > 1:
        labels = y.argmax(axis=1)  # one-hot rows
    elif y.ndim == 2:
        labels = y[:, 0]
    elif y.ndim != 1:
        raise UserError(path, 1, 1, f"{keys[1]} has shape {y.shape}: expected one label per example")
    return Arrays(path, reader, keys, tuple(int(s) for s in x.shape), kind, lo, hi, x_distinct, long_length,
                  tuple(int(s) for s in y.shape), describe(labels, keys[1]))


# -- image folders -------------------------------------------------------------------------------

def _images(path: Path) -> Images:
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {f.name: sorted(p for p in f.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) for f in folders}
    classes = tuple(name for name, found in files.items() if found)
    if not classes:
        raise UserError(path, 1, 1, "no images: expected one sub-folder per class holding "
                                    + ", ".join(IMAGE_SUFFIXES) + " files")
    if len(classes) < 2:
        raise UserError(path, 1, 1, f"a single class ({classes[0]}): a classifier needs two sub-folders or more")
    image = needs("PIL.Image", str(path))
    every = [p for name in classes for p in files[name]]
    step = max(1, len(every) // IMAGES_READ)
    sizes: Counter = Counter()
    greyscale = True
    for file in every[::step]:
        try:
            with image.open(file) as img:
                sizes[img.size] += 1
                greyscale = greyscale and img.mode in ("L", "1", "I;16", "I")
        except (OSError, image.DecompressionBombError) as exc:
            raise UserError(file, 1, 1, f"not a readable image: {exc}") from None
    return Images(path, classes, tuple(len(files[name]) for name in classes),
                  tuple(sizes.most_common()), greyscale)
