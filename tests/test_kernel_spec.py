"""The kernel specification (fastopt.kernel_spec) holds: every kernel it lists has a twin
in every backend and instruction-set build, with the spec's parameters, a parity case
and a benchmark case; and every twin equals the NumPy reference bit for bit on the
spec's example arguments (float32 and float64, odd lengths, the parallel path).

The cases here are generated from the spec: a kernel added to it is tested without
touching this file.
"""
import copy
import pathlib
import re
import inspect

import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt
import fastopt.reference as reference
from fastopt import _backend
from fastopt.bench import cases as bench_cases
from fastopt.kernel_spec import BY_NAME, KERNELS, SPECS, TRANSFORM, TRANSFORMS

PARALLEL = 1 << 18  # the kernels' default parallel threshold (fastopt.kernels._jit)


def _implementations():
    """(label, kernel namespace) of every compiled backend and every Cython build here."""
    found = [(name, _backend.kernels(name)) for name in fastopt.available_backends()
             if name != "numpy"]
    if "cython" in fastopt.available_backends():
        from fastopt._cy import isa, kernels as cy

        found += [(f"cython-{level}", isa.load_level(level))
                  for level in isa.runnable_levels() if level != cy.ISA_LEVEL]
    return found


IMPLEMENTATIONS = _implementations()
IDS = [label for label, _ in IMPLEMENTATIONS]


def parameter_names(kernel):
    """A kernel's parameter names. A Numba elementwise kernel is a wrapper ``(p, *args)``
    around a range function ``(lo, hi, p, ...)``: its names come from there (an update
    kernel's last, ``transform``, spelt out as the four transform scalars)."""
    range_fn = getattr(kernel, "range_fn", None)
    if range_fn is not None:
        names = tuple(inspect.signature(range_fn.py_func).parameters)[2:]
        return names[:-1] + TRANSFORM if names[-1] == "transform" else names
    target = getattr(kernel, "py_func", kernel)
    return tuple(inspect.signature(target).parameters)


def test_the_spec_and_the_reference_agree():
    assert reference.KERNELS == KERNELS
    assert len(set(KERNELS)) == len(KERNELS)
    for spec in SPECS:
        if spec.update:
            assert parameter_names(getattr(reference, spec.name)) == spec.parameters, spec.name
            assert spec.examples and spec.optimizers, spec.name
            for example in spec.examples:
                spec.ordered(example.scalars)  # every scalar named, none unknown
        else:
            assert spec.example is not None, spec.name


@pytest.mark.parametrize("label,kernels", IMPLEMENTATIONS, ids=IDS)
def test_every_kernel_has_a_twin_with_the_reference_parameters(label, kernels):
    for name in KERNELS:
        kernel = getattr(kernels, name, None)
        assert callable(kernel), f"{label} has no kernel {name!r}"
        assert parameter_names(kernel) == parameter_names(getattr(reference, name)), \
            f"{label}.{name}"
        assert kernel.__doc__, f"{label}.{name} has no docstring"


def test_every_kernel_has_a_benchmark_case():
    timed = {kernel for case in bench_cases.CASES for kernel in case.kernels}
    assert set(KERNELS) <= timed, sorted(set(KERNELS) - timed)
    for spec in SPECS:
        if spec.update:
            case = bench_cases.case_by_id(spec.name)
            assert case.family == "optimizer" and case.kernel == spec.name


def test_every_optimizer_of_the_spec_calls_its_kernel():
    for spec in SPECS:
        for cls_name in spec.optimizers.values():
            opt = getattr(fastopt.optim, cls_name)({"w": np.zeros(3, np.float32)})
            assert opt._kernel_for(opt.param_groups[0]) == spec.name, cls_name


def _update_calls(spec, n, dtype):
    """(args, ...) per example and transform: p, g, state, scalars, transform."""
    rng = np.random.default_rng(n)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    state = [np.abs(rng.standard_normal(n)).astype(dtype) * 0.1 for _ in spec.state]
    for example in spec.examples:
        scalars = [s if flag else dtype.type(s) for s, flag in
                   zip(spec.ordered(example.scalars), spec.flags)]
        for transform in TRANSFORMS.values():
            yield (p, g, *state, *scalars, *(dtype.type(t) for t in transform))


def _calls(spec, n, dtype):
    if spec.update:
        yield from _update_calls(spec, n, dtype)
    else:
        yield spec.example(n, dtype, np.random.default_rng(n))


def _outputs(kernel, names, args):
    """The result and every array argument after the call, by name (not the scratch)."""
    args = copy.deepcopy(args)
    with np.errstate(all="ignore"):  # e.g. centered RMSprop's sqrt of h - grad_avg² < 0
        result = kernel(*args)
    return result, {n: a for n, a in zip(names, args) if isinstance(a, np.ndarray) and n != "work"}


@pytest.mark.parametrize("label,kernels", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("n", [1, 7, 1000, PARALLEL + 3])
def test_every_kernel_equals_the_reference(label, kernels, name, n, dtype):
    spec = BY_NAME[name]
    names = parameter_names(getattr(reference, name))
    for args in _calls(spec, n, dtype):
        want, want_arrays = _outputs(getattr(reference, name), names, args)
        got, got_arrays = _outputs(getattr(kernels, name), names, args)
        if isinstance(want, float):
            assert_bits_equal(np.float64(got), np.float64(want), f"{label}.{name} result")
        else:
            assert got == want, f"{label}.{name} result"
        for arg, array in want_arrays.items():
            assert_bits_equal(got_arrays[arg], array, f"{label}.{name}: {arg}")


SRC_CYTHON = pathlib.Path(__file__).resolve().parent.parent / "src_cython"


@pytest.mark.skipif(not SRC_CYTHON.is_dir(), reason="runs from the source tree")
@pytest.mark.parametrize("spec", [s for s in SPECS if s.update], ids=lambda s: s.name)
def test_cython_specialises_the_scalars_the_spec_folds(spec):
    """The Cython twin compiles a loop of its own for each scalar the spec folds away when
    it equals 1 (the Numba twin is told by fastopt.kernels._jit.update_kernel), and for
    no other: its dispatch function tests ``<scalar> == 1`` for exactly those."""
    source = (SRC_CYTHON / f"{spec.family}.pyx").read_text(encoding="utf-8")
    match = re.search(rf"^cdef void _{spec.name}\(.*?(?=^cdef |^def |^include |\Z)", source,
                      re.S | re.M)
    assert match, f"src_cython/{spec.family}.pyx has no cdef void _{spec.name}"
    specialised = set(re.findall(r"\b(\w+) == 1\b", match.group(0)))
    assert specialised == set(spec.fold_when_one), spec.name
