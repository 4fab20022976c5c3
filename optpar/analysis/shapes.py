"""Sizes a model's shape depends on (roles.csv's `upsampling` and `downsampling` rows).

In a file that upsamples (`UpSampling2D`, `Conv2DTranspose`: an autoencoder, a U-Net, a decoder),
the pooling sizes are held as written. Such a model gives back its input's size: the upsampling
multiplies back by the sizes the pooling divided by, so a pooling size tuned alone (2 to 3) fails
every trial that draws it, on the shape (keras-io's denoising autoencoder: 2 of 3 trials). A file
that only pools keeps its pooling sizes tuned.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from optpar.csvrows import Key
from optpar.roles import Roles


def coupled_sizes(roles: Roles, keyed: Sequence[tuple[ast.Call, Key]]) -> frozenset[tuple[int, str]]:
    """(id of a call, parameter) for each downsampling size held because the file upsamples."""
    if not any(key in roles.upsampling for _, key in keyed):
        return frozenset()
    return frozenset((id(call), param) for call, key in keyed for k, param in roles.downsampling if k == key)
