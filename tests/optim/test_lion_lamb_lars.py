"""Lion, LAMB and LARS against Optax and against the papers.

- Optax: ``tests/fixtures/optax_{lion,lamb,lars}.npz`` hold Optax 0.2.8's trajectories
  (jax float64; 200 steps of random gradients, subsampled), made by
  ``scripts/make_optax_fixtures.py``. Cases include a learning rate that changes at step
  100 (Optax schedule; ours changes ``group["lr"]``) and a parameter starting at zero (the
  trust ratio's ‖θ‖ = 0 branch). rtol 1e-10.
- Plain-numpy transcriptions of each algorithm, written here (Lion: Chen et al. 2023,
  Program 1; LAMB: You et al. 2020, Algorithm 2 with φ = identity; LARS: Optax's
  composition, and the paper's Algorithm 1 which agrees with it when β = 0), through
  ``check_against_reference``.
- Invariants: Lion moves each coordinate by exactly lr; LAMB each layer by lr·‖θ‖; LARS
  without momentum by lr·η·‖θ‖. Hypothesis: finite from finite inputs, ValueError
  naming an invalid value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import (
    assert_finite_steps,
    assert_invalid_raises,
    assert_maximize_negates,
    fixture_cases,
    load_npz,
    replay,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.optim.functional import trust_ratio, velocity_
from tinygrad_opt.optim.lamb import LAMB
from tinygrad_opt.optim.lars import LARS
from tinygrad_opt.optim.lion import Lion
from tinygrad_opt.optim.optimizer import create
from tinygrad_opt.optim.testing import (
    check_against_reference,
    compare_trajectories,
    gradient_sequence,
    initial_params,
)
from tinygrad_opt.tensor import Tensor

FIXTURES = Path(__file__).parents[1] / "fixtures"
CLASSES = {"Lion": Lion, "LAMB": LAMB, "LARS": LARS}
SHAPES = ((3, 4), (5,), ())


# --------------------------------------------------------------------------- Optax fixtures
def _fixture_cases():
    out = []
    for stem in ("optax_lion", "optax_lamb", "optax_lars"):
        out += [(stem, case) for case in fixture_cases(FIXTURES / f"{stem}.npz")]
    return out


@pytest.mark.parametrize(
    "stem, case", _fixture_cases(), ids=lambda x: x if isinstance(x, str) else x["name"]
)
def test_matches_optax(stem, case):
    data = load_npz(FIXTURES / f"{stem}.npz")
    assert str(data["optax_version"]) == "0.2.8"
    cls = CLASSES[case["cls"]]
    ours, ref = replay(data, case, lambda ps: cls(ps, **case["kwargs"]), range(2))
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- the papers, in numpy
def paper_lion(lr, b1=0.9, b2=0.99, wd=0.0):
    """Chen et al. 2023, Program 1 (lion_update)."""

    def step(params, grads, state, t):
        for i, (w, g) in enumerate(zip(params, grads)):
            m = state.get(i, np.zeros_like(w))
            update = np.sign(b1 * m + (1 - b1) * g) + wd * w
            w -= lr * update
            state[i] = b2 * m + (1 - b2) * g

    return step


def _norm(x):
    return float(np.sqrt(np.sum(x * x)))


def paper_lamb(lr, b1=0.9, b2=0.999, eps=1e-6, wd=0.0):
    """You et al. 2020, Algorithm 2 with φ(z) = z (bias-corrected moments)."""

    def step(params, grads, state, t):
        for i, (x, g) in enumerate(zip(params, grads)):
            m, v = state.get(i, (np.zeros_like(x), np.zeros_like(x)))
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            u = r + wd * x
            ratio = _norm(x) / _norm(u) if _norm(x) > 0 and _norm(u) > 0 else 1.0
            x -= lr * ratio * u
            state[i] = (m, v)

    return step


def optax_lars(lr, wd=0.0, tc=0.001, eps=0.0, mu=0.9, nesterov=False):
    """Optax's lars composition, written out."""

    def step(params, grads, state, t):
        for i, (w, g) in enumerate(zip(params, grads)):
            u = g + wd * w
            wn, un = _norm(w), _norm(u)
            ratio = tc * wn / (un + eps) if wn > 0 and un > 0 else 1.0
            u = -lr * ratio * u
            tr = mu * state.get(i, np.zeros_like(w)) + u
            w += u + mu * tr if nesterov else tr
            state[i] = tr

    return step


def paper_lars(gamma, beta=0.0, eta=0.001, m=0.9):
    """You, Gitman & Ginsburg 2017, Algorithm 1: λ = η‖w‖/(‖∇L‖ + β‖w‖)."""

    def step(params, grads, state, t):
        for i, (w, g) in enumerate(zip(params, grads)):
            local_lr = eta * _norm(w) / (_norm(g) + beta * _norm(w))
            v = m * state.get(i, np.zeros_like(w)) + gamma * local_lr * (g + beta * w)
            w -= v
            state[i] = v

    return step


PAPER_CASES = [
    ("lion", lambda ps: Lion(ps, lr=1e-3), paper_lion(1e-3)),
    (
        "lion-wd",
        lambda ps: Lion(ps, lr=3e-3, betas=(0.5, 0.9), weight_decay=0.3),
        paper_lion(3e-3, 0.5, 0.9, 0.3),
    ),
    ("lamb", lambda ps: LAMB(ps, lr=1e-2), paper_lamb(1e-2)),
    (
        "lamb-wd",
        lambda ps: LAMB(ps, lr=5e-3, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.2),
        paper_lamb(5e-3, 0.8, 0.9, 1e-3, 0.2),
    ),
    ("lars", lambda ps: LARS(ps), optax_lars(1.0)),
    (
        "lars-nesterov",
        lambda ps: LARS(
            ps,
            lr=0.3,
            weight_decay=0.05,
            trust_coefficient=0.01,
            eps=0.1,
            momentum=0.5,
            nesterov=True,
        ),
        optax_lars(0.3, 0.05, 0.01, 0.1, 0.5, True),
    ),
    ("lars-paper", lambda ps: LARS(ps, lr=2.0, momentum=0.8), paper_lars(2.0, m=0.8)),
]


@pytest.mark.parametrize(
    "make, reference", [c[1:] for c in PAPER_CASES], ids=[c[0] for c in PAPER_CASES]
)
def test_matches_the_paper(make, reference):
    assert check_against_reference(make, reference, shapes=SHAPES).steps == 200


def test_lars_trust_ratio_differs_from_the_paper_with_weight_decay():
    """Documented difference: Optax (and we) divide by ‖g + βw‖, the paper by ‖g‖ + β‖w‖."""
    with pytest.raises(AssertionError):
        check_against_reference(lambda ps: LARS(ps, weight_decay=0.1), paper_lars(1.0, beta=0.1))


# --------------------------------------------------------------------------- invariants
def _one_step(opt_cls, **hp):
    params0 = initial_params(SHAPES)
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = opt_cls(params, **hp)
    for p, g in zip(params, gradient_sequence(SHAPES, 1)[0]):
        p.grad = g
    opt.step()
    return params0, [p.data for p in params], opt


def test_lion_moves_every_coordinate_by_lr():
    before, after, _ = _one_step(Lion, lr=0.01)
    for a, b in zip(before, after):
        np.testing.assert_allclose(np.abs(b - a), 0.01, rtol=1e-12)


def test_lamb_moves_every_layer_by_lr_times_its_norm():
    before, after, _ = _one_step(LAMB, lr=0.01)
    for a, b in zip(before, after):
        assert _norm(b - a) == pytest.approx(0.01 * _norm(a), rel=1e-12)


def test_lars_without_momentum_moves_every_layer_by_lr_eta_norm():
    before, after, _ = _one_step(LARS, lr=2.0, momentum=0.0, weight_decay=0.1)
    for a, b in zip(before, after):
        assert _norm(b - a) == pytest.approx(2.0 * 0.001 * _norm(a), rel=1e-12)


def test_state_sizes():
    for cls, copies in ((Lion, 1), (LAMB, 2), (LARS, 1)):
        before, _, opt = _one_step(cls)
        assert opt.state_bytes() == copies * sum(p.nbytes for p in before), cls.__name__


def test_trust_ratio_is_one_for_zero_norms_and_scales_otherwise():
    z, x = np.zeros(3), np.array([3.0, 4.0, 0.0])
    assert trust_ratio(z, x, eps=1.0, trust_coefficient=0.5) == 1.0
    assert trust_ratio(x, z, eps=1.0, trust_coefficient=0.5) == 1.0
    assert trust_ratio(x, 2 * x) == 0.5
    assert trust_ratio(x, 2 * x, eps=5.0, trust_coefficient=0.1) == pytest.approx(0.1 * 5 / 15)


def test_velocity_holds_steps():
    v = np.array([1.0, -2.0])
    step = velocity_(v, np.array([0.5, 0.5]), 0.5)
    assert step is v
    np.testing.assert_array_equal(v, [1.0, -0.5])
    step = velocity_(v, np.array([1.0, 0.0]), 0.5, nesterov=True)
    np.testing.assert_array_equal(v, [1.5, -0.25])
    np.testing.assert_array_equal(step, [1.75, -0.125])


def test_lars_lr_is_inside_the_velocity():
    """After an lr change the old steps stay in the velocity at their old size."""
    grads = [[np.array([1.0, 0.0])], [np.array([0.0, 0.0])]]
    p = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    opt = LARS([p], lr=1.0, momentum=0.5, trust_coefficient=1.0)
    p.grad = grads[0][0]
    opt.step()  # ratio 5/1: step (-5, 0)
    np.testing.assert_allclose(p.data, [-2.0, 4.0])
    opt.param_groups[0]["lr"] = 100.0
    p.grad = grads[1][0]  # ‖u‖ = 0: ratio 1, Δ = 0; the velocity alone moves θ
    opt.step()
    np.testing.assert_allclose(p.data, [-4.5, 4.0])


# --------------------------------------------------------------------------- hypothesis, registry
unit = st.floats(0.0, 1.0, exclude_max=True)
nonneg = st.floats(0.0, 10.0)
VALID = {
    Lion: st.fixed_dictionaries(
        {"lr": nonneg, "betas": st.tuples(unit, unit), "weight_decay": nonneg}
    ),
    LAMB: st.fixed_dictionaries(
        {"lr": nonneg, "betas": st.tuples(unit, unit), "eps": nonneg, "weight_decay": nonneg}
    ),
    LARS: st.fixed_dictionaries(
        {
            "lr": nonneg,
            "momentum": unit,
            "weight_decay": nonneg,
            "trust_coefficient": nonneg,
            "eps": nonneg,
            "nesterov": st.booleans(),
        }
    ),
}
values = st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3)


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_finite_inputs_give_finite_parameters(cls, data):
    assert_finite_steps(cls, data.draw(VALID[cls]), lambda: data.draw(values))


INVALID = [
    (Lion, "lr", -1e-4),
    (Lion, "betas", (1.0, 0.99)),
    (Lion, "betas", (0.9, -0.1)),
    (Lion, "weight_decay", -0.5),
    (LAMB, "eps", -1e-6),
    (LAMB, "betas", (0.9, 1.5)),
    (LAMB, "weight_decay", float("nan")),
    (LARS, "momentum", 1.0),
    (LARS, "momentum", -0.9),
    (LARS, "trust_coefficient", -0.001),
    (LARS, "eps", -1.0),
    (LARS, "lr", float("nan")),
]


@pytest.mark.parametrize("cls, name, value", INVALID, ids=lambda x: getattr(x, "__name__", str(x)))
def test_invalid_hyperparameters_raise_naming_the_value(cls, name, value):
    assert_invalid_raises(cls, name, value)


@settings(max_examples=30, deadline=None)
@given(tc=st.floats(max_value=-1e-9, allow_infinity=False), b=st.floats(1.0, 1e9))
def test_negative_trust_coefficient_and_beta_ge_one_raise(tc, b):
    p = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape(f"trust_coefficient value: {tc}")):
        LARS(p, trust_coefficient=tc)
    with pytest.raises(ValueError, match=re.escape(str(b))):
        Lion(p, betas=(0.9, b))


@pytest.mark.parametrize("name, cls", [("lion", Lion), ("LAMB", LAMB), ("lars", LARS)])
def test_registered(name, cls):
    opt = create(name, [Tensor(np.zeros(2), requires_grad=True)], lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("cls", [Lion, LAMB, LARS], ids=lambda c: c.__name__)
def test_maximize_is_minimizing_the_negated_gradient(cls):
    assert_maximize_negates(cls, dict(lr=0.01), [(4,)], 20)


def test_lamb_direction_that_overflows_leaves_the_parameter_finite():
    """A gradient whose square underflows and a subnormal eps overflow Adam's direction;
    the trust ratio ‖θ‖/∞ is then 0 and the step must be 0, not 0·∞ = NaN."""
    p = Tensor(np.array([0.0, 0.0, 1.0]), requires_grad=True)
    opt = LAMB([p], lr=0.0, betas=(0.75, 0.0), eps=2.225073858507203e-309)
    p.grad = np.array([0.0, 0.0, 1e-300])
    opt.step()
    assert np.isfinite(p.data).all()
    opt.param_groups[0]["lr"] = 0.1
    opt.step()
    assert np.isfinite(p.data).all()
