"""Figures (matplotlib, an optional extra: ``pip install "fastopt[plot]"``).

Every figure fastopt draws is a :class:`matplotlib.figure.Figure` of its own, rendered
by the Agg canvas and never registered with :mod:`matplotlib.pyplot`: fastopt does not
select, switch or use the caller's backend, so ``plt.show()`` in a notebook or a GUI
session keeps working as before.
"""
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

if TYPE_CHECKING:  # annotations only: matplotlib and NumPy load when a figure is drawn
    import numpy
    from matplotlib.figure import Figure


def figure(**kwargs: Any) -> "Figure":
    """A new Figure drawn by the Agg canvas, not attached to pyplot.

    Parameters
    ----------
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (``figsize``, ``dpi``, ...).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig(...)``; it needs no ``plt.close``.

    Raises
    ------
    ImportError
        When matplotlib is not installed (the message says how to install it).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "fastopt[plot]"') from exc
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def pyplot() -> Any:
    """:mod:`matplotlib.pyplot`, or an ImportError that says how to install matplotlib.

    The backend is left as the caller (or matplotlib) chose it. fastopt's own figures
    do not use pyplot: see :func:`figure`.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "fastopt[plot]"') from exc
    return plt


def smooth_curve(x: "Sequence[float] | numpy.ndarray") -> "numpy.ndarray":
    """The book's loss smoothing: an 11-tap Kaiser window (β = 2) with mirrored ends.

    Parameters
    ----------
    x : array_like
        A loss curve; curves shorter than 11 points are returned as they are.

    Returns
    -------
    numpy.ndarray
        The smoothed curve (float64, same length).
    """
    import numpy as np

    a = np.asarray(x, dtype=np.float64)
    if a.size < 11:
        return a
    window_len = 11
    s = np.r_[a[window_len - 1:0:-1], a, a[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def plain_log_ticks(axis: Any, values: Sequence[float]) -> None:
    """Label a log-scaled axis at *values* in plain numbers (``2, 5, 10``), no minor labels.

    Matplotlib's default log labels read ``2×10⁰`` and, on short ranges, print the
    minor labels on top of each other.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis`` of a log-scaled axes.
    values : sequence of float
        Where the labelled ticks go (usually the data's own x values).
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ticks = sorted(set(float(v) for v in values))
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def plot_history(history: Dict[str, Any], filename: str, title: Optional[str] = None) -> None:
    """Loss per iteration (raw and smoothed) and accuracy per epoch, side by side.

    Parameters
    ----------
    history : dict
        ``{"loss": [...], "train_acc": [...], "val_acc": [...]}`` as
        :meth:`fastopt.train.Trainer.fit` returns it (``val_acc`` may be empty).
    filename : str
        Where to write the image (the format follows the extension).
    title : str, optional
        A title over both panels.
    """
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    fig = figure(figsize=(10, 3.6))
    ax_loss, ax_acc = fig.subplots(1, 2)
    loss = np.asarray(history["loss"])
    ax_loss.plot(loss, color="0.8", linewidth=0.8, label="batch loss")
    ax_loss.plot(smooth_curve(loss), color="C0", label="smoothed")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    epochs = np.arange(1, len(history["train_acc"]) + 1)
    ax_acc.plot(epochs, history["train_acc"], marker="o", markersize=3, label="train")
    if history.get("val_acc"):
        ax_acc.plot(epochs, history["val_acc"], marker="s", markersize=3, label="test")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
