"""Random hyperparameter search on a validation split (§6.5.3, ``hyperparameter_optimization.py``, Fig. 6-24).

As the book: the first 500 training samples, shuffled, the first 20% held out for
validation (the test set is never touched); 100 trials of a 6x100 ReLU network
trained 50 epochs with SGD (batch 100), ``lr = 10**U(-6, -2)`` and
``weight_decay = 10**U(-8, -4)``, ranked by the final validation accuracy. Then
the notes' step 3: narrow both ranges to the best trials and search again.
Built on :mod:`fastopt.search` (``random_search``, ``book_objective``).

The full search runs its trials in a process pool (one process per core, started
with "spawn"), so a script that calls it through the Python API must do so under
``if __name__ == "__main__":``; ``--quick`` runs them in this process.
"""
import math

import numpy as np

from .. import search
from . import Result, Settings, experiment
from ._common import load, seeds, single_thread_blas

N_SAMPLES, VAL_FRACTION, EPOCHS, BATCH = 500, 0.2, 50, 100
N_TRIALS, TOP_SHOWN, NARROW_TOP = 100, 20, 10


def _trial_record(trial):
    return {"index": trial.index, "lr": trial.params["lr"],
            "weight_decay": trial.params["weight_decay"], "val_acc": trial.extra.get("val_acc"),
            "train_acc": trial.extra.get("train_acc"), "score": trial.score, "error": trial.error}


def _run(space, objective, n_trials, seed, settings):
    executor = "serial" if settings.quick else None  # a process per core for the full search
    with single_thread_blas():
        return search.random_search(space, objective, n_trials, seed, executor=executor,
                                    progress=settings.progress)


def _range(trials, key):
    values = [t.params[key] for t in trials]
    return [min(values), max(values)]


@experiment("hyperparameter-search",
            "random search of lr and weight decay on a validation split, then narrowed (Fig. 6-24)")
def hyperparameter_search(settings: Settings) -> Result:
    """Two rounds of random search; the top-20 accuracy curves of the first."""
    n_trials, n_trials_2, epochs = N_TRIALS, N_TRIALS, EPOCHS
    if settings.quick:
        n_trials, n_trials_2, epochs = 12, 6, 10
    ds = load(settings, N_SAMPLES, what="the search")
    split_seed, seed_1, seed_2 = seeds(settings.seed, 3)
    objective = search.book_objective(ds.x, ds.t, n_samples=N_SAMPLES, val_fraction=VAL_FRACTION,
                                      split_seed=split_seed, epochs=epochs, batch_size=BATCH)
    space = search.book_space()
    first = _run(space, objective, n_trials, seed_1, settings)
    narrow_top = min(NARROW_TOP, max(len(first.ranked()) // 2, 1))
    narrowed = first.narrow(top_k=narrow_top)
    second = _run(narrowed, objective, n_trials_2, seed_2, settings)

    top = first.top(TOP_SHOWN)
    good = first.top(narrow_top)
    rounds = {
        "first": {"space": {k: d.to_dict() for k, d in space.items()}, "n_trials": n_trials,
                  "trials": [_trial_record(t) for t in first.trials],
                  "ranking": [t.index for t in first.ranked()]},
        "second": {"space": {k: d.to_dict() for k, d in narrowed.items()}, "n_trials": n_trials_2,
                   "narrowed_to_top": narrow_top,
                   "trials": [_trial_record(t) for t in second.trials],
                   "ranking": [t.index for t in second.ranked()]},
    }
    data = {
        "dataset": {**ds.info, "n_train": len(objective.x_train), "n_val": len(objective.x_val),
                    "n_test": 0},
        "network": {"hidden": [100] * 6, "activation": "relu", "init": "he"},
        "optimizer": "SGD", "batch_size": BATCH, "epochs": epochs,
        "rounds": rounds,
        "top": [_trial_record(t) for t in top],
        "good_region": {"top_k": narrow_top, "lr": _range(good, "lr"),
                        "weight_decay": _range(good, "weight_decay")},
        "best_second_round": _trial_record(second.best),
        "note": "the test set is never used: scores are final validation accuracies; 'top' holds "
                "the first round's best trials (the figure's grid), best first",
    }

    def draw(fig):
        shown = len(top)
        cols = 5
        rows = -(-shown // cols)
        fig.set_size_inches(2.6 * cols, 2.0 * (rows + 1.4))
        grid = fig.add_gridspec(rows + 1, cols, height_ratios=[1] * rows + [1.4])
        for k, trial in enumerate(top):
            ax = fig.add_subplot(grid[k // cols, k % cols])
            x = np.arange(len(trial.extra["val_acc"]))
            ax.plot(x, trial.extra["val_acc"], label="validation")
            ax.plot(x, trial.extra["train_acc"], "--", label="train")
            ax.set_ylim(0.0, 1.0)
            ax.set_title(f"Best-{k + 1} ({trial.score:.2f})", fontsize=8)
            ax.text(0.03, 0.95, f"lr {trial.params['lr']:.2g}\nwd {trial.params['weight_decay']:.2g}",
                    transform=ax.transAxes, fontsize=6, va="top")
            if k % cols:
                ax.set_yticks([])
            ax.set_xticks([])
            if k == 0:
                ax.legend(fontsize=6, loc="lower right")
        ax_lr = fig.add_subplot(grid[rows, :3])
        ax_wd = fig.add_subplot(grid[rows, 3:])
        for result, marker, label in ((first, "o", "round 1"), (second, "^", "round 2 (narrowed)")):
            ok = result.ranked()
            ax_lr.scatter([t.params["lr"] for t in ok], [t.score for t in ok], marker=marker,
                          s=14, label=label)
            ax_wd.scatter([t.params["weight_decay"] for t in ok], [t.score for t in ok],
                          marker=marker, s=14)
        for ax, name in ((ax_lr, "learning rate"), (ax_wd, "weight decay")):
            ax.set_xscale("log")
            ax.set_xlabel(name)
            ax.set_ylim(0.0, 1.0)
        ax_lr.set_ylabel("validation accuracy")
        ax_lr.legend(fontsize=7, loc="upper left")
        fig.tight_layout()

    summary = [(f"{n_trials} trials, {len(objective.x_train)} train / {len(objective.x_val)} "
                f"validation samples, {epochs} epochs; best first:")]
    for k, t in enumerate(first.top(5)):
        summary.append(f"  Best-{k + 1}: val acc {t.score:.3f}  lr {t.params['lr']:.3g}  "
                       f"weight decay {t.params['weight_decay']:.3g}")
    lo, hi = data["good_region"]["lr"]
    summary.append(f"top {narrow_top}: lr {lo:.2g} .. {hi:.2g} (10^{math.log10(lo):.1f} .. "
                   f"10^{math.log10(hi):.1f}); weight decay "
                   + " .. ".join(f"{v:.2g}" for v in data["good_region"]["weight_decay"]))
    best2 = second.best
    summary.append(f"narrowed round ({n_trials_2} trials): best val acc {best2.score:.3f} at lr "
                   f"{best2.params['lr']:.3g}, weight decay {best2.params['weight_decay']:.3g}; "
                   f"median {np.median([t.score for t in second.ranked()]):.3f} vs "
                   f"{np.median([t.score for t in first.ranked()]):.3f} in round 1")
    return Result(data=data, draw=draw, summary=summary)
