"""The parameter paragraphs the optimizers' docstrings share, written once.

A class decorated with :func:`documented` writes a marker such as ``{params, lr, eps}``
or ``{options}`` on a line of its own in the ``Parameters`` section of its docstring;
the marker becomes the paragraphs below it names, indented as the marker was, each with
``{default}`` read from the class's ``__init__`` signature (so no default is written
twice). A subclass taking the same parameters writes ``{parameters}`` and names the
class whose ``Parameters`` section it takes.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from typing import Any, Dict, Optional, TypeVar

#: What the shared hyperparameters mean, one sentence each (the documentation site's
#: glossary of parameters, ``docs/_ext/fastopt_docs.py``, takes them from here too).
MEANINGS: Dict[str, str] = {
    "lr": "Learning rate η: a float, or a :class:`~fastopt.optim.Schedule` of the group's "
          "update count.",
    "betas": "(β₁, β₂): decay rates of the running averages m (of g) and v (of g²).",
    "eps": "ε, added to the denominator for numerical stability; the update rule above "
           "shows where it sits.",
    "momentum": "Momentum coefficient of the velocity v (μ, or the book's α, in the update "
                "rule above).",
    "decoupled_weight_decay": "Decay the parameters directly, θ ← θ(1 − ηλ) (AdamW), "
                              "instead of adding λθ to the gradient.",
}


def _entry(head: str, meaning: str) -> str:
    """A numpydoc parameter entry: *head* (``name : type``) over its indented *meaning*."""
    return head + "\n" + textwrap.fill(meaning, 92, initial_indent="    ",
                                       subsequent_indent="    ", break_on_hyphens=False) + "\n"


_PARAMS = """\
params : mapping, sequence of arrays, FlatParams or list of group dicts
    The arrays to update in place (float32/float64, writeable, C-contiguous).
    Group dicts hold ``"params"`` plus overrides of any hyperparameter
    below, and ``"frozen": True`` to skip a group.
"""
_WEIGHT_DECAY = """\
weight_decay : float, default 0
    L2 coefficient λ: ``g ← g + λθ`` (or ``θ ← θ(1 − ηλ)`` if
    ``decoupled_weight_decay``).
""" + _entry("decoupled_weight_decay : bool, default False", MEANINGS["decoupled_weight_decay"])
_MAXIMIZE = """\
maximize : bool, default False
    Ascend instead of descend (``g ← −g``).
"""
_CLIPPING = """\
max_grad_norm : float, optional
    Scale all gradients together so their global L2 norm is at most this
    (PyTorch's ``clip_grad_norm_`` rule, coefficient ``max/(norm + 1e-6)``).
clip_value : float, optional
    Clamp every gradient element to ``[−clip_value, clip_value]`` (after
    norm clipping).
nonfinite : {"propagate", "skip", "raise"}, default "propagate"
    What a NaN/inf gradient does: flow into the parameters (like PyTorch),
    skip the whole step leaving parameters, state and step counter
    bit-unchanged, or raise :class:`NonFiniteGradientError`.
"""

#: marker -> paragraph; ``{default}`` is the default of the parameter the marker names
PARAGRAPHS: Dict[str, str] = {
    "params": _PARAMS,
    "lr": _entry("lr : float or Schedule, default {default}", MEANINGS["lr"]),
    "betas": _entry("betas : (float, float), default {default}", MEANINGS["betas"]),
    "eps": _entry("eps : float, default {default}", MEANINGS["eps"]),
    "momentum": _entry("momentum : float, default {default}", MEANINGS["momentum"]),
    "maximize": _MAXIMIZE,
    "clipping": _CLIPPING,
    # every optimizer's options but Lion's (whose decay is always decoupled)
    "options": _WEIGHT_DECAY + _MAXIMIZE + _CLIPPING,
}

_MARKER = re.compile(r"^( *)\{(\w+(?:, \w+)*)\}\n", re.MULTILINE)
_C = TypeVar("_C", bound=type)


def _shown(value: Any) -> str:
    """A default as the docstring shows it: ``1e-3`` rather than ``0.001``, ``0.01`` as is."""
    plain = repr(value)
    if not isinstance(value, float):
        return plain
    scientific = f"{value:.0e}".replace("e-0", "e-")
    return scientific if float(scientific) == value and len(scientific) < len(plain) else plain


def documented(cls: _C, parameters_of: Optional[type] = None) -> _C:
    """*cls* with the markers of its docstring filled (see the module docstring).

    ``{parameters}`` becomes the whole ``Parameters`` section of *parameters_of*.
    """
    doc = cls.__doc__ or ""
    signature = inspect.signature(cls).parameters

    def paragraph(name: str) -> str:
        if name == "parameters":
            if parameters_of is None:
                raise TypeError(f"{cls.__name__}: {{parameters}} needs parameters_of")
            return "Parameters\n" + textwrap.dedent(
                (parameters_of.__doc__ or "").split("Parameters\n", 1)[1])
        text = PARAGRAPHS[name]
        if "{default}" in text:
            text = text.replace("{default}", _shown(signature[name].default))
        return text

    def paragraphs(marker: re.Match[str]) -> str:
        indent, names = marker.groups()
        return textwrap.indent("".join(paragraph(n) for n in names.split(", ")), indent)

    cls.__doc__ = _MARKER.sub(paragraphs, doc)
    return cls


def documented_as(parameters_of: type) -> Any:
    """:func:`documented`, taking the ``Parameters`` section of *parameters_of*."""
    return lambda cls: documented(cls, parameters_of)
