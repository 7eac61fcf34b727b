"""Numba kernels, one module per family. Importing this module imports Numba
but compiles nothing: each kernel compiles on first use and is cached on disk.
"""
from typing import Any

from ..kernel_spec import KERNELS, load_kernels
from ._jit import CHUNK, HEAVY_THRESHOLD, LIGHT_THRESHOLD, PARALLEL_THRESHOLD
from .batchnorm import batchnorm_channel_work_size, batchnorm_work_size

# every kernel of the spec, from its family module (fastopt.kernel_spec.FAMILIES)
globals().update(load_kernels(__name__))


def __getattr__(name: str) -> Any:
    """Only for type checkers: the kernels above are set from the spec (PEP 562)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*KERNELS, "batchnorm_work_size", "batchnorm_channel_work_size", "CHUNK",
           "HEAVY_THRESHOLD", "LIGHT_THRESHOLD", "PARALLEL_THRESHOLD"]
