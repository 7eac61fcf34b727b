"""Fused batch-norm kernels: Numba vs NumPy twin (bit for bit, any thread count),
the book's formulas, central differences, PyTorch, and a normalisation property.

The modules are imported directly (not through the backend registry) so these
tests run before the kernels are registered.
"""
import inspect

import numpy as np
import pytest
from conftest import assert_bits_equal
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastopt as fo
import fastopt.reference.batchnorm as ref

try:
    import fastopt.kernels.batchnorm as nb
except ImportError:  # no numba: the NumPy twins are still checked against the book
    nb = None

needs_numba = pytest.mark.skipif(nb is None, reason="numba is not installed")
IMPLS = {"numpy": ref, **({"numba": nb} if nb is not None else {})}
BOOK_EPS, STANDARD_EPS = 1e-6, 1e-5
SHAPES_2D = [(1, 1), (2, 3), (7, 5), (33, 4), (128, 100), (256, 1024), (3, 0), (0, 3)]
SHAPES_3D = [(1, 1, 1), (2, 3, 5), (4, 3, 17), (33, 2, 9), (40, 8, 64), (3, 2, 0), (0, 2, 3)]
KINDS = {"2d": ("batchnorm_", 2), "channel": ("batchnorm_channel_", 3)}


def _fn(impl, kind, op):
    return getattr(IMPLS[impl] if isinstance(impl, str) else impl, KINDS[kind][0] + op)


def _data(shape, dtype, seed=0, loc=5.0, scale=3.0):
    """x, gamma, beta, dout, running mean/var of matching shapes (stat axis 1)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * scale + loc).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(c)).astype(dtype)
    beta = rng.standard_normal(c).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    rmean = rng.standard_normal(c).astype(dtype)
    rvar = (0.5 + rng.random(c)).astype(dtype)
    return x, gamma, beta, dout, rmean, rvar


def _train(fn_fwd, x, gamma, beta, eps, **kw):
    c = x.shape[1]
    out, xhat = np.empty_like(x), np.empty_like(x)
    mean, var, inv_std = np.empty(c), np.empty(c), np.empty(c)
    fn_fwd(x, gamma, beta, out, xhat, mean, var, inv_std, eps, **kw)
    return out, xhat, mean, var, inv_std


def _backward(fn_bwd, dout, xhat, gamma, inv_std, **kw):
    dx = np.empty_like(dout)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(gamma)
    fn_bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta, **kw)
    return dx, dgamma, dbeta


def _eval(fn_eval, x, gamma, beta, rmean, rvar, eps):
    out = np.empty_like(x)
    fn_eval(x, gamma, beta, out, rmean, rvar, eps)
    return out


def _all_outputs(impl, kind, shape, dtype, eps, variant=None):
    """Every output of the three kernels (train forward, eval forward, backward)."""
    x, gamma, beta, dout, rmean, rvar = _data(shape, dtype)
    fns = [_fn(impl, kind, op) for op in ("forward_train", "forward_eval", "backward")]
    if variant is not None:
        fns = [getattr(f, variant) for f in fns]
    with np.errstate(invalid="ignore", divide="ignore"):
        fwd = _train(fns[0], x, gamma, beta, eps)
        ev = _eval(fns[1], x, gamma, beta, rmean, rvar, eps)
        bwd = _backward(fns[2], dout, fwd[1], gamma, fwd[4])
    names = ["out", "xhat", "mean", "var", "inv_std", "eval_out", "dx", "dgamma", "dbeta"]
    return dict(zip(names, [*fwd, ev, *bwd]))


# ------------------------------------------------------------ bit parity


def _kind_shapes():
    return ([("2d", s) for s in SHAPES_2D] + [("channel", s) for s in SHAPES_3D])


@needs_numba
@pytest.mark.parametrize("kind,shape", _kind_shapes(), ids=lambda v: str(v))
@pytest.mark.parametrize("eps", [BOOK_EPS, STANDARD_EPS], ids=["book-eps", "standard-eps"])
@pytest.mark.parametrize("variant", [None, "serial", "parallel"],
                         ids=["auto", "serial", "parallel"])
def test_numba_matches_numpy_bit_for_bit(kind, shape, eps, variant, dtype):
    expected = _all_outputs("numpy", kind, shape, dtype, eps)
    got = _all_outputs("numba", kind, shape, dtype, eps, variant)
    for name, value in expected.items():
        assert_bits_equal(got[name], value, name)
    assert got["mean"].dtype == got["var"].dtype == got["inv_std"].dtype == np.float64
    assert got["out"].dtype == got["xhat"].dtype == got["dx"].dtype == dtype
    assert got["dgamma"].dtype == dtype


@needs_numba
@pytest.mark.parametrize("kind", list(KINDS))
def test_nonfinite_inputs_propagate_like_numpy(kind, dtype):
    shape = (40, 3) if kind == "2d" else (40, 3, 5)
    x, gamma, beta, dout, _, _ = _data(shape, dtype)
    x[3, 0], x[7, 1] = np.nan, np.inf
    dout[5, 2] = -np.inf
    results = []
    for impl in ("numpy", "numba"):
        with np.errstate(all="ignore"):
            fwd = _train(_fn(impl, kind, "forward_train"), x, gamma, beta, BOOK_EPS)
            bwd = _backward(_fn(impl, kind, "backward"), dout, fwd[1], gamma, fwd[4])
        results.append(fwd + bwd)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(results[1][2][0]) and np.isnan(results[1][3][1])  # mean, var hit


@needs_numba
@pytest.mark.parametrize("kind", list(KINDS))
def test_work_buffer_and_aliasing(kind, dtype):
    """A reused work buffer (positional or keyword), in-place out=x and dx=dout:
    the same bits."""
    shape = (70, 6) if kind == "2d" else (70, 3, 4)
    x, gamma, beta, dout, _, _ = _data(shape, dtype)
    fwd_fn, bwd_fn = _fn("numba", kind, "forward_train"), _fn("numba", kind, "backward")
    size = (nb.batchnorm_work_size(*shape) if kind == "2d"
            else nb.batchnorm_channel_work_size(*shape))
    work = np.full(size + 5, np.nan)
    base = _train(fwd_fn, x, gamma, beta, STANDARD_EPS)
    base_b = _backward(bwd_fn, dout, base[1], gamma, base[4])
    for kw in ({"work": work}, {}):
        again = _train(fwd_fn, x, gamma, beta, STANDARD_EPS, **kw)
        for a, b in zip(again, base):
            assert_bits_equal(a, b)
    c = shape[1]
    stats = np.empty(c), np.empty(c), np.empty(c)
    inplace = x.copy()
    fwd_fn(inplace, gamma, beta, inplace, np.empty_like(x), *stats, STANDARD_EPS, work)
    assert_bits_equal(inplace, base[0])
    d = dout.copy()
    dg, db = np.empty_like(gamma), np.empty_like(gamma)
    bwd_fn(d, base[1], gamma, base[4], d, dg, db, work)
    assert_bits_equal(d, base_b[0])
    assert_bits_equal(dg, base_b[1])


@needs_numba
@pytest.mark.parametrize("kind,shape", [("2d", (256, 1024)), ("2d", (100, 33)),
                                        ("channel", (64, 16, 64)), ("channel", (45, 3, 7))])
def test_same_bits_at_one_and_two_threads(kind, shape, dtype):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two threads")
    before = fo.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            fo.set_num_threads(threads)
            for variant in (None, "parallel"):
                runs.append(_all_outputs("numba", kind, shape, dtype, STANDARD_EPS, variant))
    finally:
        fo.set_num_threads(before)
    for other in runs[1:]:
        for name, value in runs[0].items():
            assert_bits_equal(other[name], value, name)


def _unannotated(sig):
    return sig.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                   for p in sig.parameters.values()],
                       return_annotation=inspect.Signature.empty)


@needs_numba
def test_parallel_threshold_and_signatures():
    assert nb.PARALLEL_ELEMENTS >= 1
    for name in ("forward_train", "forward_eval", "backward"):
        for kind in KINDS:
            k, r = _fn("numba", kind, name), _fn("numpy", kind, name)
            assert _unannotated(inspect.signature(k)) == _unannotated(inspect.signature(r))
            assert k.__name__ == r.__name__
            assert callable(k.serial) and callable(k.parallel)


# ------------------------------------------------------------ the book's layer


def book_forward(x, gamma, beta, eps=BOOK_EPS):
    """common/layers.py BatchNormalization.__forward, training branch (book-reference §1.3)."""
    if x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    mu = x.mean(axis=0)
    xc = x - mu
    var = np.mean(xc ** 2, axis=0)
    std = np.sqrt(var + eps)
    xn = xc / std
    return gamma * xn + beta, xn, xc, mu, var, std


def book_backward(dout, gamma, xn, xc, std):
    """The book's staged-graph backward."""
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(xn * dout, axis=0)
    dxn = gamma * dout
    dxc = dxn / std
    dstd = -np.sum((dxn * xc) / (std * std), axis=0)
    dvar = 0.5 * dstd / std
    dxc += (2.0 / n) * xc * dvar
    dmu = np.sum(dxc, axis=0)
    dx = dxc - dmu / n
    return dx, dgamma, dbeta


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("shape", [(2, 3), (7, 5), (100, 100), (128, 100)])
@pytest.mark.parametrize("loc", [0.0, 100.0])
def test_forward_matches_the_book(impl, shape, loc):
    x, gamma, beta, _, _, _ = _data(shape, np.float64, seed=1, loc=loc)
    out, xhat, mean, var, inv_std = _train(_fn(impl, "2d", "forward_train"), x, gamma, beta,
                                           BOOK_EPS)
    b_out, b_xn, _, b_mu, b_var, b_std = book_forward(x, gamma, beta)
    tol = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, b_out, **tol)
    np.testing.assert_allclose(xhat, b_xn, **tol)
    np.testing.assert_allclose(mean, b_mu, rtol=1e-12, atol=1e-12 * (1 + loc))
    np.testing.assert_allclose(var, b_var, **tol)
    np.testing.assert_allclose(inv_std, 1 / b_std, **tol)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_book_4d_input_is_the_flattened_2d_kernel(impl):
    """The book normalises (N, C, H, W) per flattened feature: pass x.reshape(N, -1)."""
    x4, _, _, _, _, _ = _data((6, 2, 3, 4), np.float64, seed=2)
    gamma = np.linspace(0.5, 1.5, 24)
    beta = np.linspace(-1, 1, 24)
    out, *_ = _train(_fn(impl, "2d", "forward_train"), x4.reshape(6, -1), gamma, beta, BOOK_EPS)
    np.testing.assert_allclose(out.reshape(x4.shape),
                               book_forward(x4, gamma, beta)[0].reshape(x4.shape),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("shape", [(2, 3), (7, 5), (100, 100), (128, 100)])
def test_backward_matches_the_books_staged_graph(impl, shape):
    x, gamma, beta, dout, _, _ = _data(shape, np.float64, seed=3)
    _, xhat, _, _, inv_std = _train(_fn(impl, "2d", "forward_train"), x, gamma, beta, BOOK_EPS)
    dx, dgamma, dbeta = _backward(_fn(impl, "2d", "backward"), dout, xhat, gamma, inv_std)
    _, xn, xc, _, _, std = book_forward(x, gamma, beta)
    b_dx, b_dgamma, b_dbeta = book_backward(dout, gamma, xn, xc, std)
    for got, want in ((dx, b_dx), (dgamma, b_dgamma), (dbeta, b_dbeta)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_eval_matches_the_book(impl):
    x, gamma, beta, _, rmean, rvar = _data((9, 4), np.float64, seed=4)
    out = _eval(_fn(impl, "2d", "forward_eval"), x, gamma, beta, rmean, rvar, BOOK_EPS)
    want = gamma * ((x - rmean) / np.sqrt(rvar + BOOK_EPS)) + beta
    np.testing.assert_allclose(out, want, rtol=1e-13, atol=1e-13)


def test_batch_of_one_gives_beta():
    """The book's N = 1 gradient check is degenerate: xhat = 0, so out = beta."""
    x, gamma, beta, _, _, _ = _data((1, 5), np.float64)
    for impl in IMPLS:
        out, xhat, _, var, _ = _train(_fn(impl, "2d", "forward_train"), x, gamma, beta, BOOK_EPS)
        assert np.all(xhat == 0) and np.all(var == 0)
        np.testing.assert_array_equal(out, beta[None, :])


# ------------------------------------------------------------ central differences


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("kind,shape", [("2d", (2, 3)), ("2d", (5, 4)), ("channel", (3, 2, 4))])
def test_gradients_match_central_differences(impl, kind, shape):
    x, gamma, beta, weight, _, _ = _data(shape, np.float64, seed=5)
    fwd, bwd = _fn(impl, kind, "forward_train"), _fn(impl, kind, "backward")

    def loss(x_, g_, b_):
        out = _train(fwd, x_, g_, b_, STANDARD_EPS)[0]
        return float(np.sum(out * weight))

    _, xhat, _, _, inv_std = _train(fwd, x, gamma, beta, STANDARD_EPS)
    dx, dgamma, dbeta = _backward(bwd, weight, xhat, gamma, inv_std)
    h = 1e-6
    for arr, grad in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        num = np.empty_like(arr)
        for i in np.ndindex(arr.shape):
            keep = arr[i]
            arr[i] = keep + h
            up = loss(x, gamma, beta)
            arr[i] = keep - h
            down = loss(x, gamma, beta)
            arr[i] = keep
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------ PyTorch


def _torch_train(torch, x, gamma, beta, dout, eps):
    F = torch.nn.functional
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(gamma, requires_grad=True)
    tb = torch.tensor(beta, requires_grad=True)
    c = x.shape[1]
    rm = torch.zeros(c, dtype=tx.dtype)
    rv = torch.ones(c, dtype=tx.dtype)
    y = F.batch_norm(tx, rm, rv, tg, tb, training=True, momentum=0.1, eps=eps)
    y.backward(torch.tensor(dout))
    return [t.detach().numpy() for t in (y, tx.grad, tg.grad, tb.grad, rm, rv)]


@pytest.mark.parametrize("impl", list(IMPLS))
@pytest.mark.parametrize("kind,shape", [("2d", (128, 100)), ("2d", (7, 5)),
                                        ("channel", (8, 4, 30)), ("channel", (40, 3, 7))])
@pytest.mark.parametrize("dtype_, tol", [(np.float32, 1e-5), (np.float64, 1e-10)],
                         ids=["f32", "f64"])
def test_matches_torch_batch_norm(impl, kind, shape, dtype_, tol):
    """F.batch_norm(training=True) + autograd; the standard preset's running stats
    (momentum 0.1, unbiased var, from 0 and 1) follow from the kernel's biased var."""
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout, _, _ = _data(shape, dtype_, seed=6, loc=1.0, scale=2.0)
    t_out, t_dx, t_dg, t_db, t_rm, t_rv = _torch_train(torch, x, gamma, beta, dout, STANDARD_EPS)
    out, xhat, mean, var, inv_std = _train(_fn(impl, kind, "forward_train"), x, gamma, beta,
                                           STANDARD_EPS)
    dx, dgamma, dbeta = _backward(_fn(impl, kind, "backward"), dout, xhat, gamma, inv_std)
    m = x.size // x.shape[1]
    running_mean = 0.9 * 0.0 + 0.1 * mean
    running_var = 0.9 * 1.0 + 0.1 * (var * m / (m - 1))
    rel = dict(rtol=tol, atol=tol)
    np.testing.assert_allclose(out, t_out, **rel)
    np.testing.assert_allclose(dx, t_dx, **rel)
    # dgamma, dbeta are sums over N·L terms: compare relative to their scale
    for got, want in ((dgamma, t_dg), (dbeta, t_db)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(m))
    np.testing.assert_allclose(running_mean, t_rm, **rel)
    np.testing.assert_allclose(running_var, t_rv, **rel)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_channel_kernels_match_torch_batchnorm2d(impl):
    """nn.BatchNorm2d on (N, C, H, W) == the channel kernels on x.reshape(N, C, H·W)."""
    torch = pytest.importorskip("torch")
    n, c, h, w = 6, 3, 5, 4
    x4, _, _, dout4, _, _ = _data((n, c, h, w), np.float32, seed=7)
    bn = torch.nn.BatchNorm2d(c, eps=STANDARD_EPS)
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(0.5, 1.5, c))
        bn.bias.copy_(torch.linspace(-1, 1, c))
    tx = torch.tensor(x4, requires_grad=True)
    y = bn.train()(tx)
    y.backward(torch.tensor(dout4))
    gamma = bn.weight.detach().numpy().copy()
    beta = bn.bias.detach().numpy().copy()
    x = x4.reshape(n, c, -1)
    out, xhat, mean, var, inv_std = _train(_fn(impl, "channel", "forward_train"), x, gamma, beta,
                                           STANDARD_EPS)
    dx, dgamma, dbeta = _backward(_fn(impl, "channel", "backward"), dout4.reshape(n, c, -1),
                                  xhat, gamma, inv_std)
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.reshape(x4.shape), y.detach().numpy(), **tol)
    np.testing.assert_allclose(dx.reshape(x4.shape), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(dgamma, bn.weight.grad.numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dbeta, bn.bias.grad.numpy(), rtol=1e-5, atol=1e-4)
    m = n * h * w
    np.testing.assert_allclose(0.1 * var * m / (m - 1) + 0.9, bn.running_var.numpy(), **tol)
    # eval mode with the module's running statistics
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    ev = _eval(_fn(impl, "channel", "forward_eval"), x, gamma, beta, rm, rv, STANDARD_EPS)
    with torch.no_grad():
        want = bn.eval()(torch.tensor(x4)).numpy()
    np.testing.assert_allclose(ev.reshape(x4.shape), want, **tol)


# ------------------------------------------------------------ property


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 70), c=st.integers(1, 6), length=st.integers(1, 5),
       seed=st.integers(0, 2**16), loc=st.floats(-1e3, 1e3), log_scale=st.floats(-3, 3),
       kind=st.sampled_from(list(KINDS)), impl=st.sampled_from(list(IMPLS)),
       dtype=st.sampled_from([np.float32, np.float64]),
       eps=st.sampled_from([BOOK_EPS, STANDARD_EPS]))
def test_output_is_normalised_per_feature(n, c, length, seed, loc, log_scale, kind, impl, dtype,
                                          eps):
    """gamma = 1, beta = 0: each non-constant feature comes out with mean 0 and
    variance var/(var + eps)."""
    rng = np.random.default_rng(seed)
    shape = (n, c) if kind == "2d" else (n, c, length)
    feature_scale = 10.0 ** (log_scale + rng.uniform(-1, 1, c))  # features of different scales
    fshape = (1, c) + (1,) * (len(shape) - 2)
    x = (loc + rng.standard_normal(shape) * feature_scale.reshape(fshape)).astype(dtype)
    if c > 1:
        x[:, 0] = x.flat[0]  # feature 0 constant: normalises to exactly 0
    out, *_ = _train(_fn(impl, kind, "forward_train"), x, np.ones(c, dtype), np.zeros(c, dtype),
                     eps)
    axes = (0,) if kind == "2d" else (0, 2)
    x64, o64 = x.astype(np.float64), out.astype(np.float64)
    var = x64.var(axis=axes)
    spread = np.abs(x64).max(axis=axes)
    tol = 1e-9 if dtype == np.float64 else 2e-5
    checked = 0
    for j in range(c):
        feat = np.take(o64, j, axis=1)
        if var[j] == 0:
            assert np.all(feat == 0)
            continue
        if np.sqrt(var[j]) < 1e-4 * spread[j]:
            continue  # too close to constant for the dtype to resolve
        assert abs(feat.mean()) <= tol
        assert feat.var() == pytest.approx(var[j] / (var[j] + eps), abs=tol, rel=tol)
        checked += 1
    assume(checked > 0)
