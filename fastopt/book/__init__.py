"""The book's classes, same names and contracts, running on fastopt's kernels.

``from fastopt.book import Adam`` replaces ``from common.optimizer import Adam``;
``MultiLayerNet`` replaces ``common.multi_layer_net.MultiLayerNet``.
"""
import numpy as np

from .network import MultiLayerNet, MultiLayerNetExtend
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .trainer import Trainer

# ``np`` too: the book's scripts get it from ``from common.optimizer import *``
__all__ = ["np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "MultiLayerNet", "MultiLayerNetExtend", "Trainer"]
