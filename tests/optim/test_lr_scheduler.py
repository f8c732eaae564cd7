# ruff: noqa: E501  (the case table keeps one setting per line)
"""Every learning-rate scheduler follows ``torch.optim.lr_scheduler`` (torch 2.13).

One table, ``CASES``, drives the comparison. A :class:`Case` builds a schedule from a
namespace of scheduler classes: ``build(L, opt)`` is run once with ``L`` = our
``lr_scheduler`` module and once with ``L`` = torch's (plus a ``with_warmup`` written
with torch's classes), on an SGD or Adam optimizer with one or two parameter groups.
Each run records, after construction and after each ``step()`` (preceded by
``optimizer.step()``), every group's lr and, for OneCycleLR, its momentum or betas[0].
ReduceLROnPlateau cases step with a scripted metric sequence.

The sequences are compared live with torch when it is importable (marker ``torch``)
and always with ``tests/fixtures/schedulers_torch.json``, written by
``python scripts/make_scheduler_fixtures.py`` (``--check`` reports staleness). The same
fixture holds two short training trajectories (SGD + OneCycleLR, Adam + warm-up +
cosine), which check that the optimizers read the scheduled lr and momentum/betas.

Further tests: a ``state_dict`` round trip in the middle of every case continues
identically, argument validation names the bad value, and the cosine recursion stays
within 1e-12 of its closed form.
"""

from __future__ import annotations

import json
import math
import pickle
import types
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_opt import Tensor
from tinygrad_opt.optim import lr_scheduler as ours_lib
from tinygrad_opt.optim.adam import Adam
from tinygrad_opt.optim.sgd import SGD
from tinygrad_opt.optim.testing import gradient_sequence, initial_params

try:
    import torch
    import torch.optim.lr_scheduler as torch_sched
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None
    torch_sched = None

FIXTURE = Path(__file__).parents[1] / "fixtures" / "schedulers_torch.json"
TOL = dict(rtol=1e-12, atol=1e-15)
torch_only = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")


# --------------------------------------------------------------------------- metrics
def _wiggle(k: int) -> float:
    """A deterministic, non-monotone wiggle in [-3, 3]."""
    return float((k * 37) % 7 - 3)


def noisy_decay(n: int) -> tuple[float, ...]:
    """A loss that falls, plateaus with noise, falls again, then plateaus for good."""
    out = []
    for k in range(n):
        if k < 20:
            m = 1.0 / (1.0 + 0.1 * k)
        elif k < 50:
            m = 0.34 + 0.002 * _wiggle(k)
        elif k < 60:
            m = 0.34 - 0.01 * (k - 49)
        else:
            m = 0.25 + 0.001 * _wiggle(k)
        out.append(m)
    return tuple(out)


def tiny_improvements(n: int) -> tuple[float, ...]:
    """Improves by 1e-5 per step: an improvement for threshold_mode="abs" with threshold
    1e-6, not for "rel" with threshold 1e-4."""
    return tuple(1.0 - 1e-5 * k for k in range(n))


def staircase(n: int, down: bool = True) -> tuple[float, ...]:
    """Exact steps of 0.25 every 4 steps: ties with an abs threshold of 0.25 (or 0)."""
    return tuple((2.0 - 0.25 * (k // 4)) if down else 0.25 * (k // 4) for k in range(n))


def accuracy(n: int) -> tuple[float, ...]:
    """Rises, stalls (with one NaN, which never counts as better), rises, stalls."""
    out = [1.0 - m for m in noisy_decay(n)]
    out[30] = math.nan
    return tuple(out)


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Case:
    """``build(L, opt)`` with L = our module or torch's must give the same sequence."""

    name: str
    build: Callable[[Any, Any], Any]
    optim: str = "sgd"  # "sgd" (momentum 0.9) or "adam"
    lrs: tuple[float, ...] = (0.1,)  # one parameter group per lr
    steps: int = 100
    metrics: tuple[float, ...] | None = None  # ReduceLROnPlateau: step(metrics[k])
    track_momentum: bool = False  # also record momentum / betas[0]
    resume_at: tuple[int, ...] = (37,)


class Decay:
    """A callable object for LambdaLR: its ``__dict__`` goes into the state_dict."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, epoch: int) -> float:
        return self.rate**epoch


def _seq_three(L: Any, o: Any) -> Any:
    scheds = [L.LinearLR(o, 0.2, 1.0, 5), L.StepLR(o, 10, 0.5), L.ExponentialLR(o, 0.97)]
    return L.SequentialLR(o, scheds, milestones=[5, 40])


PLATEAU = 80
# fmt: off
CASES = [
    Case("step", lambda L, o: L.StepLR(o, step_size=7, gamma=0.5), lrs=(0.1, 0.01)),
    Case("step_every", lambda L, o: L.StepLR(o, step_size=1, gamma=0.9)),
    Case("step_growth", lambda L, o: L.StepLR(o, step_size=13, gamma=1.5), steps=60),
    Case("multistep", lambda L, o: L.MultiStepLR(o, milestones=[10, 25, 25, 60], gamma=0.3), lrs=(0.1, 0.03)),
    Case("multistep_unsorted", lambda L, o: L.MultiStepLR(o, milestones=[50, 20, 0], gamma=0.5)),
    Case("exponential", lambda L, o: L.ExponentialLR(o, gamma=0.95), lrs=(0.1, 0.01)),
    Case("cosine", lambda L, o: L.CosineAnnealingLR(o, T_max=10)),
    Case("cosine_eta_min", lambda L, o: L.CosineAnnealingLR(o, T_max=37, eta_min=1e-3), lrs=(0.1, 0.05)),
    Case("cosine_T1", lambda L, o: L.CosineAnnealingLR(o, T_max=1, eta_min=0.01), steps=20, resume_at=(1, 2, 5)),
    Case("cosine_T3", lambda L, o: L.CosineAnnealingLR(o, T_max=3), steps=40, resume_at=(4, 7)),
    Case("linear", lambda L, o: L.LinearLR(o), steps=20, resume_at=(2,)),
    Case("linear_decay", lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=40), lrs=(0.1, 0.01)),
    Case("resume_ctor_exponential", lambda L, o: (L.ExponentialLR(o, 0.9), L.ExponentialLR(o, 0.9, last_epoch=10))[1], steps=40),
    Case("resume_ctor_cosine", lambda L, o: (L.CosineAnnealingLR(o, 20), L.CosineAnnealingLR(o, 20, last_epoch=7))[1], steps=60),
    Case("resume_ctor_linear", lambda L, o: (L.LinearLR(o, 0.5, 1.0, 6), L.LinearLR(o, 0.5, 1.0, 6, last_epoch=2))[1], steps=20, resume_at=(2,)),
    Case("resume_ctor_step", lambda L, o: (L.StepLR(o, 4, 0.5), L.StepLR(o, 4, 0.5, last_epoch=5))[1], steps=40),
    Case("lambda", lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.1 * e))),
    Case("lambda_per_group", lambda L, o: L.LambdaLR(o, [lambda e: e // 30 + 1, Decay(0.97)]), lrs=(0.1, 0.01)),
    Case("onecycle", lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 0.1], total_steps=100), lrs=(0.1, 0.01), track_momentum=True),
    Case("onecycle_linear_3phase", lambda L, o: L.OneCycleLR(o, max_lr=1.0, total_steps=100, anneal_strategy="linear", three_phase=True, pct_start=0.25), track_momentum=True, resume_at=(20, 37, 70)),
    Case("onecycle_adam_betas", lambda L, o: L.OneCycleLR(o, max_lr=0.01, epochs=10, steps_per_epoch=10, pct_start=0.4, base_momentum=[0.8, 0.7], max_momentum=0.9), optim="adam", lrs=(1e-3, 1e-4), track_momentum=True),
    Case("onecycle_no_momentum", lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=100, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0, pct_start=0.1), track_momentum=True),
    Case("onecycle_odd", lambda L, o: L.OneCycleLR(o, max_lr=0.3, total_steps=77, pct_start=0.33, three_phase=True), steps=77, track_momentum=True),
    Case("plateau_min_rel", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=3), lrs=(0.1, 0.01), steps=PLATEAU, metrics=noisy_decay(PLATEAU)),
    Case("plateau_min_rel_tiny", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=4), steps=PLATEAU, metrics=tiny_improvements(PLATEAU)),
    Case("plateau_min_abs_tiny", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=4, threshold=1e-6, threshold_mode="abs"), steps=PLATEAU, metrics=tiny_improvements(PLATEAU)),
    Case("plateau_min_abs", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.005, threshold_mode="abs"), steps=PLATEAU, metrics=noisy_decay(PLATEAU)),
    Case("plateau_max_rel_cooldown", lambda L, o: L.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=2, cooldown=3), lrs=(0.1, 0.02), steps=PLATEAU, metrics=accuracy(PLATEAU)),
    Case("plateau_max_abs", lambda L, o: L.ReduceLROnPlateau(o, mode="max", factor=0.7, patience=0, threshold=0.01, threshold_mode="abs", cooldown=1), steps=PLATEAU, metrics=accuracy(PLATEAU)),
    Case("plateau_min_abs_ties", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=2, threshold=0.25, threshold_mode="abs"), steps=PLATEAU, metrics=staircase(PLATEAU)),
    Case("plateau_max_rel_ties", lambda L, o: L.ReduceLROnPlateau(o, mode="max", factor=0.5, patience=1, threshold=0.0, cooldown=2), steps=PLATEAU, metrics=staircase(PLATEAU, down=False)),
    Case("plateau_min_lr", lambda L, o: L.ReduceLROnPlateau(o, factor=0.3, patience=1, min_lr=[0.02, 1e-3]), lrs=(0.1, 0.05), steps=PLATEAU, metrics=noisy_decay(PLATEAU)),
    Case("plateau_eps", lambda L, o: L.ReduceLROnPlateau(o, factor=0.5, patience=1, eps=0.004), lrs=(0.1, 0.005), steps=PLATEAU, metrics=noisy_decay(PLATEAU)),
    Case("sequential_warmup_cosine", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 5), L.CosineAnnealingLR(o, T_max=20)], milestones=[5]), lrs=(0.1, 0.01), resume_at=(3, 5, 37)),
    Case("sequential_three", _seq_three, resume_at=(4, 5, 6, 39, 40, 41)),
    Case("sequential_lambda", lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.LambdaLR(o, lambda e: 0.5 + 0.01 * e)], milestones=[30])),
    Case("chained", lambda L, o: L.ChainedScheduler([L.ExponentialLR(o, 0.98), L.StepLR(o, 10, 0.5)]), lrs=(0.1, 0.01)),
    Case("chained_warmup_cosine", lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.25, 1.0, 8), L.CosineAnnealingLR(o, T_max=30, eta_min=1e-3)])),
    Case("with_warmup_cosine", lambda L, o: L.with_warmup(o, L.CosineAnnealingLR(o, T_max=95), warmup_steps=5), lrs=(0.1, 0.01), resume_at=(2, 50)),
    Case("with_warmup_step", lambda L, o: L.with_warmup(o, L.StepLR(o, 20, 0.1), warmup_steps=10, start_factor=0.01)),
    Case("with_warmup_none", lambda L, o: L.with_warmup(o, None, warmup_steps=10, start_factor=0.5), steps=30, resume_at=(5,)),
    Case("with_warmup_onecycle", lambda L, o: L.with_warmup(o, L.OneCycleLR(o, max_lr=0.4, total_steps=90), warmup_steps=10), track_momentum=True),
]
# fmt: on
BY_NAME = {c.name: c for c in CASES}
IDS = [c.name for c in CASES]


def torch_with_warmup(optimizer, scheduler=None, warmup_steps=5, start_factor=0.1):
    """What :func:`with_warmup` means, written with torch's classes."""
    warm = torch_sched.LinearLR(optimizer, start_factor, 1.0, total_iters=warmup_steps)
    if scheduler is None:
        return warm
    return torch_sched.SequentialLR(optimizer, [warm, scheduler], milestones=[warmup_steps])


def torch_namespace() -> Any:
    return types.SimpleNamespace(**vars(torch_sched), with_warmup=torch_with_warmup)


# --------------------------------------------------------------------------- the runs
def make_optimizer(case: Case, lib: str) -> Any:
    """An SGD (momentum 0.9) or Adam over one 3-vector per lr in ``case.lrs``."""
    if lib == "ours":
        params = [Tensor(np.zeros(3), requires_grad=True) for _ in case.lrs]
        cls = SGD if case.optim == "sgd" else Adam
    else:
        params = [torch.zeros(3, dtype=torch.float64, requires_grad=True) for _ in case.lrs]
        cls = torch.optim.SGD if case.optim == "sgd" else torch.optim.Adam
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, case.lrs)]
    extra = dict(momentum=0.9) if case.optim == "sgd" else {}
    return cls(groups, lr=case.lrs[0], **extra)


def observe(opt: Any, case: Case) -> list[float]:
    row = [float(g["lr"]) for g in opt.param_groups]
    if case.track_momentum:
        key = (lambda g: g["momentum"]) if case.optim == "sgd" else (lambda g: g["betas"][0])
        row += [float(key(g)) for g in opt.param_groups]
    return row


def advance(opt: Any, sched: Any, case: Case, k: int) -> None:
    """Step k (0-based) of the loop: the optimizer, then the scheduler."""
    opt.step()
    if case.metrics is None:
        sched.step()
    else:
        sched.step(case.metrics[k])


def run(case: Case, lib: str) -> np.ndarray:
    """Rows of observe() after construction and after each of ``case.steps`` steps."""
    opt = make_optimizer(case, lib)
    sched = case.build(ours_lib if lib == "ours" else torch_namespace(), opt)
    rows = [observe(opt, case)]
    for k in range(case.steps):
        advance(opt, sched, case, k)
        rows.append(observe(opt, case))
        if lib == "ours":
            assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    return np.array(rows)


def run_resumed(case: Case, at: int) -> np.ndarray:
    """Our run, checkpointed (pickled) after ``at`` steps and resumed in fresh objects."""
    opt = make_optimizer(case, "ours")
    sched = case.build(ours_lib, opt)
    rows = [observe(opt, case)]
    for k in range(at):
        advance(opt, sched, case, k)
        rows.append(observe(opt, case))
    blob = pickle.dumps({"opt": opt.state_dict(), "sched": sched.state_dict()})
    del opt, sched
    opt = make_optimizer(case, "ours")
    sched = case.build(ours_lib, opt)  # writes the fresh groups' lrs: loaded over next
    saved = pickle.loads(blob)
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    assert observe(opt, case) == rows[-1]
    for k in range(at, case.steps):
        advance(opt, sched, case, k)
        rows.append(observe(opt, case))
    return np.array(rows)


# ------------------------------------------------------------------ training trajectories
TRAIN_SHAPES = ((3,), (2, 2))
TRAIN_STEPS = 60


def _train_sgd_onecycle(L: Any, opt: Any) -> Any:
    return L.OneCycleLR(opt, max_lr=[0.3, 0.1], total_steps=TRAIN_STEPS)


def _train_adam_warmup_cosine(L: Any, opt: Any) -> Any:
    return L.with_warmup(opt, L.CosineAnnealingLR(opt, T_max=TRAIN_STEPS - 6), warmup_steps=6)


TRAININGS = {
    "sgd_onecycle": ("sgd", _train_sgd_onecycle),
    "adam_warmup_cosine": ("adam", _train_adam_warmup_cosine),
}


def train(name: str, lib: str) -> np.ndarray:
    """Parameters (flattened, float64) after every step of a short run with a schedule."""
    kind, build = TRAININGS[name]
    seed = zlib.crc32(name.encode()) % 2**31
    params0 = initial_params(TRAIN_SHAPES, seed=seed)
    grads = gradient_sequence(TRAIN_SHAPES, TRAIN_STEPS, seed=seed + 1)
    if lib == "ours":
        params = [Tensor(p.copy(), requires_grad=True) for p in params0]
        wrap, flat = (lambda g: g.copy()), (lambda p: p.data.ravel())
        cls = SGD if kind == "sgd" else Adam
        L = ours_lib
    else:
        params = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
        wrap, flat = torch.tensor, (lambda p: p.detach().numpy().ravel())
        cls = torch.optim.SGD if kind == "sgd" else torch.optim.Adam
        L = torch_namespace()
    groups = [{"params": [params[0]], "lr": 0.05}, {"params": [params[1]], "lr": 0.02}]
    opt = cls(groups, lr=0.05, **(dict(momentum=0.9, nesterov=True) if kind == "sgd" else {}))
    sched = build(L, opt)
    out = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = wrap(g)
        opt.step()
        sched.step()
        out.append(np.concatenate([flat(p) for p in params]))
    return np.array(out)


# --------------------------------------------------------------------------- fixture
def load_fixture() -> dict[str, Any]:
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: run scripts/make_scheduler_fixtures.py (needs torch)")
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def fixture() -> dict[str, Any]:
    return load_fixture()


def assert_sequences_match(ours: np.ndarray, ref: Sequence, what: str) -> None:
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs reference {ref.shape}"
    bad = ~np.isclose(ours, ref, **TOL)
    if bad.any():
        step, col = np.argwhere(bad)[0]
        raise AssertionError(
            f"{what}: first difference at step {step}, column {col}: "
            f"ours {ours[step, col]!r}, reference {ref[step, col]!r}"
        )


# --------------------------------------------------------------------------- agreement
@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("name", IDS)
def test_matches_torch_live(name: str) -> None:
    case = BY_NAME[name]
    assert_sequences_match(run(case, "ours"), run(case, "torch"), f"{name} vs torch")


@pytest.mark.parametrize("name", IDS)
def test_matches_torch_fixture(name: str, fixture: dict[str, Any]) -> None:
    assert name in fixture["schedulers"], f"{name} not in the fixture: regenerate it"
    assert_sequences_match(run(BY_NAME[name], "ours"), fixture["schedulers"][name], name)


def test_fixture_covers_exactly_the_table(fixture: dict[str, Any]) -> None:
    assert sorted(fixture["schedulers"]) == sorted(IDS)
    assert sorted(fixture["trainings"]) == sorted(TRAININGS)


def test_comparison_can_fail(fixture: dict[str, Any]) -> None:
    """A schedule off by one step, or one group's lr off by 1e-9, is caught."""
    ref = fixture["schedulers"]["cosine_eta_min"]
    ours = run(BY_NAME["cosine_eta_min"], "ours")
    shifted = np.vstack([ours[:1], ours[:-1]])
    with pytest.raises(AssertionError, match="first difference"):
        assert_sequences_match(shifted, ref, "shifted")
    nudged = ours.copy()
    nudged[50, 1] *= 1 + 1e-9
    with pytest.raises(AssertionError, match="step 50, column 1"):
        assert_sequences_match(nudged, ref, "nudged")


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(TRAININGS))
def test_training_matches_torch_live(name: str) -> None:
    np.testing.assert_allclose(train(name, "ours"), train(name, "torch"), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(TRAININGS))
def test_training_matches_torch_fixture(name: str, fixture: dict[str, Any]) -> None:
    ref = np.asarray(fixture["trainings"][name])
    np.testing.assert_allclose(train(name, "ours"), ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("name", IDS)
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    case = BY_NAME[name]
    straight = run(case, "ours")
    for at in case.resume_at:
        assert 0 < at < case.steps, f"resume point {at} outside the run"
        np.testing.assert_array_equal(run_resumed(case, at), straight, err_msg=f"resumed at {at}")


def test_round_trip_restores_callable_object_state() -> None:
    opt = SGD([Tensor(np.zeros(2))], lr=0.1)
    sched = ours_lib.LambdaLR(opt, Decay(0.9))
    sched.step()
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.9}]
    fresh = ours_lib.LambdaLR(SGD([Tensor(np.zeros(2))], lr=0.1), Decay(0.5))
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].rate == 0.9
    assert ours_lib.LambdaLR(opt, lambda e: 1.0).state_dict()["lr_lambdas"] == [None]


def test_state_dict_is_a_copy() -> None:
    opt = SGD([Tensor(np.zeros(2))], lr=0.1)
    sched = ours_lib.ReduceLROnPlateau(opt, min_lr=[0.01])
    state = sched.state_dict()
    state["min_lrs"][0] = 5.0
    assert sched.min_lrs == [0.01]
    assert "optimizer" not in state


def test_load_state_dict_rejects_mismatches() -> None:
    opt = SGD([{"params": [Tensor(np.zeros(2))]}, {"params": [Tensor(np.zeros(2))]}], lr=0.1)
    step = ours_lib.StepLR(opt, 5)
    with pytest.raises(ValueError, match="missing .*StepLR"):
        step.load_state_dict(ours_lib.ExponentialLR(opt, 0.9).state_dict())
    one_group = ours_lib.StepLR(SGD([Tensor(np.zeros(2))], lr=0.1), 5).state_dict()
    with pytest.raises(ValueError, match="1 base_lrs, the optimizer has 2"):
        step.load_state_dict(one_group)
    seq = ours_lib.with_warmup(opt, ours_lib.StepLR(opt, 5), warmup_steps=2)
    with pytest.raises(ValueError, match="1 scheduler states"):
        seq.load_state_dict({**seq.state_dict(), "_schedulers": [step.state_dict()]})


def test_resuming_needs_initial_lr() -> None:
    opt = SGD([Tensor(np.zeros(2))], lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        ours_lib.StepLR(opt, 5, last_epoch=10)
    ours_lib.StepLR(opt, 5)  # sets initial_lr: resuming now works
    sched = ours_lib.StepLR(opt, 5, gamma=0.5, last_epoch=10)
    assert sched.base_lrs == [0.1]


def test_cosine_recursion_stays_near_closed_form() -> None:
    """torch's recursion and the closed form agree to 1e-12 (relative to η₀) over 6 periods."""
    for T, eta_min in ((3, 0.0), (10, 1e-3), (37, 0.0), (100, 0.02)):
        case = Case("c", lambda L, o, T=T, e=eta_min: L.CosineAnnealingLR(o, T, e), steps=6 * T)
        lrs = run(case, "ours")[:, 0]
        t = np.arange(len(lrs))
        closed = eta_min + (0.1 - eta_min) * (1 + np.cos(np.pi * t / T)) / 2
        assert np.max(np.abs(lrs - closed)) / 0.1 < 1e-12, (T, eta_min)


def test_closed_forms_match_recursion() -> None:
    """Where a closed form exists (used by SequentialLR at milestones) it gives the same lr."""
    builds = {
        "step": lambda o: ours_lib.StepLR(o, 7, 0.5),
        "multistep": lambda o: ours_lib.MultiStepLR(o, [3, 9, 9], 0.5),
        "exponential": lambda o: ours_lib.ExponentialLR(o, 0.9),
        "cosine": lambda o: ours_lib.CosineAnnealingLR(o, 12, 0.001),
        "linear": lambda o: ours_lib.LinearLR(o, 0.2, 0.9, 10),
    }
    for name, build in builds.items():
        opt = SGD([{"params": [Tensor(np.zeros(1))], "lr": 0.1}], lr=0.1)
        sched = build(opt)
        for _ in range(30):
            sched.step()
            assert np.isclose(
                sched._get_closed_form_lr()[0], opt.param_groups[0]["lr"], rtol=1e-12
            ), name


def test_with_warmup_shape() -> None:
    """Warm-up from η₀·s to η₀ over w steps, then the wrapped schedule from its start."""
    opt = SGD([Tensor(np.zeros(2))], lr=1.0)
    sched = ours_lib.with_warmup(
        opt, ours_lib.ExponentialLR(opt, 0.5), warmup_steps=4, start_factor=0.2
    )
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.25], rtol=1e-12)
    alone = ours_lib.with_warmup(SGD([Tensor(np.zeros(2))], lr=1.0), None, warmup_steps=2)
    assert isinstance(alone, ours_lib.LinearLR)


def test_onecycle_endpoints_and_zero_length_phase() -> None:
    opt = SGD([Tensor(np.zeros(2))], lr=1.0, momentum=0.9)
    sched = ours_lib.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1)
    # torch raises ZeroDivisionError here (a warm-up phase of zero length); we start at the peak
    assert sched.get_last_lr() == [1.0]
    assert opt.param_groups[0]["momentum"] == 0.85
    for _ in range(9):
        sched.step()
    assert math.isclose(sched.get_last_lr()[0], 1.0 / 25 / 1e4, rel_tol=1e-12)
    sched.step()  # step 10 == total_steps is still allowed
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        sched.step()


def test_plateau_accepts_tensor_and_array_metrics() -> None:
    opt = SGD([Tensor(np.zeros(2))], lr=1.0)
    sched = ours_lib.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    sched.step(Tensor(1.0))
    sched.step(np.array([2.0]))
    assert sched.get_last_lr() == [0.5]
    with pytest.raises(ValueError, match=r"one number, got an array of shape \(2,\)"):
        sched.step(np.array([1.0, 2.0]))


def test_two_groups_keep_their_ratio() -> None:
    opt = SGD(
        [
            {"params": [Tensor(np.zeros(1))], "lr": 0.1},
            {"params": [Tensor(np.zeros(1))], "lr": 0.4},
        ],
        lr=0.1,
    )
    sched = ours_lib.CosineAnnealingLR(opt, T_max=20)
    for _ in range(15):
        sched.step()
        a, b = sched.get_last_lr()
        assert math.isclose(b / a, 4.0, rel_tol=1e-9)


# --------------------------------------------------------------------------- validation
def _sgd() -> SGD:
    return SGD([Tensor(np.zeros(2))], lr=0.1, momentum=0.9)


@pytest.mark.parametrize(
    "make, exc, message",
    [
        (
            lambda o: ours_lib.StepLR(o, step_size=0),
            ValueError,
            "step_size must be a positive integer, got 0",
        ),
        (
            lambda o: ours_lib.StepLR(o, step_size=2.5),
            ValueError,
            "step_size must be a positive integer, got 2.5",
        ),
        (lambda o: ours_lib.StepLR(o, 3, gamma=-1), ValueError, r"Invalid gamma: -1 \("),
        (lambda o: ours_lib.ExponentialLR(o, gamma=float("nan")), ValueError, "Invalid gamma: nan"),
        (
            lambda o: ours_lib.MultiStepLR(o, [3, -2]),
            ValueError,
            "milestones must be non-negative integers, got -2",
        ),
        (
            lambda o: ours_lib.CosineAnnealingLR(o, T_max=0),
            ValueError,
            "T_max must be a positive integer, got 0",
        ),
        (
            lambda o: ours_lib.CosineAnnealingLR(o, T_max=5, eta_min=-0.1),
            ValueError,
            "Invalid eta_min: -0.1",
        ),
        (lambda o: ours_lib.LinearLR(o, start_factor=0.0), ValueError, "Invalid start_factor: 0.0"),
        (lambda o: ours_lib.LinearLR(o, end_factor=1.5), ValueError, "Invalid end_factor: 1.5"),
        (
            lambda o: ours_lib.LinearLR(o, total_iters=0),
            ValueError,
            "total_iters must be a positive integer, got 0",
        ),
        (lambda o: ours_lib.LambdaLR(o, [lambda e: 1.0] * 2), ValueError, "Expected 1 lr_lambdas"),
        (lambda o: ours_lib.LambdaLR(o, 0.5), TypeError, "lr_lambda 0 is not callable: 0.5"),
        (lambda o: ours_lib.OneCycleLR(o, 0.1), ValueError, "either total_steps OR"),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, total_steps=-3),
            ValueError,
            "total_steps must be a positive integer, got -3",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=0),
            ValueError,
            "steps_per_epoch must be a positive integer, got 0",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5),
            ValueError,
            "Invalid pct_start: 1.5",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
            ValueError,
            "'cos' or 'linear', got 'exp'",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, total_steps=10, div_factor=0),
            ValueError,
            "Invalid div_factor: 0",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, [0.1, 0.2], total_steps=10),
            ValueError,
            "got 2 values for 1 groups",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, -0.1, total_steps=10),
            ValueError,
            "Invalid max_lr: -0.1",
        ),
        (
            lambda o: ours_lib.OneCycleLR(o, 0.1, total_steps=10, base_momentum=-0.5),
            ValueError,
            "Invalid base_momentum: -0.5",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, factor=1.0),
            ValueError,
            r"Invalid factor: 1.0 \(must be in \[0, 1\)\)",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, mode="up"),
            ValueError,
            "mode must be 'min' or 'max', got 'up'",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, threshold_mode="pct"),
            ValueError,
            "threshold_mode must be 'rel' or 'abs', got 'pct'",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, patience=-1),
            ValueError,
            "patience must be a non-negative integer, got -1",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, cooldown=1.5),
            ValueError,
            "cooldown must be a non-negative integer, got 1.5",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]),
            ValueError,
            "min_lr must have one value per parameter group",
        ),
        (lambda o: ours_lib.ReduceLROnPlateau(o, min_lr=-1.0), ValueError, "Invalid min_lr: -1.0"),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o, threshold=-1e-4),
            ValueError,
            "Invalid threshold: -0.0001",
        ),
        (
            lambda o: ours_lib.StepLR(o, 3, last_epoch=-2),
            ValueError,
            "last_epoch must be an integer >= -1, got -2",
        ),
        (lambda o: ours_lib.StepLR(object(), 3), TypeError, "object is not an Optimizer"),
        (lambda o: ours_lib.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
        (
            lambda o: ours_lib.SequentialLR(o, [ours_lib.StepLR(o, 2), ours_lib.StepLR(o, 3)], []),
            ValueError,
            "one milestone fewer than schedulers",
        ),
        (
            lambda o: ours_lib.SequentialLR(o, [ours_lib.StepLR(o, 2), ours_lib.StepLR(o, 3)], [0]),
            ValueError,
            "positive, strictly increasing",
        ),
        (
            lambda o: ours_lib.SequentialLR(
                o, [ours_lib.StepLR(o, 2), ours_lib.ReduceLROnPlateau(o)], [3]
            ),
            ValueError,
            "does not support ReduceLROnPlateau",
        ),
        (
            lambda o: ours_lib.SequentialLR(o, [ours_lib.StepLR(_sgd(), 2)], []),
            ValueError,
            "same optimizer",
        ),
        (lambda o: ours_lib.ChainedScheduler([]), ValueError, "at least one scheduler"),
        (
            lambda o: ours_lib.ChainedScheduler(
                [ours_lib.StepLR(o, 2), ours_lib.StepLR(_sgd(), 2)]
            ),
            ValueError,
            "same optimizer",
        ),
        (
            lambda o: ours_lib.with_warmup(o, ours_lib.StepLR(o, 2), warmup_steps=0),
            ValueError,
            "warmup_steps must be a positive integer, got 0",
        ),
        (
            lambda o: ours_lib.with_warmup(o, ours_lib.ReduceLROnPlateau(o)),
            ValueError,
            "cannot chain into ReduceLROnPlateau",
        ),
    ],
)
def test_invalid_arguments(make: Callable, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        make(_sgd())


def test_onecycle_needs_momentum_or_betas() -> None:
    class Plain(SGD):
        def __init__(self, params: Any) -> None:
            super(SGD, self).__init__(params, dict(lr=0.1))

        def update(self, p, g, state, group):  # pragma: no cover - never stepped
            p -= group["lr"] * g

    opt = Plain([Tensor(np.zeros(2))])
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer"):
        ours_lib.OneCycleLR(opt, 0.1, total_steps=10)
    ours_lib.OneCycleLR(opt, 0.1, total_steps=10, cycle_momentum=False)
    adam = Adam([Tensor(np.zeros(2))])
    with pytest.raises(ValueError, match=r"Invalid max_momentum: 1.0 \(must be in \[0, 1\)\)"):
        ours_lib.OneCycleLR(adam, 0.1, total_steps=10, max_momentum=1.0)


@torch_only
@pytest.mark.torch
def test_torch_crashes_where_we_define_the_zero_length_phase() -> None:
    """Documents the deviation in OneCycleLR's docstring."""
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=1.0, momentum=0.9)
    with pytest.raises(ZeroDivisionError):
        torch_sched.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1)


def test_library_does_not_import_torch() -> None:
    for module in Path(ours_lib.__file__).parent.glob("*.py"):
        assert "import torch" not in module.read_text(), module
    from tinygrad_opt.optim import clip

    assert "import torch" not in Path(clip.__file__).read_text()
