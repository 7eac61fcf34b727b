"""Optimizer setups for the resume test, importable by the test and its subprocess."""
import numpy as np

import fastopt as fo

SHAPES = {"W1": (6, 4), "b1": (4,), "W2": (4, 3), "b2": (3,)}


def grads_at(step, dtype):
    rng = np.random.default_rng(1000 + step)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def initial_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}


def build(case, params):
    """(optimizer, what to step with) for a case name."""
    if case == "adam-warmup-cosine-amsgrad":
        lr = fo.optim.LinearWarmup(fo.optim.CosineDecay(1e-2, total_steps=20), warmup_steps=3)
        return fo.optim.Adam(params, lr=lr, amsgrad=True, max_grad_norm=2.0)
    if case == "nadam-groups":
        return fo.optim.NAdam([{"params": {k: params[k] for k in ("W1", "W2")}},
                               {"params": {k: params[k] for k in ("b1", "b2")},
                                "weight_decay": 0.1}], lr=1e-2)
    if case == "sgd-nesterov-flat":
        return fo.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if case == "rmsprop-centered-plateau":
        return fo.optim.RMSprop(params, lr=fo.optim.ReduceLROnPlateau(0.01, patience=1),
                                centered=True, momentum=0.5, nonfinite="skip")
    if case == "adadelta":
        return fo.optim.Adadelta(params)
    if case == "book-adam":
        return fo.optim.Adam(params, lr=1e-2, eps=1e-7, variant="book")
    raise KeyError(case)


CASES = ["adam-warmup-cosine-amsgrad", "nadam-groups", "sgd-nesterov-flat",
         "rmsprop-centered-plateau", "adadelta", "book-adam"]


def make(case, dtype, seed=0):
    params = initial_params(dtype, seed)
    if case.endswith("-flat"):
        params = fo.FlatParams(params)
    return params, build(case, params)


def run(opt, params, start, stop, dtype):
    for t in range(start, stop):
        opt.step(grads_at(t, dtype))
        for group in opt.param_groups:  # feed the plateau schedule a metric
            lr = group["lr"]
            if isinstance(lr, fo.optim.ReduceLROnPlateau):
                lr.observe(float(np.sum(params["W1"] ** 2)))
