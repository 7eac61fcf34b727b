# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Activation kernels (Cython). Twins: ``fastopt.reference.activation`` and
``fastopt.kernels.activation``."""
include "_jit.pxi"


cdef void _relu_forward(Py_ssize_t lo, Py_ssize_t hi, floating* x, floating* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(lo, hi):
        v = x[i]
        out[i] = 0 if v <= 0 else v  # NaN stays NaN, -0.0 becomes +0.0


cdef void _relu_backward(Py_ssize_t lo, Py_ssize_t hi, floating* x, floating* dout,
                         floating* dx) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(lo, hi):
        v = dout[i]  # loaded unconditionally, so the select vectorises
        dx[i] = 0 if x[i] <= 0 else v


def relu_forward(floating[::1] x, floating[::1] out):
    """out = 0 where x <= 0, else x (the book's ``Relu``).

    Parameters
    ----------
    x, out : ndarray
        1-D, C-contiguous, one float dtype; ``out`` may be ``x``.
    """
    cdef Py_ssize_t n = x.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _relu_forward(lo, min(lo + CHUNK, n), &x[0], &out[0])
        else:
            _relu_forward(0, n, &x[0], &out[0])


def relu_backward(floating[::1] x, floating[::1] dout, floating[::1] dx):
    """dx = 0 where x <= 0, else dout (the gradient at 0 is 0).

    Parameters
    ----------
    x, dout, dx : ndarray
        1-D, C-contiguous, one float dtype; ``dx`` may be ``dout``.
    """
    cdef Py_ssize_t n = x.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _relu_backward(lo, min(lo + CHUNK, n), &x[0], &dout[0], &dx[0])
        else:
            _relu_backward(0, n, &x[0], &dout[0], &dx[0])
