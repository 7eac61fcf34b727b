"""fastopt.book networks reproduce the book's networks to the bit."""
import numpy as np
import pytest
from book_reference import BookMultiLayerNet
from conftest import assert_bits_equal

from fastopt import book


@pytest.mark.parametrize("activation, init, lam", [("relu", "relu", 0), ("sigmoid", "xavier", 0.1),
                                                  ("relu", 0.01, 0.05), ("Sigmoid", "He", 0)])
def test_multilayernet_matches_the_book(activation, init, lam):
    np.random.seed(3)
    ours = book.MultiLayerNet(12, [9, 7], 4, activation, init, lam)
    np.random.seed(3)
    ref = BookMultiLayerNet(12, [9, 7], 4, activation.lower(), init, lam)
    x = np.random.rand(6, 12).astype(np.float32)  # the book's loader gives float32 input
    t = np.eye(4)[np.random.randint(0, 4, 6)]
    for name in ref.params:
        assert_bits_equal(ours.params[name], ref.params[name], name)
    assert ours.loss(x, t) == ref.loss(x, t)
    grads, expected = ours.gradient(x, t), ref.gradient(x, t)
    for name in expected:
        assert_bits_equal(grads[name], expected[name], name)
    opt, ref_opt = book.Adam(), None
    from book_reference import BookAdam

    ref_opt = BookAdam()
    for _ in range(5):
        opt.update(ours.params, ours.gradient(x, t))
        ref_opt.update(ref.params, ref.gradient(x, t))
    for name in ref.params:
        assert_bits_equal(ours.params[name], ref.params[name], name)


def test_numerical_gradient_agrees_with_backprop():
    net = book.MultiLayerNet(10, [8, 8], 3, weight_decay_lambda=0.1, seed=0)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 10)), rng.integers(0, 3, 5)
    num = net.numerical_gradient(x, t)
    grads = net.gradient(x, t)
    for name in grads:
        np.testing.assert_allclose(grads[name], num[name], atol=1e-6)


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
