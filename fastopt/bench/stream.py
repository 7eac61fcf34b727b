"""The streaming bound: in-place kernels that move given bytes and compute nothing else.

``stream_<k>_<r>`` updates ``k`` float32 arrays in place, ``a_i <- a_i·s + b``
(``+ c`` too with two read-only arrays), reading ``r`` more: it moves
``4·(2k + r)`` bytes per element, the same as the case it bounds (Adam:
k = 3 — p, m, v — and r = 1 — g — so 28 B/elem). It runs like fastopt's
kernels: serially below the parallel threshold or with one thread, else
``prange`` over ``CHUNK``-sized pieces on ``numba.get_num_threads()`` threads.
Its time at the case's size is the fastest the case could run on this machine
with these threads; a kernel's "% of bound" is ``t_bound / t_kernel``.

The multiplier ``s`` is 1: values stay put, so repeated calls never reach
denormals or infinities.

Needs Numba (else :class:`~fastopt.bench.harness.Unavailable`). Compiled on first
use, cached on disk like fastopt's kernels.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .cases import DTYPE, Case, Size
from .harness import Bench, Unavailable
from .inputs import random_array

#: (in-place arrays, read-only arrays) -> kernel ``kernel(*arrays, s)``, serial below
#: the heavy-kernel threshold (or on one thread), like fastopt's kernels; empty without Numba
KERNELS: Dict[Tuple[int, int], Callable[..., None]] = {}
#: why the bound is unavailable (Numba missing), else None
_IMPORT_ERROR: Optional[str] = None

try:
    from ..kernels._jit import elementwise, jit
except ImportError as _exc:  # the bound is then unavailable; the rest of the bench runs
    _IMPORT_ERROR = str(_exc)
else:
    @jit
    def _s10(lo: int, hi: int, a: np.ndarray, s: Any) -> None:
        for i in range(lo, hi):
            a[i] = a[i] * s

    @jit
    def _s11(lo: int, hi: int, a: np.ndarray, b: np.ndarray, s: Any) -> None:
        for i in range(lo, hi):
            a[i] = a[i] * s + b[i]

    @jit
    def _s21(lo: int, hi: int, a1: np.ndarray, a2: np.ndarray, b: np.ndarray, s: Any) -> None:
        for i in range(lo, hi):
            x = b[i]
            a1[i] = a1[i] * s + x
            a2[i] = a2[i] * s + x

    @jit
    def _s31(lo: int, hi: int, a1: np.ndarray, a2: np.ndarray, a3: np.ndarray, b: np.ndarray,
             s: Any) -> None:
        for i in range(lo, hi):
            x = b[i]
            a1[i] = a1[i] * s + x
            a2[i] = a2[i] * s + x
            a3[i] = a3[i] * s + x

    @jit
    def _s22(lo: int, hi: int, a1: np.ndarray, a2: np.ndarray, b: np.ndarray, c: np.ndarray,
             s: Any) -> None:
        for i in range(lo, hi):
            x = b[i] + c[i]
            a1[i] = a1[i] * s + x
            a2[i] = a2[i] * s + x

    KERNELS.update({(1, 0): elementwise(_s10, "heavy"),
                    (1, 1): elementwise(_s11, "heavy"),
                    (2, 1): elementwise(_s21, "heavy"),
                    (3, 1): elementwise(_s31, "heavy"),
                    (2, 2): elementwise(_s22, "heavy")})


def stream_function(k: int, r: int, n: int) -> Callable[[], None]:
    """A zero-argument function streaming over ``k`` in-place and ``r`` read-only arrays of *n*.

    Raises
    ------
    Unavailable
        Numba is missing.
    ValueError
        No kernel for (k, r).
    """
    if _IMPORT_ERROR is not None:
        raise Unavailable(f"the streaming bound needs Numba ({_IMPORT_ERROR})")
    if (k, r) not in KERNELS:
        raise ValueError(f"no streaming kernel for {k} in-place and {r} read-only arrays; "
                         f"have {sorted(KERNELS)}")
    kernel = KERNELS[(k, r)]
    arrays = [random_array(n, i) for i in range(k + r)]
    s = DTYPE.type(1.0)

    def fn() -> None:
        kernel(*arrays, s)

    return fn


def build(case: Case, size: Size) -> Bench:
    """The streaming bound of *case* at *size*, as a :class:`~fastopt.bench.harness.Bench`."""
    if case.stream is None:
        raise Unavailable(f"case {case.id!r} is not a streaming operation")
    k, r = case.stream
    fn = stream_function(k, r, size.elements)
    return Bench(case, size, "bound", fn,
                 note=f"{k} array(s) a = a*s + b in place, {r} read-only: "
                      f"{4 * (2 * k + r)} B/elem")
