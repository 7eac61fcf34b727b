"""Fused hidden-layer and softmax/cross-entropy kernels, and the fused network path.

Three independent checks: each backend's fused kernels equal the NumPy twins bit
for bit; the fused kernels equal the chain of the separate kernels they replace;
and a network trained with fused stages equals the same network run layer by
layer, bit for bit (parameters, gradients, running statistics, dropout counters).
"""
import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt
from fastopt import book, nn
from fastopt import reference as ref
from fastopt.bench.book_numpy import cross_entropy_error as book_cross_entropy
from fastopt.bench.book_numpy import softmax as book_softmax
from fastopt.nn.fused import FusedHidden
from fastopt.reference.batchnorm import batchnorm_work_size
from fastopt.reference.rng import keep_threshold

SHAPES = [(1, 1), (2, 3), (7, 5), (33, 17), (100, 100), (300, 300)]  # the last runs in parallel


def _layer_inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    d = shape[1]
    return {"h": (rng.standard_normal(shape) * 2 + 1).astype(dtype),
            "bias": rng.standard_normal(d).astype(dtype),
            "gamma": (1 + 0.3 * rng.standard_normal(d)).astype(dtype),
            "beta": rng.standard_normal(d).astype(dtype),
            "dout": rng.standard_normal(shape).astype(dtype)}


def _forward(kernels, inputs, drop, p=0.3, inverted=False, momentum=0.9, var_factor=1.0):
    """Run the fused forward; return every array it wrote."""
    h = inputs["h"].copy()
    n, d = h.shape
    dtype = h.dtype
    out = {"h": h, "y": np.empty_like(h), "out": np.empty_like(h), "xhat": np.empty_like(h),
           "stats": np.empty((3, d)), "running_mean": np.full(d, 0.5), "running_var": np.ones(d)}
    scale = dtype.type(1 / (1 - p)) if inverted else dtype.type(1)
    kernels.bias_bn_relu_dropout_forward(
        h, inputs["bias"], inputs["gamma"], inputs["beta"], out["y"], out["out"], out["xhat"],
        *out["stats"], 1e-6, out["running_mean"], out["running_var"], momentum, var_factor,
        np.empty(batchnorm_work_size(n, d)), drop, np.uint64(42), np.uint64(7),
        np.uint64(keep_threshold(p)), scale)
    out["scale"] = scale
    return out


def _backward(kernels, fwd, inputs):
    n, d = fwd["h"].shape
    dtype = fwd["h"].dtype
    res = {"d": np.empty((n, d), dtype), "dx": np.empty((n, d), dtype), "dgamma": np.empty(d, dtype),
           "dbeta": np.empty(d, dtype), "dbias": np.empty(d, dtype)}
    kernels.bias_bn_relu_dropout_backward(
        inputs["dout"], fwd["out"], fwd["xhat"], inputs["gamma"], fwd["stats"][2], fwd["scale"],
        res["d"], res["dx"], res["dgamma"], res["dbeta"], res["dbias"],
        np.empty(batchnorm_work_size(n, d)))
    return res


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("drop,inverted", [(False, False), (True, False), (True, True)],
                         ids=["relu", "book-dropout", "inverted-dropout"])
def test_fused_layer_kernels_equal_reference(backend, dtype, shape, drop, inverted):
    inputs = _layer_inputs(shape, dtype)
    kernels = fastopt._backend.kernels()
    want = _forward(ref, inputs, drop, inverted=inverted, var_factor=1.25)
    want_b = _backward(ref, want, inputs)
    threads = fastopt.get_num_threads()
    try:
        for count in sorted({1, threads}):  # serial and (above the threshold) parallel paths
            fastopt.set_num_threads(count)
            got = _forward(kernels, inputs, drop, inverted=inverted, var_factor=1.25)
            for key in ("h", "y", "out", "xhat", "stats", "running_mean", "running_var"):
                assert_bits_equal(got[key], want[key], key)
            got_b = _backward(kernels, got, inputs)
            for key in got_b:
                assert_bits_equal(got_b[key], want_b[key], key)
    finally:
        fastopt.set_num_threads(threads)


@pytest.mark.parametrize("shape", [(2, 3), (33, 17), (100, 100)], ids=str)
@pytest.mark.parametrize("drop", [False, True], ids=["relu", "dropout"])
def test_fused_layer_kernels_equal_the_separate_kernels(backend, dtype, shape, drop):
    """The fused pair against bias add, batchnorm, relu, dropout and their backward, in turn."""
    k = fastopt._backend.kernels()
    inputs = _layer_inputs(shape, dtype, seed=3)
    p, seed, stream = 0.3, np.uint64(42), np.uint64(7)
    fused = _forward(k, inputs, drop, p=p)
    back = _backward(k, fused, inputs)

    n, d = shape
    h = inputs["h"] + inputs["bias"]
    y, xhat, stats = np.empty_like(h), np.empty_like(h), np.empty((3, d))
    k.batchnorm_forward_train(h, inputs["gamma"], inputs["beta"], y, xhat, *stats, 1e-6)
    out = np.empty_like(h)
    k.relu_forward(y.reshape(-1), out.reshape(-1))
    thr = np.uint64(keep_threshold(p))
    if drop:
        k.dropout_forward(out.reshape(-1), out.reshape(-1), seed, stream, np.uint64(0), thr,
                          dtype.type(1))
    for key, value in (("h", h), ("y", y), ("xhat", xhat), ("out", out), ("stats", stats)):
        assert_bits_equal(fused[key], value, key)
    running_mean = np.full(d, 0.5) * 0.9 + (1.0 - 0.9) * stats[0]
    assert_bits_equal(fused["running_mean"], running_mean, "running_mean")

    g = inputs["dout"].copy().reshape(-1)
    if drop:
        k.dropout_backward(g.copy(), g, seed, stream, np.uint64(0), thr, dtype.type(1))
    k.relu_backward(y.reshape(-1), g.copy(), g)
    dx, dgamma, dbeta = np.empty_like(h), np.empty(d, dtype), np.empty(d, dtype)
    k.batchnorm_backward(g.reshape(shape), xhat, inputs["gamma"], stats[2], dx, dgamma, dbeta)
    for key, value in (("dx", dx), ("dgamma", dgamma), ("dbeta", dbeta),
                       ("dbias", dx.sum(axis=0))):
        assert_bits_equal(back[key], value, key)


# ------------------------------------------------------------------ softmax

def _scores(n, c, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c)) * 4).astype(dtype), rng.integers(0, c, n)


@pytest.mark.parametrize("n,c", [(1, 2), (3, 2), (100, 10), (37, 129)])
def test_softmax_loss_equals_the_books(backend, dtype, n, c):
    x, t = _scores(n, c, dtype)
    layer = nn.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert_bits_equal(layer.y, book_softmax(x), "softmax")
    assert_bits_equal(np.asarray(loss), np.asarray(book_cross_entropy(book_softmax(x), t)), "loss")
    dx = layer.backward()
    want = book_softmax(x).copy()
    want[np.arange(n), t] -= 1
    assert_bits_equal(dx, want / n, "dx")


def test_softmax_kernels_equal_reference_with_nan_and_inf(backend, dtype):
    x, t = _scores(6, 5, dtype, seed=1)
    x[1, 2], x[2, 0], x[3, 4], x[4, :] = np.nan, np.inf, -np.inf, -np.inf
    k = fastopt._backend.kernels()
    got, want = np.empty_like(x), np.empty_like(x)
    with np.errstate(invalid="ignore"):  # inf - inf, as in the book
        k.softmax_shift(x, got)
        ref.softmax_shift(x, want)
    assert_bits_equal(got, want, "shift")
    with np.errstate(all="ignore"):
        e = np.exp(got)
        sums = np.add.reduce(e, axis=1)
        y1, y2, p1, p2 = np.empty_like(e), np.empty_like(e), np.empty(6, dtype), np.empty(6, dtype)
        assert k.softmax_pick(e, sums, t, y1, p1) == ref.softmax_pick(e, sums, t, y2, p2) == 0
    assert_bits_equal(y1, y2, "y")
    assert_bits_equal(p1, p2, "picks")
    assert np.isnan(y1[1]).all()


def test_softmax_pick_counts_bad_labels_and_writes_nothing(backend):
    e, y, picks = np.ones((3, 4)), np.full((3, 4), 7.0), np.full(3, 7.0)
    for impl in (fastopt._backend.kernels(), ref):
        assert impl.softmax_pick(e, e.sum(axis=1), np.array([0, 4, -1]), y, picks) == 2
        assert (y == 7).all() and (picks == 7).all()


def test_loss_layer_names_bad_labels():
    layer = nn.SoftmaxWithLoss()
    with pytest.raises(ValueError, match=r"lie in \[0, 3\), got values in \[0, 5\]"):
        layer.forward(np.zeros((2, 3)), np.array([0, 5]))
    assert layer.y is None


# ------------------------------------------------------------------ the network path

def _book_net(dtype, fuse, dropout=True, **kw):
    net = book.MultiLayerNetExtend(30, [20, 16, 12], 5, use_batchnorm=True, use_dropout=dropout,
                                   dropout_ration=0.3, seed=1, dtype=dtype, dropout_seed=3,
                                   weight_decay_lambda=0.01, **kw)
    if not fuse:
        net.stages = list(net.layers.values())
    return net


@pytest.mark.parametrize("dropout", [False, True], ids=["bn-relu", "bn-relu-dropout"])
@pytest.mark.parametrize("input_dtype", ["same", "float32"])
def test_fused_network_equals_layer_by_layer(backend, dtype, dropout, input_dtype):
    rng = np.random.default_rng(0)
    x = rng.random((24, 30)).astype(dtype if input_dtype == "same" else input_dtype)
    t = rng.integers(0, 5, 24)
    if np.result_type(x, dtype) != dtype:
        pytest.skip("float64 input into float32 weights runs layer by layer anyway")
    runs = []
    for fuse in (True, False):
        net = _book_net(dtype, fuse, dropout)
        opt = fastopt.optim.Adam(net.params, lr=1e-2)
        losses = []
        for _ in range(4):
            net.gradient(x, t)
            opt.step()
            losses.append(net.last_loss)
        runs.append((net, losses))
    (fused, fl), (plain, pl) = runs
    assert any(isinstance(s, FusedHidden) for s in fused.stages)
    assert not any(isinstance(s, FusedHidden) for s in plain.stages)
    assert_bits_equal(np.array(fl), np.array(pl), "losses")
    for name in fused.params:
        assert_bits_equal(fused.params[name], plain.params[name], name)
        assert_bits_equal(fused.grads[name], plain.grads[name], "grad " + name)
    for name, value in fused.buffers().items():
        assert_bits_equal(value, plain.buffers()[name], name)
    assert_bits_equal(fused.predict(x), plain.predict(x), "evaluation output")


def test_fusion_only_where_the_pattern_is():
    sig = book.MultiLayerNetExtend(8, [6, 6], 3, activation="sigmoid", use_batchnorm=True, seed=0)
    assert not any(isinstance(s, FusedHidden) for s in sig.stages)
    no_bn = book.MultiLayerNetExtend(8, [6, 6], 3, use_dropout=True, seed=0)
    assert not any(isinstance(s, FusedHidden) for s in no_bn.stages)
    net = book.MultiLayerNetExtend(8, [6, 6], 3, use_batchnorm=True, use_dropout=True, seed=0)
    assert [type(s).__name__ for s in net.stages] == ["FusedHidden", "FusedHidden", "Affine"]
    plain = nn.Sequential([nn.Affine(np.ones((2, 2)), np.zeros(2)),
                           nn.BatchNorm(np.ones(2), np.zeros(2)), nn.ReLU()], fuse=False)
    assert plain.stages == plain.layers


def test_layer_backward_after_a_fused_forward(backend):
    """The layers' own caches are left as their forwards would: layer-wise backprop works."""
    rng = np.random.default_rng(2)
    x, dout = rng.random((10, 30)), rng.standard_normal((10, 5))
    fused, plain = _book_net(np.float64, True), _book_net(np.float64, False)
    dx = {}
    for key, net in (("fused", fused), ("plain", plain)):
        net.predict(x, True)  # the fused stages' forward, then...
        g = dout
        for layer in reversed(list(net.layers.values())):  # ...each layer's own backward
            g = layer.backward(g)
        dx[key] = g
    assert_bits_equal(dx["fused"], dx["plain"], "input gradient")
    for name in fused.params:
        assert_bits_equal(fused.grads[name], plain.grads[name], "grad " + name)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("dropout", [False, True], ids=["bn-relu", "bn-relu-dropout"])
def test_input_gradient_runs_through_fused_stages(backend, dtype, dropout, train, monkeypatch):
    """∂L/∂x through the fused stages equals the layer-by-layer network's, bit for bit.

    In training mode the fused stages' backward kernel runs (no layer's own
    backward is called); in evaluation mode the stages run their layers.
    The parameter gradients and the dropout counters agree too.
    """
    rng = np.random.default_rng(4)
    x, t = rng.random((12, 30)).astype(dtype), rng.integers(0, 5, 12)
    fused, plain = _book_net(dtype, True, dropout), _book_net(dtype, False, dropout)
    for net in (fused, plain):  # training steps first: running statistics and counters move
        opt = fastopt.optim.SGD(net.params, lr=0.1)
        for _ in range(2):
            net.gradient(x, t)
            opt.step()
    assert [type(s).__name__ for s in fused.stages].count("FusedHidden") == 3
    layer_backward_calls = []
    if train:  # every layer but the last Affine is inside a fused stage
        for layer in list(fused.layers.values())[:-1]:
            monkeypatch.setattr(layer, "backward", lambda *a, **k: layer_backward_calls.append(a))
    gx = fused.input_gradient(x, t, train=train)
    assert layer_backward_calls == []
    expected = plain.input_gradient(x, t, train=train)
    assert gx.dtype == dtype and gx.shape == x.shape
    assert_bits_equal(gx, expected, "input gradient")
    for name in fused.params:
        assert_bits_equal(fused.grads[name], plain.grads[name], "grad " + name)
    for name, value in fused.buffers().items():
        assert_bits_equal(value, plain.buffers()[name], name)


def test_fused_backward_checks_dout_shape(backend):
    net = _book_net(np.float32, True)
    stage = net.stages[0]
    stage.forward(np.ones((4, 30), np.float32))
    with pytest.raises(ValueError, match="dout has shape"):
        stage.backward(np.ones((4, 3), np.float32))


def test_bad_labels_leave_the_network_as_it_was(backend):
    net = _book_net(np.float32, True)
    x = np.ones((4, 30), np.float32)
    before = {k: v.copy() for k, v in net.buffers().items()}
    with pytest.raises(ValueError, match=r"labels t must lie in \[0, 5\)"):
        net.gradient(x, np.array([0, 1, 7, 2]))
    for name, value in net.buffers().items():
        assert_bits_equal(value, before[name], name)
