"""Activation kernels (Numba). Twins: ``fastopt.reference.activation``.

NumPy's masked operations cost about 3 ns per element (a branch per element on
a random mask); these selects vectorise.
"""
from numba import prange

from ._jit import chunk_bounds, elementwise, jit, jit_parallel, n_chunks


@jit
def _relu_forward(lo, hi, x, out):
    """out = 0 where x <= 0, else x."""
    zero = x.dtype.type(0)
    for i in range(lo, hi):
        v = x[i]
        out[i] = zero if v <= 0 else v


@jit
def _relu_backward(lo, hi, x, dout, dx):
    """dx = 0 where x <= 0, else dout."""
    zero = dout.dtype.type(0)
    for i in range(lo, hi):
        dx[i] = zero if x[i] <= 0 else dout[i]


@jit_parallel
def _relu_forward_parallel(n, x, *args):
    for c in prange(n_chunks(n)):
        lo, hi = chunk_bounds(c, n)
        _relu_forward(lo, hi, x, *args)


@jit_parallel
def _relu_backward_parallel(n, x, *args):
    for c in prange(n_chunks(n)):
        lo, hi = chunk_bounds(c, n)
        _relu_backward(lo, hi, x, *args)


relu_forward = elementwise(_relu_forward, _relu_forward_parallel, "light")
relu_backward = elementwise(_relu_backward, _relu_backward_parallel, "light")
