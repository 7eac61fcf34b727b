"""NumPy twins of the fused hidden-layer kernels (see ``fastopt.kernels.fused``)."""
import numpy as np

from .activation import relu_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_train
from .dropout import dropout_forward

_OFFSET = np.uint64(0)


def bias_bn_relu_dropout_forward(h, bias, gamma, beta, y, out, xhat, mean, var, inv_std, eps,
                                 running_mean, running_var, momentum, var_factor, work, drop, seed,
                                 stream, threshold, scale):
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


def bias_bn_relu_dropout_backward(dout, out, xhat, gamma, inv_std, scale, d, dx, dgamma, dbeta,
                                  dbias, work):
    """d = dout·scale where out ≠ 0, else 0; batch-norm backward of d into dx; dbias = Σ_rows dx."""
    with np.errstate(over="ignore"):
        np.multiply(dout, scale, out=d)
    d[out == 0] = 0
    batchnorm_backward(d, xhat, gamma, inv_std, dx, dgamma, dbeta, work)
    np.sum(dx, axis=0, out=dbias)
