"""scikit-learn estimators on fastopt: :class:`MLPClassifier` and :class:`MLPRegressor`.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``
(same constructor parameters, defaults, methods and fitted attributes), trained by
fastopt's networks (:class:`fastopt.nn.Sequential`: parameters and gradients in one
flat buffer), optimizers (one fused kernel call per step) and kernels. They work
wherever a scikit-learn estimator does: ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``clone``, pickling and joblib's backends (Dask included).

What is scikit-learn's, to the formula
--------------------------------------
* Initialisation: Glorot uniform, ``U(-b, b)`` with ``b = sqrt(6/(fan_in + fan_out))``
  (factor 2 for ``activation="logistic"``), weights then intercepts, layer by layer,
  drawn from ``check_random_state(random_state)`` in scikit-learn's order: in float64
  the initial weights are scikit-learn's.
* Loss: mean cross-entropy (softmax output for multiclass, logistic for binary and
  multi-label, probabilities clipped to ``[eps, 1 - eps]``), ``½·mean((y − ŷ)²)``
  (squared error) or the half Poisson deviance (exp output), plus
  ``½·alpha·Σ‖W‖²/n_batch`` on the weights (not the intercepts); sample weights as
  scikit-learn's ``np.average``. Output delta ``ŷ − y``, gradients divided by the batch
  (weight) sum.
* ``solver="adam"``: scikit-learn's Adam, ``θ ← θ − η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε)``,
  which is :class:`fastopt.optim.Adam` with ``variant="book"``.
* ``solver="sgd"``: ``v ← μv − ηg; θ ← θ + v`` (:class:`fastopt.optim.Momentum`), or
  with ``nesterovs_momentum`` ``θ ← θ + μv − ηg`` (:class:`fastopt.optim.Nesterov`);
  ``learning_rate`` ``"constant"``, ``"invscaling"`` (``η = η₀/(t+1)^power_t`` with t the
  samples seen, updated after every epoch) or ``"adaptive"`` (η divided by 5 each time
  the loss/score stalls for ``n_iter_no_change`` epochs; stop when η ≤ 1e-6).
* Epochs: the sample order is shuffled every epoch with ``sklearn.utils.shuffle``
  from the same random state, batches of ``min(200, n)`` (``"auto"``); ``loss_`` is the
  sample-weighted mean of the batch losses; ``tol``/``n_iter_no_change`` count epochs
  whose training loss (or, with ``early_stopping``, validation score: accuracy or R²)
  did not improve by ``tol``; ``early_stopping`` holds out ``validation_fraction``
  (stratified for single-output classification) and restores the best weights.

What fastopt adds
-----------------
``optimizer`` (any :mod:`fastopt.optim` optimizer by name, e.g. ``"adamw"``,
``"rmsprop"``, ``"nadam"``, with ``optimizer_params``), ``batchnorm`` (PyTorch-style
batch normalisation after every hidden Affine; Affine → BatchNorm → ReLU runs as one
fused kernel), ``dropout`` (inverted dropout after every hidden activation),
``weight_init`` (``"glorot"`` as scikit-learn, or He/Xavier), ``dtype`` (float32 by
default: about twice the speed of float64 in the matrix products) and ``n_threads``
(kernel and BLAS threads while fitting and predicting).

``solver="lbfgs"`` is not supported (fastopt's optimizers are stochastic): it raises a
``ValueError`` naming the supported solvers.
"""
from __future__ import annotations

import contextlib
import numbers
import warnings
from typing import Any, Dict, Optional, Sequence, TypeVar, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

try:
    import scipy.sparse as _sp
    from scipy.special import expit as _expit
    from scipy.special import xlogy as _xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, gen_batches
    from sklearn.utils._available_if import available_if
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("fastopt.sklearn needs scikit-learn >= 1.6: "
                      "python -m pip install 'fastopt[sklearn]'") from exc

from . import _backend
from . import optim as _optim
from .nn import init as _init
from .nn.batchnorm import BatchNorm
from .nn.dropout import Dropout
from .nn.layers import Affine, ReLU, Sigmoid, Tanh
from .nn.network import Sequential

__all__ = ["MLPClassifier", "MLPRegressor"]

_Estimator = TypeVar("_Estimator", bound="_BaseMLP")

WEIGHT_INITS = ("glorot", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform")
_OPTIMIZERS = {cls.__name__.lower(): cls for cls in _optim.OPTIMIZERS}
_STOCHASTIC = ("sgd", "adam")

#: Estimator checks of ``sklearn.utils.estimator_checks`` this estimator is expected to
#: fail, with the reason (used by :meth:`_expected_failed_checks` and ``_more_tags``).
_XFAIL_COMMON = {
    "check_sample_weight_equivalence_on_dense_data":
        "stochastic solvers: a sample of weight 2 and two copies of it give different "
        "mini-batches and shuffles (scikit-learn's MLP passes this check only with lbfgs, "
        "which fastopt does not provide)",
    "check_sample_weight_equivalence_on_sparse_data":
        "stochastic solvers: as check_sample_weight_equivalence_on_dense_data",
}


@contextlib.contextmanager
def _thread_limit(n):
    """Kernel threads and BLAS threads at *n* inside the block (None: unchanged)."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    from . import _threads
    before = _threads.get_num_threads()
    limiter = threadpool_limits(limits=n, user_api="blas")
    try:
        _threads.set_kernel_threads(min(n, _max_threads()))
        yield
    finally:
        _threads.set_kernel_threads(before)
        limiter.restore_original_limits()


def _max_threads():
    try:
        import numba
        return numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        return 1


class _OutputLoss:
    """scikit-learn's output activation + loss, as a fastopt loss layer.

    ``forward(z, t)`` returns the (sample-weighted) loss of scores *z*; ``backward()``
    returns ``(act(z) − y)·w / Σw``. ``t`` is class indices for ``"softmax"``, else an
    array of the output's shape. ``sample_weight`` is set per batch by the estimator.
    """

    def __init__(self, kind):
        self.kind = kind
        self.sample_weight = None
        self.p = self.t = None
        self._rows = np.arange(0)

    def activate(self, z):
        """The output activation of scores *z* (a new array)."""
        if self.kind == "softmax":
            # z − row max by fastopt's kernel (NumPy's max over a short axis 1 costs ~30 us
            # per batch of 200 x 10), then NumPy's exp and pairwise row sums, as sklearn's
            z = np.ascontiguousarray(z)
            p = np.empty_like(z)
            if z.size:
                _backend.kernels().softmax_shift(z, p)
            np.exp(p, out=p)
            p /= np.add.reduce(p, axis=1, keepdims=True)
            return p
        if self.kind == "logistic":
            return _expit(z)
        if self.kind == "exp":
            return np.exp(z)
        return np.array(z, copy=True)

    def _average(self, values):
        """scikit-learn's ``np.average(values, weights=sample_weight, axis=0)``."""
        w = self.sample_weight
        if w is None:
            return np.add.reduce(values, axis=0) / len(values)
        return (w @ values.reshape(len(w), -1)).reshape(values.shape[1:]) / w.sum()

    def forward(self, z, t, train=True):
        p = self.activate(z)
        self.p, self.t = p, t
        if self.kind == "softmax":
            eps = np.finfo(p.dtype).eps
            picks = p[self._row_index(len(t)), t]
            np.minimum(np.maximum(picks, eps, out=picks), 1 - eps, out=picks)  # np.clip
            return -float(self._average(np.log(picks, out=picks)))
        if self.kind == "logistic":
            eps = np.finfo(p.dtype).eps
            q = np.clip(p, eps, 1 - eps)
            return -float(self._average(_xlogy(t, q) + _xlogy(1 - t, 1 - q)).sum())
        if self.kind == "exp":
            return float(self._average(_xlogy(t, t / p) - t + p).sum())
        diff = t - p
        return 0.5 * float(self._average(diff * diff).mean())

    def _row_index(self, n):
        if len(self._rows) != n:
            self._rows = np.arange(n)
        return self._rows

    def backward(self, dout=1):
        p, t = self.p, self.t
        if self.kind == "softmax":
            if self.sample_weight is None and p.size:  # (p − onehot)/N in one kernel
                d = np.empty_like(p)
                _backend.kernels().softmax_xent_backward(p, t, d)
                return d
            d = p.copy()
            d[self._row_index(len(t)), t] -= 1
        else:
            d = p - t
        w = self.sample_weight
        if w is None:
            d *= d.dtype.type(1.0 / len(d))
        else:
            d *= (w / w.sum()).astype(d.dtype, copy=False)[:, None]
        return d


class _Network(Sequential):
    """A Sequential with scikit-learn's L2 term: ``½·alpha·Σ‖W‖²/Σw`` on the weights."""

    def __init__(self, layers, loss, *, dtype, alpha):
        super().__init__(layers, loss, dtype=dtype)
        self.alpha = alpha
        self.affines = [layer for layer in self.layers if isinstance(layer, Affine)]

    def _denominator(self):
        w = self.loss_layer.sample_weight
        return float(w.sum()) if w is not None else float(len(self.loss_layer.t))

    def regularization(self):
        if not self.alpha:
            return 0.0
        total = sum(float(np.vdot(a.W, a.W)) for a in self.affines)
        return 0.5 * self.alpha * total / self._denominator()

    def _add_regularization_gradients(self):
        if self.alpha:
            c = self.alpha / self._denominator()
            for a in self.affines:
                a.dW += a.dW.dtype.type(c) * a.W


def _activation_layer(name):
    return {"relu": ReLU, "tanh": Tanh, "logistic": Sigmoid}[name]() if name != "identity" else None


class _BaseMLP(BaseEstimator):
    """The shared machinery; use :class:`MLPClassifier` or :class:`MLPRegressor`."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [None, StrOptions(set(_OPTIMIZERS))],
        "optimizer_params": [None, dict],
        "batchnorm": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_init": [StrOptions(set(WEIGHT_INITS))],
        "dtype": "no_validation",
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    def _keep_parameters(self, arguments: Dict[str, Any]) -> None:
        """Store every ``__init__`` argument (its ``locals()``) unchanged under its own name,
        as scikit-learn's estimators do (``get_params`` reads them back)."""
        for name, value in arguments.items():
            if name not in ("self", "__class__"):
                setattr(self, name, value)

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        self._validate_params()
        if self.solver not in _STOCHASTIC:
            raise ValueError(
                f"solver={self.solver!r} is not supported by fastopt.sklearn.{type(self).__name__}: "
                f"fastopt's optimizers are stochastic; use solver='adam' or 'sgd' (or "
                f"optimizer=<one of {sorted(_OPTIMIZERS)}>), or scikit-learn's own estimator "
                "for L-BFGS")
        dtype = np.dtype(self.dtype) if self.dtype is not None else None
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {self.dtype!r}")
        hidden = self.hidden_layer_sizes
        hidden = list(hidden) if hasattr(hidden, "__iter__") else [hidden]
        if any(not isinstance(h, numbers.Integral) or h <= 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        return dtype, [int(h) for h in hidden]

    def _check_solver(self):
        if self.solver not in _STOCHASTIC:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    @staticmethod
    def _dense(X):
        return X.toarray() if _sp.issparse(X) else X

    # ------------------------------------------------------------------ building
    def _init_coef(self, fan_in, fan_out, dtype, rs):
        if self.weight_init == "glorot":  # scikit-learn's draws, in its order
            factor = 2.0 if self.activation == "logistic" else 6.0
            bound = np.sqrt(factor / (fan_in + fan_out))
            W = rs.uniform(-bound, bound, (fan_in, fan_out))
            b = rs.uniform(-bound, bound, fan_out)
            return W.astype(dtype), b.astype(dtype)
        seed = int(rs.randint(np.iinfo(np.int32).max))
        W = getattr(_init, self.weight_init)((fan_in, fan_out), seed=seed, dtype=dtype)
        return W, np.zeros(fan_out, dtype)

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        rs = self._random_state
        layers = []
        for i in range(self.n_layers_ - 1):
            W, b = self._init_coef(layer_units[i], layer_units[i + 1], dtype, rs)
            layers.append(Affine(W, b))
            if i == self.n_layers_ - 2:
                break
            d = layer_units[i + 1]
            if self.batchnorm:
                layers.append(BatchNorm(np.ones(d, dtype), np.zeros(d, dtype), momentum=0.9,
                                        preset="standard"))
            act = _activation_layer(self.activation)
            if act is not None:
                layers.append(act)
            if self.dropout:
                layers.append(Dropout(self.dropout, inverted=True,
                                      seed=int(rs.randint(np.iinfo(np.int32).max))))
        self._network = _Network(layers, _OutputLoss(self.out_activation_), dtype=dtype,
                                 alpha=self.alpha)
        self._layer_units = list(layer_units)
        self._expose()
        self._optimizer = None
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _expose(self):
        """``coefs_``/``intercepts_`` as views of the network's flat parameter buffer."""
        net = self._network
        self.coefs_ = [a.W for a in net.affines]
        self.intercepts_ = [a.b for a in net.affines]

    def _sync(self):
        """Copy ``coefs_``/``intercepts_`` into the network where a user replaced them."""
        changed = False
        for a, W, b in zip(self._network.affines, self.coefs_, self.intercepts_):
            if W is not a.W:
                a.W[...] = W
                changed = True
            if b is not a.b:
                a.b[...] = b
                changed = True
        if changed:
            self._expose()

    def _make_optimizer(self):
        params = self._network.params
        lr = float(self.learning_rate_init)
        extra = dict(self.optimizer_params or {})
        if self.optimizer is not None:
            return _OPTIMIZERS[self.optimizer](params, lr=lr, **extra)
        if self.solver == "adam":
            return _optim.Adam(params, lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon,
                               variant="book", **extra)
        if self.momentum == 0:
            return _optim.SGD(params, lr=lr, **extra)
        cls = _optim.Nesterov if self.nesterovs_momentum else _optim.Momentum
        return cls(params, lr=lr, momentum=float(self.momentum), **extra)

    def _uses_schedule(self):
        return self.optimizer is not None or self.solver == "sgd"

    # ------------------------------------------------------------------ fitting
    def fit(self: _Estimator, X: ArrayLike, y: ArrayLike,
            sample_weight: Optional[ArrayLike] = None) -> _Estimator:
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental):
        dtype, hidden = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, dtype)
        else:
            if layer_units != self._layer_units:
                raise ValueError(f"the network has layer sizes {self._layer_units}, the data and "
                                 f"hidden_layer_sizes give {layer_units}; refit with "
                                 "warm_start=False")
            self._sync()
        self.n_outputs_ = y.shape[1]
        with _thread_limit(self.n_threads):
            self._fit_stochastic(X, y, sample_weight, incremental)
        if not all(np.isfinite(w).all() for w in (*self.coefs_, *self.intercepts_)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may "
                             "contain large values and need to be preprocessed.")
        return self

    def _targets(self, y):
        """What the loss layer takes: class indices for softmax, else y in the network dtype."""
        if self.out_activation_ == "softmax":
            return np.argmax(y, axis=1)
        return np.asarray(y, dtype=self.coefs_[0].dtype)

    def _fit_stochastic(self, X, y, sample_weight, incremental):
        net = self._network
        if not incremental or self._optimizer is None:
            self._optimizer = self._make_optimizer()
            self._lr = float(self.learning_rate_init)
        opt = self._optimizer
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, y_train, y_val = split[:4]
            sw_train, sw_val = (split[4], split[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
            X_val = y_val = sw_val = None
        targets = self._targets(y_train)
        sparse = _sp.issparse(X_train)
        n_samples = X_train.shape[0]
        sample_idx = np.arange(n_samples, dtype=int)
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        loss_layer = net.loss_layer
        step = opt.step
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:  # sklearn.utils.shuffle's draw, without its argument checks
                    perm = np.arange(n_samples)
                    self._random_state.shuffle(perm)
                    sample_idx = sample_idx[perm]
                accumulated = 0.0
                for batch in gen_batches(n_samples, batch_size):
                    idx = sample_idx[batch] if self.shuffle else batch
                    xb = X_train[idx]
                    if sparse:
                        xb = xb.toarray()
                    loss_layer.sample_weight = None if sw_train is None else sw_train[idx]
                    grads = net.gradient(xb, targets[idx])
                    step(grads)
                    accumulated += net.last_loss * (batch.stop - batch.start)
                loss_layer.sample_weight = None
                self.n_iter_ += 1
                self.loss_ = accumulated / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                self._iteration_ends()
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (f"{what} did not improve more than tol={self.tol:f} for "
                           f"{self.n_iter_no_change} consecutive epochs.")
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                                  "reached and the optimization hasn't converged yet.",
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        finally:
            loss_layer.sample_weight = None
            loss_layer.p = loss_layer.t = None
        if early_stopping:  # restore the best weights (into the network's buffer)
            for a, W, b in zip(net.affines, self._best_coefs, self._best_intercepts):
                a.W[...] = W
                a.b[...] = b
            self._expose()

    def _set_lr(self, lr):
        self._lr = lr
        for group in self._optimizer.param_groups:
            group["lr"] = lr

    def _iteration_ends(self):
        """scikit-learn's ``SGDOptimizer.iteration_ends``: the invscaling schedule."""
        if self._uses_schedule() and self.learning_rate == "invscaling":
            self._set_lr(float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t)

    def _trigger_stopping(self, msg):
        """scikit-learn's ``trigger_stopping``: adaptive divides η by 5, others stop."""
        if not (self._uses_schedule() and self.learning_rate == "adaptive"):
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._lr <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._set_lr(self._lr / 5.0)
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._lr)
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            score = self._score(X_val, y_val, sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [c.copy() for c in self.coefs_]
                self._best_intercepts = [b.copy() for b in self.intercepts_]
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ------------------------------------------------------------------ predicting
    def _forward(self, X, check_input=True):
        """Output activations for X (after the output activation)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                              dtype=self.coefs_[0].dtype)
        self._sync()
        net = self._network
        n = X.shape[0]
        chunk = 8192
        with _thread_limit(self.n_threads):
            parts = []
            for lo in range(0, max(n, 1), chunk):
                xb = self._dense(X[lo:lo + chunk])
                if xb.dtype != self.coefs_[0].dtype:
                    xb = xb.astype(self.coefs_[0].dtype)
                parts.append(net.loss_layer.activate(net.predict(xb, False)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _score(self, X, y, sample_weight=None):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(super().__getstate__())  # object.__getstate__ returns __dict__ itself
        net = state.pop("_network", None)
        opt = state.pop("_optimizer", None)
        if net is not None:
            state["coefs_"] = [np.array(c) for c in self.coefs_]
            state["intercepts_"] = [np.array(b) for b in self.intercepts_]
            state["_network_state"] = {
                "params": {k: np.array(v) for k, v in net.params.items()},
                "buffers": {k: np.array(v) for k, v in net.buffers().items()},
                "dropout_seeds": [layer.seed for layer in net.layers if isinstance(layer, Dropout)],
                "optimizer": None if opt is None else opt.state_dict()}
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        saved = state.pop("_network_state", None)
        super().__setstate__(state)
        if saved is None:
            return
        dtype = self.coefs_[0].dtype
        rs = np.random.RandomState(0)  # structure only: every value is overwritten below
        keep, self._random_state = getattr(self, "_random_state", None), rs
        coefs, intercepts = self.coefs_, self.intercepts_
        y_stub = np.zeros((1, self.n_outputs_))
        counters = (self.n_iter_, self.t_, self.loss_curve_, self._no_improvement_count,
                    self.best_loss_, self.validation_scores_, self.best_validation_score_,
                    self._best_coefs, self._best_intercepts)
        self._initialize(y_stub, self._layer_units, dtype)
        (self.n_iter_, self.t_, self.loss_curve_, self._no_improvement_count, self.best_loss_,
         self.validation_scores_, self.best_validation_score_, self._best_coefs,
         self._best_intercepts) = counters
        self._random_state = keep
        net = self._network
        for k, v in saved["params"].items():
            net.params[k][...] = v
        for k, v in net.buffers().items():
            v[...] = saved["buffers"][k]
        for layer, seed in zip([x for x in net.layers if isinstance(x, Dropout)], saved["dropout_seeds"]):
            layer.seed = seed
        self._expose()
        for W, b, W0, b0 in zip(self.coefs_, self.intercepts_, coefs, intercepts):
            W[...], b[...] = W0, b0
        if saved["optimizer"] is not None:
            self._optimizer = self._make_optimizer()
            self._optimizer.load_state_dict(saved["optimizer"], strict=False)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @classmethod
    def _expected_failed_checks(cls) -> Dict[str, str]:
        """Estimator checks expected to fail, name -> reason (for ``parametrize_with_checks``)."""
        return dict(_XFAIL_COMMON)

    def _more_tags(self):  # scikit-learn < 1.6 reads expected failures from here
        return {"_xfail_checks": self._expected_failed_checks()}


_SKLEARN_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default (100,)
        Units of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
        Hidden activation.
    solver : {"adam", "sgd"}, default "adam"
        ``"adam"``: θ ← θ − η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε) (scikit-learn's form,
        :class:`fastopt.optim.Adam` with ``variant="book"``). ``"sgd"``: v ← μv − ηg,
        θ ← θ + v (``nesterovs_momentum``: θ ← θ + μv − ηg). ``"lbfgs"`` raises a
        ``ValueError`` (not supported).
    alpha : float, default 1e-4
        L2 penalty ``½·alpha·Σ‖W‖²/n_batch`` on the weights (not the intercepts).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)``; clipped to ``[1, n_samples]`` with a warning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        ``solver="sgd"`` (and any ``optimizer``) only: ``"invscaling"``
        η = η₀/(t + 1)^power_t after each epoch (t = samples seen); ``"adaptive"``
        η/5 whenever ``n_iter_no_change`` epochs fail to improve by ``tol``, stopping
        once η ≤ 1e-6.
    learning_rate_init : float, default 1e-3
        η₀.
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (each sample seen once per epoch).
    shuffle : bool, default True
        Shuffle the sample order every epoch (drawn as ``sklearn.utils.shuffle``).
    random_state : int, RandomState instance or None, default None
        Initial weights, shuffles, the early-stopping split (and dropout seeds).
    tol : float, default 1e-4
        An epoch improves if the training loss drops by more than ``tol`` (or, with
        ``early_stopping``, the validation score rises by at least ``tol``).
    verbose : bool, default False
        Print the loss after each epoch.
    warm_start : bool, default False
        ``fit`` continues from the current weights (a new optimizer, as scikit-learn).
    momentum : float in [0, 1], default 0.9
        μ of ``solver="sgd"``.
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified for single-output
        classification), stop on its score, restore the best weights.
    validation_fraction : float in [0, 1), default 0.1
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
        Adam's β₁, β₂.
    epsilon : float, default 1e-8
        Adam's ε.
    n_iter_no_change : int, default 10
        Epochs without improvement before stopping (or dividing η, ``"adaptive"``).
    max_fun : int, default 15000
        Accepted for compatibility (used by L-BFGS only).
"""

_FASTOPT_PARAMS_DOC = """
    optimizer : str, optional
        Any :mod:`fastopt.optim` optimizer by lower-case class name (``"sgd"``,
        ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adadelta"``,
        ``"adam"``, ``"adamw"``, ``"amsgrad"``, ``"adamax"``, ``"nadam"``) with
        ``lr=learning_rate_init`` and ``optimizer_params``; overrides ``solver``'s
        optimizer (``learning_rate`` schedules then apply). Default: ``solver``'s.
    optimizer_params : dict, optional
        Extra keyword arguments of that optimizer (e.g. ``{"weight_decay": 1e-2}``).
    batchnorm : bool, default False
        Batch normalisation (PyTorch's numerics) after every hidden Affine.
    dropout : float in [0, 1), default 0
        Inverted dropout with this drop probability after every hidden activation.
    weight_init : {"glorot", "he_normal", "he_uniform", "xavier_normal", "xavier_uniform"}
        ``"glorot"`` is scikit-learn's (uniform, intercepts drawn too); the others zero
        the intercepts.
    dtype : numpy.float32 or numpy.float64, default numpy.float32
        Parameters and computation (X is cast to it). float64 reproduces
        scikit-learn's numbers more closely; float32 is faster.
    n_threads : int, optional
        Threads of fastopt's kernels and of the BLAS while fitting/predicting
        (default: leave the process's settings).
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier`` on fastopt.

    scikit-learn's parameters with their meanings and defaults, then fastopt's own.
    {sklearn}
    {fastopt}
    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_,
    t_, coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_,
    n_outputs_, out_activation_
        As scikit-learn's. ``coefs_``/``intercepts_`` are views of the network's flat
        parameter buffer (assigning new arrays to their items works too).

    Notes
    -----
    Binary and multi-label targets use a logistic output and binary cross-entropy;
    multiclass a softmax and cross-entropy (``out_activation_``).

    Examples
    --------
    >>> from fastopt.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(100,), random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2])
    """

    _score_function = staticmethod(accuracy_score)

    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,),
                 activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: Union[int, str] = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Union[int, np.random.RandomState, None] = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: Union[int, float] = 10,
                 max_fun: int = 15000, optimizer: Optional[str] = None,
                 optimizer_params: Optional[Dict[str, Any]] = None, batchnorm: bool = False,
                 dropout: float = 0.0, weight_init: str = "glorot", dtype: DTypeLike = np.float32,
                 n_threads: Optional[int] = None) -> None:
        self._keep_parameters(locals())

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes "
                                     f"as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: Optional[ArrayLike] = None,
                    classes: Optional[ArrayLike] = None) -> MLPClassifier:
        """One epoch over (X, y), keeping the optimizer's state between calls.

        ``classes`` (all the classes) is required on the first call.
        """
        self._check_params()
        self._check_solver()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted classes (or label indicator rows for multi-label targets)."""
        check_is_fitted(self)
        return self._predict(X)

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """Class probabilities, columns ordered as :attr:`classes_`."""
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X: ArrayLike) -> NDArray[Any]:
        """``log(predict_proba(X))``."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor`` on fastopt.

    scikit-learn's parameters with their meanings and defaults, then fastopt's own.

    loss : {"squared_error", "poisson"}, default "squared_error"
        ``½·mean((y − ŷ)²)`` with an identity output, or the half Poisson deviance
        with an exp output (non-negative targets).
    {sklearn}
    {fastopt}
    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_,
    coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_,
    n_outputs_, out_activation_
        As scikit-learn's (``out_activation_`` is ``"identity"``, or ``"exp"`` for the
        Poisson loss).
    """

    _parameter_constraints = {**_BaseMLP._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}
    _score_function = staticmethod(r2_score)

    def __init__(self, loss: str = "squared_error",
                 hidden_layer_sizes: Union[int, Sequence[int]] = (100,),
                 activation: str = "relu", *, solver: str = "adam",
                 alpha: float = 0.0001, batch_size: Union[int, str] = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001,
                 power_t: float = 0.5, max_iter: int = 200, shuffle: bool = True,
                 random_state: Union[int, np.random.RandomState, None] = None, tol: float = 1e-4,
                 verbose: bool = False, warm_start: bool = False, momentum: float = 0.9,
                 nesterovs_momentum: bool = True, early_stopping: bool = False,
                 validation_fraction: float = 0.1, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, n_iter_no_change: Union[int, float] = 10,
                 max_fun: int = 15000, optimizer: Optional[str] = None,
                 optimizer_params: Optional[Dict[str, Any]] = None, batchnorm: bool = False,
                 dropout: float = 0.0, weight_init: str = "glorot", dtype: DTypeLike = np.float32,
                 n_threads: Optional[int] = None) -> None:
        self._keep_parameters(locals())

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=dtype, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (np.any(y < 0)):
            raise ValueError("loss='poisson' needs non-negative targets y")
        return X, y

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: Optional[ArrayLike] = None) -> MLPRegressor:
        """One epoch over (X, y), keeping the optimizer's state between calls."""
        self._check_params()
        self._check_solver()
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)



def _fill_doc(cls):
    doc = cls.__doc__.replace("    {fastopt}\n", _FASTOPT_PARAMS_DOC.lstrip("\n") + "\n")
    if "    loss : " in doc:  # the regressor's loss goes first in Parameters
        head, rest = doc.split("\n    loss : ", 1)
        loss, rest = rest.split("    {sklearn}\n", 1)
        params = _SKLEARN_PARAMS_DOC.replace("    ----------\n", "    ----------\n    loss : " + loss.rstrip() + "\n", 1)
        doc = head.rstrip() + "\n" + params + rest
    else:
        doc = doc.replace("    {sklearn}\n", _SKLEARN_PARAMS_DOC)
    cls.__doc__ = doc
    return cls


_fill_doc(MLPClassifier)
_fill_doc(MLPRegressor)
