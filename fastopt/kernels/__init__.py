"""Numba kernels, one module per family. Importing this module imports Numba
but compiles nothing: each kernel compiles on first use and is cached on disk.
"""
from ._jit import CHUNK, HEAVY_THRESHOLD, LIGHT_THRESHOLD, PARALLEL_THRESHOLD
from .adaptive import adadelta, adagrad, adam, adamax, nadam, rmsprop
from .momentum import momentum, nesterov, sgd
from .reduce import sumsq
