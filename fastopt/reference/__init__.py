"""Plain-NumPy twins of every kernel: the test oracle and the last fallback backend.

Each function has the same name and signature as its Numba twin in
``fastopt.kernels`` and performs the same floating-point operations in the same
order, so results agree bit for bit.
"""
from typing import Any

from ..kernel_spec import KERNELS, load_kernels
from .batchnorm import batchnorm_channel_work_size, batchnorm_work_size

# every kernel of the spec, from its family module (fastopt.kernel_spec.FAMILIES)
globals().update(load_kernels(__name__))


def __getattr__(name: str) -> Any:
    """Only for type checkers: the kernels above are set from the spec (PEP 562)."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*KERNELS, "KERNELS", "batchnorm_work_size", "batchnorm_channel_work_size"]
