"""`optpar upgrade`: the forms of Keras 1 and 2 that Keras 3 rejects, rewritten so that an old
script runs, and tunes, on Keras 3.

Each diagnostic that carries a fix (`Diagnostic.fix`) is a handful of edits of one line each:
a Keras 1 keyword renamed (`SGD(lr=0.01)` becomes `SGD(learning_rate=0.01)`, OPT202-OPT219,
metadata/keras1.csv), a string metric put in a list (`metrics='acc'` becomes `metrics=['acc']`,
OPT220), a Keras 2 backend function called from `keras.ops` (`K.sum(x)` becomes `ops.sum(x)`, with
`ops` imported beside `K`, OPT221), the learning rate's old name in a fit's history
(`history.history["lr"]` becomes `history.history["learning_rate"]`, OPT222), an import from a
module Keras 3 dropped (`from keras.layers.core import Dense` becomes `from keras.layers import
Dense`, OPT223), a path Keras 3 will not save to (`ModelCheckpoint('best.hdf5')` becomes
`ModelCheckpoint('best.keras')`, and `load_model('best.hdf5')` follows, OPT224), a model method
Keras 3 renamed (`fit_generator` becomes `fit`, OPT225), and the arguments of `fit` Keras 3 moved
to `PyDataset` (`, workers=4` is removed, OPT226), a name Keras 3 keeps only in TensorFlow's
Keras (`from keras.preprocessing.image import ImageDataGenerator` imports from
`tensorflow.keras.preprocessing.image`, OPT227), a metric read under its Keras 2.2 name
(`history.history['val_acc']` becomes `['val_accuracy']` after `compile(metrics=['accuracy'])`,
OPT228), TensorFlow's `padding='SAME'` (`'same'`, OPT229), an optimizer's `lr` attribute
(`learning_rate`, OPT230), a backend function that writes a variable (`K.set_value(v, x)` becomes
`v.assign(x)`, OPT231), a metric's `reset_states()` (`reset_state()`, OPT232), a regularizer's
`l=` (OPT233, OPT234), a NumPy number as a layer's size (`Dense(np.prod(shape))` becomes
`Dense(int(np.prod(shape)))`, OPT235), a count of steps given as a float
(`steps_per_epoch=len(x) / 32` rounded up, OPT236), a TensorFlow function on a Keras tensor while
a functional model is built (`tf.concat` becomes `keras.ops.concatenate`, OPT237), one list of
metrics for a model of several outputs (`[['mae']] * 2`, OPT238), an int as an input's shape
(`Input(shape=784)` becomes `Input(shape=(784,))`, OPT239), a layer's weight made in Keras 2's
order (`self.add_variable("w", shape)` becomes `self.add_weight(name="w", shape=shape)`, OPT240). Only that text
changes; the values, the comments, the formatting and the number of lines stay as written. What
optpar cannot rewrite safely (a call that also passes the new name, Keras 1's positional kernel
`Conv2D(32, 3, 3)`, OPT201, ...) is reported, for the user to edit.
"""

from __future__ import annotations

from optpar.analysis import Analysis, Diagnostic
from optpar.analysis.records import TextEdit
from optpar.analysis.syntax import source_lines
from optpar.errors import UserError


def renamed_text(analysis: Analysis) -> tuple[str, list[Diagnostic], list[Diagnostic]]:
    """The source with every fix applied; the diagnostics fixed, and those left. An edit that
    several fixes share (one import for all the uses of `K`) is made once."""
    done = [d for d in analysis.diagnostics if d.fix]
    left = [d for d in analysis.diagnostics if not d.fix]
    lines = source_lines(analysis.text)  # as the diagnostics' columns count them
    edits = dict.fromkeys(edit for diag in done for edit in diag.fix)
    # right to left within a line; at one column a replacement before an insertion there
    # (`K.int_shape(x)` renamed, then `int(` put in front of it)
    for edit in sorted(edits, key=lambda e: (e.line, -e.col, not e.old)):
        line, start = lines[edit.line - 1], edit.col - 1
        if line[start:start + len(edit.old)] != edit.old:
            raise UserError(analysis.path, edit.line, edit.col, f"could not find {edit.old!r} here")
        lines[edit.line - 1] = line[:start] + edit.new + line[start + len(edit.old):]
    return "".join(lines), done, left


def shown_change(text: str, diag: Diagnostic) -> tuple[str, str]:
    """What a fix changes, to print: the span of its edits on its first edit's line, before and
    after (`K.set_value(v, x)`'s two edits show as `K.set_value(v, ` -> `v.assign(`)."""
    line = diag.fix[0].line
    edits: list[TextEdit] = sorted((e for e in diag.fix if e.line == line), key=lambda e: -e.col)
    written = source_lines(text)[line - 1]
    start, end = min(e.col for e in edits) - 1, max(e.col - 1 + len(e.old) for e in edits)
    if end <= start:  # only an insertion on this line (the fix goes on over lines): show the line's rest
        end = len(written.rstrip("\r\n"))
    new = written[start:end]
    for edit in edits:
        at = edit.col - 1 - start
        new = new[:at] + edit.new + new[at + len(edit.old):]
    return written[start:end], new
