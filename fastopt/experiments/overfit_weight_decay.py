"""Overfitting and weight decay (§6.4.1–6.4.2, ``overfit_weight_decay.py``, Figs. 6-20 and 6-21).

Six hidden layers of 100 (ReLU, He init) trained on the first 300 training
samples with SGD lr 0.01, batch 100, for 201 epochs, once without weight decay
(λ = 0, Fig. 6-20) and once with λ = 0.1 (Fig. 6-21), from the same initial
weights and on the same batches. Accuracy is measured on those 300 samples and
on the whole test set, as the book's script does.
"""
from .. import book
from . import Result, Settings, experiment
from ._common import compare_accuracy, draw_accuracy_panels, gap_summary, load, seeds

N_TRAIN, BATCH, EPOCHS, LR = 300, 100, 201, 0.01
LAMBDAS = {"lambda=0": 0.0, "lambda=0.1": 0.1}


@experiment("overfit-weight-decay",
            "300 samples, 6x100 net, lambda 0 vs 0.1: train/test accuracy (Figs. 6-20, 6-21)")
def overfit_weight_decay(settings: Settings) -> Result:
    """Train the same network without and with weight decay; record accuracies per epoch."""
    epochs = 120 if settings.quick else EPOCHS
    ds = load(settings, N_TRAIN)
    weight_seed, batch_seed = seeds(settings.seed, 2)
    networks = {key: book.MultiLayerNet(ds.input_size, [100] * 6, 10, weight_decay_lambda=lam,
                                        seed=weight_seed)
                for key, lam in LAMBDAS.items()}
    curves, iterations, gaps = compare_accuracy(settings, "overfit-weight-decay", networks, ds,
                                                lr=LR, epochs=epochs, batch_size=BATCH,
                                                batch_seed=batch_seed)
    data = {
        "dataset": ds.info, "network": {"hidden": [100] * 6, "activation": "relu", "init": "he"},
        "optimizer": {"SGD": {"lr": LR}}, "batch_size": BATCH, "epochs": epochs,
        "iterations": iterations, "weight_decay_lambda": LAMBDAS, "curves": curves,
        "gap_last_10_epochs": gaps,
        "note": "accuracy recorded as the book's script (after iteration 0, 3, 6, ...); the gap "
                "is the mean train-minus-test accuracy over the last 10 records",
    }

    def draw(fig):
        draw_accuracy_panels(fig, curves, {"lambda=0": "no weight decay (Fig. 6-20)",
                                           "lambda=0.1": "weight decay lambda = 0.1 (Fig. 6-21)"})

    summary = gap_summary("lambda   final train / test accuracy   train-test gap (last 10 epochs)",
                          curves, gaps, {key: f"{lam:<6}" for key, lam in LAMBDAS.items()})
    verdict = "narrows" if gaps["lambda=0.1"] < gaps["lambda=0"] else "does not narrow"
    summary.append(f"weight decay {verdict} the gap")
    return Result(data=data, draw=draw, summary=summary)
