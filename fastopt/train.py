"""Training loop: mini-batches by epoch, history, progress bar, early stopping, checkpoints.

The :class:`Trainer` drives any network with ``gradient(x, t)`` (filling and
returning its gradients), ``last_loss``, ``params`` and ``accuracy(x, t)`` —
:class:`fastopt.nn.Sequential` and the book's networks — with any optimizer
that has ``bind(params)`` and ``step(grads)`` (:class:`DrivenOptimizer`): a
:mod:`fastopt.optim` optimizer or a :mod:`fastopt.book` one.
"""
from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

from .optim.checkpoint import load_checkpoint, save_checkpoint
from .optim.optimizer import Optimizer

SAMPLING = ("shuffle", "replacement")
_T = TypeVar("_T", bound="Trainer")


class DrivenOptimizer(Protocol):
    """What a :class:`Trainer` drives: :mod:`fastopt.optim` and :mod:`fastopt.book` optimizers.

    The trainer calls ``bind(network.params)`` once, when it is built, and
    ``step(grads)`` with what ``network.gradient`` returned after every batch.
    """

    def bind(self, params: Any) -> Optimizer:
        """Make *params* the parameters :meth:`step` updates; returns the
        :class:`fastopt.optim.Optimizer` that holds their state (for checkpoints)."""

    def step(self, grads: Any = None) -> Any:
        """Update the bound parameters in place from *grads*."""


class EarlyStopping:
    """Stop when *monitor* has not improved for *patience* epochs.

    Parameters
    ----------
    monitor : str
        A key of :attr:`Trainer.history` with one value per epoch
        (``"val_acc"``, ``"train_acc"``, ``"epoch_loss"``).
    patience : int
    mode : {"max", "min"}
    min_delta : float
        The least change that counts as an improvement.
    """

    best: Optional[float]

    def __init__(self, monitor: str = "val_acc", patience: int = 5, mode: str = "max",
                 min_delta: float = 0.0) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best, self.bad_epochs = None, 0

    def __call__(self, trainer: Trainer) -> bool:
        values = trainer.history.get(self.monitor)
        if values is None:
            raise ValueError(f"EarlyStopping monitors {self.monitor!r}, which the trainer does not "
                             f"record; choose one of {sorted(trainer.history)}")
        value = values[-1]
        sign = 1 if self.mode == "max" else -1
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs > self.patience

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"mode={self.mode!r}, min_delta={self.min_delta!r})")


class Trainer:
    """Train *network* with *optimizer* on (x_train, t_train) for a number of epochs.

    Parameters
    ----------
    network : object
        Has ``gradient(x, t)``, ``last_loss``, ``params``, ``accuracy(x, t)``.
    optimizer : fastopt.optim.Optimizer or a fastopt.book optimizer
        Bound to ``network.params`` here (:class:`DrivenOptimizer`).
    x_train, t_train : ndarray
    x_val, t_val : ndarray, optional
        Evaluated after every epoch (``history["val_acc"]``).
    epochs : int
    batch_size : int
    sampling : {"shuffle", "replacement"}
        ``"shuffle"``: each epoch visits every sample once in a new random order,
        in ``ceil(N / batch_size)`` batches (the last may be smaller).
        ``"replacement"``: the book's ``np.random.choice`` sampling, the same
        number of batches per epoch, each drawn with replacement.
    seed : int, optional
        Seeds the data order (a ``numpy.random.Generator``; saved in checkpoints).
    eval_samples : int, optional
        Evaluate accuracies on the first this-many samples only (the book's
        ``evaluate_sample_num_per_epoch``).
    progress : bool, optional
        Show a tqdm bar; default: only when stderr is a terminal.
    callbacks : list of callables
        Each is called as ``cb(trainer)`` after every epoch; a true return
        value stops training (see :class:`EarlyStopping`).
    checkpoint : str or path, optional
        Write a checkpoint here every ``checkpoint_every`` epochs (and at the end).
    checkpoint_every : int

    Attributes
    ----------
    history : dict of lists
        ``loss`` (every iteration), ``epoch_loss`` (mean per epoch),
        ``train_acc`` and ``val_acc`` (per epoch).
    epoch, iteration : int
        Completed epochs and iterations.
    """

    #: one list per record: ``loss``, ``epoch_loss``, ``train_acc``, ``val_acc``
    history: Dict[str, List[float]]

    def __init__(self, network: Any, optimizer: DrivenOptimizer, x_train: NDArray[Any], t_train: NDArray[Any],
                 x_val: Optional[NDArray[Any]] = None, t_val: Optional[NDArray[Any]] = None, *, epochs: int = 20,
                 batch_size: int = 100, sampling: str = "shuffle",
                 seed: Union[int, Sequence[int], np.random.SeedSequence,
                             np.random.Generator, None] = None,
                 eval_samples: Optional[int] = None, progress: Optional[bool] = None,
                 callbacks: Sequence[Callable[[Trainer], Any]] = (),
                 checkpoint: Optional[Union[str, "os.PathLike[str]"]] = None, checkpoint_every: int = 1) -> None:
        if len(x_train) != len(t_train):
            raise ValueError(f"x_train has {len(x_train)} samples but t_train has {len(t_train)}")
        if len(x_train) == 0:
            raise ValueError("x_train is empty")
        if (x_val is None) != (t_val is None):
            raise ValueError("give both x_val and t_val, or neither")
        for name, value in (("epochs", epochs), ("batch_size", batch_size),
                            ("checkpoint_every", checkpoint_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be an int >= {0 if name == 'epochs' else 1}, got {value!r}")
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        if np.issubdtype(np.asarray(x_train).dtype, np.floating) and not np.isfinite(x_train).all():
            raise ValueError("x_train contains NaN or inf")
        self.network, self.optimizer = network, optimizer
        self.x_train, self.t_train, self.x_val, self.t_val = x_train, t_train, x_val, t_val
        self._check_labels()
        self.epochs, self.batch_size, self.sampling = epochs, batch_size, sampling
        self.eval_samples = _check_eval_samples(eval_samples)
        if progress is not None and not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.callbacks = _check_callbacks(callbacks)
        self.checkpoint, self.checkpoint_every = _check_checkpoint(checkpoint), checkpoint_every
        self.rng = _default_rng(seed)
        _check_optimizer(optimizer).bind(network.params)
        self.iter_per_epoch = max(math.ceil(len(x_train) / batch_size), 1)
        self.epoch = self.iteration = 0
        self.history = {"loss": [], "epoch_loss": [], "train_acc": [], "val_acc": []}
        self.stopped_early = False

    def __repr__(self) -> str:
        parts = [type(self.network).__name__, repr(self.optimizer), f"n_train={len(self.x_train)}"]
        if self.x_val is not None:
            parts.append(f"n_val={len(self.x_val)}")
        parts += [f"epochs={self.epochs}", f"batch_size={self.batch_size}",
                  f"sampling={self.sampling!r}", f"epoch={self.epoch}", f"iteration={self.iteration}"]
        if self.callbacks:
            parts.append(f"callbacks={self.callbacks!r}")
        if self.checkpoint is not None:
            parts.append(f"checkpoint={str(self.checkpoint)!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _check_labels(self):
        """Class indices must be integers: refuse float (N,) labels before anything is drawn."""
        if getattr(getattr(self.network, "loss_layer", None), "check_labels", None) is None:
            return  # a network with another loss: its own gradient() checks its targets
        for name, t in (("t_train", self.t_train), ("t_val", self.t_val)):
            t = None if t is None else np.asarray(t)
            if t is not None and t.ndim == 1 and t.dtype.kind not in "iu":
                raise TypeError(f"{name} must hold integer class indices (N,) or one-hot rows "
                                f"(N, C), got {t.dtype} of shape {t.shape}")

    # ------------------------------------------------------------------ training
    def fit(self) -> Dict[str, List[float]]:
        """Train until ``epochs`` are done or a callback stops it. Returns :attr:`history`.

        Bad labels raise before the first batch is drawn; a first step that
        raises leaves :attr:`rng` as it was.
        """
        self._check_labels()
        bar = self._progress_bar()
        try:
            while self.epoch < self.epochs and not self.stopped_early:
                self._run_epoch(bar)
        finally:
            if bar is not None:
                bar.close()
        if self.checkpoint is not None:
            self.save(self.checkpoint)
        return self.history

    def _run_epoch(self, bar):
        n = len(self.x_train)
        rng_state = self.rng.bit_generator.state
        order = self.rng.permutation(n) if self.sampling == "shuffle" else None
        losses = []
        for i in range(self.iter_per_epoch):
            if order is not None:
                idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                idx = self._draw_batch(n)
            try:
                losses.append(self.train_step(self.x_train[idx], self.t_train[idx]))
            except BaseException:
                if i == 0:  # nothing was trained: the epoch did not happen
                    self.rng.bit_generator.state = rng_state
                raise
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{losses[-1]:.4f}")
        self._evaluate()
        self._end_epoch(losses, bar)

    def _end_epoch(self, losses, bar):
        """Count the epoch, record its mean loss, checkpoint, run the callbacks."""
        self.epoch += 1
        self.history["epoch_loss"].append(float(np.mean(losses)))
        if bar is not None and self.history["val_acc"]:
            bar.set_postfix(epoch=self.epoch, loss=f"{losses[-1]:.4f}",
                            val_acc=f"{self.history['val_acc'][-1]:.4f}")
        if self.checkpoint is not None and self.epoch % self.checkpoint_every == 0:
            self.save(self.checkpoint)
        for callback in self.callbacks:
            if callback(self):
                self.stopped_early = True

    def _draw_batch(self, n):
        return self.rng.choice(n, self.batch_size)

    def train_step(self, x: NDArray[Any], t: NDArray[Any]) -> float:
        """One gradient computation and one optimizer update. Returns the batch loss."""
        self.optimizer.step(self.network.gradient(x, t))
        loss = self._batch_loss(x, t)
        self.history["loss"].append(loss)
        self.iteration += 1
        return loss

    def _batch_loss(self, x, t):
        """The loss recorded for a step: the training-mode loss computed by ``gradient``."""
        return float(self.network.last_loss)

    def _evaluate(self):
        k = self.eval_samples
        x, t = (self.x_train, self.t_train) if k is None else (self.x_train[:k], self.t_train[:k])
        self.history["train_acc"].append(float(self.network.accuracy(x, t)))
        if self.x_val is not None:
            x, t = (self.x_val, self.t_val) if k is None else (self.x_val[:k], self.t_val[:k])
            self.history["val_acc"].append(float(self.network.accuracy(x, t)))

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        total = self.epochs * self.iter_per_epoch
        return tqdm(total=total, initial=min(self.iteration, total), unit="it", leave=False)

    # ------------------------------------------------------------------ checkpoints
    def _general_optimizer(self) -> Optimizer:
        """The :class:`fastopt.optim.Optimizer` holding the state (a book optimizer's engine)."""
        return self.optimizer.bind(self.network.params)

    def _arrays(self):
        """Everything array-valued to save: parameters and the network's buffers."""
        arrays = {f"param:{k}": v for k, v in self.network.params.items()}
        buffers = getattr(self.network, "buffers", None)
        if callable(buffers):
            arrays.update({f"buffer:{k}": v for k, v in buffers().items()})
        return arrays

    def save(self, path: Union[str, "os.PathLike[str]"]) -> Path:
        """Write parameters, network buffers, optimizer and trainer state (atomic, no pickle)."""
        extra = {"trainer": {"epoch": self.epoch, "iteration": self.iteration,
                             "rng": self.rng.bit_generator.state, "history": self.history,
                             "stopped_early": self.stopped_early}, **self._checkpoint_extra()}
        return save_checkpoint(path, self._general_optimizer(), self._arrays(), extra=extra)

    def _checkpoint_extra(self):
        """More top-level ``extra`` entries for :meth:`save` (subclasses; e.g. the
        distributed trainer's rank record). :meth:`load` ignores them."""
        return {}

    def load(self: _T, path: Union[str, "os.PathLike[str]"]) -> _T:
        """Restore a :meth:`save` checkpoint: training then continues bit-identically.

        Every part of the file (parameters, buffers, optimizer state and the
        trainer's own fields) is validated before anything is restored: a
        file that fails raises ValueError and changes nothing.
        """
        restored = {}

        def check(extra):
            restored.update(_check_trainer_state(path, extra, self.history, self.rng))

        load_checkpoint(path, self._general_optimizer(), self._arrays(), check_extra=check)
        self.rng.bit_generator.state = restored["rng"]
        self.epoch, self.iteration = restored["epoch"], restored["iteration"]
        self.history, self.stopped_early = restored["history"], restored["stopped_early"]
        return self


_TRAINER_KEYS = ("epoch", "iteration", "rng", "history", "stopped_early")


def _check_trainer_state(path, extra, history, rng):
    """The trainer fields of a checkpoint's *extra*, validated; ValueError naming the bad one."""
    state = extra.get("trainer") if isinstance(extra, dict) else None
    if not isinstance(state, dict) or set(state) != set(_TRAINER_KEYS):
        raise ValueError(f"{path} holds no trainer state (expected keys {sorted(_TRAINER_KEYS)})")
    out = {}
    for key in ("epoch", "iteration"):
        value = state[key]
        if type(value) is not int or value < 0:
            raise ValueError(f"{path}: trainer {key} must be an int >= 0, got {value!r}")
        out[key] = value
    if type(state["stopped_early"]) is not bool:
        raise ValueError(f"{path}: trainer stopped_early must be true or false, "
                         f"got {state['stopped_early']!r}")
    out["stopped_early"] = state["stopped_early"]
    saved = state["history"]
    if not isinstance(saved, dict) or set(saved) != set(history):
        raise ValueError(f"{path}: trainer history must hold the lists {sorted(history)}, got "
                         f"{sorted(saved) if isinstance(saved, dict) else type(saved).__name__}")
    for key, values in saved.items():
        if not isinstance(values, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{path}: trainer history[{key!r}] must be a list of numbers")
    out["history"] = {k: list(saved[k]) for k in history}
    probe = type(rng.bit_generator)()  # the trainer's kind of generator
    try:
        probe.state = state["rng"]
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"{path}: trainer rng: the saved random-generator state is invalid "
                         f"({exc})") from None
    out["rng"] = state["rng"]
    return out


def _check_eval_samples(value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                              or value < 1):
        raise ValueError(f"eval_samples must be None or an int >= 1, got {value!r}")
    return None if value is None else int(value)


def _check_optimizer(optimizer: Any) -> DrivenOptimizer:
    """*optimizer*, if it has the methods a Trainer calls (:class:`DrivenOptimizer`)."""
    if not all(callable(getattr(optimizer, name, None)) for name in ("bind", "step")):
        raise TypeError(f"optimizer must be a fastopt.optim or fastopt.book optimizer (with "
                        f"bind(params) and step(grads)), got {type(optimizer).__name__}")
    return optimizer


def _check_callbacks(callbacks):
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise TypeError(f"callbacks must be a list of callables, got {type(callbacks).__name__}")
    callbacks = list(callbacks)
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be callable (called as cb(trainer) after every "
                            f"epoch), got {type(callback).__name__}")
    return callbacks


def _check_checkpoint(path):
    """*path* if its directory exists (a checkpoint is written there after every epoch)."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(path).__name__}")
    directory = Path(os.fspath(path)).parent
    if not directory.is_dir():
        raise ValueError(f"checkpoint {os.fspath(path)!r}: the directory {str(directory)!r} does "
                         "not exist")
    return path


def _default_rng(seed):
    """``numpy.random.default_rng(seed)``, with an error that names ``seed``."""
    if isinstance(seed, (bool, np.bool_)) or (isinstance(seed, numbers.Integral) and seed < 0):
        raise ValueError(f"seed must be None, an int >= 0 or a numpy SeedSequence/Generator, "
                         f"got {seed!r}")
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"seed must be None, an int >= 0 or a numpy SeedSequence/Generator, "
                        f"got {seed!r} ({exc})") from None
