"""fastopt's own implementations of every case, one builder per family.

``numba``, ``cython``, ``numpy`` (see :mod:`fastopt.bench.cases`): an optimizer
kernel on one flat float32 buffer is called directly with the case's arguments;
on the book's network (``book-net``) through the public API, an optimizer over
one :class:`fastopt.FlatParams` (one kernel call), whose kernel is checked to
be the case's. Batch norm and dropout call the backend kernels; the training
step and the book scripts' step go through ``fastopt.book``.

:data:`BUILDERS` maps a case family to its builder; :func:`fastopt.bench.build`
calls it once the backend is known to be available.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import _backend
from .cases import DTYPE, SIZE_BOOK_NET, TRAIN_DROPOUT, TRAIN_HIDDEN, Case, Size
from .harness import Bench, Builder
from .inputs import (
    batchnorm_arrays,
    book_net_arrays,
    dropout_args,
    kernel_args,
    random_array,
    train_batch,
)
from .peers import book_script_step


def _optimizer(case: Case, size: Size, backend: str) -> Bench:
    if size.label == SIZE_BOOK_NET.label:
        return _optimizer_api(case, size, backend)
    kernel = getattr(_backend.kernels(backend), case.kernel)
    n = size.elements
    p = random_array(n, 1, 0.1)
    g = random_array(n, 2, 1e-2)
    state = [np.zeros(n, DTYPE) for _ in range(case.n_state)]
    args = kernel_args(case)

    def fn() -> None:
        kernel(p, g, *state, *args)

    return Bench(case, size, backend, fn, backend=backend, data=(p, g, state),
                 note=f"kernels.{case.kernel}(p, g, *state, ...) on one float32 buffer")


def _optimizer_api(case: Case, size: Size, backend: str) -> Bench:
    from .. import optim
    from ..optim.flat import FlatParams

    assert case.optimizer is not None, case.id
    params, grads = book_net_arrays()
    flat = FlatParams(params)
    for name, g in grads.items():
        flat.grads[name][...] = g
    cls_name, kwargs = case.optimizer
    opt = getattr(optim, cls_name)(flat, **kwargs)
    kernel = opt._kernel_for(opt.param_groups[0])
    if kernel != case.kernel:
        raise RuntimeError(f"case {case.id!r}: fastopt.optim.{cls_name}(**{kwargs}) calls kernel "
                           f"{kernel!r}, not {case.kernel!r}")
    return Bench(case, size, backend, opt.step, backend=backend,
                 note=f"optim.{cls_name}(FlatParams of the 10 arrays).step(): one kernel call")


@functools.lru_cache(maxsize=None)
def _batchnorm_buffers(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """(x, dout, gamma, beta, out, xhat, dx, mean, var, inv_std, dgamma, dbeta, work) for
    one (N, D) shape, shared by every fastopt backend.

    Shared because a batch-norm kernel's time depends on where the allocator puts the
    (N, D) arrays relative to each other and to the per-column ones: at 128x100 either
    backend took 16-23 us over 12 allocations in one process, so separate buffers made
    the Cython/Numba ratio a draw between two placements (0.95-1.17); on the same
    buffers it was 1.00-1.03 over 25 random placements (AMD EPYC, 2026-12).
    """
    from ..reference.batchnorm import batchnorm_work_size

    n, d = shape
    x, dout, gamma, beta = batchnorm_arrays(shape)
    return (x, dout, gamma, beta, np.empty_like(x), np.empty_like(x), np.empty_like(x),
            np.empty(d), np.empty(d), np.empty(d), np.empty_like(gamma), np.empty_like(beta),
            np.empty(batchnorm_work_size(n, d)))


def _batchnorm(case: Case, size: Size, backend: str) -> Bench:
    k = _backend.kernels(backend)
    (x, dout, gamma, beta, out, xhat, dx, mean, var, inv_std, dgamma, dbeta,
     work) = _batchnorm_buffers(size.shape)
    eps = 1e-6
    fwd, bwd = k.batchnorm_forward_train, k.batchnorm_backward

    def forward() -> None:
        fwd(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work)

    def backward() -> None:
        bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work)

    def both() -> None:
        fwd(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work)
        bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work)

    forward()
    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, backend, fn, backend=backend,
                 note="kernels " + " + ".join(case.kernels) + " with a kept float64 work buffer")


def _dropout(case: Case, size: Size, backend: str) -> Bench:
    kernel = _backend.kernels(backend).dropout_forward
    x = random_array(size.elements, 3)
    args = dropout_args()

    def fn() -> None:
        kernel(x, x, *args)

    return Bench(case, size, backend, fn, backend=backend,
                 note="kernels.dropout_forward(x, x, ...): in place, mask recomputed")


def make_train_net(seed: int = 0) -> tuple[Any, Any]:
    """fastopt's book ``MultiLayerNetExtend`` for the training-step case, and its Adam."""
    from .. import optim
    from ..book import MultiLayerNetExtend

    net = MultiLayerNetExtend(784, list(TRAIN_HIDDEN), 10, use_batchnorm=True, use_dropout=True,
                              dropout_ration=TRAIN_DROPOUT, seed=seed, dtype=np.float32,
                              dropout_seed=seed)
    return net, optim.Adam(net.params, lr=1e-3)


def _train(case: Case, size: Size, backend: str) -> Bench:
    net, opt = make_train_net()
    x, t = train_batch()

    def fn() -> None:
        net.gradient(x, t)
        opt.step()

    return Bench(case, size, backend, fn, backend=backend,
                 note="book.MultiLayerNetExtend.gradient + optim.Adam(net.params).step()")


def _book_script(case: Case, size: Size, backend: str) -> Bench:
    from .. import book

    return book_script_step(book, case, size, backend, "fastopt.book:", backend=backend)


#: case family -> builder of fastopt's implementation (``impl`` is the backend)
def _kernel(case: Case, size: Size, backend: str) -> Bench:
    from ..kernel_spec import BY_NAME

    spec = BY_NAME[case.kernel]
    assert spec.example is not None, case.kernel
    args = spec.example(size.elements, DTYPE, np.random.default_rng(0))
    kernel = getattr(_backend.kernels(backend), case.kernel)

    def fn() -> None:
        kernel(*args)

    return Bench(case, size, backend, fn, backend=backend,
                 note=f"kernels.{case.kernel}(...) on the kernel spec's example arguments")


BUILDERS: dict[str, Builder] = {"optimizer": _optimizer, "batchnorm": _batchnorm,
                                "dropout": _dropout, "train": _train, "kernel": _kernel,
                                "book-script": _book_script}
