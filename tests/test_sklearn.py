"""fastopt.sklearn: scikit-learn's estimator checks, parity with scikit-learn's MLP,
and the places estimators go (Pipeline, GridSearchCV, cross_val_score, clone, pickle,
joblib's Dask backend on a LocalCluster)."""
import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastopt.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(max_iter=100, random_state=0),
                          MLPRegressor(max_iter=100, random_state=0)],
                         expected_failed_checks=lambda est: est._expected_failed_checks())
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_expected_failures_are_listed_with_reasons():
    for est in (MLPClassifier(), MLPRegressor()):
        fails = est._expected_failed_checks()
        assert fails and all(isinstance(r, str) and len(r) > 20 for r in fails.values())
        assert est._more_tags()["_xfail_checks"] == fails


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def _small_classification(n_classes=3, n=120, seed=0):
    return make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=n_classes,
                               random_state=seed)


# ---------------------------------------------------------------------- parity with scikit-learn
PARITY = [
    ("adam", {}),
    ("sgd-nesterov-invscaling", dict(solver="sgd", learning_rate="invscaling", power_t=0.25,
                                     learning_rate_init=0.1)),
    ("sgd-momentum-adaptive", dict(solver="sgd", nesterovs_momentum=False, learning_rate="adaptive",
                                   learning_rate_init=0.05, n_iter_no_change=2, tol=1e-2)),
    ("sgd-plain", dict(solver="sgd", momentum=0.0, learning_rate_init=0.1)),
    ("early-stopping", dict(early_stopping=True, n_iter_no_change=3, validation_fraction=0.2)),
    ("tanh-alpha-batch", dict(activation="tanh", alpha=0.01, batch_size=32, shuffle=False)),
    ("logistic-identity", dict(activation="logistic", hidden_layer_sizes=(6, 5))),
]


@pytest.mark.parametrize("name,kw", PARITY, ids=[p[0] for p in PARITY])
def test_float64_follows_sklearn(name, kw):
    """Same data, same settings, float64: scikit-learn's loss curve, weights and predictions."""
    X, y = _small_classification()
    kw = {"hidden_layer_sizes": (10,), "max_iter": 30, "random_state": 3, **kw}
    ours = MLPClassifier(dtype=np.float64, **kw).fit(X, y)
    ref = sk_nn.MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == ref.n_iter_ and ours.t_ == ref.t_
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-9)
    if ref.validation_scores_ is not None:
        assert ours.validation_scores_ == ref.validation_scores_
        assert ours.best_validation_score_ == ref.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(ref.best_loss_, rel=1e-9)


@pytest.mark.parametrize("target", ["binary", "multilabel", "regression", "multioutput",
                                    "poisson", "sample_weight"])
def test_float64_follows_sklearn_targets(target):
    X, y = _small_classification(n_classes=2)
    kw = dict(hidden_layer_sizes=(7,), max_iter=15, random_state=1)
    fit_kw = {}
    if target == "multilabel":
        y = np.stack([y, (X[:, 0] > 0).astype(int), (X[:, 1] > 0.5).astype(int)], axis=1)
    if target == "sample_weight":
        fit_kw["sample_weight"] = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    if target in ("binary", "multilabel", "sample_weight"):
        ours, ref = MLPClassifier(dtype=np.float64, **kw), sk_nn.MLPClassifier(**kw)
    else:
        X, y = make_regression(n_samples=80, n_features=6, n_targets=1 if target != "multioutput" else 3,
                               random_state=0)
        y = y / 100
        if target == "poisson":
            y = np.abs(y)
            kw["loss"] = "poisson"
        ours, ref = MLPRegressor(dtype=np.float64, **kw), sk_nn.MLPRegressor(**kw)
    ours.fit(X, y, **fit_kw)
    ref.fit(X, y, **fit_kw)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7, atol=1e-9)
    assert ours.out_activation_ == ref.out_activation_
    assert ours.n_outputs_ == ref.n_outputs_ and ours.n_layers_ == ref.n_layers_
    if hasattr(ref, "classes_"):
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
        np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-7, atol=1e-9)


def test_partial_fit_follows_sklearn():
    X, y = _small_classification()
    ours = MLPClassifier(hidden_layer_sizes=(8,), random_state=0, dtype=np.float64)
    ref = sk_nn.MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(5):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        ref.partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == ref.n_iter_ == 1 and ours.t_ == ref.t_


def test_digits_accuracy_within_noise_of_sklearn(digits):
    """Default settings (float32), several seeds: mean test accuracy within noise of sklearn's."""
    Xtr, Xte, ytr, yte = digits
    ours, ref = [], []
    for seed in range(3):
        kw = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=seed)
        ours.append(MLPClassifier(**kw).fit(Xtr, ytr).score(Xte, yte))
        ref.append(sk_nn.MLPClassifier(**kw).fit(Xtr, ytr).score(Xte, yte))
    assert min(ours) > 0.94
    assert abs(np.mean(ours) - np.mean(ref)) < 0.01, (ours, ref)


def test_fastopt_options_train(digits):
    Xtr, Xte, ytr, yte = digits
    for kw in (dict(batchnorm=True, dropout=0.1), dict(optimizer="adamw",
                                                       optimizer_params={"weight_decay": 1e-3}),
               dict(optimizer="rmsprop", learning_rate="adaptive"),
               dict(weight_init="he_normal", n_threads=1)):
        clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, learning_rate_init=0.01,
                            random_state=0, **kw)
        assert clf.fit(Xtr, ytr).score(Xte, yte) > 0.93, kw
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, batchnorm=True,
                        dropout=0.2).fit(Xtr, ytr)
    assert clf.coefs_[0].dtype == np.float32
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))
    clf.partial_fit(Xtr, ytr)  # the optimizer, batch-norm statistics and dropout stream travel
    again.partial_fit(Xtr, ytr)
    np.testing.assert_array_equal(again.predict_proba(Xte), clf.predict_proba(Xte))


def test_lbfgs_and_bad_settings_raise_clearly():
    X, y = _small_classification()
    with pytest.raises(ValueError, match="lbfgs.*'adam' or 'sgd'"):
        MLPClassifier(solver="lbfgs").fit(X, y)
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")  # as scikit-learn's
    with pytest.raises(ValueError, match="dtype"):
        MLPClassifier(dtype=np.int32).fit(X, y)
    with pytest.raises(ValueError, match="optimizer"):
        MLPClassifier(optimizer="adabelief").fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="layer sizes"):
        clf.set_params(hidden_layer_sizes=(5,)).fit(X, y)


def test_coefs_are_live_and_assignable():
    X, y = _small_classification()
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0).fit(X, y)
    assert np.shares_memory(clf.coefs_[0], clf._network.params.buffers[np.dtype(np.float32)])
    clf.coefs_[1] = np.zeros_like(clf.coefs_[1])   # as a user of sklearn's estimator might
    clf.intercepts_[1] = np.array([0.0, 5.0, 0.0], np.float32)
    assert (clf.predict(X) == 1).all()


def test_pipeline_grid_search_cross_val_clone():
    X, y = _small_classification(n=150)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=60,
                                                         learning_rate_init=0.01, random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.6
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2],
                               "mlpclassifier__solver": ["adam", "sgd"]}, cv=2, n_jobs=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.6 and len(grid.cv_results_["params"]) == 4
    est = MLPClassifier(hidden_layer_sizes=(3,), optimizer="nadam", batchnorm=True)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and not hasattr(twin, "coefs_")


def test_dask_backend_on_local_cluster():
    """GridSearchCV spread by joblib's Dask backend over a real two-worker LocalCluster."""
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = _small_classification(n=90)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        grid = GridSearchCV(MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0),
                            {"alpha": [1e-4, 1e-1]}, cv=2)
        with joblib.parallel_backend("dask"):
            grid.fit(X, y)
        assert len(client.scheduler_info()["workers"]) == 2
    local = GridSearchCV(MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0),
                         {"alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])


def test_convergence_warning_and_verbose(capsys):
    X, y = _small_classification()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True).fit(X, y)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert "Iteration 2, loss = " in capsys.readouterr().out


def test_feature_names_in_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _small_classification()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(frame, y)
    assert list(clf.feature_names_in_) == list(frame.columns) and clf.n_features_in_ == X.shape[1]
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)
