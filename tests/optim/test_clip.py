# ruff: noqa: E501  (the case table keeps one setting per line)
"""Gradient clipping agrees with ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Each case of ``CLIP_CASES`` clips a few seeded random gradients. The result is checked
against a closed form written here in numpy (the norm of the concatenated gradient, the
coefficient min(max_norm / (N + 1e-6), 1)), against torch live when importable, and
against torch's numbers stored in ``tests/fixtures/schedulers_torch.json`` (key
``"clip"``; written by ``scripts/make_scheduler_fixtures.py``) when it is not.
Hypothesis checks the guarantees: after clipping the total norm is at most
max_norm·(1 + 1e-6), the gradient's direction is kept, and value clipping bounds every
entry.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_opt import Tensor
from tinygrad_opt.optim.clip import clip_grad_norm_, clip_grad_value_, total_grad_norm

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None

FIXTURE = Path(__file__).parents[1] / "fixtures" / "schedulers_torch.json"
torch_only = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")
INF = math.inf


@dataclass(frozen=True)
class ClipCase:
    """Clip seeded gradients of ``shapes`` (times ``scale``) to ``max_norm`` in ``norm_type``."""

    name: str
    max_norm: float
    norm_type: Any = 2.0
    shapes: tuple[tuple[int, ...], ...] = ((3, 4), (5,), (2, 2, 2))
    scale: float = 1.0
    dtype: str = "float64"
    no_grad: tuple[int, ...] = ()  # indices of parameters left without a gradient
    poison: float | None = None  # written into the first gradient's first entry

    @property
    def finite(self) -> bool:
        return self.poison is None or math.isfinite(self.poison)

    def gradients(self) -> list[np.ndarray | None]:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        grads: list[np.ndarray | None] = [
            (self.scale * rng.standard_normal(s)).astype(self.dtype) for s in self.shapes
        ]
        if self.poison is not None:
            grads[0].flat[0] = self.poison
        for i in self.no_grad:
            grads[i] = None
        return grads


# fmt: off
CLIP_CASES = [
    ClipCase("l2", max_norm=1.0),
    ClipCase("l2_not_clipped", max_norm=1.0, scale=0.05),
    ClipCase("l2_zero_max", max_norm=0.0),
    ClipCase("l1", max_norm=2.0, norm_type=1),
    ClipCase("inf", max_norm=0.5, norm_type=INF),
    ClipCase("inf_string", max_norm=0.5, norm_type="inf"),
    ClipCase("p3_5", max_norm=0.7, norm_type=3.5),
    ClipCase("p0_5", max_norm=30.0, norm_type=0.5),
    ClipCase("large", max_norm=5.0, scale=1e3),
    ClipCase("skips_missing", max_norm=0.3, no_grad=(1,)),
    ClipCase("one_tensor", max_norm=1.0, shapes=((7,),)),
    ClipCase("float32", max_norm=1.0, dtype="float32"),
    ClipCase("float32_p3_5", max_norm=0.2, norm_type=3.5, dtype="float32"),
    ClipCase("inf_grad", max_norm=1.0, poison=INF),
    ClipCase("nan_grad", max_norm=1.0, poison=math.nan),
    ClipCase("inf_grad_inf_norm", max_norm=1.0, norm_type=INF, poison=-INF),
]
# fmt: on
BY_NAME = {c.name: c for c in CLIP_CASES}
IDS = [c.name for c in CLIP_CASES]
FIXTURE_IDS = [c.name for c in CLIP_CASES if c.finite]


def clip_ours(case: ClipCase) -> tuple[float, list[np.ndarray | None]]:
    params = []
    for g, s in zip(case.gradients(), case.shapes):
        p = Tensor(np.zeros(s, dtype=case.dtype), requires_grad=True)
        p.grad = g
        params.append(p)
    total = clip_grad_norm_(params, case.max_norm, case.norm_type)
    assert isinstance(total, float)
    return total, [p.grad for p in params]


def clip_torch(case: ClipCase) -> tuple[float, list[np.ndarray | None]]:
    params = []
    for g, s in zip(case.gradients(), case.shapes):
        p = torch.zeros(s, dtype=getattr(torch, case.dtype), requires_grad=True)
        p.grad = None if g is None else torch.tensor(g)
        params.append(p)
    total = torch.nn.utils.clip_grad_norm_(params, case.max_norm, case.norm_type)
    return float(total), [None if p.grad is None else p.grad.numpy() for p in params]


def closed_form(case: ClipCase) -> tuple[float, list[np.ndarray | None]]:
    """The definition, in float64: the norm of the concatenation, then one coefficient."""
    grads = case.gradients()
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads if g is not None])
    p = float(case.norm_type)
    total = np.max(np.abs(flat)) if p == INF else np.sum(np.abs(flat) ** p) ** (1 / p)
    coef = min(case.max_norm / (total + 1e-6), 1.0)
    return float(total), [None if g is None else (g * coef).astype(g.dtype) for g in grads]


def flatten(grads: list[np.ndarray | None]) -> np.ndarray:
    return np.concatenate([g.astype(np.float64).ravel() for g in grads if g is not None])


def tolerance(case: ClipCase) -> dict[str, float]:
    return dict(rtol=1e-12, atol=1e-15) if case.dtype == "float64" else dict(rtol=2e-6, atol=1e-7)


def assert_same(ours: tuple, ref: tuple, case: ClipCase) -> None:
    (total, grads), (ref_total, ref_grads) = ours, ref
    assert [g is None for g in grads] == [g is None for g in ref_grads]
    np.testing.assert_allclose(total, ref_total, **tolerance(case))
    np.testing.assert_allclose(flatten(grads), flatten(ref_grads), **tolerance(case))
    for g, s in zip(grads, case.shapes):
        assert g is None or (g.shape == s and g.dtype == case.dtype)


# --------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("name", FIXTURE_IDS)
def test_matches_closed_form(name: str) -> None:
    case = BY_NAME[name]
    assert_same(clip_ours(case), closed_form(case), case)


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("name", IDS)
def test_matches_torch_live(name: str) -> None:
    case = BY_NAME[name]
    assert_same(clip_ours(case), clip_torch(case), case)


@pytest.mark.parametrize("name", FIXTURE_IDS)
def test_matches_torch_fixture(name: str) -> None:
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: run scripts/make_scheduler_fixtures.py (needs torch)")
    stored = json.loads(FIXTURE.read_text())["clip"]
    assert name in stored, f"{name} not in the fixture: regenerate it"
    case = BY_NAME[name]
    total, grads = clip_ours(case)
    np.testing.assert_allclose(total, stored[name]["total"], **tolerance(case))
    np.testing.assert_allclose(flatten(grads), stored[name]["grads"], **tolerance(case))


def test_the_comparison_can_fail() -> None:
    """Scaling by the unclamped coefficient, or omitting the 1e-6, is detected."""
    case = BY_NAME["l2"]
    total, grads = clip_ours(case)
    exact = [g * (case.max_norm / total) / (case.max_norm / (total + 1e-6)) for g in grads]
    with pytest.raises(AssertionError):
        assert_same((total, exact), closed_form(case), case)
    unclamped_case = BY_NAME["l2_not_clipped"]
    total, grads = clip_ours(unclamped_case)
    grown = [g * unclamped_case.max_norm / total for g in grads]
    with pytest.raises(AssertionError):
        assert_same((total, grown), closed_form(unclamped_case), unclamped_case)


def test_nonfinite_norm_scales_like_torch() -> None:
    """Without error_if_nonfinite, an inf norm gives c = 0 (finite entries 0, inf -> NaN)."""
    total, grads = clip_ours(BY_NAME["inf_grad"])
    assert total == INF
    flat = flatten(grads)
    assert math.isnan(flat[0]) and np.all(flat[1:] == 0.0)
    total, grads = clip_ours(BY_NAME["nan_grad"])
    assert math.isnan(total) and np.all(np.isnan(flatten(grads)))


@pytest.mark.parametrize("name", ["inf_grad", "nan_grad", "inf_grad_inf_norm"])
def test_error_if_nonfinite(name: str) -> None:
    case = BY_NAME[name]
    params = [Tensor(np.zeros(s), requires_grad=True) for s in case.shapes]
    for p, g in zip(params, case.gradients()):
        p.grad = g
    before = [p.grad.copy() for p in params]
    with pytest.raises(RuntimeError, match=r"total norm of order .* is non-finite \((inf|nan)\)"):
        clip_grad_norm_(params, 1.0, case.norm_type, error_if_nonfinite=True)
    for p, b in zip(params, before):  # nothing was scaled
        np.testing.assert_array_equal(p.grad, b)


# --------------------------------------------------------------------------- properties
shapes = st.lists(
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5), min_size=1, max_size=4
)
norm_types = st.sampled_from([1.0, 2.0, INF, 3.5])


@st.composite
def gradient_lists(draw: Any) -> list[np.ndarray]:
    elems = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    return [draw(hnp.arrays(np.float64, s, elements=elems)) for s in draw(shapes)]


@settings(max_examples=150, deadline=None)
@given(gradient_lists(), st.floats(1e-3, 1e3), norm_types)
def test_clipped_norm_is_bounded_and_direction_kept(grads: list, max_norm: float, p: float) -> None:
    params = [Tensor(np.zeros(g.shape), requires_grad=True) for g in grads]
    for t, g in zip(params, grads):
        t.grad = g.copy()
    total = clip_grad_norm_(params, max_norm, p)
    orig = np.concatenate([g.ravel() for g in grads])
    new = np.concatenate([t.grad.ravel() for t in params])
    assert total_grad_norm(params, p) <= max_norm * (1 + 1e-6)
    if total + 1e-6 <= max_norm:
        np.testing.assert_array_equal(new, orig)  # small enough: untouched (times 1.0)
    coef = min(max_norm / (total + 1e-6), 1.0)
    np.testing.assert_allclose(new, coef * orig, rtol=1e-12, atol=0)  # same direction
    if np.linalg.norm(orig) > 1e-100:  # (tiny vectors: the cosine itself underflows)
        cos = np.dot(new, orig) / (np.linalg.norm(new) * np.linalg.norm(orig))
        assert cos > 1 - 1e-9


@settings(max_examples=100, deadline=None)
@given(gradient_lists(), norm_types)
def test_total_norm_is_the_concatenated_norm(grads: list, p: float) -> None:
    params = [Tensor(np.zeros(g.shape), requires_grad=True) for g in grads]
    for t, g in zip(params, grads):
        t.grad = g
    flat = np.concatenate([g.ravel() for g in grads])
    expected = 0.0 if flat.size == 0 else float(np.linalg.norm(flat, ord=p))
    assert math.isclose(total_grad_norm(params, p), expected, rel_tol=1e-12, abs_tol=1e-300)


@settings(max_examples=100, deadline=None)
@given(gradient_lists(), st.floats(0.0, 1e3))
def test_value_clipping_bounds_entries(grads: list, clip_value: float) -> None:
    params = [Tensor(np.zeros(g.shape), requires_grad=True) for g in grads]
    for t, g in zip(params, grads):
        t.grad = g.copy()
    clip_grad_value_(params, clip_value)
    for t, g in zip(params, grads):
        assert np.all(np.abs(t.grad) <= clip_value)
        np.testing.assert_array_equal(t.grad, np.clip(g, -clip_value, clip_value))


@torch_only
@pytest.mark.torch
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 1.5])
def test_value_clipping_matches_torch(clip_value: float) -> None:
    case = BY_NAME["skips_missing"]
    ours = [
        None if g is None else Tensor(np.zeros(g.shape), requires_grad=True)
        for g in case.gradients()
    ]
    theirs = []
    for t, g, s in zip(ours, case.gradients(), case.shapes):
        if t is not None:
            t.grad = g
        p = torch.zeros(s, dtype=torch.float64, requires_grad=True)
        p.grad = None if g is None else torch.tensor(g)
        theirs.append(p)
    clip_grad_value_([t for t in ours if t is not None], clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for t, p in zip(ours, theirs):
        if t is not None:
            np.testing.assert_array_equal(t.grad, p.grad.numpy())


# --------------------------------------------------------------------------- API edges
def test_single_tensor_generator_and_missing_grads() -> None:
    t = Tensor(np.zeros(2), requires_grad=True)
    t.grad = np.array([3.0, 4.0])
    assert clip_grad_norm_(t, 1.0) == 5.0
    np.testing.assert_allclose(t.grad, np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-15)
    u = Tensor(np.zeros(2), requires_grad=True)
    u.grad = np.array([3.0, 4.0])
    assert clip_grad_norm_((x for x in [u, Tensor(np.zeros(3))]), 10.0) == 5.0
    np.testing.assert_array_equal(u.grad, [3.0, 4.0])
    assert clip_grad_norm_([Tensor(np.zeros(3))], 1.0) == 0.0  # no gradients at all
    assert clip_grad_norm_([], 1.0) == 0.0
    clip_grad_value_(t, 0.1)
    np.testing.assert_array_equal(t.grad, [0.1, 0.1])


def test_a_parameter_listed_twice_counts_once() -> None:
    t = Tensor(np.zeros(2), requires_grad=True)
    t.grad = np.array([3.0, 4.0])
    assert clip_grad_norm_([t, t], 1.0) == 5.0
    assert math.isclose(float(np.linalg.norm(t.grad)), 1.0, rel_tol=1e-6)


def test_clips_in_place() -> None:
    t = Tensor(np.zeros(2), requires_grad=True)
    g = np.array([3.0, 4.0])
    t.grad = g
    clip_grad_norm_(t, 1.0)
    assert t.grad is g and g[0] < 1.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda ps: clip_grad_norm_(ps, -1.0), r"Invalid max_norm: -1.0"),
        (lambda ps: clip_grad_norm_(ps, math.nan), r"Invalid max_norm: nan"),
        (lambda ps: clip_grad_norm_(ps, "1"), r"Invalid max_norm: '1'"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), r"Invalid norm_type: 0"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=-2.0), r"Invalid norm_type: -2.0"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type="fro"), r"Invalid norm_type: 'fro'"),
        (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=math.nan), r"Invalid norm_type: nan"),
        (lambda ps: clip_grad_value_(ps, -0.5), r"Invalid clip_value: -0.5"),
        (lambda ps: clip_grad_value_(ps, None), r"Invalid clip_value: None"),
    ],
)
def test_invalid_arguments(call: Any, message: str) -> None:
    t = Tensor(np.zeros(2), requires_grad=True)
    t.grad = np.array([3.0, 4.0])
    with pytest.raises(ValueError, match=message):
        call([t])
    np.testing.assert_array_equal(t.grad, [3.0, 4.0])


def test_rejects_non_tensors() -> None:
    with pytest.raises(TypeError, match="got ndarray at index 0"):
        clip_grad_norm_([np.zeros(2)], 1.0)
