"""NumPy twins of the fused hidden-layer kernels (see ``fastopt.kernels.fused``)."""
import numpy as np

from ._types import F64Array, FloatArray, Real, UInt64
from .activation import relu_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_train
from .dropout import dropout_forward

_OFFSET = np.uint64(0)


def bias_bn_relu_dropout_forward(h: FloatArray, bias: FloatArray, gamma: FloatArray,
                                 beta: FloatArray, y: FloatArray, out: FloatArray, xhat: FloatArray,
                                 mean: F64Array, var: F64Array, inv_std: F64Array, eps: float,
                                 running_mean: F64Array, running_var: F64Array, momentum: float,
                                 var_factor: float, work: F64Array, drop: bool, seed: UInt64,
                                 stream: UInt64, threshold: UInt64, scale: Real) -> None:
    """h += bias; y = batchnorm(h); running statistics updated; out = relu(y), then
    dropout(out) in place if *drop* (the separate twins in order)."""
    np.add(h, bias, out=h)
    batchnorm_forward_train(h, gamma, beta, y, xhat, mean, var, inv_std, eps, work)
    running_mean *= momentum
    running_mean += (1.0 - momentum) * mean
    running_var *= momentum
    running_var += (1.0 - momentum) * (var * var_factor)
    relu_forward(y.reshape(-1), out.reshape(-1))
    if drop:
        dropout_forward(out.reshape(-1), out.reshape(-1), seed, stream, _OFFSET, threshold, scale)


def bias_bn_relu_dropout_backward(dout: FloatArray, out: FloatArray, xhat: FloatArray,
                                  gamma: FloatArray, inv_std: F64Array, scale: Real, d: FloatArray,
                                  dx: FloatArray, dgamma: FloatArray, dbeta: FloatArray,
                                  dbias: FloatArray, work: F64Array) -> None:
    """d = dout·scale where out ≠ 0, else 0; batch-norm backward of d into dx; dbias = Σ_rows dx."""
    with np.errstate(over="ignore"):
        np.multiply(dout, scale, out=d)
    d[out == 0] = 0
    batchnorm_backward(d, xhat, gamma, inv_std, dx, dgamma, dbeta, work)
    np.sum(dx, axis=0, out=dbias)
