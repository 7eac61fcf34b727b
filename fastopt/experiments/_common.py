"""Helpers shared by the experiment modules: data, seeds, progress bars, training loops.

The loops follow the book's ch06 scripts: every network of a comparison sees the
same mini-batch at each iteration (drawn with replacement, as
``np.random.choice`` does), and each network has its own optimizer.
"""
import contextlib
import math
import sys

import numpy as np

from .. import book
from ..plots import smooth_curve

__all__ = [
    "DataSet",
    "compare_accuracy",
    "compare_losses",
    "draw_accuracy_panels",
    "epoch_iterations",
    "final_gap",
    "gap_summary",
    "load",
    "progress_bar",
    "seeds",
    "single_thread_blas",
    "smooth_curve",
    "smoothed",
    "train_epochs",
    "train_iterations",
]


@contextlib.contextmanager
def single_thread_blas():
    """Run the block with one BLAS thread (through threadpoolctl, when installed).

    The experiments' matrices are small (batch 100-128, layers of 100): a second
    BLAS thread costs more in synchronisation than it saves, and on shared cores
    it made optimizer-compare 3x slower (10 s instead of 3 s for ``--quick``).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


class DataSet:
    """Training and test arrays plus a JSON-able description of where they came from.

    Attributes
    ----------
    x, t : numpy.ndarray
        Training inputs (float64, ``(N, features)``) and class indices.
    x_test, t_test : numpy.ndarray
        Test inputs and labels.
    info : dict
        ``name``, ``n_train``, ``n_test``, ``input_size``, ``book_n_train`` and a
        ``note`` on how the sizes relate to the book's MNIST counts.
    """

    def __init__(self, x, t, x_test, t_test, info):
        self.x, self.t, self.x_test, self.t_test, self.info = x, t, x_test, t_test, info

    @property
    def input_size(self):
        return int(self.x.shape[1])


def load(settings, book_n_train=None, what="the training set"):
    """Load the chosen data set as float64, keeping the book's first *book_n_train* samples.

    Parameters
    ----------
    settings : fastopt.experiments.Settings
    book_n_train : int, optional
        How many training samples the book's script takes (``x_train[:n]``);
        None for the whole training set. Where the data set has fewer, all of
        them are used and the note says so.
    what : str
        How the note names the samples (for the JSON).

    Returns
    -------
    DataSet
    """
    (x, t), (x_test, t_test) = settings.load_data()
    x = np.ascontiguousarray(x, dtype=np.float64)
    x_test = np.ascontiguousarray(x_test, dtype=np.float64)
    available = len(x)
    if book_n_train is None:
        n = available
        note = f"{what}: all {n} training samples (the book: all 60000 of MNIST)"
    elif book_n_train <= available:
        n = book_n_train
        note = f"{what}: the first {n} training samples, as the book"
    else:
        n = available
        note = (f"{what}: all {n} training samples; the book takes {book_n_train}, more than "
                f"{settings.data} has")
    info = {"name": settings.data, "n_train": int(n), "n_test": len(x_test),
            "input_size": int(x.shape[1]), "book_n_train": book_n_train or 60000, "note": note}
    return DataSet(x[:n], t[:n], x_test, t_test, info)


def seeds(seed, n):
    """*n* independent non-negative int seeds derived from *seed*."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(settings, total, desc):
    """A tqdm bar over *total* units, or a no-op stand-in when progress is off.

    ``settings.progress`` None means: only when stderr is a terminal.
    """
    show = sys.stderr.isatty() if settings.progress is None else settings.progress
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="it", leave=False)


def _bind(networks, optimizers):
    """Bind each optimizer to its network's parameters (then ``step(grads)`` updates them)."""
    if set(networks) != set(optimizers):
        raise ValueError(f"networks {sorted(networks)} and optimizers {sorted(optimizers)} differ")
    for name, net in networks.items():
        optimizers[name].bind(net.params)


def train_iterations(networks, optimizers, x, t, *, iterations, batch_size, rng, bar=None):
    """Train every network on the same random mini-batches; record the loss per iteration.

    As the book's ``optimizer_compare_mnist.py`` and ``weight_init_compare.py``:
    each iteration draws one batch with replacement, updates every network with
    its own optimizer, and records that network's loss on the batch *after*
    the update.

    Parameters
    ----------
    networks, optimizers : dict
        Same keys; optimizers are :mod:`fastopt.book` or :mod:`fastopt.optim`
        ones (each is bound to its network, then stepped).
    x, t : numpy.ndarray
    iterations, batch_size : int
    rng : numpy.random.Generator
    bar : progress bar, optional
        Advanced by one per network and iteration.

    Returns
    -------
    dict
        ``{name: [loss, ...]}`` with *iterations* floats each.
    """
    _bind(networks, optimizers)
    losses = {name: [] for name in networks}
    with single_thread_blas():
        _iterate(networks, optimizers, x, t, iterations, batch_size, rng, bar, losses)
    return losses


def _iterate(networks, optimizers, x, t, iterations, batch_size, rng, bar, losses):
    n = len(x)
    for _ in range(iterations):
        idx = rng.choice(n, batch_size)
        xb, tb = x[idx], t[idx]
        for name, net in networks.items():
            optimizers[name].step(net.gradient(xb, tb))
            losses[name].append(float(net.loss(xb, tb)))
        if bar is not None:
            bar.update(len(networks))


def train_epochs(networks, optimizers, x, t, x_test, t_test, *, epochs, batch_size, rng,
                 bar=None, record="script"):
    """Train every network on the same mini-batches; record train and test accuracy per epoch.

    Parameters
    ----------
    networks, optimizers : dict
        Same keys.
    x, t, x_test, t_test : numpy.ndarray
        Accuracies are measured on all of them (eval mode), once per epoch.
    epochs : int
        Number of accuracy records.
    batch_size : int
        An epoch is ``max(ceil(N / batch_size), 1)`` iterations.
    rng : numpy.random.Generator
        Draws each batch with replacement.
    bar : progress bar, optional
    record : {"script", "trainer"}
        ``"script"``: as the book's ch06 scripts, record after iteration
        ``i`` when ``i % iter_per_epoch == 0`` (the first record follows one
        update), stopping at the *epochs*-th record. ``"trainer"``: as the
        book's ``Trainer``, record after every full epoch.

    Returns
    -------
    (dict, int)
        ``{name: {"train_acc": [...], "test_acc": [...]}}`` and the number of
        iterations run.
    """
    if record not in ("script", "trainer"):
        raise ValueError(f"record must be 'script' or 'trainer', got {record!r}")
    _bind(networks, optimizers)
    n = len(x)
    per_epoch = max(math.ceil(n / batch_size), 1)
    offset = 0 if record == "script" else per_epoch - 1
    iterations = epoch_iterations(n, batch_size, epochs, record)
    curves = {name: {"train_acc": [], "test_acc": []} for name in networks}
    with single_thread_blas():
        for i in range(iterations):
            idx = rng.choice(n, batch_size)
            xb, tb = x[idx], t[idx]
            for name, net in networks.items():
                optimizers[name].step(net.gradient(xb, tb))
            if i % per_epoch == offset:
                for name, net in networks.items():
                    curves[name]["train_acc"].append(float(net.accuracy(x, t)))
                    curves[name]["test_acc"].append(float(net.accuracy(x_test, t_test)))
            if bar is not None:
                bar.update(len(networks))
    return curves, iterations


def compare_losses(settings, desc, networks, optimizers, ds, *, iterations, batch_size,
                   batch_seed):
    """:func:`train_iterations` on *ds* under a progress bar *desc*, and what the loss curves show.

    Returns
    -------
    (dict, dict, dict, dict)
        Per network: the loss of every iteration, its :func:`smoothed` curve,
        the mean loss of the last 100 iterations, and the test accuracy at the end.
    """
    with progress_bar(settings, iterations * len(networks), desc) as bar:
        losses = train_iterations(networks, optimizers, ds.x, ds.t, iterations=iterations,
                                  batch_size=batch_size, rng=np.random.default_rng(batch_seed),
                                  bar=bar)
    smooth = {name: smoothed(v) for name, v in losses.items()}
    final = {name: float(np.mean(v[-100:])) for name, v in losses.items()}
    test_acc = {name: float(net.accuracy(ds.x_test, ds.t_test)) for name, net in networks.items()}
    return losses, smooth, final, test_acc


def compare_accuracy(settings, desc, networks, ds, *, lr, epochs, batch_size, batch_seed,
                     record="script"):
    """The book's overfitting comparisons: :func:`train_epochs` with ``SGD(lr)`` for each network.

    On *ds*, under a progress bar *desc*; *record* as in :func:`train_epochs`.

    Returns
    -------
    (dict, int, dict)
        The accuracy curves and iteration count of :func:`train_epochs`, and
        each network's :func:`final_gap`.
    """
    optimizers = {key: book.SGD(lr=lr) for key in networks}
    total = len(networks) * epoch_iterations(len(ds.x), batch_size, epochs, record)
    with progress_bar(settings, total, desc) as bar:
        curves, iterations = train_epochs(networks, optimizers, ds.x, ds.t, ds.x_test, ds.t_test,
                                          epochs=epochs, batch_size=batch_size,
                                          rng=np.random.default_rng(batch_seed), bar=bar,
                                          record=record)
    return curves, iterations, {key: final_gap(c) for key, c in curves.items()}


def gap_summary(header, curves, gaps, labels):
    """Summary lines: *header*, then per run its label, final train / test accuracy and gap.

    *labels* maps each run to its label, padded as the header's first column.
    """
    return [header] + [f"  {labels[key]} {c['train_acc'][-1]:.3f} / {c['test_acc'][-1]:.3f}"
                       f"                 {gaps[key]:.3f}" for key, c in curves.items()]


def smoothed(values):
    """The book's smoothed curve (``smooth_curve``) as a list of floats."""
    return [float(v) for v in smooth_curve(np.asarray(values, dtype=np.float64))]


def epoch_iterations(n, batch_size, epochs, record="script"):
    """Iterations :func:`train_epochs` runs (for sizing progress bars)."""
    per_epoch = max(math.ceil(n / batch_size), 1)
    if epochs <= 0:
        return 0
    return (epochs - 1) * per_epoch + 1 + (0 if record == "script" else per_epoch - 1)


def final_gap(curve, last=10):
    """Mean train minus test accuracy over the last *last* records of a curve dict."""
    train = np.asarray(curve["train_acc"][-last:])
    test = np.asarray(curve["test_acc"][-last:])
    return float(np.mean(train - test))


def draw_accuracy_panels(fig, curves, titles):
    """One panel per run: train (o) and test (s) accuracy per epoch, y from 0 to 1.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    curves : dict
        ``{key: {"train_acc": [...], "test_acc": [...]}}``.
    titles : dict
        ``{key: panel title}``.
    """
    keys = list(curves)
    fig.set_size_inches(4.5 * len(keys), 3.6)
    for k, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), k + 1)
        epochs = np.arange(len(curves[key]["train_acc"]))
        every = max(len(epochs) // 20, 1)
        ax.plot(epochs, curves[key]["train_acc"], marker="o", markevery=every, markersize=4,
                label="train")
        ax.plot(epochs, curves[key]["test_acc"], marker="s", markevery=every, markersize=4,
                label="test")
        ax.set_xlabel("epochs")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.0)
        ax.set_title(titles[key], fontsize=10)
        ax.legend(loc="lower right")
    fig.tight_layout()
