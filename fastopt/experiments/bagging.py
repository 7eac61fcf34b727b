"""Bagging: an ensemble of nets on bootstrap resamples against one net.

k 1x100 ReLU nets are trained, each on its own bootstrap resample of the
training set (n draws with replacement, about 63 % distinct) and from its own
initial weights; the ensemble averages their softmax outputs
(:func:`fastopt.techniques.bagging`). Against it: single nets on the whole
training set (their mean accuracy is "one net"), and the ensemble of those
single nets (initialisation diversity only, no resampling). Done on the whole
training set and on a small subset, where a single net's variance is larger.
"""
from typing import Any, Dict, List

import numpy as np

from .. import optim
from ..techniques._mlp import mlp
from ..techniques.bagging import bagging as train_bagged
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds


@experiment("bagging", "bootstrap ensemble (averaged softmax) vs one net, by ensemble size")
def bagging(settings: Settings) -> Result:
    quick = settings.quick
    k = 3 if quick else 10
    epochs = 3 if quick else 15
    ds = load(settings)
    subsets = {"small": min(300, len(ds.x)), "all": len(ds.x)}
    seed_bag, seed_init = seeds(settings.seed, 2)
    results = {}
    with progress_bar(settings, 2 * len(subsets), "bagging") as bar:
        for label, n in subsets.items():
            x, t = ds.x[:n], ds.t[:n]
            rec: Dict[str, Any] = {"n_train": n}
            for kind, bootstrap in (("bagged", True), ("no resampling", False)):
                ens = train_bagged(lambda i: mlp([ds.input_size, 100, 10], seed=seed_init + i),
                                  lambda net: optim.Adam(net.params, lr=1e-3), x, t, k,
                                  epochs=epochs, batch_size=32, seed=seed_bag, bootstrap=bootstrap)
                rec[kind] = {"ensemble_acc": [ens.accuracy(ds.x_test, ds.t_test, m) for m in range(1, k + 1)],
                             "member_acc": ens.member_accuracies(ds.x_test, ds.t_test)}
                if bootstrap:
                    assert ens.indices is not None
                    rec[kind]["distinct_share"] = [float(len(np.unique(i)) / n) for i in ens.indices]
                bar.update(1)
            rec["single_net_acc"] = float(np.mean(rec["no resampling"]["member_acc"]))
            results[label] = rec
    data = {
        "dataset": ds.info, "network": [ds.input_size, 100, 10], "epochs": epochs,
        "optimizer": {"name": "Adam", "lr": 1e-3}, "members": k, "results": results,
        "note": "ensemble_acc[m-1]: test accuracy of the first m members' averaged softmax; "
                "single_net_acc: mean test accuracy of single nets trained on the whole (sub)set",
    }

    def draw(fig):
        axes = fig.subplots(1, len(results))
        for ax, (label, rec) in zip(np.atleast_1d(axes), results.items()):
            m = np.arange(1, k + 1)
            ax.plot(m, rec["bagged"]["ensemble_acc"], "o-", label="bagged ensemble")
            ax.plot(m, rec["no resampling"]["ensemble_acc"], "s--", label="ensemble, no resampling")
            ax.axhline(rec["single_net_acc"], color="0.4", linestyle=":", label="one net (mean)")
            ax.plot(m, rec["bagged"]["member_acc"], "x", color="C0", alpha=0.5, label="bagged members")
            ax.set(xlabel="members", ylabel="test accuracy", title=f"{rec['n_train']} training images")
            ax.legend(fontsize=8)
        fig.set_size_inches(11, 4)

    summary = [f"test accuracy, {k} members, {epochs} epochs each:"]
    for label, rec in results.items():
        summary.append(f"  n={rec['n_train']:<5} one net {rec['single_net_acc']:.4f}  bagged member "
                       f"{np.mean(rec['bagged']['member_acc']):.4f}  bagged ensemble "
                       f"{rec['bagged']['ensemble_acc'][-1]:.4f}  no-resampling ensemble "
                       f"{rec['no resampling']['ensemble_acc'][-1]:.4f}")
    return Result(data=data, draw=draw, summary=summary)
