"""The kernel specification: one entry per kernel, from which everything else is derived.

Every kernel exists three times, with the same name, parameters and bits: a
plain-NumPy twin in :mod:`fastopt.reference` (the oracle), a Numba twin in
:mod:`fastopt.kernels` and a Cython twin in ``src_cython/`` (one build per
instruction-set level). A :class:`KernelSpec` says, for one kernel,

* its ``family``: the module that defines it in each backend (``reference/<family>.py``,
  ``kernels/<family>.py``, ``src_cython/<family>.pyx``);
* for an optimizer update (``update=True``): the state buffers it updates and what
  they hold, its named :class:`Scalar` arguments in order (the four gradient-transform
  scalars ``gscale, clip, wd, decay`` follow them in every update kernel), which
  scalars fold away when they equal 1, the parallel weight class, the float32 bytes it
  moves per element, and :class:`Example` rows of scalars for tests and benchmarks;
* for any other kernel: an ``example`` function building its arguments.

Derived from :data:`SPECS`: the backends' namespaces (``fastopt.reference``,
``fastopt.kernels``, ``fastopt._cy``), the parity tests of every kernel on every
backend and instruction-set build (``tests/test_kernel_spec.py``, which also fails
when a kernel lacks a twin, a parity case or a benchmark case), the optimizer
benchmark cases (:mod:`fastopt.bench.cases`) and ``fastopt train --optimizer``'s
choices. Optimizers hand their scalars to the kernel by name
(``Optimizer._scalars`` returns a dict, ordered here).

This module is data plus small argument builders: it imports NumPy only, so every
part of fastopt (the benchmark table included) may import it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import operator
from functools import cached_property
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

import numpy as np

#: The gradient transform every update kernel takes after its own scalars.
TRANSFORM = ("gscale", "clip", "wd", "decay")
#: Transform settings for tests and benchmarks: identity, scaled/clamped/coupled L2, decoupled decay.
TRANSFORMS: Dict[str, Tuple[float, float, float, float]] = {
    "plain": (1.0, 0.0, 0.0, 1.0),
    "transformed": (-0.7, 0.05, 0.01, 1.0),
    "decoupled": (1.0, 0.0, 0.0, 0.999),
}

ScalarValue = Union[float, bool]


@dataclass(frozen=True)
class Scalar:
    """One named scalar argument of an update kernel.

    ``flag``: a bool switch (each value compiles to its own loop). ``fold_when_one``:
    the Numba twin receives None when the value is 1 and skips dividing by it (exact,
    x / 1 == x); the Cython twin specialises the same case.
    """
    name: str
    meaning: str
    flag: bool = False
    fold_when_one: bool = False


@dataclass(frozen=True)
class Example:
    """Scalars (by name) an update kernel is tested and benchmarked with."""
    id: str
    scalars: Mapping[str, ScalarValue]


@dataclass(frozen=True)
class KernelSpec:
    """One kernel's contract (see the module docstring)."""
    name: str
    family: str
    summary: str
    update: bool = False
    state: Tuple[Tuple[str, str], ...] = ()
    scalars: Tuple[Scalar, ...] = ()
    weight: str = "heavy"
    examples: Tuple[Example, ...] = ()
    #: ``fastopt train --optimizer`` name -> class in :mod:`fastopt.optim`
    optimizers: Mapping[str, str] = field(default_factory=dict)
    #: builds (args) for a non-update kernel: example(n, dtype, rng) -> tuple
    example: Optional[Callable[[int, np.dtype, np.random.Generator], Tuple[Any, ...]]] = None

    @cached_property
    def state_names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self.state)

    @cached_property
    def scalar_names(self) -> Tuple[str, ...]:
        return tuple(s.name for s in self.scalars)

    @cached_property
    def fold_when_one(self) -> Tuple[str, ...]:
        return tuple(s.name for s in self.scalars if s.fold_when_one)

    @cached_property
    def parameters(self) -> Tuple[str, ...]:
        """An update kernel's parameter names, in order."""
        return ("p", "g", *self.state_names, *self.scalar_names, *TRANSFORM)

    @property
    def bytes_per_elem(self) -> int:
        """float32 bytes an update moves per element: p and the state read and written,
        g read."""
        return 4 * (2 * (1 + len(self.state)) + 1)

    @cached_property
    def flags(self) -> Tuple[bool, ...]:
        """Per argument after the state (the scalars, then the transform): a bool flag?"""
        return tuple(s.flag for s in self.scalars) + (False,) * len(TRANSFORM)

    @cached_property
    def _pick(self) -> Callable[[Mapping[str, ScalarValue]], Any]:
        return operator.itemgetter(*self.scalar_names) if self.scalars else (lambda _: ())

    def ordered(self, scalars: Mapping[str, ScalarValue]) -> Tuple[ScalarValue, ...]:
        """*scalars* (by name) in the kernel's order; refuses missing or unknown names."""
        if len(scalars) == len(self.scalars):
            try:
                values = self._pick(scalars)  # itemgetter: once per optimizer step, in C
            except KeyError:
                pass
            else:
                return values if len(self.scalars) != 1 else (values,)
        missing = sorted(set(self.scalar_names) - set(scalars))
        unknown = sorted(set(scalars) - set(self.scalar_names))
        raise ValueError(f"kernel {self.name!r} takes scalars {list(self.scalar_names)}; "
                         f"missing {missing}, unknown {unknown}")


def _update(name: str, family: str, summary: str, state: Tuple[Tuple[str, str], ...],
            scalars: Tuple[Scalar, ...], examples: Tuple[Example, ...],
            optimizers: Mapping[str, str], weight: str = "heavy") -> KernelSpec:
    return KernelSpec(name=name, family=family, summary=summary, update=True, state=state,
                      scalars=scalars, weight=weight, examples=examples, optimizers=optimizers)


# ----------------------------------------------------------------- example arguments
def _floats(rng: np.random.Generator, shape: Any, dtype: np.dtype, low: float = -1.0,
            high: float = 1.0) -> np.ndarray:
    return rng.uniform(low, high, shape).astype(dtype)


def _rows(n: int) -> Tuple[int, int]:
    """(N, D) with about n elements (at least 2 rows); D odd so no row is a whole number
    of vectors, about a hidden layer's width."""
    d = 101
    return max(2, n // d), d


def _bn_train(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, d = _rows(n)
    x = _floats(rng, (rows, d), dt, -2.0, 3.0)
    return (x, _floats(rng, d, dt, 0.5, 1.5), _floats(rng, d, dt), np.empty_like(x),
            np.empty_like(x), np.empty(d), np.empty(d), np.empty(d), 1e-5, None)


def _bn_eval(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, d = _rows(n)
    x = _floats(rng, (rows, d), dt)
    return (x, _floats(rng, d, dt, 0.5, 1.5), _floats(rng, d, dt), np.empty_like(x),
            _floats(rng, d, dt), _floats(rng, d, dt, 0.1, 2.0), 1e-5, None)


def _bn_backward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, d = _rows(n)
    dout = _floats(rng, (rows, d), dt)
    return (dout, _floats(rng, (rows, d), dt, -2.0, 2.0), _floats(rng, d, dt, 0.5, 1.5),
            rng.uniform(0.5, 2.0, d), np.empty_like(dout), np.empty(d, dt), np.empty(d, dt),
            None)


def _channels(n: int) -> Tuple[int, int, int]:
    """(N, C, L): 3 channels of 7x7 maps, at least 2 samples."""
    return max(2, n // 147), 3, 49


def _bn_channel_train(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, c, length = _channels(n)
    x = _floats(rng, (rows, c, length), dt, -2.0, 3.0)
    return (x, _floats(rng, c, dt, 0.5, 1.5), _floats(rng, c, dt), np.empty_like(x),
            np.empty_like(x), np.empty(c), np.empty(c), np.empty(c), 1e-5, None)


def _bn_channel_eval(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, c, length = _channels(n)
    x = _floats(rng, (rows, c, length), dt)
    return (x, _floats(rng, c, dt, 0.5, 1.5), _floats(rng, c, dt), np.empty_like(x),
            _floats(rng, c, dt), _floats(rng, c, dt, 0.1, 2.0), 1e-5, None)


def _bn_channel_backward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, c, length = _channels(n)
    dout = _floats(rng, (rows, c, length), dt)
    return (dout, _floats(rng, (rows, c, length), dt, -2.0, 2.0),
            _floats(rng, c, dt, 0.5, 1.5), rng.uniform(0.5, 2.0, c), np.empty_like(dout),
            np.empty(c, dt), np.empty(c, dt), None)


def _dropout_scalars(dt: np.dtype) -> Tuple[Any, ...]:
    # keep_threshold(0.2) of fastopt.reference.rng: elements whose 53-bit uniform is >= 0.2
    return (np.uint64(12345), np.uint64(7), np.uint64(3), np.uint64(int(0.2 * 2 ** 53)),
            dt.type(1.25))


def _dropout(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    x = _floats(rng, n, dt)
    return (x, np.empty_like(x), *_dropout_scalars(dt))


def _relu_forward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    x = _floats(rng, n, dt)
    return x, np.empty_like(x)


def _relu_backward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    x = _floats(rng, n, dt)
    return x, _floats(rng, n, dt), np.empty_like(x)


def _bn_work_size(rows: int, d: int) -> int:
    from .reference.batchnorm import batchnorm_work_size  # here: this module imports NumPy only

    return batchnorm_work_size(rows, d)


def _fused_forward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, d = _rows(n)
    seed, stream, _, threshold, scale = _dropout_scalars(dt)
    h = _floats(rng, (rows, d), dt, -2.0, 3.0)
    work = np.empty(_bn_work_size(rows, d))
    return (h, _floats(rng, d, dt), _floats(rng, d, dt, 0.5, 1.5), _floats(rng, d, dt),
            np.empty_like(h), np.empty_like(h), np.empty_like(h), np.empty(d), np.empty(d),
            np.empty(d), 1e-5, rng.uniform(-1, 1, d), rng.uniform(0.5, 2, d), 0.9,
            rows / max(rows - 1, 1), work, True, seed, stream, threshold, scale)


def _fused_backward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, d = _rows(n)
    out = _floats(rng, (rows, d), dt)
    out[out < 0] = 0
    work = np.empty(_bn_work_size(rows, d))
    return (_floats(rng, (rows, d), dt), out, _floats(rng, (rows, d), dt, -2.0, 2.0),
            _floats(rng, d, dt, 0.5, 1.5), rng.uniform(0.5, 2.0, d), dt.type(1.25),
            np.empty_like(out), np.empty_like(out), np.empty(d, dt), np.empty(d, dt),
            np.empty(d, dt), work)


def _classes(n: int) -> Tuple[int, int]:
    return max(1, n // 10), 10


def _softmax_shift(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    x = _floats(rng, _classes(n), dt, -5.0, 5.0)
    return x, np.empty_like(x)


def _softmax_pick(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, c = _classes(n)
    e = np.exp(_floats(rng, (rows, c), dt, -3.0, 0.0))
    return (e, e.sum(axis=1), rng.integers(0, c, rows), np.empty_like(e),
            np.empty(rows, dt))


def _softmax_xent_backward(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    rows, c = _classes(n)
    y = _floats(rng, (rows, c), dt, 0.0, 1.0)
    return y, rng.integers(0, c, rows), np.empty_like(y)


def _sumsq(n: int, dt: np.dtype, rng: np.random.Generator) -> Tuple[Any, ...]:
    return (_floats(rng, n, dt),)


def _other(name: str, family: str, summary: str,
           example: Callable[[int, np.dtype, np.random.Generator], Tuple[Any, ...]]
           ) -> KernelSpec:
    return KernelSpec(name=name, family=family, summary=summary, example=example)


# ----------------------------------------------------------------- the table
_LR = Scalar("lr", "learning rate η")
_EPS = Scalar("eps", "ε, added to the root")

#: Every kernel, in the order backends and reports list them.
SPECS: Tuple[KernelSpec, ...] = (
    _update("sgd", "momentum", "p ← p − lr·x", (), (_LR,),
            (Example("sgd", {"lr": 0.01}),), {"sgd": "SGD"}, weight="light"),
    _update("momentum", "momentum",
            "buf ← mu·buf + damp·x; d = x + nest_mu·buf (nesterov) or buf; p ← p + coef·d",
            (("buf", "velocity (PyTorch's momentum buffer; the book's v is −lr·buf)"),),
            (Scalar("mu", "momentum μ (0 at PyTorch's first step)"),
             Scalar("damp", "1 − dampening (1 at PyTorch's first step)"),
             Scalar("coef", "step factor: −lr"),
             Scalar("nesterov", "use the look-ahead d = x + μ·buf", flag=True),
             Scalar("nest_mu", "μ of the look-ahead")),
            (Example("momentum-heavy-ball", {"mu": 0.9, "damp": -0.01, "coef": 1.0,
                                             "nesterov": False, "nest_mu": 0.0}),
             Example("momentum-torch", {"mu": 0.9, "damp": 0.8, "coef": -0.01,
                                        "nesterov": False, "nest_mu": 0.9}),
             Example("momentum-nesterov", {"mu": 0.9, "damp": 1.0, "coef": -0.01,
                                           "nesterov": True, "nest_mu": 0.9})),
            {"momentum": "Momentum"}, weight="light"),
    _update("nesterov", "momentum",
            "the book's corrected (2021) Nesterov: p += mu²·v; p −= (1+mu)·lr·x; v ← mu·v − lr·x",
            (("velocity", "velocity, the book's v"),),
            (Scalar("mu_squared", "μ²"), Scalar("one_plus_mu_lr", "(1 + μ)·η"),
             Scalar("mu", "momentum μ"), _LR),
            (Example("nesterov-book", {"mu_squared": 0.81, "one_plus_mu_lr": 0.019, "mu": 0.9,
                                       "lr": 0.01}),),
            {"nesterov": "Nesterov"}, weight="light"),
    _update("adagrad", "adaptive", "h ← h + x²; p ← p − (lr_t·x) / (√h + eps)",
            (("h", "sum of squared gradients"),),
            (Scalar("lr_t", "the decayed rate η / (1 + (t−1)·lr_decay)"), _EPS),
            (Example("adagrad", {"lr_t": 0.01, "eps": 1e-7}),), {"adagrad": "Adagrad"}),
    _update("rmsprop", "adaptive",
            "h ← rho·h + ((1−rho)·x)·x; optional centering (grad_avg) and momentum buffer",
            (("h", "running mean of squared gradients"),
             ("grad_avg", "running mean of gradients (centered only)"),
             ("buf", "momentum buffer (momentum > 0 only)")),
            (Scalar("rho", "decay α of the running means"), Scalar("one_minus_rho", "1 − α"),
             _LR, _EPS, Scalar("centered", "divide by the variance, not the mean square",
                               flag=True),
             Scalar("mu", "momentum μ"), Scalar("use_momentum", "keep a momentum buffer",
                                                 flag=True)),
            (Example("rmsprop", {"rho": 0.99, "one_minus_rho": 0.01, "lr": 0.01, "eps": 1e-7,
                                 "centered": False, "mu": 0.0, "use_momentum": False}),
             Example("rmsprop-centered-momentum",
                     {"rho": 0.9, "one_minus_rho": 0.1, "lr": 0.01, "eps": 1e-8,
                      "centered": True, "mu": 0.9, "use_momentum": True})),
            {"rmsprop": "RMSprop"}),
    _update("adadelta", "adaptive",
            "h ← rho·h + (1−rho)·x²; delta = √(acc+eps)/√(h+eps)·x; acc ← rho·acc + (1−rho)·delta²",
            (("h", "running mean of squared gradients"),
             ("acc_delta", "running mean of squared updates")),
            (Scalar("rho", "decay ρ of the running means"), Scalar("one_minus_rho", "1 − ρ"),
             _EPS, _LR),
            (Example("adadelta", {"rho": 0.9, "one_minus_rho": 0.1, "eps": 1e-6, "lr": 1.0}),),
            {"adadelta": "Adadelta"}),
    _update("adam", "adaptive",
            "m += (1−b1)(x−m); v += (1−b2)(x²−v); p ← p − (step_size·m) / (√v / bc2_sqrt + eps)",
            (("m", "first moment (running mean of gradients)"),
             ("v", "second moment (running mean of squared gradients)"),
             ("v_max", "running maximum of the second moment (AMSGrad only)")),
            (Scalar("one_minus_beta1", "1 − β₁"), Scalar("one_minus_beta2", "1 − β₂"),
             Scalar("step_size", "η / (1 − β₁ᵗ), or the book's η·√(1−β₂ᵗ)/(1−β₁ᵗ)"),
             Scalar("bc2_sqrt", "√(1 − β₂ᵗ); 1 in the book's form", fold_when_one=True),
             _EPS, Scalar("amsgrad", "divide by the running maximum of v", flag=True)),
            (Example("adam-standard", {"one_minus_beta1": 0.1, "one_minus_beta2": 0.001,
                                       "step_size": 0.0105, "bc2_sqrt": 0.0447, "eps": 1e-8,
                                       "amsgrad": False}),
             Example("adam-book", {"one_minus_beta1": 0.1, "one_minus_beta2": 0.001,
                                   "step_size": 4.5e-4, "bc2_sqrt": 1.0, "eps": 1e-7,
                                   "amsgrad": False}),
             Example("amsgrad", {"one_minus_beta1": 0.1, "one_minus_beta2": 0.001,
                                 "step_size": 0.0105, "bc2_sqrt": 0.0447, "eps": 1e-8,
                                 "amsgrad": True})),
            {"adam": "Adam", "adamw": "AdamW", "amsgrad": "AMSGrad"}),
    _update("adamax", "adaptive", "m += (1−b1)(x−m); u ← max(b2·u, |x| + eps); p ← p − (lr_t·m) / u",
            (("m", "first moment"), ("u", "exponentially weighted infinity norm")),
            (Scalar("one_minus_beta1", "1 − β₁"), Scalar("beta2", "β₂"), _EPS,
             Scalar("lr_t", "η / (1 − β₁ᵗ)")),
            (Example("adamax", {"one_minus_beta1": 0.1, "beta2": 0.999, "eps": 1e-8,
                                "lr_t": 0.002}),),
            {"adamax": "Adamax"}),
    _update("nadam", "adaptive",
            "m, v as Adam; den = √(v/bc2) + eps; p ← p − (coef_g·x)/den − (coef_m·m)/den",
            (("m", "first moment"), ("v", "second moment")),
            (Scalar("one_minus_beta1", "1 − β₁"), Scalar("one_minus_beta2", "1 − β₂"),
             Scalar("bc2", "1 − β₂ᵗ"), _EPS,
             Scalar("coef_g", "η(1 − μ_t)/(1 − Π_t), the gradient's factor"),
             Scalar("coef_m", "η·μ_{t+1}/(1 − Π_t·μ_{t+1}), the moment's factor")),
            (Example("nadam", {"one_minus_beta1": 0.1, "one_minus_beta2": 0.001, "bc2": 0.002,
                               "eps": 1e-8, "coef_g": 1e-3, "coef_m": 2e-3}),),
            {"nadam": "NAdam"}),
    _update("lion", "lion",
            "c = beta1·m + (1−beta1)·x; p ← p − lr·sign(c); m ← beta2·m + (1−beta2)·x",
            (("m", "momentum (running mean of gradients)"),),
            (Scalar("beta1", "β₁, the interpolation of the update's sign"),
             Scalar("one_minus_beta1", "1 − β₁"),
             Scalar("beta2", "β₂, the momentum's decay"), Scalar("one_minus_beta2", "1 − β₂"),
             _LR),
            (Example("lion", {"beta1": 0.9, "one_minus_beta1": 0.1, "beta2": 0.99,
                              "one_minus_beta2": 0.01, "lr": 1e-4}),),
            {"lion": "Lion"}, weight="light"),
    _other("sumsq", "reduce", "Σx², float64, in fixed blocks", _sumsq),
    _other("batchnorm_forward_train", "batchnorm", "batch norm over (N, D), training", _bn_train),
    _other("batchnorm_forward_eval", "batchnorm", "batch norm over (N, D), inference", _bn_eval),
    _other("batchnorm_backward", "batchnorm", "batch norm's backward over (N, D)", _bn_backward),
    _other("batchnorm_channel_forward_train", "batchnorm", "batch norm over (N, C, L), training",
           _bn_channel_train),
    _other("batchnorm_channel_forward_eval", "batchnorm", "batch norm over (N, C, L), inference",
           _bn_channel_eval),
    _other("batchnorm_channel_backward", "batchnorm", "batch norm's backward over (N, C, L)",
           _bn_channel_backward),
    _other("dropout_forward", "dropout", "out = x·scale where kept (counter-based mask), else 0",
           _dropout),
    _other("dropout_backward", "dropout", "dx = dout·scale where kept, else 0", _dropout),
    _other("relu_forward", "activation", "out = max(x, 0)", _relu_forward),
    _other("relu_backward", "activation", "dx = dout where x > 0, else 0", _relu_backward),
    _other("bias_bn_relu_dropout_forward", "fused",
           "h += bias; batch norm; running statistics; ReLU; dropout", _fused_forward),
    _other("bias_bn_relu_dropout_backward", "fused",
           "the fused stage's backward: dropout, ReLU, batch norm, bias", _fused_backward),
    _other("softmax_shift", "softmax", "out = x − row max", _softmax_shift),
    _other("softmax_pick", "softmax", "y = e / row sums; picks = y[n, t[n]] + 1e-7", _softmax_pick),
    _other("softmax_xent_backward", "softmax", "dx = (y − onehot(t)) / N", _softmax_xent_backward),
)

#: name -> spec
BY_NAME: Dict[str, KernelSpec] = {spec.name: spec for spec in SPECS}
#: every kernel name, in order
KERNELS: Tuple[str, ...] = tuple(BY_NAME)
#: family (module) -> its kernels
FAMILIES: Dict[str, Tuple[str, ...]] = {}
for _spec in SPECS:
    FAMILIES[_spec.family] = FAMILIES.get(_spec.family, ()) + (_spec.name,)
#: ``fastopt train --optimizer`` choices -> optimizer class name
OPTIMIZER_CHOICES: Dict[str, str] = {cli: cls for spec in SPECS
                                     for cli, cls in spec.optimizers.items()}


def load_kernels(package: str) -> Dict[str, Any]:
    """Every kernel of the backend *package* (``fastopt.reference``, ``fastopt.kernels``,
    ``fastopt._cy`` or a level of it), by name, from its family modules."""
    import importlib

    found = {}
    for family, names in FAMILIES.items():
        module = importlib.import_module(f"{package}.{family}")
        for name in names:
            found[name] = getattr(module, name)
    return found


def example_cases() -> Tuple[Tuple[str, KernelSpec, Example], ...]:
    """Every update kernel's examples: (example id, spec, example)."""
    return tuple((ex.id, spec, ex) for spec in SPECS if spec.update for ex in spec.examples)
