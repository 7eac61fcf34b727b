"""The Cython backend: every kernel of ``fastopt.reference.KERNELS``, compiled.

The modules are built from ``src_cython/`` (one per family, as
``fastopt.kernels``) by ``setup.py`` when Cython and a C compiler are present.
Where they are not, importing this module raises ``ImportError`` and the
backend registry leaves the cython backend out.
"""
from ..reference.batchnorm import (
    batchnorm_channel_work_size,
    batchnorm_work_size,
)
from ._jit import (
    CHUNK_SIZE as CHUNK,
    HAVE_OPENMP,
    HEAVY_THRESHOLD,
    LIGHT_THRESHOLD,
    PARALLEL_THRESHOLD,
    get_num_threads,
    set_num_threads,
)
from .activation import relu_backward, relu_forward
from .adaptive import adadelta, adagrad, adam, adamax, nadam, rmsprop
from .batchnorm import (
    batchnorm_backward,
    batchnorm_channel_backward,
    batchnorm_channel_forward_eval,
    batchnorm_channel_forward_train,
    batchnorm_forward_eval,
    batchnorm_forward_train,
)
from .dropout import dropout_backward, dropout_forward
from .fused import bias_bn_relu_dropout_backward, bias_bn_relu_dropout_forward
from .momentum import momentum, nesterov, sgd
from .reduce import sumsq
from .softmax import softmax_pick, softmax_shift, softmax_xent_backward

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamax",
           "nadam", "sumsq", "batchnorm_forward_train", "batchnorm_forward_eval",
           "batchnorm_backward", "batchnorm_channel_forward_train",
           "batchnorm_channel_forward_eval", "batchnorm_channel_backward", "dropout_forward",
           "dropout_backward", "relu_forward", "relu_backward",
           "bias_bn_relu_dropout_forward", "bias_bn_relu_dropout_backward", "softmax_shift",
           "softmax_pick", "softmax_xent_backward", "batchnorm_work_size",
           "batchnorm_channel_work_size", "CHUNK", "HAVE_OPENMP", "HEAVY_THRESHOLD",
           "LIGHT_THRESHOLD", "PARALLEL_THRESHOLD", "get_num_threads", "set_num_threads"]
