# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Adaptive-rate update kernels (Cython). Twins: ``fastopt.reference.adaptive``
and ``fastopt.kernels.adaptive``.

Same signatures, same operations in the same order and dtype as the NumPy
twins, so every result is bit-identical. All buffers are 1-D C-contiguous and
of one float dtype; every scalar arrives precomputed in that dtype.
"""
include "_jit.pxi"


cdef inline void adam_moments(floating* m, floating* v, Py_ssize_t i, floating x,
                              floating one_minus_beta1, floating one_minus_beta2,
                              floating* mi, floating* vi) noexcept nogil:
    # Adam's and NAdam's moments: m += (1−b1)(x−m), v += (1−b2)(x²−v), stored in m[i],
    # v[i] and returned in mi, vi (both computed before either store, as the twins)
    mi[0] = m[i] + one_minus_beta1 * (x - m[i])
    vi[0] = v[i] + one_minus_beta2 * (x * x - v[i])
    m[i] = mi[0]
    v[i] = vi[0]


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
        adam_moments(m, v, i, x, one_minus_beta1, one_minus_beta2, &mi, &vi)
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
        adam_moments(m, v, i, x, one_minus_beta1, one_minus_beta2, &mi, &vi)
        den = fsqrt(vi / bc2) + eps
        p[i] = (pi - (coef_g * x) / den) - (coef_m * mi) / den


# The kernels' Python wrappers, generated by setup.py from the kernel specification
# (fastopt/kernel_spec.py) and the template _updates.pxi.in.
include "_updates_adaptive.pxi"
