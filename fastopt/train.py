"""Training loop: mini-batches by epoch, history, progress bar, early stopping, checkpoints.

The :class:`Trainer` drives any network with ``gradient(x, t)`` (filling and
returning its gradients), ``last_loss``, ``params`` and ``accuracy(x, t)`` —
:class:`fastopt.nn.Sequential` and the book's networks — with a
:mod:`fastopt.optim` optimizer (``step(grads)``) or a :mod:`fastopt.book` one
(``update(params, grads)``).
"""
import math
import sys

import numpy as np

from .optim.checkpoint import load_checkpoint, save_checkpoint
from .optim.optimizer import Optimizer

SAMPLING = ("shuffle", "replacement")


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

    def __init__(self, monitor="val_acc", patience=5, mode="max", min_delta=0.0):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0, got {patience!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta
        self.best, self.bad_epochs = None, 0

    def __call__(self, trainer):
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

    def __repr__(self):
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"mode={self.mode!r}, min_delta={self.min_delta!r})")


class Trainer:
    """Train *network* with *optimizer* on (x_train, t_train) for a number of epochs.

    Parameters
    ----------
    network : object
        Has ``gradient(x, t)``, ``last_loss``, ``params``, ``accuracy(x, t)``.
    optimizer : fastopt.optim.Optimizer or a fastopt.book optimizer
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

    def __init__(self, network, optimizer, x_train, t_train, x_val=None, t_val=None, *, epochs=20,
                 batch_size=100, sampling="shuffle", seed=None, eval_samples=None, progress=None,
                 callbacks=(), checkpoint=None, checkpoint_every=1):
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
        self.epochs, self.batch_size, self.sampling = epochs, batch_size, sampling
        self.eval_samples = eval_samples
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.callbacks = list(callbacks)
        self.checkpoint, self.checkpoint_every = checkpoint, checkpoint_every
        self.rng = np.random.default_rng(seed)
        self.iter_per_epoch = max(math.ceil(len(x_train) / batch_size), 1)
        self.epoch = self.iteration = 0
        self.history = {"loss": [], "epoch_loss": [], "train_acc": [], "val_acc": []}
        self.stopped_early = False

    def __repr__(self):
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

    # ------------------------------------------------------------------ training
    def fit(self):
        """Train until ``epochs`` are done or a callback stops it. Returns :attr:`history`."""
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
        order = self.rng.permutation(n) if self.sampling == "shuffle" else None
        losses = []
        for i in range(self.iter_per_epoch):
            if order is not None:
                idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                idx = self._draw_batch(n)
            losses.append(self.train_step(self.x_train[idx], self.t_train[idx]))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{losses[-1]:.4f}")
        self.epoch += 1
        self.history["epoch_loss"].append(float(np.mean(losses)))
        self._evaluate()
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

    def train_step(self, x, t):
        """One gradient computation and one optimizer update. Returns the batch loss."""
        grads = self.network.gradient(x, t)
        if isinstance(self.optimizer, Optimizer):
            self.optimizer.step(grads)
        else:
            self.optimizer.update(self.network.params, grads)
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
    def _general_optimizer(self):
        opt = self.optimizer
        if isinstance(opt, Optimizer):
            return opt
        if not hasattr(opt, "bind"):
            raise TypeError(f"cannot checkpoint a {type(opt).__name__}: use a fastopt.optim or "
                            "fastopt.book optimizer")
        return opt.bind(self.network.params)  # a fastopt.book optimizer's general optimizer

    def _arrays(self):
        """Everything array-valued to save: parameters and the network's buffers."""
        arrays = {f"param:{k}": v for k, v in self.network.params.items()}
        buffers = getattr(self.network, "buffers", None)
        if callable(buffers):
            arrays.update({f"buffer:{k}": v for k, v in buffers().items()})
        return arrays

    def save(self, path):
        """Write parameters, network buffers, optimizer and trainer state (atomic, no pickle)."""
        extra = {"trainer": {"epoch": self.epoch, "iteration": self.iteration,
                             "rng": self.rng.bit_generator.state, "history": self.history,
                             "stopped_early": self.stopped_early}, **self._checkpoint_extra()}
        return save_checkpoint(path, self._general_optimizer(), self._arrays(), extra=extra)

    def _checkpoint_extra(self):
        """More top-level ``extra`` entries for :meth:`save` (subclasses; e.g. the
        distributed trainer's rank record). :meth:`load` ignores them."""
        return {}

    def load(self, path):
        """Restore a :meth:`save` checkpoint: training then continues bit-identically."""
        def check(extra):
            state = extra.get("trainer") if isinstance(extra, dict) else None
            keys = {"epoch", "iteration", "rng", "history", "stopped_early"}
            if not isinstance(state, dict) or set(state) != keys:
                raise ValueError(f"{path} holds no trainer state (expected keys {sorted(keys)})")
            probe = np.random.default_rng()
            try:
                probe.bit_generator.state = state["rng"]
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"{path}: the saved random-generator state is invalid ({exc})") from None

        extra = load_checkpoint(path, self._general_optimizer(), self._arrays(), check_extra=check)
        state = extra["trainer"]
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.stopped_early = bool(state["stopped_early"])
        return self
