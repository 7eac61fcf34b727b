# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The Lion update kernel (Cython). Twins: ``fastopt.reference.lion`` and
``fastopt.kernels.lion``.

Same signature, same operations in the same order and dtype as the NumPy
twin, so every result is bit-identical.
"""
include "_jit.pxi"


cdef inline floating fsign(floating c) noexcept nogil:
    # np.sign to the bit: +1, -1, NaN for NaN (c itself, as NumPy returns it), and +0.0
    # for both zeros (p - lr*sign keeps p = -0.0 at -0.0). Selects, not branches, so
    # the loop vectorises (compares and blends).
    cdef floating s = c if c != c else 0
    s = 1 if c > 0 else s
    return -1 if c < 0 else s


cdef void _lion(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                floating beta1, floating one_minus_beta1, floating beta2,
                floating one_minus_beta2, floating lr, floating gscale, floating clip,
                floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, c
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i]
        c = beta1 * mi + one_minus_beta1 * x
        p[i] = pi - lr * fsign(c)
        m[i] = mi * beta2 + one_minus_beta2 * x


def lion(floating[::1] p, floating[::1] g, floating[::1] m, floating beta1,
         floating one_minus_beta1, floating beta2, floating one_minus_beta2, floating lr,
         floating gscale, floating clip, floating wd, floating decay):
    """Lion (Chen et al. 2023): c = b1·m + (1-b1)·x;  p <- p - lr·sign(c);
    m <- b2·m + (1-b2)·x, x the transformed gradient.

    Parameters
    ----------
    p, g, m : ndarray
        Parameter, gradient and momentum (the running mean of gradients); 1-D,
        C-contiguous, one float dtype. ``p`` and ``m`` are updated in place.
    beta1, one_minus_beta1 : float
        β₁ and 1 - β₁: the interpolation that gives the update's direction.
    beta2, one_minus_beta2 : float
        β₂ and 1 - β₂: the decay of the momentum.
    lr : float
        Learning rate (each element moves by exactly lr, or not at all).
    gscale, clip, wd, decay : float
        The gradient transform (see ``fastopt.reference._grad``).

    Notes
    -----
    sign is ``np.sign``'s: ±1, NaN for NaN, +0.0 for both zeros. Every scalar is
    in the buffers' dtype.
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _lion(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], beta1, one_minus_beta1,
                      beta2, one_minus_beta2, lr, gscale, clip, wd, decay)
        else:
            _lion(0, n, &p[0], &g[0], &m[0], beta1, one_minus_beta1, beta2, one_minus_beta2,
                  lr, gscale, clip, wd, decay)
