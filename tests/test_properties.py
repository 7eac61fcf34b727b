"""Hypothesis properties with bounded strategies."""
import numpy as np
import pytest
from conftest import COMPILED_BACKENDS, assert_bits_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from conftest import KERNEL_CASES, TRANSFORMS

import fastopt as fo
from fastopt import _backend

SETTINGS = settings(max_examples=30, deadline=None)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32)


@SETTINGS
@given(data=st.data(), case=st.sampled_from(KERNEL_CASES), transform=st.sampled_from(list(TRANSFORMS)),
       backend=st.sampled_from(["numpy"] + COMPILED_BACKENDS), dtype=st.sampled_from([np.float32, np.float64]))
def test_kernels_are_chunk_invariant(data, case, transform, backend, dtype):
    """Updating a buffer in arbitrary pieces equals updating it whole (what prange relies on)."""
    _, name, n_state, scalars = case
    n = data.draw(st.integers(0, 300), label="n")
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=5), label="cuts"))
    p0 = data.draw(hnp.arrays(dtype, n, elements=finite), label="p")
    g = data.draw(hnp.arrays(dtype, n, elements=finite), label="g")
    state0 = [np.abs(data.draw(hnp.arrays(dtype, n, elements=finite))) for _ in range(n_state)]
    dt = np.dtype(dtype)
    args = [s if isinstance(s, bool) else dt.type(s) for s in scalars + TRANSFORMS[transform]]
    fn = getattr(_backend.kernels(backend), name)
    whole, s_whole = p0.copy(), [s.copy() for s in state0]
    with np.errstate(all="ignore"):
        fn(whole, g, *s_whole, *args)
        pieces, s_pieces = p0.copy(), [s.copy() for s in state0]
        for lo, hi in zip([0] + cuts, cuts + [n]):
            fn(pieces[lo:hi], g[lo:hi], *[s[lo:hi] for s in s_pieces], *args)
    assert_bits_equal(pieces, whole)
    for a, b in zip(s_pieces, s_whole):
        assert_bits_equal(a, b)


@SETTINGS
@given(lr=st.floats(1e-4, 1.0), steps=st.integers(1, 10), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_momentum_zero_is_sgd(lr, steps, seed, dtype):
    rng = np.random.default_rng(seed)
    p0 = rng.standard_normal(17).astype(dtype)
    grads = [rng.standard_normal(17).astype(dtype) for _ in range(steps)]
    runs = []
    for make in (lambda p: fo.optim.SGD(p, lr=lr),
                 lambda p: fo.optim.Momentum(p, lr=lr, momentum=0.0),
                 lambda p: fo.optim.SGD(p, lr=lr, momentum=0.0, dampening=0.5)):
        p = {"w": p0.copy()}
        opt = make(p)
        for g in grads:
            opt.step({"w": g})
        runs.append(p["w"])
    for other in runs[1:]:
        np.testing.assert_array_equal(other, runs[0])


@pytest.mark.skipif(not COMPILED_BACKENDS, reason="needs a multi-threaded backend")
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), extra=st.integers(0, 70000),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_global_norm_is_identical_at_one_and_two_threads(seed, extra, dtype):
    from fastopt.kernels import LIGHT_THRESHOLD

    rng = np.random.default_rng(seed)
    grads = {"a": rng.standard_normal(LIGHT_THRESHOLD + extra).astype(dtype),
             "b": rng.standard_normal(1 + extra % 1000).astype(dtype)}
    threads = fo.get_num_threads()
    norms = []
    try:
        for n in (1, min(2, threads)):
            fo.set_num_threads(n)
            with fo.use_backend(COMPILED_BACKENDS[0]):
                norms.append(fo.optim.global_norm(grads))
    finally:
        fo.set_num_threads(threads)
    assert norms[0] == norms[1]
    with fo.use_backend("numpy"):
        assert fo.optim.global_norm(grads) == norms[0]


@pytest.mark.skipif(not COMPILED_BACKENDS, reason="needs a multi-threaded backend")
def test_parallel_and_serial_kernels_agree():
    from fastopt.kernels import HEAVY_THRESHOLD, LIGHT_THRESHOLD

    n = max(HEAVY_THRESHOLD, LIGHT_THRESHOLD) + 12345
    rng = np.random.default_rng(0)
    g = rng.standard_normal(n).astype(np.float32)
    threads = fo.get_num_threads()
    out = []
    try:
        for t in (1, min(2, threads)):
            fo.set_num_threads(t)
            p = {"w": np.ones(n, np.float32)}
            opt = fo.optim.Adam(p, lr=0.01, max_grad_norm=10.0)
            with fo.use_backend(COMPILED_BACKENDS[0]):
                for _ in range(3):
                    opt.step({"w": g})
            out.append(p["w"])
    finally:
        fo.set_num_threads(threads)
    assert_bits_equal(out[0], out[1])
