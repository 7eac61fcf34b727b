"""Plain-NumPy twins of every kernel: the test oracle and the last fallback backend.

Each function has the same name and signature as its Numba twin in
``fastopt.kernels`` and performs the same floating-point operations in the same
order, so results agree bit for bit.
"""
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

KERNELS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
           "adam", "adamax", "nadam", "sumsq",
           "batchnorm_forward_train", "batchnorm_forward_eval", "batchnorm_backward",
           "batchnorm_channel_forward_train", "batchnorm_channel_forward_eval",
           "batchnorm_channel_backward", "dropout_forward", "dropout_backward",
           "relu_forward", "relu_backward",
           "bias_bn_relu_dropout_forward", "bias_bn_relu_dropout_backward",
           "softmax_shift", "softmax_pick", "softmax_xent_backward")
