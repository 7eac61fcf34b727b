"""Learning-rate decay: the same network and batches under five schedules.

Adam (lr 0.02, a deliberately large rate) trains a 2x100 ReLU net; only the
schedule of the learning rate differs (``fastopt.optim.schedules``): constant, step decay
(x0.1 at 50 % and 75 % of training), exponential (to 1 % at the end), cosine
(to 0), and a 10 % linear warmup into cosine. A constant rate keeps the
iterate bouncing around the minimum at a noise level set by the rate; a
decaying rate lets it settle, so the training loss ends lower.
"""
from typing import Any, Dict, List

import numpy as np

from .. import optim
from ..techniques._mlp import fit, mlp
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

LR = 0.02


def _schedules(total):
    return {
        "constant": optim.Constant(LR),
        "step": optim.MultiStepDecay(LR, [total // 2, (3 * total) // 4], gamma=0.1),
        "exponential": optim.ExponentialDecay(LR, gamma=0.01 ** (1 / total)),
        "cosine": optim.CosineDecay(LR, total_steps=total),
        "warmup+cosine": optim.LinearWarmup(optim.CosineDecay(LR, total_steps=total - total // 10),
                                            warmup_steps=total // 10),
    }


@experiment("lr-decay", "learning-rate schedules compared: constant, step, exponential, cosine, warmup")
def lr_decay(settings: Settings) -> Result:
    epochs = 4 if settings.quick else 15
    n_seeds = 1 if settings.quick else 3
    batch_size = 32
    ds = load(settings)
    per_epoch = -(-len(ds.x) // batch_size)
    total = epochs * per_epoch
    names = list(_schedules(total))
    results: Dict[str, Dict[str, List[Any]]] = {
        name: {"epoch_loss": [], "test_acc": [], "final_test_acc": []} for name in names}
    with progress_bar(settings, len(names) * n_seeds, "lr-decay") as bar:
        for s, seed in enumerate(seeds(settings.seed, n_seeds)):
            for name, sched in _schedules(total).items():
                net = mlp([ds.input_size, 100, 100, 10], seed=seed)
                opt = optim.Adam(net.params, lr=sched)
                hist = fit(net, opt, ds.x, ds.t, x_val=ds.x_test, t_val=ds.t_test, epochs=epochs,
                           batch_size=batch_size, seed=seed + 1)
                results[name]["epoch_loss"].append(hist["epoch_loss"])
                results[name]["test_acc"].append(hist["val_acc"])
                results[name]["final_test_acc"].append(hist["val_acc"][-1])
                bar.update(1)
    lr_curves = {name: [sched(i) for i in range(0, total, max(total // 200, 1))]
                 for name, sched in _schedules(total).items()}
    mean_loss = {n: np.mean(r["epoch_loss"], axis=0).tolist() for n, r in results.items()}
    mean_acc = {n: np.mean(r["test_acc"], axis=0).tolist() for n, r in results.items()}
    final_loss = {n: float(np.mean(mean_loss[n][-3:])) for n in names}
    final_acc = {n: float(np.mean(results[n]["final_test_acc"])) for n in names}
    data = {
        "dataset": ds.info, "network": {"sizes": [ds.input_size, 100, 100, 10], "activation": "relu"},
        "optimizer": {"name": "Adam", "lr": LR}, "epochs": epochs,
        "batch_size": batch_size, "total_steps": total, "seeds": n_seeds,
        "lr_steps": list(range(0, total, max(total // 200, 1))), "lr": lr_curves,
        "epoch_loss": mean_loss, "test_acc": mean_acc,
        "final_train_loss": final_loss, "final_test_acc": final_acc,
        "per_seed": results,
        "note": "epoch_loss: mean training loss per epoch; test_acc per epoch; means over seeds; "
                "final_train_loss: mean of the last 3 epochs",
    }

    def draw(fig):
        from matplotlib.ticker import MaxNLocator

        fig.set_size_inches(14, 4)
        ax1, ax2, ax3 = fig.subplots(1, 3)
        for name in names:
            ax1.plot(data["lr_steps"], lr_curves[name], label=name)
            ax2.semilogy(np.arange(1, epochs + 1), mean_loss[name], label=name)
            ax3.plot(np.arange(1, epochs + 1), mean_acc[name], label=name)
        ax1.set(xlabel="step", ylabel="learning rate", title="schedules")
        ax2.set(xlabel="epoch", ylabel="training loss", title="training loss (mean per epoch)")
        ax3.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
        for ax in (ax2, ax3):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax1.legend(fontsize=8)
        fig.tight_layout()

    const = final_loss["constant"]
    summary = [f"training loss (last 3 epochs) / final test accuracy (mean of {n_seeds} seeds, {epochs} epochs, "
               f"Adam lr {LR}):"]
    for name in sorted(names, key=lambda n: final_loss[n]):
        summary.append(f"  {name:<14} {final_loss[name]:.5f}  {final_acc[name]:.4f}")
    better = [n for n in names if n != "constant" and final_loss[n] < const]
    summary.append(f"decayed schedules ending below the constant rate's loss: {len(better)} of "
                   f"{len(names) - 1}")
    return Result(data=data, draw=draw, summary=summary)
