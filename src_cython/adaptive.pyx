# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Adaptive-rate update kernels (Cython). Twins: ``fastopt.reference.adaptive``
and ``fastopt.kernels.adaptive``.

Same signatures, same operations in the same order and dtype as the NumPy
twins, so every result is bit-identical. All buffers are 1-D C-contiguous and
of one float dtype; every scalar arrives precomputed in that dtype.
"""
include "_jit.pxi"


cdef void _adagrad(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* h,
                   floating clr, floating eps, floating gscale, floating clip, floating wd,
                   floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        s = h[i] + x * x
        h[i] = s
        p[i] = pi - (clr * x) / (fsqrt(s) + eps)


cdef void _rmsprop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* h,
                   floating* ga, floating* buf, floating rho, floating omr, floating lr,
                   floating eps, bint centered, floating mu, bint use_momentum,
                   floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    # one loop per combination of the flags (each folds to a constant)
    if centered:
        if use_momentum:
            _rmsprop_loop(lo, hi, p, g, h, ga, buf, rho, omr, lr, eps, True, mu, True,
                          gscale, clip, wd, decay)
        else:
            _rmsprop_loop(lo, hi, p, g, h, ga, buf, rho, omr, lr, eps, True, mu, False,
                          gscale, clip, wd, decay)
    elif use_momentum:
        _rmsprop_loop(lo, hi, p, g, h, ga, buf, rho, omr, lr, eps, False, mu, True,
                      gscale, clip, wd, decay)
    else:
        _rmsprop_loop(lo, hi, p, g, h, ga, buf, rho, omr, lr, eps, False, mu, False,
                      gscale, clip, wd, decay)


cdef inline void _rmsprop_loop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g,
                               floating* h, floating* ga, floating* buf, floating rho,
                               floating omr, floating lr, floating eps, bint centered,
                               floating mu, bint use_momentum, floating gscale, floating clip,
                               floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s, a, den, b
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        s = h[i] * rho + (omr * x) * x
        h[i] = s
        if centered:
            a = ga[i] + omr * (x - ga[i])
            ga[i] = a
            den = fsqrt(s - a * a) + eps
        else:
            den = fsqrt(s) + eps
        if use_momentum:
            b = buf[i] * mu + x / den
            buf[i] = b
            p[i] = pi - lr * b
        else:
            p[i] = pi - (lr * x) / den


cdef void _adadelta(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* h,
                    floating* acc, floating rho, floating omr, floating eps, floating lr,
                    floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s, a, delta
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        a = acc[i]
        s = h[i] * rho + (omr * x) * x
        h[i] = s
        delta = fsqrt(a + eps) / fsqrt(s + eps) * x
        acc[i] = a * rho + (omr * delta) * delta
        p[i] = pi - lr * delta


cdef void _adam(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m, floating* v,
                floating* vmax, floating omb1, floating omb2, floating step_size, floating bc2s,
                floating eps, bint amsgrad, floating gscale, floating clip, floating wd,
                floating decay) noexcept nogil:
    # one loop per flag value (the flag folds to a constant in each), and one where
    # bc2s is the constant 1 (the book's form): x / 1 == x, so the division folds away
    # (Adam over the book net 71 -> 51 us)
    if amsgrad:
        if bc2s == 1:
            _adam_loop(lo, hi, p, g, m, v, vmax, omb1, omb2, step_size, 1, eps, True,
                       gscale, clip, wd, decay)
        else:
            _adam_loop(lo, hi, p, g, m, v, vmax, omb1, omb2, step_size, bc2s, eps, True,
                       gscale, clip, wd, decay)
    elif bc2s == 1:
        _adam_loop(lo, hi, p, g, m, v, vmax, omb1, omb2, step_size, 1, eps, False,
                   gscale, clip, wd, decay)
    else:
        _adam_loop(lo, hi, p, g, m, v, vmax, omb1, omb2, step_size, bc2s, eps, False,
                   gscale, clip, wd, decay)


cdef inline void _adam_loop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                            floating* v, floating* vmax, floating omb1, floating omb2,
                            floating step_size, floating bc2s, floating eps, bint amsgrad,
                            floating gscale, floating clip, floating wd,
                            floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, vi, vm
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + omb1 * (x - m[i])
        vi = v[i] + omb2 * (x * x - v[i])
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            # NaN-propagating maximum, as np.maximum; `|` and a select, not
            # branches, so the loop vectorises
            vm = vi if (vi > vm) | (vi != vi) else vm
            vmax[i] = vm
            vi = vm
        p[i] = pi - (step_size * mi) / (fsqrt(vi) / bc2s + eps)


cdef void _adamax(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                  floating* u, floating omb1, floating beta2, floating eps, floating clr,
                  floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, a, b
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + omb1 * (x - m[i])
        m[i] = mi
        a = u[i] * beta2
        b = ffabs(x) + eps
        a = b if (b > a) | (b != b) else a  # NaN-propagating maximum, as np.maximum
        u[i] = a
        p[i] = pi - (clr * mi) / a


cdef void _nadam(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                 floating* v, floating omb1, floating omb2, floating bc2, floating eps,
                 floating cg, floating cm, floating gscale, floating clip, floating wd,
                 floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, vi, den
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + omb1 * (x - m[i])
        vi = v[i] + omb2 * (x * x - v[i])
        m[i] = mi
        v[i] = vi
        den = fsqrt(vi / bc2) + eps
        p[i] = (pi - (cg * x) / den) - (cm * mi) / den


def adagrad(floating[::1] p, floating[::1] g, floating[::1] h, floating clr, floating eps,
            floating gscale, floating clip, floating wd, floating decay):
    """AdaGrad: h <- h + x²;  p <- p - (clr·x) / (√h + eps).

    Parameters
    ----------
    p, g, h : ndarray
        Parameter, gradient and squared-gradient sum; 1-D, C-contiguous, one
        float dtype. ``p`` and ``h`` are updated in place.
    clr, eps, gscale, clip, wd, decay : float
        Scalars in the buffers' dtype: the (decayed) learning rate, epsilon and
        the gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adagrad(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], clr, eps,
                         gscale, clip, wd, decay)
        else:
            _adagrad(0, n, &p[0], &g[0], &h[0], clr, eps, gscale, clip, wd, decay)


def rmsprop(floating[::1] p, floating[::1] g, floating[::1] h, floating[::1] ga,
            floating[::1] buf, floating rho, floating omr, floating lr, floating eps,
            bint centered, floating mu, bint use_momentum, floating gscale, floating clip,
            floating wd, floating decay):
    """RMSprop: h <- rho·h + ((1-rho)·x)·x; optional centering and momentum buffer.

    Parameters
    ----------
    p, g, h, ga, buf : ndarray
        Parameter, gradient, squared average, gradient average (used when
        ``centered``) and momentum buffer (used when ``use_momentum``); the
        unused ones may be empty.
    rho, omr, lr, eps, mu : float
        Decay, 1 - rho, learning rate, epsilon, momentum; in the buffers' dtype.
    centered, use_momentum : bool
    gscale, clip, wd, decay : float
        The gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _rmsprop(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], &ga[0], &buf[0], rho,
                         omr, lr, eps, centered, mu, use_momentum, gscale, clip, wd, decay)
        else:
            _rmsprop(0, n, &p[0], &g[0], &h[0], &ga[0], &buf[0], rho, omr, lr, eps, centered,
                     mu, use_momentum, gscale, clip, wd, decay)


def adadelta(floating[::1] p, floating[::1] g, floating[::1] h, floating[::1] acc,
             floating rho, floating omr, floating eps, floating lr, floating gscale,
             floating clip, floating wd, floating decay):
    """Adadelta: h <- rho·h + (1-rho)·x²;  delta = √(acc+eps)/√(h+eps)·x;
    acc <- rho·acc + (1-rho)·delta²;  p <- p - lr·delta.

    Parameters
    ----------
    p, g, h, acc : ndarray
        Parameter, gradient, squared-gradient and squared-update averages.
    rho, omr, eps, lr, gscale, clip, wd, decay : float
        In the buffers' dtype (``omr`` = 1 - rho).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adadelta(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], &acc[0], rho, omr, eps,
                          lr, gscale, clip, wd, decay)
        else:
            _adadelta(0, n, &p[0], &g[0], &h[0], &acc[0], rho, omr, eps, lr, gscale, clip, wd,
                      decay)


def adam(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] v, floating[::1] vmax,
         floating omb1, floating omb2, floating step_size, floating bc2s, floating eps,
         bint amsgrad, floating gscale, floating clip, floating wd, floating decay):
    """Adam / AMSGrad: m += (1-b1)(x-m); v += (1-b2)(x²-v);
    p <- p - (step_size·m) / (√v / bc2s + eps)  (v replaced by max(vmax, v) for AMSGrad).

    Parameters
    ----------
    p, g, m, v, vmax : ndarray
        Parameter, gradient, first and second moments, and the running maximum
        of v (used when ``amsgrad``; may be empty otherwise).
    omb1, omb2, step_size, bc2s, eps : float
        1 - beta1, 1 - beta2, the bias-corrected step size and sqrt of the
        second-moment correction (1 for the book's form), epsilon.
    amsgrad : bool
    gscale, clip, wd, decay : float
        The gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adam(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &v[0], &vmax[0], omb1, omb2,
                      step_size, bc2s, eps, amsgrad, gscale, clip, wd, decay)
        else:
            _adam(0, n, &p[0], &g[0], &m[0], &v[0], &vmax[0], omb1, omb2, step_size, bc2s, eps,
                  amsgrad, gscale, clip, wd, decay)


def adamax(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] u, floating omb1,
           floating beta2, floating eps, floating clr, floating gscale, floating clip,
           floating wd, floating decay):
    """Adamax: m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (clr·m) / u.

    Parameters
    ----------
    p, g, m, u : ndarray
        Parameter, gradient, first moment and infinity norm.
    omb1, beta2, eps, clr, gscale, clip, wd, decay : float
        In the buffers' dtype.
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adamax(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &u[0], omb1, beta2, eps,
                        clr, gscale, clip, wd, decay)
        else:
            _adamax(0, n, &p[0], &g[0], &m[0], &u[0], omb1, beta2, eps, clr, gscale, clip, wd,
                    decay)


def nadam(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] v, floating omb1,
          floating omb2, floating bc2, floating eps, floating cg, floating cm, floating gscale,
          floating clip, floating wd, floating decay):
    """NAdam: m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (cg·x)/den - (cm·m)/den.

    Parameters
    ----------
    p, g, m, v : ndarray
        Parameter, gradient, first and second moments.
    omb1, omb2, bc2, eps, cg, cm, gscale, clip, wd, decay : float
        In the buffers' dtype.
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _nadam(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &v[0], omb1, omb2, bc2, eps,
                       cg, cm, gscale, clip, wd, decay)
        else:
            _nadam(0, n, &p[0], &g[0], &m[0], &v[0], omb1, omb2, bc2, eps, cg, cm, gscale, clip,
                   wd, decay)
