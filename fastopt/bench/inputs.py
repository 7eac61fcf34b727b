"""The inputs every implementation of a case is timed on: the same arrays for all of them.

Deterministic (seeded ``np.random.default_rng``), float32 unless asked otherwise;
fastopt's own implementations (:mod:`fastopt.bench.ours`), the streaming bound
(:mod:`fastopt.bench.stream`) and the peers (:mod:`fastopt.bench.peers`) draw
from here, so a comparison is on identical data.
"""
from __future__ import annotations

from typing import Union

import numpy as np

from .cases import BOOK_NET, BOOK_SCRIPT_BATCH, DROPOUT_P, DTYPE, PLAIN, TRAIN_BATCH, Case

Shape = Union[int, "tuple[int, ...]"]


def random_array(shape: Shape, seed: int, scale: float = 1.0,
                 dtype: np.dtype = DTYPE) -> np.ndarray:
    """Uniform values in [-scale/2, scale/2) of *dtype* (cheap even at 1e7 elements)."""
    rng = np.random.default_rng(seed)
    a = rng.random(shape, dtype=np.float32)
    a -= np.float32(0.5)
    if scale != 1.0:
        a *= np.float32(scale)
    return a.astype(dtype, copy=False)


def book_net_arrays(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(params, grads): the book network's 10 float32 arrays and gradients of the same shapes."""
    params = {name: random_array(shape, seed + i, 0.1) for i, (name, shape) in enumerate(BOOK_NET)}
    grads = {name: random_array(shape, 100 + seed + i, 1e-2) for i, (name, shape) in enumerate(BOOK_NET)}
    return params, grads


def train_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, t): a float32 batch of TRAIN_BATCH MNIST-sized inputs and integer labels."""
    rng = np.random.default_rng(seed)
    return rng.random((TRAIN_BATCH, 784), dtype=np.float32), rng.integers(0, 10, TRAIN_BATCH)


def book_script_batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, t): a float32 batch of BOOK_SCRIPT_BATCH inputs in [0, 1) and integer labels."""
    rng = np.random.default_rng(seed)
    return (rng.random((BOOK_SCRIPT_BATCH, 784), dtype=np.float32),
            rng.integers(0, 10, BOOK_SCRIPT_BATCH))


def kernel_args(case: Case, dtype: np.dtype = DTYPE) -> list[Union[bool, np.floating]]:
    """The scalars an optimizer case's kernel is called with, cast as the optimizers do."""
    return [s if isinstance(s, bool) else dtype.type(s) for s in case.scalars + PLAIN]


def batchnorm_arrays(shape: tuple[int, ...], seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, dout, gamma, beta) for a batch-norm case, float32."""
    n, d = shape
    x = random_array((n, d), seed, 4.0) + np.float32(1.0)
    dout = random_array((n, d), seed + 1)
    gamma = 1.0 + random_array(d, seed + 2, 0.2)
    beta = random_array(d, seed + 3, 0.2)
    return x, dout, gamma, beta


def dropout_args(p: float = DROPOUT_P, dtype: np.dtype = DTYPE
                 ) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64, np.floating]:
    """(seed, stream, offset, threshold, scale) of an inverted dropout with ratio *p*."""
    from ..reference.rng import keep_threshold

    return (np.uint64(12345), np.uint64(7), np.uint64(0), np.uint64(keep_threshold(p)),
            dtype.type(1.0 / (1.0 - p)))
