"""Benchmarks of fastopt against the streaming bound and its peers (``fastopt bench``).

Modules — the table, then the machinery that imports it (no module imports one
listed after it, so there is no import cycle; ``tests/test_bench_imports.py``):

:mod:`fastopt.bench.cases`
    The one case table, data only: every benchmarked operation, its kernels,
    the bytes per element it must move, its sizes and its peers. The asv suite
    (``benchmarks/``), the pytest-benchmark suite and ``fastopt bench`` are all
    generated from it.
:mod:`fastopt.bench.book_numpy`
    The book's code (optimizers, layers, networks, ``Trainer``) in plain NumPy:
    the benchmarks' peer and the tests' oracle.
:mod:`fastopt.bench.harness`
    :class:`Bench` (a prepared benchmark) and :class:`Unavailable`.
:mod:`fastopt.bench.inputs`
    The seeded arrays every implementation of a case is timed on.
:mod:`fastopt.bench.ours`, :mod:`fastopt.bench.stream`, :mod:`fastopt.bench.peers`
    Builders: fastopt's backends, the streaming bound (Numba), the peers (the
    book's NumPy code, PyTorch, JAX).
:mod:`fastopt.bench.dispatch`
    :func:`build`: a case, size and implementation to a warmed-up :class:`Bench`.
:mod:`fastopt.bench.report`
    The table, the performance goals, JSON and a PNG chart.
:mod:`fastopt.bench.startup`
    Import and first-step times in fresh processes.
:mod:`fastopt.bench.runner`
    Times every case for every implementation, at one or more thread counts.

Importing this package imports neither Numba nor PyTorch.
"""
from .cases import CASES, case_by_id, implementations
from .dispatch import build
from .harness import Bench, Unavailable

__all__ = ["CASES", "Bench", "Unavailable", "build", "case_by_id", "implementations"]
