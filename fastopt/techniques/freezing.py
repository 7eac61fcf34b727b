"""Freezing layers and moving weights between models (transfer learning).

Freezing uses the optimizers' param groups: a group with ``"frozen": True`` is
skipped by ``step`` (no update, no state change, no gradient needed), so frozen
parameters stay bit-unchanged whatever the update rule, its weight decay or its
momentum. :func:`freeze` splits a model's parameters into a trainable and a
frozen group of views; flip ``opt.param_groups[1]["frozen"]`` to unfreeze later.

Cost: the groups hold views, so a step is one kernel call per trainable array
instead of one per FlatParams buffer.
"""
from collections.abc import Mapping

from typing import Any, Callable, Dict, List, Sequence, Union

import numpy as np

from ._names import name_pairs

__all__ = ["copy_parameters", "freeze", "frozen_names"]


def frozen_names(params: Mapping[str, np.ndarray], frozen: Union[str, Sequence[str], Callable[[str], bool]]) -> List[str]:
    """Names of *params* that *frozen* selects (see :func:`freeze`), in parameter order."""
    if callable(frozen):
        return [name for name in params if frozen(name)]
    if isinstance(frozen, str):
        frozen = [frozen]
    selectors = list(frozen)
    for sel in selectors:
        if not isinstance(sel, str):
            raise TypeError(f"frozen must hold str names or prefixes, got {sel!r}")
        if not any(name == sel or name.startswith(sel) for name in params):
            raise ValueError(f"frozen: {sel!r} matches no parameter; parameters are {list(params)}")
    return [name for name in params if any(name == sel or name.startswith(sel) for sel in selectors)]


def freeze(params: Mapping[str, np.ndarray], frozen: Union[str, Sequence[str], Callable[[str], bool]],
           **group_options: Any) -> List[Dict[str, Any]]:
    """Param groups for an optimizer with the *frozen* parameters in a frozen group.

    Parameters
    ----------
    params : FlatParams or mapping of str to ndarray
        E.g. ``net.params``.
    frozen : iterable of str, str or callable
        Parameter names or name prefixes (``["W1", "b1"]``, ``"Affine1."``),
        or ``frozen(name) -> bool``.
    **group_options
        Hyperparameters of the trainable group (e.g. ``lr=1e-3``).

    Returns
    -------
    list of dict
        ``[{"params": {trainable views}, **group_options},
        {"params": {frozen views}, "frozen": True}]`` (a group is left out when
        empty). Pass it to any :mod:`fastopt.optim` optimizer and step with
        ``opt.step(net.grads)``.

    Examples
    --------
    >>> opt = optim.Adam(freeze(net.params, ["W1", "b1", "W2", "b2"]), lr=1e-3)
    >>> opt.step(net.gradient(x, t))      # W1, b1, W2, b2 are not touched
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of arrays, got {type(params).__name__}")
    names = set(frozen_names(params, frozen))
    trainable = {n: params[n] for n in params if n not in names}
    fixed = {n: params[n] for n in params if n in names}
    groups = []
    if trainable:
        groups.append({"params": trainable, **group_options})
    if fixed:
        groups.append({"params": fixed, **group_options, "frozen": True})
    return groups


def copy_parameters(source: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray],
                    names: Any = None) -> List[str]:
    """Copy parameters from one model into another, in place (e.g. a pretrained body).

    Parameters
    ----------
    source, target : mapping of str to ndarray
        E.g. ``pretrained.params`` and ``net.params``.
    names : iterable of str or of (source_name, target_name), optional
        Default: every name in both with the same shape.

    Returns
    -------
    list of str
        The target names written.
    """
    if names is None:
        names = [n for n in target if n in source and np.shape(source[n]) == np.shape(target[n])]
    pairs = name_pairs(source, target, names, "source", "target")
    for s, d in pairs:
        np.copyto(target[d], source[s], casting="same_kind")
    return [d for _, d in pairs]
