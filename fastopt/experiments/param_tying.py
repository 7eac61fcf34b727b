"""Parameter tying and sharing on small training sets.

*Tying* (soft): two 64-100-10 ReLU nets learn the same task (the ten digits)
from two disjoint small training sets of n images per class each. They start
from the same initial weights. Trained independently (λ = 0) each sees only
its own n per class; with the penalty ½λ‖W_a − W_b‖² on every weight
(:class:`fastopt.techniques.L2Tie`) their weights stay close and each model
profits from the other's data. The reference "pooled" is one net trained on
both sets together (2n per class), what λ → ∞ tends to.

*Sharing* (hard): a net with three hidden 64x64 layers that use one weight
matrix (:class:`fastopt.techniques.TiedAffine`, about a third fewer
parameters) against the same net with three separate matrices.
"""
from typing import Any, Dict, List

import numpy as np

from .. import nn, optim
from ..techniques import L2Tie, SharedSequential, TiedAffine
from ..techniques._mlp import fit_steps, mlp
from ..plots import plain_log_ticks
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

LAMBDAS = [0.1, 1.0, 10.0]


def _subsets(t, n, rng):
    """Two disjoint index sets with n samples of each class (fewer if a class runs out)."""
    a, b = [], []
    for c in np.unique(t):
        idx = rng.permutation(np.flatnonzero(t == c))
        a.extend(idx[:n])
        b.extend(idx[n:2 * n])
    return np.array(a), np.array(b)


def _tied_pair(ds, ia, ib, lam, seed, steps):
    net_a, net_b = mlp([ds.input_size, 100, 10], seed=seed), mlp([ds.input_size, 100, 10], seed=seed)
    opt_a, opt_b = optim.Adam(net_a.params, lr=1e-3), optim.Adam(net_b.params, lr=1e-3)
    tie = L2Tie(net_a.params, net_b.params, lam)
    rng = np.random.default_rng(seed + 1)
    bs = min(32, len(ia), len(ib))
    for _ in range(steps):
        ba, bb = rng.choice(ia, bs, replace=False), rng.choice(ib, bs, replace=False)
        net_a.gradient(ds.x[ba], ds.t[ba])
        net_b.gradient(ds.x[bb], ds.t[bb])
        if lam:
            tie.add_gradients(net_a.grads, net_b.grads)
        opt_a.step()
        opt_b.step()
    acc = (net_a.accuracy(ds.x_test, ds.t_test) + net_b.accuracy(ds.x_test, ds.t_test)) / 2
    return float(acc), tie.distance()


def _deep(input_size, shared, seed):
    rng = np.random.default_rng(seed)

    def affine(n_in, n_out):
        return nn.Affine(np.sqrt(2.0 / n_in) * rng.standard_normal((n_in, n_out)), np.zeros(n_out))

    first, hidden, last = affine(input_size, 64), affine(64, 64), affine(64, 10)
    if shared:
        middle = [hidden, nn.ReLU(), TiedAffine(hidden), nn.ReLU(), TiedAffine(hidden), nn.ReLU()]
        return SharedSequential([first, nn.ReLU(), *middle, last])
    middle = [hidden, nn.ReLU(), affine(64, 64), nn.ReLU(), affine(64, 64), nn.ReLU()]
    return nn.Sequential([first, nn.ReLU(), *middle, last])


@experiment("param-tying", "L2 tying of two models' weights vs independent, and hard weight sharing")
def param_tying(settings: Settings) -> Result:
    quick = settings.quick
    sizes = [2, 10] if quick else [2, 5, 10, 20, 40]
    n_seeds = 1 if quick else 3
    steps = 100 if quick else 300
    lambdas = [1.0] if quick else LAMBDAS
    ds = load(settings)
    run_seeds = seeds(settings.seed, n_seeds)
    methods = ["independent"] + [f"tied λ={lam:g}" for lam in lambdas] + ["pooled (2n)"]
    tying: Dict[str, List[float]] = {m: [] for m in methods}
    distance: Dict[str, List[float]] = {m: [] for m in methods[:-1]}
    sharing: Dict[str, List[float]] = {"separate": [], "shared": []}
    total = len(sizes) * n_seeds * (len(methods) + 2)
    with progress_bar(settings, total, "param-tying") as bar:
        for n in sizes:
            accs: Dict[str, List[float]] = {m: [] for m in methods}
            dists: Dict[str, List[float]] = {m: [] for m in distance}
            shares: Dict[str, List[float]] = {k: [] for k in sharing}
            for seed in run_seeds:
                ia, ib = _subsets(ds.t, n, np.random.default_rng(seed))
                for m, lam in zip(methods, [0.0] + lambdas):
                    acc, dist = _tied_pair(ds, ia, ib, lam, seed, steps)
                    accs[m].append(acc)
                    dists[m].append(dist)
                    bar.update(1)
                pooled = mlp([ds.input_size, 100, 10], seed=seed)
                both = np.concatenate([ia, ib])
                fit_steps(pooled, optim.Adam(pooled.params, lr=1e-3), ds.x[both], ds.t[both],
                          steps=steps, seed=seed + 1)
                accs["pooled (2n)"].append(float(pooled.accuracy(ds.x_test, ds.t_test)))
                bar.update(1)
                for kind in sharing:
                    net = _deep(ds.input_size, kind == "shared", seed)
                    fit_steps(net, optim.Adam(net.params, lr=1e-3), ds.x[ia], ds.t[ia], steps=steps,
                              seed=seed + 1)
                    shares[kind].append(float(net.accuracy(ds.x_test, ds.t_test)))
                    bar.update(1)
            for m in methods:
                tying[m].append(float(np.mean(accs[m])))
            for m in distance:
                distance[m].append(float(np.mean(dists[m])))
            for kind in sharing:
                sharing[kind].append(float(np.mean(shares[kind])))
    n_params = {kind: sum(a.size for a in _deep(ds.input_size, kind == "shared", 0).params.values())
                for kind in sharing}
    data = {
        "dataset": ds.info, "per_class": sizes, "seeds": n_seeds, "steps": steps,
        "optimizer": {"name": "Adam", "lr": 1e-3}, "lambdas": lambdas,
        "tying": {"network": [ds.input_size, 100, 10], "test_acc": tying, "distance": distance},
        "sharing": {"network": "64-64-[64x64]x3-10 ReLU", "test_acc": sharing, "n_params": n_params},
        "note": "tying: mean test accuracy of the two models, each trained on its own n per class; "
                "distance: sqrt(sum ||W_a - W_b||^2) at the end; pooled: one net on both sets; "
                "sharing: trained on the first set only",
    }

    def draw(fig):
        ax1, ax2 = fig.subplots(1, 2)
        for i, m in enumerate(methods):
            style = {"color": "k", "linestyle": ":"} if "pooled" in m else {"color": f"C{i}", "marker": "o"}
            ax1.plot(sizes, tying[m], label=m, **style)
        ax1.set(xscale="log", xlabel="training images per class (each model)", ylabel="test accuracy",
                title="L2 tying of two models")
        plain_log_ticks(ax1.xaxis, sizes)
        ax1.legend(fontsize=8)
        for kind in sharing:
            ax2.plot(sizes, sharing[kind], "o-", label=f"{kind} ({n_params[kind]} parameters)")
        ax2.set(xscale="log", xlabel="training images per class", ylabel="test accuracy",
                title="hard sharing of 3 hidden layers")
        plain_log_ticks(ax2.xaxis, sizes)
        ax2.legend(fontsize=8)
        fig.set_size_inches(11, 4)

    summary = [f"test accuracy (mean of {n_seeds} seeds) by images per class {sizes}:"]
    for m in methods:
        summary.append(f"  {m:<14} " + "  ".join(f"{a:.3f}" for a in tying[m]))
    for kind in sharing:
        summary.append(f"  {kind + ' deep':<14} " + "  ".join(f"{a:.3f}" for a in sharing[kind])
                       + f"   ({n_params[kind]} parameters)")
    best = max(methods[1:-1], key=lambda m: tying[m][0])
    summary.append(f"at {sizes[0]} per class tying ({best}) gives {tying[best][0]:.3f} vs "
                   f"{tying['independent'][0]:.3f} independent")
    return Result(data=data, draw=draw, summary=summary)
