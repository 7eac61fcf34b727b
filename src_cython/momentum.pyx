# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""SGD-family update kernels (Cython). Twins: ``fastopt.reference.momentum`` and
``fastopt.kernels.momentum``.

Same signatures, same operations in the same order and dtype as the NumPy
twins, so every result is bit-identical.
"""
include "_jit.pxi"


cdef void _sgd(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating lr,
               floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        p[i] = pi - lr * x


cdef void _momentum(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* buf,
                    floating mu, floating damp, floating coef, bint nesterov, floating nest_mu,
                    floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    # one loop per flag value (the flag folds to a constant in each)
    if nesterov:
        _momentum_loop(lo, hi, p, g, buf, mu, damp, coef, True, nest_mu, gscale, clip, wd, decay)
    else:
        _momentum_loop(lo, hi, p, g, buf, mu, damp, coef, False, nest_mu, gscale, clip, wd,
                       decay)


cdef inline void _momentum_loop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g,
                                floating* buf, floating mu, floating damp, floating coef,
                                bint nesterov, floating nest_mu, floating gscale, floating clip,
                                floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, b
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        b = buf[i] * mu + damp * x
        buf[i] = b
        if nesterov:
            p[i] = pi + coef * (x + nest_mu * b)
        else:
            p[i] = pi + coef * b


cdef void _nesterov(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* velocity,
                    floating mu_squared, floating one_plus_mu_lr, floating mu, floating lr, floating gscale,
                    floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, vi
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        vi = velocity[i]
        p[i] = (pi + mu_squared * vi) - one_plus_mu_lr * x
        velocity[i] = vi * mu - lr * x


def sgd(floating[::1] p, floating[::1] g, floating lr, floating gscale, floating clip,
        floating wd, floating decay):
    """SGD: p <- p - lr·x, x the transformed gradient.

    Parameters
    ----------
    p, g : ndarray
        Parameter (updated in place) and gradient; 1-D, C-contiguous, one float dtype.
    lr, gscale, clip, wd, decay : float
        In the buffers' dtype: learning rate and the gradient transform
        (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _sgd(lo, min(lo + CHUNK, n), &p[0], &g[0], lr, gscale, clip, wd, decay)
        else:
            _sgd(0, n, &p[0], &g[0], lr, gscale, clip, wd, decay)


def momentum(floating[::1] p, floating[::1] g, floating[::1] buf, floating mu, floating damp,
             floating coef, bint nesterov, floating nest_mu, floating gscale, floating clip,
             floating wd, floating decay):
    """Momentum: buf <- mu·buf + damp·x;  d = x + nest_mu·buf (nesterov) or buf;
    p <- p + coef·d.

    Parameters
    ----------
    p, g, buf : ndarray
        Parameter, gradient and velocity buffer (both updated in place).
    mu, damp, coef, nest_mu : float
        In the buffers' dtype (``coef`` = -lr for PyTorch's form, 1 for the book's).
    nesterov : bool
    gscale, clip, wd, decay : float
        The gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _momentum(lo, min(lo + CHUNK, n), &p[0], &g[0], &buf[0], mu, damp, coef,
                          nesterov, nest_mu, gscale, clip, wd, decay)
        else:
            _momentum(0, n, &p[0], &g[0], &buf[0], mu, damp, coef, nesterov, nest_mu, gscale,
                      clip, wd, decay)


def nesterov(floating[::1] p, floating[::1] g, floating[::1] velocity, floating mu_squared,
             floating one_plus_mu_lr,
             floating mu, floating lr, floating gscale, floating clip, floating wd,
             floating decay):
    """The book's corrected (2021) Nesterov: p += mu²·velocity; p -= (1+mu)·lr·x;
    velocity <- mu·velocity - lr·x.

    Parameters
    ----------
    p, g, velocity : ndarray
        Parameter, gradient and velocity (updated in place).
    mu_squared, one_plus_mu_lr, mu, lr : float
        mu², (1 + mu)·lr, mu and lr in the buffers' dtype.
    gscale, clip, wd, decay : float
        The gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, LIGHT):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _nesterov(lo, min(lo + CHUNK, n), &p[0], &g[0], &velocity[0], mu_squared,
                          one_plus_mu_lr, mu, lr,
                          gscale, clip, wd, decay)
        else:
            _nesterov(0, n, &p[0], &g[0], &velocity[0], mu_squared, one_plus_mu_lr, mu, lr,
                      gscale, clip, wd, decay)
