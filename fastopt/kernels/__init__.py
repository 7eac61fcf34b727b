"""Numba kernels, one module per family. Importing this module imports Numba
but compiles nothing: each kernel compiles on first use and is cached on disk.
"""
from ._jit import CHUNK, HEAVY_THRESHOLD, LIGHT_THRESHOLD, PARALLEL_THRESHOLD
from .batchnorm import (
    batchnorm_backward,
    batchnorm_channel_backward,
    batchnorm_channel_forward_eval,
    batchnorm_channel_forward_train,
    batchnorm_channel_work_size,
    batchnorm_forward_eval,
    batchnorm_forward_train,
    batchnorm_work_size,
)
from .activation import relu_backward, relu_forward
from .adaptive import adadelta, adagrad, adam, adamax, nadam, rmsprop
from .dropout import dropout_backward, dropout_forward
from .fused import bias_bn_relu_dropout_backward, bias_bn_relu_dropout_forward
from .momentum import momentum, nesterov, sgd
from .softmax import softmax_pick, softmax_shift, softmax_xent_backward
from .reduce import sumsq
