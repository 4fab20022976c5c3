"""Accelerator memory, per Keras backend, so that trials running at the same time (Spark on one
machine, a notebook beside a search) share a GPU and one trial's freed memory serves the next:

* TensorFlow: memory growth instead of taking the whole card (`enable_gpu_memory_growth`, once
  TensorFlow is imported);
* JAX: no preallocation of 75 % of the card (`XLA_PYTHON_CLIENT_PREALLOCATE=false`);
* torch: expandable segments, so the blocks of one trial's model are reused by the next instead
  of fragmenting (`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`).

The two variables are read when the backend starts, so `share_devices()` runs when the runtime is
imported (a generated script imports it before anything else, a Spark worker before it unpickles
a trial). A value already in the environment wins. Nothing is imported here; no-ops on CPU.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

ENVIRONMENT = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}


def share_devices(environ: MutableMapping[str, str] = os.environ) -> None:
    """The JAX and torch allocator settings, unless the user chose their own."""
    for name, value in ENVIRONMENT.items():
        environ.setdefault(name, value)


def enable_gpu_memory_growth() -> None:
    """Let TensorFlow allocate GPU memory as needed (no-op on CPU and on other backends)."""
    try:
        import keras

        if keras.backend.backend() != "tensorflow":
            return
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):
                pass  # already initialised: nothing to do any more
    except Exception:
        pass
