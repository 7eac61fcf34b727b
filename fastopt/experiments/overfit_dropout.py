"""Overfitting and dropout (§6.4.3, ``overfit_dropout.py``, Fig. 6-23).

Six hidden layers of 100 (ReLU, He init, the book's non-inverted dropout) trained
on the first 300 training samples as the book's ``Trainer`` does: SGD lr 0.01,
batch 100, 301 epochs, accuracy after every epoch on those 300 samples and the
whole test set. Three runs from the same initial weights on the same batches:
no dropout, dropout ratio 0.2 (the book's code) and 0.15 (the book's figure).
"""
import numpy as np

from .. import book
from . import Result, Settings, experiment
from ._common import (
    draw_accuracy_panels,
    epoch_iterations,
    final_gap,
    load,
    progress_bar,
    seeds,
    train_epochs,
)

N_TRAIN, BATCH, EPOCHS, LR = 300, 100, 301, 0.01
RATIOS = {"no dropout": 0.0, "dropout 0.2": 0.2, "dropout 0.15": 0.15}


@experiment("overfit-dropout",
            "300 samples, 6x100 net, no dropout vs 0.2 vs 0.15: train/test accuracy (Fig. 6-23)")
def overfit_dropout(settings: Settings) -> Result:
    """Train the same network without and with dropout; record accuracies per epoch."""
    epochs = 120 if settings.quick else EPOCHS
    ds = load(settings, N_TRAIN)
    weight_seed, batch_seed, dropout_seed = seeds(settings.seed, 3)
    networks = {key: book.MultiLayerNetExtend(ds.input_size, [100] * 6, 10, use_dropout=ratio > 0,
                                              dropout_ration=ratio, seed=weight_seed,
                                              dropout_seed=dropout_seed)
                for key, ratio in RATIOS.items()}
    optimizers = {key: book.SGD(lr=LR) for key in networks}
    total = len(networks) * epoch_iterations(len(ds.x), BATCH, epochs, "trainer")
    with progress_bar(settings, total, "overfit-dropout") as bar:
        curves, iterations = train_epochs(networks, optimizers, ds.x, ds.t, ds.x_test, ds.t_test,
                                          epochs=epochs, batch_size=BATCH,
                                          rng=np.random.default_rng(batch_seed), bar=bar,
                                          record="trainer")
    gaps = {key: final_gap(c) for key, c in curves.items()}
    data = {
        "dataset": ds.info, "network": {"hidden": [100] * 6, "activation": "relu", "init": "he",
                                        "dropout": "non-inverted (the book's)"},
        "optimizer": {"SGD": {"lr": LR}}, "batch_size": BATCH, "epochs": epochs,
        "iterations": iterations, "dropout_ratio": RATIOS, "curves": curves,
        "gap_last_10_epochs": gaps,
        "note": "accuracy after every epoch, as the book's Trainer; the gap is the mean "
                "train-minus-test accuracy over the last 10 epochs",
    }

    def draw(fig):
        draw_accuracy_panels(fig, curves, {key: key for key in curves})

    summary = ["run            final train / test accuracy   train-test gap (last 10 epochs)"]
    for key, c in curves.items():
        summary.append(f"  {key:<13} {c['train_acc'][-1]:.3f} / {c['test_acc'][-1]:.3f}"
                       f"                 {gaps[key]:.3f}")
    narrower = [k for k in RATIOS if RATIOS[k] and gaps[k] < gaps["no dropout"]]
    summary.append(f"dropout narrows the gap for: {', '.join(narrower) or 'none'}")
    return Result(data=data, draw=draw, summary=summary)
