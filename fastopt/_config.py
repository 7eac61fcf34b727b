"""``fastopt.show_config()``: what this installation can do."""
import platform
import sys

from . import _backend, _threads


def config():
    """A dict describing versions, backends and threads."""
    import numpy

    info = {"fastopt": _version(), "python": sys.version.split()[0],
            "platform": platform.platform(), "numpy": numpy.__version__,
            "backends": _backend.available_backends(),
            "unavailable": _backend.backend_errors()}
    try:
        import numba

        info["numba"] = numba.__version__
        info["threads"] = _threads.get_num_threads()
        info["threading_layer"] = numba.config.THREADING_LAYER
        from .kernels import PARALLEL_THRESHOLD

        info["parallel_threshold"] = dict(PARALLEL_THRESHOLD)
    except ImportError:
        info["numba"] = None
        info["threads"] = 1
    cy = _threads._cython()
    if cy is not None:
        info["cython"] = {"openmp": cy.HAVE_OPENMP, "threads": cy.get_num_threads(),
                          "parallel_threshold": dict(cy.PARALLEL_THRESHOLD)}
        info["cython_isa"] = _cython_isa()
    try:
        info["active_backend"] = _backend.get_backend()
    except (ImportError, ValueError) as exc:
        info["active_backend"] = f"error: {exc}"
    info["auto_kernel_choices"] = _backend.auto_choices()
    return info


def _cython_isa():
    """Which instruction-set build of the Cython kernels serves, and what else is there."""
    try:
        from ._cy import isa, kernels
    except ImportError as exc:
        return f"unavailable ({exc})"
    return (f"{kernels.ISA_LEVEL}: {isa.DESCRIPTIONS[kernels.ISA_LEVEL]} "
            f"(CPU runs up to {isa.cpu_level()}; built: {', '.join(isa.built_levels())})")


def _version():
    from . import __version__

    return __version__


def show_config(file=None):
    """Print backends, versions and thread settings (and return them as a dict)."""
    info = config()
    for key, value in info.items():
        print(f"{key:>19}: {value}", file=file or sys.stdout)
    return info
