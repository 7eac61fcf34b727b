# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Counter-based random numbers (Cython). Twins: ``fastopt.reference.rng`` and
``fastopt.kernels.rng``.

The hash, its constants and the keep rule are documented in
``fastopt.reference.rng``; this module computes the same uint64 values. Every
function takes uint64 scalars (Python ints or ``numpy.uint64``) and returns a
Python int (``uniform_at``: a float), all arithmetic modulo 2**64.
"""
from fastopt.reference.rng import keep_threshold

include "_rng.pxi"

__all__ = ["keep_threshold", "mix64", "stream_key", "bits_from_key", "random_bits", "uniform_at"]


def mix64(uint64_t z):
    """The splitmix64 finaliser of *z*."""
    return mix64_(z)


def stream_key(uint64_t seed, uint64_t stream):
    """``mix64(mix64(seed + GAMMA) ^ stream)``: the splitmix64 seed of one (seed, stream)."""
    return stream_key_(seed, stream)


def bits_from_key(uint64_t key, uint64_t index):
    """``mix64(key + (index + 1) * GAMMA)``: output *index* of splitmix64 seeded with *key*."""
    return bits_from_key_(key, index)


def random_bits(uint64_t seed, uint64_t stream, uint64_t index):
    """The 64 random bits of element *index* of (seed, stream)."""
    return bits_from_key_(stream_key_(seed, stream), index)


def uniform_at(uint64_t seed, uint64_t stream, uint64_t index):
    """The float64 uniform in [0, 1) of element *index*: ``(bits >> 11) * 2**-53``."""
    cdef uint64_t bits = bits_from_key_(stream_key_(seed, stream), index)
    return <double>(bits >> SHIFT) * (1.0 / 9007199254740992.0)
