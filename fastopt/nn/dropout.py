"""Dropout (Srivastava et al. 2014) with masks drawn inside the kernel.

Element ``i`` of the ``k``-th training forward is kept iff a counter-based hash
of (seed, k, i) clears the threshold for ``p`` (see ``fastopt.reference.rng``):
no uniform array is materialised, the backward recomputes the mask, and masks
are identical across backends, thread counts and a checkpoint resume (the
forward counter is a saved buffer).
"""
from __future__ import annotations

import hashlib
import numbers
from typing import Any, Optional, Tuple, Union

import numpy as np
from numpy.typing import NDArray

from .. import _backend
from .._validate import check_bool, check_float
from ..reference.rng import keep_threshold
from .layers import Layer


def _seed64(seed: Union[int, Tuple[int, ...], None]) -> np.uint64:
    """A uint64 from an int, a tuple of ints, or None (fresh entropy)."""
    if seed is None:
        return np.uint64(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = (seed,)
    if isinstance(seed, tuple) and all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                                       for s in seed):
        digest = hashlib.blake2b(repr(tuple(int(s) for s in seed)).encode(), digest_size=8).digest()
        return np.uint64(int.from_bytes(digest, "little"))
    raise TypeError(f"seed must be an int, a tuple of ints or None, got {seed!r}")


class Dropout(Layer):
    """Drop each element with probability *dropout_ratio* in training mode.

    Parameters
    ----------
    dropout_ratio : float in [0, 1]
        p, the probability of dropping an element.
    inverted : bool, default False
        False: the book's form — training output ``x·mask``, evaluation output
        ``x·(1 − p)``. True: inverted dropout (PyTorch's) — training output
        ``x·mask/(1 − p)``, evaluation output ``x``. ``backward`` follows the last
        forward: the mask of a training forward, the constant scale of an
        evaluation one.
    seed : int, tuple of ints or None
        Key of the masks; None draws a fresh one.
    """

    #: (mask stream or None after an evaluation forward, output shape) of the last forward
    _last: Optional[Tuple[Any, Tuple[int, ...]]]

    def __init__(self, dropout_ratio: float = 0.5, *, inverted: bool = False,
                 seed: Union[int, Tuple[int, ...], None] = None) -> None:
        self.p = check_float("dropout_ratio", dropout_ratio, low=0.0, high=1.0)
        self.inverted = check_bool("inverted", inverted)
        self.seed = _seed64(seed)
        self.threshold = np.uint64(keep_threshold(self.p))
        self.buffers = {"step": np.zeros((), np.uint64)}
        self._last = None

    def next_stream(self) -> np.uint64:
        """The mask stream of this training forward; advances the step counter."""
        step = self.buffers["step"]
        stream = step[()]
        step[()] = (int(stream) + 1) % 2**64  # wraps as uint64; a 0-d array's += costs 8x this
        return stream  # type: ignore[return-value]  # [()] of a 0-d array is a scalar (stubs: ndarray)

    def next_mask_stream(self, shape: Tuple[int, ...]) -> np.uint64:
        """Start a training forward whose output has *shape*: its mask stream.

        Advances the step counter (:meth:`next_stream`) and remembers the
        stream and the shape, so :meth:`backward` recomputes this forward's
        mask. :meth:`forward` calls it; so does a fused stage
        (:class:`fastopt.nn.fused.FusedHidden`) whose kernel applies the mask
        ``dropout_forward`` would (key :attr:`seed`, this stream, element
        offset 0, :attr:`threshold`, :meth:`keep_scale`).

        Parameters
        ----------
        shape : tuple of int
            Shape of the forward's output (and of the ``dout`` backward takes).

        Returns
        -------
        numpy.uint64
            The stream (the step counter's value before it advanced).
        """
        stream = self.next_stream()
        self._last = (stream, tuple(shape))
        return stream

    def keep_scale(self, dtype: np.dtype[Any]) -> Any:
        """What a kept element is multiplied by in a training forward, as a *dtype* scalar.

        1 for the book's dropout; ``1/(1 − p)`` for inverted dropout (0 when p = 1,
        where nothing is kept).

        Parameters
        ----------
        dtype : numpy.dtype
            float32 or float64, the dtype of the input.

        Returns
        -------
        numpy.floating
        """
        if self.inverted:
            return dtype.type(0 if self.p == 1 else 1 / (1 - self.p))
        return dtype.type(1)

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        if x.dtype.kind != "f":
            raise TypeError(f"Dropout input must be float32 or float64, got {x.dtype}")
        if not train:
            self._last = (None, x.shape)
            return x if self.inverted else x * x.dtype.type(1 - self.p)
        stream = self.next_mask_stream(x.shape)
        flat = np.ascontiguousarray(x).reshape(-1)
        out = np.empty_like(flat)
        _backend.kernels().dropout_forward(flat, out, self.seed, stream, np.uint64(0),
                                           self.threshold, self.keep_scale(flat.dtype))
        return out.reshape(x.shape)

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self._last is None:
            self._need_forward("the mask's step")
        stream, shape = self._last
        if dout.shape != shape:
            raise ValueError(f"dout has shape {dout.shape}, the forward output had {shape}")
        if stream is None:  # after an evaluation-mode forward: the same constant scale
            return dout if self.inverted else dout * dout.dtype.type(1 - self.p)
        flat = np.ascontiguousarray(dout).reshape(-1)
        dx = np.empty_like(flat)
        _backend.kernels().dropout_backward(flat, dx, self.seed, stream, np.uint64(0),
                                            self.threshold, self.keep_scale(flat.dtype))
        return dx.reshape(shape)

    def __repr__(self) -> str:
        kind = "inverted" if self.inverted else "book"
        return f"Dropout(p={self.p}, {kind})"
