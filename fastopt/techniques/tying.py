r"""Parameter tying (a soft L2 pull between two models) and hard parameter sharing.

*Tying* (Goodfellow et al., *Deep Learning* §7.9): two models for related tasks
should have similar weights, so their difference is penalised,

.. math:: \Omega = \tfrac{\lambda}{2}\sum_k \lVert W^{(a)}_k - W^{(b)}_k \rVert^2,
          \qquad \partial\Omega/\partial W^{(a)}_k = \lambda (W^{(a)}_k - W^{(b)}_k)
          = -\partial\Omega/\partial W^{(b)}_k .

*Sharing* forces them to be equal: :class:`TiedAffine` reuses another
:class:`fastopt.nn.Affine`'s ``W`` and ``b`` inside a :class:`SharedSequential`,
which adds the tied layer's gradient to the owner's after the backward pass,
so the shared parameter is stored, counted and updated once.
"""
from typing import Any, Mapping, MutableMapping, Optional

import numpy as np

from .._validate import check_float
from ._names import name_pairs
from ..nn.layers import Affine, Layer, flatten_rows
from ..nn.network import Sequential

__all__ = ["L2Tie", "SharedSequential", "TiedAffine", "l2_tie"]


def _pairs(params_a, params_b, names):
    if names is None:
        names = [n for n in params_a if n in params_b and np.ndim(params_a[n]) >= 2]
        if not names:
            raise ValueError("params_a and params_b share no weight (ndim >= 2) names; pass names")
    pairs = name_pairs(params_a, params_b, names, "params_a", "params_b")
    if not pairs:
        raise ValueError("names selects no parameter pair")
    return pairs


class L2Tie:
    r"""The L2 penalty between corresponding parameters of two models.

    .. math:: \Omega = \tfrac{\lambda}{2}\sum_{(a, b)} \lVert A_a - B_b \rVert^2

    Parameters
    ----------
    params_a, params_b : mapping of str to ndarray
        The two models' parameters (e.g. ``net_a.params``, ``net_b.params``);
        read live at every call.
    lam : float >= 0
        λ, the strength of the pull.
    names : iterable of str or of (name_a, name_b), optional
        Which parameters to tie: a name present in both, or a pair. Default:
        every weight (``ndim >= 2``) whose name is in both.

    Examples
    --------
    >>> tie = L2Tie(net_a.params, net_b.params, lam=1e-2, names=["W1"])
    >>> net_a.gradient(xa, ta); net_b.gradient(xb, tb)
    >>> penalty = tie.add_gradients(net_a.grads, net_b.grads)
    >>> opt_a.step(); opt_b.step()
    """

    def __init__(self, params_a: Mapping[str, np.ndarray], params_b: Mapping[str, np.ndarray],
                 lam: float, names: Any = None) -> None:
        self.lam = check_float("lam", lam, low=0.0)
        self.params_a, self.params_b = params_a, params_b
        self.pairs = _pairs(params_a, params_b, names)

    def penalty(self) -> float:
        """Ω = ½λ Σ‖A − B‖² (a float)."""
        total = 0.0
        for a, b in self.pairs:
            diff = np.asarray(self.params_a[a], np.float64) - self.params_b[b]
            total += float(np.dot(diff.reshape(-1), diff.reshape(-1)))
        return 0.5 * self.lam * total

    def add_gradients(self, grads_a: Optional[MutableMapping[str, np.ndarray]] = None,
                      grads_b: Optional[MutableMapping[str, np.ndarray]] = None) -> float:
        """Add ∂Ω/∂A = λ(A − B) to *grads_a* and ∂Ω/∂B = −λ(A − B) to *grads_b* (in place).

        Either may be None (e.g. to pull only model *a* towards a fixed *b*).
        Returns the penalty Ω.
        """
        total = 0.0
        for a, b in self.pairs:
            A, B = self.params_a[a], self.params_b[b]
            diff = A - B
            total += float(np.dot(diff.reshape(-1).astype(np.float64), diff.reshape(-1)))
            diff *= diff.dtype.type(self.lam)
            if grads_a is not None:
                grads_a[a] += diff
            if grads_b is not None:
                grads_b[b] -= diff
        return 0.5 * self.lam * total

    def distance(self) -> float:
        """√Σ‖A − B‖² over the tied parameters (a float)."""
        return float(np.sqrt(sum(
            float(np.sum((np.asarray(self.params_a[a], np.float64) - self.params_b[b]) ** 2))
            for a, b in self.pairs)))


def l2_tie(params_a: Mapping[str, np.ndarray], params_b: Mapping[str, np.ndarray], lam: float,
           names: Any = None, grads_a: Optional[MutableMapping[str, np.ndarray]] = None,
           grads_b: Optional[MutableMapping[str, np.ndarray]] = None) -> float:
    r"""Ω = ½λ Σ‖A − B‖² and, if grads are given, add its gradients to them in place.

    One-shot form of :class:`L2Tie`: ``grads_a[a] += λ(A − B)``,
    ``grads_b[b] −= λ(A − B)``. Returns Ω.
    """
    return L2Tie(params_a, params_b, lam, names).add_gradients(grads_a, grads_b)


class TiedAffine(Layer):
    """An affine layer ``y = x·W + b`` that uses another Affine layer's W and b.

    It has no parameters of its own: the network stores, updates and counts
    the owner's once. Its backward pass keeps its share of the gradient in
    :attr:`dW`, :attr:`db`; :class:`SharedSequential` adds them to the owner's
    gradients after every backward pass (a plain :class:`~fastopt.nn.Sequential`
    would drop them, so using it there raises).

    Parameters
    ----------
    owner : fastopt.nn.Affine
        The layer whose parameters are shared (the W of both must fit the
        input; the owner's W is square when the two follow each other).
    """

    def __init__(self, owner):
        if not isinstance(owner, Affine):
            raise TypeError(f"owner must be a fastopt.nn.Affine, got {type(owner).__name__}")
        self.owner = owner
        self.x = self.original_x_shape = None
        self.dW = self.db = None
        self._container = None

    def forward(self, x, train=True):
        self.original_x_shape = x.shape
        x = flatten_rows(x)
        W = self.owner.W
        if x.shape[1] != W.shape[0]:
            raise ValueError(f"TiedAffine expects {W.shape[0]} input features, got {x.shape[1]}")
        self.x = x
        return x @ W + self.owner.b

    def backward(self, dout):
        if self._container is None:
            raise RuntimeError("TiedAffine must be used inside fastopt.techniques.SharedSequential, "
                               "which adds its gradient to the owner's")
        if self.x is None:
            self._need_forward("the input")
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        return (dout @ self.owner.W.T).reshape(self.original_x_shape)

    def __repr__(self):
        W = self.owner.W
        return f"TiedAffine({W.shape[0]} -> {W.shape[1]}, shared)"


class SharedSequential(Sequential):
    """A :class:`~fastopt.nn.Sequential` in which :class:`TiedAffine` layers share weights.

    ``gradient`` (and ``input_gradient``) run the ordinary backward pass, then
    add each tied layer's gradient to its owner's: for a parameter used by
    layers l₁, l₂, ..., ∂L/∂W = Σᵢ ∂L/∂W|_{lᵢ}.

    Examples
    --------
    >>> hidden = nn.Affine(W, b)
    >>> net = SharedSequential([nn.Affine(W0, b0), nn.ReLU(), hidden, nn.ReLU(),
    ...                         TiedAffine(hidden), nn.ReLU(), nn.Affine(W3, b3)])
    """

    def __init__(self, layers, loss=None, **kwargs):
        super().__init__(layers, loss, **kwargs)
        self.tied = [layer for layer in self.layers if isinstance(layer, TiedAffine)]
        for layer in self.tied:
            if not any(layer.owner is other for other in self.layers):
                raise ValueError("a TiedAffine's owner must be a layer of the same network")
            layer._container = self

    def _add_tied(self):
        for layer in self.tied:
            layer.owner.dW += layer.dW
            layer.owner.db += layer.db

    def gradient(self, x, t):
        super().gradient(x, t)
        self._add_tied()
        return self.grads

    def input_gradient(self, x, t, train=False):
        dx = super().input_gradient(x, t, train)
        self._add_tied()
        return dx
