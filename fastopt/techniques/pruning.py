"""Magnitude pruning, with masks the optimizer keeps in force after every step.

Pruning sets the weights of smallest magnitude to zero (LeCun et al. 1990's
"optimal brain damage" in its simplest form, Han et al. 2015's
prune-retrain loop). Two pieces:

* :func:`magnitude_masks` chooses the weights to remove: a boolean *keep* mask
  per parameter, over all chosen parameters together (``scope="global"``) or
  per parameter (``scope="layer"``).
* :class:`Pruner` applies masks, ``θ ← θ ⊙ m``, and :meth:`Pruner.attach`
  re-applies them after every ``opt.step()`` through the optimizer's post-step
  hook. Whatever the update rule and its state (momentum, Adam's m and v, weight
  decay) would do to a pruned weight, it is zero again when ``step`` returns.
  For a :class:`fastopt.FlatParams` the masks live in one 0/1 array aligned
  with each dtype buffer, so re-applying them is a single fused multiply over
  the buffer per step, not a loop over arrays.
"""
from collections.abc import Mapping

from typing import Any, Dict, List, Optional, Sequence, cast

import numpy as np

from .._validate import check_choice, check_float
from ..optim.flat import FlatParams

__all__ = ["Pruner", "magnitude_masks", "sparsity"]


def _default_names(params):
    """The weights: every parameter with two or more dimensions (biases and BN scales stay)."""
    return [name for name, arr in params.items() if np.ndim(arr) >= 2]


def _check_names(params, names, what="names"):
    names = _default_names(params) if names is None else list(names)
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ValueError(f"{what} has entries that are not parameters: {unknown}; "
                         f"parameters are {list(params)}")
    if not names:
        raise ValueError(f"{what} selects no parameter to prune")
    return names


def _check_masks(params, masks, what="masks"):
    if not isinstance(masks, Mapping):
        raise TypeError(f"{what} must be a mapping name -> bool array, got {type(masks).__name__}")
    out = {}
    for name, mask in masks.items():
        if name not in params:
            raise ValueError(f"{what}[{name!r}]: no parameter of that name")
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"{what}[{name!r}] must be a bool array (True = kept), got {mask.dtype}")
        if mask.shape != np.shape(params[name]):
            raise ValueError(f"{what}[{name!r}] has shape {mask.shape}, the parameter has "
                             f"{np.shape(params[name])}")
        out[name] = mask
    return out


def magnitude_masks(params: Mapping[str, np.ndarray], fraction: float, *, scope: str = "global",
                    names: Optional[Sequence[str]] = None,
                    masks: Optional[Mapping[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    r"""Keep-masks that prune the *fraction* of weights of smallest magnitude.

    For the chosen parameters :math:`W_k`, the pruned set is the
    :math:`\mathrm{round}(s\cdot n)` entries of smallest :math:`|w|`, where *s*
    is *fraction* and *n* the number of entries considered: all chosen entries
    together (``scope="global"``, one threshold for the whole model) or each
    parameter on its own (``scope="layer"``, the same sparsity in every layer).
    Entries already pruned in *masks* are pruned first, so iterating
    prune → retrain → prune with a growing *fraction* only ever adds to the
    pruned set. Ties are broken by position (stable sort).

    Parameters
    ----------
    params : mapping of str to ndarray
        The parameters (e.g. ``net.params``).
    fraction : float in [0, 1]
        Target sparsity: the share of the chosen entries to prune.
    scope : {"global", "layer"}
    names : iterable of str, optional
        Parameters to prune. Default: every parameter with ``ndim >= 2`` (the
        weight matrices; biases and batch-norm scales are kept).
    masks : mapping of str to bool ndarray, optional
        Current keep-masks (True = kept); their pruned entries stay pruned.

    Returns
    -------
    dict of str to bool ndarray
        A keep-mask for each chosen parameter (True = kept).

    Examples
    --------
    >>> masks = magnitude_masks(net.params, 0.8)            # 80 % of all weights
    >>> masks = magnitude_masks(net.params, 0.9, masks=masks, scope="layer")
    """
    fraction = check_float("fraction", fraction, low=0.0, high=1.0)
    check_choice("scope", scope, ("global", "layer"))
    names = _check_names(params, names)
    current = {} if masks is None else _check_masks(params, masks)
    scores = {}
    for name in names:
        score = np.abs(np.asarray(params[name], dtype=np.float64)).reshape(-1)
        if name in current:
            score = np.where(current[name].reshape(-1), score, -1.0)  # pruned first
        scores[name] = score
    if scope == "layer":
        return {name: _keep(scores[name], fraction).reshape(np.shape(params[name])) for name in names}
    return split_like(_keep(np.concatenate([scores[n] for n in names]), fraction), params, names)


def split_like(flat: np.ndarray, params: Mapping[str, Any],
               names: Sequence[str]) -> Dict[str, np.ndarray]:
    """*flat* cut into one view per name, in order, each shaped like ``params[name]``.

    The inverse of concatenating the flattened ``params[name]`` for *names*
    (how a global mask over several parameters is chosen).
    """
    out, offset = {}, 0
    for name in names:
        size = int(np.size(params[name]))
        out[name] = flat[offset:offset + size].reshape(np.shape(params[name]))
        offset += size
    return out


def _keep(score, fraction):
    k = int(round(fraction * score.size))
    keep = np.ones(score.size, dtype=bool)
    if k:
        keep[np.argsort(score, kind="stable")[:k]] = False
    return keep


def sparsity(masks: Mapping[str, np.ndarray]) -> float:
    """Share of pruned entries over all *masks* (keep-masks, True = kept)."""
    total = sum(np.size(m) for m in masks.values())
    kept = sum(int(np.count_nonzero(m)) for m in masks.values())
    return (total - kept) / total if total else 0.0


class Pruner:
    r"""Holds keep-masks for a model and applies them: :math:`\theta \leftarrow \theta \odot m`.

    Parameters
    ----------
    params : FlatParams or mapping of str to ndarray
        The model's parameters (e.g. ``net.params``). With a
        :class:`~fastopt.FlatParams` one 0/1 mask array per dtype buffer is
        kept, aligned with it, and :meth:`apply` is one multiply per buffer.
        A plain mapping of arrays gets one multiply per masked array.
    masks : mapping of str to bool ndarray, optional
        Keep-masks by parameter name (True = kept), e.g. from
        :func:`magnitude_masks`. Parameters without a mask are never touched.
        Default: keep everything.

    Notes
    -----
    A pruned entry is exactly zero after :meth:`apply` (``-0.0`` where the
    multiply meets a negative value; ``== 0`` holds either way). The optimizer
    keeps updating its state for pruned entries (their gradients still flow),
    but the post-step multiply removes any update they cause, so neither
    momentum nor Adam's moments can bring a pruned weight back. Global-norm
    clipping still counts the gradients of pruned weights.

    Examples
    --------
    >>> pruner = Pruner(net.params, magnitude_masks(net.params, 0.9))
    >>> pruner.apply()                  # zero the pruned weights now
    >>> handle = pruner.attach(opt)     # and after every opt.step()
    >>> pruner.set_masks(magnitude_masks(net.params, 0.95, masks=pruner.masks()))
    """

    def __init__(self, params: Any, masks: Optional[Mapping[str, np.ndarray]] = None) -> None:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a FlatParams or a mapping of arrays, got "
                            f"{type(params).__name__}")
        self.params: Any = cast(Any, params)      # a FlatParams or a mapping of arrays
        self._flat = isinstance(params, FlatParams)
        if self._flat:
            self._buffers = {dt: np.ones(buf.size, dtype=dt) for dt, buf in self.params.buffers.items()}
            self._views = {}
            for dt, entries in self.params.layout.items():
                for name, offset, size, shape in entries:
                    self._views[name] = self._buffers[dt][offset:offset + size].reshape(shape)
        else:
            for name, arr in params.items():
                if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
                    raise TypeError(f"params[{name!r}] must be a float ndarray")
            self._views = {}
        self._names: List[str] = []
        self.set_masks({} if masks is None else masks)

    def set_masks(self, masks: Mapping[str, np.ndarray]) -> "Pruner":
        """Replace the masks (parameters left out become unmasked). Does not apply them."""
        masks = _check_masks(self.params, masks)
        if self._flat:
            for buf in self._buffers.values():
                buf.fill(1)
            for name, mask in masks.items():
                self._views[name][...] = mask
        else:
            self._views = {name: mask.astype(self.params[name].dtype) for name, mask in masks.items()}
        self._names = list(masks)
        return self

    def masks(self) -> Dict[str, np.ndarray]:
        """Copies of the keep-masks, ``{name: bool ndarray}`` (True = kept)."""
        return {name: self._views[name] != 0 for name in self._names}

    def sparsity(self) -> float:
        """Share of pruned entries among the masked parameters."""
        return sparsity(self.masks())

    def apply(self) -> None:
        """Zero the pruned entries in place: ``θ ← θ ⊙ m`` (one multiply per buffer)."""
        if self._flat:
            for dt, buf in self.params.buffers.items():
                np.multiply(buf, self._buffers[dt], out=buf)
        else:
            for name in self._names:
                arr = self.params[name]
                np.multiply(arr, self._views[name], out=arr)

    def attach(self, optimizer: Any) -> Any:
        """Re-apply the masks after every ``optimizer.step()``; also apply them now.

        Parameters
        ----------
        optimizer : fastopt.optim.Optimizer
            Must update these parameters (checked by memory overlap).

        Returns
        -------
        handle
            ``handle.remove()`` detaches the masks from the optimizer.
        """
        if not hasattr(optimizer, "register_step_post_hook"):
            raise TypeError(f"optimizer must be a fastopt.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        targets = list(self.params.values())
        if not any(np.shares_memory(p, q) for p in optimizer.params().values() for q in targets):
            raise ValueError("optimizer does not update these parameters (no parameter array is "
                             "shared with params)")
        self.apply()
        return optimizer.register_step_post_hook(lambda _opt: self.apply())

    def __repr__(self):
        return f"Pruner({len(self._names)} masked arrays, sparsity={self.sparsity():.3f})"
