# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Dropout kernels (Cython). Twins: ``fastopt.reference.dropout`` and
``fastopt.kernels.dropout``.

Element ``i`` is kept iff ``random_bits(seed, stream, offset + i) >> 11 >=
threshold`` (the splitmix64 generator of ``fastopt.reference.rng``); a kept
element is multiplied by ``scale``, a dropped one is set to +0.0. The mask is
recomputed, never stored, and is identical in every backend, at any thread
count and in any chunking.
"""
include "_jit.pxi"
include "_rng.pxi"


cdef void _masked_scale(Py_ssize_t lo, Py_ssize_t hi, floating* src, floating* dst,
                        uint64_t key, uint64_t offset, uint64_t thr,
                        floating scale) noexcept nogil:
    # ctr: splitmix64's counter key + (offset + i + 1)*GAMMA, advanced by one
    # addition per element (the same uint64 value as the multiply).
    cdef uint64_t ctr = key + (offset + <uint64_t>lo) * GAMMA
    cdef Py_ssize_t i
    cdef floating v
    if src == dst:
        # one pointer: the compiler's run-time overlap check would otherwise
        # send the in-place call down its scalar loop
        for i in range(lo, hi):
            ctr = ctr + GAMMA
            v = dst[i] * scale
            dst[i] = kept_or_zero(v, (mix64_(ctr) >> SHIFT) >= thr)
    else:
        for i in range(lo, hi):
            ctr = ctr + GAMMA
            v = src[i] * scale
            dst[i] = kept_or_zero(v, (mix64_(ctr) >> SHIFT) >= thr)


cdef void _run(floating[::1] src, floating[::1] dst, uint64_t seed, uint64_t stream,
               uint64_t offset, uint64_t threshold, floating scale) noexcept nogil:
    cdef Py_ssize_t n = src.shape[0], c, lo
    cdef uint64_t key = stream_key_(seed, stream)
    if n == 0:
        return
    if go_parallel(n, LIGHT):
        for c in prange(n_chunks(n), schedule="static"):
            lo = c * CHUNK
            _masked_scale(lo, min(lo + CHUNK, n), &src[0], &dst[0], key, offset, threshold,
                          scale)
    else:
        _masked_scale(0, n, &src[0], &dst[0], key, offset, threshold, scale)


def dropout_forward(floating[::1] x, floating[::1] out, uint64_t seed, uint64_t stream,
                    uint64_t offset, uint64_t threshold, floating scale):
    """out[i] = x[i]·scale if element offset+i is kept, else 0.

    Parameters
    ----------
    x, out : ndarray
        1-D, C-contiguous, one float dtype; ``out`` may be ``x`` (in place),
        otherwise they must not overlap.
    seed, stream, offset, threshold : int or numpy.uint64
        The generator's key, the global index of element 0, and
        ``keep_threshold(p)``.
    scale : float
        In the buffers' dtype: 1 (the book's dropout) or 1/(1-p) (inverted).
    """
    with nogil:
        _run(x, out, seed, stream, offset, threshold, scale)


def dropout_backward(floating[::1] dout, floating[::1] dx, uint64_t seed, uint64_t stream,
                     uint64_t offset, uint64_t threshold, floating scale):
    """dx[i] = dout[i]·scale if element offset+i is kept, else 0 (the forward's mask).

    Parameters
    ----------
    dout, dx : ndarray
        1-D, C-contiguous, one float dtype; ``dx`` may be ``dout``.
    seed, stream, offset, threshold, scale
        As for :func:`dropout_forward`.
    """
    with nogil:
        _run(dout, dx, seed, stream, offset, threshold, scale)
