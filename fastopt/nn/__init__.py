"""Layers, initialisation and networks."""
from . import init
from .batchnorm import BatchNorm
from .dropout import Dropout
from .layers import (
    Affine,
    Layer,
    LeakyReLU,
    MeanSquaredError,
    ReLU,
    Relu,
    Sigmoid,
    Softmax,
    SoftmaxWithLoss,
    SumSquaredError,
    Tanh,
    cross_entropy_error,
    softmax,
)
from .network import Sequential
