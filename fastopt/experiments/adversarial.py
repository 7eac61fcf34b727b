"""Adversarial examples (FGSM) and adversarial training.

A 2x100 ReLU net is trained normally and, from the same initial weights and
batches, with the adversarial objective ½L(x) + ½L(x̃), x̃ = FGSM(x, ε_train)
recomputed for every batch (:class:`fastopt.techniques.AdversarialTraining`).
Both are then attacked with FGSM at growing ε (white box, each net attacked
through its own gradient; pixels clipped to [0, 1]). The figure also shows a
few test images, their FGSM versions and the plain net's predictions.
"""
from typing import Any, Dict, List

import numpy as np

from .. import optim
from ..techniques import AdversarialTraining, accuracy_under_attack, fgsm
from ..techniques._mlp import fit, mlp
from . import Result, Settings, experiment
from ._common import load, progress_bar, seeds

EPS = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3]
EPS_TRAIN = 0.1


@experiment("adversarial", "FGSM adversarial examples: accuracy vs ε, adversarial training vs plain")
def adversarial(settings: Settings) -> Result:
    quick = settings.quick
    epochs = 3 if quick else 20
    n_seeds = 1 if quick else 2
    eps_grid = [0.0, 0.05, 0.1, 0.2] if quick else EPS
    ds = load(settings)
    curves: Dict[str, List[List[float]]] = {"plain": [], "adversarial training": []}
    nets: Dict[str, Any] = {}
    with progress_bar(settings, 2 * n_seeds, "adversarial") as bar:
        for seed in seeds(settings.seed, n_seeds):
            for kind in curves:
                net = mlp([ds.input_size, 100, 100, 10], seed=seed)
                model = net if kind == "plain" else AdversarialTraining(net, EPS_TRAIN)
                fit(model, optim.Adam(net.params, lr=1e-3), ds.x, ds.t, epochs=epochs, seed=seed + 1)
                curves[kind].append([accuracy_under_attack(net, ds.x_test, ds.t_test, e) for e in eps_grid])
                nets.setdefault(kind, net)
                bar.update(1)
    acc = {kind: np.mean(c, axis=0).tolist() for kind, c in curves.items()}
    # examples: the first 6 test images, attacked at ε_train against the plain net
    plain = nets["plain"]
    x_ex, t_ex = ds.x_test[:6], ds.t_test[:6]
    x_adv = fgsm(plain, x_ex, t_ex, EPS_TRAIN)
    side = int(round(np.sqrt(ds.input_size)))
    examples = {"eps": EPS_TRAIN, "label": t_ex.tolist(),
                "clean_pred": np.argmax(plain.predict(x_ex), axis=1).tolist(),
                "adv_pred": np.argmax(plain.predict(x_adv), axis=1).tolist(),
                "robust_adv_pred": np.argmax(nets["adversarial training"].predict(
                    fgsm(nets["adversarial training"], x_ex, t_ex, EPS_TRAIN)), axis=1).tolist(),
                "clean": x_ex.round(4).tolist(), "adversarial": x_adv.round(4).tolist()}
    data = {
        "dataset": ds.info, "network": [ds.input_size, 100, 100, 10], "epochs": epochs,
        "optimizer": {"name": "Adam", "lr": 1e-3}, "eps_train": EPS_TRAIN, "alpha": 0.5,
        "eps": eps_grid, "seeds": n_seeds, "test_acc": acc, "per_seed": curves, "examples": examples,
        "note": "test accuracy on FGSM examples made against each net itself (white box), pixels "
                "in [0, 1]; eps 0 is the clean accuracy; examples attack the first seed's nets",
    }

    def draw(fig):
        grid = fig.add_gridspec(2, 7)
        ax = fig.add_subplot(grid[:, :3])
        for kind, values in acc.items():
            ax.plot(eps_grid, values, "o-", label=kind)
        ax.axvline(EPS_TRAIN, color="0.6", linestyle=":", label=f"ε_train = {EPS_TRAIN}")
        ax.set(xlabel="ε (FGSM, pixels in [0, 1])", ylabel="test accuracy", title="accuracy under attack")
        ax.legend(fontsize=8)
        for i in range(min(4, len(t_ex))):
            for row, (img, pred) in enumerate(((x_ex[i], examples["clean_pred"][i]),
                                               (x_adv[i], examples["adv_pred"][i]))):
                a = fig.add_subplot(grid[row, 3 + i])
                if side * side == ds.input_size:
                    a.imshow(np.reshape(img, (side, side)), cmap="gray_r", vmin=0, vmax=1)
                a.set_xticks([])
                a.set_yticks([])
                a.set_title(("clean" if row == 0 else f"ε={EPS_TRAIN}") + f": {pred}", fontsize=8)
        fig.set_size_inches(12, 4)

    summary = [f"test accuracy under FGSM (mean of {n_seeds} seeds), ε = {eps_grid}:"]
    for kind, values in acc.items():
        summary.append(f"  {kind:<21} " + "  ".join(f"{v:.3f}" for v in values))
    i = eps_grid.index(EPS_TRAIN) if EPS_TRAIN in eps_grid else len(eps_grid) // 2
    summary.append(f"at ε = {eps_grid[i]}: plain {acc['plain'][i]:.3f}, adversarially trained "
                   f"{acc['adversarial training'][i]:.3f}; clean accuracy {acc['plain'][0]:.3f} vs "
                   f"{acc['adversarial training'][0]:.3f}")
    return Result(data=data, draw=draw, summary=summary)
