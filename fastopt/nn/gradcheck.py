"""Numerical gradients by central differences (the book's ``common/gradient.py``)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray


def numerical_gradient(f: Callable[[], float], x: NDArray[Any], h: float = 1e-4) -> NDArray[Any]:
    """∂f/∂x by central differences, perturbing *x* in place and restoring it.

    ``f`` is called with no argument (it reads *x* through the model, as the
    book's networks do). Cost: 2·x.size evaluations of f.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous: numerical_gradient perturbs it in place")
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = f()
        flat[i] = saved - h
        f_minus = f()
        flat[i] = saved
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad.astype(x.dtype, copy=False)

