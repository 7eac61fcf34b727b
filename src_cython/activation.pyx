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


cdef inline void _relu_range(Py_ssize_t lo, Py_ssize_t hi, floating* x, floating* dout,
                             floating* out, bint backward) noexcept nogil:
    if backward:
        _relu_backward(lo, hi, x, dout, out)
    else:
        _relu_forward(lo, hi, x, out)


cdef void _relu(Py_ssize_t n, floating* x, floating* dout, floating* out,
                bint backward) noexcept nogil:
    # both kernels' serial/parallel driver (the forward has no dout)
    cdef Py_ssize_t c, lo
    if go_parallel(n, LIGHT):
        for c in prange(n_chunks(n), schedule="static"):
            lo = c * CHUNK
            _relu_range(lo, min(lo + CHUNK, n), x, dout, out, backward)
    else:
        _relu_range(0, n, x, dout, out, backward)


def relu_forward(floating[::1] x, floating[::1] out):
    """out = 0 where x <= 0, else x (the book's ``Relu``).

    Parameters
    ----------
    x, out : ndarray
        1-D, C-contiguous, one float dtype; ``out`` may be ``x``.
    """
    with nogil:
        _relu(x.shape[0], &x[0], &x[0], &out[0], False)


def relu_backward(floating[::1] x, floating[::1] dout, floating[::1] dx):
    """dx = 0 where x <= 0, else dout (the gradient at 0 is 0).

    Parameters
    ----------
    x, dout, dx : ndarray
        1-D, C-contiguous, one float dtype; ``dx`` may be ``dout``.
    """
    with nogil:
        _relu(x.shape[0], &x[0], &dout[0], &dx[0], True)
