"""Magnitude pruning: prune, retrain, repeat; accuracy against sparsity.

A 2x100 ReLU net is trained dense, then pruned step by step to growing
sparsity (global magnitude pruning of the weight matrices; biases kept). At
each step the accuracy is measured right after pruning and again after a few
epochs of retraining with the masks attached to the optimizer
(:class:`fastopt.techniques.Pruner`), which keeps pruned weights at exactly
zero. A random-pruning baseline at the same sparsities (also retrained) shows
that the magnitude is what makes the choice good.
"""
from typing import Any, Dict, List

import numpy as np

from .. import optim
from ..techniques import Pruner, magnitude_masks, sparsity
from ..techniques._mlp import fit, mlp
from ..techniques.pruning import split_like
from ..plots import plain_log_ticks
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

SPARSITIES = [0.5, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99]
HIDDEN = [100, 100]


def _random_masks(params, fraction, current, rng):
    """Keep-masks pruning a random *fraction* of all weights, growing *current*."""
    names = list(current)
    alive = np.concatenate([current[n].reshape(-1) for n in names])
    k_more = int(round(fraction * alive.size)) - int(np.count_nonzero(~alive))
    keep = alive.copy()
    if k_more > 0:
        keep[rng.choice(np.flatnonzero(alive), k_more, replace=False)] = False
    return split_like(keep, params, names)


def _zero_share(params, masks):
    return sum(int(np.count_nonzero(params[n] == 0)) for n in masks) / sum(m.size for m in masks.values())


@experiment("pruning", "magnitude pruning with retraining: accuracy vs sparsity (vs random pruning)")
def pruning(settings: Settings) -> Result:
    quick = settings.quick
    levels = [0.5, 0.9, 0.98] if quick else SPARSITIES
    dense_epochs, retrain_epochs = (3, 1) if quick else (20, 4)
    ds = load(settings)
    seed, batch_seed, rand_seed = seeds(settings.seed, 3)
    sizes = [ds.input_size, *HIDDEN, 10]
    dense = mlp(sizes, seed=seed)
    fit(dense, optim.Adam(dense.params, lr=1e-3), ds.x, ds.t, epochs=dense_epochs, seed=batch_seed)
    dense_acc = float(dense.accuracy(ds.x_test, ds.t_test))
    start = {name: dense.params[name].copy() for name in dense.params}
    results = {}
    with progress_bar(settings, 2 * len(levels), "pruning") as bar:
        for method in ("magnitude", "random"):
            net = mlp(sizes, seed=seed)
            for name in start:
                net.params[name][...] = start[name]
            opt = optim.Adam(net.params, lr=1e-3)
            pruner = Pruner(net.params)
            pruner.attach(opt)
            masks = {n: np.ones(net.params[n].shape, bool) for n in net.params if net.params[n].ndim >= 2}
            rng = np.random.default_rng(rand_seed)
            rec: Dict[str, List[Any]] = {"sparsity": [], "acc_pruned": [], "acc_retrained": [], "zero_share": []}
            for level in levels:
                masks = (magnitude_masks(net.params, level, masks=masks) if method == "magnitude"
                         else _random_masks(net.params, level, masks, rng))
                pruner.set_masks(masks)
                pruner.apply()
                rec["sparsity"].append(sparsity(masks))
                rec["acc_pruned"].append(float(net.accuracy(ds.x_test, ds.t_test)))
                fit(net, opt, ds.x, ds.t, epochs=retrain_epochs, seed=batch_seed + 1)
                rec["acc_retrained"].append(float(net.accuracy(ds.x_test, ds.t_test)))
                rec["zero_share"].append(_zero_share(net.params, masks))
                bar.update(1)
            results[method] = rec
    weights = sum(dense.params[n].size for n in dense.params if dense.params[n].ndim >= 2)
    data = {
        "dataset": ds.info, "network": {"sizes": sizes, "activation": "relu", "weights": weights},
        "optimizer": {"name": "Adam", "lr": 1e-3}, "dense_epochs": dense_epochs,
        "retrain_epochs": retrain_epochs, "levels": levels, "dense_test_acc": dense_acc,
        "results": results,
        "note": "sparsity: share of weight-matrix entries pruned (biases kept); acc_pruned right "
                "after pruning, acc_retrained after retraining with the masks attached; zero_share: "
                "share of pruned-set weights that are exactly 0 after retraining",
    }

    def draw(fig):
        ax = fig.add_subplot(1, 1, 1)
        for i, method in enumerate(("magnitude", "random")):
            rec = results[method]
            kept = [100 * (1 - s) for s in rec["sparsity"]]
            ax.plot(kept, rec["acc_retrained"], "o-", color=f"C{i}", label=f"{method}, retrained")
            ax.plot(kept, rec["acc_pruned"], "x--", color=f"C{i}", label=f"{method}, before retraining")
        ax.axhline(dense_acc, color="0.5", linestyle=":", label="dense")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis, [100 * (1 - s) for s in results["magnitude"]["sparsity"]])
        ax.invert_xaxis()
        ax.set(xlabel="weights kept (%)", ylabel="test accuracy",
               title=f"pruning a {'-'.join(map(str, sizes))} net ({weights} weights)")
        ax.legend(fontsize=8)

    mag, rnd = results["magnitude"], results["random"]
    summary = [f"dense test accuracy {dense_acc:.4f}; sparsity: magnitude (pruned -> retrained) | "
               "random (pruned -> retrained):"]
    for i, level in enumerate(levels):
        summary.append(f"  {100 * level:5.1f}%  {mag['acc_pruned'][i]:.4f} -> {mag['acc_retrained'][i]:.4f}"
                       f"  |  {rnd['acc_pruned'][i]:.4f} -> {rnd['acc_retrained'][i]:.4f}")
    within = [lv for lv, a in zip(levels, mag["acc_retrained"]) if a >= dense_acc - 0.01]
    summary.append(f"magnitude pruning keeps accuracy within 1 point of dense up to "
                   f"{100 * max(within):.1f}% sparsity" if within else
                   "magnitude pruning loses more than 1 point at every level")
    return Result(data=data, draw=draw, summary=summary)
