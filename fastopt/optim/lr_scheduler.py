"""torch-style learning-rate schedulers that drive a fastopt optimizer's param groups.

The objects of ``torch.optim.lr_scheduler`` with torch's semantics and numbers
(checked against torch 2.13 in the tests): build one on an optimizer, call
``opt.step(...)`` then ``sched.step()`` once per step (or per epoch), read
``sched.get_last_lr()``; ``state_dict()``/``load_state_dict()`` save and restore it.
Each ``step()`` writes the new rate into ``optimizer.param_groups[i]["lr"]`` (a float),
exactly as torch does, so schedulers compose: two schedulers on one optimizer apply
their factors in turn (the "chainable" form).

This is the torch route. fastopt's own schedules (:mod:`fastopt.optim.schedules`,
``lr=CosineDecay(...)``) are pure ``step -> lr`` functions evaluated by the optimizer
and saved with it; the two routes are alternatives for a group: a scheduler needs the
group's ``lr`` to be a number.

Differences from torch, all structural: the initial rates are kept by the scheduler
(``base_lrs``, in its state dict) instead of an ``"initial_lr"`` key in the param
groups (fastopt validates group keys), so ``last_epoch`` other than -1 is not accepted
at construction (resume with :meth:`LRScheduler.load_state_dict`); no warnings about
the order of ``optimizer.step()`` and ``scheduler.step()``.

>>> from fastopt.optim import SGD, lr_scheduler
>>> opt = SGD(params, lr=0.1, momentum=0.9)
>>> sched = lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
>>> for epoch in range(100):
...     train_one_epoch(opt)          # opt.step(grads) per batch
...     sched.step()
"""
from __future__ import annotations

import bisect
import copy
import math
import numbers
from collections import Counter
from typing import (Any, Callable, ClassVar, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple, Union)

from .optimizer import Optimizer
from .schedules import Schedule

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "CosineAnnealingLR", "SequentialLR", "ReduceLROnPlateau", "OneCycleLR"]


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a fastopt.optim.Optimizer, got {type(optimizer).__name__}")
    for gi, group in enumerate(optimizer.param_groups):
        lr = group["lr"]
        if isinstance(lr, Schedule) or isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"optimizer.param_groups[{gi}]['lr'] must be a number for a torch-style "
                            f"scheduler, got {type(lr).__name__} (a fastopt Schedule already "
                            "sets the rate: use one or the other)")


def _initial_lrs(optimizer: Optimizer) -> List[float]:
    """torch's ``group["initial_lr"]``: each group's rate when its first scheduler was built.

    Kept on the optimizer (fastopt's groups take only hyperparameters) and shared by
    the schedulers of one optimizer, so a later scheduler (in ``SequentialLR``, or
    chained) starts from the same base rates as torch's.
    """
    initial: List[float] = optimizer.__dict__.setdefault("_scheduler_initial_lrs", [])
    groups = optimizer.param_groups
    del initial[len(groups):]
    for group in groups[len(initial):]:
        initial.append(float(group["lr"]))
    return initial


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _real(name: str, value: Any, low: Optional[float] = None,
          high: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    # numbers.Real declares no comparison with float
    if (low is not None and value < low) or (high is not None and value > high):  # type: ignore[operator]
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return float(value)


class LRScheduler:
    """Base class: sets ``param_groups[i]["lr"]`` to :meth:`get_lr` at every :meth:`step`.

    Parameters
    ----------
    optimizer : fastopt.optim.Optimizer
        Every group's ``lr`` must be a number (not a fastopt Schedule).
    last_epoch : int, default -1
        Only -1 (a new schedule); resume with :meth:`load_state_dict`.

    Attributes
    ----------
    base_lrs : list of float
        The groups' learning rates when the scheduler was built.
    last_epoch : int
        Number of :meth:`step` calls since (0 after construction).
    """

    _is_initial = False
    optimizer: Optimizer
    base_lrs: List[float]
    last_epoch: int
    _step_count: int
    _last_lr: List[float]

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, *,
                 _base_lrs: Optional[Sequence[float]] = None) -> None:
        _check_optimizer(optimizer)
        if last_epoch != -1:
            raise ValueError("last_epoch must be -1 (fastopt keeps initial rates in the scheduler; "
                             "resume a schedule with load_state_dict)")
        self.optimizer = optimizer
        initial = _initial_lrs(optimizer)
        if _base_lrs is not None:
            initial[:] = _base_lrs
        self.base_lrs = list(initial)
        self.last_epoch = -1
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> List[float]:
        """The next rates (chainable form: from the groups' current rates)."""
        raise NotImplementedError

    def get_last_lr(self) -> List[float]:
        """The rates the last :meth:`step` set, one per param group."""
        return list(self._last_lr)

    def _groups(self) -> List[Dict[str, Any]]:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"the optimizer has {len(groups)} param groups, the scheduler was built "
                             f"for {len(self.base_lrs)}; build the scheduler after add_param_group")
        return groups

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance one step (or set ``last_epoch = epoch``, torch's deprecated form)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: Optional[int] = None) -> None:
        groups = self._groups()
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = _positive_int("epoch", epoch, low=0)
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(groups, values):
            group["lr"] = lr
        self._last_lr = [g["lr"] for g in groups]

    def _current(self) -> List[float]:
        return [g["lr"] for g in self._groups()]

    # ------------------------------------------------------------------ state
    _transient: ClassVar[Tuple[str, ...]] = ("optimizer",)

    def state_dict(self) -> Dict[str, Any]:
        """The scheduler's state (plain values; no optimizer, no callables)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._transient}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (the keys must be this scheduler's)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        mine = set(self.state_dict())
        if set(state_dict) != mine:
            missing, unknown = sorted(mine - set(state_dict)), sorted(set(state_dict) - mine)
            raise ValueError(f"state_dict is not a {type(self).__name__} state: missing {missing}, "
                             f"unknown {unknown}")
        if len(state_dict.get("base_lrs", self.base_lrs)) != len(self.optimizer.param_groups):
            raise ValueError("state_dict['base_lrs'] has a different number of groups than the "
                             "optimizer")
        self.__dict__.update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        keys = [k for k in self._repr_keys if hasattr(self, k)]
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in keys)
        return f"{type(self).__name__}({args}{', ' if args else ''}last_epoch={self.last_epoch})"

    _repr_keys: ClassVar[Tuple[str, ...]] = ()


class LambdaLR(LRScheduler):
    """``lr = base_lr · lr_lambda(epoch)`` (one function, or one per group)."""

    _transient: ClassVar[Tuple[str, ...]] = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Union[Callable[[int], float], List[Callable[[int], float]],
                                  Tuple[Callable[[int], float], ...]],
                 last_epoch: int = -1) -> None:
        n = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n or not all(callable(f) for f in lambdas):
            raise ValueError(f"lr_lambda must be a callable or a list of {n} callables")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    ``lr_e = base_lr · gamma^⌊e / step_size⌋``.
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _real("gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone (a repeated milestone counts twice).

    ``lr_e = base_lr · gamma^{#milestones ≤ e}``.
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        ms = [_positive_int("milestones[i]", m, low=0) for m in milestones]
        self.milestones = dict(Counter(ms))
        self.gamma = _real("gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch not in self.milestones:
            return self._current()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        ms = sorted(Counter(self.milestones).elements())
        return [b * self.gamma ** bisect.bisect_right(ms, self.last_epoch) for b in self.base_lrs]

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        if isinstance(state.get("milestones"), dict):  # JSON turns int keys into strings
            state["milestones"] = {int(k): v for k, v in state["milestones"].items()}
        super().load_state_dict(state)


class ConstantLR(LRScheduler):
    """``base_lr · factor`` for the first ``total_iters`` steps, then ``base_lr``."""

    _repr_keys: ClassVar[Tuple[str, ...]] = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        self.factor = _real("factor", factor, low=0.0, high=1.0)
        self.total_iters = _positive_int("total_iters", total_iters, low=0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr * (1.0 / self.factor) for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        return [b * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` steps.

    ``lr_e = base_lr · (s + (f − s)·min(e, T)/T)``.
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("start_factor", "end_factor", "total_iters")
    start_factor: float
    end_factor: float
    total_iters: int

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if not isinstance(start_factor, numbers.Real) or start_factor > 1.0 or start_factor <= 0:
            raise ValueError("start_factor must be in (0, 1], got %r" % (start_factor,))
        if not isinstance(end_factor, numbers.Real) or end_factor > 1.0 or end_factor < 0:
            raise ValueError("end_factor must be in [0, 1], got %r" % (end_factor,))
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _positive_int("total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current()
        s, e = self.start_factor, self.end_factor
        return [lr * (1.0 + (e - s) / (self.total_iters * s + (self.last_epoch - 1) * (e - s)))
                for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        s, e = self.start_factor, self.end_factor
        return [b * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every step: ``lr_e = base_lr · gamma^e``."""

    _repr_keys: ClassVar[Tuple[str, ...]] = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _real("gamma", gamma, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing (SGDR without restarts), torch's recursive form.

    .. math:: \eta_e = \eta_{min} + \tfrac12(\eta_{base} - \eta_{min})(1 + \cos(\pi e / T_{max}))

    computed from the current rate at each step, so that it composes with other
    schedulers; past ``T_max`` the rate rises again (period ``2·T_max``), as torch's.
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = _positive_int("T_max", T_max)
        self.eta_min = _real("eta_min", eta_min, low=0.0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        if self._is_initial:
            return self._current()
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._step_count == 1 and e > 0:
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - lo) + lo
                for lr in self._current()]

    def _get_closed_form_lr(self) -> List[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        return [lo + (b - lo) * (1 + math.cos(math.pi * e / T)) / 2 for b in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``, ...

    Each scheduler starts afresh (from its closed form at 0) at its milestone, as torch's.
    """

    _transient: ClassVar[Tuple[str, ...]] = ("optimizer", "_schedulers")

    def __init__(self, optimizer: Optimizer, schedulers: Iterable[LRScheduler],
                 milestones: Iterable[int], last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau) or not isinstance(s, LRScheduler):
                raise ValueError(f"schedulers[{i}] must be a torch-style scheduler other than "
                                 f"ReduceLROnPlateau, got {type(s).__name__}")
            if s.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] drives another optimizer")
        milestones = [_positive_int("milestones[i]", m, low=0) for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs len(schedulers) - 1 = {len(schedulers) - 1} "
                             f"milestones, got {len(milestones)}")
        if last_epoch != -1:
            raise ValueError("last_epoch must be -1 (resume with load_state_dict)")
        self._schedulers, self._milestones = schedulers, milestones
        self.optimizer = optimizer
        self.last_epoch = last_epoch + 1
        self.base_lrs = list(_initial_lrs(optimizer))
        for group, lr in zip(optimizer.param_groups, self.base_lrs):
            group["lr"] = lr
        for s in schedulers:  # undo the initial step each took when it was built
            s.last_epoch -= 1
        idx = bisect.bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def step(self) -> None:  # type: ignore[override]  # torch's SequentialLR.step takes no epoch
        """Advance the active scheduler (restarting the next one at its milestone)."""
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "_schedulers" not in state_dict:
            raise ValueError("state_dict is not a SequentialLR state (no '_schedulers')")
        subs = state_dict["_schedulers"]
        if not isinstance(subs, list) or len(subs) != len(self._schedulers):
            raise ValueError(f"state_dict['_schedulers'] must hold {len(self._schedulers)} states")
        rest = {k: v for k, v in state_dict.items() if k != "_schedulers"}
        if set(rest) != set(super().state_dict()):
            raise ValueError(f"state_dict is not a SequentialLR state: keys {sorted(rest)}")
        for i, (s, sub) in enumerate(zip(self._schedulers, subs)):  # check all before loading any
            if not isinstance(sub, dict) or set(sub) != set(s.state_dict()):
                raise ValueError(f"state_dict['_schedulers'][{i}] is not a {type(s).__name__} state")
        for s, sub in zip(self._schedulers, subs):
            s.load_state_dict(sub)
        self.__dict__.update(copy.deepcopy(rest))

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self._schedulers)
        return f"SequentialLR([{inner}], milestones={self._milestones}, last_epoch={self.last_epoch})"


class ReduceLROnPlateau(LRScheduler):
    """Divide the rate by ``1/factor`` when a metric stops improving, as torch's.

    Call ``sched.step(metric)`` once per epoch. After more than ``patience`` epochs
    without improvement (``mode="min"``: ``a < best·(1 − threshold)`` with
    ``threshold_mode="rel"``, ``a < best − threshold`` with ``"abs"``; mirrored for
    ``"max"``) every group's rate becomes ``max(lr·factor, min_lr)`` (changes smaller
    than ``eps`` are skipped), then ``cooldown`` epochs pass before counting again.

    (:class:`fastopt.optim.ReduceLROnPlateau` is the same rule as a fastopt Schedule.)
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown")

    default_min_lr: Optional[float]
    min_lrs: List[float]
    factor: float
    patience: int
    cooldown: int
    eps: float
    threshold: float
    mode: str
    threshold_mode: str
    mode_worse: float
    best: float
    cooldown_counter: int
    num_bad_epochs: int

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: Union[float, List[float], Tuple[float, ...]] = 0,
                 eps: float = 1e-8) -> None:
        _check_optimizer(optimizer)
        if not isinstance(factor, numbers.Real) or not factor < 1.0:
            raise ValueError(f"factor must be < 1.0, got {factor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = float(factor)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, [float(m) for m in min_lr]
        else:
            self.default_min_lr = float(min_lr)
            self.min_lrs = [float(min_lr)] * n
        self.patience = _positive_int("patience", patience, low=0)
        self.cooldown = _positive_int("cooldown", cooldown, low=0)
        self.eps = _real("eps", eps, low=0.0)
        self.threshold = _real("threshold", threshold, low=0.0)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self._last_lr = [g["lr"] for g in optimizer.param_groups]
        self.best, self.cooldown_counter, self.num_bad_epochs = self.mode_worse, 0, 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: float,  # type: ignore[override]  # torch's: the metric comes first
             epoch: Optional[int] = None) -> None:
        """Record this epoch's *metrics* (a number); reduce the rates if it plateaued."""
        current = float(metrics)
        self.last_epoch = self.last_epoch + 1 if epoch is None else _positive_int("epoch", epoch, 0)
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"the optimizer has {len(groups)} param groups, min_lr has "
                                   f"{len(self.min_lrs)}; set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), torch's ``OneCycleLR``.

    The rate rises from ``max_lr/div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` and anneals (``"cos"`` or ``"linear"``) to
    ``max_lr/(div_factor·final_div_factor)``; with ``three_phase`` it comes back down
    to the initial rate first. With ``cycle_momentum`` the momentum (``momentum``, or
    β₁ of ``betas``) moves inversely between ``max_momentum`` and ``base_momentum``.
    Step it after every batch; stepping past ``total_steps`` raises ``ValueError``.
    """

    _repr_keys: ClassVar[Tuple[str, ...]] = ("total_steps", "pct_start", "anneal_strategy", "cycle_momentum")

    def __init__(self, optimizer: Optimizer, max_lr: Union[float, Sequence[float]],
                 total_steps: Optional[int] = None, epochs: Optional[int] = None,
                 steps_per_epoch: Optional[int] = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: Union[float, Sequence[float]] = 0.85,
                 max_momentum: Union[float, Sequence[float]] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        if total_steps is not None:
            if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int("epochs", epochs)
                                * _positive_int("steps_per_epoch", steps_per_epoch))
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        self.pct_start, self.anneal_strategy, self.three_phase = pct_start, anneal_strategy, three_phase
        T = self.total_steps
        if three_phase:
            self._phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (float(2 * pct_start * T) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                            (T - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (T - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        n = len(optimizer.param_groups)
        max_lrs = self._per_group("max_lr", max_lr, n)
        self._values = [{"initial_lr": m / div_factor, "max_lr": m} for m in max_lrs]
        for v in self._values:
            v["min_lr"] = v["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` "
                                 "option enabled")
            self.use_beta1 = "betas" in defaults
            for v, mx, base in zip(self._values, self._per_group("max_momentum", max_momentum, n),
                                   self._per_group("base_momentum", base_momentum, n)):
                v["max_momentum"], v["base_momentum"] = mx, base
            for v, group in zip(self._values, optimizer.param_groups):
                self._set_momentum(group, v["max_momentum"])
        super().__init__(optimizer, last_epoch, _base_lrs=[v["initial_lr"] for v in self._values])

    @staticmethod
    def _per_group(name: str, value: Any, n: int) -> List[float]:
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"expected {n} values for {name}, got {len(value)}")
            return [float(x) for x in value]
        return [float(value)] * n

    def _set_momentum(self, group: Dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> List[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps "
                             f"is {self.total_steps}")
        lrs = []
        for v, group in zip(self._values, self._groups()):
            start_step = 0.0
            for i, (end_step, lr0, lr1, m0, m1) in enumerate(self._phases):
                if step <= end_step or i == len(self._phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(v[lr0], v[lr1], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(v[m0], v[m1], pct)
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, momentum)
        return lrs
