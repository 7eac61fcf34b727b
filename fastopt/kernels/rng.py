"""Counter-based random numbers (Numba). Twin: ``fastopt.reference.rng``.

The hash, its constants and the keep rule are documented in
``fastopt.reference.rng``; this module computes the same uint64 values.
Everything stays uint64: the constants are ``np.uint64`` globals (frozen as
uint64 constants), because Numba turns uint64 mixed with a signed int64
literal into float64.
"""
import numpy as np

from ..reference.rng import GAMMA, MIX1, MIX2, ONE, S27, S30, S31, SHIFT, TWO53, keep_threshold
from ._jit import jit

__all__ = ["keep_threshold", "mix64", "stream_key", "bits_from_key", "random_bits", "uniform_at"]

_INV53 = 1.0 / TWO53


@jit
def mix64(z):
    """The splitmix64 finaliser (uint64 in, uint64 out, modulo 2**64)."""
    z = (z ^ (z >> S30)) * MIX1
    z = (z ^ (z >> S27)) * MIX2
    return z ^ (z >> S31)


@jit
def stream_key(seed, stream):
    """``mix64(mix64(seed + GAMMA) ^ stream)``: the splitmix64 seed of one (seed, stream)."""
    return mix64(mix64(np.uint64(seed) + GAMMA) ^ np.uint64(stream))


@jit
def bits_from_key(key, index):
    """``mix64(key + (index + 1) * GAMMA)``: output *index* of splitmix64 seeded with *key*."""
    return mix64(key + (index + ONE) * GAMMA)


@jit
def random_bits(seed, stream, index):
    """The 64 random bits of element *index* of (seed, stream)."""
    return bits_from_key(stream_key(seed, stream), np.uint64(index))


@jit
def uniform_at(seed, stream, index):
    """The float64 uniform in [0, 1) of element *index*: ``(bits >> 11) * 2**-53``."""
    return np.float64(random_bits(seed, stream, index) >> SHIFT) * _INV53
