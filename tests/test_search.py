"""fastopt.search: distributions, determinism across executors, narrowing, errors, the book's objective."""
import concurrent.futures
import functools
import json
import math
import multiprocessing

import numpy as np
import pytest

import fastopt
from fastopt import search
from fastopt.search import Choice, IntUniform, LogUniform, SearchResult, Trial, Uniform


# ----------------------------------------------------------------------------- objectives
# Module-level, so they pickle for process pools.

def noisy_quadratic(params, seed):
    """Peak at lr = 1e-3; the noise comes from the trial seed only."""
    rng = np.random.default_rng(seed)
    score = -(math.log10(params["lr"]) + 3.0) ** 2 + 0.01 * rng.standard_normal()
    return {"score": score, "noise": rng.standard_normal(3), "threads": fastopt.get_num_threads()}


def fails_above(params, seed, threshold):
    if params["x"] > threshold:
        raise ValueError(f"x={params['x']:.3f} is too big")
    return params["x"]


def no_score(params, seed):
    return {"loss": 1.0}


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    (x, t), _ = fastopt.data.load_digits()
    return x, t


@pytest.fixture(scope="module")
def small_book(digits):
    """The book's objective, shortened: 500 digits, 6 x 100 hidden, 5 epochs (about 30 ms a trial)."""
    return search.book_objective(*digits, epochs=5)


@pytest.fixture(scope="module")
def process_pool():
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        yield client


def trial_fingerprint(result):
    """Everything that must not depend on the executor (not the timings)."""
    out = []
    for t in result.trials:
        extra = {k: (np.asarray(v).tobytes() if k != "threads" else None) for k, v in t.extra.items()}
        out.append((t.index, t.params, t.seed, np.float64(t.score).tobytes() if t.ok else None, extra, t.error))
    return out


# ----------------------------------------------------------------------------- distributions

def test_uniform_samples_cover_range_with_the_right_mean():
    rng = np.random.default_rng(0)
    x = np.array([Uniform(2.0, 5.0).sample(rng) for _ in range(20_000)])
    assert x.min() >= 2.0 and x.max() <= 5.0
    assert abs(x.mean() - 3.5) < 0.03          # sd of the mean: 0.87 / sqrt(20000) = 0.006
    assert abs(x.var() - 9 / 12) < 0.03
    assert isinstance(Uniform(0, 1).sample(rng), float)


def test_log_uniform_is_the_books_formula_and_its_log10_is_uniform():
    dist = LogUniform(1e-6, 1e-2)
    rng, book = np.random.default_rng(1), np.random.default_rng(1)
    x = np.array([dist.sample(rng) for _ in range(20_000)])
    # exactly the book's 10 ** np.random.uniform(-6, -2), draw for draw
    expected = np.array([10 ** book.uniform(-6, -2) for _ in range(20_000)])
    np.testing.assert_array_equal(x, expected)
    e = np.log10(x)
    assert e.min() >= -6 - 1e-12 and e.max() <= -2 + 1e-12
    # Kolmogorov-Smirnov against U(-6, -2): critical value at alpha = 0.001 is 1.95 / sqrt(n)
    u = np.sort((e + 6) / 4)
    n = u.size
    d = max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n))
    assert d < 1.95 / math.sqrt(n)
    # each decade holds a quarter of the draws (a plain uniform would put 99.99% in the top one)
    counts = np.histogram(e, bins=[-6, -5, -4, -3, -2])[0] / n
    np.testing.assert_allclose(counts, 0.25, atol=0.02)


def test_log_uniform_from_exponents():
    assert LogUniform.from_exponents(-8, -4) == LogUniform(1e-8, 1e-4)


def test_int_uniform_includes_both_ends():
    rng = np.random.default_rng(2)
    x = np.array([IntUniform(1, 3).sample(rng) for _ in range(6000)])
    assert set(x.tolist()) == {1, 2, 3}
    np.testing.assert_allclose(np.bincount(x)[1:] / x.size, 1 / 3, atol=0.03)
    assert isinstance(IntUniform(0, 5).sample(rng), int)
    assert IntUniform(4, 4).sample(rng) == 4


def test_choice_draws_every_option_equally():
    rng = np.random.default_rng(3)
    draws = [Choice(["sgd", "adam", "momentum"]).sample(rng) for _ in range(6000)]
    for option in ("sgd", "adam", "momentum"):
        assert abs(draws.count(option) / 6000 - 1 / 3) < 0.03
    assert Choice((7,)).options == (7,)


@pytest.mark.parametrize("make, exc, name", [
    (lambda: Uniform(3, 1), ValueError, "low"),
    (lambda: Uniform(float("nan"), 1), ValueError, "low"),
    (lambda: Uniform(0, float("inf")), ValueError, "high"),
    (lambda: Uniform("0", 1), TypeError, "low"),
    (lambda: Uniform(0, True), TypeError, "high"),
    (lambda: LogUniform(0, 1), ValueError, "low"),
    (lambda: LogUniform(-1e-3, 1), ValueError, "low"),
    (lambda: LogUniform(1e-2, 1e-6), ValueError, "low"),
    (lambda: LogUniform.from_exponents(-2, "x"), TypeError, "high_exp"),
    (lambda: IntUniform(1.5, 3), TypeError, "low"),
    (lambda: IntUniform(5, 3), ValueError, "low"),
    (lambda: Choice([]), ValueError, "options"),
    (lambda: Choice("abc"), TypeError, "options"),
    (lambda: Choice(3), TypeError, "options"),
])
def test_distributions_reject_bad_arguments(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


def test_distributions_round_trip_through_dicts():
    for dist in (Uniform(-1, 2.5), LogUniform(1e-8, 1e-4), IntUniform(1, 9), Choice(["a", 2, None])):
        again = search.distribution_from_dict(json.loads(json.dumps(dist.to_dict())))
        assert again == dist
    with pytest.raises(ValueError, match="d must be"):
        search.distribution_from_dict({"type": "Normal"})


# ----------------------------------------------------------------------------- trial draws

def test_trials_derive_from_seed_and_index_only():
    space = {"lr": LogUniform(1e-6, 1e-2), "n": IntUniform(1, 100), "opt": Choice(["a", "b"])}
    ten = search.sample_trials(space, 10, seed=42)
    assert search.sample_trials(space, 4, seed=42) == ten[:4]
    assert search.sample_trials(space, 10, seed=43) != ten
    # independently: trial i is child i of SeedSequence(42).spawn, split in (params, training seed)
    children = np.random.SeedSequence(42).spawn(10)
    for (params, trial_seed), child in zip(ten, children):
        params_ss, train_ss = child.spawn(2)
        rng = np.random.default_rng(params_ss)
        assert params == {"lr": float(10 ** rng.uniform(-6, -2)), "n": int(rng.integers(1, 100, endpoint=True)),
                          "opt": ["a", "b"][int(rng.integers(2))]}
        assert trial_seed == int(train_ss.generate_state(1, np.uint64)[0])
    assert len({s for _, s in ten}) == 10


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(n_trials=0), ValueError, "n_trials"),
    (dict(n_trials=2.0), TypeError, "n_trials"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(mode="best"), ValueError, "mode"),
    (dict(on_error="ignore"), ValueError, "on_error"),
    (dict(executor=42), TypeError, "executor"),
    (dict(executor="cluster"), TypeError, "executor"),
    (dict(n_workers=0), ValueError, "n_workers"),
    (dict(progress="yes"), TypeError, "progress"),
    (dict(space={}), TypeError, "space"),
    (dict(space={"lr": (1e-6, 1e-2)}), TypeError, "space"),
    (dict(objective="f"), TypeError, "objective"),
    (dict(objective=lambda params: 0.0), TypeError, "objective"),
    (dict(objective=lambda params, seed: 0.0), TypeError, "picklable"),   # default: processes
])
def test_random_search_rejects_bad_arguments(kwargs, exc, name):
    args = dict(space={"lr": LogUniform(1e-6, 1e-2)}, objective=noisy_quadratic, n_trials=2, seed=0,
                executor="serial")
    if "objective" in kwargs and name == "picklable":
        args.pop("executor")
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        search.random_search(**args)


# ----------------------------------------------------------------------------- determinism across executors

SPACE = {"lr": LogUniform(1e-6, 1e-2), "weight_decay": LogUniform(1e-8, 1e-4)}


@pytest.fixture(scope="module")
def serial_book(small_book):
    return search.random_search(SPACE, small_book, 6, seed=7, executor="serial")


def test_serial_search_is_repeatable_and_sane(serial_book, small_book):
    again = search.random_search(SPACE, small_book, 6, seed=7, executor="serial")
    assert trial_fingerprint(again) == trial_fingerprint(serial_book)
    assert [t.index for t in serial_book.trials] == list(range(6))
    assert all(t.ok and 0 <= t.score <= 1 and t.seconds > 0 for t in serial_book.trials)
    other = search.random_search(SPACE, small_book, 6, seed=8, executor="serial")
    assert [t.params for t in other.trials] != [t.params for t in serial_book.trials]


def test_threads_give_identical_results(serial_book, small_book):
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        threaded = search.random_search(SPACE, small_book, 6, seed=7, executor=pool)
    assert trial_fingerprint(threaded) == trial_fingerprint(serial_book)


def test_process_pool_gives_identical_results(serial_book, small_book, process_pool):
    processed = search.random_search(SPACE, small_book, 6, seed=7, executor=process_pool)
    assert trial_fingerprint(processed) == trial_fingerprint(serial_book)


def test_default_executor_is_a_process_pool_with_one_numba_thread(serial_book, small_book):
    space = {"lr": LogUniform(1e-6, 1e-2)}
    serial = search.random_search(space, noisy_quadratic, 4, seed=3, executor="serial")
    pooled = search.random_search(space, noisy_quadratic, 4, seed=3, n_workers=2)
    assert trial_fingerprint(pooled) == trial_fingerprint(serial)
    assert {t.extra["threads"] for t in pooled.trials} == {1}
    assert {t.extra["threads"] for t in serial.trials} == {fastopt.get_num_threads()}


def test_dask_cluster_gives_identical_results(serial_book, small_book, dask_client):
    dasked = search.random_search(SPACE, small_book, 6, seed=7, executor=dask_client)
    assert trial_fingerprint(dasked) == trial_fingerprint(serial_book)
    # a closure is fine on Dask (cloudpickle), and each trial runs with one Numba thread
    offset = 0.5
    result = search.random_search({"lr": LogUniform(1e-6, 1e-2)},
                                  lambda p, s: {**noisy_quadratic(p, s), "offset": offset}, 3, seed=1,
                                  executor=dask_client)
    assert all(t.ok and t.extra["offset"] == 0.5 and t.extra["threads"] == 1 for t in result.trials)


def test_thread_workers_get_one_numba_thread_and_give_it_back():
    before = fastopt.get_num_threads()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        worker_before = pool.submit(fastopt.get_num_threads).result()  # per thread in Numba
        result = search.random_search({"lr": LogUniform(1e-6, 1e-2)}, noisy_quadratic, 2, seed=0,
                                      executor=pool)
        assert pool.submit(fastopt.get_num_threads).result() == worker_before
    assert {t.extra["threads"] for t in result.trials} == {1}
    assert fastopt.get_num_threads() == before


# ----------------------------------------------------------------------------- ranking and narrowing

def make_result(scores, mode="max"):
    space = {"lr": LogUniform(1e-6, 1e-2), "x": Uniform(0, 10), "n": IntUniform(1, 9),
             "opt": Choice(["sgd", "momentum", "adam"])}
    values = [(1e-5, 1.0, 2, "adam"), (3e-3, 5.0, 7, "sgd"), (1e-3, 2.0, 3, "adam"),
              (2e-4, 9.0, 9, "sgd"), (5e-3, 4.0, 5, "momentum")]
    trials = []
    for i, (score, (lr, x, n, opt)) in enumerate(zip(scores, values)):
        error = "ValueError: boom" if score is None else None
        trials.append(Trial(i, {"lr": lr, "x": x, "n": n, "opt": opt}, seed=i, score=score, error=error))
    return SearchResult(trials, space, mode, 0)


def test_top_and_best_rank_by_mode_skipping_failures_and_nan():
    r = make_result([0.1, 0.9, 0.8, None, float("nan")])
    assert [t.index for t in r.top(5)] == [1, 2, 0]
    assert r.best.index == 1 and [t.index for t in r.failed] == [3]
    assert [t.index for t in make_result([0.1, 0.9, 0.8, None, 0.5], mode="min").top(2)] == [0, 4]
    assert [t.index for t in make_result([0.5, 0.7, 0.5, 0.7, 0.1]).top(4)] == [1, 3, 0, 2]  # ties: index order
    with pytest.raises(ValueError, match="k"):
        r.top(0)


def test_narrow_spans_the_top_k_and_keeps_each_kind():
    r = make_result([0.1, 0.9, 0.8, 0.2, 0.7])         # top 3: trials 1, 2, 4
    narrowed = r.narrow(3)
    assert narrowed == {"lr": LogUniform(1e-3, 5e-3), "x": Uniform(2.0, 5.0), "n": IntUniform(3, 7),
                        "opt": Choice(["sgd", "momentum", "adam"])}
    assert r.narrow(2)["opt"] == Choice(["sgd", "adam"])   # the original order, only options seen
    assert r.narrow(1) == {"lr": LogUniform(3e-3, 3e-3), "x": Uniform(5.0, 5.0), "n": IntUniform(7, 7),
                           "opt": Choice(["sgd"])}
    # a narrowed space samples inside the new bounds, still log-uniformly
    rng = np.random.default_rng(0)
    lrs = np.array([narrowed["lr"].sample(rng) for _ in range(4000)])
    assert lrs.min() >= 1e-3 * (1 - 1e-12) and lrs.max() <= 5e-3 * (1 + 1e-12)
    assert abs(np.median(np.log10(lrs)) - (np.log10(1e-3) + np.log10(5e-3)) / 2) < 0.03
    with pytest.raises(ValueError, match="top_k"):
        r.narrow(0)
    with pytest.raises(ValueError, match="no trial"):
        make_result([None] * 5).narrow(2)


def test_narrow_then_search_again_stays_inside(serial_book, small_book):
    narrowed = serial_book.narrow(3)
    top = serial_book.top(3)
    assert narrowed["lr"].low == min(t.params["lr"] for t in top)
    assert narrowed["lr"].high == max(t.params["lr"] for t in top)
    again = search.sample_trials(narrowed, 20, seed=1)
    assert all(narrowed["lr"].low * (1 - 1e-12) <= p["lr"] <= narrowed["lr"].high * (1 + 1e-12)
               for p, _ in again)


# ----------------------------------------------------------------------------- errors

def test_a_failing_trial_is_recorded_and_the_search_goes_on():
    objective = functools.partial(fails_above, threshold=0.5)
    r = search.random_search({"x": Uniform(0, 1)}, objective, 12, seed=0, executor="serial")
    bad = [t for t in r.trials if t.params["x"] > 0.5]
    assert bad and len(bad) < 12 and r.failed == bad
    for t in bad:
        assert t.score is None and t.error.startswith("ValueError: x=") and "too big" in t.traceback
    assert r.best.score == max(t.params["x"] for t in r.trials if t.params["x"] <= 0.5)


def test_failures_in_processes_are_recorded_the_same(process_pool):
    objective = functools.partial(fails_above, threshold=0.5)
    serial = search.random_search({"x": Uniform(0, 1)}, objective, 8, seed=0, executor="serial")
    pooled = search.random_search({"x": Uniform(0, 1)}, objective, 8, seed=0, executor=process_pool)
    assert [(t.score, t.error) for t in pooled.trials] == [(t.score, t.error) for t in serial.trials]
    assert any(t.error for t in pooled.trials)


@pytest.mark.parametrize("where", ["serial", "threads", "processes"])
def test_on_error_raise_reraises_the_objectives_exception(where, process_pool):
    objective = functools.partial(fails_above, threshold=0.5)
    if where == "threads":
        executor = concurrent.futures.ThreadPoolExecutor(2)
    else:
        executor = process_pool if where == "processes" else "serial"
    with pytest.raises(ValueError, match="too big"):
        search.random_search({"x": Uniform(0, 1)}, objective, 12, seed=0, executor=executor,
                             on_error="raise")
    if where == "threads":
        executor.shutdown()


def test_bad_objective_outputs_are_trial_errors():
    r = search.random_search({"x": Uniform(0, 1)}, no_score, 2, seed=0, executor="serial")
    assert all(t.error.startswith("TypeError") and "'score'" in t.error for t in r.failed)
    assert len(r.failed) == 2
    with pytest.raises(RuntimeError, match="no trial gave a usable score.*TypeError"):
        r.best
    r = search.random_search({"x": Uniform(0, 1)}, lambda p, s: np.ones(2), 1, seed=0, executor="serial")
    assert "scalar" in r.trials[0].error


# ----------------------------------------------------------------------------- results I/O, progress

def test_json_round_trip(tmp_path):
    r = search.random_search({"lr": LogUniform(1e-6, 1e-2), "opt": Choice(["a", "b"])}, noisy_quadratic,
                             5, seed=4, executor="serial")
    path = tmp_path / "search.json"
    text = r.to_json(path)
    d = json.loads(path.read_text())
    assert json.loads(text) == d and d["best_index"] == r.best.index and d["mode"] == "max"
    assert d["space"]["lr"] == {"type": "LogUniform", "low": 1e-6, "high": 1e-2}
    assert d["trials"][0]["extra"]["noise"] == r.trials[0].extra["noise"].tolist()
    back = SearchResult.from_json(str(path))
    assert back.space == r.space and [t.params for t in back.trials] == [t.params for t in r.trials]
    assert [t.score for t in back.trials] == [t.score for t in r.trials]
    assert back.best.index == r.best.index and back.narrow(2) == r.narrow(2)


def test_progress_bar_only_when_asked(capsys):
    capsys.readouterr()
    search.random_search({"x": Uniform(0, 1)}, noisy_quadratic_x, 3, seed=0, executor="serial", progress=True)
    assert "search:" in capsys.readouterr().err  # tqdm redraws at most every 0.1 s: not always 3/3
    search.random_search({"x": Uniform(0, 1)}, noisy_quadratic_x, 3, seed=0, executor="serial", progress=False)
    assert "search:" not in capsys.readouterr().err   # (other libraries' log lines may be there)


def noisy_quadratic_x(params, seed):
    return -(params["x"] - 0.3) ** 2


# ----------------------------------------------------------------------------- the book's objective

def test_book_objective_follows_the_book(digits):
    x, t = digits
    obj = search.book_objective(x, t, epochs=3)
    assert obj.x_train.shape == (400, 64) and obj.x_val.shape == (100, 64)   # 500 samples, 20% held out
    assert obj.hidden_size_list == (100,) * 6 and obj.batch_size == 100 and obj.n_classes == 10
    # the held-out samples are the first 100 of train_val_split of the first 500
    (_, _), (x_val, _) = fastopt.data.train_val_split(x[:500], t[:500], 0.2, seed=0)
    np.testing.assert_array_equal(obj.x_val, x_val)
    out = obj({"lr": 0.01, "weight_decay": 1e-6}, 123)
    assert set(out) == {"score", "val_acc", "train_acc"}
    assert len(out["val_acc"]) == len(out["train_acc"]) == 3 and out["score"] == out["val_acc"][-1]
    assert obj({"lr": 0.01, "weight_decay": 1e-6}, 123) == out                # a pure function of (params, seed)
    assert obj({"lr": 0.01, "weight_decay": 1e-6}, 124)["train_acc"] != out["train_acc"]
    with pytest.raises(ValueError, match="params"):
        obj({"learning_rate": 0.01}, 0)
    with pytest.raises(ValueError, match="epochs"):
        search.book_objective(x, t, epochs=0)


def test_book_search_prefers_large_learning_rates(digits):
    obj = search.book_objective(*digits, epochs=20)
    space = {"lr": Choice([1e-6, 1e-2]), "weight_decay": LogUniform(1e-8, 1e-4)}
    r = search.random_search(space, obj, 10, seed=1, executor="serial")
    small = [t.score for t in r.trials if t.params["lr"] == 1e-6]
    large = [t.score for t in r.trials if t.params["lr"] == 1e-2]
    assert len(small) >= 2 and len(large) >= 2
    assert min(large) > max(small)
    assert min(large) > 0.4 and max(small) < 0.3          # 10 classes: chance is about 0.1
    assert r.best.params["lr"] == 1e-2
    assert all(len(t.extra["train_acc"]) == 20 for t in r.trials)
