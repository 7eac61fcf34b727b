# Shared by every kernel module of the Cython backend (``include "_jit.pxi"``):
# the twin of ``fastopt/kernels/_jit.py``. Serial/parallel drivers, the
# parallel thresholds, the fixed chunk boundaries and the gradient transform.
#
# Every kernel is a range function ``_name(lo, hi, p, g, ...)`` over raw
# pointers (GCC vectorises the loop; it checks pointer overlap at run time).
# Buffers of at least the kernel's threshold run as a ``prange`` over
# ``CHUNK``-sized work items with fixed boundaries, so results never depend on
# the number of threads.
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs, fabsf, sqrt, sqrtf
from libc.stdint cimport uint64_t

import os as _os

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static inline int fastopt_max_threads(void) { return omp_get_max_threads(); }
    static inline void fastopt_set_threads(int n) { omp_set_num_threads(n); }
    static inline int fastopt_have_openmp(void) { return 1; }
    #else
    static inline int fastopt_max_threads(void) { return 1; }
    static inline void fastopt_set_threads(int n) { (void)n; }
    static inline int fastopt_have_openmp(void) { return 0; }
    #endif
    """
    int fastopt_max_threads() noexcept nogil
    void fastopt_set_threads(int n) noexcept nogil
    int fastopt_have_openmp() noexcept nogil

# Same values and override as fastopt.kernels._jit (read once per module).
_OVERRIDE = _os.environ.get("FASTOPT_PARALLEL_THRESHOLD")
cdef Py_ssize_t HEAVY = int(_OVERRIDE or 1 << 18)
cdef Py_ssize_t LIGHT = HEAVY
cdef enum:
    CHUNK = 8192  # 2**13: elements per parallel work item (as fastopt.kernels._jit)


cdef inline bint go_parallel(Py_ssize_t n, Py_ssize_t threshold) noexcept nogil:
    """Parallel above the threshold, when more than one OpenMP thread is allowed."""
    return n >= threshold and fastopt_max_threads() > 1


cdef inline Py_ssize_t n_chunks(Py_ssize_t n) noexcept nogil:
    return (n + CHUNK - 1) // CHUNK


cdef inline floating fsqrt(floating x) noexcept nogil:
    # sqrtf for float32: sqrt() would promote to double and round twice.
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating ffabs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


# The gradient transform, same order as fastopt.reference._grad: decoupled
# decay of p, then x = g*gscale, clamp to [-clip, clip], x + wd*p. Written as
# selects on loop-invariant tests, not branches, so the loops vectorise (the
# compiler computes both sides and blends; the chosen value is the same).
cdef inline floating decayed(floating p, floating decay) noexcept nogil:
    return p * decay if decay != 1 else p


cdef inline floating transformed(floating x, floating p, floating gscale, floating clip,
                                 floating wd) noexcept nogil:
    # clip <= 0 (off) clamps to +-inf, which changes nothing (NaN included): no
    # if-block, so the compiler needs no loop unswitching to vectorise
    cdef floating bound = clip if clip > 0 else <floating>INFINITY
    x = x * gscale if gscale != 1 else x
    x = bound if x > bound else x
    x = -bound if x < -bound else x
    return x + wd * p if wd != 0 else x
