"""Every kernel x compiled backend x dtype x length x steps equals the NumPy twin bit for bit."""
import numpy as np
import pytest
from conftest import COMPILED_BACKENDS, assert_bits_equal
from conftest import KERNEL_CASES, TRANSFORMS

import fastopt.reference as reference
from fastopt import _backend

LENGTHS = [0, 1, 7, 1000, 1000003]


def _run(kernels, name, p, state, grads, scalars, dtype):
    fn = getattr(kernels, name)
    args = [s if isinstance(s, bool) else dtype.type(s) for s in scalars]
    for g in grads:
        fn(p, g, *state, *args)


@pytest.mark.parametrize("backend_name", COMPILED_BACKENDS)
@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("steps", [1, 50])
def test_kernel_matches_reference(backend_name, case, transform, n, steps, dtype):
    if n == 1000003 and (transform == "decoupled" or steps > 1):
        pytest.skip("the long length runs once per kernel and path: transformed, and plain "
                    "(the identity compiles a loop of its own)")
    _, name, n_state, scalars = case
    rng = np.random.default_rng(n + steps)
    p0 = rng.standard_normal(n).astype(dtype)
    # adaptive state must be non-negative where it is a second moment
    state0 = [np.abs(rng.standard_normal(n)).astype(dtype) * 0.1 for _ in range(n_state)]
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(steps)]
    full = scalars + TRANSFORMS[transform]
    p_ref, s_ref = p0.copy(), [s.copy() for s in state0]
    _run(reference, name, p_ref, s_ref, grads, full, dtype)
    p_out, s_out = p0.copy(), [s.copy() for s in state0]
    _run(_backend.kernels(backend_name), name, p_out, s_out, grads, full, dtype)
    assert_bits_equal(p_out, p_ref, "params")
    for i, (a, b) in enumerate(zip(s_out, s_ref)):
        assert_bits_equal(a, b, f"state[{i}]")


@pytest.mark.parametrize("backend_name", COMPILED_BACKENDS)
@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
def test_nan_and_inf_propagate_like_reference(backend_name, case, dtype):
    _, name, n_state, scalars = case
    rng = np.random.default_rng(1)
    n = 64
    p0 = rng.standard_normal(n).astype(dtype)
    state0 = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(n_state)]
    g = rng.standard_normal(n).astype(dtype)
    g[3], g[10], g[20] = np.nan, np.inf, -np.inf
    for transform in TRANSFORMS.values():
        outs = []
        for kernels in (reference, _backend.kernels(backend_name)):
            p, s = p0.copy(), [x.copy() for x in state0]
            with np.errstate(invalid="ignore", over="ignore"):
                _run(kernels, name, p, s, [g, g], scalars + transform, dtype)
            outs.append((p, s))
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        for a, b in zip(outs[0][1], outs[1][1]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend_name", COMPILED_BACKENDS)
@pytest.mark.parametrize("n", LENGTHS + [4096, 4097, 8 * 4096 + 5])
def test_sumsq_matches_reference(backend_name, n, dtype):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    got = _backend.kernels(backend_name).sumsq(x)
    assert got == reference.sumsq(x)
    assert got == pytest.approx(float(np.sum(x.astype(np.float64) ** 2)), rel=1e-12)


def test_sumsq_propagates_nonfinite(dtype):
    x = np.ones(10, dtype)
    x[4] = np.nan
    for name in ["numpy"] + COMPILED_BACKENDS:
        assert np.isnan(_backend.kernels(name).sumsq(x))


def test_chunked_update_equals_whole():
    """Parallel chunking cannot change elementwise results: run a kernel over pieces."""
    rng = np.random.default_rng(3)
    n = 10007
    p0 = rng.standard_normal(n)
    g = rng.standard_normal(n)
    whole = p0.copy()
    m, v, vm = np.zeros(n), np.zeros(n), np.zeros(n)
    args = (0.1, 0.001, 0.01, 0.03, 1e-8, False, 1.0, 0.0, 0.0, 1.0)
    reference.adam(whole, g, m, v, vm, *args)
    pieces = p0.copy()
    m2, v2, vm2 = np.zeros(n), np.zeros(n), np.zeros(n)
    for lo in range(0, n, 1000):
        sl = slice(lo, lo + 1000)
        reference.adam(pieces[sl], g[sl], m2[sl], v2[sl], vm2[sl], *args)
    assert_bits_equal(pieces, whole)


@pytest.mark.parametrize("backend_name", COMPILED_BACKENDS)
@pytest.mark.parametrize("n", LENGTHS)
def test_relu_kernels_match_reference(backend_name, n, dtype):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    dout = rng.standard_normal(n).astype(dtype)
    if n >= 7:
        x[:4] = [np.nan, -0.0, 0.0, -np.inf]
        dout[4] = np.nan
    kernels = _backend.kernels(backend_name)
    outs = {}
    for name, mod in (("ref", reference), ("backend", kernels)):
        out, dx = np.empty_like(x), np.empty_like(dout)
        mod.relu_forward(x, out)
        mod.relu_backward(x, dout, dx)
        outs[name] = (out, dx)
    assert_bits_equal(outs["backend"][0], outs["ref"][0], "relu forward")
    assert_bits_equal(outs["backend"][1], outs["ref"][1], "relu backward")
    book = x.copy()
    book[x <= 0] = 0  # the book's Relu
    assert_bits_equal(outs["ref"][0], book, "book semantics")
