"""Bad input: each case raises the right exception with a message naming the problem,
and nothing is changed by the failed call."""
import numpy as np
import pytest

import fastopt as fo
from fastopt import book, optim


def _p():
    return {"W": np.ones((3, 2)), "b": np.zeros(2)}


def _g():
    return {"W": np.ones((3, 2)), "b": np.ones(2)}


# (id, callable, exception, message regex)
CONSTRUCTION = [
    ("negative lr", lambda: optim.SGD(_p(), lr=-0.1), ValueError, "lr must be >= 0"),
    ("nan lr", lambda: optim.Adam(_p(), lr=float("nan")), ValueError, "lr must be finite"),
    ("string lr", lambda: optim.Adam(_p(), lr="0.1"), TypeError, "lr must be a real number"),
    ("bool lr", lambda: optim.Adam(_p(), lr=True), TypeError, "lr"),
    ("beta1 = 1", lambda: optim.Adam(_p(), betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be < 1"),
    ("beta2 < 0", lambda: optim.Adam(_p(), betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be >= 0"),
    ("betas length", lambda: optim.Adamax(_p(), betas=(0.9,)), TypeError, "betas must be a tuple of 2"),
    ("zero eps", lambda: optim.Adam(_p(), eps=0.0), ValueError, "eps must be > 0"),
    ("negative momentum", lambda: optim.SGD(_p(), momentum=-0.5), ValueError, "momentum must be >= 0"),
    ("dampening > 1", lambda: optim.SGD(_p(), momentum=0.9, dampening=1.5), ValueError, "dampening"),
    ("nesterov without momentum", lambda: optim.SGD(_p(), nesterov=True), ValueError, "nesterov"),
    ("negative weight decay", lambda: optim.AdamW(_p(), weight_decay=-1e-2), ValueError, "weight_decay"),
    ("rmsprop alpha > 1", lambda: optim.RMSprop(_p(), alpha=1.5), ValueError, "alpha"),
    ("adadelta rho nan", lambda: optim.Adadelta(_p(), rho=float("nan")), ValueError, "rho"),
    ("bad variant", lambda: optim.Adam(_p(), variant="keras"), ValueError, "variant"),
    ("bad nonfinite policy", lambda: optim.Adam(_p(), nonfinite="ignore"), ValueError, "nonfinite"),
    ("negative max_grad_norm", lambda: optim.Adam(_p(), max_grad_norm=-1), ValueError, "max_grad_norm"),
    ("zero clip_value", lambda: optim.Adam(_p(), clip_value=0), ValueError, "clip_value"),
    ("maximize not bool", lambda: optim.SGD(_p(), maximize="yes"), TypeError, "maximize"),
    ("int params", lambda: optim.SGD({"W": np.ones(3, dtype=np.int64)}), TypeError,
     r"params\['W'\] must have dtype float32 or float64"),
    ("float16 params", lambda: optim.SGD({"W": np.ones(3, dtype=np.float16)}), TypeError, "float16"),
    ("read-only params", lambda: optim.SGD({"W": _readonly(np.ones(3))}), ValueError, r"params\['W'\] is read-only"),
    ("non-contiguous params", lambda: optim.SGD({"W": np.ones((4, 4))[:, ::2]}), ValueError,
     r"params\['W'\] is not C-contiguous"),
    ("list params", lambda: optim.SGD({"W": [1.0, 2.0]}), TypeError, r"params\['W'\] must be a numpy.ndarray"),
    ("empty params", lambda: optim.SGD([]), ValueError, "params must not be empty"),
    ("bare ndarray", lambda: optim.SGD(np.ones(3)), TypeError, "single ndarray"),
    ("unknown group key", lambda: optim.SGD([{"params": _p(), "lrr": 0.1}]), ValueError,
     r"param_groups\[0\]: unknown key 'lrr'"),
    ("group without params", lambda: optim.SGD([{"lr": 0.1}]), ValueError, "has no 'params'"),
    ("same array twice", lambda: _twice(), ValueError, "share memory"),
    ("overlapping views", lambda: optim.SGD({"a": _BASE[:5], "b": _BASE[3:]}), ValueError, "share memory"),
    ("duplicate name across groups", lambda: optim.SGD([{"params": {"W": np.ones(2)}},
                                                        {"params": {"W": np.ones(2)}}]), ValueError, "'W'"),
    ("bad group lr", lambda: optim.SGD([{"params": _p(), "lr": -1}]), ValueError, r"param_groups\[0\]\['lr'\]"),
    ("unknown backend", lambda: fo.set_backend("cuda"), ValueError, "unknown backend 'cuda'"),
    ("schedule bad step_size", lambda: optim.StepDecay(0.1, step_size=0), ValueError, "step_size"),
    ("flat params bad dtype", lambda: fo.FlatParams({"W": np.ones(2)}, dtype=np.int32), TypeError, "dtype"),
    ("threads out of range", lambda: fo.set_num_threads(0), ValueError, "n must be between"),
]

_BASE = np.zeros(10)


def _readonly(a):
    a.flags.writeable = False
    return a


def _twice():
    w = np.ones(3)
    return optim.SGD([w, w])


@pytest.mark.parametrize("make, exc, match", [c[1:] for c in CONSTRUCTION],
                         ids=[c[0] for c in CONSTRUCTION])
def test_bad_construction(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


STEP = [
    ("missing grad", {"W": np.ones((3, 2))}, ValueError, "grads has no entry for parameter 'b'"),
    ("wrong shape", {"W": np.ones((2, 3)), "b": np.ones(2)}, ValueError,
     r"grads\['W'\] has shape \(2, 3\), but the parameter has shape \(3, 2\)"),
    ("int grad", {"W": np.ones((3, 2), dtype=int), "b": np.ones(2)}, TypeError,
     r"grads\['W'\] must have a floating dtype"),
    ("complex grad", {"W": np.ones((3, 2), complex), "b": np.ones(2)}, TypeError, "floating dtype"),
    ("list grad", {"W": [[1.0] * 2] * 3, "b": np.ones(2)}, TypeError, r"grads\['W'\] must be a numpy.ndarray"),
    ("None grad", {"W": None, "b": np.ones(2)}, ValueError, r"grads\['W'\] is None"),
    ("unknown grad key", {"W": np.ones((3, 2)), "b": np.ones(2), "c": np.ones(1)}, ValueError,
     "unknown parameters"),
    ("wrong number of grads", [np.ones((3, 2))], ValueError, "grads has 1 entries"),
    ("ndarray as grads", np.ones(3), TypeError, "grads must be a mapping"),
]


@pytest.mark.parametrize("grads, exc, match", [c[1:] for c in STEP], ids=[c[0] for c in STEP])
@pytest.mark.parametrize("cls", [optim.Adam, optim.SGD])
def test_bad_step_changes_nothing(cls, grads, exc, match):
    p = _p()
    opt = cls(p, lr=0.1, momentum=0.9) if cls is optim.SGD else cls(p, lr=0.1)
    opt.step(_g())
    before = {k: v.copy() for k, v in p.items()}
    state = opt.state_dict()
    with pytest.raises(exc, match=match):
        opt.step(grads)
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for name in state["state"]:
        for key in state["state"][name]:
            np.testing.assert_array_equal(after["state"][name][key], state["state"][name][key])


def test_step_without_grads_needs_flat_params():
    with pytest.raises(ValueError, match="grads is required"):
        optim.SGD(_p()).step()


def test_params_changed_in_group_after_construction():
    opt = optim.SGD(_p())
    opt.param_groups[0]["params"] = ["W"]
    with pytest.raises(ValueError, match=r"\['params'\] cannot be changed"):
        opt.step(_g())


def test_book_rejects_non_numeric_params():
    with pytest.raises(TypeError, match=r"params\['x'\] must be a numpy array or a real number"):
        book.SGD().update({"x": "7"}, {"x": 1.0})


LOAD = [
    ("wrong optimizer", lambda sd: sd.update(optimizer="SGD"), ValueError, "is for optimizer 'SGD'"),
    ("future version", lambda sd: sd.update(format_version=99), ValueError, "format_version 99"),
    ("missing state", lambda sd: sd["state"].pop("b"), ValueError, r"state_dict\['state'\] is missing \['b'\]"),
    ("unknown state key", lambda sd: sd["state"]["W"].update(z=np.zeros((3, 2))), ValueError, "unknown keys"),
    ("wrong state shape", lambda sd: sd["state"]["W"].update(m=np.zeros(6)), ValueError,
     r"\['m'\] is float64\[6\], the parameter is float64\[3, 2\]"),
    ("wrong state dtype", lambda sd: sd["state"]["W"].update(m=np.zeros((3, 2), np.float32)), ValueError,
     "float32"),
    ("renamed param", lambda sd: sd["param_groups"][0].update(params=["W", "c"]), ValueError, "'c'"),
    ("hyperparameter mismatch", lambda sd: sd["param_groups"][0]["hyperparameters"].update(eps=1e-3),
     ValueError, r"param_groups\[0\]\.eps: saved 0.001"),
    ("negative step", lambda sd: sd["param_groups"][0]["state"].update(step=-3), ValueError, "step"),
    ("not a dict", lambda sd: sd.clear(), ValueError, "state_dict is missing"),
]


@pytest.mark.parametrize("corrupt, exc, match", [c[1:] for c in LOAD], ids=[c[0] for c in LOAD])
def test_bad_state_dict_is_named_and_changes_nothing(corrupt, exc, match):
    p = _p()
    opt = optim.Adam(p, lr=0.1)
    opt.step(_g())
    sd = opt.state_dict()
    corrupt(sd)
    opt.step(_g())
    before = opt.state_dict()
    with pytest.raises(exc, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    np.testing.assert_array_equal(after["state"]["W"]["m"], before["state"]["W"]["m"])


def test_corrupt_checkpoint_file(tmp_path):
    p = _p()
    opt = optim.Adam(p)
    path = optim.save_checkpoint(tmp_path / "c.npz", opt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid fastopt checkpoint"):
        optim.load_checkpoint(path, opt)


def test_foreign_npz_is_rejected(tmp_path):
    np.savez(tmp_path / "foreign.npz", W=np.ones((3, 2)))
    with pytest.raises(ValueError, match="not a fastopt checkpoint"):
        optim.load_checkpoint(tmp_path / "foreign.npz", optim.Adam(_p()))


def test_checkpoint_for_other_parameters(tmp_path):
    path = optim.save_checkpoint(tmp_path / "c.npz", optim.Adam({"W": np.ones(4)}))
    with pytest.raises(ValueError, match="do not match"):
        optim.load_checkpoint(path, optim.Adam(_p()))


def test_no_numba_typing_error_reaches_the_user():
    """Mixed dtypes across params go to separate kernel calls; odd inputs never reach Numba."""
    p = {"a": np.ones(3, np.float32), "b": np.ones(3)}
    opt = optim.Adam(p)
    opt.step({"a": np.ones(3), "b": np.ones(3, np.float32)})
    assert p["a"].dtype == np.float32 and p["b"].dtype == np.float64


def test_schedule_giving_a_bad_lr_fails_before_any_update():
    class Broken(optim.Schedule):
        def __call__(self, step):
            return -1.0 if step >= 1 else 0.1

        def get_config(self):
            return {"name": "Broken"}

    a, b = np.ones(3), np.ones(3)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": Broken()}], lr=0.1)
    opt.step([np.ones(3), np.ones(3)])
    before = a.copy(), b.copy()
    with pytest.raises(ValueError, match=r"param_groups\[1\]\['lr'\] gives -1.0 at step 1"):
        opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])
    assert opt.group_state[0]["step"] == 1
