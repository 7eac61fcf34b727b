"""Peers of fastopt in the benchmarks: the book's NumPy code and PyTorch.

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

PyTorch's thread count is the caller's business (``torch.set_num_threads``);
the runner sets it with fastopt's.
"""
import numpy as np

from . import book_numpy
from .cases import (
    DROPOUT_P,
    SIZE_BOOK_NET,
    TRAIN_DROPOUT,
    TRAIN_HIDDEN,
    Bench,
    Unavailable,
    batchnorm_arrays,
    book_net_arrays,
    random_array,
    train_batch,
)


def torch_module():
    """``torch``, or raise :class:`Unavailable` when it is not installed."""
    try:
        import torch
    except ImportError as exc:
        raise Unavailable(f"PyTorch is not installed ({exc})") from None
    return torch


def build(case, size, impl):
    """Prepare *case* at *size* for peer *impl* (see the module docstring).

    Raises
    ------
    Unavailable
        The peer is not installed or has no equivalent of this case.
    """
    if impl == "book-numpy":
        builder = _BOOK[case.family]
    elif impl.startswith("torch"):
        builder = _TORCH[case.family]
    else:
        raise ValueError(f"unknown peer {impl!r}")
    return builder(case, size, impl)


# ----------------------------------------------------------------- the book's NumPy code


def _flat_problem(size):
    """(params, grads) dicts: one buffer of the size, or the book's 10 arrays."""
    if size.label == SIZE_BOOK_NET.label:
        return book_net_arrays()
    n = size.elements
    return {"W": random_array(n, 1, 0.1)}, {"W": random_array(n, 2, 1e-2)}


def _book_optimizer(case, size, impl):
    if case.book is None:
        raise Unavailable(f"the book has no {case.title}")
    cls_name, kwargs = case.book
    params, grads = _flat_problem(size)
    opt = book_numpy.OPTIMIZERS[cls_name](**kwargs)

    def fn():
        opt.update(params, grads)

    return Bench(case, size, impl, fn, note=f"book {cls_name}.update(params, grads)")


def _book_batchnorm(case, size, impl):
    x, dout, gamma, beta = batchnorm_arrays(size.shape)
    layer = book_numpy.BatchNormalization(gamma, beta)
    layer.forward(x, True)

    def forward():
        layer.forward(x, True)

    def backward():
        layer.backward(dout)

    def both():
        layer.forward(x, True)
        layer.backward(dout)

    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, impl, fn, note="book BatchNormalization.forward/backward")


def _book_dropout(case, size, impl):
    x = random_array(size.elements, 3)
    layer = book_numpy.Dropout(DROPOUT_P, np.random.RandomState(0))

    def fn():
        layer.forward(x, True)

    return Bench(case, size, impl, fn, note="book Dropout.forward: x * (rand(*x.shape) > p)")


def _book_train(case, size, impl):
    net = book_numpy.MultiLayerNetExtend(784, list(TRAIN_HIDDEN), 10, use_batchnorm=True,
                                         use_dropout=True, dropout_ration=TRAIN_DROPOUT,
                                         dtype=np.float32, seed=0)
    opt = book_numpy.Adam(lr=1e-3)
    x, t = train_batch()

    def fn():
        opt.update(net.params, net.gradient(x, t))

    return Bench(case, size, impl, fn, note="book MultiLayerNetExtend.gradient + Adam.update")


_BOOK = {"optimizer": _book_optimizer, "batchnorm": _book_batchnorm, "dropout": _book_dropout,
         "train": _book_train}

# ----------------------------------------------------------------- PyTorch


def _torch_optimizer(case, size, impl):
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


def _torch_batchnorm(case, size, impl):
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

        def both():
            layer(xg).backward(dout)

        return Bench(case, size, impl, both, data=(x, dout, xg, layer),
                     note="nn.BatchNorm1d(x).backward(dout), autograd")
    aten = torch.ops.aten
    weight, bias = torch.from_numpy(gamma_np), torch.from_numpy(beta_np)
    rm, rv = torch.zeros(d), torch.ones(d)
    saved = {}

    def forward():
        saved["fwd"] = aten.native_batch_norm(x, weight, bias, rm, rv, True, momentum, eps)

    def backward():
        _, mean, invstd = saved["fwd"]
        aten.native_batch_norm_backward(dout, x, weight, rm, rv, mean, invstd, True, eps,
                                        [True, True, True])

    def both():
        forward()
        backward()

    forward()
    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, impl, fn, data=(x, dout, weight, bias, rm, rv, saved),
                 note="aten.native_batch_norm / native_batch_norm_backward")


def _torch_dropout(case, size, impl):
    torch = torch_module()
    if impl not in ("torch", "torch-inplace"):
        raise Unavailable(f"{impl} has no dropout")
    x = torch.from_numpy(random_array(size.elements, 3))
    inplace = impl == "torch-inplace"
    dropout = torch.nn.functional.dropout

    def fn():
        dropout(x, DROPOUT_P, training=True, inplace=inplace)

    return Bench(case, size, impl, fn, data=(x,),
                 note=f"F.dropout(x, {DROPOUT_P}, training=True{', inplace=True' if inplace else ''})")


def make_torch_train_net(fused=False):
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


def _torch_train(case, size, impl):
    if impl not in ("torch", "torch-fused"):
        raise Unavailable(f"{impl} has no training step")
    net, loss, opt, x, t = make_torch_train_net(fused=impl == "torch-fused")

    def fn():
        opt.zero_grad()
        loss(net(x), t).backward()
        opt.step()

    return Bench(case, size, impl, fn, data=(net, x, t),
                 note="eager: zero_grad, loss(net(x), t).backward(), Adam"
                      + ("(fused=True)" if impl == "torch-fused" else " (default: for-loop)")
                      + ".step()")


_TORCH = {"optimizer": _torch_optimizer, "batchnorm": _torch_batchnorm, "dropout": _torch_dropout,
          "train": _torch_train}
