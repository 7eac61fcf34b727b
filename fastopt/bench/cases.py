"""The benchmark case table: one entry per timed operation, shared by every suite.

``fastopt bench``, the asv suite in ``benchmarks/`` and ``tests/test_bench_kernels.py``
are all generated from :data:`CASES`, and every one of them builds what it times
with :func:`build`, so a benchmark cannot time another function than the one its
case names.

A case says

* which backend kernels the fastopt implementation calls (``kernels``; checked
  against every available backend by ``tests/test_benchmarks.py``),
* for an optimizer kernel, the scalars it is called with: those of a row of the
  kernel parity tests' table (``tests/kernel_cases.py``, named by ``test_case``;
  the tests check that the two agree) followed by the plain gradient transform,
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
    kernel is checked to be the case's.
``bound``
    the streaming kernel of :mod:`fastopt.bench.stream` (needs Numba).
``book-numpy``, ``torch``, ``torch-forloop``, ``torch-foreach``, ``torch-fused``, ``torch-aten``,
``torch-inplace``
    peers, see :mod:`fastopt.bench.peers`.

Everything is float32.
"""
import contextlib
import math
from dataclasses import dataclass

import numpy as np

from .. import _backend

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


class Unavailable(NotImplementedError):
    """This implementation cannot run here (backend or peer missing, or no equivalent).

    A subclass of ``NotImplementedError``, which asv reports as a skipped benchmark.
    """


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
    shape: tuple
    elements: int
    quick: bool = True


def _flat(label, n, quick=True):
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
    family : {"optimizer", "batchnorm", "dropout", "train", "book-script"}
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
        the gradient transform, and the row of ``tests/kernel_cases.py`` they
        come from.
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
    kernels: tuple
    sizes: tuple
    peers: tuple = ()
    bytes_per_elem: int = None
    stream: tuple = None
    n_state: int = 0
    scalars: tuple = ()
    test_case: str = ""
    optimizer: tuple = None
    book: tuple = None
    torch: tuple = None

    @property
    def kernel(self):
        """The (first) backend kernel."""
        return self.kernels[0]

    def size(self, label):
        """The :class:`Size` called *label*."""
        for s in self.sizes:
            if s.label == label:
                return s
        raise ValueError(f"case {self.id!r} has no size {label!r}; "
                         f"choose one of {[s.label for s in self.sizes]}")


_OPT_SIZES = (SIZE_1E6, SIZE_1E7, SIZE_BOOK_NET)
_TORCH_OPT = ("torch-forloop", "torch-foreach", "torch-fused")


def _optimizer(id, title, kernel, n_state, touched, scalars, test_case, optimizer, book, torch):
    rw = 1 + touched  # p and the state buffers it updates in place, g only read
    peers = (("book-numpy",) if book else ()) + (_TORCH_OPT if torch else ())
    return Case(id=id, family="optimizer", title=title, kernels=(kernel,), sizes=_OPT_SIZES,
                peers=peers, bytes_per_elem=4 * (2 * rw + 1), stream=(rw, 1), n_state=n_state,
                scalars=scalars, test_case=test_case, optimizer=optimizer, book=book, torch=torch)


#: Every benchmarked operation. Optimizer scalars are rows of tests/kernel_cases.py.
CASES = (
    _optimizer("sgd", "SGD", "sgd", 0, 0, (0.01,), "sgd",
               ("SGD", {"lr": 0.01}), ("SGD", {"lr": 0.01}), ("SGD", {"lr": 0.01})),
    _optimizer("momentum", "Momentum (heavy ball)", "momentum", 1, 1,
               (0.9, -0.01, 1.0, False, 0.0), "momentum-heavy-ball",
               ("Momentum", {"lr": 0.01, "momentum": 0.9}), ("Momentum", {"lr": 0.01, "momentum": 0.9}),
               ("SGD", {"lr": 0.01, "momentum": 0.9})),
    _optimizer("nesterov", "Nesterov (the book's form)", "nesterov", 1, 1,
               (0.81, 0.019, 0.9, 0.01), "nesterov-book",
               ("Nesterov", {"lr": 0.01, "momentum": 0.9}), ("Nesterov", {"lr": 0.01, "momentum": 0.9}),
               ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True})),
    _optimizer("adagrad", "AdaGrad", "adagrad", 1, 1, (0.01, 1e-7), "adagrad",
               ("Adagrad", {"lr": 0.01}), ("AdaGrad", {"lr": 0.01}), ("Adagrad", {"lr": 0.01})),
    _optimizer("rmsprop", "RMSprop", "rmsprop", 3, 1, (0.99, 0.01, 0.01, 1e-7, False, 0.0, False),
               "rmsprop", ("RMSprop", {"lr": 0.01}), ("RMSprop", {"lr": 0.01}),
               ("RMSprop", {"lr": 0.01})),
    _optimizer("adadelta", "Adadelta", "adadelta", 2, 2, (0.9, 0.1, 1e-6, 1.0), "adadelta",
               ("Adadelta", {}), None, ("Adadelta", {})),
    _optimizer("adam", "Adam", "adam", 3, 2, (0.1, 0.001, 0.0105, 0.0447, 1e-8, False),
               "adam-standard", ("Adam", {"lr": 1e-3}), ("Adam", {"lr": 1e-3}),
               ("Adam", {"lr": 1e-3})),
    _optimizer("adamax", "Adamax", "adamax", 2, 2, (0.1, 0.999, 1e-8, 0.002), "adamax",
               ("Adamax", {}), None, ("Adamax", {})),
    _optimizer("nadam", "NAdam", "nadam", 2, 2, (0.1, 0.001, 0.002, 1e-8, 1e-3, 2e-3), "nadam",
               ("NAdam", {}), None, ("NAdam", {})),
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

_BY_ID = {c.id: c for c in CASES}
if len(_BY_ID) != len(CASES):  # pragma: no cover - a table error
    raise RuntimeError("duplicate case ids in fastopt.bench.cases.CASES")


def case_by_id(case_id):
    """The :class:`Case` called *case_id*."""
    try:
        return _BY_ID[case_id]
    except KeyError:
        raise ValueError(f"unknown benchmark case {case_id!r}; choose one of {sorted(_BY_ID)}") \
            from None


def implementations(case):
    """Every implementation name that applies to *case* (available here or not).

    fastopt's backends first, then ``bound`` (streaming cases), then the case's peers.
    """
    head = list(BACKENDS)
    if case.stream is not None:
        head.insert(0, "bound")
    return head + list(case.peers)


class Bench:
    """A prepared benchmark: call it to run the timed operation once.

    Attributes
    ----------
    case : Case
    size : Size
    impl : str
    fn : callable
        The timed operation, without arguments.
    backend : str or None
        fastopt backend to activate around the calls (see :meth:`active`).
    note : str
        What exactly is timed, for the report.
    data : object
        The buffers *fn* works on (e.g. ``(p, g, state)``), kept alive with it.
    """

    def __init__(self, case, size, impl, fn, *, backend=None, note="", data=None):
        self.case, self.size, self.impl = case, size, impl
        self.fn, self.backend, self.note = fn, backend, note
        self.data = data

    def __call__(self):
        return self.fn()

    def active(self):
        """Context manager making this benchmark's fastopt backend the active one."""
        if self.backend is None:
            return contextlib.nullcontext()
        return _backend.use_backend(self.backend)

    def __repr__(self):
        return f"Bench({self.case.id!r}, {self.size.label!r}, {self.impl!r})"


def build(case, size, impl):
    """Prepare *case* at *size* for implementation *impl*.

    Parameters
    ----------
    case : Case or str
    size : Size or str
        A size of the case (its label).
    impl : str
        ``"numba"``, ``"cython"``, ``"numpy"``, ``"bound"`` or a peer of the case.

    Returns
    -------
    Bench
        Call it (inside ``bench.active()``) to run the operation once; it has
        been run twice already (compiling, or loading Numba's on-disk cache).

    Raises
    ------
    Unavailable
        The backend or peer is not installed here, or has no equivalent.
    ValueError
        Unknown case, size or implementation.
    """
    case = case_by_id(case) if isinstance(case, str) else case
    size = case.size(size) if isinstance(size, str) else case.size(size.label)
    if impl not in implementations(case):
        raise ValueError(f"case {case.id!r} has no implementation {impl!r}; "
                         f"choose one of {implementations(case)}")
    if impl in BACKENDS:
        if impl not in _backend.available_backends():
            raise Unavailable(f"fastopt backend {impl!r} is not available here "
                              f"({_backend.backend_errors().get(impl, 'unknown backend')})")
        bench = _FASTOPT_BUILDERS[case.family](case, size, impl)
    elif impl == "bound":
        from . import stream

        bench = stream.build(case, size)
    else:
        from . import peers

        bench = peers.build(case, size, impl)
    with bench.active():  # warm up: compile or load the cache, allocate workspaces
        bench()
        bench()
    return bench


# ----------------------------------------------------------------- data


def random_array(shape, seed, scale=1.0, dtype=DTYPE):
    """Uniform values in [-scale/2, scale/2) of *dtype* (cheap even at 1e7 elements)."""
    rng = np.random.default_rng(seed)
    a = rng.random(shape, dtype=np.float32)
    a -= np.float32(0.5)
    if scale != 1.0:
        a *= np.float32(scale)
    return a.astype(dtype, copy=False)


def book_net_arrays(seed=0):
    """(params, grads): the book network's 10 float32 arrays and gradients of the same shapes."""
    params = {name: random_array(shape, seed + i, 0.1) for i, (name, shape) in enumerate(BOOK_NET)}
    grads = {name: random_array(shape, 100 + seed + i, 1e-2) for i, (name, shape) in enumerate(BOOK_NET)}
    return params, grads


def train_batch(seed=0):
    """(x, t): a float32 batch of TRAIN_BATCH MNIST-sized inputs and integer labels."""
    rng = np.random.default_rng(seed)
    return rng.random((TRAIN_BATCH, 784), dtype=np.float32), rng.integers(0, 10, TRAIN_BATCH)


def kernel_args(case, dtype=DTYPE):
    """The scalars an optimizer case's kernel is called with, cast as the optimizers do."""
    return [s if isinstance(s, bool) else dtype.type(s) for s in case.scalars + PLAIN]


# ----------------------------------------------------------------- fastopt builders


def _fastopt_optimizer(case, size, backend):
    if size.label == SIZE_BOOK_NET.label:
        return _fastopt_optimizer_api(case, size, backend)
    kernel = getattr(_backend.kernels(backend), case.kernel)
    n = size.elements
    p = random_array(n, 1, 0.1)
    g = random_array(n, 2, 1e-2)
    state = [np.zeros(n, DTYPE) for _ in range(case.n_state)]
    args = kernel_args(case)

    def fn():
        kernel(p, g, *state, *args)

    return Bench(case, size, backend, fn, backend=backend, data=(p, g, state),
                 note=f"kernels.{case.kernel}(p, g, *state, ...) on one float32 buffer")


def _fastopt_optimizer_api(case, size, backend):
    from .. import optim
    from ..optim.flat import FlatParams

    params, grads = book_net_arrays()
    flat = FlatParams(params)
    for name, g in grads.items():
        flat.grads[name][...] = g
    cls_name, kwargs = case.optimizer
    opt = getattr(optim, cls_name)(flat, **kwargs)
    kernel, _ = opt._kernel_for(opt.param_groups[0])
    if kernel != case.kernel:
        raise RuntimeError(f"case {case.id!r}: fastopt.optim.{cls_name}(**{kwargs}) calls kernel "
                           f"{kernel!r}, not {case.kernel!r}")
    return Bench(case, size, backend, opt.step, backend=backend,
                 note=f"optim.{cls_name}(FlatParams of the 10 arrays).step(): one kernel call")


def batchnorm_arrays(shape, seed=0):
    """(x, dout, gamma, beta) for a batch-norm case, float32."""
    n, d = shape
    x = random_array((n, d), seed, 4.0) + np.float32(1.0)
    dout = random_array((n, d), seed + 1)
    gamma = 1.0 + random_array(d, seed + 2, 0.2)
    beta = random_array(d, seed + 3, 0.2)
    return x, dout, gamma, beta


def _fastopt_batchnorm(case, size, backend):
    from ..reference.batchnorm import batchnorm_work_size

    k = _backend.kernels(backend)
    n, d = size.shape
    x, dout, gamma, beta = batchnorm_arrays(size.shape)
    out, xhat, dx = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    mean, var, inv_std = np.empty(d), np.empty(d), np.empty(d)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(beta)
    work = np.empty(batchnorm_work_size(n, d))
    eps = 1e-6
    fwd, bwd = k.batchnorm_forward_train, k.batchnorm_backward

    def forward():
        fwd(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work)

    def backward():
        bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work)

    def both():
        fwd(x, gamma, beta, out, xhat, mean, var, inv_std, eps, work)
        bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, work)

    forward()
    fn = {"batchnorm-fwd": forward, "batchnorm-bwd": backward, "batchnorm": both}[case.id]
    return Bench(case, size, backend, fn, backend=backend,
                 note="kernels " + " + ".join(case.kernels) + " with a kept float64 work buffer")


def dropout_args(p=DROPOUT_P, dtype=DTYPE):
    """(seed, stream, offset, threshold, scale) of an inverted dropout with ratio *p*."""
    from ..reference.rng import keep_threshold

    return (np.uint64(12345), np.uint64(7), np.uint64(0), np.uint64(keep_threshold(p)),
            dtype.type(1.0 / (1.0 - p)))


def _fastopt_dropout(case, size, backend):
    kernel = _backend.kernels(backend).dropout_forward
    x = random_array(size.elements, 3)
    args = dropout_args()

    def fn():
        kernel(x, x, *args)

    return Bench(case, size, backend, fn, backend=backend,
                 note="kernels.dropout_forward(x, x, ...): in place, mask recomputed")


def make_train_net(seed=0):
    """fastopt's book ``MultiLayerNetExtend`` for the training-step case, and its Adam."""
    from .. import optim
    from ..book import MultiLayerNetExtend

    net = MultiLayerNetExtend(784, list(TRAIN_HIDDEN), 10, use_batchnorm=True, use_dropout=True,
                              dropout_ration=TRAIN_DROPOUT, seed=seed, dtype=np.float32,
                              dropout_seed=seed)
    return net, optim.Adam(net.params, lr=1e-3)


def _fastopt_train(case, size, backend):
    net, opt = make_train_net()
    x, t = train_batch()

    def fn():
        net.gradient(x, t)
        opt.step()

    return Bench(case, size, backend, fn, backend=backend,
                 note="book.MultiLayerNetExtend.gradient + optim.Adam(net.params).step()")


def book_script_batch(seed=0):
    """(x, t): a float32 batch of BOOK_SCRIPT_BATCH inputs in [0, 1) and integer labels."""
    rng = np.random.default_rng(seed)
    return (rng.random((BOOK_SCRIPT_BATCH, 784), dtype=np.float32),
            rng.integers(0, 10, BOOK_SCRIPT_BATCH))


def _fastopt_book_script(case, size, backend):
    from ..book import Adam, MultiLayerNet

    net, opt = MultiLayerNet(784, list(BOOK_SCRIPT_HIDDEN), 10, seed=0), Adam()
    x, t = book_script_batch()

    def fn():
        opt.update(net.params, net.gradient(x, t))
        net.loss(x, t)

    return Bench(case, size, backend, fn, backend=backend,
                 note="fastopt.book: Adam().update(net.params, net.gradient(x, t)); net.loss(x, t)")


_FASTOPT_BUILDERS = {"optimizer": _fastopt_optimizer, "batchnorm": _fastopt_batchnorm,
                     "dropout": _fastopt_dropout, "train": _fastopt_train,
                     "book-script": _fastopt_book_script}
