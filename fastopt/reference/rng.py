"""Counter-based random numbers (NumPy). Twin: ``fastopt.kernels.rng``.

A random value is a pure function of three uint64 numbers: ``seed``, ``stream``
(e.g. the training step, or a layer id mixed into the seed) and the element
``index``. Nothing is stored between calls and no generator state advances, so
the same triple gives the same bits in NumPy, Numba and Cython, at any thread
count, in any chunking, and after a checkpoint resume.

The hash is splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom
number generators", OOPSLA 2014; the ``SplittableRandom`` of Java 8), all
arithmetic modulo 2**64::

    GAMMA = 0x9E3779B97F4A7C15          # the golden-ratio increment
    mix64(z):                            # the splitmix64 / Stafford "Mix13" finaliser
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
        return z ^ (z >> 31)

    key(seed, stream)        = mix64(mix64(seed + GAMMA) ^ stream)
    bits(seed, stream, index) = mix64(key + (index + 1) * GAMMA)

``bits(seed, stream, i)`` is therefore output ``i`` (counting from 0) of a
splitmix64 generator seeded with ``key(seed, stream)``: the index is the
generator's counter, so any element can be computed without the ones before
it. ``key`` puts ``seed`` through one splitmix64 step and the stream through
a second full avalanche, so neighbouring seeds and neighbouring streams give
unrelated keys (two streams' sequences would overlap only if their keys
differed by ``j * GAMMA`` with ``j`` below the buffer length: probability
about ``n / 2**64``).

**One rule for both dtypes.** A uniform is the top 53 bits,
``u = (bits >> 11) * 2**-53`` in [0, 1), for float32 and float64 alike (no
separate 24-bit rule for float32). Dropout never compares floats: element
``i`` is *kept* iff ``(bits >> 11) >= threshold`` with
``threshold = keep_threshold(p) = ceil(p * 2**53)`` computed once in Python.
That is exactly ``u >= p`` in float64 (``p * 2**53`` is exact, and for an
integer ``k``, ``k >= x`` iff ``k >= ceil(x)``), the same integers decide on
every backend and in both dtypes, so a mask does not depend on the dtype.
P(keep) = 1 - threshold / 2**53, which is 1 - p to within 2**-53.
p = 0 keeps every element and p = 1 drops every element, exactly.
(The book draws ``rand() > p``; ``>=`` differs only on the event u == p, of
probability at most 2**-53, and makes p = 0 an exact identity.)
"""
from __future__ import annotations

import math
from typing import TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._types import Real, UInt64

GAMMA = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
S30, S27, S31 = np.uint64(30), np.uint64(27), np.uint64(31)
ONE = np.uint64(1)
#: Bits dropped from the hash: the top 64 - 11 = 53 bits make the uniform.
SHIFT = np.uint64(11)
#: Number of distinct uniforms: u = (bits >> 11) / 2**53.
TWO53 = 1 << 53
#: Indices per block in the NumPy twins (keeps temporaries at 512 KiB).
BLOCK = 1 << 16

#: A uint64 scalar or array: the hash works elementwise on either.
_U64 = TypeVar("_U64", np.uint64, NDArray[np.uint64])


def keep_threshold(p: Real) -> np.uint64:
    """The uint64 ``ceil(p * 2**53)``: an element is kept iff ``bits >> 11 >= it``.

    *p* is the drop probability, 0 <= p <= 1 (a Python or NumPy float).
    """
    p = float(p)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    return np.uint64(math.ceil(p * TWO53))


def mix64(z: _U64) -> _U64:
    """The splitmix64 finaliser of a uint64 scalar or array (wraps modulo 2**64)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> S30)) * MIX1
        z = (z ^ (z >> S27)) * MIX2
        return z ^ (z >> S31)


def stream_key(seed: UInt64, stream: UInt64) -> np.uint64:
    """``mix64(mix64(seed + GAMMA) ^ stream)``: the splitmix64 seed of one (seed, stream)."""
    with np.errstate(over="ignore"):
        return mix64(mix64(np.uint64(seed) + GAMMA) ^ np.uint64(stream))


def _bits_from_key(key: np.uint64, index: _U64) -> _U64:
    with np.errstate(over="ignore"):
        return mix64(key + (index + ONE) * GAMMA)


def random_bits(seed: UInt64, stream: UInt64,
                index: ArrayLike) -> Union[np.uint64, NDArray[np.uint64]]:
    """The 64 random bits of element *index* (uint64 scalar or array) of (seed, stream)."""
    index = np.asarray(index, dtype=np.uint64)
    out = _bits_from_key(stream_key(seed, stream), index)
    return out[()] if out.ndim == 0 else out


def uniform_at(seed: UInt64, stream: UInt64,
               index: ArrayLike) -> Union[float, NDArray[np.float64]]:
    """The float64 uniform in [0, 1) of element *index*: ``(bits >> 11) * 2**-53``.

    Scalar in, Python float out; an index array gives a float64 array.
    """
    u = (random_bits(seed, stream, index) >> SHIFT).astype(np.float64) * (1.0 / TWO53)
    return float(u) if np.ndim(u) == 0 else u


def keep_mask(seed: UInt64, stream: UInt64, offset: UInt64, threshold: UInt64, lo: int,
              hi: int) -> NDArray[np.bool_]:
    """Booleans: is element ``offset + i`` kept, for ``i`` in ``lo:hi``."""
    index = np.arange(lo, hi, dtype=np.uint64)
    with np.errstate(over="ignore"):
        index += np.uint64(offset)
    return (_bits_from_key(stream_key(seed, stream), index) >> SHIFT) >= np.uint64(threshold)
