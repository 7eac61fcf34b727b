"""fastopt: the training techniques of "Deep Learning from Scratch" ch. 6, fast on the CPU.

>>> import fastopt as fo
>>> opt = fo.optim.Adam(params, lr=1e-3)   # params: dict name -> ndarray
>>> opt.step(grads)                         # updates params in place
"""
import os as _os

# OpenBLAS's idle threads busy-wait 2**28 cycles (~0.1 s) after each matrix product and
# starve the kernels' OpenMP threads that run between products; with 2**4 they sleep at
# once and every product pays to wake them. 2**20 cycles (~0.3 ms) keeps them awake
# through a training step's back-to-back products. Measured on a 2-core machine, train
# step with Adam at 2 threads: the book's 784-100x5-10 0.76-0.82 ms (2**4: 1.11-1.17);
# 784-1000x3-10 8.0-8.7 ms (2**28: 8.9-9.4, 2**4: 8.6-8.9; 1 thread: 13.3). OpenBLAS
# reads this once, when NumPy loads it: it takes effect when fastopt is imported before
# NumPy (the fastopt command always is); a value you set wins.
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

from . import data, nn, optim  # noqa: E402
from ._backend import available_backends, get_backend, set_backend, use_backend
from ._config import show_config
from ._threads import get_num_threads, set_num_threads
from .optim import FlatParams

__version__ = "0.1.0"

_LAZY = ("book", "search", "techniques", "experiments", "bench")

__all__ = ["optim", "nn", "data", *_LAZY, "FlatParams", "available_backends", "get_backend", "set_backend",
           "use_backend", "show_config", "set_num_threads", "get_num_threads", "__version__"]


def __getattr__(name):  # import the heavier subpackages on first use
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastopt' has no attribute {name!r}")
