"""Numba compilation settings and the serial/parallel drivers shared by all kernels.

Every kernel is written as a *range function* ``fn(lo, hi, p, g, ...)`` that
updates elements ``lo:hi``. Small buffers call it once over the whole range;
buffers of at least ``PARALLEL_THRESHOLD`` elements are cut into ``CHUNK``-sized
pieces that ``prange`` spreads over the threads. Elementwise updates give the
same bits either way.
"""
import os

import numba
from numba import njit, prange

# error_model="numpy" lets LLVM vectorise divisions (Python's model adds a
# zero-division branch per element); no fastmath: it breaks bit parity with
# NumPy and NaN propagation.
JIT_OPTIONS = dict(nogil=True, error_model="numpy", cache=True)
jit = njit(**JIT_OPTIONS)

#: Elements from which a kernel runs multi-threaded. Measured on the 2-core
#: dev machine (float32, serial vs 2 threads): the pool's fork/join costs about
#: 6 us, so SGD (0.53 ns/elem) gains from 2**15 (17 -> 15 us) and Adam
#: (2.5 ns/elem) from 2**14; at 2**15 Adam runs 1.7x faster on 2 threads.
PARALLEL_THRESHOLD = int(os.environ.get("FASTOPT_PARALLEL_THRESHOLD", 1 << 15))
#: Elements per parallel work item (a multiple of every SIMD width).
CHUNK = 1 << 13


@njit(parallel=True, **JIT_OPTIONS)
def _drive_parallel(fn, n, chunk, args):
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        fn(lo, min(lo + chunk, n), *args)


def elementwise(range_fn):
    """Wrap a range function into a kernel ``kernel(p, g, ...)`` over whole buffers."""

    def kernel(p, *args):
        n = p.shape[0]
        if n >= PARALLEL_THRESHOLD and numba.get_num_threads() > 1:
            _drive_parallel(range_fn, n, CHUNK, (p,) + args)
        else:
            range_fn(0, n, p, *args)

    kernel.__name__ = range_fn.__name__.lstrip("_")
    kernel.__qualname__ = kernel.__name__
    kernel.__doc__ = range_fn.__doc__
    kernel.range_fn = range_fn
    return kernel


# The gradient transform, as scalar functions: LLVM inlines them and keeps the
# loop vectorised (helpers that index arrays, or Numba's inline="always", made
# Adam 5x slower here). Same order as fastopt.reference._grad.
@jit
def decayed(p, decay):
    """The parameter after decoupled weight decay."""
    if decay != 1:
        p = p * decay
    return p


@jit
def transformed(x, p, gscale, clip, wd):
    """The gradient after scaling, clamping and coupled weight decay."""
    if gscale != 1:
        x = x * gscale
    if clip > 0:
        if x > clip:
            x = clip
        elif x < -clip:
            x = -clip
    if wd != 0:
        x = x + wd * p
    return x
