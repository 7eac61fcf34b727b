"""Benchmarks of fastopt against the streaming bound and its peers (``fastopt bench``).

Modules
-------
:mod:`fastopt.bench.cases`
    The one case table: every benchmarked kernel, the bytes per element it
    must move, its sizes, and how to set it up for any fastopt backend. The asv
    suite (``benchmarks/``), the pytest-benchmark suite and ``fastopt bench``
    are all generated from it.
:mod:`fastopt.bench.book_numpy`
    The book's code (optimizers and ``MultiLayerNetExtend``'s layers) in plain
    NumPy, as a peer.
:mod:`fastopt.bench.peers`
    Builders for the peers: the book's NumPy code and PyTorch (when installed).
:mod:`fastopt.bench.runner`
    Times every case for every implementation, at one or more thread counts.
:mod:`fastopt.bench.report`
    The table, the performance goals, JSON and a PNG chart.

Importing this package imports neither Numba nor PyTorch.
"""
from .cases import CASES, Unavailable, build, case_by_id, implementations

__all__ = ["CASES", "Unavailable", "build", "case_by_id", "implementations"]
