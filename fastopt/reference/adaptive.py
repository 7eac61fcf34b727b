"""NumPy twins of the adaptive-rate kernels (see ``fastopt.kernels.adaptive``)."""
import numpy as np

from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def adagrad(p, g, h, lr_t, eps, gscale, clip, wd, decay):
    # type: (FloatArray, FloatArray, FloatArray, Real, Real, Real, Real, Real, Real) -> None
    """h <- h + x²;  p <- p - (lr_t·x) / (√h + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h += x * x
    p -= (lr_t * x) / (np.sqrt(h) + eps)


def rmsprop(p,  # type: FloatArray
            g,  # type: FloatArray
            h,  # type: FloatArray
            grad_avg,  # type: FloatArray
            buf,  # type: FloatArray
            rho,  # type: Real
            one_minus_rho,  # type: Real
            lr,  # type: Real
            eps,  # type: Real
            centered,  # type: bool
            mu,  # type: Real
            use_momentum,  # type: bool
            gscale,  # type: Real
            clip,  # type: Real
            wd,  # type: Real
            decay,  # type: Real
            ):
    # type: (...) -> None
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


def adadelta(p,  # type: FloatArray
             g,  # type: FloatArray
             h,  # type: FloatArray
             acc_delta,  # type: FloatArray
             rho,  # type: Real
             one_minus_rho,  # type: Real
             eps,  # type: Real
             lr,  # type: Real
             gscale,  # type: Real
             clip,  # type: Real
             wd,  # type: Real
             decay,  # type: Real
             ):
    # type: (...) -> None
    """h <- rho·h + (1-rho)·x²;  delta = √(acc_delta+eps)/√(h+eps)·x;  acc_delta <- rho·acc_delta + (1-rho)·delta²."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h *= rho
    h += (one_minus_rho * x) * x
    delta = np.sqrt(acc_delta + eps) / np.sqrt(h + eps) * x
    acc_delta *= rho
    acc_delta += (one_minus_rho * delta) * delta
    p -= lr * delta


def adam(p,  # type: FloatArray
         g,  # type: FloatArray
         m,  # type: FloatArray
         v,  # type: FloatArray
         v_max,  # type: FloatArray
         one_minus_beta1,  # type: Real
         one_minus_beta2,  # type: Real
         step_size,  # type: Real
         bc2_sqrt,  # type: Real
         eps,  # type: Real
         amsgrad,  # type: bool
         gscale,  # type: Real
         clip,  # type: Real
         wd,  # type: Real
         decay,  # type: Real
         ):
    # type: (...) -> None
    """m += (1-b1)(x-m); v += (1-b2)(x²-v);  p <- p - (step_size·m) / (√v / bc2_sqrt + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    v += one_minus_beta2 * (x * x - v)
    if amsgrad:
        np.maximum(v_max, v, out=v_max)
        v = v_max
    p -= (step_size * m) / (np.sqrt(v) / bc2_sqrt + eps)


def adamax(p,  # type: FloatArray
           g,  # type: FloatArray
           m,  # type: FloatArray
           u,  # type: FloatArray
           one_minus_beta1,  # type: Real
           beta2,  # type: Real
           eps,  # type: Real
           lr_t,  # type: Real
           gscale,  # type: Real
           clip,  # type: Real
           wd,  # type: Real
           decay,  # type: Real
           ):
    # type: (...) -> None
    """m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (lr_t·m) / u."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    np.maximum(u * beta2, np.abs(x) + eps, out=u)
    p -= (lr_t * m) / u


def nadam(p,  # type: FloatArray
          g,  # type: FloatArray
          m,  # type: FloatArray
          v,  # type: FloatArray
          one_minus_beta1,  # type: Real
          one_minus_beta2,  # type: Real
          bc2,  # type: Real
          eps,  # type: Real
          coef_g,  # type: Real
          coef_m,  # type: Real
          gscale,  # type: Real
          clip,  # type: Real
          wd,  # type: Real
          decay,  # type: Real
          ):
    # type: (...) -> None
    """m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (coef_g·x)/den - (coef_m·m)/den."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += one_minus_beta1 * (x - m)
    v += one_minus_beta2 * (x * x - v)
    den = np.sqrt(v / bc2) + eps
    p -= (coef_g * x) / den
    p -= (coef_m * m) / den
