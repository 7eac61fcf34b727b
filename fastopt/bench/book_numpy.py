"""The book's code in plain NumPy: the benchmarks' peer and the tests' oracle.

*Deep Learning from Scratch*'s ``common/optimizer.py`` (SGD, Momentum,
Nesterov, AdaGrad, RMSprop, Adam), the layers of ``common/layers.py`` that
``MultiLayerNetExtend`` uses (Affine, Relu, Sigmoid, BatchNormalization, Dropout,
SoftmaxWithLoss), ``common/multi_layer_net.py``, ``common/multi_layer_net_extend.py``
and ``common/trainer.py``, written out operation by operation as the book
evaluates them, temporaries included: this is what "the book's NumPy code"
costs, and what ``fastopt.book`` must reproduce to the bit (the tests compare
against it). Nothing here calls fastopt.

Differences from the book, none of which changes the work done:

* ``MultiLayerNetExtend`` takes ``dtype`` (the book's arrays are float64 from
  ``np.random.randn``; the benchmarks cast the initial parameters to float32)
  and ``seed`` (weights and dropout masks from a private
  ``np.random.RandomState`` instead of the global one, same calls).
* ``Nesterov`` is the book's corrected form (2021 errata), the order fastopt's
  ``fastopt.book.Nesterov`` follows.
* Under NumPy 2 (NEP 50) the book's ``lr_t`` (a NumPy float64) makes Adam's
  last update run in float64 for float32 parameters, exactly as the book's
  code does when run on NumPy 2.
"""
# The book's code as printed: keep its idioms (``dict.keys()``, unused unpacking, parentheses).
# ruff: noqa: SIM118, RUF059, UP034
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Optional

import numpy as np

#: The book's ``params`` and ``grads``: name -> array (or a Python float, as in its 2-D demo).
Params = Dict[str, Any]

# ----------------------------------------------------------------- common/optimizer.py


class SGD:
    """Stochastic gradient descent: ``W <- W - lr·dW``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: Params, grads: Params) -> None:
        for key in params.keys():
            params[key] -= self.lr * grads[key]


def _zeros_like(params: Params) -> Params:
    """The book's optimizer state, allocated on the first update: zeros shaped like each parameter."""
    return {key: np.zeros_like(val) for key, val in params.items()}


class _Velocity:
    """Momentum's and Nesterov's hyperparameters and velocity ``v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr = lr
        self.momentum = momentum
        self.v: Optional[Params] = None


class Momentum(_Velocity):
    """Heavy-ball momentum: ``v <- momentum·v - lr·dW; W <- W + v``."""

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros_like(params)
        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov(_Velocity):
    """Nesterov's accelerated gradient, the book's (corrected) form."""

    def update(self, params: Params, grads: Params) -> None:
        if self.v is None:
            self.v = _zeros_like(params)
        for key in params.keys():
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]


class AdaGrad:
    """AdaGrad: ``h <- h + dW²; W <- W - lr·dW/(√h + 1e-7)``."""

    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: Optional[Params] = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros_like(params)
        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    """RMSprop: ``h <- ρh + (1-ρ)dW²; W <- W - lr·dW/(√h + 1e-7)``."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        self.lr = lr
        self.decay_rate = decay_rate
        self.h: Optional[Params] = None

    def update(self, params: Params, grads: Params) -> None:
        if self.h is None:
            self.h = _zeros_like(params)
        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """Adam, the book's form (ε = 1e-7 on the uncorrected √v)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m: Optional[Params] = None
        self.v: Any = None  # set with m, on the first update

    def update(self, params: Params, grads: Params) -> None:
        if self.m is None:
            self.m, self.v = _zeros_like(params), _zeros_like(params)
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)
        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)}

# ----------------------------------------------------------------- common/functions.py


def sigmoid(x: Any) -> Any:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return 1 / (1 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax with the max subtracted."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y: np.ndarray, t: np.ndarray) -> Any:
    """Mean cross-entropy of probabilities *y* for labels (or one-hot) *t*."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size

# ----------------------------------------------------------------- common/layers.py


class Relu:
    """ReLU with a stored boolean mask."""

    def __init__(self) -> None:
        self.mask: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout: Any) -> Any:
        dout[self.mask] = 0
        dx = dout
        return dx


class Sigmoid:
    """Sigmoid with its stored output."""

    def __init__(self) -> None:
        self.out: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out = sigmoid(x)
        self.out = out
        return out

    def backward(self, dout: Any) -> Any:
        dx = dout * (1.0 - self.out) * self.out
        return dx


class Affine:
    """``out = x·W + b``."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W = W
        self.b = b
        self.x: Any = None
        self.original_x_shape: Any = None
        self.dW: Any = None
        self.db: Any = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout: Any) -> Any:
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class SoftmaxWithLoss:
    """Softmax followed by the cross-entropy loss."""

    def __init__(self) -> None:
        self.loss: Any = None
        self.y: Any = None
        self.t: Any = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> Any:
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout: Any = 1) -> np.ndarray:
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


class Dropout:
    """The book's (non-inverted) dropout with a stored boolean mask."""

    def __init__(self, dropout_ratio: float = 0.5, random: Any = np.random) -> None:
        self.dropout_ratio = dropout_ratio
        self.mask: Any = None
        self._random = random

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        if train_flg:
            self.mask = self._random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout: Any) -> Any:
        return dout * self.mask


class BatchNormalization:
    """The book's batch normalisation (eps 10e-7, biased running variance)."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 running_mean: Optional[np.ndarray] = None,
                 running_var: Optional[np.ndarray] = None) -> None:
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape: Any = None
        self.running_mean: Any = running_mean
        self.running_var: Any = running_var
        self.batch_size: Any = None
        self.xc: Any = None
        self.std: Any = None
        self.dgamma: Any = None
        self.dbeta: Any = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        self.input_shape = x.shape
        if x.ndim != 2:
            N = x.shape[0]
            x = x.reshape(N, -1)
        out = self._forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def _forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D)
            self.running_var = np.zeros(D)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / ((np.sqrt(self.running_var + 10e-7)))
        out = self.gamma * xn + self.beta
        return out

    def backward(self, dout: Any) -> Any:
        if dout.ndim != 2:
            N = dout.shape[0]
            dout = dout.reshape(N, -1)
        dx = self._backward(dout)
        dx = dx.reshape(*self.input_shape)
        return dx

    def _backward(self, dout: np.ndarray) -> np.ndarray:
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        self.dgamma = dgamma
        self.dbeta = dbeta
        return dx

# ----------------------------------------------------------------- common/multi_layer_net_extend.py


class MultiLayerNetExtend:
    """The book's extended fully connected network (Affine → [BatchNorm] → ReLU → [Dropout]) × L.

    Parameters
    ----------
    input_size, hidden_size_list, output_size, activation, weight_init_std,
    weight_decay_lambda, use_dropout, dropout_ration, use_batchnorm
        As in the book (``activation``: ``'relu'`` or ``'sigmoid'``).
    dtype : numpy dtype, optional
        Cast the initial parameters to this dtype (the book: float64).
    seed : int, optional
        Draw weights and dropout masks from ``np.random.RandomState(seed)``
        instead of the global ``np.random``.
    """

    def __init__(self, input_size: int, hidden_size_list: Any, output_size: int,
                 activation: str = "relu", weight_init_std: Any = "relu",
                 weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False, *,
                 dtype: Any = None, seed: Optional[int] = None) -> None:
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout = use_dropout
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = use_batchnorm
        self.params: Params = {}
        self._random = np.random if seed is None else np.random.RandomState(seed)
        self._dtype = dtype
        self._init_weight(weight_init_std)

        activation_layer: Dict[str, Any] = {"sigmoid": Sigmoid, "relu": Relu}
        self.layers: OrderedDict[str, Any] = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = Affine(self.params["W" + str(idx)],
                                                      self.params["b" + str(idx)])
            if self.use_batchnorm:
                self.params["gamma" + str(idx)] = self._cast(np.ones(hidden_size_list[idx - 1]))
                self.params["beta" + str(idx)] = self._cast(np.zeros(hidden_size_list[idx - 1]))
                self.layers["BatchNorm" + str(idx)] = BatchNormalization(
                    self.params["gamma" + str(idx)], self.params["beta" + str(idx)])
            self.layers["Activation_function" + str(idx)] = activation_layer[activation]()
            if self.use_dropout:
                self.layers["Dropout" + str(idx)] = Dropout(dropout_ration, self._random)
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = Affine(self.params["W" + str(idx)],
                                                  self.params["b" + str(idx)])
        self.last_layer = SoftmaxWithLoss()

    def _cast(self, a: np.ndarray) -> np.ndarray:
        return a if self._dtype is None else a.astype(self._dtype)

    def _init_weight(self, weight_init_std: Any) -> None:
        all_size_list = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(all_size_list)):
            scale = weight_init_std
            if str(weight_init_std).lower() in ("relu", "he"):
                scale = np.sqrt(2.0 / all_size_list[idx - 1])
            elif str(weight_init_std).lower() in ("sigmoid", "xavier"):
                scale = np.sqrt(1.0 / all_size_list[idx - 1])
            self.params["W" + str(idx)] = self._cast(
                scale * self._random.randn(all_size_list[idx - 1], all_size_list[idx]))
            self.params["b" + str(idx)] = self._cast(np.zeros(all_size_list[idx]))

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> Any:
        y = self.predict(x, train_flg)
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params["W" + str(idx)]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W ** 2)
        return self.last_layer.forward(y, t) + weight_decay

    def accuracy(self, X: np.ndarray, T: np.ndarray) -> Any:
        Y = self.predict(X, train_flg=False)
        Y = np.argmax(Y, axis=1)
        if T.ndim != 1:
            T = np.argmax(T, axis=1)
        return np.sum(Y == T) / float(X.shape[0])

    def gradient(self, x: np.ndarray, t: np.ndarray) -> Params:
        """Gradients of the loss by backpropagation, as a dict keyed like ``params``."""
        self.loss(x, t, train_flg=True)
        dout: Any = 1
        dout = self.last_layer.backward(dout)
        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads["W" + str(idx)] = (self.layers["Affine" + str(idx)].dW
                                     + self.weight_decay_lambda * self.params["W" + str(idx)])
            grads["b" + str(idx)] = self.layers["Affine" + str(idx)].db
            if self.use_batchnorm and idx != self.hidden_layer_num + 1:
                grads["gamma" + str(idx)] = self.layers["BatchNorm" + str(idx)].dgamma
                grads["beta" + str(idx)] = self.layers["BatchNorm" + str(idx)].dbeta
        return grads


# ----------------------------------------------------------------- common/multi_layer_net.py


class MultiLayerNet(MultiLayerNetExtend):
    """The book's plain fully connected network: (Affine → activation) × L.

    The book's ``MultiLayerNet`` builds the same layers, draws the same weights and
    computes the same loss and gradients as its ``MultiLayerNetExtend`` without
    dropout and batch norm, which is how it is written here. *dtype* and *seed* as
    in :class:`MultiLayerNetExtend`.
    """

    def __init__(self, input_size: int, hidden_size_list: Any, output_size: int,
                 activation: str = "relu", weight_init_std: Any = "relu",
                 weight_decay_lambda: float = 0, *, dtype: Any = None,
                 seed: Optional[int] = None) -> None:
        super().__init__(input_size, hidden_size_list, output_size, activation, weight_init_std,
                         weight_decay_lambda, dtype=dtype, seed=seed)


# ----------------------------------------------------------------- common/trainer.py

class Trainer:
    """The book's ``Trainer``: mini-batches with replacement from ``np.random``, lists per epoch."""

    def __init__(self, network: Any, x_train: np.ndarray, t_train: np.ndarray,
                 x_test: np.ndarray, t_test: np.ndarray, epochs: int = 20,
                 mini_batch_size: int = 100, optimizer: str = "SGD",
                 optimizer_param: Dict[str, Any] = {"lr": 0.01},  # noqa: B006 (the book's default)
                 evaluate_sample_num_per_epoch: Optional[int] = None,
                 verbose: bool = True) -> None:
        self.network = network
        self.verbose = verbose
        self.x_train = x_train
        self.t_train = t_train
        self.x_test = x_test
        self.t_test = t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        optimizer_class_dict: Dict[str, Any] = {
            "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
            "adagrad": AdaGrad, "rmsprop": RMSprop, "adam": Adam}
        self.optimizer = optimizer_class_dict[optimizer.lower()](**optimizer_param)
        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[Any] = []
        self.train_acc_list: list[Any] = []
        self.test_acc_list: list[Any] = []

    def train_step(self) -> None:
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose: print("train loss:" + str(loss))  # noqa: E701
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            x_train_sample, t_train_sample = self.x_train, self.t_train
            x_test_sample, t_test_sample = self.x_test, self.t_test
            if not self.evaluate_sample_num_per_epoch is None:  # noqa: E714
                t = self.evaluate_sample_num_per_epoch
                x_train_sample, t_train_sample = self.x_train[:t], self.t_train[:t]
                x_test_sample, t_test_sample = self.x_test[:t], self.t_test[:t]
            train_acc = self.network.accuracy(x_train_sample, t_train_sample)
            test_acc = self.network.accuracy(x_test_sample, t_test_sample)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose: print("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc) + ", test acc:" + str(test_acc) + " ===")  # noqa: E501, E701
        self.current_iter += 1

    def train(self) -> None:
        for i in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
