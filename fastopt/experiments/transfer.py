"""Transfer learning: pretrain on digits 0-4, learn 5-9 with frozen lower layers.

A 64-100-100-5 ReLU net is pretrained on all training images of the digits
0-4. For the digits 5-9 (relabelled 0-4) with only n training images per
class, three nets of the same shape are trained for the same number of steps:

* **scratch**: fresh weights;
* **frozen layer 1**: the pretrained first layer copied in and frozen (an
  optimizer param group with ``"frozen": True``, :func:`fastopt.techniques.freeze`),
  the rest fresh and trained;
* **frozen layers 1-2**: both pretrained hidden layers copied in and frozen,
  only a fresh output layer trained;
* **fine-tuned**: both pretrained hidden layers copied in, everything trained.

Transfer should help most when n is small; with enough data, scratch catches
up. On the 8x8 digits the gain is small (scratch is already strong from one
image per class) and freezing both layers hurts: features learnt for 0-4
leave out what separates 5-9.
"""
from typing import Any, Dict, List

import numpy as np

from .. import optim
from ..techniques import copy_parameters, freeze
from ..techniques._mlp import fit, fit_steps, mlp
from ..plots import plain_log_ticks
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

BODY = ["W1", "b1", "W2", "b2"]
#: method -> (parameters copied from the pretrained net, parameters frozen)
METHODS = {"scratch": ([], []), "frozen layer 1": (BODY[:2], BODY[:2]),
           "frozen layers 1-2": (BODY, BODY), "fine-tuned": (BODY, [])}


def _per_class(t, n, rng):
    return np.concatenate([rng.permutation(np.flatnonzero(t == c))[:n] for c in np.unique(t)])


@experiment("transfer", "pretrain on digits 0-4, learn 5-9: frozen lower layers vs from scratch")
def transfer(settings: Settings) -> Result:
    quick = settings.quick
    sizes = [2, 10] if quick else [1, 2, 5, 10, 20, 50, 100]
    n_seeds = 1 if quick else 3
    steps = 100 if quick else 300
    pre_epochs = 3 if quick else 20
    ds = load(settings)
    src, tgt = ds.t < 5, ds.t >= 5
    xs, ts = ds.x[src], ds.t[src]
    xt, tt = ds.x[tgt], ds.t[tgt] - 5
    xs_test, ts_test = ds.x_test[ds.t_test < 5], ds.t_test[ds.t_test < 5]
    xt_test, tt_test = ds.x_test[ds.t_test >= 5], ds.t_test[ds.t_test >= 5] - 5
    arch = [ds.input_size, 100, 100, 5]
    pre_seed, *run_seeds = seeds(settings.seed, 1 + n_seeds)
    pretrained = mlp(arch, seed=pre_seed)
    fit(pretrained, optim.Adam(pretrained.params, lr=1e-3), xs, ts, epochs=pre_epochs, seed=pre_seed)
    pre_acc = float(pretrained.accuracy(xs_test, ts_test))
    acc: Dict[str, List[float]] = {m: [] for m in METHODS}
    unchanged = True
    with progress_bar(settings, len(sizes) * n_seeds * len(METHODS), "transfer") as bar:
        for n in sizes:
            per: Dict[str, List[float]] = {m: [] for m in METHODS}
            for seed in run_seeds:
                idx = _per_class(tt, n, np.random.default_rng(seed + n))
                for method, (copied, frozen) in METHODS.items():
                    net = mlp(arch, seed=seed)
                    if copied:
                        copy_parameters(pretrained.params, net.params, copied)
                    opt = optim.Adam(freeze(net.params, frozen) if frozen else net.params, lr=1e-3)
                    before = {k: net.params[k].copy() for k in frozen}
                    fit_steps(net, opt, xt[idx], tt[idx], steps=steps, seed=seed + 1)
                    unchanged &= all(np.array_equal(before[k], net.params[k]) for k in frozen)
                    per[method].append(float(net.accuracy(xt_test, tt_test)))
                    bar.update(1)
            for m in METHODS:
                acc[m].append(float(np.mean(per[m])))
    data = {
        "dataset": ds.info, "network": arch, "pretrain": {"classes": [0, 1, 2, 3, 4],
                                                          "n_train": len(xs), "epochs": pre_epochs,
                                                          "test_acc": pre_acc},
        "target_classes": [5, 6, 7, 8, 9], "per_class": sizes, "steps": steps, "seeds": n_seeds,
        "optimizer": {"name": "Adam", "lr": 1e-3},
        "methods": {m: {"copied": c, "frozen": f} for m, (c, f) in METHODS.items()}, "test_acc": acc,
        "frozen_bit_unchanged": bool(unchanged),
        "note": "test accuracy on the 5-9 test images (5 classes, chance 0.2), mean over seeds; "
                "every net trained for the same number of steps",
    }

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        for m, marker in zip(METHODS, "osD^"):
            ax.plot(sizes, acc[m], marker=marker, label=m)
        ax.set(xscale="log", xlabel="training images per class (digits 5-9)", ylabel="test accuracy",
               title=f"transfer from digits 0-4 (pretrained test accuracy {pre_acc:.3f})")
        plain_log_ticks(ax.xaxis, sizes)
        ax.legend()

    summary = [f"pretrained on 0-4: test accuracy {pre_acc:.4f}; on 5-9 by images per class {sizes} "
               f"(mean of {n_seeds} seeds):"]
    for m in METHODS:
        summary.append(f"  {m:<18} " + "  ".join(f"{a:.3f}" for a in acc[m]))
    summary.append(f"frozen layers bit-unchanged after training: {unchanged}")
    return Result(data=data, draw=draw, summary=summary)
