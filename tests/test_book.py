"""fastopt.book reproduces the book's common/optimizer.py to the bit."""
import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt.book as book
from fastopt.bench.book_numpy import OPTIMIZERS as BOOK_REFERENCE
from fastopt.demo import grad_f, optimizer_paths

SETTINGS = {"SGD": {"lr": 0.1}, "Momentum": {"lr": 0.05, "momentum": 0.8},
            "Nesterov": {"lr": 0.05, "momentum": 0.85}, "AdaGrad": {"lr": 0.3},
            "RMSprop": {"lr": 0.01, "decay_rate": 0.9},
            "Adam": {"lr": 0.01, "beta1": 0.8, "beta2": 0.99}}
SHAPES = {"W1": (13, 7), "b1": (7,), "W2": (7, 3), "b2": (3,), "gamma": (1,)}


def _network_params(rng):
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


@pytest.mark.parametrize("name", list(BOOK_REFERENCE))
def test_book_optimizer_matches_book_formulas(name, backend):
    rng = np.random.default_rng(7)
    ours, theirs = _network_params(rng), None
    theirs = {k: v.copy() for k, v in ours.items()}
    alias = {k: v for k, v in ours.items()}  # the network's layers hold these
    opt, ref = getattr(book, name)(**SETTINGS[name]), BOOK_REFERENCE[name](**SETTINGS[name])
    for _ in range(50):
        grads = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
        opt.update(ours, grads)
        ref.update(theirs, grads)
    for k in SHAPES:
        assert ours[k] is alias[k], "update must work in place"
        assert_bits_equal(ours[k], theirs[k], k)


@pytest.mark.parametrize("name", list(BOOK_REFERENCE))
def test_book_defaults_match_the_book(name):
    import inspect

    sig = inspect.signature(getattr(book, name))
    ref_sig = inspect.signature(BOOK_REFERENCE[name])
    assert list(sig.parameters) == list(ref_sig.parameters)
    assert [p.default for p in sig.parameters.values()] == \
        [p.default for p in ref_sig.parameters.values()]


@pytest.mark.parametrize("name", list(BOOK_REFERENCE))
def test_python_float_params_like_the_2d_demo(name):
    ours, theirs = {"x": -7.0, "y": 2.0}, {"x": -7.0, "y": 2.0}
    opt, ref = getattr(book, name)(lr=0.1), BOOK_REFERENCE[name](lr=0.1)
    for _ in range(30):
        opt.update(ours, dict(zip("xy", grad_f(ours["x"], ours["y"]))))
        ref.update(theirs, dict(zip("xy", grad_f(theirs["x"], theirs["y"]))))
    assert isinstance(ours["x"], float)
    assert ours == {k: float(v) for k, v in theirs.items()}


# Endpoints of the book's optimizer_compare_naive.py (30 updates from (-7, 2)),
# computed from the book's formulas (fastopt.bench.book_numpy) and pinned.
GOLDEN_ENDPOINTS = {
    "SGD": (-0.3503929957523197, 0.0847823165504322),
    "Momentum": (0.896413858493733, 0.08808560171506971),
    "AdaGrad": (-0.12016232231416045, 2.486389893984459e-17),
    "Adam": (0.13600685239498186, 0.31824537553721943),
}


def test_optimizer_paths_golden_endpoints(backend):
    result = optimizer_paths(steps=30, backend=backend)
    for name, (x, y) in GOLDEN_ENDPOINTS.items():
        assert result["paths"][name]["path"][-1] == [x, y]
    # SGD's y-coordinate has the closed form 2·(1 − 0.95·2)^30
    assert GOLDEN_ENDPOINTS["SGD"][1] == pytest.approx(2 * (-0.9) ** 30, rel=1e-12)


def test_optimizer_paths_demo_matches_book_reference(backend):
    result = optimizer_paths(steps=30, backend=backend)
    from fastopt.demo import OPTIMIZER_PATHS

    for name, (_, settings) in OPTIMIZER_PATHS.items():
        ref = BOOK_REFERENCE[name](**settings)
        params = {"x": -7.0, "y": 2.0}
        for _ in range(30):
            ref.update(params, dict(zip("xy", grad_f(params["x"], params["y"]))))
        assert result["paths"][name]["path"][-1] == [float(params["x"]), float(params["y"])]


def test_adam_shares_one_step_counter_across_keys():
    opt = book.Adam()
    params = {"a": np.ones(3), "b": np.ones(2)}
    for _ in range(4):
        opt.update(params, {"a": np.ones(3), "b": np.ones(2)})
    assert opt.iter == 4
    assert set(opt.m) == {"a", "b"}


def test_book_state_is_exposed_like_the_book():
    opt = book.Momentum(lr=0.1)
    assert opt.v is None
    params = {"W": np.ones(3)}
    opt.update(params, {"W": np.ones(3)})
    np.testing.assert_array_equal(opt.v["W"], -0.1 * np.ones(3))


def test_book_lr_attribute_can_change_between_updates():
    opt, ref = book.SGD(lr=0.1), BOOK_REFERENCE["SGD"](lr=0.1)
    ours, theirs = {"W": np.ones(4)}, {"W": np.ones(4)}
    for lr in (0.1, 0.05, 0.2):
        opt.lr = ref.lr = lr
        opt.update(ours, {"W": np.full(4, 0.3)})
        ref.update(theirs, {"W": np.full(4, 0.3)})
    assert_bits_equal(ours["W"], theirs["W"])


def test_missing_gradient_is_named():
    opt = book.SGD()
    with pytest.raises(ValueError, match="'b'"):
        opt.update({"W": np.ones(2), "b": np.ones(2)}, {"W": np.ones(2)})


def test_one_book_optimizer_updates_several_networks():
    """The book's batch_norm_test.py shares one SGD between networks with different parameters."""
    from fastopt import book as fbook

    rng = np.random.default_rng(0)
    x, t = rng.random((8, 6)), rng.integers(0, 3, 8)
    nets = [fbook.MultiLayerNetExtend(6, [5], 3, use_batchnorm=bn, seed=1) for bn in (True, False)]
    alone = [fbook.MultiLayerNetExtend(6, [5], 3, use_batchnorm=bn, seed=1) for bn in (True, False)]
    shared = fbook.Momentum(lr=0.1)
    own = [fbook.Momentum(lr=0.1) for _ in alone]
    for _ in range(3):
        for net in nets:
            shared.update(net.params, net.gradient(x, t))
        for net, opt in zip(alone, own):
            opt.update(net.params, net.gradient(x, t))
    for net, ref in zip(nets, alone):  # different names: each network keeps its own state
        for name in net.params:
            np.testing.assert_array_equal(net.params[name], ref.params[name])
    # same names and shapes: the arrays (and, as in the book, the state) pass to the new network
    twin = fbook.MultiLayerNetExtend(6, [5], 3, use_batchnorm=False, seed=1)
    before = {k: v.copy() for k, v in twin.params.items()}
    shared.update(twin.params, twin.gradient(x, t))
    assert not np.array_equal(twin.params["W1"], before["W1"])


@pytest.mark.parametrize("name", list(BOOK_REFERENCE))
def test_step_after_bind_equals_update(name, backend):
    """The protocol the Trainer drives: bind(params) once, then step(grads) — update's bits."""
    rng = np.random.default_rng(3)
    stepped_params = _network_params(rng)
    updated_params = {k: v.copy() for k, v in stepped_params.items()}
    stepped, updated = getattr(book, name)(**SETTINGS[name]), getattr(book, name)(**SETTINGS[name])
    general = stepped.bind(stepped_params)
    assert general is stepped.optimizer and general.bind(stepped_params) is general
    for _ in range(5):
        grads = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
        grads["unused"] = np.ones(2)  # ignored by both, as the book's update ignores it
        assert stepped.step(grads) is True
        updated.update(updated_params, grads)
    for k in stepped_params:
        assert_bits_equal(stepped_params[k], updated_params[k], k)


def test_step_uses_the_bound_networks_gradient_buffer():
    rng = np.random.default_rng(0)
    x, t = rng.random((8, 6)), rng.integers(0, 3, 8)
    net, twin = (book.MultiLayerNetExtend(6, [5], 3, use_batchnorm=True, seed=1) for _ in range(2))
    opt, ref = book.Adam(lr=0.01), book.Adam(lr=0.01)
    opt.bind(net.params)
    for _ in range(3):
        net.gradient(x, t)
        opt.step()  # None: the bound FlatParams' own .grads
        ref.update(twin.params, twin.gradient(x, t))
    for name in net.params:
        assert_bits_equal(net.params[name], twin.params[name], name)


def test_step_before_any_bind_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"bind\(params\) first"):
        book.SGD().step({"W": np.ones(2)})


def test_a_shared_book_optimizer_follows_the_gradient_buffer():
    """Bound to two networks of one layout, step(net.grads) updates net (the book's shared state)."""
    rng = np.random.default_rng(0)
    x, t = rng.random((8, 6)), rng.integers(0, 3, 8)
    nets = [book.MultiLayerNetExtend(6, [5], 3, seed=s) for s in (1, 2)]
    twins = [book.MultiLayerNetExtend(6, [5], 3, seed=s) for s in (1, 2)]
    shared, ref = book.Momentum(lr=0.1), book.Momentum(lr=0.1)
    for net in nets:
        shared.bind(net.params)
    for _ in range(3):
        for net, twin in zip(nets, twins):
            shared.step(net.gradient(x, t))
            ref.update(twin.params, twin.gradient(x, t))
    for net, twin in zip(nets, twins):
        for name in net.params:
            assert_bits_equal(net.params[name], twin.params[name], name)
