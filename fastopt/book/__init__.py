"""The book's classes, same names and contracts, running on fastopt's kernels.

``from fastopt.book import Adam`` replaces ``from common.optimizer import Adam``.
"""
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
