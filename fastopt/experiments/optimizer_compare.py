"""Optimizers on a real classifier (§6.1.8, ``optimizer_compare_mnist.py``, Fig. 6-9).

Four hidden layers of 100 (ReLU, He init), batch 128, 2000 iterations, the same
mini-batch for every optimizer at each iteration, the book's default settings
for each optimizer (SGD 0.01, Momentum 0.01/0.9, AdaGrad 0.01, Adam 0.001) plus
Nesterov (0.01/0.9) and RMSprop (0.01/0.99), which the book's script leaves out.
"""
import numpy as np

from .. import book
from . import Result, Settings, experiment
from ._common import compare_losses, load, seeds

#: name -> (fastopt.book class, settings): the book's defaults
OPTIMIZERS = {
    "SGD": (book.SGD, {"lr": 0.01}),
    "Momentum": (book.Momentum, {"lr": 0.01, "momentum": 0.9}),
    "AdaGrad": (book.AdaGrad, {"lr": 0.01}),
    "Adam": (book.Adam, {"lr": 0.001}),
    "Nesterov": (book.Nesterov, {"lr": 0.01, "momentum": 0.9}),
    "RMSprop": (book.RMSprop, {"lr": 0.01, "decay_rate": 0.99}),
}
BOOK_FOUR = ("SGD", "Momentum", "AdaGrad", "Adam")


def _at(curve, i):
    return curve[min(i, len(curve) - 1)]


@experiment("optimizer-compare", "6 optimizers training a 4x100 ReLU net: smoothed loss (Fig. 6-9)")
def optimizer_compare(settings: Settings) -> Result:
    """Train one network per optimizer on the same batches; record the loss per iteration."""
    iterations = 200 if settings.quick else 2000
    batch_size = 128
    ds = load(settings)
    weight_seed, batch_seed = seeds(settings.seed, 2)
    # Every network starts from the same weights, so only the optimizer differs.
    networks = {name: book.MultiLayerNet(ds.input_size, [100] * 4, 10, seed=weight_seed)
                for name in OPTIMIZERS}
    optimizers = {name: cls(**cfg) for name, (cls, cfg) in OPTIMIZERS.items()}
    losses, smooth, final, test_acc = compare_losses(
        settings, "optimizer-compare", networks, optimizers, ds, iterations=iterations,
        batch_size=batch_size, batch_seed=batch_seed)
    data = {
        "dataset": ds.info, "network": {"hidden": [100] * 4, "activation": "relu", "init": "he"},
        "batch_size": batch_size, "iterations": iterations,
        "optimizers": {name: cfg for name, (_, cfg) in OPTIMIZERS.items()},
        "loss": losses, "smoothed_loss": smooth,
        "final_loss": final, "test_accuracy": test_acc,
        "note": "loss of each batch after the update, as the book; final_loss is the mean over "
                "the last 100 iterations; all networks start from the same weights",
    }

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        markers = {"SGD": "o", "Momentum": "x", "AdaGrad": "s", "Adam": "D", "Nesterov": "^",
                   "RMSprop": "v"}
        x = np.arange(iterations)
        every = max(iterations // 20, 1)
        for name, curve in smooth.items():
            ax.plot(x, curve, marker=markers.get(name), markevery=every, markersize=4,
                    label=name, linestyle="-" if name in BOOK_FOUR else "--")
        ax.set_xlabel("iterations")
        ax.set_ylabel("loss")
        ax.set_ylim(0, 1)
        ax.set_title(f"{ds.info['name']}: {ds.info['n_train']} samples, batch {batch_size}")
        ax.legend()

    mid = min(100, iterations - 1)
    summary = [(f"loss (smoothed) at iteration {mid}, mean loss of the last 100 iterations, "
                "test accuracy:")]
    for name in sorted(final, key=lambda n: final[n], reverse=True):
        summary.append(f"  {name:<9} {_at(smooth[name], mid):.3f}  {final[name]:9.2e}  "
                       f"{test_acc[name]:.3f}")
    slowest = max(final, key=lambda n: final[n])
    summary.append(f"slowest: {slowest}" + (" (as the book)" if slowest == "SGD" else
                                            " (the book: SGD)"))
    return Result(data=data, draw=draw, summary=summary)
