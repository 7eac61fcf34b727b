"""Drop-in replacements for the book's ``common/optimizer.py``.

Same class names, signatures, defaults and ``update(params, grads)`` contract:
``params`` is a dict whose arrays are changed in place (the network's layers
hold the same arrays); state is created on the first ``update``; Python-float
parameters (the book's 2-D demo) are replaced by their new value. Each class
only configures the general optimizer in :mod:`fastopt.optim`, whose kernels
reproduce the book's formulas operation for operation.

They also follow the protocol of :mod:`fastopt.optim`'s optimizers, which is
what :class:`fastopt.train.Trainer` drives: ``bind(params)`` once, then
``step(grads)`` per batch (``update(params, grads)`` is the two in one call).
Bound to a fastopt network's :class:`~fastopt.FlatParams`, a step is one
kernel call per dtype buffer.
"""
from __future__ import annotations

import inspect
import numbers
import weakref
from typing import Any, ClassVar, Dict, Mapping, MutableMapping, Optional, Union

import numpy as np
from numpy.typing import NDArray

from .. import optim
from ..optim.flat import FlatParams


class _BookOptimizer:
    """Binds a general optimizer to the book's dict on the first ``update``."""

    #: book attribute -> group hyperparameter, synced before every update
    _group_keys: ClassVar[Dict[str, str]] = {"lr": "lr"}

    optimizer: Optional[optim.Optimizer]

    def __init__(self) -> None:
        self.optimizer = None  # the fastopt.optim optimizer of the latest update or bind()
        self._optimizers: Dict[Any, optim.Optimizer] = {}  # ((name, id(array)), ...) -> its optimizer
        self._scalars: Dict[str, NDArray[Any]] = {}
        self._params: Union[FlatParams, MutableMapping[str, Any], None] = None  # the latest bind()'s
        self._own_grads: Optional[Dict[str, NDArray[Any]]] = None  # its .grads, if a FlatParams
        # id(flat.grads) -> flat, for each FlatParams bound (weakly: a network may go)
        self._flats: weakref.WeakValueDictionary[int, FlatParams] = weakref.WeakValueDictionary()

    def __getstate__(self) -> Dict[str, Any]:  # weak references cannot be pickled or copied
        state = self.__dict__.copy()
        state["_flats"] = dict(self._flats)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._flats = weakref.WeakValueDictionary(state["_flats"])

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        raise NotImplementedError

    def bind(self, params: Union[FlatParams, MutableMapping[str, Any]]) -> optim.Optimizer:
        """Create the state for *params* now (the book creates it on the first update).

        One book optimizer may update several networks, as the book's scripts
        share one ``SGD``: a *params* whose names, shapes and dtypes match the
        arrays the optimizer already updates takes them over together with
        their state (what the book's dict-of-arrays state does); a *params*
        with other names or shapes gets state of its own. Returns the general
        :mod:`fastopt.optim` optimizer doing the work. :meth:`step` then
        updates *params*.
        """
        flat = isinstance(params, FlatParams)
        key: Any
        if flat:  # a fastopt network's params: one kernel call per dtype buffer
            arrays, key = params, id(params)
        else:
            arrays = self._arrays(params)
            key = tuple((name, id(a)) for name, a in arrays.items())
        optimizer = self._optimizers.get(key)
        if optimizer is None:
            optimizer = next((o for o in set(self._optimizers.values())
                              if _is_flat(o) == flat and _same_layout(o.params(), arrays)), None)
            if optimizer is None:
                optimizer = self._make(arrays)
            else:
                if flat:
                    optimizer._rebind_flat(params)  # type: ignore[arg-type]  # flat: a FlatParams
                else:
                    optimizer._rebind(arrays)
                self._optimizers = {k: o for k, o in self._optimizers.items() if o is not optimizer}
            self._optimizers[key] = optimizer
        self.optimizer, self._params, self._own_grads = optimizer, params, None
        if isinstance(params, FlatParams):  # (flat, spelt so that mypy sees it)
            self._own_grads = params.grads
            self._flats[id(params.grads)] = params
        return optimizer

    def _arrays(self, params: Mapping[str, Any]) -> Dict[str, NDArray[Any]]:
        arrays: Dict[str, NDArray[Any]] = {}
        for key, value in params.items():
            if isinstance(value, np.ndarray):
                arrays[key] = value
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                buf = self._scalars.setdefault(key, np.zeros(()))
                buf[()] = value
                arrays[key] = buf
            else:
                raise TypeError(f"params[{key!r}] must be a numpy array or a real number, "
                                f"got {type(value).__name__}")
        return arrays

    def update(self, params: Union[FlatParams, MutableMapping[str, Any]],
               grads: Mapping[str, Any]) -> None:
        """Update every entry of *params* in place from *grads* (same keys).

        The book's call: ``bind(params)``, then ``step(grads)``.
        """
        self.bind(params)
        self.step(grads)

    def step(self, grads: Optional[Mapping[str, Any]] = None) -> bool:
        """Update the parameters of the latest :meth:`bind` (or :meth:`update`) in place.

        The step of :mod:`fastopt.optim`'s optimizers, for the same callers
        (:class:`fastopt.train.Trainer`): the book attributes (``lr``, ...)
        as they are now, then one call of the general optimizer.

        Parameters
        ----------
        grads : mapping or None
            Gradients by parameter name; entries for names the parameters do
            not have are ignored, as the book's ``update`` ignores them. A
            network's own gradient buffer (its FlatParams' ``.grads``, what its
            ``gradient`` returns) is used as it is, and selects that network's
            parameters when this optimizer was bound to several. None: the
            bound FlatParams' ``.grads``.

        Returns
        -------
        bool
            False when the general optimizer skipped the step
            (``nonfinite="skip"``), else True.
        """
        if grads is not None and grads is not self._own_grads:
            flat = self._flats.get(id(grads))
            if flat is not None and flat.grads is grads:  # another bound network's buffer
                self.bind(flat)
        optimizer, params = self.optimizer, self._params
        if optimizer is None or params is None:
            raise RuntimeError(f"{type(self).__name__}.step: no parameters to update yet; call "
                               "bind(params) first, or update(params, grads)")
        group = optimizer.param_groups[0]
        for attr, key in self._group_keys.items():
            group[key] = getattr(self, attr)
        if grads is None or grads is self._own_grads:
            return optimizer.step()  # the network's own gradient buffer: used as it is
        missing = [k for k in params if k not in grads]
        if missing:
            raise ValueError(f"grads has no entry for parameter {missing[0]!r}")
        done = optimizer.step({k: grads[k] for k in params})
        for key in self._scalars:
            if key in params and not isinstance(params[key], np.ndarray):
                params[key] = float(self._scalars[key])
        return done

    def __repr__(self) -> str:
        """The book's constructor call, with the current values (``Adam(lr=0.001, ...)``)."""
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        args = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        bound = "" if self.optimizer is None else f"; {len(self.optimizer.param_names())} params bound"
        return f"{type(self).__name__}({args}){bound}"

    def _state(self, key: str) -> Optional[Dict[str, NDArray[Any]]]:
        if self.optimizer is None:
            return None
        return {name: self.optimizer.state_view(name, key) for name in self.optimizer.param_names()}


def _is_flat(optimizer: optim.Optimizer) -> bool:
    """Whether *optimizer* updates a FlatParams' buffers (not separate arrays)."""
    return any(slot.flat is not None for slots in optimizer._slots for slot in slots)


def _same_layout(old: Mapping[str, NDArray[Any]], new: Mapping[str, NDArray[Any]]) -> bool:
    """Same names, and each array of the same shape and dtype."""
    return old.keys() == new.keys() and all(
        old[k].shape == new[k].shape and old[k].dtype == new[k].dtype for k in new)


class SGD(_BookOptimizer):
    """Stochastic gradient descent: ``θ ← θ − lr·g``."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.SGD(arrays, lr=self.lr)


class Momentum(_BookOptimizer):
    """Momentum SGD: ``v ← momentum·v − lr·g;  θ ← θ + v``."""

    _group_keys: ClassVar[Dict[str, str]] = {"lr": "lr", "momentum": "momentum"}

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__()
        self.lr, self.momentum = lr, momentum

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.Momentum(arrays, lr=self.lr, momentum=self.momentum)

    @property
    def v(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("buf")


class Nesterov(Momentum):
    """Nesterov's accelerated gradient (arXiv:1212.0901), the book's corrected 2021 form.

    ``θ ← θ + μ²v − (1+μ)·lr·g;  v ← μv − lr·g``.
    """

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.Nesterov(arrays, lr=self.lr, momentum=self.momentum)

    @property
    def v(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("velocity")


class AdaGrad(_BookOptimizer):
    """AdaGrad: ``h ← h + g²;  θ ← θ − lr·g / (√h + 1e-7)``."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.Adagrad(arrays, lr=self.lr, eps=1e-7)

    @property
    def h(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("h")


class RMSprop(_BookOptimizer):
    """RMSprop: ``h ← ρh + (1−ρ)g²;  θ ← θ − lr·g / (√h + 1e-7)`` with ρ = decay_rate."""

    _group_keys: ClassVar[Dict[str, str]] = {"lr": "lr", "decay_rate": "alpha"}

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__()
        self.lr, self.decay_rate = lr, decay_rate

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.RMSprop(arrays, lr=self.lr, alpha=self.decay_rate, eps=1e-7)

    @property
    def h(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("h")


class Adam(_BookOptimizer):
    """Adam (arXiv:1412.6980v8) as the book computes it.

    One step counter for all keys; ``lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ)``;
    ``m += (1−β₁)(g − m);  v += (1−β₂)(g² − v);  θ ← θ − lr_t·m / (√v + 1e-7)``.
    """

    _group_keys: ClassVar[Dict[str, str]] = {"lr": "lr"}

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__()
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2

    def _make(self, arrays: Mapping[str, NDArray[Any]]) -> optim.Optimizer:
        return optim.Adam(arrays, lr=self.lr, betas=(self.beta1, self.beta2), eps=1e-7,
                          variant="book")

    @property
    def iter(self) -> int:
        return 0 if self.optimizer is None else self.optimizer.step_count

    @property
    def m(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("m")

    @property
    def v(self) -> Optional[Dict[str, NDArray[Any]]]:
        return self._state("v")
