"""The optimizer base class: param groups, validation, one step, state_dict.

Subclasses declare their hyperparameters and map them to one kernel; the base
class does everything else in the same order every time:

1. validate hyperparameters (only those changed since the last step) and every
   gradient, and allocate missing state, before any kernel runs;
2. if needed, one blocked sum of squares over all gradients: for global-norm
   clipping and for the ``nonfinite`` policy;
3. one kernel call per slot (a user array, or a whole FlatParams dtype buffer);
4. advance each stepped group's counter.

A failed call therefore changes nothing.
"""
from __future__ import annotations

import copy
import math
import threading
from typing import (Any, Callable, ClassVar, Dict, FrozenSet, List, Mapping, Optional,
                    Sequence, Set, Tuple, Union)

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _backend, _threads
from ..kernel_spec import BY_NAME, KernelSpec
from .._validate import check_bool, check_choice, check_float, check_optional_positive, check_param
from ._slots import ParamsLike, Slot, build_slots, split_groups
from ._torch_api import TorchOptimizerAPI
from .flat import FlatParams
from .schedules import Schedule, schedule_from_config

#: A param group: ``"params"`` (the names) and every hyperparameter.
Group = Dict[str, Any]
#: What :meth:`Optimizer.step` takes as gradients.
GradsLike = Union[Mapping[str, ArrayLike], Sequence[ArrayLike]]
#: A hyperparameter's check: ``check(name, value) -> value``.
Check = Callable[[str, Any], Any]
#: (kernel spec, scalars in its order then the transform, group-state updates) of a step.
_GroupCall = Tuple[KernelSpec, Tuple[Any, ...], Dict[str, Any]]

NONFINITE_POLICIES = ("propagate", "skip", "raise")
STATE_FORMAT_VERSION = 1
_EMPTY = {dt: np.empty(0, dt) for dt in (np.dtype(np.float32), np.dtype(np.float64))}


class NonFiniteGradientError(ValueError, FloatingPointError):
    """A gradient holds NaN or inf and the optimizer's policy is ``nonfinite="raise"``."""


def _check_lr(name: str, value: Any) -> Union[float, Schedule]:
    if isinstance(value, Schedule):
        return value
    return check_float(name, value, low=0.0)


def _check_nonneg(name: str, value: Any) -> float:
    return check_float(name, value, low=0.0)


def _check_positive(name: str, value: Any) -> float:
    return check_float(name, value, low=0.0, low_open=True)


#: Hyperparameters every optimizer has, with their checks.
COMMON_HYPERPARAMETERS: Dict[str, Check] = {
    "lr": _check_lr,
    "weight_decay": _check_nonneg,
    "decoupled_weight_decay": check_bool,
    "maximize": check_bool,
    "frozen": check_bool,
}


def hyperparameters_of(arguments: Mapping[str, Any]) -> Dict[str, Any]:
    """The group hyperparameters among a subclass ``__init__``'s ``locals()``: every
    argument but ``params`` and ``**options`` (so none can be left out of the groups)."""
    return {name: value for name, value in arguments.items()
            if name not in ("self", "params", "options", "__class__")}


class Optimizer(TorchOptimizerAPI):
    """Base class. Subclasses set ``kernel`` and ``hyperparameters`` and implement
    ``_scalars``; the kernel's :class:`~fastopt.kernel_spec.KernelSpec` says which state
    buffers it takes (by the state keys) and the order of its scalars. A subclass whose
    groups need only some of the kernel's buffers, or start them at other than 0,
    overrides ``_state_init``."""

    #: name of the backend kernel this optimizer calls (an entry of fastopt.kernel_spec)
    kernel: ClassVar[Optional[str]] = None
    #: extra hyperparameters: name -> check(name, value) -> value
    hyperparameters: ClassVar[Mapping[str, Check]] = {}
    #: state keys of older checkpoints -> today's (renamed to say what they hold)
    legacy_state_keys: ClassVar[Mapping[str, str]] = {}

    defaults: Group
    param_groups: List[Group]
    group_state: List[Dict[str, Any]]
    max_grad_norm: Optional[float]
    clip_value: Optional[float]
    nonfinite: str
    skipped_steps: int
    _slots: List[List[Slot]]
    _validated: List[Group]
    _checks: Dict[str, Check]
    _step_post_hooks: Dict[int, Callable[[Optimizer], Any]]

    def __init__(self, params: ParamsLike, defaults: Mapping[str, Any], *,
                 max_grad_norm: Optional[float] = None, clip_value: Optional[float] = None,
                 nonfinite: str = "propagate") -> None:
        self.max_grad_norm = check_optional_positive("max_grad_norm", max_grad_norm)
        self.clip_value = check_optional_positive("clip_value", clip_value)
        self.nonfinite = check_choice("nonfinite", nonfinite, NONFINITE_POLICIES)
        self._checks = {**COMMON_HYPERPARAMETERS, **self.hyperparameters}
        base = {"weight_decay": 0.0, "decoupled_weight_decay": False, "maximize": False,
                "frozen": False, **defaults}
        self.defaults = self._validate_group(base, "defaults")
        groups = split_groups(params)
        self._slots = build_slots(groups)
        self.param_groups = []
        for gi, (options, _) in enumerate(groups):
            group = self._validate_group({**self.defaults, **options}, f"param_groups[{gi}]")
            group["params"] = [n for slot in self._slots[gi] for n in slot.names]
            self.param_groups.append(group)
        self._validated = [dict(g) for g in self.param_groups]
        self.group_state = [self._initial_group_state() for _ in self.param_groups]
        for gi, group in enumerate(self.param_groups):
            for slot in self._slots[gi]:
                slot.ensure_state(self._state_init(group))
        #: steps skipped by ``nonfinite="skip"`` (not part of the saved state)
        self.skipped_steps = 0
        self._lock = threading.RLock()
        self._step_post_hooks = {}

    # ----------------------------------------------------------------- subclass API
    def _state_init(self, group: Group) -> Dict[str, float]:
        """State buffers this group needs: key -> initial value (every buffer of the
        group's kernel, from 0)."""
        return dict.fromkeys(BY_NAME[self._kernel_for(group)].state_names, 0.0)

    def _scalars(self, group: Group, lr: float, step: int,
                 gstate: Mapping[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Kernel scalars for update number *step* (1-based) of a group.

        Returns ``(scalars, gstate_updates)``: the Python floats/bools the kernel
        takes after its state buffers, by the names of its spec (the base class
        puts them in the kernel's order), and group-state changes to commit.
        """
        raise NotImplementedError

    def _kernel_for(self, group: Group) -> str:
        """The name of the kernel this group's update runs."""
        # kernel is None only on this abstract base, whose subclasses set it or override this
        return self.kernel  # type: ignore[return-value]

    def _initial_group_state(self) -> Dict[str, Any]:
        return {"step": 0}

    # ----------------------------------------------------------------- validation
    def _validate_group(self, group: Mapping[str, Any], where: str) -> Group:
        out: Group = {}
        for key, value in group.items():
            if key == "params":
                out[key] = value
                continue
            check = self._checks.get(key)
            if check is None:
                raise ValueError(f"{where}: unknown key {key!r}; known keys are {sorted(self._checks)}")
            out[key] = check(f"{where}['{key}']" if where != "defaults" else key, value)
        missing = sorted(set(self._checks) - set(out))
        if missing:
            raise ValueError(f"{where}: missing hyperparameter {missing[0]!r}")
        return out

    def _revalidate(self) -> None:
        for gi, group in enumerate(self.param_groups):
            if group != self._validated[gi]:
                where = f"param_groups[{gi}]"
                checked = self._validate_group(dict(group), where)
                if checked["params"] != self._validated[gi]["params"]:
                    raise ValueError(f"{where}['params'] cannot be changed after construction")
                group.update(checked)
                self._validated[gi] = dict(group)
                for slot in self._slots[gi]:  # e.g. momentum turned on: allocate its buffer
                    slot.ensure_state(self._state_init(group))

    # ----------------------------------------------------------------- stepping
    def step(self, grads: Union[GradsLike, Callable[[], Any], None] = None,
             closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter of every non-frozen group in place.

        ``opt.step(closure)`` (torch's form) calls ``closure()`` first and returns
        what it returns: the closure computes the loss and the gradients, either
        into the FlatParams ``.grads`` buffers (return the loss) or as a value
        (return ``(loss, grads)``); the step then uses them.

        Parameters
        ----------
        grads : mapping, sequence or None
            Gradients by parameter name (a mapping), or in parameter order (a
            sequence). ``None`` uses the ``.grads`` buffers of FlatParams groups.
            A gradient that shares memory with its parameter or the
            optimizer's state (``opt.step({"w": w})``) is copied first, so
            every backend computes the update from the gradient as it was
            when the step began.

        Returns
        -------
        bool
            False when the step was skipped (``nonfinite="skip"``), else True;
            with a closure, the closure's loss (as torch).

        Notes
        -----
        Steps of one optimizer are serialised by a lock: threads that step the
        same optimizer take turns, and every step counts.
        """
        if closure is not None or callable(grads):
            return self._step_closure(grads, closure)
        with self._lock:
            return self._step(grads)

    def _step(self, grads: Any) -> bool:
        self._revalidate()
        grads = self._normalise_grads(grads)
        work = []
        for gi, group in enumerate(self.param_groups):
            if group["frozen"]:
                continue
            for slot in self._slots[gi]:
                work.append((gi, slot, _unaliased(slot.grad(grads), slot)))
        # 32 units an element: 2**18 elements, where the kernels go parallel, is 2**23
        _threads.policy.keep(32 * sum(g.size for _, _, g in work))
        backend = _backend.kernels()
        gscale = self._grad_scale(backend, work)
        if gscale is None:
            self.skipped_steps += 1
            return False
        clip = 0.0 if self.clip_value is None else self.clip_value
        updates = {gi: self._group_call(gi, gscale, clip) for gi, _, _ in work}
        for gi, slot, g in work:
            spec, scalars, _ = updates[gi]
            cast = slot.dtype.type
            state = [slot.state.get(k, _EMPTY[slot.dtype]) for k in spec.state_names]
            args = [s if flag else cast(s) for s, flag in zip(scalars, spec.flags)]
            getattr(backend, spec.name)(slot.param, g, *state, *args)
        for gi, (_, _, gstate_updates) in updates.items():
            self.group_state[gi].update(gstate_updates)
        for hook in list(self._step_post_hooks.values()):
            hook(self)
        return True

    def bind(self, params: Any) -> Optimizer:
        """The optimizer that updates *params*: this one, bound to its parameters when built.

        With :meth:`step`, the protocol every optimizer a
        :class:`fastopt.train.Trainer` drives follows: ``bind(network.params)``
        once, then ``step(grads)`` per batch. A :mod:`fastopt.book` optimizer
        creates its state in ``bind``; this one has it already and returns itself.

        Parameters
        ----------
        params : FlatParams or mapping
            The network's parameters (not checked: these are the ones given
            at construction, or a part of them).

        Returns
        -------
        Optimizer
            ``self``.
        """
        return self

    def register_step_post_hook(self, hook: Callable[[Optimizer], Any]) -> _HookHandle:
        """Call ``hook(optimizer)`` after every step that updated the parameters.

        Hooks run in registration order, after the kernels and the step
        counters, so they see the new parameters and state (e.g. to re-apply a
        pruning mask: ``θ ← θ ⊙ mask``). A step skipped by ``nonfinite="skip"``
        runs no hook; neither does a step that raised. Hooks are not part of
        :meth:`state_dict`.

        Parameters
        ----------
        hook : callable
            ``hook(optimizer) -> None``.

        Returns
        -------
        handle
            ``handle.remove()`` unregisters the hook (idempotent).

        Examples
        --------
        >>> handle = opt.register_step_post_hook(lambda o: print(o.step_count))
        >>> opt.step(grads)      # prints 1
        >>> handle.remove()
        """
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {type(hook).__name__}")
        return _HookHandle(self._step_post_hooks, hook)

    def _group_call(self, gi: int, gscale: float, clip: float) -> _GroupCall:
        group, gstate = self.param_groups[gi], self.group_state[gi]
        step = gstate["step"] + 1
        lr = self.lr_at(gi, step - 1)
        if not (math.isfinite(lr) and lr >= 0):  # a schedule's value, checked before any kernel
            raise ValueError(f"param_groups[{gi}]['lr'] gives {lr!r} at step {step - 1}; "
                             "a learning rate must be finite and >= 0")
        named, updates = self._scalars(group, lr, step, gstate)
        spec = BY_NAME[self._kernel_for(group)]
        wd = group["weight_decay"]
        if group["decoupled_weight_decay"]:
            tail = (gscale * (-1.0 if group["maximize"] else 1.0), clip, 0.0, 1.0 - lr * wd)
        else:
            tail = (gscale * (-1.0 if group["maximize"] else 1.0), clip, wd, 1.0)
        return spec, spec.ordered(named) + tail, {**updates, "step": step}

    def _normalise_grads(self, grads: Any) -> Optional[Mapping[str, Any]]:
        """*grads* as a mapping by name, or None for the FlatParams' own ``.grads`` buffers.

        The FlatParams' own ``.grads`` (what a network's ``gradient`` returns)
        is recognised here, once, and handed on as None: the slots then read
        their gradient buffers as they are.
        """
        if grads is None:
            return None
        if hasattr(grads, "keys"):
            for slots in self._slots:
                for slot in slots:
                    if slot.flat is None or grads is not slot.flat.grads:
                        unknown = set(grads.keys()) - self._names_set()
                        if unknown:
                            raise ValueError("grads has entries for unknown parameters: "
                                             f"{sorted(unknown)}")
                        return grads
            return None  # every slot's own gradient buffer
        if isinstance(grads, np.ndarray) or not hasattr(grads, "__len__"):
            raise TypeError("grads must be a mapping of name -> array or a sequence of arrays, "
                            f"got {type(grads).__name__}")
        names = self.param_names()
        if len(grads) != len(names):
            raise ValueError(f"grads has {len(grads)} entries but the optimizer has "
                             f"{len(names)} parameters")
        return dict(zip(names, grads))

    def _grad_scale(self, backend: Any,
                    work: Sequence[Tuple[int, Slot, NDArray[Any]]]) -> Optional[float]:
        """Gradient factor from global-norm clipping; None when the step must be skipped."""
        if self.max_grad_norm is None and self.nonfinite == "propagate":
            return 1.0
        total = 0.0
        for _, _, g in work:
            total += backend.sumsq(g)
        if not math.isfinite(total) and self.nonfinite != "propagate":
            bad = [name for _, slot, g in work for name, off, arr
                   in zip(slot.names, slot.offsets, slot.arrays)
                   if not np.isfinite(g[off:off + arr.size]).all()]
            if bad:
                if self.nonfinite == "skip":
                    return None
                raise NonFiniteGradientError(
                    f"grads[{bad[0]!r}] contains NaN or inf (nonfinite='raise'); "
                    f"non-finite gradients: {bad}")
        if self.max_grad_norm is None:
            return 1.0
        # torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), clamped to 1
        return min(self.max_grad_norm / (math.sqrt(total) + 1e-6), 1.0)

    # ----------------------------------------------------------------- queries
    def lr_at(self, group_index: int, step: int) -> float:
        """Learning rate group *group_index* uses for its 0-based update *step*."""
        lr = self.param_groups[group_index]["lr"]
        return lr(step) if isinstance(lr, Schedule) else lr

    def get_lr(self) -> List[float]:
        """Learning rate of each group for its next update."""
        return [self.lr_at(gi, gs["step"]) for gi, gs in enumerate(self.group_state)]

    @property
    def step_count(self) -> int:
        """Updates done by the first group (the book's ``iter``)."""
        return self.group_state[0]["step"]

    def param_names(self) -> List[str]:
        return [n for slots in self._slots for slot in slots for n in slot.names]

    def _names_set(self) -> FrozenSet[str]:
        names: Optional[FrozenSet[str]] = getattr(self, "_names_cache", None)
        if names is None:
            names = self._names_cache = frozenset(self.param_names())
        return names

    def _find(self, name: str) -> Tuple[Slot, int]:
        for slots in self._slots:
            for slot in slots:
                if name in slot.names:
                    return slot, slot.names.index(name)
        raise KeyError(f"no parameter named {name!r}")

    def state_view(self, name: str, key: str) -> NDArray[Any]:
        """The live state array *key* (e.g. ``"m"``) of parameter *name* (a view)."""
        slot, index = self._find(name)
        return slot.state_view(key, index)

    def _rebind(self, arrays: Mapping[str, NDArray[Any]]) -> None:
        """Point per-array parameters at new arrays of the same names, shapes and dtypes."""
        unknown = set(arrays) - self._names_set()
        if unknown:
            raise ValueError(f"params has entries the optimizer was not built with: {sorted(unknown)}")
        for slots in self._slots:
            for slot in slots:
                name, old = slot.names[0], slot.arrays[0]
                new = arrays.get(name)
                if new is None:
                    raise ValueError(f"params has no entry for parameter {name!r}")
                if slot.flat is None and new is not old:
                    check_param(name, new)
                    if new.shape != old.shape or new.dtype != old.dtype:
                        raise ValueError(f"params[{name!r}] changed from {old.dtype}{list(old.shape)} "
                                         f"to {new.dtype}{list(new.shape)}")
                    slot.arrays[0], slot.param = new, new.reshape(-1)

    def _rebind_flat(self, flat: FlatParams) -> None:
        """Point FlatParams slots at *flat*, a FlatParams of the same layout (the state stays)."""
        for slots in self._slots:
            for slot in slots:
                if slot.flat is None or flat.layout.get(slot.dtype) != slot.flat.layout[slot.dtype]:
                    raise ValueError("params does not have the layout the optimizer was built with")
        for slots in self._slots:
            for slot in slots:
                slot.flat, slot.param = flat, flat.buffers[slot.dtype]
                slot.arrays = [flat[name] for name in slot.names]

    def params(self) -> Dict[str, NDArray[Any]]:
        """Parameter arrays by name (the arrays the optimizer updates)."""
        return {n: a for slots in self._slots for slot in slots
                for n, a in zip(slot.names, slot.arrays)}

    def __getstate__(self) -> Dict[str, Any]:  # a lock cannot be pickled or copied: each copy gets its own
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return self._repr_groups()  # the live param_groups: edits to them show

    # ----------------------------------------------------------------- state
    def state_dict(self) -> Dict[str, Any]:
        """Copy of the optimizer's state: hyperparameters, counters, schedules, buffers.

        A nested dict of JSON-compatible values and NumPy arrays (per-parameter
        state arrays have the parameter's shape), as written by
        :func:`fastopt.optim.save_checkpoint`.
        """
        groups: List[Dict[str, Any]] = []
        for gi, group in enumerate(self.param_groups):
            hyper = {k: _hyper_to_json(v) for k, v in group.items() if k != "params"}
            entry: Dict[str, Any] = {"params": list(group["params"]), "hyperparameters": hyper,
                     "state": dict(self.group_state[gi])}
            if isinstance(group["lr"], Schedule):
                entry["schedule_state"] = copy.deepcopy(group["lr"].state_dict())
            groups.append(entry)
        state: Dict[str, Dict[str, NDArray[Any]]] = {}
        for slots in self._slots:
            for slot in slots:
                for i, name in enumerate(slot.names):
                    state[name] = {k: slot.state_view(k, i).copy() for k in sorted(slot.state)}
        return {"optimizer": type(self).__name__, "format_version": STATE_FORMAT_VERSION,
                "options": {"max_grad_norm": self.max_grad_norm, "clip_value": self.clip_value,
                            "nonfinite": self.nonfinite},
                "param_groups": groups, "state": state}

    def load_state_dict(self, state_dict: Mapping[str, Any], *, strict: bool = True) -> None:
        """Restore a :meth:`state_dict`. Validates everything before changing anything.

        Parameters
        ----------
        strict : bool
            True (default): hyperparameters and options must equal this
            optimizer's, else ValueError naming each difference. False: adopt
            the saved ones (after validating them), as PyTorch does.
        """
        self._prepare_load(state_dict, strict)()

    def _prepare_load(self, sd: Any, strict: bool) -> Callable[[], None]:
        """Validate *sd*; return a function that commits it (cannot fail)."""
        if not isinstance(sd, dict):
            raise TypeError(f"state_dict must be a dict, got {type(sd).__name__}")
        _expect_keys(sd, {"optimizer", "format_version", "options", "param_groups", "state"}, "state_dict")
        if sd["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is for optimizer {sd['optimizer']!r}, "
                             f"not {type(self).__name__!r}")
        if sd["format_version"] != STATE_FORMAT_VERSION:
            raise ValueError(f"state_dict format_version {sd['format_version']!r} is not "
                             f"supported (expected {STATE_FORMAT_VERSION})")
        mine = self.state_dict()
        options = sd["options"]
        _expect_keys(options, set(mine["options"]), "state_dict['options']")
        probs = [f"options[{k!r}]: saved {options[k]!r}, optimizer has {mine['options'][k]!r}"
                 for k in mine["options"] if options[k] != mine["options"][k]]
        groups = sd["param_groups"]
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict['param_groups'] has "
                             f"{len(groups) if isinstance(groups, list) else type(groups).__name__} "
                             f"groups, the optimizer has {len(self.param_groups)}")
        new_groups: List[Group]
        new_gstates: List[Dict[str, Any]]
        schedule_loads: List[Callable[[], None]]
        new_groups, new_gstates, schedule_loads = [], [], []
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            where = f"state_dict['param_groups'][{gi}]"
            if not isinstance(saved, dict):
                raise TypeError(f"{where} must be a dict")
            _expect_keys(saved, {"params", "hyperparameters", "state"}, where, optional={"schedule_state"})
            if list(saved["params"]) != group["params"]:
                raise ValueError(f"{where}['params'] names {list(saved['params'])}, "
                                 f"the optimizer has {group['params']}")
            hyper = dict(saved["hyperparameters"])
            _expect_keys(hyper, set(self._checks), f"{where}['hyperparameters']")
            current = {k: _hyper_to_json(v) for k, v in group.items() if k != "params"}
            for k in sorted(current):
                if hyper[k] != current[k]:
                    probs.append(f"param_groups[{gi}].{k}: saved {hyper[k]!r}, optimizer has {current[k]!r}")
            if isinstance(hyper["lr"], dict):
                hyper["lr"] = _load_schedule(group["lr"], hyper["lr"], saved.get("schedule_state"), where,
                                             schedule_loads, strict)
            if isinstance(hyper.get("betas"), list):
                hyper["betas"] = tuple(hyper["betas"])
            checked = self._validate_group(hyper, where)
            checked["params"] = group["params"]
            new_groups.append(checked)
            gstate = saved["state"]
            _expect_keys(gstate, set(self.group_state[gi]), f"{where}['state']")
            new_gstates.append(_check_group_state(gstate, f"{where}['state']"))
        if probs and strict:
            raise ValueError("state_dict does not match this optimizer (pass strict=False to "
                             "adopt the saved settings):\n  " + "\n  ".join(probs))
        copies = self._check_state_arrays(sd["state"], new_groups)

        def commit() -> None:
            for gi, checked in enumerate(new_groups):
                self.param_groups[gi].clear()
                self.param_groups[gi].update(checked)
                self._validated[gi] = dict(checked)
                self.group_state[gi] = new_gstates[gi]
                inits = self._state_init(checked)  # e.g. amsgrad on: v_max; off: none
                for slot in self._slots[gi]:
                    slot.state = {k: v for k, v in slot.state.items() if k in inits}
                    slot.ensure_state(inits)
            for load in schedule_loads:
                load()
            for slot, key, index, arr in copies:
                slot.state_view(key, index)[...] = arr
            if not strict:
                self.max_grad_norm = options["max_grad_norm"]
                self.clip_value = options["clip_value"]
                self.nonfinite = options["nonfinite"]
        if not strict:
            check_optional_positive("max_grad_norm", options["max_grad_norm"])
            check_optional_positive("clip_value", options["clip_value"])
            check_choice("nonfinite", options["nonfinite"], NONFINITE_POLICIES)
        return commit

    def _check_state_arrays(self, state: Any, new_groups: List[Group]
                            ) -> List[Tuple[Slot, str, int, NDArray[Any]]]:
        if not isinstance(state, dict):
            raise TypeError("state_dict['state'] must be a dict")
        _expect_keys(state, set(self.param_names()), "state_dict['state']")
        copies: List[Tuple[Slot, str, int, NDArray[Any]]] = []
        for gi, slots in enumerate(self._slots):
            expected = set(self._state_init(new_groups[gi]))
            for slot in slots:
                for index, (name, arr) in enumerate(zip(slot.names, slot.arrays)):
                    entry = state[name]
                    where = f"state_dict['state'][{name!r}]"
                    if not isinstance(entry, dict):
                        raise TypeError(f"{where} must be a dict")
                    if self.legacy_state_keys:
                        entry = {self.legacy_state_keys.get(k, k): v for k, v in entry.items()}
                    _expect_keys(entry, expected, where)
                    for key in sorted(expected):
                        value = entry[key]
                        if not isinstance(value, np.ndarray):
                            raise TypeError(f"{where}[{key!r}] must be an ndarray")
                        if value.shape != arr.shape or value.dtype != arr.dtype:
                            raise ValueError(f"{where}[{key!r}] is {value.dtype}{list(value.shape)}, "
                                             f"the parameter is {arr.dtype}{list(arr.shape)}")
                        copies.append((slot, key, index, value))
        return copies


def _unaliased(g: NDArray[Any], slot: Slot) -> NDArray[Any]:
    """*g*, or a copy of it if it shares memory with the slot's parameter or state.

    Only a per-array slot can receive such a gradient (a FlatParams slot's
    gradient is its own buffer or a copy gathered into its workspace).
    """
    if slot.flat is None and (np.may_share_memory(g, slot.param)
                              or any(np.may_share_memory(g, b) for b in slot.state.values())):
        return g.copy()
    return g


class _HookHandle:
    """Returned by :meth:`Optimizer.register_step_post_hook`; ``remove()`` unregisters."""

    _next_id = 0

    def __init__(self, hooks: Dict[int, Callable[[Optimizer], Any]],
                 hook: Callable[[Optimizer], Any]) -> None:
        self._hooks, self.id = hooks, _HookHandle._next_id
        _HookHandle._next_id += 1
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


def _expect_keys(mapping: Any, expected: Set[str], where: str,
                 optional: Union[Set[str], FrozenSet[str]] = frozenset()) -> None:
    if not isinstance(mapping, dict):
        raise TypeError(f"{where} must be a dict, got {type(mapping).__name__}")
    missing = sorted(expected - set(mapping))
    unknown = sorted(set(mapping) - expected - set(optional))
    if missing:
        raise ValueError(f"{where} is missing {missing}")
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}")


#: Largest step counter a state_dict may hold (larger ones overflow a float).
MAX_STEP = 2**63 - 1


def _check_group_state(gstate: Mapping[str, Any], where: str) -> Dict[str, Any]:
    """A validated copy of a group's saved counters: ``step`` and (NAdam) ``mu_product``."""
    step = gstate["step"]
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) \
            or not 0 <= step <= MAX_STEP:
        shown = f"an int of {step.bit_length()} bits" if type(step) is int and step > MAX_STEP \
            else repr(step)
        raise ValueError(f"{where}['step'] must be an int in [0, 2**63 - 1], got {shown}")
    out = {**gstate, "step": int(step)}
    if "mu_product" in gstate:  # NAdam: a product of momentum factors in [0, 1)
        out["mu_product"] = check_float(f"{where}['mu_product']", gstate["mu_product"],
                                        low=0.0, high=1.0)
    return out


def _hyper_to_json(value: Any) -> Any:
    if isinstance(value, Schedule):
        return {"schedule": value.get_config()}
    if isinstance(value, tuple):
        return list(value)
    return value


def _load_schedule(current: Any, saved: Mapping[str, Any], saved_state: Any, where: str,
                   loads: List[Callable[[], None]], strict: bool) -> Schedule:
    """Resolve a saved schedule; queue loading its state into the live object."""
    if set(saved) != {"schedule"}:
        raise ValueError(f"{where}['hyperparameters']['lr'] must be a number or {{'schedule': config}}")
    if isinstance(current, Schedule) and current.get_config() == saved["schedule"]:
        target = current
    else:
        target = schedule_from_config(saved["schedule"])
    if saved_state is not None:
        probe = schedule_from_config(saved["schedule"])
        probe.load_state_dict(copy.deepcopy(saved_state))  # validates now
        loads.append(lambda: target.load_state_dict(copy.deepcopy(saved_state)))
    return target
