"""NumPy twins of the adaptive-rate kernels (see ``fastopt.kernels.adaptive``)."""
import numpy as np

from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def adagrad(p: FloatArray, g: FloatArray, h: FloatArray, lr_t: Real, eps: Real, gscale: Real,
            clip: Real, wd: Real, decay: Real) -> None:
    """h <- h + x²;  p <- p - (lr_t·x) / (√h + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h += x * x
    p -= (lr_t * x) / (np.sqrt(h) + eps)


def rmsprop(p: FloatArray, g: FloatArray, h: FloatArray, grad_avg: FloatArray, buf: FloatArray,
            rho: Real, one_minus_rho: Real, lr: Real, eps: Real, centered: bool, mu: Real,
            use_momentum: bool, gscale: Real, clip: Real, wd: Real, decay: Real) -> None:
    """h <- rho·h + ((1-rho)·x)·x; optional centering and momentum buffer."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h *= rho
    h += (one_minus_rho * x) * x
    if centered:
        grad_avg += one_minus_rho * (x - grad_avg)
        den = np.sqrt(h - grad_avg * grad_avg) + eps
    else:
        den = np.sqrt(h) + eps
    if use_momentum:
        buf *= mu
        buf += x / den
        p -= lr * buf
    else:
        p -= (lr * x) / den


def adadelta(p: FloatArray, g: FloatArray, h: FloatArray, acc_delta: FloatArray, rho: Real,
             one_minus_rho: Real, eps: Real, lr: Real, gscale: Real, clip: Real, wd: Real,
             decay: Real) -> None:
    """h <- rho·h + (1-rho)·x²;  delta = √(acc_delta+eps)/√(h+eps)·x;  acc_delta <- rho·acc_delta + (1-rho)·delta²."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h *= rho
    h += (one_minus_rho * x) * x
    delta = np.sqrt(acc_delta + eps) / np.sqrt(h + eps) * x
    acc_delta *= rho
    acc_delta += (one_minus_rho * delta) * delta
    p -= lr * delta


def adam(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, v_max: FloatArray,
         one_minus_beta1: Real, one_minus_beta2: Real, step_size: Real, bc2_sqrt: Real, eps: Real,
         amsgrad: bool, gscale: Real, clip: Real, wd: Real, decay: Real) -> None:
    """m += (1-b1)(x-m); v += (1-b2)(x²-v);  p <- p - (step_size·m) / (√v / bc2_sqrt + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    v += one_minus_beta2 * (x * x - v)
    if amsgrad:
        np.maximum(v_max, v, out=v_max)
        v = v_max
    p -= (step_size * m) / (np.sqrt(v) / bc2_sqrt + eps)


def adamax(p: FloatArray, g: FloatArray, m: FloatArray, u: FloatArray, one_minus_beta1: Real,
           beta2: Real, eps: Real, lr_t: Real, gscale: Real, clip: Real, wd: Real,
           decay: Real) -> None:
    """m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (lr_t·m) / u."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    np.maximum(u * beta2, np.abs(x) + eps, out=u)
    p -= (lr_t * m) / u


def nadam(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, one_minus_beta1: Real,
          one_minus_beta2: Real, bc2: Real, eps: Real, coef_g: Real, coef_m: Real, gscale: Real,
          clip: Real, wd: Real, decay: Real) -> None:
    """m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (coef_g·x)/den - (coef_m·m)/den."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    v += one_minus_beta2 * (x * x - v)
    den = np.sqrt(v / bc2) + eps
    p -= (coef_g * x) / den
    p -= (coef_m * m) / den
