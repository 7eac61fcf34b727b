"""Bad input (issue 12): a failed call changes nothing, and its error names what was wrong.

Covers validated scalars and counters, trainer checkpoints and constructor
arguments, label checks before any layer state moves, aliasing gradients,
several threads stepping one optimizer, and misuse of the command line.
"""
import threading

import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt as fo
from fastopt import cli, nn
from fastopt.optim import checkpoint_io, load_checkpoint, save_checkpoint
from fastopt.optim.schedules import CosineDecay, LinearWarmup, schedule_from_config
from fastopt.train import Trainer

OPTIMIZERS = fo.optim.OPTIMIZERS


# ------------------------------------------------------------------ helpers
def _data(n=60, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def _net(seed=0, last_affine=True):
    rng = np.random.default_rng(seed)
    layers = [nn.Affine(rng.standard_normal((6, 5)) * 0.3, np.zeros(5)),
              nn.BatchNorm(np.ones(5), np.zeros(5)), nn.ReLU(), nn.Dropout(0.3, seed=seed)]
    if last_affine:
        layers.append(nn.Affine(rng.standard_normal((5, 3)) * 0.3, np.zeros(3)))
    return nn.Sequential(layers)


def _trainer(tmp_path=None, **kw):
    x, t = _data()
    net = _net()
    opt = fo.optim.Adam(net.params, lr=1e-2)
    kw = {"epochs": 2, "batch_size": 16, "seed": 0, "progress": False, **kw}
    return Trainer(net, opt, x, t, x[:10], t[:10], **kw)


def _everything(trainer):
    """Parameters, buffers, optimizer state, rng and trainer fields, copied."""
    sd = trainer.optimizer.state_dict()
    return ({k: np.array(v) for k, v in trainer.network.params.items()},
            {k: np.array(v) for k, v in trainer.network.buffers().items()},
            {n: {k: a.copy() for k, a in e.items()} for n, e in sd["state"].items()},
            sd["param_groups"], trainer.rng.bit_generator.state,
            (trainer.epoch, trainer.iteration, trainer.stopped_early,
             {k: list(v) for k, v in trainer.history.items()}))


def _assert_same(a, b):
    for x, y in zip(a[:3], b[:3]):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], dict):
                for kk in x[k]:
                    assert_bits_equal(x[k][kk], y[k][kk], f"{k}/{kk}")
            else:
                assert_bits_equal(x[k], y[k], k)
    assert a[3:] == b[3:]


def _edit_checkpoint(path, edit):
    tree = checkpoint_io.read_tree(path)
    edit(tree)
    return checkpoint_io.write_tree(path, tree)


# -------------------------------------------- Trainer.load: validate, then restore
BAD_TRAINER_FIELDS = {
    "epoch-str": ("epoch", "x"), "epoch-negative": ("epoch", -5), "epoch-float": ("epoch", 2.5),
    "epoch-bool": ("epoch", True), "iteration-str": ("iteration", "x"),
    "iteration-negative": ("iteration", -1), "history-list": ("history", [1, 2]),
    "stopped-early-str": ("stopped_early", "no"), "stopped-early-int": ("stopped_early", 1),
    "rng-bad": ("rng", {"bit_generator": "PCG64", "state": "x"}),
}


@pytest.mark.parametrize("case", list(BAD_TRAINER_FIELDS))
def test_trainer_load_with_a_bad_field_restores_nothing(tmp_path, case):
    key, value = BAD_TRAINER_FIELDS[case]
    saved = _trainer()
    saved.fit()
    path = saved.save(tmp_path / "ck.npz")
    _edit_checkpoint(path, lambda tree: tree["extra"]["trainer"].__setitem__(key, value))
    fresh = _trainer()
    fresh.fit()  # different parameters, state and rng from the checkpoint's... after 2 more epochs
    fresh.epochs = 3
    fresh.fit()
    before = _everything(fresh)
    with pytest.raises(ValueError, match=key):
        fresh.load(path)
    _assert_same(_everything(fresh), before)


@pytest.mark.parametrize("edit", ["missing-key", "non-numbers"])
def test_trainer_load_checks_history(tmp_path, edit):
    saved = _trainer()
    saved.fit()
    path = saved.save(tmp_path / "ck.npz")

    def change(tree):
        history = tree["extra"]["trainer"]["history"]
        if edit == "missing-key":
            del history["val_acc"]
        else:
            history["loss"] = ["a"]

    _edit_checkpoint(path, change)
    fresh = _trainer()
    before = _everything(fresh)
    with pytest.raises(ValueError, match="history"):
        fresh.load(path)
    _assert_same(_everything(fresh), before)


def test_trainer_load_round_trip_still_works(tmp_path):
    a = _trainer()
    a.fit()
    path = a.save(tmp_path / "ck.npz")
    b = _trainer()
    b.load(path)
    _assert_same(_everything(b), _everything(a))


# ----------------------------------------------- Trainer constructor and fit()
@pytest.mark.parametrize("kw, exc, name", [
    ({"eval_samples": "x"}, ValueError, "eval_samples"),
    ({"eval_samples": 0}, ValueError, "eval_samples"),
    ({"callbacks": [5]}, TypeError, r"callbacks\[0\]"),
    ({"callbacks": 5}, TypeError, "callbacks"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": "x"}, TypeError, "seed"),
    ({"progress": "yes"}, TypeError, "progress"),
])
def test_trainer_constructor_refuses_bad_arguments(kw, exc, name):
    with pytest.raises(exc, match=name):
        _trainer(**kw)


def test_trainer_constructor_refuses_checkpoint_in_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="checkpoint.*does not exist"):
        _trainer(checkpoint=tmp_path / "missing" / "ck.npz")
    _trainer(checkpoint=tmp_path / "ck.npz")  # an existing directory is fine


def test_trainer_refuses_float_labels_before_drawing():
    x, t = _data()
    net = _net()
    with pytest.raises(TypeError, match="t_train"):
        Trainer(net, fo.optim.Adam(net.params), x, t.astype(float), seed=0, progress=False)
    trainer = _trainer()
    trainer.t_train = trainer.t_train.astype(float)  # changed after construction
    state = trainer.rng.bit_generator.state
    with pytest.raises(TypeError):
        trainer.fit()
    assert trainer.rng.bit_generator.state == state


def test_failed_first_step_leaves_the_rng_as_it_was():
    trainer = _trainer()
    trainer.t_train = np.full_like(trainer.t_train, 7)  # out of range: the first step raises
    state = trainer.rng.bit_generator.state
    with pytest.raises(ValueError, match="labels"):
        trainer.fit()
    assert trainer.rng.bit_generator.state == state and trainer.iteration == 0


# ------------------------------------ labels checked before layer state moves
def test_bad_labels_move_no_layer_state_without_a_last_affine():
    net = _net(last_affine=False)  # Affine, BatchNorm, ReLU, Dropout: 5 scores
    x, _ = _data(8)
    before = {k: v.copy() for k, v in net.buffers().items()}
    for bad in (np.array([0, 1, 2, 3, 9, 0, 0, 0]), np.arange(8.0), np.zeros((8, 4))):
        with pytest.raises((ValueError, TypeError), match="labels"):
            net.gradient(x, bad)
        for k, v in net.buffers().items():
            assert_bits_equal(v, before[k], k)
    net.gradient(x, np.array([0, 1, 2, 3, 4, 0, 0, 0]))  # valid labels for 5 scores


def test_empty_batch_is_refused_naming_x():
    net = _net()
    x, t = _data(8)
    before = {k: v.copy() for k, v in net.buffers().items()}
    with pytest.raises(ValueError, match="x must hold at least one sample"):
        net.gradient(x[:0], t[:0])
    for k, v in net.buffers().items():
        assert_bits_equal(v, before[k], k)


# ---------------------------------------------- load_state_dict(strict=False)
@pytest.mark.parametrize("make, turn_on, key", [
    (lambda p: fo.optim.Adam(p), {"amsgrad": True}, "v_max"),
    (lambda p: fo.optim.SGD(p, lr=0.1), {"momentum": 0.9}, "buf"),
])
def test_strict_false_failure_adds_no_state_buffer(make, turn_on, key):
    p = {"w": np.ones(4)}
    opt = make(p)
    opt.step({"w": np.ones(4)})
    sd = opt.state_dict()
    sd["param_groups"][0]["hyperparameters"].update(turn_on)  # but no state for it
    with pytest.raises(ValueError, match=key):
        opt.load_state_dict(sd, strict=False)
    assert key not in opt.state_dict()["state"]["w"]
    opt.load_state_dict(opt.state_dict())  # still round-trips


def test_strict_false_turning_amsgrad_off_drops_v_max():
    p = {"w": np.ones(4)}
    on = fo.optim.Adam(p, amsgrad=True)
    on.step({"w": np.ones(4)})
    off = fo.optim.Adam({"w": np.ones(4)})
    off.load_state_dict(on.state_dict(), strict=False)  # adopts amsgrad=True: v_max added
    assert "v_max" in off.state_dict()["state"]["w"]
    plain = fo.optim.Adam({"w": np.ones(4)})
    plain.step({"w": np.ones(4)})
    off.load_state_dict(plain.state_dict(), strict=False)  # back to amsgrad=False
    assert "v_max" not in off.state_dict()["state"]["w"]
    off.load_state_dict(off.state_dict())


# ------------------------------------------------------- validated scalars
def test_nadam_mu_product_is_validated_on_load():
    p = {"w": np.ones(3)}
    opt = fo.optim.NAdam(p)
    opt.step({"w": np.ones(3)})
    for bad, exc in (("abc", TypeError), (float("nan"), ValueError), (2.0, ValueError),
                     (-0.5, ValueError)):
        sd = opt.state_dict()
        sd["param_groups"][0]["state"]["mu_product"] = bad
        before = opt.state_dict()
        with pytest.raises(exc, match="mu_product"):
            opt.load_state_dict(sd)
        assert opt.state_dict()["param_groups"] == before["param_groups"]
    opt.step({"w": np.ones(3)})
    assert np.isfinite(p["w"]).all()


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_huge_step_in_a_state_dict_is_refused(cls):
    opt = cls({"w": np.ones(3)})
    sd = opt.state_dict()
    sd["param_groups"][0]["state"]["step"] = 10**400
    with pytest.raises(ValueError, match="step"):
        opt.load_state_dict(sd)
    assert opt.step_count == 0
    opt.step({"w": np.ones(3)})


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_huge_int_hyperparameters_are_value_errors_naming_them(backend, cls):
    with pytest.raises(ValueError, match="lr"):
        cls({"w": np.ones(3)}, lr=10**400)
    with pytest.raises(ValueError, match="max_grad_norm"):
        cls({"w": np.ones(3)}, max_grad_norm=10**400)
    opt = cls({"w": np.ones(3)})
    sd = opt.state_dict()
    sd["param_groups"][0]["hyperparameters"]["lr"] = 10**400   # in a checkpoint too
    with pytest.raises(ValueError, match="lr"):
        opt.load_state_dict(sd, strict=False)


def test_schedule_integers_and_nesting_are_bounded():
    with pytest.raises(ValueError, match="total_steps"):
        CosineDecay(0.1, 10**400)
    with pytest.raises(ValueError, match="lr"):
        CosineDecay(10**400, 10)
    assert CosineDecay(0.1, 100)(2**62) == 0.0
    with pytest.raises(ValueError, match="step"):
        CosineDecay(0.1, 100)(10**400)
    sched = 0.1
    with pytest.raises(ValueError, match="LinearWarmup"):
        for _ in range(700):
            sched = LinearWarmup(sched, 2)
    config = {"name": "Constant", "lr": 0.1}
    for _ in range(700):
        config = {"name": "LinearWarmup", "after": config, "warmup_steps": 1, "start_lr": 0.0}
    with pytest.raises(ValueError, match="LinearWarmup"):
        schedule_from_config(config)
    opt = fo.optim.Adam({"w": np.ones(3)}, lr=LinearWarmup(0.1, 2))
    sd = opt.state_dict()
    sd["param_groups"][0]["hyperparameters"]["lr"] = {"schedule": config}
    with pytest.raises(ValueError, match="LinearWarmup"):
        opt.load_state_dict(sd, strict=False)


# ------------------------------------------------ checkpoint trees and params
def test_checkpoint_params_must_be_a_mapping(tmp_path):
    p = {"w": np.ones(3)}
    opt = fo.optim.Adam(p)
    path = save_checkpoint(tmp_path / "ck.npz", opt)
    for bad in ([np.ones(3)], 5):
        with pytest.raises(TypeError, match="params must be a mapping"):
            save_checkpoint(tmp_path / "x.npz", opt, bad)
        with pytest.raises(TypeError, match="params must be a mapping"):
            load_checkpoint(path, opt, bad)


@pytest.mark.parametrize("key, value, exc", [
    ("params", [1, 2], ValueError), ("params", 5, ValueError), ("params", {"w": 5}, ValueError),
    ("optimizer", [1], TypeError), ("optimizer", 5, TypeError), ("extra", [1], ValueError),
])
def test_checkpoint_tree_of_wrong_types_names_the_file(tmp_path, key, value, exc):
    p = {"w": np.ones(3)}
    opt = fo.optim.Adam(p)
    path = save_checkpoint(tmp_path / "ck.npz", opt)
    _edit_checkpoint(path, lambda tree: tree.__setitem__(key, value))
    with pytest.raises(exc, match="ck.npz|checkpoint parameter"):
        load_checkpoint(path, opt)


def test_checkpoint_tree_without_optimizer_is_a_value_error(tmp_path):
    p = {"w": np.ones(3)}
    opt = fo.optim.Adam(p)
    path = save_checkpoint(tmp_path / "ck.npz", opt)
    _edit_checkpoint(path, lambda tree: tree.pop("optimizer"))
    with pytest.raises(ValueError, match="optimizer"):
        load_checkpoint(path, opt)


# ---------------------------------------------------------------- aliasing
ALIASING = {
    "Nesterov": lambda p: fo.optim.Nesterov(p, lr=0.1),
    "AdamW": lambda p: fo.optim.AdamW(p, lr=0.1),
    "SGD-decoupled": lambda p: fo.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                            weight_decay=0.1, decoupled_weight_decay=True),
    "RMSprop-wd": lambda p: fo.optim.RMSprop(p, lr=0.1, weight_decay=0.1,
                                             decoupled_weight_decay=True),
    "Momentum": lambda p: fo.optim.Momentum(p, lr=0.1),
}


@pytest.mark.parametrize("name", list(ALIASING))
def test_gradient_aliasing_its_parameter_gives_the_same_bits_on_every_backend(name):
    results = {}
    for be in fo.available_backends():
        with fo.use_backend(be):
            aliased = {"w": np.linspace(-1, 1, 7)}
            copied = {"w": np.linspace(-1, 1, 7)}
            a, c = ALIASING[name](aliased), ALIASING[name](copied)
            for _ in range(2):
                a.step({"w": aliased["w"]})
                c.step({"w": copied["w"].copy()})
            assert_bits_equal(aliased["w"], copied["w"], f"{be}: aliased vs copied")
            results[be] = aliased["w"].copy()
    for be, value in results.items():
        assert_bits_equal(value, results["numpy"], f"{be} vs numpy")


def test_gradient_aliasing_optimizer_state_is_copied_too():
    p, q = {"w": np.linspace(-1, 1, 7)}, {"w": np.linspace(-1, 1, 7)}
    a, b = fo.optim.Adam(p, lr=0.1), fo.optim.Adam(q, lr=0.1)
    for opt in (a, b):
        opt.step({"w": np.full(7, 0.5)})
    a.step({"w": a.state_view("w", "m")})
    b.step({"w": b.state_view("w", "m").copy()})
    assert_bits_equal(p["w"], q["w"])


# ----------------------------------------------------------------- threads
@pytest.mark.parametrize("flat", [False, True], ids=["arrays", "flat"])
def test_threads_stepping_one_optimizer_lose_no_step(backend, flat):
    n_threads, steps = 4, 100
    make = (lambda: fo.FlatParams({"w": np.zeros(5000), "b": np.zeros(7)})) if flat else \
        (lambda: {"w": np.zeros(5000), "b": np.zeros(7)})
    grads = {"w": np.full(5000, 0.01), "b": np.full(7, -0.02)}
    shared = make()
    opt = fo.optim.Adam(shared, lr=1e-3)
    barrier = threading.Barrier(n_threads)

    def work():
        barrier.wait()
        for _ in range(steps):
            opt.step(grads)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    serial_params = make()
    serial = fo.optim.Adam(serial_params, lr=1e-3)
    for _ in range(n_threads * steps):
        serial.step(grads)
    assert opt.step_count == n_threads * steps
    for k in ("w", "b"):
        assert_bits_equal(shared[k], serial_params[k], k)


def test_optimizer_still_copies_and_pickles():
    import copy
    import pickle

    opt = fo.optim.Adam({"w": np.ones(3)})
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        clone.step({"w": np.ones(3)})
        assert clone.step_count == 1 and opt.step_count == 0


# --------------------------------------------------------------------- CLI
@pytest.mark.parametrize("argv, option", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--hidden", "0"], "--hidden"),
    (["train", "--hidden", "64,x"], "--hidden"),
    (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--weight-decay", "nan"], "--weight-decay"),
    (["train", "--dropout", "-0.1"], "--dropout"),
    (["train", "--dropout", "nan"], "--dropout"),
    (["train", "--dropout", "1"], "--dropout"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--seed", "-1"], "--seed"),
    (["run"], "experiment"),
])
def test_cli_misuse_is_one_line_naming_the_option(capsys, tmp_path, argv, option):
    rc = cli.main(argv + (["--out", str(tmp_path)] if argv[0] == "train" else []))
    err = capsys.readouterr().err
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in err, err
