"""Fused hidden layers: Affine → BatchNorm → ReLU [→ Dropout] as one training step.

:class:`Sequential` groups every such run of layers into a :class:`FusedHidden`
stage. In training mode the stage does one matrix product and one fused kernel
forward (``bias_bn_relu_dropout_forward``), and one fused kernel plus the
weight-gradient product backward; the results equal the separate layers' bit
for bit (the kernels perform the same operations in the same order; tested).
Evaluation mode, and inputs whose dtype would differ from the weights', run the
layers one by one. The layers stay the source of truth: their parameters,
running statistics, dropout counters and backward caches are the ones updated.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .. import _backend
from ..reference.batchnorm import batchnorm_work_size
from .batchnorm import BatchNorm
from .dropout import Dropout
from .layers import Affine, Layer, ReLU, as_weight_dtype, flatten_rows

_ZERO = np.uint64(0)


class FusedHidden:
    """One hidden layer of the book's extended network, fused for training.

    Parameters
    ----------
    affine : Affine
    batchnorm : BatchNorm
    relu : ReLU
    dropout : Dropout, optional
    """

    _out: Optional[NDArray[Any]]

    def __init__(self, affine: Affine, batchnorm: BatchNorm, relu: ReLU,
                 dropout: Optional[Dropout] = None) -> None:
        self.affine, self.batchnorm, self.relu, self.dropout = affine, batchnorm, relu, dropout
        self.layers: List[Layer] = [layer for layer in (affine, batchnorm, relu, dropout)
                                    if layer is not None]
        self._scratch: Dict[Any, Dict[str, NDArray[Any]]] = {}
        self._fused = False
        self._out = None

    @classmethod
    def take(cls, layers: Sequence[Any], i: int) -> Tuple[Optional[FusedHidden], int]:
        """The stage starting at ``layers[i]`` and how many layers it spans, or ``(None, 0)``."""
        run = layers[i:i + 4]
        if (len(run) >= 3 and type(run[0]) is Affine and type(run[1]) is BatchNorm
                and type(run[2]) is ReLU):
            dropout = run[3] if len(run) == 4 and type(run[3]) is Dropout else None
            return cls(run[0], run[1], run[2], dropout), 3 + (dropout is not None)
        return None, 0

    def _buffers(self, n: int, d: int, dtype: np.dtype[Any]) -> Dict[str, NDArray[Any]]:
        """Scratch arrays for an (n, d) batch, kept between steps (one batch shape at a time)."""
        key = (n, d, dtype)
        bufs = self._scratch.get(key)
        if bufs is None:
            mean, var, inv_std = np.empty((3, d))
            bufs = {"h": np.empty((n, d), dtype), "y": np.empty((n, d), dtype),
                    "xhat": np.empty((n, d), dtype), "d": np.empty((n, d), dtype),
                    "dx": np.empty((n, d), dtype), "mean": mean, "var": var,
                    "inv_std": inv_std, "work": np.empty(batchnorm_work_size(n, d))}
            self._scratch = {key: bufs}
        return bufs

    def _scale(self, dtype: np.dtype[Any]) -> Any:
        """What the dropout kernels multiply a kept element by (1 without dropout)."""
        return dtype.type(1) if self.dropout is None else self.dropout.keep_scale(dtype)

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        W = self.affine.W
        x2 = as_weight_dtype(flatten_rows(x), W) if x.ndim else x
        if not (train and x.ndim >= 2 and x2.shape[1] == W.shape[0] and x.shape[0] > 0
                and x2.dtype == W.dtype and W.dtype == self.batchnorm.gamma.dtype):
            self._fused = False
            for layer in self.layers:
                x = layer.forward(x, train)
            return x
        n, d = x2.shape[0], W.shape[1]
        bufs = self._buffers(n, d, W.dtype)
        h, y, xhat, inv_std = bufs["h"], bufs["y"], bufs["xhat"], bufs["inv_std"]
        out = np.empty((n, d), W.dtype)
        np.matmul(x2, W, out=h)
        bn, drop = self.batchnorm, self.dropout
        if drop is None:
            dropout_args = (False, _ZERO, _ZERO, _ZERO, self._scale(W.dtype))
        else:
            dropout_args = (True, drop.seed, drop.next_mask_stream((n, d)), drop.threshold,
                            drop.keep_scale(W.dtype))
        _backend.kernels().bias_bn_relu_dropout_forward(
            h, self.affine.b, bn.gamma, bn.beta, y, out, xhat, bufs["mean"], bufs["var"],
            inv_std, bn.eps, bn.running_mean, bn.running_var, bn.momentum, bn.variance_factor(n),
            bufs["work"], *dropout_args)
        # leave each layer as its own forward would, so its own backward still works
        self.affine.record_input(x2, x.shape)
        bn.record_training_forward(xhat, inv_std, (n, d))
        self.relu.record_input(y)
        self._out = out  # the backward reads the ReLU/dropout mask off it
        self._fused = True
        return out

    def backward(self, dout: NDArray[Any], input_grad: bool = True) -> Optional[NDArray[Any]]:
        """Gradients of every layer's parameters; the input's gradient unless ``input_grad=False``."""
        if not self._fused:
            for layer in reversed(self.layers[1:]):
                dout = layer.backward(dout)
            return self.affine.backward(dout, input_grad)
        affine, bn = self.affine, self.batchnorm
        W = affine.W
        # affine.x is the fused forward's input (self._fused)
        n, d = affine.x.shape[0], W.shape[1]  # type: ignore[union-attr]
        if dout.shape != (n, d):
            raise ValueError(f"dout has shape {dout.shape}, the forward output had {(n, d)}")
        bufs = self._buffers(n, d, W.dtype)
        dout = np.ascontiguousarray(dout, dtype=W.dtype)
        dx = bufs["dx"]
        _backend.kernels().bias_bn_relu_dropout_backward(
            dout, self._out, bufs["xhat"], bn.gamma, bufs["inv_std"], self._scale(W.dtype),
            bufs["d"], dx, bn.dgamma, bn.dbeta, affine.db, bufs["work"])
        np.matmul(affine.x.T, dx, out=affine.dW, casting="same_kind")  # type: ignore[union-attr]
        if not input_grad:
            return None
        return (dx @ W.T).reshape(affine.original_x_shape)

    def __repr__(self) -> str:
        return "FusedHidden(" + ", ".join(repr(layer) for layer in self.layers) + ")"


def stages(layers: Sequence[Any]) -> List[Any]:
    """*layers* with each fusable run replaced by a :class:`FusedHidden` stage."""
    out, i = [], 0
    while i < len(layers):
        block, span = FusedHidden.take(layers, i)
        if block is None:
            out.append(layers[i])
            i += 1
        else:
            out.append(block)
            i += span
    return out
