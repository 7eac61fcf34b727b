"""Backend registry: which module supplies the kernels.

A backend is a module exposing every kernel named in
``fastopt.reference.KERNELS`` with the same signatures. Three are known:

``numba``   ``fastopt.kernels`` (default; needs numba)
``cython``  ``fastopt._cy.kernels`` (compiled into wheels; see README)
``numpy``   ``fastopt.reference`` (always available; the test oracle)

The active backend comes from ``set_backend()``/``use_backend()``, else from the
``FASTOPT_BACKEND`` environment variable, else ``"auto"`` (the first available
of numba, cython, numpy). Modules are imported on first use, so importing
fastopt neither imports Numba nor compiles anything.
"""
import contextlib
import importlib
import os
import threading

_MODULES = {
    "numba": "fastopt.kernels",
    "cython": "fastopt._cy.kernels",
    "numpy": "fastopt.reference",
}
_AUTO_ORDER = ("numba", "cython", "numpy")
_state = threading.local()
_default = None
_loaded = {}
_errors = {}


class BackendUnavailableError(ImportError):
    """The requested backend cannot be imported here."""


def _load(name):
    if name not in _loaded and name not in _errors:
        try:
            _loaded[name] = importlib.import_module(_MODULES[name])
        except ImportError as exc:
            _errors[name] = f"{type(exc).__name__}: {exc}"
    return _loaded.get(name)


def _resolve(name, source):
    if not isinstance(name, str):
        raise TypeError(f"backend must be a str, got {type(name).__name__}")
    name = name.strip().lower()
    if name == "auto":
        for candidate in _AUTO_ORDER:
            if _load(candidate) is not None:
                return candidate
    if name not in _MODULES:
        raise ValueError(f"{source}: unknown backend {name!r}; "
                         f"choose one of {sorted(_MODULES)} or 'auto'")
    if _load(name) is None:
        raise BackendUnavailableError(
            f"{source}: backend {name!r} is not available here ({_errors[name]})")
    return name


def available_backends():
    """Names of the backends that import on this machine, fastest first."""
    return [n for n in ("numba", "cython", "numpy") if _load(n) is not None]


def backend_errors():
    """Why each unavailable backend failed to import (name -> message)."""
    available_backends()
    return dict(_errors)


def get_backend():
    """Name of the active backend (resolving ``FASTOPT_BACKEND`` on first call)."""
    global _default
    name = getattr(_state, "name", None)
    if name is not None:
        return name
    if _default is None:
        _default = _resolve(os.environ.get("FASTOPT_BACKEND", "auto"), "FASTOPT_BACKEND")
    return _default


def kernels(name=None):
    """The kernel module of backend *name* (default: the active one)."""
    return _loaded[_resolve(name, "backend") if name else get_backend()]


def set_backend(name):
    """Make *name* (``"numba"``, ``"cython"``, ``"numpy"`` or ``"auto"``) the default backend."""
    global _default
    _default = _resolve(name, "backend")
    _state.name = None


@contextlib.contextmanager
def use_backend(name):
    """Context manager: use backend *name* in this thread inside the ``with`` block."""
    resolved = _resolve(name, "backend")
    previous = getattr(_state, "name", None)
    _state.name = resolved
    try:
        yield resolved
    finally:
        _state.name = previous
