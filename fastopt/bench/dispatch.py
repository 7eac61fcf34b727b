"""``build(case, size, impl)``: the one way every suite prepares what it times.

It resolves the names against the case table (:mod:`fastopt.bench.cases`), hands
the case to the builder of the implementation — fastopt's backends
(:mod:`fastopt.bench.ours`), the streaming bound (:mod:`fastopt.bench.stream`)
or a peer (:mod:`fastopt.bench.peers`) — and warms the result up. The bound and
the peers are imported on first use (Numba, PyTorch).
"""
from __future__ import annotations

from typing import Union

from .. import _backend
from .cases import BACKENDS, Case, Size, case_by_id, implementations
from .harness import Bench, Unavailable
from .ours import BUILDERS


def build(case: Union[Case, str], size: Union[Size, str], impl: str) -> Bench:
    """Prepare *case* at *size* for implementation *impl*.

    Parameters
    ----------
    case : Case or str
    size : Size or str
        A size of the case (its label).
    impl : str
        ``"numba"``, ``"cython"``, ``"numpy"``, ``"bound"`` or a peer of the case.

    Returns
    -------
    Bench
        Call it (inside ``bench.active()``) to run the operation once; it has
        been run twice already (compiling, or loading Numba's on-disk cache).

    Raises
    ------
    Unavailable
        The backend or peer is not installed here, or has no equivalent.
    ValueError
        Unknown case, size or implementation.
    """
    case = case_by_id(case) if isinstance(case, str) else case
    size = case.size(size) if isinstance(size, str) else case.size(size.label)
    if impl not in implementations(case):
        raise ValueError(f"case {case.id!r} has no implementation {impl!r}; "
                         f"choose one of {implementations(case)}")
    if impl in BACKENDS:
        if impl not in _backend.available_backends():
            raise Unavailable(f"fastopt backend {impl!r} is not available here "
                              f"({_backend.backend_errors().get(impl, 'unknown backend')})")
        bench = BUILDERS[case.family](case, size, impl)
    elif impl == "bound":
        from . import stream

        bench = stream.build(case, size)
    else:
        from . import peers

        bench = peers.build(case, size, impl)
    with bench.active():  # warm up: compile or load the cache, allocate workspaces
        bench()
        bench()
    return bench
