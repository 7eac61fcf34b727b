"""The Lion update kernel (Numba). Twin: ``fastopt.reference.lion``."""
import numpy as np

from ._jit import jit, prepared, update_kernel


@jit
def _sign(c):
    """``np.sign(c)`` to the bit: ±1, NaN for NaN, +0.0 for both zeros.

    Numba's own ``np.sign`` returns -0.0 for -0.0 where NumPy's returns +0.0;
    ``p - lr·sign`` then differs for p = -0.0 (-0.0 - (-0.0) is +0.0). ``abs``
    of the zero is a select the loop vectorises.
    """
    s = np.sign(c)
    if s == 0:
        s = abs(s)
    return s


@jit
def _lion(lo, hi, p, g, m, beta1, one_minus_beta1, beta2, one_minus_beta2, lr, transform):
    """c = b1·m + (1-b1)·x;  p <- p - lr·sign(c);  m <- b2·m + (1-b2)·x."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        mi = m[i]
        c = beta1 * mi + one_minus_beta1 * x
        p[i] = pi - lr * _sign(c)
        m[i] = mi * beta2 + one_minus_beta2 * x


lion = update_kernel(_lion, "light")
