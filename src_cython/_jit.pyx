# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Thread control and parallel settings of the Cython backend (twin of
``fastopt.kernels._jit``).

The kernels run a ``prange`` (OpenMP) over fixed ``CHUNK``-sized work items
when a buffer has at least ``PARALLEL_THRESHOLD[weight]`` elements and more
than one thread is allowed. The thread count is OpenMP's ``nthreads-var``:
like Numba's, it is per Python thread; ``fastopt.set_num_threads`` sets both.
"""
include "_jit.pxi"

cdef extern from *:
    """
    /* The best instruction-set level of setup.py's ISA_LEVELS this CPU (and OS) runs:
       0 baseline, 1 avx2, 2 avx512. The features are those whose flags each level is
       built with; __builtin_cpu_supports also checks that the OS saves the AVX state. */
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    static int fastopt_isa_level(void) {
        __builtin_cpu_init();
        if (!(__builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2")
              && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
              && __builtin_cpu_supports("bmi2")))
            return 0;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vl"))
            return 2;
        return 1;
    }
    #else
    static int fastopt_isa_level(void) { return 0; }
    #endif
    """
    int fastopt_isa_level() noexcept nogil

#: Whether this build has OpenMP (otherwise every kernel runs on one thread).
HAVE_OPENMP = bool(fastopt_have_openmp())
#: Elements from which a kernel runs multi-threaded, by kernel weight (the
#: Numba backend's values; ``FASTOPT_PARALLEL_THRESHOLD`` overrides both).
HEAVY_THRESHOLD = HEAVY
LIGHT_THRESHOLD = LIGHT
PARALLEL_THRESHOLD = {"heavy": HEAVY_THRESHOLD, "light": LIGHT_THRESHOLD}
#: Elements per parallel work item.
CHUNK_SIZE = CHUNK


def cpu_isa_level():
    """The best instruction-set level this CPU runs: 0 baseline, 1 AVX2/FMA, 2 AVX-512
    (see ``fastopt._cy.isa``; always 0 off x86-64 or without GCC/Clang).

    Returns
    -------
    int
    """
    return fastopt_isa_level()


def _initial_threads():
    n = fastopt_max_threads()
    env = _os.environ.get("NUMBA_NUM_THREADS")  # one setting for both compiled backends
    if env and env.strip().isdigit() and int(env) >= 1:
        n = int(env)
    return n


#: Threads available at import (OMP_NUM_THREADS, else NUMBA_NUM_THREADS, else
#: the number of processors): the upper bound of :func:`set_num_threads`.
MAX_THREADS = _initial_threads() if HAVE_OPENMP else 1
if HAVE_OPENMP and MAX_THREADS != fastopt_max_threads():
    fastopt_set_threads(MAX_THREADS)


def set_num_threads(int n):
    """Use *n* OpenMP threads in this backend's parallel kernels (this Python thread).

    Parameters
    ----------
    n : int
        1 <= n <= ``MAX_THREADS`` (validated by ``fastopt.set_num_threads``).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    fastopt_set_threads(n)


def get_num_threads():
    """Threads the parallel kernels use now (1 without OpenMP).

    Returns
    -------
    int
    """
    return fastopt_max_threads()
