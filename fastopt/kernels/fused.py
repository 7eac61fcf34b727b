"""Fused hidden-layer kernels (Numba). Twins: ``fastopt.reference.fused``.

One call does what a hidden layer of the book's extended network does around
its matrix product: bias add, batch normalisation (training mode, with the
running statistics), ReLU and dropout forward; and their backward plus the bias
gradient. Every value is computed by the same operations in the same order as
the separate kernels (``batchnorm``, ``activation``, ``dropout``), so a fused
layer equals the unfused chain bit for bit (tested); fusion saves the Python
work of four layers, their temporaries, and passes over the data: rows are
finished while they are in cache, and the backward reads the ReLU/dropout
mask off the forward's output instead of recomputing the hash.

Above the batch-norm kernels' parallel threshold the public functions call
the (parallel) separate kernels in turn: the same bits, more threads.
"""
import functools
from typing import Callable, TypeVar, cast

import numba
import numpy as np

from ..reference import fused as twin
from ..reference._types import FloatArray
from ..reference.rng import GAMMA, SHIFT
from . import activation, batchnorm, dropout
from ._jit import elementwise, jit
from .batchnorm import _parts, _rows_of
from .rng import mix64, stream_key

_U0 = np.uint64(0)


@jit
def _add_bias_rows(r0, r1, h, bias):
    d = np.uint64(h.shape[1])
    for r in range(r0, r1):
        hr = h[r]
        for j in range(_U0, d):
            hr[j] = hr[j] + bias[j]


@jit
def _normalise_relu_dropout_rows(r0, r1, h, gamma, beta, y, xhat, out, mean, inv_std, drop, seed,
                                 stream, threshold, scale):
    """batchnorm's ``_normalise_rows``, then out = relu(y) and, when *drop*,
    dropout_forward's operations on it, in one pass over each row.

    The normalisation is written out here rather than called per row: one pass
    instead of two calls per row took a 100x100 batch from 15.6 to 13.0 us
    (dropout on) and 11.6 to 9.0 us (off); the operations are the same, so are
    the bits (tested against the separate kernels)."""
    d = np.uint64(h.shape[1])
    zero = h.dtype.type(0)
    ctr = stream_key(seed, stream) + np.uint64(r0) * d * GAMMA
    thr = np.uint64(threshold)
    for r in range(r0, r1):
        hr, xr, yr, outr = h[r], xhat[r], y[r], out[r]
        if drop:
            for j in range(_U0, d):
                xh = (np.float64(hr[j]) - mean[j]) * inv_std[j]
                xr[j] = xh
                v = h.dtype.type(np.float64(gamma[j]) * xh + np.float64(beta[j]))
                yr[j] = v
                v = zero if v <= 0 else v
                v = v * scale
                ctr += GAMMA
                outr[j] = v if (mix64(ctr) >> SHIFT) >= thr else zero
        else:  # a loop of its own: LLVM does not unswitch on drop
            for j in range(_U0, d):
                xh = (np.float64(hr[j]) - mean[j]) * inv_std[j]
                xr[j] = xh
                v = h.dtype.type(np.float64(gamma[j]) * xh + np.float64(beta[j]))
                yr[j] = v
                outr[j] = zero if v <= 0 else v


@jit
def _update_running(mean, var, running_mean, running_var, momentum, var_factor):
    """running = momentum·running + (1 − momentum)·batch, NumPy's operations in order."""
    keep = 1.0 - momentum
    for j in range(_U0, np.uint64(mean.shape[0])):
        running_mean[j] = running_mean[j] * momentum
        running_mean[j] = running_mean[j] + keep * mean[j]
        running_var[j] = running_var[j] * momentum
        running_var[j] = running_var[j] + keep * (var[j] * var_factor)


@jit
def _masked_grad(lo, hi, dout, out, d, scale):
    """d = dout·scale where the forward's output is nonzero, else 0.

    out ≠ 0 exactly where ReLU passed (y > 0 or NaN) and dropout kept the
    element (a kept y > 0 times scale ≥ 1 stays nonzero), so this equals
    relu_backward(y, dropout_backward(dout)) without the hash.
    """
    zero = dout.dtype.type(0)
    for i in range(lo, hi):
        v = dout[i] * scale
        d[i] = zero if out[i] == 0 else v


_masked_grad_kernel = elementwise(_masked_grad, "light")


@jit
def _column_sums(a, out):
    """out = a.sum(axis=0), adding the rows in order (as NumPy does for axis 0)."""
    n, d = a.shape
    if n == 0:
        out[:] = 0
        return
    first = a[0]
    for j in range(_U0, np.uint64(d)):
        out[j] = first[j]
    for r in range(1, n):
        ar = a[r]
        for j in range(_U0, np.uint64(d)):
            out[j] = out[j] + ar[j]


@jit
def _forward_serial(h, bias, gamma, beta, y, out, xhat, mean, var, inv_std, eps, running_mean,
                    running_var, momentum, var_factor, work, drop, seed, stream, threshold, scale):
    n, d = h.shape
    part, _ = _parts(work, n, d)
    for b in range(part.shape[0]):
        r0, r1 = _rows_of(b, n)
        _add_bias_rows(r0, r1, h, bias)
        batchnorm._welford_block(b, h, part)
    batchnorm._merge_blocks(n, part, mean, var)
    batchnorm._finish(n, var, inv_std, eps)
    _update_running(mean, var, running_mean, running_var, momentum, var_factor)
    _normalise_relu_dropout_rows(0, n, h, gamma, beta, y, xhat, out, mean, inv_std, drop, seed,
                                 stream, threshold, scale)


@jit
def _backward_serial(dout, out, xhat, gamma, inv_std, scale, d, dx, dgamma, dbeta, dbias, work):
    n, k = dout.shape
    part, coef = _parts(work, n, k)
    dout1, out1, d1 = dout.reshape(-1), out.reshape(-1), d.reshape(-1)
    for b in range(part.shape[0]):
        r0, r1 = _rows_of(b, n)
        _masked_grad(np.uint64(r0 * k), np.uint64(r1 * k), dout1, out1, d1, scale)
        batchnorm._sums_block(b, d, xhat, part)
    batchnorm._add_blocks(part, coef[0], coef[1])
    batchnorm._grad_coefs(n, gamma, inv_std, dgamma, dbeta, coef)
    batchnorm._dx_rows(0, n, d, xhat, dx, coef)
    _column_sums(dx, dbias)


_F = TypeVar("_F", bound=Callable[..., None])


def _signed_as(twin_fn: _F) -> Callable[[Callable[..., None]], _F]:
    """Decorator: the function, with the parameters of its NumPy twin *twin_fn*, gets the
    twin's type and (through ``__wrapped__``) its annotated signature."""

    def signed(fn: Callable[..., None]) -> _F:
        return cast(_F, functools.update_wrapper(fn, twin_fn, assigned=(), updated=()))

    return signed


def _parallel(h: FloatArray) -> bool:
    return (h.size >= batchnorm.PARALLEL_ELEMENTS and h.shape[0] > batchnorm.ROW_BLOCK
            and numba.get_num_threads() > 1)


@_signed_as(twin.bias_bn_relu_dropout_forward)
def bias_bn_relu_dropout_forward(h, bias, gamma, beta, y, out, xhat, mean, var, inv_std, eps,
                                 running_mean, running_var, momentum, var_factor, work, drop, seed,
                                 stream, threshold, scale):
    """Training forward of a hidden layer after its matrix product ``h = x·W``.

    ``h += bias`` (in place: h becomes the affine output); batch norm of h
    into ``y`` (with ``xhat``, ``mean``, ``var``, ``inv_std`` as
    ``batchnorm_forward_train``); the float64 running statistics
    ``running ← momentum·running + (1 − momentum)·batch`` (the batch variance
    times ``var_factor``: 1, or N/(N−1) for the unbiased form);
    ``out = relu(y)``, then, when ``drop``, ``dropout_forward`` of ``out`` in
    place with ``seed``, ``stream``, ``threshold`` (uint64), offset 0 and
    ``scale``. h, y, out, xhat: (N, D) C-contiguous, one float dtype; bias,
    gamma, beta: (D,) of that dtype; work: float64 scratch of
    ``batchnorm_work_size(N, D)`` elements.
    """
    if _parallel(h):
        np.add(h, bias, out=h)
        batchnorm.batchnorm_forward_train(h, gamma, beta, y, xhat, mean, var, inv_std, eps, work)
        _update_running(mean, var, running_mean, running_var, momentum, var_factor)
        activation.relu_forward(y.reshape(-1), out.reshape(-1))
        if drop:
            dropout.dropout_forward(out.reshape(-1), out.reshape(-1), seed, stream, _U0,
                                    threshold, scale)
    else:
        _forward_serial(h, bias, gamma, beta, y, out, xhat, mean, var, inv_std, eps, running_mean,
                        running_var, momentum, var_factor, work, drop, seed, stream, threshold,
                        scale)


@_signed_as(twin.bias_bn_relu_dropout_backward)
def bias_bn_relu_dropout_backward(dout, out, xhat, gamma, inv_std, scale, d, dx, dgamma, dbeta,
                                  dbias, work):
    """Backward of the same layer down to its matrix product.

    ``d = dout·scale`` where the forward's ``out`` is nonzero, else 0 (ReLU
    and dropout backward in one: see ``_masked_grad``); batch-norm backward of
    d into ``dx``, ``dgamma``, ``dbeta`` (as ``batchnorm_backward``);
    ``dbias = dx.sum(axis=0)``. d: (N, D) scratch of the dtype.
    """
    if _parallel(dout):
        _masked_grad_kernel(dout.reshape(-1), out.reshape(-1), d.reshape(-1), scale)
        batchnorm.batchnorm_backward(d, xhat, gamma, inv_std, dx, dgamma, dbeta, work)
        np.sum(dx, axis=0, out=dbias)
    else:
        _backward_serial(dout, out, xhat, gamma, inv_std, scale, d, dx, dgamma, dbeta, dbias,
                         work)
