"""The book's 2-D optimizer demo (§6.1.7, ``optimizer_compare_naive.py``).

Minimise f(x, y) = x²/20 + y² from (−7, 2) with the book's optimizers, passing
Python floats as parameters exactly as the book's script does.
"""
import contextlib

from . import _backend, book

#: optimizer -> (book class, settings): the book's four, then Nesterov and RMSprop
OPTIMIZER_PATHS = {
    "SGD": (book.SGD, {"lr": 0.95}),
    "Momentum": (book.Momentum, {"lr": 0.1}),
    "AdaGrad": (book.AdaGrad, {"lr": 1.5}),
    "Adam": (book.Adam, {"lr": 0.3}),
    "Nesterov": (book.Nesterov, {"lr": 0.1}),
    "RMSprop": (book.RMSprop, {"lr": 0.3}),
}
START = (-7.0, 2.0)


def f(x, y):
    return x * x / 20.0 + y * y


def grad_f(x, y):
    return x / 10.0, 2.0 * y


def optimizer_paths(steps=30, backend=None, start=START):
    """Run each optimizer of :data:`OPTIMIZER_PATHS` for *steps* updates.

    Returns a JSON-compatible dict: ``{"start", "steps", "backend", "paths":
    {name: {"path": [[x, y], ...] (steps + 1 points), "f": [...]}}}``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    ctx = _backend.use_backend(backend) if backend else contextlib.nullcontext()
    with ctx:
        paths = {}
        for name, (cls, settings) in OPTIMIZER_PATHS.items():
            opt = cls(**settings)
            params = {"x": start[0], "y": start[1]}
            points = [[params["x"], params["y"]]]
            for _ in range(steps):
                gx, gy = grad_f(params["x"], params["y"])
                opt.update(params, {"x": gx, "y": gy})
                points.append([params["x"], params["y"]])
            paths[name] = {"path": points, "f": [f(x, y) for x, y in points]}
        used = _backend.get_backend()
    return {"start": list(start), "steps": steps, "backend": used, "paths": paths}


def plot_paths(result, filename):
    """Draw each path over the contour of f, one panel per optimizer (the book's Fig. 6-8)."""
    import numpy as np

    from .plots import figure

    xs, ys = np.meshgrid(np.arange(-10, 10, 0.01), np.arange(-5, 5, 0.01))
    zs = f(xs, ys)
    zs[zs > 7] = 0  # the book's contour masking
    names = list(result["paths"])
    cols = 3
    rows = -(-len(names) // cols)
    fig = figure(figsize=(4 * cols, 3.2 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        pts = np.array(result["paths"][name]["path"])
        ax.contour(xs, ys, zs)
        ax.plot(pts[:, 0], pts[:, 1], "o-", color="red", markersize=3)
        ax.plot(0, 0, "+")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-10, 10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(name)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"f(x, y) = x²/20 + y², {result['steps']} updates from {tuple(result['start'])}")
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
