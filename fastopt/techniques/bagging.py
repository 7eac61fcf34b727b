r"""Bagging (Breiman 1996): k models on bootstrap resamples, predictions averaged.

Model i is trained on :math:`D_i`, n draws with replacement from the n training
samples (about 63 % of them distinct); the ensemble predicts

.. math:: p(y \mid x) = \frac1k \sum_{i=1}^{k} \mathrm{softmax}(f_i(x)).

The members differ in data, initial weights and batch order, so their errors
are partly independent and the average errs less often than a typical member.
"""
import numbers

from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from ..nn.layers import softmax

__all__ = ["Ensemble", "bagging", "bootstrap_indices"]


def _int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def bootstrap_indices(n: int, n_models: int, *, sample_size: Optional[int] = None,
                      seed: Any = None) -> np.ndarray:
    """Row indices of *n_models* bootstrap resamples of *n* samples.

    Parameters
    ----------
    n : int >= 1
        Size of the training set.
    n_models : int >= 1
    sample_size : int, optional
        Draws per resample (default n).
    seed : int, numpy.random.Generator or None
        The same seed gives the same indices.

    Returns
    -------
    ndarray of int64, shape (n_models, sample_size)
        Row i holds the indices of resample i, drawn uniformly with replacement.
    """
    n = _int("n", n, 1)
    n_models = _int("n_models", n_models, 1)
    sample_size = n if sample_size is None else _int("sample_size", sample_size, 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_models, sample_size), dtype=np.int64)


class Ensemble:
    r"""Average of the members' softmax outputs: :math:`\frac1k\sum_i \mathrm{softmax}(f_i(x))`.

    Parameters
    ----------
    networks : sequence
        Trained networks with ``predict(x)`` (evaluation mode) returning scores.
    """

    def __init__(self, networks: Sequence[Any]) -> None:
        self.networks = list(networks)
        #: the bootstrap resamples and training histories, when :func:`bagging` built it
        self.indices: Optional[np.ndarray] = None
        self.histories: Optional[List[Any]] = None
        if not self.networks:
            raise ValueError("networks must not be empty")

    def predict_proba(self, x: np.ndarray, n_members: Optional[int] = None) -> np.ndarray:
        """Mean class probabilities of the first *n_members* members (default all)."""
        members = self.networks if n_members is None else self.networks[:_int("n_members", n_members, 1)]
        total: Any = None
        for net in members:
            p = softmax(np.asarray(net.predict(x), dtype=np.float64))
            total = p if total is None else total + p
        return total / len(members)

    def predict(self, x: np.ndarray, n_members: Optional[int] = None) -> np.ndarray:
        """The class of highest mean probability."""
        return np.argmax(self.predict_proba(x, n_members), axis=1)

    def accuracy(self, x: np.ndarray, t: np.ndarray, n_members: Optional[int] = None) -> float:
        """Share of rows the ensemble classifies correctly (t: indices or one-hot)."""
        t = np.asarray(t)
        t = t if t.ndim == 1 else t.argmax(axis=1)
        return float(np.mean(self.predict(x, n_members) == t)) if len(t) else 0.0

    def member_accuracies(self, x: np.ndarray, t: np.ndarray) -> List[float]:
        """Each member's own accuracy."""
        return [float(net.accuracy(x, t)) for net in self.networks]

    def __len__(self):
        return len(self.networks)


def bagging(make_network: Callable[[int], Any], make_optimizer: Callable[[Any], Any], x: np.ndarray,
            t: np.ndarray, n_models: int, *, epochs: int, batch_size: int = 32, seed: Any = 0,
            bootstrap: bool = True) -> "Ensemble":
    """Train *n_models* networks, each on its own bootstrap resample; return an :class:`Ensemble`.

    Parameters
    ----------
    make_network : callable
        ``make_network(i) -> network`` (seed its initial weights with i).
    make_optimizer : callable
        ``make_optimizer(network) -> fastopt.optim.Optimizer``.
    x, t : ndarray
        The training set.
    n_models : int >= 1
    epochs, batch_size : int
        Passed to :class:`fastopt.train.Trainer` for every member.
    seed : int
        Seeds the resamples (:func:`bootstrap_indices`) and each member's batch order.
    bootstrap : bool, default True
        False trains every member on the whole set (an ensemble of different
        initialisations only, for comparison).

    Returns
    -------
    Ensemble
        With ``indices`` (the resamples, or None) and ``histories`` attached.
    """
    from ..train import Trainer

    n_models = _int("n_models", n_models, 1)
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} samples but t has {len(t)}")
    indices = bootstrap_indices(len(x), n_models, seed=seed) if bootstrap else None
    nets, histories = [], []
    for i in range(n_models):
        net = make_network(i)
        xi, ti = (x, t) if indices is None else (x[indices[i]], t[indices[i]])
        trainer = Trainer(net, make_optimizer(net), xi, ti, epochs=epochs, batch_size=batch_size,
                          seed=(seed, i), progress=False)
        histories.append(trainer.fit())
        nets.append(net)
    ensemble = Ensemble(nets)
    ensemble.indices, ensemble.histories = indices, histories
    return ensemble
