"""NumPy twin of the Lion kernel (see ``fastopt.kernels.lion``)."""
import numpy as np

from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def lion(p: FloatArray, g: FloatArray, m: FloatArray, beta1: Real, one_minus_beta1: Real,
         beta2: Real, one_minus_beta2: Real, lr: Real, gscale: Real, clip: Real, wd: Real,
         decay: Real) -> None:
    """c = b1·m + (1-b1)·x;  p <- p - lr·sign(c);  m <- b2·m + (1-b2)·x.

    ``np.sign``: +1 or -1, NaN for NaN, and +0.0 for both zeros (so
    ``p - lr·sign(c)`` keeps a -0.0 parameter at -0.0 where c is ±0.0).
    """
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    c = beta1 * m + one_minus_beta1 * x
    p -= lr * np.sign(c)
    m *= beta2
    m += one_minus_beta2 * x
