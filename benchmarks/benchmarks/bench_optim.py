"""One optimizer ``step()`` through the public API, per backend and parameter layout.

One class per optimizer case of ``fastopt.bench.cases`` (``AdamStep``,
``SgdStep``, ...; the fastopt class and arguments are the case's ``optimizer``,
and ``setup`` checks that its step calls the case's kernel), parametrised over
``backend x layout``:

``flat-1e6``, ``flat-1e7``
    one float32 array of 1e6 / 1e7 elements in a :class:`fastopt.FlatParams`;
    ``opt.step()`` is one kernel call.
``book-net``
    the book's 784-100-100-100-100-10 network as 10 separate arrays
    (``W1..W5``, ``b1..b5``; 109,810 parameters) in a dict, gradients in a
    dict: ``opt.step(grads)`` is 10 kernel calls plus per-array validation.
``book-net-flat``
    the same arrays in one FlatParams: ``opt.step()`` is one kernel call.

Methods: ``time_step``; ``peakmem_step`` (the process's peak resident memory,
setup included: a step that allocates temporaries shows as growth over the
parameters and state, e.g. the ``numpy`` backend on ``flat-1e7``); and
``track_step_alloc`` (bytes NumPy allocated at peak during one step, traced
with ``tracemalloc``: a compiled backend must report ~0 on a FlatParams).
"""
import math
import tracemalloc

import fastopt
from fastopt.bench import cases, inputs

from ._common import class_name, finish_case, make_class, match_threads

#: Parameter layouts: (name, [(param name, shape), ...], flat?).
LAYOUTS = [
    {"name": "flat-1e6", "shapes": [("w", (1_000_000,))], "flat": True},
    {"name": "flat-1e7", "shapes": [("w", (10_000_000,))], "flat": True},
    {"name": "book-net", "shapes": list(cases.BOOK_NET), "flat": False},
    {"name": "book-net-flat", "shapes": list(cases.BOOK_NET), "flat": True},
]
for _layout in LAYOUTS:
    _layout["size"] = sum(math.prod(shape) for _, shape in _layout["shapes"])
LAYOUT_BY_NAME = {layout["name"]: layout for layout in LAYOUTS}

#: Backends benchmarked (fixed so result keys stay comparable; unavailable ones are skipped).
BACKENDS = list(cases.BACKENDS)


def make_problem(layout, seed=0):
    """(params, grads) for *layout*: a FlatParams and its ``.grads``, or two dicts (float32)."""
    arrays = {name: inputs.random_array(shape, seed + i, 0.1)
              for i, (name, shape) in enumerate(layout["shapes"])}
    grads = {name: inputs.random_array(shape, 100 + seed + i, 1e-2)
             for i, (name, shape) in enumerate(layout["shapes"])}
    if not layout["flat"]:
        return arrays, grads
    params = fastopt.FlatParams(arrays)
    for name, g in grads.items():
        params.grads[name][...] = g
    return params, params.grads


class _StepBenchmark:
    """Base of the generated classes (the underscore keeps asv from collecting it)."""

    case = None
    params = [BACKENDS, [layout["name"] for layout in LAYOUTS]]
    param_names = ["backend", "layout"]
    timeout = 300

    def setup(self, backend, layout_name):
        if backend not in fastopt.available_backends():
            raise NotImplementedError(f"backend {backend!r} is not available here")
        layout = LAYOUT_BY_NAME[layout_name]
        params, grads = make_problem(layout)
        cls_name, kwargs = self.case.optimizer
        self.opt = getattr(fastopt.optim, cls_name)(params, **kwargs)
        kernel = self.opt._kernel_for(self.opt.param_groups[0])
        if kernel != self.case.kernel:
            raise RuntimeError(f"optim.{cls_name}(**{kwargs}) calls {kernel!r}, "
                               f"not the case's {self.case.kernel!r}")
        self.grads = None if layout["flat"] else grads
        # a context, as the other suites: get_backend() names the resolved backend, so a
        # set_backend(previous) round trip would drop auto's per-kernel choices
        self._ctx = fastopt.use_backend(backend)
        self._ctx.__enter__()
        self._restore = match_threads()  # the started count, not the policy's choice
        # warm up: compile (or load numba's cache) and allocate the state
        self.opt.step(self.grads)
        self.opt.step(self.grads)

    def teardown(self, backend, layout_name):
        finish_case(self)

    def time_step(self, backend, layout_name):
        self.opt.step(self.grads)

    def peakmem_step(self, backend, layout_name):
        self.opt.step(self.grads)

    def track_step_alloc(self, backend, layout_name):
        tracemalloc.start()
        try:
            self.opt.step(self.grads)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak

    track_step_alloc.unit = "bytes"


for _case in cases.CASES:
    if _case.family != "optimizer":
        continue
    _name = class_name(_case.id, "Step")
    globals()[_name] = make_class(_name, _StepBenchmark, __name__, {
        "case": _case,
        "__doc__": f"One ``fastopt.optim.{_case.optimizer[0]}(**{_case.optimizer[1]!r}).step()`` "
                   f"(kernel {_case.kernel!r}).",
    })
del _case, _name, _layout
