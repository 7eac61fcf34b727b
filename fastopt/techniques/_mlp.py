"""A small fully connected network builder shared by the technique experiments."""
import numpy as np

from .. import nn

_ACT = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def mlp(sizes, *, activation="relu", init="he", seed=0, dtype=np.float64, scale=1.0):
    """``Sequential``: Affine → activation, ..., Affine (softmax loss), weights seeded.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, classes last (e.g. ``[64, 100, 100, 10]``).
    activation : {"relu", "sigmoid", "tanh"}
    init : {"he", "xavier"} or float
        He (√(2/n_in)), Xavier (√(1/n_in)) or a fixed std, times *scale*.
    seed : int or numpy.random.Generator
    dtype : numpy float dtype
    scale : float
        Multiplies the initial standard deviation (e.g. to make a badly scaled net).

    Returns
    -------
    fastopt.nn.Sequential
        Parameters ``W1``, ``b1``, ``W2``, ... in one FlatParams.
    """
    if activation not in _ACT:
        raise ValueError(f"activation must be one of {sorted(_ACT)}, got {activation!r}")
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must hold at least two widths >= 1, got {sizes}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if init == "he":
            std = np.sqrt(2.0 / n_in)
        elif init == "xavier":
            std = np.sqrt(1.0 / n_in)
        else:
            std = float(init)
        W = (scale * std * rng.standard_normal((n_in, n_out))).astype(dtype)
        layers.append(nn.Affine(W, np.zeros(n_out, dtype)))
        if i < len(sizes) - 2:
            layers.append(_ACT[activation]())
    return nn.Sequential(layers)


def fit(net, opt, x, t, *, epochs, batch_size=32, seed=0, x_val=None, t_val=None):
    """Train with :class:`fastopt.train.Trainer` (shuffled epochs, no progress bar); its history."""
    from ..train import Trainer

    return Trainer(net, opt, x, t, x_val, t_val, epochs=epochs, batch_size=batch_size,
                   seed=seed, progress=False).fit()


def fit_steps(net, opt, x, t, *, steps, batch_size=32, seed=0):
    """Train for about *steps* updates (whole epochs, at least *steps*); the history."""
    import math

    batch_size = min(batch_size, len(x))
    per_epoch = math.ceil(len(x) / batch_size)
    return fit(net, opt, x, t, epochs=max(math.ceil(steps / per_epoch), 1), batch_size=batch_size,
               seed=seed)


def json_float(value):
    """A float for JSON: None where it is NaN or infinite."""
    import math

    value = float(value)
    return value if math.isfinite(value) else None
