"""The asv suite in benchmarks/benchmarks/ must stay runnable.

1. Every module imports, every benchmark class has at least one asv benchmark
   method, and ``params`` matches ``param_names``.
2. Every class runs ``setup`` + one call of each ``time_`` method (+ ``teardown``)
   for every parameter combination restricted to the smallest layout(s), so a
   broken benchmark fails the normal test suite rather than only ``asv run``.

The package is loaded from its files under a private name, so neither the
``benchmarks`` name nor the current directory matters.
"""
import importlib
import importlib.util
import inspect
import itertools
import os
import pkgutil
import sys

import pytest

import fastopt

BENCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "benchmarks", "benchmarks")
PACKAGE = "_fastopt_asv_benchmarks"
#: method-name prefixes asv collects (asv_runner.benchmarks)
ASV_PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")


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
    return sorted(name for _, name, _ in pkgutil.walk_packages([BENCH_DIR], PACKAGE + "."))


def _benchmark_classes(module):
    """Public classes defined in *module*, as asv discovers them (imports excluded)."""
    return [obj for name, obj in vars(module).items()
            if not name.startswith("_") and inspect.isclass(obj)
            and obj.__module__ == module.__name__]


def _asv_methods(cls, prefixes=ASV_PREFIXES):
    return sorted(name for name, attr in inspect.getmembers(cls)
                  if callable(attr) and name.startswith(prefixes))


def _all_classes():
    _load_package()
    return [(name, cls) for name in _module_names()
            for cls in _benchmark_classes(importlib.import_module(name))]


def test_suite_has_modules():
    _load_package()
    names = _module_names()
    assert f"{PACKAGE}.bench_optim" in names
    assert _all_classes(), "no benchmark classes found"


@pytest.mark.parametrize("module_name", _module_names() if os.path.isdir(BENCH_DIR) else [])
def test_module_classes_are_asv_benchmarks(module_name):
    _load_package()
    module = importlib.import_module(module_name)
    for cls in _benchmark_classes(module):
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


def _smallest_layouts(module):
    sizes = {layout["name"]: layout["size"] for layout in module.LAYOUTS}
    smallest = min(sizes.values())
    return [name for name, size in sizes.items() if size == smallest]


def _normalised_params(cls):
    """``params`` as a list of value lists (asv: one flat list means one parameter)."""
    params = list(getattr(cls, "params", []))
    if params and not all(isinstance(p, (list, tuple)) for p in params):
        params = [params]
    return [list(p) for p in params]


def _combinations(cls, module):
    params, names = _normalised_params(cls), list(getattr(cls, "param_names", []))
    if "layout" in names and hasattr(module, "LAYOUTS"):
        i = names.index("layout")
        params[i] = [p for p in params[i] if p in _smallest_layouts(module)]
    return list(itertools.product(*params))


@pytest.mark.parametrize("module_name, cls", _all_classes() if os.path.isdir(BENCH_DIR) else [],
                         ids=lambda x: x.__name__ if inspect.isclass(x) else x.rsplit(".", 1)[-1])
def test_benchmarks_run_once(module_name, cls):
    module = importlib.import_module(module_name)
    backend_before = fastopt.get_backend()
    ran = skipped = 0
    for combo in _combinations(cls, module):
        bench = cls()
        if hasattr(bench, "setup"):
            try:
                bench.setup(*combo)
            except NotImplementedError:  # asv's "skip this combination"
                skipped += 1
                continue
        try:
            for method in _asv_methods(cls, ("time_",)):
                getattr(bench, method)(*combo)
            ran += 1
        finally:  # as asv: teardown after a setup that succeeded
            if hasattr(bench, "teardown"):
                bench.teardown(*combo)
    if ran == 0:  # e.g. the PyTorch comparison without torch installed
        pytest.skip(f"{cls.__name__}: every combination is unavailable here ({skipped} skipped)")
    assert fastopt.get_backend() == backend_before, "teardown did not restore the backend"


def test_layout_table():
    _load_package()
    module = importlib.import_module(f"{PACKAGE}.bench_optim")
    sizes = {layout["name"]: layout["size"] for layout in module.LAYOUTS}
    assert sizes["book-net"] == sizes["book-net-flat"] == 109_810
    assert sizes["flat-1e6"] == 1_000_000
    assert set(_smallest_layouts(module)) == {"book-net", "book-net-flat"}
    for layout in module.LAYOUTS:
        if layout["name"] == "book-net-flat":
            params, grads = module.make_problem(layout)
            assert isinstance(params, fastopt.FlatParams) and len(params) == 10
            assert grads is params.grads
