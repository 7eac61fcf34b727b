"""Training techniques chapter 6's study notes name but the book never codes.

* :mod:`~fastopt.techniques.pruning`: magnitude pruning with masks the optimizer
  keeps in force after every step (one fused multiply per flat buffer).
* :mod:`~fastopt.techniques.tying`: an L2 pull between two models' weights, and
  hard weight sharing inside a network.
* :mod:`~fastopt.techniques.adversarial`: FGSM examples, accuracy under attack,
  adversarial training.
* :mod:`~fastopt.techniques.bagging`: bootstrap ensembles with averaged softmax.
* :mod:`~fastopt.techniques.freezing`: frozen param groups and weight transfer.

Learning-rate decay and gradient clipping live in :mod:`fastopt.optim`
(schedules; ``max_grad_norm`` / ``clip_value``). ``fastopt run <name>`` runs an
experiment for each technique (``lr-decay``, ``grad-clip``, ``pruning``,
``param-tying``, ``adversarial``, ``bagging``, ``transfer``).
"""
from ._mlp import mlp
from .adversarial import AdversarialTraining, accuracy_under_attack, fgsm
from .bagging import Ensemble, bagging, bootstrap_indices
from .freezing import copy_parameters, freeze, frozen_names
from .pruning import Pruner, magnitude_masks, sparsity
from .tying import L2Tie, SharedSequential, TiedAffine, l2_tie

__all__ = [
           "AdversarialTraining",
           "Ensemble",
           "L2Tie",
           "Pruner",
           "SharedSequential",
           "TiedAffine",
           "accuracy_under_attack",
           "bagging",
           "bootstrap_indices",
           "copy_parameters",
           "fgsm",
           "freeze",
           "frozen_names",
           "l2_tie",
           "magnitude_masks",
           "mlp",
           "sparsity",
]
