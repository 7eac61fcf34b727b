"""One whole training step of the book's network (issue 3's figure).

784 -> 100 x 5 -> 10 with BatchNorm + ReLU + Dropout(0.2) per hidden layer,
softmax cross-entropy, Adam, batch 100, float32: forward, backward into the
flat gradient buffer, one fused optimizer call. Timed for each fastopt backend
and for the same network in PyTorch eager mode (when torch is installed).
Compare at one thread (``NUMBA_NUM_THREADS=1``; torch is set to one thread).
"""
import numpy as np

import fastopt
from fastopt import book

BATCH, HIDDEN, DROPOUT = 100, [100] * 5, 0.2


def _batch():
    rng = np.random.default_rng(0)
    return rng.random((BATCH, 784), dtype=np.float32), rng.integers(0, 10, BATCH)


class TrainStep:
    params = [["numba", "numpy"]]
    param_names = ["backend"]

    def setup(self, backend):
        if backend not in fastopt.available_backends():
            raise NotImplementedError(f"backend {backend!r} is not available here")
        self._previous = fastopt.get_backend()
        fastopt.set_backend(backend)
        self.x, self.t = _batch()
        self.net = book.MultiLayerNetExtend(784, HIDDEN, 10, use_batchnorm=True, use_dropout=True,
                                            dropout_ration=DROPOUT, seed=0, dtype=np.float32,
                                            dropout_seed=0)
        self.opt = fastopt.optim.Adam(self.net.params, lr=1e-3)
        self.time_step(backend)  # compile / warm up

    def teardown(self, backend):
        fastopt.set_backend(self._previous)

    def time_step(self, backend):
        self.net.gradient(self.x, self.t)
        self.opt.step()


class TorchTrainStep:
    """The same network and step in PyTorch eager mode (1 thread), for the ratio."""

    def setup(self):
        try:
            import torch
        except ImportError:
            raise NotImplementedError("torch is not installed") from None
        torch.set_num_threads(1)
        layers, sizes = [], [784] + HIDDEN
        for a, b in zip(sizes, sizes[1:]):
            layers += [torch.nn.Linear(a, b), torch.nn.BatchNorm1d(b), torch.nn.ReLU(),
                       torch.nn.Dropout(DROPOUT)]
        self.net = torch.nn.Sequential(*layers, torch.nn.Linear(100, 10))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        x, t = _batch()
        self.x, self.t = torch.from_numpy(x), torch.from_numpy(t)
        self.loss = torch.nn.CrossEntropyLoss()
        self.time_step()

    def time_step(self):
        self.opt.zero_grad()
        self.loss(self.net(self.x), self.t).backward()
        self.opt.step()
