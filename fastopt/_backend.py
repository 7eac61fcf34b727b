"""Backend registry: which module supplies the kernels.

A backend is a module exposing every kernel named in
``fastopt.reference.KERNELS`` with the same signatures. Three are known:

``numba``   ``fastopt.kernels`` (needs numba; compiles on first use)
``cython``  ``fastopt._cy.kernels`` (compiled into wheels, one build per x86-64
            instruction-set level; see ``fastopt._cy.isa``)
``numpy``   ``fastopt.reference`` (always available; the test oracle)

The active backend comes from ``set_backend()``/``use_backend()``, else from the
``FASTOPT_BACKEND`` environment variable, else ``"auto"``. ``auto`` serves the
backend :data:`AUTO_CHOICE` names for the Cython build's instruction-set level
(where Cython is not slower, it needs no compilation, so a new process starts
without a JIT pause), taking the listed kernels from another backend, which is
imported only when one of them is first used; without a Cython build, numba,
then numpy. Every backend gives the same bits, so mixing them changes no
result. Modules are imported on first use, so importing fastopt neither imports
Numba nor compiles anything.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import threading
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

#: what serves kernels: a backend module, or auto's mix of two
Kernels = Union[ModuleType, "_AutoKernels"]

_MODULES: Dict[str, str] = {
    "numba": "fastopt.kernels",
    "cython": "fastopt._cy.kernels",
    "numpy": "fastopt.reference",
}
#: Cython build level -> (backend ``auto`` serves, {kernel: backend it takes instead}).
#: Measured with ``fastopt bench`` on the 2-core EPYC dev VM (1 thread): the AVX2/AVX-512
#: builds run the optimizers at 0.87-1.05x Numba's time and the other kernels at
#: 0.4-1.1x (batch norm's runs spread to 1.3x), float32 and float64, so ``auto`` takes
#: Cython's (no compilation: a first ``fastopt train`` 1.4 s instead of 7.8 s); the
#: baseline (SSE2) build ran Adam-like kernels 1.9-2.1x slower, so there ``auto`` serves
#: Numba's, with Cython's blocked sum of squares (2.1-2.5x faster than Numba's).
AUTO_CHOICE: Dict[str, Tuple[str, Dict[str, str]]] = {
    "avx512": ("cython", {}),
    "avx2": ("cython", {}),
    "baseline": ("numba", {"sumsq": "cython"}),
}
#: ``auto``'s order where no Cython build is there to decide
_FALLBACK_ORDER = ("numba", "numpy")


class _ThreadState(threading.local):
    """The backend ``use_backend`` set in this thread (None: the default). Class-level
    defaults: a missing attribute of a plain ``threading.local`` costs 0.3 us to look up."""
    name: Optional[str] = None
    kernels: Optional[Kernels] = None


_state = _ThreadState()
_default: Optional[str] = None
_default_kernels: Optional[Kernels] = None
_loaded: Dict[str, ModuleType] = {}
_errors: Dict[str, str] = {}


class BackendUnavailableError(ImportError):
    """The requested backend cannot be imported here."""


def _load(name: str) -> Optional[ModuleType]:
    if name not in _loaded and name not in _errors:
        try:
            _loaded[name] = importlib.import_module(_MODULES[name])
        except ImportError as exc:
            _errors[name] = f"{type(exc).__name__}: {exc}"
    return _loaded.get(name)


def _resolve(name: Any, source: str) -> Tuple[str, Dict[str, str]]:
    """(backend that serves *name*, {kernel: other backend} for ``auto``)."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be a str, got {type(name).__name__}")
    name = name.strip().lower()
    if name == "auto":
        return _auto_plan()
    if name not in _MODULES:
        raise ValueError(f"{source}: unknown backend {name!r}; "
                         f"choose one of {sorted(_MODULES)} or 'auto'")
    if _load(name) is None:
        raise BackendUnavailableError(
            f"{source}: backend {name!r} is not available here ({_errors[name]})")
    return name, {}


def _auto_plan() -> Tuple[str, Dict[str, str]]:
    """(backend ``auto`` serves, {kernel: other backend}) on this machine."""
    cython = _load("cython")
    if cython is not None:
        base, exceptions = AUTO_CHOICE[cython.ISA_LEVEL]
        if base == "cython" or _load(base) is not None:
            return base, exceptions
        return "cython", {}  # the preferred backend (Numba) does not import here
    for candidate in _FALLBACK_ORDER:
        if _load(candidate) is not None:
            return candidate, {}
    raise AssertionError("the numpy backend always imports")


def _available(name: str) -> bool:
    """Whether backend *name* imports here; Numba (~0.4 s to import) is only looked up."""
    if name == "numba" and name not in _loaded and name not in _errors:
        return importlib.util.find_spec("numba") is not None
    return _load(name) is not None


def available_backends() -> List[str]:
    """Names of the backends that import on this machine (imports each: Numba too)."""
    return [n for n in ("numba", "cython", "numpy") if _load(n) is not None]


def backend_errors() -> Dict[str, str]:
    """Why each unavailable backend failed to import (name -> message)."""
    available_backends()
    return dict(_errors)


class _AutoKernels:
    """The kernels ``auto`` serves: *base*'s, except *choices* (kernel -> backend), whose
    backend is imported when one of them is first looked up (then they are plain
    attributes). Where that backend fails to import, *base*'s kernel serves."""

    def __init__(self, base: ModuleType, choices: Dict[str, str]) -> None:
        # copied, not forwarded by __getattr__ alone: that cost 0.8 us per kernel lookup
        self.__dict__.update((k, v) for k, v in vars(base).items()
                             if not k.startswith("_") and k not in choices)
        self._base, self.choices = base, choices

    def __getattr__(self, attr: str) -> Any:
        backend = self.__dict__.get("choices", {}).get(attr)
        module = _load(backend) if backend else None
        value = getattr(module if module is not None else self._base, attr)
        if backend:
            setattr(self, attr, value)
        return value


def _select(name: Any, source: str) -> Tuple[str, Kernels]:
    """(backend name, kernel namespace) for a requested *name*."""
    resolved, exceptions = _resolve(name, source)
    choices = {k: b for k, b in exceptions.items() if _available(b)}
    if choices:
        return resolved, _AutoKernels(_loaded[resolved], choices)
    return resolved, _loaded[resolved]


def auto_choices() -> Dict[str, str]:
    """Kernels ``auto`` takes from another backend than the one it serves: {kernel: backend}."""
    module = _select("auto", "auto")[1]
    return dict(module.choices) if isinstance(module, _AutoKernels) else {}


def _default_selection() -> Tuple[str, Kernels]:
    global _default, _default_kernels
    if _default is None:
        _default, _default_kernels = _select(os.environ.get("FASTOPT_BACKEND", "auto"),
                                             "FASTOPT_BACKEND")
    assert _default_kernels is not None
    return _default, _default_kernels


def get_backend() -> str:
    """Name of the active backend (resolving ``FASTOPT_BACKEND`` on first call)."""
    name = _state.name
    return name if name is not None else _default_selection()[0]


def kernels(name: Optional[str] = None) -> Any:
    """The kernels of backend *name* (default: the active one, ``auto``'s choices included)."""
    if name:
        return _select(name, "backend")[1]
    module = _state.kernels
    return module if module is not None else _default_selection()[1]


def set_backend(name: str) -> None:
    """Make *name* (``"numba"``, ``"cython"``, ``"numpy"`` or ``"auto"``) the default backend."""
    global _default, _default_kernels
    _default, _default_kernels = _select(name, "backend")
    _state.name = _state.kernels = None


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[str]:
    """Context manager: use backend *name* in this thread inside the ``with`` block."""
    resolved, module = _select(name, "backend")
    previous = _state.name, _state.kernels
    _state.name, _state.kernels = resolved, module
    try:
        yield resolved
    finally:
        _state.name, _state.kernels = previous
