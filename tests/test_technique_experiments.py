"""Quick runs of the technique experiments: files, documented keys, robust qualitative checks."""
import json

import pytest

from fastopt import experiments

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

#: experiment -> keys its JSON must hold (besides "experiment" and "settings")
KEYS = {
    "lr-decay": {"lr", "lr_steps", "epoch_loss", "test_acc", "final_train_loss", "final_test_acc",
                 "per_seed", "total_steps"},
    "grad-clip": {"runs", "diverged", "mean_test_acc", "configs", "iterations"},
    "pruning": {"levels", "dense_test_acc", "results"},
    "param-tying": {"per_class", "lambdas", "tying", "sharing"},
    "adversarial": {"eps", "eps_train", "test_acc", "per_seed", "examples"},
    "bagging": {"members", "results"},
    "transfer": {"per_class", "pretrain", "methods", "test_acc", "frozen_bit_unchanged"},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("technique-experiments")
    settings = experiments.Settings(quick=True, out=str(out), progress=False)
    records = {}
    for name in KEYS:
        experiments.run(name, settings, echo=lambda line: None)
        with open(out / f"{name}.json") as fh:
            records[name] = json.load(fh)
        assert (out / f"{name}.png").stat().st_size > 1000
    return records


def test_registered():
    assert set(KEYS) <= set(experiments.available())


@pytest.mark.parametrize("name", sorted(KEYS))
def test_json_has_documented_keys(runs, name):
    record = runs[name]
    assert record["experiment"] == name and record["settings"]["quick"] is True
    assert KEYS[name] <= set(record), KEYS[name] - set(record)


def test_lr_decay(runs):
    r = runs["lr-decay"]
    assert set(r["lr"]) == {"constant", "step", "exponential", "cosine", "warmup+cosine"}
    assert r["lr"]["cosine"][0] == r["lr"]["constant"][0] > r["lr"]["cosine"][-1]
    assert r["lr"]["warmup+cosine"][0] == 0.0
    assert all(0.5 < a <= 1 for a in r["final_test_acc"].values())


def test_grad_clip(runs):
    r = runs["grad-clip"]
    assert r["diverged"]["no clipping"] == 1 and r["mean_test_acc"]["no clipping"] is None
    for name in ("max_grad_norm=1", "clip_value=0.1"):
        assert r["diverged"][name] == 0 and r["mean_test_acc"][name] > 0.3


def test_pruning(runs):
    r = runs["pruning"]
    mag = r["results"]["magnitude"]
    assert mag["sparsity"] == pytest.approx(r["levels"], abs=1e-3)
    assert mag["zero_share"] == pytest.approx(mag["sparsity"])  # the masks held through retraining
    assert mag["acc_retrained"][0] > 0.8
    assert mag["acc_retrained"][0] >= r["results"]["random"]["acc_retrained"][0] - 0.02


def test_param_tying(runs):
    r = runs["param-tying"]
    acc = r["tying"]["test_acc"]
    assert acc["tied λ=1"][0] > acc["independent"][0]  # 2 images per class: tying helps
    assert r["tying"]["distance"]["tied λ=1"][0] < r["tying"]["distance"]["independent"][0]
    n = r["sharing"]["n_params"]
    assert n["shared"] < n["separate"]


def test_adversarial(runs):
    r = runs["adversarial"]
    plain, robust = r["test_acc"]["plain"], r["test_acc"]["adversarial training"]
    assert r["eps"][0] == 0.0 and plain[0] > 0.8
    assert plain == sorted(plain, reverse=True) and plain[-1] < plain[0] - 0.3
    i = r["eps"].index(r["eps_train"])
    assert robust[i] > plain[i]


def test_bagging(runs):
    for rec in runs["bagging"]["results"].values():
        assert len(rec["bagged"]["ensemble_acc"]) == runs["bagging"]["members"]
        assert all(0.55 < s < 0.72 for s in rec["bagged"]["distinct_share"])
        assert rec["bagged"]["ensemble_acc"][-1] >= rec["single_net_acc"] - 0.05


def test_transfer(runs):
    r = runs["transfer"]
    assert r["frozen_bit_unchanged"] is True
    assert r["pretrain"]["test_acc"] > 0.8
    assert all(len(v) == len(r["per_class"]) for v in r["test_acc"].values())
