"""Counter-based RNG and dropout kernels: Numba equals the NumPy twin bit for bit;
the mask depends only on (seed, stream, global index), not on dtype, threads or chunking."""
import math

import numpy as np
import pytest
from conftest import assert_bits_equal
from hypothesis import given, settings
from hypothesis import strategies as st

import fastopt
from fastopt.reference import dropout as ref_dropout
from fastopt.reference import rng as ref_rng

try:
    from fastopt.kernels import _jit
    from fastopt.kernels import dropout as nb_dropout
    from fastopt.kernels import rng as nb_rng
except ImportError:  # numba not installed: the NumPy twins are still tested
    _jit = nb_dropout = nb_rng = None
    MAX_THREADS = 1
else:
    import numba

    MAX_THREADS = numba.config.NUMBA_NUM_THREADS

needs_numba = pytest.mark.skipif(nb_dropout is None, reason="numba not installed")
IMPLS = [pytest.param(ref_dropout, id="numpy"),
         pytest.param(nb_dropout, id="numba", marks=needs_numba)]
LENGTHS = [0, 1, 7, 1000, 1000003]
PS = [0.0, 0.2, 0.5, 0.9, 1.0]
KEYS = [(0, 0, 0), (12345, 7, 0), (2**64 - 1, 2**63 + 5, 1000)]  # (seed, stream, offset)
MASK64 = (1 << 64) - 1


def _u(v):
    return np.uint64(v)


def _args(seed, stream, offset, p, scale, dtype):
    return (_u(seed), _u(stream), _u(offset), ref_rng.keep_threshold(p), dtype.type(scale))


def _mask(impl, n, seed, stream, offset, p, dtype=np.dtype(np.float64)):
    """Kept elements, read off a forward pass over ones."""
    out = np.ones(n, dtype)
    impl.dropout_forward(out, out, *_args(seed, stream, offset, p, 1.0, dtype))
    assert np.all((out == 0) | (out == 1))
    return out == 1


# -- the hash ---------------------------------------------------------------

def _py_mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def _py_splitmix64(state, count):
    """Sequential splitmix64 (Java's SplittableRandom.nextLong), Python ints."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        out.append(_py_mix64(state))
    return out


def test_mix64_known_value():
    # splitmix64 seeded with 0: first output 0xE220A8397B1DCDAF (published test vector)
    assert int(ref_rng.mix64(ref_rng.GAMMA)) == 0xE220A8397B1DCDAF
    assert _py_splitmix64(0, 1) == [0xE220A8397B1DCDAF]


@pytest.mark.parametrize("seed,stream", [(0, 0), (1, 0), (0, 1), (2**64 - 1, 2**64 - 1), (42, 10**6)])
def test_bits_are_splitmix64_outputs_of_the_stream_key(seed, stream):
    key = _py_mix64(_py_mix64((seed + 0x9E3779B97F4A7C15) & MASK64) ^ stream)
    assert int(ref_rng.stream_key(seed, stream)) == key
    expected = _py_splitmix64(key, 64)
    got = ref_rng.random_bits(seed, stream, np.arange(64))
    assert [int(b) for b in got] == expected
    if nb_rng is not None:
        assert int(nb_rng.stream_key(_u(seed), _u(stream))) == key
        assert [int(nb_rng.random_bits(_u(seed), _u(stream), _u(i))) for i in range(64)] == expected


@pytest.mark.parametrize("index", [0, 1, 2**32, 2**64 - 1])
def test_uniform_at_is_top_53_bits(index):
    b = int(ref_rng.random_bits(3, 4, index))
    u = ref_rng.uniform_at(3, 4, index)
    assert u == (b >> 11) * 2.0**-53 and 0.0 <= u < 1.0
    if nb_rng is not None:
        assert nb_rng.uniform_at(_u(3), _u(4), _u(index)) == u


def test_uniforms_look_uniform():
    u = ref_rng.uniform_at(9, 1, np.arange(200_000))
    assert u.min() >= 0 and u.max() < 1
    counts = np.bincount((u * 20).astype(int), minlength=20)
    expected = u.size / 20
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 60  # 19 degrees of freedom: P(chi2 > 60) < 1e-5
    lag1 = np.corrcoef(u[:-1], u[1:])[0, 1]
    assert abs(lag1) < 5 / math.sqrt(u.size)


@pytest.mark.parametrize("p,threshold", [(0.0, 0), (0.5, 2**52), (1.0, 2**53), (0.2, 1801439850948199),
                                         (np.float32(0.2), math.ceil(float(np.float32(0.2)) * 2**53))])
def test_keep_threshold(p, threshold):
    t = ref_rng.keep_threshold(p)
    assert type(t) is np.uint64 and int(t) == threshold
    assert nb_rng is None or nb_rng.keep_threshold is ref_rng.keep_threshold


@pytest.mark.parametrize("p", [-0.1, 1.0000001, float("nan"), float("inf")])
def test_keep_threshold_rejects(p):
    with pytest.raises(ValueError, match="p must be in"):
        ref_rng.keep_threshold(p)


# -- numba == numpy ----------------------------------------------------------

@needs_numba
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("key", KEYS, ids=["zero", "small", "huge"])
def test_numba_matches_reference(n, p, key, dtype):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    dout = rng.standard_normal(n).astype(dtype)
    scale = dtype.type(1) / (dtype.type(1) - dtype.type(p)) if p < 1 else dtype.type(1)
    args = (_u(key[0]), _u(key[1]), _u(key[2]), ref_rng.keep_threshold(p), scale)
    outs = {}
    for impl in (ref_dropout, nb_dropout):
        out = np.full(n, 7, dtype)
        impl.dropout_forward(x, out, *args)
        inplace = x.copy()
        impl.dropout_forward(inplace, inplace, *args)
        dx = np.full(n, 7, dtype)
        impl.dropout_backward(dout, dx, *args)
        assert_bits_equal(inplace, out, "in place")
        outs[impl.__name__] = (out, dx)
    (r_out, r_dx), (n_out, n_dx) = outs.values()
    assert_bits_equal(n_out, r_out, "forward")
    assert_bits_equal(n_dx, r_dx, "backward")


@needs_numba
def test_python_int_scalars_give_the_uint64_result():
    x = np.random.default_rng(0).standard_normal(5000)
    a, b = np.empty_like(x), np.empty_like(x)
    nb_dropout.dropout_forward(x, a, 5, 6, 7, int(ref_rng.keep_threshold(0.3)), 1.0)
    ref_dropout.dropout_forward(x, b, _u(5), _u(6), _u(7), ref_rng.keep_threshold(0.3), 1.0)
    assert_bits_equal(a, b)


# -- the mask ----------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_mask_is_the_same_in_both_dtypes(impl, p):
    m32 = _mask(impl, 100_003, 11, 3, 0, p, np.dtype(np.float32))
    m64 = _mask(impl, 100_003, 11, 3, 0, p, np.dtype(np.float64))
    assert np.array_equal(m32, m64)


@needs_numba
@pytest.mark.skipif(MAX_THREADS < 2, reason="needs 2 threads")
def test_mask_is_the_same_at_1_and_2_threads(dtype):
    n = 3 * _jit.LIGHT_THRESHOLD + 12345
    assert n >= nb_dropout.dropout_forward.parallel_threshold
    x = np.random.default_rng(1).standard_normal(n).astype(dtype)
    before = fastopt.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastopt.set_num_threads(threads)
            out, dx = np.empty_like(x), np.empty_like(x)
            args = _args(99, 5, 0, 0.5, 2.0, dtype)
            nb_dropout.dropout_forward(x, out, *args)
            nb_dropout.dropout_backward(x, dx, *args)
            results.append((out, dx))
    finally:
        fastopt.set_num_threads(before)
    assert_bits_equal(results[0][0], results[1][0], "forward")
    assert_bits_equal(results[0][1], results[1][1], "backward")
    ref = np.empty_like(x)
    ref_dropout.dropout_forward(x, ref, *_args(99, 5, 0, 0.5, 2.0, dtype))
    assert_bits_equal(results[1][0], ref, "parallel vs reference")


@pytest.mark.parametrize("impl", IMPLS)
def test_keep_rule_is_bits_at_least_threshold(impl, dtype):
    """At the boundary: bits >> 11 == threshold keeps, threshold + 1 drops (u >= p, not u > p)."""
    n, seed, stream, offset = 4099, 5, 6, 7
    top = ref_rng.random_bits(seed, stream, np.arange(offset, offset + n)) >> ref_rng.SHIFT
    for i in (0, 1, 2048, n - 1):
        for thr, kept in ((top[i], True), (top[i] + _u(1), False)):
            out = np.ones(n, dtype)
            impl.dropout_forward(out, out, _u(seed), _u(stream), _u(offset), thr, dtype.type(1))
            assert bool(out[i] == 1) == kept
            assert np.array_equal(out == 1, top >= thr)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("seed,stream", [(0, 0), (1, 1), (2**64 - 1, 12)])
def test_keep_rate_is_one_minus_p(impl, p, seed, stream):
    n = 1_000_000
    kept = int(_mask(impl, n, seed, stream, 0, p).sum())
    assert abs(kept - n * (1 - p)) <= 5 * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("key", KEYS, ids=["zero", "small", "huge"])
def test_p0_is_the_identity_and_p1_drops_everything(impl, key, dtype):
    x = np.random.default_rng(2).standard_normal(10_007).astype(dtype)
    x[[0, 5, 77]] = [np.inf, -np.inf, np.nan]
    x[9] = -0.0
    out = np.full_like(x, 3)
    impl.dropout_forward(x, out, *_args(*key, 0.0, 1.0, dtype))
    assert_bits_equal(out, x, "p=0")
    impl.dropout_backward(x, out, *_args(*key, 0.0, 1.0, dtype))
    assert_bits_equal(out, x, "p=0 backward")
    impl.dropout_forward(x, out, *_args(*key, 1.0, 2.0, dtype))
    assert_bits_equal(out, np.zeros_like(x), "p=1")  # +0.0 everywhere, NaN and inf included
    impl.dropout_backward(x, out, *_args(*key, 1.0, 2.0, dtype))
    assert_bits_equal(out, np.zeros_like(x), "p=1 backward")


@pytest.mark.parametrize("impl", IMPLS)
def test_streams_and_seeds_give_independent_masks(impl):
    n = 200_000
    masks = [_mask(impl, n, 7, s, 0, 0.5) for s in range(4)]
    masks += [_mask(impl, n, s, 0, 0, 0.5) for s in (8, 9)]  # neighbouring seeds
    masks.append(_mask(impl, n, 7, 0, 1, 0.5))  # the stream-0 mask shifted by one index
    masks = np.array(masks, dtype=np.float64)
    corr = np.corrcoef(masks)
    off = corr[~np.eye(len(masks), dtype=bool)]
    assert np.all(np.abs(off) < 5 / math.sqrt(n))
    for m in masks:  # no correlation between neighbouring elements either
        assert abs(np.corrcoef(m[:-1], m[1:])[0, 1]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("impl", IMPLS)
def test_nonfinite_inputs(impl, dtype):
    n = 4096
    keep = _mask(impl, n, 3, 1, 0, 0.5)
    x = np.full(n, np.inf, dtype)
    x[1::3] = -np.inf
    x[2::3] = np.nan
    out = np.empty_like(x)
    scale = dtype.type(2)
    impl.dropout_forward(x, out, *_args(3, 1, 0, 0.5, scale, dtype))
    assert np.all(out[~keep] == 0) and not np.any(np.signbit(out[~keep]))
    assert_bits_equal(out[keep], x[keep] * scale, "kept")
    assert np.isinf(out[0::3][keep[0::3]]).all() and np.isnan(out[2::3][keep[2::3]]).all()


@pytest.mark.parametrize("impl", IMPLS)
def test_backward_uses_the_forward_mask(impl, dtype):
    n = 50_001
    rng = np.random.default_rng(4)
    x = rng.standard_normal(n).astype(dtype) + 10  # never zero
    dout = rng.standard_normal(n).astype(dtype)
    scale = dtype.type(1) / dtype.type(0.7)
    args = _args(21, 8, 5, 0.3, scale, dtype)
    out, dx = np.empty_like(x), np.empty_like(x)
    impl.dropout_forward(x, out, *args)
    impl.dropout_backward(dout, dx, *args)
    keep = out != 0
    assert_bits_equal(dx, np.where(keep, dout * scale, dtype.type(0)))
    assert_bits_equal(out, np.where(keep, x * scale, dtype.type(0)))


@pytest.mark.parametrize("impl", IMPLS)
def test_offset_wraps_modulo_2_64(impl):
    """Indices past 2**64 - 1 wrap to 0 in every backend (a buffer crossing the end)."""
    n, start = 1000, 2**64 - 400
    whole = _mask(impl, n, 1, 2, start, 0.5)
    assert np.array_equal(whole[400:], _mask(impl, n - 400, 1, 2, 0, 0.5))
    assert np.array_equal(whole, _mask(ref_dropout, n, 1, 2, start, 0.5))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 3000),
       cuts=st.lists(st.integers(0, 3000), max_size=6),
       base=st.integers(0, 2**64 - 1),
       seed=st.integers(0, 2**64 - 1),
       stream=st.integers(0, 2**64 - 1),
       p=st.floats(0, 1),
       f32=st.booleans())
def test_chunk_invariance(n, cuts, base, seed, stream, p, f32):
    """Slices run with offset base+start give the whole buffer's result (any backend)."""
    dtype = np.dtype(np.float32 if f32 else np.float64)
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    args = lambda off: (_u(seed), _u(stream), _u((base + off) & MASK64),  # noqa: E731
                        ref_rng.keep_threshold(p), dtype.type(1.5))
    bounds = [0] + sorted(c for c in cuts if c < n) + [n]
    impls = [ref_dropout] + ([nb_dropout] if nb_dropout is not None else [])
    whole = np.empty_like(x)
    ref_dropout.dropout_forward(x, whole, *args(0))
    for impl in impls:
        for fn in (impl.dropout_forward, impl.dropout_backward):
            pieces = np.empty_like(x)
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                fn(x[lo:hi], pieces[lo:hi], *args(lo))
            assert_bits_equal(pieces, whole, f"{impl.__name__}.{fn.__name__}")
