"""What a prepared benchmark is: :class:`Bench`, and :class:`Unavailable` when it cannot be.

Every builder (:mod:`fastopt.bench.ours`, :mod:`fastopt.bench.stream`,
:mod:`fastopt.bench.peers`) returns a :class:`Bench`; :func:`fastopt.bench.build`
picks the builder and warms the result up.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Optional

from .. import _backend
from .cases import Case, Size


class Unavailable(NotImplementedError):
    """This implementation cannot run here (backend or peer missing, or no equivalent).

    A subclass of ``NotImplementedError``, which asv reports as a skipped benchmark.
    """


class Bench:
    """A prepared benchmark: call it to run the timed operation once.

    Attributes
    ----------
    case : Case
    size : Size
    impl : str
    fn : callable
        The timed operation, without arguments.
    backend : str or None
        fastopt backend to activate around the calls (see :meth:`active`).
    note : str
        What exactly is timed, for the report.
    data : object
        The buffers *fn* works on (e.g. ``(p, g, state)``), kept alive with it.
    """

    def __init__(self, case: Case, size: Size, impl: str, fn: Callable[[], Any], *,
                 backend: Optional[str] = None, note: str = "", data: Any = None) -> None:
        self.case, self.size, self.impl = case, size, impl
        self.fn, self.backend, self.note = fn, backend, note
        self.data = data

    def __call__(self) -> Any:
        return self.fn()

    def active(self) -> ContextManager[Any]:
        """Context manager making this benchmark's fastopt backend the active one."""
        if self.backend is None:
            return contextlib.nullcontext()
        return _backend.use_backend(self.backend)

    def __repr__(self) -> str:
        return f"Bench({self.case.id!r}, {self.size.label!r}, {self.impl!r})"


#: What prepares a case at a size for an implementation.
Builder = Callable[[Case, Size, str], Bench]
