"""NumPy twin of the blocked sum of squares (see ``fastopt.kernels.reduce``).

The sum is defined by its blocking, not by NumPy's pairwise summation, so every
backend and thread count gives the same float64 result:
elements are squared in float64; element ``j`` of block ``b`` (``BLOCK``
elements each) goes to lane ``j % LANES``; lanes accumulate in index order;
a block's total is its lanes added left to right; the blocks' totals are added
in block order.
"""
import numpy as np

from ._types import FloatArray

BLOCK = 4096
LANES = 8


def sumsq(x: FloatArray) -> float:
    """Blocked float64 sum of squares of a 1-D array (see module docstring)."""
    n = x.shape[0]
    if n == 0:
        return 0.0
    nblocks = -(-n // BLOCK)
    sq = np.zeros(nblocks * BLOCK)
    np.square(x, out=sq[:n], dtype=np.float64)
    sq = sq.reshape(nblocks, BLOCK // LANES, LANES)
    lanes = np.zeros((nblocks, LANES))
    for row in range(BLOCK // LANES):
        lanes += sq[:, row, :]
    totals = lanes[:, 0].copy()
    for lane in range(1, LANES):
        totals += lanes[:, lane]
    return float(np.cumsum(totals)[-1])
