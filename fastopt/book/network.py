"""Drop-ins for the book's ``MultiLayerNet`` and ``MultiLayerNetExtend``.

Same signatures (``dropout_ration`` spelling included), the same parameter
names (``W1``, ``b1``, ..., ``gamma1``, ``beta1``), weight decay ½λ‖W‖² on the
weights only, the same ``train_flg`` semantics; built on
:class:`fastopt.nn.Sequential`, so parameters and gradients live in one flat
buffer and ``gradient`` allocates no gradient arrays. Weights are drawn with
``np.random.randn`` like the book (so ``np.random.seed`` reproduces the book's
networks) unless a ``seed`` is given.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import nn
from .._validate import check_float
from ..nn.gradcheck import numerical_gradient as _numerical_gradient

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}


def _weights(sizes: Sequence[int], weight_init_std: Union[float, str], seed: Any,
             dtype: Optional[DTypeLike]) -> List[NDArray[Any]]:
    """Every weight matrix, drawn before anything else in the book's order (W1, W2, ...).

    The book's ``__init_weight`` draws all weights first, so ``np.random.seed(s)``
    gives the book's weights only if nothing else (a dropout seed, say) is
    drawn from ``np.random`` between them.
    """
    rng = None if seed is None else np.random.default_rng(seed)
    weights: List[NDArray[Any]] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        std = nn.init.book_std(weight_init_std, n_in)
        noise = np.random.randn(n_in, n_out) if rng is None else rng.standard_normal((n_in, n_out))
        weights.append((std * noise).astype(dtype or np.float64, copy=False))
    return weights


def _layers(input_size: int, hidden_size_list: Sequence[int], output_size: int, activation: str,
            weight_init_std: Union[float, str], seed: Any, dtype: Optional[DTypeLike],
            make_extra: Optional[Callable[..., List[Tuple[str, nn.Layer]]]] = None
            ) -> List[Tuple[str, nn.Layer]]:
    key = str(activation).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(f"activation must be 'relu' or 'sigmoid' (the book's two), got {activation!r}")
    sizes = [input_size, *hidden_size_list, output_size]
    weights = _weights(sizes, weight_init_std, seed, dtype)
    layers: List[Tuple[str, nn.Layer]] = []
    for i, W in enumerate(weights, start=1):
        n_out = W.shape[1]
        layers.append((f"Affine{i}", nn.Affine(W, np.zeros(n_out, W.dtype))))
        if i < len(weights):
            if make_extra is not None:
                layers.extend(make_extra(i, n_out, W.dtype, "pre"))
            layers.append((f"Activation_function{i}", _ACTIVATIONS[key]()))
            if make_extra is not None:
                layers.extend(make_extra(i, n_out, W.dtype, "post"))
    return layers


def _book_names(index: int, layer_name: Any, local: str) -> str:  # layer_name: a str here
    number = "".join(ch for ch in layer_name if ch.isdigit())
    return f"{local}{number}"


class MultiLayerNet(nn.Sequential):
    """The book's fully connected network: (Affine → activation) × L, Affine, SoftmaxWithLoss.

    Parameters
    ----------
    input_size, hidden_size_list, output_size : int, list of int, int
    activation : {'relu', 'sigmoid'}
    weight_init_std : float or {'relu', 'he', 'sigmoid', 'xavier'}
        A number is the std; 'relu'/'he' give √(2/n_in), 'sigmoid'/'xavier' √(1/n_in).
    weight_decay_lambda : float
        λ of the penalty ½λ‖W‖² added to the loss for every weight matrix.
    seed : int or numpy.random.Generator, optional
        Draw the weights from this generator instead of ``np.random``.
    dtype : numpy dtype, optional
        Parameter dtype (default float64, as the book's ``randn``).
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Union[float, str] = "relu",
                 weight_decay_lambda: float = 0, *,
                 seed: Union[int, np.random.Generator, None] = None,
                 dtype: Optional[DTypeLike] = None) -> None:
        self.input_size, self.output_size = input_size, output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = check_float("weight_decay_lambda", weight_decay_lambda, low=0.0)
        layers = _layers(input_size, self.hidden_size_list, output_size, activation,
                         weight_init_std, seed, dtype, self._extra_layers)
        super().__init__(layers, nn.SoftmaxWithLoss(), param_names=_book_names)
        self.weight_names = [f"W{i}" for i in range(1, self.hidden_layer_num + 2)]
        #: the book's attributes: layers by name in order, and the loss layer
        # the book's layers: an OrderedDict by name, where Sequential's is a list
        self.layers = OrderedDict(zip(self.layer_names, self._layer_list))  # type: ignore[assignment]
        self.last_layer = self.loss_layer

    _extra_layers: Any = None

    def regularization(self) -> float:
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        return sum(0.5 * lam * float(np.sum(self.params[w] ** 2)) for w in self.weight_names)

    def _add_regularization_gradients(self) -> None:
        lam = self.weight_decay_lambda
        if lam:
            for w in self.weight_names:
                self.grads[w] += lam * self.params[w]

    def numerical_gradient(self, x: NDArray[Any], t: ArrayLike) -> Dict[str, NDArray[Any]]:
        """Central-difference gradients of :meth:`loss` for every parameter (slow; for checks)."""
        return {name: _numerical_gradient(lambda: self.loss(x, t, **self._numerical_kwargs()),
                                          self.params[name]) for name in self.params}

    def _numerical_kwargs(self) -> Dict[str, Any]:
        return {}

    @property
    def layer_dict(self) -> Any:
        """Layers by the book's names (``Affine1``, ``Activation_function1``, ...): :attr:`layers`."""
        return self.layers


class MultiLayerNetExtend(MultiLayerNet):
    """The book's extended network: (Affine → [BatchNorm] → activation → [Dropout]) × L, Affine.

    Parameters are those of :class:`MultiLayerNet` plus the book's
    ``use_dropout``, ``dropout_ration`` (sic) and ``use_batchnorm``.
    ``gamma{i}``/``beta{i}`` join ``params`` for each hidden layer when batch
    norm is on; weight decay applies to the weights only. ``predict``,
    ``loss`` and ``accuracy`` run in evaluation mode unless ``train_flg=True``;
    ``gradient`` (and ``numerical_gradient``) in training mode.

    The batch norm layers use the book preset (``fastopt.nn.BatchNorm``), the
    dropout layers the book's non-inverted dropout with a counter-based mask
    (``dropout_seed`` seeds it; default: drawn from ``np.random``).
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: Union[float, str] = "relu",
                 weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False, *,
                 seed: Union[int, np.random.Generator, None] = None,
                 dtype: Optional[DTypeLike] = None, dropout_seed: Optional[int] = None) -> None:
        self.use_dropout, self.dropout_ration = use_dropout, dropout_ration
        self.use_batchnorm = use_batchnorm
        self._dropout_seed = dropout_seed
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std,
                         weight_decay_lambda, seed=seed, dtype=dtype)

    def _extra_layers(self, i: int, width: int, dtype: Any, where: str) -> List[Tuple[str, nn.Layer]]:
        if where == "pre" and self.use_batchnorm:
            return [(f"BatchNorm{i}", nn.BatchNorm(np.ones(width, dtype), np.zeros(width, dtype)))]
        if where == "post" and self.use_dropout:
            if self._dropout_seed is None:  # drawn once, after every weight (as in the book)
                self._dropout_seed = int(np.random.randint(0, 2**31))
            seed = self._dropout_seed
            return [(f"Dropout{i}", nn.Dropout(self.dropout_ration, seed=(seed, i)))]
        return []

    def predict(self, x: NDArray[Any], train_flg: bool = False) -> NDArray[Any]:
        return super().predict(x, train_flg)

    def loss(self, x: NDArray[Any], t: ArrayLike, train_flg: bool = False) -> Any:
        return super().loss(x, t, train_flg)

    def accuracy(self, x: NDArray[Any], t: NDArray[Any], batch_size: Optional[int] = None) -> float:
        return super().accuracy(x, t, batch_size)

    def _numerical_kwargs(self) -> Dict[str, Any]:
        return {"train_flg": True}
