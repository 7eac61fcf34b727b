"""Backend registry: which module supplies the kernels.

A backend is a module exposing every kernel named in
``fastopt.reference.KERNELS`` with the same signatures. Three are known:

``numba``   ``fastopt.kernels`` (default; needs numba)
``cython``  ``fastopt._cy.kernels`` (compiled into wheels; see README)
``numpy``   ``fastopt.reference`` (always available; the test oracle)

The active backend comes from ``set_backend()``/``use_backend()``, else from the
``FASTOPT_BACKEND`` environment variable, else ``"auto"``: the first available
of numba, cython, numpy, except for the kernels in ``AUTO_KERNEL_CHOICE``, which
``auto`` takes from the backend ``fastopt bench`` measured faster when it is
available (every backend gives the same bits, so mixing them changes no
result). Modules are imported on first use, so importing fastopt neither
imports Numba nor compiles anything.
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
#: kernel -> backend that ``auto`` prefers for it. Measured with ``fastopt bench`` on the
#: 2-core dev VM (float32, 1e6 and 1e7, 1 and 2 threads): cython's blocked sum of squares
#: is 2.1-2.5x faster than numba's; numba wins or ties everywhere else.
AUTO_KERNEL_CHOICE = {"sumsq": "cython"}


class _ThreadState(threading.local):
    """The backend ``use_backend`` set in this thread (None: the default). Class-level
    defaults: a missing attribute of a plain ``threading.local`` costs 0.3 us to look up."""
    name = None
    kernels = None


_state = _ThreadState()
_default = None
_default_kernels = None
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


class _AutoKernels:
    """The kernels ``auto`` serves: *base*'s, with the ``AUTO_KERNEL_CHOICE`` exceptions."""

    def __init__(self, base, choices):
        # copied, not forwarded by __getattr__ alone: that cost 0.8 us per kernel lookup
        self.__dict__.update((k, v) for k, v in vars(base).items() if not k.startswith("_"))
        self._base, self.choices = base, choices
        for kernel, backend in choices.items():
            setattr(self, kernel, getattr(_loaded[backend], kernel))

    def __getattr__(self, attr):
        return getattr(self._base, attr)


def _select(name, source):
    """(backend name, kernel namespace) for a requested *name*."""
    resolved = _resolve(name, source)
    module = _loaded[resolved]
    if name.strip().lower() == "auto":
        choices = {k: b for k, b in AUTO_KERNEL_CHOICE.items()
                   if b != resolved and _load(b) is not None}
        if choices:
            module = _AutoKernels(module, choices)
    return resolved, module


def auto_choices():
    """Kernels ``auto`` takes from another backend than its first: {kernel: backend}."""
    module = _select("auto", "auto")[1]
    return dict(module.choices) if isinstance(module, _AutoKernels) else {}


def _default_selection():
    global _default, _default_kernels
    if _default is None:
        _default, _default_kernels = _select(os.environ.get("FASTOPT_BACKEND", "auto"),
                                             "FASTOPT_BACKEND")
    return _default, _default_kernels


def get_backend():
    """Name of the active backend (resolving ``FASTOPT_BACKEND`` on first call)."""
    name = _state.name
    return name if name is not None else _default_selection()[0]


def kernels(name=None):
    """The kernels of backend *name* (default: the active one, ``auto``'s choices included)."""
    if name:
        return _select(name, "backend")[1]
    module = _state.kernels
    return module if module is not None else _default_selection()[1]


def set_backend(name):
    """Make *name* (``"numba"``, ``"cython"``, ``"numpy"`` or ``"auto"``) the default backend."""
    global _default, _default_kernels
    _default, _default_kernels = _select(name, "backend")
    _state.name = _state.kernels = None


@contextlib.contextmanager
def use_backend(name):
    """Context manager: use backend *name* in this thread inside the ``with`` block."""
    resolved, module = _select(name, "backend")
    previous = _state.name, _state.kernels
    _state.name, _state.kernels = resolved, module
    try:
        yield resolved
    finally:
        _state.name, _state.kernels = previous
