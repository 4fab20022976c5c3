"""The random state of Python, NumPy, Keras and TensorFlow: taken where the user's training
starts, restored before every trial (on Spark, in the worker), so trial 1 is the user's own run
and the best trial runs again as reported."""

from __future__ import annotations

import random
import sys


def _tf_context():
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.eager import context

        return context.context()
    except Exception:
        return None


def take() -> dict:
    """The random state, as plain picklable values (Spark ships it to its workers)."""
    import keras
    import numpy as np
    from keras.src.backend.common import global_state

    snapshot = {"python": random.getstate(), "numpy": np.random.get_state(),
                "keras_seed": global_state.get_global_attribute("global_random_seed")}
    generator = global_state.get_global_attribute("global_seed_generator")
    if generator is not None:
        snapshot["keras_generator"] = (generator._initial_seed, np.asarray(generator.state.value))
    ctx = _tf_context()
    if ctx is not None and getattr(ctx, "_rng", None) is not None:
        snapshot["tf"] = (ctx._seed, ctx._rng.getstate())
    if keras.backend.backend() == "torch":
        import torch

        snapshot["torch"] = torch.random.get_rng_state()
    return snapshot


def restore(snapshot: dict) -> None:
    """Put back what `take` took; after `clear_session()` (which forgets the seed
    `keras.utils.set_random_seed` recorded)."""
    import numpy as np
    from keras.src.backend.common import global_state

    global_state.set_global_attribute("global_random_seed", snapshot["keras_seed"])
    if "keras_generator" in snapshot:
        from keras.src.random.seed_generator import SeedGenerator

        seed, value = snapshot["keras_generator"]
        generator = SeedGenerator(seed if seed is not None else 0)
        generator.state.assign(value)
        global_state.set_global_attribute("global_seed_generator", generator)
    ctx = _tf_context()
    if ctx is not None:
        if "tf" in snapshot:
            seed, rng_state = snapshot["tf"]
            ctx._set_global_seed(seed)
            ctx._rng.setstate(rng_state)
        elif getattr(ctx, "_rng", None) is not None:
            ctx._seed, ctx._rng = None, None
    if "torch" in snapshot:
        import torch

        torch.random.set_rng_state(snapshot["torch"])
    random.setstate(snapshot["python"])
    np.random.set_state(snapshot["numpy"])
