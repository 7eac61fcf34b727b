"""Tables, goals, JSON and a chart from the results of :func:`fastopt.bench.runner.run`.

Derived per result (``derive``): elements/s; effective GB/s (the bytes the case
must move, ``bytes_per_elem · elements``, over the median time); % of bound
(the streaming kernel's median time at the same case, size and threads over
this one's); and for every fastopt compiled backend in the row a ratio
``<backend>x`` = this implementation's time / the backend's time (how many
times faster the backend is than this implementation).
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Union

from .cases import BACKENDS

#: One result: a case, size and implementation with its samples and derived figures.
Record = Dict[str, Any]
#: The results of one thread count: ``threads``, ``results`` (Records), ``load``, ...
Run = Dict[str, Any]
#: What :func:`fastopt.bench.runner.run` returns: ``machine``, ``settings``, ``runs``, ...
Data = Dict[str, Any]

COMPILED = tuple(b for b in BACKENDS if b != "numpy")

#: The performance goals: (label, case, size, metric, peer, comparison, target).
#: metric "ratio": peer time / numba time; "pct_bound": numba % of bound; "time": numba seconds.
GOALS = (
    ("Adam 1e7: % of bound", "adam", "1e7", "pct_bound", None, ">=", 95.0),
    ("Adam 1e7: x torch fused", "adam", "1e7", "ratio", "torch-fused", ">=", 1.10),
    ("Adam 1e6: x torch fused", "adam", "1e6", "ratio", "torch-fused", ">=", 1.5),
    ("Adam book net (109,810): time", "adam", "book-net", "time", None, "<=", 15e-6),
    ("Adam book net: x torch fused", "adam", "book-net", "ratio", "torch-fused", ">=", 7.0),
    ("Adam book net: x book NumPy", "adam", "book-net", "ratio", "book-numpy", ">=", 20.0),
    ("Momentum 1e7: % of bound", "momentum", "1e7", "pct_bound", None, ">=", 95.0),
    ("Momentum 1e7: x torch fused", "momentum", "1e7", "ratio", "torch-fused", ">=", 1.0),
    ("AdaGrad 1e7: % of bound", "adagrad", "1e7", "pct_bound", None, ">=", 95.0),
    ("AdaGrad 1e7: x torch fused", "adagrad", "1e7", "ratio", "torch-fused", ">=", 1.0),
    ("RMSprop 1e7: % of bound", "rmsprop", "1e7", "pct_bound", None, ">=", 95.0),
    ("RMSprop 1e7: x torch fused", "rmsprop", "1e7", "ratio", "torch-fused", ">=", 1.0),
    ("BatchNorm fwd+bwd 128x100: x torch", "batchnorm", "128x100", "ratio", "torch", ">=", 2.5),
    ("BatchNorm fwd+bwd 256x1024: x torch", "batchnorm", "256x1024", "ratio", "torch", ">=", 1.5),
    ("Dropout fwd 1e7: x torch F.dropout", "dropout-fwd", "1e7", "ratio", "torch", ">=", 50.0),
    ("Dropout fwd 1e7: % of bound", "dropout-fwd", "1e7", "pct_bound", None, ">=", 80.0),
    ("Train step: x torch eager", "train-step", "batch-100", "ratio", "torch", ">=", 3.0),
    ("Train step: x book NumPy", "train-step", "batch-100", "ratio", "book-numpy", ">=", 5.0),
    ("Train step: x torch.compile", "train-step", "batch-100", "ratio", "torch-compile", ">=", 2.5),
    ("Train step: x jax.jit", "train-step", "batch-100", "ratio", "jax", ">=", 1.7),
    ("Book scripts' step (float64): x book", "book-script", "batch-128", "ratio", "book-numpy",
     ">=", 2.0),
)


def derive(results: List[Record]) -> List[Record]:
    """Add ``elems_per_s``, ``gbps``, ``pct_bound`` and ``ratios`` to every record in place."""
    rows: dict[tuple[str, str], dict[str, Record]] = {}
    for rec in results:
        rows.setdefault((rec["case"], rec["size"]), {})[rec["impl"]] = rec
    for row in rows.values():
        bound = row.get("bound", {}).get("median_s")
        for rec in row.values():
            t = rec.get("median_s")
            rec["ratios"] = {}
            if t is None:
                continue
            rec["elems_per_s"] = rec["elements"] / t
            if rec.get("bytes_per_elem"):
                rec["gbps"] = rec["bytes_per_elem"] * rec["elements"] / t / 1e9
            if bound is not None:
                rec["pct_bound"] = 100.0 * bound / t
            for b in COMPILED:
                tb = row.get(b, {}).get("median_s")
                if tb is not None:
                    rec["ratios"][b] = t / tb
    return results


def _index(results: List[Record]) -> dict[tuple[str, str, str], Record]:
    return {(r["case"], r["size"], r["impl"]): r for r in results}


def evaluate_goals(results: List[Record], backend: str = "numba") -> List[Dict[str, Any]]:
    """The performance goals for one thread count.

    Returns
    -------
    list of dict
        ``label``, ``value`` (None when not measured), ``target``, ``op``, ``met``
        (None when not measured).
    """
    idx = _index(results)
    out = []
    for label, case, size, metric, peer, op, target in GOALS:
        mine = idx.get((case, size, backend), {})
        value = None
        if metric == "time":
            value = mine.get("median_s")
        elif metric == "pct_bound":
            value = mine.get("pct_bound")
        elif metric == "ratio" and peer is not None:
            other = idx.get((case, size, peer), {})
            if other.get("median_s") is not None and mine.get("median_s") is not None:
                value = other["median_s"] / mine["median_s"]
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out.append({"label": label, "value": value, "target": target, "op": op, "met": met,
                    "metric": metric, "peer": peer})
    return out


def fmt_time(seconds: Optional[float]) -> str:
    """Seconds as ``12.3 us`` / ``4.56 ms`` / ``1.23 s``."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def _num(value: Optional[float], fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_run(run: Run) -> str:
    """The table of one thread count, as text."""
    results = run["results"]
    state = run.get("thread_state", {})
    compiled = [b for b in COMPILED if any(r["impl"] == b and r.get("median_s") for r in results)]
    head = (f"threads {run['threads']} (fastopt/numba {state.get('fastopt') or '-'}, "
            f"torch {state.get('torch') or '-'}, BLAS {state.get('blas') or 'default'}); float32; "
            "median over samples, spread = interquartile range / median")
    cols = f"{'case':<14}{'size':<10}{'impl':<14}{'time':>10}{'spread':>8}{'Melem/s':>10}" \
           f"{'GB/s':>8}{'%bound':>8}" + "".join(f"{'t/' + b:>9}" for b in compiled)
    lines = [head, cols, "-" * len(cols)]
    last = None
    for rec in results:
        key = (rec["case"], rec["size"])
        first = key != last
        last = key
        case_col = f"{rec['case']:<14}{rec['size']:<10}" if first else " " * 24
        t = rec.get("median_s")
        if t is None:
            reason = (rec.get("error") or "not run").split(" (")[0]
            lines.append(f"{case_col}{rec['impl']:<14}{'n/a':>10}  {reason[:60]}")
            continue
        spread = (rec["q3_s"] - rec["q1_s"]) / t * 100
        ratios = "".join(f"{_num(rec['ratios'].get(b), '.2f'):>9}" for b in compiled)
        lines.append(f"{case_col}{rec['impl']:<14}{fmt_time(t):>10}{spread:>7.1f}%"
                     f"{_num(rec['family'] != 'train' and rec.get('elems_per_s') and rec['elems_per_s'] / 1e6, '.0f'):>10}"
                     f"{_num(rec.get('gbps'), '.1f'):>8}"
                     f"{_num(rec.get('pct_bound'), '.0f'):>8}{ratios}")
    return "\n".join(lines)


def format_goals(goals: List[Dict[str, Any]], threads: int) -> str:
    """The performance goals at one thread count, as text."""
    lines = [f"performance goals, {threads} thread(s) (numba):"]
    for g in goals:
        if g["value"] is None:
            value, verdict = "not measured", "  -  "
        else:
            value = fmt_time(g["value"]) if g["metric"] == "time" else \
                (f"{g['value']:.0f}%" if g["metric"] == "pct_bound" else f"{g['value']:.2f}x")
            verdict = " met " if g["met"] else "MISSED"
        target = fmt_time(g["target"]) if g["metric"] == "time" else \
            (f"{g['target']:.0f}%" if g["metric"] == "pct_bound" else f"{g['target']:g}x")
        lines.append(f"  {verdict:<6} {g['label']:<38} {value:>12}   (goal {g['op']} {target})")
    return "\n".join(lines)


def format_report(data: Data) -> str:
    """The whole report: machine, one table and the goals per thread count."""
    m = data["machine"]
    s = data["settings"]
    lines = [(f"fastopt {m.get('fastopt')} bench on {m.get('cpu')} ({m.get('cpu_count')} CPUs), "
              f"Python {m.get('python')}, NumPy {m.get('numpy')}, Numba {m.get('numba')}, "
              f"PyTorch {m.get('torch') or 'not installed'}; "
              f"backends {', '.join(m.get('backends', []))}"),
             (f"{'quick' if s.get('quick') else 'full'} run: {s['rounds']} round(s) x up to "
              f"{s['repeat']} samples of >= {fmt_time(s['min_time'])}, warm-up first; "
              f"load average at start {_num(m.get('load_average') and m['load_average'][0], '.2f')}; "
              "bound = in-place streaming kernel moving the case's bytes (fastopt.bench.stream)")]
    for run in data["runs"]:
        lines += ["", format_run(run), "", format_goals(run.get("goals") or
                                                           evaluate_goals(run["results"]),
                                                           run["threads"])]
        lines += [f"WARNING: {w}" for w in run.get("warnings") or reliability_warnings(run)]
    if data.get("startup"):
        lines += ["", format_startup(data["startup"])]
    if "seconds" in data:
        lines += ["", f"took {data['seconds']:.1f} s"]
    return "\n".join(lines)


def format_startup(startup: Dict[str, Dict[str, Any]]) -> str:
    """The cold-start section: fresh processes, Numba cache warm / cold."""
    lines = ["start-up in a fresh process (interpreter start excluded; median of 5 warm, 1 cold):"]
    for key, rec in startup.items():
        extra = ", imports numba" if rec["numba_imported"] else ", no numba imported"
        lines.append(f"  {rec['snippet']:<11} cache {rec['cache']:<5} {fmt_time(rec['median_s']):>10}"
                     f"   (whole process {fmt_time(rec['wall_median_s'])}{extra})")
    warm = startup.get("adam-step/warm")
    if warm:
        verdict = "met" if warm["median_s"] <= 0.5 else "MISSED"
        lines.append(f"  {verdict}: import + first Adam step on the book's network, warm cache, "
                     f"{fmt_time(warm['median_s'])} (goal <= 0.5 s)")
    imp = startup.get("import/warm")
    if imp:
        lines.append(f"  {'met' if not imp['numba_imported'] else 'MISSED'}: import fastopt "
                     "imports no numba (compiles nothing)")
    return "\n".join(lines)


#: other processes' CPU (cores' worth) from which a run's figures are flagged
BUSY_OTHER_CPU = 0.25
#: spread (interquartile range / median) from which a figure is flagged
WIDE_SPREAD = 0.20


def reliability_warnings(run: Run) -> List[str]:
    """Why the figures of *run* may not be trusted: other processes' load, wide spreads."""
    out = []
    load = run.get("load") or {}
    other = load.get("other_cpu")
    if other is not None and other >= BUSY_OTHER_CPU:
        out.append(f"other processes used {other:.2f} of {load.get('cores')} cores while the "
                   f"{run['threads']}-thread run was timed: its times are not a quiet "
                   "machine's (ratios from interleaved rounds hold better than times)")
    wide = [f"{r['case']} {r['size']} {r['impl']} ({(r['q3_s'] - r['q1_s']) / r['median_s']:.0%})"
            for r in run["results"] if r.get("median_s") and
            (r["q3_s"] - r["q1_s"]) / r["median_s"] > WIDE_SPREAD]
    if wide:
        shown = ", ".join(wide[:6]) + (f" and {len(wide) - 6} more" if len(wide) > 6 else "")
        out.append(f"spread over {WIDE_SPREAD:.0%} of the median (unreliable): {shown}")
    return out


def finalize(data: Data) -> Data:
    """Derive metrics, goals and reliability warnings for every run (in place); returns *data*."""
    for run in data["runs"]:
        derive(run["results"])
        run["goals"] = evaluate_goals(run["results"])
        run["warnings"] = reliability_warnings(run)
    return data


def write_json(data: Data, path: Union[str, os.PathLike[str]]) -> None:
    """Write *data* (finalized) as JSON; samples are kept."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, float) and not math.isfinite(obj):
            return None
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [clean(v) for v in obj]
        return obj

    with open(path, "w") as fh:
        json.dump(clean(data), fh, indent=1)


def plot(data: Data, path: Union[str, os.PathLike[str]]) -> Union[str, os.PathLike[str]]:
    """A PNG: per thread count, effective GB/s of the optimizer kernels at their largest
    measured size (bars per implementation, the bound as the first bar), and a heat map
    of numba's speed-up over every other implementation for every case and size.

    Needs matplotlib (``pip install matplotlib``).
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"the chart needs matplotlib ({exc})") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = data["runs"]
    fig, axes = plt.subplots(len(runs), 2, figsize=(17, 7.5 * len(runs)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.1, 1]})
    for (ax_bw, ax_hm), run in zip(axes, runs):
        results = run["results"]
        idx = _index(results)
        # --- bandwidth of the optimizer kernels at their largest flat size
        opt_cases: list[tuple[str, str]] = []
        for rec in results:
            if rec["family"] == "optimizer" and rec["size"] != "book-net" and rec["case"] not in \
                    [c for c, _ in opt_cases]:
                sizes = [r["size"] for r in results if r["case"] == rec["case"]
                         and r["size"] != "book-net" and r.get("median_s")]
                if sizes:
                    opt_cases.append((rec["case"], max(sizes, key=lambda s: float(s))))
        impls = [i for i in ("bound", "numba", "cython", "numpy", "book-numpy", "torch-forloop",
                             "torch-foreach", "torch-fused")
                 if any(idx.get((c, s, i), {}).get("gbps") for c, s in opt_cases)]
        width = 0.8 / max(len(impls), 1)
        x = np.arange(len(opt_cases))
        for k, impl in enumerate(impls):
            vals = [idx.get((c, s, impl), {}).get("gbps") or 0.0 for c, s in opt_cases]
            ax_bw.bar(x + (k - (len(impls) - 1) / 2) * width, vals, width, label=impl,
                      color="0.75" if impl == "bound" else None)
        ax_bw.set_xticks(x, [f"{c}\n{s}" for c, s in opt_cases])
        ax_bw.set_ylabel("effective GB/s (bytes the algorithm must move / time)")
        ax_bw.set_title(f"optimizer kernels, float32, {run['threads']} thread(s)")
        ax_bw.legend(fontsize=8, ncols=2)
        ax_bw.grid(axis="y", alpha=0.3)
        # --- heat map: numba speed-up over each other implementation
        peers = [i for i in ("numpy", "cython", "book-numpy", "torch-forloop", "torch-foreach",
                             "torch-fused", "torch", "torch-aten", "torch-inplace")
                 if any(r["impl"] == i and r.get("ratios", {}).get("numba") for r in results)]
        rows = []
        for rec in results:
            key = (rec["case"], rec["size"])
            if key not in rows and idx.get((*key, "numba"), {}).get("median_s"):
                rows.append(key)
        grid = np.full((len(rows), len(peers)), np.nan)
        for i, key in enumerate(rows):
            for j, peer in enumerate(peers):
                r = idx.get((*key, peer), {}).get("ratios", {}).get("numba")
                if r:
                    grid[i, j] = r
        if rows and peers:
            img = ax_hm.imshow(np.log10(grid), cmap="RdYlGn", vmin=-1, vmax=2, aspect="auto")
            for i in range(len(rows)):
                for j in range(len(peers)):
                    if np.isfinite(grid[i, j]):
                        ax_hm.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", fontsize=7)
            ax_hm.set_xticks(range(len(peers)), peers, rotation=30, ha="right")
            ax_hm.set_yticks(range(len(rows)), [f"{c} {s}" for c, s in rows], fontsize=8)
            cb = fig.colorbar(img, ax=ax_hm, fraction=0.04)
            cb.set_label("log10(peer time / numba time)")
        ax_hm.set_title(f"numba speed-up over each implementation, {run['threads']} thread(s)")
    fig.suptitle(f"fastopt bench — {data['machine'].get('cpu')}, {data['machine'].get('cpu_count')} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
