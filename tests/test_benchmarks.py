"""The benchmark machinery must stay runnable and time what it says.

1. The case table (``fastopt.bench.cases``): every case's kernels exist in every
   available backend; optimizer cases use the scalars of a row of the parity
   tests' examples (the kernel spec's) and the byte counts of issue 4; their
   fastopt optimizer calls their kernel.
2. The asv suite in benchmarks/benchmarks/: every module imports, every class
   has a method asv collects, ``params`` matches ``param_names``, and every
   class runs ``setup`` + each ``time_``/``peakmem_``/``track_`` method once at
   its smallest size (``timeraw_`` snippets are compiled, not run).
3. ``fastopt bench``: the runner, report, JSON, chart and CLI on a tiny selection.
4. The book's NumPy code used as a peer (and as the oracle of ``fastopt.book``'s
   tests, ``test_book*.py``): its backprop is the derivative and float32 stays float32.
5. ``import fastopt`` imports no Numba (so compiles nothing).

No timing is asserted anywhere.
"""
import importlib
import importlib.util
import inspect
import itertools
import json
import os
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import KERNEL_CASES

import fastopt
from fastopt import _backend, reference
from fastopt.bench import Unavailable, book_numpy, build, cases, inputs, ours, report, runner

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "benchmarks", "benchmarks")
PACKAGE = "_fastopt_asv_benchmarks"
#: method-name prefixes asv collects (asv_runner.benchmarks)
ASV_PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")
#: the methods run once here (timeraw_ spawns interpreters: compiled only)
RUN_PREFIXES = ("time_", "peakmem_", "track_", "mem_")
HAS_BENCH_DIR = os.path.isdir(BENCH_DIR)
#: the asv suite is in the source tree, not in the wheel: tests of an installed wheel skip it
needs_suite = pytest.mark.skipif(not HAS_BENCH_DIR, reason="no benchmarks/ beside tests/ "
                                 "(an installed wheel's tests)")

# ----------------------------------------------------------------- 1. the case table


@pytest.mark.parametrize("case", cases.CASES, ids=lambda c: c.id)
def test_case_maps_to_real_kernels_in_every_backend(case):
    for name in case.kernels:
        assert name in reference.KERNELS, f"{case.id}: {name!r} is not a backend kernel"
        for backend in fastopt.available_backends():
            assert callable(getattr(_backend.kernels(backend), name, None)), \
                f"{case.id}: backend {backend!r} has no kernel {name!r}"
    assert case.sizes and len({s.label for s in case.sizes}) == len(case.sizes)
    names = cases.implementations(case)
    assert len(set(names)) == len(names)
    if case.stream is not None:
        k, r = case.stream
        assert 4 * (2 * k + r) == case.bytes_per_elem, case.id


@pytest.mark.parametrize("case", [c for c in cases.CASES if c.family == "optimizer"],
                         ids=lambda c: c.id)
def test_optimizer_case_is_a_tested_kernel_call(case):
    rows = {row[0]: row for row in KERNEL_CASES}
    assert case.test_case in rows, f"{case.id}: no example {case.test_case!r} in the kernel spec"
    _, kernel, n_state, scalars = rows[case.test_case]
    assert (kernel, n_state, scalars) == (case.kernel, case.n_state, case.scalars)
    # the public optimizer the book-net size times calls this very kernel
    cls_name, kwargs = case.optimizer
    opt = getattr(fastopt.optim, cls_name)({"w": np.zeros(3, np.float32)}, **kwargs)
    assert opt._kernel_for(opt.param_groups[0]) == case.kernel


def test_bytes_per_element_are_issue_4s():
    expected = {"sgd": 12, "momentum": 20, "nesterov": 20, "adagrad": 20, "rmsprop": 20,
                "adam": 28, "adamax": 28, "nadam": 28, "adadelta": 28, "dropout-fwd": 8}
    got = {c.id: c.bytes_per_elem for c in cases.CASES if c.id in expected}
    assert got == expected
    assert cases.BOOK_NET_PARAMS == 109_810


def test_build_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown benchmark case"):
        build("nope", "1e6", "numba")
    with pytest.raises(ValueError, match="no size"):
        build("adam", "3e3", "numpy")
    with pytest.raises(ValueError, match="no implementation"):
        build("adam", "1e6", "torch-aten")


def test_unavailable_backend_is_reported_as_unavailable():
    if "cython" in fastopt.available_backends():
        pytest.skip("the cython backend is built here")
    with pytest.raises(Unavailable, match="cython"):
        build("adam", "book-net", "cython")
    assert issubclass(Unavailable, NotImplementedError)  # asv's "skip"


@pytest.mark.parametrize("backend", fastopt.available_backends())
@pytest.mark.parametrize("case", [c for c in cases.CASES if c.family == "optimizer"],
                         ids=lambda c: c.id)
def test_optimizer_kernel_case_updates_like_the_reference(case, backend):
    """The benchmark's kernel call is a real update: the same bits as the NumPy twin's."""
    size = cases.Size("tiny", (1000,), 1000)
    outs = []
    for b in (backend, "numpy"):
        bench = ours.BUILDERS["optimizer"](case, size, b)
        p0 = bench.data[0].copy()
        with bench.active():
            bench()
            bench()
        outs.append(bench.data)
        assert not np.array_equal(bench.data[0], p0), f"{case.id}: the step changed nothing"
    (p, _, state), (p_ref, _, state_ref) = outs
    assert np.array_equal(p, p_ref) and all(np.array_equal(a, b) for a, b in zip(state, state_ref))


# ----------------------------------------------------------------- 2. the asv suite


def _load_package():
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(
        PACKAGE, os.path.join(BENCH_DIR, "__init__.py"), submodule_search_locations=[BENCH_DIR])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return package


def _module_names():
    return sorted(name for _, name, _ in pkgutil.walk_packages([BENCH_DIR], PACKAGE + ".")
                  if not name.rsplit(".", 1)[-1].startswith("_"))


def _benchmark_classes(module):
    """Public classes defined in *module*, as asv discovers them (imports excluded)."""
    return [obj for name, obj in vars(module).items()
            if not name.startswith("_") and inspect.isclass(obj)
            and obj.__module__ == module.__name__]


def _asv_methods(cls, prefixes=ASV_PREFIXES):
    return sorted(name for name, attr in inspect.getmembers(cls)
                  if callable(attr) and name.startswith(prefixes))


def _all_classes():
    if not HAS_BENCH_DIR:
        return []
    _load_package()
    return [(name, cls) for name in _module_names()
            for cls in _benchmark_classes(importlib.import_module(name))]


def _normalised_params(cls):
    """``params`` as a list of value lists (asv: one flat list means one parameter)."""
    params = list(getattr(cls, "params", []))
    if params and not all(isinstance(p, (list, tuple)) for p in params):
        params = [params]
    return [list(p) for p in params]


@needs_suite
def test_suite_has_the_modules():
    _load_package()
    names = {n.rsplit(".", 1)[-1] for n in _module_names()}
    assert {"bench_kernels", "bench_optim", "bench_train", "bench_startup"} <= names
    classes = {cls.__name__ for _, cls in _all_classes()}
    # generated from the case table: one class per case
    for case in cases.CASES:
        if case.family == "train":
            assert "TrainStep" in classes
        else:
            assert _class_name(case.id) in classes, case.id
        if case.family == "optimizer":
            assert _class_name(case.id) + "Step" in classes, case.id


def _class_name(case_id):
    return "".join(p.capitalize() for p in case_id.replace("-", " ").split())


@pytest.mark.parametrize("module_name", sorted({n for n, _ in _all_classes()}))
def test_module_classes_are_asv_benchmarks(module_name):
    module = importlib.import_module(module_name)
    classes = _benchmark_classes(module)
    assert classes, f"{module_name} defines no benchmark class"
    for cls in classes:
        where = f"{module_name}.{cls.__name__}"
        assert _asv_methods(cls), f"{where} has no method starting with {ASV_PREFIXES}"
        assert isinstance(getattr(cls, "params", []), (list, tuple)), where
        params = _normalised_params(cls)
        names = list(getattr(cls, "param_names", []))
        if params:
            assert len(params) == len(names), \
                f"{where}: {len(params)} params but {len(names)} param_names"
            assert all(len(p) > 0 for p in params), f"{where}: an empty parameter list"
            assert len(set(names)) == len(names), f"{where}: duplicate param_names"
        else:
            assert not names, f"{where}: param_names without params"


def _smallest(values, cls, module, name):
    """The parameter values of the smallest size / layout."""
    if name == "size" and getattr(cls, "case", None) is not None:
        sizes = {s.label: s.elements for s in cls.case.sizes}
    elif name == "layout" and hasattr(module, "LAYOUTS"):
        sizes = {layout["name"]: layout["size"] for layout in module.LAYOUTS}
    else:
        return values
    smallest = min(sizes[v] for v in values)
    return [v for v in values if sizes[v] == smallest]


def _combinations(cls, module):
    params, names = _normalised_params(cls), list(getattr(cls, "param_names", []))
    params = [_smallest(vals, cls, module, name) for vals, name in zip(params, names)]
    return list(itertools.product(*params))


@pytest.mark.parametrize("module_name, cls", _all_classes(),
                         ids=lambda x: x.__name__ if inspect.isclass(x) else x.rsplit(".", 1)[-1])
def test_benchmarks_run_once(module_name, cls):
    module = importlib.import_module(module_name)
    backend_before = fastopt.get_backend()
    threads_before = fastopt.get_num_threads()
    run_methods = _asv_methods(cls, RUN_PREFIXES)
    raw_methods = _asv_methods(cls, ("timeraw_",))
    ran = skipped = 0
    for combo in _combinations(cls, module):
        bench = cls()
        for method in raw_methods:  # the snippet must be valid Python
            code = getattr(bench, method)(*combo)
            for part in (code if isinstance(code, tuple) else (code,)):
                compile(part, f"{cls.__name__}.{method}", "exec")
        if not run_methods:
            continue
        if hasattr(bench, "setup"):
            try:
                bench.setup(*combo)
            except NotImplementedError:  # asv's "skip this combination"
                skipped += 1
                continue
        try:
            for method in run_methods:
                result = getattr(bench, method)(*combo)
                if method.startswith("track_"):
                    assert isinstance(result, (int, float)), f"{method} returned {result!r}"
            ran += 1
        finally:  # as asv: teardown after a setup that succeeded
            if hasattr(bench, "teardown"):
                bench.teardown(*combo)
    if run_methods and ran == 0:
        pytest.skip(f"{cls.__name__}: every combination is unavailable here ({skipped} skipped)")
    assert fastopt.get_backend() == backend_before, "teardown did not restore the backend"
    assert fastopt.get_num_threads() == threads_before


@needs_suite
@pytest.mark.parametrize("backend", [b for b in fastopt.available_backends() if b != "numpy"])
def test_compiled_step_allocates_no_arrays(backend):
    """``track_step_alloc``: a FlatParams step on a compiled backend allocates no array."""
    _load_package()
    module = importlib.import_module(f"{PACKAGE}.bench_optim")
    bench = module.AdamStep()
    bench.setup(backend, "book-net-flat")
    try:
        allocated = bench.track_step_alloc(backend, "book-net-flat")
    finally:
        bench.teardown(backend, "book-net-flat")
    assert allocated < 4096, f"one Adam step allocated {allocated} bytes at peak"


@needs_suite
def test_layout_table():
    _load_package()
    module = importlib.import_module(f"{PACKAGE}.bench_optim")
    sizes = {layout["name"]: layout["size"] for layout in module.LAYOUTS}
    assert sizes["book-net"] == sizes["book-net-flat"] == 109_810
    assert sizes["flat-1e6"] == 1_000_000
    params, grads = module.make_problem(module.LAYOUT_BY_NAME["book-net-flat"])
    assert isinstance(params, fastopt.FlatParams) and len(params) == 10
    assert grads is params.grads


# ----------------------------------------------------------------- 3. fastopt bench


@pytest.fixture(scope="module")
def tiny_run():
    data = runner.run(quick=True, case_ids=["adam", "batchnorm"], impls=["numba", "numpy"],
                      rounds=1, repeat=1, min_time=1e-4)
    return report.finalize(data)


def test_runner_records_every_implementation(tiny_run):
    (run,) = tiny_run["runs"]
    assert run["threads"] == fastopt.get_num_threads()
    rows = {(r["case"], r["size"], r["impl"]) for r in run["results"]}
    for size in ("1e6", "book-net"):
        assert {("adam", size, "numba"), ("adam", size, "numpy"), ("adam", size, "bound")} <= rows
    assert ("batchnorm", "128x100", "numpy") in rows
    for rec in run["results"]:
        if rec["impl"] == "cython" and rec.get("median_s") is None:
            assert rec["error"]
            continue
        if rec["impl"] == "bound" and rec["error"]:
            continue  # no numba here
        assert rec["median_s"] > 0 and rec["q1_s"] <= rec["median_s"] <= rec["q3_s"]
        if rec["bytes_per_elem"] and "bound" in {r["impl"] for r in run["results"]
                                                  if r["case"] == rec["case"]}:
            assert rec["gbps"] > 0
    labels = [g["label"] for g in run["goals"]]
    assert len(labels) == len(report.GOALS)


def test_report_json_and_chart(tiny_run, tmp_path):
    text = report.format_report(tiny_run)
    assert "adam" in text and "performance goals" in text and "threads" in text
    path = tmp_path / "bench.json"
    report.write_json(tiny_run, path)
    loaded = json.loads(path.read_text())
    assert loaded["runs"][0]["results"] and loaded["machine"]["cpu_count"]
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    report.plot(tiny_run, png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_goals_evaluate_ratios():
    results = [
        {"case": "adam", "size": "1e6", "impl": "numba", "median_s": 1.0, "elements": 10,
         "bytes_per_elem": 28},
        {"case": "adam", "size": "1e6", "impl": "torch-fused", "median_s": 2.0, "elements": 10,
         "bytes_per_elem": 28},
    ]
    report.derive(results)
    assert results[1]["ratios"]["numba"] == 2.0
    goal = {g["label"]: g for g in report.evaluate_goals(results)}["Adam 1e6: x torch fused"]
    assert goal["value"] == 2.0 and goal["met"] is True
    assert {g["label"]: g for g in report.evaluate_goals(results)}["Adam 1e7: % of bound"]["met"] is None


def test_runner_validates_arguments():
    with pytest.raises(ValueError, match="thread count"):
        runner.run(thread_counts=[0], case_ids=["sgd"])
    with pytest.raises(ValueError, match="unknown benchmark case"):
        runner.run(case_ids=["nope"])
    with pytest.raises(ValueError, match="rounds"):
        runner.run(case_ids=["sgd"], rounds=0)


def test_cli_bench(tmp_path, capsys):
    from fastopt import cli

    assert cli.main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(c.id in listed for c in cases.CASES)
    path = tmp_path / "out.json"
    assert cli.main(["bench", "--quick", "--cases", "sgd", "--impls", "numpy", "--rounds", "1",
                     "--repeat", "1", "--quiet", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "sgd" in out and "performance goals" in out and path.exists()
    assert cli.main(["bench", "--threads", "x"]) == 2
    assert "--threads" in capsys.readouterr().err


# ----------------------------------------------------------------- 4. the book's NumPy code


def test_book_numpy_network_gradient_is_the_derivative():
    net = book_numpy.MultiLayerNetExtend(5, [4, 3], 3, use_batchnorm=True, seed=0,
                                         weight_decay_lambda=0.1)
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    grads = net.gradient(x, t)
    assert set(grads) == set(net.params)
    for name, param in net.params.items():
        flat = param.reshape(-1)
        for i in range(0, flat.size, max(1, flat.size // 4)):
            old = flat[i]
            flat[i] = old + 1e-5
            up = net.loss(x, t, train_flg=True)
            flat[i] = old - 1e-5
            down = net.loss(x, t, train_flg=True)
            flat[i] = old
            assert (up - down) / 2e-5 == pytest.approx(grads[name].reshape(-1)[i], rel=1e-4,
                                                       abs=1e-7), name


def test_book_numpy_float32_training_step_stays_float32():
    net = book_numpy.MultiLayerNetExtend(784, [100] * 5, 10, use_batchnorm=True, use_dropout=True,
                                         dropout_ration=0.2, dtype=np.float32, seed=0)
    opt = book_numpy.Adam()
    x, t = inputs.train_batch()
    loss0 = net.loss(x, t, train_flg=True)
    for _ in range(5):
        opt.update(net.params, net.gradient(x, t))
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert len(net.params) == 2 * 6 + 2 * 5  # W, b x 6 and gamma, beta x 5
    assert net.loss(x, t, train_flg=True) < loss0


# ----------------------------------------------------------------- 5. import compiles nothing


def test_import_fastopt_imports_no_numba():
    from fastopt.bench import startup

    code = "import sys, fastopt; print(sorted(m for m in ('numba', 'llvmlite', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=startup.child_env()).stdout.strip()
    assert out == "[]"
