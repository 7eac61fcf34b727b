"""Learning-rate schedules: ``step -> lr`` objects the optimizers call.

A schedule is called with the 0-based index of the update it is used for:
``sched(0)`` is the learning rate of the first update (as with PyTorch's
schedulers, where the first epoch uses the base lr).  All schedules except
:class:`ReduceLROnPlateau` are pure functions of ``step``.

Every schedule can be saved and rebuilt::

    config = sched.get_config()          # JSON-serialisable, has "name"
    state = sched.state_dict()           # JSON-serialisable ({} if pure)
    again = schedule_from_config(config)
    again.load_state_dict(state)

Only the standard library is used.
"""
from __future__ import annotations

import bisect
import inspect
import math
import numbers
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Type, Union

__all__ = [
    "Schedule",
    "Constant",
    "StepDecay",
    "MultiStepDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "LinearWarmup",
    "ReduceLROnPlateau",
    "as_schedule",
    "schedule_from_config",
]


# --------------------------------------------------------------- validation
def _is_bool(value: Any) -> bool:
    # numpy.bool_ is not a numbers.Real, but reject it by name without importing numpy
    return isinstance(value, bool) or type(value).__name__ in ("bool_", "bool")


def _real(name: str, value: Any, *, low: Optional[float] = None, low_open: bool = False,
          high: Optional[float] = None, high_open: bool = False) -> float:
    """A finite real number (bool rejected) within bounds, as a Python float."""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a {type(value).__name__} too large "
                         "for a float") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


#: Largest step count or step length a schedule takes (larger ones overflow a float).
MAX_INT = 2**63 - 1
#: Deepest nesting of LinearWarmup schedules (deeper ones would exhaust the stack).
MAX_NESTING = 32


def _integer(name: str, value: Any, minimum: int) -> int:
    """An integer (bool rejected) in [minimum, MAX_INT], as a Python int."""
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if not minimum <= value <= MAX_INT:
        shown = value if value.bit_length() <= 128 else f"an integer of {value.bit_length()} bits"
        raise ValueError(f"{name} must be an integer in [{minimum}, 2**63 - 1], got {shown}")
    return value


def _choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _check_state(state: Any, keys: Sequence[str], owner: str) -> None:
    """*state* must be a dict with exactly *keys*; the error names the bad key."""
    if not isinstance(state, dict):
        raise TypeError(f"state for {owner} must be a dict, got {type(state).__name__}")
    for key in state:
        if key not in keys:
            raise ValueError(f"unexpected key {key!r} in state for {owner}")
    for key in keys:
        if key not in state:
            raise ValueError(f"missing key {key!r} in state for {owner}")


# --------------------------------------------------------------------- base
class Schedule:
    """Base class of learning-rate schedules.

    Subclasses implement ``_value(step)`` (``step`` already validated) and
    ``_params()`` (constructor arguments as JSON-serialisable values).
    Stateful subclasses also override :meth:`state_dict`,
    :meth:`load_state_dict` and set ``stateful = True``.
    """

    stateful = False

    def __call__(self, step: int) -> float:
        """Learning rate (a Python float) for the update with 0-based index *step*."""
        return float(self._value(_integer("step", step, 0)))

    def _value(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement _value")

    def _params(self) -> Dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _params")

    def get_config(self) -> Dict[str, Any]:
        """Constructor arguments plus ``"name"``; JSON-serialisable."""
        return {"name": type(self).__name__, **self._params()}

    def state_dict(self) -> Dict[str, Any]:
        """Mutable state; JSON-serialisable. Empty for pure schedules."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output; ValueError names a bad key."""
        _check_state(state, (), type(self).__name__)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"


def as_schedule(value: Union[float, Schedule], name: str = "lr") -> Schedule:
    """A Schedule as is; a real number as :class:`Constant`; else TypeError naming *name*."""
    if isinstance(value, Schedule):
        return value
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number or a Schedule, got {type(value).__name__}")
    return Constant(_real(name, value, low=0.0))


# -------------------------------------------------------------- pure schedules
class Constant(Schedule):
    r"""Constant learning rate.

    .. math:: \eta_t = \mathrm{lr}

    Parameters
    ----------
    lr : float
        Learning rate, finite and >= 0.
    """

    def __init__(self, lr: float) -> None:
        self.lr = _real("lr", lr, low=0.0)

    def _value(self, step: int) -> float:
        return self.lr

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr}


class StepDecay(Schedule):
    r"""Multiply the learning rate by *gamma* every *step_size* steps.

    .. math:: \eta_t = \mathrm{lr}\cdot\gamma^{\lfloor t / \mathrm{step\_size} \rfloor}

    Same values as ``torch.optim.lr_scheduler.StepLR``.

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    step_size : int
        Period of the decay, >= 1.
    gamma : float, default 0.1
        Multiplicative factor, finite and > 0 (> 1 grows the rate).
    """

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr = _real("lr", lr, low=0.0)
        self.step_size = _integer("step_size", step_size, 1)
        self.gamma = _real("gamma", gamma, low=0.0, low_open=True)

    def _value(self, step: int) -> float:
        return _scaled_power(self.lr, self.gamma, step // self.step_size)

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr, "step_size": self.step_size, "gamma": self.gamma}


class MultiStepDecay(Schedule):
    r"""Multiply the learning rate by *gamma* at each milestone.

    .. math:: \eta_t = \mathrm{lr}\cdot\gamma^{\#\{m \in \mathrm{milestones} : m \le t\}}

    Same values as ``torch.optim.lr_scheduler.MultiStepLR``.

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    milestones : sequence of int
        Strictly increasing non-negative steps (may be empty).
    gamma : float, default 0.1
        Multiplicative factor, finite and > 0.
    """

    def __init__(self, lr: float, milestones: Iterable[int], gamma: float = 0.1) -> None:
        self.lr = _real("lr", lr, low=0.0)
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise TypeError(f"milestones must be a sequence of integers, got {type(milestones).__name__}")
        ms = [_integer(f"milestones[{i}]", m, 0) for i, m in enumerate(milestones)]
        for i in range(1, len(ms)):
            if ms[i] <= ms[i - 1]:
                raise ValueError(f"milestones must be strictly increasing, got {ms}")
        self.milestones = ms
        self.gamma = _real("gamma", gamma, low=0.0, low_open=True)

    def _value(self, step: int) -> float:
        return _scaled_power(self.lr, self.gamma, bisect.bisect_right(self.milestones, step))

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr, "milestones": list(self.milestones), "gamma": self.gamma}


class ExponentialDecay(Schedule):
    r"""Multiply the learning rate by *gamma* every step.

    .. math:: \eta_t = \mathrm{lr}\cdot\gamma^{t}

    Same values as ``torch.optim.lr_scheduler.ExponentialLR``.  With
    ``gamma > 1`` the value becomes ``inf`` once it overflows a float.

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    gamma : float
        Multiplicative factor per step, finite and > 0.
    """

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr = _real("lr", lr, low=0.0)
        self.gamma = _real("gamma", gamma, low=0.0, low_open=True)

    def _value(self, step: int) -> float:
        return _scaled_power(self.lr, self.gamma, step)

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr, "gamma": self.gamma}


def _scaled_power(lr: float, gamma: float, k: int) -> float:
    """lr * gamma**k, with overflow giving inf (0 * inf gives 0) instead of OverflowError."""
    try:
        return lr * gamma ** k
    except OverflowError:
        return math.inf if lr > 0 else 0.0


class InverseTimeDecay(Schedule):
    r"""Inverse-time decay (Keras ``InverseTimeDecay`` semantics).

    .. math:: \eta_t = \frac{\mathrm{lr}}{1 + \mathrm{decay\_rate}\cdot p},\quad
              p = \frac{t}{\mathrm{decay\_steps}}
              \ (\lfloor t / \mathrm{decay\_steps} \rfloor \text{ if staircase})

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    decay_rate : float
        Finite and >= 0.
    decay_steps : float, default 1
        Finite and > 0.
    staircase : bool, default False
        Decay in discrete intervals of *decay_steps*.
    """

    def __init__(self, lr: float, decay_rate: float, decay_steps: float = 1,
                 staircase: bool = False) -> None:
        self.lr = _real("lr", lr, low=0.0)
        self.decay_rate = _real("decay_rate", decay_rate, low=0.0)
        self.decay_steps = _real("decay_steps", decay_steps, low=0.0, low_open=True)
        if not _is_bool(staircase):
            raise TypeError(f"staircase must be a bool, got {type(staircase).__name__}")
        self.staircase = bool(staircase)

    def _value(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.lr / (1.0 + self.decay_rate * p)

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr, "decay_rate": self.decay_rate,
                "decay_steps": self.decay_steps, "staircase": self.staircase}


class CosineDecay(Schedule):
    r"""Half-cosine decay from *lr* to *min_lr* over *total_steps*, then constant.

    .. math:: \eta_t = \mathrm{min\_lr} + (\mathrm{lr} - \mathrm{min\_lr})
              \frac{1 + \cos(\pi \min(t, T) / T)}{2},\quad T = \mathrm{total\_steps}

    Equals ``torch.optim.lr_scheduler.CosineAnnealingLR`` (``T_max=T``,
    ``eta_min=min_lr``) for ``t <= T``; after ``T`` it stays at ``min_lr``
    instead of rising again.  Values are clamped to ``[min_lr, lr]`` against
    rounding.

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    total_steps : int
        Length of the decay, >= 1.
    min_lr : float, default 0.0
        Final learning rate, finite, 0 <= min_lr <= lr.
    """

    def __init__(self, lr: float, total_steps: int, min_lr: float = 0.0) -> None:
        self.lr = _real("lr", lr, low=0.0)
        self.total_steps = _integer("total_steps", total_steps, 1)
        self.min_lr = _real("min_lr", min_lr, low=0.0, high=self.lr)

    def _value(self, step: int) -> float:
        if step >= self.total_steps:
            return self.min_lr
        # lr - span*(1-cos)/2 is the same formula, written so that step 0 gives lr exactly
        cos = math.cos(math.pi * step / self.total_steps)
        value = self.lr - (self.lr - self.min_lr) * (1.0 - cos) / 2.0
        return min(max(value, self.min_lr), self.lr)

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.lr, "total_steps": self.total_steps, "min_lr": self.min_lr}


class LinearWarmup(Schedule):
    r"""Linear warmup from *start_lr* to ``after(0)``, then *after* shifted.

    .. math:: \eta_t = \begin{cases}
              \mathrm{start\_lr} + (a(0) - \mathrm{start\_lr})\, t / W & t < W \\
              a(t - W) & t \ge W \end{cases}

    where :math:`a` is *after* and :math:`W` is *warmup_steps*
    (``warmup_steps=0`` means no warmup).

    Parameters
    ----------
    after : Schedule or float
        Schedule used after warmup; a number means :class:`Constant`.
    warmup_steps : int
        Number of warmup steps, >= 0.
    start_lr : float, default 0.0
        Learning rate at step 0, finite and >= 0.

    Notes
    -----
    If *after* is stateful (e.g. :class:`ReduceLROnPlateau`), so is this
    schedule: :meth:`observe` forwards to it and the state is saved under
    ``"after"``.
    """

    def __init__(self, after: Union[float, Schedule], warmup_steps: int,
                 start_lr: float = 0.0) -> None:
        self.after = as_schedule(after, name="after")
        self.depth = getattr(self.after, "depth", 0) + 1
        if self.depth > MAX_NESTING:
            raise ValueError(f"after nests LinearWarmup {self.depth} deep; at most "
                             f"{MAX_NESTING} levels are supported")
        self.warmup_steps = _integer("warmup_steps", warmup_steps, 0)
        self.start_lr = _real("start_lr", start_lr, low=0.0)

    @property
    def stateful(self) -> bool:  # type: ignore[override]  # a property over the class flag
        return self.after.stateful

    def _value(self, step: int) -> float:
        if step < self.warmup_steps:
            target = self.after(0)
            return self.start_lr + (target - self.start_lr) * step / self.warmup_steps
        return self.after(step - self.warmup_steps)

    def observe(self, metric: float) -> None:
        """Forward *metric* to ``after.observe`` (TypeError if *after* has none)."""
        if not hasattr(self.after, "observe"):
            raise TypeError(f"after ({type(self.after).__name__}) does not take metrics")
        self.after.observe(metric)

    def _params(self) -> Dict[str, Any]:
        return {"after": self.after.get_config(), "warmup_steps": self.warmup_steps,
                "start_lr": self.start_lr}

    def __repr__(self) -> str:
        return (f"LinearWarmup(after={self.after!r}, warmup_steps={self.warmup_steps!r}, "
                f"start_lr={self.start_lr!r})")

    def state_dict(self) -> Dict[str, Any]:
        return {"after": self.after.state_dict()} if self.stateful else {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_state(state, ("after",) if self.stateful else (), "LinearWarmup")
        if self.stateful:
            self.after.load_state_dict(state["after"])


# ---------------------------------------------------------------- stateful
class ReduceLROnPlateau(Schedule):
    r"""Reduce the learning rate when a metric stops improving.

    Feed one metric value per evaluation with :meth:`observe`; calling the
    schedule returns the current learning rate whatever the step.  The rules
    are exactly those of ``torch.optim.lr_scheduler.ReduceLROnPlateau``:

    * *better* means (``T`` = threshold, ``b`` = best so far, initially
      ``+inf`` for ``"min"`` and ``-inf`` for ``"max"``)
      ``m < b(1-T)`` (min, rel), ``m < b - T`` (min, abs),
      ``m > b(1+T)`` (max, rel), ``m > b + T`` (max, abs);
    * better: ``best = m``, ``num_bad_epochs = 0``; else ``num_bad_epochs += 1``;
    * while ``cooldown_counter > 0``: decrement it and zero ``num_bad_epochs``;
    * if ``num_bad_epochs > patience``:
      :math:`\eta \leftarrow \max(\eta\cdot\mathrm{factor}, \mathrm{min\_lr})`,
      applied only if the decrease exceeds *eps*; then
      ``cooldown_counter = cooldown`` and ``num_bad_epochs = 0``.

    A NaN metric is never better (all comparisons with NaN are false), so
    it counts as a bad epoch, as in PyTorch.  Infinite metrics are accepted.

    Parameters
    ----------
    lr : float
        Initial learning rate, finite and >= 0.
    mode : {"min", "max"}, default "min"
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
        Bad evaluations tolerated before reducing, >= 0.
    threshold : float, default 1e-4
        Finite and >= 0.
    threshold_mode : {"rel", "abs"}, default "rel"
    cooldown : int, default 0
        Evaluations to wait after a reduction, >= 0.
    min_lr : float, default 0.0
        Lower bound of the learning rate, finite and >= 0.
    eps : float, default 1e-8
        Minimal applied decrease, finite and >= 0.

    Notes
    -----
    ``state_dict()`` holds ``lr`` (current), ``best``, ``num_bad_epochs``,
    ``cooldown_counter`` and ``last_epoch`` (metrics observed).  To stay
    strict JSON, an infinite ``best`` is stored as the string ``"inf"`` or
    ``"-inf"``.
    """

    stateful = True
    _STATE_KEYS = ("lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def __init__(self, lr: float, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8) -> None:
        self.initial_lr = _real("lr", lr, low=0.0)
        self.mode = _choice("mode", mode, ("min", "max"))
        self.factor = _real("factor", factor, low=0.0, low_open=True, high=1.0, high_open=True)
        self.patience = _integer("patience", patience, 0)
        self.threshold = _real("threshold", threshold, low=0.0)
        self.threshold_mode = _choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = _integer("cooldown", cooldown, 0)
        self.min_lr = _real("min_lr", min_lr, low=0.0)
        self.eps = _real("eps", eps, low=0.0)
        self.lr = self.initial_lr
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def _value(self, step: int) -> float:
        return self.lr

    def _is_better(self, a: float) -> bool:
        best = self.best
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def observe(self, metric: float) -> None:
        """Feed one metric value (e.g. a validation loss); may reduce the lr."""
        if _is_bool(metric) or isinstance(metric, (str, bytes)):
            raise TypeError(f"metric must be a real number, got {type(metric).__name__}")
        try:
            current = float(metric)
        except (TypeError, ValueError):
            raise TypeError(f"metric must be a real number, got {type(metric).__name__}") from None
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown are ignored
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def _params(self) -> Dict[str, Any]:
        return {"lr": self.initial_lr, "mode": self.mode, "factor": self.factor,
                "patience": self.patience, "threshold": self.threshold,
                "threshold_mode": self.threshold_mode, "cooldown": self.cooldown,
                "min_lr": self.min_lr, "eps": self.eps}

    def state_dict(self) -> Dict[str, Any]:
        best = self.best
        if math.isinf(best):
            best = "inf" if best > 0 else "-inf"  # type: ignore[assignment]  # strict JSON has no inf
        return {"lr": self.lr, "best": best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "last_epoch": self.last_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_state(state, self._STATE_KEYS, "ReduceLROnPlateau")
        lr = _real("lr", state["lr"], low=0.0)
        best = state["best"]
        if best in ("inf", "-inf"):
            best = float(best)
        elif _is_bool(best) or not isinstance(best, numbers.Real) or math.isnan(best):
            raise ValueError(f"best must be a real number, 'inf' or '-inf', got {best!r}")
        counters = {k: _integer(k, state[k], 0)
                    for k in ("num_bad_epochs", "cooldown_counter", "last_epoch")}
        self.lr, self.best = lr, float(best)
        self.num_bad_epochs = counters["num_bad_epochs"]
        self.cooldown_counter = counters["cooldown_counter"]
        self.last_epoch = counters["last_epoch"]


# ------------------------------------------------------------ (de)serialise
_REGISTRY: Dict[str, Type[Schedule]] = {cls.__name__: cls for cls in (
    Constant, StepDecay, MultiStepDecay, ExponentialDecay, InverseTimeDecay,
    CosineDecay, LinearWarmup, ReduceLROnPlateau)}


def schedule_from_config(config: Mapping[str, Any], _depth: int = 1) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.get_config` output (nested for LinearWarmup).

    Raises ValueError naming an unknown ``name``, an unknown key, a missing
    required key or LinearWarmup nested deeper than :data:`MAX_NESTING`;
    TypeError if *config* is not a dict.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if "name" not in config:
        raise ValueError("config is missing key 'name'")
    name = config["name"]
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown schedule name {name!r}; known: {sorted(_REGISTRY)}")
    if cls is LinearWarmup and _depth > MAX_NESTING:
        raise ValueError(f"config nests LinearWarmup more than {MAX_NESTING} levels deep")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    params = inspect.signature(cls.__init__).parameters
    for key in kwargs:
        if key == "self" or key not in params:
            raise ValueError(f"unknown key {key!r} in config for {name}")
    for key, p in params.items():
        if key != "self" and p.default is inspect.Parameter.empty and key not in kwargs:
            raise ValueError(f"config for {name} is missing key {key!r}")
    if cls is LinearWarmup and isinstance(kwargs["after"], dict):
        kwargs["after"] = schedule_from_config(kwargs["after"], _depth + 1)
    return cls(**kwargs)
