"""Blocked float64 sum of squares (Numba). Twin: ``fastopt.reference.reduce``.

Fixed blocks of ``BLOCK`` elements, eight lanes per block, lanes and blocks
added in index order: the result does not depend on the number of threads.
"""
import numba
import numpy as np
from numba import njit, prange

from ..reference._types import FloatArray
from ..reference.reduce import BLOCK, LANES
from ._jit import JIT_OPTIONS, LIGHT_THRESHOLD, jit

assert LANES == 8, "the block kernel below is unrolled for eight lanes"


@jit
def _square_or_zero(x, i, hi):
    """x[i]² in float64 if i < hi, else 0.0."""
    if i < hi:
        return np.float64(x[i]) * np.float64(x[i])
    return 0.0


@jit
def _block_sumsq(x, b):
    lo = b * BLOCK
    hi = min(lo + BLOCK, x.shape[0])
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    i = lo
    while i + LANES <= hi:
        a0 += np.float64(x[i]) * np.float64(x[i])
        a1 += np.float64(x[i + 1]) * np.float64(x[i + 1])
        a2 += np.float64(x[i + 2]) * np.float64(x[i + 2])
        a3 += np.float64(x[i + 3]) * np.float64(x[i + 3])
        a4 += np.float64(x[i + 4]) * np.float64(x[i + 4])
        a5 += np.float64(x[i + 5]) * np.float64(x[i + 5])
        a6 += np.float64(x[i + 6]) * np.float64(x[i + 6])
        a7 += np.float64(x[i + 7]) * np.float64(x[i + 7])
        i += LANES
    # The tail (fewer than eight) continues the lanes in order; a lane past the
    # end adds +0.0, which leaves its sum as it was (+0.0 or more, or NaN).
    a0 += _square_or_zero(x, i, hi)
    a1 += _square_or_zero(x, i + 1, hi)
    a2 += _square_or_zero(x, i + 2, hi)
    a3 += _square_or_zero(x, i + 3, hi)
    a4 += _square_or_zero(x, i + 4, hi)
    a5 += _square_or_zero(x, i + 5, hi)
    a6 += _square_or_zero(x, i + 6, hi)
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7


@jit
def _sumsq_serial(x):
    total = 0.0
    for b in range((x.shape[0] + BLOCK - 1) // BLOCK):
        total += _block_sumsq(x, b)
    return total


@njit(parallel=True, **JIT_OPTIONS)
def _sumsq_parallel(x):
    nblocks = (x.shape[0] + BLOCK - 1) // BLOCK
    totals = np.empty(nblocks)
    for b in prange(nblocks):
        totals[b] = _block_sumsq(x, b)
    total = 0.0
    for b in range(nblocks):
        total += totals[b]
    return total


def sumsq(x: FloatArray) -> float:
    """Blocked float64 sum of squares of a 1-D array (thread-count invariant)."""
    if x.shape[0] >= LIGHT_THRESHOLD and numba.get_num_threads() > 1:
        return _sumsq_parallel(x)
    return _sumsq_serial(x)
