"""NumPy twins of the adaptive-rate kernels (see ``fastopt.kernels.adaptive``)."""
import numpy as np

from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def adagrad(p, g, h, clr, eps, gscale, clip, wd, decay):
    # type: (FloatArray, FloatArray, FloatArray, Real, Real, Real, Real, Real, Real) -> None
    """h <- h + x²;  p <- p - (clr·x) / (√h + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h += x * x
    p -= (clr * x) / (np.sqrt(h) + eps)


def rmsprop(p,  # type: FloatArray
            g,  # type: FloatArray
            h,  # type: FloatArray
            ga,  # type: FloatArray
            buf,  # type: FloatArray
            rho,  # type: Real
            omr,  # type: Real
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
    h += (omr * x) * x
    if centered:
        ga += omr * (x - ga)
        den = np.sqrt(h - ga * ga) + eps
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
             acc,  # type: FloatArray
             rho,  # type: Real
             omr,  # type: Real
             eps,  # type: Real
             lr,  # type: Real
             gscale,  # type: Real
             clip,  # type: Real
             wd,  # type: Real
             decay,  # type: Real
             ):
    # type: (...) -> None
    """h <- rho·h + (1-rho)·x²;  delta = √(acc+eps)/√(h+eps)·x;  acc <- rho·acc + (1-rho)·delta²."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h *= rho
    h += (omr * x) * x
    delta = np.sqrt(acc + eps) / np.sqrt(h + eps) * x
    acc *= rho
    acc += (omr * delta) * delta
    p -= lr * delta


def adam(p,  # type: FloatArray
         g,  # type: FloatArray
         m,  # type: FloatArray
         v,  # type: FloatArray
         vmax,  # type: FloatArray
         omb1,  # type: Real
         omb2,  # type: Real
         step_size,  # type: Real
         bc2s,  # type: Real
         eps,  # type: Real
         amsgrad,  # type: bool
         gscale,  # type: Real
         clip,  # type: Real
         wd,  # type: Real
         decay,  # type: Real
         ):
    # type: (...) -> None
    """m += (1-b1)(x-m); v += (1-b2)(x²-v);  p <- p - (step_size·m) / (√v / bc2s + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    v += omb2 * (x * x - v)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    p -= (step_size * m) / (np.sqrt(v) / bc2s + eps)


def adamax(p,  # type: FloatArray
           g,  # type: FloatArray
           m,  # type: FloatArray
           u,  # type: FloatArray
           omb1,  # type: Real
           beta2,  # type: Real
           eps,  # type: Real
           clr,  # type: Real
           gscale,  # type: Real
           clip,  # type: Real
           wd,  # type: Real
           decay,  # type: Real
           ):
    # type: (...) -> None
    """m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (clr·m) / u."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    np.maximum(u * beta2, np.abs(x) + eps, out=u)
    p -= (clr * m) / u


def nadam(p,  # type: FloatArray
          g,  # type: FloatArray
          m,  # type: FloatArray
          v,  # type: FloatArray
          omb1,  # type: Real
          omb2,  # type: Real
          bc2,  # type: Real
          eps,  # type: Real
          cg,  # type: Real
          cm,  # type: Real
          gscale,  # type: Real
          clip,  # type: Real
          wd,  # type: Real
          decay,  # type: Real
          ):
    # type: (...) -> None
    """m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (cg·x)/den - (cm·m)/den."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    v += omb2 * (x * x - v)
    den = np.sqrt(v / bc2) + eps
    p -= (cg * x) / den
    p -= (cm * m) / den
