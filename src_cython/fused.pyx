# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused hidden-layer kernels (Cython). Twins: ``fastopt.reference.fused`` and
``fastopt.kernels.fused``.

One call does what a hidden layer of the book's extended network does around
its matrix product: bias add, batch normalisation (training mode, with the
running statistics), ReLU and dropout forward; and their backward plus the
bias gradient. Every value comes from the same operations in the same order
as the separate kernels, so a fused layer equals the unfused chain bit for
bit. Above the batch-norm threshold the row blocks are spread over the
OpenMP threads (each block's rows finished while in cache); the results do
not depend on the thread count.
"""
include "_jit.pxi"
include "_rng.pxi"
include "_batchnorm.pxi"


cdef void _add_bias_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t d, floating* h,
                         const floating* bias) noexcept nogil:
    cdef Py_ssize_t r, j
    for r in range(r0, r1):
        for j in range(d):
            h[r * d + j] = h[r * d + j] + bias[j]


cdef void _relu_dropout(Py_ssize_t lo, Py_ssize_t hi, const floating* y, floating* out,
                        bint drop, uint64_t key, uint64_t thr, floating scale) noexcept nogil:
    """out = relu(y), then dropout_forward's operations on it (offset 0) when *drop*."""
    cdef Py_ssize_t i
    cdef floating v
    cdef uint64_t ctr
    if not drop:
        for i in range(lo, hi):
            v = y[i]
            out[i] = 0 if v <= 0 else v
        return
    ctr = key + <uint64_t>lo * GAMMA
    for i in range(lo, hi):
        ctr = ctr + GAMMA
        v = y[i]
        v = kept_or_zero(v, not (v <= 0))  # relu as a bit mask: the sign is random
        v = v * scale
        out[i] = kept_or_zero(v, (mix64_(ctr) >> SHIFT) >= thr)


cdef void _update_running(Py_ssize_t d, const double* mean, const double* var,
                          double* running_mean, double* running_var, double momentum,
                          double var_factor) noexcept nogil:
    """running = momentum·running + (1 − momentum)·batch, NumPy's operations in order."""
    cdef double keep = 1.0 - momentum
    cdef Py_ssize_t j
    for j in range(d):
        running_mean[j] = running_mean[j] * momentum
        running_mean[j] = running_mean[j] + keep * mean[j]
        running_var[j] = running_var[j] * momentum
        running_var[j] = running_var[j] + keep * (var[j] * var_factor)


cdef void _masked_grad(Py_ssize_t lo, Py_ssize_t hi, const floating* dout, const floating* out,
                       floating* d, floating scale) noexcept nogil:
    """d = dout·scale where the forward's output is nonzero, else 0 (ReLU and
    dropout backward in one: out ≠ 0 exactly where both passed the element)."""
    cdef Py_ssize_t i
    cdef floating v
    for i in range(lo, hi):
        v = dout[i] * scale
        d[i] = 0 if out[i] == 0 else v


cdef void _column_sums(Py_ssize_t n, Py_ssize_t d, const floating* a,
                       floating* out) noexcept nogil:
    """out = a.sum(axis=0), adding the rows in order (as NumPy does for axis 0)."""
    cdef Py_ssize_t r, j
    if n == 0:
        for j in range(d):
            out[j] = 0
        return
    for j in range(d):
        out[j] = a[j]
    for r in range(1, n):
        for j in range(d):
            out[j] = out[j] + a[r * d + j]


def bias_bn_relu_dropout_forward(floating[:, ::1] h, const floating[::1] bias,
                                 const floating[::1] gamma, const floating[::1] beta,
                                 floating[:, ::1] y, floating[:, ::1] out, floating[:, ::1] xhat,
                                 double[::1] mean, double[::1] var, double[::1] inv_std,
                                 double eps, double[::1] running_mean, double[::1] running_var,
                                 double momentum, double var_factor, double[::1] work, bint drop,
                                 uint64_t seed, uint64_t stream, uint64_t threshold,
                                 floating scale):
    """Training forward of a hidden layer after its matrix product ``h = x·W``.

    ``h += bias`` (in place); batch norm of h into ``y`` (with ``xhat``,
    ``mean``, ``var``, ``inv_std`` as ``batchnorm_forward_train``); the float64
    running statistics ``running ← momentum·running + (1 − momentum)·batch``
    (batch variance times ``var_factor``); ``out = relu(y)``, then, when
    ``drop``, ``dropout_forward`` of ``out`` in place (offset 0).

    Parameters
    ----------
    h, y, out, xhat : ndarray, shape (N, D)
        C-contiguous, one float dtype.
    bias, gamma, beta : ndarray, shape (D,)
        Of that dtype.
    mean, var, inv_std, running_mean, running_var : ndarray, float64, shape (D,)
    eps, momentum, var_factor : float
    work : ndarray, float64
        Scratch of ``batchnorm_work_size(N, D)`` elements.
    drop : bool
    seed, stream, threshold : int or numpy.uint64
    scale : float
        In the buffers' dtype.
    """
    cdef Py_ssize_t n = h.shape[0], d = h.shape[1], b, r0, r1, r
    work = _work(work, batchnorm_work_size(n, d))
    cdef double* part = &work[0]
    cdef uint64_t key = stream_key_(seed, stream)
    cdef bint parallel = _parallel(n, n * d)
    cdef floating* hp = &h[0, 0]
    with nogil:
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _add_bias_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), d, hp, &bias[0])
                _welford_block(b, hp, n, d, part)
        else:
            for b in range(_nblocks(n)):
                _add_bias_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), d, hp, &bias[0])
                _welford_block(b, hp, n, d, part)
        _merge_blocks(n, d, part, &mean[0], &var[0])
        _finish(n, d, &var[0], &inv_std[0], eps)
        _update_running(d, &mean[0], &var[0], &running_mean[0], &running_var[0], momentum,
                        var_factor)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                r0 = b * ROW_BLOCK
                r1 = min(n, r0 + ROW_BLOCK)
                _normalise_rows(r0, r1, d, hp, &gamma[0], &beta[0], &y[0, 0], &xhat[0, 0],
                                &mean[0], &inv_std[0])
                _relu_dropout(r0 * d, r1 * d, &y[0, 0], &out[0, 0], drop, key, threshold, scale)
        else:
            for r in range(n):  # each row finished while in cache
                _normalise_rows(r, r + 1, d, hp, &gamma[0], &beta[0], &y[0, 0], &xhat[0, 0],
                                &mean[0], &inv_std[0])
                _relu_dropout(r * d, (r + 1) * d, &y[0, 0], &out[0, 0], drop, key, threshold,
                              scale)


def bias_bn_relu_dropout_backward(const floating[:, ::1] dout, const floating[:, ::1] out,
                                  const floating[:, ::1] xhat, const floating[::1] gamma,
                                  const double[::1] inv_std, floating scale, floating[:, ::1] d,
                                  floating[:, ::1] dx, floating[::1] dgamma, floating[::1] dbeta,
                                  floating[::1] dbias, double[::1] work):
    """Backward of the same layer down to its matrix product.

    ``d = dout·scale`` where the forward's ``out`` is nonzero, else 0; batch-norm
    backward of d into ``dx``, ``dgamma``, ``dbeta`` (as ``batchnorm_backward``);
    ``dbias = dx.sum(axis=0)``.

    Parameters
    ----------
    dout, out, xhat, d, dx : ndarray, shape (N, D)
        One float dtype; ``d`` is scratch, ``dx`` is written.
    gamma, dgamma, dbeta, dbias : ndarray, shape (D,)
    inv_std : ndarray, float64, shape (D,)
    scale : float
        The dropout scale in the buffers' dtype (1 without dropout).
    work : ndarray, float64
        Scratch of ``batchnorm_work_size(N, D)`` elements.
    """
    cdef Py_ssize_t n = dout.shape[0], k = dout.shape[1], b, r0, r1
    work = _work(work, batchnorm_work_size(n, k))
    cdef double* part = &work[0]
    cdef double* coef = part + 2 * _nblocks(n) * k
    cdef bint parallel = _parallel(n, n * k)
    with nogil:
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                r0 = b * ROW_BLOCK
                r1 = min(n, r0 + ROW_BLOCK)
                _masked_grad(r0 * k, r1 * k, &dout[0, 0], &out[0, 0], &d[0, 0], scale)
                _sums_block(b, &d[0, 0], &xhat[0, 0], n, k, part)
        else:
            for b in range(_nblocks(n)):
                r0 = b * ROW_BLOCK
                r1 = min(n, r0 + ROW_BLOCK)
                _masked_grad(r0 * k, r1 * k, &dout[0, 0], &out[0, 0], &d[0, 0], scale)
                _sums_block(b, &d[0, 0], &xhat[0, 0], n, k, part)
        _add_blocks(n, k, part, coef, coef + k)
        _grad_coefs(n, k, &gamma[0], &inv_std[0], &dgamma[0], &dbeta[0], coef)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _dx_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), k, &d[0, 0], &xhat[0, 0],
                         &dx[0, 0], coef)
        else:
            _dx_rows(0, n, k, &d[0, 0], &xhat[0, 0], &dx[0, 0], coef)
        _column_sums(n, k, &dx[0, 0], &dbias[0])
