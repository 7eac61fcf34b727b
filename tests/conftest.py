import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for resume_cases and `from conftest import`

import fastopt  # noqa: E402
from fastopt.kernel_spec import TRANSFORMS, example_cases  # noqa: E402

#: Every update kernel's examples from the kernel spec, as (id, kernel, number of state
#: buffers, scalars in the kernel's order); TRANSFORMS (plain, transformed, decoupled) follow.
KERNEL_CASES = [(case_id, spec.name, len(spec.state), spec.ordered(example.scalars))
                for case_id, spec, example in example_cases()]

COMPILED_BACKENDS = [b for b in fastopt.available_backends() if b != "numpy"]


@pytest.fixture(params=fastopt.available_backends())
def backend(request):
    with fastopt.use_backend(request.param):
        yield request.param


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


def assert_bits_equal(actual, expected, what="array"):
    """Equal to the bit (so -0.0 != 0.0, and NaN payloads count)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    a = actual.view(np.uint32 if actual.dtype == np.float32 else np.uint64)
    b = expected.view(a.dtype)
    if not np.array_equal(a, b):
        bad = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
        i = bad[0]
        raise AssertionError(f"{what}: {bad.size} elements differ; first at {i}: "
                             f"{actual.reshape(-1)[i]!r} != {expected.reshape(-1)[i]!r}")
