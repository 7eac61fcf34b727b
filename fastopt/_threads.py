"""Thread counts: the parallel kernels' (Numba's pool, OpenMP's for the Cython
backend) and the BLAS's, chosen per step by :class:`ThreadPolicy` unless fixed.

By default (``FASTOPT_NUM_THREADS`` unset or ``auto``) every network pass and
optimizer step asks the policy how many threads its work should get: one for
small work (a second thread costs more to wake than it saves), and for large
work as many as the cores that other processes leave idle. Two thread pools
waiting for time slices on cores that other processes hold is what made a
training step 10-60x slower on a busy machine; counting the idle cores (from
``/proc/stat``, every 0.2 s) keeps a busy machine's step at its one-thread
speed and a quiet machine's large step parallel. ``set_num_threads(n)``,
``FASTOPT_NUM_THREADS=n`` or ``--threads n`` fix the count instead.
"""
import os
import sys
import time
from typing import Optional, Tuple


def _cython():
    """The Cython backend's thread control (``fastopt._cy._jit``), or None if not built."""
    try:
        from ._cy import _jit
    except ImportError:
        return None
    return _jit


def _numba():
    try:
        import numba
    except ImportError:
        return None
    return numba


def _thread_limit(numba, cy, default=1):
    """The kernels' thread cap: Numba's pool size, else OpenMP's, else *default*."""
    return numba.config.NUMBA_NUM_THREADS if numba else (cy.MAX_THREADS if cy else default)


def _numba_if_loaded():
    """Numba if something imported it already (the policy never imports it: the cython
    and numpy backends start without it)."""
    return sys.modules.get("numba")


def set_num_threads(n):
    """Use *n* threads in the parallel kernels and the BLAS from now on (``"auto"``: the policy).

    Sets Numba's thread count and, where the Cython backend is built, its
    OpenMP thread count, so both compiled backends use *n*; and, like
    ``torch.set_num_threads``, the threads of NumPy's BLAS (through
    threadpoolctl), so that one thread means one thread for the matrix
    products of a training step too. Also settable
    before import with ``NUMBA_NUM_THREADS`` (both backends) or
    ``OMP_NUM_THREADS`` (Cython). Kernels only go parallel above
    ``fastopt.kernels.PARALLEL_THRESHOLD`` elements (per kernel weight).
    ``n="auto"`` hands the choice back to :data:`policy` (the default).
    """
    if n == "auto":
        policy.fixed = None
        policy.applied = None
        return
    set_kernel_threads(n)
    _limit_blas(n)
    policy.fixed = n


def set_kernel_threads(n, *, load_numba=True):
    """Set the compiled backends' kernel threads only (Numba's and OpenMP's counts are
    per Python thread; the BLAS limit of :func:`set_num_threads` is process-wide).
    ``load_numba=False`` leaves Numba alone unless something imported it already."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    numba, cy = (_numba() if load_numba else _numba_if_loaded()), _cython()
    limit = _thread_limit(numba, cy)
    if not 1 <= n <= limit:
        raise ValueError(f"n must be between 1 and {limit}, got {n}")
    if numba:
        numba.set_num_threads(n)
    if cy:
        cy.set_num_threads(n)


_blas_libraries = None


def _limit_blas(n):
    # two thread pools (the kernels' and the BLAS's) on the same cores fight: on a busy
    # 2-core machine a training step took 30-100 ms with both on 2 threads, 0.8 ms with one.
    # The BLAS libraries are looked up once (threadpoolctl's scan of the loaded libraries
    # costs ~3 ms); setting a count is then one C call.
    global _blas_libraries
    if _blas_libraries is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas_libraries = []
        else:
            _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    for library in _blas_libraries:
        library.set_num_threads(n)


def get_num_threads():
    """Threads the parallel kernels of the active backend use now (1 for numpy)."""
    from . import _backend

    try:
        active = _backend.get_backend()
    except (ImportError, ValueError):
        active = None
    if active == "numpy":
        return 1
    if active == "cython":
        return _cython().get_num_threads()
    numba = _numba()
    return numba.get_num_threads() if numba else 1


def parse_thread_count(text, where):
    """``"auto"`` or a positive int from user text; ValueError naming *where* otherwise."""
    value = str(text).strip()
    if value.lower() == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"{where} must be a positive integer or 'auto', got {text!r}") from None
    if n < 1:
        raise ValueError(f"{where} must be a positive integer or 'auto', got {text!r}")
    return n


def available_cores():
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _CpuClock:
    """Busy CPU time of the cores this process may use, from ``/proc/stat`` (Linux)."""

    def __init__(self):
        try:
            cpus = os.sched_getaffinity(0)
        except (AttributeError, OSError):
            cpus = None
        self._names = None if cpus is None else {f"cpu{c}".encode() for c in cpus}
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.works = self.busy_seconds() is not None

    def busy_seconds(self):
        """CPU seconds spent busy on our cores since boot (all processes), or None."""
        try:
            with open("/proc/stat", "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            return None
        busy = 0
        for line in lines[1:]:
            fields = line.split()
            if not fields or not fields[0].startswith(b"cpu"):
                break
            if self._names is None or fields[0] in self._names:
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[1:9])
                busy += user + nice + system + irq + softirq + steal
        return busy / self._tick

    def sample(self):
        """(wall clock, busy CPU seconds of our cores, this process's CPU seconds), now."""
        return time.monotonic(), self.busy_seconds(), time.process_time()

    @staticmethod
    def other_cores(start, end):
        """Cores' worth of CPU other processes used between two :meth:`sample` results, or None."""
        (t0, busy0, own0), (t1, busy1, own1) = start, end
        if busy0 is None or busy1 is None or t1 <= t0:
            return None
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)


class ThreadPolicy:
    """How many threads a piece of work gets (the default, ``FASTOPT_NUM_THREADS=auto``).

    ``threads_for(work)``: 1 when *work* (multiply-adds of a network pass, float64
    ones counted twice) is under :attr:`parallel_work`;
    otherwise the cores that other processes leave idle, at least 1. Other
    processes' load is the busy CPU time of our cores minus our own, sampled at
    most every :attr:`interval` seconds (reading ``/proc/stat`` costs ~20 µs).
    The chosen count is applied to Numba, OpenMP and the BLAS when it changes.

    Measured on a 2-core AMD EPYC VM (``benchmarks/thread_policy.py``; README,
    *Threads*): 2 threads ran a 784-1000×3-10 step at batch 256 (205 M
    multiply-adds) 1.7× faster, the book scripts' float64 step at batch 128
    (2 × 14 M) 1.37× faster, and the float32 book network at batch 100 (12 M) no
    faster; with every core busy elsewhere, 2 threads made steps 1.2-2.2× slower
    than 1 (and up to 60× in bursts).
    """

    #: work (float32 multiply-adds) from which a second thread pays off
    parallel_work = 2 ** 23
    #: seconds between load samples
    interval = 0.2

    # What a new policy starts from (immutable, so instances share nothing; each sets its own).
    #: an int once set_num_threads / FASTOPT_NUM_THREADS fixes the count
    fixed: Optional[int] = None
    applied: Optional[int] = None
    cores: Optional[int] = None
    _clock: Optional[_CpuClock] = None
    _last: Optional[Tuple[float, float, float]] = None
    _idle: Optional[int] = None
    _large = False
    _numba_loaded = False

    def _start(self):
        cores = available_cores()
        self.cores = max(1, min(cores, _thread_limit(_numba_if_loaded(), _cython(), cores)))
        self._clock = _CpuClock()
        self._last = self._clock.sample()
        self._idle = self.cores - _running_others(self.cores)

    def idle_cores(self):
        """Cores other processes left idle over the last interval (a float)."""
        if time.monotonic() - self._last[0] >= self.interval:
            sample = self._clock.sample()
            others = _CpuClock.other_cores(self._last, sample)
            if others is not None:
                self._idle = self.cores - others
            self._last = sample
        return self._idle

    def threads_for(self, work):
        """The thread count for *work*, applied to the kernels and the BLAS if it changed."""
        if self.fixed is not None:
            return self.fixed
        if self.cores is None:
            self._start()
        self._large = work >= self.parallel_work
        return self._apply()

    def keep(self, work):
        """Threads for work inside a step that a network pass already sized (an optimizer
        step): parallel if *work* is large by itself, else the count the pass chose (so
        the two calls of a step do not switch counts back and forth), or none at all
        when nothing chose one yet: small kernels run on one thread whatever the count,
        and a first step then skips starting the thread pool (~25 ms)."""
        if self.fixed is not None:
            return self.fixed
        if work >= self.parallel_work:
            return self.threads_for(work)
        if self.applied is None:
            return None
        return self._apply()

    def _apply(self):
        n = 1
        if self._large and self.cores > 1:
            # a core counts when at least 3/4 of it is idle: a second thread that has to
            # wait for its time slice costs far more than it gains (measured 1.2-40x)
            n = max(1, min(self.cores, int(self.idle_cores() + 0.25)))
        numba_loaded = "numba" in sys.modules  # Numba imported since: give it the count too
        if n != self.applied or numba_loaded != self._numba_loaded:
            set_kernel_threads(n, load_numba=False)
            _limit_blas(n)
            self.applied, self._numba_loaded = n, numba_loaded
        return n


def _running_others(cores):
    """Other runnable threads right now (``/proc/loadavg``), capped at *cores*: a first guess."""
    try:
        with open("/proc/loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return min(cores, max(0, running - 1))


#: the process's thread policy (``FASTOPT_NUM_THREADS`` fixes its count at import)
policy = ThreadPolicy()


def apply_environment():
    """Read ``FASTOPT_NUM_THREADS`` (``auto`` or a positive int); ValueError naming it if bad."""
    value = os.environ.get("FASTOPT_NUM_THREADS", "auto")
    n = parse_thread_count(value, "FASTOPT_NUM_THREADS")
    if n != "auto":
        set_num_threads(min(n, max_threads()))


def max_threads():
    """The most threads the kernels can use (Numba's pool size, or OpenMP's)."""
    return _thread_limit(_numba(), _cython())
