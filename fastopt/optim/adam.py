"""Adam and kin: Adam (standard and the book's form), AdamW, AMSGrad, Adamax, NAdam."""
from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Tuple, Union

from .._validate import check_betas, check_bool, check_choice
from ._slots import ParamsLike
from .optimizer import Group, Optimizer, _check_nonneg, _check_positive, hyperparameters_of
from .schedules import Schedule
from ._docs import documented

ADAM_VARIANTS = ("standard", "book")


def _check_variant(name: str, value: Any) -> str:
    return check_choice(name, value, ADAM_VARIANTS)


@documented
class Adam(Optimizer):
    r"""Adam (Kingma & Ba, arXiv:1412.6980), with AMSGrad and decoupled decay options.

    ``variant="standard"`` (PyTorch's ``torch.optim.Adam``):

    .. math::
        m_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1}), \qquad
        v_t = v_{t-1} + (1-\beta_2)(g_t^2 - v_{t-1}), \\
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    ``variant="book"`` (the book's ``common/optimizer.py``; use ``eps=1e-7``):

    .. math::
        \theta_t = \theta_{t-1} - \eta\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t} + \epsilon}

    .. warning:: The variants differ in where ε sits: the book adds ε to the
       *uncorrected* √v, equivalent to the standard form with
       ε̂ = ε/√(1−β₂ᵗ) (3.2e-6 at t = 1 for ε = 1e-7).

    With ``amsgrad=True`` the denominator uses the running maximum of v.

    Parameters
    ----------
    {params, lr, betas, eps}
    amsgrad : bool, default False
        Divide by the running maximum of v instead of v (AMSGrad).
    variant : {"standard", "book"}, default "standard"
        ``"standard"`` (PyTorch's form) or ``"book"`` (the book's: ε on the uncorrected √v, the
        bias corrections folded into the rate).
    {options}
    """

    hyperparameters = {"betas": check_betas, "eps": _check_positive, "amsgrad": check_bool,
                       "variant": _check_variant}
    kernel = "adam"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, variant: str = "standard",
                 decoupled_weight_decay: bool = False, maximize: bool = False,
                 **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _state_init(self, group: Group) -> Dict[str, float]:
        state = {"m": 0.0, "v": 0.0}
        if group["amsgrad"]:
            state["v_max"] = 0.0
        return state

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        beta1, beta2 = group["betas"]
        if group["variant"] == "book":
            # the book: lr_t = lr·√(1−β₂ᵗ)/(1−β₁ᵗ), computed in this order
            step_size, bc2_sqrt = lr * math.sqrt(1.0 - beta2 ** step) / (1.0 - beta1 ** step), 1.0
        else:
            step_size, bc2_sqrt = lr / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step)
        return {"one_minus_beta1": 1 - beta1, "one_minus_beta2": 1 - beta2,
                "step_size": step_size, "bc2_sqrt": bc2_sqrt, "eps": group["eps"],
                "amsgrad": group["amsgrad"]}, {}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    ``θ ← θ·(1 − η·λ)`` before the Adam update; default ``weight_decay=1e-2``.
    Takes the arguments of :class:`Adam`.
    """

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, variant: str = "standard",
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, variant=variant,
                         decoupled_weight_decay=True, maximize=maximize, **options)


class AMSGrad(Adam):
    """Adam with ``amsgrad=True`` (Reddi et al.): the denominator uses max over t of v_t.

    Takes the arguments of :class:`Adam`.
    """

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, **kw: Any) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=True, **kw)


@documented
class Adamax(Optimizer):
    r"""Adamax (the infinity-norm Adam), as PyTorch's ``torch.optim.Adamax``.

    .. math::
        m_t = m_{t-1} + (1-\beta_1)(g_t - m_{t-1}), \qquad
        u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon), \qquad
        \theta_t = \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\frac{m_t}{u_t}

    Parameters
    ----------
    {params, lr}
    betas : (float, float), default (0.9, 0.999)
        (β₁, β₂): decay rates of the running average m (of g) and of the infinity norm u.
    {eps, options}
    """

    hyperparameters = {"betas": check_betas, "eps": _check_positive}
    kernel = "adamax"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 2e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, decoupled_weight_decay: bool = False,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        beta1, beta2 = group["betas"]
        return {"one_minus_beta1": 1 - beta1, "beta2": beta2, "eps": group["eps"],
                "lr_t": lr / (1 - beta1 ** step)}, {}


@documented
class NAdam(Optimizer):
    r"""NAdam (Dozat 2016) with momentum decay, as PyTorch's ``torch.optim.NAdam``.

    .. math::
        \mu_t = \beta_1\left(1 - \tfrac12\, 0.96^{t\psi}\right), \quad
        \Pi_t = \textstyle\prod_{i\le t}\mu_i, \\
        \theta_t = \theta_{t-1}
          - \frac{\eta(1-\mu_t)}{1-\Pi_t}\frac{g_t}{d_t}
          - \frac{\eta\mu_{t+1}}{1-\Pi_t\mu_{t+1}}\frac{m_t}{d_t},
        \qquad d_t = \sqrt{v_t/(1-\beta_2^t)} + \epsilon

    with m, v as in :class:`Adam`. Π_t is part of the saved state.

    Parameters
    ----------
    {params, lr, betas, eps}
    momentum_decay : float, default 4e-3  (ψ)
        ψ of the momentum schedule μ_t above.
    {options}
    """

    hyperparameters = {"betas": check_betas, "eps": _check_positive,
                       "momentum_decay": _check_nonneg}
    kernel = "nadam"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 2e-3,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, *,
                 decoupled_weight_decay: bool = False, maximize: bool = False,
                 **options: Any) -> None:
        super().__init__(params, hyperparameters_of(locals()), **options)

    def _initial_group_state(self) -> Dict[str, Any]:
        return {"step": 0, "mu_product": 1.0}

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        mu_product = gstate["mu_product"] * mu
        coef_g = lr * (1.0 - mu) / (1.0 - mu_product)
        coef_m = lr * mu_next / (1.0 - mu_product * mu_next)
        return {"one_minus_beta1": 1 - beta1, "one_minus_beta2": 1 - beta2,
                "bc2": 1 - beta2 ** step, "eps": group["eps"], "coef_g": coef_g,
                "coef_m": coef_m}, {"mu_product": mu_product}
