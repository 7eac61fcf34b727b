"""Gradient clipping on a mapping or sequence of gradient arrays (in place).

The optimizers can clip for you (``max_grad_norm=``, ``clip_value=``) without
touching your gradient arrays; these functions are for doing it yourself.
"""
from __future__ import annotations

import math
from typing import Any, List, Mapping, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .. import _backend
from .._validate import check_float

#: Gradients: a mapping name -> float array, or a sequence of float arrays.
Grads = Union[Mapping[Any, NDArray[Any]], Sequence[NDArray[Any]]]


def _arrays(grads: Any, name: str = "grads") -> List[Tuple[Any, NDArray[Any]]]:
    items = list(grads.items()) if hasattr(grads, "items") else list(enumerate(grads))
    for key, g in items:
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(f"{name}[{key!r}] must be a float ndarray, got "
                            f"{getattr(g, 'dtype', type(g).__name__)}")
    return items


def global_norm(grads: Grads) -> float:
    """L2 norm of all gradients together, as one float.

    Computed with the blocked float64 sum of squares of the active backend, so
    the value does not depend on the thread count.
    """
    kernels = _backend.kernels()
    total = 0.0
    for _, g in _arrays(grads):
        total += kernels.sumsq(np.ascontiguousarray(g).reshape(-1))
    return math.sqrt(total)


def clip_grad_norm(grads: Grads, max_norm: float) -> float:
    """Scale all gradients in place so their global norm is at most *max_norm*.

    Uses PyTorch's rule ``coef = max_norm / (norm + 1e-6)``, applied only when
    below 1. Returns the norm before clipping. A non-finite norm leaves the
    gradients unchanged (check the returned value).
    """
    max_norm = check_float("max_norm", max_norm, low=0.0, low_open=True)
    items = _arrays(grads)
    _check_writeable(items)
    norm = global_norm(grads)
    coef = max_norm / (norm + 1e-6)
    if math.isfinite(norm) and coef < 1.0:
        for _, g in items:
            g *= g.dtype.type(coef)
    return norm


def clip_grad_value(grads: Grads, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place."""
    clip_value = check_float("clip_value", clip_value, low=0.0, low_open=True)
    items = _arrays(grads)
    _check_writeable(items)
    for _, g in items:
        np.clip(g, -clip_value, clip_value, out=g)


def _check_writeable(items: List[Tuple[Any, NDArray[Any]]]) -> None:
    for key, g in items:
        if not g.flags.writeable:
            raise ValueError(f"grads[{key!r}] is read-only; clipping works in place")
