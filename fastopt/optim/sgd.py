"""SGD (with PyTorch-style momentum), heavy-ball Momentum, and the book's Nesterov.

All take the options of :class:`~fastopt.optim.optimizer.Optimizer`:
``weight_decay`` (coupled L2, ``g + wd·θ``; or decoupled, ``θ·(1 − lr·wd)``,
with ``decoupled_weight_decay=True``), ``maximize``, ``frozen`` (per group),
and ``max_grad_norm``, ``clip_value``, ``nonfinite`` (per optimizer).
"""
from .._validate import check_bool, check_float
from .optimizer import Optimizer, _check_nonneg

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


def _doc(cls):
    cls.__doc__ = cls.__doc__.replace("    {common}\n", _COMMON_DOC)
    return cls


def _check_unit_closed(name, value):
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
    momentum : float, default 0   (μ)
    dampening : float, default 0  (τ)
    nesterov : bool, default False
    {common}
    """

    hyperparameters = {"momentum": _check_nonneg, "dampening": _check_unit_closed,
                       "nesterov": check_bool}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, *, decoupled_weight_decay=False, maximize=False, **options):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), **options)

    def _validate_group(self, group, where):
        group = super()._validate_group(group, where)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{where}: nesterov=True needs momentum > 0 and dampening == 0")
        return group

    def _kernel_for(self, group):
        return ("momentum", ("buf",)) if group["momentum"] else ("sgd", ())

    def _state_init(self, group):
        return {"buf": 0.0} if group["momentum"] else {}

    def _scalars(self, group, lr, step, gstate):
        mu = group["momentum"]
        if not mu:
            return (lr,), {}
        first = step == 1  # PyTorch starts the buffer at g, undamped
        return (0.0 if first else mu, 1.0 if first else 1.0 - group["dampening"], -lr,
                group["nesterov"], mu), {}


@_doc
class Momentum(Optimizer):
    r"""Heavy-ball momentum in the book's form (lr inside the velocity).

    .. math::
        v_t = \alpha v_{t-1} - \eta g_t, \qquad \theta_t = \theta_{t-1} + v_t

    With a constant η this equals PyTorch SGD(momentum=α) (``v = −η·buf``);
    the two differ when η changes during training.

    lr : float or Schedule, default 0.01
    momentum : float, default 0.9  (α)
    {common}
    """

    hyperparameters = {"momentum": _check_nonneg}
    kernel, kernel_state = "momentum", ("buf",)

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, *,
                 decoupled_weight_decay=False, maximize=False, **options):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), **options)

    def _state_init(self, group):
        return {"buf": 0.0}

    def _scalars(self, group, lr, step, gstate):
        return (group["momentum"], -lr, 1.0, False, 0.0), {}


@_doc
class Nesterov(Momentum):
    r"""Nesterov momentum in the book's corrected (2021) form.

    .. math::
        \theta_t = \theta_{t-1} + \mu^2 v_{t-1} - (1+\mu)\eta g_t, \qquad
        v_t = \mu v_{t-1} - \eta g_t

    i.e. ``θ ← θ + μ·v_t − η·g``: the look-ahead NAG of Bengio et al.
    (arXiv:1212.0901), equal to PyTorch ``SGD(nesterov=True)`` for constant η.

    lr : float or Schedule, default 0.01
    momentum : float, default 0.9  (μ)
    {common}
    """

    kernel, kernel_state = "nesterov", ("v",)

    def _state_init(self, group):
        return {"v": 0.0}

    def _scalars(self, group, lr, step, gstate):
        mu = group["momentum"]
        return (mu * mu, (1 + mu) * lr, mu, lr), {}
