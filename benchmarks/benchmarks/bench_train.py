"""One whole training step of the book's network (issue 3's figure).

784 -> 100 x 5 -> 10 with BatchNorm + ReLU + Dropout(0.2) per hidden layer,
softmax cross-entropy, Adam, batch 100, float32 (the ``train-step`` case of
``fastopt.bench.cases``), parametrised over ``impl``:

``numba``, ``cython``, ``numpy``
    fastopt's ``book.MultiLayerNetExtend.gradient`` into the flat gradient
    buffer + one fused ``optim.Adam.step()``, with that backend;
``book-numpy``
    the book's own NumPy code (``fastopt.bench.book_numpy``), float32;
``torch``, ``torch-fused``
    the same network in PyTorch eager mode, ``torch.optim.Adam`` with the
    default (for-loop on CPU) or ``fused=True``.

PyTorch and the BLAS get fastopt's thread count (``NUMBA_NUM_THREADS``);
compare at one thread with ``NUMBA_NUM_THREADS=1 asv run ...``.
``peakmem_step`` tracks the process's peak memory around a step.
"""
from fastopt.bench import cases

from ._common import finish_case, start_case

CASE = cases.case_by_id("train-step")


class TrainStep:
    """Whole training step, per implementation (fastopt backends, book NumPy, torch eager)."""

    params = [cases.implementations(CASE)]
    param_names = ["impl"]
    timeout = 300

    def setup(self, impl):
        start_case(self, CASE, CASE.sizes[0], impl)

    def teardown(self, impl):
        finish_case(self)

    def time_step(self, impl):
        self.bench()

    def peakmem_step(self, impl):
        self.bench()
