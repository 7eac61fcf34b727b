"""NumPy twins of the SGD-family kernels (see ``fastopt.kernels.momentum``)."""
from ._grad import decay_param, transformed_grad
from ._types import FloatArray, Real


def sgd(p, g, lr, gscale, clip, wd, decay):
    # type: (FloatArray, FloatArray, Real, Real, Real, Real, Real) -> None
    """p <- p - lr * x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p -= lr * x


def momentum(p,  # type: FloatArray
             g,  # type: FloatArray
             buf,  # type: FloatArray
             mu,  # type: Real
             damp,  # type: Real
             coef,  # type: Real
             nesterov,  # type: bool
             nest_mu,  # type: Real
             gscale,  # type: Real
             clip,  # type: Real
             wd,  # type: Real
             decay,  # type: Real
             ):
    # type: (...) -> None
    """buf <- mu*buf + damp*x;  d = x + nest_mu*buf (nesterov) or buf;  p <- p + coef*d."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    buf *= mu
    buf += damp * x
    d = x + nest_mu * buf if nesterov else buf
    p += coef * d


def nesterov(p,  # type: FloatArray
             g,  # type: FloatArray
             v,  # type: FloatArray
             mu_squared,  # type: Real
             one_plus_mu_lr,  # type: Real
             mu,  # type: Real
             lr,  # type: Real
             gscale,  # type: Real
             clip,  # type: Real
             wd,  # type: Real
             decay,  # type: Real
             ):
    # type: (...) -> None
    """The book's corrected (2021) Nesterov: p += mu²v; p -= (1+mu)·lr·x; v <- mu·v - lr·x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p += mu_squared * v
    p -= one_plus_mu_lr * x
    v *= mu
    v -= lr * x
