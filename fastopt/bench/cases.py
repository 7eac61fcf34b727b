"""The benchmark case table: one entry per timed operation, shared by every suite.

``fastopt bench``, the asv suite in ``benchmarks/`` and ``tests/test_bench_kernels.py``
are all generated from :data:`CASES`, and every one of them builds what it times
with :func:`fastopt.bench.build`, so a benchmark cannot time another function than
the one its case names.

This module is data only: of fastopt it imports the kernel specification
(:mod:`fastopt.kernel_spec`, data too) and nothing else (not even the rest of
:mod:`fastopt.bench`). The machinery that prepares and times a case imports it:
:mod:`fastopt.bench.dispatch` (``build``), :mod:`fastopt.bench.ours` (fastopt's
implementations), :mod:`fastopt.bench.stream`, :mod:`fastopt.bench.peers` and
:mod:`fastopt.bench.runner`.

A case says

* which backend kernels the fastopt implementation calls (``kernels``; checked
  against every available backend by ``tests/test_benchmarks.py``),
* for an optimizer kernel, the scalars it is called with: those of a row of the
  example rows of its :class:`fastopt.kernel_spec.KernelSpec` (named by ``test_case``;
  the parity tests run the same rows) followed by the plain gradient transform,
* the bytes per element the operation must move in float32 (``bytes_per_elem``):
  4 bytes for every array read plus every array written, counting a buffer
  updated in place twice. SGD 12 (read p, g; write p), Momentum/Nesterov/
  AdaGrad/RMSprop 20 (p, g, one state buffer), Adam/Adamax/NAdam/Adadelta 28
  (p, g, two state buffers), dropout forward 8 (the mask is recomputed, not
  stored). Batch norm: the compulsory traffic (forward: read x, write out and
  xhat; backward: read dout and xhat, write dx), reached only when the batch
  stays in cache between the kernel's two passes.
* the in-place streaming kernel that moves the same bytes (``stream``: arrays
  updated in place, arrays only read), against which the effective bandwidth is
  quoted as a percentage (see :mod:`fastopt.bench.stream`),
* its sizes, and the peers that have an equivalent (the book's NumPy code,
  PyTorch).

Implementations (the ``impl`` names used everywhere):

``numba``, ``cython``, ``numpy``
    fastopt with that backend (``numpy`` is the plain-NumPy reference twins).
    Optimizer kernels on a flat buffer are called directly with the case's
    arguments; on the book's network (``book-net``) through the public API, an
    optimizer over one :class:`fastopt.FlatParams` (one kernel call), whose
    kernel is checked to be the case's (see :mod:`fastopt.bench.ours`).
``bound``
    the streaming kernel of :mod:`fastopt.bench.stream` (needs Numba).
``book-numpy``, ``torch``, ``torch-forloop``, ``torch-foreach``, ``torch-fused``, ``torch-aten``,
``torch-inplace``
    peers, see :mod:`fastopt.bench.peers`.

Everything is float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import numpy as np

from ..kernel_spec import SPECS, KernelSpec, example_cases

DTYPE = np.dtype(np.float32)

#: The gradient transform (gscale, clip, wd, decay) that changes nothing.
PLAIN = (1.0, 0.0, 0.0, 1.0)

#: fastopt's backends, in the order they are reported.
BACKENDS = ("numba", "cython", "numpy")

#: The book's network of chapter 6 (784 -> 100 x 4 -> 10): 10 tensors, 109,810 parameters.
BOOK_NET = (("W1", (784, 100)), ("b1", (100,)), ("W2", (100, 100)), ("b2", (100,)),
            ("W3", (100, 100)), ("b3", (100,)), ("W4", (100, 100)), ("b4", (100,)),
            ("W5", (100, 10)), ("b5", (10,)))
BOOK_NET_PARAMS = sum(math.prod(shape) for _, shape in BOOK_NET)

#: The training-step network: 784 -> 100 x 5 -> 10, BatchNorm + ReLU + Dropout per hidden layer.
TRAIN_HIDDEN = (100,) * 5
TRAIN_BATCH = 100
TRAIN_DROPOUT = 0.2
DROPOUT_P = 0.2
#: The book scripts' work (optimizer_compare_mnist.py's loop): a float64 MultiLayerNet
#: 784 -> 100 x 4 -> 10 drawn from np.random, float32 batches of 128 from the book's loader.
BOOK_SCRIPT_HIDDEN = (100,) * 4
BOOK_SCRIPT_BATCH = 128

#: A class and its keyword arguments: ``("Adam", {"lr": 1e-3})``; None where there is none.
ClassSpec = Optional[Tuple[str, "dict[str, Any]"]]


@dataclass(frozen=True)
class Size:
    """One size of a case.

    Attributes
    ----------
    label : str
        Name in tables, JSON and benchmark parameters (``"1e7"``, ``"128x100"``).
    shape : tuple of int
        Buffer shape (``(n,)``, ``(N, D)``); ``()`` for the book's network and the
        training step.
    elements : int
        Elements processed per call (parameters for optimizers, N·D for batch
        norm, samples for the training step).
    quick : bool
        Whether ``fastopt bench --quick`` includes it.
    """

    label: str
    shape: tuple[int, ...]
    elements: int
    quick: bool = True


def _flat(label: str, n: int, quick: bool = True) -> Size:
    return Size(label, (n,), n, quick)


SIZE_1E6 = _flat("1e6", 1_000_000)
SIZE_1E7 = _flat("1e7", 10_000_000, quick=False)
SIZE_BOOK_NET = Size("book-net", (), BOOK_NET_PARAMS)


@dataclass(frozen=True, eq=False)
class Case:
    """One benchmarked operation (see the module docstring).

    Attributes
    ----------
    id : str
        Unique name (``"adam"``, ``"batchnorm-fwd"``, ``"train-step"``).
    family : {"optimizer", "batchnorm", "dropout", "train", "book-script", "kernel"}
    title : str
        Human-readable description.
    kernels : tuple of str
        Backend kernels (``fastopt.reference.KERNELS``) the fastopt
        implementation calls.
    sizes : tuple of Size
    peers : tuple of str
        Peer implementations that have an equivalent.
    bytes_per_elem : int or None
        Float32 bytes the operation must move per element (None: not a
        streaming operation).
    stream : tuple of (int, int) or None
        (arrays updated in place, arrays only read) of the streaming kernel
        that moves the same bytes: ``4·(2·k + r) == bytes_per_elem``.
    n_state, scalars, test_case
        Optimizer kernels: state buffers the kernel takes, the scalars before
        the gradient transform, and the kernel spec's example they come from.
    optimizer : tuple (str, dict) or None
        ``fastopt.optim`` class and arguments whose step calls this kernel
        (used on the book's network).
    book : tuple (str, dict) or None
        :mod:`fastopt.bench.book_numpy` optimizer class and arguments.
    torch : tuple (str, dict) or None
        ``torch.optim`` class and arguments.
    """

    id: str
    family: str
    title: str
    kernels: tuple[str, ...]
    sizes: tuple[Size, ...]
    peers: tuple[str, ...] = ()
    bytes_per_elem: Optional[int] = None
    stream: Optional[tuple[int, int]] = None
    n_state: int = 0
    scalars: tuple[float, ...] = ()
    test_case: str = ""
    optimizer: ClassSpec = None
    book: ClassSpec = None
    torch: ClassSpec = None

    @property
    def kernel(self) -> str:
        """The (first) backend kernel."""
        return self.kernels[0]

    def size(self, label: str) -> Size:
        """The :class:`Size` called *label*."""
        for s in self.sizes:
            if s.label == label:
                return s
        raise ValueError(f"case {self.id!r} has no size {label!r}; "
                         f"choose one of {[s.label for s in self.sizes]}")


_OPT_SIZES = (SIZE_1E6, SIZE_1E7, SIZE_BOOK_NET)
_TORCH_OPT = ("torch-forloop", "torch-foreach", "torch-fused")


def _optimizer(example_id: str, title: str, touched: int, optimizer: ClassSpec,
               book: ClassSpec, torch: ClassSpec) -> Case:
    """An optimizer kernel's case, called with the scalars of the spec's example
    *example_id*; *touched*: the state buffers those settings update."""
    spec, example = next((spec, ex) for case_id, spec, ex in example_cases()
                         if case_id == example_id)
    rw = 1 + touched  # p and the state buffers it updates in place, g only read
    peers = (("book-numpy",) if book else ()) + (_TORCH_OPT if torch else ())
    return Case(id=spec.name, family="optimizer", title=title, kernels=(spec.name,),
                sizes=_OPT_SIZES, peers=peers, bytes_per_elem=4 * (2 * rw + 1),
                stream=(rw, 1), n_state=len(spec.state),
                scalars=spec.ordered(example.scalars), test_case=example_id,
                optimizer=optimizer, book=book, torch=torch)


#: The operations timed with their own settings and peers. Optimizer scalars are examples
#: of fastopt.kernel_spec.
_CHOSEN = (
    _optimizer("sgd", "SGD", 0,
               ("SGD", {"lr": 0.01}), ("SGD", {"lr": 0.01}), ("SGD", {"lr": 0.01})),
    _optimizer("momentum-heavy-ball", "Momentum (heavy ball)", 1,
               ("Momentum", {"lr": 0.01, "momentum": 0.9}), ("Momentum", {"lr": 0.01, "momentum": 0.9}),
               ("SGD", {"lr": 0.01, "momentum": 0.9})),
    _optimizer("nesterov-book", "Nesterov (the book's form)", 1,
               ("Nesterov", {"lr": 0.01, "momentum": 0.9}), ("Nesterov", {"lr": 0.01, "momentum": 0.9}),
               ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True})),
    _optimizer("adagrad", "AdaGrad", 1,
               ("Adagrad", {"lr": 0.01}), ("AdaGrad", {"lr": 0.01}), ("Adagrad", {"lr": 0.01})),
    _optimizer("rmsprop", "RMSprop", 1,
               ("RMSprop", {"lr": 0.01}), ("RMSprop", {"lr": 0.01}), ("RMSprop", {"lr": 0.01})),
    _optimizer("adadelta", "Adadelta", 2, ("Adadelta", {}), None, ("Adadelta", {})),
    _optimizer("adam-standard", "Adam", 2,
               ("Adam", {"lr": 1e-3}), ("Adam", {"lr": 1e-3}), ("Adam", {"lr": 1e-3})),
    _optimizer("adamax", "Adamax", 2, ("Adamax", {}), None, ("Adamax", {})),
    _optimizer("nadam", "NAdam", 2, ("NAdam", {}), None, ("NAdam", {})),
    Case(id="batchnorm-fwd", family="batchnorm", title="BatchNorm forward (training)",
         kernels=("batchnorm_forward_train",),
         sizes=(Size("128x100", (128, 100), 12_800), Size("256x1024", (256, 1024), 262_144)),
         peers=("book-numpy", "torch-aten"), bytes_per_elem=12, stream=(1, 1)),
    Case(id="batchnorm-bwd", family="batchnorm", title="BatchNorm backward",
         kernels=("batchnorm_backward",),
         sizes=(Size("128x100", (128, 100), 12_800), Size("256x1024", (256, 1024), 262_144)),
         peers=("book-numpy", "torch-aten"), bytes_per_elem=12, stream=(1, 1)),
    Case(id="batchnorm", family="batchnorm", title="BatchNorm forward + backward",
         kernels=("batchnorm_forward_train", "batchnorm_backward"),
         sizes=(Size("128x100", (128, 100), 12_800), Size("256x1024", (256, 1024), 262_144)),
         peers=("book-numpy", "torch", "torch-aten"), bytes_per_elem=24, stream=(2, 2)),
    Case(id="dropout-fwd", family="dropout", title=f"Dropout forward, p={DROPOUT_P}, in place",
         kernels=("dropout_forward",), sizes=(SIZE_1E6, SIZE_1E7),
         peers=("book-numpy", "torch", "torch-inplace"), bytes_per_elem=8, stream=(1, 0)),
    Case(id="train-step", family="train",
         title="training step: 784-100x5-10, BN+ReLU+dropout 0.2, batch 100, Adam",
         kernels=("batchnorm_forward_train", "batchnorm_backward", "relu_forward", "relu_backward",
                  "dropout_forward", "dropout_backward", "adam"),
         sizes=(Size(f"batch-{TRAIN_BATCH}", (), TRAIN_BATCH),),
         peers=("book-numpy", "torch", "torch-fused", "torch-compile", "jax")),
    Case(id="book-script", family="book-script",
         title="the book scripts' step: float64 784-100x4-10, float32 batch 128, book Adam: "
               "gradient, update, loss",
         kernels=("relu_forward", "relu_backward", "softmax_shift", "softmax_pick",
                  "softmax_xent_backward", "adam"),
         sizes=(Size(f"batch-{BOOK_SCRIPT_BATCH}", (), BOOK_SCRIPT_BATCH),),
         peers=("book-numpy",)),
)
SIZE_KERNEL = _flat("1e5", 100_000)


def _from_spec(spec: KernelSpec) -> Case:
    """The case of a kernel no chosen case times: an update kernel as an optimizer case
    (its first example, its first optimizer class), any other with its spec's example
    arguments at about 1e5 elements (family ``"kernel"``)."""
    if spec.update:
        return _optimizer(spec.examples[0].id, spec.summary, len(spec.state),
                          (next(iter(spec.optimizers.values())), {}), None, None)
    return Case(id=spec.name.replace("_", "-"), family="kernel", title=spec.summary,
                kernels=(spec.name,), sizes=(SIZE_KERNEL,))


#: Every benchmarked operation: the chosen ones, then one per kernel none of them calls,
#: so that every kernel of the spec is timed.
CASES = _CHOSEN + tuple(_from_spec(spec) for spec in SPECS
                        if spec.name not in {k for case in _CHOSEN for k in case.kernels})

_BY_ID: dict[str, Case] = {c.id: c for c in CASES}
if len(_BY_ID) != len(CASES):  # pragma: no cover - a table error
    raise RuntimeError("duplicate case ids in fastopt.bench.cases.CASES")


def case_by_id(case_id: str) -> Case:
    """The :class:`Case` called *case_id*."""
    try:
        return _BY_ID[case_id]
    except KeyError:
        raise ValueError(f"unknown benchmark case {case_id!r}; choose one of {sorted(_BY_ID)}") \
            from None


def implementations(case: Case) -> list[str]:
    """Every implementation name that applies to *case* (available here or not).

    fastopt's backends first, then ``bound`` (streaming cases), then the case's peers.
    """
    head = list(BACKENDS)
    if case.stream is not None:
        head.insert(0, "bound")
    return head + list(case.peers)
