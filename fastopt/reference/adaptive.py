"""NumPy twins of the adaptive-rate kernels (see ``fastopt.kernels.adaptive``)."""
import numpy as np

from ._grad import decay_param, transformed_grad


def adagrad(p, g, h, clr, eps, gscale, clip, wd, decay):
    """h <- h + x²;  p <- p - (clr·x) / (√h + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h += x * x
    p -= (clr * x) / (np.sqrt(h) + eps)


def rmsprop(p, g, h, ga, buf, rho, omr, lr, eps, centered, mu, use_momentum,
            gscale, clip, wd, decay):
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


def adadelta(p, g, h, acc, rho, omr, eps, lr, gscale, clip, wd, decay):
    """h <- rho·h + (1-rho)·x²;  delta = √(acc+eps)/√(h+eps)·x;  acc <- rho·acc + (1-rho)·delta²."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    h *= rho
    h += (omr * x) * x
    delta = np.sqrt(acc + eps) / np.sqrt(h + eps) * x
    acc *= rho
    acc += (omr * delta) * delta
    p -= lr * delta


def adam(p, g, m, v, vmax, omb1, omb2, step_size, bc2s, eps, amsgrad,
         gscale, clip, wd, decay):
    """m += (1-b1)(x-m); v += (1-b2)(x²-v);  p <- p - (step_size·m) / (√v / bc2s + eps)."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    v += omb2 * (x * x - v)
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        v = vmax
    p -= (step_size * m) / (np.sqrt(v) / bc2s + eps)


def adamax(p, g, m, u, omb1, beta2, eps, clr, gscale, clip, wd, decay):
    """m += (1-b1)(x-m);  u <- max(b2·u, |x| + eps);  p <- p - (clr·m) / u."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    np.maximum(u * beta2, np.abs(x) + eps, out=u)
    p -= (clr * m) / u


def nadam(p, g, m, v, omb1, omb2, bc2, eps, cg, cm, gscale, clip, wd, decay):
    """m, v as Adam;  den = √(v/bc2) + eps;  p <- p - (cg·x)/den - (cm·m)/den."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    m += omb1 * (x - m)
    v += omb2 * (x * x - v)
    den = np.sqrt(v / bc2) + eps
    p -= (cg * x) / den
    p -= (cm * m) / den
