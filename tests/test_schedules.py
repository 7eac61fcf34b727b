"""Tests for fastopt.optim.schedules: closed forms, torch parity, (de)serialisation, validation."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastopt.optim import schedules

STEPS = np.arange(0, 1000)


def values(sched, steps=STEPS):
    out = [sched(int(t)) for t in steps]
    assert all(type(v) is float for v in out)
    return np.array(out)


# ------------------------------------------------------------- closed forms
def test_constant():
    np.testing.assert_array_equal(values(schedules.Constant(0.3)), np.full(STEPS.shape, 0.3))
    assert schedules.Constant(2)(0) == 2.0 and type(schedules.Constant(2)(0)) is float


@pytest.mark.parametrize("lr,step_size,gamma", [(0.1, 1, 0.5), (1.0, 30, 0.1), (0.5, 7, 1.0), (0.2, 10, 1.1)])
def test_step_decay_closed_form(lr, step_size, gamma):
    expected = lr * np.power(gamma, np.floor(STEPS / step_size))
    np.testing.assert_allclose(values(schedules.StepDecay(lr, step_size, gamma)), expected, rtol=1e-12)


@pytest.mark.parametrize("milestones", [[], [0], [5, 50, 500], [1, 2, 3, 999]])
def test_multistep_decay_closed_form(milestones):
    gamma = 0.3
    counts = np.array([sum(m <= t for m in milestones) for t in STEPS])
    expected = 0.7 * gamma ** counts
    np.testing.assert_allclose(values(schedules.MultiStepDecay(0.7, milestones, gamma)), expected, rtol=1e-12)


def test_multistep_boundaries():
    s = schedules.MultiStepDecay(1.0, (3, 6), gamma=0.5)
    assert [s(t) for t in range(8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


@pytest.mark.parametrize("gamma", [0.99, 0.5, 1.0, 1.001])
def test_exponential_decay_closed_form(gamma):
    expected = 0.4 * np.power(gamma, STEPS.astype(float))
    np.testing.assert_allclose(values(schedules.ExponentialDecay(0.4, gamma)), expected, rtol=1e-12)


def test_exponential_overflow_gives_inf_and_underflow_zero():
    assert schedules.ExponentialDecay(1.0, 2.0)(5000) == math.inf
    assert schedules.ExponentialDecay(0.0, 2.0)(5000) == 0.0
    assert schedules.ExponentialDecay(1.0, 0.5)(5000) == 0.0


@pytest.mark.parametrize("decay_rate,decay_steps,staircase",
                         [(0.5, 1, False), (0.5, 10, False), (0.5, 10, True), (2.0, 2.5, True), (0.0, 3, False)])
def test_inverse_time_decay_closed_form(decay_rate, decay_steps, staircase):
    p = STEPS / decay_steps
    if staircase:
        p = np.floor(p)
    expected = 0.9 / (1 + decay_rate * p)
    np.testing.assert_allclose(values(schedules.InverseTimeDecay(0.9, decay_rate, decay_steps, staircase)),
                               expected, rtol=1e-12)


@pytest.mark.parametrize("lr,total,min_lr", [(1.0, 100, 0.0), (0.1, 1, 0.0), (0.3, 777, 0.01), (0.5, 10, 0.5)])
def test_cosine_decay_closed_form(lr, total, min_lr):
    t = np.minimum(STEPS, total)
    expected = min_lr + (lr - min_lr) * (1 + np.cos(np.pi * t / total)) / 2
    got = values(schedules.CosineDecay(lr, total, min_lr))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert got[0] == lr
    assert np.all(got[STEPS >= total] == min_lr)


@pytest.mark.parametrize("warmup,start", [(0, 0.0), (1, 0.0), (10, 0.0), (37, 0.05)])
def test_linear_warmup_closed_form(warmup, start):
    after = schedules.CosineDecay(0.2, 300, 0.01)
    s = schedules.LinearWarmup(after, warmup, start_lr=start)
    t = STEPS.astype(float)
    cos_t = np.minimum(np.maximum(t - warmup, 0), 300)
    after_vals = 0.01 + 0.19 * (1 + np.cos(np.pi * cos_t / 300)) / 2
    ramp = start + (0.2 - start) * t / max(warmup, 1)
    expected = np.where(t < warmup, ramp, after_vals)
    np.testing.assert_allclose(values(s), expected, rtol=1e-12, atol=1e-15)
    assert s(0) == (start if warmup else 0.2)
    assert s(warmup) == 0.2


def test_linear_warmup_float_after_and_nesting():
    s = schedules.LinearWarmup(0.1, 4)
    assert isinstance(s.after, schedules.Constant)
    assert [s(t) for t in range(6)] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.1])
    inner = schedules.LinearWarmup(schedules.StepDecay(1.0, 2, 0.5), 2)
    nested = schedules.LinearWarmup(inner, 2, start_lr=0.5)
    assert [nested(t) for t in range(8)] == pytest.approx([0.5, 0.25, 0.0, 0.5, 1.0, 1.0, 0.5, 0.5])


def test_as_schedule():
    c = schedules.as_schedule(3)
    assert isinstance(c, schedules.Constant) and c(10) == 3.0
    assert schedules.as_schedule(np.float32(0.5))(0) == 0.5
    s = schedules.StepDecay(1.0, 2)
    assert schedules.as_schedule(s) is s
    for bad in ("0.1", None, [0.1], True):
        with pytest.raises(TypeError, match="lr"):
            schedules.as_schedule(bad)
    with pytest.raises(ValueError, match="lr"):
        schedules.as_schedule(-1.0)


def test_all_subclass_schedule_and_repr():
    for s in _all_schedules():
        assert isinstance(s, schedules.Schedule)
        r = repr(s)
        assert r.startswith(type(s).__name__ + "(")
        for key in s.get_config():
            if key != "name":
                assert key in r


def test_step_accepts_numpy_ints():
    assert schedules.StepDecay(1.0, 2, 0.5)(np.int64(4)) == 0.25


# ------------------------------------------------------------ torch parity
def _torch_lrs(torch, make_sched, lr, n):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, dtype=float)


@pytest.mark.parametrize("step_size,gamma", [(1, 0.9), (3, 0.5), (30, 0.1)])
def test_step_decay_matches_torch(step_size, gamma):
    torch = pytest.importorskip("torch")
    ref = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.StepLR(o, step_size, gamma), 0.3, 200)
    np.testing.assert_allclose(values(schedules.StepDecay(0.3, step_size, gamma), range(200)), ref,
                               rtol=1e-12)


@pytest.mark.parametrize("milestones", [[0, 3], [10, 20, 150], []])
def test_multistep_matches_torch(milestones):
    torch = pytest.importorskip("torch")
    ref = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones, 0.2), 0.5, 200)
    np.testing.assert_allclose(values(schedules.MultiStepDecay(0.5, milestones, 0.2), range(200)), ref,
                               rtol=1e-12)


@pytest.mark.parametrize("gamma", [0.97, 0.5])
def test_exponential_matches_torch(gamma):
    torch = pytest.importorskip("torch")
    ref = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), 0.8, 200)
    np.testing.assert_allclose(values(schedules.ExponentialDecay(0.8, gamma), range(200)), ref, rtol=1e-10)


@pytest.mark.parametrize("total,min_lr", [(50, 0.0), (100, 0.02), (1, 0.0)])
def test_cosine_matches_torch(total, min_lr):
    torch = pytest.importorskip("torch")
    ref = _torch_lrs(torch, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, total, min_lr),
                     0.2, total + 1)
    np.testing.assert_allclose(values(schedules.CosineDecay(0.2, total, min_lr), range(total + 1)), ref,
                               rtol=1e-9, atol=1e-14)


def _metric_sequence(seed, n=300):
    rng = np.random.default_rng(seed)
    # noisy decreasing loss with plateaus, a few repeats, negatives, and spikes
    base = np.maximum(np.linspace(2.0, -0.5, n) + np.repeat(rng.normal(0, 0.3, n // 20), 20), -1.0)
    seq = base + rng.normal(0, 0.05, n)
    seq[::17] = seq[::17].round(1)
    seq[50:70] = seq[49]  # exact plateau
    return [float(x) for x in seq]


PLATEAU_CASES = [
    {},
    {"mode": "max"},
    {"threshold_mode": "abs", "threshold": 0.05},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.01},
    {"patience": 0, "cooldown": 3},
    {"patience": 2, "cooldown": 5, "factor": 0.5, "min_lr": 0.01},
    {"patience": 1, "factor": 0.5, "min_lr": 0.0, "eps": 0.05},
    {"patience": 3, "threshold": 0.2, "threshold_mode": "rel", "min_lr": 0.001},
]


def _torch_plateau(torch, metrics, lr, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    lrs, states = [], []
    for m in metrics:
        lrs.append(opt.param_groups[0]["lr"])
        sched.step(m)
        states.append((sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch))
    return lrs, states


def _ours_plateau(sched, metrics):
    lrs, states = [], []
    for i, m in enumerate(metrics):
        lrs.append(sched(i))
        sched.observe(m)
        states.append((sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch))
    return lrs, states


@pytest.mark.parametrize("kw", PLATEAU_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_plateau_matches_torch(kw, seed):
    torch = pytest.importorskip("torch")
    metrics = _metric_sequence(seed)
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]
    ref_lrs, ref_states = _torch_plateau(torch, metrics, 1.0, **kw)
    lrs, states = _ours_plateau(schedules.ReduceLROnPlateau(1.0, **kw), metrics)
    assert lrs == ref_lrs  # identical arithmetic, so exact
    assert states == ref_states
    assert len(set(lrs)) > 1  # the case actually reduces


def test_plateau_nan_and_inf_match_torch():
    torch = pytest.importorskip("torch")
    metrics = [float("nan"), 1.0, float("nan"), float("nan"), 0.5, float("inf"), float("-inf"),
               float("nan"), 3.0, 2.0, 1.0, float("nan")] * 3
    for kw in ({"patience": 1}, {"patience": 0, "mode": "max"}, {"patience": 1, "threshold_mode": "abs"}):
        ref_lrs, ref_states = _torch_plateau(torch, metrics, 0.5, **kw)
        lrs, states = _ours_plateau(schedules.ReduceLROnPlateau(0.5, **kw), metrics)
        assert lrs == ref_lrs
        assert states == ref_states


def test_plateau_nan_is_a_bad_epoch():
    s = schedules.ReduceLROnPlateau(1.0, patience=2, factor=0.5)
    s.observe(1.0)
    for _ in range(3):
        s.observe(float("nan"))
    assert s(0) == 0.5 and s.best == 1.0


def test_plateau_call_ignores_step_and_min_lr_and_eps():
    s = schedules.ReduceLROnPlateau(1.0, patience=0, factor=0.1, min_lr=0.05)
    s.observe(1.0)
    assert s(0) == s(123) == 1.0
    s.observe(2.0)
    assert s(5) == pytest.approx(0.1)
    s.observe(2.0)
    assert s(5) == 0.05  # clipped at min_lr
    s.observe(2.0)
    assert s(5) == 0.05
    s2 = schedules.ReduceLROnPlateau(1e-9, patience=0, eps=1e-8)
    s2.observe(1.0)
    s2.observe(1.0)
    assert s2(0) == 1e-9  # decrease below eps not applied


# --------------------------------------------------------- (de)serialisation
def _all_schedules():
    return [
        schedules.Constant(0.1),
        schedules.StepDecay(0.5, 7, 0.3),
        schedules.MultiStepDecay(0.5, [10, 100, 300], 0.5),
        schedules.MultiStepDecay(0.5, []),
        schedules.ExponentialDecay(0.2, 0.99),
        schedules.InverseTimeDecay(0.3, 0.1, 5, True),
        schedules.InverseTimeDecay(0.3, 0.1),
        schedules.CosineDecay(0.4, 333, 0.02),
        schedules.LinearWarmup(0.1, 20),
        schedules.LinearWarmup(schedules.CosineDecay(1.0, 400, 0.1), 50, start_lr=0.01),
        schedules.LinearWarmup(schedules.LinearWarmup(schedules.MultiStepDecay(1.0, [5, 9]), 3), 0),
        schedules.LinearWarmup(schedules.ReduceLROnPlateau(0.3, patience=2), 10),
        schedules.ReduceLROnPlateau(0.3, mode="max", factor=0.5, patience=3, threshold=0.01,
                          threshold_mode="abs", cooldown=2, min_lr=1e-4, eps=1e-9),
    ]


@pytest.mark.parametrize("sched", _all_schedules(), ids=lambda s: type(s).__name__)
def test_config_round_trip(sched):
    config = sched.get_config()
    assert config["name"] == type(sched).__name__
    text = json.dumps(config, allow_nan=False)
    again = schedules.schedule_from_config(json.loads(text))
    assert type(again) is type(sched)
    assert again.get_config() == config
    assert repr(again) == repr(sched)
    assert [again(t) for t in range(501)] == [sched(t) for t in range(501)]
    json.dumps(sched.state_dict(), allow_nan=False)
    again.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    if not sched.stateful:
        assert sched.state_dict() == {}


def test_config_is_a_copy():
    s = schedules.MultiStepDecay(1.0, [1, 2])
    s.get_config()["milestones"].append(0)
    assert s.milestones == [1, 2]


@pytest.mark.parametrize("kw", PLATEAU_CASES[:6])
def test_plateau_state_round_trip_mid_run(kw):
    metrics = _metric_sequence(3)
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]
    full = schedules.ReduceLROnPlateau(0.7, **kw)
    full_lrs, full_states = _ours_plateau(full, metrics)

    for cut in (0, 1, 57, 150):
        first = schedules.ReduceLROnPlateau(0.7, **kw)
        _ours_plateau(first, metrics[:cut])
        saved = json.loads(json.dumps(first.state_dict(), allow_nan=False))
        resumed = schedules.schedule_from_config(json.loads(json.dumps(first.get_config())))
        resumed.load_state_dict(saved)
        assert resumed.state_dict() == first.state_dict()
        lrs, states = _ours_plateau(resumed, metrics[cut:])
        assert lrs == full_lrs[cut:]
        assert states == full_states[cut:]


def test_plateau_state_contents():
    s = schedules.ReduceLROnPlateau(0.3)
    assert s.state_dict() == {"lr": 0.3, "best": "inf", "num_bad_epochs": 0,
                              "cooldown_counter": 0, "last_epoch": 0}
    assert schedules.ReduceLROnPlateau(0.3, mode="max").state_dict()["best"] == "-inf"
    s.observe(2.5)
    assert s.state_dict()["best"] == 2.5 and s.state_dict()["last_epoch"] == 1


def test_warmup_wrapping_plateau_is_stateful():
    s = schedules.LinearWarmup(schedules.ReduceLROnPlateau(1.0, patience=0), 2)
    assert s.stateful
    s.observe(1.0)
    s.observe(2.0)
    assert s(5) == pytest.approx(0.1)
    state = s.state_dict()
    assert set(state) == {"after"}
    t = schedules.schedule_from_config(s.get_config())
    t.load_state_dict(state)
    assert t(5) == s(5) and t(1) == s(1)
    with pytest.raises(TypeError, match="after"):
        schedules.LinearWarmup(0.1, 2).observe(1.0)


BAD_STATES = [
    (schedules.Constant(0.1), {"lr": 0.1}, ValueError, "lr"),
    (schedules.StepDecay(0.1, 2), [], TypeError, "state"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1}, ValueError, "best"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1, "best": 1.0, "num_bad_epochs": 0, "cooldown_counter": 0,
                              "last_epoch": 0, "extra": 1}, ValueError, "extra"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": -0.1, "best": 1.0, "num_bad_epochs": 0, "cooldown_counter": 0,
                              "last_epoch": 0}, ValueError, "lr"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1, "best": "big", "num_bad_epochs": 0, "cooldown_counter": 0,
                              "last_epoch": 0}, ValueError, "best"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1, "best": 1.0, "num_bad_epochs": 1.5, "cooldown_counter": 0,
                              "last_epoch": 0}, TypeError, "num_bad_epochs"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1, "best": 1.0, "num_bad_epochs": 0, "cooldown_counter": -1,
                              "last_epoch": 0}, ValueError, "cooldown_counter"),
    (schedules.ReduceLROnPlateau(0.1), {"lr": 0.1, "best": 1.0, "num_bad_epochs": 0, "cooldown_counter": 0,
                              "last_epoch": True}, TypeError, "last_epoch"),
    (schedules.LinearWarmup(schedules.ReduceLROnPlateau(0.1), 3), {}, ValueError, "after"),
    (schedules.LinearWarmup(0.1, 3), {"after": {}}, ValueError, "after"),
]


@pytest.mark.parametrize("sched,state,exc,name", BAD_STATES)
def test_load_state_dict_rejects(sched, state, exc, name):
    before = sched.state_dict()
    with pytest.raises(exc, match=name):
        sched.load_state_dict(state)
    assert sched.state_dict() == before  # nothing half-loaded


BAD_CONFIGS = [
    ({"lr": 0.1}, ValueError, "name"),
    ({"name": "Bogus", "lr": 0.1}, ValueError, "Bogus"),
    ({"name": "StepDecay", "lr": 0.1}, ValueError, "step_size"),
    ({"name": "StepDecay", "lr": 0.1, "step_size": 2, "warp": 1}, ValueError, "warp"),
    ({"name": "Constant", "lr": 0.1, "self": 1}, ValueError, "self"),
    ({"name": "LinearWarmup", "after": {"name": "Nope"}, "warmup_steps": 1}, ValueError, "Nope"),
    ({"name": "LinearWarmup", "after": "x", "warmup_steps": 1}, TypeError, "after"),
    ({"name": "CosineDecay", "lr": 0.1, "total_steps": 0}, ValueError, "total_steps"),
    ("Constant", TypeError, "config"),
]


@pytest.mark.parametrize("config,exc,name", BAD_CONFIGS)
def test_schedule_from_config_rejects(config, exc, name):
    with pytest.raises(exc, match=name):
        schedules.schedule_from_config(config)


# ---------------------------------------------------------------- validation
BAD_ARGS = [
    (lambda: schedules.Constant(-0.1), ValueError, "lr"),
    (lambda: schedules.Constant(float("nan")), ValueError, "lr"),
    (lambda: schedules.Constant(float("inf")), ValueError, "lr"),
    (lambda: schedules.Constant(True), TypeError, "lr"),
    (lambda: schedules.Constant("0.1"), TypeError, "lr"),
    (lambda: schedules.StepDecay(0.1, 0), ValueError, "step_size"),
    (lambda: schedules.StepDecay(0.1, 2.0), TypeError, "step_size"),
    (lambda: schedules.StepDecay(0.1, True), TypeError, "step_size"),
    (lambda: schedules.StepDecay(0.1, 2, gamma=0.0), ValueError, "gamma"),
    (lambda: schedules.StepDecay(0.1, 2, gamma=-0.5), ValueError, "gamma"),
    (lambda: schedules.MultiStepDecay(0.1, [5, 5]), ValueError, "milestones"),
    (lambda: schedules.MultiStepDecay(0.1, [5, 3]), ValueError, "milestones"),
    (lambda: schedules.MultiStepDecay(0.1, [-1, 3]), ValueError, "milestones"),
    (lambda: schedules.MultiStepDecay(0.1, [1.5]), TypeError, "milestones"),
    (lambda: schedules.MultiStepDecay(0.1, 5), TypeError, "milestones"),
    (lambda: schedules.MultiStepDecay(0.1, "12"), TypeError, "milestones"),
    (lambda: schedules.ExponentialDecay(0.1, float("nan")), ValueError, "gamma"),
    (lambda: schedules.ExponentialDecay(0.1, None), TypeError, "gamma"),
    (lambda: schedules.InverseTimeDecay(0.1, -1.0), ValueError, "decay_rate"),
    (lambda: schedules.InverseTimeDecay(0.1, 0.5, decay_steps=0), ValueError, "decay_steps"),
    (lambda: schedules.InverseTimeDecay(0.1, 0.5, staircase=1), TypeError, "staircase"),
    (lambda: schedules.CosineDecay(0.1, 0), ValueError, "total_steps"),
    (lambda: schedules.CosineDecay(0.1, 10, min_lr=0.2), ValueError, "min_lr"),
    (lambda: schedules.CosineDecay(0.1, 10, min_lr=-0.01), ValueError, "min_lr"),
    (lambda: schedules.LinearWarmup("0.1", 5), TypeError, "after"),
    (lambda: schedules.LinearWarmup(-0.1, 5), ValueError, "after"),
    (lambda: schedules.LinearWarmup(0.1, -1), ValueError, "warmup_steps"),
    (lambda: schedules.LinearWarmup(0.1, 1.5), TypeError, "warmup_steps"),
    (lambda: schedules.LinearWarmup(0.1, 5, start_lr=-1.0), ValueError, "start_lr"),
    (lambda: schedules.ReduceLROnPlateau(0.1, mode="mean"), ValueError, "mode"),
    (lambda: schedules.ReduceLROnPlateau(0.1, factor=1.0), ValueError, "factor"),
    (lambda: schedules.ReduceLROnPlateau(0.1, factor=0.0), ValueError, "factor"),
    (lambda: schedules.ReduceLROnPlateau(0.1, patience=-1), ValueError, "patience"),
    (lambda: schedules.ReduceLROnPlateau(0.1, threshold=-1e-4), ValueError, "threshold"),
    (lambda: schedules.ReduceLROnPlateau(0.1, threshold_mode="relative"), ValueError, "threshold_mode"),
    (lambda: schedules.ReduceLROnPlateau(0.1, cooldown=0.5), TypeError, "cooldown"),
    (lambda: schedules.ReduceLROnPlateau(0.1, min_lr=float("inf")), ValueError, "min_lr"),
    (lambda: schedules.ReduceLROnPlateau(0.1, eps=-1.0), ValueError, "eps"),
    (lambda: schedules.ReduceLROnPlateau(0.1).observe("1.0"), TypeError, "metric"),
    (lambda: schedules.ReduceLROnPlateau(0.1).observe(None), TypeError, "metric"),
    (lambda: schedules.ReduceLROnPlateau(0.1).observe(True), TypeError, "metric"),
    (lambda: schedules.StepDecay(0.1, 2)(-1), ValueError, "step"),
    (lambda: schedules.StepDecay(0.1, 2)(1.0), TypeError, "step"),
    (lambda: schedules.Constant(0.1)(True), TypeError, "step"),
    (lambda: schedules.ReduceLROnPlateau(0.1)(-3), ValueError, "step"),
    (lambda: schedules.LinearWarmup(0.1, 3)("2"), TypeError, "step"),
]


@pytest.mark.parametrize("make,exc,name", BAD_ARGS)
def test_bad_arguments(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


def test_accepts_numpy_scalars_and_stores_python_types():
    s = schedules.StepDecay(np.float32(0.5), np.int64(3), np.float64(0.5))
    config = s.get_config()
    assert type(config["lr"]) is float and type(config["step_size"]) is int
    m = schedules.MultiStepDecay(0.1, np.array([2, 4]))
    assert m.get_config()["milestones"] == [2, 4]
    assert all(type(x) is int for x in m.get_config()["milestones"])
    p = schedules.ReduceLROnPlateau(0.1, patience=0)
    p.observe(np.float32(1.0))
    assert p.best == 1.0


# ----------------------------------------------------------------- properties
@settings(deadline=None, max_examples=50)
@given(lr=st.floats(0.0, 10.0), frac=st.floats(0.0, 1.0), total=st.integers(1, 2000))
def test_cosine_bounded_and_non_increasing(lr, frac, total):
    min_lr = lr * frac
    s = schedules.CosineDecay(lr, total, min_lr)
    v = values(s, range(0, total + 5))
    assert np.all(v >= min_lr) and np.all(v <= lr)
    assert np.all(np.diff(v) <= 0)
    assert v[0] == lr and v[-1] == min_lr


@settings(deadline=None, max_examples=50)
@given(lr=st.floats(0.0, 10.0), gamma=st.floats(1e-3, 1.0), step_size=st.integers(1, 50))
def test_step_decay_non_increasing(lr, gamma, step_size):
    v = values(schedules.StepDecay(lr, step_size, gamma), range(0, 400))
    assert np.all(np.diff(v) <= 0)
    assert v[0] == lr and np.all(v >= 0)
