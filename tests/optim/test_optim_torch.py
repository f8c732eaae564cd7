# ruff: noqa: E501  (the case table keeps one setting per line)
"""Every optimizer with a ``torch.optim`` counterpart follows torch's trajectory.

One data-driven table, ``CASES``, drives everything: each :class:`Case` names a setting,
our class, torch's class name and the keyword arguments (identical on both sides, which
also checks that our hyperparameter names are torch's). Adding a method or a setting is
one line here, then ``python scripts/make_optim_fixtures.py`` (with torch installed)
refreshes ``tests/fixtures/optim_torch.npz``.

For every case:

- float64, 200 steps on a random gradient sequence, rtol 1e-10;
- float64, 200 steps with two parameter groups at different learning rates;
- float32, 10 steps, atol 1e-5 / rtol 1e-4;
- float64, 200 steps training a small tanh MLP on a fixed regression batch, each side
  with its own autograd, final parameters to rtol 1e-8.

When torch is importable each is run live (marker ``torch``); always, our runs are
compared with the committed fixture of torch's trajectories (kept at steps 1-10 and every
20th step), so agreement is checked where torch is missing too. Hypothesis tests check
every method stays finite over its valid hyperparameter range and rejects invalid ones
with a ValueError naming the value.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim.adadelta import Adadelta
from tinygrad_opt.optim.adagrad import Adagrad
from tinygrad_opt.optim.adam import Adam, AdamW
from tinygrad_opt.optim.adamax import Adamax
from tinygrad_opt.optim.nadam import NAdam
from tinygrad_opt.optim.optimizer import Optimizer, create
from tinygrad_opt.optim.radam import RAdam
from tinygrad_opt.optim.rmsprop import RMSprop
from tinygrad_opt.optim.sgd import SGD
from tinygrad_opt.optim.testing import (
    compare_trajectories,
    gradient_sequence,
    initial_params,
    run_optimizer,
    run_torch,
)

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None

FIXTURE = Path(__file__).parents[1] / "fixtures" / "optim_torch.npz"

SHAPES = ((2, 3), (4,))
STEPS = 200
F32_STEPS = 10
SNAPSHOTS = (*range(1, 11), *range(20, STEPS + 1, 20))  # 1-based steps kept in the fixture
GROUP_LRS = (1.0, 0.3)  # two groups: each case's lr times these
F64_TOL = dict(rtol=1e-10, atol=1e-12)
F32_TOL = dict(rtol=1e-4, atol=1e-5)
NET_TOL = dict(rtol=1e-8, atol=1e-10)
NET_SIZES = (4, 8, 1)
# The network runs use a tenth of each case's lr. At larger steps the adaptive methods
# either reach the edge of stability or the minimum (where the gradient is rounding
# noise), and the ~1e-16 differences between the two autograds then grow exponentially
# (measured: up to 1e-1 at full lr, at most ~5e-12 at a tenth).
NET_LR_SCALE = 0.1


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    """``ours(params, **kwargs)`` must follow ``torch.optim.<theirs>(params, **kwargs)``."""

    name: str
    ours: type[Optimizer]
    theirs: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make_ours(self, params: Any, **override: Any) -> Optimizer:
        return self.ours(params, **{**self.kwargs, **override})

    def make_theirs(self, params: Any, **override: Any) -> Any:
        return getattr(torch.optim, self.theirs)(params, **{**self.kwargs, **override})

    def seed(self) -> int:
        return zlib.crc32(self.name.encode()) % 2**31


# fmt: off
CASES = [
    Case("sgd", SGD, "SGD", dict(lr=0.1)),
    Case("sgd_momentum", SGD, "SGD", dict(lr=0.05, momentum=0.9)),
    Case("sgd_dampening", SGD, "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    Case("sgd_nesterov", SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    Case("sgd_weight_decay", SGD, "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    Case("sgd_maximize", SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    Case("adam", Adam, "Adam", dict(lr=0.01)),
    Case("adam_betas_eps", Adam, "Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-4)),
    Case("adam_weight_decay", Adam, "Adam", dict(lr=0.01, weight_decay=0.1)),
    Case("adam_amsgrad", Adam, "Adam", dict(lr=0.01, amsgrad=True)),
    Case("adam_maximize", Adam, "Adam", dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
    Case("adam_decoupled", Adam, "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    Case("adamw", AdamW, "AdamW", dict(lr=0.01, weight_decay=0.1)),
    Case("adamw_amsgrad", AdamW, "AdamW", dict(lr=0.01, weight_decay=0.05, amsgrad=True)),
    Case("adamw_maximize", AdamW, "AdamW", dict(lr=0.01, maximize=True)),
    Case("adagrad", Adagrad, "Adagrad", dict(lr=0.1)),
    Case("adagrad_lr_decay", Adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    Case("adagrad_weight_decay", Adagrad, "Adagrad", dict(lr=0.1, weight_decay=0.1, eps=1e-6)),
    Case("adagrad_maximize", Adagrad, "Adagrad", dict(lr=0.1, lr_decay=0.001, maximize=True)),
    Case("rmsprop", RMSprop, "RMSprop", dict(lr=0.01)),
    Case("rmsprop_alpha_eps", RMSprop, "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-3)),
    Case("rmsprop_centered", RMSprop, "RMSprop", dict(lr=0.01, centered=True)),
    Case("rmsprop_momentum", RMSprop, "RMSprop", dict(lr=0.005, momentum=0.9, weight_decay=0.1)),
    Case("rmsprop_centered_momentum", RMSprop, "RMSprop", dict(lr=0.005, alpha=0.95, momentum=0.5, centered=True, weight_decay=0.05)),
    Case("rmsprop_maximize", RMSprop, "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True)),
    Case("adamax", Adamax, "Adamax", dict(lr=0.01)),
    Case("adamax_weight_decay", Adamax, "Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1)),
    Case("adamax_maximize", Adamax, "Adamax", dict(lr=0.01, weight_decay=0.05, maximize=True)),
    Case("nadam", NAdam, "NAdam", dict(lr=0.01)),
    Case("nadam_weight_decay", NAdam, "NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    Case("nadam_decoupled", NAdam, "NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    Case("nadam_maximize", NAdam, "NAdam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-4, maximize=True)),
    Case("radam", RAdam, "RAdam", dict(lr=0.01)),
    Case("radam_weight_decay", RAdam, "RAdam", dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)),
    Case("radam_decoupled", RAdam, "RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    Case("radam_maximize", RAdam, "RAdam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-4, maximize=True)),
    Case("adadelta", Adadelta, "Adadelta", dict()),
    Case("adadelta_rho_eps", Adadelta, "Adadelta", dict(lr=0.5, rho=0.95, eps=1e-4, weight_decay=0.1)),
    Case("adadelta_maximize", Adadelta, "Adadelta", dict(lr=2.0, maximize=True)),
]
# fmt: on
BY_NAME = {c.name: c for c in CASES}
IDS = [c.name for c in CASES]

torch_only = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")


# --------------------------------------------------------------------------- the runs
def case_inputs(case: Case, dtype: Any = np.float64, steps: int = STEPS):
    """(initial parameters, gradient sequence) of a case: seeded by its name."""
    grads = gradient_sequence(SHAPES, steps, seed=case.seed(), dtype=dtype)
    return initial_params(SHAPES, seed=case.seed() + 1, dtype=dtype), grads


def input_digest(case: Case) -> np.ndarray:
    """A fingerprint of the float64 inputs, stored in the fixture to catch generator drift."""
    params0, grads = case_inputs(case)
    return np.array([sum(p.sum() for p in params0), sum(g.sum() for gs in grads for g in gs)])


def two_groups(make: Callable[[Any], Any], lr: float) -> Callable[[list], Any]:
    """The factory applied to two parameter groups with learning rates lr·GROUP_LRS."""
    return lambda ps: make(
        [{"params": ps[:1], "lr": lr * GROUP_LRS[0]}, {"params": ps[1:], "lr": lr * GROUP_LRS[1]}]
    )


def case_lr(case: Case) -> float:
    return case.kwargs.get("lr", 1.0)


@contextmanager
def torch_default_dtype(dtype: Any):
    """torch keeps some scalar state (NAdam's Π, step counters) in its default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def run_theirs(case: Case, kind: str) -> list[list[np.ndarray]]:
    """torch's trajectory for ``kind`` in ``f64``, ``groups``, ``f32``."""
    if kind == "f32":
        params0, grads = case_inputs(case, np.float32, F32_STEPS)
        return run_torch(case.make_theirs, params0, grads)
    params0, grads = case_inputs(case)
    make = case.make_theirs if kind == "f64" else two_groups(case.make_theirs, case_lr(case))
    with torch_default_dtype(torch.float64):
        return run_torch(make, params0, grads)


def run_ours(case: Case, kind: str) -> list[list[np.ndarray]]:
    if kind == "f32":
        params0, grads = case_inputs(case, np.float32, F32_STEPS)
        return run_optimizer(case.make_ours, params0, grads)
    params0, grads = case_inputs(case)
    make = case.make_ours if kind == "f64" else two_groups(case.make_ours, case_lr(case))
    return run_optimizer(make, params0, grads)


def net_problem() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A fixed regression batch and initial weights (torch's (out, in) layout, as ours)."""
    rng = np.random.default_rng(20240607)
    x = rng.standard_normal((16, NET_SIZES[0]))
    y = np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * rng.standard_normal((16, 1))
    weights = []
    for n_in, n_out in zip(NET_SIZES[:-1], NET_SIZES[1:]):
        bound = 1.0 / math.sqrt(n_in)
        weights += [rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)]
    return x, y, weights


def loss_sign(case: Case) -> float:
    """Cases with ``maximize`` train on -loss (so they still descend the loss)."""
    return -1.0 if case.kwargs.get("maximize") else 1.0


def train_ours(case: Case, steps: int = STEPS, losses: list | None = None) -> list[np.ndarray]:
    """Our MLP's parameters after ``steps``; the loss of each step goes to ``losses``."""
    x, y, weights = net_problem()
    model = nn.MLP(NET_SIZES, activation="tanh", dtype=np.float64)
    params = model.parameters()
    assert [p.shape for p in params] == [w.shape for w in weights]
    for p, w in zip(params, weights):
        p.data[...] = w
    opt = case.make_ours(params, lr=case_lr(case) * NET_LR_SCALE)
    xt, yt = Tensor(x), Tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.mse_loss(model(xt), yt)
        (loss * loss_sign(case)).backward()
        opt.step()
        if losses is not None:
            losses.append(loss.item())
    return [p.data.copy() for p in params]


def train_theirs(case: Case, steps: int = STEPS) -> list[np.ndarray]:
    """The same network in torch, the same weights (both libraries store (out, in))."""
    x, y, weights = net_problem()
    with torch_default_dtype(torch.float64):
        layers: list[Any] = []
        for n_in, n_out in zip(NET_SIZES[:-1], NET_SIZES[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.Tanh()]
        net = torch.nn.Sequential(*layers[:-1])
        params = list(net.parameters())
        with torch.no_grad():
            for p, w in zip(params, weights):
                p.copy_(torch.from_numpy(w))
        opt = case.make_theirs(params, lr=case_lr(case) * NET_LR_SCALE)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(steps):
            opt.zero_grad()
            (torch.nn.functional.mse_loss(net(xt), yt) * loss_sign(case)).backward()
            opt.step()
        return [p.detach().numpy().copy() for p in params]


KINDS = {"f64": F64_TOL, "groups": F64_TOL, "f32": F32_TOL}


def snapshot(traj: list[list[np.ndarray]], kind: str) -> np.ndarray:
    """What the fixture keeps of a trajectory: flattened parameters at the kept steps."""
    steps = range(1, len(traj) + 1) if kind == "f32" else SNAPSHOTS
    return np.stack([np.concatenate([p.ravel() for p in traj[t - 1]]) for t in steps])


def assert_close(ours: np.ndarray, ref: np.ndarray, tol: dict, what: str) -> None:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs {ref.shape}"
    bad = ~(np.abs(ours - ref) <= tol["atol"] + tol["rtol"] * np.abs(ref))
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: at {i} ours {ours[i]!r}, torch {ref[i]!r} ({int(bad.sum())} values differ)"
        )


# --------------------------------------------------------------------------- table sanity
def test_case_names_are_unique_and_cover_every_method():
    assert len(IDS) == len(set(IDS))
    classes = {c.ours for c in CASES}
    assert classes == {SGD, Adam, AdamW, Adagrad, RMSprop, Adamax, NAdam, RAdam, Adadelta}
    for cls in classes:  # every flag of every method is switched on by some case
        flags = {k for k, v in _defaults(cls).items() if isinstance(v, bool)}
        on = {k for c in CASES if c.ours is cls for k, v in c.kwargs.items() if v is True}
        assert flags <= on, f"{cls.__name__}: no case sets {sorted(flags - on)}"
        wd = [c for c in CASES if c.ours is cls and c.kwargs.get("weight_decay")]
        assert wd, f"{cls.__name__}: no case with weight decay"


def _defaults(cls: type[Optimizer]) -> dict[str, Any]:
    return cls([Tensor(np.zeros(1), requires_grad=True)]).defaults


# --------------------------------------------------------------------------- live against torch
@pytest.mark.torch
@torch_only
@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", IDS)
def test_matches_torch_live(name, kind):
    case = BY_NAME[name]
    ours, theirs = run_ours(case, kind), run_theirs(case, kind)
    compare_trajectories(ours, theirs, **KINDS[kind])


@pytest.mark.torch
@torch_only
@pytest.mark.parametrize("name", IDS)
def test_training_matches_torch_live(name):
    case = BY_NAME[name]
    ours, theirs = train_ours(case), train_theirs(case)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a, b, NET_TOL, f"{name}: parameter {i} after {STEPS} training steps")


@pytest.mark.torch
@torch_only
def test_torch_defaults_are_ours():
    """Every default hyperparameter equals torch's (so the table's omitted ones agree)."""
    for cls in {c.ours for c in CASES}:
        theirs = getattr(torch.optim, cls.__name__)([torch.zeros(1, requires_grad=True)]).defaults
        for key, value in _defaults(cls).items():
            assert key in theirs, f"{cls.__name__}: torch has no hyperparameter {key!r}"
            assert tuple(theirs[key]) == value if key == "betas" else theirs[key] == value, (
                f"{cls.__name__}.{key}: ours {value!r}, torch {theirs[key]!r}"
            )


# --------------------------------------------------------------------------- committed fixture
@pytest.fixture(scope="module")
def fixture_data():
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: run `python scripts/make_optim_fixtures.py`")
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


def _stored(data: dict, name: str, kind: str) -> np.ndarray:
    key = f"{name}/{kind}"
    assert key in data, (
        f"case {name!r} has no {kind!r} entry in {FIXTURE.name}: run `python scripts/make_optim_fixtures.py`"
    )
    return data[key]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("name", IDS)
def test_matches_torch_fixture(name, kind, fixture_data):
    case = BY_NAME[name]
    np.testing.assert_array_equal(
        input_digest(case),
        _stored(fixture_data, name, "digest"),
        err_msg="the gradient/parameter generator changed: regenerate the fixture",
    )
    ours = snapshot(run_ours(case, kind), kind)
    assert_close(
        ours,
        _stored(fixture_data, name, kind),
        KINDS[kind],
        f"{name} ({kind}) vs stored torch trajectory",
    )


@pytest.mark.parametrize("name", IDS)
def test_training_matches_torch_fixture(name, fixture_data):
    losses: list[float] = []
    ours = np.concatenate([p.ravel() for p in train_ours(BY_NAME[name], losses=losses)])
    assert_close(
        ours,
        _stored(fixture_data, name, "net"),
        NET_TOL,
        f"{name}: MLP after {STEPS} steps vs stored torch",
    )
    assert losses[-1] < 0.9 * losses[0], (
        f"{name}: the loss went from {losses[0]:.4g} to {losses[-1]:.4g}"
    )


def test_fixture_covers_table_and_is_small(fixture_data):
    expected = {f"{n}/{k}" for n in IDS for k in (*KINDS, "net", "digest")}
    missing = expected - set(fixture_data)
    assert not missing, f"missing from {FIXTURE.name}: {sorted(missing)[:5]}...; regenerate it"
    assert FIXTURE.stat().st_size < 300_000


# --------------------------------------------------------------------------- behaviour beyond torch
@pytest.mark.parametrize("name", IDS)
def test_gradient_arrays_are_not_modified(name):
    """The update may not write into ``p.grad`` (it can be shared with the caller)."""
    case = BY_NAME[name]
    params0, grads = case_inputs(case, steps=3)
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = case.make_ours(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
        assert all(p.grad is g for p, g in zip(params, step_grads))
    for step_grads, step_fresh in zip(grads, case_inputs(case, steps=3)[1]):
        for g, g0 in zip(step_grads, step_fresh):
            np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("name", IDS)
def test_state_dict_resumes_the_same_trajectory(name):
    """Saving after 5 steps and loading into a fresh optimizer changes nothing."""
    case = BY_NAME[name]
    params0, grads = case_inputs(case, steps=10)
    whole = run_optimizer(case.make_ours, params0, grads)[-1]
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = case.make_ours(params)
    for t, step_grads in enumerate(grads):
        if t == 5:
            saved = opt.state_dict()
            opt = case.make_ours(params)
            opt.load_state_dict(saved)
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
    for a, b in zip(params, whole):
        np.testing.assert_array_equal(a.data, b)


@pytest.mark.parametrize(
    "name, cls, flags",
    [
        ("adagrad", Adagrad, {}),
        ("rmsprop", RMSprop, {"centered": False}),
        ("rmsprop_centered", RMSprop, {"centered": True}),
        ("adamax", Adamax, {}),
        ("nadam", NAdam, {"decoupled_weight_decay": False}),
        ("nadamw", NAdam, {"decoupled_weight_decay": True}),
        ("radam", RAdam, {"decoupled_weight_decay": False}),
        ("radamw", RAdam, {"decoupled_weight_decay": True}),
        ("adadelta", Adadelta, {}),
    ],
)
def test_registered_names(name, cls, flags):
    opt = create(name, [Tensor(np.zeros(2), requires_grad=True)], lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5
    for key, value in flags.items():
        assert opt.param_groups[0][key] is value


def test_radam_warmup_is_momentum_sgd_then_rectified():
    """With ρ2 = 0.999 the first five steps are θ ← θ - η·ŝ; step six is rectified."""
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = RAdam([p], lr=0.1)
    for t in range(1, 7):
        before = p.data.copy()
        p.grad = np.ones(1)
        opt.step()
        step = before - p.data
        if t <= 5:
            np.testing.assert_allclose(step, 0.1, rtol=1e-12)  # ŝ = 1 for constant gradients
        else:
            assert 0 < step[0] < 0.1  # rectification factor < 1


def test_nadam_uses_the_momentum_schedule():
    """First step from zero state: θ₁ = θ₀ - η[(1-μ₁)/(1-μ₁) + μ₂(1-ρ1)/(1-μ₁μ₂)]·g/(|g|+δ)."""
    p = Tensor(np.zeros(1), requires_grad=True)
    opt = NAdam([p], lr=1.0, eps=0.0)
    p.grad = np.array([2.0])
    opt.step()
    mu1, mu2 = (0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)) for t in (1, 2))
    expected = -(1.0 + mu2 * 0.1 / (1 - mu1 * mu2))
    np.testing.assert_allclose(p.data, [expected], rtol=1e-14)


def test_centered_rmsprop_survives_a_variance_that_rounds_negative():
    """Constant gradients make r - ḡ² a rounding error that can be < 0; torch then gives
    NaN (√ of a negative), we clamp at 0 and keep stepping by g / δ."""
    p = Tensor(np.zeros(3), requires_grad=True)
    opt = RMSprop([p], lr=0.01, alpha=0.5, centered=True)
    g = np.array([1.7, -1.87, 12.41])
    for _ in range(100):
        p.grad = g
        opt.step()
    state = opt.state[p]
    assert np.isfinite(p.data).all()
    assert (state["square_avg"] - state["grad_avg"] ** 2 < 0).any()  # the case torch fails on
    assert (np.sign(p.data) == -np.sign(g)).all()


def test_adagrad_uses_each_groups_initial_accumulator_value():
    """(torch reads only the constructor's value; a per-group override is honoured here.)"""
    a, b = (Tensor(np.zeros(1), requires_grad=True) for _ in range(2))
    opt = Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}], lr=1.0)
    a.grad = b.grad = np.array([1.0])
    opt.step()
    np.testing.assert_allclose(a.data, [-1.0 / (1.0 + 1e-10)], rtol=1e-15)
    np.testing.assert_allclose(b.data, [-1.0 / (2.0 + 1e-10)], rtol=1e-15)


# --------------------------------------------------------------------------- hypothesis
lrs = st.floats(0.0, 1.0)
rates = st.floats(0.0, 0.999)
betas = st.tuples(rates, rates)
small = st.floats(0.0, 0.5)
epss = st.floats(1e-10, 1e-2)
flag = st.booleans()

VALID = {
    SGD: dict(
        lr=lrs,
        momentum=st.floats(0.0, 0.99),
        dampening=st.floats(0.0, 1.0),
        weight_decay=small,
        nesterov=flag,
        maximize=flag,
    ),
    Adam: dict(lr=lrs, betas=betas, eps=epss, weight_decay=small, amsgrad=flag, maximize=flag),
    AdamW: dict(lr=lrs, betas=betas, eps=epss, weight_decay=small, amsgrad=flag, maximize=flag),
    Adagrad: dict(
        lr=lrs,
        lr_decay=st.floats(0.0, 1.0),
        weight_decay=small,
        initial_accumulator_value=st.floats(0.0, 1.0),
        eps=epss,
        maximize=flag,
    ),
    RMSprop: dict(
        lr=lrs,
        alpha=rates,
        eps=epss,
        weight_decay=small,
        momentum=st.floats(0.0, 0.99),
        centered=flag,
        maximize=flag,
    ),
    Adamax: dict(lr=lrs, betas=betas, eps=epss, weight_decay=small, maximize=flag),
    NAdam: dict(
        lr=lrs,
        betas=betas,
        eps=epss,
        weight_decay=small,
        momentum_decay=st.floats(0.0, 1.0),
        decoupled_weight_decay=flag,
        maximize=flag,
    ),
    RAdam: dict(
        lr=lrs,
        betas=betas,
        eps=epss,
        weight_decay=small,
        decoupled_weight_decay=flag,
        maximize=flag,
    ),
    Adadelta: dict(lr=lrs, rho=st.floats(0.0, 1.0), eps=epss, weight_decay=small, maximize=flag),
}
METHODS = sorted(VALID, key=lambda c: c.__name__)

negative = st.floats(max_value=-1e-9, allow_infinity=False) | st.just(float("nan"))
not_a_rate = st.floats(min_value=1.0, max_value=1e6) | st.floats(
    max_value=-1e-9, allow_infinity=False
)
above_one = st.floats(min_value=1.0 + 1e-9, max_value=1e6, exclude_min=True)
# (hyperparameter, invalid values, the words torch's message starts with)
INVALID = {
    "lr": (negative, "Invalid learning rate"),
    "eps": (negative, "Invalid epsilon value"),
    "weight_decay": (negative, "Invalid weight_decay value"),
    "momentum": (negative, "Invalid momentum value"),
    "dampening": (negative, "Invalid dampening value"),
    "lr_decay": (negative, "Invalid lr_decay value"),
    "initial_accumulator_value": (negative, "Invalid initial_accumulator_value value"),
    "momentum_decay": (negative, "Invalid momentum_decay value"),
    "alpha": (negative | above_one, "Invalid alpha value"),
    "rho": (negative | above_one, "Invalid rho value"),
}


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_finite_inputs_give_finite_steps(cls, data):
    hp = data.draw(st.fixed_dictionaries(VALID[cls]), label="hyperparameters")
    if hp.get("nesterov"):  # torch's rule: Nesterov needs momentum and no dampening
        hp.update(dampening=0.0, momentum=max(hp["momentum"], 0.1))
    if hp.get("centered"):  # α = 0 (or 1) makes the centered variance 0: steps of g/δ
        hp["alpha"] = 0.5 + hp["alpha"] / 2
    seed = data.draw(st.integers(0, 2**16), label="seed")
    scale = data.draw(st.sampled_from([1e-3, 1.0, 1e3]), label="gradient scale")
    params0 = initial_params(SHAPES, seed=seed + 1)
    grads = gradient_sequence(SHAPES, 20, seed=seed, scale=scale)
    traj = run_optimizer(lambda ps: cls(ps, **hp), params0, grads)
    for t, step in enumerate(traj, start=1):
        for i, p in enumerate(step):
            assert np.isfinite(p).all(), (
                f"{cls.__name__}({hp}): non-finite parameter {i} at step {t}"
            )


@pytest.mark.parametrize("cls", METHODS, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_invalid_hyperparameters_name_the_value(cls, data):
    names = [k for k in VALID[cls] if k in INVALID] + ["betas"] * ("betas" in VALID[cls])
    key = data.draw(st.sampled_from(names), label="hyperparameter")
    if key == "betas":
        index = data.draw(st.sampled_from([0, 1]), label="index")
        bad = data.draw(not_a_rate | st.just(float("nan")), label="value")
        value: Any = (0.9, bad) if index else (bad, 0.999)
        message = f"Invalid beta parameter at index {index}: {bad}"
    else:
        strategy, words = INVALID[key]
        value = bad = data.draw(strategy, label="value")
        message = f"{words}: {bad}"
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape(message)):
        cls([p], **{key: value})
    with pytest.raises(ValueError, match=re.escape(message)):  # also per group
        cls([{"params": [p], key: value}])
