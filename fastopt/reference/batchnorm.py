"""NumPy twins of the fused batch-normalisation kernels (see ``fastopt.kernels.batchnorm``).

Two layouts, three kernels each:

``batchnorm_*``          x of shape (N, D): one statistic per column (the book's
                         layer, which flattens (N, C, H, W) to (N, C·H·W)).
``batchnorm_channel_*``  x of shape (N, C, L), L = H·W: one statistic per channel,
                         over axes 0 and 2 (PyTorch's ``BatchNorm2d``; pass a
                         (N, C, H, W) array as ``x.reshape(N, C, -1)``, a view).

Numerics, the same in both backends operation for operation, so they agree bit
for bit, at any thread count:

* Statistics, sums and the per-element arithmetic are float64 whatever x's
  dtype. ``out``, ``xhat`` and ``dx`` are rounded once to x's dtype when stored;
  ``dgamma``/``dbeta`` once to theirs. The training forward writes ``mean``,
  ``var`` (biased) and ``inv_std`` = 1/sqrt(var + eps) as float64 arrays of length
  D (or C): the caller updates the running statistics from ``var`` (book:
  as is; PyTorch: ``var·N/(N-1)``, or ``·NL/(NL-1)``), the backward takes
  ``inv_std``.
* Column statistics: the rows are cut into blocks of ``ROW_BLOCK`` rows. Within a
  block, Welford's update row by row, vectorised over the columns, from zero:
  ``delta = x - m; m += delta·(1/(i+1)); M2 += delta·(x - m)`` (i: the row's index
  in the block). The blocks are merged in block order by Chan's formula, from
  zero: ``delta = m_b - m; m += delta·(n_b/n); M2 = (M2 + M2_b) + delta²·(n_a·n_b/n)``
  (n_a before, n after). One pass over x for the statistics, one to normalise;
  fixed blocks let threads take whole row blocks without changing a bit.
* Channel statistics: the column statistics of the (N, C·L) view, then per
  channel the same merge over its L columns (N values each) in column order:
  ``w = 1/(i+1)``, ``f = i·N/(i+1)``. Then ``var = M2/(N·L)``.
* Backward sums Σdout and Σdout·xhat: float64, per column in row order within
  a block, blocks added in order from zero; per channel, its columns' sums
  added in column order from zero. With M values per statistic (N, or N·L),
  ``dx = (gamma·inv_std)·((dout - Σdout/M) - xhat·(Σdout·xhat/M))``, the closed
  form ``(gamma·inv_std/M)·(M·dout - Σdout - xhat·Σ(dout·xhat))`` rearranged.

An empty batch (N = 0, or L = 0) gives NaN ``var`` and ``inv_std``; the layer
should reject it first. ``out``/``xhat`` may be ``x`` itself and ``dx`` may be
``dout`` (each element is read before it is written). ``work`` is the Numba
kernels' float64 scratch; the twins accept it and use their own temporaries.
"""
from __future__ import annotations

from typing import Any, Iterator, List, Optional, Sequence, Tuple

import numpy as np
from numpy.typing import NDArray

from ._types import F64Array, FloatArray

#: Rows per statistics block (part of the definition of the float64 results).
ROW_BLOCK = 32

_F64 = np.float64


def batchnorm_work_size(n: int, d: int) -> int:
    """Float64 scratch elements the (N, D) kernels need (any of the three)."""
    return (2 * -(-n // ROW_BLOCK) + 3) * d


def batchnorm_channel_work_size(n: int, c: int, length: int) -> int:
    """Float64 scratch elements the (N, C, L) kernels need (any of the three)."""
    return (2 * -(-n // ROW_BLOCK) + 2) * c * length + 3 * c


def scratch(work: Optional[F64Array], size: int) -> F64Array:
    """*work*, or a new float64 scratch of *size* elements when it is None.

    Raises ``ValueError`` when *work* is shorter than *size* (the compiled
    kernels write through it without bounds checks).
    """
    if work is None:
        return np.empty(size)
    if work.shape[0] < size:
        raise ValueError(f"work has {work.shape[0]} elements; this batch needs {size} "
                         "(batchnorm_work_size / batchnorm_channel_work_size)")
    return work


# ------------------------------------------------------------ building blocks


def _by_row_in_block(arrays: Sequence[NDArray[Any]], n: int
                     ) -> Iterator[Tuple[int, List[NDArray[Any]], Optional[List[NDArray[Any]]]]]:
    """Yield (i, full, tail): the i-th row of every full block, stacked (one row per
    block), and of the last, partial block (None where it has no row i).

    The rows inside a block are sequential, the blocks independent: stepping all
    blocks at once costs ROW_BLOCK NumPy steps instead of N, with the same
    per-element operations as the kernels' row-by-row loop.
    """
    nf, tail = divmod(n, ROW_BLOCK)
    full = [a[:nf * ROW_BLOCK].reshape(nf, ROW_BLOCK, a.shape[1]) for a in arrays]
    rest = [a[nf * ROW_BLOCK:] for a in arrays]
    for i in range(ROW_BLOCK if nf else tail):
        yield (i, [f[:, i] for f in full], [r[i:i + 1] for r in rest] if i < tail else None)


def _column_stats(x2: FloatArray) -> Tuple[F64Array, F64Array]:
    """(mean, M2) per column of a 2-D array: blocked Welford, Chan merge."""
    n, d = x2.shape
    nf = n // ROW_BLOCK
    pm = np.zeros((-(-n // ROW_BLOCK), d))
    pq = np.zeros_like(pm)

    def step(m: F64Array, q: F64Array, xr: NDArray[Any], w: float) -> None:
        xr = xr.astype(_F64, copy=False)
        delta = xr - m
        m += delta * w
        q += delta * (xr - m)

    for i, full, tail in _by_row_in_block([x2], n):
        w = 1.0 / (i + 1)
        step(pm[:nf], pq[:nf], full[0], w)
        if tail is not None:
            step(pm[nf:], pq[nf:], tail[0], w)
    mean = np.zeros(d)
    m2 = np.zeros(d)
    na = 0
    for b in range(pm.shape[0]):
        cnt = min(n - b * ROW_BLOCK, ROW_BLOCK)
        tot = na + cnt
        delta = pm[b] - mean
        mean += delta * (cnt / tot)
        m2 += pq[b]
        m2 += (delta * delta) * ((na * cnt) / tot)
        na = tot
    return mean, m2


def _column_sums(dout2: FloatArray, xhat2: FloatArray) -> Tuple[F64Array, F64Array]:
    """(Σdout, Σdout·xhat) per column: row order within blocks, blocks in order."""
    n, d = dout2.shape
    nf = n // ROW_BLOCK
    pb = np.zeros((-(-n // ROW_BLOCK), d))
    pg = np.zeros_like(pb)
    for _, full, tail in _by_row_in_block([dout2, xhat2], n):
        for rows, bsum, gsum in ((full, pb[:nf], pg[:nf]), (tail, pb[nf:], pg[nf:])):
            if rows is not None:
                dr = rows[0].astype(_F64, copy=False)
                bsum += dr
                gsum += dr * rows[1]
    sb = np.zeros(d)
    sg = np.zeros(d)
    for b in range(pb.shape[0]):
        sb += pb[b]
        sg += pg[b]
    return sb, sg


def _finish(m2: F64Array, count: int, var: F64Array, inv_std: F64Array, eps: float) -> None:
    with np.errstate(invalid="ignore", divide="ignore"):
        var[...] = m2 / count
        inv_std[...] = 1.0 / np.sqrt(var + eps)


def _grad_coefs(sb: F64Array, sg: F64Array, count: int, gamma: FloatArray, inv_std: F64Array,
                dgamma: FloatArray, dbeta: FloatArray) -> Tuple[F64Array, F64Array, F64Array]:
    dbeta[...] = sb
    dgamma[...] = sg
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = sb / count
        mg = sg / count
    return mb, mg, gamma.astype(_F64) * inv_std


def _normalise(x: FloatArray, mean: F64Array, inv: F64Array, gamma: FloatArray, beta: FloatArray,
               out: FloatArray, xhat: Optional[FloatArray] = None) -> None:
    """xh = (x - mean)·inv (stored to xhat), out = gamma·xh + beta; float64, in place."""
    t = x.astype(_F64)
    t -= mean
    t *= inv
    if xhat is not None:
        xhat[...] = t
    t *= gamma.astype(_F64)  # gamma·xh: IEEE products commute
    t += beta.astype(_F64)
    out[...] = t


def _dx(dout: FloatArray, xhat: FloatArray, mb: F64Array, mg: F64Array, k: F64Array,
        dx: FloatArray) -> None:
    """dx = k·((dout - mb) - xhat·mg), float64, in place."""
    t = dout.astype(_F64)
    t -= mb
    u = xhat.astype(_F64)
    u *= mg
    t -= u
    t *= k
    dx[...] = t


# ---------------------------------------------------------------- (N, D)


def batchnorm_forward_train(x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
                            xhat: FloatArray, mean: F64Array, var: F64Array, inv_std: F64Array,
                            eps: float, work: Optional[F64Array] = None) -> None:
    """Training forward over (N, D): batch statistics, xhat = (x - mean)·inv_std,
    out = gamma·xhat + beta.

    Writes ``out`` and ``xhat`` (x's dtype, (N, D)) and the float64 (D,) ``mean``,
    ``var`` (biased, M2/N) and ``inv_std`` = 1/sqrt(var + eps).
    """
    m, m2 = _column_stats(x)
    mean[...] = m
    _finish(m2, x.shape[0], var, inv_std, eps)
    _normalise(x, mean, inv_std, gamma, beta, out, xhat)


def batchnorm_forward_eval(x: FloatArray, gamma: FloatArray, beta: FloatArray, out: FloatArray,
                           running_mean: FloatArray, running_var: FloatArray, eps: float,
                           work: Optional[F64Array] = None) -> None:
    """Inference forward over (N, D):
    out = gamma·((x - running_mean)·(1/sqrt(running_var + eps))) + beta."""
    inv = 1.0 / np.sqrt(running_var.astype(_F64) + eps)
    _normalise(x, running_mean.astype(_F64), inv, gamma, beta, out)


def batchnorm_backward(dout: FloatArray, xhat: FloatArray, gamma: FloatArray, inv_std: F64Array,
                       dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
                       work: Optional[F64Array] = None) -> None:
    """Backward over (N, D): dbeta = Σdout, dgamma = Σdout·xhat, dx by the closed form."""
    sb, sg = _column_sums(dout, xhat)
    mb, mg, k = _grad_coefs(sb, sg, dout.shape[0], gamma, inv_std, dgamma, dbeta)
    _dx(dout, xhat, mb, mg, k, dx)


# ---------------------------------------------------------------- (N, C, L)


def batchnorm_channel_forward_train(x: FloatArray, gamma: FloatArray, beta: FloatArray,
                                    out: FloatArray, xhat: FloatArray, mean: F64Array,
                                    var: F64Array, inv_std: F64Array, eps: float,
                                    work: Optional[F64Array] = None) -> None:
    """Training forward over (N, C, L), one statistic per channel (axes 0 and 2).

    Same outputs as :func:`batchnorm_forward_train`, per channel; var = M2/(N·L).
    """
    n, c, length = x.shape
    colmean, colm2 = _column_stats(x.reshape(n, c * length))
    colmean = colmean.reshape(c, length)
    colm2 = colm2.reshape(c, length)
    m = np.zeros(c)
    m2 = np.zeros(c)
    for i in range(length):
        delta = colmean[:, i] - m
        m += delta * (1.0 / (i + 1))
        m2 += colm2[:, i]
        m2 += (delta * delta) * ((i * n) / (i + 1))
    mean[...] = m
    _finish(m2, n * length, var, inv_std, eps)
    _normalise(x, mean[:, None], inv_std[:, None], gamma[:, None], beta[:, None], out, xhat)


def batchnorm_channel_forward_eval(x: FloatArray, gamma: FloatArray, beta: FloatArray,
                                   out: FloatArray, running_mean: FloatArray,
                                   running_var: FloatArray, eps: float,
                                   work: Optional[F64Array] = None) -> None:
    """Inference forward over (N, C, L) with per-channel running statistics."""
    inv = 1.0 / np.sqrt(running_var.astype(_F64) + eps)
    _normalise(x, running_mean.astype(_F64)[:, None], inv[:, None], gamma[:, None],
               beta[:, None], out)


def batchnorm_channel_backward(dout: FloatArray, xhat: FloatArray, gamma: FloatArray,
                               inv_std: F64Array, dx: FloatArray, dgamma: FloatArray,
                               dbeta: FloatArray, work: Optional[F64Array] = None) -> None:
    """Backward over (N, C, L): per-channel dbeta, dgamma and dx by the closed form."""
    n, c, length = dout.shape
    colb, colg = _column_sums(dout.reshape(n, c * length), xhat.reshape(n, c * length))
    colb = colb.reshape(c, length)
    colg = colg.reshape(c, length)
    sb = np.zeros(c)
    sg = np.zeros(c)
    for i in range(length):
        sb += colb[:, i]
        sg += colg[:, i]
    mb, mg, k = _grad_coefs(sb, sg, n * length, gamma, inv_std, dgamma, dbeta)
    _dx(dout, xhat, mb[:, None], mg[:, None], k[:, None], dx)
