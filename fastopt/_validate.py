"""Argument checks shared by the public API. Each error names the argument."""
from __future__ import annotations

import io
import math
import numbers
import os
import stat
from typing import Any, Collection, Optional, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import NDArray

FLOAT_DTYPES: Tuple[np.dtype[Any], ...] = (np.dtype(np.float32), np.dtype(np.float64))

_T = TypeVar("_T")


def as_real(name: str, value: object) -> float:
    """*value* as a Python float; TypeError/ValueError naming *name* (bool refused).

    An int too large for a float (``10**400``) is a ValueError, not NumPy's or
    Python's OverflowError.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got a {type(value).__name__} too large "
                         "for a float") from None


def check_float(name: str, value: object, *, low: Optional[float] = None,
                high: Optional[float] = None, low_open: bool = False,
                high_open: bool = False) -> float:
    """A finite real number within the given bounds, returned as a Python float."""
    value = as_real(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise ValueError(f"{name} must be {op} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        op = "<" if high_open else "<="
        raise ValueError(f"{name} must be {op} {high}, got {value}")
    return value


def check_optional_positive(name: str, value: object) -> Optional[float]:
    return None if value is None else check_float(name, value, low=0.0, low_open=True)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_choice(name: str, value: _T, choices: Collection[Any]) -> _T:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_betas(name: str, value: object, count: int = 2) -> Tuple[float, ...]:
    if not isinstance(value, (tuple, list)) or len(value) != count:
        raise TypeError(f"{name} must be a tuple of {count} numbers, got {value!r}")
    return tuple(check_float(f"{name}[{i}]", b, low=0.0, high=1.0, high_open=True)
                 for i, b in enumerate(value))


def check_param(name: object, array: object) -> NDArray[Any]:
    """A parameter the optimizer can update in place: float32/64, writeable, C-contiguous."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"params[{name!r}] must be a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(f"params[{name!r}] must have dtype float32 or float64, got {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"params[{name!r}] is read-only; the optimizer updates parameters in place")
    if not array.flags.c_contiguous:
        raise ValueError(f"params[{name!r}] is not C-contiguous; pass np.ascontiguousarray(...) "
                         "and keep that array as the parameter")
    return array


def as_grad(name: object, grad: object, param: NDArray[Any]) -> NDArray[Any]:
    """The gradient for *param* as a 1-D C-contiguous array of the parameter's dtype.

    Policy: another float dtype is cast (a copy); a non-contiguous gradient is
    copied; integer, bool, complex and object gradients are rejected.
    """
    if grad is None:
        raise ValueError(f"grads[{name!r}] is None; every parameter of a non-frozen group needs a gradient")
    if not isinstance(grad, np.ndarray):
        if isinstance(grad, numbers.Real) and not isinstance(grad, (bool, np.bool_)):
            grad = np.asarray(grad, dtype=param.dtype)
        else:
            raise TypeError(f"grads[{name!r}] must be a numpy.ndarray, got {type(grad).__name__}")
    if grad.dtype.kind != "f":
        raise TypeError(f"grads[{name!r}] must have a floating dtype, got {grad.dtype}")
    if grad.shape != param.shape:
        raise ValueError(f"grads[{name!r}] has shape {grad.shape}, but the parameter has shape {param.shape}")
    return np.ascontiguousarray(grad, dtype=param.dtype).reshape(-1)


def open_regular_file(path: Union[str, os.PathLike[str]], refusal: str) -> io.BufferedReader:
    """Open *path* for binary reading without blocking; ValueError unless it is a regular file.

    ``O_NONBLOCK``: opening a FIFO does not wait for a writer (it would block for ever);
    the descriptor is made blocking again once it is known to be a file. *refusal* is
    the message's start (``"<path> is not a valid ..."``); the reason follows it.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{refusal}: not a regular file (a directory, FIFO, device or socket)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
