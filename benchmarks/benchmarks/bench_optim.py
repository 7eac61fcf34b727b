"""Time one optimizer step, per backend and parameter layout.

Two tables drive the suite:

``OPTIMIZERS``
    one asv class per entry (``bench_optim.AdamStep``, ...), named ``<name>Step``;
``LAYOUTS``
    how the parameters are laid out; each class is parametrised over
    ``backend x layout``.

Layouts (all float32):

``flat-1e6``, ``flat-1e7``
    one array of 1e6 / 1e7 elements in a :class:`fastopt.FlatParams`;
    ``opt.step()`` is one kernel call.
``book-net``
    the book's 784-100-100-100-100-10 network as 10 separate arrays
    (``W1..W5``, ``b1..b5``; 109,810 parameters) passed as a dict, with the
    gradients as a dict: ``opt.step(grads)`` is 10 kernel calls plus
    per-array validation.
``book-net-flat``
    the same arrays in one FlatParams: ``opt.step()`` is one kernel call.

Backends are a fixed list (``numba``, ``numpy``) so that result keys stay
comparable across machines; a backend that does not import here is skipped
(``setup`` raises ``NotImplementedError``, which asv reports as n/a).
"""
import numpy as np

import fastopt

#: (name, shape) of the book's network (ch. 6: 784 -> 100 x 4 -> 10).
BOOK_NET = [
    ("W1", (784, 100)), ("b1", (100,)),
    ("W2", (100, 100)), ("b2", (100,)),
    ("W3", (100, 100)), ("b3", (100,)),
    ("W4", (100, 100)), ("b4", (100,)),
    ("W5", (100, 10)), ("b5", (10,)),
]

#: Parameter layouts. ``flat``: a FlatParams and ``opt.step()``; otherwise a
#: dict of separate arrays and ``opt.step(grads)``.
LAYOUTS = [
    {"name": "flat-1e6", "shapes": [("w", (1_000_000,))], "flat": True},
    {"name": "flat-1e7", "shapes": [("w", (10_000_000,))], "flat": True},
    {"name": "book-net", "shapes": BOOK_NET, "flat": False},
    {"name": "book-net-flat", "shapes": BOOK_NET, "flat": True},
]
for _layout in LAYOUTS:
    _layout["size"] = sum(int(np.prod(shape)) for _, shape in _layout["shapes"])

#: Optimizers: one benchmark class each. ``kwargs`` go to the constructor.
OPTIMIZERS = [
    {"name": "Adam", "kwargs": {"lr": 1e-3}},
    {"name": "Momentum", "kwargs": {"lr": 1e-2, "momentum": 0.9}},
]

#: Backends benchmarked (others, e.g. cython, are left out on purpose).
BACKENDS = ["numba", "numpy"]

DTYPE = np.float32
LAYOUT_BY_NAME = {layout["name"]: layout for layout in LAYOUTS}


def make_problem(layout, seed=0):
    """(params, grads) for *layout*: a FlatParams and its ``.grads``, or two dicts."""
    rng = np.random.default_rng(seed)
    arrays = {name: rng.standard_normal(shape, dtype=DTYPE) * DTYPE(0.01)
              for name, shape in layout["shapes"]}
    grads = {name: rng.standard_normal(shape, dtype=DTYPE) * DTYPE(1e-3)
             for name, shape in layout["shapes"]}
    if not layout["flat"]:
        return arrays, grads
    params = fastopt.FlatParams(arrays)
    for name, g in grads.items():
        params.grads[name][...] = g
    return params, params.grads


class _StepBenchmark:
    """Base of the generated classes: ``optimizer`` and ``kwargs`` come from OPTIMIZERS.

    The leading underscore keeps asv from collecting this class itself.
    """

    optimizer = None
    kwargs = {}
    params = [BACKENDS, [layout["name"] for layout in LAYOUTS]]
    param_names = ["backend", "layout"]
    # 1e7 elements with the numpy backend take ~0.1 s a step: a few samples suffice
    timeout = 120

    def setup(self, backend, layout_name):
        if backend not in fastopt.available_backends():
            raise NotImplementedError(f"backend {backend!r} is not available here")
        layout = LAYOUT_BY_NAME[layout_name]
        self._previous_backend = fastopt.get_backend()
        fastopt.set_backend(backend)
        params, grads = make_problem(layout)
        self.opt = getattr(fastopt.optim, self.optimizer)(params, **self.kwargs)
        # FlatParams: step() with no argument uses params.grads (one kernel call)
        self.grads = None if layout["flat"] else grads
        # warm up: compile (or load from numba's cache) and allocate workspaces
        self.opt.step(self.grads)
        self.opt.step(self.grads)

    def teardown(self, backend, layout_name):
        previous = getattr(self, "_previous_backend", None)
        if previous is not None:
            fastopt.set_backend(previous)

    def time_step(self, backend, layout_name):
        self.opt.step(self.grads)


def _make_class(case):
    name = f"{case['name']}Step"
    cls = type(name, (_StepBenchmark,), {
        "optimizer": case["name"],
        "kwargs": dict(case["kwargs"]),
        "__doc__": f"One ``fastopt.optim.{case['name']}(**{case['kwargs']!r}).step()``.",
        "__module__": __name__,
        "__qualname__": name,
    })
    return name, cls


for _case in OPTIMIZERS:
    _name, _cls = _make_class(_case)
    globals()[_name] = _cls
del _case, _name, _cls, _layout
