"""Per-element adaptive rates without momentum of the mean: Adagrad, RMSprop, Adadelta."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union

from .._validate import check_bool, check_float
from ._slots import ParamsLike
from .optimizer import Group, Optimizer, _check_nonneg, _check_positive, hyperparameters_of
from .schedules import Schedule
from ._docs import documented


def _check_rho(name: str, value: Any) -> float:
    return check_float(name, value, low=0.0, high=1.0)


@documented
class Adagrad(Optimizer):
    r"""AdaGrad, as PyTorch's ``torch.optim.Adagrad``.

    .. math::
        h_t = h_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \frac{\eta_t\, g_t}{\sqrt{h_t} + \epsilon}, \qquad
        \eta_t = \frac{\eta}{1 + (t-1)\,\mathrm{lr\_decay}}

    Note: ε is added *after* the square root (as in the book and PyTorch).
    The book's ``AdaGrad`` is this with ``eps=1e-7``.

    Parameters
    ----------
    {params, lr}
    lr_decay : float, default 0
        Learning-rate decay: η_t = η / (1 + (t − 1)·lr_decay).
    {eps}
    initial_accumulator_value : float, default 0
        Starting value of the accumulator h of squared gradients.
    {options}
    """

    hyperparameters = {"lr_decay": _check_nonneg, "eps": _check_positive,
                       "initial_accumulator_value": _check_nonneg}
    kernel = "adagrad"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 0.01,
                 lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _state_init(self, group: Group) -> Dict[str, float]:
        return {"h": group["initial_accumulator_value"]}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        return {"lr_t": lr / (1 + (step - 1) * group["lr_decay"]), "eps": group["eps"]}, {}


AdaGrad = Adagrad


@documented
class RMSprop(Optimizer):
    r"""RMSprop, plain or centered, with optional momentum, as PyTorch's ``torch.optim.RMSprop``.

    .. math::
        h_t = \alpha h_{t-1} + (1-\alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \ \text{(centered)}, \\
        d_t = \sqrt{h_t - \bar g_t^2} + \epsilon \ \text{(centered) or } \sqrt{h_t} + \epsilon, \\
        \theta_t = \theta_{t-1} - \eta g_t / d_t
        \quad\text{or, with momentum } \mu:\quad b_t = \mu b_{t-1} + g_t/d_t,\ \theta_t = \theta_{t-1} - \eta b_t

    The book's ``RMSprop(lr, decay_rate)`` is this with ``alpha=decay_rate``
    and ``eps=1e-7`` (added after the square root).

    Parameters
    ----------
    {params, lr}
    alpha : float, default 0.99
        Smoothing constant α of the running average h of g² (the book's ``decay_rate``).
    {eps}
    momentum : float, default 0
        Momentum factor μ of the buffer b (0: no momentum).
    centered : bool, default False
        Divide by an estimate of the gradient's variance (h minus the squared running mean of g)
        instead of h.
    {options}
    """

    hyperparameters = {"alpha": _check_rho, "eps": _check_positive, "momentum": _check_nonneg,
                       "centered": check_bool}
    kernel = "rmsprop"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _state_init(self, group: Group) -> Dict[str, float]:
        state = {"h": 0.0}
        if group["centered"]:
            state["grad_avg"] = 0.0
        if group["momentum"]:
            state["buf"] = 0.0
        return state

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        alpha = group["alpha"]
        return {"rho": alpha, "one_minus_rho": 1 - alpha, "lr": lr, "eps": group["eps"],
                "centered": group["centered"], "mu": group["momentum"],
                "use_momentum": bool(group["momentum"])}, {}


@documented
class Adadelta(Optimizer):
    r"""Adadelta, as PyTorch's ``torch.optim.Adadelta``.

    .. math::
        h_t = \rho h_{t-1} + (1-\rho) g_t^2, \qquad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{h_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2, \qquad
        \theta_t = \theta_{t-1} - \eta \Delta_t

    Parameters
    ----------
    {params, lr}
    rho : float, default 0.9
        Decay rate ρ of the running averages of squared gradients and squared updates.
    {eps, options}
    """

    hyperparameters = {"rho": _check_rho, "eps": _check_positive}
    kernel = "adadelta"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1.0,
                 rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        rho = group["rho"]
        return {"rho": rho, "one_minus_rho": 1 - rho, "eps": group["eps"], "lr": lr}, {}
