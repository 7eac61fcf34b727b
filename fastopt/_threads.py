"""Thread count of the parallel kernels (Numba's thread pool, and OpenMP's for
the Cython backend)."""


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


def set_num_threads(n):
    """Use *n* threads in the parallel kernels (1 <= n <= the machine's count).

    Sets Numba's thread count and, where the Cython backend is built, its
    OpenMP thread count, so both compiled backends use *n*; and, like
    ``torch.set_num_threads``, the threads of NumPy's BLAS (through
    threadpoolctl), so that one thread means one thread for the matrix
    products of a training step too. Also settable
    before import with ``NUMBA_NUM_THREADS`` (both backends) or
    ``OMP_NUM_THREADS`` (Cython). Kernels only go parallel above
    ``fastopt.kernels.PARALLEL_THRESHOLD`` elements (per kernel weight).
    """
    set_kernel_threads(n)
    _limit_blas(n)


def set_kernel_threads(n):
    """Set the compiled backends' kernel threads only (Numba's and OpenMP's counts are
    per Python thread; the BLAS limit of :func:`set_num_threads` is process-wide)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    numba, cy = _numba(), _cython()
    limit = numba.config.NUMBA_NUM_THREADS if numba else (cy.MAX_THREADS if cy else 1)
    if not 1 <= n <= limit:
        raise ValueError(f"n must be between 1 and {limit}, got {n}")
    if numba:
        numba.set_num_threads(n)
    if cy:
        cy.set_num_threads(n)


def _limit_blas(n):
    # two thread pools (the kernels' and the BLAS's) on the same cores fight: on a busy
    # 2-core machine a training step took 30-100 ms with both on 2 threads, 0.8 ms with one
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=n, user_api="blas")


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
