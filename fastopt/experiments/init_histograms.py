"""Activation histograms per layer for four initialisations (§6.2.2–6.2.3, Figs. 6-10 to 6-14).

As ``weight_init_activation_histogram.py``: 1000 inputs of 100 N(0, 1) features
pass through 5 layers of 100 nodes without bias; each layer's activations are
histogrammed with 30 bins over (0, 1). The book runs one setting at a time; here
every pair of weight std (1, 0.01, Xavier √(1/n), He √(2/n)) and activation
(sigmoid, tanh, ReLU) is run, all from the same input and the same N(0, 1) draws
scaled by each std.
"""
import math
from typing import Any, Dict

import numpy as np

from . import Result, Settings, experiment
from ._common import seeds, single_thread_blas

ACTIVATIONS = {
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(0.0, a),
}
NODES, LAYERS, SAMPLES, BINS, RANGE = 100, 5, 1000, 30, (0.0, 1.0)
INITS = {"std=1": 1.0, "std=0.01": 0.01, "Xavier": math.sqrt(1.0 / NODES),
         "He": math.sqrt(2.0 / NODES)}


def activations(x, weights, std, activation):
    """Each layer's output for ``z = activation((previous z) · (std · W))``; returns a list."""
    out = []
    for w in weights:
        x = ACTIVATIONS[activation](x @ (std * w))
        out.append(x)
    return out


def _layer_stats(z):
    counts, _ = np.histogram(z.ravel(), BINS, range=RANGE)
    outside = float(np.mean((z < RANGE[0]) | (z > RANGE[1])))
    return {"counts": counts.tolist(), "mean": float(z.mean()), "std": float(z.std()),
            "min": float(z.min()), "max": float(z.max()), "fraction_outside_range": outside,
            "fraction_saturated": float(np.mean((z < 0.05) | (z > 0.95)))}


@experiment("init-histograms",
            "activation histograms per layer: std 1 / 0.01 / Xavier / He x sigmoid, tanh, ReLU "
            "(Figs. 6-10 to 6-14)")
def init_histograms(settings: Settings) -> Result:
    """Histogram every layer's activations for each (init, activation) pair."""
    input_seed, weight_seed = seeds(settings.seed, 2)
    x = np.random.default_rng(input_seed).standard_normal((SAMPLES, NODES))
    wrng = np.random.default_rng(weight_seed)
    weights = [wrng.standard_normal((NODES, NODES)) for _ in range(LAYERS)]
    runs: Dict[str, Dict[str, Any]] = {}
    with single_thread_blas():
        for act in ACTIVATIONS:
            for init, std in INITS.items():
                layers = activations(x, weights, std, act)
                runs[f"{act}, {init}"] = {"activation": act, "init": init, "std": std,
                                          "layers": [_layer_stats(z) for z in layers]}
    edges = np.linspace(RANGE[0], RANGE[1], BINS + 1)
    data = {
        "samples": SAMPLES, "nodes": NODES, "layers": LAYERS, "bins": BINS,
        "range": list(RANGE), "bin_edges": edges.tolist(), "runs": runs,
        "note": "counts per bin over (0, 1) as the book, so tanh's negative half and ReLU "
                "values above 1 are outside the histogram (fraction_outside_range); ReLU's "
                "zeros fall in the first bin, which the figure clips where it dwarfs the rest (as the book's "
                "ReLU figures limit the y axis). fraction_saturated: share below 0.05 or above 0.95. "
                "--quick runs the same (it takes well under a second).",
    }

    def draw(fig):
        names = list(runs)
        fig.set_size_inches(2.2 * LAYERS, 1.35 * len(names))
        axes = fig.subplots(len(names), LAYERS, sharex=True)
        for r, name in enumerate(names):
            for c, layer in enumerate(runs[name]["layers"]):
                ax = axes[r, c]
                counts = layer["counts"]
                ax.stairs(counts, edges, fill=True)
                rest = max(counts[1:])
                # ReLU's zeros: clip the first bin where the others still hold 5% of the values
                if counts[0] > 3 * rest and sum(counts[1:]) > 0.05 * SAMPLES * NODES:
                    ax.set_ylim(0, 1.5 * rest)
                    ax.text(0.04, 0.92, f"bin 1: {counts[0]}", transform=ax.transAxes,
                            fontsize=6, va="top")
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"{c + 1}-layer", fontsize=9)
                if c == 0:
                    ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
        fig.tight_layout(h_pad=0.2, w_pad=0.2)

    summary = ["std of the activations in layers 1..5:"]
    for name, run in runs.items():
        stds = " ".join(f"{layer['std']:.3g}" for layer in run["layers"])
        summary.append(f"  {name:<18} {stds}")
    sat = runs["sigmoid, std=1"]["layers"][-1]["fraction_saturated"]
    summary.append(f"sigmoid, std=1: {sat:.0%} of layer-5 activations below 0.05 or above 0.95 "
                   "(vanishing gradients)")
    return Result(data=data, draw=draw, summary=summary)
