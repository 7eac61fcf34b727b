"""How an optimizer sees its parameters: groups of *slots*, one kernel call each.

A slot is either one user array (viewed as 1-D) or the whole buffer of one dtype
of a :class:`FlatParams`. Each slot keeps its optimizer state as flat buffers of
the same length, so per-parameter state is a view too.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .._validate import as_grad, check_param
from .flat import FlatParams

#: What an optimizer takes as ``params``: a FlatParams, a mapping name -> array, a
#: sequence of arrays, or a sequence of param-group dicts (each with a ``"params"`` key).
ParamsLike = Union[FlatParams, Mapping, Iterable[NDArray[Any]], Iterable[Mapping]]
#: :func:`split_groups` output: (group options without ``params``, that group's params)
GroupSpec = Tuple[Dict[str, Any], Any]


class Slot:
    """One contiguous 1-D parameter span updated by one kernel call."""

    __slots__ = ("names", "arrays", "offsets", "param", "flat", "state", "_workspace")

    names: List[str]
    arrays: List[NDArray[Any]]
    offsets: List[int]
    param: NDArray[Any]
    flat: Optional[FlatParams]
    state: Dict[str, NDArray[Any]]
    _workspace: Optional[NDArray[Any]]

    def __init__(self, names: List[str], arrays: List[NDArray[Any]], offsets: List[int],
                 param: NDArray[Any], flat: Optional[FlatParams] = None) -> None:
        self.names, self.arrays, self.offsets = names, arrays, offsets
        self.param, self.flat = param, flat
        self.state = {}
        self._workspace = None

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.param.dtype

    def ensure_state(self, inits: Mapping[str, float]) -> None:
        """Allocate missing state buffers (key -> initial value)."""
        for key, init in inits.items():
            if key not in self.state:
                self.state[key] = np.full(self.param.shape, init, dtype=self.param.dtype)

    def state_view(self, key: str, index: int) -> NDArray[Any]:
        off, arr = self.offsets[index], self.arrays[index]
        return self.state[key][off:off + arr.size].reshape(arr.shape)

    def grad(self, grads: Optional[Mapping[str, Any]]) -> NDArray[Any]:
        """This slot's gradient as one 1-D array (validated; may be a copy)."""
        if self.flat is not None and (grads is None or grads is self.flat.grads):
            return self.flat.grad_buffers[self.param.dtype]
        if grads is None:
            raise ValueError("grads is required unless every parameter group is a FlatParams "
                             "(whose .grads buffer is then used)")
        if self.flat is None:
            return as_grad(self.names[0], _lookup(grads, self.names[0]), self.arrays[0])
        if self._workspace is None:
            self._workspace = np.empty_like(self.param)
        for name, arr, off in zip(self.names, self.arrays, self.offsets):
            self._workspace[off:off + arr.size] = as_grad(name, _lookup(grads, name), arr)
        return self._workspace


def _lookup(grads: Mapping[str, Any], name: str) -> Any:
    try:
        return grads[name]
    except KeyError:
        raise ValueError(f"grads has no entry for parameter {name!r}") from None


def split_groups(params: ParamsLike) -> List[GroupSpec]:
    """Normalise *params* to a list of (group-dict-without-params, named arrays/FlatParams)."""
    if isinstance(params, (FlatParams, Mapping)):
        return [({}, params)]
    if isinstance(params, np.ndarray):
        raise TypeError("params must be a mapping, a list of arrays or a list of param-group "
                        "dicts, not a single ndarray; wrap it: [array]")
    try:
        items = list(params)
    except TypeError:
        raise TypeError(f"params must be a mapping, a list of arrays or a list of param-group "
                        f"dicts, got {type(params).__name__}") from None
    if not items:
        raise ValueError("params must not be empty")
    if all(isinstance(item, Mapping) and not isinstance(item, FlatParams) for item in items):
        groups = []
        for i, item in enumerate(items):
            if "params" not in item:
                raise ValueError(f"param_groups[{i}] has no 'params' key")
            options = {k: v for k, v in item.items() if k != "params"}
            groups.append((options, item["params"]))
        return groups
    return [({}, items)]


def build_slots(groups: List[GroupSpec]) -> List[List[Slot]]:
    """Slots per group from :func:`split_groups` output; checks names and overlap."""
    all_slots: List[List[Slot]]
    seen: Dict[str, int]
    all_slots, seen, counter = [], {}, 0
    spans: List[Tuple[NDArray[Any], str]] = []
    for gi, (_, params) in enumerate(groups):
        slots: List[Slot] = []
        if isinstance(params, FlatParams):
            for dt, entries in params.layout.items():
                names = [e[0] for e in entries]
                slots.append(Slot(names, [params[n] for n in names], [e[1] for e in entries],
                                  params.buffers[dt], flat=params))
                spans.append((params.buffers[dt], f"a FlatParams of group {gi}"))
        else:
            if isinstance(params, Mapping):
                named = list(params.items())
            elif isinstance(params, np.ndarray):
                named = [(str(counter), params)]
            else:
                named = [(str(counter + i), a) for i, a in enumerate(params)]
            if not named:
                raise ValueError(f"param_groups[{gi}]['params'] is empty")
            for name, arr in named:
                if not isinstance(name, str):
                    raise TypeError(f"parameter names must be str, got {name!r}")
                check_param(name, arr)
                slots.append(Slot([name], [arr], [0], arr.reshape(-1)))
                spans.append((arr, f"params[{name!r}]"))
            counter += len(named)
        for slot in slots:
            for name in slot.names:
                if name in seen:
                    raise ValueError(f"parameter name {name!r} appears in groups {seen[name]} and {gi}")
                seen[name] = gi
        all_slots.append(slots)
    _check_no_overlap(spans)
    return all_slots


def _check_no_overlap(spans: List[Tuple[NDArray[Any], str]]) -> None:
    bounds = []
    for arr, label in spans:
        if arr.size:
            start = arr.__array_interface__["data"][0]
            bounds.append((start, start + arr.nbytes, label))
    bounds.sort()
    for (s0, e0, l0), (s1, e1, l1) in zip(bounds, bounds[1:]):
        if s1 < e0:
            raise ValueError(f"{l0} and {l1} share memory; each parameter may appear only once")
