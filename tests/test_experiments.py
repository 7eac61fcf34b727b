"""The chapter's experiments (``fastopt run <name>``) on their --quick settings.

Each experiment runs once per test session (a module fixture); the tests check
its JSON keys, its PNG, and the chapter's finding where it is robust on quick
settings with the default seed.
"""
import json
import math

import numpy as np
import pytest

pytest.importorskip("sklearn")  # the bundled digits
pytest.importorskip("matplotlib")

from fastopt import demo, experiments
from fastopt.cli import main
from fastopt.experiments import _common

PNG = b"\x89PNG\r\n\x1a\n"

#: experiment -> keys its JSON must hold (besides "experiment" and "settings")
KEYS = {
    "optimizer-paths": {"function", "start", "steps", "optimizers", "paths", "contour"},
    "optimizer-compare": {"dataset", "batch_size", "iterations", "optimizers", "loss",
                          "smoothed_loss", "final_loss", "test_accuracy"},
    "init-histograms": {"samples", "nodes", "layers", "bins", "range", "bin_edges", "runs"},
    "init-compare": {"dataset", "inits", "iterations", "loss", "smoothed_loss", "final_loss",
                     "ln10", "test_accuracy"},
    "batchnorm": {"dataset", "weight_scales", "epochs", "panels", "batchnorm_faster_at"},
    "overfit-weight-decay": {"dataset", "weight_decay_lambda", "epochs", "curves",
                             "gap_last_10_epochs"},
    "overfit-dropout": {"dataset", "dropout_ratio", "epochs", "curves", "gap_last_10_epochs"},
    "hyperparameter-search": {"dataset", "rounds", "top", "good_region", "best_second_round"},
}
VIA_CLI = "optimizer-compare"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name -> (JSON record, PNG path) of every experiment's quick run."""
    out = tmp_path_factory.mktemp("experiments")
    records = {}
    for name in KEYS:
        if name == VIA_CLI:
            assert main(["run", name, "--quick", "--out", str(out), "--progress", "off"]) == 0
        else:
            settings = experiments.Settings(quick=True, out=str(out), progress=False)
            experiments.run(name, settings, echo=lambda *args: None)
        with open(out / f"{name}.json") as fh:
            records[name] = (json.load(fh), out / f"{name}.png")
    return records


def test_list_names_every_experiment(capsys):
    assert main(["run", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert set(KEYS) <= listed


@pytest.mark.parametrize("name", list(KEYS))
def test_quick_run_writes_json_and_png(runs, name):
    record, png = runs[name]
    assert record["experiment"] == name and record["settings"]["quick"] is True
    assert KEYS[name] <= set(record), sorted(KEYS[name] - set(record))
    assert png.read_bytes()[:8] == PNG


def test_optimizer_paths_match_the_demo(runs):
    record, _ = runs["optimizer-paths"]
    expected = demo.optimizer_paths(30)["paths"]
    assert set(record["paths"]) == set(expected) | {"Adadelta"}
    for name, entry in record["paths"].items():
        assert len(entry["path"]) == 31 and entry["f"][-1] < entry["f"][0]
        if name in expected:
            assert entry["path"] == expected[name]["path"]
    assert abs(record["paths"]["AdaGrad"]["path"][-1][1]) < 1e-3  # AdaGrad damps y quickly


def test_optimizer_compare_sgd_is_slowest(runs):
    record, _ = runs["optimizer-compare"]
    final = record["final_loss"]
    assert set(final) == {"SGD", "Momentum", "AdaGrad", "Adam", "Nesterov", "RMSprop"}
    assert max(final, key=final.get) == "SGD"
    assert all(final[k] < 0.5 * final["SGD"] for k in final if k != "SGD")
    n = record["iterations"]
    assert all(len(v) == n for v in record["loss"].values())
    assert all(len(v) == n for v in record["smoothed_loss"].values())
    assert record["dataset"]["name"] == "digits" and record["dataset"]["input_size"] == 64


def test_init_histograms_show_the_chapter(runs):
    record, _ = runs["init-histograms"]
    runs_ = record["runs"]
    assert len(runs_) == 12
    for run in runs_.values():
        assert len(run["layers"]) == 5
        for layer in run["layers"]:
            assert len(layer["counts"]) == 30
            inside = 1 - layer["fraction_outside_range"]
            assert sum(layer["counts"]) == pytest.approx(inside * 100_000, abs=1)
    sat = runs_["sigmoid, std=1"]["layers"][-1]["fraction_saturated"]
    assert sat > 0.5  # piled up at 0 and 1
    assert all(layer["std"] < 0.05 for layer in runs_["sigmoid, std=0.01"]["layers"])
    he = [layer["std"] for layer in runs_["relu, He"]["layers"]]
    xavier = [layer["std"] for layer in runs_["relu, Xavier"]["layers"]]
    assert max(he) / min(he) < 1.5          # He keeps the spread across layers
    assert xavier[-1] < 0.5 * xavier[0]      # Xavier shrinks with ReLU


def test_init_compare_std001_does_not_learn_and_he_beats_xavier(runs):
    record, _ = runs["init-compare"]
    final = record["final_loss"]
    assert abs(final["std=0.01"] - math.log(10)) < 0.01
    assert final["He"] < final["Xavier"] < final["std=0.01"]
    assert final["He"] < 1.0


def test_batchnorm_learns_faster(runs):
    record, _ = runs["batchnorm"]
    assert len(record["panels"]) == len(record["weight_scales"]) == 4
    for panel in record["panels"]:
        for key in ("batchnorm", "plain"):
            assert len(panel[key]["train_acc"]) == record["epochs"]
    assert len(record["batchnorm_faster_at"]) >= 3
    assert record["dataset"]["n_train"] == 1000


def test_weight_decay_narrows_the_gap(runs):
    record, _ = runs["overfit-weight-decay"]
    gap, curves = record["gap_last_10_epochs"], record["curves"]
    assert record["dataset"]["n_train"] == 300
    assert all(len(c["train_acc"]) == record["epochs"] for c in curves.values())
    assert curves["lambda=0.1"]["train_acc"][-1] < curves["lambda=0"]["train_acc"][-1] - 0.05
    assert gap["lambda=0.1"] < gap["lambda=0"]  # robust with seed 0, not with every seed


def test_dropout_holds_training_accuracy_back(runs):
    record, _ = runs["overfit-dropout"]
    curves = record["curves"]
    assert set(curves) == {"no dropout", "dropout 0.2", "dropout 0.15"}
    plain = curves["no dropout"]["train_acc"][-1]
    assert curves["dropout 0.2"]["train_acc"][-1] < curves["dropout 0.15"]["train_acc"][-1] < plain
    assert record["gap_last_10_epochs"]["dropout 0.2"] < record["gap_last_10_epochs"]["no dropout"]


def test_hyperparameter_search_never_touches_the_test_set(runs):
    record, _ = runs["hyperparameter-search"]
    assert record["dataset"]["n_test"] == 0
    assert record["dataset"]["n_train"] == 400 and record["dataset"]["n_val"] == 100
    first, second = record["rounds"]["first"], record["rounds"]["second"]
    assert len(first["trials"]) == first["n_trials"] and len(second["trials"]) == second["n_trials"]
    for trial in first["trials"]:
        assert 1e-6 <= trial["lr"] <= 1e-2 and 1e-8 <= trial["weight_decay"] <= 1e-4
    scores = [t["score"] for t in record["top"]]
    assert scores == sorted(scores, reverse=True)
    lo, hi = record["good_region"]["lr"]
    for trial in second["trials"]:  # the narrowed round stays in the good region
        assert lo * (1 - 1e-9) <= trial["lr"] <= hi * (1 + 1e-9)


def test_train_epochs_records_like_the_book():
    class Net:
        def __init__(self):
            self.params, self.steps = {}, 0

        def gradient(self, x, t):
            self.steps += 1
            return {}

        def accuracy(self, x, t):
            return float(self.steps)

    class Opt:  # the protocol the loops drive: bind once, then step per batch
        def bind(self, params):
            return self

        def step(self, grads=None):
            pass

    x, t = np.zeros((300, 2)), np.zeros(300, dtype=int)
    rng = np.random.default_rng(0)
    curves, iterations = _common.train_epochs({"n": Net()}, {"n": Opt()}, x, t, x, t, epochs=4,
                                              batch_size=100, rng=rng)
    assert iterations == 10 and curves["n"]["train_acc"] == [1, 4, 7, 10]  # the script's loop
    curves, iterations = _common.train_epochs({"n": Net()}, {"n": Opt()}, x, t, x, t, epochs=4,
                                              batch_size=100, rng=rng, record="trainer")
    assert iterations == 12 and curves["n"]["train_acc"] == [3, 6, 9, 12]  # the book's Trainer
    with pytest.raises(ValueError, match="record must be"):
        _common.train_epochs({}, {}, x, t, x, t, epochs=1, batch_size=1, rng=rng, record="x")


def test_unknown_experiment_names_the_choices():
    with pytest.raises(ValueError, match="optimizer-paths"):
        experiments.get("no-such-experiment")


def _write_idx(path, array):
    """An IDX file of unsigned bytes (the MNIST format), gzipped."""
    import gzip
    import struct

    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """400 training and 100 test 28x28 images in the four MNIST files (random, learnable labels)."""
    from fastopt.data import MNIST_FILES

    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for kind, n in (("train", 400), ("test", 100)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        images[np.arange(n), labels, :] = 255  # row `label` lit: a pattern to learn
        _write_idx(folder / MNIST_FILES[f"{kind}_img"], images)
        _write_idx(folder / MNIST_FILES[f"{kind}_label"], labels)
    return folder


def test_mnist_uses_the_books_sample_counts(fake_mnist, tmp_path):
    settings = experiments.Settings(quick=True, out=str(tmp_path), data="mnist",
                                    mnist_dir=str(fake_mnist), progress=False)
    ds = _common.load(settings, 300)
    assert ds.x.shape == (300, 784) and ds.x.dtype == np.float64 and ds.info["n_test"] == 100
    ds = _common.load(settings, 1000)  # more than this folder holds: all of them, and a note
    assert ds.info["n_train"] == 400 and "takes 1000" in ds.info["note"]
    assert main(["run", "overfit-weight-decay", "--quick", "--data", "mnist", "--mnist-dir",
                 str(fake_mnist), "--out", str(tmp_path), "--progress", "off"]) == 0
    record = json.loads((tmp_path / "overfit-weight-decay.json").read_text())
    assert record["dataset"]["name"] == "mnist" and record["dataset"]["input_size"] == 784
    assert record["dataset"]["n_train"] == 300
    assert record["curves"]["lambda=0"]["train_acc"][-1] > 0.5  # it learned the pattern
