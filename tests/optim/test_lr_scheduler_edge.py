# ruff: noqa: E501  (the case table keeps one setting per line)
"""Edge cases of the schedulers and of gradient clipping, differentially against torch 2.13.

``tests/optim/test_lr_scheduler.py`` and ``tests/optim/test_clip.py`` cover the common settings; this
file adds the corners: milestones listed several times, stepping far past ``T_max``,
``eta_min`` at or above the base lr, ``LinearLR`` to 0, every OneCycleLR variant (cos /
linear, three phases, Adam betas, ``pct_start=0``, ``epochs * steps_per_epoch``),
ReduceLROnPlateau with patience 0, negative metrics, factor 0, inf metrics, per-group
``min_lr``; nested SequentialLR / ChainedScheduler; two schedulers stepped on one
optimizer; resuming through ``last_epoch`` and through ``state_dict`` at many points;
groups added after construction. Sequences are compared with torch (live; skipped when
torch is not installed) to rtol 1e-12 over 100+ steps, and ``get_last_lr()`` with them.

Where we deliberately differ from torch (documented in the docstrings), the test pins
our behaviour and, when torch is there, that torch indeed does something else.
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from tinygrad_opt import Tensor
from tinygrad_opt.optim import lr_scheduler as ours_lib
from tinygrad_opt.optim.adam import Adam
from tinygrad_opt.optim.clip import clip_grad_norm_, clip_grad_value_, total_grad_norm
from tinygrad_opt.optim.sgd import SGD

RTOL = 1e-12


def _torch() -> Any:
    return pytest.importorskip("torch")


# --------------------------------------------------------------------------- metrics
def random_walk(n: int, seed: int, offset: float = 1.0, sign: float = 1.0) -> tuple[float, ...]:
    """A slowly falling noisy loss (offset + walk - drift), optionally negated."""
    rng = np.random.default_rng(seed)
    walk = offset + np.cumsum(rng.normal(0.0, 0.01, n)) - 0.001 * np.arange(n)
    return tuple(float(sign * x) for x in walk)


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Edge:
    name: str
    build: Callable[[Any, Any], Any]  # (scheduler namespace, optimizer) -> scheduler
    lrs: tuple[float, ...] = (0.1,)
    optim: str = "sgd"  # SGD with momentum 0.9, or Adam
    steps: int = 120
    metrics: tuple[float, ...] | None = None
    momentum: bool = False  # also compare momentum / betas[0]
    resume_at: tuple[int, ...] = (1, 2, 7, 40)


def _two_stepped(L: Any, o: Any) -> Any:
    """Two independent schedulers on one optimizer, both stepped every iteration."""
    a, b = L.StepLR(o, 5, 0.5), L.CosineAnnealingLR(o, 17, 1e-3)

    class Both:
        def step(self) -> None:
            a.step()
            b.step()

        def get_last_lr(self) -> list[float]:
            return b.get_last_lr()

    return Both()


def _resumed(factory: Callable[[Any, Any, int], Any], k: int) -> Callable[[Any, Any], Any]:
    """Build once from scratch (sets initial_lr), then again with last_epoch=k."""
    return lambda L, o: (factory(L, o, -1), factory(L, o, k))[1]


# fmt: off
EDGES = [
    Edge("step_gamma_gt1", lambda L, o: L.StepLR(o, 3, 1.1), lrs=(0.1, 0.01)),
    Edge("multistep_repeated_thrice", lambda L, o: L.MultiStepLR(o, [5, 5, 5, 10, 200], 0.5), lrs=(0.1, 0.3)),
    Edge("multistep_at_zero", lambda L, o: L.MultiStepLR(o, [0, 0, 1], 0.5), steps=20),
    Edge("exponential_gamma1", lambda L, o: L.ExponentialLR(o, 1.0), steps=20),
    Edge("exponential_300", lambda L, o: L.ExponentialLR(o, 0.99), lrs=(1.0, 3e-4), steps=300),
    Edge("cosine_far_past_tmax", lambda L, o: L.CosineAnnealingLR(o, 7, eta_min=0.05), lrs=(0.1, 0.02), steps=150, resume_at=(7, 8, 14, 15, 100)),
    Edge("cosine_T2", lambda L, o: L.CosineAnnealingLR(o, 2, eta_min=0.01), steps=60, resume_at=(2, 3, 5)),
    Edge("cosine_eta_min_is_base", lambda L, o: L.CosineAnnealingLR(o, 5, eta_min=0.1), steps=30),
    Edge("cosine_eta_min_above_base", lambda L, o: L.CosineAnnealingLR(o, 5, eta_min=0.3), steps=30),
    Edge("linear_to_zero", lambda L, o: L.LinearLR(o, 0.5, 0.0, 10), steps=30),
    Edge("linear_flat", lambda L, o: L.LinearLR(o, 0.5, 0.5, 10), steps=30),
    Edge("linear_T1", lambda L, o: L.LinearLR(o, 0.1, 1.0, 1), steps=10, resume_at=(1, 2)),
    Edge("onecycle_cos_two_groups", lambda L, o: L.OneCycleLR(o, [1.0, 0.2], total_steps=120), lrs=(0.1, 0.01), momentum=True, resume_at=(1, 35, 36, 100)),
    Edge("onecycle_linear_divs", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=120, anneal_strategy="linear", div_factor=3.0, final_div_factor=7.0), momentum=True),
    Edge("onecycle_three_phase_cos", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=120, three_phase=True, pct_start=0.4), momentum=True, resume_at=(47, 48, 94, 95)),
    Edge("onecycle_three_phase_adam", lambda L, o: L.OneCycleLR(o, [1e-2, 1e-3], epochs=6, steps_per_epoch=20, three_phase=True, base_momentum=0.8, max_momentum=[0.95, 0.9]), lrs=(1e-3, 1e-4), optim="adam", momentum=True),
    Edge("onecycle_pct_start_0", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=120, pct_start=0.0), momentum=True),
    Edge("onecycle_three_phase_half", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=120, pct_start=0.5, three_phase=True), momentum=True),
    Edge("onecycle_no_momentum_adam", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=120, cycle_momentum=False), optim="adam", momentum=True),
    Edge("lambda_per_group", lambda L, o: L.LambdaLR(o, [lambda e: 0.5 ** (e // 10), lambda e: 1 / (e + 1)]), lrs=(0.1, 0.2)),
    Edge("plateau_patience0", lambda L, o: L.ReduceLROnPlateau(o, patience=0, factor=0.5), lrs=(0.1, 0.01), metrics=random_walk(120, 0)),
    Edge("plateau_max_abs_cooldown_min_lrs", lambda L, o: L.ReduceLROnPlateau(o, "max", patience=2, factor=0.5, threshold=0.002, threshold_mode="abs", cooldown=4, min_lr=[1e-3, 0.0]), lrs=(0.1, 0.01), metrics=random_walk(120, 1, sign=-1.0), resume_at=(3, 20, 21, 22, 60)),
    Edge("plateau_abs_zero_threshold_eps", lambda L, o: L.ReduceLROnPlateau(o, patience=1, factor=0.9, threshold=0.0, threshold_mode="abs", eps=1e-3), lrs=(0.1, 0.005), metrics=random_walk(120, 2)),
    Edge("plateau_min_rel_negative_metrics", lambda L, o: L.ReduceLROnPlateau(o, patience=1, factor=0.5), metrics=random_walk(120, 3, offset=-4.0)),
    Edge("plateau_max_rel_negative_metrics", lambda L, o: L.ReduceLROnPlateau(o, "max", patience=1, factor=0.5), metrics=random_walk(120, 4, offset=-4.0)),
    Edge("plateau_factor0_min_lr", lambda L, o: L.ReduceLROnPlateau(o, patience=1, factor=0.0, min_lr=1e-4), metrics=random_walk(120, 5)),
    Edge("plateau_inf_metrics_first", lambda L, o: L.ReduceLROnPlateau(o, patience=1, factor=0.5), metrics=(math.inf,) * 5 + random_walk(115, 6)),
    Edge("sequential_warmup_cosine_two_groups", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.01, 1.0, 10), L.CosineAnnealingLR(o, 50, 1e-4)], [10]), lrs=(0.1, 0.03), steps=150, resume_at=(9, 10, 11, 61)),
    Edge("sequential_into_repeated_milestones", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 5), L.MultiStepLR(o, [3, 3, 30], 0.5)], [5]), steps=60),
    Edge("sequential_three_closed_forms", lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.StepLR(o, 5, 0.5), L.CosineAnnealingLR(o, 9)], [7, 20]), steps=80, resume_at=(6, 7, 8, 19, 20, 21)),
    Edge("sequential_into_linear", lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.LinearLR(o, 0.5, 1.0, 8)], [6]), lrs=(0.1, 0.3), steps=30),
    Edge("sequential_milestone_1", lambda L, o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.CosineAnnealingLR(o, 4, 0.01)], [1]), steps=30),
    Edge("sequential_into_onecycle_adam", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, 1.0, 4), L.OneCycleLR(o, 0.01, total_steps=30)], [4]), optim="adam", steps=34, momentum=True),
    Edge("sequential_last_epoch_0", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.2, 1.0, 4), L.ExponentialLR(o, 0.9)], [4], last_epoch=0), steps=20),
    Edge("sequential_chained_first", lambda L, o: L.SequentialLR(o, [L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)]), L.ExponentialLR(o, 0.8)], [10]), steps=30),
    Edge("sequential_nested_first", lambda L, o: L.SequentialLR(o, [L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 3), L.ExponentialLR(o, 0.9)], [3]), L.StepLR(o, 4, 0.5)], [10]), steps=30),
    Edge("chained_warmup_exp_multistep", lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.1, 1.0, 10), L.ExponentialLR(o, 0.97), L.MultiStepLR(o, [30, 60], 0.1)]), lrs=(0.1, 0.5)),
    Edge("chained_cosine_step", lambda L, o: L.ChainedScheduler([L.CosineAnnealingLR(o, 13, 1e-3), L.StepLR(o, 20, 0.5)])),
    Edge("chained_optimizer_argument", lambda L, o: L.ChainedScheduler([L.StepLR(o, 20, 0.5)], optimizer=o), steps=50),
    Edge("two_schedulers_one_optimizer", _two_stepped, lrs=(0.1, 0.02), steps=80, resume_at=()),
    Edge("resume_ctor_multistep", _resumed(lambda L, o, e: L.MultiStepLR(o, [3, 3, 9], 0.5, last_epoch=e), 3), lrs=(0.1, 0.05), steps=20, resume_at=()),
    Edge("resume_ctor_cosine_past_T", _resumed(lambda L, o, e: L.CosineAnnealingLR(o, 6, 0.01, last_epoch=e), 13), lrs=(0.1, 0.05), steps=20, resume_at=()),
    Edge("resume_ctor_cosine_at_T", _resumed(lambda L, o, e: L.CosineAnnealingLR(o, 6, 0.01, last_epoch=e), 6), steps=20, resume_at=()),
    Edge("resume_ctor_linear_past_T", _resumed(lambda L, o, e: L.LinearLR(o, 0.2, 0.9, 6, last_epoch=e), 7), steps=20, resume_at=()),
    Edge("resume_ctor_lambda", _resumed(lambda L, o, e: L.LambdaLR(o, lambda t: 0.9**t, last_epoch=e), 6), steps=20, resume_at=()),
    Edge("resume_ctor_onecycle", _resumed(lambda L, o, e: L.OneCycleLR(o, 1.0, total_steps=40, last_epoch=e), 13), steps=20, momentum=True, resume_at=()),
    Edge("resume_ctor_onecycle_3phase", _resumed(lambda L, o, e: L.OneCycleLR(o, 1.0, total_steps=40, three_phase=True, anneal_strategy="linear", last_epoch=e), 7), steps=20, momentum=True, resume_at=()),
]
# fmt: on
BY_NAME = {e.name: e for e in EDGES}
IDS = [e.name for e in EDGES]


# --------------------------------------------------------------------------- the runs
def make_optimizer(edge: Edge, lib: str) -> Any:
    if lib == "ours":
        params = [Tensor(np.zeros(2), requires_grad=True) for _ in edge.lrs]
        cls = SGD if edge.optim == "sgd" else Adam
    else:
        torch = _torch()
        params = [torch.zeros(2, dtype=torch.float64, requires_grad=True) for _ in edge.lrs]
        cls = torch.optim.SGD if edge.optim == "sgd" else torch.optim.Adam
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, edge.lrs)]
    extra = dict(momentum=0.9) if edge.optim == "sgd" else {}
    return cls(groups, lr=edge.lrs[0], **extra)


def namespace(lib: str) -> Any:
    if lib == "ours":
        return ours_lib
    _torch()
    import torch.optim.lr_scheduler as torch_sched

    return torch_sched


def observe(opt: Any, edge: Edge) -> list[float]:
    row = [float(g["lr"]) for g in opt.param_groups]
    if edge.momentum:
        key = (lambda g: g["momentum"]) if edge.optim == "sgd" else (lambda g: g["betas"][0])
        row += [float(key(g)) for g in opt.param_groups]
    return row


def advance(opt: Any, sched: Any, edge: Edge, k: int) -> None:
    opt.step()
    if edge.metrics is None:
        sched.step()
    else:
        sched.step(edge.metrics[k])


def run(edge: Edge, lib: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of observe() and of get_last_lr(), after construction and after each step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "step order" and deprecation warnings
        opt = make_optimizer(edge, lib)
        sched = edge.build(namespace(lib), opt)
        rows, last = [observe(opt, edge)], [[float(x) for x in sched.get_last_lr()]]
        for k in range(edge.steps):
            advance(opt, sched, edge, k)
            rows.append(observe(opt, edge))
            last.append([float(x) for x in sched.get_last_lr()])
    return np.array(rows), np.array(last)


def run_resumed(edge: Edge, at: int) -> np.ndarray:
    """Our run, pickled (optimizer + scheduler state) after ``at`` steps and resumed."""
    opt = make_optimizer(edge, "ours")
    sched = edge.build(ours_lib, opt)
    rows = [observe(opt, edge)]
    for k in range(at):
        advance(opt, sched, edge, k)
        rows.append(observe(opt, edge))
    blob = pickle.dumps({"opt": opt.state_dict(), "sched": sched.state_dict()})
    opt = make_optimizer(edge, "ours")
    sched = edge.build(ours_lib, opt)
    saved = pickle.loads(blob)
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    assert observe(opt, edge) == rows[-1]
    assert sched.get_last_lr() == rows[-1][: len(edge.lrs)]
    for k in range(at, edge.steps):
        advance(opt, sched, edge, k)
        rows.append(observe(opt, edge))
    return np.array(rows)


def assert_close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} vs torch {ref.shape}"
    bad = ~np.isclose(ours, ref, rtol=RTOL, atol=0.0)
    if bad.any():
        step, col = np.argwhere(bad)[0]
        raise AssertionError(
            f"{what}: first difference at step {step}, column {col}: "
            f"ours {ours[step, col]!r}, torch {ref[step, col]!r}"
        )


_torch_runs: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def torch_run(edge: Edge) -> tuple[np.ndarray, np.ndarray]:
    if edge.name not in _torch_runs:
        _torch_runs[edge.name] = run(edge, "torch")
    return _torch_runs[edge.name]


# --------------------------------------------------------------------------- agreement
@pytest.mark.torch
@pytest.mark.parametrize("name", IDS)
def test_sequence_matches_torch(name: str) -> None:
    edge = BY_NAME[name]
    ref, ref_last = torch_run(edge)
    ours, ours_last = run(edge, "ours")
    assert_close(ours, ref, f"{name} (lr/momentum)")
    assert_close(ours_last, ref_last, f"{name} (get_last_lr)")


@pytest.mark.torch
@pytest.mark.parametrize("name", [e.name for e in EDGES if e.resume_at])
def test_state_dict_round_trip_continues_like_torch(name: str) -> None:
    edge = BY_NAME[name]
    ref, _ = torch_run(edge)
    points = [at for at in edge.resume_at if at < edge.steps]
    assert points
    for at in points:
        assert_close(run_resumed(edge, at), ref, f"{name} resumed at {at}")


def test_comparison_can_fail() -> None:
    edge = BY_NAME["cosine_far_past_tmax"]
    ours, _ = run(edge, "ours")
    nudged = ours.copy()
    nudged[100, 1] *= 1 + 1e-11
    with pytest.raises(AssertionError, match="first difference at step 100, column 1"):
        assert_close(nudged, ours, "nudged")


def test_total_steps_equals_epochs_times_steps_per_epoch() -> None:
    a = Edge(
        "a",
        lambda L, o: L.OneCycleLR(o, 0.5, total_steps=60, three_phase=True),
        steps=60,
        momentum=True,
    )
    b = Edge(
        "b",
        lambda L, o: L.OneCycleLR(o, 0.5, epochs=4, steps_per_epoch=15, three_phase=True),
        steps=60,
        momentum=True,
    )
    np.testing.assert_array_equal(run(a, "ours")[0], run(b, "ours")[0])


@pytest.mark.parametrize("lib", ["ours", "torch"])
def test_onecycle_refuses_to_step_past_total_steps(lib: str) -> None:
    edge = Edge("x", lambda L, o: L.OneCycleLR(o, 1.0, total_steps=10), steps=10)
    opt = make_optimizer(edge, lib)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = edge.build(namespace(lib), opt)
        for _ in range(10):
            sched.step()
        with pytest.raises(
            ValueError, match="Tried to step 11 times. The specified number of total steps is 10"
        ):
            sched.step()


# ------------------------------------------------------------- groups added later
def _add_group(opt: Any, lib: str, lr: float = 0.5) -> None:
    if lib == "ours":
        p = Tensor(np.zeros(2), requires_grad=True)
    else:
        torch = _torch()
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt.add_param_group({"params": [p], "lr": lr})


@pytest.mark.parametrize("lib", ["ours", "torch"])
def test_rescaling_schedules_also_schedule_a_group_added_later(lib: str) -> None:
    """StepLR and ExponentialLR only rescale the current lrs: like torch's, they go on."""
    L = namespace(lib)
    for make, expected in (
        (lambda o: L.StepLR(o, 2, 0.5), [[0.05, 0.25], [0.05, 0.25], [0.025, 0.125]]),
        (lambda o: L.ExponentialLR(o, 0.5), [[0.025, 0.25], [0.0125, 0.125], [0.00625, 0.0625]]),
    ):
        opt = make_optimizer(Edge("x", None), lib)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = make(opt)
            opt.step()
            sched.step()
            _add_group(opt, lib)
            got = []
            for _ in range(3):
                opt.step()
                sched.step()
                got.append([g["lr"] for g in opt.param_groups])
        np.testing.assert_allclose(got, expected, rtol=1e-15)


@pytest.mark.parametrize("lib", ["ours", "torch"])
@pytest.mark.parametrize(
    "make",
    [
        lambda L, o: L.LambdaLR(o, lambda e: 0.5**e),
        lambda L, o: L.CosineAnnealingLR(o, 3),
        lambda L, o: L.OneCycleLR(o, 1.0, total_steps=20),
    ],
    ids=["lambda", "cosine", "onecycle"],
)
def test_schedules_from_base_lrs_reject_a_group_added_later(make: Callable, lib: str) -> None:
    """Ours names the problem; torch fails with a bare ``zip() argument 2 is shorter``
    (ValueError) or ``KeyError: 'initial_lr'``."""
    opt = make_optimizer(Edge("x", None), lib)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(namespace(lib), opt)
        opt.step()
        sched.step()
        _add_group(opt, lib)
        expected = (
            pytest.raises(
                ValueError, match=r"built for 1 parameter group\(s\), but the optimizer now has 2"
            )
            if lib == "ours"
            else pytest.raises((ValueError, KeyError))
        )
        with expected:
            for _ in range(3):  # the cosine reads base_lrs only one step after its minimum
                sched.step()


@pytest.mark.parametrize("lib", ["ours", "torch"])
def test_plateau_with_a_group_added_later(lib: str) -> None:
    L = namespace(lib)
    opt = make_optimizer(Edge("x", None), lib)
    sched = L.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=0.01)
    sched.step(1.0)
    _add_group(opt, lib)
    for m in (2.0, 3.0, 4.0, 5.0):
        sched.step(m)
    np.testing.assert_allclose(sched.get_last_lr(), [0.01, 0.03125], rtol=1e-15)
    opt = make_optimizer(Edge("x", None), lib)
    sched = L.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0])
    sched.step(1.0)
    _add_group(opt, lib)
    with pytest.raises(RuntimeError, match="param groups|parameter groups"):
        sched.step(2.0)


# ------------------------------------------------------------- composite restrictions
@pytest.mark.parametrize("lib", ["ours", "torch"])
@pytest.mark.parametrize("inner", ["chained", "sequential"])
def test_sequential_rejects_a_composite_after_the_first_milestone(inner: str, lib: str) -> None:
    """Ours at construction; torch accepts it and fails with a bare NotImplementedError
    at the milestone."""

    def build(L: Any, o: Any) -> Any:
        if inner == "chained":
            second = L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)])
        else:
            second = L.SequentialLR(o, [L.ExponentialLR(o, 0.9), L.StepLR(o, 3, 0.5)], [2])
        return L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, 5), second], [5])

    opt = make_optimizer(Edge("x", None), lib)
    if lib == "ours":
        with pytest.raises(ValueError, match="SequentialLR cannot hand over to the .* at index 1"):
            build(ours_lib, opt)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(namespace(lib), opt)
        for _ in range(4):
            sched.step()
        with pytest.raises(NotImplementedError):
            sched.step()


def test_with_warmup_rejects_a_composite() -> None:
    opt = make_optimizer(Edge("x", None), "ours")
    chained = ours_lib.ChainedScheduler([ours_lib.ExponentialLR(opt, 0.9)])
    with pytest.raises(ValueError, match="cannot hand over to the ChainedScheduler"):
        ours_lib.with_warmup(opt, chained, warmup_steps=3)


# --------------------------------------------------------------------------- bad input
def _sgd() -> SGD:
    return SGD([Tensor(np.zeros(2))], lr=0.1, momentum=0.9)


@pytest.mark.parametrize(
    "call, exc, message",
    [
        (
            lambda o: ours_lib.MultiStepLR(o, 5),
            TypeError,
            "MultiStepLR: milestones must be a list, got int 5",
        ),
        (
            lambda o: ours_lib.MultiStepLR(o, None),
            TypeError,
            "milestones must be a list, got NoneType",
        ),
        (lambda o: ours_lib.MultiStepLR(o, "35"), TypeError, "milestones must be a list, got str"),
        (
            lambda o: ours_lib.SequentialLR(o, [ours_lib.StepLR(o, 2), ours_lib.StepLR(o, 3)], 5),
            TypeError,
            "SequentialLR: milestones must be a list, got int 5",
        ),
        (
            lambda o: ours_lib.ChainedScheduler(ours_lib.StepLR(o, 2)),
            TypeError,
            "expects a list of schedulers, got a single StepLR",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o).step(None),
            TypeError,
            "needs the metric as a number, got None",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o).step("abc"),
            ValueError,
            "needs the metric as a number, got 'abc'",
        ),
        (
            lambda o: ours_lib.ReduceLROnPlateau(o).step([1.0, 2.0]),
            ValueError,
            r"needs one number, got an array of shape \(2,\)",
        ),
        (
            lambda o: ours_lib.ExponentialLR(o, 0.9).load_state_dict(
                ours_lib.StepLR(o, 3).state_dict()
            ),
            ValueError,
            r"entries a ExponentialLR does not: \['step_size'\]",
        ),
        (
            lambda o: ours_lib.StepLR(o, 3).load_state_dict(
                ours_lib.ExponentialLR(o, 0.9).state_dict()
            ),
            ValueError,
            r"missing \['step_size'\]",
        ),
        (
            lambda o: ours_lib.OneCycleLR(
                o, 0.1, total_steps=10, cycle_momentum=False
            ).load_state_dict(ours_lib.OneCycleLR(o, 0.1, total_steps=10).state_dict()),
            ValueError,
            r"\['use_beta1'\]",
        ),
    ],
)
def test_bad_input_names_the_problem(call: Callable, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        call(_sgd())


def test_plateau_accepts_numeric_strings_like_torch() -> None:
    sched = ours_lib.ReduceLROnPlateau(_sgd())
    sched.step("0.5")
    assert sched.best == 0.5


# =========================================================================== clipping
def _grads(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal((2, 1, 2))]


def ours_params(grads: list[np.ndarray | None], dtype: str = "float64") -> list[Tensor]:
    out = []
    for g in grads:
        p = Tensor(np.zeros(1 if g is None else g.shape, dtype=dtype), requires_grad=True)
        p.grad = None if g is None else np.array(g, dtype=dtype)
        out.append(p)
    return out


def torch_params(grads: list[np.ndarray | None], dtype: str = "float64") -> list[Any]:
    torch = _torch()
    out = []
    for g in grads:
        p = torch.zeros(
            1 if g is None else g.shape, dtype=getattr(torch, dtype), requires_grad=True
        )
        p.grad = None if g is None else torch.tensor(np.array(g, dtype=dtype))
        out.append(p)
    return out


def _after(params: list[Any]) -> list[np.ndarray | None]:
    """The gradients as numpy arrays (ours or torch's)."""
    out = []
    for p in params:
        g = p.grad
        out.append(None if g is None else g if isinstance(g, np.ndarray) else g.detach().numpy())
    return out


def assert_clip_matches_torch(
    grads: list[np.ndarray | None], max_norm: float, norm_type: Any, **kw: Any
) -> float:
    torch = _torch()
    ours = ours_params(grads)
    theirs = torch_params(grads)
    total = clip_grad_norm_(ours, max_norm, norm_type, **kw)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type, **kw)
    assert type(total) is float
    np.testing.assert_allclose(total, float(ref), rtol=RTOL, atol=0.0)
    for a, b in zip(_after(ours), _after(theirs)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=0.0)
    return total


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [1, 2, 2.0, math.inf, "inf", 0.5, 1.5, 3, 7.25])
@pytest.mark.parametrize("max_norm", [0.0, 0.3, 1e6, math.inf])
def test_clip_grad_norm_matches_torch(norm_type: Any, max_norm: float) -> None:
    assert_clip_matches_torch(_grads(), max_norm, norm_type)


@pytest.mark.torch
@pytest.mark.filterwarnings("error")  # an overflowing norm is inf without a RuntimeWarning
def test_clip_edge_gradients_match_torch() -> None:
    g = _grads(1)
    assert assert_clip_matches_torch([np.zeros(3), np.zeros((2, 2))], 1.0, 2.0) == 0.0
    assert assert_clip_matches_torch([np.zeros(3)], 0.0, 2.0) == 0.0
    assert_clip_matches_torch([None, g[0], None, g[1]], 0.5, 2.0)
    assert_clip_matches_torch([None, g[0]], 0.5, math.inf)
    assert assert_clip_matches_torch([np.array(3.0), np.array(-4.0)], 1.0, 2.0) == 5.0
    assert assert_clip_matches_torch([np.zeros(0), g[1]], 0.5, 2.0) > 0
    assert_clip_matches_torch([np.array([1e200, 1e200])], 1.0, 2.0)  # inf norm in both
    assert_clip_matches_torch([np.array([1e308, 1e308])], 1.0, 1)
    assert_clip_matches_torch([np.array([1e200, 1e200])], 1.0, 3.5)
    assert_clip_matches_torch([np.array([1e-200, 1e-200])], 1.0, 2.0)  # underflows to 0 in both


def test_no_gradient_at_all_gives_zero() -> None:
    assert clip_grad_norm_(ours_params([None, None]), 1.0) == 0.0
    assert clip_grad_norm_([], 1.0, norm_type=math.inf) == 0.0
    assert total_grad_norm([], 3.0) == 0.0


def test_max_norm_zero_zeroes_every_gradient() -> None:
    params = ours_params(_grads())
    total = clip_grad_norm_(params, 0)
    assert total > 0
    assert all(not p.grad.any() for p in params)


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1])
@pytest.mark.parametrize("poison", [math.nan, math.inf, -math.inf])
def test_nonfinite_gradients_like_torch(norm_type: float, poison: float) -> None:
    torch = _torch()
    grads = _grads(2)
    grads[1][2] = poison
    ours, theirs = ours_params(grads), torch_params(grads)
    with pytest.raises(RuntimeError, match=f"total norm of order {float(norm_type)} .* non-finite"):
        clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    for a, b in zip(_after(ours), _after(theirs)):  # the error leaves gradients alone
        np.testing.assert_array_equal(a, b)
    total = clip_grad_norm_(ours, 1.0, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    np.testing.assert_array_equal(total, float(ref))
    for a, b in zip(_after(ours), _after(theirs)):
        np.testing.assert_array_equal(a, b)  # NaN where torch has NaN


@pytest.mark.parametrize(
    "max_norm", [np.int64(1), np.float32(1.0), np.array(1.0), np.array(1), Tensor(np.array(1.0)), 1]
)
def test_max_norm_accepts_any_real_scalar(max_norm: Any) -> None:
    reference = ours_params(_grads())
    clip_grad_norm_(reference, 1.0)
    params = ours_params(_grads())
    clip_grad_norm_(params, max_norm)
    for a, b in zip(params, reference):
        np.testing.assert_array_equal(a.grad, b.grad)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ps: clip_grad_norm_(ps, "1.0"), r"Invalid max_norm: '1.0' \(a number >= 0\)"),
        (lambda ps: clip_grad_norm_(ps, True), r"Invalid max_norm: True"),
        (
            lambda ps: clip_grad_norm_(ps, np.array([1.0, 2.0])),
            r"Invalid max_norm: array\(\[1., 2.\]\)",
        ),
        (lambda ps: clip_grad_norm_(ps, None), r"Invalid max_norm: None"),
        (lambda ps: clip_grad_norm_(ps, -math.inf), r"Invalid max_norm: -inf"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=-math.inf), r"Invalid norm_type: -inf"),
        (lambda ps: clip_grad_value_(ps, -0.3), r"Invalid clip_value: -0.3 \(a number >= 0\)"),
        (lambda ps: clip_grad_value_(ps, math.nan), r"Invalid clip_value: nan"),
        (lambda ps: clip_grad_value_(ps, "0.5"), r"Invalid clip_value: '0.5'"),
        (lambda ps: clip_grad_value_(ps, np.array(-1.0)), r"Invalid clip_value: array\(-1.\)"),
    ],
)
def test_bad_clip_arguments_name_the_problem_and_change_nothing(
    call: Callable, message: str
) -> None:
    params = ours_params(_grads())
    before = [p.grad.copy() for p in params]
    with pytest.raises(ValueError, match=message):
        call(params)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.grad, b)


@pytest.mark.torch
@pytest.mark.parametrize("clip_value", [0.0, 0.3, np.int64(1), np.array(0.7), math.inf])
def test_clip_grad_value_matches_torch(clip_value: Any) -> None:
    torch = _torch()
    grads = _grads(3)
    grads[0][0, 0] = math.nan
    grads[1][0] = -math.inf
    grads.insert(1, None)
    ours, theirs = ours_params(grads), torch_params(grads)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, float(clip_value))
    for a, b in zip(_after(ours), _after(theirs)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------- documented deviations
@pytest.mark.torch
def test_float32_norm_overflow_is_not_an_inf_norm_here() -> None:
    """We accumulate in float64: torch's float32 norm overflows to inf and zeroes the grads."""
    torch = _torch()
    grads = [np.array([1e30, -1e30], dtype=np.float32)]
    ours, theirs = ours_params(grads, "float32"), torch_params(grads, "float32")
    total = clip_grad_norm_(ours, 1.0)
    assert math.isclose(total, math.sqrt(2) * float(np.float32(1e30)), rel_tol=1e-15)
    np.testing.assert_allclose(ours[0].grad, [2**-0.5, -(2**-0.5)], rtol=1e-6)
    assert ours[0].grad.dtype == np.float32
    assert math.isinf(float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)))
    np.testing.assert_array_equal(theirs[0].grad.numpy(), [0.0, -0.0])


@pytest.mark.torch
def test_empty_gradient_has_inf_norm_zero_here() -> None:
    torch = _torch()
    grads = [np.zeros(0), np.array([0.5, -2.0])]
    assert clip_grad_norm_(ours_params(grads), 1.0, math.inf) == 2.0
    assert clip_grad_norm_(ours_params(grads[:1]), 1.0, math.inf) == 0.0
    with pytest.raises(RuntimeError, match="infinity norm on an empty tensor"):
        torch.nn.utils.clip_grad_norm_(torch_params(grads), 1.0, math.inf)


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [0, -1.0, -math.inf])
def test_non_norm_orders_are_rejected_here(norm_type: float) -> None:
    torch = _torch()
    with pytest.raises(ValueError, match=f"Invalid norm_type: {norm_type}"):
        clip_grad_norm_(ours_params(_grads()), 1.0, norm_type)
    torch.nn.utils.clip_grad_norm_(
        torch_params(_grads()), 1.0, norm_type
    )  # torch computes something


@pytest.mark.torch
def test_negative_clip_value_is_rejected_here() -> None:
    """torch clamps to [0.3, -0.3]: every entry becomes -0.3."""
    torch = _torch()
    theirs = torch_params(_grads())
    torch.nn.utils.clip_grad_value_(theirs, -0.3)
    assert all((p.grad.numpy() == -0.3).all() for p in theirs)
    with pytest.raises(ValueError, match="Invalid clip_value: -0.3"):
        clip_grad_value_(ours_params(_grads()), -0.3)
