"""Overfitting and dropout (§6.4.3, ``overfit_dropout.py``, Fig. 6-23).

Six hidden layers of 100 (ReLU, He init, the book's non-inverted dropout) trained
on the first 300 training samples as the book's ``Trainer`` does: SGD lr 0.01,
batch 100, 301 epochs, accuracy after every epoch on those 300 samples and the
whole test set. Three runs from the same initial weights on the same batches:
no dropout, dropout ratio 0.2 (the book's code) and 0.15 (the book's figure).
"""
from .. import book
from . import Result, Settings, experiment
from ._common import compare_accuracy, draw_accuracy_panels, gap_summary, load, seeds

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
    curves, iterations, gaps = compare_accuracy(settings, "overfit-dropout", networks, ds, lr=LR,
                                                epochs=epochs, batch_size=BATCH,
                                                batch_seed=batch_seed, record="trainer")
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

    summary = gap_summary("run            final train / test accuracy   train-test gap (last 10 epochs)",
                          curves, gaps, {key: f"{key:<13}" for key in curves})
    narrower = [k for k in RATIOS if RATIOS[k] and gaps[k] < gaps["no dropout"]]
    summary.append(f"dropout narrows the gap for: {', '.join(narrower) or 'none'}")
    return Result(data=data, draw=draw, summary=summary)
