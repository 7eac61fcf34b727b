"""Optimizer paths on f(x, y) = x²/20 + y² (§6.1.7, ``optimizer_compare_naive.py``, Fig. 6-8).

The book's four (SGD lr 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3) plus Nesterov,
RMSprop (from :mod:`fastopt.demo`) and Adadelta, 30 updates each from (−7, 2).
"""
import numpy as np

from .. import demo, optim
from . import Result, Settings, experiment

#: Adadelta's settings. With the default eps = 1e-6 its first steps are about
#: 3e-3 long and it moves 0.15 in 30 updates; eps sets its initial step size.
ADADELTA = {"lr": 1.0, "rho": 0.9, "eps": 1e-2}


def adadelta_path(steps, start=demo.START, **settings):
    """Points of Adadelta (:class:`fastopt.optim.Adadelta`) on the demo function."""
    params = {"xy": np.array(start, dtype=np.float64)}
    opt = optim.Adadelta(params, **settings)
    points = [params["xy"].tolist()]
    for _ in range(steps):
        gx, gy = demo.grad_f(*params["xy"])
        opt.step({"xy": np.array([gx, gy])})
        points.append(params["xy"].tolist())
    return points


@experiment("optimizer-paths", "paths of 7 optimizers on f(x,y) = x^2/20 + y^2 (Fig. 6-8)")
def optimizer_paths(settings: Settings) -> Result:
    """Run every optimizer 30 steps (``--quick`` too: it takes milliseconds)."""
    steps = 30
    result = demo.optimizer_paths(steps=steps)
    paths = result["paths"]
    settings_used = {name: dict(cfg) for name, (_, cfg) in demo.OPTIMIZER_PATHS.items()}
    points = adadelta_path(steps, **ADADELTA)
    paths["Adadelta"] = {"path": points, "f": [demo.f(x, y) for x, y in points]}
    settings_used["Adadelta"] = dict(ADADELTA)
    default = adadelta_path(steps)
    data = {
        "function": "x**2/20 + y**2", "start": result["start"], "steps": steps,
        "backend": result["backend"], "optimizers": settings_used, "paths": paths,
        "contour": {"x": [-10, 10, 0.01], "y": [-5, 5, 0.01], "masked_above": 7},
        "adadelta_default_eps_end": default[-1],
        "note": "each path holds the start and the point after every update (31 points); "
                "the book plots the 30 points before each update. Book optimizers via "
                "fastopt.book; Adadelta (not in the book) via fastopt.optim with eps 1e-2.",
    }

    def draw(fig):
        xs, ys = np.meshgrid(np.arange(-10, 10, 0.01), np.arange(-5, 5, 0.01))
        zs = demo.f(xs, ys)
        zs[zs > 7] = 0  # the book's contour masking
        names = list(paths)
        cols = 4
        rows = -(-len(names) // cols)
        fig.set_size_inches(4 * cols, 3.2 * rows + 0.4)
        for k, name in enumerate(names):
            ax = fig.add_subplot(rows, cols, k + 1)
            pts = np.array(paths[name]["path"])
            ax.contour(xs, ys, zs)
            ax.plot(pts[:, 0], pts[:, 1], "o-", color="red", markersize=3)
            ax.plot(0, 0, "+")
            ax.set_xlim(-10, 10)
            ax.set_ylim(-10, 10)
            cfg = ", ".join(f"{k}={v}" for k, v in settings_used[name].items())
            ax.set_title(f"{name} ({cfg})", fontsize=9)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
        fig.suptitle(f"f(x, y) = x²/20 + y², {steps} updates from (-7, 2); minimum at (0, 0)")
        fig.tight_layout()

    summary = [f"f(x, y) = x^2/20 + y^2 from (-7, 2), {steps} updates; f at the end:"]
    for name, entry in paths.items():
        x, y = entry["path"][-1]
        summary.append(f"  {name:<9} ({x:9.4f}, {y:9.4f})  f = {entry['f'][-1]:.3e}")
    return Result(data=data, draw=draw, summary=summary)
