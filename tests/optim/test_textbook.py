"""The textbook forms (Goodfellow et al. 2016, Alg. 8.1-8.7) against the book, and their
documented relations to the torch-style classes.

- Each class against a plain-numpy transcription of its algorithm, written here from the
  book (no code shared with the library), 200 steps, float64, rtol 1e-10.
- Against Optax's trajectories in ``tests/fixtures/optax_textbook.npz`` (made by
  ``scripts/make_optax_fixtures.py``): Optax's ``rmsprop`` (δ inside the root) is 8.5,
  its ``rmsprop(momentum, nesterov=True)`` is 8.6 in the look-ahead variable, ``adam`` is
  8.7, and ``chain(scale_by_learning_rate, trace)`` is 8.2 / 8.3, run with a learning
  rate that changes mid-run.
- The Nesterov forms evaluate the gradient at θ̃ = θ + αv: checked literally on a
  quadratic, with the book's loop next to ours.
- Equivalences: TextbookMomentum / TextbookNesterov = SGD(momentum[, nesterov]) at constant
  lr, and the exact difference after an lr change; TextbookAdaGrad = torch Adagrad;
  TextbookRMSProp ≠ torch RMSprop unless δ = 0; TextbookAdam = Adam to rounding.
- Convergence on an ill-conditioned quadratic; hypothesis: finite from finite inputs,
  ValueError naming an invalid value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import (
    assert_finite_steps,
    assert_maximize_negates,
    fixture_cases,
    load_npz,
    replay,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.optim.adam import Adam
from tinygrad_opt.optim.optimizer import create
from tinygrad_opt.optim.sgd import SGD
from tinygrad_opt.optim.testing import (
    check_against_reference,
    compare_trajectories,
    gradient_sequence,
    initial_params,
    run_optimizer,
    run_torch,
)
from tinygrad_opt.optim.textbook import (
    TextbookAdaGrad,
    TextbookAdam,
    TextbookMomentum,
    TextbookNesterov,
    TextbookRMSProp,
    TextbookRMSPropNesterov,
    TextbookSGD,
)
from tinygrad_opt.tensor import Tensor

FIXTURE = Path(__file__).parents[1] / "fixtures" / "optax_textbook.npz"
CLASSES = {
    c.__name__: c
    for c in (
        TextbookSGD,
        TextbookMomentum,
        TextbookNesterov,
        TextbookAdaGrad,
        TextbookRMSProp,
        TextbookRMSPropNesterov,
        TextbookAdam,
    )
}


# --------------------------------------------------------------------------- the book, in numpy
# Each factory returns reference_step(params, grads, state, t) for check_against_reference.
# ``wd`` adds the gradient of the penalty λ/2·‖θ‖² to g (the book's J includes it).
def book_sgd(lr, wd=0.0):  # Alg. 8.1
    def step(params, grads, state, t):
        for theta, g in zip(params, grads):
            g = g + wd * theta
            theta += -lr * g

    return step


def book_momentum(lr, alpha, wd=0.0):  # Alg. 8.2
    def step(params, grads, state, t):
        for i, (theta, g) in enumerate(zip(params, grads)):
            g = g + wd * theta
            v = state.get(i, np.zeros_like(theta))
            v = alpha * v - lr * g
            theta += v
            state[i] = v

    return step


def book_nesterov(lr, alpha, wd=0.0):  # Alg. 8.3
    """Keeps θ and v; the given gradient is the one at θ̃ = θ + αv, which is where our
    optimizer holds its tensors, so the reference reports θ̃ for the next step."""

    def step(params, grads, state, t):
        for i, (out, g) in enumerate(zip(params, grads)):
            theta, v = state.get(i, (out.copy(), np.zeros_like(out)))
            theta_tilde = theta + alpha * v  # interim point: the gradient is taken here
            np.testing.assert_allclose(theta_tilde, out, rtol=1e-9, atol=1e-12)
            g = g + wd * theta_tilde
            v = alpha * v - lr * g
            theta = theta + v
            state[i] = (theta, v)
            out[...] = theta + alpha * v

    return step


def book_adagrad(lr, delta=1e-7, wd=0.0):  # Alg. 8.4
    def step(params, grads, state, t):
        for i, (theta, g) in enumerate(zip(params, grads)):
            g = g + wd * theta
            r = state.get(i, np.zeros_like(theta)) + g * g
            theta += -lr / (delta + np.sqrt(r)) * g
            state[i] = r

    return step


def book_rmsprop(lr, rho, delta=1e-6, wd=0.0):  # Alg. 8.5
    def step(params, grads, state, t):
        for i, (theta, g) in enumerate(zip(params, grads)):
            g = g + wd * theta
            r = rho * state.get(i, np.zeros_like(theta)) + (1 - rho) * g * g
            theta += -lr / np.sqrt(delta + r) * g
            state[i] = r

    return step


def book_rmsprop_nesterov(lr, rho, alpha, delta=0.0, wd=0.0):  # Alg. 8.6
    def step(params, grads, state, t):
        for i, (out, g) in enumerate(zip(params, grads)):
            zero = np.zeros_like(out)
            theta, v, r = state.get(i, (out.copy(), zero, zero))
            theta_tilde = theta + alpha * v
            np.testing.assert_allclose(theta_tilde, out, rtol=1e-9, atol=1e-12)
            g = g + wd * theta_tilde
            r = rho * r + (1 - rho) * g * g
            v = alpha * v - lr / np.sqrt(delta + r) * g
            theta = theta + v
            state[i] = (theta, v, r)
            out[...] = theta + alpha * v

    return step


def book_adam(lr, rho1=0.9, rho2=0.999, delta=1e-8, wd=0.0):  # Alg. 8.7
    def step(params, grads, state, t):
        for i, (theta, g) in enumerate(zip(params, grads)):
            g = g + wd * theta
            s, r = state.get(i, (np.zeros_like(theta), np.zeros_like(theta)))
            s = rho1 * s + (1 - rho1) * g
            r = rho2 * r + (1 - rho2) * g * g
            s_hat = s / (1 - rho1**t)
            r_hat = r / (1 - rho2**t)
            theta += -lr * s_hat / (np.sqrt(r_hat) + delta)
            state[i] = (s, r)

    return step


BOOK_CASES = [
    # (id, make optimizer, reference)
    ("8.1", lambda ps: TextbookSGD(ps, lr=0.05), book_sgd(0.05)),
    ("8.1-wd", lambda ps: TextbookSGD(ps, lr=0.05, weight_decay=0.1), book_sgd(0.05, 0.1)),
    ("8.2", lambda ps: TextbookMomentum(ps, lr=0.01), book_momentum(0.01, 0.9)),
    (
        "8.2-wd",
        lambda ps: TextbookMomentum(ps, lr=0.03, momentum=0.5, weight_decay=0.2),
        book_momentum(0.03, 0.5, 0.2),
    ),
    ("8.3", lambda ps: TextbookNesterov(ps, lr=0.01), book_nesterov(0.01, 0.9)),
    (
        "8.3-wd",
        lambda ps: TextbookNesterov(ps, lr=0.02, momentum=0.7, weight_decay=0.1),
        book_nesterov(0.02, 0.7, 0.1),
    ),
    ("8.4", lambda ps: TextbookAdaGrad(ps, lr=0.1), book_adagrad(0.1)),
    (
        "8.4-delta",
        lambda ps: TextbookAdaGrad(ps, lr=0.3, eps=0.5, weight_decay=0.05),
        book_adagrad(0.3, 0.5, 0.05),
    ),
    ("8.5", lambda ps: TextbookRMSProp(ps, lr=0.01), book_rmsprop(0.01, 0.9)),
    (
        "8.5-delta",
        lambda ps: TextbookRMSProp(ps, lr=0.01, rho=0.5, eps=0.3, weight_decay=0.1),
        book_rmsprop(0.01, 0.5, 0.3, 0.1),
    ),
    ("8.6", lambda ps: TextbookRMSPropNesterov(ps, lr=0.01), book_rmsprop_nesterov(0.01, 0.9, 0.9)),
    (
        "8.6-delta",
        lambda ps: TextbookRMSPropNesterov(
            ps, lr=0.01, rho=0.8, momentum=0.6, eps=0.2, weight_decay=0.1
        ),
        book_rmsprop_nesterov(0.01, 0.8, 0.6, 0.2, 0.1),
    ),
    ("8.7", lambda ps: TextbookAdam(ps, lr=0.01), book_adam(0.01)),
    (
        "8.7-wd",
        lambda ps: TextbookAdam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.1),
        book_adam(0.02, 0.8, 0.99, 1e-3, 0.1),
    ),
]


@pytest.mark.parametrize(
    "make, reference", [c[1:] for c in BOOK_CASES], ids=[c[0] for c in BOOK_CASES]
)
def test_matches_the_book(make, reference):
    result = check_against_reference(make, reference, shapes=((3, 4), (5,), ()))
    assert result.steps == 200


# --------------------------------------------------------------------------- Optax fixtures
@pytest.mark.parametrize("case", fixture_cases(FIXTURE), ids=lambda c: c["name"])
def test_matches_optax(case):
    cls = CLASSES[case["cls"]]
    ours, ref = replay(load_npz(FIXTURE), case, lambda ps: cls(ps, **case["kwargs"]), range(2))
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- the look-ahead point
A = np.array([[50.5, 49.5], [49.5, 50.5]])  # eigenvalues 100 and 1: condition number 100
C = np.array([1.0, -2.0])


def grad_J(x):
    return A @ (x - C)


def J(x):
    return 0.5 * float((x - C) @ A @ (x - C))


@pytest.mark.parametrize("kind", ["8.3", "8.6"])
def test_nesterov_gradient_is_taken_at_the_lookahead_point(kind):
    """The book's loop, literally (θ̃ = θ + αv, g = ∇J(θ̃)), next to ours driven by
    ``step(closure)`` with the gradient at the tensor's value."""
    eps, alpha, rho = 0.01, 0.9, 0.9
    theta, v, r = np.array([3.0, 1.0]), np.zeros(2), np.zeros(2)
    p = Tensor(theta.copy(), requires_grad=True)
    if kind == "8.3":
        opt = TextbookNesterov([p], lr=eps, momentum=alpha)
    else:
        opt = TextbookRMSPropNesterov([p], lr=eps, rho=rho, momentum=alpha)

    def closure():
        p.grad = grad_J(p.data)
        return J(p.data)

    for _ in range(100):
        theta_tilde = theta + alpha * v
        g = grad_J(theta_tilde)
        if kind == "8.3":
            v = alpha * v - eps * g
        else:
            r = rho * r + (1 - rho) * g * g
            v = alpha * v - eps / np.sqrt(r) * g
        theta = theta + v
        loss = opt.step(closure)
        assert loss == pytest.approx(J(theta_tilde), rel=1e-12)
        np.testing.assert_allclose(opt.theta(p), theta, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(p.data, theta + alpha * v, rtol=1e-12, atol=1e-14)
    lookahead = p.data.copy()
    with opt.at_theta():
        np.testing.assert_allclose(p.data, theta, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(p.data, lookahead)


def test_theta_before_any_step_is_the_parameter():
    p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = TextbookNesterov([p])
    np.testing.assert_array_equal(opt.theta(p), p.data)
    with opt.at_theta():
        np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_theta_uses_the_momentum_of_the_stored_lookahead():
    p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = TextbookNesterov([p], lr=0.1, momentum=0.9)
    p.grad = np.array([1.0, -1.0])
    opt.step()
    before = opt.theta(p)
    opt.param_groups[0]["momentum"] = 0.5  # takes effect at the next step
    np.testing.assert_array_equal(opt.theta(p), before)
    np.testing.assert_allclose(before, [0.9, 2.1], rtol=1e-14)


def test_lookahead_state_dict_round_trip():
    shapes = [(3,), (2, 2)]
    grads = gradient_sequence(shapes, 10, seed=3)
    params = [Tensor(x, requires_grad=True) for x in initial_params(shapes)]
    opt = TextbookRMSPropNesterov(params, lr=0.01, eps=1e-8)
    for step in grads[:5]:
        for p, g in zip(params, step):
            p.grad = g.copy()
        opt.step()
    clones = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = TextbookRMSPropNesterov(clones, lr=0.01, eps=1e-8)
    opt2.load_state_dict(opt.state_dict())
    for step in grads[5:]:
        for ps in (params, clones):
            for p, g in zip(ps, step):
                p.grad = g.copy()
        opt.step()
        opt2.step()
    for a, b in zip(params, clones):
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(opt.theta(a), opt2.theta(b))


# --------------------------------------------------------------------------- equivalences
def _run_with_lr_change(make, params0, grads, change_at, factor):
    """Like run_optimizer, multiplying every group's lr by ``factor`` after step change_at."""
    params = [Tensor(np.array(p, copy=True), requires_grad=True) for p in params0]
    opt = make(params)
    out, velocities = [], []
    for t, step in enumerate(grads, start=1):
        if t == change_at + 1:
            for group in opt.param_groups:
                group["lr"] *= factor
        velocities.append([np.copy(opt.state.get(p, {}).get("v", 0.0)) for p in params])
        for p, g in zip(params, step):
            p.grad = g.copy()
        opt.step()
        out.append([p.data.copy() for p in params])
    return out, velocities


@pytest.mark.parametrize("nesterov", [False, True], ids=["8.2", "8.3"])
def test_book_momentum_equals_sgd_momentum_at_constant_lr(nesterov):
    book = TextbookNesterov if nesterov else TextbookMomentum
    grads = gradient_sequence([(3, 4), (5,)], 200)
    params0 = initial_params([(3, 4), (5,)])
    sgd = run_optimizer(
        lambda ps: SGD(ps, lr=0.02, momentum=0.8, nesterov=nesterov), params0, grads
    )
    check_against_reference(
        lambda ps: book(ps, lr=0.02, momentum=0.8), sgd, grads=grads, params0=params0
    )


@pytest.mark.parametrize("nesterov", [False, True], ids=["8.2", "8.3"])
def test_book_momentum_differs_from_sgd_after_an_lr_change(nesterov):
    """After ε₁ → ε₂ the book keeps its velocity; torch rescales its buffer: the first
    changed step differs by exactly (ε₂/ε₁ - 1)·α·v (times α again for Nesterov, which
    also looks ahead by α·v)."""
    book = TextbookNesterov if nesterov else TextbookMomentum
    eps1, factor, alpha, k = 0.02, 0.25, 0.8, 50
    grads = gradient_sequence([(4,)], 60)
    params0 = initial_params([(4,)])
    ours, vs = _run_with_lr_change(
        lambda ps: book(ps, lr=eps1, momentum=alpha), params0, grads, k, factor
    )
    torch_style, _ = _run_with_lr_change(
        lambda ps: SGD(ps, lr=eps1, momentum=alpha, nesterov=nesterov), params0, grads, k, factor
    )
    compare_trajectories(ours[:k], torch_style[:k])
    expected = (factor - 1) * alpha * vs[k][0] * (alpha if nesterov else 1.0)
    np.testing.assert_allclose(torch_style[k][0] - ours[k][0], expected, rtol=1e-8)
    assert np.abs(expected).max() > 1e-3
    with pytest.raises(AssertionError):
        compare_trajectories(ours, torch_style)


def test_book_sgd_equals_sgd():
    grads = gradient_sequence([(3, 4), (5,)], 50)
    params0 = initial_params([(3, 4), (5,)])
    ref = run_optimizer(lambda ps: SGD(ps, lr=0.1, weight_decay=0.01), params0, grads)
    check_against_reference(
        lambda ps: TextbookSGD(ps, lr=0.1, weight_decay=0.01), ref, grads=grads, params0=params0
    )


def test_book_adam_equals_adam_to_rounding():
    grads = gradient_sequence([(3, 4), (5,)], 200)
    params0 = initial_params([(3, 4), (5,)])
    ref = run_optimizer(lambda ps: Adam(ps, lr=0.01, eps=1e-6, weight_decay=0.1), params0, grads)
    check_against_reference(
        lambda ps: TextbookAdam(ps, lr=0.01, eps=1e-6, weight_decay=0.1),
        ref,
        grads=grads,
        params0=params0,
    )


@pytest.mark.torch
def test_book_adagrad_is_torch_adagrad_with_its_delta():
    torch = pytest.importorskip("torch")
    grads = gradient_sequence([(3, 4), (5,)], 200)
    params0 = initial_params([(3, 4), (5,)])
    ref = run_torch(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-7), params0, grads)
    check_against_reference(
        lambda ps: TextbookAdaGrad(ps, lr=0.1), ref, grads=grads, params0=params0
    )
    # torch's own default δ (1e-10) is a different optimizer, measurably so on small gradients
    small = [[g * 1e-6 for g in step] for step in grads]
    ref = run_torch(lambda ps: torch.optim.Adagrad(ps, lr=0.1), params0, small)
    with pytest.raises(AssertionError):
        check_against_reference(
            lambda ps: TextbookAdaGrad(ps, lr=0.1), ref, grads=small, params0=params0
        )


@pytest.mark.torch
def test_book_rmsprop_delta_is_inside_the_root_torch_puts_it_outside():
    torch = pytest.importorskip("torch")
    grads = gradient_sequence([(3, 4), (5,)], 200, scale=1e-3)
    params0 = initial_params([(3, 4), (5,)])
    same = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=0.0), params0, grads
    )
    check_against_reference(
        lambda ps: TextbookRMSProp(ps, lr=0.01, rho=0.9, eps=0.0),
        same,
        grads=grads,
        params0=params0,
    )
    other = run_torch(
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6), params0, grads
    )
    with pytest.raises(AssertionError):
        check_against_reference(
            lambda ps: TextbookRMSProp(ps, lr=0.01, rho=0.9, eps=1e-6),
            other,
            grads=grads,
            params0=params0,
        )


# --------------------------------------------------------------------------- convergence
CONVERGENCE = [
    (TextbookSGD, dict(lr=0.015), 600, 1e-6),
    (TextbookMomentum, dict(lr=0.01, momentum=0.8), 200, 1e-6),
    (TextbookNesterov, dict(lr=0.01, momentum=0.8), 200, 1e-6),
    (TextbookAdaGrad, dict(lr=3.0), 600, 1e-6),
    (TextbookRMSProp, dict(lr=0.01), 600, 1e-4),
    (TextbookRMSPropNesterov, dict(lr=0.002, momentum=0.8), 600, 1e-5),
    (TextbookAdam, dict(lr=0.1, betas=(0.9, 0.99)), 600, 1e-6),
]


@pytest.mark.parametrize(
    "cls, hp, steps, tol", CONVERGENCE, ids=[c[0].__name__ for c in CONVERGENCE]
)
def test_converges_on_an_ill_conditioned_quadratic(cls, hp, steps, tol):
    p = Tensor(np.array([3.0, 1.0]), requires_grad=True)
    opt = cls([p], **hp)
    j0 = J(p.data)
    for _ in range(steps):
        p.grad = grad_J(p.data)
        opt.step()
    final = opt.theta(p) if hasattr(opt, "theta") else p.data
    assert J(final) < tol * j0


def test_momentum_beats_plain_sgd_on_the_ill_conditioned_quadratic():
    def steps_to(cls, **hp):
        p = Tensor(np.array([3.0, 1.0]), requires_grad=True)
        opt = cls([p], **hp)
        for t in range(1, 5000):
            p.grad = grad_J(p.data)
            opt.step()
            if J(p.data) < 1e-8:
                return t
        return 5000

    plain = steps_to(TextbookSGD, lr=0.0198)  # ≈ the best constant step, 2/(λmax + λmin)
    assert steps_to(TextbookMomentum, lr=0.01, momentum=0.8) < plain / 3
    assert steps_to(TextbookNesterov, lr=0.01, momentum=0.8) < plain / 3


# --------------------------------------------------------------------------- hypothesis, registry
unit = st.floats(0.0, 1.0, exclude_max=True)
nonneg = st.floats(0.0, 10.0)
VALID = {
    TextbookSGD: st.fixed_dictionaries({"lr": nonneg, "weight_decay": nonneg}),
    TextbookMomentum: st.fixed_dictionaries(
        {"lr": nonneg, "momentum": unit, "weight_decay": nonneg}
    ),
    TextbookNesterov: st.fixed_dictionaries(
        {"lr": nonneg, "momentum": unit, "weight_decay": nonneg}
    ),
    TextbookAdaGrad: st.fixed_dictionaries({"lr": nonneg, "eps": nonneg, "weight_decay": nonneg}),
    TextbookRMSProp: st.fixed_dictionaries(
        {"lr": nonneg, "rho": unit, "eps": nonneg, "weight_decay": nonneg}
    ),
    TextbookRMSPropNesterov: st.fixed_dictionaries(
        {"lr": nonneg, "rho": unit, "momentum": unit, "eps": nonneg, "weight_decay": nonneg}
    ),
    TextbookAdam: st.fixed_dictionaries(
        {"lr": nonneg, "betas": st.tuples(unit, unit), "eps": nonneg, "weight_decay": nonneg}
    ),
}
finite = st.floats(-1e3, 1e3)
values = st.lists(finite, min_size=3, max_size=3)


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_finite_inputs_give_finite_parameters(cls, data):
    assert_finite_steps(cls, data.draw(VALID[cls]), lambda: data.draw(values))


def test_zero_gradients_with_zero_delta_give_a_zero_step():
    for cls in (TextbookAdaGrad, TextbookRMSProp, TextbookRMSPropNesterov, TextbookAdam):
        p = Tensor(np.array([1.0, 2.0]), requires_grad=True)
        opt = cls([p], eps=0.0)
        p.grad = np.array([0.0, 1.0])
        opt.step()
        assert p.data[0] == 1.0 and p.data[1] < 2.0, cls.__name__


INVALID = [
    (TextbookSGD, "lr", -0.1),
    (TextbookMomentum, "momentum", 1.0),
    (TextbookMomentum, "momentum", -0.5),
    (TextbookNesterov, "momentum", 1.5),
    (TextbookNesterov, "weight_decay", -1.0),
    (TextbookAdaGrad, "eps", -1e-7),
    (TextbookRMSProp, "rho", 1.0),
    (TextbookRMSProp, "rho", -0.1),
    (TextbookRMSPropNesterov, "rho", 2.0),
    (TextbookRMSPropNesterov, "momentum", 1.0),
    (TextbookRMSPropNesterov, "eps", float("nan")),
    (TextbookAdam, "betas", (0.9, 1.0)),
    (TextbookAdam, "lr", float("nan")),
]


@pytest.mark.parametrize("cls, name, value", INVALID, ids=lambda x: getattr(x, "__name__", str(x)))
def test_invalid_hyperparameters_raise_naming_the_value(cls, name, value):
    shown = str(value[1] if isinstance(value, tuple) else value)
    with pytest.raises(ValueError, match=re.escape(shown)):
        cls([Tensor(np.zeros(2), requires_grad=True)], **{name: value})


@settings(max_examples=30, deadline=None)
@given(
    momentum=st.floats(1.0, 1e6) | st.floats(max_value=-1e-6, allow_infinity=False),
    rho=st.floats(1.0, 1e6) | st.floats(max_value=-1e-6, allow_infinity=False),
)
def test_out_of_range_momentum_and_rho_raise(momentum, rho):
    p = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape(f"momentum value: {momentum}")):
        TextbookRMSPropNesterov(p, momentum=momentum)
    with pytest.raises(ValueError, match=re.escape(f"rho value: {rho}")):
        TextbookRMSProp(p, rho=rho)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("textbook_sgd", TextbookSGD),
        ("textbook_momentum", TextbookMomentum),
        ("textbook_nesterov", TextbookNesterov),
        ("textbook_adagrad", TextbookAdaGrad),
        ("textbook_rmsprop", TextbookRMSProp),
        ("textbook-rmsprop-nesterov", TextbookRMSPropNesterov),
        ("textbook_adam", TextbookAdam),
    ],
)
def test_registered(name, cls):
    opt = create(name, [Tensor(np.zeros(2), requires_grad=True)], lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=list(CLASSES))
def test_maximize_is_minimizing_the_negated_gradient(cls):
    assert_maximize_negates(cls, dict(lr=0.01), [(4,)], 20)
