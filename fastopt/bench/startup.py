"""Cold-start measurements: import, and import + first step, in a fresh process.

Each snippet is timed inside a new Python process (``perf_counter`` around the
snippet; interpreter start-up excluded), with Numba's on-disk cache either warm
(the snippet ran once before, in another process, with the same cache) or cold
(``NUMBA_CACHE_DIR`` points at a new empty folder, so every kernel compiles).
The asv suite (``benchmarks/benchmarks/bench_startup.py``) times the same
snippets with ``timeraw_``.

Snippets (``SNIPPETS``):

``import``      ``import fastopt`` (must not import Numba: nothing compiles)
``adam-step``   import, the book's 10 float32 arrays (109,810 parameters) in one
                ``FlatParams``, ``optim.Adam(...).step()``
``train-step``  import, ``book.MultiLayerNetExtend`` (784-100x5-10, batch norm,
                dropout 0.2, float32), one ``gradient`` + ``Adam.step`` on a
                batch of 100
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterable, Mapping, Optional

from .cases import BOOK_NET, TRAIN_BATCH, TRAIN_DROPOUT, TRAIN_HIDDEN

_BOOK_NET_SHAPES = repr({name: shape for name, shape in BOOK_NET})

SNIPPETS = {
    "import": "import fastopt",
    "adam-step": textwrap.dedent(f"""\
        import numpy as np
        import fastopt
        params = fastopt.FlatParams({{k: np.full(s, 0.01, np.float32)
                                      for k, s in {_BOOK_NET_SHAPES}.items()}})
        for g in params.grads.values():
            g[...] = 0.001
        opt = fastopt.optim.Adam(params, lr=1e-3)
        opt.step()
        """),
    "train-step": textwrap.dedent(f"""\
        import numpy as np
        from fastopt import book, optim
        net = book.MultiLayerNetExtend(784, {list(TRAIN_HIDDEN)}, 10, use_batchnorm=True,
                                       use_dropout=True, dropout_ration={TRAIN_DROPOUT}, seed=0,
                                       dtype=np.float32, dropout_seed=0)
        opt = optim.Adam(net.params, lr=1e-3)
        x = np.random.default_rng(0).random(({TRAIN_BATCH}, 784), dtype=np.float32)
        t = np.arange({TRAIN_BATCH}) % 10
        net.gradient(x, t)
        opt.step()
        """),
}

#: Setup (untimed) that gives the process an empty Numba cache, removed at exit.
COLD_SETUP = textwrap.dedent("""\
    import atexit, os, shutil, tempfile
    _cache = tempfile.mkdtemp(prefix="fastopt-cold-cache-")
    os.environ["NUMBA_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, True)
    """)

_TIMER = textwrap.dedent("""\
    import json, sys, time
    @SETUP@
    _t0 = time.perf_counter()
    @STMT@
    _t1 = time.perf_counter()
    print("FASTOPT-STARTUP " + json.dumps({"seconds": _t1 - _t0,
        "numba_imported": "numba" in sys.modules, "torch_imported": "torch" in sys.modules}))
    """)


def timed_script(name: str, cache: str = "warm") -> str:
    """The Python source that times snippet *name* and prints a JSON line."""
    if name not in SNIPPETS:
        raise ValueError(f"unknown snippet {name!r}; choose one of {sorted(SNIPPETS)}")
    if cache not in ("warm", "cold"):
        raise ValueError(f"cache must be 'warm' or 'cold', got {cache!r}")
    setup = COLD_SETUP if cache == "cold" else ""
    return _TIMER.replace("@SETUP@", setup).replace("@STMT@", SNIPPETS[name])


def child_env(env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment of a timed child: this one, with the folder holding the fastopt
    package in use first on ``PYTHONPATH`` (so the child imports the same fastopt, installed
    or not), plus *env*."""
    import fastopt

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastopt.__file__)))
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (root, out.get("PYTHONPATH")) if p)
    if env:
        out.update(env)
    return out


def run_once(name: str, cache: str = "warm", env: Optional[Mapping[str, str]] = None,
             timeout: float = 600) -> Dict[str, Any]:
    """Time snippet *name* once in a new process.

    Returns
    -------
    dict
        ``seconds`` (the snippet), ``wall`` (the whole process, interpreter
        start-up included), ``numba_imported``, ``torch_imported``.
    """
    import time

    script = timed_script(name, cache)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=child_env(env), timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"startup snippet {name!r} failed:\n{proc.stderr[-2000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("FASTOPT-STARTUP "):
            out = json.loads(line.split(" ", 1)[1])
            out["wall"] = wall
            return out
    raise RuntimeError(f"startup snippet {name!r} printed no result:\n{proc.stdout[-2000:]}")


def measure(names: Iterable[str] = ("import", "adam-step", "train-step"),
            caches: Iterable[str] = ("warm",), repeat: int = 5) -> Dict[str, Dict[str, Any]]:
    """Median start-up times: {(name, cache): {"median_s", "samples", "wall_median_s", ...}}.

    For ``warm`` the snippet runs once first (untimed) to fill the cache.
    """
    out = {}
    for name in names:
        for cache in caches:
            if cache == "warm":
                run_once(name, "warm")
            runs = [run_once(name, cache) for _ in range(repeat if cache == "warm" else 1)]
            secs = [r["seconds"] for r in runs]
            out[f"{name}/{cache}"] = {
                "snippet": name, "cache": cache, "samples": secs,
                "median_s": statistics.median(secs),
                "wall_median_s": statistics.median(r["wall"] for r in runs),
                "numba_imported": runs[0]["numba_imported"],
                "torch_imported": runs[0]["torch_imported"]}
    return out
