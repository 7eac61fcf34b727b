"""Plain-NumPy twins of every kernel: the test oracle and the last fallback backend.

Each function has the same name and signature as its Numba twin in
``fastopt.kernels`` and performs the same floating-point operations in the same
order, so results agree bit for bit.
"""
from .adaptive import adadelta, adagrad, adam, adamax, nadam, rmsprop
from .momentum import momentum, nesterov, sgd
from .reduce import sumsq

KERNELS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta",
           "adam", "adamax", "nadam", "sumsq")
