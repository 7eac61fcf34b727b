"""Fused batch-normalisation kernels (Numba). Twins: ``fastopt.reference.batchnorm``.

The numerics (float64 statistics; Welford per block of ``ROW_BLOCK`` rows, blocks
and columns merged by Chan's formula; the closed-form backward) are described in
the twin's docstring. The code below performs the same operations in the same
order, so the two agree bit for bit, at any thread count.

Rows are contiguous, so every loop walks a row and keeps one float64
accumulator per column: the inner loop runs along the row and vectorises. The
(N, C, L) kernels take their statistics over the (N, C·L) view the same way,
then merge the L columns of each channel. Threads own whole blocks of rows,
never columns. Measured here (2 cores, float32, forward + backward): splitting
columns gained nothing at 256x1024 and 1000x784 and lost 2-4x at 128x100 (each
thread strides through every page and shares a cache line per row with its
neighbour); splitting rows gains 2.0x at 256x1024 and 1.9x at 1000x784.
A parallel kernel forks twice (statistics, then normalisation): back to back
it pays from about 2**16 elements (a loss of 15 % at 2**15), but between the
matrix products of a training step the pool starts cold and shares the cores
with the BLAS threads, so ``PARALLEL_ELEMENTS`` is 2**18, the optimizer
kernels' threshold (see ``fastopt.kernels._jit``).

Every kernel takes an optional float64 scratch ``work`` last (see
``batchnorm_work_size`` / ``batchnorm_channel_work_size``); a layer keeps one and
passes it, else each call allocates one. Each kernel exposes ``.serial`` and
``.parallel`` (same arguments) for tests and benchmarks.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Protocol, Tuple, TypeVar, cast

import numba
import numpy as np
from numba import prange

from ..reference._types import F64Array, FloatArray
from ..reference.batchnorm import (ROW_BLOCK, batchnorm_channel_work_size, batchnorm_work_size,
                                   scratch)
from ._jit import HEAVY_THRESHOLD, copied, jit, jit_parallel

#: Elements (N·D or N·C·L) from which the kernels run multi-threaded (when
#: there are at least two row blocks): the optimizer kernels' threshold, so
#: ``FASTOPT_PARALLEL_THRESHOLD`` overrides it too.
PARALLEL_ELEMENTS = HEAVY_THRESHOLD

_U0 = np.uint64(0)
_Fn = Callable[..., None]


# ------------------------------------------------------------ building blocks


@jit
def _nblocks(n):
    return (n + ROW_BLOCK - 1) // ROW_BLOCK


@jit
def _rows_of(b, n):
    return b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK)


@jit
def _zero(a, b):
    """a[:] = 0 and b[:] = 0 (float64, one length)."""
    for j in range(_U0, np.uint64(a.shape[0])):
        a[j] = 0.0
        b[j] = 0.0


@jit
def _block(b, x, part):
    """Columns (uint64) and rows r0:r1 of block b of x; part[b]'s two rows, set to zero."""
    r0, r1 = _rows_of(b, x.shape[0])
    p0 = part[b, 0]
    p1 = part[b, 1]
    _zero(p0, p1)
    return np.uint64(x.shape[1]), r0, r1, p0, p1


@jit
def _welford_block(b, x, part):
    """Welford over the rows of block b, from zero, into part[b] = (mean, M2)."""
    d, r0, r1, pm, pq = _block(b, x, part)
    for r in range(r0, r1):
        w = 1.0 / (r - r0 + 1)
        xr = x[r]
        for j in range(_U0, d):
            v = np.float64(xr[j])
            m = pm[j]
            delta = v - m
            m = m + delta * w
            pm[j] = m
            pq[j] = pq[j] + delta * (v - m)


@jit
def _merge_blocks(n, part, mean, m2):
    """Chan's merge of the blocks' (mean, M2), in block order, from zero."""
    d = np.uint64(mean.shape[0])
    _zero(mean, m2)
    na = 0
    for b in range(part.shape[0]):
        cnt = min(n - b * ROW_BLOCK, ROW_BLOCK)
        tot = na + cnt
        w = cnt / tot
        f = (na * cnt) / tot
        pm = part[b, 0]
        pq = part[b, 1]
        for j in range(_U0, d):
            delta = pm[j] - mean[j]
            mean[j] = mean[j] + delta * w
            m2[j] = (m2[j] + pq[j]) + (delta * delta) * f
        na = tot


@jit
def _merge_columns(n, length, colmean, colm2, mean, m2):
    """Per channel, Chan's merge of its L columns (N values each) in column order.

    Column-major over the channels, so the channels' chains run side by side.
    """
    c = np.uint64(mean.shape[0])
    _zero(mean, m2)
    for i in range(length):
        w = 1.0 / (i + 1)
        f = (i * n) / (i + 1)
        for ch in range(_U0, c):
            k = ch * np.uint64(length) + np.uint64(i)
            delta = colmean[k] - mean[ch]
            mean[ch] = mean[ch] + delta * w
            m2[ch] = (m2[ch] + colm2[k]) + (delta * delta) * f


@jit
def _finish(count, var, inv_std, eps):
    """var <- M2 / count;  inv_std = 1/sqrt(var + eps)."""
    for j in range(_U0, np.uint64(var.shape[0])):
        v = var[j] / count
        var[j] = v
        inv_std[j] = 1.0 / np.sqrt(v + eps)


@jit
def _sums_block(b, dout, xhat, part):
    """Σdout and Σdout·xhat over the rows of block b, from zero, into part[b]."""
    d, r0, r1, sb, sg = _block(b, dout, part)
    for r in range(r0, r1):
        dr = dout[r]
        hr = xhat[r]
        for j in range(_U0, d):
            g = np.float64(dr[j])
            sb[j] = sb[j] + g
            sg[j] = sg[j] + g * np.float64(hr[j])


@jit
def _add_blocks(part, sb, sg):
    """Add the blocks' sums in block order, from zero."""
    d = np.uint64(sb.shape[0])
    _zero(sb, sg)
    for b in range(part.shape[0]):
        pb = part[b, 0]
        pg = part[b, 1]
        for j in range(_U0, d):
            sb[j] = sb[j] + pb[j]
            sg[j] = sg[j] + pg[j]


@jit
def _grad_coefs(count, gamma, inv_std, dgamma, dbeta, coef):
    """coef = (Σdout, Σdout·xhat) on entry; writes dbeta, dgamma, then
    coef = (Σdout/count, Σdout·xhat/count, gamma·inv_std)."""
    sb = coef[0]
    sg = coef[1]
    k = coef[2]
    for j in range(_U0, np.uint64(sb.shape[0])):
        dbeta[j] = sb[j]
        dgamma[j] = sg[j]
        sb[j] = sb[j] / count
        sg[j] = sg[j] / count
        k[j] = np.float64(gamma[j]) * inv_std[j]


# ---------------------------------------------------------------- (N, D)


@jit
def _normalise_rows(r0, r1, x, gamma, beta, out, xhat, mean, inv_std):
    d = np.uint64(x.shape[1])
    for r in range(r0, r1):
        xr = x[r]
        hr = xhat[r]
        outr = out[r]
        for j in range(_U0, d):
            xh = (np.float64(xr[j]) - mean[j]) * inv_std[j]
            hr[j] = xh
            outr[j] = np.float64(gamma[j]) * xh + np.float64(beta[j])


@jit
def _eval_inv(running_var, eps, inv):
    for j in range(_U0, np.uint64(inv.shape[0])):
        inv[j] = 1.0 / np.sqrt(np.float64(running_var[j]) + eps)


@jit
def _eval_rows(r0, r1, x, gamma, beta, out, running_mean, inv):
    d = np.uint64(x.shape[1])
    for r in range(r0, r1):
        xr = x[r]
        outr = out[r]
        for j in range(_U0, d):
            xh = (np.float64(xr[j]) - np.float64(running_mean[j])) * inv[j]
            outr[j] = np.float64(gamma[j]) * xh + np.float64(beta[j])


@jit
def _dx_rows(r0, r1, dout, xhat, dx, coef):
    d = np.uint64(dout.shape[1])
    mb = coef[0]
    mg = coef[1]
    k = coef[2]
    for r in range(r0, r1):
        dr = dout[r]
        hr = xhat[r]
        dxr = dx[r]
        for j in range(_U0, d):
            dxr[j] = k[j] * ((np.float64(dr[j]) - mb[j]) - np.float64(hr[j]) * mg[j])


@jit
def _parts(work, n, d):
    """work -> part (blocks, 2, D) and coef (3, D)."""
    nb = _nblocks(n)
    part = work[:2 * nb * d].reshape((nb, 2, d))
    coef = work[2 * nb * d:(2 * nb + 3) * d].reshape((3, d))
    return part, coef


@jit
def _one(n):
    return 1


@jit
def _all_rows(b, n):
    return 0, n


# A kernel's row phase (normalise, dx) runs over ``_pieces(n)`` pieces of rows,
# ``_piece(b, n)``: the row blocks in parallel, all rows at once serially (a
# call per block cost the serial kernels 0.1-0.5 us at 100x100). Each row's
# operations are the same either way, so are the bits.
_pieces, _piece = _nblocks, _rows_of


def _serial_and_parallel(fn: _Fn, name: Optional[str] = None, **bound: Any) -> Tuple[_Fn, _Fn]:
    """*fn* (a plain function over blocks of rows in ``prange``) jitted twice: serially
    (``prange`` runs as ``range``; the row phase in one piece) and in parallel, as
    ``<name>_serial`` and ``<name>_parallel`` (*name* defaults to *fn*'s), with *bound*
    replacing the functions it calls.
    """
    name = name or fn.__name__
    return (jit(copied(fn, f"{name}_serial", _pieces=_one, _piece=_all_rows, **bound)),
            jit_parallel(copied(fn, f"{name}_parallel", **bound)))


def _forward_train(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work):
    n, d = x.shape
    part, _ = _parts(work, n, d)
    for b in prange(part.shape[0]):
        _welford_block(b, x, part)
    _merge_blocks(n, part, mean, var)
    _finish(n, var, inv_std, eps)
    for b in prange(_pieces(n)):
        r0, r1 = _piece(b, n)
        _normalise_rows(r0, r1, x, gamma, beta, out, xhat, mean, inv_std)


def _forward_eval(x, gamma, beta, out, running_mean, running_var, eps, work):
    """Over (N, D) rows; the (N, C, L) variant binds ``_eval_rows`` to ``_channel_eval_rows``."""
    n = x.shape[0]
    inv = work[:x.shape[1]]
    _eval_inv(running_var, eps, inv)
    for b in prange(_pieces(n)):
        r0, r1 = _piece(b, n)
        _eval_rows(r0, r1, x, gamma, beta, out, running_mean, inv)


def _backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work):
    n, d = dout.shape
    part, coef = _parts(work, n, d)
    for b in prange(part.shape[0]):
        _sums_block(b, dout, xhat, part)
    _add_blocks(part, coef[0], coef[1])
    _grad_coefs(n, gamma, inv_std, dgamma, dbeta, coef)
    for b in prange(_pieces(n)):
        r0, r1 = _piece(b, n)
        _dx_rows(r0, r1, dout, xhat, dx, coef)


_forward_train_serial, _forward_train_parallel = _serial_and_parallel(_forward_train)
_forward_eval_serial, _forward_eval_parallel = _serial_and_parallel(_forward_eval)
_backward_serial, _backward_parallel = _serial_and_parallel(_backward)


# ---------------------------------------------------------------- (N, C, L)


@jit
def _channel_normalise_rows(r0, r1, x, gamma, beta, out, xhat, mean, inv_std):
    c = x.shape[1]
    length = np.uint64(x.shape[2])
    for r in range(r0, r1):
        for ch in range(c):
            m = mean[ch]
            s = inv_std[ch]
            g = np.float64(gamma[ch])
            bb = np.float64(beta[ch])
            xr = x[r, ch]
            hr = xhat[r, ch]
            outr = out[r, ch]
            for i in range(_U0, length):
                xh = (np.float64(xr[i]) - m) * s
                hr[i] = xh
                outr[i] = g * xh + bb


@jit
def _channel_eval_rows(r0, r1, x, gamma, beta, out, running_mean, inv):
    c = x.shape[1]
    length = np.uint64(x.shape[2])
    for r in range(r0, r1):
        for ch in range(c):
            m = np.float64(running_mean[ch])
            s = inv[ch]
            g = np.float64(gamma[ch])
            bb = np.float64(beta[ch])
            xr = x[r, ch]
            outr = out[r, ch]
            for i in range(_U0, length):
                xh = (np.float64(xr[i]) - m) * s
                outr[i] = g * xh + bb


@jit
def _channel_dx_rows(r0, r1, dout, xhat, dx, coef):
    c = dout.shape[1]
    length = np.uint64(dout.shape[2])
    for r in range(r0, r1):
        for ch in range(c):
            mb = coef[0, ch]
            mg = coef[1, ch]
            k = coef[2, ch]
            dr = dout[r, ch]
            hr = xhat[r, ch]
            dxr = dx[r, ch]
            for i in range(_U0, length):
                dxr[i] = k * ((np.float64(dr[i]) - mb) - np.float64(hr[i]) * mg)


@jit
def _channel_parts(work, n, c, length):
    """work -> part (blocks, 2, C·L), col (2, C·L), coef (3, C)."""
    nb = _nblocks(n)
    cl = c * length
    part = work[:2 * nb * cl].reshape((nb, 2, cl))
    col = work[2 * nb * cl:(2 * nb + 2) * cl].reshape((2, cl))
    coef = work[(2 * nb + 2) * cl:(2 * nb + 2) * cl + 3 * c].reshape((3, c))
    return part, col, coef


@jit
def _channel_stats(n, length, part, col, mean, var, inv_std, eps):
    _merge_blocks(n, part, col[0], col[1])
    _merge_columns(n, length, col[0], col[1], mean, var)
    _finish(n * length, var, inv_std, eps)


def _channel_forward_train(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work):
    n, c, length = x.shape
    x2 = x.reshape((n, c * length))
    part, col, _ = _channel_parts(work, n, c, length)
    for b in prange(part.shape[0]):
        _welford_block(b, x2, part)
    _channel_stats(n, length, part, col, mean, var, inv_std, eps)
    for b in prange(_pieces(n)):
        r0, r1 = _piece(b, n)
        _channel_normalise_rows(r0, r1, x, gamma, beta, out, xhat, mean, inv_std)


_channel_forward_train_serial, _channel_forward_train_parallel = _serial_and_parallel(
    _channel_forward_train)
_channel_forward_eval_serial, _channel_forward_eval_parallel = _serial_and_parallel(
    _forward_eval, "_channel_forward_eval", _eval_rows=_channel_eval_rows)


@jit
def _channel_sums(n, length, part, col, gamma, inv_std, dgamma, dbeta, coef):
    _add_blocks(part, col[0], col[1])
    c = np.uint64(coef.shape[1])
    sb = coef[0]
    sg = coef[1]
    _zero(sb, sg)
    for i in range(length):  # column-major: the channels' sums run side by side
        for ch in range(_U0, c):
            k = ch * np.uint64(length) + np.uint64(i)
            sb[ch] = sb[ch] + col[0, k]
            sg[ch] = sg[ch] + col[1, k]
    _grad_coefs(n * length, gamma, inv_std, dgamma, dbeta, coef)


def _channel_backward(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work):
    n, c, length = dout.shape
    d2 = dout.reshape((n, c * length))
    h2 = xhat.reshape((n, c * length))
    part, col, coef = _channel_parts(work, n, c, length)
    for b in prange(part.shape[0]):
        _sums_block(b, d2, h2, part)
    _channel_sums(n, length, part, col, gamma, inv_std, dgamma, dbeta, coef)
    for b in prange(_pieces(n)):
        r0, r1 = _piece(b, n)
        _channel_dx_rows(r0, r1, dout, xhat, dx, coef)


_channel_backward_serial, _channel_backward_parallel = _serial_and_parallel(_channel_backward)


# ---------------------------------------------------------------- public API
# The documented functions carry their twins' parameters and types (see
# fastopt.reference._types): the kernel spec's tests compare their parameter names.

_F = TypeVar("_F", bound=_Fn)


class _Public(Protocol):
    """A public kernel: the auto variant, with its serial and parallel variants and the
    documented function it stands for."""

    serial: _Fn
    parallel: _Fn
    __wrapped__: _Fn

    def __call__(self, *args: Any, work: Optional[F64Array] = None) -> None: ...


def _variants(serial_fn: _Fn, parallel_fn: _Fn, nargs: int,
              work_size: Callable[..., int]) -> Tuple[_Fn, _Fn, _Fn]:
    """Python-level kernel (auto, serial, parallel) over jitted serial/parallel bodies."""

    def variant(choose: Callable[[FloatArray], _Fn]) -> _Fn:
        def kernel(*args: Any, work: Optional[F64Array] = None) -> None:
            if len(args) == nargs + 1:
                # rebinding args to a list, as before: a new name would cost a store per call
                *args, work = args  # type: ignore[assignment]
            x = args[0]
            choose(x)(*args, scratch(work, work_size(*x.shape)))
        return kernel

    def auto(x: FloatArray) -> _Fn:
        n = x.shape[0]
        parallel = (x.size >= PARALLEL_ELEMENTS and n > ROW_BLOCK
                    and numba.get_num_threads() > 1)  # the last costs 0.5 us
        return parallel_fn if parallel else serial_fn

    return variant(auto), variant(lambda x: serial_fn), variant(lambda x: parallel_fn)


def _public(fn: _F, serial_fn: _Fn, parallel_fn: _Fn, nargs: int,
            work_size: Callable[..., int]) -> _F:
    """The auto variant, standing for *fn*: its name, docstring, signature and type."""
    auto, serial, parallel = _variants(serial_fn, parallel_fn, nargs, work_size)
    auto.__name__ = auto.__qualname__ = fn.__name__
    auto.__doc__ = fn.__doc__
    public = cast(_Public, auto)  # the attributes below make it one
    public.__wrapped__ = fn  # inspect.signature shows the documented signature
    public.serial, public.parallel = serial, parallel
    return cast(_F, public)


def batchnorm_forward_train(x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
                            xhat: FloatArray, mean: F64Array, var: F64Array, inv_std: F64Array,
                            eps: float, work: Optional[F64Array] = None) -> None:
    """Training forward over (N, D): per-column batch statistics,
    xhat = (x - mean)·inv_std, out = gamma·xhat + beta.

    x, out, xhat: (N, D) C-contiguous, one float dtype (float32 or float64);
    gamma, beta: (D,) of that dtype; mean, var (biased: M2/N) and
    inv_std = 1/sqrt(var + eps): float64 (D,), written. eps: float.
    work: optional float64 scratch of ``batchnorm_work_size(N, D)`` elements.
    """


def batchnorm_forward_eval(x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
                           running_mean: FloatArray, running_var: FloatArray, eps: float,
                           work: Optional[F64Array] = None) -> None:
    """Inference forward over (N, D):
    out = gamma·((x - running_mean)·(1/sqrt(running_var + eps))) + beta, in float64.

    running_mean, running_var: (D,), any float dtype. work: optional float64 scratch.
    """


def batchnorm_backward(dout: FloatArray, xhat: FloatArray, gamma: FloatArray, inv_std: F64Array,
                       dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
                       work: Optional[F64Array] = None) -> None:
    """Backward over (N, D): dbeta = Σdout, dgamma = Σdout·xhat (float64 sums,
    rounded once to their dtype), and
    dx = (gamma·inv_std)·((dout - Σdout/N) - xhat·(Σdout·xhat/N)).

    inv_std: the float64 array the training forward wrote. work: optional float64 scratch.
    """


def batchnorm_channel_forward_train(x: FloatArray, gamma: FloatArray, beta: FloatArray,
                                    out: FloatArray, xhat: FloatArray, mean: F64Array,
                                    var: F64Array, inv_std: F64Array, eps: float,
                                    work: Optional[F64Array] = None) -> None:
    """Training forward over (N, C, L), one statistic per channel (axes 0 and 2).

    x, out, xhat: (N, C, L) C-contiguous, one float dtype (pass a (N, C, H, W)
    array as ``x.reshape(N, C, -1)``, a view); gamma, beta: (C,); mean, var
    (biased: M2/(N·L)), inv_std: float64 (C,), written. work: optional float64
    scratch of ``batchnorm_channel_work_size(N, C, L)`` elements.
    """


def batchnorm_channel_forward_eval(x: FloatArray, gamma: FloatArray, beta: FloatArray,
                                   out: FloatArray, running_mean: FloatArray,
                                   running_var: FloatArray, eps: float,
                                   work: Optional[F64Array] = None) -> None:
    """Inference forward over (N, C, L) with per-channel running statistics."""


def batchnorm_channel_backward(dout: FloatArray, xhat: FloatArray, gamma: FloatArray,
                               inv_std: F64Array, dx: FloatArray, dgamma: FloatArray,
                               dbeta: FloatArray, work: Optional[F64Array] = None) -> None:
    """Backward over (N, C, L): per-channel dbeta, dgamma (float64 sums) and dx,
    dx = (gamma·inv_std)·((dout - Σdout/(N·L)) - xhat·(Σdout·xhat/(N·L)))."""


batchnorm_forward_train = _public(batchnorm_forward_train, _forward_train_serial,
                                  _forward_train_parallel, 9, batchnorm_work_size)
batchnorm_forward_eval = _public(batchnorm_forward_eval, _forward_eval_serial,
                                 _forward_eval_parallel, 7, batchnorm_work_size)
batchnorm_backward = _public(batchnorm_backward, _backward_serial, _backward_parallel, 7,
                             batchnorm_work_size)
batchnorm_channel_forward_train = _public(
    batchnorm_channel_forward_train, _channel_forward_train_serial,
    _channel_forward_train_parallel, 9, batchnorm_channel_work_size)
batchnorm_channel_forward_eval = _public(
    batchnorm_channel_forward_eval, _channel_forward_eval_serial,
    _channel_forward_eval_parallel, 7, batchnorm_channel_work_size)
batchnorm_channel_backward = _public(
    batchnorm_channel_backward, _channel_backward_serial, _channel_backward_parallel, 7,
    batchnorm_channel_work_size)
