"""Adaptive-rate update kernels (Numba). Twins: ``fastopt.reference.adaptive``."""
import numpy as np

from ._jit import jit, prepared, update_kernel


@jit
def _adagrad(lo, hi, p, g, h, lr_t, eps, transform):
    """h <- h + x²;  p <- p - (lr_t·x) / (√h + eps)."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        hi_ = h[i] + x * x
        h[i] = hi_
        p[i] = pi - (lr_t * x) / (np.sqrt(hi_) + eps)


@jit
def _rmsprop(lo, hi, p, g, h, grad_avg, buf, rho, one_minus_rho, lr, eps, centered, mu, use_momentum,
             transform):
    """h <- rho·h + ((1-rho)·x)·x; optional centering and momentum buffer."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        s = h[i] * rho + (one_minus_rho * x) * x
        h[i] = s
        if centered:
            a = grad_avg[i] + one_minus_rho * (x - grad_avg[i])
            grad_avg[i] = a
            den = np.sqrt(s - a * a) + eps
        else:
            den = np.sqrt(s) + eps
        if use_momentum:
            b = buf[i] * mu + x / den
            buf[i] = b
            p[i] = pi - lr * b
        else:
            p[i] = pi - (lr * x) / den


@jit
def _adadelta(lo, hi, p, g, h, acc_delta, rho, one_minus_rho, eps, lr, transform):
    """h <- rho·h + (1-rho)·x²;  delta = √(acc_delta+eps)/√(h+eps)·x;  acc_delta <- rho·acc_delta + (1-rho)·delta²."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        s = h[i] * rho + (one_minus_rho * x) * x
        h[i] = s
        delta = np.sqrt(acc_delta[i] + eps) / np.sqrt(s + eps) * x
        acc_delta[i] = acc_delta[i] * rho + (one_minus_rho * delta) * delta
        p[i] = pi - lr * delta


@jit
def _root(v, bc2_sqrt):
    """√v / bc2_sqrt; √v when bc2_sqrt is None (it was 1: the book's form, 1.4x faster Adam)."""
    if bc2_sqrt is None:
        return np.sqrt(v)
    return np.sqrt(v) / bc2_sqrt


@jit
def _moments(m, v, x, one_minus_beta1, one_minus_beta2):
    """Adam's moments after gradient x: (m + (1-b1)(x-m), v + (1-b2)(x²-v))."""
    return m + one_minus_beta1 * (x - m), v + one_minus_beta2 * (x * x - v)


@jit
def _adam(lo, hi, p, g, m, v, v_max, one_minus_beta1, one_minus_beta2, step_size, bc2_sqrt, eps, amsgrad,
          transform):
    """m += (1-b1)(x-m); v += (1-b2)(x²-v);  p <- p - (step_size·m) / (√v / bc2_sqrt + eps)."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        mi, vi = _moments(m[i], v[i], x, one_minus_beta1, one_minus_beta2)
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = v_max[i]
            if vi > vm or vi != vi:  # NaN-propagating maximum, as np.maximum
                vm = vi
            v_max[i] = vm
            vi = vm
        p[i] = pi - (step_size * mi) / (_root(vi, bc2_sqrt) + eps)


@jit
def _adamax(lo, hi, p, g, m, u, one_minus_beta1, beta2, eps, lr_t, transform):
    """m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (lr_t·m) / u."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        mi = m[i] + one_minus_beta1 * (x - m[i])
        m[i] = mi
        a = u[i] * beta2
        b = abs(x) + eps
        if b > a or b != b:  # NaN-propagating maximum, as np.maximum
            a = b
        u[i] = a
        p[i] = pi - (lr_t * mi) / a


@jit
def _nadam(lo, hi, p, g, m, v, one_minus_beta1, one_minus_beta2, bc2, eps, coef_g, coef_m, transform):
    """m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (coef_g·x)/den - (coef_m·m)/den."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        mi, vi = _moments(m[i], v[i], x, one_minus_beta1, one_minus_beta2)
        m[i] = mi
        v[i] = vi
        den = np.sqrt(vi / bc2) + eps
        p[i] = (pi - (coef_g * x) / den) - (coef_m * mi) / den


adagrad = update_kernel(_adagrad)
rmsprop = update_kernel(_rmsprop)
adadelta = update_kernel(_adadelta)
adam = update_kernel(_adam)
adamax = update_kernel(_adamax)
nadam = update_kernel(_nadam)
