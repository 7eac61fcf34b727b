# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Blocked float64 sum of squares (Cython). Twins: ``fastopt.reference.reduce`` and
``fastopt.kernels.reduce``.

Fixed blocks of ``BLOCK`` elements, ``LANES`` lanes per block, lanes and blocks
added in index order: the same float64 result as the twins, bit for bit, at
any thread count.
"""
from libc.stdlib cimport free, malloc

include "_jit.pxi"

cdef enum:
    BLOCK = 4096
    LANES = 8


cdef double _block_sumsq(const floating* x, Py_ssize_t n, Py_ssize_t b) noexcept nogil:
    """Sum of squares of block b: element j to lane j % 8, lanes added left to right."""
    cdef Py_ssize_t lo = b * BLOCK
    cdef Py_ssize_t hi = min(lo + BLOCK, n)
    cdef Py_ssize_t i = lo, k
    cdef double a[LANES]
    cdef double v
    for k in range(LANES):
        a[k] = 0.0
    while i + LANES <= hi:
        for k in range(LANES):
            v = <double>x[i + k]
            a[k] += v * v
        i += LANES
    # the tail (fewer than eight) continues the lanes in order
    for k in range(hi - i):
        v = <double>x[i + k]
        a[k] += v * v
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7]


cdef double _sumsq(const floating* x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t nblocks = (n + BLOCK - 1) // BLOCK, b
    cdef double total = 0.0
    cdef double* totals
    if n >= LIGHT and fastopt_max_threads() > 1:
        totals = <double*>malloc(nblocks * sizeof(double))
        if totals != NULL:
            for b in prange(nblocks, schedule="static"):
                totals[b] = _block_sumsq(x, n, b)
            for b in range(nblocks):
                total += totals[b]
            free(totals)
            return total
    for b in range(nblocks):
        total += _block_sumsq(x, n, b)
    return total


def sumsq(const floating[::1] x):
    """Blocked float64 sum of squares of a 1-D array (thread-count invariant).

    Parameters
    ----------
    x : ndarray
        1-D, C-contiguous, float32 or float64 (read-only arrays are accepted).

    Returns
    -------
    float
    """
    cdef Py_ssize_t n = x.shape[0]
    cdef double total
    if n == 0:
        return 0.0
    with nogil:
        total = _sumsq(&x[0], n)
    return total
