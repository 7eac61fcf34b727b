"""fastopt.book networks reproduce the book's networks to the bit."""
import numpy as np
import pytest
from conftest import assert_bits_equal

from fastopt import book
from fastopt.bench import book_numpy
from fastopt.nn.gradcheck import numerical_gradient


@pytest.mark.parametrize("activation, init, lam", [("relu", "relu", 0), ("sigmoid", "xavier", 0.1),
                                                  ("relu", 0.01, 0.05), ("Sigmoid", "He", 0)])
def test_multilayernet_matches_the_book(activation, init, lam):
    np.random.seed(3)
    ours = book.MultiLayerNet(12, [9, 7], 4, activation, init, lam)
    np.random.seed(3)
    ref = book_numpy.MultiLayerNet(12, [9, 7], 4, activation.lower(), init, lam)
    x = np.random.rand(6, 12).astype(np.float32)  # the book's loader gives float32 input
    t = np.eye(4)[np.random.randint(0, 4, 6)]
    for name in ref.params:
        assert_bits_equal(ours.params[name], ref.params[name], name)
    assert ours.loss(x, t) == ref.loss(x, t)
    grads, expected = ours.gradient(x, t), ref.gradient(x, t)
    for name in expected:
        assert_bits_equal(grads[name], expected[name], name)
    opt, ref_opt = book.Adam(), book_numpy.Adam()
    for _ in range(5):
        opt.update(ours.params, ours.gradient(x, t))
        ref_opt.update(ref.params, ref.gradient(x, t))
    for name in ref.params:
        assert_bits_equal(ours.params[name], ref.params[name], name)


def _exact_loss_gradients(net, x, t, train):
    """Central differences of the loss backprop differentiates: cross-entropy without the
    book's 1e-7 inside the log (which shifts the book's own check by ~6e-7), plus ½λ‖W‖²."""
    def loss():
        z = net.predict(x, train)
        log_y = z - z.max(axis=1, keepdims=True)
        log_y -= np.log(np.exp(log_y).sum(axis=1, keepdims=True))
        return -np.mean(log_y[np.arange(len(t)), t]) + net.regularization()
    return {name: numerical_gradient(loss, net.params[name], h=1e-5) for name in net.params}


def test_numerical_gradient_agrees_with_backprop():
    net = book.MultiLayerNet(10, [8, 8], 3, weight_decay_lambda=0.1, seed=0)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 10)), rng.integers(0, 3, 5)
    num = net.numerical_gradient(x, t)  # the book's check, 1e-7 in the log included
    grads = net.gradient(x, t)
    for name in grads:
        np.testing.assert_allclose(grads[name], num[name], atol=1e-6)
    exact = _exact_loss_gradients(net, x, t, train=False)
    for name in grads:
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-7, atol=1e-7, err_msg=name)


def test_params_support_the_books_in_place_update_code():
    """The book's own optimizers do ``params[key] -= ...`` on network.params."""
    net = book.MultiLayerNet(4, [3], 2, seed=0)
    W1 = net.params["W1"]
    before = W1.copy()
    params = net.params
    params["W1"] -= 0.5
    assert params["W1"] is W1 and np.allclose(W1, before - 0.5)
    assert np.shares_memory(net.layer_dict["Affine1"].W, W1)


def test_bad_activation():
    with pytest.raises(ValueError, match="activation must be 'relu' or 'sigmoid'"):
        book.MultiLayerNet(4, [3], 2, activation="tanh")


def test_extend_with_batchnorm_gradient_check_float64():
    net = book.MultiLayerNetExtend(10, [8, 8], 3, weight_decay_lambda=0.05, use_batchnorm=True, seed=0)
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((6, 10)), rng.integers(0, 3, 6)
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    num = net.numerical_gradient(x, t)
    for name in grads:
        np.testing.assert_allclose(grads[name], num[name], atol=1e-6, err_msg=name)
    exact = _exact_loss_gradients(net, x, t, train=True)
    for name in grads:
        np.testing.assert_allclose(grads[name], exact[name], rtol=1e-7, atol=1e-7, err_msg=name)


def test_extend_with_batchnorm_matches_the_book_layers():
    """The same network built from the book's layer formulas gives the same loss."""
    np.random.seed(5)
    net = book.MultiLayerNetExtend(6, [5], 3, use_batchnorm=True)
    W1, b1, W2, b2 = (net.params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    loss = net.loss(x, t, train_flg=True)
    bn = book_numpy.BatchNormalization(np.ones(5), np.zeros(5))
    h = bn.forward(x @ W1 + b1)
    h = np.maximum(h, 0) * (h > 0)
    y = h @ W2 + b2
    y = y - y.max(axis=1, keepdims=True)
    p = np.exp(y) / np.exp(y).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(8), t] + 1e-7)), rel=1e-12)


def test_extend_dropout_train_eval_semantics():
    net = book.MultiLayerNetExtend(6, [50], 3, use_dropout=True, dropout_ration=0.5, seed=0,
                                   dropout_seed=3)
    x = np.random.default_rng(0).standard_normal((4, 6))
    a, b = net.predict(x, train_flg=True), net.predict(x, train_flg=True)
    assert not np.allclose(a, b)  # a fresh mask each training forward
    np.testing.assert_array_equal(net.predict(x), net.predict(x))  # eval is deterministic
    assert "Dropout1.step" in net.buffers()
