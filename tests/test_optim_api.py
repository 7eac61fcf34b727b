"""The optimizer API: param forms, groups, freezing, options, flat buffers, clipping."""
import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt as fo
from fastopt import _backend
from fastopt.optim import OPTIMIZERS

BOOK_NET = {"W1": (784, 100), "b1": (100,), "W2": (100, 100), "b2": (100,),
            "W3": (100, 100), "b3": (100,), "W4": (100, 100), "b4": (100,),
            "W5": (100, 10), "b5": (10,)}


def _params(rng, shapes, dtype=np.float64):
    return {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}


def _grads(rng, shapes, dtype=np.float64):
    return {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}


SMALL = {"W": (5, 3), "b": (3,), "c": (2, 2, 2)}


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_every_optimizer_moves_downhill_on_a_quadratic(cls, backend, dtype):
    target = np.linspace(-1, 1, 11).astype(dtype)
    w = {"w": np.zeros(11, dtype)}
    lr = {"Adadelta": 1.0, "SGD": 0.1, "Momentum": 0.1, "Nesterov": 0.1}.get(cls.__name__, 0.05)
    opt = cls(w, lr=lr)
    loss0 = float(np.sum((w["w"] - target) ** 2))
    for _ in range(100):
        opt.step({"w": 2 * (w["w"] - target)})
    assert float(np.sum((w["w"] - target) ** 2)) < 0.5 * loss0


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_backends_agree_bit_for_bit_through_the_api(cls, dtype):
    results = []
    for name in fo.available_backends():
        rng = np.random.default_rng(0)
        p = _params(rng, SMALL, dtype)
        with fo.use_backend(name):
            opt = cls([{"params": {"W": p["W"]}}, {"params": {"b": p["b"], "c": p["c"]},
                                                  "weight_decay": 0.01}], lr=0.01,
                      max_grad_norm=1.0)
            for _ in range(20):
                opt.step(_grads(rng, SMALL, dtype))
        results.append(p)
    for other in results[1:]:
        for k in SMALL:
            assert_bits_equal(other[k], results[0][k], k)


def test_param_forms_mapping_list_groups_and_flat_agree():
    rng = np.random.default_rng(1)
    base = _params(rng, SMALL)
    grads = [_grads(rng, SMALL) for _ in range(10)]
    forms = {}
    p = {k: v.copy() for k, v in base.items()}
    opt = fo.optim.Adam(p, lr=0.01)
    for g in grads:
        opt.step(g)
    forms["mapping"] = p
    arrs = [base[k].copy() for k in SMALL]
    opt = fo.optim.Adam(arrs, lr=0.01)
    for g in grads:
        opt.step([g[k] for k in SMALL])
    forms["list"] = dict(zip(SMALL, arrs))
    p = {k: v.copy() for k, v in base.items()}
    opt = fo.optim.Adam([{"params": {"W": p["W"]}}, {"params": {"b": p["b"], "c": p["c"]}}], lr=0.01)
    for g in grads:
        opt.step(g)
    forms["groups"] = p
    flat = fo.FlatParams(base)
    opt = fo.optim.Adam(flat, lr=0.01)
    for g in grads:
        for k in SMALL:
            flat.grads[k][...] = g[k]
        opt.step()
    forms["flat"] = dict(flat)
    flat2 = fo.FlatParams(base)
    opt = fo.optim.Adam(flat2, lr=0.01)
    for g in grads:
        opt.step(g)  # separate gradient arrays are gathered
    forms["flat-gathered"] = dict(flat2)
    for name, result in forms.items():
        for k in SMALL:
            assert_bits_equal(result[k], forms["mapping"][k], f"{name}:{k}")


def test_book_network_step_is_one_kernel_call_with_flat_params(monkeypatch):
    calls = []
    kernels = _backend.kernels()
    original = kernels.adam
    monkeypatch.setattr(kernels, "adam", lambda *a: (calls.append(a[0].size), original(*a)))
    rng = np.random.default_rng(2)
    model = fo.FlatParams(_params(rng, BOOK_NET, np.float32))
    opt = fo.optim.Adam(model, lr=1e-3)
    for k, s in BOOK_NET.items():
        model.grads[k][...] = rng.standard_normal(s)
    opt.step()
    assert calls == [109810]
    calls.clear()
    separate = _params(rng, BOOK_NET, np.float32)
    fo.optim.Adam(separate, lr=1e-3).step(_grads(rng, BOOK_NET, np.float32))
    assert len(calls) == 10


def test_flat_params_views_share_the_buffer():
    model = fo.FlatParams({"W": np.ones((2, 3)), "b": np.zeros(3), "h": np.ones(2, np.float32)})
    assert len(model.buffers) == 2
    W = model["W"]
    opt = fo.optim.SGD(model, lr=0.5)
    model.grads["W"][...] = 1.0
    opt.step()
    np.testing.assert_array_equal(W, 0.5)
    assert np.shares_memory(W, model.buffers[np.dtype(np.float64)])


def test_frozen_group_is_untouched_and_needs_no_grads():
    rng = np.random.default_rng(3)
    p = _params(rng, SMALL)
    before = {k: v.copy() for k, v in p.items()}
    opt = fo.optim.Adam([{"params": {"W": p["W"]}},
                         {"params": {"b": p["b"], "c": p["c"]}, "frozen": True}], lr=0.1)
    opt.step({"W": np.ones((5, 3))})
    assert not np.array_equal(p["W"], before["W"])
    assert_bits_equal(p["b"], before["b"])
    assert opt.group_state[1]["step"] == 0
    opt.param_groups[1]["frozen"] = False  # unfreeze later
    opt.step({k: np.ones(s) for k, s in SMALL.items()})
    assert not np.array_equal(p["b"], before["b"])


def test_per_group_hyperparameters_override_defaults():
    a, b = np.zeros(3), np.zeros(3)
    opt = fo.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_allclose(a, -0.1)
    np.testing.assert_allclose(b, -0.5)


def test_maximize_ascends():
    w = {"w": np.zeros(2)}
    fo.optim.SGD(w, lr=0.1, maximize=True).step({"w": np.ones(2)})
    np.testing.assert_allclose(w["w"], 0.1)


def test_decoupled_weight_decay_shrinks_parameters_without_gradient():
    w = {"w": np.full(4, 2.0)}
    opt = fo.optim.SGD(w, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    opt.step({"w": np.zeros(4)})
    np.testing.assert_allclose(w["w"], 2.0 * (1 - 0.1 * 0.5))
    w2 = {"w": np.full(4, 2.0)}
    fo.optim.SGD(w2, lr=0.1, weight_decay=0.5).step({"w": np.zeros(4)})  # coupled: g + λθ
    np.testing.assert_allclose(w2["w"], 2.0 - 0.1 * 0.5 * 2.0)


def test_clip_by_global_norm_matches_manual_scaling():
    rng = np.random.default_rng(4)
    p1, p2 = _params(rng, SMALL), None
    p2 = {k: v.copy() for k, v in p1.items()}
    g = _grads(rng, SMALL)
    fo.optim.SGD(p1, lr=0.1, max_grad_norm=0.5).step(g)
    norm = np.sqrt(sum(np.sum(x ** 2) for x in g.values()))
    scaled = {k: v * (0.5 / (norm + 1e-6)) for k, v in g.items()}
    fo.optim.SGD(p2, lr=0.1).step(scaled)
    for k in SMALL:
        np.testing.assert_allclose(p1[k], p2[k], rtol=1e-14)


def test_clip_value_clamps_each_element():
    w = {"w": np.zeros(3)}
    fo.optim.SGD(w, lr=1.0, clip_value=0.25).step({"w": np.array([-3.0, 0.1, 5.0])})
    np.testing.assert_array_equal(w["w"], [0.25, -0.1, -0.25])


def test_standalone_clipping_functions():
    g = {"a": np.array([3.0, 4.0]), "b": np.array([0.0])}
    assert fo.optim.global_norm(g) == 5.0
    assert fo.optim.clip_grad_norm(g, 1.0) == 5.0
    np.testing.assert_allclose(g["a"], [0.6, 0.8], rtol=1e-6)
    fo.optim.clip_grad_value(g, 0.7)
    np.testing.assert_allclose(g["a"], [0.6, 0.7], rtol=1e-6)


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_nonfinite_skip_leaves_everything_bit_unchanged(cls, backend):
    rng = np.random.default_rng(5)
    p = _params(rng, SMALL, np.float32)
    opt = cls(p, lr=0.01, nonfinite="skip")
    opt.step(_grads(rng, SMALL, np.float32))
    before_p = {k: v.copy() for k, v in p.items()}
    before_state = opt.state_dict()
    bad = _grads(rng, SMALL, np.float32)
    bad["c"][1, 0, 1] = np.nan
    assert opt.step(bad) is False
    assert opt.skipped_steps == 1
    for k in SMALL:
        assert_bits_equal(p[k], before_p[k], k)
    after_state = opt.state_dict()
    assert after_state["param_groups"] == before_state["param_groups"]
    for name in SMALL:
        for key, arr in before_state["state"][name].items():
            assert_bits_equal(after_state["state"][name][key], arr, f"{name}.{key}")
    assert opt.step(_grads(rng, SMALL, np.float32)) is True


def test_nonfinite_raise_names_the_gradient():
    p = {"W": np.zeros(3), "b": np.zeros(2)}
    opt = fo.optim.Adam(p, nonfinite="raise")
    with pytest.raises(fo.optim.NonFiniteGradientError, match="'b'"):
        opt.step({"W": np.ones(3), "b": np.array([1.0, np.inf])})
    assert opt.step_count == 0 and not p["W"].any()


def test_nonfinite_propagate_is_the_default():
    p = {"W": np.zeros(3)}
    fo.optim.SGD(p, lr=0.1).step({"W": np.array([np.nan, 1.0, 1.0])})
    assert np.isnan(p["W"][0]) and p["W"][1] == -0.1


def test_huge_but_finite_gradients_are_not_skipped():
    p = {"W": np.zeros(2)}
    opt = fo.optim.SGD(p, lr=1e-300, nonfinite="skip")
    assert opt.step({"W": np.array([1e200, 1e200])}) is True  # sum of squares overflows


def test_schedule_drives_the_learning_rate_and_is_per_group():
    a, b = np.zeros(1), np.zeros(1)
    sched = fo.optim.StepDecay(1.0, step_size=2, gamma=0.5)
    opt = fo.optim.SGD([{"params": [a], "lr": sched}, {"params": [b]}], lr=0.1)
    seen = []
    for _ in range(5):
        seen.append(opt.get_lr()[0])
        opt.step([np.ones(1), np.ones(1)])
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert a[0] == -(1 + 1 + 0.5 + 0.5 + 0.25)
    assert b[0] == pytest.approx(-0.5)


def test_reduce_on_plateau_through_the_optimizer():
    w = {"w": np.zeros(1)}
    sched = fo.optim.ReduceLROnPlateau(0.1, patience=0, factor=0.5)
    opt = fo.optim.SGD(w, lr=sched)
    for metric in (1.0, 1.0, 1.0):
        sched.observe(metric)
    assert opt.get_lr() == [0.025]


def test_changed_hyperparameters_are_validated_at_the_next_step():
    p = {"w": np.zeros(2)}
    opt = fo.optim.Adam(p)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.step({"w": np.ones(2)})
    assert not p["w"].any()
    opt.param_groups[0]["lr"] = 0.1
    opt.step({"w": np.ones(2)})
    assert p["w"][0] < 0


def test_grad_dtype_policy_casts_other_floats_and_copies_noncontiguous():
    p = {"w": np.zeros((3, 2), np.float32)}
    opt = fo.optim.SGD(p, lr=1.0)
    opt.step({"w": np.ones((2, 3)).T})  # float64, non-contiguous
    np.testing.assert_array_equal(p["w"], -1.0)


def test_zero_d_and_empty_parameters(backend):
    p = {"s": np.array(2.0), "e": np.zeros((0, 4))}
    opt = fo.optim.Adam(p, lr=0.1)
    opt.step({"s": np.array(1.0), "e": np.zeros((0, 4))})
    assert p["s"] < 2.0 and p["e"].shape == (0, 4)


def test_show_config_and_backend_switching(capsys):
    info = fo.show_config()
    assert "numpy" in info["backends"]
    assert "backends" in capsys.readouterr().out
    with fo.use_backend("numpy"):
        assert fo.get_backend() == "numpy"
    previous = fo.get_backend()
    fo.set_backend("numpy")
    try:
        assert fo.get_backend() == "numpy"
    finally:
        fo.set_backend(previous)


def test_threads_can_be_set():
    pytest.importorskip("numba")
    n = fo.get_num_threads()
    fo.set_num_threads(1)
    try:
        assert fo.get_num_threads() == 1
    finally:
        fo.set_num_threads(n)


def _run_python(code, **env):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(fo.__file__))
    full_env = {**os.environ, **env,
                "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    full_env = {k: v for k, v in full_env.items() if v is not None}  # None: unset it
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env)


def test_fastopt_backend_environment_variable():
    out = _run_python("import fastopt; print(fastopt.get_backend())", FASTOPT_BACKEND="numpy")
    assert out.stdout.strip() == "numpy", out.stderr
    out = _run_python("import fastopt; fastopt.get_backend()", FASTOPT_BACKEND="tpu")
    assert out.returncode != 0 and "FASTOPT_BACKEND: unknown backend 'tpu'" in out.stderr


def test_without_compiled_backends_numpy_serves():
    code = ("import sys; sys.modules['numba'] = sys.modules['fastopt._cy.kernels'] = None\n"
            "import numpy as np, fastopt as fo\n"
            "p = {'w': np.ones(3)}; fo.optim.Adam(p).step({'w': np.ones(3)})\n"
            "print(fo.get_backend(), fo.available_backends(), fo.get_num_threads())")
    out = _run_python(code, FASTOPT_BACKEND="auto")
    assert out.stdout.split() == ["numpy", "['numpy']", "1"], out.stderr


def test_import_compiles_nothing_and_loads_numba_lazily():
    out = _run_python("import sys, fastopt; print('numba' in sys.modules)")
    assert out.stdout.strip() == "False", out.stderr


def test_short_openblas_wait_unless_set():
    """fastopt asks OpenBLAS for a 2**20-cycle idle spin (the default starved the kernels'
    threads; 2**4 made every product wake them), unless the user set one."""
    code = "import os, fastopt; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    assert _run_python(code, OPENBLAS_THREAD_TIMEOUT=None).stdout.strip() == "20"
    assert _run_python(code, OPENBLAS_THREAD_TIMEOUT="7").stdout.strip() == "7"


def test_nesterov_loads_a_checkpoint_that_calls_its_velocity_v():
    optim = fo.optim
    """fastopt 0.1 saved Nesterov's velocity as "v" (the name of Adam's second moment)."""
    w = np.arange(5.0)
    opt = optim.Nesterov({"w": w}, lr=0.1)
    opt.step({"w": np.ones(5)})
    saved = opt.state_dict()
    saved["state"]["w"] = {"v": saved["state"]["w"].pop("velocity")}
    fresh = optim.Nesterov({"w": w.copy()}, lr=0.1)
    fresh.load_state_dict(saved)
    np.testing.assert_array_equal(fresh.state_view("w", "velocity"), opt.state_view("w", "velocity"))


def test_docstrings_fill_shared_paragraphs_with_the_signature_defaults():
    """fastopt.optim._docs: no marker is left, and each shown default is the signature's."""
    import inspect
    import re

    from fastopt.optim._docs import _shown

    for cls in OPTIMIZERS:
        doc = inspect.cleandoc(cls.__doc__)
        assert not re.search(r"^\{[\w, ]+\}$", doc, re.MULTILINE), cls
        if "Takes the arguments of" in doc:
            continue  # AdamW, AMSGrad: the docs site lists Adam's with their defaults
        assert doc.count("\nParameters\n----------\n") == 1, cls
        lr = inspect.signature(cls).parameters["lr"].default
        assert f"lr : float or Schedule, default {_shown(lr)}\n" in doc, cls
