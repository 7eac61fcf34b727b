"""Drop-in for the book's ``common/trainer.py``."""
import numpy as np

from .. import train
from . import optimizer as book_optimizers

OPTIMIZERS = {"sgd": book_optimizers.SGD, "momentum": book_optimizers.Momentum,
              "nesterov": book_optimizers.Nesterov, "adagrad": book_optimizers.AdaGrad,
              "rmsprop": book_optimizers.RMSprop, "adam": book_optimizers.Adam}


class Trainer(train.Trainer):
    """The book's ``Trainer``: same signature, ``train()``, and the three lists.

    Like the book it draws each mini-batch with replacement from the global
    ``np.random`` (so ``np.random.seed`` reproduces a book run) and records the
    eval-mode loss of the batch after the update. Unlike the book, every epoch
    is counted: ``ceil(train_size / mini_batch_size)`` iterations per epoch
    (the book's float ``iter_per_epoch`` records fewer epochs than asked when
    it is not an integer).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20, mini_batch_size=100,
                 optimizer="SGD", optimizer_param={"lr": 0.01},  # noqa: B006 (the book's default)
                 evaluate_sample_num_per_epoch=None, verbose=True, **options):
        key = str(optimizer).lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        options.setdefault("sampling", "replacement")
        options.setdefault("progress", verbose)
        super().__init__(network, OPTIMIZERS[key](**optimizer_param), x_train, t_train, x_test,
                         t_test, epochs=epochs, batch_size=mini_batch_size,
                         eval_samples=evaluate_sample_num_per_epoch, **options)
        self.verbose = verbose

    def _draw_batch(self, n):
        return np.random.choice(n, self.batch_size)

    def _batch_loss(self, x, t):
        return float(self.network.loss(x, t))

    @property
    def train_loss_list(self):
        return self.history["loss"]

    @property
    def train_acc_list(self):
        return self.history["train_acc"]

    @property
    def test_acc_list(self):
        return self.history["val_acc"]

    def train(self):
        """Run every epoch, then print the final test accuracy (as the book does)."""
        self.fit()
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(self.network.accuracy(self.x_val, self.t_val)))
