"""Drop-in for the book's ``common/trainer.py``."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
from numpy.typing import NDArray

from .. import train
from . import optimizer as book_optimizers

OPTIMIZERS = {"sgd": book_optimizers.SGD, "momentum": book_optimizers.Momentum,
              "nesterov": book_optimizers.Nesterov, "adagrad": book_optimizers.AdaGrad,
              "rmsprop": book_optimizers.RMSprop, "adam": book_optimizers.Adam}


class Trainer(train.Trainer):
    """The book's ``Trainer``: same signature, attributes, ``train()``, ``train_step()`` and lists.

    Like the book it draws each mini-batch with replacement from the global
    ``np.random`` (so ``np.random.seed`` reproduces a book run), records the
    evaluation-mode loss of the batch after each update in
    ``train_loss_list``, and records ``train_acc_list``/``test_acc_list`` at
    the book's points: right after the *first* update of every epoch (the
    book tests ``current_iter % iter_per_epoch == 0`` before incrementing
    ``current_iter``, which starts at 0). ``verbose=True`` prints the book's
    lines to stdout (``train loss:...`` every iteration, ``=== epoch:...`` every
    epoch, the final test accuracy).

    One difference, on purpose: every epoch is counted. An epoch is
    ``ceil(train_size / mini_batch_size)`` iterations and ``max_iter`` is
    ``epochs`` times that, where the book's float ``iter_per_epoch`` records
    fewer epochs than asked when ``train_size / mini_batch_size`` is not an
    integer (1000 samples in batches of 300 give the book 7 records for 20
    epochs). When it is an integer, as in the book's scripts, the two agree
    iteration for iteration.

    Everything :class:`fastopt.train.Trainer` offers (``fit()``, checkpoints,
    callbacks, ``progress=True`` for a progress bar) works here too.
    """

    def __init__(self, network: Any, x_train: NDArray[Any], t_train: NDArray[Any],
                 x_test: NDArray[Any], t_test: NDArray[Any], epochs: int = 20,
                 mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: Mapping[str, Any] = {"lr": 0.01},  # noqa: B006 (the book's default)
                 evaluate_sample_num_per_epoch: Optional[int] = None, verbose: bool = True,
                 **options: Any) -> None:
        key = str(optimizer).lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        options.setdefault("sampling", "replacement")
        options.setdefault("progress", False)  # the book prints lines instead (verbose)
        super().__init__(network, OPTIMIZERS[key](**optimizer_param), x_train, t_train, x_test,
                         t_test, epochs=epochs, batch_size=mini_batch_size,
                         eval_samples=evaluate_sample_num_per_epoch, **options)
        self.verbose = verbose

    # the book's attribute names
    x_test = property(lambda self: self.x_val)
    t_test = property(lambda self: self.t_val)
    train_size = property(lambda self: len(self.x_train))
    evaluate_sample_num_per_epoch = property(lambda self: self.eval_samples)
    max_iter = property(lambda self: self.epochs * self.iter_per_epoch)
    current_iter = property(lambda self: self.iteration, doc="Iterations done (the book's counter).")
    current_epoch = property(lambda self: len(self.history["train_acc"]),
                             doc="Epochs recorded so far (the book counts them at each record).")
    train_loss_list = property(lambda self: self.history["loss"])
    train_acc_list = property(lambda self: self.history["train_acc"])
    test_acc_list = property(lambda self: self.history["val_acc"])

    def _draw_batch(self, n):
        return np.random.choice(n, self.batch_size)

    def _batch_loss(self, x, t):
        return float(self.network.loss(x, t))

    def train_step(self, x: Optional[NDArray[Any]] = None,
                   t: Optional[NDArray[Any]] = None) -> float:
        """One update, as the book's ``train_step()``: draws its own batch unless given one.

        Returns the recorded loss. After the first update of an epoch it also
        records (and, when verbose, prints) the epoch's accuracies.
        """
        if x is None and t is None:
            batch = self._draw_batch(len(self.x_train))
            x, t = self.x_train[batch], self.t_train[batch]
        elif x is None or t is None:
            raise ValueError("give both x and t, or neither (then a batch is drawn)")
        first_of_epoch = self.iteration % self.iter_per_epoch == 0
        loss = super().train_step(x, t)
        if self.verbose:
            print("train loss:" + str(loss))
        if first_of_epoch:
            self._evaluate()
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{self.history['train_acc'][-1]}, "
                      f"test acc:{self.history['val_acc'][-1]} ===")
        return loss

    def _run_epoch(self, bar):
        losses = []
        for _ in range(self.iter_per_epoch):
            losses.append(self.train_step())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=self.epoch + 1, loss=f"{losses[-1]:.4f}")
        self._end_epoch(losses, bar)

    def train(self) -> None:
        """Run every epoch, then print the final test accuracy (as the book does)."""
        self.fit()
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(self.network.accuracy(self.x_val, self.t_val)))
