"""Lion (Chen et al. 2023): the sign of an interpolated momentum."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple, Union

from .._validate import check_betas
from ._docs import documented
from ._slots import ParamsLike
from .optimizer import Group, Optimizer, hyperparameters_of
from .schedules import Schedule


@documented
class Lion(Optimizer):
    r"""Lion, EvoLved Sign Momentum (Chen et al., "Symbolic Discovery of Optimization
    Algorithms", arXiv:2302.06675, Algorithm 2), with decoupled weight decay.

    .. math::
        c_t = \beta_1 m_{t-1} + (1-\beta_1)\,g_t, \qquad
        \theta_t = \theta_{t-1}(1 - \eta\lambda) - \eta\,\operatorname{sign}(c_t), \qquad
        m_t = \beta_2 m_{t-1} + (1-\beta_2)\,g_t

    Every element moves by η (plus the decay), or not at all where
    :math:`c_t = 0`; sign is NumPy's (``np.sign``: +0.0 for both zeros, NaN for NaN).
    The defaults are those of ``lucidrains/lion-pytorch`` and of optax's ``lion``
    (whose ``weight_decay`` default is 1e-3). The paper suggests a learning rate
    3-10x smaller than AdamW's and a weight decay 3-10x larger, so that η·λ stays
    about the same.

    .. warning:: The paper (and optax) apply the decay inside the step,
       :math:`\theta_{t-1} - \eta(\operatorname{sign}(c_t) + \lambda\theta_{t-1})`;
       here, as in lion-pytorch and :class:`AdamW`, :math:`\theta_{t-1}(1-\eta\lambda)`
       comes first. The two are equal in exact arithmetic and differ by rounding only
       (with λ = 0 they give the same bits).

    Parameters
    ----------
    {params}
    lr : float or Schedule, default 1e-4
        Learning rate η (the size of every element's step): a float, or a
        :class:`~fastopt.optim.Schedule` of the group's update count.
    betas : (float, float), default (0.9, 0.99)
        (β₁, β₂): β₁ interpolates the momentum and the gradient for the update's
        direction c; β₂ is the decay rate of the momentum m (the running average of g).
    weight_decay : float, default 0
        λ of the decoupled decay θ ← θ(1 − ηλ) (always decoupled; there is no
        ``decoupled_weight_decay`` argument).
    {maximize, clipping}
    """

    hyperparameters = {"betas": check_betas}
    kernel = "lion"

    def __init__(self, params: ParamsLike, lr: Union[float, Schedule] = 1e-4,
                 betas: Tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0, *,
                 maximize: bool = False, **options: Any) -> None:
        super().__init__(params, {**hyperparameters_of(locals()), "decoupled_weight_decay": True},
                         **options)

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        beta1, beta2 = group["betas"]
        return {"beta1": beta1, "one_minus_beta1": 1 - beta1, "beta2": beta2,
                "one_minus_beta2": 1 - beta2, "lr": lr}, {}
