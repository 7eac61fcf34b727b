"""fastopt.sklearn.MLPClassifier against scikit-learn's: fit time to the same test accuracy.

Both estimators train epoch by epoch (``partial_fit``, scikit-learn's own epoch
semantics in both) from the same initial weights (the global NumPy seed, drawn in
scikit-learn's order), and the clock stops after the first epoch whose test accuracy
reaches the dataset's target; evaluation is not timed. One thread for everything
(fastopt's kernels and the BLAS). Cases (``size``):

``digits``
    scikit-learn's 8x8 digits (1347 train / 450 test, X/16), hidden (100,), Adam,
    target 0.97 (``MLPClassifier``'s default settings reach 0.97-0.98).
``50k``
    ``make_classification(n_samples=50_000, n_features=100, n_informative=40,
    n_classes=10)`` (40k train / 10k test, standardised), hidden (256, 128), Adam,
    target 0.85.

``impl``: ``fastopt`` (float32, the default), ``fastopt-f64``, ``sklearn`` (float64
data, the usual case) and ``sklearn-f32`` (float32 data: scikit-learn then computes
in float32 too). ``track_fit_seconds``, ``track_epochs`` and ``track_test_accuracy``
report one run (measured once per process in ``setup``).

Run it without asv for the table of ratios (one run per case, each printed as it ends)::

    python benchmarks/benchmarks/bench_sklearn.py            # digits and 50k
    python benchmarks/benchmarks/bench_sklearn.py digits
"""
import time
import types
import warnings

import numpy as np

import fastopt

SEED = 0
DATASETS = {
    "digits": dict(hidden=(100,), target=0.97, max_epochs=300, batch_size="auto"),
    "50k": dict(hidden=(256, 128), target=0.85, max_epochs=100, batch_size="auto"),
}
IMPLS = ["fastopt", "fastopt-f64", "sklearn", "sklearn-f32"]
_RESULTS = {}
_DATA = {}


def load(size):
    """(X_train, X_test, y_train, y_test) of a case, float64."""
    if size not in _DATA:
        from sklearn.datasets import load_digits, make_classification
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        if size == "digits":
            X, y = load_digits(return_X_y=True)
            X = X / 16.0
            split = train_test_split(X, y, test_size=0.25, random_state=0)
        else:
            X, y = make_classification(n_samples=50_000, n_features=100, n_informative=40,
                                       n_classes=10, random_state=0)
            Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
            scaler = StandardScaler().fit(Xtr)
            split = [scaler.transform(Xtr), scaler.transform(Xte), ytr, yte]
        _DATA[size] = split
    return _DATA[size]


def _estimator(impl, size):
    spec = DATASETS[size]
    kw = dict(hidden_layer_sizes=spec["hidden"], batch_size=spec["batch_size"], random_state=None)
    if impl.startswith("fastopt"):
        from fastopt.sklearn import MLPClassifier

        return MLPClassifier(dtype=np.float64 if impl == "fastopt-f64" else np.float32, **kw)
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**kw)


def time_to_accuracy(impl, size, seed=SEED):
    """Seconds of ``partial_fit`` until the test accuracy reaches the case's target.

    Returns a dict: seconds, epochs, accuracy (the last epoch's), reached (bool).
    """
    spec = DATASETS[size]
    Xtr, Xte, ytr, yte = load(size)
    if impl in ("fastopt", "sklearn-f32"):
        Xtr, Xte = Xtr.astype(np.float32), Xte.astype(np.float32)
    classes = np.unique(ytr)
    est = _estimator(impl, size)
    np.random.seed(seed)  # random_state=None: both draw from the global generator, same order
    seconds, acc, epochs = 0.0, 0.0, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while epochs < spec["max_epochs"]:
            start = time.perf_counter()
            est.partial_fit(Xtr, ytr, classes=classes)
            seconds += time.perf_counter() - start
            epochs += 1
            acc = float(est.score(Xte, yte))
            if acc >= spec["target"]:
                break
    return {"seconds": seconds, "epochs": epochs, "accuracy": acc, "reached": acc >= spec["target"]}


class _Size:
    def __init__(self, label, elements):
        self.label, self.elements = label, elements


class FitToAccuracy:
    """Fit time to the case's target test accuracy, per implementation, one thread."""

    params = [list(DATASETS), IMPLS]
    param_names = ["size", "impl"]
    # the sizes of the cases (a benchmark runner takes the smallest for a smoke run)
    case = types.SimpleNamespace(sizes=[_Size("digits", 1347 * 64), _Size("50k", 40_000 * 100)])
    timeout = 900
    unit = "seconds"

    def setup(self, size, impl):
        from threadpoolctl import threadpool_limits

        self._threads = fastopt.get_num_threads()
        self._blas = threadpool_limits(limits=1, user_api="blas")
        fastopt._threads.set_kernel_threads(1)
        if impl.startswith("fastopt"):  # compile (or load) the kernels outside the clock
            Xtr, _, ytr, _ = load("digits")
            _estimator(impl, "digits").set_params(max_iter=1).partial_fit(
                Xtr[:64], ytr[:64], classes=np.unique(ytr))
        key = (size, impl)
        if key not in _RESULTS:
            _RESULTS[key] = time_to_accuracy(impl, size)
        self.result = _RESULTS[key]

    def teardown(self, size, impl):
        fastopt._threads.set_kernel_threads(self._threads)
        self._blas.restore_original_limits()

    def track_fit_seconds(self, size, impl):
        return self.result["seconds"]

    def track_epochs(self, size, impl):
        return self.result["epochs"]

    def track_test_accuracy(self, size, impl):
        return self.result["accuracy"]


def main(sizes=None, impls=IMPLS, repeat=1):
    """Print seconds / epochs / accuracy per case and the ratio to scikit-learn's."""
    bench = FitToAccuracy()
    for size in sizes or list(DATASETS):
        rows = {}
        for impl in impls:
            runs = []
            for r in range(repeat):
                bench.setup(size, impl)
                try:
                    _RESULTS.pop((size, impl), None)
                    runs.append(time_to_accuracy(impl, size, seed=SEED + r))
                finally:
                    bench.teardown(size, impl)
            rows[impl] = runs
            best = min(run["seconds"] for run in runs)
            print(f"{size:7s} {impl:12s} {best:8.3f} s  epochs {[x['epochs'] for x in runs]}  "
                  f"acc {[round(x['accuracy'], 4) for x in runs]}"
                  + ("" if all(x["reached"] for x in runs) else "  (target not reached)"),
                  flush=True)
        if "sklearn" in rows:
            ref = min(x["seconds"] for x in rows["sklearn"])
            for impl, runs in rows.items():
                print(f"{size:7s} sklearn / {impl}: {ref / min(x['seconds'] for x in runs):.2f}x")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or None)
