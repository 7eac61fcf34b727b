# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Adaptive-rate update kernels (Cython). Twins: ``fastopt.reference.adaptive``
and ``fastopt.kernels.adaptive``.

Same signatures, same operations in the same order and dtype as the NumPy
twins, so every result is bit-identical. All buffers are 1-D C-contiguous and
of one float dtype; every scalar arrives precomputed in that dtype.
"""
include "_jit.pxi"


cdef void _adagrad(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* h,
                   floating lr_t, floating eps, floating gscale, floating clip, floating wd,
                   floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        s = h[i] + x * x
        h[i] = s
        p[i] = pi - (lr_t * x) / (fsqrt(s) + eps)


cdef void _rmsprop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* h,
                   floating* grad_avg, floating* buf, floating rho, floating one_minus_rho, floating lr,
                   floating eps, bint centered, floating mu, bint use_momentum,
                   floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    # one loop per combination of the flags (each folds to a constant)
    if centered:
        if use_momentum:
            _rmsprop_loop(lo, hi, p, g, h, grad_avg, buf, rho, one_minus_rho, lr, eps, True, mu, True,
                          gscale, clip, wd, decay)
        else:
            _rmsprop_loop(lo, hi, p, g, h, grad_avg, buf, rho, one_minus_rho, lr, eps, True, mu, False,
                          gscale, clip, wd, decay)
    elif use_momentum:
        _rmsprop_loop(lo, hi, p, g, h, grad_avg, buf, rho, one_minus_rho, lr, eps, False, mu, True,
                      gscale, clip, wd, decay)
    else:
        _rmsprop_loop(lo, hi, p, g, h, grad_avg, buf, rho, one_minus_rho, lr, eps, False, mu, False,
                      gscale, clip, wd, decay)


cdef inline void _rmsprop_loop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g,
                               floating* h, floating* grad_avg, floating* buf, floating rho,
                               floating one_minus_rho, floating lr, floating eps, bint centered,
                               floating mu, bint use_momentum, floating gscale, floating clip,
                               floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s, a, den, b
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        s = h[i] * rho + (one_minus_rho * x) * x
        h[i] = s
        if centered:
            a = grad_avg[i] + one_minus_rho * (x - grad_avg[i])
            grad_avg[i] = a
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
                    floating* acc_delta, floating rho, floating one_minus_rho, floating eps, floating lr,
                    floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, s, a, delta
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        a = acc_delta[i]
        s = h[i] * rho + (one_minus_rho * x) * x
        h[i] = s
        delta = fsqrt(a + eps) / fsqrt(s + eps) * x
        acc_delta[i] = a * rho + (one_minus_rho * delta) * delta
        p[i] = pi - lr * delta


cdef void _adam(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m, floating* v,
                floating* v_max, floating one_minus_beta1, floating one_minus_beta2, floating step_size, floating bc2_sqrt,
                floating eps, bint amsgrad, floating gscale, floating clip, floating wd,
                floating decay) noexcept nogil:
    # one loop per flag value (the flag folds to a constant in each), and one where
    # bc2_sqrt is the constant 1 (the book's form): x / 1 == x, so the division folds away
    # (Adam over the book net 71 -> 51 us)
    if amsgrad:
        if bc2_sqrt == 1:
            _adam_loop(lo, hi, p, g, m, v, v_max, one_minus_beta1, one_minus_beta2, step_size, 1, eps, True,
                       gscale, clip, wd, decay)
        else:
            _adam_loop(lo, hi, p, g, m, v, v_max, one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps, True,
                       gscale, clip, wd, decay)
    elif bc2_sqrt == 1:
        _adam_loop(lo, hi, p, g, m, v, v_max, one_minus_beta1, one_minus_beta2, step_size, 1, eps, False,
                   gscale, clip, wd, decay)
    else:
        _adam_loop(lo, hi, p, g, m, v, v_max, one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps, False,
                   gscale, clip, wd, decay)


cdef inline void _adam_loop(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                            floating* v, floating* v_max, floating one_minus_beta1, floating one_minus_beta2,
                            floating step_size, floating bc2_sqrt, floating eps, bint amsgrad,
                            floating gscale, floating clip, floating wd,
                            floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, vi, vm
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + one_minus_beta1 * (x - m[i])
        vi = v[i] + one_minus_beta2 * (x * x - v[i])
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = v_max[i]
            # NaN-propagating maximum, as np.maximum; `|` and a select, not
            # branches, so the loop vectorises
            vm = vi if (vi > vm) | (vi != vi) else vm
            v_max[i] = vm
            vi = vm
        p[i] = pi - (step_size * mi) / (fsqrt(vi) / bc2_sqrt + eps)


cdef void _adamax(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                  floating* u, floating one_minus_beta1, floating beta2, floating eps, floating lr_t,
                  floating gscale, floating clip, floating wd, floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, a, b
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + one_minus_beta1 * (x - m[i])
        m[i] = mi
        a = u[i] * beta2
        b = ffabs(x) + eps
        a = b if (b > a) | (b != b) else a  # NaN-propagating maximum, as np.maximum
        u[i] = a
        p[i] = pi - (lr_t * mi) / a


cdef void _nadam(Py_ssize_t lo, Py_ssize_t hi, floating* p, floating* g, floating* m,
                 floating* v, floating one_minus_beta1, floating one_minus_beta2, floating bc2, floating eps,
                 floating coef_g, floating coef_m, floating gscale, floating clip, floating wd,
                 floating decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating pi, x, mi, vi, den
    for i in range(lo, hi):
        pi = decayed(p[i], decay)
        x = transformed(g[i], pi, gscale, clip, wd)
        mi = m[i] + one_minus_beta1 * (x - m[i])
        vi = v[i] + one_minus_beta2 * (x * x - v[i])
        m[i] = mi
        v[i] = vi
        den = fsqrt(vi / bc2) + eps
        p[i] = (pi - (coef_g * x) / den) - (coef_m * mi) / den


def adagrad(floating[::1] p, floating[::1] g, floating[::1] h, floating lr_t, floating eps,
            floating gscale, floating clip, floating wd, floating decay):
    """AdaGrad: h <- h + x²;  p <- p - (lr_t·x) / (√h + eps).

    Parameters
    ----------
    p, g, h : ndarray
        Parameter, gradient and squared-gradient sum; 1-D, C-contiguous, one
        float dtype. ``p`` and ``h`` are updated in place.
    lr_t, eps, gscale, clip, wd, decay : float
        Scalars in the buffers' dtype: the (decayed) learning rate, epsilon and
        the gradient transform (see ``fastopt.reference._grad``).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adagrad(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], lr_t, eps,
                         gscale, clip, wd, decay)
        else:
            _adagrad(0, n, &p[0], &g[0], &h[0], lr_t, eps, gscale, clip, wd, decay)


def rmsprop(floating[::1] p, floating[::1] g, floating[::1] h, floating[::1] grad_avg,
            floating[::1] buf, floating rho, floating one_minus_rho, floating lr, floating eps,
            bint centered, floating mu, bint use_momentum, floating gscale, floating clip,
            floating wd, floating decay):
    """RMSprop: h <- rho·h + ((1-rho)·x)·x; optional centering and momentum buffer.

    Parameters
    ----------
    p, g, h, grad_avg, buf : ndarray
        Parameter, gradient, squared average, gradient average (used when
        ``centered``) and momentum buffer (used when ``use_momentum``); the
        unused ones may be empty.
    rho, one_minus_rho, lr, eps, mu : float
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
                _rmsprop(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], &grad_avg[0], &buf[0], rho,
                         one_minus_rho, lr, eps, centered, mu, use_momentum, gscale, clip, wd, decay)
        else:
            _rmsprop(0, n, &p[0], &g[0], &h[0], &grad_avg[0], &buf[0], rho, one_minus_rho, lr, eps, centered,
                     mu, use_momentum, gscale, clip, wd, decay)


def adadelta(floating[::1] p, floating[::1] g, floating[::1] h, floating[::1] acc_delta,
             floating rho, floating one_minus_rho, floating eps, floating lr, floating gscale,
             floating clip, floating wd, floating decay):
    """Adadelta: h <- rho·h + (1-rho)·x²;  delta = √(acc_delta+eps)/√(h+eps)·x;
    acc_delta <- rho·acc_delta + (1-rho)·delta²;  p <- p - lr·delta.

    Parameters
    ----------
    p, g, h, acc_delta : ndarray
        Parameter, gradient, squared-gradient and squared-update averages.
    rho, one_minus_rho, eps, lr, gscale, clip, wd, decay : float
        In the buffers' dtype (``one_minus_rho`` = 1 - rho).
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adadelta(lo, min(lo + CHUNK, n), &p[0], &g[0], &h[0], &acc_delta[0], rho, one_minus_rho, eps,
                          lr, gscale, clip, wd, decay)
        else:
            _adadelta(0, n, &p[0], &g[0], &h[0], &acc_delta[0], rho, one_minus_rho, eps, lr, gscale, clip, wd,
                      decay)


def adam(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] v, floating[::1] v_max,
         floating one_minus_beta1, floating one_minus_beta2, floating step_size, floating bc2_sqrt, floating eps,
         bint amsgrad, floating gscale, floating clip, floating wd, floating decay):
    """Adam / AMSGrad: m += (1-b1)(x-m); v += (1-b2)(x²-v);
    p <- p - (step_size·m) / (√v / bc2_sqrt + eps)  (v replaced by max(v_max, v) for AMSGrad).

    Parameters
    ----------
    p, g, m, v, v_max : ndarray
        Parameter, gradient, first and second moments, and the running maximum
        of v (used when ``amsgrad``; may be empty otherwise).
    one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps : float
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
                _adam(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &v[0], &v_max[0], one_minus_beta1, one_minus_beta2,
                      step_size, bc2_sqrt, eps, amsgrad, gscale, clip, wd, decay)
        else:
            _adam(0, n, &p[0], &g[0], &m[0], &v[0], &v_max[0], one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps,
                  amsgrad, gscale, clip, wd, decay)


def adamax(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] u, floating one_minus_beta1,
           floating beta2, floating eps, floating lr_t, floating gscale, floating clip,
           floating wd, floating decay):
    """Adamax: m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (lr_t·m) / u.

    Parameters
    ----------
    p, g, m, u : ndarray
        Parameter, gradient, first moment and infinity norm.
    one_minus_beta1, beta2, eps, lr_t, gscale, clip, wd, decay : float
        In the buffers' dtype.
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _adamax(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &u[0], one_minus_beta1, beta2, eps,
                        lr_t, gscale, clip, wd, decay)
        else:
            _adamax(0, n, &p[0], &g[0], &m[0], &u[0], one_minus_beta1, beta2, eps, lr_t, gscale, clip, wd,
                    decay)


def nadam(floating[::1] p, floating[::1] g, floating[::1] m, floating[::1] v, floating one_minus_beta1,
          floating one_minus_beta2, floating bc2, floating eps, floating coef_g, floating coef_m, floating gscale,
          floating clip, floating wd, floating decay):
    """NAdam: m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (coef_g·x)/den - (coef_m·m)/den.

    Parameters
    ----------
    p, g, m, v : ndarray
        Parameter, gradient, first and second moments.
    one_minus_beta1, one_minus_beta2, bc2, eps, coef_g, coef_m, gscale, clip, wd, decay : float
        In the buffers' dtype.
    """
    cdef Py_ssize_t n = p.shape[0], c, lo
    with nogil:
        if go_parallel(n, HEAVY):
            for c in prange(n_chunks(n), schedule="static"):
                lo = c * CHUNK
                _nadam(lo, min(lo + CHUNK, n), &p[0], &g[0], &m[0], &v[0], one_minus_beta1, one_minus_beta2, bc2, eps,
                       coef_g, coef_m, gscale, clip, wd, decay)
        else:
            _nadam(0, n, &p[0], &g[0], &m[0], &v[0], one_minus_beta1, one_minus_beta2, bc2, eps, coef_g, coef_m, gscale, clip,
                   wd, decay)
