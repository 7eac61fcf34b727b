"""Batch normalisation (Ioffe & Szegedy, arXiv:1502.03167) on fused kernels.

Two presets:

``"book"``      the book's ``BatchNormalization``: eps = 1e-6 (the book's
                ``10e-7``), biased batch variance in the running statistics,
                running statistics starting at 0, and 4-D input (N, C, H, W)
                normalised per flattened feature (N, C·H·W).
``"standard"``  PyTorch's ``BatchNorm1d``/``BatchNorm2d``: eps = 1e-5, unbiased
                variance (·N/(N−1)) in the running statistics, running mean 0 and
                variance 1 at the start, 4-D input normalised per channel.

In both, ``momentum`` is the weight of the *old* running value (the book's
convention: PyTorch's ``momentum=0.1`` is ``momentum=0.9`` here):
``running ← momentum·running + (1 − momentum)·batch``.

Statistics and sums are accumulated in float64 whatever the input dtype
(see ``fastopt.reference.batchnorm``); outputs keep the input's dtype.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import _backend
from .._validate import check_choice, check_float
from ..reference.batchnorm import batchnorm_channel_work_size, batchnorm_work_size
from .layers import Layer

PRESETS: Dict[str, Dict[str, Any]] = {"book": {"eps": 1e-6, "unbiased": False, "running_var": 0.0, "per_channel": False},
           "standard": {"eps": 1e-5, "unbiased": True, "running_var": 1.0, "per_channel": True}}


class BatchNorm(Layer):
    """Batch normalisation layer: ``y = γ·(x − μ)/√(σ² + ε) + β``.

    Parameters
    ----------
    gamma, beta : ndarray, shape (D,)
        Scale and shift (D features, or C channels for per-channel 4-D input).
    momentum : float, default 0.9
        Weight of the old running statistics.
    running_mean, running_var : ndarray, optional
        Initial running statistics (float64 copies are kept). Default: the
        preset's start values, set on the first training forward.
    eps : float, optional
        Default: the preset's (book 1e-6, standard 1e-5).
    preset : {"book", "standard"}

    Notes
    -----
    Evaluation mode before any training forward raises ``RuntimeError`` unless
    running statistics were given: the book would silently normalise with
    running statistics of 0.
    """

    _attr: ClassVar[Dict[str, str]] = {"gamma": "gamma", "beta": "beta"}
    #: what the last forward left for the backward (None before any forward)
    _cache: Any

    def __init__(self, gamma: NDArray[Any], beta: NDArray[Any], momentum: float = 0.9,
                 running_mean: Optional[ArrayLike] = None, running_var: Optional[ArrayLike] = None,
                 *, eps: Optional[float] = None, preset: str = "book") -> None:
        check_choice("preset", preset, tuple(PRESETS))
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"gamma and beta must be 1-D of the same length, got {gamma.shape} "
                             f"and {beta.shape}")
        self.preset = PRESETS[preset]
        self.preset_name = preset
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0)
        self.eps = check_float("eps", self.preset["eps"] if eps is None else eps, low=0.0, low_open=True)
        self.gamma, self.beta = gamma, beta
        self.dgamma, self.dbeta = np.zeros_like(gamma), np.zeros_like(beta)
        self.params = {"gamma": gamma, "beta": beta}
        self.grads = {"gamma": self.dgamma, "beta": self.dbeta}
        d = gamma.shape[0]
        self.running_mean = np.zeros(d)
        self.running_var = np.full(d, self.preset["running_var"])
        self.buffers = {"running_mean": self.running_mean, "running_var": self.running_var,
                        "trained": np.zeros((), np.int64)}
        for name, given in (("running_mean", running_mean), ("running_var", running_var)):
            if given is not None:
                if np.shape(given) != (d,):
                    raise ValueError(f"{name} must have shape ({d},), got {np.shape(given)}")
                self.buffers[name][...] = given
                self.buffers["trained"][()] = 1
        self._cache = None
        self._scratch: Dict[str, NDArray[Any]] = {}

    def _layout(self, x: NDArray[Any]) -> NDArray[Any]:
        """x as the 2-D (N, D) or 3-D (N, C, L) contiguous array the kernels take."""
        if x.ndim not in (2, 4):
            raise ValueError(f"BatchNorm takes 2-D (N, D) or 4-D (N, C, H, W) input, got shape {x.shape}")
        if x.dtype.kind != "f":
            raise TypeError(f"BatchNorm input must be float32 or float64, got {x.dtype}")
        x = np.ascontiguousarray(x)
        n = x.shape[0]
        view: NDArray[Any]
        if x.ndim == 4 and self.preset["per_channel"]:
            view = x.reshape(n, x.shape[1], math.prod(x.shape[2:]))
            features = x.shape[1]
        else:
            view = x.reshape(n, math.prod(x.shape[1:]))
            features = view.shape[1]
        if features != self.gamma.shape[0]:
            raise ValueError(f"BatchNorm has {self.gamma.shape[0]} features, the input has {features} "
                             f"(shape {x.shape})")
        return view

    def _buffer(self, key: str, shape: Tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
        buf = self._scratch.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._scratch[key] = np.empty(shape, dtype)
        return buf

    def _work(self, view: NDArray[Any]) -> NDArray[Any]:
        """The kernels' float64 scratch for this input shape (kept between calls)."""
        size = (batchnorm_channel_work_size(*view.shape) if view.ndim == 3
                else batchnorm_work_size(*view.shape))
        return self._buffer("work", (size,), np.float64)

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        view = self._layout(x)
        kernels = _backend.kernels()
        channel = view.ndim == 3
        out = np.empty_like(view)
        if train:
            n = view.shape[0]
            if n == 0 or (channel and view.shape[2] == 0):
                raise ValueError("BatchNorm needs a non-empty batch in training mode")
            d = self.gamma.shape[0]
            xhat = np.empty_like(view)
            mean, var, inv_std = (self._buffer(k, (d,), np.float64) for k in ("mean", "var", "inv_std"))
            work = self._work(view)
            train_kernel = (kernels.batchnorm_channel_forward_train if channel
                            else kernels.batchnorm_forward_train)
            train_kernel(view, self.gamma, self.beta, out, xhat, mean, var, inv_std, self.eps, work)
            self._update_running(mean, var, n * (view.shape[2] if channel else 1))
            self.record_training_forward(xhat, inv_std.copy(), x.shape)
        else:
            if not self.buffers["trained"]:
                raise RuntimeError("BatchNorm in evaluation mode before any training forward: its "
                                   "running statistics are not estimated yet (train first, or pass "
                                   "running_mean and running_var)")
            eval_kernel = (kernels.batchnorm_channel_forward_eval if channel
                           else kernels.batchnorm_forward_eval)
            eval_kernel(view, self.gamma, self.beta, out, self.running_mean, self.running_var,
                        self.eps, self._work(view))
            self._cache = ("eval", view, x.shape)
        return out.reshape(x.shape)

    def variance_factor(self, count: int) -> float:
        """What the batch variance is multiplied by in the running variance.

        ``N/(N−1)`` for the standard preset's unbiased running variance, 1 for
        the book's biased one (and for N = 1).

        Parameters
        ----------
        count : int
            N, the values each feature's batch statistics were taken over
            (the batch size, times the positions for per-channel 4-D input).

        Returns
        -------
        float
        """
        return count / (count - 1) if self.preset["unbiased"] and count > 1 else 1.0

    def record_training_forward(self, xhat: NDArray[Any], inv_std: NDArray[Any],
                                shape: Tuple[int, ...]) -> None:
        """Keep what :meth:`backward` needs from a training forward, and mark the layer trained.

        :meth:`forward` calls it; so does a fused stage
        (:class:`fastopt.nn.fused.FusedHidden`), whose kernel normalises the
        batch and updates :attr:`running_mean` and :attr:`running_var` in place
        (``running ← momentum·running + (1 − momentum)·batch``, the batch
        variance times :meth:`variance_factor`). From then on evaluation mode
        uses the running statistics.

        Parameters
        ----------
        xhat : ndarray, shape (N, D) or (N, C, L)
            The normalised input ``(x − μ)/√(σ² + ε)``, in the input's dtype.
        inv_std : ndarray, shape (D,) or (C,)
            ``1/√(σ² + ε)`` per feature, float64. Kept, not copied.
        shape : tuple of int
            Shape of the forward's input and output (and of backward's ``dout``).
        """
        self._cache = (xhat, inv_std, tuple(shape))
        self.buffers["trained"][()] = 1

    def _update_running(self, mean: NDArray[Any], var: NDArray[Any], count: int) -> None:
        """running ← momentum·running + (1 − momentum)·batch (the preset's variance)."""
        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1.0 - m) * mean
        self.running_var *= m
        self.running_var += (1.0 - m) * (var * self.variance_factor(count))
        self.buffers["trained"][()] = 1

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self._cache is None:
            self._need_forward("the normalised input")
        if isinstance(self._cache[0], str):  # after an evaluation-mode forward
            return self._backward_eval(dout)
        xhat, inv_std, shape = self._cache
        if dout.shape != shape:
            raise ValueError(f"dout has shape {dout.shape}, the forward output had {shape}")
        d = np.ascontiguousarray(dout, dtype=xhat.dtype).reshape(xhat.shape)
        dx = np.empty_like(xhat)
        kernels = _backend.kernels()
        backward_kernel = (kernels.batchnorm_channel_backward if xhat.ndim == 3
                           else kernels.batchnorm_backward)
        backward_kernel(d, xhat, self.gamma, inv_std, dx, self.dgamma, self.dbeta, self._work(xhat))
        return dx.reshape(shape)

    def _backward_eval(self, dout: NDArray[Any]) -> NDArray[Any]:
        """Backward after an evaluation-mode forward, where the layer is affine in x.

        With r = 1/√(running_var + ε) and x̂ = (x − running_mean)·r:
        ``dx = dout·γ·r``, ``dγ = Σ dout·x̂``, ``dβ = Σ dout`` (sums over the batch,
        and over positions for per-channel 4-D input), computed in float64.
        """
        _, view, shape = self._cache
        if dout.shape != shape:
            raise ValueError(f"dout has shape {dout.shape}, the forward output had {shape}")
        d = np.asarray(dout, dtype=np.float64).reshape(view.shape)
        inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
        axes, expand = ((0, 2), (slice(None), None)) if view.ndim == 3 else ((0,), (slice(None),))
        xhat = (view - self.running_mean[expand]) * inv_std[expand]
        self.dgamma[...] = np.sum(d * xhat, axis=axes)
        self.dbeta[...] = np.sum(d, axis=axes)
        dx = d * (self.gamma.astype(np.float64) * inv_std)[expand]
        return dx.astype(view.dtype, copy=False).reshape(shape)

    def __repr__(self) -> str:
        return f"BatchNorm({self.gamma.shape[0]}, preset={self.preset_name!r}, momentum={self.momentum})"
