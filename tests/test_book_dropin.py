"""fastopt.book as a drop-in for the book's scripts: the Trainer's record points, its
attributes and printed lines, the networks' book attributes and weight draws, and the
fast path (one kernel call per dtype) a book optimizer takes over a fastopt network."""
import contextlib
import io
from collections import OrderedDict

import numpy as np
import pytest
from conftest import assert_bits_equal

import fastopt
import fastopt.book as book
from fastopt.bench import book_numpy


def _data(n=200, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d), dtype=np.float32)  # float32 inputs, float64 network: the book's mix
    t = rng.integers(0, classes, n)
    return x[:160], t[:160], x[160:], t[160:]


def _run_trainer(module, net_cls, optimizer, verbose, **net_kw):
    x, t, xv, tv = _data()
    np.random.seed(5)
    net = net_cls(12, [10, 10], 4, **net_kw)
    trainer = module.Trainer(net, x, t, xv, tv, epochs=3, mini_batch_size=40, optimizer=optimizer,
                             optimizer_param={"lr": 0.05}, verbose=verbose)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        trainer.train()
    return trainer, net, out.getvalue()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_trainer_records_at_the_books_points_bit_for_bit(optimizer, backend):
    ours, net, printed = _run_trainer(book, book.MultiLayerNetExtend, optimizer, True,
                                      weight_decay_lambda=0.01)
    ref, ref_net, ref_printed = _run_trainer(book_numpy, book_numpy.MultiLayerNetExtend, optimizer,
                                             True, weight_decay_lambda=0.01)
    assert ours.train_acc_list == [float(a) for a in ref.train_acc_list]
    assert ours.test_acc_list == [float(a) for a in ref.test_acc_list]
    assert ours.train_loss_list == [float(v) for v in ref.train_loss_list]
    for name in ref_net.params:
        assert_bits_equal(net.params[name], ref_net.params[name], name)
    assert printed == ref_printed  # "train loss:" lines, "=== epoch:" lines, the final accuracy


def test_trainer_with_batchnorm_records_at_the_books_points():
    """Batch norm accumulates its statistics in float64 blocks: the book's numbers to ~1e-12."""
    ours, net, _ = _run_trainer(book, book.MultiLayerNetExtend, "adam", False, use_batchnorm=True)
    ref, ref_net, _ = _run_trainer(book_numpy, book_numpy.MultiLayerNetExtend, "adam", False,
                                   use_batchnorm=True)
    assert ours.train_acc_list == [float(a) for a in ref.train_acc_list]
    assert ours.test_acc_list == [float(a) for a in ref.test_acc_list]
    np.testing.assert_allclose(ours.train_loss_list, ref.train_loss_list, rtol=1e-10)
    for name in ref_net.params:
        np.testing.assert_allclose(net.params[name], ref_net.params[name], rtol=1e-9, atol=1e-10)


def test_trainer_has_the_books_attributes():
    x, t, xv, tv = _data()
    net = book.MultiLayerNet(12, [10], 4, seed=0)
    trainer = book.Trainer(net, x, t, xv, tv, epochs=2, mini_batch_size=40,
                           evaluate_sample_num_per_epoch=30, verbose=False)
    assert (trainer.train_size, trainer.max_iter, trainer.current_iter, trainer.current_epoch) == \
        (160, 8, 0, 0)
    assert trainer.x_test is xv and trainer.t_test is tv
    assert trainer.evaluate_sample_num_per_epoch == 30
    trainer.train_step()  # no argument: draws its own batch, as the book's
    assert (trainer.current_iter, trainer.current_epoch) == (1, 1)
    assert len(trainer.train_loss_list) == 1 and len(trainer.train_acc_list) == 1
    for _ in range(3):
        trainer.train_step()
    assert (trainer.current_iter, trainer.current_epoch) == (4, 1)
    trainer.train_step()
    assert trainer.current_epoch == 2
    with pytest.raises(ValueError, match="both x and t"):
        trainer.train_step(x[:4])


def test_trainer_is_quiet_without_verbose(capsys):
    _run_trainer(book, book.MultiLayerNet, "sgd", False)
    assert capsys.readouterr().out == ""


def test_dropout_network_draws_the_books_weights():
    np.random.seed(11)
    ours = book.MultiLayerNetExtend(12, [10, 9, 8], 4, use_dropout=True, use_batchnorm=True)
    np.random.seed(11)
    ref = book_numpy.MultiLayerNetExtend(12, [10, 9, 8], 4, use_dropout=True, use_batchnorm=True)
    for name in ref.params:
        assert_bits_equal(ours.params[name], ref.params[name], name)


def test_networks_have_the_books_attributes():
    net = book.MultiLayerNetExtend(12, [10, 10], 4, use_dropout=True, use_batchnorm=True, seed=0)
    ref = book_numpy.MultiLayerNetExtend(12, [10, 10], 4, use_dropout=True, use_batchnorm=True)
    assert isinstance(net.layers, OrderedDict)
    assert list(net.layers) == list(ref.layers)
    assert net.layers["Affine1"].W is net.params["W1"] or \
        np.shares_memory(net.layers["Affine1"].W, net.params["W1"])
    assert net.last_layer is net.loss_layer
    assert net.hidden_layer_num == 2 and net.hidden_size_list == [10, 10]


def test_star_import_gives_what_the_books_optimizer_module_gives():
    scope = {}
    exec("from fastopt.book import *", scope)
    for name in ("np", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
        assert name in scope, name
    assert scope["np"] is np


class _Counting:
    """A kernel namespace that counts the calls of one kernel."""

    def __init__(self, real, name):
        self._real, self._name, self.calls = real, name, 0

    def __getattr__(self, attr):
        fn = getattr(self._real, attr)
        if attr != self._name:
            return fn

        def counted(*args):
            self.calls += 1
            return fn(*args)
        return counted


@pytest.mark.parametrize("name,kernel", [("Adam", "adam"), ("Momentum", "momentum"),
                                         ("AdaGrad", "adagrad"), ("RMSprop", "rmsprop")])
def test_book_optimizer_over_a_network_makes_one_kernel_call(name, kernel, monkeypatch):
    x, t, _, _ = _data()
    net = book.MultiLayerNetExtend(12, [10, 10, 10], 4, use_batchnorm=True, seed=0)
    twin = book.MultiLayerNetExtend(12, [10, 10, 10], 4, use_batchnorm=True, seed=0)
    opt, per_array = getattr(book, name)(lr=0.01), getattr(book, name)(lr=0.01)
    real = fastopt._backend.kernels()
    counting = _Counting(real, kernel)
    monkeypatch.setattr(fastopt._backend, "kernels", lambda name=None: counting)
    for _ in range(3):
        opt.update(net.params, net.gradient(x[:40], t[:40]))
    assert counting.calls == 3, "one kernel call per update for the whole float64 network"
    monkeypatch.undo()
    for _ in range(3):  # the same updates through a plain dict of the arrays: the same bits
        per_array.update(dict(twin.params), dict(twin.gradient(x[:40], t[:40])))
    for key in net.params:
        assert_bits_equal(net.params[key], twin.params[key], key)


def test_book_optimizers_have_readable_reprs():
    assert repr(book.Adam()) == "Adam(lr=0.001, beta1=0.9, beta2=0.999)"
    opt = book.Momentum(lr=0.1)
    assert repr(opt) == "Momentum(lr=0.1, momentum=0.9)"
    opt.update({"w": np.ones(3)}, {"w": np.ones(3)})
    assert repr(opt) == "Momentum(lr=0.1, momentum=0.9); 1 params bound"
