"""SGD (with PyTorch-style momentum), heavy-ball Momentum, and the book's Nesterov.

All take the options of :class:`~fastopt.optim.optimizer.Optimizer`:
``weight_decay`` (coupled L2, ``g + wd·θ``; or decoupled, ``θ·(1 − lr·wd)``,
with ``decoupled_weight_decay=True``), ``maximize``, ``frozen`` (per group),
and ``max_grad_norm``, ``clip_value``, ``nonfinite`` (per optimizer).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, TypeVar, Union

from .._validate import check_bool, check_float
from ._slots import ParamsLike
from .optimizer import Group, Optimizer, _check_nonneg
from .schedules import Schedule

_COMMON_DOC = """
    Parameters
    ----------
    params : mapping, sequence of arrays, FlatParams or list of group dicts
        The arrays to update in place (float32/float64, writeable, C-contiguous).
        Group dicts hold ``"params"`` plus overrides of any hyperparameter
        below, and ``"frozen": True`` to skip a group.
    weight_decay : float, default 0
        L2 coefficient λ: ``g ← g + λθ`` (or ``θ ← θ(1 − ηλ)`` if
        ``decoupled_weight_decay``).
    decoupled_weight_decay : bool, default False
        Decay the parameters directly, θ ← θ(1 − ηλ) (AdamW), instead of adding λθ to the
        gradient.
    maximize : bool, default False
        Ascend instead of descend (``g ← −g``).
    max_grad_norm : float, optional
        Scale all gradients together so their global L2 norm is at most this
        (PyTorch's ``clip_grad_norm_`` rule, coefficient ``max/(norm + 1e-6)``).
    clip_value : float, optional
        Clamp every gradient element to ``[−clip_value, clip_value]`` (after
        norm clipping).
    nonfinite : {"propagate", "skip", "raise"}, default "propagate"
        What a NaN/inf gradient does: flow into the parameters (like PyTorch),
        skip the whole step leaving parameters, state and step counter
        bit-unchanged, or raise :class:`NonFiniteGradientError`.
"""


_O = TypeVar("_O", bound=type)


def _doc(cls: _O) -> _O:
    # every class this decorates has a docstring with the {common} marker
    cls.__doc__ = cls.__doc__.replace("    {common}\n", _COMMON_DOC)  # type: ignore[union-attr]
    return cls


def _check_unit_closed(name: str, value: Any) -> float:
    return check_float(name, value, low=0.0, high=1.0)


@_doc
class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, as PyTorch's ``torch.optim.SGD``.

    .. math::
        b_t = \mu b_{t-1} + (1-\tau) g_t \quad (b_1 = g_1), \qquad
        d_t = g_t + \mu b_t \ \text{(nesterov)} \ \text{or}\ b_t, \qquad
        \theta_t = \theta_{t-1} - \eta d_t

    With ``momentum=0`` this is ``θ ← θ − ηg`` (the book's ``SGD``).

    lr : float or Schedule, default 1e-3
        Learning rate η: a float, or a :class:`~fastopt.optim.Schedule` of the group's update
        count.
    momentum : float, default 0   (μ)
        Momentum factor μ of the buffer b (0: plain SGD).
    dampening : float, default 0  (τ)
        Dampening τ: the gradient enters the momentum buffer scaled by 1 − τ.
    nesterov : bool, default False
        Use Nesterov momentum (PyTorch's form; needs momentum > 0 and dampening 0).
    {common}
    """

    hyperparameters = {"momentum": _check_nonneg, "dampening": _check_unit_closed,
                       "nesterov": check_bool}

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-3,
                 momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0, *,
                 decoupled_weight_decay: bool = False, maximize: bool = False,
                 **options: Any) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), **options)

    def _validate_group(self, group: Mapping[str, Any], where: str) -> Group:
        group = super()._validate_group(group, where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov=True needs momentum > 0 and dampening == 0")
        return group

    def _kernel_for(self, group: Group) -> str:
        return "momentum" if group["momentum"] else "sgd"

    def _state_init(self, group: Group) -> Dict[str, float]:
        return {"buf": 0.0} if group["momentum"] else {}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        mu = group["momentum"]
        if not mu:
            return {"lr": lr}, {}
        first = step == 1  # PyTorch starts the buffer at g, undamped
        return {"mu": 0.0 if first else mu, "damp": 1.0 if first else 1.0 - group["dampening"],
                "coef": -lr, "nesterov": group["nesterov"], "nest_mu": mu}, {}


@_doc
class Momentum(Optimizer):
    r"""Heavy-ball momentum in the book's form (lr inside the velocity).

    .. math::
        v_t = \alpha v_{t-1} - \eta g_t, \qquad \theta_t = \theta_{t-1} + v_t

    With a constant η this equals PyTorch SGD(momentum=α) (``v = −η·buf``);
    the two differ when η changes during training.

    lr : float or Schedule, default 0.01
        Learning rate η: a float, or a :class:`~fastopt.optim.Schedule` of the group's update
        count.
    momentum : float, default 0.9  (α)
        Momentum coefficient α of the velocity v.
    {common}
    """

    hyperparameters = {"momentum": _check_nonneg}
    kernel = "momentum"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 0.01,
                 momentum: float = 0.9,
                 weight_decay: float = 0.0, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), **options)

    def _state_init(self, group: Group) -> Dict[str, float]:
        return {"buf": 0.0}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        # the book's v = mu·v - lr·g is buf with damp = -lr and a step of +1
        return {"mu": group["momentum"], "damp": -lr, "coef": 1.0, "nesterov": False,
                "nest_mu": 0.0}, {}


@_doc
class Nesterov(Momentum):
    r"""Nesterov momentum in the book's corrected (2021) form.

    .. math::
        \theta_t = \theta_{t-1} + \mu^2 v_{t-1} - (1+\mu)\eta g_t, \qquad
        v_t = \mu v_{t-1} - \eta g_t

    i.e. ``θ ← θ + μ·v_t − η·g``: the look-ahead NAG of Bengio et al.
    (arXiv:1212.0901), equal to PyTorch ``SGD(nesterov=True)`` for constant η.

    lr : float or Schedule, default 0.01
        Learning rate η: a float, or a :class:`~fastopt.optim.Schedule` of the group's update
        count.
    momentum : float, default 0.9  (μ)
        Momentum coefficient μ of the velocity v.
    {common}
    """

    kernel = "nesterov"
    #: fastopt 0.1 checkpoints called the velocity "v" (Adam's second moment is "v" too)
    legacy_state_keys = {"v": "velocity"}

    def _state_init(self, group: Group) -> Dict[str, float]:
        return {"velocity": 0.0}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        mu = group["momentum"]
        return {"mu_squared": mu * mu, "one_plus_mu_lr": (1 + mu) * lr, "mu": mu, "lr": lr}, {}
