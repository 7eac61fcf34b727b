# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Fused batch-normalisation kernels (Cython). Twins: ``fastopt.reference.batchnorm``
and ``fastopt.kernels.batchnorm``.

The numerics (float64 statistics; Welford per block of ``ROW_BLOCK`` rows, blocks
and columns merged by Chan's formula; the closed-form backward) are described in
the NumPy twin's docstring; the code below performs the same operations in the
same order, so the three backends agree bit for bit, at any thread count.

Rows are contiguous: every loop walks a row with one float64 accumulator per
column, so the inner loop vectorises. Threads own whole blocks of rows (as the
Numba kernels), from ``PARALLEL_ELEMENTS`` elements and at least two row blocks.

Dtypes: ``x``/``out``/``xhat`` (or ``dout``/``xhat``/``dx``) share one float
dtype; ``gamma``/``beta`` (and ``dgamma``/``dbeta``) may have another, the
running statistics a third; ``mean``, ``var``, ``inv_std`` and ``work`` are
float64. ``work`` (optional, last) is the float64 scratch of
``batchnorm_work_size`` / ``batchnorm_channel_work_size`` elements; without it
each call allocates one.
"""
include "_jit.pxi"
include "_batchnorm.pxi"


# ---------------------------------------------------------------- (N, D)


def batchnorm_forward_train(const floating[:, ::1] x, const real_p[::1] gamma,
                            const real_p[::1] beta, floating[:, ::1] out,
                            floating[:, ::1] xhat, double[::1] mean, double[::1] var,
                            double[::1] inv_std, double eps, double[::1] work=None):
    """Training forward over (N, D): per-column batch statistics,
    xhat = (x - mean)·inv_std, out = gamma·xhat + beta.

    Parameters
    ----------
    x, out, xhat : ndarray, shape (N, D)
        C-contiguous, one float dtype; ``out`` and ``xhat`` are written (either
        may be ``x``).
    gamma, beta : ndarray, shape (D,)
    mean, var, inv_std : ndarray, float64, shape (D,)
        Written: the batch mean, biased variance M2/N and 1/sqrt(var + eps).
    eps : float
    work : ndarray, float64, optional
        Scratch of ``batchnorm_work_size(N, D)`` elements.
    """
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], b
    cdef double* part
    cdef bint parallel = _parallel(n, n * d)
    work = _work(work, batchnorm_work_size(n, d))
    part = &work[0]
    with nogil:
        _stats_pass(&x[0, 0], n, d, part, parallel)
        _merge_blocks(n, d, part, &mean[0], &var[0])
        _finish(n, d, &var[0], &inv_std[0], eps)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _normalise_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), d, &x[0, 0],
                                &gamma[0], &beta[0], &out[0, 0], &xhat[0, 0], &mean[0],
                                &inv_std[0])
        else:
            _normalise_rows(0, n, d, &x[0, 0], &gamma[0], &beta[0], &out[0, 0], &xhat[0, 0],
                            &mean[0], &inv_std[0])


def batchnorm_forward_eval(const floating[:, ::1] x, const real_p[::1] gamma,
                           const real_p[::1] beta, floating[:, ::1] out,
                           const real_r[::1] running_mean, const real_r[::1] running_var,
                           double eps, double[::1] work=None):
    """Inference forward over (N, D):
    out = gamma·((x - running_mean)·(1/sqrt(running_var + eps))) + beta, in float64.

    Parameters
    ----------
    x, out : ndarray, shape (N, D)
        C-contiguous, one float dtype (``out`` may be ``x``).
    gamma, beta, running_mean, running_var : ndarray, shape (D,)
    eps : float
    work : ndarray, float64, optional
        Scratch of ``batchnorm_work_size(N, D)`` elements.
    """
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1], b
    cdef double* inv
    work = _work(work, batchnorm_work_size(n, d))
    inv = &work[0]
    with nogil:
        _eval_inv(d, &running_var[0], eps, inv)
        if _parallel(n, n * d):
            for b in prange(_nblocks(n), schedule="static"):
                _eval_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), d, &x[0, 0], &gamma[0],
                           &beta[0], &out[0, 0], &running_mean[0], inv)
        else:
            _eval_rows(0, n, d, &x[0, 0], &gamma[0], &beta[0], &out[0, 0], &running_mean[0],
                       inv)


def batchnorm_backward(const floating[:, ::1] dout, const floating[:, ::1] xhat,
                       const real_p[::1] gamma, const double[::1] inv_std, floating[:, ::1] dx,
                       real_p[::1] dgamma, real_p[::1] dbeta, double[::1] work=None):
    """Backward over (N, D): dbeta = Σdout, dgamma = Σdout·xhat (float64 sums,
    rounded once to their dtype), and
    dx = (gamma·inv_std)·((dout - Σdout/N) - xhat·(Σdout·xhat/N)).

    Parameters
    ----------
    dout, xhat, dx : ndarray, shape (N, D)
        One float dtype; ``dx`` is written (it may be ``dout``).
    gamma, dgamma, dbeta : ndarray, shape (D,)
        ``dgamma`` and ``dbeta`` are written.
    inv_std : ndarray, float64, shape (D,)
        As written by the training forward.
    work : ndarray, float64, optional
        Scratch of ``batchnorm_work_size(N, D)`` elements.
    """
    cdef Py_ssize_t n = dout.shape[0], d = dout.shape[1], b
    cdef double* part
    cdef double* coef
    cdef bint parallel = _parallel(n, n * d)
    work = _work(work, batchnorm_work_size(n, d))
    part = &work[0]
    coef = part + 2 * _nblocks(n) * d
    with nogil:
        _sums_pass(&dout[0, 0], &xhat[0, 0], n, d, part, parallel)
        _add_blocks(n, d, part, coef, coef + d)
        _grad_coefs(n, d, &gamma[0], &inv_std[0], &dgamma[0], &dbeta[0], coef)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _dx_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), d, &dout[0, 0],
                         &xhat[0, 0], &dx[0, 0], coef)
        else:
            _dx_rows(0, n, d, &dout[0, 0], &xhat[0, 0], &dx[0, 0], coef)


# ---------------------------------------------------------------- (N, C, L)


cdef double[::1] _channel_work(double[::1] work, Py_ssize_t n, Py_ssize_t c, Py_ssize_t length,
                               double** part, double** col):
    """The (N, C, L) kernels' scratch (a new one for None): *part* at its start, the
    blocks' partial sums (two per block and column), then *col*, the columns' totals
    (two per column)."""
    work = _work(work, batchnorm_channel_work_size(n, c, length))
    part[0] = &work[0]
    col[0] = part[0] + 2 * _nblocks(n) * c * length
    return work


def batchnorm_channel_forward_train(const floating[:, :, ::1] x, const real_p[::1] gamma,
                                    const real_p[::1] beta, floating[:, :, ::1] out,
                                    floating[:, :, ::1] xhat, double[::1] mean,
                                    double[::1] var, double[::1] inv_std, double eps,
                                    double[::1] work=None):
    """Training forward over (N, C, L), one statistic per channel (axes 0 and 2).

    Parameters
    ----------
    x, out, xhat : ndarray, shape (N, C, L)
        C-contiguous, one float dtype (pass a (N, C, H, W) array as
        ``x.reshape(N, C, -1)``).
    gamma, beta : ndarray, shape (C,)
    mean, var, inv_std : ndarray, float64, shape (C,)
        Written; var = M2/(N·L) (biased).
    eps : float
    work : ndarray, float64, optional
        Scratch of ``batchnorm_channel_work_size(N, C, L)`` elements.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], length = x.shape[2], b
    cdef Py_ssize_t cl = c * length
    cdef double* part
    cdef double* col
    cdef bint parallel = _parallel(n, n * cl)
    work = _channel_work(work, n, c, length, &part, &col)
    with nogil:
        _stats_pass(&x[0, 0, 0], n, cl, part, parallel)
        _merge_blocks(n, cl, part, col, col + cl)
        _merge_columns(n, c, length, col, col + cl, &mean[0], &var[0])
        _finish(n * length, c, &var[0], &inv_std[0], eps)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _channel_normalise_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), c, length,
                                        &x[0, 0, 0], &gamma[0], &beta[0], &out[0, 0, 0],
                                        &xhat[0, 0, 0], &mean[0], &inv_std[0])
        else:
            _channel_normalise_rows(0, n, c, length, &x[0, 0, 0], &gamma[0], &beta[0],
                                    &out[0, 0, 0], &xhat[0, 0, 0], &mean[0], &inv_std[0])


def batchnorm_channel_forward_eval(const floating[:, :, ::1] x, const real_p[::1] gamma,
                                   const real_p[::1] beta, floating[:, :, ::1] out,
                                   const real_r[::1] running_mean,
                                   const real_r[::1] running_var, double eps,
                                   double[::1] work=None):
    """Inference forward over (N, C, L) with per-channel running statistics.

    Parameters
    ----------
    x, out : ndarray, shape (N, C, L)
    gamma, beta, running_mean, running_var : ndarray, shape (C,)
    eps : float
    work : ndarray, float64, optional
        Scratch of ``batchnorm_channel_work_size(N, C, L)`` elements.
    """
    cdef Py_ssize_t n = x.shape[0], c = x.shape[1], length = x.shape[2], b
    cdef double* inv
    work = _work(work, batchnorm_channel_work_size(n, c, length))
    inv = &work[0]
    with nogil:
        _eval_inv(c, &running_var[0], eps, inv)
        if _parallel(n, n * c * length):
            for b in prange(_nblocks(n), schedule="static"):
                _channel_eval_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), c, length,
                                   &x[0, 0, 0], &gamma[0], &beta[0], &out[0, 0, 0],
                                   &running_mean[0], inv)
        else:
            _channel_eval_rows(0, n, c, length, &x[0, 0, 0], &gamma[0], &beta[0],
                               &out[0, 0, 0], &running_mean[0], inv)


def batchnorm_channel_backward(const floating[:, :, ::1] dout, const floating[:, :, ::1] xhat,
                               const real_p[::1] gamma, const double[::1] inv_std,
                               floating[:, :, ::1] dx, real_p[::1] dgamma, real_p[::1] dbeta,
                               double[::1] work=None):
    """Backward over (N, C, L): per-channel dbeta, dgamma (float64 sums) and dx,
    dx = (gamma·inv_std)·((dout - Σdout/(N·L)) - xhat·(Σdout·xhat/(N·L))).

    Parameters
    ----------
    dout, xhat, dx : ndarray, shape (N, C, L)
    gamma, dgamma, dbeta : ndarray, shape (C,)
    inv_std : ndarray, float64, shape (C,)
    work : ndarray, float64, optional
        Scratch of ``batchnorm_channel_work_size(N, C, L)`` elements.
    """
    cdef Py_ssize_t n = dout.shape[0], c = dout.shape[1], length = dout.shape[2], b, i, ch, k
    cdef Py_ssize_t cl = c * length
    cdef double* part
    cdef double* col
    cdef double* coef
    cdef bint parallel = _parallel(n, n * cl)
    work = _channel_work(work, n, c, length, &part, &col)
    coef = col + 2 * cl
    with nogil:
        _sums_pass(&dout[0, 0, 0], &xhat[0, 0, 0], n, cl, part, parallel)
        _add_blocks(n, cl, part, col, col + cl)
        for ch in range(c):
            coef[ch] = 0.0
            coef[c + ch] = 0.0
        for i in range(length):  # column-major: the channels' sums run side by side
            for ch in range(c):
                k = ch * length + i
                coef[ch] = coef[ch] + col[k]
                coef[c + ch] = coef[c + ch] + col[cl + k]
        _grad_coefs(n * length, c, &gamma[0], &inv_std[0], &dgamma[0], &dbeta[0], coef)
        if parallel:
            for b in prange(_nblocks(n), schedule="static"):
                _channel_dx_rows(b * ROW_BLOCK, min(n, (b + 1) * ROW_BLOCK), c, length,
                                 &dout[0, 0, 0], &xhat[0, 0, 0], &dx[0, 0, 0], coef)
        else:
            _channel_dx_rows(0, n, c, length, &dout[0, 0, 0], &xhat[0, 0, 0], &dx[0, 0, 0],
                             coef)
