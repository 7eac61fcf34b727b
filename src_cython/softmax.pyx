# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Softmax/cross-entropy kernels (Cython). Twins and the recipe:
``fastopt.reference.softmax`` (also ``fastopt.kernels.softmax``).

The exact steps (row maximum, subtract, divide, gather, one-hot subtract) in
one call each; ``np.exp``, ``np.log`` and the row sums stay NumPy's. Labels
``t`` may have any integer dtype (other than int64 they are converted once).
"""
import numpy as np

from libc.stdint cimport int64_t

include "_jit.pxi"


cdef const int64_t[::1] _labels(t):
    cdef const int64_t[::1] view
    try:
        view = t  # int64 and contiguous already (numpy's default labels): no call into numpy
    except (TypeError, ValueError):  # another dtype, a list, strides: one converted copy
        view = np.ascontiguousarray(t, dtype=np.int64)
    return view


cdef inline void _divide_row(const floating* row, Py_ssize_t c, floating s,
                             floating* out) noexcept nogil:
    # out = row / s, one row of C elements (the probabilities; the gradient's 1/N)
    cdef Py_ssize_t j
    for j in range(c):
        out[j] = row[j] / s


def softmax_shift(const floating[:, ::1] x, floating[:, ::1] out):
    """out = x − (row maximum of x); a row holding NaN becomes NaN.

    Parameters
    ----------
    x, out : ndarray, shape (N, C)
        C-contiguous, one float dtype (``out`` may be ``x``).
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], i, j
    cdef floating m, v
    cdef const floating* xr
    cdef floating* outr
    if c == 0 or n == 0:
        return
    with nogil:
        for i in range(n):
            xr = &x[i, 0]
            outr = &out[i, 0]
            m = xr[0]
            for j in range(1, c):
                v = xr[j]
                if v != v:  # a NaN is the row's maximum
                    m = v
                    break
                m = v if v > m else m  # a select, not a branch on random data
            for j in range(c):
                outr[j] = xr[j] - m


def softmax_pick(const floating[:, ::1] e, const floating[::1] sums, t, floating[:, ::1] y,
                 floating[::1] picks):
    """y = e / sums[:, None]; picks = y[n, t[n]] + 1e-7. Returns the count of bad labels.

    Parameters
    ----------
    e, y : ndarray, shape (N, C)
        One float dtype; ``y`` is written.
    sums, picks : ndarray, shape (N,)
        Of that dtype; ``picks`` is written.
    t : ndarray of int, shape (N,)
        Class indices. When any lies outside ``[0, C)`` nothing is written.

    Returns
    -------
    int
        The number of labels outside ``[0, C)``.
    """
    cdef const int64_t[::1] tv = _labels(t)
    cdef Py_ssize_t n = e.shape[0], c = e.shape[1], i
    cdef Py_ssize_t bad = 0
    cdef floating tiny = <floating>1e-7
    cdef floating* yr
    with nogil:
        for i in range(n):
            bad += (tv[i] < 0) | (tv[i] >= c)
        if bad == 0 and c > 0:
            for i in range(n):
                yr = &y[i, 0]
                _divide_row(&e[i, 0], c, sums[i], yr)
                picks[i] = yr[tv[i]] + tiny
    return bad


def softmax_xent_backward(const floating[:, ::1] y, t, floating[:, ::1] dx):
    """dx = (y − onehot(t)) / N, as the book: y.copy(); dx[n, t[n]] −= 1; dx / N.

    Parameters
    ----------
    y, dx : ndarray, shape (N, C)
        One float dtype; ``dx`` is written.
    t : ndarray of int, shape (N,)
        Class indices in ``[0, C)``.
    """
    cdef const int64_t[::1] tv = _labels(t)
    cdef Py_ssize_t n = y.shape[0], c = y.shape[1], i
    cdef int64_t k
    cdef floating v
    cdef floating one = 1
    cdef floating count = <floating>n
    cdef const floating* yr
    cdef floating* dr
    if c == 0:
        return
    with nogil:
        for i in range(n):
            k = tv[i]
            yr = &y[i, 0]
            dr = &dx[i, 0]
            _divide_row(yr, c, count, dr)
            if 0 <= k < c:  # the one-hot element: (y - 1) / N, as the twins
                v = yr[k] - one  # in the dtype: no promotion to double
                dr[k] = v / count
