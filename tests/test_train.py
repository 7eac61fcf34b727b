"""The Trainer: epoch accounting, sampling, history, early stopping, checkpoint resume."""
import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt as fo
from fastopt import book, nn
from fastopt.train import EarlyStopping, Trainer


def _data(n=450, d=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d)) * 2
    t = rng.integers(0, classes, n)
    x = (centers[t] + rng.standard_normal((n, d))).astype(np.float32)
    return x, t


def _net(seed=0):
    return book.MultiLayerNet(12, [16, 16], 3, seed=seed)


@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_exact_epoch_accounting(sampling):
    x, t = _data(450)
    net = _net()
    trainer = Trainer(net, fo.optim.SGD(net.params, lr=0.1), x, t, x[:50], t[:50], epochs=4,
                      batch_size=100, sampling=sampling, seed=0, progress=False)
    history = trainer.fit()
    assert trainer.iter_per_epoch == 5  # ceil(450 / 100); the book's float 4.5 loses epochs
    assert len(history["loss"]) == 20 and trainer.iteration == 20
    assert len(history["train_acc"]) == len(history["val_acc"]) == len(history["epoch_loss"]) == 4


def test_shuffle_visits_every_sample_once_per_epoch(monkeypatch):
    x, t = _data(230)
    net = _net()
    seen = []
    trainer = Trainer(net, fo.optim.SGD(net.params, lr=0.1), np.arange(230)[:, None] * np.ones((1, 12)),
                      t, epochs=2, batch_size=64, seed=1, progress=False)
    original = trainer.train_step
    monkeypatch.setattr(trainer, "train_step", lambda xb, tb: (seen.append(xb[:, 0].astype(int)),
                                                                original(xb.astype(np.float32), tb))[1])
    trainer.fit()
    first, second = np.concatenate(seen[:4]), np.concatenate(seen[4:])
    assert sorted(first) == list(range(230)) and sorted(second) == list(range(230))
    assert not np.array_equal(first, second)


def test_training_learns_and_works_with_book_optimizers():
    x, t = _data(600)
    net = _net()
    trainer = Trainer(net, book.Adam(lr=0.01), x[:500], t[:500], x[500:], t[500:], epochs=5,
                      batch_size=50, seed=0, progress=False)
    history = trainer.fit()
    assert history["val_acc"][-1] > 0.9
    assert history["epoch_loss"][-1] < history["epoch_loss"][0]


def test_early_stopping():
    x, t = _data(300)
    net = _net()
    trainer = Trainer(net, fo.optim.SGD(net.params, lr=0.0), x, t, x, t, epochs=50, batch_size=100,
                      seed=0, progress=False, callbacks=[EarlyStopping("val_acc", patience=2)])
    trainer.fit()
    assert trainer.stopped_early and trainer.epoch == 4  # no improvement after the first epoch


@pytest.mark.parametrize("make_opt", [lambda p: fo.optim.Adam(p, lr=0.01), lambda p: book.Momentum(lr=0.05)],
                         ids=["optim.Adam", "book.Momentum"])
def test_resume_from_checkpoint_is_bit_identical(tmp_path, make_opt):
    x, t = _data(450)

    def trainer(epochs, net, ckpt=None):
        return Trainer(net, make_opt(net.params), x, t, x[:100], t[:100], epochs=epochs,
                       batch_size=64, seed=7, progress=False, checkpoint=ckpt)

    full_net = _net()
    full = trainer(4, full_net)
    full.fit()
    half_net = _net()
    half = trainer(2, half_net, tmp_path / "ckpt.npz")
    half.fit()
    resumed_net = _net(seed=123)  # different weights: the checkpoint restores them
    resumed = trainer(4, resumed_net)
    resumed.load(tmp_path / "ckpt.npz")
    assert resumed.epoch == 2
    resumed.fit()
    for name in full_net.params:
        assert_bits_equal(resumed_net.params[name], full_net.params[name], name)
    assert resumed.history == full.history


def test_trainer_drives_one_protocol_bind_then_step():
    """Whatever the optimizer, the Trainer binds it once and calls step(grads) per batch."""
    x, t = _data(40)
    net = _net()
    calls = []

    class Recorder:
        def bind(self, params):
            calls.append(("bind", params))
            return fo.optim.SGD(params)

        def step(self, grads=None):
            calls.append(("step", grads))

    trainer = Trainer(net, Recorder(), x, t, epochs=1, batch_size=20, seed=0, progress=False)
    assert calls == [("bind", net.params)]
    trainer.fit()
    assert [c[0] for c in calls] == ["bind", "step", "step"]
    assert all(grads is net.grads for _, grads in calls[1:])


def test_trainer_refuses_an_optimizer_without_bind_and_step():
    x, t = _data(40)

    class UpdateOnly:
        def update(self, params, grads):
            pass

    with pytest.raises(TypeError, match=r"bind\(params\) and step\(grads\)"):
        Trainer(_net(), UpdateOnly(), x, t, progress=False)


@pytest.mark.parametrize("make_opt", [lambda p: fo.optim.Adam(p, lr=0.01), lambda p: book.Adam(lr=0.01)],
                         ids=["optim.Adam", "book.Adam"])
def test_the_gradient_buffer_reaches_the_kernel_unchecked(monkeypatch, make_opt):
    """network.gradient's own buffer is recognised once: the slot gets None, one kernel call."""
    from fastopt.optim._slots import Slot

    x, t = _data(40)
    net = _net()
    trainer = Trainer(net, make_opt(net.params), x, t, progress=False)
    seen = []
    original = Slot.grad
    monkeypatch.setattr(Slot, "grad", lambda slot, grads: (seen.append(grads), original(slot, grads))[1])
    trainer.train_step(x[:20], t[:20])
    assert seen == [None]  # one slot (the float64 buffer): one kernel call, handed the buffer as it is


BAD = [
    ("length mismatch", dict(t_train=np.zeros(3, int)), ValueError, "t_train has 3"),
    ("zero batch", dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
    ("bad sampling", dict(sampling="bootstrap"), ValueError, "sampling must be one of"),
    ("nan data", dict(x_train=np.full((10, 12), np.nan, np.float32)), ValueError, "x_train contains NaN"),
    ("val without labels", dict(x_val=np.zeros((2, 12))), ValueError, "both x_val and t_val"),
]


@pytest.mark.parametrize("override, exc, match", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_arguments(override, exc, match):
    x, t = _data(10)
    net = _net()
    kwargs = dict(x_train=x, t_train=t)
    kwargs.update(override)
    with pytest.raises(exc, match=match):
        Trainer(net, fo.optim.SGD(net.params), **kwargs)


def test_corrupt_trainer_checkpoint_changes_nothing(tmp_path):
    x, t = _data(100)
    net = _net()
    opt = fo.optim.SGD(net.params, lr=0.1)
    fo.optim.save_checkpoint(tmp_path / "c.npz", opt,
                             {f"param:{k}": v for k, v in net.params.items()}, extra={"other": 1})
    trainer = Trainer(net, opt, x, t, progress=False)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(ValueError, match="no trainer state"):
        trainer.load(tmp_path / "c.npz")
    for k in before:
        assert_bits_equal(net.params[k], before[k])


def test_sequential_network_trains_with_the_trainer():
    x, t = _data(300)
    net = nn.Sequential([nn.Affine(nn.init.he_normal((12, 20), seed=0, dtype=np.float32),
                                   np.zeros(20, np.float32)), nn.Tanh(),
                         nn.Affine(nn.init.xavier_normal((20, 3), seed=1, dtype=np.float32),
                                   np.zeros(3, np.float32))])
    history = Trainer(net, fo.optim.Adam(net.params, lr=0.01), x, t, x, t, epochs=3, batch_size=32,
                      seed=0, progress=False).fit()
    assert history["val_acc"][-1] > 0.9


def test_book_trainer_drop_in(capsys):
    x, t = _data(450)
    np.random.seed(0)
    net = _net()
    trainer = book.Trainer(net, x, t, x[:100], t[:100], epochs=3, mini_batch_size=100,
                           optimizer="Adam", optimizer_param={"lr": 0.01}, verbose=True)
    trainer.progress = False
    trainer.train()
    assert len(trainer.train_loss_list) == 15 and len(trainer.test_acc_list) == 3
    assert "test acc:" in capsys.readouterr().out
    # the recorded loss is the eval-mode loss after the update, as in the book
    xb, tb = x[:100], t[:100]
    assert trainer._batch_loss(xb, tb) == net.loss(xb, tb)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        book.Trainer(net, x, t, x, t, optimizer="lamb")
