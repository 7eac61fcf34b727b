"""NumPy twins of the SGD-family kernels (see ``fastopt.kernels.momentum``)."""
from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def sgd(p: FloatArray, g: FloatArray, lr: Real, gscale: Real, clip: Real, wd: Real,
        decay: Real) -> None:
    """p <- p - lr * x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p -= lr * x


def momentum(p: FloatArray, g: FloatArray, buf: FloatArray, mu: Real, damp: Real, coef: Real,
             nesterov: bool, nest_mu: Real, gscale: Real, clip: Real, wd: Real,
             decay: Real) -> None:
    """buf <- mu*buf + damp*x;  d = x + nest_mu*buf (nesterov) or buf;  p <- p + coef*d."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    buf *= mu
    buf += damp * x
    d = x + nest_mu * buf if nesterov else buf
    p += coef * d


def nesterov(p: FloatArray, g: FloatArray, velocity: FloatArray, mu_squared: Real,
             one_plus_mu_lr: Real,
             mu: Real, lr: Real, gscale: Real, clip: Real, wd: Real, decay: Real) -> None:
    """The book's corrected (2021) Nesterov: p += mu²·velocity; p -= (1+mu)·lr·x;
    velocity <- mu·velocity - lr·x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p += mu_squared * velocity
    p -= one_plus_mu_lr * x
    velocity *= mu
    velocity -= lr * x
