"""Layers: forward values, backward vs central differences (float64, N >= 2), bad input."""
import numpy as np
import pytest

from fastopt import nn
from fastopt.nn.gradcheck import numerical_gradient

RNG = np.random.default_rng(0)


def _check_input_gradient(layer, x, tol=1e-7):
    """d(sum(out * w))/dx from backprop equals central differences."""
    w = RNG.standard_normal(layer.forward(x).shape)
    layer.forward(x)
    dx = layer.backward(w.copy())
    num = numerical_gradient(lambda: float(np.sum(layer.forward(x) * w)), x, h=1e-5)
    np.testing.assert_allclose(dx, num, rtol=tol, atol=tol)


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(0.1), nn.Softmax()],
                         ids=lambda l: type(l).__name__)
def test_activation_gradients(layer):
    x = RNG.standard_normal((4, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kinks
    _check_input_gradient(layer, x)


def test_affine_gradients_and_flattening():
    W, b = RNG.standard_normal((12, 5)), RNG.standard_normal(5)
    layer = nn.Affine(W, b)
    x = RNG.standard_normal((3, 3, 2, 2))
    out = layer.forward(x)
    np.testing.assert_allclose(out, x.reshape(3, -1) @ W + b)
    _check_input_gradient(layer, x)
    w = RNG.standard_normal((3, 5))
    layer.forward(x)
    layer.backward(w)
    f = lambda: float(np.sum(layer.forward(x) * w))  # noqa: E731
    np.testing.assert_allclose(layer.dW, numerical_gradient(f, W, h=1e-5), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(layer.db, numerical_gradient(f, b, h=1e-5), rtol=1e-7, atol=1e-7)


def test_affine_writes_gradients_into_given_views():
    W, b = np.ones((4, 2)), np.zeros(2)
    dW, db = np.empty((4, 2)), np.empty(2)
    layer = nn.Affine(W, b, dW, db)
    layer.forward(np.ones((3, 4)))
    layer.backward(np.ones((3, 2)))
    assert layer.grads["W"] is dW
    np.testing.assert_array_equal(dW, 3.0)
    np.testing.assert_array_equal(db, 3.0)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_matches_book_and_gradient(one_hot):
    x = RNG.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    t = np.eye(4)[labels] if one_hot else labels
    layer = nn.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(y[np.arange(5), labels] + 1e-7)), rel=1e-12)
    dx = layer.backward()
    # (y - t)/N is the exact gradient of the loss without the book's 1e-7 inside the log
    exact_loss = lambda: float(-np.mean(  # noqa: E731
        (x - np.log(np.exp(x).sum(axis=1, keepdims=True)))[np.arange(5), labels]))
    num = numerical_gradient(exact_loss, x, h=1e-5)
    np.testing.assert_allclose(dx, num, rtol=1e-7, atol=1e-9)


def test_squared_errors_are_named_for_what_they_compute():
    y, t = np.array([[1.0, 2.0], [3.0, 5.0]]), np.zeros((2, 2))
    assert nn.SumSquaredError().forward(y, t) == 0.5 * (1 + 4 + 9 + 25)
    assert nn.MeanSquaredError().forward(y, t) == (1 + 4 + 9 + 25) / 4
    for cls in (nn.SumSquaredError, nn.MeanSquaredError):
        layer = cls()
        num = numerical_gradient(lambda: layer.forward(y, t), y, h=1e-5)
        layer.forward(y, t)
        np.testing.assert_allclose(layer.backward(), num, rtol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_dtype(dtype):
    x = RNG.standard_normal((3, 4)).astype(dtype)
    for layer in (nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(), nn.Softmax()):
        assert layer.forward(x).dtype == dtype
        assert layer.backward(np.ones_like(x)).dtype == dtype
    aff = nn.Affine(np.ones((4, 2), dtype), np.zeros(2, dtype))
    assert aff.forward(x).dtype == dtype and aff.backward(np.ones((3, 2), dtype)).dtype == dtype


def test_relu_gradient_is_zero_at_zero_and_does_not_touch_dout():
    layer = nn.ReLU()
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    dout = np.ones((1, 3))
    np.testing.assert_array_equal(layer.backward(dout), [[0, 0, 1]])
    np.testing.assert_array_equal(dout, 1)


BAD = [
    ("backward before forward", lambda: nn.ReLU().backward(np.ones(2)), RuntimeError, "before forward"),
    ("affine wrong width", lambda: nn.Affine(np.ones((3, 2)), np.zeros(2)).forward(np.ones((4, 5))),
     ValueError, "expects 3 input features, got 5"),
    ("affine bad bias", lambda: nn.Affine(np.ones((3, 2)), np.zeros(3)), ValueError, "b of shape"),
    ("labels out of range", lambda: nn.SoftmaxWithLoss().forward(np.ones((2, 3)), np.array([0, 3])),
     ValueError, r"labels t must lie in \[0, 3\)"),
    ("float labels", lambda: nn.SoftmaxWithLoss().forward(np.ones((2, 3)), np.array([0.0, 1.0])),
     TypeError, "integers"),
    ("label shape", lambda: nn.SoftmaxWithLoss().forward(np.ones((2, 3)), np.ones((2, 4))),
     ValueError, r"shape \(2,\) or \(2, 3\)"),
    ("unknown init", lambda: nn.init.book_std("gelu", 10), ValueError, "weight_init_std"),
    ("init bad seed", lambda: nn.init.he_normal((3, 2), seed="x"), TypeError, "seed"),
    ("init 1-D fans", lambda: nn.init.he_normal((3,)), ValueError, "at least 2 dimensions"),
    ("init bad mode", lambda: nn.init.xavier_normal((3, 2), mode="fan"), ValueError, "mode"),
]


@pytest.mark.parametrize("make, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("name, fn, expected_std", [
    ("he", lambda s: nn.init.he_normal(s, seed=1), (2 / 400) ** 0.5),
    ("he_uniform", lambda s: nn.init.he_uniform(s, seed=1), (2 / 400) ** 0.5),
    ("xavier", lambda s: nn.init.xavier_normal(s, seed=1), (2 / 700) ** 0.5),
    ("xavier_uniform", lambda s: nn.init.xavier_uniform(s, seed=1), (2 / 700) ** 0.5),
    ("he fan_out", lambda s: nn.init.he_normal(s, mode="fan_out", seed=1), (2 / 300) ** 0.5),
    ("book relu", lambda s: nn.init.book_normal(s, "relu", seed=1), (2 / 400) ** 0.5),
    ("book sigmoid", lambda s: nn.init.book_normal(s, "Sigmoid", seed=1), (1 / 400) ** 0.5),
    ("book number", lambda s: nn.init.book_normal(s, 0.01, seed=1), 0.01),
])
def test_init_scales(name, fn, expected_std):
    w = fn((400, 300))
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    np.testing.assert_array_equal(w, fn((400, 300)))  # seeded


def test_init_matches_torch_formulas():
    torch = pytest.importorskip("torch")
    w = torch.empty(300, 400)  # torch layout (out, in)
    bound = torch.nn.init.kaiming_uniform_(w, nonlinearity="relu").abs().max().item()
    ours = nn.init.he_uniform((400, 300), seed=0)
    assert np.abs(ours).max() == pytest.approx(bound, rel=1e-3)


def test_sequential_puts_parameters_and_gradients_in_flat_buffers():
    from fastopt import optim

    rng = np.random.default_rng(0)
    net = nn.Sequential([nn.Affine(nn.init.he_normal((6, 5), seed=1), np.zeros(5)), nn.Tanh(),
                         nn.Affine(nn.init.he_normal((5, 3), seed=2), np.zeros(3))])
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    layer = net.layers[0]
    assert np.shares_memory(layer.W, net.params.buffers[np.dtype(np.float64)])
    x, t = rng.standard_normal((4, 6)), np.array([0, 1, 2, 1])
    net.gradient(x, t)
    assert layer.dW is net.grads["W1"]
    for name in net.params:
        num = numerical_gradient(lambda: net.loss(x, t, train=True), net.params[name], h=1e-5)
        net.gradient(x, t)
        assert np.abs(net.grads[name] - num).max() < 1e-6
    opt = optim.SGD(net.params, lr=0.5)
    losses = []
    for _ in range(30):
        net.gradient(x, t)
        losses.append(net.last_loss)
        opt.step()
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_takes_an_empty_batch(dtype):
    """(0, n_in) -> (0, n_out) and zero gradients, not NumPy's 'cannot reshape' error."""
    layer = nn.Affine(np.ones((13, 7), dtype), np.zeros(7, dtype))
    y = layer.forward(np.ones((0, 13), np.float32))
    assert y.shape == (0, 7) and y.dtype == dtype
    assert layer.backward(np.ones((0, 7), dtype)).shape == (0, 13)
    assert not layer.dW.any() and not layer.db.any()
