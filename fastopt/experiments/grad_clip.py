"""Gradient clipping: a badly scaled deep net that diverges without it and trains with it.

Eight hidden ReLU layers of 64 whose weights start at twice He's standard
deviation: each layer doubles the activations' scale, so the first gradients
have a norm near 10³. SGD with momentum (lr 0.01) takes a step that large,
the loss overflows and the weights become NaN. Clipping the global gradient
norm (``max_grad_norm``, PyTorch's rule) or each element (``clip_value``)
bounds the first steps; the weights shrink to a trainable scale and the net
learns. The same batches are used for every run.
"""
from typing import Any, Dict, List

import math

import numpy as np

from .. import optim
from ..optim import global_norm
from ..techniques._mlp import json_float, mlp
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

CONFIGS = {"no clipping": {}, "max_grad_norm=1": {"max_grad_norm": 1.0},
           "max_grad_norm=10": {"max_grad_norm": 10.0}, "clip_value=0.1": {"clip_value": 0.1}}
DEPTH, WIDTH, SCALE, LR = 8, 64, 2.0, 0.01


def _train(ds, seed, batch_seed, iterations, options):
    net = mlp([ds.input_size] + [WIDTH] * DEPTH + [10], scale=SCALE, seed=seed)
    opt = optim.SGD(net.params, lr=LR, momentum=0.9, **options)
    rng = np.random.default_rng(batch_seed)
    losses, norms = [], []
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            idx = rng.choice(len(ds.x), 32)
            grads = net.gradient(ds.x[idx], ds.t[idx])
            losses.append(json_float(net.last_loss))
            norms.append(json_float(global_norm(grads)))
            opt.step()
        finite = bool(np.isfinite(net.params.buffers[np.dtype(np.float64)]).all())
        acc = float(net.accuracy(ds.x_test, ds.t_test)) if finite else None
    return losses, norms, finite, acc


@experiment("grad-clip", "gradient clipping: a badly scaled 8-layer ReLU net diverges without it")
def grad_clip(settings: Settings) -> Result:
    iterations = 150 if settings.quick else 600
    n_seeds = 1 if settings.quick else 3
    ds = load(settings)
    runs: Dict[str, Dict[str, List[Any]]] = {
        name: {"loss": [], "grad_norm": [], "finite": [], "test_acc": []} for name in CONFIGS}
    pairs = list(zip(seeds(settings.seed, n_seeds), seeds(settings.seed + 1, n_seeds)))
    with progress_bar(settings, len(CONFIGS) * n_seeds, "grad-clip") as bar:
        for seed, batch_seed in pairs:
            for name, options in CONFIGS.items():
                losses, norms, finite, acc = _train(ds, seed, batch_seed, iterations, options)
                for key, value in zip(("loss", "grad_norm", "finite", "test_acc"),
                                      (losses, norms, finite, acc)):
                    runs[name][key].append(value)
                bar.update(1)
    diverged = {name: sum(not f for f in r["finite"]) for name, r in runs.items()}
    acc = {name: (float(np.mean([a for a in r["test_acc"] if a is not None]))
                  if any(a is not None for a in r["test_acc"]) else None) for name, r in runs.items()}
    data = {
        "dataset": ds.info,
        "network": {"sizes": [ds.input_size] + [WIDTH] * DEPTH + [10], "activation": "relu",
                    "init": f"{SCALE} x He normal"},
        "optimizer": {"name": "SGD", "lr": LR, "momentum": 0.9}, "configs": CONFIGS,
        "iterations": iterations, "batch_size": 32, "seeds": n_seeds,
        "runs": runs, "diverged": diverged, "mean_test_acc": acc,
        "note": "loss and grad_norm (before clipping) per iteration, one list per seed; "
                "null = NaN/inf; test_acc null where the weights became NaN",
    }

    def draw(fig):
        ax1, ax2 = fig.subplots(1, 2)
        for i, name in enumerate(CONFIGS):
            loss = [math.nan if v is None else v for v in runs[name]["loss"][0]]
            norm = [math.nan if v is None else v for v in runs[name]["grad_norm"][0]]
            ax1.semilogy(loss, color=f"C{i}", label=name, linewidth=0.8)
            ax2.semilogy(norm, color=f"C{i}", label=name, linewidth=0.8)
            last = next((k for k in range(len(loss) - 1, -1, -1) if math.isfinite(loss[k])), None)
            if last is not None and last < len(loss) - 1:
                ax1.plot(last, loss[last], "x", color=f"C{i}", markersize=10)
        ax1.set(xlabel="iteration", ylabel="batch loss", title="loss (x: became NaN)")
        ax2.set(xlabel="iteration", ylabel="global gradient norm", title="gradient norm before clipping")
        ax1.legend(fontsize=8)
        fig.set_size_inches(11, 4)

    summary = [f"{DEPTH}x{WIDTH} ReLU, init {SCALE}x He, SGD+momentum lr {LR}, {iterations} "
               f"iterations, {n_seeds} seed(s):",
               f"  first gradient norm {runs['no clipping']['grad_norm'][0][0]:.3g}"]
    for name in CONFIGS:
        a = acc[name]
        summary.append(f"  {name:<17} diverged {diverged[name]}/{n_seeds}  test accuracy "
                       + ("-" if a is None else f"{a:.4f}"))
    return Result(data=data, draw=draw, summary=summary)
