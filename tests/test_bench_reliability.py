"""fastopt bench notices: the machine's load and wide spreads are recorded and warned
about; unknown implementations are refused; the book scripts' case and the JAX and
torch.compile peers build where their libraries are."""
import os
import subprocess
import sys

import numpy as np
import pytest

from fastopt.bench import Unavailable, build, inputs, report, runner


def _record(impl, median, q1, q3):
    return {"case": "adam", "size": "1e6", "impl": impl, "median_s": median, "q1_s": q1,
            "q3_s": q3, "elements": 10, "bytes_per_elem": 28}


def test_busy_machine_and_wide_spread_are_warned_about():
    run = {"threads": 2, "load": {"other_cpu": 1.4, "cores": 2, "load_average": [3, 2, 1]},
           "results": [_record("numba", 1.0, 0.9, 1.5), _record("numpy", 2.0, 1.98, 2.02)]}
    warnings = report.reliability_warnings(run)
    assert any("other processes used 1.40 of 2 cores" in w for w in warnings)
    assert any("adam 1e6 numba (60%)" in w for w in warnings)
    assert not any("numpy" in w for w in warnings)


def test_a_quiet_tight_run_has_no_warning():
    run = {"threads": 1, "load": {"other_cpu": 0.02, "cores": 2, "load_average": [0, 0, 0]},
           "results": [_record("numba", 1.0, 0.98, 1.03)]}
    assert report.reliability_warnings(run) == []


def test_a_run_records_load_and_warnings():
    data = runner.run(quick=True, case_ids=["sgd"], impls=["numpy"], rounds=1, repeat=3,
                      min_time=1e-4, startup=False)
    report.finalize(data)
    load = data["runs"][0]["load"]
    assert set(load) == {"load_average", "other_cpu", "cores"}
    assert isinstance(data["runs"][0]["warnings"], list)
    assert "performance goals" in report.format_report(data)


def test_unknown_implementation_is_refused():
    with pytest.raises(ValueError, match="--impls: unknown implementation"):
        runner.run(quick=True, impls=["bogus"], startup=False)
    proc = subprocess.run([sys.executable, "-m", "fastopt.cli", "bench", "--impls", "bogus"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "bogus" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("impl", ["numpy", "book-numpy"])
def test_book_script_case_runs_the_scripts_step(impl):
    bench = build("book-script", "batch-128", impl)
    with bench.active():
        bench()


def test_book_script_case_is_the_books_numbers():
    """fastopt.book's step and the book's NumPy step give the same float64 parameters."""
    from fastopt.bench import book_numpy
    from fastopt.book import Adam, MultiLayerNet

    np.random.seed(0)
    ours = MultiLayerNet(784, [100] * 4, 10)
    np.random.seed(0)
    theirs = book_numpy.MultiLayerNet(784, [100] * 4, 10)
    x, t = inputs.book_script_batch()
    opt, ref = Adam(), book_numpy.Adam()
    for _ in range(3):
        opt.update(ours.params, ours.gradient(x, t))
        ref.update(theirs.params, theirs.gradient(x, t))
        assert ours.loss(x, t) == theirs.loss(x, t)
    for name in theirs.params:
        assert np.array_equal(ours.params[name], theirs.params[name]), name


@pytest.mark.parametrize("impl", ["jax", "torch-compile"])
def test_strong_peers_build_or_say_why(impl):
    if os.environ.get("FASTOPT_BACKEND"):  # compiling with inductor once per CI run is enough
        pytest.skip("peers are checked in the default-backend run")
    try:
        bench = build("train-step", "batch-100", impl)
    except Unavailable as exc:
        assert str(exc)
        return
    bench()
