"""Every case of ``fastopt.bench.cases`` (except the training step, see ``bench_train``).

One class per case, generated from the case table (``Adam``, ``Sgd``, ...,
``BatchnormFwd``, ``Batchnorm``, ``DropoutFwd``), parametrised over
``impl x size``: the streaming bound, fastopt's backends and the case's peers
(the book's NumPy code, PyTorch), exactly as ``fastopt bench`` times them.
``setup`` calls ``fastopt.bench.build(case, size, impl)``, which builds the
call from the table (kernel name, arguments) and warms it up; an
implementation not available here (no torch, no cython backend, no
equivalent) raises ``NotImplementedError`` and asv shows n/a.

Optimizer cases on a flat buffer (``1e6``, ``1e7``) call the backend kernel
directly; ``book-net`` is the public API (``optim.<Class>`` over one
``FlatParams`` of the book's 10 arrays).
"""
from fastopt.bench import cases

from ._common import class_name, finish_case, make_class, start_case


class _CaseBenchmark:
    """Base of the generated classes (the underscore keeps asv from collecting it)."""

    case = None
    param_names = ["impl", "size"]
    timeout = 300
    # a sample should last a little: the 1e7 peers take ~0.1 s a call
    sample_time = 0.05

    def setup(self, impl, size):
        start_case(self, self.case, size, impl)

    def teardown(self, impl, size):
        finish_case(self)

    def time_case(self, impl, size):
        self.bench()


for _case in cases.CASES:
    if _case.family == "train":
        continue
    _name = class_name(_case.id)
    globals()[_name] = make_class(_name, _CaseBenchmark, __name__, {
        "case": _case,
        "params": [cases.implementations(_case), [s.label for s in _case.sizes]],
        "__doc__": f"{_case.title} ({_case.bytes_per_elem} B/elem moved in float32); "
                   f"kernels: {', '.join(_case.kernels)}.",
    })
del _case, _name
