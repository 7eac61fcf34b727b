"""Layers with ``forward`` / ``backward``, the book's ``common/layers.py`` semantics.

Every layer works on float32 and float64. Parametrised layers hold their
parameters and gradients as arrays that may be views into a model's flat
buffers (:class:`fastopt.FlatParams`); ``backward`` writes gradients into
them in place, so a training step allocates no gradient arrays.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Dict, NoReturn, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _backend


class Layer:
    """Base class: ``forward(x, train=True)`` and ``backward(dout)``.

    ``params`` and ``grads`` map local names (``"W"``, ``"b"``, ...) to arrays.
    """

    params: Dict[str, NDArray[Any]] = {}
    grads: Dict[str, NDArray[Any]] = {}

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        raise NotImplementedError

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        raise NotImplementedError

    def bind(self, name: str, array: NDArray[Any], grad: NDArray[Any]) -> None:
        """Use *array* (and *grad* for its gradient) as parameter *name* from now on.

        Networks call this to point a layer at views of their flat buffers.
        The values are already copied into *array*.
        """
        setattr(self, self._attr[name], array)
        setattr(self, "d" + self._attr[name], grad)
        self.params = {**self.params, name: array}
        self.grads = {**self.grads, name: grad}

    _attr: ClassVar[Dict[str, str]] = {}

    def _need_forward(self, what: str) -> NoReturn:
        raise RuntimeError(f"{type(self).__name__}.backward called before forward ({what} is not set)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def flatten_rows(x: NDArray[Any]) -> NDArray[Any]:
    """*x* as (N, features), the book's ``x.reshape(x.shape[0], -1)``, empty batches included
    (``-1`` cannot be inferred from a size-0 array)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


def as_weight_dtype(x: NDArray[Any], W: NDArray[Any]) -> NDArray[Any]:
    """*x* cast to the weights' dtype where NumPy would promote it to that dtype anyway.

    A float32 (or integer) batch meeting float64 weights, as the book's float32
    loader meets its float64 ``randn`` weights: casting once (exact) lets the
    forward product and the backward ``xᵀ·dout`` both run as float64 BLAS calls.
    ``np.matmul`` on the mixed pair gives the same forward but computes the
    transposed backward product outside the BLAS, in another summation order
    than the book's ``np.dot`` (last-bit differences in dW).
    """
    if x.dtype != W.dtype and np.result_type(x.dtype, W.dtype) == W.dtype:
        return x.astype(W.dtype)
    return x


class Affine(Layer):
    """``y = x·W + b``; N-D input is flattened to (N, -1) as in the book.

    Parameters
    ----------
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    dW, db : ndarray, optional
        Where ``backward`` writes the gradients (default: new zero arrays).
    """

    #: the last forward's input, as (N, features); its shape before flattening
    x: Optional[NDArray[Any]]
    original_x_shape: Any

    def __init__(self, W: NDArray[Any], b: NDArray[Any], dW: Optional[NDArray[Any]] = None,
                 db: Optional[NDArray[Any]] = None) -> None:
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"Affine needs W of shape (n_in, n_out) and b of shape (n_out,), "
                             f"got {W.shape} and {b.shape}")
        self.W, self.b = W, b
        self.dW = np.zeros_like(W) if dW is None else dW
        self.db = np.zeros_like(b) if db is None else db
        self.params = {"W": W, "b": b}
        self.grads = {"W": self.dW, "b": self.db}
        self.x = self.original_x_shape = None

    _attr: ClassVar[Dict[str, str]] = {"W": "W", "b": "b"}

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        self.original_x_shape = x.shape
        x = as_weight_dtype(flatten_rows(x), self.W)
        if x.shape[1] != self.W.shape[0]:
            raise ValueError(f"Affine expects {self.W.shape[0]} input features, got {x.shape[1]} "
                             f"(input shape {self.original_x_shape})")
        self.record_input(x, self.original_x_shape)
        out = x @ self.W
        if out.dtype == self.b.dtype:
            out += self.b  # in place: the same sums as x @ W + b, one temporary fewer
            return out
        return out + self.b

    def record_input(self, x: NDArray[Any], shape: Tuple[int, ...]) -> None:
        """Keep a forward's input for :meth:`backward` (``dW = xᵀ·dout``, ``dx`` in *shape*).

        :meth:`forward` calls it; so does a fused stage
        (:class:`fastopt.nn.fused.FusedHidden`) that computes ``x·W + b`` itself.

        Parameters
        ----------
        x : ndarray, shape (N, n_in)
            The input as rows (:func:`flatten_rows`), in the weights' dtype
            where :func:`as_weight_dtype` casts it. Kept, not copied.
        shape : tuple of int
            The input's shape before flattening: :meth:`backward` returns
            ``dx`` in it.
        """
        self.x, self.original_x_shape = x, tuple(shape)

    # returns None with input_grad=False, so not quite Layer.backward's signature
    def backward(self, dout: NDArray[Any],  # type: ignore[override]
                 input_grad: bool = True) -> Optional[NDArray[Any]]:
        """Write dW, db; return dx (``None`` with ``input_grad=False``, which saves a matmul)."""
        if self.x is None:
            self._need_forward("the input")
        np.matmul(self.x.T, dout, out=self.dW, casting="same_kind")
        np.add.reduce(dout, axis=0, out=self.db)  # np.sum, without its wrapper
        if not input_grad:
            return None
        return (dout @ self.W.T).reshape(self.original_x_shape)

    def __repr__(self) -> str:
        return f"Affine({self.W.shape[0]} -> {self.W.shape[1]}, {self.W.dtype})"


class ReLU(Layer):
    """``max(0, x)``; the gradient at 0 is 0 (the book's ``Relu`` layer). Fused kernels."""

    x: Optional[NDArray[Any]] = None

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        x = np.ascontiguousarray(x)
        self.record_input(x)
        out = np.empty_like(x)
        _backend.kernels().relu_forward(x.reshape(-1), out.reshape(-1))
        return out

    def record_input(self, x: NDArray[Any]) -> None:
        """Keep a forward's input for :meth:`backward` (the gradient passes where x > 0).

        :meth:`forward` calls it; so does a fused stage
        (:class:`fastopt.nn.fused.FusedHidden`) that applies ``max(0, x)`` in its
        own kernel.

        Parameters
        ----------
        x : ndarray
            The input (a C-contiguous copy is kept if it is not contiguous;
            otherwise *x* itself, not copied).
        """
        self.x = np.ascontiguousarray(x)

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self.x is None:
            self._need_forward("the input")
        if dout.shape != self.x.shape:
            raise ValueError(f"dout has shape {dout.shape}, the forward input had {self.x.shape}")
        dout = np.ascontiguousarray(dout)
        dx = np.empty_like(dout)
        _backend.kernels().relu_backward(self.x.reshape(-1), dout.reshape(-1), dx.reshape(-1))
        return dx


Relu = ReLU


class LeakyReLU(Layer):
    """``x`` for x > 0, ``slope·x`` otherwise."""

    mask: Optional[NDArray[Any]]

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = float(slope)
        self.mask = None

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        self.mask = x <= 0
        return np.where(self.mask, x * x.dtype.type(self.slope), x)

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self.mask is None:
            self._need_forward("the mask")
        return np.where(self.mask, dout * dout.dtype.type(self.slope), dout)

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``; backward ``dout·(1 − y)·y``."""

    out: Optional[NDArray[Any]] = None

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        with np.errstate(over="ignore"):  # exp overflow gives 0, the right limit
            self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self.out is None:
            self._need_forward("the output")
        return dout * (1 - self.out) * self.out


class Tanh(Layer):
    """``tanh(x)``; backward ``dout·(1 − y²)``."""

    out: Optional[NDArray[Any]] = None

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self.out is None:
            self._need_forward("the output")
        return dout * (1 - self.out * self.out)


def softmax(x: NDArray[Any]) -> NDArray[Any]:
    """Softmax over the last axis, shifted by the row maximum (the book's form)."""
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=-1, keepdims=True)


def cross_entropy_error(y: NDArray[Any], t: NDArray[Any]) -> np.floating[Any]:
    """Mean over the batch of −log(y[n, t_n] + 1e-7); t as indices or one-hot (the book's)."""
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


class Softmax(Layer):
    """Softmax over the last axis, with its Jacobian-vector product as backward."""

    out: Optional[NDArray[Any]] = None

    def forward(self, x: NDArray[Any], train: bool = True) -> NDArray[Any]:
        self.out = softmax(x)
        return self.out

    def backward(self, dout: NDArray[Any]) -> NDArray[Any]:
        if self.out is None:
            self._need_forward("the output")
        return self.out * (dout - np.sum(dout * self.out, axis=-1, keepdims=True))


def _label_range_error(t: NDArray[Any], c: int) -> ValueError:
    return ValueError(f"labels t must lie in [0, {c}), got values in [{t.min()}, {t.max()}]")


class SoftmaxWithLoss(Layer):
    """Softmax then cross-entropy (the book's last layer).

    ``forward(x, t)`` returns the mean loss ``−Σ log(y[n, t_n] + 1e-7) / N``;
    ``t`` holds class indices (N,) or one-hot rows (N, C). ``backward()``
    returns ``(y − t)/N``. The loss equals the book's ``softmax`` and
    ``cross_entropy_error`` to the bit: the exponentials, logarithms and row
    sums are NumPy's; the steps between run as kernels
    (``fastopt.reference.softmax`` gives the recipe).
    """

    y: Optional[NDArray[Any]] = None
    t: Any = None

    @staticmethod
    def check_labels(t: ArrayLike, n: int, c: int, check_range: bool = True) -> NDArray[Any]:
        """*t* as an array, if it holds labels for N = *n* samples of C = *c* classes.

        Class indices (N,) in [0, C) or one-hot rows (N, C); anything else raises a
        ``ValueError``/``TypeError`` that says what was expected. (Networks call this
        before their forward, so a bad batch changes no running statistic.)
        ``check_range=False`` leaves the [0, C) test to the caller.
        """
        t = np.asarray(t)
        if t.shape == (n,):
            if t.dtype.kind not in "iu":
                raise TypeError(f"labels t must be integers when given as indices, got {t.dtype}")
            # ufunc reductions: NumPy's .min()/.max() wrappers cost ~2 us each inside a step
            if check_range and n and (np.minimum.reduce(t) < 0 or np.maximum.reduce(t) >= c):
                raise _label_range_error(t, c)
        elif t.shape != (n, c):
            raise ValueError(f"labels t must have shape ({n},) or ({n}, {c}), got {t.shape}")
        return t

    # a loss layer's forward takes the targets too (the book's), unlike Layer.forward
    def forward(self, x: NDArray[Any], t: ArrayLike,  # type: ignore[override]
                train: bool = True) -> np.floating[Any]:
        if x.ndim != 2:
            raise ValueError(f"SoftmaxWithLoss takes (N, C) scores, got shape {x.shape}")
        n, c = x.shape
        kernel_path = x.dtype.kind == "f" and n and c
        # on the kernel path softmax_pick counts the labels outside [0, C) itself
        t = self.check_labels(t, n, c, check_range=not kernel_path)
        if not kernel_path:  # nothing for the kernels to do
            self.y, self.t = softmax(x), t
            return cross_entropy_error(self.y, t)
        index = t if t.ndim == 1 else t.argmax(axis=1)
        kernels = _backend.kernels()
        x = np.ascontiguousarray(x)
        e = np.empty_like(x)
        kernels.softmax_shift(x, e)
        np.exp(e, out=e)
        sums = np.add.reduce(e, axis=1)
        y, picks = np.empty_like(e), np.empty(n, e.dtype)
        if kernels.softmax_pick(e, sums, index, y, picks):
            raise _label_range_error(t, c)
        self.y, self.t = y, t
        np.log(picks, out=picks)
        return -np.add.reduce(picks) / n  # np.sum's result, without its wrapper (~5 us in a step)

    def backward(self, dout: Any = 1) -> NDArray[Any]:
        if self.y is None:
            self._need_forward("the softmax output")
        n = self.y.shape[0]
        if self.t.shape == self.y.shape:
            return (self.y - self.t) / n
        if self.y.dtype.kind != "f" or not self.y.size:
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
            return dx / n
        dx = np.empty_like(self.y)
        _backend.kernels().softmax_xent_backward(self.y, self.t, dx)
        return dx


class SumSquaredError(Layer):
    """The book's ``sum_squared_error``: ½·Σ(y − t)² over the whole batch (a sum, not a mean)."""

    diff: Optional[NDArray[Any]] = None

    # a loss layer's forward takes the targets too (the book's), unlike Layer.forward
    def forward(self, y: NDArray[Any], t: ArrayLike,  # type: ignore[override]
                train: bool = True) -> float:
        self.diff = y - t
        return 0.5 * float(np.sum(self.diff * self.diff))

    def backward(self, dout: Any = 1) -> NDArray[Any]:
        if self.diff is None:
            self._need_forward("the difference")
        return self.diff * dout


class MeanSquaredError(Layer):
    """``mean((y − t)²)`` over every element (PyTorch's ``MSELoss``)."""

    diff: Optional[NDArray[Any]] = None

    # a loss layer's forward takes the targets too (the book's), unlike Layer.forward
    def forward(self, y: NDArray[Any], t: ArrayLike,  # type: ignore[override]
                train: bool = True) -> float:
        self.diff = y - t
        return float(np.mean(self.diff * self.diff))

    def backward(self, dout: Any = 1) -> NDArray[Any]:
        if self.diff is None:
            self._need_forward("the difference")
        return self.diff * (2 * dout / self.diff.size)
