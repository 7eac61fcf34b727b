"""NumPy twins of the SGD-family kernels (see ``fastopt.kernels.momentum``)."""
from ._grad import decay_param, transformed_grad


def sgd(p, g, lr, gscale, clip, wd, decay):
    """p <- p - lr * x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p -= lr * x


def momentum(p, g, buf, mu, damp, coef, nesterov, nest_mu, gscale, clip, wd, decay):
    """buf <- mu*buf + damp*x;  d = x + nest_mu*buf (nesterov) or buf;  p <- p + coef*d."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    buf *= mu
    buf += damp * x
    d = x + nest_mu * buf if nesterov else buf
    p += coef * d


def nesterov(p, g, v, mu2, opml, mu, lr, gscale, clip, wd, decay):
    """The book's corrected (2021) Nesterov: p += mu²v; p -= (1+mu)·lr·x; v <- mu·v - lr·x."""
    decay_param(p, decay)
    x = transformed_grad(p, g, gscale, clip, wd)
    p += mu2 * v
    p -= opml * x
    v *= mu
    v -= lr * x
