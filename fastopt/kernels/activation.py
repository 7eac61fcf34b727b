"""Activation kernels (Numba). Twins: ``fastopt.reference.activation``.

NumPy's masked operations cost about 3 ns per element (a branch per element on
a random mask); these selects vectorise.
"""
from ._jit import elementwise, jit


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


relu_forward = elementwise(_relu_forward, "light")
relu_backward = elementwise(_relu_backward, "light")
