"""fastopt: the training techniques of "Deep Learning from Scratch" ch. 6, fast on the CPU.

>>> import fastopt as fo
>>> opt = fo.optim.Adam(params, lr=1e-3)   # params: dict name -> ndarray
>>> opt.step(grads)                         # updates params in place
"""
from . import data, nn, optim
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
