"""Batch normalisation across initial weight scales (§6.3.2, ``batch_norm_test.py``, Fig. 6-19).

For each of 16 weight scales ``np.logspace(0, -4, 16)``: two networks of 5 hidden
layers of 100 (ReLU) with the same initial weights, one with batch norm, trained
with SGD lr 0.01 on the first 1000 training samples, batch 100, the same batch for
both, 20 epochs. Training accuracy is measured in eval mode on those 1000
samples, as the book does (test accuracy is recorded too).
"""
import numpy as np

from .. import book
from . import Result, Settings, experiment
from ._common import epoch_iterations, load, progress_bar, seeds, train_epochs

N_TRAIN, BATCH, EPOCHS, LR = 1000, 100, 20, 0.01


@experiment("batchnorm", "with vs without batch norm at 16 weight scales: accuracy (Fig. 6-19)")
def batchnorm(settings: Settings) -> Result:
    """Train a BN and a plain network per weight scale; record accuracy per epoch."""
    scales = np.logspace(0, -4, 16)
    epochs = EPOCHS
    if settings.quick:
        scales, epochs = scales[::5], 10
    ds = load(settings, N_TRAIN)
    weight_seed, batch_seed = seeds(settings.seed, 2)
    rng = np.random.default_rng(batch_seed)
    per_scale = epoch_iterations(len(ds.x), BATCH, epochs)
    panels = []
    with progress_bar(settings, 2 * per_scale * len(scales), "batchnorm") as bar:
        for w in scales:
            networks = {
                key: book.MultiLayerNetExtend(ds.input_size, [100] * 5, 10, weight_init_std=float(w),
                                              use_batchnorm=use_bn, seed=weight_seed)
                for key, use_bn in (("batchnorm", True), ("plain", False))}
            optimizers = {key: book.SGD(lr=LR) for key in networks}
            with np.errstate(all="ignore"):  # the largest scales overflow without BN (as the book)
                curves, iterations = train_epochs(networks, optimizers, ds.x, ds.t, ds.x_test,
                                                  ds.t_test, epochs=epochs, batch_size=BATCH,
                                                  rng=rng, bar=bar)
            panels.append({"weight_scale": float(w), **curves})
    faster = [p["weight_scale"] for p in panels
              if np.mean(p["batchnorm"]["train_acc"]) > np.mean(p["plain"]["train_acc"])]
    data = {
        "dataset": ds.info, "network": {"hidden": [100] * 5, "activation": "relu"},
        "optimizer": {"SGD": {"lr": LR}}, "batch_size": BATCH, "epochs": epochs,
        "iterations_per_scale": iterations, "weight_scales": [float(w) for w in scales],
        "panels": panels, "batchnorm_faster_at": faster,
        "note": "train_acc (shown) is eval-mode accuracy on the training samples, recorded as "
                "the book's script (after iteration 0, 10, 20, ...); 'faster' means a higher mean "
                "training accuracy over the epochs",
    }

    def draw(fig):
        n = len(panels)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig.set_size_inches(3.2 * cols, 2.6 * rows)
        x = np.arange(epochs)
        for k, p in enumerate(panels):
            ax = fig.add_subplot(rows, cols, k + 1)
            ax.plot(x, p["batchnorm"]["train_acc"], label="Batch Normalization")
            ax.plot(x, p["plain"]["train_acc"], linestyle="--", label="Normal (without BatchNorm)")
            ax.set_title(f"{k + 1}: W:{p['weight_scale']:.3g}", fontsize=9)
            ax.set_ylim(0, 1.0)
            if k % cols:
                ax.set_yticks([])
            else:
                ax.set_ylabel("accuracy")
            if k < n - cols:
                ax.set_xticks([])
            else:
                ax.set_xlabel("epochs")
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()

    summary = ["weight scale   final train accuracy: BN / without"]
    for p in panels:
        summary.append(f"  {p['weight_scale']:<11.3g}  {p['batchnorm']['train_acc'][-1]:.3f} / "
                       f"{p['plain']['train_acc'][-1]:.3f}")
    summary.append(f"batch norm learns faster (higher mean accuracy) at {len(faster)} of "
                   f"{len(panels)} scales")
    return Result(data=data, draw=draw, summary=summary)
