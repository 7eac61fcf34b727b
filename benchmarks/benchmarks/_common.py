"""Helpers shared by the generated asv suites (not collected: leading underscore).

Thread counts: asv runs with the environment's ``NUMBA_NUM_THREADS`` (fastopt's
kernels); ``match_threads`` gives PyTorch and the BLAS the same count, so a
comparison is like for like. ``NUMBA_NUM_THREADS=1 asv run ...`` for one thread.
"""
import re
import sys

import fastopt


def class_name(case_id, suffix=""):
    """``"batchnorm-fwd"`` -> ``"BatchnormFwd"`` (+ *suffix*)."""
    return "".join(part.capitalize() for part in re.split(r"[^0-9A-Za-z]+", case_id) if part) + suffix


def match_threads():
    """Give PyTorch (when imported) and the BLAS fastopt's thread count; returns an undo function."""
    from fastopt import _threads

    n = fastopt.get_num_threads()
    undo = []
    # a benchmark runs at the count it was started with, not the one the thread policy picks
    before_fixed = _threads.policy.fixed
    _threads.policy.fixed = n
    undo.append(lambda: setattr(_threads.policy, "fixed", before_fixed))
    torch = sys.modules.get("torch")
    if torch is not None:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        undo.append(lambda: torch.set_num_threads(before))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        limiter = threadpool_limits(limits=n, user_api="blas")
        undo.append(limiter.restore_original_limits)

    def restore():
        for fn in reversed(undo):
            fn()

    return restore


def start_case(bench_obj, case, size, impl):
    """Build *case* at *size* for *impl* into ``bench_obj.bench`` and enter its context.

    Threads are matched first (undone by :func:`finish_case`); an implementation
    not available here raises ``NotImplementedError``, which asv shows as n/a.
    """
    from fastopt.bench import Unavailable, build

    bench_obj._restore = match_threads()
    try:
        bench_obj.bench = build(case, size, impl)
    except Unavailable as exc:
        bench_obj._restore()
        raise NotImplementedError(str(exc)) from None
    bench_obj._ctx = bench_obj.bench.active()
    bench_obj._ctx.__enter__()


def finish_case(bench_obj):
    """Undo :func:`start_case` (whatever part of it ran): leave ``bench_obj._ctx``, then call
    ``bench_obj._restore`` (a suite's own setup may set these two as well)."""
    ctx = getattr(bench_obj, "_ctx", None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
    restore = getattr(bench_obj, "_restore", None)
    if restore is not None:
        restore()


def make_class(name, base, module, attrs):
    """A benchmark class *name* derived from *base*, placed in *module* (asv looks there)."""
    cls = type(name, (base,), {**attrs, "__module__": module, "__qualname__": name})
    return cls
