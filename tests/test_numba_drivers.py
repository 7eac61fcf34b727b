"""The Numba kernels' parallel drivers, built by ``fastopt.kernels._jit.parallel_driver``.

Each driver must cache on disk under its own name, attributed to its kernel's module:
a closure over the range function never loads from Numba's cache (the pickled cell
holds a per-process uuid), and one generic driver cached every kernel under one index.
"""
import importlib
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from fastopt.bench import stream  # noqa: E402

# (fastopt.kernels re-exports kernels under some module names: import the modules by path)
MODULES = [importlib.import_module(f"fastopt.kernels.{name}")
           for name in ("activation", "adaptive", "dropout", "fused", "lion", "momentum")]
KERNELS = [kernel for module in MODULES for kernel in vars(module).values()
           if hasattr(kernel, "parallel_fn")]
KERNELS += list(stream.KERNELS.values())
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_driver_is_named_after_its_range_function_and_module():
    names = set()
    for kernel in KERNELS:
        driver, range_fn = kernel.parallel_fn.py_func, kernel.range_fn.py_func
        assert driver.__qualname__ == f"{range_fn.__name__}_parallel"
        assert driver.__closure__ is None  # a closure would not load from the cache
        assert driver.__code__.co_filename == range_fn.__code__.co_filename
        assert driver.__module__ == range_fn.__module__
        names.add((driver.__module__, driver.__qualname__))
    assert len(names) == len(KERNELS) == 20  # 14 kernels, fused's masked gradient, 5 bounds


_CHILD = """
import json, numpy as np, numba
numba.set_num_threads(2)
import importlib
activation = importlib.import_module("fastopt.kernels.activation")
momentum = importlib.import_module("fastopt.kernels.momentum")
x = np.linspace(-1, 1, 5000, dtype=np.float32)
out = np.empty_like(x)
activation.relu_forward(x, out)
p, g = x.copy(), x.copy()
momentum.sgd(p, g, np.float32(0.5), np.float32(1), np.float32(0), np.float32(0), np.float32(1))
drivers = [activation.relu_forward.parallel_fn, momentum.sgd.parallel_fn]
print(json.dumps({"hits": sum(sum(d.stats.cache_hits.values()) for d in drivers),
                  "misses": sum(sum(d.stats.cache_misses.values()) for d in drivers),
                  "out": out.tolist(), "p": p.tolist()}))
"""


@pytest.mark.slow
def test_a_second_process_loads_the_drivers_from_the_cache(tmp_path):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 threads for the parallel path")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FASTOPT_PARALLEL_THRESHOLD="1024",
               PYTHONPATH=str(ROOT))
    runs = [json.loads(subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=ROOT,
                                      capture_output=True, text=True, check=True).stdout)
            for _ in range(2)]
    assert (runs[0]["hits"], runs[0]["misses"]) == (0, 2)
    assert (runs[1]["hits"], runs[1]["misses"]) == (2, 0)
    x = np.linspace(-1, 1, 5000, dtype=np.float32)
    assert runs[1]["out"] == runs[0]["out"] == np.maximum(x, 0).tolist()
    assert runs[1]["p"] == runs[0]["p"]
