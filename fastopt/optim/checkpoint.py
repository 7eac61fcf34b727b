"""Checkpoint files: optimizer state (and parameters) as ``.npz`` + JSON, no pickle.

The file is written atomically (temporary file, then rename). Loading checks
every name, shape, dtype and hyperparameter first and changes nothing unless all
of it matches. It is bounded in memory: the file's structure is checked against
the optimizer and parameters before any array is inflated, so only arrays of the
expected shapes, plus at most :data:`MAX_EXTRA_BYTES` of arrays in ``extra``,
are ever read.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Union

import numpy as np
from numpy.typing import NDArray

from .checkpoint_io import read_tree, write_tree

if TYPE_CHECKING:
    from .optimizer import Optimizer

PathLike = Union[str, "os.PathLike[str]"]

CHECKPOINT_KIND = "fastopt.optimizer-checkpoint"
#: Most bytes the arrays saved in a checkpoint's ``extra`` may declare in all
#: (raise it to load checkpoints with larger extra arrays).
MAX_EXTRA_BYTES = 64 * 2**20
_KEYS = ("kind", "optimizer", "params", "extra")


def _named_arrays(params: Any) -> Dict[str, NDArray[Any]]:
    """*params* as a dict name -> ndarray; TypeError naming ``params`` otherwise."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of name -> numpy.ndarray, "
                        f"got {type(params).__name__}")
    for name, arr in params.items():
        if not isinstance(name, str) or not isinstance(arr, np.ndarray):
            raise TypeError(f"params must map str names to numpy.ndarray, got "
                            f"{type(name).__name__} -> {type(arr).__name__} for {name!r}")
    return dict(params)


def save_checkpoint(path: PathLike, optimizer: Optimizer,
                    params: Optional[Mapping[str, NDArray[Any]]] = None, *,
                    extra: Optional[Dict[str, Any]] = None) -> Path:
    """Write *optimizer*'s state and the parameters to *path* (``.npz``).

    Parameters
    ----------
    path : str or path-like
    optimizer : fastopt.optim.Optimizer
    params : mapping of str to ndarray, optional
        Arrays to save with it; default: the optimizer's own parameters.
    extra : JSON-compatible dict, optional
        Anything else to restore with it (epoch, RNG seed, data order...).

    Returns
    -------
    pathlib.Path
        Where the file was written.
    """
    params = _named_arrays(optimizer.params() if params is None else params)
    tree = {"kind": CHECKPOINT_KIND, "optimizer": optimizer.state_dict(),
            "params": {name: np.array(arr) for name, arr in params.items()},
            "extra": {} if extra is None else extra}
    return write_tree(path, tree)


def _array_bytes(node: Any) -> int:
    if isinstance(node, np.ndarray):
        return node.nbytes
    return sum(_array_bytes(v) for v in node.values()) if isinstance(node, dict) else 0


def _check_tree(path: PathLike, tree: Any, optimizer: Optimizer,
                params: Mapping[str, NDArray[Any]], strict: bool) -> Callable[[], None]:
    """Validate a checkpoint tree (arrays may be placeholders); return the optimizer's commit."""
    if not isinstance(tree, dict) or tree.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not a fastopt optimizer checkpoint")
    if set(tree) != set(_KEYS):
        raise ValueError(f"{path}: a checkpoint holds the keys {list(_KEYS)}, this one "
                         f"{sorted(tree)}")
    saved = tree["params"]
    if not isinstance(saved, dict):
        raise ValueError(f"{path}: the checkpoint's params are a {type(saved).__name__}, not a "
                         "dict of arrays")
    if set(saved) != set(params):
        raise ValueError(f"checkpoint parameters {sorted(saved)} do not match {sorted(params)}")
    for name, arr in params.items():
        value = saved[name]
        if not isinstance(value, np.ndarray) or value.shape != np.shape(arr) \
                or value.dtype != arr.dtype:
            raise ValueError(f"checkpoint parameter {name!r} is "
                             f"{getattr(value, 'dtype', type(value).__name__)}"
                             f"{list(np.shape(value))}, expected {arr.dtype}{list(arr.shape)}")
    if not isinstance(tree["extra"], dict):
        raise ValueError(f"{path}: the checkpoint's extra is a {type(tree['extra']).__name__}, "
                         "not a dict")
    extra_bytes = _array_bytes(tree["extra"])
    if extra_bytes > MAX_EXTRA_BYTES:
        raise ValueError(f"{path}: the arrays in the checkpoint's extra declare {extra_bytes} "
                         f"bytes, more than MAX_EXTRA_BYTES = {MAX_EXTRA_BYTES} "
                         "(fastopt.optim.checkpoint.MAX_EXTRA_BYTES)")
    try:
        return optimizer._prepare_load(tree["optimizer"], strict)
    except (TypeError, ValueError) as exc:  # the same error, naming the file
        raise type(exc)(f"{path}: {exc}") from None


def load_checkpoint(path: PathLike, optimizer: Optimizer,
                    params: Optional[Mapping[str, NDArray[Any]]] = None, *, strict: bool = True,
                    check_extra: Optional[Callable[[Dict[str, Any]], Any]] = None
                    ) -> Dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`, in place.

    Parameter values are copied into the existing arrays (views stay valid).

    Parameters
    ----------
    path : str or path-like
        A regular file written by :func:`save_checkpoint`.
    optimizer : fastopt.optim.Optimizer
    params : mapping of str to ndarray, optional
        The arrays to restore; default: the optimizer's own parameters.
    strict : bool, default True
        See :meth:`fastopt.optim.Optimizer.load_state_dict`.
    check_extra : callable, optional
        Called with the saved ``extra`` (arrays read) before anything is
        restored; it may raise to refuse the file.

    Returns
    -------
    dict
        The ``extra`` saved with it.

    Raises
    ------
    ValueError, TypeError
        Naming the first mismatch or defect; the optimizer and parameters
        are left untouched. The file's structure, names, shapes, dtypes and
        hyperparameters are checked before any array data is read, so a
        hostile file cannot make it allocate more than the expected arrays
        plus :data:`MAX_EXTRA_BYTES` (and the bounded metadata, see
        :func:`fastopt.optim.checkpoint_io.read_tree`).
    """
    params = _named_arrays(optimizer.params() if params is None else params)
    tree = read_tree(path, check=lambda skeleton: _check_tree(path, skeleton, optimizer, params,
                                                               strict))
    commit = _check_tree(path, tree, optimizer, params, strict)
    if check_extra is not None:
        check_extra(tree["extra"])
    commit()
    for name, arr in params.items():
        arr[...] = tree["params"][name]
    return tree["extra"]
