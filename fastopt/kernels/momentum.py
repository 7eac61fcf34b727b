"""SGD-family update kernels (Numba). Twins: ``fastopt.reference.momentum``."""
from ._jit import decay_at, elementwise, grad_at, jit


@jit
def _sgd(lo, hi, p, g, lr, gscale, clip, wd, decay):
    """p <- p - lr * x."""
    for i in range(lo, hi):
        decay_at(p, i, decay)
        x = grad_at(p, g, i, gscale, clip, wd)
        p[i] = p[i] - lr * x


@jit
def _momentum(lo, hi, p, g, buf, mu, damp, coef, nesterov, nest_mu, gscale, clip, wd, decay):
    """buf <- mu*buf + damp*x;  d = x + nest_mu*buf (nesterov) or buf;  p <- p + coef*d."""
    for i in range(lo, hi):
        decay_at(p, i, decay)
        x = grad_at(p, g, i, gscale, clip, wd)
        b = buf[i] * mu + damp * x
        buf[i] = b
        if nesterov:
            p[i] = p[i] + coef * (x + nest_mu * b)
        else:
            p[i] = p[i] + coef * b


@jit
def _nesterov(lo, hi, p, g, v, mu2, opml, mu, lr, gscale, clip, wd, decay):
    """The book's corrected (2021) Nesterov: p += mu²v; p -= (1+mu)·lr·x; v <- mu·v - lr·x."""
    for i in range(lo, hi):
        decay_at(p, i, decay)
        x = grad_at(p, g, i, gscale, clip, wd)
        vi = v[i]
        p[i] = (p[i] + mu2 * vi) - opml * x
        v[i] = vi * mu - lr * x


sgd = elementwise(_sgd)
momentum = elementwise(_momentum)
nesterov = elementwise(_nesterov)
