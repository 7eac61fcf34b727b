"""Numba compilation settings and the serial/parallel drivers shared by all kernels.

Every kernel is written as a *range function* ``fn(lo, hi, p, g, ...)`` that
updates elements ``lo:hi``. ``lo`` and ``hi`` arrive as uint64: with a signed
index Numba must handle negative indices, and that select stops LLVM from
vectorising the loop (measured: Adam 2.5 vs 0.6 ns/elem in cache). Small buffers call it once over the whole range;
buffers of at least ``PARALLEL_THRESHOLD`` elements are cut into ``CHUNK``-sized
pieces that ``prange`` spreads over the threads. Elementwise updates give the
same bits either way.

Types: only the Python wrappers and helpers here are annotated; the jitted
functions are not (Numba compiles and caches them as before).
"""
from __future__ import annotations

import os
import types
from typing import (TYPE_CHECKING, Any, Callable, Dict, Literal, Optional, Protocol, TypedDict,
                    cast)

# Idle OpenMP threads of libgomp (Numba's "omp" layer) spin ~300,000 times after
# each parallel kernel by default, starving the BLAS threads of the matmuls that
# run between kernels: training a small MLP on digits took 5.6 s instead of
# 0.63 s on 2 cores. A short spin keeps back-to-back kernels as fast (measured:
# Adam 2**16 29 us either way; OMP_WAIT_POLICY=PASSIVE would cost 93 us). Set
# before Numba starts its thread pool; a value the user set wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from ..kernel_spec import BY_NAME  # noqa: E402

if TYPE_CHECKING:  # importing this module alone imports no more than before
    from ..reference._types import FloatArray


class _JitOptions(TypedDict):
    """Numba options every kernel compiles with (typed so that ``njit(**JIT_OPTIONS)`` checks)."""

    nogil: bool
    error_model: Literal["python", "numpy"]
    cache: bool


class Kernel(Protocol):
    """A kernel made by :func:`elementwise` or :func:`update_kernel`: ``kernel(p, ...)``,
    with the jitted functions it dispatches to and its parallel threshold."""

    range_fn: Callable[..., None]
    parallel_fn: Callable[..., None]
    parallel_threshold: int

    def __call__(self, p: FloatArray, *args: Any) -> None: ...


# error_model="numpy" lets LLVM vectorise divisions (Python's model adds a
# zero-division branch per element); no fastmath: it breaks bit parity with
# NumPy and NaN propagation.
JIT_OPTIONS = _JitOptions(nogil=True, error_model="numpy", cache=True)
jit = njit(**JIT_OPTIONS)

#: Elements from which a kernel runs multi-threaded, by kernel weight. Called
#: back to back with a warm (spinning) pool, Adam-like kernels (sqrt + divide,
#: 0.6 ns/elem) gain from 2**15 and SGD-like ones (0.1 ns/elem) from 2**17 on
#: the 2-core dev machine. In training the pool is cold: each kernel sits
#: between matrix products on NumPy's BLAS threads, and waking the pool and
#: sharing the cores with the BLAS threads cost more than a kernel below
#: 2**18 elements saves. Measured there, 2 threads, float32, train step
#: (forward, backward, Adam) of 784-1000x3-10 (2.8 M params; Adam parallel
#: either way, batch norm over 100x1000 parallel only with the old values):
#: 8.4-9.0 ms with 2**18, 9.9-10.8 ms with 2**15 / 2**17 (1 thread: 13.3).
#: The book's 784-100x5-10 net (120,910 params) then runs every kernel on one
#: thread: 0.76-0.82 ms per step (1 thread: 0.78). ``FASTOPT_PARALLEL_THRESHOLD``
#: overrides both.
_OVERRIDE = os.environ.get("FASTOPT_PARALLEL_THRESHOLD")
HEAVY_THRESHOLD = int(_OVERRIDE or 1 << 18)
LIGHT_THRESHOLD = HEAVY_THRESHOLD  # one value since 2**18; the two names stay for callers
PARALLEL_THRESHOLD: Dict[str, int] = {"heavy": HEAVY_THRESHOLD, "light": LIGHT_THRESHOLD}
#: Elements per parallel work item (a multiple of every SIMD width).
CHUNK = 1 << 13


jit_parallel = njit(parallel=True, **JIT_OPTIONS)


@jit
def n_chunks(n):
    """Number of CHUNK-sized work items covering n elements."""
    return (n + CHUNK - 1) // CHUNK


@jit
def chunk_bounds(c, n):
    """uint64 bounds (lo, hi) of work item c."""
    lo = c * CHUNK
    return np.uint64(lo), np.uint64(min(lo + CHUNK, n))


def _driver(n, p, *args):
    """The parallel driver that :func:`parallel_driver` copies: ``prange`` over chunks."""
    for c in prange(n_chunks(n)):
        lo, hi = chunk_bounds(c, n)
        _range_fn(lo, hi, p, *args)


_range_fn = None  # a copy of _driver finds its range function here, in its own globals


# Numba caches a jitted function under an index file named after its
# __qualname__, its source file and first line, stamped with that file's mtime
# and size; an entry's key hashes the signature, the bytecode and the pickled
# cell contents of a closure. One driver taking the range function as an
# argument cached every kernel under one index, which went stale and failed to
# re-save (numba/numba#9348). A closure over the range function, even renamed,
# does not cache at all: the pickled cell holds the dispatcher's per-process
# random uuid, so the key changes with every process (Numba 0.68, measured: all
# 20 drivers missed in every process, 9.3 s a start, and each run added a .nbc
# file per driver). So
# each driver is a copy of ``_driver`` without a closure (:func:`copied`), the
# range function bound as a global, named ``<range function>_parallel`` and
# attributed to the range function's file and line: an index of its own,
# stamped by the kernel's module, so editing that module recompiles its
# drivers, as when each module wrote its own. Measured with a fresh
# NUMBA_CACHE_DIR, 2 threads, threshold 1024, the 20 drivers (15 kernels and
# the 5 streaming bounds): first process 20 misses, 15 s; second 20 hits,
# 1.3 s; after an edit of momentum.py's _sgd, its 3 drivers missed (and ran
# the new code), the other 17 hit.
def parallel_driver(range_fn: Callable[..., None]) -> Callable[..., None]:
    """The jitted parallel driver ``driver(n, p, ...)`` of *range_fn*.

    It calls ``range_fn(lo, hi, p, ...)`` over ``CHUNK``-sized pieces of
    ``0:n`` spread over the threads by ``prange``.
    """
    source = range_fn.py_func.__code__  # type: ignore[attr-defined]  # a Numba dispatcher
    driver = copied(_driver, f"{range_fn.__name__}_parallel", source, _range_fn=range_fn)
    driver.__module__ = range_fn.__module__
    driver.__doc__ = f"Parallel driver of {range_fn.__name__}: prange over CHUNK-sized pieces."
    return cast(Callable[..., None], jit_parallel(driver))


def copied(fn: Callable[..., Any], name: str, source: Optional[types.CodeType] = None,
           **bound: Any) -> types.FunctionType:
    """A copy of the plain function *fn*, not jitted, for Numba to compile and cache on its own.

    Parameters
    ----------
    fn : function
        The template.
    name : str
        The copy's ``__name__`` and ``__qualname__``: Numba's cache index is named
        after it, so each copy of one template needs its own.
    source : code object, optional
        Whose file and first line the copy is attributed to (default: *fn*'s):
        that file's mtime and size stamp the copy's cache entries.
    **bound
        Globals of the copy that differ from *fn*'s (the functions it calls).
    """
    code = fn.__code__
    if source is not None:
        code = code.replace(co_filename=source.co_filename, co_firstlineno=source.co_firstlineno)
    copy = types.FunctionType(code.replace(co_name=name), {**fn.__globals__, **bound}, name)
    copy.__qualname__ = name
    copy.__module__ = fn.__module__
    return copy


_U0 = np.uint64(0)


def elementwise(range_fn: Callable[..., None], weight: str) -> Kernel:
    """Wrap a range function into a kernel ``kernel(p, g, ...)`` (with its parallel driver).

    *weight* (``"heavy"`` or ``"light"``) picks the size from which it goes parallel.
    """
    threshold = PARALLEL_THRESHOLD[weight]
    parallel_fn = parallel_driver(range_fn)

    def kernel(p: FloatArray, *args: Any) -> None:
        n = p.shape[0]
        if n >= threshold and numba.get_num_threads() > 1:
            parallel_fn(n, p, *args)
        else:
            range_fn(_U0, np.uint64(n), p, *args)

    return _described(kernel, range_fn, parallel_fn, threshold)


def _described(kernel: Callable[..., None], range_fn: Callable[..., None],
               parallel_fn: Callable[..., None], threshold: int) -> Kernel:
    """*kernel* named and documented after its range function, which it exposes."""
    kernel.__name__ = range_fn.__name__.lstrip("_")
    kernel.__qualname__ = kernel.__name__
    kernel.__doc__ = range_fn.__doc__
    described = cast(Kernel, kernel)  # the attributes below make it one
    described.range_fn, described.parallel_fn = range_fn, parallel_fn
    described.parallel_threshold = threshold
    return described


def update_kernel(range_fn: Callable[..., None], weight: Optional[str] = None) -> Kernel:
    """:func:`elementwise` for an optimizer update ``kernel(p, g, ..., gscale, clip, wd, decay)``.

    The kernel's :class:`~fastopt.kernel_spec.KernelSpec` (named after the range
    function) gives its weight (*weight*, if given, must agree) and the scalars
    that fold away when they equal 1: those arrive at the range function as
    ``None``, which then skips dividing by them (exact: x / 1 == x), saving a
    divider pass. The range function takes ``transform`` in place of the last
    four arguments (see :func:`prepared`).
    """
    spec = BY_NAME[range_fn.__name__.lstrip("_")]
    if weight is not None and weight != spec.weight:
        raise ValueError(f"{spec.name}: weight {weight!r}, but the kernel spec says {spec.weight!r}")
    weight = spec.weight
    # positions among (g, state..., scalars...), g at 0
    divisors = [1 + len(spec.state) + spec.scalar_names.index(name) for name in spec.fold_when_one]
    threshold = PARALLEL_THRESHOLD[weight]
    parallel_fn = parallel_driver(range_fn)

    def kernel(p: FloatArray, *args: Any) -> None:
        *fn_args, gscale, clip, wd, decay = args  # fn_args: g, state, scalars (a list)
        transform = (None if gscale == 1 and not clip > 0 and wd == 0 and decay == 1
                     else np.array((gscale, clip, wd, decay), p.dtype))
        for i in divisors:
            if fn_args[i] == 1:
                fn_args[i] = None
        n = p.shape[0]  # elementwise's dispatch, written out: this runs every optimizer step
        if n >= threshold and numba.get_num_threads() > 1:
            parallel_fn(n, p, *fn_args, transform)
        else:
            range_fn(_U0, np.uint64(n), p, *fn_args, transform)

    return _described(kernel, range_fn, parallel_fn, threshold)


# The gradient transform, as scalar functions: LLVM inlines them and keeps the
# loop vectorised (helpers that index arrays, or Numba's inline="always", made
# Adam 5x slower here). Same order as fastopt.reference._grad.
#
# An update kernel's range function takes the four settings as one argument,
# ``transform``: ``None`` when they make the identity (``update_kernel`` decides
# per call), else the array ``[gscale, clip, wd, decay]`` in the parameter's
# dtype (not a tuple: a parallel driver cannot pass a tuple on). Numba compiles
# the ``None`` case as a separate specialisation without the transform, a loop
# that streams like a bare update (Momentum 1e7: 93-96 % of the streaming
# bound, Adam 91-96 %, against 80 % and 86 % when one loop tested the settings:
# LLVM does not unswitch it).
@jit
def prepared(p, g, transform):
    """(parameter after decoupled decay, transformed gradient); (p, g) if *transform* is None."""
    if transform is None:
        return p, g
    gscale, clip, wd, decay = transform[0], transform[1], transform[2], transform[3]
    p = decayed(p, decay)
    return p, transformed(g, p, gscale, clip, wd)


@jit
def decayed(p, decay):
    """The parameter after decoupled weight decay."""
    if decay != 1:
        p = p * decay
    return p


@jit
def transformed(x, p, gscale, clip, wd):
    """The gradient after scaling, clamping and coupled weight decay."""
    if gscale != 1:
        x = x * gscale
    if clip > 0:
        if x > clip:
            x = clip
        elif x < -clip:
            x = -clip
    if wd != 0:
        x = x + wd * p
    return x
