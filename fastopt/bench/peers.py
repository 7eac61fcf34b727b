"""Peers of fastopt in the benchmarks: the book's NumPy code, PyTorch and JAX.

Implementations (``impl`` names, see :mod:`fastopt.bench.cases`):

``book-numpy``
    :mod:`fastopt.bench.book_numpy`: the book's optimizer ``update(params,
    grads)`` on a dict of arrays (one array on a flat buffer, the 10 arrays on
    the book's network), its ``BatchNormalization.forward``/``backward``, its
    ``Dropout.forward`` (a fresh ``np.random.rand`` mask, out of place) and a
    whole ``MultiLayerNetExtend.gradient`` + ``Adam.update``.
``torch-forloop``, ``torch-foreach``, ``torch-fused``
    ``torch.optim.<Class>(..., foreach=False | foreach=True | fused=True).step()``
    with ``.grad`` set once (fused only where PyTorch has a CPU fused kernel,
    else unavailable). In the training step ``torch`` is ``torch.optim.Adam``
    with PyTorch's default (the for-loop on CPU) and ``torch-fused`` the fused one.
``torch``
    Batch norm forward + backward: ``nn.BatchNorm1d`` in training mode and
    ``out.backward(dout)`` (autograd, as a user runs it). Dropout:
    ``F.dropout(x, p, training=True)`` (out of place, inverted). Training step:
    the same network in eager mode.
``torch-aten``
    Batch norm through the ATen operators themselves
    (``native_batch_norm`` / ``native_batch_norm_backward``), without
    autograd or module overhead.
``torch-inplace``
    ``F.dropout(x, p, training=True, inplace=True)``.
``torch-compile``
    Training step: ``torch.compile(net)`` (inductor; needs a C++ compiler) with the
    fused Adam, compiled during the warm-up.
``jax``
    Training step: one ``jax.jit`` function doing the forward (batch norm, ReLU,
    inverted dropout), ``jax.value_and_grad`` and Adam; where JAX is installed.

PyTorch's thread count is the caller's business (``torch.set_num_threads``);
the runner sets it with fastopt's.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import book_numpy
from .cases import (
    BOOK_SCRIPT_HIDDEN,
    DROPOUT_P,
    SIZE_BOOK_NET,
    TRAIN_DROPOUT,
    TRAIN_HIDDEN,
    Case,
    Size,
)
from .harness import Bench, Builder, Unavailable
from .inputs import (
    batchnorm_arrays,
    book_net_arrays,
    book_script_batch,
    random_array,
    train_batch,
)


def torch_module() -> Any:
    """``torch``, or raise :class:`Unavailable` when it is not installed."""
    try:
        import torch
    except ImportError as exc:
        raise Unavailable(f"PyTorch is not installed ({exc})") from None
    return torch


def build(case: Case, size: Size, impl: str) -> Bench:
    """Prepare *case* at *size* for peer *impl* (see the module docstring).

    Raises
    ------
    Unavailable
        The peer is not installed or has no equivalent of this case.
    """
    if impl == "book-numpy":
        builder = _BOOK[case.family]
    elif impl.startswith("torch"):
        builder = _TORCH.get(case.family, _no_equivalent)
    elif impl == "jax":
        builder = _jax_train if case.family == "train" else _no_equivalent
    else:
        raise ValueError(f"unknown peer {impl!r}")
    return builder(case, size, impl)


# ----------------------------------------------------------------- the book's NumPy code


def _flat_problem(size: Size) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(params, grads) dicts: one buffer of the size, or the book's 10 arrays."""
    if size.label == SIZE_BOOK_NET.label:
        return book_net_arrays()
    n = size.elements
    return {"W": random_array(n, 1, 0.1)}, {"W": random_array(n, 2, 1e-2)}


def _book_optimizer(case: Case, size: Size, impl: str) -> Bench:
    if case.book is None:
        raise Unavailable(f"the book has no {case.title}")
    cls_name, kwargs = case.book
    params, grads = _flat_problem(size)
    opt = book_numpy.OPTIMIZERS[cls_name](**kwargs)

    def fn() -> None:
        opt.update(params, grads)

    return Bench(case, size, impl, fn, note=f"book {cls_name}.update(params, grads)")


def _book_batchnorm(case: Case, size: Size, impl: str) -> Bench:
    x, dout, gamma, beta = batchnorm_arrays(size.shape)
    layer = book_numpy.BatchNormalization(gamma, beta)
    layer.forward(x, True)

    def forward() -> None:
        layer.forward(x, True)

    def backward() -> None:
        layer.backward(dout)

    def both() -> None:
        layer.forward(x, True)
        layer.backward(dout)

    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, impl, fn, note="book BatchNormalization.forward/backward")


def _book_dropout(case: Case, size: Size, impl: str) -> Bench:
    x = random_array(size.elements, 3)
    layer = book_numpy.Dropout(DROPOUT_P, np.random.RandomState(0))

    def fn() -> None:
        layer.forward(x, True)

    return Bench(case, size, impl, fn, note="book Dropout.forward: x * (rand(*x.shape) > p)")


def _book_train(case: Case, size: Size, impl: str) -> Bench:
    net = book_numpy.MultiLayerNetExtend(784, list(TRAIN_HIDDEN), 10, use_batchnorm=True,
                                         use_dropout=True, dropout_ration=TRAIN_DROPOUT,
                                         dtype=np.float32, seed=0)
    opt = book_numpy.Adam(lr=1e-3)
    x, t = train_batch()

    def fn() -> None:
        opt.update(net.params, net.gradient(x, t))

    return Bench(case, size, impl, fn, note="book MultiLayerNetExtend.gradient + Adam.update")


def book_script_step(book: Any, case: Case, size: Size, impl: str, who: str,
                     backend: Optional[str] = None) -> Bench:
    """The book scripts' step with *book*'s ``MultiLayerNet`` and ``Adam``.

    *book* is the book's API: :mod:`fastopt.bench.book_numpy` here, ``fastopt.book``
    in :mod:`fastopt.bench.ours` (with its *backend*); *who* names it in the note.
    """
    net, opt = book.MultiLayerNet(784, list(BOOK_SCRIPT_HIDDEN), 10, seed=0), book.Adam()
    x, t = book_script_batch()

    def fn() -> None:
        opt.update(net.params, net.gradient(x, t))
        net.loss(x, t)

    return Bench(case, size, impl, fn, backend=backend,
                 note=f"{who} Adam().update(net.params, net.gradient(x, t)); net.loss(x, t)")


def _book_script(case: Case, size: Size, impl: str) -> Bench:
    return book_script_step(book_numpy, case, size, impl, "the book's")


_BOOK: dict[str, Builder] = {"optimizer": _book_optimizer, "batchnorm": _book_batchnorm,
                             "dropout": _book_dropout, "train": _book_train,
                             "book-script": _book_script}

# ----------------------------------------------------------------- PyTorch


def _torch_optimizer(case: Case, size: Size, impl: str) -> Bench:
    torch = torch_module()
    if case.torch is None:
        raise Unavailable(f"PyTorch has no {case.title}")
    cls_name, kwargs = case.torch
    params, grads = _flat_problem(size)
    tensors = []
    for name, p in params.items():
        t = torch.from_numpy(p).requires_grad_(True)
        t.grad = torch.from_numpy(grads[name])
        tensors.append(t)
    flavour = {"torch-forloop": {"foreach": False}, "torch-foreach": {"foreach": True},
               "torch-fused": {"fused": True}}[impl]
    cls = getattr(torch.optim, cls_name)
    try:
        opt = cls(tensors, **kwargs, **flavour)
        opt.step()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise Unavailable(f"torch.optim.{cls_name}(**{flavour}) is not available on CPU "
                          f"here: {exc}") from None
    return Bench(case, size, impl, opt.step, data=(params, grads, tensors),
                 note=f"torch.optim.{cls_name}({', '.join(f'{k}={v}' for k, v in flavour.items())}).step()")


def _torch_batchnorm(case: Case, size: Size, impl: str) -> Bench:
    torch = torch_module()
    if impl not in ("torch", "torch-aten"):
        raise Unavailable(f"{impl} has no batch norm")
    x_np, dout_np, gamma_np, beta_np = batchnorm_arrays(size.shape)
    x, dout = torch.from_numpy(x_np), torch.from_numpy(dout_np)
    d = size.shape[1]
    eps, momentum = 1e-5, 0.1
    if impl == "torch":
        if case.id != "batchnorm":
            raise Unavailable("nn.BatchNorm1d times forward + backward together (autograd)")
        layer = torch.nn.BatchNorm1d(d, eps=eps, momentum=momentum)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(gamma_np))
            layer.bias.copy_(torch.from_numpy(beta_np))
        layer.train()
        xg = x.clone().requires_grad_(True)

        def autograd_step() -> None:
            layer(xg).backward(dout)

        return Bench(case, size, impl, autograd_step, data=(x, dout, xg, layer),
                     note="nn.BatchNorm1d(x).backward(dout), autograd")
    aten = torch.ops.aten
    weight, bias = torch.from_numpy(gamma_np), torch.from_numpy(beta_np)
    rm, rv = torch.zeros(d), torch.ones(d)
    saved: dict[str, Any] = {}

    def forward() -> None:
        saved["fwd"] = aten.native_batch_norm(x, weight, bias, rm, rv, True, momentum, eps)

    def backward() -> None:
        _, mean, invstd = saved["fwd"]
        aten.native_batch_norm_backward(dout, x, weight, rm, rv, mean, invstd, True, eps,
                                        [True, True, True])

    def both() -> None:
        forward()
        backward()

    forward()
    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, impl, fn, data=(x, dout, weight, bias, rm, rv, saved),
                 note="aten.native_batch_norm / native_batch_norm_backward")


def _torch_dropout(case: Case, size: Size, impl: str) -> Bench:
    torch = torch_module()
    if impl not in ("torch", "torch-inplace"):
        raise Unavailable(f"{impl} has no dropout")
    x = torch.from_numpy(random_array(size.elements, 3))
    inplace = impl == "torch-inplace"
    dropout = torch.nn.functional.dropout

    def fn() -> None:
        dropout(x, DROPOUT_P, training=True, inplace=inplace)

    return Bench(case, size, impl, fn, data=(x,),
                 note=f"F.dropout(x, {DROPOUT_P}, training=True{', inplace=True' if inplace else ''})")


def make_torch_train_net(fused: bool = False) -> tuple[Any, Any, Any, Any, Any]:
    """The training-step network in PyTorch: (model, loss, optimizer, x, t)."""
    torch = torch_module()
    torch.manual_seed(0)
    layers, sizes = [], [784, *TRAIN_HIDDEN]
    for a, b in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(),
                   torch.nn.Dropout(TRAIN_DROPOUT)]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(TRAIN_HIDDEN[-1], 10))
    net.train()
    kwargs = {"fused": True} if fused else {}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, **kwargs)
    x, t = train_batch()
    return net, torch.nn.CrossEntropyLoss(), opt, torch.from_numpy(x), torch.from_numpy(t)


def _no_equivalent(case: Case, size: Size, impl: str) -> Bench:
    raise Unavailable(f"{impl} has no equivalent of {case.title}")


def _torch_train(case: Case, size: Size, impl: str) -> Bench:
    if impl not in ("torch", "torch-fused", "torch-compile"):
        raise Unavailable(f"{impl} has no training step")
    if impl == "torch-compile":
        return _torch_compiled_train(case, size, impl)
    net, loss, opt, x, t = make_torch_train_net(fused=impl == "torch-fused")

    def fn() -> None:
        opt.zero_grad()
        loss(net(x), t).backward()
        opt.step()

    return Bench(case, size, impl, fn, data=(net, x, t),
                 note="eager: zero_grad, loss(net(x), t).backward(), Adam"
                      + ("(fused=True)" if impl == "torch-fused" else " (default: for-loop)")
                      + ".step()")


def _torch_compiled_train(case: Case, size: Size, impl: str) -> Bench:
    torch = torch_module()
    net, loss, opt, x, t = make_torch_train_net(fused=True)
    try:
        model = torch.compile(net)
        model(x)  # compile now: a missing compiler shows here, not in the timing
    except Exception as exc:  # inductor needs a C++ compiler and Python headers
        raise Unavailable(f"torch.compile failed here ({type(exc).__name__}: {exc})") from None

    def fn() -> None:
        opt.zero_grad()
        loss(model(x), t).backward()
        opt.step()

    return Bench(case, size, impl, fn, data=(model, x, t),
                 note="torch.compile(net) (inductor), loss.backward(), Adam(fused=True).step()")


_TORCH: dict[str, Builder] = {"optimizer": _torch_optimizer, "batchnorm": _torch_batchnorm,
                              "dropout": _torch_dropout, "train": _torch_train}


# ----------------------------------------------------------------- JAX


def _jax_train(case: Case, size: Size, impl: str) -> Bench:
    """The training step as one ``jax.jit`` function: forward, gradients and Adam."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as exc:
        raise Unavailable(f"JAX is not installed ({exc})") from None
    sizes = [784, *TRAIN_HIDDEN, 10]
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes))
    params = []
    for key, n_in, n_out in zip(keys, sizes, sizes[1:]):
        layer = {"W": jax.random.normal(key, (n_in, n_out), jnp.float32) * np.sqrt(2 / n_in),
                 "b": jnp.zeros(n_out, jnp.float32)}
        if n_out != 10:
            layer.update(gamma=jnp.ones(n_out, jnp.float32), beta=jnp.zeros(n_out, jnp.float32))
        params.append(layer)
    stats = [{"mean": jnp.zeros(n, jnp.float32), "var": jnp.ones(n, jnp.float32)}
             for n in TRAIN_HIDDEN]
    b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8

    def loss_fn(params: Any, stats: Any, x: Any, t: Any, key: Any) -> Any:
        h, new_stats = x, []
        for i, layer in enumerate(params[:-1]):
            h = h @ layer["W"] + layer["b"]
            mu, var = h.mean(0), h.var(0)
            h = layer["gamma"] * (h - mu) / jnp.sqrt(var + 1e-5) + layer["beta"]
            h = jnp.maximum(h, 0)
            key, sub = jax.random.split(key)
            keep = jax.random.bernoulli(sub, 1 - TRAIN_DROPOUT, h.shape)
            h = jnp.where(keep, h / (1 - TRAIN_DROPOUT), 0)
            new_stats.append({"mean": 0.9 * stats[i]["mean"] + 0.1 * mu,
                              "var": 0.9 * stats[i]["var"] + 0.1 * var})
        logits = h @ params[-1]["W"] + params[-1]["b"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, t[:, None], axis=1)), new_stats

    @jax.jit
    def step(params: Any, stats: Any, m: Any, v: Any, count: Any, x: Any, t: Any,
             key: Any) -> Any:
        (_, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, x, t, key)
        count = count + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        c1, c2 = 1 - b1 ** count, 1 - b2 ** count
        params = jax.tree_util.tree_map(
            lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
        return params, new_stats, m, v, count

    x, t = (jnp.asarray(a) for a in train_batch())
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = [params, stats, zeros, zeros, jnp.float32(0), jax.random.PRNGKey(1)]

    def fn() -> None:
        key, sub = jax.random.split(state[5])
        out = step(*state[:5], x, t, sub)
        jax.block_until_ready(out[0])
        state[:5], state[5] = out, key

    return Bench(case, size, impl, fn, data=state,
                 note="jax.jit of the whole step: forward, value_and_grad, Adam (block_until_ready)")
