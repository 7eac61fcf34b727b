"""Lion (Chen et al. 2023, arXiv:2302.06675): the optimizer against an independent
transcription of the paper's Algorithm 2 and against optax's ``lion``, its edge cases,
and (until the spec-generated parity tests cover it) its kernel twins.

Tolerances, where a comparison is not bit for bit:

* weight decay λ > 0: the paper applies it inside the step, θ − η(sign(c) + λθ);
  fastopt (like lion-pytorch and AdamW) first multiplies by the rounded factor
  1 − ηλ, then subtracts η·sign(c). Both round differently, by at most about one
  ulp of |θ| a step, so after ``STEPS`` steps we allow ``STEPS * 4`` ulps of the
  largest |θ|. The gradients there do not depend on θ, so a rounding difference
  cannot flip a sign(c) and grow into a step of 2η.
* optax (float32 only: JAX's default): the same rule in the same operation order,
  so without weight decay it agrees bit for bit; with it, it is the paper's form.
"""
import inspect

import numpy as np
import pytest
from conftest import assert_bits_equal
from test_kernel_spec import IMPLEMENTATIONS

import fastopt as fo
from fastopt.optim import Lion
from fastopt.reference.lion import lion as reference_lion

STEPS = 50
LENGTHS = [1, 7, 33, 1001]  # odd, and not a multiple of any SIMD width
PARAMETERS = ("p", "g", "m", "beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "lr",
              "gscale", "clip", "wd", "decay")


def paper_lion(theta0, grad, steps, eta, beta1, beta2, lam):
    """Algorithm 2 of Chen et al. (2023), line by line, in theta0's dtype.

    ``grad(theta, t)`` is g_t = ∇f(θ_{t−1}). Scalars are rounded to the dtype once,
    1 − β computed in double first (as fastopt hands every kernel its scalars, and as
    JAX rounds ``1.0 - b1``).
    """
    dt = theta0.dtype.type
    eta, lam, b1, b2 = dt(eta), dt(lam), dt(beta1), dt(beta2)
    omb1, omb2 = dt(1 - beta1), dt(1 - beta2)
    theta, m = theta0.copy(), np.zeros_like(theta0)
    for t in range(1, steps + 1):
        g = grad(theta, t)
        c = b1 * m + omb1 * g                         # update model parameters
        theta = theta - eta * (np.sign(c) + lam * theta)
        m = b2 * m + omb2 * g                         # update EMA of g_t
    return theta, m


def _problem(n, dtype, seed=0):
    """(θ₀, noise(t), quadratic(θ, t)): gradients that ignore θ, and those of
    ½·a·(θ − target)² plus noise."""
    rng = np.random.default_rng(seed + n)
    theta0 = rng.standard_normal(n).astype(dtype)
    a = rng.uniform(0.5, 2.0, n).astype(dtype)
    target = rng.standard_normal(n).astype(dtype)
    noise = [rng.standard_normal(n).astype(dtype) for _ in range(2 * STEPS + 1)]
    return theta0, (lambda theta, t: noise[t]), (lambda theta, t: a * (theta - target) + noise[t])


def _fastopt_lion(theta0, grad, steps, lr, betas, wd, **options):
    w = {"w": theta0.copy()}
    opt = Lion(w, lr=lr, betas=betas, weight_decay=wd, **options)
    for t in range(1, steps + 1):
        opt.step({"w": grad(w["w"], t)})
    return w["w"], opt.state_view("w", "m"), opt


def _ulps(x):
    return float(np.spacing(np.max(np.abs(x)).astype(x.dtype)))


# ----------------------------------------------------------------- the paper's Algorithm 2
@pytest.mark.parametrize("n", LENGTHS)
def test_matches_the_paper_bit_for_bit_without_weight_decay(backend, dtype, n):
    theta0, _, quadratic = _problem(n, dtype)
    want, want_m = paper_lion(theta0, quadratic, STEPS, 3e-3, 0.9, 0.99, 0.0)
    got, got_m, _ = _fastopt_lion(theta0, quadratic, STEPS, 3e-3, (0.9, 0.99), 0.0)
    assert_bits_equal(got, want, "theta")
    assert_bits_equal(got_m, want_m, "m")


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("betas", [(0.9, 0.99), (0.95, 0.98)])
def test_matches_the_paper_with_weight_decay(backend, dtype, n, betas):
    theta0, noise, _ = _problem(n, dtype, seed=1)
    want, want_m = paper_lion(theta0, noise, STEPS, 3e-3, *betas, 0.3)
    got, got_m, _ = _fastopt_lion(theta0, noise, STEPS, 3e-3, betas, 0.3)
    assert_bits_equal(got_m, want_m, "m")  # the momentum never sees θ
    np.testing.assert_allclose(got, want, rtol=0, atol=STEPS * 4 * _ulps(want))
    decayed_only = paper_lion(theta0, noise, STEPS, 3e-3, *betas, 0.0)[0]
    assert np.max(np.abs(want - decayed_only)) > 100 * STEPS * 4 * _ulps(want)  # decay counted


# ----------------------------------------------------------------- optax's rule
def _optax_lion(theta0, grad, steps, lr, betas, wd):
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    tx = optax.lion(learning_rate=lr, b1=betas[0], b2=betas[1], weight_decay=wd)
    params = jnp.asarray(theta0)
    state = tx.init(params)
    for t in range(1, steps + 1):
        updates, state = tx.update(jnp.asarray(grad(np.asarray(params), t)), state, params)
        params = optax.apply_updates(params, updates)
    return np.asarray(params)


def test_optax_defaults_are_lions_but_for_weight_decay():
    optax = pytest.importorskip("optax")
    theirs = inspect.signature(optax.lion).parameters
    ours = inspect.signature(Lion).parameters
    assert (theirs["b1"].default, theirs["b2"].default) == ours["betas"].default
    assert ours["lr"].default == 1e-4 and ours["weight_decay"].default == 0.0  # lion-pytorch's
    assert theirs["weight_decay"].default == 1e-3


@pytest.mark.parametrize("n", LENGTHS)
def test_matches_optax_float32(backend, n):
    theta0, noise, quadratic = _problem(n, np.float32, seed=2)
    got = _fastopt_lion(theta0, quadratic, STEPS, 3e-3, (0.9, 0.99), 0.0)[0]
    assert_bits_equal(got, _optax_lion(theta0, quadratic, STEPS, 3e-3, (0.9, 0.99), 0.0))
    want = _optax_lion(theta0, noise, STEPS, 3e-3, (0.9, 0.99), 0.3)
    got = _fastopt_lion(theta0, noise, STEPS, 3e-3, (0.9, 0.99), 0.3)[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=STEPS * 4 * _ulps(want))


def test_optax_is_the_papers_rule_in_float32():
    theta0, noise, _ = _problem(101, np.float32, seed=3)
    assert_bits_equal(_optax_lion(theta0, noise, STEPS, 3e-3, (0.9, 0.99), 0.3),
                      paper_lion(theta0, noise, STEPS, 3e-3, 0.9, 0.99, 0.3)[0])


# ----------------------------------------------------------------- edge cases
def test_sign_is_numpys():
    """What the kernels match: np.sign gives +0.0 for -0.0 (Numba's np.sign and
    jnp.sign give -0.0) and returns NaN as it is."""
    for dt in (np.float32, np.float64):
        s = np.sign(np.array([-0.0, 0.0, np.nan, -np.nan, -np.inf, 2.0], dt))
        assert not np.signbit(s[0]) and not np.signbit(s[1])
        assert np.isnan(s[2]) and np.isnan(s[3]) and np.signbit(s[3])
        assert list(s[4:]) == [-1, 1]


@pytest.mark.parametrize("maximize", [False, True])
def test_signed_zeros(backend, dtype, maximize):
    """c = ±0 moves nothing: a −0.0 parameter stays −0.0 (p − η·(+0.0)); with sign(−0.0)
    = −0.0 it would become +0.0. c is −0.0 where the momentum and the (maximized)
    gradient are; the momentum starts at +0.0, so it is set here."""
    p0 = np.array([-0.0, -0.0, 0.0, -0.0, -0.0, 1.5], dtype)
    m0 = np.array([-0.0, -0.0, -0.0, 0.0, 0.0, -0.0], dtype)
    g = np.array([-0.0, 0.0, -0.0, 0.0, 1.0, -0.0], dtype)
    w = {"w": p0.copy()}
    opt = Lion(w, lr=0.01, maximize=maximize)
    opt.state_view("w", "m")[...] = m0
    opt.step({"w": g})
    keep = [0, 1, 2, 3, 5]
    assert_bits_equal(w["w"][keep], p0[keep], "zeros")
    assert w["w"][4] == (0.01 if maximize else -0.01)
    p, m = p0.copy(), m0.copy()
    reference_lion(p, g, m, *[dtype.type(s) for s in (0.9, 1 - 0.9, 0.99, 1 - 0.99, 0.01)],
                   dtype.type(-1.0 if maximize else 1.0), dtype.type(0), dtype.type(0),
                   dtype.type(1))
    assert_bits_equal(w["w"], p, "params")
    assert_bits_equal(opt.state_view("w", "m"), m, "m")


def test_nonfinite_gradients_propagate_like_the_reference(dtype):
    rng = np.random.default_rng(4)
    p0 = rng.standard_normal(9).astype(dtype)
    g = rng.standard_normal(9).astype(dtype)
    g[1], g[3], g[5] = np.nan, np.inf, -np.inf
    results = {}
    for name in fo.available_backends():
        w = {"w": p0.copy()}
        with fo.use_backend(name), np.errstate(invalid="ignore"):
            opt = Lion(w, lr=0.01, weight_decay=0.1)
            opt.step({"w": g})
            opt.step({"w": g})
        results[name] = (w["w"], opt.state_view("w", "m").copy())
    p, m = results["numpy"]
    for name, (p_other, m_other) in results.items():
        assert_bits_equal(p_other, p, f"{name} params")
        assert_bits_equal(m_other, m, f"{name} m")
    assert np.isnan(p[1]) and np.isnan(m[1])
    # an infinite gradient is a finite step of η: sign(±inf) = ±1, the momentum keeps ±inf
    assert np.isfinite(p[[3, 5]]).all() and list(m[[3, 5]]) == [np.inf, -np.inf]
    assert np.isfinite(np.delete(p, 1)).all()


def test_empty_arrays(backend, dtype):
    w = {"w": np.empty(0, dtype), "b": np.ones(3, dtype)}
    opt = Lion(w, lr=0.5)
    opt.step({"w": np.empty(0, dtype), "b": np.ones(3, dtype)})
    assert w["w"].shape == (0,) and list(w["b"]) == [0.5] * 3


def test_state_dict_round_trip_resumes_bit_for_bit(backend, dtype):
    theta0, _, quadratic = _problem(37, dtype, seed=5)
    options = dict(lr=fo.optim.CosineDecay(3e-3, 2 * STEPS), betas=(0.9, 0.99),
                   weight_decay=0.1, max_grad_norm=5.0)
    straight = {"w": theta0.copy()}
    opt = Lion(straight, **options)
    for t in range(1, 2 * STEPS + 1):
        opt.step({"w": quadratic(straight["w"], t)})

    first = {"w": theta0.copy()}
    opt1 = Lion(first, **options)
    for t in range(1, STEPS + 1):
        opt1.step({"w": quadratic(first["w"], t)})
    saved = opt1.state_dict()
    resumed = {"w": first["w"].copy()}
    options["lr"] = fo.optim.CosineDecay(3e-3, 2 * STEPS)
    opt2 = Lion(resumed, **options)
    opt2.load_state_dict(saved)
    for t in range(STEPS + 1, 2 * STEPS + 1):
        opt2.step({"w": quadratic(resumed["w"], t)})
    assert_bits_equal(resumed["w"], straight["w"], "params")
    assert_bits_equal(opt2.state_view("w", "m"), opt.state_view("w", "m"), "m")
    assert opt2.state_dict()["param_groups"][0]["state"] == {"step": 2 * STEPS}


def test_the_decay_is_always_decoupled():
    opt = Lion({"w": np.zeros(3)}, weight_decay=0.1)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    with pytest.raises(TypeError):
        Lion({"w": np.zeros(3)}, decoupled_weight_decay=False)
    with pytest.raises(ValueError, match="betas"):
        Lion({"w": np.zeros(3)}, betas=(0.9, 1.0))


# ----------------------------------------------------------------- the kernel twins
# tests/test_kernel_spec.py runs every twin (Numba, and the Cython build of every
# instruction-set level this CPU runs) on the spec's example; here also on the values
# where a sign is delicate: c = ±0.0 with p = −0.0, NaN and infinite gradients.
TWINS = {label: kernels.lion for label, kernels in IMPLEMENTATIONS}
TRANSFORMS = {"plain": (1.0, 0.0, 0.0, 1.0), "transformed": (-0.7, 0.05, 0.01, 1.0),
              "decoupled": (1.0, 0.0, 0.0, 0.999)}


def test_the_reference_has_the_kernels_parameters():
    assert tuple(inspect.signature(reference_lion).parameters) == PARAMETERS


def _kernel_run(fn, p0, m0, grads, scalars):
    p, m = p0.copy(), m0.copy()
    with np.errstate(invalid="ignore", over="ignore"):
        for g in grads:
            fn(p, g, m, *scalars)
    return p, m


@pytest.mark.parametrize("twin", sorted(TWINS))
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 300007])  # the last one runs in parallel
def test_kernel_twin_matches_reference(twin, transform, n, dtype):
    rng = np.random.default_rng(n)
    p0 = rng.standard_normal(n).astype(dtype)
    m0 = (0.1 * rng.standard_normal(n)).astype(dtype)
    grads = [rng.standard_normal(n).astype(dtype) for _ in range(1 if n > 1000 else STEPS)]
    if n >= 7:  # c = −0.0 (and +0.0) with p = −0.0, and non-finite gradients
        p0[:4], m0[:4] = [-0.0, 0.0, -0.0, np.nan], [-0.0, -0.0, 0.0, 1.0]
        for g in grads:
            g[:7] = [-0.0, 0.0, 0.0, 1.0, np.nan, np.inf, -np.inf]
    scalars = [dtype.type(s) for s in (0.9, 1 - 0.9, 0.99, 1 - 0.99, 1e-3)
               + TRANSFORMS[transform]]
    want = _kernel_run(reference_lion, p0, m0, grads, scalars)
    got = _kernel_run(TWINS[twin], p0, m0, grads, scalars)
    assert_bits_equal(got[0], want[0], "params")
    assert_bits_equal(got[1], want[1], "m")
