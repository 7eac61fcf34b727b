"""Checkpoint files: optimizer state (and parameters) as ``.npz`` + JSON, no pickle.

The file is written atomically (temporary file, then rename). Loading checks
every name, shape, dtype and hyperparameter first and changes nothing unless all
of it matches.
"""
import numpy as np

from .checkpoint_io import read_tree, write_tree

CHECKPOINT_KIND = "fastopt.optimizer-checkpoint"


def save_checkpoint(path, optimizer, params=None, *, extra=None):
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
    params = optimizer.params() if params is None else params
    tree = {"kind": CHECKPOINT_KIND, "optimizer": optimizer.state_dict(),
            "params": {name: np.array(arr) for name, arr in params.items()},
            "extra": {} if extra is None else extra}
    return write_tree(path, tree)


def load_checkpoint(path, optimizer, params=None, *, strict=True, check_extra=None):
    """Restore a checkpoint written by :func:`save_checkpoint`, in place.

    Parameter values are copied into the existing arrays (views stay valid).
    Raises ValueError/TypeError naming the first mismatch and leaves the
    optimizer and parameters untouched if anything does not match.

    *check_extra*, if given, is called with the saved ``extra`` before anything
    is restored and may raise to refuse the file.

    Returns
    -------
    dict
        The ``extra`` saved with it.
    """
    tree = read_tree(path)
    if not isinstance(tree, dict) or tree.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{path} is not a fastopt optimizer checkpoint")
    params = optimizer.params() if params is None else params
    saved = tree.get("params", {})
    if set(saved) != set(params):
        raise ValueError(f"checkpoint parameters {sorted(saved)} do not match "
                         f"{sorted(params)}")
    for name, arr in params.items():
        value = saved[name]
        if not isinstance(value, np.ndarray) or value.shape != np.shape(arr) \
                or value.dtype != arr.dtype:
            raise ValueError(f"checkpoint parameter {name!r} is "
                             f"{getattr(value, 'dtype', type(value).__name__)}"
                             f"{list(np.shape(value))}, expected {arr.dtype}{list(arr.shape)}")
    commit = optimizer._prepare_load(tree["optimizer"], strict)
    if check_extra is not None:
        check_extra(tree.get("extra", {}))
    commit()
    for name, arr in params.items():
        arr[...] = saved[name]
    return tree.get("extra", {})
