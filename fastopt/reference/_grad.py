"""The gradient transform every update kernel applies first, in plain NumPy.

Order (identical in every backend): decoupled decay of the parameter, then
``x = g * gscale`` (maximize and global-norm clipping folded into one factor),
then clamping to ``[-clip, clip]`` when ``clip > 0``, then coupled weight decay
``x + wd * p``.
"""
from __future__ import annotations

import numpy as np

from ._types import FloatArray, Real


def decay_param(p: FloatArray, decay: Real) -> None:
    if decay != 1:
        p *= decay


def transformed_grad(p: FloatArray, g: FloatArray, gscale: Real, clip: Real,
                     wd: Real) -> FloatArray:
    x = g
    if gscale != 1:
        x = x * gscale
    if clip > 0:
        x = np.minimum(np.maximum(x, -clip), clip)
    if wd != 0:
        x = x + wd * p
    return x
