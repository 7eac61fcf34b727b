"""SGD (with PyTorch-style momentum), heavy-ball Momentum, and the book's Nesterov.

All take the options of :class:`~fastopt.optim.optimizer.Optimizer`:
``weight_decay`` (coupled L2, ``g + wd·θ``; or decoupled, ``θ·(1 − lr·wd)``,
with ``decoupled_weight_decay=True``), ``maximize``, ``frozen`` (per group),
and ``max_grad_norm``, ``clip_value``, ``nonfinite`` (per optimizer).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union

from .._validate import check_bool, check_float
from ._docs import documented, documented_as
from ._slots import ParamsLike
from .optimizer import Group, Optimizer, _check_nonneg, hyperparameters_of
from .schedules import Schedule

def _check_unit_closed(name: str, value: Any) -> float:
    return check_float(name, value, low=0.0, high=1.0)


@documented
class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, as PyTorch's ``torch.optim.SGD``.

    .. math::
        b_t = \mu b_{t-1} + (1-\tau) g_t \quad (b_1 = g_1), \qquad
        d_t = g_t + \mu b_t \ \text{(nesterov)} \ \text{or}\ b_t, \qquad
        \theta_t = \theta_{t-1} - \eta d_t

    With ``momentum=0`` this is ``θ ← θ − ηg`` (the book's ``SGD``).

    Parameters
    ----------
    {params, lr}
    momentum : float, default 0   (μ)
        Momentum factor μ of the buffer b (0: plain SGD).
    dampening : float, default 0  (τ)
        Dampening τ: the gradient enters the momentum buffer scaled by 1 − τ.
    nesterov : bool, default False
        Use Nesterov momentum (PyTorch's form; needs momentum > 0 and dampening 0).
    {options}
    """

    hyperparameters = {"momentum": _check_nonneg, "dampening": _check_unit_closed,
                       "nesterov": check_bool}

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-3,
                 momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0, *,
                 decoupled_weight_decay: bool = False, maximize: bool = False,
                 **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

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


@documented
class Momentum(Optimizer):
    r"""Heavy-ball momentum in the book's form (lr inside the velocity).

    .. math::
        v_t = \alpha v_{t-1} - \eta g_t, \qquad \theta_t = \theta_{t-1} + v_t

    With a constant η this equals PyTorch SGD(momentum=α) (``v = −η·buf``);
    the two differ when η changes during training.

    Parameters
    ----------
    {params, lr, momentum, options}
    """

    hyperparameters = {"momentum": _check_nonneg}
    kernel = "momentum"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 0.01,
                 momentum: float = 0.9,
                 weight_decay: float = 0.0, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        # the book's v = mu·v - lr·g is buf with damp = -lr and a step of +1
        return {"mu": group["momentum"], "damp": -lr, "coef": 1.0, "nesterov": False,
                "nest_mu": 0.0}, {}


@documented_as(Momentum)
class Nesterov(Momentum):
    r"""Nesterov momentum in the book's corrected (2021) form.

    .. math::
        \theta_t = \theta_{t-1} + \mu^2 v_{t-1} - (1+\mu)\eta g_t, \qquad
        v_t = \mu v_{t-1} - \eta g_t

    i.e. ``θ ← θ + μ·v_t − η·g``: the look-ahead NAG of Bengio et al.
    (arXiv:1212.0901), equal to PyTorch ``SGD(nesterov=True)`` for constant η.

    {parameters}
    """

    kernel = "nesterov"
    #: fastopt 0.1 checkpoints called the velocity "v" (Adam's second moment is "v" too)
    legacy_state_keys = {"v": "velocity"}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        mu = group["momentum"]
        return {"mu_squared": mu * mu, "one_plus_mu_lr": (1 + mu) * lr, "mu": mu, "lr": lr}, {}
