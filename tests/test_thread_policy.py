"""The default thread policy: one thread for small work, the idle cores for large work,
a fixed count once the user sets one; thread settings refused with one clear line."""
import subprocess
import sys

import numpy as np
import pytest

import fastopt
from fastopt import _threads


@pytest.fixture
def policy(monkeypatch):
    pol = _threads.ThreadPolicy()
    pol._start()
    pol.cores = 2
    applied = []
    monkeypatch.setattr(_threads, "set_kernel_threads", lambda n, **kw: applied.append(n))
    monkeypatch.setattr(_threads, "_limit_blas", lambda n: None)
    pol.applied_log = applied
    return pol


def test_small_work_gets_one_thread(policy, monkeypatch):
    monkeypatch.setattr(policy, "idle_cores", lambda: 2.0)
    assert policy.threads_for(policy.parallel_work - 1) == 1


def test_large_work_gets_the_idle_cores(policy, monkeypatch):
    monkeypatch.setattr(policy, "idle_cores", lambda: 1.9)
    assert policy.threads_for(policy.parallel_work) == 2
    monkeypatch.setattr(policy, "idle_cores", lambda: 0.4)  # other processes hold the cores
    assert policy.threads_for(policy.parallel_work) == 1
    assert policy.applied_log == [2, 1]  # applied once per change, not per call
    policy.threads_for(policy.parallel_work)
    assert policy.applied_log == [2, 1]


def test_an_optimizer_step_keeps_the_count_of_its_network_pass(policy, monkeypatch):
    monkeypatch.setattr(policy, "idle_cores", lambda: 2.0)
    assert policy.keep(10) is None  # nothing sized yet, small kernels: nothing to apply
    assert policy.applied_log == []
    policy.threads_for(10)  # a small network's pass: one thread
    assert policy.keep(policy.parallel_work // 2) == 1
    assert policy.keep(policy.parallel_work) == 2  # a large parameter set by itself
    assert policy.applied_log == [1, 2]


def test_fixed_count_wins(policy, monkeypatch):
    monkeypatch.setattr(policy, "idle_cores", lambda: 2.0)
    policy.fixed = 1
    assert policy.threads_for(10**12) == 1
    assert policy.applied_log == []


def test_load_is_measured_from_proc_stat():
    clock = _threads._CpuClock()
    if not clock.works:
        pytest.skip("no /proc/stat here")
    pol = _threads.ThreadPolicy()
    pol._start()
    pol.interval = 0.0
    end = __import__("time").process_time() + 0.05
    while __import__("time").process_time() < end:  # our own busy time is not "others"
        pass
    assert 0 <= pol.idle_cores() <= pol.cores + 1e-9


def test_set_num_threads_auto_returns_the_choice_to_the_policy():
    before = _threads.policy.fixed
    try:
        fastopt.set_num_threads(1)
        assert _threads.policy.fixed == 1
        fastopt.set_num_threads("auto")
        assert _threads.policy.fixed is None
    finally:
        _threads.policy.fixed = before


def test_thread_count_does_not_change_results():
    from fastopt import book, optim

    rng = np.random.default_rng(0)
    x, t = rng.random((64, 20)), rng.integers(0, 4, 64)
    runs = []
    for threads in (1, "auto", 2):
        if threads == 2 and _threads.max_threads() < 2:
            continue
        fastopt.set_num_threads(threads)
        net = book.MultiLayerNetExtend(20, [30, 30], 4, use_batchnorm=True, seed=0)
        opt = optim.Adam(net.params, lr=1e-2)
        for _ in range(5):
            net.gradient(x, t)
            opt.step()
        runs.append(net.params.buffers[np.dtype(np.float64)].copy())
    fastopt.set_num_threads("auto")
    for other in runs[1:]:
        assert np.array_equal(runs[0], other)


@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5"])
def test_parse_thread_count_refuses(value):
    with pytest.raises(ValueError, match="--threads must be a positive integer or 'auto'"):
        _threads.parse_thread_count(value, "--threads")


@pytest.mark.parametrize("argv,env,needle", [
    (["train", "--threads", "0"], {}, "--threads must be a positive integer"),
    (["run", "--list", "--threads", "abc"], {}, "--threads must be a positive integer"),
    (["train", "--epochs", "1"], {"FASTOPT_NUM_THREADS": "abc"}, "FASTOPT_NUM_THREADS must be"),
])
def test_cli_refuses_bad_thread_counts_in_one_line(argv, env, needle, tmp_path):
    import os

    proc = subprocess.run([sys.executable, "-m", "fastopt.cli", *argv], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
