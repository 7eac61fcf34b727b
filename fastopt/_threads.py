"""Thread count of the parallel kernels (Numba's thread pool)."""


def set_num_threads(n):
    """Use *n* threads in the parallel kernels (1 <= n <= the machine's count).

    Also settable before import with ``NUMBA_NUM_THREADS``. Kernels only go
    parallel above ``fastopt.kernels.PARALLEL_THRESHOLD`` elements (per kernel weight).
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    import numba

    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"n must be between 1 and {numba.config.NUMBA_NUM_THREADS}, got {n}")
    numba.set_num_threads(n)


def get_num_threads():
    """Threads the parallel kernels use now (1 without numba)."""
    try:
        import numba
    except ImportError:
        return 1
    return numba.get_num_threads()
