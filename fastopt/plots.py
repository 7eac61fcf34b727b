"""Figures (matplotlib, an optional extra: ``pip install "fastopt[plot]"``)."""


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, or a clear ImportError."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "fastopt[plot]"') from exc
    return plt


def smooth_curve(x):
    """The book's loss smoothing: an 11-tap Kaiser window (β = 2) with mirrored ends."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    if x.size < 11:
        return x
    window_len = 11
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[5:len(y) - 5]


def plot_history(history, filename, title=None):
    """Loss per iteration (raw and smoothed) and accuracy per epoch, side by side."""
    import numpy as np

    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
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
    ax_acc.legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(filename, dpi=100)
    plt.close(fig)
