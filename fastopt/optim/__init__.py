"""Optimizers, schedules, clipping, flat parameter buffers and checkpoints.

``fastopt.optim.lr_scheduler`` has the torch-style scheduler objects (StepLR, OneCycleLR, ...).
"""
from ..kernel_spec import OPTIMIZER_CHOICES
from . import lr_scheduler
from .adam import AMSGrad, Adam, Adamax, AdamW, NAdam
from .adaptive import AdaGrad, Adadelta, Adagrad, RMSprop
from .checkpoint import load_checkpoint, save_checkpoint
from .clip import clip_grad_norm, clip_grad_value, global_norm
from .flat import FlatParams
from .lion import Lion
from .optimizer import NonFiniteGradientError, Optimizer
from .schedules import (
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LinearWarmup,
    MultiStepDecay,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
)
from .sgd import SGD, Momentum, Nesterov

#: every optimizer ``fastopt train --optimizer`` offers, in the kernel spec's order
OPTIMIZERS = tuple(globals()[name] for name in OPTIMIZER_CHOICES.values())

__all__ = [c.__name__ for c in OPTIMIZERS] + [
    "AdaGrad", "Optimizer", "NonFiniteGradientError", "FlatParams", "Schedule", "Constant",
    "StepDecay", "MultiStepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
    "LinearWarmup", "ReduceLROnPlateau", "clip_grad_norm", "clip_grad_value", "global_norm",
    "save_checkpoint", "load_checkpoint", "lr_scheduler"]
