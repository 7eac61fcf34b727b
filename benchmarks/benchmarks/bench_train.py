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

from ._common import match_threads

CASE = cases.case_by_id("train-step")


class TrainStep:
    """Whole training step, per implementation (fastopt backends, book NumPy, torch eager)."""

    params = [cases.implementations(CASE)]
    param_names = ["impl"]
    timeout = 300

    def setup(self, impl):
        self._restore = match_threads()
        try:
            self.bench = cases.build(CASE, CASE.sizes[0], impl)
        except cases.Unavailable as exc:
            self._restore()
            raise NotImplementedError(str(exc)) from None
        self._ctx = self.bench.active()
        self._ctx.__enter__()

    def teardown(self, impl):
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            ctx.__exit__(None, None, None)
        restore = getattr(self, "_restore", None)
        if restore is not None:
            restore()

    def time_step(self, impl):
        self.bench()

    def peakmem_step(self, impl):
        self.bench()
