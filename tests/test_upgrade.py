"""`optpar upgrade`: the Keras 1 keywords Keras 3 rejects, renamed in place (OPT202-OPT219), and the
Keras 2 forms it rejects, rewritten (OPT220-OPT236)."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import analyze_text
from optpar.upgrade import renamed_text


def upgraded(text: str) -> str:
    return renamed_text(analyze_text(text))[0]


HEAD = "import keras\nfrom keras.layers import Dense, Embedding\n"

CASES = [
    pytest.param("opt = keras.optimizers.SGD(lr=0.01, momentum=0.9)  # old\n",
                 "opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)  # old\n", id="lr"),
    pytest.param("model.fit(x, y, nb_epoch=10,\n          batch_size=32)\n",
                 "model.fit(x, y, epochs=10,\n          batch_size=32)\n", id="nb_epoch"),
    pytest.param("h = Dense(output_dim=64, init='he_normal')(x)\n",
                 "h = Dense(units=64, kernel_initializer='he_normal')(x)\n", id="two-in-one-call"),
    pytest.param("e = Embedding(1000, 8, init='uniform')\n",
                 "e = Embedding(1000, 8, embeddings_initializer='uniform')\n", id="embedding's-own-name"),
    pytest.param("d = Dense(4, kernel_regularizer=keras.regularizers.l2(l=0.01))\nr = keras.regularizers.L1(l=1e-4)\n",
                 "d = Dense(4, kernel_regularizer=keras.regularizers.l2(l2=0.01))\nr = keras.regularizers.L1(l1=1e-4)\n",
                 id="regularizer-l"),
    pytest.param("h = Dense(8, name='é', init = 'zeros')(x)\n",
                 "h = Dense(8, name='é', kernel_initializer = 'zeros')(x)\n", id="after-non-ascii"),
]


@pytest.mark.parametrize("before, after", CASES)
def test_a_keras1_keyword_is_renamed_and_nothing_else_changes(before, after):
    assert upgraded(HEAD + before) == HEAD + after


@pytest.mark.parametrize("before, after", CASES)
def test_upgrade_is_idempotent(before, after):
    once = upgraded(HEAD + before)
    assert upgraded(once) == once
    assert analyze_text(once).diagnostics == ()


def test_a_keras3_file_is_left_byte_for_byte():  # no-op
    text = HEAD + "opt = keras.optimizers.SGD(learning_rate=0.01)\nmodel.fit(x, y, epochs=3)\nlr = 1\nf(lr=2)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert (new, done, left) == (text, [], [])


def test_a_call_passing_both_names_and_the_positional_kernel_are_left_and_reported():
    text = HEAD + ("opt = keras.optimizers.SGD(lr=0.1, learning_rate=0.01)\n"
                   "c = keras.layers.Conv2D(32, 3, 3)\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []
    assert [d.code for d in left] == ["OPT202", "OPT201"]


# Keras 2 forms: whole files, since what `K.sum` becomes depends on the file's imports
KERAS2 = [
    pytest.param("import keras\nmodel.compile(loss='mse', metrics='acc')  # old\n",
                 "import keras\nmodel.compile(loss='mse', metrics=['acc'])  # old\n", id="metrics-string"),
    pytest.param('import keras\nmodel.compile(loss="mse", weighted_metrics = "mae")\n',
                 'import keras\nmodel.compile(loss="mse", weighted_metrics = ["mae"])\n', id="weighted-metrics"),
    pytest.param("from keras import backend as K\n\ndef loss(y, p):\n    return K.mean(K.square(y - p), axis=-1) + K.epsilon()\n",
                 "from keras import backend as K, ops\n\ndef loss(y, p):\n    return ops.mean(ops.square(y - p), axis=-1) + K.epsilon()\n",
                 id="K-imports-ops-beside-it"),
    pytest.param("import keras\nfrom keras import backend as K\nz = K.sum(x)\n",
                 "import keras\nfrom keras import backend as K\nz = keras.ops.sum(x)\n", id="K-with-import-keras"),
    pytest.param("from keras import backend as K\nfrom keras import ops as kops\nz = K.exp(x)\n",
                 "from keras import backend as K\nfrom keras import ops as kops\nz = kops.exp(x)\n", id="K-with-ops-imported"),
    pytest.param("import keras.backend as K\nz = K.pow(x, 2)\n",
                 "import keras.backend as K, keras.ops as ops\nz = ops.power(x, 2)\n", id="import-as-and-a-new-name"),
    pytest.param("from tensorflow.keras import backend as K\nz = K.clip(p, K.epsilon(), 1 - K.epsilon())\n",
                 "from tensorflow.keras import backend as K, ops\nz = ops.clip(p, K.epsilon(), 1 - K.epsilon())\n",
                 id="tensorflow-keras-backend"),
    pytest.param("from keras import (backend,\n                   layers)\nz = backend.maximum(x, 0)\n",
                 "from keras import (backend, ops,\n                   layers)\nz = ops.maximum(x, 0)\n", id="backend-unaliased"),
    pytest.param("import tensorflow as tf\nz = tf.keras.backend.sum(x, axis=1)\n",
                 "import tensorflow as tf\nz = tf.keras.ops.sum(x, axis=1)\n", id="tf-keras-backend-dotted"),
    pytest.param("import keras\nz = keras.backend.abs(x)\n", "import keras\nz = keras.ops.abs(x)\n", id="keras-backend-dotted"),
    pytest.param("import keras\nhistory = model.fit(x, y, epochs=2)\nplt.plot(history.history['lr'])\n",
                 "import keras\nhistory = model.fit(x, y, epochs=2)\nplt.plot(history.history['learning_rate'])\n",
                 id="history-lr"),
    pytest.param('import keras\nlrs = model.fit(x, y, epochs=2).history["lr"]\n',
                 'import keras\nlrs = model.fit(x, y, epochs=2).history["learning_rate"]\n', id="fit-history-lr"),
    pytest.param("import keras\nh = model.fit(x, y, epochs=2).history\nlrs = h['lr']\n",
                 "import keras\nh = model.fit(x, y, epochs=2).history\nlrs = h['learning_rate']\n", id="name-holding-history-lr"),
    pytest.param("from keras.layers.core import Dense, Dropout  # core\n",
                 "from keras.layers import Dense, Dropout  # core\n", id="module-from"),
    pytest.param("from keras.layers.convolutional import (Conv2D,\n    MaxPooling2D)\n",
                 "from keras.layers import (Conv2D,\n    MaxPooling2D)\n", id="module-over-lines"),
    pytest.param("import numpy as np, keras.utils.np_utils as np_utils\ny = np_utils.to_categorical(t)\n",
                 "import numpy as np, keras.utils as np_utils\ny = np_utils.to_categorical(t)\n", id="module-import-as"),
    pytest.param("from tensorflow.keras.engine.topology import Layer\n",
                 "from tensorflow.keras.layers import Layer\n", id="module-tf-keras"),
    pytest.param("from keras.engine.training import Model\n", "from keras.models import Model\n", id="module-models"),
    pytest.param("from keras.utils import np_utils\ny = np_utils.to_categorical(t)\n",
                 "from keras import utils as np_utils\ny = np_utils.to_categorical(t)\n", id="module-by-its-name"),
    pytest.param("from tensorflow.keras.layers import (\n    recurrent as rec)\n",
                 "from tensorflow.keras import (\n    layers as rec)\n", id="module-by-its-name-as"),
    pytest.param("from keras.callbacks import ModelCheckpoint\nfrom keras.models import load_model\n"
                 "cb = ModelCheckpoint('best.hdf5', save_best_only=True)  # best\nbest = load_model('best.hdf5')\n",
                 "from keras.callbacks import ModelCheckpoint\nfrom keras.models import load_model\n"
                 "cb = ModelCheckpoint('best.keras', save_best_only=True)  # best\nbest = load_model('best.keras')\n",
                 id="checkpoint-hdf5-and-its-load"),
    pytest.param('import tensorflow as tf\ncheckpoint_path = "training_1/cp.ckpt"\n'
                 'cb = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path, save_weights_only=True)\n'
                 'model.fit(x, y, epochs=2, callbacks=[cb])\nmodel.load_weights(checkpoint_path)\n',
                 'import tensorflow as tf\ncheckpoint_path = "training_1/cp.weights.h5"\n'
                 'cb = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path, save_weights_only=True)\n'
                 'model.fit(x, y, epochs=2, callbacks=[cb])\nmodel.load_weights(checkpoint_path)\n',
                 id="weights-checkpoint-by-name"),
    pytest.param('import keras\nModelCheckpoint = keras.callbacks.ModelCheckpoint\n'
                 'cb = keras.callbacks.ModelCheckpoint(f"{run}/w-{{epoch:02d}}.h5", save_weights_only=True)\n',
                 'import keras\nModelCheckpoint = keras.callbacks.ModelCheckpoint\n'
                 'cb = keras.callbacks.ModelCheckpoint(f"{run}/w-{{epoch:02d}}.weights.h5", save_weights_only=True)\n',
                 id="weights-checkpoint-f-string"),
    pytest.param("import keras\nmodel.fit(x, y, epochs=1)\nmodel.save_weights('init.h5')\nmodel.save('saved_model')\n"
                 "restored = keras.models.load_model('saved_model')\n",
                 "import keras\nmodel.fit(x, y, epochs=1)\nmodel.save_weights('init.weights.h5')\nmodel.save('saved_model.keras')\n"
                 "restored = keras.models.load_model('saved_model.keras')\n",
                 id="model-save-and-save-weights"),
    pytest.param("import os\nimport keras\nnet = make()\nnet.save_weights('w.h5')\nmodel.fit(x, epochs=1)\n"
                 "model.save(os.path.join(out, 'model'))\n",
                 "import os\nimport keras\nnet = make()\nnet.save_weights('w.weights.h5')\nmodel.fit(x, epochs=1)\n"
                 "model.save(os.path.join(out, 'model.keras'))\n",
                 id="save-weights-on-any-object-and-a-joined-path"),
    pytest.param("import keras\nmodel.compile(loss='mse')\nh = model.fit_generator(gen, steps_per_epoch=10, epochs=5,  # gen\n"
                 "                        workers=4, use_multiprocessing=True, verbose=0)\nscore = model.evaluate_generator(generator=test_gen, steps=5)\n",
                 "import keras\nmodel.compile(loss='mse')\nh = model.fit(gen, steps_per_epoch=10, epochs=5,  # gen\n"
                 "                        verbose=0)\nscore = model.evaluate(x=test_gen, steps=5)\n",
                 id="generator-methods"),
    pytest.param("import keras\nmodel.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
                 "labels = model.predict_classes(x_new,\n                               verbose=0)\np = model.predict_proba(x_new)\n",
                 "import keras\nmodel.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
                 "labels = model.predict(x_new,\n                               verbose=0).argmax(axis=-1)\np = model.predict(x_new)\n",
                 id="predict-classes-and-proba"),
    pytest.param("import keras\nmodel.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer='adam')\n"
                 "print(model.predict_classes(x)[0])\n",
                 "import keras\nmodel.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer='adam')\n"
                 "print(model.predict(x).argmax(axis=-1)[0])\n",
                 id="predict-classes-loss-class"),
    pytest.param("from keras.layers import CuDNNLSTM, Dense\nfrom tensorflow.keras.layers import CuDNNGRU as GRU2\n"
                 "import tensorflow as tf\nx = CuDNNLSTM(64, return_sequences=True)(x)\n"
                 "x = tf.keras.layers.CuDNNGRU(32)(x)\nok = isinstance(layer, CuDNNLSTM)\n",
                 "from keras.layers import LSTM as CuDNNLSTM, Dense\nfrom tensorflow.keras.layers import GRU as GRU2\n"
                 "import tensorflow as tf\nx = CuDNNLSTM(64, return_sequences=True)(x)\n"
                 "x = tf.keras.layers.GRU(32)(x)\nok = isinstance(layer, CuDNNLSTM)\n",
                 id="cudnn-layers"),
    pytest.param("from keras.layers.cudnn_recurrent import CuDNNLSTM\n",
                 "from keras.layers import LSTM as CuDNNLSTM\n", id="cudnn-module"),
    pytest.param("import keras\nrnn = keras.Sequential([keras.layers.SimpleRNN(batch_input_shape=(None, 28, 28), output_dim=50),\n"
                 "                         keras.layers.LSTM(output_dim=20), keras.layers.GRU(output_dim=8)])\n"
                 "emb = keras.layers.Embedding(100, output_dim=16)\nauto = keras.models.Model(input=inp, output=out)\n",
                 "import keras\nrnn = keras.Sequential([keras.layers.SimpleRNN(batch_input_shape=(None, 28, 28), units=50),\n"
                 "                         keras.layers.LSTM(units=20), keras.layers.GRU(units=8)])\n"
                 "emb = keras.layers.Embedding(100, output_dim=16)\nauto = keras.models.Model(inputs=inp, outputs=out)\n",
                 id="keras1-rnn-and-model-arguments"),
    pytest.param("import keras\nmodel.compile(loss='mse')\nmodel.fit(x, y, epochs=2, workers=4, use_multiprocessing=True)\n"
                 "p = model.predict(x, max_queue_size=10,verbose=0)\n",
                 "import keras\nmodel.compile(loss='mse')\nmodel.fit(x, y, epochs=2)\np = model.predict(x,verbose=0)\n",
                 id="queue-arguments"),
    pytest.param("from keras.callbacks import ModelCheckpoint, TensorBoard\n"
                 "cb = [ModelCheckpoint('m.keras', period=5), TensorBoard(log_dir='logs', batch_size=32, write_grads=True)]\n",
                 "from keras.callbacks import ModelCheckpoint, TensorBoard\n"
                 "cb = [ModelCheckpoint('m.keras'), TensorBoard(log_dir='logs')]\n", id="callback-arguments-dropped"),
    pytest.param("import keras\nmodel.compile(loss='mse')\nmodel.fit(x, y,  # data\n          workers=2,\n"
                 "          epochs=3,\n          max_queue_size=10)\n",
                 "import keras\nmodel.compile(loss='mse')\nmodel.fit(x, y,  # data\n\n"
                 "          epochs=3,\n          )\n", id="queue-arguments-alone-on-their-lines"),
    pytest.param("import keras\nfrom keras.preprocessing.image import ImageDataGenerator, load_img  # aug\n"
                 "from keras.preprocessing import text\nimport keras.preprocessing.sequence as kseq\n"
                 "t = text.Tokenizer(num_words=100)\ng = kseq.TimeseriesGenerator(x, y, length=3)\n",
                 "import keras\nfrom tensorflow.keras.preprocessing.image import ImageDataGenerator, load_img  # aug\n"
                 "from tensorflow.keras.preprocessing import text\nimport tensorflow.keras.preprocessing.sequence as kseq\n"
                 "t = text.Tokenizer(num_words=100)\ng = kseq.TimeseriesGenerator(x, y, length=3)\n",
                 id="legacy-names-from-tensorflow-keras"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['accuracy'])\n"
                 "cb = [keras.callbacks.EarlyStopping(monitor='val_acc'), keras.callbacks.ModelCheckpoint(\n"
                 "    'w-{epoch:02d}-{val_acc:.2f}.keras', monitor='val_loss')]\nhistory = model.fit(x, y, epochs=2, callbacks=cb)\n"
                 "plt.plot(history.history['acc'])\nh = history.history\nprint(h[\"val_acc\"], h['loss'])\n",
                 "import keras\nmodel.compile(loss='mse', metrics=['accuracy'])\n"
                 "cb = [keras.callbacks.EarlyStopping(monitor='val_accuracy'), keras.callbacks.ModelCheckpoint(\n"
                 "    'w-{epoch:02d}-{val_accuracy:.2f}.keras', monitor='val_loss')]\nhistory = model.fit(x, y, epochs=2, callbacks=cb)\n"
                 "plt.plot(history.history['accuracy'])\nh = history.history\nprint(h[\"val_accuracy\"], h['loss'])\n",
                 id="metric-read-as-keras2-logged-it"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=('mae',))\nh = model.fit(x, y, epochs=2)\n"
                 "m = h.history['val_mean_absolute_error']\n",
                 "import keras\nmodel.compile(loss='mse', metrics=('mae',))\nh = model.fit(x, y, epochs=2)\n"
                 "m = h.history['val_mae']\n", id="metric-short-name-compiled"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['accuracy'])\n"
                 "cb = keras.callbacks.ModelCheckpoint('w-{val_acc:.2f}-{epoch}.hdf5', monitor='val_acc')\n",
                 "import keras\nmodel.compile(loss='mse', metrics=['accuracy'])\n"
                 "cb = keras.callbacks.ModelCheckpoint('w-{val_accuracy:.2f}-{epoch}.keras', monitor='val_accuracy')\n",
                 id="path-ending-and-metric-field-in-one-literal"),
    pytest.param("import tensorflow as tf\nc = tf.keras.layers.Conv1D(32, 5, strides=1, padding='SAME')  # tf\n"
                 "p = tf.keras.layers.MaxPool1D(2, padding=\"VALID\")\n",
                 "import tensorflow as tf\nc = tf.keras.layers.Conv1D(32, 5, strides=1, padding='same')  # tf\n"
                 "p = tf.keras.layers.MaxPool1D(2, padding=\"valid\")\n", id="padding-in-upper-case"),
    pytest.param("import keras\nfrom keras import backend as K\n\nclass Halve(keras.callbacks.Callback):\n"
                 "    def on_epoch_end(self, epoch, logs=None):\n"
                 "        K.set_value(self.model.optimizer.lr, 0.5 * K.get_value(self.model.optimizer.lr))  # half\n",
                 "import keras\nfrom keras import backend as K\n\nclass Halve(keras.callbacks.Callback):\n"
                 "    def on_epoch_end(self, epoch, logs=None):\n"
                 "        self.model.optimizer.learning_rate.assign(0.5 * keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))  # half\n",
                 id="learning-rate-callback"),
    pytest.param("import tensorflow as tf\nmodel = tf.keras.models.load_model(p)\ntf.keras.backend.set_value(model.optimizer.lr,\n                           lr)\n"
                 "print(tf.keras.backend.eval(model.optimizer.lr))\n",
                 "import tensorflow as tf\nmodel = tf.keras.models.load_model(p)\nmodel.optimizer.learning_rate.assign(\n                           lr)\n"
                 "print(tf.keras.ops.convert_to_numpy(model.optimizer.learning_rate))\n", id="set-value-over-lines"),
    pytest.param("import keras\nopt = keras.optimizers.Adam(1e-3)\nopt.lr = 0.01\n"
                 "model = keras.Sequential()\nif not hasattr(model.optimizer, \"lr\"):\n    setattr(opt, 'lr', getattr(opt, 'lr'))\n"
                 "o2 = model.optimizer\nprint(o2.lr)\n",
                 "import keras\nopt = keras.optimizers.Adam(1e-3)\nopt.learning_rate = 0.01\n"
                 "model = keras.Sequential()\nif not hasattr(model.optimizer, \"learning_rate\"):\n    setattr(opt, 'learning_rate', getattr(opt, 'learning_rate'))\n"
                 "o2 = model.optimizer\nprint(o2.learning_rate)\n",
                 id="a-name-holding-an-optimizer"),
    pytest.param("from keras import backend as K\nK.update_add(self.step, 1)\nK.update(v[0] + 0, m)\nK.update_sub( w ,  2)\n",
                 "from keras import backend as K\nself.step.assign_add(1)\n(v[0] + 0).assign(m)\nw.assign_sub(2)\n",
                 id="variable-methods"),
    pytest.param("import tensorflow as tf\ntrain_loss = tf.keras.metrics.Mean(name='train_loss')\n\nclass T(tf.keras.callbacks.Callback):\n"
                 "    def __init__(self):\n        self.acc = tf.keras.metrics.Accuracy()\n\n"
                 "    def reset(self):\n        self.acc.reset_states()\n        for m in self.model.metrics:\n"
                 "            m.reset_states()\n\nfor epoch in range(2):\n    train_loss.reset_states()  # each epoch\n",
                 "import tensorflow as tf\ntrain_loss = tf.keras.metrics.Mean(name='train_loss')\n\nclass T(tf.keras.callbacks.Callback):\n"
                 "    def __init__(self):\n        self.acc = tf.keras.metrics.Accuracy()\n\n"
                 "    def reset(self):\n        self.acc.reset_state()\n        for m in self.model.metrics:\n"
                 "            m.reset_state()\n\nfor epoch in range(2):\n    train_loss.reset_state()  # each epoch\n",
                 id="metric-reset-states"),
    pytest.param("import numpy as np\nimport keras\nh = keras.layers.Dense(np.prod(shape), activation='relu')(z)\n"
                 "e = keras.layers.Embedding(np.max(tokens) + 1,\n                           output_dim=64)\n",
                 "import numpy as np\nimport keras\nh = keras.layers.Dense(int(np.prod(shape)), activation='relu')(z)\n"
                 "e = keras.layers.Embedding(int(np.max(tokens) + 1),\n                           output_dim=64)\n",
                 id="numpy-number-as-a-size"),
    pytest.param("import numpy as np\nimport keras\nd = keras.layers.Dense(output_dim=np.prod(s))\n"
                 "g = keras.layers.GRU(-np.min(s) * -1 if a else 3)\n",
                 "import numpy as np\nimport keras\nd = keras.layers.Dense(units=int(np.prod(s)))\n"
                 "g = keras.layers.GRU(int(-np.min(s) * -1 if a else 3))\n", id="numpy-number-keras1-keyword-unary-ifexp"),
    pytest.param("import numpy as np\nimport keras\nmodel.fit(gen, steps_per_epoch=len(x_train) / 32,  # per epoch\n"
                 "          validation_steps=np.ceil(n / 128))\nmodel.evaluate(g, steps=n // 32)\n",
                 "import numpy as np\nimport keras\nmodel.fit(gen, steps_per_epoch=int(np.ceil(len(x_train) / 32)),  # per epoch\n"
                 "          validation_steps=int(np.ceil(n / 128)))\nmodel.evaluate(g, steps=n // 32)\n", id="steps-as-a-float-numpy"),
    pytest.param("import math\nimport keras\nmodel.compile(loss='mse')\nmodel.predict(x, steps=2 * n / 3)\nd = keras.layers.Dense(n / 2)\n",
                 "import math\nimport keras\nmodel.compile(loss='mse')\nmodel.predict(x, steps=math.ceil(2 * n / 3))\nd = keras.layers.Dense(int(n / 2))\n",
                 id="steps-as-a-float-math"),
    pytest.param("import tensorflow as tf\nfrom tensorflow.keras import layers\n"
                 "a = tf.keras.Input(shape=(8,))\nb = layers.Dense(4)(a)\ndense = layers.Dense(4)\nc = dense(a)\n"
                 "print(tf.shape(b))\nx = tf.concat([b, c], axis=-1)\nx = layers.Dense(3)(x)\nx = tf.nn.relu(x) + b[:, :3]\n"
                 "out = tf.reduce_mean(tf.nn.softmax(x), axis=1, keepdims=True)\n",
                 "import tensorflow as tf\nfrom tensorflow.keras import layers\n"
                 "a = tf.keras.Input(shape=(8,))\nb = layers.Dense(4)(a)\ndense = layers.Dense(4)\nc = dense(a)\n"
                 "print(tf.keras.ops.shape(b))\nx = tf.keras.ops.concatenate([b, c], axis=-1)\nx = layers.Dense(3)(x)\n"
                 "x = tf.keras.ops.relu(x) + b[:, :3]\nout = tf.keras.ops.mean(tf.keras.ops.softmax(x), axis=1, keepdims=True)\n",
                 id="tensorflow-function-on-a-keras-tensor"),
    pytest.param("import tensorflow as tf\nimport keras\nclass MyDense(keras.layers.Layer):\n    pass\n"
                 "class Wider(MyDense):\n    pass\ndef build():\n    inputs = keras.Input((4,))\n"
                 "    x = Wider()(MyDense()(inputs))\n    return keras.Model(inputs, tf.nn.softmax(x))\n",
                 "import tensorflow as tf\nimport keras\nclass MyDense(keras.layers.Layer):\n    pass\n"
                 "class Wider(MyDense):\n    pass\ndef build():\n    inputs = keras.Input((4,))\n"
                 "    x = Wider()(MyDense()(inputs))\n    return keras.Model(inputs, keras.ops.softmax(x))\n",
                 id="tensorflow-function-after-a-layer-of-the-users"),
    pytest.param("import keras\ndef build():\n    a = keras.Input((1,))\n    m = keras.Model(a, [keras.layers.Dense(1)(a), a])\n"
                 "    return m\nmodel = build()\nmodel.compile(loss='mse', metrics=['mae',\n                                   'mse'])\n"
                 "outs = (a, a, a)\nthree = keras.Model(inputs=a, outputs=outs)\nthree.compile(loss='mse', metrics='acc')\n",
                 "import keras\ndef build():\n    a = keras.Input((1,))\n    m = keras.Model(a, [keras.layers.Dense(1)(a), a])\n"
                 "    return m\nmodel = build()\nmodel.compile(loss='mse', metrics=[['mae',\n                                   'mse']] * 2)\n"
                 "outs = (a, a, a)\nthree = keras.Model(inputs=a, outputs=outs)\nthree.compile(loss='mse', metrics=[['acc']] * 3)\n",
                 id="metrics-of-a-model-of-several-outputs"),
    pytest.param("import keras\nfrom keras import backend as K\nclass LRFinder:\n    def __init__(self, model):\n"
                 "        self.model = model\n    def on_batch_end(self, batch, logs):\n"
                 "        lr = K.get_value(self.model.optimizer.lr)\n        K.set_value(self.model.optimizer.lr, lr * 1.01)\n",
                 "import keras\nfrom keras import backend as K\nclass LRFinder:\n    def __init__(self, model):\n"
                 "        self.model = model\n    def on_batch_end(self, batch, logs):\n"
                 "        lr = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)\n"
                 "        self.model.optimizer.learning_rate.assign(lr * 1.01)\n",
                 id="lr-given-to-a-backend-function-in-a-plain-class"),
    pytest.param("import keras\nfrom tensorflow.keras.layers import Input, InputLayer\nN_IN = 20\nn = x_train.shape[-1]\n"
                 "a = keras.Input(shape=784)\nb = Input((784), name='b')\nc = keras.layers.Input(784)\nd = Input(shape=n)\n"
                 "e = Input(shape=(N_IN * 2))\nf = InputLayer(input_shape=len(x_train[0]))\ng = Input(\n    shape=784,  # pixels\n)\n",
                 "import keras\nfrom tensorflow.keras.layers import Input, InputLayer\nN_IN = 20\nn = x_train.shape[-1]\n"
                 "a = keras.Input(shape=(784,))\nb = Input((784,), name='b')\nc = keras.layers.Input((784,))\nd = Input(shape=(n,))\n"
                 "e = Input(shape=(N_IN * 2,))\nf = InputLayer(input_shape=(len(x_train[0]),))\ng = Input(\n    shape=(784,),  # pixels\n)\n",
                 id="an-int-as-an-inputs-shape"),
    pytest.param("import keras\nclass MyDense(keras.layers.Layer):\n    def build(self, input_shape):\n"
                 "        self.kernel = self.add_variable('kernel',\n                                        shape=[input_shape[-1], 8])\n"
                 "        self.bias = self.add_weight(f'{self.name}_b', (8,), 'float32', 'zeros')\n",
                 "import keras\nclass MyDense(keras.layers.Layer):\n    def build(self, input_shape):\n"
                 "        self.kernel = self.add_weight(name='kernel',\n                                        shape=[input_shape[-1], 8])\n"
                 "        self.bias = self.add_weight(name=f'{self.name}_b', shape=(8,), dtype='float32', initializer='zeros')\n",
                 id="a-weight-named-first"),
]


@pytest.mark.parametrize("before, after", KERAS2)
def test_a_keras2_form_is_rewritten_and_nothing_else_changes(before, after):
    assert upgraded(before) == after


@pytest.mark.parametrize("before, after", KERAS2)
def test_keras2_upgrade_is_idempotent(before, after):
    once = upgraded(before)
    assert upgraded(once) == once
    assert analyze_text(once).diagnostics == ()


@pytest.mark.parametrize("text", [
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['acc'])\nmodel.compile(loss='mse', metrics=METRICS)\n",
                 id="metrics-list-or-name"),
    pytest.param("from keras import backend as K\nK.clear_session()\ne = K.epsilon() * K.floatx()\n", id="backend-kept"),
    pytest.param("import keras\nimport numpy as K\nz = K.sum(x) + K.square(x)\n", id="K-not-keras"),
    pytest.param("import keras\nz = keras.backend.argmax(x)\n", id="not-in-the-table"),
    pytest.param("import tf_keras\nfrom tf_keras import backend as K\nz = K.sum(x)\n", id="tf_keras-keeps-its-backend"),
    pytest.param("import keras\nlog = load()\na = log.history['lr']\nh = model.fit(x, y, epochs=2)\nb = h.history['loss']\n",
                 id="history-not-of-a-fit-or-not-lr"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['accuracy'])\nh = model.fit(x, y, epochs=2)\n"
                 "logs = other\na = logs['val_acc'] + logs['lr']\n", id="a-name-holding-another-name-is-no-history"),
    pytest.param("import keras\ncb = keras.callbacks.ModelCheckpoint('best.h5')\nc2 = keras.callbacks.ModelCheckpoint('m.keras')\n"
                 "c3 = keras.callbacks.ModelCheckpoint(path, save_weights_only=True)\n"
                 "c4 = keras.callbacks.ModelCheckpoint(d + '/w.h5', save_weights_only=True)\n"
                 "model.fit(x, epochs=1)\nmodel.save('m.h5')\nmodel.save_weights('m.weights.h5')\n"
                 "img.save('out')\nnp.save('arr', x)\n", id="paths-keras3-takes-or-not-a-literal"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['acc'])\nh = model.fit(x, y, epochs=2)\n"
                 "a = h.history['val_acc']\ncb = keras.callbacks.EarlyStopping(monitor='val_acc')\n", id="metric-read-as-compiled"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=[keras.metrics.BinaryAccuracy(name='acc')])\n"
                 "h = model.fit(x, y, epochs=2)\na = h.history['val_acc']\n", id="metric-object-named-by-the-user"),
    pytest.param("import keras\nmodel.compile(loss='mse', metrics=['acc', 'accuracy'])\nother = {'acc': 1}\n"
                 "h = model.fit(x, y, epochs=2)\na = h.history['val_mean_absolute_error'] + other['acc']\n",
                 id="metric-both-names-compiled-or-not-a-history"),
    pytest.param("import tensorflow as tf\nimport keras\ny = tf.nn.conv2d(x, w, strides=1, padding='SAME')\n"
                 "c = keras.layers.Conv2D(8, 3, padding='same')\n", id="padding-of-tensorflow-or-lower-case"),
    pytest.param("import keras\nfrom tensorflow.keras.preprocessing.image import ImageDataGenerator\n"
                 "from keras.preprocessing.image import load_img\nfrom keras.preprocessing import image\n"
                 "a = image.img_to_array(load_img(p))\n", id="legacy-names-kept-or-already-from-tensorflow"),
    pytest.param("import keras\nschedule.lr = 3\nprint(args.lr)\nopt = make()\nopt.lr = 2\nmodel.optimizer.learning_rate.assign(0.1)\n"
                 "a = hasattr(args, 'lr') and getattr(model.optimizer, 'name')\n"
                 "import numpy as np\nd = keras.layers.Dense(len(np.unique(y)))\nf = keras.layers.Dense(int(np.prod(s)))\n"
                 "g = keras.layers.Dense(mylib.prod(s))\nc = keras.layers.Conv2D(np.max(f), 3)\n"
                 "lstm = keras.layers.LSTM(4, stateful=True)\nlstm.reset_states()\nmodel.reset_states()\nfor m in metrics:\n    m.reset_states()\n"
                 "cfg = load()\nprint(cfg.optimizer.lr, hasattr(cfg.optimizer, 'lr'))\nfor m in cfg.metrics:\n    m.reset_states()\n"
                 "class Trainer:\n    def step(self):\n        self.optimizer.lr = 0.1\n        self.model.optimizer.lr = 0.2\n"
                 "v = keras.ops.convert_to_numpy(model.optimizer.learning_rate)\n"
                 "class Finder:\n    def __init__(self, model):\n        self.model = model\n"
                 "    def show(self):\n        print(self.model.optimizer.lr, keras.ops.convert_to_numpy(self.lr))\n",
                 id="lr-of-no-optimizer-or-keras3-forms"),
    pytest.param("import keras\na = keras.Input((1,))\none = keras.Model(a, keras.layers.Dense(1)(a))\n"
                 "one.compile(loss='mse', metrics=['mae'])\ntwo = keras.Model(a, [a, a])\n"
                 "two.compile(loss='mse', metrics=[['mae'], ['mse']])\ntwo.compile(loss='mse', metrics=[keras.metrics.AUC()])\n"
                 "named = keras.Model(a, {'y1': a, 'y2': a})\nnamed.compile(loss='mse', metrics=['mae'])\n"
                 "other = make()\nother.compile(loss='mse', metrics=['mae'])\n", id="metrics-of-one-output-nested-or-unknown"),
    pytest.param("import tensorflow as tf\nimport keras\nx = tf.constant([1.0])\ny = tf.nn.relu(x)\n"
                 "def f(t):\n    return tf.concat([t, t], 0)\nclass L(keras.layers.Layer):\n"
                 "    def call(self, inputs):\n        return tf.nn.softmax(inputs)\n"
                 "inputs = keras.Input((4,))\nz = keras.ops.tanh(keras.layers.Dense(2)(inputs))\nw = tf.nn.relu(np_array)\n",
                 id="tensorflow-functions-on-real-tensors"),
    pytest.param("import keras\nfrom keras.layers import Dense\nfrom keras.preprocessing.sequence import pad_sequences\n"
                 "from mylib.layers.core import Block\nfrom .layers.core import Other\n", id="modules-keras3-has"),
    pytest.param("import keras\nSHAPE = (28, 28)\nn = cfg.width\na = keras.Input(shape=(784,))\nb = keras.Input(SHAPE)\n"
                 "c = keras.Input(shape=x.shape[1:])\nd = keras.Input(shape=n)\ne = keras.Input(shape=(None,), dtype='int32')\n"
                 "r = keras.layers.Reshape((784,))\n", id="shapes-as-tuples-or-unknown"),
    pytest.param("import keras\nclass L(keras.layers.Layer):\n    def build(self, shape):\n"
                 "        self.w = self.add_weight(name='w', shape=(3,))\n        self.v = self.add_variable((3,), 'zeros')\n"
                 "        self.u = self.add_weight((2, 2), initializer='ones', name='u')\nother.add_variable('x', 1)\n",
                 id="weights-in-keras3-order-or-not-a-layers"),
])
def test_what_keras3_takes_is_left_byte_for_byte(text):  # no-op
    assert renamed_text(analyze_text(text)) == (text, [], [])


def test_a_weight_named_first_optpar_cannot_rewrite_safely_is_reported():
    text = ("import keras\nclass L(keras.layers.Layer):\n    def build(self, shape):\n"
            "        self.w = self.add_weight('w', (3,), name='again')\n"
            "        self.v = self.add_weight('v', (3,), None, 'zeros', None, True, None, 'mean')\n")
    fixed_text, done, left = renamed_text(analyze_text(text))
    assert fixed_text == text and not done and [d.code for d in left] == ["OPT240", "OPT240"]


def test_a_backend_form_optpar_cannot_rewrite_safely_is_reported():
    text = ("from keras import backend as K\nfrom keras.backend import sum as ksum\nops = []\n"
            "a = K.mean(x)\nb = ksum(x)\nc = K.square(\n    x)\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # `ops` is taken; a bare name's import itself fails on Keras 3
    assert [(d.code, d.line) for d in left] == [("OPT221", 4), ("OPT221", 5), ("OPT221", 6)]
    assert left[0].message == "Keras 2 backend function 'mean' is gone from Keras 3; use 'keras.ops.mean'"


def test_a_tensorflow_function_with_arguments_keras_ops_names_otherwise_is_reported_only():
    text = ("import tensorflow as tf\nimport keras\na = keras.Input((4,))\n"
            "b = tf.matmul(a, w, transpose_b=True)\nc = tf.nn.relu(a, name='r')\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []
    assert [(d.code, d.line) for d in left] == [("OPT237", 4), ("OPT237", 5)]
    assert left[0].message == ("TensorFlow function 'tf.matmul' on a Keras tensor fails in Keras 3 while the "
                               "model is built; use 'keras.ops.matmul'")


def test_a_backend_write_optpar_cannot_rewrite_safely_is_reported():
    text = ("from keras import backend as K\nfrom keras.backend import set_value\n"
            "K.set_value(x=v, value=1)\nK.set_value(\n    v, 1)\nset_value(v, 2)\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # keywords, a variable on the next line, the name imported alone
    assert [(d.code, d.line) for d in left] == [("OPT231", 3), ("OPT231", 4), ("OPT231", 6)]
    assert left[2].message == ("Keras 2 backend function 'set_value' is gone from Keras 3; "
                               "call the variable's method: v.assign(...)")


def test_steps_as_a_float_with_neither_math_nor_numpy_imported_is_reported_only():
    text = "import keras\nmodel = keras.Sequential()\nmodel.fit(x, steps_per_epoch=len(x) / 32)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []
    assert [(d.code, d.line, d.message) for d in left] == [
        ("OPT236", 3, "steps_per_epoch=len(x) / 32 is a float, which Keras 3 refuses: it takes an int "
                      "(Keras 2 ran its last partial batch too); pass math.ceil(...)")]


def test_a_module_read_by_its_full_path_is_reported_only():
    text = "import keras.layers.core\nd = keras.layers.core.Dense(4)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # `import keras.layers` would leave `keras.layers.core` unbound
    assert [(d.code, d.line, d.col) for d in left] == [("OPT223", 1, 8)]
    assert left[0].message == "Keras 2 module 'keras.layers.core' is gone from Keras 3; import from 'keras.layers'"


def test_a_module_imported_beside_other_names_is_reported_only():
    text = "from keras.utils import np_utils, to_categorical\n"
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # `from keras import utils as np_utils` would drop to_categorical
    assert [(d.code, d.line, d.col) for d in left] == [("OPT223", 1, 25)]


def test_a_generator_method_with_positions_is_reported_only():
    text = "import keras\nmodel.compile(loss='mse')\nmodel.fit_generator(gen, 10, 5)\nother.fit_generator(gen)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # fit(gen, 10, 5) would read 10 as y; `other` is not known as a model
    assert [(d.code, d.line, d.col) for d in left] == [("OPT225", 3, 7)]
    assert left[0].message == ("Keras 2 method 'fit_generator' is gone from Keras 3; use 'fit' with its "
                               "arguments by keyword (their positions differ)")


@pytest.mark.parametrize("compiled", [
    "model.compile(optimizer='adam', loss='binary_crossentropy')\n",  # one sigmoid unit (a threshold), or one per label
    "model.compile(optimizer='adam', loss=loss)\n",  # a loss the file computes
    "model.compile(loss='categorical_crossentropy')\nmodel.compile(loss='mse')\n",  # two losses
])
def test_predict_classes_is_reported_only_where_the_output_is_not_one_unit_per_class(compiled):
    text = "import keras\n" + compiled + "y = model.predict_classes(x)\n"
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []
    assert [d.code for d in left] == ["OPT225"]
    assert left[0].message == ("Keras 2 method 'predict_classes' is gone from Keras 3; use 'predict' and take the "
                               "class: 'predict(x).argmax(axis=-1)' for one output unit per class, "
                               "'(predict(x) > 0.5).astype(\"int32\")' for a single sigmoid unit")


def test_a_path_two_calls_need_ended_differently_is_reported_only():
    text = ("import keras\npath = 'model.hdf5'\nmodel.fit(x, epochs=1)\n"
            "model.save_weights(path)\ncb = keras.callbacks.ModelCheckpoint(path)\n")
    new, done, left = renamed_text(analyze_text(text))
    assert new == text and done == []  # weights want '.weights.h5', a model checkpoint '.keras'
    assert [(d.code, d.line, d.col) for d in left] == [("OPT224", 2, 8)]


def test_a_save_path_message_names_the_call_and_the_ending():
    diag, = analyze_text("import keras\nmodel.fit(x, epochs=1)\nmodel.save_weights('init.h5')\n").diagnostics
    assert (diag.code, diag.line, diag.col) == ("OPT224", 3, 20)
    assert diag.message == ("Keras 3's Model.save_weights does not save to 'init.h5': the path must end in "
                            "'.weights.h5'; use 'init.weights.h5' (optpar upgrade rewrites it)")


TUTORIAL_SAVES = ("import keras\nmodel.fit(x, y, epochs=1)\n"
                  "model.save_weights('./checkpoints/my_checkpoint')\nmodel.save('saved_model/my_model')\n")


def test_a_tensorflow_save_path_in_a_folder_is_renamed_and_the_folder_to_make_is_named():
    new, done, left = renamed_text(analyze_text(TUTORIAL_SAVES))
    assert new == ("import keras\nmodel.fit(x, y, epochs=1)\n"
                   "model.save_weights('./checkpoints/my_checkpoint.weights.h5')\nmodel.save('saved_model/my_model.keras')\n")
    assert [(d.code, d.line, d.col) for d in done] == [("OPT224", 3, 20), ("OPT224", 4, 12)]
    assert [(d.code, d.line, d.col) for d in left] == [("OPT224", 3, 20), ("OPT224", 4, 12)]
    assert left[0].message == ("Keras 3's Model.save_weights does not make the folder './checkpoints' of "
                               "'./checkpoints/my_checkpoint.weights.h5' (TensorFlow's format did): make it before "
                               "saving, e.g. os.makedirs('./checkpoints', exist_ok=True)")
    # Upgraded, the paths are Keras 3's: nothing is left to say (idempotent).
    assert renamed_text(analyze_text(new)) == (new, [], [])


@pytest.mark.parametrize("text", [
    # the file makes its folders (a notebook's `!mkdir -p saved_model` reads the same)
    "import os\n" + TUTORIAL_SAVES + "os.makedirs('checkpoints', exist_ok=True)\n",
    # ModelCheckpoint makes its folder itself
    "import keras\ncb = keras.callbacks.ModelCheckpoint('training_1/cp.ckpt', save_weights_only=True)\n",
    # no folder
    "import keras\nmodel.fit(x, y, epochs=1)\nmodel.save_weights('my_checkpoint')\n",
    # an h5 file: Keras 2 did not make its folder either
    "import keras\nmodel.fit(x, y, epochs=1)\nmodel.save_weights('out/w.h5')\n",
], ids=["makedirs", "checkpoint-callback", "no-folder", "h5-in-a-folder"])
def test_no_folder_to_make_is_named_where_one_exists_or_keras_makes_it(text):
    new, done, left = renamed_text(analyze_text(text))
    assert done and new != text
    assert left == []


def test_scan_says_what_upgrade_rewrites(run_cli, tmp_path):
    path = tmp_path / "old.py"
    path.write_text("import keras\nmodel.compile(loss='mse', metrics='acc')\n", encoding="utf-8")
    code, out, err = run_cli("scan", path, "--format", "flake8")
    assert code == 0 and (f"{path}:2:35: OPT220 Keras 2 string metrics='acc' is rejected by Keras 3; "
                          f"use a list: metrics=['acc'] (optpar upgrade rewrites it)") in out


def test_cli_shows_a_diff_by_default_and_writes_only_in_place(run_cli, tmp_path):
    path = tmp_path / "old.py"
    text = HEAD + "opt = keras.optimizers.Adam(lr=1e-3)\n"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("upgrade", path)
    assert code == 0 and "-opt = keras.optimizers.Adam(lr=1e-3)" in out and "+opt = keras.optimizers.Adam(learning_rate=1e-3)" in out
    assert path.read_text(encoding="utf-8") == text
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 0 and out == f"{path}:3:29: OPT202 lr -> learning_rate\n"
    assert path.read_text(encoding="utf-8") == text.replace("lr=", "learning_rate=")
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert (code, out, err) == (0, "", f"{path}: no Keras 1 or 2 form to rewrite\n")


def test_cli_bad_input_is_one_line_and_nothing_written(run_cli, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("import keras\nkeras.optimizers.SGD(lr=0.1\n", encoding="utf-8")
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 2 and err.startswith(f"{path}:") and "error:" in err and len(err.splitlines()) == 1
    assert path.read_text(encoding="utf-8") == "import keras\nkeras.optimizers.SGD(lr=0.1\n"


def test_a_notebook_is_upgraded_in_its_cell_and_keeps_the_rest(run_cli, tmp_path):
    path = tmp_path / "old.ipynb"
    nb = new_notebook(cells=[new_markdown_cell("# Old model"), new_code_cell("import keras\n%matplotlib inline"),
                             new_code_cell("opt = keras.optimizers.RMSprop(lr=0.001)")])
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="kept\n")]
    nbformat.write(nb, path)
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 0 and out == f"{path}:cell_3:1:32: OPT202 lr -> learning_rate\n"
    after = nbformat.read(path, as_version=4)
    assert after.cells[2].source == "opt = keras.optimizers.RMSprop(learning_rate=0.001)"
    assert after.cells[1].source == "import keras\n%matplotlib inline"
    assert after.cells[0] == nb.cells[0] and after.cells[2].outputs == nb.cells[2].outputs


def test_a_notebook_gets_its_keras2_forms_rewritten_in_their_cells(run_cli, tmp_path):
    path = tmp_path / "old.ipynb"
    nb = new_notebook(cells=[new_code_cell("import keras\nfrom keras import backend as K"),
                             new_code_cell("def loss(y, p):\n    return K.mean(K.square(y - p))"),
                             new_code_cell("model.compile(loss=loss, metrics='mae')")])
    nbformat.write(nb, path)
    code, out, err = run_cli("upgrade", path, "--in-place")
    assert code == 0 and out.splitlines() == [f"{path}:cell_2:2:12: OPT221 K.mean -> keras.ops.mean",
                                              f"{path}:cell_2:2:19: OPT221 K.square -> keras.ops.square",
                                              f"{path}:cell_3:1:34: OPT220 'mae' -> ['mae']"]
    after = nbformat.read(path, as_version=4)
    assert [c.source for c in after.cells] == ["import keras\nfrom keras import backend as K",
                                               "def loss(y, p):\n    return keras.ops.mean(keras.ops.square(y - p))",
                                               "model.compile(loss=loss, metrics=['mae'])"]


def run_before_and_after_upgrade(script, run_cli):
    """The script run as written, then `optpar upgrade --in-place` (which must succeed), then the
    script run again: (before, after) as completed processes."""
    def run():
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                              cwd=script.parent)

    before = run()
    assert run_cli("upgrade", script, "--in-place")[0] == 0
    return before, run()


def test_an_upgraded_keras1_script_trains_on_keras3(tmp_path, run_cli):
    script = tmp_path / "old.py"
    script.write_text(
        "import numpy as np\nimport keras\n"
        "x = np.random.default_rng(0).random((32, 3)).astype('float32'); y = x.sum(axis=1)\n"
        "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, init='glorot_uniform'), keras.layers.Dense(1)])\n"
        "model.compile(optimizer=keras.optimizers.SGD(lr=0.01), loss='mse')\n"
        "model.fit(x, y, nb_epoch=2, verbose=0)\nprint('trained')\n", encoding="utf-8")
    before, after = run_before_and_after_upgrade(script, run_cli)
    assert before.returncode != 0 and "ecognized" in before.stderr  # Keras 3 rejects the Keras 1 names
    assert after.returncode == 0 and after.stdout.strip() == "trained", after.stderr[-2000:]


def test_an_upgraded_keras2_script_trains_on_keras3(tmp_path, run_cli):
    script = tmp_path / "old.py"
    script.write_text(
        "import numpy as np\nimport keras\nfrom keras import backend as K\nfrom keras.layers.core import Dense\n"
        "x = np.random.default_rng(0).random((32, 3)).astype('float32'); y = x.sum(axis=1, keepdims=True)\n"
        "def rmse(y_true, y_pred):\n    return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1) + K.epsilon())\n"
        "class Halve(keras.callbacks.Callback):\n    def on_epoch_end(self, epoch, logs=None):\n"
        "        K.set_value(self.model.optimizer.lr, K.get_value(self.model.optimizer.lr) / 2)\n"
        "model = keras.Sequential([keras.Input(3), Dense(4), keras.layers.Dense(np.prod(y.shape[1:]))])\n"
        "model.compile(optimizer='sgd', loss=rmse, metrics='mae')\n"
        "history = model.fit(x, y, epochs=1, verbose=0, workers=1, callbacks=[Halve(), keras.callbacks.ReduceLROnPlateau(monitor='loss'),\n"
        "    keras.callbacks.ModelCheckpoint('best.hdf5', monitor='loss')])\n"
        "model.save_weights('final.h5')\nmodel = keras.models.load_model('best.hdf5', custom_objects={'rmse': rmse})\n"
        "p = model.predict_generator(((b,) for b in [x]), steps=1, verbose=0)\n"
        "model.evaluate(x, y, steps=len(x) / 32, verbose=0)\n"
        "print('trained', len(history.history['lr']), f'{float(K.get_value(model.optimizer.lr)):.4f}')\n", encoding="utf-8")
    before, after = run_before_and_after_upgrade(script, run_cli)
    assert before.returncode != 0 and "No module named 'keras.layers.core'" in before.stderr
    assert after.returncode == 0 and after.stdout.strip() == "trained 1 0.0050", after.stderr[-2000:]  # halved once


def test_an_upgraded_model_of_two_outputs_logs_each_outputs_metrics(tmp_path, run_cli):
    """Keras 3 refuses one list of metrics for two outputs; upgraded, each output gets them all,
    under the names Keras 2 logged (y1_mae, y2_mae)."""
    script = tmp_path / "two.py"
    script.write_text(
        "import numpy as np\nimport tensorflow as tf\nimport keras\n"
        "a = keras.Input((2,), name='x')\nb = keras.layers.Dense(2)(a)\nc = keras.layers.Dense(2)(a)\n"
        "both = tf.concat([b, c], axis=-1)\n"
        "model = keras.Model(a, [keras.layers.Dense(1, name='y1')(both), keras.layers.Dense(1, name='y2')(both)])\n"
        "model.compile(optimizer='sgd', loss='mse', metrics=['mae'])\n"
        "x = np.ones((8, 2), 'float32')\nh = model.fit(x, [x[:, :1], x[:, 1:]], epochs=1, verbose=0)\n"
        "print(sorted(h.history))\n", encoding="utf-8")
    before, after = run_before_and_after_upgrade(script, run_cli)
    assert before.returncode != 0 and "KerasTensor cannot be used as input to a TensorFlow function" in before.stderr
    assert after.returncode == 0, after.stderr[-2000:]
    assert after.stdout.strip() == "['loss', 'y1_loss', 'y1_mae', 'y2_loss', 'y2_mae']"
