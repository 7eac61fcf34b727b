"""The Dropout layer: the book's non-inverted form, inverted dropout, masks, errors."""
import warnings

import numpy as np
import pytest

import fastopt as fo
from fastopt import nn


def test_book_form_train_and_eval():
    layer = nn.Dropout(0.3, seed=1)
    x = np.random.default_rng(0).standard_normal((200, 50)) + 5
    y = layer.forward(x)
    kept = y != 0
    np.testing.assert_array_equal(y[kept], x[kept])  # no rescaling in the book's form
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept.astype(float))
    np.testing.assert_allclose(layer.forward(x, train=False), x * 0.7)


def test_inverted_form_keeps_the_expectation():
    layer = nn.Dropout(0.5, inverted=True, seed=2)
    x = np.ones((1000, 100), np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 2.0}
    assert abs(y.mean() - 1.0) < 0.02
    assert layer.forward(x, train=False) is x


@pytest.mark.parametrize("inverted", [False, True])
def test_backward_follows_the_last_forward(inverted):
    """After an evaluation forward the backward is its constant scale, not the last mask."""
    layer = nn.Dropout(0.25, inverted=inverted, seed=3)
    x = np.random.default_rng(1).standard_normal((40, 30)).astype(np.float32)
    dout = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    train_mask = layer.forward(x) != 0
    np.testing.assert_array_equal(layer.backward(dout) != 0, train_mask & (dout != 0))
    layer.forward(x, train=False)
    expected = dout if inverted else dout * np.float32(0.75)
    np.testing.assert_array_equal(layer.backward(dout), expected)
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(dout[:3])


def test_step_counter_wraps_silently_like_uint64():
    layer = nn.Dropout(0.5, seed=4)
    layer.buffers["step"][()] = 2**64 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer.forward(np.ones((3, 4)))
    assert int(layer.buffers["step"]) == 0
    assert layer._last[0] == np.uint64(2**64 - 1)


def test_masks_change_each_step_and_repeat_with_the_seed():
    x = np.ones(1000)
    a, b = nn.Dropout(0.5, seed=7), nn.Dropout(0.5, seed=7)
    first, second = a.forward(x), a.forward(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b.forward(x), first)
    assert int(a.buffers["step"]) == 2


def test_masks_are_identical_across_backends():
    x = np.random.default_rng(3).standard_normal((64, 33)).astype(np.float32)
    outs = []
    for name in fo.available_backends():
        with fo.use_backend(name):
            layer = nn.Dropout(0.4, seed=(5, 1))
            outs.append((layer.forward(x), layer.backward(x)))
    for out in outs[1:]:
        np.testing.assert_array_equal(out[0], outs[0][0])
        np.testing.assert_array_equal(out[1], outs[0][1])


def test_p_zero_is_identity_and_p_one_drops_everything():
    x = np.random.default_rng(4).standard_normal(100)
    np.testing.assert_array_equal(nn.Dropout(0.0, seed=0).forward(x), x)
    assert not nn.Dropout(1.0, seed=0).forward(x).any()
    assert not nn.Dropout(1.0, inverted=True, seed=0).forward(x).any()


BAD = [
    ("ratio > 1", lambda: nn.Dropout(1.5), ValueError, "dropout_ratio"),
    ("bad seed", lambda: nn.Dropout(0.5, seed="abc"), TypeError, "seed"),
    ("backward first", lambda: nn.Dropout(0.5).backward(np.ones(3)), RuntimeError, "before forward"),
    ("int input", lambda: nn.Dropout(0.5).forward(np.ones(3, int)), TypeError, "float32 or float64"),
]


@pytest.mark.parametrize("make, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("inverted", [False, True])
def test_gradient_against_central_differences(inverted):
    """With the mask held fixed (the step counter reset before each forward)."""
    from fastopt.nn.gradcheck import numerical_gradient

    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    layer = nn.Dropout(0.4, inverted=inverted, seed=9)

    def f():
        layer.buffers["step"][()] = 3
        return float(np.sum(layer.forward(x) * w))

    num = numerical_gradient(f, x, h=1e-5)
    f()
    np.testing.assert_allclose(layer.backward(w), num, rtol=1e-7, atol=1e-7)
