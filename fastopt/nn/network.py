"""Sequential networks whose parameters and gradients live in flat buffers.

A :class:`Sequential` gathers every layer's parameters into one
:class:`fastopt.FlatParams` (one buffer per dtype) and points the layers at
views of it, so ``net.gradient(x, t)`` writes every gradient into one
preallocated buffer and an optimizer built on ``net.params`` updates the whole
model with one kernel call.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import _threads
from ..optim.flat import FlatParams
from .batchnorm import BatchNorm
from .dropout import Dropout
from .fused import FusedHidden, stages
from .layers import Affine, Layer, LeakyReLU, ReLU, Sigmoid, SoftmaxWithLoss, Tanh

#: Layers whose output has as many features as their input (labels can be checked past them).
_WIDTH_PRESERVING = (ReLU, LeakyReLU, Sigmoid, Tanh, BatchNorm, Dropout)


class Sequential:
    """Layers applied in order, then a loss layer.

    Parameters
    ----------
    layers : list of (name, Layer) or list of Layer
        Parametrised layers' parameters are named ``"<param><index>"``
        (``W1``, ``b1``, ...) by default, or ``"<name>.<param>"`` when the
        layers come with names. Parameters with the same name suffix share a
        counter (the book's ``W1``, ``gamma1``, ``W2`` ...).
    loss : Layer, default SoftmaxWithLoss()
    param_names : callable, optional
        ``(layer_index, layer_name, local_name) -> str`` to name parameters.
    dtype : numpy dtype, optional
        Cast all parameters to this dtype (default: keep theirs).
    fuse : bool, default True
        Run each Affine → BatchNorm → ReLU [→ Dropout] as one fused stage in
        training mode (:class:`fastopt.nn.fused.FusedHidden`): the same bits,
        fewer passes and Python calls. ``False`` runs the layers one by one.

    Attributes
    ----------
    params : FlatParams
        Parameter views by name (give this to an optimizer: one kernel call).
    grads : dict
        Gradient views by name, filled by :meth:`gradient`.
    """

    params: FlatParams
    grads: Dict[str, NDArray[Any]]
    #: the loss layer: ``forward(scores, t)`` gives the loss, ``backward(1)`` its gradient
    loss_layer: Any
    #: the training-mode loss of the last :meth:`gradient` batch (None before it)
    last_loss: Any

    def __init__(self, layers: Sequence[Union[Layer, Tuple[Optional[str], Layer]]],
                 loss: Optional[Layer] = None, *,
                 param_names: Optional[Callable[[int, Optional[str], str], str]] = None,
                 dtype: Optional[DTypeLike] = None, fuse: bool = True) -> None:
        named: List[Tuple[Optional[str], Layer]] = [
            (None, layer) if not isinstance(layer, tuple) else layer for layer in layers]
        self.layers = self._layer_list = [layer for _, layer in named]
        self.layer_names = [name for name, _ in named]
        self.loss_layer = SoftmaxWithLoss() if loss is None else loss
        initial: Dict[str, NDArray[Any]]
        owners: List[Tuple[Layer, str, str]]
        initial, owners = {}, []
        for index, (lname, layer) in enumerate(named):
            for local, array in layer.params.items():
                if param_names is not None:
                    name = param_names(index, lname, local)
                elif lname is not None:
                    name = f"{lname}.{local}"
                else:
                    name = f"{local}{sum(1 for o in owners if o[2] == local) + 1}"
                if name in initial:
                    raise ValueError(f"two parameters are named {name!r}")
                initial[name] = array
                owners.append((layer, name, local))
        # None only for a network without parameters
        self.params = FlatParams(initial, dtype=dtype) if initial else None  # type: ignore[assignment]
        self.grads = self.params.grads if initial else {}
        for layer, name, local in owners:
            layer.bind(local, self.params[name], self.grads[name])
        self.stages = stages(self._layer_list) if fuse else list(self._layer_list)
        affines = [layer for layer in self._layer_list if isinstance(layer, Affine)]
        #: work per input row of a forward pass, for the thread policy: multiply-adds,
        #: counted twice in float64 (a float64 product costs twice a float32 one)
        self.work_per_row = sum(a.W.size * a.W.itemsize // 4 for a in affines)
        self._scores_width = self._output_width()  # the layers are fixed: found once
        self.last_loss = None

    def buffers(self) -> Dict[str, NDArray[Any]]:
        """Non-trainable state by name (BatchNorm running statistics, dropout counters).

        These arrays are saved in checkpoints next to the parameters and
        restored in place.
        """
        out = {}
        for index, (lname, layer) in enumerate(zip(self.layer_names, self._layer_list)):
            for key, array in getattr(layer, "buffers", {}).items():
                out[f"{lname if lname is not None else index}.{key}"] = array
        return out

    def predict(self, x: NDArray[Any], train: bool = False) -> NDArray[Any]:
        """The network's output before the loss layer."""
        _threads.policy.threads_for((len(x) if getattr(x, "ndim", 1) else 1) * self.work_per_row)
        for stage in self.stages:
            x = stage.forward(x, train)
        return x

    def loss(self, x: NDArray[Any], t: ArrayLike, train: bool = False) -> Any:
        """The loss of the batch (plus :meth:`regularization`)."""
        return self.loss_layer.forward(self.predict(x, train), t) + self.regularization()

    def _check_labels(self, x: NDArray[Any], t: ArrayLike) -> None:
        """Check the batch before anything runs: a bad batch must leave every layer as it was."""
        if np.ndim(x) < 1 or np.shape(x)[0] == 0:
            raise ValueError(f"x must hold at least one sample along its first axis, got shape "
                             f"{np.shape(x)}")
        check = getattr(self.loss_layer, "check_labels", None)
        if check is not None and self._scores_width is not None:
            check(t, np.shape(x)[0], self._scores_width)

    def _output_width(self) -> Optional[int]:
        """Scores per sample the layers produce (the last Affine's outputs), or None if unknown."""
        for layer in reversed(self._layer_list):
            if isinstance(layer, Affine):
                return layer.W.shape[1]
            if not isinstance(layer, _WIDTH_PRESERVING):
                return None
        return None

    def _train_loss(self, x: NDArray[Any], t: ArrayLike) -> Any:
        return self.loss(x, t, True)

    def regularization(self) -> float:
        """Extra loss terms (none here; the book's networks add weight decay)."""
        return 0.0

    def gradient(self, x: NDArray[Any], t: ArrayLike) -> Dict[str, NDArray[Any]]:
        """Forward in training mode, then backprop into :attr:`grads` (returned).

        The training-mode loss of this batch is kept in :attr:`last_loss`. Labels
        are checked before the forward, so a bad batch leaves every layer's state
        (running statistics, dropout counters) as it was.
        """
        self._check_labels(x, t)
        self.last_loss = self._train_loss(x, t)
        dout = self.loss_layer.backward(1)
        for stage in reversed(self.stages[1:]):
            dout = stage.backward(dout)
        first = self.stages[0]
        if isinstance(first, (Affine, FusedHidden)):  # no input gradient needed: skip its matmul
            first.backward(dout, input_grad=False)
        else:
            first.backward(dout)
        self._add_regularization_gradients()
        return self.grads

    def _add_regularization_gradients(self) -> None:
        pass

    def input_gradient(self, x: NDArray[Any], t: ArrayLike, train: bool = False) -> NDArray[Any]:
        """∂L/∂x: the gradient of the batch's mean loss with respect to the input.

        ``L = loss_layer(predict(x, train), t)`` without :meth:`regularization`
        (which does not depend on x). This is what FGSM needs:
        ``x_adv = x + ε·sign(∂L/∂x)``.

        Parameters
        ----------
        x : ndarray
            Input batch, float32 or float64 (any shape the first layer takes).
        t : ndarray
            Labels (indices or one-hot).
        train : bool, default False
            Evaluation mode (the model as it is attacked at test time: batch
            norm with its running statistics, dropout as its test-time scaling)
            or training mode (batch statistics and a fresh dropout mask, which
            advances the dropout counters).

        Returns
        -------
        ndarray
            ∂L/∂x, same shape as *x*.

        Notes
        -----
        Side effect: backpropagation overwrites :attr:`grads` with the gradient
        of this batch's loss (without regularization terms), and the layers'
        caches hold this batch. :attr:`last_loss` is not changed. Call
        :meth:`gradient` again before an optimizer step.

        The backward runs through :attr:`stages`, as :meth:`gradient` does: a
        fused stage's training-mode backward is one kernel, whose results equal
        the separate layers' bit for bit.
        """
        self.loss_layer.forward(self.predict(x, train), t)
        dout = self.loss_layer.backward(1)
        for stage in reversed(self.stages):
            dout = stage.backward(dout)
        return dout

    def accuracy(self, x: NDArray[Any], t: NDArray[Any], batch_size: Optional[int] = None) -> float:
        """Share of rows whose arg-max output equals the label (indices or one-hot)."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        n = x.shape[0]
        step = n if not batch_size else batch_size
        correct = 0
        for lo in range(0, n, step):
            y = self.predict(x[lo:lo + step], False)
            correct += int(np.sum(np.argmax(y, axis=1) == t[lo:lo + step]))
        return correct / n if n else 0.0

    def __repr__(self) -> str:
        body = ", ".join(repr(layer) for layer in self._layer_list)
        return f"{type(self).__name__}([{body}], loss={type(self.loss_layer).__name__})"
