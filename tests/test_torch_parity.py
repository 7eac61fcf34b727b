"""Parity with PyTorch: every torch-compatible optimizer, option, clip and schedule.

Each case runs fastopt and ``torch.optim`` side by side for 100 steps on three
parameters of odd shapes, feeding both the same fresh random gradients, and
compares the parameters (and, where the names map clearly, the state buffers)
at the end. Torch runs its single-tensor code path (``foreach=False``).

For float64 runs torch's default dtype is switched to float64 as well, so that
torch keeps its scalar state (e.g. NAdam's ``mu_product``) in float64 rather
than float32; otherwise torch itself is the less precise side.
"""
import contextlib
from dataclasses import dataclass, field

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastopt  # noqa: E402
from fastopt import optim as fo  # noqa: E402

SHAPES = {"w": (7, 5), "b": (13,), "k": (3, 4, 2)}
STEPS = 100
TOL = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
       np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}
TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
BACKENDS = fastopt.available_backends()
DTYPES = [pytest.param(np.dtype(np.float32), id="f32"),
          pytest.param(np.dtype(np.float64), id="f64")]


@dataclass
class Case:
    """One row of the parity table.

    ``fo_name``/``fo_kwargs``: the fastopt class and its arguments; ``lr`` may be a
    zero-argument factory returning a fresh Schedule. ``torch_name``/``torch_kwargs``:
    the ``torch.optim`` class and its arguments. ``state``: fastopt state key ->
    torch state key, compared after the run. ``scheduler``: factory
    ``f(torch_optimizer) -> LRScheduler`` stepped once after every optimizer step.
    ``max_grad_norm``/``clip_value``: fastopt options, mirrored by
    ``clip_grad_norm_``/``clip_grad_value_`` on torch's gradients before its step.
    """

    fo_name: str
    fo_kwargs: dict
    torch_name: str
    torch_kwargs: dict
    state: dict = field(default_factory=dict)
    max_grad_norm: float = None
    clip_value: float = None
    scheduler: object = None


SGD_BUF = {"buf": "momentum_buffer"}
ADAM_MV = {"m": "exp_avg", "v": "exp_avg_sq"}
AMS = {**ADAM_MV, "v_max": "max_exp_avg_sq"}
ADAMAX_MU = {"m": "exp_avg", "u": "exp_inf"}
ADAGRAD_H = {"h": "sum"}
RMS_H = {"h": "square_avg"}
ADADELTA = {"h": "square_avg", "acc_delta": "acc_delta"}

CASES = {
    # ------------------------------------------------------------------ SGD
    "sgd-plain": Case("SGD", dict(lr=0.05), "SGD", dict(lr=0.05)),
    "sgd-momentum": Case("SGD", dict(lr=0.05, momentum=0.9), "SGD",
                         dict(lr=0.05, momentum=0.9), SGD_BUF),
    "sgd-momentum-dampening": Case("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3), "SGD",
                                   dict(lr=0.05, momentum=0.8, dampening=0.3), SGD_BUF),
    "sgd-nesterov": Case("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), "SGD",
                         dict(lr=0.05, momentum=0.9, nesterov=True), SGD_BUF),
    "sgd-weight-decay": Case("SGD", dict(lr=0.05, weight_decay=0.1), "SGD",
                             dict(lr=0.05, weight_decay=0.1)),
    "sgd-momentum-weight-decay": Case("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.05),
                                      "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.05),
                                      SGD_BUF),
    "sgd-nesterov-weight-decay": Case("SGD", dict(lr=0.03, momentum=0.7, nesterov=True,
                                                  weight_decay=0.02),
                                      "SGD", dict(lr=0.03, momentum=0.7, nesterov=True,
                                                  weight_decay=0.02), SGD_BUF),
    "sgd-maximize": Case("SGD", dict(lr=0.05, maximize=True), "SGD",
                         dict(lr=0.05, maximize=True)),
    "sgd-momentum-maximize-weight-decay": Case(
        "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, maximize=True),
        "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01, maximize=True),
        SGD_BUF),
    # ------------------------------------------------------------------ Adam family
    "adam": Case("Adam", dict(lr=1e-2), "Adam", dict(lr=1e-2), ADAM_MV),
    "adam-hyper": Case("Adam", dict(lr=3e-3, betas=(0.8, 0.95), eps=1e-6), "Adam",
                       dict(lr=3e-3, betas=(0.8, 0.95), eps=1e-6), ADAM_MV),
    "adam-weight-decay": Case("Adam", dict(lr=1e-2, weight_decay=0.1), "Adam",
                              dict(lr=1e-2, weight_decay=0.1), ADAM_MV),
    "adam-maximize": Case("Adam", dict(lr=1e-2, maximize=True), "Adam",
                          dict(lr=1e-2, maximize=True), ADAM_MV),
    "adam-decoupled-weight-decay": Case(
        "Adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True), "Adam",
        dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True), ADAM_MV),
    "adamw": Case("AdamW", dict(lr=1e-2, weight_decay=0.1), "AdamW",
                  dict(lr=1e-2, weight_decay=0.1), ADAM_MV),
    "adamw-amsgrad-maximize": Case("AdamW", dict(lr=1e-2, amsgrad=True, maximize=True), "AdamW",
                                   dict(lr=1e-2, amsgrad=True, maximize=True), AMS),
    "amsgrad": Case("AMSGrad", dict(lr=1e-2, betas=(0.9, 0.99)), "Adam",
                    dict(lr=1e-2, betas=(0.9, 0.99), amsgrad=True), AMS),
    "adam-amsgrad-weight-decay": Case("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.05),
                                      "Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.05), AMS),
    "adamax": Case("Adamax", dict(lr=2e-2), "Adamax", dict(lr=2e-2), ADAMAX_MU),
    "adamax-weight-decay-maximize": Case(
        "Adamax", dict(lr=2e-2, betas=(0.8, 0.99), weight_decay=0.05, maximize=True), "Adamax",
        dict(lr=2e-2, betas=(0.8, 0.99), weight_decay=0.05, maximize=True), ADAMAX_MU),
    "nadam": Case("NAdam", dict(lr=1e-2), "NAdam", dict(lr=1e-2), ADAM_MV),
    "nadam-momentum-decay": Case("NAdam", dict(lr=1e-2, momentum_decay=0.05, betas=(0.85, 0.99)),
                                 "NAdam", dict(lr=1e-2, momentum_decay=0.05, betas=(0.85, 0.99)),
                                 ADAM_MV),
    "nadam-weight-decay": Case("NAdam", dict(lr=1e-2, weight_decay=0.05), "NAdam",
                               dict(lr=1e-2, weight_decay=0.05), ADAM_MV),
    "nadam-decoupled-weight-decay": Case(
        "NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True), "NAdam",
        dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True), ADAM_MV),
    # ------------------------------------------------------------------ adaptive rates
    "adagrad": Case("Adagrad", dict(lr=0.1), "Adagrad", dict(lr=0.1), ADAGRAD_H),
    "adagrad-lr-decay": Case("Adagrad", dict(lr=0.1, lr_decay=0.05), "Adagrad",
                             dict(lr=0.1, lr_decay=0.05), ADAGRAD_H),
    "adagrad-initial-accumulator": Case(
        "Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-8), "Adagrad",
        dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-8), ADAGRAD_H),
    "adagrad-weight-decay-maximize": Case(
        "Adagrad", dict(lr=0.1, weight_decay=0.05, maximize=True), "Adagrad",
        dict(lr=0.1, weight_decay=0.05, maximize=True), ADAGRAD_H),
    "rmsprop": Case("RMSprop", dict(lr=1e-2), "RMSprop", dict(lr=1e-2), RMS_H),
    "rmsprop-centered": Case("RMSprop", dict(lr=1e-2, alpha=0.9, centered=True), "RMSprop",
                             dict(lr=1e-2, alpha=0.9, centered=True),
                             {**RMS_H, "grad_avg": "grad_avg"}),
    "rmsprop-momentum": Case("RMSprop", dict(lr=1e-2, momentum=0.9), "RMSprop",
                             dict(lr=1e-2, momentum=0.9), {**RMS_H, "buf": "momentum_buffer"}),
    "rmsprop-centered-momentum": Case(
        "RMSprop", dict(lr=1e-2, alpha=0.95, momentum=0.8, centered=True), "RMSprop",
        dict(lr=1e-2, alpha=0.95, momentum=0.8, centered=True),
        {**RMS_H, "grad_avg": "grad_avg", "buf": "momentum_buffer"}),
    "rmsprop-weight-decay-maximize": Case(
        "RMSprop", dict(lr=1e-2, weight_decay=0.05, maximize=True, eps=1e-6), "RMSprop",
        dict(lr=1e-2, weight_decay=0.05, maximize=True, eps=1e-6), RMS_H),
    "adadelta": Case("Adadelta", dict(lr=1.0), "Adadelta", dict(lr=1.0), ADADELTA),
    "adadelta-hyper-weight-decay-maximize": Case(
        "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.05, maximize=True),
        "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.05, maximize=True), ADADELTA),
    # ------------------------------------------------------------------ clipping
    "sgd-momentum-max-grad-norm": Case("SGD", dict(lr=0.05, momentum=0.9), "SGD",
                                       dict(lr=0.05, momentum=0.9), SGD_BUF, max_grad_norm=5.0),
    "adam-max-grad-norm": Case("Adam", dict(lr=1e-2), "Adam", dict(lr=1e-2), ADAM_MV,
                               max_grad_norm=5.0),
    "sgd-clip-value": Case("SGD", dict(lr=0.05, momentum=0.9), "SGD",
                           dict(lr=0.05, momentum=0.9), SGD_BUF, clip_value=0.5),
    "rmsprop-clip-value": Case("RMSprop", dict(lr=1e-2), "RMSprop", dict(lr=1e-2), RMS_H,
                               clip_value=0.5),
    "adamw-max-grad-norm-clip-value": Case(
        "AdamW", dict(lr=1e-2, weight_decay=0.1), "AdamW", dict(lr=1e-2, weight_decay=0.1),
        ADAM_MV, max_grad_norm=4.0, clip_value=0.7),
    # ------------------------------------------------------------------ schedules
    "sgd-momentum-step-decay": Case(
        "SGD", dict(lr=lambda: fo.StepDecay(0.1, step_size=30, gamma=0.5), momentum=0.9), "SGD",
        dict(lr=0.1, momentum=0.9), SGD_BUF,
        scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)),
    "adam-multistep-decay": Case(
        "Adam", dict(lr=lambda: fo.MultiStepDecay(1e-2, milestones=[10, 45, 80], gamma=0.3)),
        "Adam", dict(lr=1e-2), ADAM_MV,
        scheduler=lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [10, 45, 80], gamma=0.3)),
    "rmsprop-exponential-decay": Case(
        "RMSprop", dict(lr=lambda: fo.ExponentialDecay(1e-2, gamma=0.98)), "RMSprop",
        dict(lr=1e-2), RMS_H,
        scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.98)),
    "adamw-cosine-decay": Case(
        "AdamW", dict(lr=lambda: fo.CosineDecay(1e-2, total_steps=STEPS, min_lr=1e-4),
                      weight_decay=0.1),
        "AdamW", dict(lr=1e-2, weight_decay=0.1), ADAM_MV,
        scheduler=lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS,
                                                                       eta_min=1e-4)),
}


@contextlib.contextmanager
def torch_default_dtype(dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(TORCH_DTYPE[dtype])
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _init_params(rng, dtype):
    return {n: rng.standard_normal(s).astype(dtype) for n, s in SHAPES.items()}


def _grads(rng, dtype):
    # a per-step scale makes the global norm straddle the max_grad_norm thresholds
    scale = rng.uniform(0.1, 1.5)
    return {n: (scale * rng.standard_normal(s)).astype(dtype) for n, s in SHAPES.items()}


def _torch_params(params):
    return {n: torch.tensor(a.copy(), requires_grad=True) for n, a in params.items()}


def _torch_optimizer(name, tparams, kwargs):
    return getattr(torch.optim, name)(list(tparams.values()), foreach=False, **kwargs)


def _assert_close(got, expected, dtype, what):
    np.testing.assert_allclose(got, expected, err_msg=what, **TOL[dtype])


def _run_case(case, dtype, seed):
    rng = np.random.default_rng(seed)
    params = _init_params(rng, dtype)
    tparams = _torch_params(params)
    kwargs = {k: (v() if callable(v) else v) for k, v in case.fo_kwargs.items()}
    opt = getattr(fo, case.fo_name)(params, max_grad_norm=case.max_grad_norm,
                                    clip_value=case.clip_value, **kwargs)
    topt = _torch_optimizer(case.torch_name, tparams, case.torch_kwargs)
    sched = case.scheduler(topt) if case.scheduler else None
    for _ in range(STEPS):
        grads = _grads(rng, dtype)
        for n, tp in tparams.items():
            tp.grad = torch.from_numpy(grads[n].copy())
        if case.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(list(tparams.values()), case.max_grad_norm,
                                           foreach=False)
        if case.clip_value is not None:
            torch.nn.utils.clip_grad_value_(list(tparams.values()), case.clip_value,
                                            foreach=False)
        opt.step(grads)
        topt.step()
        if sched is not None:
            sched.step()
    return params, opt, tparams, topt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case_id", list(CASES))
def test_matches_torch(case_id, backend, dtype):
    case = CASES[case_id]
    seed = sorted(CASES).index(case_id)
    with fastopt.use_backend(backend), torch_default_dtype(dtype):
        params, opt, tparams, topt = _run_case(case, dtype, seed)
    for n, tp in tparams.items():
        assert params[n].dtype == dtype
        _assert_close(params[n], tp.detach().numpy(), dtype, f"{case_id}: param {n!r}")
        tstate = topt.state[tp]
        for fo_key, torch_key in case.state.items():
            _assert_close(opt.state_view(n, fo_key), tstate[torch_key].numpy(), dtype,
                          f"{case_id}: state {fo_key!r} (torch {torch_key!r}) of {n!r}")
    if case.fo_name == "NAdam":
        for tp in tparams.values():
            _assert_close(opt.group_state[0]["mu_product"], float(topt.state[tp]["mu_product"]),
                          dtype, f"{case_id}: mu_product")


def test_case_table_uses_every_torch_compatible_optimizer():
    used = {c.fo_name for c in CASES.values()}
    assert used >= {"SGD", "Adam", "AdamW", "AMSGrad", "Adamax", "NAdam", "Adagrad", "RMSprop",
                    "Adadelta"}


# ---------------------------------------------------------------------- book forms
BOOK_FORMS = {
    # fastopt class, its state key, torch SGD kwargs (besides lr and momentum)
    "Momentum": ("buf", dict()),
    "Nesterov": ("velocity", dict(nesterov=True)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(BOOK_FORMS))
def test_book_momentum_forms_match_torch_sgd_at_constant_lr(name, backend, dtype):
    """Momentum (v = a·v − lr·g; p += v) and the corrected Nesterov equal torch SGD
    (momentum, resp. nesterov=True) for a constant lr, with velocity v = −lr·buf."""
    state_key, extra = BOOK_FORMS[name]
    lr, mu = 0.05, 0.9
    rng = np.random.default_rng(1234 + len(name))
    with fastopt.use_backend(backend), torch_default_dtype(dtype):
        params = _init_params(rng, dtype)
        tparams = _torch_params(params)
        opt = getattr(fo, name)(params, lr, mu)
        topt = torch.optim.SGD(list(tparams.values()), lr=lr, momentum=mu, foreach=False, **extra)
        for _ in range(STEPS):
            grads = _grads(rng, dtype)
            for n, tp in tparams.items():
                tp.grad = torch.from_numpy(grads[n].copy())
            opt.step(grads)
            topt.step()
    for n, tp in tparams.items():
        _assert_close(params[n], tp.detach().numpy(), dtype, f"{name}: param {n!r}")
        velocity = -lr * topt.state[tp]["momentum_buffer"].numpy().astype(np.float64)
        _assert_close(opt.state_view(n, state_key), velocity, dtype, f"{name}: velocity of {n!r}")
