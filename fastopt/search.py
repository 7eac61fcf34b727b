"""Random hyperparameter search that scales from one core to a Dask cluster (book §6.5).

The book's recipe (``ch06/hyperparameter_optimization.py``): hold out a
validation set, draw each hyperparameter at random on a log scale
(``lr = 10**U(-6, -2)``, ``weight_decay = 10**U(-8, -4)``), train briefly,
rank the trials by validation accuracy, then narrow the ranges to where the
good trials are and search again.

>>> from fastopt import data, search
>>> (x, t), _ = data.load_digits()
>>> objective = search.book_objective(x, t, epochs=20)            # picklable
>>> result = search.random_search(search.book_space(), objective, n_trials=20, seed=0)
>>> result.best.params, result.best.score                          # doctest: +SKIP
>>> narrower = result.narrow(top_k=5)                              # the notes' step 3
>>> result2 = search.random_search(narrower, objective, n_trials=20, seed=1)

Determinism
-----------
Every trial's parameters and its training seed are drawn **before** any trial
runs, from ``numpy.random.SeedSequence(seed, spawn_key=(i,))`` for trial ``i``:
they depend only on ``seed`` and ``i`` (not on ``n_trials``, the executor, the
number of workers or the order in which trials finish). The objective receives
that trial seed and must draw all of its randomness from it; then a search gives
the same parameters and scores, to the bit, serially, on threads, in processes
or on a Dask cluster (tested).

Executors
---------
``executor=None`` (default) runs the trials in a
:class:`concurrent.futures.ProcessPoolExecutor` started with the ``"spawn"``
method, one Numba thread and one BLAS thread per worker. Not ``"fork"``:
fastopt's parallel kernels use Numba's OpenMP threading layer, and GNU OpenMP
is not fork-safe once its thread pool has started in the parent (a forked
child can hang in its first parallel region). ``"spawn"`` workers start clean
(and it is the only method on Windows and the default on macOS); the cost is
one import of NumPy, Numba and fastopt per worker (Numba's on-disk cache spares
the compilation), and a script must keep its search under
``if __name__ == "__main__":`` since each worker re-imports it. ``"serial"`` runs in this process, any other
:class:`concurrent.futures.Executor` is used as given (and not shut down), and a
``dask.distributed.Client`` runs the trials on its cluster.
"""
import concurrent.futures
import concurrent.futures.process
import dataclasses
import inspect
import json
import math
import multiprocessing
import numbers
import os
import pickle
import sys
import time
import traceback
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from . import _threads

__all__ = ["Uniform", "LogUniform", "IntUniform", "Choice", "Trial", "SearchResult",
           "random_search", "sample_trials", "book_space", "book_objective", "BookObjective",
           "distribution_from_dict"]

MODES = ("max", "min")
ON_ERROR = ("record", "raise")


# ============================================================================ distributions

def _check_real(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _check_int(name, value, low=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def _check_order(low, high):
    if low > high:
        raise ValueError(f"low must be <= high, got low={low!r} > high={high!r}")


class Distribution:
    """Base class of the search-space distributions.

    A distribution draws one value with :meth:`sample` from a
    ``numpy.random.Generator``, shrinks to the range of some observed values
    with :meth:`narrow`, and round-trips through :meth:`to_dict` /
    :func:`distribution_from_dict`.
    """

    def sample(self, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def narrow(self, values: Iterable[Any]) -> "Distribution":  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> Dict[str, Any]:
        """``{"type": class name, **fields}``: JSON-able, read back by :func:`distribution_from_dict`."""
        return {"type": type(self).__name__, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    @staticmethod
    def _values(values):
        values = list(values)
        if not values:
            raise ValueError("values must hold at least one value to narrow to")
        return values


@dataclasses.dataclass(frozen=True)
class _Range(Distribution):
    """Base of the distributions on ``[low, high]``: checked bounds of one kind of number
    (``_kind``, float or int), and :meth:`narrow` to the range of the values."""
    low: float
    high: float

    _kind: ClassVar[type] = float

    def __post_init__(self):
        check = _check_int if self._kind is int else _check_real
        object.__setattr__(self, "low", check("low", self.low))
        object.__setattr__(self, "high", check("high", self.high))
        self._check_domain()
        _check_order(self.low, self.high)

    def _check_domain(self):
        """Refuse bounds outside the distribution's domain (before their order is checked)."""

    def narrow(self, values):
        """The same distribution on ``[min(values), max(values)]`` (a log-uniform one stays log)."""
        values = [self._kind(v) for v in self._values(values)]
        return type(self)(min(values), max(values))


@dataclasses.dataclass(frozen=True)
class Uniform(_Range):
    """Real values uniform on ``[low, high]``: ``rng.uniform(low, high)``.

    Parameters
    ----------
    low, high : float
        Finite bounds, ``low <= high`` (equal bounds give a constant).
    """

    def sample(self, rng):
        """One value as a Python float."""
        return float(rng.uniform(self.low, self.high))


@dataclasses.dataclass(frozen=True)
class LogUniform(_Range):
    """Positive values whose base-10 logarithm is uniform: the book's ``10 ** U(a, b)``.

    Sampled exactly as ``10.0 ** rng.uniform(log10(low), log10(high))`` (so
    ``LogUniform(1e-6, 1e-2)`` is the book's ``10 ** np.random.uniform(-6, -2)``;
    the bounds themselves are reached only up to rounding). Use
    :meth:`from_exponents` to give the exponents directly.

    Parameters
    ----------
    low, high : float
        Finite bounds, ``0 < low <= high``.
    """

    def _check_domain(self):
        if self.low <= 0:
            raise ValueError(f"low must be > 0 for a log-uniform distribution, got {self.low!r}")

    @classmethod
    def from_exponents(cls, low_exp: float, high_exp: float) -> "LogUniform":
        """``10 ** U(low_exp, high_exp)``, e.g. ``LogUniform.from_exponents(-6, -2)``."""
        low_exp, high_exp = _check_real("low_exp", low_exp), _check_real("high_exp", high_exp)
        return cls(10.0 ** low_exp, 10.0 ** high_exp)

    def sample(self, rng):
        """One value as a Python float."""
        return float(10.0 ** rng.uniform(math.log10(self.low), math.log10(self.high)))


@dataclasses.dataclass(frozen=True)
class IntUniform(_Range):
    """Integers uniform on ``low..high``, both included: ``rng.integers(low, high, endpoint=True)``.

    Parameters
    ----------
    low, high : int
        Bounds, ``low <= high``.
    """

    _kind = int

    def sample(self, rng):
        """One value as a Python int."""
        return int(rng.integers(self.low, self.high, endpoint=True))


@dataclasses.dataclass(frozen=True)
class Choice(Distribution):
    """One of ``options``, each equally likely: ``options[rng.integers(len(options))]``.

    Parameters
    ----------
    options : sequence
        At least one option (any picklable values; JSON-able ones for
        :meth:`SearchResult.to_json`). Stored as a tuple.
    """
    options: tuple

    def __post_init__(self):
        options = self.options
        if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
            raise TypeError(f"options must be a sequence of values, got {type(options).__name__}")
        options = tuple(options)
        if not options:
            raise ValueError("options must hold at least one value")
        object.__setattr__(self, "options", options)

    def sample(self, rng):
        """One of the options (the object itself)."""
        return self.options[int(rng.integers(len(self.options)))]

    def narrow(self, values):
        """A ``Choice`` of the options that occur in *values*, in their original order."""
        values = self._values(values)
        kept = tuple(o for o in self.options if any(_same(o, v) for v in values))
        if not kept:
            raise ValueError(f"none of the values {values!r} is one of the options {self.options!r}")
        return Choice(kept)

    def to_dict(self) -> Dict[str, Any]:
        return {"type": "Choice", "options": list(self.options)}


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:  # e.g. arrays: fall back to identity
        return a is b


_DISTRIBUTIONS = {cls.__name__: cls for cls in (Uniform, LogUniform, IntUniform, Choice)}


def distribution_from_dict(d: Dict[str, Any]) -> Distribution:
    """Rebuild a distribution from its :meth:`Distribution.to_dict` form."""
    if not isinstance(d, dict) or d.get("type") not in _DISTRIBUTIONS:
        raise ValueError(f"d must be a dict with 'type' one of {sorted(_DISTRIBUTIONS)}, got {d!r}")
    fields = {k: v for k, v in d.items() if k != "type"}
    return _DISTRIBUTIONS[d["type"]](**fields)


def _check_space(space):
    if not isinstance(space, dict) or not space:
        raise TypeError(f"space must be a non-empty dict name -> distribution, got {space!r}")
    for name, dist in space.items():
        if not isinstance(name, str):
            raise TypeError(f"space keys must be str parameter names, got {name!r}")
        if not isinstance(dist, Distribution):
            raise TypeError(f"space[{name!r}] must be a Uniform, LogUniform, IntUniform or Choice, "
                            f"got {type(dist).__name__}")
    return dict(space)


# ============================================================================ trials

def _trial_seeds(seed, index):
    """(param generator, training seed) of trial *index*: children of SeedSequence(seed, (index,))."""
    params_ss, train_ss = np.random.SeedSequence(seed, spawn_key=(index,)).spawn(2)
    return np.random.default_rng(params_ss), int(train_ss.generate_state(1, np.uint64)[0])


def sample_trials(space: Dict[str, Distribution], n_trials: int,
                  seed: int) -> List[Tuple[Dict[str, Any], int]]:
    """Draw every trial's parameters and seed up front.

    Trial ``i`` uses ``numpy.random.SeedSequence(seed, spawn_key=(i,))``
    (the ``i``-th child of ``SeedSequence(seed).spawn``), split in two: one
    child feeds a ``numpy.random.Generator`` that samples the parameters in
    the space's key order, the other gives the trial's training seed, a
    64-bit int. So trial ``i`` depends only on ``seed`` and ``i``.

    Parameters
    ----------
    space : dict of str to Distribution
    n_trials : int
        Number of trials, >= 1.
    seed : int
        Non-negative search seed.

    Returns
    -------
    list of (dict, int)
        ``(params, trial_seed)`` for trials ``0 .. n_trials - 1``.
    """
    space = _check_space(space)
    n_trials = _check_int("n_trials", n_trials, low=1)
    seed = _check_int("seed", seed, low=0)
    out = []
    for i in range(n_trials):
        rng, trial_seed = _trial_seeds(seed, i)
        out.append(({name: dist.sample(rng) for name, dist in space.items()}, trial_seed))
    return out


@dataclasses.dataclass
class Trial:
    """One evaluated set of hyperparameters.

    Attributes
    ----------
    index : int
        Position in the search (0-based); parameters depend only on it and the seed.
    params : dict
        The sampled hyperparameters.
    seed : int
        The trial's training seed, passed to the objective.
    score : float or None
        The objective's score (None if the trial raised).
    extra : dict
        Whatever else the objective returned besides ``"score"``.
    seconds : float
        Wall time of the objective call, measured where it ran.
    error : str or None
        ``"ExceptionType: message"`` if the objective raised, else None.
    traceback : str or None
        The formatted traceback of that exception.
    """
    index: int
    params: dict
    seed: int
    score: Optional[float] = None
    extra: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    error: Optional[str] = None
    traceback: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True if the objective returned a score."""
        return self.error is None

    def to_dict(self) -> Dict[str, Any]:
        """The trial as JSON-able values."""
        return _jsonable(dataclasses.asdict(self))


def _normalise_output(out):
    """objective output -> (score, extra)."""
    if isinstance(out, dict):
        if "score" not in out:
            raise TypeError(f"objective returned a dict without a 'score' key (keys: {sorted(out)})")
        extra = {k: v for k, v in out.items() if k != "score"}
        score = out["score"]
    else:
        score, extra = out, {}
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, (numbers.Real, np.ndarray)):
        raise TypeError(f"objective must return a real number or a dict with a real 'score', "
                        f"got {type(score).__name__}")
    score = np.asarray(score)
    if score.shape != ():
        raise TypeError(f"objective's score must be a scalar, got an array of shape {score.shape}")
    return float(score), extra


def _run_trial(objective, index, params, seed, isolate, catch):
    """Call the objective for one trial (runs in the worker). Returns a :class:`Trial`.

    ``isolate``: use one Numba thread (thread-local, restored afterwards)
    and, in a child process (a pool or Dask worker, never the user's own
    process), one BLAS thread from then on -- for workers that share the machine.
    """
    previous = None
    if isolate:
        if multiprocessing.parent_process() is not None:
            _limit_blas_threads()
        previous = _threads.get_num_threads()
        if previous != 1:
            _threads.set_kernel_threads(1)
    start = time.perf_counter()
    try:
        score, extra = _normalise_output(objective(dict(params), seed))
    except Exception as exc:
        if not catch:
            raise
        return Trial(index, dict(params), seed, None, {}, time.perf_counter() - start,
                     f"{type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        if previous not in (None, 1):
            _threads.set_kernel_threads(previous)
    return Trial(index, dict(params), seed, score, extra, time.perf_counter() - start)


_BLAS_LIMITED = False


def _limit_blas_threads():
    """One BLAS/OpenMP thread in this process (via threadpoolctl, when installed)."""
    global _BLAS_LIMITED
    if not _BLAS_LIMITED:
        _BLAS_LIMITED = True
        _threads._limit_blas(1)


def _worker_init():
    """Initializer of the default process pool: one Numba thread, one BLAS thread."""
    _limit_blas_threads()
    _threads.set_kernel_threads(1)


# ============================================================================ results

def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)


@dataclasses.dataclass
class SearchResult:
    """The trials of a :func:`random_search`, in index order, and what to do with them.

    Ranking uses ``mode`` (``"max"``: higher scores are better). Trials that
    raised and trials whose score is NaN are not ranked; ties keep index order.

    Attributes
    ----------
    trials : list of Trial
    space : dict of str to Distribution
    mode : {"max", "min"}
    seed : int
    """
    trials: list
    space: dict
    mode: str = "max"
    seed: int = 0

    @property
    def failed(self) -> List[Trial]:
        """Trials whose objective raised."""
        return [t for t in self.trials if not t.ok]

    def ranked(self) -> List[Trial]:
        """Successful trials with a non-NaN score, best first."""
        ok = [t for t in self.trials if t.ok and not math.isnan(t.score)]
        sign = -1.0 if self.mode == "max" else 1.0
        return sorted(ok, key=lambda t: (sign * t.score, t.index))

    def top(self, k: int) -> List[Trial]:
        """The *k* best trials, best first (fewer if fewer were ranked)."""
        k = _check_int("k", k, low=1)
        return self.ranked()[:k]

    @property
    def best(self) -> Trial:
        """The best trial. Raises RuntimeError if no trial gave a score."""
        ranked = self.ranked()
        if not ranked:
            hint = f"; first error: {self.failed[0].error}" if self.failed else ""
            raise RuntimeError(f"no trial gave a usable score ({len(self.trials)} trials{hint})")
        return ranked[0]

    def narrow(self, top_k: int) -> Dict[str, Distribution]:
        """A new space spanning the *top_k* best trials: the notes' "step 3".

        Each parameter's distribution keeps its kind and shrinks to the
        minimum and maximum value among the top-k trials (``LogUniform``
        stays log-uniform; a ``Choice`` keeps the options that occur).

        Parameters
        ----------
        top_k : int
            How many of the best trials to span, >= 1.

        Returns
        -------
        dict of str to Distribution
        """
        top_k = _check_int("top_k", top_k, low=1)
        top = self.top(top_k)
        if not top:
            raise ValueError("cannot narrow: no trial gave a usable score")
        return {name: dist.narrow([t.params[name] for t in top]) for name, dist in self.space.items()}

    def to_dict(self):
        """A JSON-able dict: seed, mode, space, the best index, every trial."""
        ranked = self.ranked()
        return {"seed": self.seed, "mode": self.mode,
                "space": {k: d.to_dict() for k, d in self.space.items()},
                "best_index": ranked[0].index if ranked else None,
                "trials": [t.to_dict() for t in self.trials]}

    def to_json(self, path: Optional[str] = None, indent: Optional[int] = 1) -> str:
        """The :meth:`to_dict` form as a JSON string; also written to *path* if given."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "SearchResult":
        """Rebuild a result from :meth:`to_dict` (extras come back as JSON types)."""
        trials = [Trial(**t) for t in d["trials"]]
        space = {k: distribution_from_dict(v) for k, v in d["space"].items()}
        return cls(trials, space, d["mode"], d["seed"])

    @classmethod
    def from_json(cls, text_or_path: str) -> "SearchResult":
        """Rebuild from :meth:`to_json` output, given as the text or a file path."""
        text = text_or_path
        if not str(text_or_path).lstrip().startswith("{"):
            with open(text_or_path) as fh:
                text = fh.read()
        return cls.from_dict(json.loads(text))

    def __repr__(self):
        head = f"SearchResult({len(self.trials)} trials, {len(self.failed)} failed, mode={self.mode!r}"
        ranked = self.ranked()
        if ranked:
            head += f", best score {ranked[0].score:.6g} at {ranked[0].params}"
        return head + ")"


# ============================================================================ the search

def _is_dask_client(obj):
    return (type(obj).__module__.split(".")[0] == "distributed"
            and hasattr(obj, "get_executor") and hasattr(obj, "gather"))


def _check_objective(objective):
    if not callable(objective):
        raise TypeError(f"objective must be callable as objective(params, seed), "
                        f"got {type(objective).__name__}")
    try:
        sig = inspect.signature(objective)
    except (TypeError, ValueError):  # some builtins have no signature
        return
    try:
        sig.bind({}, 0)
    except TypeError:
        raise TypeError(f"objective must accept two positional arguments, objective(params, seed); "
                        f"{objective!r} has the signature {sig}") from None


def random_search(space: Dict[str, Distribution], objective: Callable[[Dict[str, Any], int], Any],
                  n_trials: int, seed: int = 0, *, executor: Any = None, mode: str = "max",
                  on_error: str = "record", n_workers: Optional[int] = None,
                  mp_context: str = "spawn", progress: Optional[bool] = None) -> "SearchResult":
    """Random search over *space*: draw *n_trials* parameter sets, evaluate them in parallel.

    Parameters
    ----------
    space : dict of str to Distribution
        Parameter name -> :class:`Uniform`, :class:`LogUniform`,
        :class:`IntUniform` or :class:`Choice`.
    objective : callable
        ``objective(params, seed) -> score`` where ``params`` is a dict of
        sampled values and ``seed`` the trial's 64-bit training seed (draw
        every random choice of the trial from it, e.g.
        ``numpy.random.default_rng(seed)``). It returns a real score, or a
        dict with a ``"score"`` key and any other (picklable, ideally
        JSON-able) metrics, kept in :attr:`Trial.extra`. To run in processes
        it must be picklable: a module-level function, a
        ``functools.partial`` of one, or an instance of a module-level class
        (such as :class:`BookObjective`); Dask pickles with cloudpickle and
        also takes lambdas and closures.
    n_trials : int
        Number of trials, >= 1.
    seed : int, default 0
        Non-negative seed; see :func:`sample_trials` for how trials derive from it.
    executor : None, "serial", "processes", concurrent.futures.Executor or dask.distributed.Client
        Where trials run. ``None``/``"processes"``: a new ``ProcessPoolExecutor``
        of ``n_workers`` processes (one Numba and one BLAS thread each; the
        pool is shut down at the end). ``"serial"``: one after another in
        this process. An ``Executor`` (``ThreadPoolExecutor``,
        ``ProcessPoolExecutor``, ``client.get_executor()``, ...) is used as
        given and left running. A ``dask.distributed.Client`` runs each trial
        as a task on its cluster (``client.get_executor(pure=False)``).
        Except for ``"serial"``, each trial runs with one Numba thread (and
        in processes one BLAS thread), since the trials themselves fill the cores.
    mode : {"max", "min"}, default "max"
        Whether higher or lower scores are better.
    on_error : {"record", "raise"}, default "record"
        ``"record"``: a trial whose objective raises is kept with its
        ``error`` and ``traceback`` and the search goes on. ``"raise"``: the
        first failure cancels the trials not yet started and is re-raised.
    n_workers : int, optional
        Processes of the default pool; default ``min(n_trials, os.cpu_count())``.
    mp_context : str or multiprocessing context, default "spawn"
        Start method of the default pool. ``"fork"`` is unsafe once Numba's
        OpenMP threads have run in this process; ``"forkserver"`` is safe on POSIX.
    progress : bool, optional
        A tqdm bar over the trials. Default: only when stderr is a terminal,
        and only once the search has taken more than a second.

    Returns
    -------
    SearchResult
        Trials in index order; identical params, seeds, scores and extras
        whatever the executor (only ``seconds`` differs).

    Raises
    ------
    TypeError, ValueError
        For a bad argument (the message names it), or an objective that
        cannot be pickled for a process pool.
    Exception
        With ``on_error="raise"``, the first exception an objective raised.
    """
    space = _check_space(space)
    _check_objective(objective)
    n_trials = _check_int("n_trials", n_trials, low=1)
    seed = _check_int("seed", seed, low=0)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    if n_workers is not None:
        n_workers = _check_int("n_workers", n_workers, low=1)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")

    draws = sample_trials(space, n_trials, seed)
    catch = on_error == "record"
    trials = [None] * n_trials
    bar = _progress_bar(n_trials, progress)
    try:
        if isinstance(executor, str) and executor == "serial":
            for i, (params, trial_seed) in enumerate(draws):
                trials[i] = _run_trial(objective, i, params, trial_seed, False, catch)
                _advance(bar, trials[i], trials, mode)
        else:
            own = None
            if executor is None or (isinstance(executor, str) and executor == "processes"):
                _check_picklable(objective)
                ctx = multiprocessing.get_context(mp_context) if isinstance(mp_context, str) else mp_context
                workers = n_workers or min(n_trials, os.cpu_count() or 1)
                executor = own = concurrent.futures.ProcessPoolExecutor(
                    workers, mp_context=ctx, initializer=_worker_init)
            elif _is_dask_client(executor):
                executor = executor.get_executor(pure=False)
            elif isinstance(executor, concurrent.futures.ProcessPoolExecutor):
                _check_picklable(objective)
            elif not isinstance(executor, concurrent.futures.Executor):
                raise TypeError("executor must be None, 'serial', 'processes', a "
                                "concurrent.futures.Executor or a dask.distributed.Client, "
                                f"got {executor!r}")
            try:
                _run_parallel(executor, objective, draws, catch, trials, bar, mode)
            finally:
                if own is not None:
                    own.shutdown(wait=True, cancel_futures=True)
    finally:
        if bar is not None:
            bar.close()
    return SearchResult(trials, space, mode, seed)


def _run_parallel(executor, objective, draws, catch, trials, bar, mode):
    futures = {executor.submit(_run_trial, objective, i, params, trial_seed, True, catch): i
               for i, (params, trial_seed) in enumerate(draws)}
    try:
        for future in concurrent.futures.as_completed(futures):
            try:
                trial = future.result()  # with catch=False an objective's exception surfaces here
            except concurrent.futures.process.BrokenProcessPool as exc:
                raise concurrent.futures.process.BrokenProcessPool(
                    f"{exc} With the 'spawn' start method each worker re-imports your main "
                    "script: put the search under `if __name__ == \"__main__\":`.") from exc
            trials[trial.index] = trial
            _advance(bar, trial, trials, mode)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _check_picklable(objective):
    try:
        pickle.dumps(objective)
    except Exception as exc:
        raise TypeError(
            f"objective must be picklable to run in a process pool ({type(exc).__name__}: {exc}); "
            "use a module-level function, a functools.partial of one, or an instance of a "
            "module-level class -- or executor='serial', a ThreadPoolExecutor, or a Dask client "
            "(which pickles closures too)") from None


def _progress_bar(total, progress):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="trial", desc="search", leave=False,
                delay=0.0 if progress else 1.0)


def _advance(bar, trial, trials, mode):
    if bar is None:
        return
    bar.update(1)
    scores = [t.score for t in trials if t is not None and t.ok and not math.isnan(t.score)]
    if scores:
        bar.set_postfix(best=f"{(max if mode == 'max' else min)(scores):.4g}", refresh=False)


# ============================================================================ the book's experiment

def book_space() -> Dict[str, Distribution]:
    """The book's search space: ``lr = 10**U(-6, -2)``, ``weight_decay = 10**U(-8, -4)``."""
    return {"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)}


@dataclasses.dataclass
class BookObjective:
    """The book's trial (``ch06/hyperparameter_optimization.py``) as a picklable objective.

    ``objective(params, seed)`` builds a fresh
    ``fastopt.book.MultiLayerNet(n_features, hidden_size_list, n_classes,
    weight_decay_lambda=params.get("weight_decay", 0))`` (ReLU, He init),
    trains it with the book's ``SGD(lr=params["lr"])`` for ``epochs``
    epochs of ``ceil(N / batch_size)`` mini-batches drawn with replacement
    (the book's sampling), and returns the final validation accuracy as
    ``"score"`` with the per-epoch ``"val_acc"`` and ``"train_acc"`` curves.
    The weights and the batches come from two children of
    ``SeedSequence(seed)``, so a trial is a pure function of (params, seed).

    Build it with :func:`book_objective`. The data arrays travel with the
    object to each worker (500 digits: about 130 kB).

    Attributes
    ----------
    x_train, t_train, x_val, t_val : numpy.ndarray
        Training and validation data (labels as class indices or one-hot).
    hidden_size_list : tuple of int
        Default ``(100,) * 6``, the book's 7-layer network.
    epochs : int
        Default 50 (the book).
    batch_size : int
        Default 100 (the book).
    """
    x_train: Any
    t_train: Any
    x_val: Any
    t_val: Any
    hidden_size_list: tuple = (100,) * 6
    epochs: int = 50
    batch_size: int = 100

    def __post_init__(self):
        self.hidden_size_list = tuple(_check_int("hidden_size_list[]", h, low=1)
                                      for h in self.hidden_size_list)
        self.epochs = _check_int("epochs", self.epochs, low=1)
        self.batch_size = _check_int("batch_size", self.batch_size, low=1)

    @property
    def n_classes(self) -> int:
        t = np.asarray(self.t_train)
        return int(t.shape[1]) if t.ndim == 2 else int(max(t.max(), np.asarray(self.t_val).max())) + 1

    def __call__(self, params: Dict[str, Any], seed: int) -> Dict[str, Any]:
        from .book import SGD, MultiLayerNet
        from .train import Trainer

        unknown = set(params) - {"lr", "weight_decay"}
        if "lr" not in params or unknown:
            raise ValueError(f"params must hold 'lr' and optionally 'weight_decay', got {sorted(params)}")
        weights_ss, batches_ss = np.random.SeedSequence(seed).spawn(2)
        network = MultiLayerNet(int(np.prod(self.x_train.shape[1:])), list(self.hidden_size_list),
                                self.n_classes,
                                weight_decay_lambda=float(params.get("weight_decay", 0.0)),
                                seed=np.random.default_rng(weights_ss))
        trainer = Trainer(network, SGD(lr=float(params["lr"])), self.x_train, self.t_train,
                          self.x_val, self.t_val, epochs=self.epochs, batch_size=self.batch_size,
                          sampling="replacement", seed=np.random.default_rng(batches_ss), progress=False)
        history = trainer.fit()
        return {"score": history["val_acc"][-1], "val_acc": list(history["val_acc"]),
                "train_acc": list(history["train_acc"])}


def book_objective(x: np.ndarray, t: np.ndarray, *, n_samples: int = 500, val_fraction: float = 0.2,
                   split_seed: int = 0, epochs: int = 50, batch_size: int = 100,
                   hidden_size_list: Sequence[int] = (100,) * 6) -> "BookObjective":
    """The book's search objective on the first *n_samples* of ``(x, t)``.

    As in ``ch06/hyperparameter_optimization.py``: take the first 500
    training samples, shuffle them and hold out the first 20% for
    validation (:func:`fastopt.data.train_val_split`); the test set is never
    touched.

    Parameters
    ----------
    x, t : numpy.ndarray
        Training inputs and labels (e.g. ``fastopt.data.load_digits()[0]``).
    n_samples : int, default 500
        How many leading samples to use (all of them if fewer).
    val_fraction : float, default 0.2
        Validation share, passed to :func:`~fastopt.data.train_val_split`.
    split_seed : int, default 0
        Seed of the shuffle before the split.
    epochs, batch_size, hidden_size_list
        See :class:`BookObjective` (the book: 50, 100, six layers of 100).

    Returns
    -------
    BookObjective
    """
    from .data import train_val_split

    n_samples = _check_int("n_samples", n_samples, low=2)
    (x_tr, t_tr), (x_val, t_val) = train_val_split(x[:n_samples], t[:n_samples],
                                                   val_fraction=val_fraction, seed=split_seed)
    return BookObjective(x_tr, t_tr, x_val, t_val, tuple(hidden_size_list), epochs, batch_size)
