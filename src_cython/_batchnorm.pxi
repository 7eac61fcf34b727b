# Batch-norm building blocks shared by ``batchnorm.pyx`` and ``fused.pyx``
# (``include "_batchnorm.pxi"`` after ``_jit.pxi``). The operations and their
# order are those of ``fastopt.reference.batchnorm`` / ``fastopt.kernels.batchnorm``.
import numpy as np

from fastopt.reference.batchnorm import batchnorm_channel_work_size, batchnorm_work_size, scratch

ctypedef fused real_p:  # gamma, beta, dgamma, dbeta
    float
    double

ctypedef fused real_r:  # running_mean, running_var
    float
    double

cdef enum:
    ROW_BLOCK = 32  # rows per statistics block (part of the definition of the results)

# The float32 rows of the (N, D) kernels on AVX-512: GCC vectorises their float32 <->
# float64 arithmetic 16 floats at a time, splitting and joining vectors with a lane
# shuffle per conversion (vextractf32x8 / vinsertf64x4, the hottest instructions of the
# forward under perf); these helpers convert 8 at a time straight from and to memory, as
# Numba's LLVM does, then 4, and return how many elements they did: the caller's own
# loop does the last 0-3. (A masked partial vector instead cost 10 % of a 128x100
# forward + backward on Zen 4, whose masked stores are slow.) The same operations in the
# same order as the loops they stand for, so the bits do not change.
cdef extern from *:
    """
    #if defined(__AVX512F__) && defined(__AVX512VL__)
    #include <immintrin.h>
    #define FO_BN_ROWS_AVX512 1
    static inline __m512d fo_load_f32_512(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
    static inline __m256d fo_load_f32_256(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
    static inline void fo_store_f32_512(float* p, __m512d v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
    static inline void fo_store_f32_256(float* p, __m256d v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
    #define fo_load_f64_512 _mm512_loadu_pd
    #define fo_load_f64_256 _mm256_loadu_pd
    #define fo_store_f64_512 _mm512_storeu_pd
    #define fo_store_f64_256 _mm256_storeu_pd
    /* A row function's step(W, j), written once for W = 512 and 256 bits: its vectors
       are __m<W>d, its operations _mm<W>_*_pd. */
    #define FO_ROW_LOOP(step)                                            \
        Py_ssize_t j = 0;                                                \
        for (; j + 8 <= d; j += 8) { step(512, j) }                      \
        if (j + 4 <= d) { step(256, j) j += 4; }                         \
        return j;
    /* Operand p of column j of an (N, D) row, or with cols == 0 the one value p0 of a whole
       row (an (N, C, L) kernel's channel), read into a local before the loop: read from p
       inside it, it would be reloaded after every store (the output may alias it). The
       callers pass cols as a constant, which folds. */
    #define FO_COL_F64(W, p, j) (cols ? fo_load_f64_##W((p) + (j)) : _mm##W##_set1_pd(p##0))
    #define FO_COL_F32(W, p, j) (cols ? fo_load_f32_##W((p) + (j)) : _mm##W##_set1_pd(p##0))
    #define FO_ROW_VALUE(p) const double p##0 = cols ? 0.0 : (double)*(p)

    /* Welford: delta = v - m; m = m + delta*w; q = q + delta*(v - m) */
    static inline Py_ssize_t fo_welford_row(const float* xr, double* pm, double* pq,
                                            Py_ssize_t d, double w) {
        #define STEP(W, j) {                                                              \
            __m##W##d v = fo_load_f32_##W(xr + j), m = fo_load_f64_##W(pm + j);           \
            __m##W##d delta = _mm##W##_sub_pd(v, m);                                      \
            m = _mm##W##_add_pd(m, _mm##W##_mul_pd(delta, _mm##W##_set1_pd(w)));          \
            fo_store_f64_##W(pm + j, m);                                                  \
            fo_store_f64_##W(pq + j, _mm##W##_add_pd(fo_load_f64_##W(pq + j),            \
                             _mm##W##_mul_pd(delta, _mm##W##_sub_pd(v, m)))); }
        FO_ROW_LOOP(STEP)
        #undef STEP
    }
    /* xh = (x - mean)*inv_std; xhat = xh; out = gamma*xh + beta */
    static inline Py_ssize_t fo_normalise_row(const float* xr, const float* gamma,
                                              const float* beta, float* outr, float* hr,
                                              const double* mean, const double* inv_std,
                                              Py_ssize_t d, int cols) {
        FO_ROW_VALUE(gamma); FO_ROW_VALUE(beta); FO_ROW_VALUE(mean); FO_ROW_VALUE(inv_std);
        #define STEP(W, j) {                                                              \
            __m##W##d xh = _mm##W##_mul_pd(_mm##W##_sub_pd(fo_load_f32_##W(xr + j),      \
                                                           FO_COL_F64(W, mean, j)),      \
                                           FO_COL_F64(W, inv_std, j));                    \
            fo_store_f32_##W(hr + j, xh);                                                 \
            fo_store_f32_##W(outr + j, _mm##W##_add_pd(                                   \
                _mm##W##_mul_pd(FO_COL_F32(W, gamma, j), xh), FO_COL_F32(W, beta, j))); }
        FO_ROW_LOOP(STEP)
        #undef STEP
    }
    /* xh = (x - running_mean)*inv; out = gamma*xh + beta (running_mean float32 too) */
    static inline Py_ssize_t fo_eval_row(const float* xr, const float* gamma, const float* beta,
                                         float* outr, const float* running_mean,
                                         const double* inv, Py_ssize_t d, int cols) {
        FO_ROW_VALUE(gamma); FO_ROW_VALUE(beta); FO_ROW_VALUE(running_mean); FO_ROW_VALUE(inv);
        #define STEP(W, j) {                                                              \
            __m##W##d xh = _mm##W##_mul_pd(_mm##W##_sub_pd(fo_load_f32_##W(xr + j),      \
                                                           FO_COL_F32(W, running_mean, j)), \
                                           FO_COL_F64(W, inv, j));                        \
            fo_store_f32_##W(outr + j, _mm##W##_add_pd(                                   \
                _mm##W##_mul_pd(FO_COL_F32(W, gamma, j), xh), FO_COL_F32(W, beta, j))); }
        FO_ROW_LOOP(STEP)
        #undef STEP
    }
    /* sb = sb + g; sg = sg + g*h */
    static inline Py_ssize_t fo_sums_row(const float* dr, const float* hr, double* sb,
                                         double* sg, Py_ssize_t d) {
        #define STEP(W, j) {                                                              \
            __m##W##d g = fo_load_f32_##W(dr + j);                                        \
            fo_store_f64_##W(sb + j, _mm##W##_add_pd(fo_load_f64_##W(sb + j), g));        \
            fo_store_f64_##W(sg + j, _mm##W##_add_pd(fo_load_f64_##W(sg + j),            \
                             _mm##W##_mul_pd(g, fo_load_f32_##W(hr + j)))); }
        FO_ROW_LOOP(STEP)
        #undef STEP
    }
    /* dx = k*((dout - mb) - xhat*mg) */
    static inline Py_ssize_t fo_dx_row(const float* dr, const float* hr, float* dxr,
                                       const double* mb, const double* mg, const double* kk,
                                       Py_ssize_t d, int cols) {
        FO_ROW_VALUE(mb); FO_ROW_VALUE(mg); FO_ROW_VALUE(kk);
        #define STEP(W, j) {                                                              \
            __m##W##d t = _mm##W##_sub_pd(                                                \
                _mm##W##_sub_pd(fo_load_f32_##W(dr + j), FO_COL_F64(W, mb, j)),           \
                _mm##W##_mul_pd(fo_load_f32_##W(hr + j), FO_COL_F64(W, mg, j)));          \
            fo_store_f32_##W(dxr + j, _mm##W##_mul_pd(FO_COL_F64(W, kk, j), t)); }
        FO_ROW_LOOP(STEP)
        #undef STEP
    }
    #else
    /* no AVX-512: the callers' own loops do every element */
    #define FO_BN_ROWS_AVX512 0
    #define fo_welford_row(xr, pm, pq, d, w) ((Py_ssize_t)0)
    #define fo_normalise_row(xr, gamma, beta, outr, hr, mean, inv_std, d, cols) ((Py_ssize_t)0)
    #define fo_eval_row(xr, gamma, beta, outr, running_mean, inv, d, cols) ((Py_ssize_t)0)
    #define fo_sums_row(dr, hr, sb, sg, d) ((Py_ssize_t)0)
    #define fo_dx_row(dr, hr, dxr, mb, mg, kk, d, cols) ((Py_ssize_t)0)
    #endif
    """
    const bint BN_ROWS_AVX512 "FO_BN_ROWS_AVX512"
    Py_ssize_t fo_welford_row(const float* xr, double* pm, double* pq, Py_ssize_t d,
                              double w) noexcept nogil
    Py_ssize_t fo_normalise_row(const float* xr, const float* gamma, const float* beta,
                                float* outr, float* hr, const double* mean,
                                const double* inv_std, Py_ssize_t d, int cols) noexcept nogil
    Py_ssize_t fo_sums_row(const float* dr, const float* hr, double* sb, double* sg,
                           Py_ssize_t d) noexcept nogil
    Py_ssize_t fo_eval_row(const float* xr, const float* gamma, const float* beta, float* outr,
                           const float* running_mean, const double* inv, Py_ssize_t d,
                           int cols) noexcept nogil
    Py_ssize_t fo_dx_row(const float* dr, const float* hr, float* dxr, const double* mb,
                         const double* mg, const double* k, Py_ssize_t d,
                         int cols) noexcept nogil

#: Elements (N·D or N·C·L) from which the kernels run multi-threaded (when
#: there are at least two row blocks): the optimizer kernels' threshold (``HEAVY``,
#: from ``_jit.pxi``, which every module including this one includes first).
PARALLEL_ELEMENTS = HEAVY
cdef Py_ssize_t PAR_ELEMENTS = PARALLEL_ELEMENTS


cdef inline Py_ssize_t _nblocks(Py_ssize_t n) noexcept nogil:
    return (n + ROW_BLOCK - 1) // ROW_BLOCK


cdef inline bint _parallel(Py_ssize_t n, Py_ssize_t size) noexcept nogil:
    return size >= PAR_ELEMENTS and n > ROW_BLOCK and fastopt_max_threads() > 1


# ------------------------------------------------------------ building blocks
# ``part`` holds, per row block b, the rows [2b*d, 2b*d + d) and [(2b+1)*d, ...):
# (mean, M2) in the forward, (Σdout, Σdout·xhat) in the backward.


cdef void _welford_block(Py_ssize_t b, const floating* x, Py_ssize_t n, Py_ssize_t d,
                         double* part) noexcept nogil:
    """Welford over the rows of block b, from zero, into part[b] = (mean, M2)."""
    cdef Py_ssize_t r0 = b * ROW_BLOCK
    cdef Py_ssize_t r1 = min(n, r0 + ROW_BLOCK)
    cdef double* pm = part + 2 * b * d
    cdef double* pq = pm + d
    cdef const floating* xr
    cdef Py_ssize_t r, j, j0
    cdef double w, v, m, delta
    for j in range(d):
        pm[j] = 0.0
        pq[j] = 0.0
    for r in range(r0, r1):
        w = 1.0 / <double>(r - r0 + 1)
        xr = x + r * d
        j0 = 0
        if floating is float and BN_ROWS_AVX512:
            j0 = fo_welford_row(xr, pm, pq, d, w)
        for j in range(j0, d):
            v = <double>xr[j]
            m = pm[j]
            delta = v - m
            m = m + delta * w
            pm[j] = m
            pq[j] = pq[j] + delta * (v - m)


cdef void _merge_blocks(Py_ssize_t n, Py_ssize_t d, const double* part, double* mean,
                        double* m2) noexcept nogil:
    """Chan's merge of the blocks' (mean, M2), in block order, from zero."""
    cdef Py_ssize_t b, j, cnt, tot, na = 0
    cdef double w, f, delta
    cdef const double* pm
    cdef const double* pq
    for j in range(d):
        mean[j] = 0.0
        m2[j] = 0.0
    for b in range(_nblocks(n)):
        cnt = min(n - b * ROW_BLOCK, ROW_BLOCK)
        tot = na + cnt
        w = <double>cnt / <double>tot
        f = <double>(na * cnt) / <double>tot
        pm = part + 2 * b * d
        pq = pm + d
        for j in range(d):
            delta = pm[j] - mean[j]
            mean[j] = mean[j] + delta * w
            m2[j] = (m2[j] + pq[j]) + (delta * delta) * f
        na = tot


cdef inline void _merge_columns(Py_ssize_t n, Py_ssize_t c, Py_ssize_t length, const double* colmean,
                         const double* colm2, double* mean, double* m2) noexcept nogil:
    """Per channel, Chan's merge of its L columns (N values each) in column order."""
    cdef Py_ssize_t i, ch, k
    cdef double w, f, delta
    for ch in range(c):
        mean[ch] = 0.0
        m2[ch] = 0.0
    for i in range(length):
        w = 1.0 / <double>(i + 1)
        f = <double>(i * n) / <double>(i + 1)
        for ch in range(c):
            k = ch * length + i
            delta = colmean[k] - mean[ch]
            mean[ch] = mean[ch] + delta * w
            m2[ch] = (m2[ch] + colm2[k]) + (delta * delta) * f


cdef void _finish(Py_ssize_t count, Py_ssize_t d, double* var, double* inv_std,
                  double eps) noexcept nogil:
    """var <- M2 / count;  inv_std = 1/sqrt(var + eps)."""
    cdef Py_ssize_t j
    cdef double v
    for j in range(d):
        v = var[j] / <double>count
        var[j] = v
        inv_std[j] = 1.0 / sqrt(v + eps)


cdef void _sums_block(Py_ssize_t b, const floating* dout, const floating* xhat, Py_ssize_t n,
                      Py_ssize_t d, double* part) noexcept nogil:
    """Σdout and Σdout·xhat over the rows of block b, from zero, into part[b]."""
    cdef Py_ssize_t r0 = b * ROW_BLOCK
    cdef Py_ssize_t r1 = min(n, r0 + ROW_BLOCK)
    cdef double* sb = part + 2 * b * d
    cdef double* sg = sb + d
    cdef const floating* dr
    cdef const floating* hr
    cdef Py_ssize_t r, j, j0
    cdef double g
    for j in range(d):
        sb[j] = 0.0
        sg[j] = 0.0
    for r in range(r0, r1):
        dr = dout + r * d
        hr = xhat + r * d
        j0 = 0
        if floating is float and BN_ROWS_AVX512:
            j0 = fo_sums_row(dr, hr, sb, sg, d)
        for j in range(j0, d):
            g = <double>dr[j]
            sb[j] = sb[j] + g
            sg[j] = sg[j] + g * <double>hr[j]


cdef void _add_blocks(Py_ssize_t n, Py_ssize_t d, const double* part, double* sb,
                      double* sg) noexcept nogil:
    """Add the blocks' sums in block order, from zero."""
    cdef Py_ssize_t b, j
    cdef const double* pb
    cdef const double* pg
    for j in range(d):
        sb[j] = 0.0
        sg[j] = 0.0
    for b in range(_nblocks(n)):
        pb = part + 2 * b * d
        pg = pb + d
        for j in range(d):
            sb[j] = sb[j] + pb[j]
            sg[j] = sg[j] + pg[j]


cdef void _grad_coefs(Py_ssize_t count, Py_ssize_t d, const real_p* gamma,
                      const double* inv_std, real_p* dgamma, real_p* dbeta,
                      double* coef) noexcept nogil:
    """coef = (Σdout, Σdout·xhat) on entry; writes dbeta, dgamma, then
    coef = (Σdout/count, Σdout·xhat/count, gamma·inv_std)."""
    cdef double* sb = coef
    cdef double* sg = coef + d
    cdef double* k = coef + 2 * d
    cdef Py_ssize_t j
    for j in range(d):
        dbeta[j] = <real_p>sb[j]
        dgamma[j] = <real_p>sg[j]
        sb[j] = sb[j] / <double>count
        sg[j] = sg[j] / <double>count
        k[j] = <double>gamma[j] * inv_std[j]


cdef void _eval_inv(Py_ssize_t d, const real_r* running_var, double eps,
                    double* inv) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(d):
        inv[j] = 1.0 / sqrt(<double>running_var[j] + eps)


# ---------------------------------------------------------------- row kernels (N, D)


cdef void _normalise_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t d, const floating* x,
                          const real_p* gamma, const real_p* beta, floating* out,
                          floating* xhat, const double* mean,
                          const double* inv_std) noexcept nogil:
    cdef Py_ssize_t r, j, j0
    cdef double xh
    for r in range(r0, r1):
        j0 = 0
        if floating is float and real_p is float and BN_ROWS_AVX512:
            j0 = fo_normalise_row(x + r * d, gamma, beta, out + r * d, xhat + r * d, mean,
                                  inv_std, d, 1)
        for j in range(j0, d):
            xh = (<double>x[r * d + j] - mean[j]) * inv_std[j]
            xhat[r * d + j] = <floating>xh
            out[r * d + j] = <floating>(<double>gamma[j] * xh + <double>beta[j])


cdef void _eval_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t d, const floating* x,
                     const real_p* gamma, const real_p* beta, floating* out,
                     const real_r* running_mean, const double* inv) noexcept nogil:
    cdef Py_ssize_t r, j, j0
    cdef double xh
    for r in range(r0, r1):
        j0 = 0
        if floating is float and real_p is float and real_r is float and BN_ROWS_AVX512:
            j0 = fo_eval_row(x + r * d, gamma, beta, out + r * d, running_mean, inv, d, 1)
        for j in range(j0, d):
            xh = (<double>x[r * d + j] - <double>running_mean[j]) * inv[j]
            out[r * d + j] = <floating>(<double>gamma[j] * xh + <double>beta[j])


cdef void _dx_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t d, const floating* dout,
                   const floating* xhat, floating* dx, const double* coef) noexcept nogil:
    cdef const double* mb = coef
    cdef const double* mg = coef + d
    cdef const double* k = coef + 2 * d
    cdef Py_ssize_t r, j, j0
    for r in range(r0, r1):
        j0 = 0
        if floating is float and BN_ROWS_AVX512:
            j0 = fo_dx_row(dout + r * d, xhat + r * d, dx + r * d, mb, mg, k, d, 1)
        for j in range(j0, d):
            dx[r * d + j] = <floating>(
                k[j] * ((<double>dout[r * d + j] - mb[j]) - <double>xhat[r * d + j] * mg[j]))


# ---------------------------------------------------------------- row kernels (N, C, L)


cdef void _channel_normalise_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c,
                                  Py_ssize_t length, const floating* x, const real_p* gamma,
                                  const real_p* beta, floating* out, floating* xhat,
                                  const double* mean, const double* inv_std) noexcept nogil:
    cdef Py_ssize_t r, ch, i, i0, base
    cdef double m, s, g, bb, xh
    for r in range(r0, r1):
        for ch in range(c):
            m = mean[ch]
            s = inv_std[ch]
            g = <double>gamma[ch]
            bb = <double>beta[ch]
            base = (r * c + ch) * length
            i0 = 0
            if floating is float and real_p is float and BN_ROWS_AVX512:
                i0 = fo_normalise_row(x + base, gamma + ch, beta + ch, out + base, xhat + base,
                                      mean + ch, inv_std + ch, length, 0)
            for i in range(i0, length):
                xh = (<double>x[base + i] - m) * s
                xhat[base + i] = <floating>xh
                out[base + i] = <floating>(g * xh + bb)


cdef void _channel_eval_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c, Py_ssize_t length,
                             const floating* x, const real_p* gamma, const real_p* beta,
                             floating* out, const real_r* running_mean,
                             const double* inv) noexcept nogil:
    cdef Py_ssize_t r, ch, i, i0, base
    cdef double m, s, g, bb, xh
    for r in range(r0, r1):
        for ch in range(c):
            m = <double>running_mean[ch]
            s = inv[ch]
            g = <double>gamma[ch]
            bb = <double>beta[ch]
            base = (r * c + ch) * length
            i0 = 0
            if floating is float and real_p is float and real_r is float and BN_ROWS_AVX512:
                i0 = fo_eval_row(x + base, gamma + ch, beta + ch, out + base, running_mean + ch,
                                 inv + ch, length, 0)
            for i in range(i0, length):
                xh = (<double>x[base + i] - m) * s
                out[base + i] = <floating>(g * xh + bb)


cdef void _channel_dx_rows(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t c, Py_ssize_t length,
                           const floating* dout, const floating* xhat, floating* dx,
                           const double* coef) noexcept nogil:
    cdef Py_ssize_t r, ch, i, i0, base
    cdef double mb, mg, k
    for r in range(r0, r1):
        for ch in range(c):
            mb = coef[ch]
            mg = coef[c + ch]
            k = coef[2 * c + ch]
            base = (r * c + ch) * length
            i0 = 0
            if floating is float and BN_ROWS_AVX512:
                i0 = fo_dx_row(dout + base, xhat + base, dx + base, coef + ch, coef + c + ch,
                               coef + 2 * c + ch, length, 0)
            for i in range(i0, length):
                dx[base + i] = <floating>(
                    k * ((<double>dout[base + i] - mb) - <double>xhat[base + i] * mg))


# ---------------------------------------------------------------- drivers


cdef void _stats_pass(const floating* x, Py_ssize_t n, Py_ssize_t d, double* part,
                      bint parallel) noexcept nogil:
    cdef Py_ssize_t b
    if parallel:
        for b in prange(_nblocks(n), schedule="static"):
            _welford_block(b, x, n, d, part)
    else:
        for b in range(_nblocks(n)):
            _welford_block(b, x, n, d, part)


cdef void _sums_pass(const floating* dout, const floating* xhat, Py_ssize_t n, Py_ssize_t d,
                     double* part, bint parallel) noexcept nogil:
    cdef Py_ssize_t b
    if parallel:
        for b in prange(_nblocks(n), schedule="static"):
            _sums_block(b, dout, xhat, n, d, part)
    else:
        for b in range(_nblocks(n)):
            _sums_block(b, dout, xhat, n, d, part)


cdef inline double[::1] _work(double[::1] work, Py_ssize_t size):
    if work is not None and work.shape[0] >= size:
        return work  # the common case, without turning the view into a Python object
    return scratch(work, size)  # None: a new one; too short raises (no bounds checks below)


