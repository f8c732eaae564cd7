# ruff: noqa: E501  (the tables keep one setting per line)
"""Edge cases of our optimizers against ``torch.optim`` (2.13) as the oracle.

The main tables (``test_optim_torch.py``, ``test_optim_torch_more.py``) run fixed
hyperparameters on ordinary shapes. This file pins what they leave out, each found by a
differential run against torch:

* 0-d and size-0 parameters (NAdam, centered RMSprop and Adadelta used to crash on 0-d
  parameters; Adafactor on size-0 ones, where torch raises too);
* hyperparameters changed mid-run through ``opt.param_groups[i][...]``, gradients that
  are None on some steps only, groups with different hyperparameters, and
  ``add_param_group`` in the middle of a run;
* torch 2.13's ``Adam(decoupled_weight_decay=True)`` (= AdamW);
* numpy scalars as hyperparameters (``lr=np.float32(0.1)``), which torch accepts;
* named parameters (``(name, Tensor)`` pairs, as ``named_parameters()`` yields) and the
  ``param_names`` they put in ``state_dict``;
* the structure of ``state_dict`` and a mid-run ``load_state_dict`` into a fresh
  optimizer, continued next to an uninterrupted torch run;
* invalid hyperparameters that torch rejects: ours rejects them too, naming the value.

float64 runs compare to rtol 1e-10 with ``torch.set_default_dtype(torch.float64)`` (NAdam's
μ product and ASGD's ηₜ, μₜ live in torch's default dtype); float32 runs to atol 1e-5 /
rtol 1e-4 over 10 steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import (
    ASGD,
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    NAdam,
    RAdam,
    RMSprop,
    Rprop,
)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

RTOL64, ATOL64 = 1e-10, 1e-12
RTOL32, ATOL32 = 1e-4, 1e-5
STEPS, STEPS32 = 60, 10


@dataclass(frozen=True)
class Method:
    """One optimizer configuration; ``change`` is written into every group mid-run."""

    name: str
    ours: type
    theirs: str
    kwargs: dict[str, Any]
    change: dict[str, Any] = field(default_factory=dict)


# fmt: off
METHODS = [
    Method("sgd", SGD, "SGD", dict(lr=0.05), dict(lr=0.01, weight_decay=0.1)),
    Method("sgd_momentum", SGD, "SGD", dict(lr=0.05, momentum=0.9, dampening=0.1), dict(momentum=0.5, dampening=0.0, nesterov=True)),
    Method("sgd_momentum_on", SGD, "SGD", dict(lr=0.05), dict(momentum=0.9)),
    Method("adam", Adam, "Adam", dict(lr=0.01, weight_decay=0.05), dict(lr=0.002, betas=(0.8, 0.99), eps=1e-3)),
    Method("adam_amsgrad", Adam, "Adam", dict(lr=0.01, amsgrad=True, maximize=True), dict(maximize=False, weight_decay=0.1)),
    Method("adam_decoupled", Adam, "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), dict(decoupled_weight_decay=False)),
    Method("adamw", AdamW, "AdamW", dict(lr=0.01, weight_decay=0.1), dict(lr=0.003, weight_decay=0.5)),
    Method("nadam", NAdam, "NAdam", dict(lr=0.01, weight_decay=0.05), dict(momentum_decay=0.02, betas=(0.8, 0.99))),
    Method("nadam_decoupled", NAdam, "NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), dict(lr=0.002)),
    Method("radam", RAdam, "RAdam", dict(lr=0.01, weight_decay=0.05), dict(betas=(0.5, 0.9), decoupled_weight_decay=True)),
    Method("adamax", Adamax, "Adamax", dict(lr=0.01, weight_decay=0.05), dict(betas=(0.5, 0.9), eps=0.1)),
    Method("adagrad", Adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5), dict(lr_decay=0.1, weight_decay=0.1)),
    Method("rmsprop", RMSprop, "RMSprop", dict(lr=0.01, weight_decay=0.05), dict(alpha=0.5, eps=1e-3)),
    Method("rmsprop_centered", RMSprop, "RMSprop", dict(lr=0.01, momentum=0.5, centered=True), dict(alpha=0.9, momentum=0.9, maximize=True)),
    Method("adadelta", Adadelta, "Adadelta", dict(lr=0.5, weight_decay=0.05), dict(rho=0.5, eps=1e-2)),
    Method("adafactor", Adafactor, "Adafactor", dict(lr=0.05, weight_decay=0.05), dict(lr=0.01, d=1.5, beta2_decay=-0.5, eps=(1e-10, 1e-2))),
    Method("rprop", Rprop, "Rprop", dict(lr=0.05, etas=(0.3, 1.7), step_sizes=(1e-3, 0.2)), dict(lr=1.0, etas=(0.1, 2.0), step_sizes=(0.0, 0.05))),
    Method("asgd", ASGD, "ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.05), dict(lr=0.01, t0=30, lambd=0.1)),
]
# fmt: on
IDS = [m.name for m in METHODS]
BY_NAME = {m.name: m for m in METHODS}

SHAPES = ((3, 4), (5,), (), (2, 3, 2), (1, 1))  # a 0-d one, a 3-D one, a 1x1 matrix
EMPTY_SHAPES = ((0,), (0, 3), (2, 0, 3))  # size-0 parameters


@pytest.fixture
def float64_default():
    """torch's default dtype float64 for the test (scalar state NAdam/ASGD keep in it)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _torch_cls(m: Method) -> Callable:
    return getattr(torch.optim, m.theirs)


def _pair(p0: list[np.ndarray]) -> tuple[list[Tensor], list[Any]]:
    ours = [Tensor(p.copy(), requires_grad=True) for p in p0]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in p0]
    return ours, theirs


def _set_grads(ours: list, theirs: list, grads: list, skip: Callable[[int], bool]) -> None:
    for i, (a, b, g) in enumerate(zip(ours, theirs, grads)):
        none = skip(i)
        a.grad = None if none else g.copy()
        b.grad = None if none else torch.tensor(g.copy())


def _check(ours: list, theirs: list, step: int, dtype: Any, what: str) -> None:
    rtol, atol = (RTOL64, ATOL64) if dtype == np.float64 else (RTOL32, ATOL32)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        ref = b.detach().numpy()
        assert a.data.dtype == ref.dtype, f"{what}: parameter {i} dtype {a.data.dtype}"
        if not np.allclose(a.data, ref, rtol=rtol, atol=atol):
            err = np.max(np.abs(a.data - ref))
            raise AssertionError(
                f"{what}: step {step}, parameter {i} (shape {ref.shape}): ours {a.data!r}, "
                f"torch {ref!r} (max abs diff {err:.3g})"
            )


def _run(
    m: Method,
    shapes: tuple = SHAPES,
    steps: int = STEPS,
    dtype: Any = np.float64,
    groups: list | None = None,
    hook: Callable | None = None,
    skip: Callable[[int, int], bool] = lambda t, i: False,
    seed: int = 0,
    ours_kwargs: dict | None = None,
) -> None:
    """Run ours and torch's ``m`` side by side, comparing the parameters after each step.

    ``groups`` is ``[(indices, hyperparameters), ...]``; ``hook(t, ours_opt, torch_opt)``
    runs before step t (0-based); ``skip(t, i)`` leaves parameter i without a gradient.
    """
    rng = np.random.default_rng(seed)
    p0 = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours, theirs = _pair(p0)

    def grouped(ps: list) -> list:
        if groups is None:
            return ps
        return [dict(params=[ps[i] for i in idx], **hp) for idx, hp in groups]

    opt = m.ours(grouped(ours), **{**m.kwargs, **(ours_kwargs or {})})
    ref = _torch_cls(m)(grouped(theirs), **m.kwargs)
    for t in range(steps):
        if hook is not None:
            hook(t, opt, ref)
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        _set_grads(ours, theirs, grads, lambda i, t=t: skip(t, i))
        opt.step()
        ref.step()
        _check(ours, theirs, t + 1, dtype, m.name)


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", IDS)
def test_zero_dim_and_matrix_parameters_float64(name, float64_default):
    _run(BY_NAME[name])


@pytest.mark.parametrize("name", IDS)
def test_zero_dim_and_matrix_parameters_float32(name):
    _run(BY_NAME[name], steps=STEPS32, dtype=np.float32)


@pytest.mark.parametrize("name", IDS)
def test_size_zero_parameters_are_stepped_like_torch(name, float64_default):
    m = BY_NAME[name]
    shapes = ((3, 2), *EMPTY_SHAPES, ())
    if m.ours is Adafactor:
        # torch's Adafactor divides by the size (ZeroDivisionError); ours leaves it alone
        p = torch.zeros(0, requires_grad=True)
        p.grad = torch.zeros(0)
        with pytest.raises(ZeroDivisionError):
            torch.optim.Adafactor([p]).step()
        rng = np.random.default_rng(1)
        p0 = [rng.standard_normal(s) for s in shapes]
        ours, theirs = _pair(p0)
        opt = Adafactor(ours, **m.kwargs)
        keep = [i for i, s in enumerate(shapes) if np.prod(s) > 0]
        ref = torch.optim.Adafactor([theirs[i] for i in keep], **m.kwargs)
        for t in range(10):
            grads = [rng.standard_normal(s) for s in shapes]
            _set_grads(ours, theirs, grads, lambda i: False)
            opt.step()
            ref.step()
            _check([ours[i] for i in keep], [theirs[i] for i in keep], t + 1, np.float64, name)
        assert all(opt.state[ours[i]]["step"] == 10 for i in range(len(shapes)))
        return
    _run(m, shapes=shapes, steps=20)


# --------------------------------------------------------------------------- mid-run changes
@pytest.mark.parametrize("name", IDS)
def test_hyperparameters_changed_mid_run_through_param_groups(name, float64_default):
    m = BY_NAME[name]
    assert m.change

    def hook(t: int, opt: Any, ref: Any) -> None:
        if t == STEPS // 3:
            for group in opt.param_groups + ref.param_groups:
                group.update(m.change)

    _run(m, hook=hook)


@pytest.mark.parametrize("name", IDS)
def test_gradients_missing_on_some_steps_and_groups_with_own_hyperparameters(name, float64_default):
    m = BY_NAME[name]
    own = {"lr": m.kwargs["lr"] / 3}
    if "weight_decay" in m.kwargs:
        own["weight_decay"] = 2 * m.kwargs["weight_decay"]
    _run(
        m,
        groups=[([0, 2], own), ([1, 3, 4], {})],
        # parameter 0 skips every third step, parameter 1 starts late, 2 stops early
        skip=lambda t, i: (i == 0 and t % 3 == 1) or (i == 1 and t < 7) or (i == 2 and t > 40),
    )


@pytest.mark.parametrize("name", IDS)
def test_add_param_group_mid_run(name, float64_default):
    m = BY_NAME[name]
    rng = np.random.default_rng(2)
    shapes = ((3, 4), (5,), (2, 2), ())
    ours, theirs = _pair([rng.standard_normal(s) for s in shapes])
    opt, ref = m.ours(ours[:2], **m.kwargs), _torch_cls(m)(theirs[:2], **m.kwargs)
    extra = {k: v for k, v in m.change.items() if k != "initial_accumulator_value"}
    for t in range(40):
        if t == 15:
            opt.add_param_group(dict(params=ours[2:], **extra))
            ref.add_param_group(dict(params=theirs[2:], **extra))
        n = len(shapes) if t >= 15 else 2
        grads = [rng.standard_normal(s) for s in shapes]
        _set_grads(ours[:n], theirs[:n], grads[:n], lambda i: False)
        opt.step()
        ref.step()
        _check(ours, theirs, t + 1, np.float64, name)
    assert [len(g["params"]) for g in opt.state_dict()["param_groups"]] == [2, 2]


# --------------------------------------------------------------------------- state_dict
# state keys we keep that torch does not: SGD counts its momentum updates (torch tests
# whether the buffer is None instead). Parameter 1 never gets a gradient here: as torch,
# we keep no state for it, except that torch's Adagrad makes all its state up front.
EXTRA_STATE = {"SGD": {"step"}}


@pytest.mark.parametrize("name", IDS)
def test_state_dict_mirrors_torchs_structure(name, float64_default):
    m = BY_NAME[name]
    shapes = ((3, 4), (5,), ())
    ours, theirs = _pair([np.ones(s) for s in shapes])
    groups = [dict(params=[0]), dict(params=[1, 2], lr=m.kwargs["lr"] / 2)]
    opt = m.ours([{**g, "params": [ours[i] for i in g["params"]]} for g in groups], **m.kwargs)
    ref = _torch_cls(m)(
        [{**g, "params": [theirs[i] for i in g["params"]]} for g in groups], **m.kwargs
    )
    for _ in range(3):
        _set_grads(ours, theirs, [np.full(s, 0.3) for s in shapes], lambda i: i == 1)
        opt.step()
        ref.step()
    mine, theirs_sd = opt.state_dict(), ref.state_dict()
    assert [g["params"] for g in mine["param_groups"]] == [
        g["params"] for g in theirs_sd["param_groups"]
    ]
    for g_ours, g_torch in zip(mine["param_groups"], theirs_sd["param_groups"]):
        for key, value in g_ours.items():
            assert key in g_torch, f"{name}: torch's groups have no {key!r}"
            assert value == g_torch[key] or (value != value and g_torch[key] != g_torch[key])
    theirs_state = {k: v for k, v in theirs_sd["state"].items() if v}
    if m.theirs == "Adagrad":  # torch makes Adagrad's state in the constructor, ours lazily
        assert float(theirs_state.pop(1)["step"]) == 0 and 1 not in mine["state"]
    mine_state = {k: v for k, v in mine["state"].items() if v}
    assert sorted(mine_state) == sorted(theirs_state) and all(
        isinstance(k, int) for k in mine_state
    )
    for index, s in mine_state.items():
        extra = EXTRA_STATE.get(m.theirs, set())
        assert set(s) - extra == set(theirs_state[index]), (name, index)
        for key, value in theirs_state[index].items():
            if key == "step":
                assert s["step"] == int(value)
            else:  # arrays of torch's shapes (Adafactor: factored row/column averages)
                assert np.shape(s[key]) == tuple(value.shape), (name, index, key)
                np.testing.assert_allclose(s[key], value.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", IDS)
def test_load_state_dict_mid_run_continues_torchs_trajectory(name, float64_default):
    m = BY_NAME[name]
    rng = np.random.default_rng(3)
    shapes = ((3, 4), (5,), ())
    ours, theirs = _pair([rng.standard_normal(s) for s in shapes])
    opt, ref = m.ours(ours, **m.kwargs), _torch_cls(m)(theirs, **m.kwargs)
    for t in range(50):
        if t == 20:  # a fresh optimizer, restored from a checkpoint of the old one
            saved = opt.state_dict()
            opt = m.ours(ours, **m.kwargs)
            opt.load_state_dict(saved)
        if t == 30:  # and from one whose hyperparameters were changed mid-run
            for group in opt.param_groups + ref.param_groups:
                group.update(m.change)
            saved = opt.state_dict()
            opt = m.ours(ours, **m.kwargs)
            opt.load_state_dict(saved)
            assert all(opt.param_groups[0][k] == v for k, v in m.change.items())
        grads = [rng.standard_normal(s) for s in shapes]
        _set_grads(ours, theirs, grads, lambda i, t=t: i == 2 and t < 10)
        opt.step()
        ref.step()
        _check(ours, theirs, t + 1, np.float64, name)


# --------------------------------------------------------------------------- constructor arguments
def test_adam_decoupled_weight_decay_is_adamw(float64_default):
    rng = np.random.default_rng(4)
    p0 = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    a, ta = _pair(p0)
    w, _ = _pair(p0)
    kw = dict(lr=0.01, weight_decay=0.1, amsgrad=True)
    opt_a = Adam(a, decoupled_weight_decay=True, **kw)
    opt_w = AdamW(w, **kw)
    ref = torch.optim.Adam(ta, decoupled_weight_decay=True, **kw)
    assert opt_a.param_groups[0]["decoupled_weight_decay"] is True
    assert Adam(a).param_groups[0]["decoupled_weight_decay"] is False
    for t in range(30):
        grads = [rng.standard_normal(p.shape) for p in p0]
        _set_grads(a, ta, grads, lambda i: False)
        for p, g in zip(w, grads):
            p.grad = g.copy()
        opt_a.step(), opt_w.step(), ref.step()
        _check(a, ta, t + 1, np.float64, "adam decoupled")
        for x, y in zip(a, w):
            np.testing.assert_array_equal(x.data, y.data)  # the same code path, bit for bit


def test_adamw_follows_a_loaded_decoupled_weight_decay_entry():
    """Our AdamW groups hold no ``decoupled_weight_decay`` (torch's hold True); a group
    given one (a state dict saved by Adam) follows it, as torch's AdamW does."""
    p0 = [np.linspace(-1, 1, 6)]
    (w,), (a,) = _pair(p0)[0], _pair(p0)[0]
    opt_w, opt_a = AdamW([w], lr=0.1, weight_decay=0.5), Adam([a], lr=0.1, weight_decay=0.5)
    assert "decoupled_weight_decay" not in opt_w.param_groups[0]
    opt_w.load_state_dict(opt_a.state_dict())
    assert opt_w.param_groups[0]["decoupled_weight_decay"] is False
    for _ in range(5):
        w.grad, a.grad = np.ones(6), np.ones(6)
        opt_w.step(), opt_a.step()
    np.testing.assert_array_equal(w.data, a.data)


@pytest.mark.parametrize("name", ["sgd_momentum", "adam", "rmsprop_centered", "asgd", "rprop"])
def test_numpy_scalar_hyperparameters_are_accepted_as_in_torch(name, float64_default):
    """``lr=np.float32(0.1)`` and friends: torch takes them; we used to reject them
    ("Invalid learning rate: 0.10000000149011612"). We store the Python number (the
    double 0.10000000149011612): the trajectory is torch's given that double. (torch
    keeps the numpy scalar, and some of its scalar arithmetic, e.g. Adam's lr / (1 - β1ᵗ),
    then happens in float32 under numpy 2's promotion rules.)"""
    m = BY_NAME[name]

    def as_numpy(v: Any) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, tuple):
            return tuple(as_numpy(x) for x in v)
        if isinstance(v, int):
            return np.int64(v)
        return np.float32(v) if isinstance(v, float) else v

    kw = {k: as_numpy(v) for k, v in m.kwargs.items()}
    _torch_cls(m)([torch.zeros(2, requires_grad=True)], **kw)  # torch accepts them
    plain = {k: _plain(v) for k, v in kw.items()}
    _run(Method(m.name, m.ours, m.theirs, plain), steps=20, ours_kwargs=kw)
    group = m.ours([Tensor(np.zeros(2), requires_grad=True)], **kw).param_groups[0]
    for key, value in group.items():
        if key != "params":
            items = value if isinstance(value, tuple) else (value,)
            assert not any(isinstance(x, np.generic) for x in items), (key, value)


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    return v.item() if isinstance(v, np.generic) else v


def test_named_parameters_as_in_torch():
    model = nn.MLP([2, 3, 1], rng=0)
    named = list(model.named_parameters())
    opt = Adam(named, lr=0.1)
    t_named = [(n, torch.zeros(p.shape, requires_grad=True)) for n, p in named]
    ref = torch.optim.Adam(t_named, lr=0.1)
    assert opt.param_groups[0]["params"] == [p for _, p in named]
    assert opt.param_groups[0]["param_names"] == ref.param_groups[0]["param_names"]
    sd, t_sd = opt.state_dict(), ref.state_dict()
    assert sd["param_groups"][0]["param_names"] == t_sd["param_groups"][0]["param_names"]
    assert sd["param_groups"][0]["params"] == t_sd["param_groups"][0]["params"]
    fresh = Adam(nn.MLP([2, 3, 1], rng=1).named_parameters())
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["param_names"] == [n for n, _ in named]
    assert "param_names" not in repr(opt)
    extra = Tensor(np.zeros(2), requires_grad=True)
    opt.add_param_group({"params": [("extra", extra)], "lr": 0.5})
    assert opt.param_groups[1]["param_names"] == ["extra"]
    # torch's rules: all parameters named or none, in every group; no sets
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [Tensor(np.zeros(1), requires_grad=True)]})
    with pytest.raises(ValueError, match="with/without names"):
        ref.add_param_group({"params": [torch.zeros(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="with/without names"):
        Adam([named[0], Tensor(np.zeros(1), requires_grad=True)])
    with pytest.raises(ValueError, match="with/without names"):
        torch.optim.Adam([t_named[0], torch.zeros(1, requires_grad=True)])
    with pytest.raises(TypeError, match="set"):
        opt.add_param_group({"params": {("x", Tensor(np.zeros(1), requires_grad=True))}})
    with pytest.raises(TypeError, match="set"):
        ref.add_param_group({"params": {("x", torch.zeros(1, requires_grad=True))}})


# --------------------------------------------------------------------------- invalid values
# fmt: off
INVALID = [
    (SGD, "SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (SGD, "SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (SGD, "SGD", dict(lr=0.1, weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    (SGD, "SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (Adam, "Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (Adam, "Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (Adam, "Adam", dict(betas=(0.9, -0.1), decoupled_weight_decay=True), "Invalid beta parameter at index 1: -0.1"),
    (AdamW, "AdamW", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    (NAdam, "NAdam", dict(momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
    (RAdam, "RAdam", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (Adamax, "Adamax", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (Adagrad, "Adagrad", dict(lr_decay=-0.1), "Invalid lr_decay value: -0.1"),
    (Adagrad, "Adagrad", dict(initial_accumulator_value=-1.0), "Invalid initial_accumulator_value value: -1.0"),
    (RMSprop, "RMSprop", dict(alpha=-0.5), "Invalid alpha value: -0.5"),
    (RMSprop, "RMSprop", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (Adadelta, "Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    (Rprop, "Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    (Rprop, "Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    (ASGD, "ASGD", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (Adafactor, "Adafactor", dict(lr=-0.1), "-0.1"),
    (Adafactor, "Adafactor", dict(beta2_decay=0.5), "beta2_decay"),
    (Adafactor, "Adafactor", dict(eps=(-1.0, 1e-3)), "epsilon1"),
    (Adafactor, "Adafactor", dict(d=0.5), "0.5"),
]
# fmt: on


@pytest.mark.parametrize(
    "ours,theirs,kwargs,message", INVALID, ids=[f"{t}-{sorted(k)[0]}" for _, t, k, _ in INVALID]
)
def test_invalid_hyperparameters_rejected_like_torch(ours, theirs, kwargs, message):
    torch_kwargs = {k: v for k, v in kwargs.items()}
    with pytest.raises(ValueError) as torch_error:
        getattr(torch.optim, theirs)([torch.zeros(2, requires_grad=True)], **torch_kwargs)
    with pytest.raises(ValueError) as our_error:
        ours([Tensor(np.zeros(2), requires_grad=True)], **kwargs)
    assert message in str(our_error.value)
    if message.startswith("Invalid"):  # torch's wording, word for word
        assert str(our_error.value).startswith(str(torch_error.value))
