"""Weight initialisation: a fixed std, Xavier/Glorot, He/Kaiming, and the book's forms.

Every function takes ``shape`` (fan-in is ``shape[0]`` for the book's
(n_in, n_out) weight matrices, or the product of all but the first two axes
times ``shape[1]`` for convolution-style (out, in, kh, kw) kernels when
``layout="oi"``), a ``seed`` (int, ``numpy.random.Generator`` or None) and a
``dtype``.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence, Tuple, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._validate import check_choice, check_float

MODES = ("fan_in", "fan_out", "fan_avg")


def _rng(seed: Union[int, np.random.Generator, None]) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")


def fans(shape: Sequence[int], layout: str = "io") -> Tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape.

    ``layout="io"``: (n_in, n_out, ...) as the book's Affine weights;
    ``layout="oi"``: (n_out, n_in, *kernel) as PyTorch's weights.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions to define fans, got {shape}")
    check_choice("layout", layout, ("io", "oi"))
    receptive = math.prod(shape[2:])
    a, b = shape[0] * receptive, shape[1] * receptive
    return (a, b) if layout == "io" else (b, a)


def _fan(shape: Sequence[int], mode: str, layout: str) -> float:
    fan_in, fan_out = fans(shape, layout)
    check_choice("mode", mode, MODES)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def normal(shape: Union[int, Sequence[int]], std: float, *, seed: Union[int, np.random.Generator, None] = None,
           dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """``std · N(0, 1)`` of the given shape (the book's numeric ``weight_init_std``)."""
    std = check_float("std", std, low=0.0)
    return (std * _rng(seed).standard_normal(shape)).astype(dtype, copy=False)


def uniform(shape: Union[int, Sequence[int]], bound: float, *, seed: Union[int, np.random.Generator, None] = None,
            dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """U(−bound, bound) of the given shape."""
    bound = check_float("bound", bound, low=0.0)
    return _rng(seed).uniform(-bound, bound, shape).astype(dtype, copy=False)


def xavier_normal(shape: Sequence[int], *, gain: float = 1.0, mode: str = "fan_avg", layout: str = "io",
                  seed: Union[int, np.random.Generator, None] = None, dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """Glorot normal: std = gain·√(1/fan), fan = (fan_in + fan_out)/2 by default."""
    return normal(shape, gain * math.sqrt(1.0 / _fan(shape, mode, layout)), seed=seed, dtype=dtype)


def xavier_uniform(shape: Sequence[int], *, gain: float = 1.0, mode: str = "fan_avg", layout: str = "io",
                   seed: Union[int, np.random.Generator, None] = None, dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """Glorot uniform: bound = gain·√(3/fan)."""
    return uniform(shape, gain * math.sqrt(3.0 / _fan(shape, mode, layout)), seed=seed, dtype=dtype)


def he_normal(shape: Sequence[int], *, mode: str = "fan_in", layout: str = "io", seed: Union[int, np.random.Generator, None] = None,
              dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """He/Kaiming normal for ReLU: std = √(2/fan), fan = fan_in by default."""
    return normal(shape, math.sqrt(2.0 / _fan(shape, mode, layout)), seed=seed, dtype=dtype)


def he_uniform(shape: Sequence[int], *, mode: str = "fan_in", layout: str = "io", seed: Union[int, np.random.Generator, None] = None,
               dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """He/Kaiming uniform: bound = √(6/fan)."""
    return uniform(shape, math.sqrt(6.0 / _fan(shape, mode, layout)), seed=seed, dtype=dtype)


glorot_normal, glorot_uniform = xavier_normal, xavier_uniform
kaiming_normal, kaiming_uniform = he_normal, he_uniform


def book_std(weight_init_std: Union[float, str], n_in: int) -> float:
    """The std the book's networks use for a layer with *n_in* inputs.

    A number is used as it is; ``'relu'``/``'he'`` give √(2/n_in); ``'sigmoid'``/
    ``'xavier'`` give √(1/n_in) (the book's fan-in-only "Xavier"). Case-insensitive.
    """
    if isinstance(weight_init_std, numbers.Real) and not isinstance(weight_init_std, bool):
        return check_float("weight_init_std", weight_init_std, low=0.0)
    key = str(weight_init_std).lower()
    if key in ("relu", "he"):
        return math.sqrt(2.0 / n_in)
    if key in ("sigmoid", "xavier"):
        return math.sqrt(1.0 / n_in)
    raise ValueError(f"weight_init_std must be a number or one of 'relu', 'he', 'sigmoid', "
                     f"'xavier', got {weight_init_std!r}")


def book_normal(shape: Sequence[int], weight_init_std: Union[float, str] = "relu", *,
                seed: Union[int, np.random.Generator, None] = None, dtype: DTypeLike = np.float64) -> NDArray[Any]:
    """The book's init: ``book_std(weight_init_std, shape[0]) · N(0, 1)``."""
    return normal(shape, book_std(weight_init_std, shape[0]), seed=seed, dtype=dtype)
