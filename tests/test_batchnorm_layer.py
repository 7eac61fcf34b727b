"""The BatchNorm layer: book preset vs the book, standard preset vs PyTorch, gradients, errors."""
import numpy as np
import pytest

from fastopt import nn
from fastopt.bench.book_numpy import BatchNormalization as BookBatchNormalization
from fastopt.nn.gradcheck import numerical_gradient


@pytest.mark.parametrize("shape", [(8, 5), (6, 2, 3, 3)])
def test_book_preset_matches_the_book(backend, shape):
    rng = np.random.default_rng(0)
    d = int(np.prod(shape[1:]))
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    ours = nn.BatchNorm(gamma.copy(), beta.copy())
    ref = BookBatchNormalization(gamma.copy(), beta.copy())
    for _ in range(3):
        x = rng.standard_normal(shape) * 3 + 1
        np.testing.assert_allclose(ours.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)
        dout = rng.standard_normal(shape)
        np.testing.assert_allclose(ours.backward(dout), ref.backward(dout), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.dgamma, ref.dgamma, rtol=1e-12)
        np.testing.assert_allclose(ours.dbeta, ref.dbeta, rtol=1e-12)
    np.testing.assert_allclose(ours.running_mean, ref.running_mean, rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var, rtol=1e-12)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x, train=False), ref.forward(x, train_flg=False),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(16, 6), (5, 3, 4, 4)])
def test_standard_preset_matches_torch(backend, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    c = shape[1]
    tbn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c).double()
    ours = nn.BatchNorm(np.ones(c), np.zeros(c), preset="standard")
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 - 1
        xt = torch.tensor(x, requires_grad=True)
        yt = tbn(xt)
        y = ours.forward(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        dout = rng.standard_normal(shape)
        yt.backward(torch.tensor(dout))
        np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ours.dgamma, tbn.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
        tbn.weight.grad = None
        tbn.bias.grad = None
    np.testing.assert_allclose(ours.running_mean, tbn.running_mean.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.running_var, tbn.running_var.numpy(), rtol=1e-10)
    tbn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x, train=False), tbn(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("preset", ["book", "standard"])
def test_gradients_against_central_differences(preset):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    layer = nn.BatchNorm(gamma, beta, preset=preset)
    w = rng.standard_normal((6, 4))
    f = lambda: float(np.sum(layer.forward(x) * w))  # noqa: E731
    num = {name: numerical_gradient(f, a, h=1e-5) for name, a in (("x", x), ("gamma", gamma),
                                                                   ("beta", beta))}
    layer.forward(x)
    dx = layer.backward(w)
    for name, grad in (("x", dx), ("gamma", layer.dgamma), ("beta", layer.dbeta)):
        np.testing.assert_allclose(grad, num[name], rtol=1e-7, atol=1e-7, err_msg=name)


def test_float32_stays_float32():
    layer = nn.BatchNorm(np.ones(3, np.float32), np.zeros(3, np.float32))
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    assert layer.forward(x).dtype == np.float32
    assert layer.backward(np.ones((4, 3), np.float32)).dtype == np.float32


BAD = [
    ("eval before training", lambda l: l.forward(np.ones((2, 3)), train=False), RuntimeError,
     "before any training forward"),
    ("backward before forward", lambda l: l.backward(np.ones((2, 3))), RuntimeError, "before forward"),
    ("wrong width", lambda l: l.forward(np.ones((2, 4))), ValueError, "has 3 features, the input has 4"),
    ("3-D input", lambda l: l.forward(np.ones((2, 3, 1))), ValueError, "2-D"),
    ("int input", lambda l: l.forward(np.ones((2, 3), int)), TypeError, "float32 or float64"),
    ("empty batch", lambda l: l.forward(np.ones((0, 3))), ValueError, "non-empty batch"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call(nn.BatchNorm(np.ones(3), np.zeros(3)))


def test_bad_construction():
    with pytest.raises(ValueError, match="preset"):
        nn.BatchNorm(np.ones(3), np.zeros(3), preset="keras")
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm(np.ones(3), np.zeros(3), momentum=1.5)
    with pytest.raises(ValueError, match="running_mean must have shape"):
        nn.BatchNorm(np.ones(3), np.zeros(3), running_mean=np.zeros(4))


def test_given_running_statistics_allow_eval():
    layer = nn.BatchNorm(np.ones(2), np.zeros(2), running_mean=[1.0, 2.0], running_var=[4.0, 1.0])
    out = layer.forward(np.array([[3.0, 2.0]]), train=False)
    np.testing.assert_allclose(out, [[2.0 / np.sqrt(4 + 1e-6), 0.0]])
