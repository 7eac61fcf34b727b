"""NumPy twins of the fused hidden-layer kernels (see ``fastopt.kernels.fused``)."""
import numpy as np

from ._types import F64Array, FloatArray, Real, UInt64
from .activation import relu_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_train
from .dropout import dropout_forward

_OFFSET = np.uint64(0)


def bias_bn_relu_dropout_forward(h,  # type: FloatArray
                                 bias,  # type: FloatArray
                                 gamma,  # type: FloatArray
                                 beta,  # type: FloatArray
                                 y,  # type: FloatArray
                                 out,  # type: FloatArray
                                 xhat,  # type: FloatArray
                                 mean,  # type: F64Array
                                 var,  # type: F64Array
                                 inv_std,  # type: F64Array
                                 eps,  # type: float
                                 running_mean,  # type: F64Array
                                 running_var,  # type: F64Array
                                 momentum,  # type: float
                                 var_factor,  # type: float
                                 work,  # type: F64Array
                                 drop,  # type: bool
                                 seed,  # type: UInt64
                                 stream,  # type: UInt64
                                 threshold,  # type: UInt64
                                 scale,  # type: Real
                                 ):
    # type: (...) -> None
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


def bias_bn_relu_dropout_backward(dout,  # type: FloatArray
                                  out,  # type: FloatArray
                                  xhat,  # type: FloatArray
                                  gamma,  # type: FloatArray
                                  inv_std,  # type: F64Array
                                  scale,  # type: Real
                                  d,  # type: FloatArray
                                  dx,  # type: FloatArray
                                  dgamma,  # type: FloatArray
                                  dbeta,  # type: FloatArray
                                  dbias,  # type: FloatArray
                                  work,  # type: F64Array
                                  ):
    # type: (...) -> None
    """d = dout·scale where out ≠ 0, else 0; batch-norm backward of d into dx; dbias = Σ_rows dx."""
    with np.errstate(over="ignore"):
        np.multiply(dout, scale, out=d)
    d[out == 0] = 0
    batchnorm_backward(d, xhat, gamma, inv_std, dx, dgamma, dbeta, work)
    np.sum(dx, axis=0, out=dbias)
