"""NumPy twins of the dropout kernels (see ``fastopt.kernels.dropout``).

The mask is never stored: element ``i`` of a buffer is kept iff
``random_bits(seed, stream, offset + i) >> 11 >= threshold`` (see
``fastopt.reference.rng``), recomputed by the backward pass. Work proceeds in
blocks of ``BLOCK`` elements so temporaries stay small for any buffer size.
"""
from __future__ import annotations

import numpy as np

from ._types import FloatArray, Real, UInt64
from .rng import BLOCK, keep_mask


def _masked_scale(src: FloatArray, dst: FloatArray, seed: UInt64, stream: UInt64, offset: UInt64,
                  threshold: UInt64, scale: Real) -> None:
    n = src.shape[0]
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        keep = keep_mask(seed, stream, offset, threshold, lo, hi)
        d = dst[lo:hi]
        with np.errstate(over="ignore"):
            np.multiply(src[lo:hi], scale, out=d)
        d[~keep] = 0  # a real zero: x * 0 would turn inf into NaN


def dropout_forward(x: FloatArray, out: FloatArray, seed: UInt64, stream: UInt64, offset: UInt64,
                    threshold: UInt64, scale: Real) -> None:
    """out[i] = x[i]·scale if element offset+i is kept, else 0 (``out`` may be ``x``)."""
    _masked_scale(x, out, seed, stream, offset, threshold, scale)


def dropout_backward(dout: FloatArray, dx: FloatArray, seed: UInt64, stream: UInt64, offset: UInt64,
                     threshold: UInt64, scale: Real) -> None:
    """dx[i] = dout[i]·scale if element offset+i is kept, else 0 (the forward's mask)."""
    _masked_scale(dout, dx, seed, stream, offset, threshold, scale)
