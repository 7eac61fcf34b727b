"""SGD-family update kernels (Numba). Twins: ``fastopt.reference.momentum``."""
from ._jit import jit, prepared, update_kernel


@jit
def _sgd(lo, hi, p, g, lr, transform):
    """p <- p - lr * x."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        p[i] = pi - lr * x


@jit
def _momentum(lo, hi, p, g, buf, mu, damp, coef, nesterov, nest_mu, transform):
    """buf <- mu*buf + damp*x;  d = x + nest_mu*buf (nesterov) or buf;  p <- p + coef*d."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        b = buf[i] * mu + damp * x
        buf[i] = b
        if nesterov:
            p[i] = pi + coef * (x + nest_mu * b)
        else:
            p[i] = pi + coef * b


@jit
def _nesterov(lo, hi, p, g, velocity, mu_squared, one_plus_mu_lr, mu, lr, transform):
    """The book's corrected (2021) Nesterov: p += mu²·velocity; p -= (1+mu)·lr·x;
    velocity <- mu·velocity - lr·x."""
    for i in range(lo, hi):
        pi, x = prepared(p[i], g[i], transform)
        vi = velocity[i]
        p[i] = (pi + mu_squared * vi) - one_plus_mu_lr * x
        velocity[i] = vi * mu - lr * x


sgd = update_kernel(_sgd)
momentum = update_kernel(_momentum)
nesterov = update_kernel(_nesterov)
