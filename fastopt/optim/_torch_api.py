"""The rest of ``torch.optim.Optimizer``'s surface, mixed into :class:`Optimizer`.

``zero_grad``, ``add_param_group``, ``state`` and ``step(closure)`` with torch's
meanings where fastopt's model allows them; the differences are documented on each
method (fastopt holds gradients only for FlatParams groups; state lives in flat
buffers, so ``state`` is a read-only mapping of live, writeable array views).
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import (TYPE_CHECKING, Any, Callable, ContextManager, Dict, FrozenSet, Iterable,
                    List, Optional)

import numpy as np
from numpy.typing import NDArray

from ._slots import Slot, _check_no_overlap, build_slots
from .flat import FlatParams


class TorchOptimizerAPI:
    """Mixin of :class:`fastopt.optim.Optimizer`: torch.optim's remaining methods."""

    # what the mixin uses of Optimizer (declarations for the type checker only)
    defaults: Dict[str, Any]
    param_groups: List[Dict[str, Any]]
    group_state: List[Dict[str, Any]]
    _slots: List[List[Slot]]
    _validated: List[Dict[str, Any]]
    _names_cache: Optional[FrozenSet[str]]

    if TYPE_CHECKING:
        def _validate_group(self, group: Mapping[str, Any], where: str) -> Dict[str, Any]: ...
        def _state_init(self, group: Dict[str, Any]) -> Dict[str, float]: ...
        def _initial_group_state(self) -> Dict[str, Any]: ...
        def _names_set(self) -> FrozenSet[str]: ...
        def param_names(self) -> List[str]: ...
        def step(self, grads: Any = None, closure: Optional[Callable[[], Any]] = None) -> Any: ...

    def _locked(self) -> ContextManager[Any]:
        lock = getattr(self, "_lock", None)
        return lock if lock is not None else contextlib.nullcontext()

    # ----------------------------------------------------------------- zero_grad
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients fastopt holds for this optimizer's parameters.

        fastopt holds gradients for FlatParams groups (``flat.grads``, and so for
        every network built on :class:`fastopt.nn.Sequential`, whose
        ``net.params`` is a FlatParams); per-array groups take their gradients as
        the argument of :meth:`step`, so there is nothing to zero for them.

        Parameters
        ----------
        set_to_none : bool, default True
            Accepted for torch compatibility. Gradients are views into one flat
            buffer, which must stay, so both values write zeros (torch frees the
            tensors instead; a fastopt step on a zero gradient still applies
            momentum and weight decay, where torch would skip a ``None`` grad).
        """
        if not isinstance(set_to_none, (bool, np.bool_)):
            raise TypeError(f"set_to_none must be a bool, got {type(set_to_none).__name__}")
        seen: set = set()
        for slots in self._slots:
            for slot in slots:
                if slot.flat is not None and id(slot.flat) not in seen:
                    seen.add(id(slot.flat))
                    slot.flat.zero_grad()

    # ----------------------------------------------------------------- add_param_group
    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters, as ``torch.optim.Optimizer.add_param_group``.

        Parameters
        ----------
        param_group : dict
            ``{"params": ..., <hyperparameter overrides>}``; ``params`` is a
            FlatParams, a mapping name -> array, or a list of arrays (named
            ``str(i)`` continuing the optimizer's count). Missing hyperparameters
            come from :attr:`defaults`.

        Validated like the constructor's groups (unknown keys and bad values raise
        ``ValueError``/``TypeError`` naming them; a parameter already in another
        group, by name or by memory, raises ``ValueError``); state buffers are
        allocated with their initial values and the new group starts at step 0.
        On any error nothing is added. :meth:`state_dict` includes the group; to
        load a state dict, add the same groups first (as in torch).
        """
        if not isinstance(param_group, Mapping) or isinstance(param_group, FlatParams):
            raise TypeError(f"param_group must be a dict with a 'params' key, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group has no 'params' key")
        with self._locked():
            gi = len(self.param_groups)
            where = f"param_groups[{gi}]"
            options = {k: v for k, v in param_group.items() if k != "params"}
            params: Any = param_group["params"]
            if isinstance(params, np.ndarray):
                params = [params]
            if not isinstance(params, (Mapping, FlatParams)):
                try:
                    items = list(params)
                except TypeError:
                    raise TypeError(f"{where}['params'] must be a FlatParams, a mapping or a list "
                                    f"of arrays, got {type(params).__name__}") from None
                start = len(self.param_names())
                params = {str(start + i): a for i, a in enumerate(items)}
            checked = self._validate_group({**self.defaults, **options}, where)
            try:
                (slots,) = build_slots([({}, params)])
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            existing = self._names_set()
            for slot in slots:
                for name in slot.names:
                    if name in existing:
                        raise ValueError(f"{where}: parameter {name!r} is already in another group")
            spans = [(slot.param, f"the parameters of group {g}")
                     for g, group_slots in enumerate(self._slots) for slot in group_slots]
            spans += [(slot.param, f"{where}['params']") for slot in slots]
            _check_no_overlap(spans)
            inits = self._state_init(checked)
            for slot in slots:  # allocates; nothing of the optimizer has changed yet
                slot.ensure_state(inits)
            checked["params"] = [n for slot in slots for n in slot.names]
            gstate = self._initial_group_state()
            # commit (cannot fail)
            self._slots.append(slots)
            self.param_groups.append(checked)
            self._validated.append(dict(checked))
            self.group_state.append(gstate)
            self._names_cache = None

    # ----------------------------------------------------------------- state
    @property
    def state(self) -> Mapping[str, Mapping[str, Any]]:
        """Per-parameter optimizer state, as ``torch.optim.Optimizer.state``.

        A read-only mapping ``name -> {key: array, ..., "step": int}`` whose arrays
        are live views of the optimizer's flat state buffers (e.g. Adam's ``"m"``,
        ``"v"``): write into them in place (``opt.state["W1"]["m"][...] = 0``) and
        the next step sees it. Replacing entries is refused (``TypeError``): the
        kernels read the buffers, not this mapping. ``"step"`` is the parameter's
        group's update count (a copy). Keys are parameter names, not tensors.
        """
        out: Dict[str, Mapping[str, Any]] = {}
        for gi, slots in enumerate(self._slots):
            step = self.group_state[gi]["step"]
            for slot in slots:
                for index, name in enumerate(slot.names):
                    entry: Dict[str, Any] = {key: slot.state_view(key, index)
                                             for key in sorted(slot.state)}
                    entry["step"] = step
                    out[name] = MappingProxyType(entry)
        return MappingProxyType(out)

    # ----------------------------------------------------------------- closure
    def _step_closure(self, grads: Any, closure: Optional[Callable[[], Any]]) -> Any:
        """``step(closure)``: call the closure, step on its gradients, return its loss."""
        if closure is None:
            closure, grads = grads, None
        elif grads is not None:
            raise TypeError("step takes gradients or a closure, not both (the closure "
                            "returns (loss, grads) to pass gradients)")
        if not callable(closure):
            raise TypeError(f"closure must be callable, got {type(closure).__name__}")
        result = closure()
        if isinstance(result, tuple):
            if len(result) != 2:
                raise ValueError("closure must return loss or (loss, grads), got a tuple of "
                                 f"{len(result)}")
            loss, grads = result
        else:
            loss = result
        self.step(grads)
        return loss

    def _repr_groups(self) -> str:
        """``name(N params; hyperparameters)``, from the live param_groups."""
        groups = self.param_groups

        def opts(group: Dict[str, Any], skip: Iterable[str] = ()) -> str:
            return ", ".join(f"{k}={v!r}" for k, v in group.items() if k != "params" and k not in skip)
        head = f"{type(self).__name__}({len(self.param_names())} params; {opts(groups[0])}"
        for gi, group in enumerate(groups[1:], 1):
            same = {k for k in group if k != "params" and group[k] == groups[0].get(k)}
            diff = opts(group, same)
            head += f"; group {gi}: {len(group['params'])} params" + (f", {diff}" if diff else "")
        return head + ")"
