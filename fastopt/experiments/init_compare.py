"""Weight initialisation on a real classifier (§6.2.4, ``weight_init_compare.py``, Fig. 6-15).

Four hidden layers of 100 with ReLU (the book's default activation, so its
"Xavier" curve is Xavier with ReLU), initial weight std 0.01, Xavier √(1/n) and
He √(2/n), SGD lr 0.01, batch 128, 2000 iterations, the same batch for all three.
"""
import math
from typing import Dict, Union

import numpy as np

from .. import book
from . import Result, Settings, experiment
from ._common import compare_losses, load, seeds

#: label -> the book's ``weight_init_std``
INITS: Dict[str, Union[float, str]] = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}


def first_below(curve, level):
    """First iteration where *curve* is below *level*, or None."""
    hits = np.flatnonzero(np.asarray(curve) < level)
    return int(hits[0]) if hits.size else None


@experiment("init-compare", "std 0.01 vs Xavier vs He with ReLU, SGD: loss curves (Fig. 6-15)")
def init_compare(settings: Settings) -> Result:
    """Train one ReLU network per initialisation on the same batches."""
    iterations = 300 if settings.quick else 2000
    batch_size, lr = 128, 0.01
    ds = load(settings)
    weight_seed, batch_seed = seeds(settings.seed, 2)
    # The same N(0, 1) draws for every network, scaled by each init's std.
    networks = {name: book.MultiLayerNet(ds.input_size, [100] * 4, 10, weight_init_std=std,
                                         seed=weight_seed)
                for name, std in INITS.items()}
    optimizers = {name: book.SGD(lr=lr) for name in INITS}
    losses, smooth, final, test_acc = compare_losses(
        settings, "init-compare", networks, optimizers, ds, iterations=iterations,
        batch_size=batch_size, batch_seed=batch_seed)
    below_1 = {name: first_below(c, 1.0) for name, c in smooth.items()}
    data = {
        "dataset": ds.info, "network": {"hidden": [100] * 4, "activation": "relu"},
        "inits": {name: std for name, std in INITS.items()}, "optimizer": {"SGD": {"lr": lr}},
        "batch_size": batch_size, "iterations": iterations, "ln10": math.log(10),
        "loss": losses, "smoothed_loss": smooth, "final_loss": final,
        "first_iteration_smoothed_loss_below_1": below_1, "test_accuracy": test_acc,
        "note": "inits are the book's weight_init_std values ('sigmoid' = Xavier, 'relu' = He); "
                "final_loss is the mean over the last 100 iterations",
    }

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        markers = {"std=0.01": "o", "Xavier": "s", "He": "D"}
        x = np.arange(iterations)
        for name, curve in smooth.items():
            ax.plot(x, curve, marker=markers[name], markevery=max(iterations // 20, 1),
                    markersize=4, label=name)
        ax.set_xlabel("iterations")
        ax.set_ylabel("loss")
        ax.set_ylim(0, 2.5)
        ax.set_title(f"ReLU, SGD lr {lr}, {ds.info['name']} ({ds.info['n_train']} samples)")
        ax.legend()

    summary = ["init      loss(last 100)  first iteration below 1  test accuracy"]
    for name in INITS:
        summary.append(f"  {name:<9} {final[name]:.4f}          {below_1[name]!s:<24} "
                       f"{test_acc[name]:.3f}")
    summary.append(f"ln 10 = {math.log(10):.4f}: std 0.01 "
                   + ("does not learn (as the book)" if final["std=0.01"] > 2.2 else "learns"))
    return Result(data=data, draw=draw, summary=summary)
