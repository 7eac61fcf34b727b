"""Which instruction-set build of the Cython kernels serves this process.

On x86-64 the kernel modules are compiled three times (``setup.py``'s
``ISA_LEVELS``): for the baseline into ``fastopt._cy``, for AVX2/FMA into
``fastopt._cy.avx2`` and for AVX-512 into ``fastopt._cy.avx512``. Every level
computes the same bits (no FMA contraction; the parity tests run on each level
the machine can run). :func:`selected_level` takes the best level that is built
and that the CPU runs, or the one ``FASTOPT_CYTHON_ISA`` names.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import types
from typing import Dict, List, Tuple

from ..kernel_spec import FAMILIES, load_kernels
from . import _jit

#: the levels, lowest first, as ``_jit.cpu_isa_level()`` numbers them
LEVELS: Tuple[str, ...] = ("baseline", "avx2", "avx512")
#: what each level adds, for ``fastopt info``
DESCRIPTIONS: Dict[str, str] = {"baseline": "x86-64 baseline (SSE2), or the platform's baseline",
                "avx2": "AVX2 + FMA (x86-64-v3 features)",
                "avx512": "AVX-512 F/BW/CD/DQ/VL (x86-64-v4 features)"}
ENV = "FASTOPT_CYTHON_ISA"


class IsaLevelError(ImportError):
    """The requested level is unknown, not built, or not supported by this CPU."""


def cpu_level() -> str:
    """The best level this CPU runs (``"baseline"`` off x86-64)."""
    return LEVELS[_jit.cpu_isa_level()]


def _package(level: str) -> str:
    return __package__ if level == "baseline" else f"{__package__}.{level}"


def built_levels() -> List[str]:
    """Levels whose modules are installed, lowest first."""
    return list(_built())


@functools.lru_cache(maxsize=None)  # the installation does not change while we run
def _built() -> Tuple[str, ...]:
    return tuple(level for level in LEVELS
                 if all(importlib.util.find_spec(f"{_package(level)}.{m}") for m in FAMILIES))


def runnable_levels() -> List[str]:
    """Levels that are built and that this CPU runs, lowest first."""
    top = LEVELS.index(cpu_level())
    return [level for level in built_levels() if LEVELS.index(level) <= top]


def selected_level() -> str:
    """``FASTOPT_CYTHON_ISA`` if set (and not ``auto``), else the best runnable level."""
    wanted = os.environ.get(ENV, "auto").strip().lower() or "auto"
    runnable = runnable_levels()
    if wanted == "auto":
        if not runnable:
            raise IsaLevelError("no Cython kernel modules are built")
        return runnable[-1]
    if wanted not in LEVELS:
        raise IsaLevelError(f"{ENV}={wanted!r}: choose one of {list(LEVELS)} or 'auto'")
    if wanted not in runnable:
        why = ("this CPU does not run it" if wanted in built_levels()
               else "this installation has no build of it")
        raise IsaLevelError(f"{ENV}={wanted!r}: {why} (runnable here: {runnable})")
    return wanted


def load_level(level: str) -> types.SimpleNamespace:
    """The kernels built for *level*, as a namespace of functions."""
    if level not in runnable_levels():
        raise IsaLevelError(f"level {level!r} is not runnable here "
                            f"(runnable: {runnable_levels()})")
    return types.SimpleNamespace(**load_kernels(_package(level)))
