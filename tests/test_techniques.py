"""fastopt.techniques and the hooks they use: post-step hooks, input gradients, BN eval backward."""
import numpy as np
import pytest

from fastopt import nn, optim
from fastopt.book import MultiLayerNetExtend
from fastopt.nn.gradcheck import numerical_gradient
from fastopt.optim import load_checkpoint, save_checkpoint
from fastopt.techniques import (
    AdversarialTraining,
    Ensemble,
    L2Tie,
    Pruner,
    SharedSequential,
    TiedAffine,
    accuracy_under_attack,
    bagging,
    bootstrap_indices,
    copy_parameters,
    fgsm,
    freeze,
    frozen_names,
    l2_tie,
    magnitude_masks,
    mlp,
    sparsity,
)


def _data(n=12, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.05, 0.95, (n, d)), rng.integers(0, c, n)


# ----------------------------------------------------------------------------- post-step hook

def test_post_step_hook_runs_after_each_update_and_can_be_removed():
    p = {"w": np.zeros(3)}
    opt = optim.SGD(p, lr=1.0)
    seen = []
    handle = opt.register_step_post_hook(lambda o: seen.append((o.step_count, p["w"].copy())))
    opt.step({"w": np.ones(3)})
    opt.step({"w": np.ones(3)})
    assert [s for s, _ in seen] == [1, 2]
    np.testing.assert_array_equal(seen[0][1], -np.ones(3))  # sees the updated parameters
    handle.remove()
    handle.remove()  # idempotent
    opt.step({"w": np.ones(3)})
    assert len(seen) == 2


def test_post_step_hook_skipped_step_and_bad_hook():
    opt = optim.SGD({"w": np.zeros(2)}, lr=1.0, nonfinite="skip")
    calls = []
    opt.register_step_post_hook(lambda o: calls.append(1))
    assert opt.step({"w": np.array([np.nan, 1.0])}) is False
    assert calls == []
    with pytest.raises(TypeError, match="hook"):
        opt.register_step_post_hook(3)


# ----------------------------------------------------------------------------- pruning

def test_magnitude_masks_match_a_sorted_reference():
    rng = np.random.default_rng(1)
    params = {"W1": rng.standard_normal((8, 5)), "b1": rng.standard_normal(5),
              "W2": 3 * rng.standard_normal((5, 4))}
    masks = magnitude_masks(params, 0.6)
    assert set(masks) == {"W1", "W2"}  # biases are not pruned by default
    allw = np.concatenate([np.abs(params[n]).ravel() for n in ("W1", "W2")])
    k = round(0.6 * allw.size)
    threshold = np.sort(allw)[k - 1]
    for n in masks:
        np.testing.assert_array_equal(masks[n], np.abs(params[n]) > threshold)
    assert sparsity(masks) == pytest.approx(k / allw.size)
    layer = magnitude_masks(params, 0.5, scope="layer")
    for n in layer:
        assert np.count_nonzero(~layer[n]) == round(0.5 * params[n].size)
        assert np.abs(params[n][layer[n]]).min() >= np.abs(params[n][~layer[n]]).max()


def test_magnitude_masks_grow_the_pruned_set():
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((10, 10))}
    first = magnitude_masks(params, 0.3)
    params["W"][~first["W"]] = 5.0  # large again, but already pruned
    second = magnitude_masks(params, 0.5, masks=first)
    assert not np.any(second["W"] & ~first["W"])
    assert np.count_nonzero(~second["W"]) == 50


@pytest.mark.parametrize("call, exc, match", [
    (lambda p: magnitude_masks(p, 1.5), ValueError, "fraction"),
    (lambda p: magnitude_masks(p, 0.5, scope="row"), ValueError, "scope"),
    (lambda p: magnitude_masks(p, 0.5, names=["X"]), ValueError, "names"),
    (lambda p: Pruner(p, {"W": np.ones((2, 2), bool)}), ValueError, "masks"),
    (lambda p: Pruner(p, {"W": np.ones((3, 3))}), TypeError, "bool"),
    (lambda p: Pruner(p).attach(optim.SGD({"v": np.zeros(2)}, lr=0.1)), ValueError, "optimizer"),
])
def test_pruning_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call({"W": np.ones((3, 3)), "b": np.zeros(3)})


def _pruned_net(seed=0):
    net = mlp([6, 16, 16, 3], seed=seed)
    opt = optim.Adam(net.params, lr=1e-2, weight_decay=1e-3)
    return net, opt


def test_masks_stay_zero_through_adam_steps_with_momentum_from_before():
    x, t = _data(32)
    net, opt = _pruned_net()
    for _ in range(5):  # build up Adam state first: m and v are non-zero everywhere
        opt.step(net.gradient(x, t))
    masks = magnitude_masks(net.params, 0.8)
    pruner = Pruner(net.params, masks)
    assert len(pruner._buffers) == 1  # one mask buffer aligned with the one float64 buffer
    pruner.attach(opt)
    for _ in range(50):
        opt.step(net.gradient(x, t))
        for n, m in masks.items():
            assert np.all(net.params[n][~m] == 0)
    assert all(np.all(net.params[n][m] != 0) for n, m in masks.items())  # kept weights still train
    assert pruner.sparsity() == pytest.approx(0.8, abs=1e-3)


def test_pruner_on_separate_arrays_and_set_masks():
    rng = np.random.default_rng(3)
    p = {"W": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)}
    opt = optim.SGD(p, lr=0.1, momentum=0.9)
    pruner = Pruner(p, magnitude_masks(p, 0.5))
    pruner.attach(opt)
    for _ in range(10):
        opt.step({"W": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)})
    assert np.count_nonzero(p["W"] == 0) == 8
    pruner.set_masks(magnitude_masks(p, 0.75, masks=pruner.masks()))
    opt.step({"W": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)})
    assert np.count_nonzero(p["W"] == 0) == 12


def test_pruning_survives_a_checkpoint_round_trip(tmp_path):
    x, t = _data(32)
    net, opt = _pruned_net()
    pruner = Pruner(net.params, magnitude_masks(net.params, 0.7))
    pruner.attach(opt)
    for _ in range(5):
        opt.step(net.gradient(x, t))
    path = save_checkpoint(tmp_path / "ckpt.npz", opt, dict(net.params))
    np.savez(tmp_path / "masks.npz", **pruner.masks())
    for _ in range(5):
        opt.step(net.gradient(x, t))
    expected = {n: net.params[n].copy() for n in net.params}

    net2, opt2 = _pruned_net(seed=9)
    load_checkpoint(path, opt2, dict(net2.params))
    with np.load(tmp_path / "masks.npz") as f:
        Pruner(net2.params, {n: f[n] for n in f.files}).attach(opt2)
    for _ in range(5):
        opt2.step(net2.gradient(x, t))
    for n in net.params:
        np.testing.assert_array_equal(net2.params[n], expected[n])


# ----------------------------------------------------------------------------- tying and sharing

def test_l2_tie_penalty_and_gradient_against_numerical():
    rng = np.random.default_rng(4)
    a = {"W": rng.standard_normal((3, 4)), "V": rng.standard_normal((4, 2))}
    b = {"W": rng.standard_normal((3, 4)), "U": rng.standard_normal((4, 2))}
    tie = L2Tie(a, b, lam=0.7, names=["W", ("V", "U")])
    expected = 0.35 * (np.sum((a["W"] - b["W"]) ** 2) + np.sum((a["V"] - b["U"]) ** 2))
    assert tie.penalty() == pytest.approx(expected, rel=1e-12)
    ga = {k: np.zeros_like(v) for k, v in a.items()}
    gb = {k: np.zeros_like(v) for k, v in b.items()}
    assert tie.add_gradients(ga, gb) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(ga["W"], numerical_gradient(tie.penalty, a["W"]), atol=1e-7)
    np.testing.assert_allclose(ga["V"], numerical_gradient(tie.penalty, a["V"]), atol=1e-7)
    np.testing.assert_allclose(gb["U"], numerical_gradient(tie.penalty, b["U"]), atol=1e-7)
    gb2 = {k: np.zeros_like(v) for k, v in b.items()}
    l2_tie(a, b, 0.7, ["W"], grads_b=gb2)
    np.testing.assert_allclose(gb2["W"], -0.7 * (a["W"] - b["W"]))
    with pytest.raises(ValueError, match="names"):
        L2Tie(a, b, 1.0, names=["V"])
    with pytest.raises(ValueError, match="lam"):
        L2Tie(a, b, -1.0)


def _shared_net(seed=5):
    rng = np.random.default_rng(seed)
    first = nn.Affine(rng.standard_normal((6, 5)), rng.standard_normal(5))
    hidden = nn.Affine(0.5 * rng.standard_normal((5, 5)), rng.standard_normal(5))
    last = nn.Affine(rng.standard_normal((5, 3)), rng.standard_normal(3))
    return SharedSequential([first, nn.Tanh(), hidden, nn.Tanh(), TiedAffine(hidden), nn.Tanh(),
                             TiedAffine(hidden), nn.Tanh(), last])


def test_shared_weights_gradient_against_numerical():
    x, t = _data(7, d=6)
    net = _shared_net()
    assert sorted(net.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]  # the shared W stored once
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    for name in net.params:
        num = numerical_gradient(lambda: net.loss(x, t), net.params[name], h=1e-6)
        np.testing.assert_allclose(grads[name], num, rtol=1e-5, atol=1e-8, err_msg=name)


def test_tied_affine_outside_shared_sequential_raises():
    hidden = nn.Affine(np.eye(3), np.zeros(3))
    net = nn.Sequential([nn.Affine(np.ones((2, 3)), np.zeros(3)), hidden, TiedAffine(hidden)])
    with pytest.raises(RuntimeError, match="SharedSequential"):
        net.gradient(np.ones((2, 2)), np.array([0, 1]))
    with pytest.raises(TypeError, match="owner"):
        TiedAffine(nn.ReLU())


# ----------------------------------------------------------------------------- input gradients, FGSM

def _bn_dropout_net():
    net = MultiLayerNetExtend(6, [7, 5], 3, use_batchnorm=True, use_dropout=True,
                              dropout_ration=0.3, seed=1, dropout_seed=2)
    x, t = _data(10)
    for _ in range(3):  # estimate running statistics, move gamma/beta away from 1/0
        net.gradient(x, t)
        for name in net.params:
            net.params[name] -= 0.1 * net.grads[name]
    return net


@pytest.mark.parametrize("kind, train", [("mlp", False), ("bn+dropout", False), ("shared", False),
                                         ("bn", True)])
def test_input_gradient_against_numerical(kind, train):
    x, t = _data(5)
    net = {"mlp": lambda: mlp([6, 8, 8, 3], activation="tanh", seed=3),
           "bn+dropout": _bn_dropout_net, "shared": _shared_net,
           "bn": lambda: MultiLayerNetExtend(6, [7, 5], 3, use_batchnorm=True, seed=4)}[kind]()
    gx = net.input_gradient(x, t, train)
    loss = net.loss_layer.forward  # the loss without regularization

    def f():
        return loss(net.predict(x, train), t)

    num = numerical_gradient(f, x, h=1e-6)
    np.testing.assert_allclose(gx, num, rtol=1e-4, atol=1e-7)
    # side effect: grads now hold this batch's parameter gradient (in the same mode)
    name = next(iter(net.params))
    numw = numerical_gradient(f, net.params[name], h=1e-6)
    # (the loss's +1e-7 inside the log makes the analytic gradient differ by ~1e-7 relative to y)
    np.testing.assert_allclose(net.grads[name], numw, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("preset, shape", [("book", (4, 3)), ("standard", (4, 2, 3, 3)),
                                           ("book", (4, 2, 2, 2))])
def test_batchnorm_eval_backward_against_numerical(preset, shape):
    rng = np.random.default_rng(6)
    features = shape[1] if preset == "standard" else int(np.prod(shape[1:]))
    bn = nn.BatchNorm(rng.uniform(0.5, 2, features), rng.standard_normal(features), preset=preset,
                      running_mean=rng.standard_normal(features),
                      running_var=rng.uniform(0.5, 2, features))
    x, w = rng.standard_normal(shape), rng.standard_normal(shape)

    def f():
        return float(np.sum(w * bn.forward(x, train=False)))

    bn.forward(x, train=False)
    dx = bn.backward(w)
    np.testing.assert_allclose(dx, numerical_gradient(f, x, h=1e-6), rtol=1e-6, atol=1e-9)
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()
    np.testing.assert_allclose(dgamma, numerical_gradient(f, bn.gamma, h=1e-6), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dbeta, numerical_gradient(f, bn.beta, h=1e-6), rtol=1e-6, atol=1e-9)
    # a training forward afterwards brings the training backward back
    bn.forward(x, train=True)
    assert bn.backward(w).shape == shape


def test_fgsm_is_a_clipped_signed_step():
    x, t = _data(9)
    net = mlp([6, 8, 3], seed=2)
    eps = 0.1
    g = net.input_gradient(x, t)
    x_adv = fgsm(net, x, t, eps)
    np.testing.assert_array_equal(x_adv, np.clip(x + eps * np.sign(g), 0, 1))
    assert np.all(np.abs(x_adv - x) <= eps + 1e-15)
    assert net.loss(x_adv, t) > net.loss(x, t)
    np.testing.assert_array_equal(fgsm(net, x, t, 0.0), x)
    assert fgsm(net, x.astype(np.float32), t, eps).dtype == np.float32
    with pytest.raises(ValueError, match="eps"):
        fgsm(net, x, t, -1.0)
    with pytest.raises(ValueError, match="clip"):
        fgsm(net, x, t, 0.1, clip=(1, 0))


def test_accuracy_under_attack_falls_with_eps_and_adversarial_gradient_mixes():
    x, t = _data(60, seed=7)
    net = mlp([6, 16, 3], seed=4)
    opt = optim.Adam(net.params, lr=1e-2)
    for _ in range(200):
        opt.step(net.gradient(x, t))
    accs = [accuracy_under_attack(net, x, t, e, batch_size=7) for e in (0.0, 0.05, 0.2)]
    assert accs[0] == net.accuracy(x, t)
    assert accs[0] >= accs[1] >= accs[2] and accs[2] < accs[0]
    robust = AdversarialTraining(net, 0.1, alpha=0.3)
    x_adv = fgsm(net, x, t, 0.1)
    clean = {k: v.copy() for k, v in net.gradient(x, t).items()}
    adv = {k: v.copy() for k, v in net.gradient(x_adv, t).items()}
    got = robust.gradient(x, t)
    for k in clean:
        np.testing.assert_allclose(got[k], 0.3 * clean[k] + 0.7 * adv[k], rtol=1e-12, atol=1e-15)
    assert robust.params is net.params and robust.accuracy(x, t) == net.accuracy(x, t)


# ----------------------------------------------------------------------------- bagging

def test_bootstrap_indices_are_deterministic_with_a_seed():
    a = bootstrap_indices(50, 4, seed=3)
    assert a.shape == (4, 50) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 50
    np.testing.assert_array_equal(a, bootstrap_indices(50, 4, seed=3))
    assert not np.array_equal(a, bootstrap_indices(50, 4, seed=4))
    assert bootstrap_indices(10, 2, sample_size=3, seed=0).shape == (2, 3)
    distinct = np.mean([len(np.unique(r)) for r in bootstrap_indices(1000, 20, seed=0)]) / 1000
    assert distinct == pytest.approx(1 - np.exp(-1), abs=0.02)
    with pytest.raises(ValueError, match="n_models"):
        bootstrap_indices(10, 0)


def test_bagging_is_reproducible_and_averages_softmax():
    x, t = _data(40, seed=8)

    def run():
        return bagging(lambda i: mlp([6, 8, 3], seed=i), lambda n: optim.Adam(n.params, lr=1e-2),
                       x, t, 3, epochs=2, batch_size=8, seed=5)

    e1, e2 = run(), run()
    for n1, n2 in zip(e1.networks, e2.networks):
        for k in n1.params:
            np.testing.assert_array_equal(n1.params[k], n2.params[k])
    np.testing.assert_array_equal(e1.indices, bootstrap_indices(40, 3, seed=5))
    probs = np.mean([nn.softmax(n.predict(x)) for n in e1.networks], axis=0)
    np.testing.assert_allclose(e1.predict_proba(x), probs, rtol=1e-12)
    assert e1.accuracy(x, t) == np.mean(probs.argmax(1) == t)
    assert Ensemble(e1.networks[:1]).accuracy(x, t) == e1.networks[0].accuracy(x, t)


# ----------------------------------------------------------------------------- freezing

def test_frozen_parameters_stay_bit_unchanged_and_can_be_unfrozen():
    x, t = _data(20)
    net = mlp([6, 8, 8, 3], seed=6)
    frozen = {k: net.params[k].copy() for k in ("W1", "b1")}
    others = {k: net.params[k].copy() for k in ("W2", "W3")}
    opt = optim.SGD(freeze(net.params, ["W1", "b1"], lr=0.1), lr=0.1, momentum=0.9, weight_decay=1e-2)
    for _ in range(30):
        opt.step(net.gradient(x, t))
    for k, v in frozen.items():
        assert net.params[k].tobytes() == v.tobytes()
    assert all(not np.array_equal(net.params[k], v) for k, v in others.items())
    opt.param_groups[1]["frozen"] = False
    opt.step(net.gradient(x, t))
    assert not np.array_equal(net.params["W1"], frozen["W1"])


def test_freeze_selectors_and_copy_parameters():
    net = mlp([4, 5, 3], seed=0)
    assert frozen_names(net.params, "W") == ["W1", "W2"]
    assert frozen_names(net.params, lambda n: n.endswith("2")) == ["W2", "b2"]
    assert len(freeze(net.params, [])) == 1
    with pytest.raises(ValueError, match="frozen"):
        freeze(net.params, ["X"])
    other = mlp([4, 5, 3], seed=1)
    assert copy_parameters(net.params, other.params, ["W1"]) == ["W1"]
    np.testing.assert_array_equal(other.params["W1"], net.params["W1"])
    assert not np.array_equal(other.params["W2"], net.params["W2"])
    with pytest.raises(ValueError, match="shape"):
        copy_parameters(net.params, other.params, [("W1", "W2")])
