"""The Cython backend: every kernel of ``fastopt.reference.KERNELS``, compiled.

The modules are built from ``src_cython/`` (one per family, as
``fastopt.kernels``) by ``setup.py`` when Cython and a C compiler are present,
once per instruction-set level on x86-64; the kernels here are those of
:data:`ISA_LEVEL`, the level ``fastopt._cy.isa`` selects for this CPU. Where
the modules are not built, importing this module raises ``ImportError`` and
the backend registry leaves the cython backend out.
"""
from ..reference.batchnorm import (
    batchnorm_channel_work_size,
    batchnorm_work_size,
)
from ._jit import (
    CHUNK_SIZE as CHUNK,
    HAVE_OPENMP,
    HEAVY_THRESHOLD,
    LIGHT_THRESHOLD,
    PARALLEL_THRESHOLD,
    get_num_threads,
    set_num_threads,
)
from ..kernel_spec import KERNELS
from .isa import load_level, selected_level

#: the instruction-set level whose build serves these kernels ("baseline", "avx2", "avx512")
ISA_LEVEL = selected_level()
globals().update(vars(load_level(ISA_LEVEL)))

__all__ = [*KERNELS, "batchnorm_work_size", "batchnorm_channel_work_size", "CHUNK",
           "HAVE_OPENMP", "HEAVY_THRESHOLD", "LIGHT_THRESHOLD", "PARALLEL_THRESHOLD",
           "ISA_LEVEL", "get_num_threads", "set_num_threads"]
