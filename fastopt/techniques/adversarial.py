r"""Adversarial examples by the fast gradient sign method, and adversarial training.

FGSM (Goodfellow, Shlens & Szegedy 2015, arXiv:1412.6572) moves every input
feature by ±ε in the direction that increases the loss most to first order:

.. math:: \tilde x = \mathrm{clip}\big(x + \varepsilon\,\mathrm{sign}(\nabla_x L(\theta; x, t)),\
          x_{\min}, x_{\max}\big)

Adversarial training minimises
:math:`\alpha L(\theta; x, t) + (1 - \alpha) L(\theta; \tilde x, t)`, with
:math:`\tilde x` recomputed from the current θ for every batch.

The input gradient comes from :meth:`fastopt.nn.Sequential.input_gradient`
(evaluation mode by default: batch norm with running statistics, dropout as
its test-time scaling).
"""
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .._validate import check_float

__all__ = ["AdversarialTraining", "accuracy_under_attack", "fgsm"]


def _check_clip(clip):
    if clip is None:
        return None
    try:
        lo, hi = clip
    except (TypeError, ValueError):
        raise TypeError(f"clip must be None or a pair (low, high), got {clip!r}") from None
    lo, hi = check_float("clip[0]", lo), check_float("clip[1]", hi)
    if lo > hi:
        raise ValueError(f"clip must have low <= high, got {clip!r}")
    return lo, hi


def fgsm(network: Any, x: np.ndarray, t: np.ndarray, eps: float, *,
         clip: Optional[Tuple[float, float]] = (0.0, 1.0), train: bool = False) -> np.ndarray:
    r"""FGSM adversarial examples: :math:`\mathrm{clip}(x + \varepsilon\,\mathrm{sign}(\partial L/\partial x))`.

    Parameters
    ----------
    network : fastopt.nn.Sequential
        Any network with ``input_gradient(x, t, train)``.
    x : ndarray of float
        Clean inputs.
    t : ndarray
        Their labels (indices or one-hot).
    eps : float >= 0
        ε, the L∞ size of the perturbation (in the units of x).
    clip : (float, float) or None, default (0, 1)
        The data range; the examples are clipped to it. None: no clipping.
    train : bool, default False
        Take the gradient in training mode (see ``input_gradient``).

    Returns
    -------
    ndarray
        The adversarial inputs, same shape and dtype as *x*.

    Notes
    -----
    Overwrites ``network.grads`` (a side effect of ``input_gradient``).
    """
    eps = check_float("eps", eps, low=0.0)
    clip = _check_clip(clip)
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x must be a float array, got {x.dtype}")
    if eps == 0.0:
        return x.copy()
    gx = network.input_gradient(x, t, train)
    x_adv = x + x.dtype.type(eps) * np.sign(gx).astype(x.dtype, copy=False)
    if clip is not None:
        np.clip(x_adv, x.dtype.type(clip[0]), x.dtype.type(clip[1]), out=x_adv)
    return x_adv


def accuracy_under_attack(network: Any, x: np.ndarray, t: np.ndarray, eps: float, *,
                          clip: Optional[Tuple[float, float]] = (0.0, 1.0), batch_size: int = 256) -> float:
    """Accuracy on FGSM examples made against *network* itself (a white-box attack).

    Parameters
    ----------
    network : fastopt.nn.Sequential
    x, t : ndarray
        Clean inputs and labels.
    eps : float >= 0
    clip : (float, float) or None
    batch_size : int
        Rows attacked at a time (the attack is per example, so this changes
        nothing but memory).

    Returns
    -------
    float
        Share of adversarial examples classified correctly (ε = 0: clean accuracy).
    """
    eps = check_float("eps", eps, low=0.0)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    labels = np.asarray(t)
    labels = labels if labels.ndim == 1 else labels.argmax(axis=1)
    correct = 0
    for lo in range(0, len(x), batch_size):
        xb, tb = x[lo:lo + batch_size], t[lo:lo + batch_size]
        xa = fgsm(network, xb, tb, eps, clip=clip)
        correct += int(np.sum(np.argmax(network.predict(xa), axis=1) == labels[lo:lo + batch_size]))
    return correct / len(x) if len(x) else 0.0


class AdversarialTraining:
    r"""Wrap a network so that its ``gradient`` is that of the adversarial objective.

    .. math:: \tilde L = \alpha\,L(\theta; x, t) + (1 - \alpha)\,L(\theta; \tilde x, t),
              \qquad \tilde x = \mathrm{fgsm}(x, \varepsilon)

    The wrapper has its own ``gradient`` and ``last_loss``; everything else
    :class:`fastopt.train.Trainer` needs (``params``, ``grads``, ``accuracy``,
    ``buffers``, ...) is looked up on the wrapped network. Each call costs one input
    gradient and two gradients.

    Parameters
    ----------
    network : fastopt.nn.Sequential
        Its parameters must be a FlatParams (as every Sequential's are).
    eps : float >= 0
        ε of the FGSM examples.
    alpha : float in [0, 1], default 0.5
        Weight of the clean loss (Goodfellow et al. use 0.5).
    clip : (float, float) or None, default (0, 1)

    Examples
    --------
    >>> robust = AdversarialTraining(net, eps=0.1)
    >>> Trainer(robust, optim.Adam(net.params, lr=1e-3), x, t, epochs=20).fit()
    """

    def __init__(self, network: Any, eps: float, alpha: float = 0.5, *,
                 clip: Optional[Tuple[float, float]] = (0.0, 1.0)) -> None:
        self.network = network
        self.eps = check_float("eps", eps, low=0.0)
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0)
        self.clip = _check_clip(clip)
        if not hasattr(network.params, "grad_buffers"):
            raise TypeError("network.params must be a fastopt.FlatParams (use fastopt.nn.Sequential)")
        self._saved = {dt: np.empty_like(buf) for dt, buf in network.params.grad_buffers.items()}
        self.last_loss: Optional[float] = None

    def __getattr__(self, name):
        return getattr(self.network, name)

    def gradient(self, x: np.ndarray, t: np.ndarray) -> Dict[str, np.ndarray]:
        """Gradients of the mixed clean/adversarial loss, written into ``network.grads``."""
        net, a = self.network, self.alpha
        x_adv = fgsm(net, x, t, self.eps, clip=self.clip)
        net.gradient(x, t)
        clean_loss = float(net.last_loss)
        for dt, buf in net.params.grad_buffers.items():
            np.copyto(self._saved[dt], buf)
        net.gradient(x_adv, t)
        for dt, buf in net.params.grad_buffers.items():
            buf *= dt.type(1 - a)
            buf += dt.type(a) * self._saved[dt]
        self.last_loss = a * clean_loss + (1 - a) * float(net.last_loss)
        return net.grads
