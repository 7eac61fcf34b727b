"""Softmax/cross-entropy kernels (Numba). Twins and the recipe: ``fastopt.reference.softmax``.

Rows are short (one per sample, one column per class), so NumPy's reductions
over them cost more in per-row dispatch than in arithmetic (about 6 us for a
100 x 10 row maximum): these loops do the exact steps (maximum, subtract,
divide, gather, one-hot subtract) in one call each.
"""
import numpy as np

from ._jit import jit


@jit
def softmax_shift(x, out):
    """out = x − (row maximum of x); a row holding NaN becomes NaN."""
    n, c = x.shape
    for i in range(n):
        row = x[i]
        m = row[0]
        for j in range(1, c):
            v = row[j]
            if v > m or v != v:
                m = v
                if v != v:
                    break
        o = out[i]
        for j in range(c):
            o[j] = row[j] - m


@jit
def softmax_pick(e, sums, t, y, picks):
    """y = e / sums[:, None]; picks = y[n, t[n]] + 1e-7. Returns the count of bad labels."""
    n, c = e.shape
    bad = 0
    for i in range(n):
        if t[i] < 0 or t[i] >= c:
            bad += 1
    if bad:
        return bad
    tiny = e.dtype.type(1e-7)
    for i in range(n):
        s = sums[i]
        er = e[i]
        yr = y[i]
        for j in range(c):
            yr[j] = er[j] / s
        picks[i] = yr[t[i]] + tiny
    return 0


@jit
def softmax_xent_backward(y, t, dx):
    """dx = (y − onehot(t)) / N, as the book: y.copy(); dx[n, t[n]] −= 1; dx / N."""
    n, c = y.shape
    one = y.dtype.type(1)
    count = y.dtype.type(n)
    for i in range(n):
        yr = y[i]
        dr = dx[i]
        k = t[i]
        for j in range(c):
            v = yr[j]
            if j == k:
                v = v - one
            dr[j] = v / count
