"""What is specific to the Cython backend (``fastopt._cy``, built from ``src_cython/``).

The backend-parametrised tests elsewhere (test_kernels, test_fused, the layer and
optimizer tests) already run against it once it imports. Here: the kernels the
registry does not parametrise (batch norm, dropout, rng) against the NumPy twins
bit for bit, masks identical across numpy/numba/cython and thread counts, the
thread control, the clean fallback when the compiled modules are absent, and a
cold start that compiles nothing.

Skipped where the backend is not built, unless ``FASTOPT_REQUIRE_CYTHON=1``
(CI that builds it), where a missing backend fails.
"""
import inspect
import os
import platform
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt
import fastopt.reference as ref
from fastopt import _backend
from fastopt.reference import rng as ref_rng

if os.environ.get("FASTOPT_REQUIRE_CYTHON") == "1":
    import fastopt._cy.kernels as cy  # noqa: E402  (an ImportError fails the run)
else:
    cy = pytest.importorskip("fastopt._cy.kernels", reason="the cython backend is not built")
from fastopt._cy import _jit as cy_jit  # noqa: E402

try:
    import fastopt.kernels as nb
except ImportError:  # numba not installed
    nb = None

TWO_THREADS = cy_jit.HAVE_OPENMP and cy_jit.MAX_THREADS >= 2
needs_two_threads = pytest.mark.skipif(not TWO_THREADS, reason="needs OpenMP and 2 threads")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def threads():
    """Set the thread count inside a test; restored afterwards."""
    before = cy_jit.get_num_threads()
    yield fastopt.set_num_threads
    fastopt.set_num_threads(before)


def _run_python(code, **env):
    """Run *code* in a fresh interpreter (this fastopt on the path); return stdout."""
    environ = {**os.environ, **env}
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in [os.path.dirname(os.path.dirname(fastopt.__file__)),
                    environ.get("PYTHONPATH")] if p)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


# ------------------------------------------------------------ the module


def test_every_kernel_is_there_with_the_reference_signature():
    """Names, kinds and defaults (the compiled functions carry no annotations)."""
    for name in ref.KERNELS:
        fn = getattr(cy, name)
        want = inspect.signature(getattr(ref, name))
        want = want.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                        for p in want.parameters.values()],
                            return_annotation=inspect.Signature.empty)
        assert inspect.signature(fn) == want, name
        assert fn.__doc__, name


def test_registry_serves_it():
    assert "cython" in fastopt.available_backends()
    assert _backend.kernels("cython") is cy
    with fastopt.use_backend("cython"):
        assert fastopt.get_backend() == "cython"
        assert fastopt.show_config(file=open(os.devnull, "w"))["active_backend"] == "cython"


def test_thresholds_match_the_numba_backend():
    assert cy.CHUNK == 1 << 13
    assert cy.PARALLEL_THRESHOLD == {"heavy": cy.HEAVY_THRESHOLD, "light": cy.LIGHT_THRESHOLD}
    if nb is not None:
        assert cy.PARALLEL_THRESHOLD == nb.PARALLEL_THRESHOLD
        assert cy.CHUNK == nb.CHUNK



@pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, "setup.py")),
                    reason="runs from the source tree")
def test_setup_renders_the_update_wrappers_from_the_spec_alone(tmp_path):
    """setup.py renders the update kernels' wrappers (src_cython/_updates.pxi.in) from
    fastopt/kernel_spec.py loaded by its path, importing no part of the fastopt package:
    one ``def`` per update kernel with the spec's parameters, ``bint`` for its flags."""
    pytest.importorskip("Cython.Tempita", reason="renders with Cython's Tempita (the test extra)")
    code = """
        import runpy, sys
        ns = runpy.run_path("setup.py", run_name="fastopt_setup")
        for path in ns["generate_update_wrappers"](sys.argv[1]):
            print(path)
        print(sorted(m for m in sys.modules if m.split(".")[0] == "fastopt"))
    """
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    *paths, imported = res.stdout.splitlines()
    assert imported == "[]"
    from fastopt.kernel_spec import SPECS

    rendered = "".join(open(path, encoding="utf-8").read() for path in paths)
    for spec in (s for s in SPECS if s.update):
        match = re.search(rf"^def {spec.name}\((.*?)\):$", rendered, re.S | re.M)
        assert match, spec.name
        params = [p.split() for p in match.group(1).split(",")]
        assert tuple(name for _, name in params) == spec.parameters, spec.name
        flags = {name for kind, name in params if kind == "bint"}
        assert flags == {s.name for s in spec.scalars if s.flag}, spec.name

# ------------------------------------------------------------ threads


def test_set_num_threads_sets_openmp(threads):
    threads(1)
    assert cy_jit.get_num_threads() == 1
    with fastopt.use_backend("cython"):
        assert fastopt.get_num_threads() == 1
    if cy_jit.MAX_THREADS >= 2 and cy_jit.HAVE_OPENMP:
        threads(2)
        assert cy_jit.get_num_threads() == 2
    with pytest.raises(ValueError, match="n must be"):
        cy_jit.set_num_threads(0)


@needs_two_threads
@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "momentum"])
def test_elementwise_kernels_same_bits_at_1_and_2_threads(name, dtype, threads):
    from conftest import KERNEL_CASES, TRANSFORMS

    case = next(c for c in KERNEL_CASES if c[1] == name)
    _, _, n_state, scalars = case
    n = 2 * cy.LIGHT_THRESHOLD + 12345  # above both thresholds, a partial last chunk
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(n).astype(dtype)
    s0 = [np.abs(rng.standard_normal(n)).astype(dtype) for _ in range(n_state)]
    g = rng.standard_normal(n).astype(dtype)
    args = [s if isinstance(s, bool) else dtype.type(s)
            for s in scalars + TRANSFORMS["transformed"]]
    p_ref, s_ref = p0.copy(), [s.copy() for s in s0]
    getattr(ref, name)(p_ref, g, *s_ref, *args)
    for count in (1, 2):
        threads(count)
        p, s = p0.copy(), [x.copy() for x in s0]
        getattr(cy, name)(p, g, *s, *args)
        assert_bits_equal(p, p_ref, f"params, {count} threads")
        for a, b in zip(s, s_ref):
            assert_bits_equal(a, b, f"state, {count} threads")


@needs_two_threads
@pytest.mark.parametrize("n", [cy.LIGHT_THRESHOLD, 4096 * 77 + 3])
def test_sumsq_same_value_at_1_and_2_threads(n, dtype, threads):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    want = ref.sumsq(x)
    for count in (1, 2):
        threads(count)
        assert cy.sumsq(x) == want


def test_sumsq_accepts_read_only_input():
    x = np.arange(10.0)
    x.setflags(write=False)
    assert cy.sumsq(x) == ref.sumsq(x) == 285.0


# ------------------------------------------------------------ dropout and the generator


KEYS = [(0, 0, 0), (12345, 7, 0), (2**64 - 1, 2**63 + 5, 1000)]  # (seed, stream, offset)


def _dropout_args(key, p, scale, dtype):
    return (np.uint64(key[0]), np.uint64(key[1]), np.uint64(key[2]), ref_rng.keep_threshold(p),
            dtype.type(scale))


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 300_007])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
@pytest.mark.parametrize("key", KEYS, ids=["zero", "small", "huge"])
def test_dropout_equals_reference_and_numba(n, p, key, dtype):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    scale = 1 / (1 - p) if p < 1 else 1.0
    args = _dropout_args(key, p, scale, dtype)
    impls = [ref, cy] + ([nb] if nb is not None else [])
    outs = []
    for impl in impls:
        out, inplace, dx = np.full(n, 7, dtype), x.copy(), np.full(n, 7, dtype)
        impl.dropout_forward(x, out, *args)
        impl.dropout_forward(inplace, inplace, *args)
        impl.dropout_backward(x, dx, *args)
        assert_bits_equal(inplace, out, "in place")
        outs.append((out, dx))
    for out, dx in outs[1:]:
        assert_bits_equal(out, outs[0][0], "forward")
        assert_bits_equal(dx, outs[0][1], "backward")


@needs_two_threads
def test_masks_identical_across_backends_and_thread_counts(dtype, threads):
    n = 3 * cy.LIGHT_THRESHOLD + 12345
    x = np.ones(n, dtype)
    args = _dropout_args((99, 5, 3), 0.5, 1.0, dtype)
    want = np.empty_like(x)
    ref.dropout_forward(x, want, *args)
    for count in (1, 2):
        threads(count)
        for impl in [cy] + ([nb] if nb is not None else []):
            out = np.empty_like(x)
            impl.dropout_forward(x, out, *args)
            assert_bits_equal(out, want, f"{impl.__name__}, {count} threads")


def test_python_int_scalars_and_offset_wrap():
    x = np.random.default_rng(0).standard_normal(5000)
    a, b = np.empty_like(x), np.empty_like(x)
    cy.dropout_forward(x, a, 5, 6, 2**64 - 100, int(ref_rng.keep_threshold(0.3)), 1.0)
    ref.dropout_forward(x, b, np.uint64(5), np.uint64(6), np.uint64(2**64 - 100),
                        ref_rng.keep_threshold(0.3), 1.0)
    assert_bits_equal(a, b)
    with pytest.raises(OverflowError):
        cy.dropout_forward(x, a, -1, 0, 0, 0, 1.0)


@pytest.mark.parametrize("seed,stream,index", [(0, 0, 0), (3, 4, 2**32), (2**64 - 1, 12, 2**64 - 1)])
def test_rng_functions_equal_reference(seed, stream, index):
    from fastopt._cy import rng as cy_rng

    assert cy_rng.stream_key(seed, stream) == int(ref_rng.stream_key(seed, stream))
    assert cy_rng.random_bits(seed, stream, index) == int(ref_rng.random_bits(seed, stream, index))
    assert cy_rng.uniform_at(seed, stream, index) == ref_rng.uniform_at(seed, stream, index)
    assert cy_rng.mix64(int(ref_rng.GAMMA)) == 0xE220A8397B1DCDAF  # splitmix64 test vector
    assert cy_rng.keep_threshold is ref_rng.keep_threshold


# ------------------------------------------------------------ batch norm


SHAPES_2D = [(1, 1), (2, 3), (7, 5), (33, 4), (128, 100), (300, 300), (3, 0), (0, 3)]
SHAPES_3D = [(1, 1, 1), (2, 3, 5), (4, 3, 17), (33, 2, 9), (80, 8, 128), (3, 2, 0), (0, 2, 3)]


def _bn_outputs(impl, shape, dtype, pdtype=None, rdtype=None, eps=1e-5):
    """Every output of the three kernels of one layout (2-D or channel)."""
    kind = "batchnorm_" if len(shape) == 2 else "batchnorm_channel_"
    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    c = shape[1]
    pdtype, rdtype = pdtype or dtype, rdtype or dtype
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma = (1 + 0.5 * rng.standard_normal(c)).astype(pdtype)
    beta = rng.standard_normal(c).astype(pdtype)
    rmean = rng.standard_normal(c).astype(rdtype)
    rvar = (0.5 + rng.random(c)).astype(rdtype)
    out, xhat, ev, dx = (np.empty_like(x) for _ in range(4))
    mean, var, inv_std = np.empty(c), np.empty(c), np.empty(c)
    dgamma, dbeta = np.empty_like(gamma), np.empty_like(gamma)
    with np.errstate(invalid="ignore", divide="ignore"):
        getattr(impl, kind + "forward_train")(x, gamma, beta, out, xhat, mean, var, inv_std, eps)
        getattr(impl, kind + "forward_eval")(x, gamma, beta, ev, rmean, rvar, eps)
        getattr(impl, kind + "backward")(dout, xhat, gamma, inv_std, dx, dgamma, dbeta)
    return dict(out=out, xhat=xhat, mean=mean, var=var, inv_std=inv_std, eval=ev, dx=dx,
                dgamma=dgamma, dbeta=dbeta)


@pytest.mark.parametrize("shape", SHAPES_2D + SHAPES_3D, ids=str)
def test_batchnorm_equals_reference(shape, dtype):
    want = _bn_outputs(ref, shape, dtype)
    got = _bn_outputs(cy, shape, dtype)
    for name, value in want.items():
        assert_bits_equal(got[name], value, name)


@pytest.mark.parametrize("shape", [(40, 7), (5, 3, 4)], ids=str)
@pytest.mark.parametrize("pdtype,rdtype", [(np.float64, np.float64), (np.float32, np.float64),
                                           (np.float64, np.float32)])
def test_batchnorm_mixed_dtypes_equal_reference(shape, dtype, pdtype, rdtype):
    """gamma/beta and the running statistics may have other dtypes than x (the layer keeps
    float64 running statistics for float32 input)."""
    want = _bn_outputs(ref, shape, dtype, pdtype, rdtype)
    got = _bn_outputs(cy, shape, dtype, pdtype, rdtype)
    for name, value in want.items():
        assert_bits_equal(got[name], value, name)


@needs_two_threads
@pytest.mark.parametrize("shape", [(256, 1024), (100, 33), (64, 16, 64), (45, 3, 7)], ids=str)
def test_batchnorm_same_bits_at_1_and_2_threads(shape, dtype, threads):
    runs = []
    for count in (1, 2):
        threads(count)
        runs.append(_bn_outputs(cy, shape, dtype))
    want = _bn_outputs(ref, shape, dtype)
    for run in runs:
        for name, value in want.items():
            assert_bits_equal(run[name], value, name)


@pytest.mark.parametrize("kind", ["2d", "channel"])
def test_batchnorm_work_buffer_and_aliasing(kind, dtype):
    shape = (70, 6) if kind == "2d" else (70, 3, 4)
    prefix = "batchnorm_" if kind == "2d" else "batchnorm_channel_"
    size = (cy.batchnorm_work_size(*shape) if kind == "2d"
            else cy.batchnorm_channel_work_size(*shape))
    fwd, bwd = getattr(cy, prefix + "forward_train"), getattr(cy, prefix + "backward")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma, beta = np.ones(shape[1], dtype) * 1.5, np.zeros(shape[1], dtype) + 0.25
    stats = [np.empty(shape[1]) for _ in range(3)]
    out, xhat = np.empty_like(x), np.empty_like(x)
    fwd(x, gamma, beta, out, xhat, *stats, 1e-5)
    work = np.full(size + 5, np.nan)
    inplace = x.copy()
    fwd(inplace, gamma, beta, inplace, np.empty_like(x), *[np.empty(shape[1]) for _ in range(3)],
        1e-5, work)
    assert_bits_equal(inplace, out)
    dx, dg, db = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    bwd(dout, xhat, gamma, stats[2], dx, dg, db)
    d = dout.copy()
    dg2, db2 = np.empty_like(gamma), np.empty_like(gamma)
    bwd(d, xhat, gamma, stats[2], d, dg2, db2, work=work)
    assert_bits_equal(d, dx)
    assert_bits_equal(dg2, dg)
    assert_bits_equal(db2, db)


# ------------------------------------------------------------ fallback and cold start


def test_missing_compiled_modules_leave_cython_out():
    """Without the compiled modules the registry omits cython cleanly."""
    out = _run_python("""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "fastopt._cy.adaptive":
                    raise ImportError("blocked for the test")

        sys.meta_path.insert(0, Block())
        import fastopt
        from fastopt import _backend
        assert "cython" not in fastopt.available_backends(), fastopt.available_backends()
        assert "cython" in _backend.backend_errors()
        try:
            fastopt.set_backend("cython")
        except _backend.BackendUnavailableError:
            print("unavailable")
        fastopt.set_num_threads(1)
        print(fastopt.show_config(file=open("/dev/null", "w"))["active_backend"])
    """, FASTOPT_BACKEND="auto")
    assert out.split() == ["unavailable", "numba" if nb is not None else "numpy"]


def test_auto_takes_cython_when_numba_is_missing():
    out = _run_python("""
        import sys
        sys.modules["numba"] = None  # import numba -> ImportError
        import fastopt
        print(fastopt.get_backend(), fastopt.available_backends())
    """, FASTOPT_BACKEND="auto")
    assert out.split()[0] == "cython"


def test_cold_start_compiles_nothing():
    """A new process: import, the book's network, one gradient and the first Adam
    step on the cython backend, with no Numba imported. The time is printed, not
    asserted (see the README)."""
    out = _run_python("""
        import time
        t0 = time.perf_counter()
        import sys
        import numpy as np
        import fastopt
        from fastopt.book import Adam, MultiLayerNetExtend
        net = MultiLayerNetExtend(784, [100] * 5, 10)
        x = np.random.default_rng(0).random((100, 784))
        t = np.arange(100) % 10
        Adam().update(net.params, net.gradient(x, t))
        elapsed = time.perf_counter() - t0
        print(fastopt.get_backend(), "numba" in sys.modules, f"{elapsed:.3f}")
    """, FASTOPT_BACKEND="cython")
    backend, numba_loaded, elapsed = out.split()
    assert backend == "cython" and numba_loaded == "False"
    print(f"cold start (import + network + first Adam step): {elapsed} s")


def test_auto_serves_the_backend_chosen_for_this_build_level():
    """auto serves the backend AUTO_CHOICE names for the Cython build's level (cython on
    AVX2/AVX-512 builds: no JIT pause), with the listed exceptions."""
    served, exceptions = _backend.AUTO_CHOICE[cy.ISA_LEVEL]
    if served == "numba" and nb is None:
        pytest.skip("numba not installed: the fallback order decides")
    with fastopt.use_backend("auto") as name:
        assert name == served
        assert _backend.auto_choices() == exceptions
        for kernel in ref.KERNELS:
            expected = exceptions.get(kernel, served)
            assert getattr(_backend.kernels(), kernel) is getattr(_backend.kernels(expected), kernel)


@pytest.mark.skipif(nb is None, reason="numba not installed")
def test_auto_exceptions_give_the_same_bits(monkeypatch):
    """The baseline build's plan (numba, with cython's sumsq) on this machine: the mixed
    namespace computes what numba alone does, and imports numba only when a kernel of it
    is first looked up."""
    monkeypatch.setitem(_backend.AUTO_CHOICE, cy.ISA_LEVEL, ("numba", {"sumsq": "cython"}))
    with fastopt.use_backend("auto") as name:
        k = _backend.kernels()
        assert name == "numba" and k.adam is _backend.kernels("numba").adam
        assert k.sumsq is _backend.kernels("cython").sumsq
        rng = np.random.default_rng(0)
        p, g = rng.standard_normal(10_001), rng.standard_normal(10_001)
        with_auto = p.copy()
        fastopt.optim.Adam([with_auto], max_grad_norm=0.5).step([g])
    with fastopt.use_backend("numba"):
        assert _backend.kernels().sumsq is _backend.kernels("numba").sumsq
        with_numba = p.copy()
        fastopt.optim.Adam([with_numba], max_grad_norm=0.5).step([g])
    np.testing.assert_array_equal(with_auto.view(np.uint64), with_numba.view(np.uint64))


def test_auto_serves_cython_where_the_backend_preferred_for_its_level_fails(monkeypatch):
    """A baseline build prefers Numba; without Numba auto takes Cython, not NumPy."""
    monkeypatch.setitem(_backend.AUTO_CHOICE, cy.ISA_LEVEL, ("numba", {"sumsq": "cython"}))
    real_load = _backend._load
    monkeypatch.setattr(_backend, "_load", lambda name: None if name == "numba" else real_load(name))
    assert _backend._auto_plan() == ("cython", {})


def test_auto_exceptions_load_their_backend_on_first_use(monkeypatch):
    lazy = _backend._AutoKernels(cy, {"adam": "numpy"})
    assert "adam" not in vars(lazy) and lazy.sgd is cy.sgd
    assert lazy.adam is ref.adam and vars(lazy)["adam"] is ref.adam
    monkeypatch.setattr(_backend, "_load", lambda name: None)  # the backend fails to import
    assert _backend._AutoKernels(cy, {"adam": "numba"}).adam is cy.adam


# ------------------------------------------------------------ instruction-set levels

from fastopt._cy import isa  # noqa: E402


# Every kernel of every runnable level against the NumPy twins: tests/test_kernel_spec.py.


def test_the_selected_level_is_the_best_runnable_one():
    runnable = isa.runnable_levels()
    assert runnable and runnable[0] == "baseline" and cy.ISA_LEVEL == isa.selected_level()
    if not os.environ.get(isa.ENV, "auto").strip().lower() in ("", "auto"):
        return  # CI runs the kernel tests once per level with FASTOPT_CYTHON_ISA set
    assert cy.ISA_LEVEL == runnable[-1]
    assert isa.LEVELS.index(cy.ISA_LEVEL) <= isa.LEVELS.index(isa.cpu_level())
    if os.environ.get("FASTOPT_REQUIRE_CYTHON") == "1" and platform.machine() == "x86_64":
        assert isa.built_levels() == list(isa.LEVELS)  # setup.py built every level


@pytest.mark.parametrize("level", isa.runnable_levels())
def test_fastopt_cython_isa_selects_a_level(level):
    out = _run_python("""
        import fastopt
        from fastopt._cy import kernels
        print(kernels.ISA_LEVEL, kernels.adam.__module__,
              fastopt.show_config(file=open("/dev/null", "w"))["cython_isa"].split(":")[0])
    """, FASTOPT_CYTHON_ISA=level)
    package = "fastopt._cy" if level == "baseline" else f"fastopt._cy.{level}"
    assert out.split() == [level, f"{package}.adaptive", level]


def test_an_unusable_level_leaves_cython_out_with_the_reason():
    out = _run_python("""
        import fastopt
        print(fastopt.available_backends())
        print(fastopt._backend.backend_errors()["cython"])
    """, FASTOPT_CYTHON_ISA="sse9")
    backends, reason = out.splitlines()
    assert "cython" not in backends
    assert "FASTOPT_CYTHON_ISA='sse9'" in reason and "avx2" in reason


def test_a_level_the_cpu_cannot_run_is_refused(monkeypatch):
    monkeypatch.setattr(isa._jit, "cpu_isa_level", lambda: 0)
    assert isa.runnable_levels() == ["baseline"]
    if "avx2" in isa.built_levels():
        monkeypatch.setenv(isa.ENV, "avx2")
        with pytest.raises(isa.IsaLevelError, match="this CPU does not run it"):
            isa.selected_level()
        with pytest.raises(isa.IsaLevelError, match="not runnable"):
            isa.load_level("avx2")


def test_auto_on_a_vector_build_trains_without_numba():
    """A new process with the default backend: where auto serves cython, a training step
    of the book's network imports no Numba (no JIT pause)."""
    out = _run_python("""
        import sys
        import numpy as np
        import fastopt
        from fastopt.book import Adam, MultiLayerNetExtend
        net = MultiLayerNetExtend(784, [100] * 5, 10, use_batchnorm=True, use_dropout=True)
        x = np.random.default_rng(0).random((100, 784)).astype(np.float32)
        Adam().update(net.params, net.gradient(x, np.arange(100) % 10))
        print(fastopt.get_backend(), "numba" in sys.modules)
    """, FASTOPT_BACKEND="auto")
    served = _backend.AUTO_CHOICE[cy.ISA_LEVEL][0]
    if served == "cython" and not _backend.AUTO_CHOICE[cy.ISA_LEVEL][1]:
        assert out.split() == ["cython", "False"]
    else:
        assert out.split()[0] == served
