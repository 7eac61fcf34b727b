"""pytest-benchmark suite: quick A/B of fastopt's backends on every case of the bench table.

Parametrised ``impl x case x size`` from ``fastopt.bench.cases`` (the table
``fastopt bench`` and asv use), each timed with the ``benchmark`` fixture.

In the normal test run pyproject's ``--benchmark-disable`` makes ``benchmark``
call the function once, untimed: a smoke test of every case on every backend,
at the smallest size of each case. To time them::

    python -m pytest tests/test_bench_kernels.py --benchmark-enable
    python -m pytest tests/test_bench_kernels.py --benchmark-enable -k adam --benchmark-group-by=param:case
    FASTOPT_BENCH_SIZES=all FASTOPT_BENCH_PEERS=1 python -m pytest tests/test_bench_kernels.py \\
        --benchmark-enable --benchmark-group-by=group --benchmark-save=mine

``FASTOPT_BENCH_SIZES=all`` adds every size (1e6, 1e7, ...); ``FASTOPT_BENCH_PEERS=1``
adds the streaming bound and the peers (the book's NumPy code, PyTorch).
Benchmarks of one case and size share a group, so pytest-benchmark's table
compares the backends side by side. Nothing is asserted about speed.
"""
import os

import pytest

import fastopt
from fastopt.bench import Unavailable, build, cases

ALL_SIZES = os.environ.get("FASTOPT_BENCH_SIZES", "").lower() == "all"
PEERS = os.environ.get("FASTOPT_BENCH_PEERS", "") not in ("", "0")


def _params():
    out = []
    for case in cases.CASES:
        sizes = case.sizes if ALL_SIZES else [min(case.sizes, key=lambda s: s.elements)]
        impls = cases.implementations(case) if PEERS else list(cases.BACKENDS)
        for size in sizes:
            for impl in impls:
                out.append(pytest.param(impl, case, size, id=f"{impl}-{case.id}-{size.label}"))
    return out


@pytest.mark.parametrize("impl, case, size", _params())
def test_bench(benchmark, impl, case, size):
    try:
        bench = build(case, size, impl)
    except Unavailable as exc:
        pytest.skip(str(exc))
    benchmark.group = f"{case.id} {size.label}"
    benchmark.extra_info.update({"case": case.id, "size": size.label, "impl": impl,
                                 "elements": size.elements, "bytes_per_elem": case.bytes_per_elem,
                                 "threads": fastopt.get_num_threads()})
    with bench.active():
        benchmark(bench)
