"""NumPy twins of the softmax/cross-entropy kernels (see ``fastopt.kernels.softmax``).

The book's ``softmax`` and ``cross_entropy_error`` are split around the two
transcendental steps, which stay NumPy's on every backend (``np.exp``,
``np.log`` and the row sums' pairwise order are NumPy's own), so the loss
equals the book's to the bit:

1. ``softmax_shift(x, out)``: ``out = x − max(x, row)``;
2. NumPy: ``np.exp(out, out=out)``, ``sums = np.add.reduce(out, axis=1)``;
3. ``softmax_pick(e, sums, t, y, picks)``: ``y = e / sums`` per row and
   ``picks[n] = y[n, t[n]] + 1e-7``; returns how many labels lie outside
   ``[0, C)`` (then it writes nothing);
4. NumPy: ``loss = −Σ log(picks) / N``;
5. ``softmax_xent_backward(y, t, dx)``: ``dx = (y − onehot(t)) / N``.
"""
import numpy as np

from ._types import FloatArray, IntArray


def softmax_shift(x: FloatArray, out: FloatArray) -> None:
    """out = x − (row maximum of x); a row holding NaN becomes NaN."""
    np.subtract(x, np.max(x, axis=1, keepdims=True), out=out)


def softmax_pick(e: FloatArray, sums: FloatArray, t: IntArray, y: FloatArray,
                 picks: FloatArray) -> int:
    """y = e / sums[:, None]; picks = y[n, t[n]] + 1e-7. Returns the count of bad labels."""
    c = e.shape[1]
    bad = int(np.count_nonzero((t < 0) | (t >= c)))
    if bad:
        return bad
    np.divide(e, sums[:, None], out=y)
    np.add(y[np.arange(y.shape[0]), t], e.dtype.type(1e-7), out=picks)
    return 0


def softmax_xent_backward(y: FloatArray, t: IntArray, dx: FloatArray) -> None:
    """dx = (y − onehot(t)) / N, as the book: y.copy(); dx[n, t[n]] −= 1; dx / N."""
    n = y.shape[0]
    np.copyto(dx, y)
    dx[np.arange(n), t] -= 1
    np.divide(dx, n, out=dx)
