"""Time every case of :mod:`fastopt.bench.cases` for every implementation.

For each thread count, for each case and size, every available implementation
is built (and run twice: compile or load Numba's cache, allocate), then timed
in ``rounds`` interleaved rounds — the streaming bound first, then fastopt's
backends, then the peers — so that a burst of load from another process lands
on all of them alike. A sample is the mean time of ``number`` back-to-back
calls (``number`` chosen so that a sample lasts about ``min_time``), with the
garbage collector off; the result is the median of all samples, with the
quartiles as the spread.

Threads: ``fastopt.set_num_threads(n)`` (Numba's kernels and the bound),
``torch.set_num_threads(n)`` and, when threadpoolctl is installed, the BLAS
threads of NumPy's matrix products; all three are recorded.
"""
from __future__ import annotations

import contextlib
import gc
import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .. import __version__
from . import cases as _cases
from .dispatch import build
from .cases import Case, Size
from .harness import Bench, Unavailable
from .report import Data, Record, fmt_time

#: Settings of a full run and of ``--quick``.
FULL = {"rounds": 3, "repeat": 5, "min_time": 0.02, "round_budget": 1.0}
QUICK = {"rounds": 1, "repeat": 5, "min_time": 0.004, "round_budget": 0.08}
#: Optimizer cases in ``--quick`` (the others need the full run).
QUICK_OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


def select(quick: bool = False, case_ids: Optional[Iterable[str]] = None
           ) -> List[Tuple[Case, Size]]:
    """[(case, size), ...] to run: every case and size, or the quick subset.

    Parameters
    ----------
    quick : bool
        Only sizes marked ``quick`` and the optimizers of ``QUICK_OPTIMIZERS``.
    case_ids : iterable of str, optional
        Only these cases.
    """
    wanted = None if case_ids is None else set(case_ids)
    if wanted is not None:
        for cid in wanted:
            _cases.case_by_id(cid)  # raises on an unknown id
    rows = []
    for case in _cases.CASES:
        if wanted is not None and case.id not in wanted:
            continue
        if quick and wanted is None and case.family == "optimizer" and case.id not in QUICK_OPTIMIZERS:
            continue
        for size in case.sizes:
            if quick and not size.quick:
                continue
            rows.append((case, size))
    return rows


def measure(fn: Callable[[], Any], *, repeat: int, min_time: float, budget: float,
            number: Optional[int] = None) -> Tuple[List[float], int]:
    """Samples (seconds per call) of *fn*.

    Parameters
    ----------
    fn : callable
        Called without arguments; already warmed up.
    repeat : int
        Samples to take (at least 3 are taken even past *budget*).
    min_time : float
        Target seconds per sample; fixes ``number`` (calls per sample) from one
        timed call when *number* is None.
    budget : float
        Stop after this many seconds once 3 samples are in.
    number : int, optional

    Returns
    -------
    (list of float, int)
        The samples and ``number``.
    """
    if number is None:
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        number = max(1, min(100_000, math.ceil(min_time / max(once, 1e-7))))
    samples: List[float] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(samples) < repeat:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - t0) / number)
            if len(samples) >= 3 and time.perf_counter() - start > budget:
                break
    finally:
        if enabled:
            gc.enable()
    return samples, number


@contextlib.contextmanager
def threads(n: int) -> Iterator[Dict[str, Optional[int]]]:
    """Run fastopt's kernels, PyTorch and the BLAS on *n* threads inside the block.

    Yields a dict of what was set (``fastopt``, ``torch``, ``blas``; None where
    not applicable).
    """
    from .. import _threads

    state: Dict[str, Optional[int]] = {"fastopt": None, "torch": None, "blas": None}
    restore: List[Callable[[], Any]] = []
    if _numba_pool() is not None:
        # the kernels' threads only: the limiter below sets the BLAS and restores the
        # BLAS's own earlier limits (set_num_threads would undo to the kernel count)
        before = _threads.get_num_threads()
        _threads.set_kernel_threads(n)
        restore.append(lambda: _threads.set_kernel_threads(before))
        state["fastopt"] = n
    # every implementation runs at n: the thread policy may not pick another count
    before_fixed = _threads.policy.fixed
    _threads.policy.fixed = n
    restore.append(lambda: setattr(_threads.policy, "fixed", before_fixed))
    if "torch" in sys.modules:  # only when a peer needs it; importing torch is slow
        torch = sys.modules["torch"]
        before_t = torch.get_num_threads()
        torch.set_num_threads(n)
        restore.append(lambda: torch.set_num_threads(before_t))
        state["torch"] = n
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        limiter = threadpool_limits(limits=n, user_api="blas")
        state["blas"] = n
    try:
        yield state
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        for undo in reversed(restore):
            undo()


def _import_torch() -> None:
    """Import torch up front (when installed) so the thread settings reach it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        pass


def machine_info() -> Dict[str, Any]:
    """The machine, the versions and the thread defaults, for the JSON."""
    info: Dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": _cpu_name(), "cpu_count": os.cpu_count(), "fastopt": __version__}
    try:
        info["affinity"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    for dist in ("numpy", "numba", "torch", "threadpoolctl"):
        try:  # the installed version, without importing (torch takes ~2 s)
            info[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            info[dist] = None
    from .. import _backend

    info["backends"] = _backend.available_backends()
    info["env"] = {k: os.environ[k] for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                               "FASTOPT_PARALLEL_THRESHOLD", "GOMP_SPINCOUNT")
                   if k in os.environ}
    pool = _numba_pool()
    info["max_threads"] = 1 if pool is None else pool
    if pool is not None:
        info["threading_layer"] = _threading_layer()
    info["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return info


def _threading_layer() -> Optional[str]:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return None


def _cpu_name() -> Optional[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def run(*, quick: bool = False, thread_counts: Optional[Iterable[int]] = None,
        case_ids: Optional[Iterable[str]] = None, impls: Optional[Iterable[str]] = None,
        rounds: Optional[int] = None, repeat: Optional[int] = None,
        min_time: Optional[float] = None, startup: Optional[bool] = None,
        progress: Optional[Callable[[str], Any]] = None) -> Data:
    """Time the selected cases and return the results (see :mod:`fastopt.bench.report`).

    Parameters
    ----------
    quick : bool
        The quick subset and settings (``QUICK``), about 20 s.
    thread_counts : list of int, optional
        Run everything once per thread count (default: the current count).
    case_ids : list of str, optional
        Only these cases (default: all, or the quick subset).
    impls : list of str, optional
        Only these implementations (the bound is always kept for the % column).
    rounds, repeat, min_time : optional
        Override the settings of ``FULL`` / ``QUICK``.
    startup : bool, optional
        Also time ``import fastopt`` and import + first step in fresh processes,
        Numba cache warm and cold (:mod:`fastopt.bench.startup`; about 15 s).
        Default: in a full run of every case, not in ``--quick``.
    progress : callable, optional
        Called with a line of text as work proceeds (e.g. ``print`` to stderr).

    Returns
    -------
    dict
        ``{"machine": ..., "settings": ..., "runs": [{"threads": ..., "results": [...]}, ...]}``
    """
    from .. import _threads

    settings = dict(QUICK if quick else FULL)
    for key, value in (("rounds", rounds), ("repeat", repeat), ("min_time", min_time)):
        if value is not None:
            settings[key] = value
    if settings["rounds"] < 1 or settings["repeat"] < 1 or settings["min_time"] <= 0:
        raise ValueError("rounds and repeat must be >= 1 and min_time > 0")
    if thread_counts is None:
        thread_counts = [_threads.get_num_threads()]
    thread_counts = [int(n) for n in thread_counts]
    max_threads = _max_threads()
    for n in thread_counts:
        if not 1 <= n <= max_threads:
            raise ValueError(f"thread count {n} is outside 1..{max_threads} "
                             "(NUMBA_NUM_THREADS caps it)")
    rows = select(quick, case_ids)
    if impls is not None:
        known = {i for case in _cases.CASES for i in _cases.implementations(case)}
        unknown = sorted(set(impls) - known)
        if unknown:
            raise ValueError(f"--impls: unknown implementation(s) {unknown}; choose from {sorted(known)}")
        impls = set(impls) | {"bound"}
    say = progress or (lambda line: None)
    need_torch = any(p.startswith("torch") for case, _ in rows for p in case.peers)
    if need_torch and (impls is None or any(i.startswith("torch") for i in impls)):
        _import_torch()
    started = time.time()
    out: Data = {"machine": machine_info(), "settings": {**settings, "quick": quick},
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": []}
    for n in thread_counts:
        with threads(n) as state:
            say(f"threads: fastopt {state['fastopt']}, torch {state['torch']}, "
                f"BLAS {state['blas'] or 'default'}")
            results = []
            load = LoadMeter()
            for case, size in rows:
                results.extend(_run_row(case, size, impls, settings, say))
            out["runs"].append({"threads": n, "thread_state": state, "results": results,
                                "load": load.stop()})
    if startup is None:
        startup = not quick and case_ids is None and impls is None
    if startup:
        from . import startup as _startup

        say("start-up: fresh processes, Numba cache warm and cold")
        out["startup"] = _startup.measure(caches=("warm", "cold"))
    out["machine"]["threading_layer"] = out["machine"].get("threading_layer") or \
        (_threading_layer() if "numba" in sys.modules else None)
    out["seconds"] = time.time() - started
    return out


class LoadMeter:
    """What other processes did to the machine while a run was timed.

    ``stop()`` returns ``{"load_average": [1, 5, 15 min] at the end, "other_cpu": cores'
    worth of CPU time that other processes used during the run (from /proc/stat, our
    own time excluded; None where unavailable), "cores": cores we may use}``.
    """

    def __init__(self) -> None:
        from .._threads import _CpuClock, available_cores

        self.cores = available_cores()
        self._clock = _CpuClock()
        self._start = self._clock.sample()

    def stop(self) -> Dict[str, Any]:
        other = self._clock.other_cores(self._start, self._clock.sample())
        return {"load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
                "other_cpu": other, "cores": self.cores}


def _numba_pool() -> Optional[int]:
    """Numba's thread-pool size (``NUMBA_NUM_THREADS``), None without Numba."""
    try:
        import numba
    except ImportError:
        return None
    config: Any = numba.config  # its settings are made at run time, unseen by type checkers
    return int(config.NUMBA_NUM_THREADS)


def _max_threads() -> int:
    pool = _numba_pool()
    return (os.cpu_count() or 1) if pool is None else pool


def _run_row(case: Case, size: Size, impls: Optional[set[str]], settings: Dict[str, Any],
             say: Callable[[str], Any]) -> List[Record]:
    """Build and time every implementation of one (case, size), interleaved."""
    names = [i for i in _cases.implementations(case) if impls is None or i in impls]
    built: List[Bench] = []
    records: Dict[str, Record] = {}
    for impl in names:
        rec: Record = {"case": case.id, "family": case.family, "title": case.title, "size": size.label,
               "elements": size.elements, "bytes_per_elem": case.bytes_per_elem, "impl": impl,
               "samples": [], "number": None, "error": None, "note": ""}
        records[impl] = rec
        try:
            bench = build(case, size, impl)
        except Unavailable as exc:
            rec["error"] = str(exc)
            continue
        rec["note"] = bench.note
        built.append(bench)
    for _ in range(settings["rounds"]):
        for bench in built:
            rec = records[bench.impl]
            with bench.active():
                samples, number = measure(bench, repeat=settings["repeat"],
                                          min_time=settings["min_time"],
                                          budget=settings["round_budget"], number=rec["number"])
            rec["samples"].extend(samples)
            rec["number"] = number
    del built
    gc.collect()
    for rec in records.values():
        s = sorted(rec["samples"])
        if s:
            rec["median_s"] = statistics.median(s)
            q = statistics.quantiles(s, n=4) if len(s) >= 2 else [s[0]] * 3
            rec["q1_s"], rec["q3_s"] = q[0], q[2]
            rec["min_s"] = s[0]
    shown = ", ".join(f"{r['impl']} {fmt_time(r['median_s'])}" for r in records.values()
                      if r.get("median_s") is not None)
    say(f"  {case.id} {size.label}: {shown}")
    return list(records.values())
