"""torch.optim's surface on fastopt optimizers: zero_grad, add_param_group, state,
step(closure), torch-style schedulers (checked against torch where installed), reprs,
and the route for torch users (fastopt optimizers over tensors' NumPy views)."""
import copy
import json

import numpy as np
import pytest

import fastopt as fo
from fastopt.optim import lr_scheduler as ls
from fastopt.train import EarlyStopping, Trainer


def _params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((3, 4)).astype(dtype), "b": rng.standard_normal(4).astype(dtype)}


# ---------------------------------------------------------------------- zero_grad
def test_zero_grad_zeroes_flat_gradients():
    flat = fo.FlatParams(_params())
    opt = fo.optim.SGD(flat, lr=0.1)
    flat.grads["W"][...] = 1.0
    for set_to_none in (True, False):
        flat.grads["b"][...] = 2.0
        opt.zero_grad(set_to_none=set_to_none)
        assert not flat.grad_buffers[np.dtype(np.float64)].any()
    opt2 = fo.optim.SGD(_params(), lr=0.1)
    opt2.zero_grad()  # per-array groups: nothing held, nothing to do
    with pytest.raises(TypeError, match="set_to_none"):
        opt.zero_grad(set_to_none="yes")


def test_zero_grad_on_a_network():
    net = fo.nn.Sequential([fo.nn.Affine(np.arange(6.0).reshape(3, 2), np.zeros(2))])
    opt = fo.optim.Adam(net.params)
    net.gradient(np.ones((4, 3)), np.array([0, 1, 1, 1]))
    assert any(g.any() for g in net.grads.values())
    opt.zero_grad()
    assert not any(g.any() for g in net.grads.values())


# ---------------------------------------------------------------------- add_param_group
def test_add_param_group_validated_allocated_and_saved():
    p = _params()
    opt = fo.optim.Adam({"W": p["W"]}, lr=0.1, amsgrad=True)
    b = p["b"]
    opt.add_param_group({"params": {"b": b}, "lr": 0.01, "betas": (0.8, 0.99)})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["amsgrad"] is True
    assert set(opt.state["b"]) == {"m", "v", "v_max", "step"} and opt.state["b"]["step"] == 0
    opt.step({"W": np.ones((3, 4)), "b": np.ones(4)})
    assert opt.state["b"]["step"] == 1
    sd = opt.state_dict()
    assert len(sd["param_groups"]) == 2 and set(sd["state"]) == {"W", "b"}
    # a fresh optimizer with the same groups resumes it; without the group it refuses
    q = {k: v.copy() for k, v in p.items()}
    twin = fo.optim.Adam({"W": q["W"]}, lr=0.1, amsgrad=True)
    with pytest.raises(ValueError, match="groups"):
        twin.load_state_dict(copy.deepcopy(sd))
    twin.add_param_group({"params": {"b": q["b"]}, "lr": 0.01, "betas": (0.8, 0.99)})
    twin.load_state_dict(copy.deepcopy(sd))
    np.testing.assert_array_equal(twin.state["b"]["v_max"], opt.state["b"]["v_max"])


def test_add_param_group_list_names_continue_the_count():
    a, b, c = (np.zeros(2) for _ in range(3))
    opt = fo.optim.SGD([a, b], lr=0.1)
    opt.add_param_group({"params": [c], "lr": 1.0})
    assert opt.param_names() == ["0", "1", "2"]
    opt.step([np.ones(2)] * 3)
    np.testing.assert_array_equal(c, -np.ones(2))
    np.testing.assert_array_equal(a, -0.1 * np.ones(2))


@pytest.mark.parametrize("group,exc,match", [
    ({"params": {"W": np.zeros(2)}}, ValueError, "already in another group"),
    ({"params": "W"}, TypeError, "params"),
    ({"lr": 0.1}, ValueError, "'params'"),
    ({"params": {"x": np.zeros(2)}, "lr": -1.0}, ValueError, r"param_groups\[1\]\['lr'\]"),
    ({"params": {"x": np.zeros(2)}, "momentum": 0.9}, ValueError, "unknown key 'momentum'"),
    ({"params": {"x": np.zeros(2, np.int32)}}, TypeError, "x"),
    ({"params": {"x": np.zeros(4)[::2]}}, (TypeError, ValueError), "x"),
    ({"params": {}}, ValueError, "empty"),
    ([np.zeros(2)], TypeError, "param_group"),
])
def test_add_param_group_bad_input_adds_nothing(group, exc, match):
    p = _params()
    opt = fo.optim.Adam({"W": p["W"]}, lr=0.1)
    before = (copy.deepcopy(opt.param_groups), opt.param_names(), len(opt.group_state))
    with pytest.raises(exc, match=match):
        opt.add_param_group(group)
    assert (opt.param_groups, opt.param_names(), len(opt.group_state)) == before
    opt.step({"W": np.ones((3, 4))})


def test_add_param_group_refuses_shared_memory():
    flat = fo.FlatParams(_params())
    opt = fo.optim.SGD(flat, lr=0.1)
    with pytest.raises(ValueError, match="share memory"):
        opt.add_param_group({"params": {"alias": flat["W"]}})
    assert len(opt.param_groups) == 1


# ---------------------------------------------------------------------- state
def test_state_is_live_and_read_only():
    flat = fo.FlatParams(_params())
    opt = fo.optim.Adam(flat, lr=0.1)
    flat.grads["W"][...] = 1.0
    opt.step()
    m = opt.state["W"]["m"]
    assert np.shares_memory(m, opt._slots[0][0].state["m"])
    m[...] = 0.0  # in place: the optimizer sees it
    assert not opt.state_view("W", "m").any()
    with pytest.raises(TypeError):
        opt.state["W"]["m"] = np.ones((3, 4))
    with pytest.raises(TypeError):
        opt.state["W"] = {}
    assert opt.state["W"]["step"] == 1 and set(opt.state) == {"W", "b"}


# ---------------------------------------------------------------------- step(closure)
def test_step_closure_returns_loss_flat_and_tuple():
    flat = fo.FlatParams({"x": np.array([3.0])})
    opt = fo.optim.SGD(flat, lr=0.25)

    def closure():
        opt.zero_grad()
        flat.grads["x"][...] = 2 * flat["x"]
        return float(flat["x"][0] ** 2)
    assert opt.step(closure) == 9.0
    assert flat["x"][0] == 1.5
    assert opt.step(closure=closure) == 2.25
    x = np.array([1.0])
    opt2 = fo.optim.SGD([x], lr=0.5)
    assert opt2.step(lambda: (7.0, [np.array([1.0])])) == 7.0 and x[0] == 0.5
    with pytest.raises(ValueError, match="grads is required"):
        opt2.step(lambda: 1.0)
    with pytest.raises(TypeError, match="closure"):
        opt2.step(None, closure=3)
    with pytest.raises(TypeError, match="not both"):
        opt2.step([np.ones(1)], closure=lambda: 1.0)


# ---------------------------------------------------------------------- reprs
def test_repr_follows_param_group_edits():
    opt = fo.optim.Adam(_params(), lr=0.1)
    assert "lr=0.1" in repr(opt)
    opt.param_groups[0]["lr"] = 0.5
    assert "lr=0.5" in repr(opt) and "lr=0.1" not in repr(opt)
    opt.add_param_group({"params": {"c": np.zeros(3)}, "lr": 0.01})
    assert "group 1: 1 params, lr=0.01" in repr(opt)


def test_trainer_and_early_stopping_reprs():
    stop = EarlyStopping("val_acc", patience=3)
    assert repr(stop) == "EarlyStopping(monitor='val_acc', patience=3, mode='max', min_delta=0.0)"
    net = fo.nn.Sequential([fo.nn.Affine(np.ones((3, 2)), np.zeros(2))])
    trainer = Trainer(net, fo.optim.SGD(net.params, lr=0.1), np.ones((8, 3)), np.zeros(8, int),
                      epochs=2, batch_size=4, callbacks=[stop], progress=False)
    text = repr(trainer)
    assert text.startswith("Trainer(") and "SGD(" in text and "epochs=2" in text
    assert "batch_size=4" in text and "EarlyStopping(" in text and "n_train=8" in text


# ---------------------------------------------------------------------- schedulers
torch_only = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("torch"), reason="torch is not installed")

SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 10, 10, 25], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=12, eta_min=1e-3)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=15)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=40)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=40, three_phase=True, anneal_strategy="linear")),
]


def _pair(momentum=0.9, adam=False):
    """The same two-group problem in torch and fastopt; returns (fastopt, torch) optimizers."""
    import torch
    p = _params()
    tw, tb = (torch.tensor(v.copy(), requires_grad=True) for v in p.values())
    if adam:
        ours = fo.optim.Adam([{"params": {"W": p["W"]}}, {"params": {"b": p["b"]}, "lr": 0.05}], lr=0.1)
        theirs = torch.optim.Adam([{"params": [tw]}, {"params": [tb], "lr": 0.05}], lr=0.1)
    else:
        ours = fo.optim.SGD([{"params": {"W": p["W"]}}, {"params": {"b": p["b"]}, "lr": 0.05}],
                            lr=0.1, momentum=momentum)
        theirs = torch.optim.SGD([{"params": [tw]}, {"params": [tb], "lr": 0.05}], lr=0.1,
                                 momentum=momentum)
    return ours, theirs, p, (tw, tb)


def _train_both(ours, theirs, p, tensors, sched_o, sched_t, steps, metric=None):
    import torch
    lrs_o, lrs_t = [], []
    for k in range(steps):
        grads = {"W": np.sin(p["W"] + k), "b": np.cos(p["b"] * k)}
        for t, g in zip(tensors, grads.values()):
            t.grad = torch.tensor(g)
        ours.step(grads)
        theirs.step()
        if metric is None:
            sched_o.step()
            sched_t.step()
        else:
            sched_o.step(metric(k))
            sched_t.step(metric(k))
        lrs_o.append(sched_o.get_last_lr())
        lrs_t.append(sched_t.get_last_lr())
    return lrs_o, lrs_t


@torch_only
@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{s[0]}-{i}" for i, s in enumerate(SCHEDULERS)])
def test_scheduler_matches_torch(name, kw):
    import torch
    adam = name == "OneCycleLR" and kw.get("three_phase")
    ours, theirs, p, tensors = _pair(adam=adam)
    steps = kw.get("total_steps", 40)
    so, st = getattr(ls, name)(ours, **kw), getattr(torch.optim.lr_scheduler, name)(theirs, **kw)
    assert so.get_last_lr() == st.get_last_lr()
    lrs_o, lrs_t = _train_both(ours, theirs, p, tensors, so, st, steps)
    np.testing.assert_allclose(lrs_o, lrs_t, rtol=1e-14, atol=0)
    for ours_arr, t in zip(p.values(), tensors):
        np.testing.assert_allclose(ours_arr, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@torch_only
@pytest.mark.filterwarnings("ignore:Detected call of:UserWarning")
def test_sequential_and_chained_schedulers_match_torch():
    import torch
    ours, theirs, p, tensors = _pair()
    so = ls.SequentialLR(ours, [ls.LinearLR(ours, start_factor=0.1, total_iters=5),
                                ls.CosineAnnealingLR(ours, T_max=20)], milestones=[5])
    tl = torch.optim.lr_scheduler
    st = tl.SequentialLR(theirs, [tl.LinearLR(theirs, start_factor=0.1, total_iters=5),
                                  tl.CosineAnnealingLR(theirs, T_max=20)], milestones=[5])
    lrs_o, lrs_t = _train_both(ours, theirs, p, tensors, so, st, 30)
    np.testing.assert_allclose(lrs_o, lrs_t, rtol=1e-14)
    # two schedulers on one optimizer compose (torch's chainable form)
    ours, theirs, p, tensors = _pair()
    a, b = ls.ExponentialLR(ours, gamma=0.9), ls.StepLR(ours, step_size=3, gamma=0.5)
    ta, tb = tl.ExponentialLR(theirs, gamma=0.9), tl.StepLR(theirs, step_size=3, gamma=0.5)
    for _ in range(10):
        a.step(), b.step(), ta.step(), tb.step()
    np.testing.assert_allclose(b.get_last_lr(), tb.get_last_lr(), rtol=1e-14)


@torch_only
@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", patience=2, cooldown=2,
                                             factor=0.5, min_lr=[0.01, 0.02])])
def test_reduce_on_plateau_matches_torch(kw):
    import torch
    ours, theirs, p, tensors = _pair()
    so, st = ls.ReduceLROnPlateau(ours, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kw)

    def metric(k):
        return 1.0 / (1 + min(k, 5)) + 0.001 * (k % 3)
    lrs_o, lrs_t = _train_both(ours, theirs, p, tensors, so, st, 60, metric=metric)
    np.testing.assert_allclose(lrs_o, lrs_t, rtol=1e-14)
    assert len({tuple(x) for x in lrs_o}) > 1  # it did reduce


@pytest.mark.parametrize("make", [
    lambda o: ls.StepLR(o, 3, 0.5), lambda o: ls.MultiStepLR(o, [2, 5]),
    lambda o: ls.CosineAnnealingLR(o, 7), lambda o: ls.OneCycleLR(o, 1.0, total_steps=30),
    lambda o: ls.ReduceLROnPlateau(o, patience=1),
    lambda o: ls.SequentialLR(o, [ls.ConstantLR(o, 0.5, 3), ls.ExponentialLR(o, 0.9)], [4]),
])
def test_scheduler_state_dict_resume_is_exact(make):
    """Save at step K (through JSON), load into a new scheduler, continue: the same rates."""
    def run(sched, k0, k1):
        out = []
        for k in range(k0, k1):
            if isinstance(sched, ls.ReduceLROnPlateau):
                sched.step(1.0)
            else:
                sched.step()
            out.append(sched.get_last_lr())
        return out
    opt = fo.optim.SGD(_params(), lr=0.2, momentum=0.9)
    full = make(opt)
    straight = run(full, 0, 20)
    opt1 = fo.optim.SGD(_params(), lr=0.2, momentum=0.9)
    first = make(opt1)
    run(first, 0, 8)
    saved = json.loads(json.dumps(first.state_dict()))
    opt_sd = opt1.state_dict()
    opt2 = fo.optim.SGD(_params(), lr=0.2, momentum=0.9)
    second = make(opt2)
    opt2.load_state_dict(opt_sd, strict=False)
    second.load_state_dict(saved)
    resumed = run(second, 8, 20)
    np.testing.assert_allclose(resumed, straight[8:], rtol=1e-15)


def test_scheduler_bad_input():
    opt = fo.optim.SGD(_params(), lr=fo.optim.CosineDecay(0.1, total_steps=10))
    with pytest.raises(TypeError, match="must be a number"):
        ls.StepLR(opt, 3)
    opt = fo.optim.SGD(_params(), lr=0.1)
    with pytest.raises(TypeError, match="Optimizer"):
        ls.StepLR(object(), 3)
    with pytest.raises(ValueError, match="step_size"):
        ls.StepLR(opt, 0)
    with pytest.raises(ValueError, match="last_epoch"):
        ls.StepLR(opt, 3, last_epoch=5)
    with pytest.raises(ValueError, match="momentum"):
        ls.OneCycleLR(fo.optim.Adagrad(_params()), 0.1, total_steps=5)
    sched = ls.OneCycleLR(opt, 0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step"):
        sched.step()
    with pytest.raises(ValueError, match="not a StepLR state"):
        ls.StepLR(opt, 2).load_state_dict({"bogus": 1})
    s = ls.StepLR(opt, 2)
    opt.add_param_group({"params": {"z": np.zeros(1)}})
    with pytest.raises(ValueError, match="param groups"):
        s.step()
    assert "StepLR(step_size=2, gamma=0.1" in repr(s)


# ---------------------------------------------------------------------- the torch user's route
@torch_only
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=1e-2, weight_decay=1e-3)),
                                     ("SGD", dict(lr=1e-2, momentum=0.9, nesterov=True)),
                                     ("AdamW", dict(lr=1e-2))])
def test_fastopt_over_torch_tensors_matches_torch_for_100_steps(name, kw):
    """torch computes the gradients; a fastopt optimizer updates the tensors through
    their NumPy views (``t.detach().numpy()``), in place, as torch.optim would."""
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    twin = copy.deepcopy(model)
    x, y = torch.randn(32, 5), torch.randn(32, 2)
    opt = getattr(fo.optim, name)({n: p.detach().numpy() for n, p in model.named_parameters()}, **kw)
    ref = getattr(torch.optim, name)(twin.parameters(), **kw)
    for _ in range(100):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step({n: p.grad.numpy() for n, p in model.named_parameters()})
        ref.zero_grad()
        torch.nn.functional.mse_loss(twin(x), y).backward()
        ref.step()
    for (n, a), b in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=n)
