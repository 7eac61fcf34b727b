"""Dropout kernels (Numba). Twins: ``fastopt.reference.dropout``.

``dropout_forward(x, out, seed, stream, offset, threshold, scale)`` and
``dropout_backward(dout, dx, seed, stream, offset, threshold, scale)``:
element ``i`` is kept iff ``random_bits(seed, stream, offset + i) >> 11 >=
threshold`` (``fastopt.kernels.rng``); a kept element is multiplied by
``scale``, a dropped one is set to 0. The mask is recomputed, never stored.

- ``seed``, ``stream``, ``offset``, ``threshold``: uint64 (``np.uint64``).
  ``stream`` is typically the training step (a fresh mask each step);
  ``offset`` is the global index of element 0 of this buffer (0 for a whole
  buffer; a slice starting at ``k`` passes ``offset + k`` and gets the
  whole buffer's mask for its elements); ``threshold = keep_threshold(p)``.
- ``scale`` in the buffers' dtype: 1 for the book's non-inverted dropout,
  ``1/(1-p)`` (computed in the dtype) for inverted dropout.
- ``out`` may be ``x`` (in place); otherwise the two must not overlap.
  A dropped element is a real zero whatever ``x`` holds (inf or NaN
  included); a kept inf or NaN stays so.
"""
import numpy as np

from ..reference.rng import GAMMA, SHIFT
from ._jit import elementwise, jit
from .rng import mix64, stream_key


# The loop is written out in the range function: a helper that indexes the
# arrays stops LLVM from vectorising (see ``_jit``); scalar helpers inline.
# ``ctr`` is splitmix64's counter ``key + (offset + i + 1) * GAMMA`` advanced by
# an addition per element instead of a multiply (the same uint64 value; one
# vpmullq fewer per 8 elements: 0.37 vs 0.45 ns/elem in cache). ``x is out``
# gets its own loop over one array: LLVM's runtime alias check would otherwise
# send the in-place call down its scalar loop (measured 1.0 vs 0.45 ns/elem).
@jit
def _dropout_forward(lo, hi, x, out, seed, stream, offset, threshold, scale):
    """out[i] = x[i]·scale if element offset+i is kept, else 0."""
    ctr = stream_key(seed, stream) + (np.uint64(offset) + lo) * GAMMA
    thr = np.uint64(threshold)
    zero = x.dtype.type(0)
    if x.ctypes.data == out.ctypes.data:
        for i in range(lo, hi):
            ctr += GAMMA
            v = out[i] * scale
            out[i] = v if (mix64(ctr) >> SHIFT) >= thr else zero
    else:
        for i in range(lo, hi):
            ctr += GAMMA
            v = x[i] * scale
            out[i] = v if (mix64(ctr) >> SHIFT) >= thr else zero


@jit
def _dropout_backward(lo, hi, dout, dx, seed, stream, offset, threshold, scale):
    """dx[i] = dout[i]·scale if element offset+i is kept, else 0 (the forward's mask)."""
    _dropout_forward(lo, hi, dout, dx, seed, stream, offset, threshold, scale)


dropout_forward = elementwise(_dropout_forward, "light")
dropout_backward = elementwise(_dropout_backward, "light")
