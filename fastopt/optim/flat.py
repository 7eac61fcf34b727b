"""FlatParams: a model's parameters in one contiguous buffer per dtype.

The user holds NumPy *views* into the buffer, so an optimizer updates the whole
model with one kernel call per dtype instead of one per tensor. Gradients get
the same layout (``flat.grads``): write each gradient into its view in place and
call ``opt.step()`` with no argument.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._validate import FLOAT_DTYPES


class FlatParams(Mapping[str, NDArray[Any]]):
    """Parameters (and their gradients) stored in one flat buffer per dtype.

    Parameters
    ----------
    params : mapping of str to array_like, or sequence of array_like
        Initial values, copied into the buffer. A sequence is named ``"0"``,
        ``"1"``, ... in order. Order is preserved inside each dtype's buffer.
    dtype : {None, numpy.float32, numpy.float64}
        Cast every array to this dtype (default: keep each array's float dtype;
        non-float input becomes float64).

    Attributes
    ----------
    grads : dict of str to ndarray
        Gradient views (zero-initialised), same shapes as the parameters.
    buffers, grad_buffers : dict of numpy.dtype to ndarray
        The flat 1-D buffers behind the views.

    Examples
    --------
    >>> flat = FlatParams({"W": np.ones((3, 2)), "b": np.zeros(2)})
    >>> W = flat["W"]              # a view: updates to the buffer show here
    >>> flat.grads["W"][...] = 0.5  # write gradients in place
    >>> opt = fastopt.optim.SGD(flat, lr=0.1); opt.step()
    """

    layout: Dict[np.dtype[Any], List[Tuple[str, int, int, Tuple[int, ...]]]]
    buffers: Dict[np.dtype[Any], NDArray[Any]]
    grad_buffers: Dict[np.dtype[Any], NDArray[Any]]
    grads: Dict[str, NDArray[Any]]

    def __init__(self, params: Union[Mapping[str, ArrayLike], Sequence[ArrayLike]], *,
                 dtype: Optional[DTypeLike] = None) -> None:
        items = list(params.items()) if isinstance(params, Mapping) else \
            [(str(i), a) for i, a in enumerate(params)]
        if not items:
            raise ValueError("params must not be empty")
        if dtype is not None and np.dtype(dtype) not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        arrays: Dict[str, NDArray[Any]] = {}
        for name, value in items:
            if not isinstance(name, str):
                raise TypeError(f"parameter names must be str, got {name!r}")
            arr = np.asarray(value)
            if dtype is not None:
                arr = arr.astype(dtype)
            elif arr.dtype not in FLOAT_DTYPES:
                if arr.dtype.kind not in "biuf":
                    raise TypeError(f"params[{name!r}] must be numeric, got {arr.dtype}")
                arr = arr.astype(np.float64)
            arrays[name] = arr
        self.layout = {}  # dtype -> [(name, offset, size, shape)]
        for name, arr in arrays.items():
            entries = self.layout.setdefault(arr.dtype, [])
            offset = entries[-1][1] + entries[-1][2] if entries else 0
            entries.append((name, offset, arr.size, arr.shape))
        self.buffers, self.grad_buffers = {}, {}
        views: Dict[str, NDArray[Any]]
        grads: Dict[str, NDArray[Any]]
        views, grads = {}, {}
        for dt, entries in self.layout.items():
            total = entries[-1][1] + entries[-1][2]
            buf = self.buffers[dt] = np.empty(total, dtype=dt)
            gbuf = self.grad_buffers[dt] = np.zeros(total, dtype=dt)
            for name, offset, size, shape in entries:
                views[name] = buf[offset:offset + size].reshape(shape)
                views[name][...] = arrays[name]
                grads[name] = gbuf[offset:offset + size].reshape(shape)
        self._views = {name: views[name] for name in arrays}
        self.grads = {name: grads[name] for name in arrays}

    @classmethod
    def zeros(cls, shapes: Mapping[str, Union[int, Tuple[int, ...]]],
              dtype: DTypeLike = np.float64) -> FlatParams:
        """Zero parameters of the given shapes (mapping name -> shape)."""
        return cls({name: np.zeros(shape, dtype=dtype) for name, shape in shapes.items()})

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self._views[name]

    def __setitem__(self, name: str, value: ArrayLike) -> None:
        """Copy *value* into the view (the view itself is never replaced).

        This keeps code written for plain dicts working in place, e.g. the
        book's ``params[key] -= lr * grads[key]``.
        """
        view = self._views[name]
        if value is not view:
            np.copyto(view, value, casting="same_kind")

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def zero_grad(self) -> None:
        """Set every gradient to zero (in place)."""
        for gbuf in self.grad_buffers.values():
            gbuf.fill(0)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{dt}: {buf.size}" for dt, buf in self.buffers.items())
        return f"FlatParams({len(self)} arrays; {sizes})"
