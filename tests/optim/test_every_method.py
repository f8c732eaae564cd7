"""The contract every registered method keeps, whatever its family.

Each test runs over ``optim.available()``: a new method registers and is covered. The
per-family files compare the numbers with the references; these check the machinery
around them, on two matrices (which every method takes, Muon included): exact resume
through ``state_dict``, ``maximize`` as descent on -g, float32 kept float32, the memory
count, and the playground.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from tinygrad_opt import optim, playground
from tinygrad_opt.optim.memory import measure
from tinygrad_opt.tensor import Tensor

NAMES = optim.available()
SHAPES = ((6, 4), (3, 5))


def _grads(steps, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _params(dtype=np.float64):
    rng = np.random.default_rng(1)
    return [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _make(name, params, **hp):
    opt = optim.create(name, params, **hp)
    if callable(getattr(opt, "train", None)):
        opt.train()
    return opt


def _step(opt, params, grads):
    def closure():
        """The loss Σ⟨θ, g⟩, whose gradient is g (closure methods re-evaluate it; Sophia-H
        differentiates it twice, so it is a Tensor with its graph)."""
        for p in params:
            p.grad = None
        loss = sum((p * Tensor(g)).sum() for p, g in zip(params, grads))
        loss.backward()
        return loss

    if getattr(opt, "needs_closure", False):
        opt.step(closure)
    else:
        for p, g in zip(params, grads):
            p.grad = g.copy()
        opt.step()


def _run(name, grads, params=None, opt=None, **hp):
    params = params if params is not None else _params()
    opt = opt if opt is not None else _make(name, params, **hp)
    for g in grads:
        _step(opt, params, g)
    return params, opt


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resumes_bit_for_bit(name):
    grads = _grads(12)
    whole, _ = _run(name, grads)
    params, opt = _run(name, grads[:6])
    saved = opt.state_dict()
    fresh = _make(name, params)
    fresh.load_state_dict(saved)
    resumed, _ = _run(name, grads[6:], params=params, opt=fresh)
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize(
    "name", [n for n in NAMES if "maximize" in inspect.signature(optim.lookup(n)[0]).parameters]
)
def test_maximize_is_descent_on_the_negated_gradient(name):
    grads = _grads(8)
    up, _ = _run(name, grads, maximize=True)
    down, _ = _run(name, [[-g for g in gs] for gs in grads])
    for a, b in zip(up, down):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32_and_finite(name):
    params = _params(np.float32)
    params, opt = _run(name, _grads(5, dtype=np.float32), params=params)
    for p in params:
        assert p.data.dtype == np.float32 and np.isfinite(p.data).all()
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray) and value.size > 1:
                assert value.dtype == np.float32, (key, value.dtype)


@pytest.mark.parametrize("name", NAMES)
def test_memory_is_measured(name):
    row = measure(name, shapes=SHAPES)
    assert row.state_bytes >= 0 and math.isfinite(row.per_parameter)


@pytest.mark.parametrize("name", NAMES)
def test_playground_runs_it_or_says_why_not(name):
    try:
        run = playground.run("quadratic", [name], steps=20)
    except ValueError as err:  # a method that cannot take a 2-vector says so
        assert "2-D" in str(err) or "matri" in str(err), err
        return
    points = run.trajectories[name].points
    assert points.shape == (21, 2)
