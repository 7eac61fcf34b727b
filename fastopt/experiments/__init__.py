"""The chapter's experiments, one command each: ``fastopt run <name>``.

Every experiment is a module of this package that defines one function decorated
with :func:`experiment`. The function takes :class:`Settings` and returns a
:class:`Result`: every number the figure shows (JSON-able), a function that draws
the figure, and a few summary lines. :func:`run` writes ``<name>.json`` and
``<name>.png`` into ``settings.out`` and prints the summary; the command line is a
thin wrapper around it. Modules are discovered by name, so adding an experiment
means adding one module here.

>>> from fastopt import experiments
>>> experiments.available()            # {name: summary}
>>> experiments.run("optimizer-paths", experiments.Settings(quick=True, out="out"))
"""
import dataclasses
import importlib
import json
import os
import pkgutil
from typing import Any, Callable, Dict, List, Optional, Tuple

_REGISTRY: Dict[str, "Experiment"] = {}


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to run an experiment.

    Parameters
    ----------
    quick : bool
        Small settings that finish in seconds (for CI); otherwise the book's settings.
    seed : int
        Seeds every random choice (initial weights, batches, masks, trials).
    out : str
        Folder for ``<name>.json`` and ``<name>.png`` (created if missing).
    data : {"digits", "mnist"}
        The bundled scikit-learn digits, or MNIST read from ``mnist_dir``.
    mnist_dir : str, optional
        Folder with the four MNIST IDX ``.gz`` files (needed when ``data="mnist"``).
    progress : bool or None
        Progress bars: on, off, or (None) only on a terminal.
    """
    quick: bool = False
    seed: int = 0
    out: str = "fastopt-out"
    data: str = "digits"
    mnist_dir: Optional[str] = None
    progress: Optional[bool] = None

    def __post_init__(self):
        if self.data not in ("digits", "mnist"):
            raise ValueError(f"data must be 'digits' or 'mnist', got {self.data!r}")
        if self.data == "mnist" and not self.mnist_dir:
            raise ValueError("data='mnist' needs mnist_dir (the folder with the four IDX files)")

    def load_data(self, one_hot_label: bool = False) -> Tuple[Tuple[Any, Any], Tuple[Any, Any]]:
        """``(x_train, t_train), (x_test, t_test)`` of the chosen data set, float32, normalised."""
        from .. import data

        if self.data == "mnist":
            return data.load_mnist(self.mnist_dir, one_hot_label=one_hot_label)
        return data.load_digits(one_hot_label=one_hot_label, seed=self.seed)


@dataclasses.dataclass
class Result:
    """What an experiment returns.

    Parameters
    ----------
    data : dict
        Every number the figure shows, JSON-able (lists, floats, str keys).
    draw : callable
        ``draw(fig)`` draws the figure onto an empty matplotlib ``Figure``.
    summary : list of str
        A few lines printed after the run (the finding, in numbers).
    """
    data: Dict[str, Any]
    draw: Callable[[Any], None]
    summary: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, one-line summary and ``function(settings) -> Result``."""
    name: str
    summary: str
    function: Callable[[Settings], Result]


def experiment(name: str, summary: str) -> Callable[[Callable[[Settings], Result]],
                                                  Callable[[Settings], Result]]:
    """Register the decorated ``function(settings) -> Result`` as experiment *name*."""
    def register(function: Callable[[Settings], Result]) -> Callable[[Settings], Result]:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = Experiment(name, summary, function)
        return function
    return register


def _discover() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def available() -> Dict[str, str]:
    """``{name: one-line summary}`` of every experiment."""
    _discover()
    return {name: exp.summary for name, exp in sorted(_REGISTRY.items())}


def get(name: str) -> Experiment:
    """The :class:`Experiment` called *name* (``ValueError`` naming the choices if unknown)."""
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def run(name: str, settings: Optional[Settings] = None, *,
        echo: Callable[[str], Any] = print) -> Result:
    """Run experiment *name*; write ``<name>.json`` and ``<name>.png``; return the Result.

    The JSON holds ``result.data`` plus ``"experiment"`` and ``"settings"``. The PNG
    needs matplotlib; without it the JSON is still written and a line says why
    there is no figure.
    """
    settings = settings or Settings()
    exp = get(name)
    result = exp.function(settings)
    os.makedirs(settings.out, exist_ok=True)
    stem = os.path.join(settings.out, name)
    record = {"experiment": name, "settings": dataclasses.asdict(settings), **result.data}
    with open(stem + ".json", "w") as fh:
        json.dump(record, fh, indent=1)
    for line in result.summary:
        echo(line)
    echo(f"wrote {stem}.json")
    try:
        _save_figure(result, stem + ".png")
        echo(f"wrote {stem}.png")
    except ImportError as exc:
        echo(f"no figure: {exc}")
    return result


def _save_figure(result: Result, filename: str) -> None:
    from ..plots import figure

    fig = figure(figsize=(8, 6))  # not attached to pyplot: the caller's backend is untouched
    result.draw(fig)
    fig.savefig(filename, dpi=100, bbox_inches="tight")
