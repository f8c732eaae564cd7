"""Hutchinson's trace and diagonal estimates.

Statistical tolerances: with a fixed seed each test is deterministic; the bounds are set
so that a correct estimator would fail them with small probability for a random seed —
|estimate − exact| ≤ 4 standard errors (two-sided normal tail 6·10⁻⁵), and sample
variances within 25% of the theoretical one for 4000 probes (the relative standard
deviation of a variance estimate there is ≈ √(2/4000)·(kurtosis factor) ≈ 5%).
"""

from __future__ import annotations

import numpy as np
import pytest
from curv_helpers import make_data, our_loss, tanh_mlp

from tinygrad_opt.curvature import (
    GGNOperator,
    HessianOperator,
    hutchinson_diagonal,
    hutchinson_trace,
)


def random_symmetric(n: int, seed: int) -> np.ndarray:
    A = np.random.default_rng(seed).standard_normal((n, n))
    return A + A.T + n * np.eye(n)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trace_of_an_mlp_hessian_within_four_standard_errors(seed):
    model = tanh_mlp([3, 6, 2], seed=seed, scale=2.0)
    X, y = make_data("xent", 12, 3, 2, seed)
    op = HessianOperator(model, our_loss("xent"), (X, y))
    exact = np.trace(op.to_dense())
    op.calls = 0
    est = hutchinson_trace(op, 300, seed=seed)
    assert est.num_samples == 300 and op.calls == 300
    assert abs(est.trace - exact) <= 4 * est.stderr
    assert est.stderr > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_diagonal_of_a_ggn_within_its_standard_errors(seed):
    model = tanh_mlp([2, 5, 3], seed=seed, scale=1.5)
    X, y = make_data("mse", 10, 2, 3, seed)
    op = GGNOperator(model, our_loss("mse"), (X, y))
    exact = np.diag(op.to_dense())
    est = hutchinson_trace(op, 400, seed=seed, diagonal=True)
    z = (est.diagonal - exact) / np.where(est.diagonal_stderr > 0, est.diagonal_stderr, np.inf)
    # each z is approximately standard normal: few beyond 3, none beyond 5
    assert np.mean(np.abs(z) > 3) <= 0.05 and np.all(np.abs(z) <= 5)
    shaped = est.parameter_diagonal
    assert list(shaped) == list(op.layout.names)
    np.testing.assert_array_equal(shaped["2.bias"], est.diagonal[op.layout.slices[3]])
    np.testing.assert_array_equal(hutchinson_diagonal(op, 400, seed=seed), est.diagonal)


def test_rademacher_probes_are_exact_on_a_diagonal_matrix():
    d = np.random.default_rng(0).standard_normal(12)
    est = hutchinson_trace(np.diag(d), 5, diagonal=True)
    assert est.trace == pytest.approx(d.sum(), abs=1e-14) and est.stderr == 0.0
    np.testing.assert_allclose(est.diagonal, d, atol=1e-15)
    np.testing.assert_array_equal(est.diagonal_stderr, 0.0)


@pytest.mark.parametrize("distribution", ["rademacher", "normal"])
def test_sample_variance_matches_theory(distribution):
    A = random_symmetric(8, 3)
    est = hutchinson_trace(A, 4000, seed=5, distribution=distribution)
    off = np.sum(A**2) - np.sum(np.diag(A) ** 2)
    # Var(zᵀAz) = 2 Σ_{i≠j} A_ij² (Rademacher), 2‖A‖_F² (Gaussian)
    theory = 2 * off if distribution == "rademacher" else 2 * np.sum(A**2)
    assert est.samples.var(ddof=1) == pytest.approx(theory, rel=0.25)
    assert est.stderr == pytest.approx(np.sqrt(est.samples.var(ddof=1) / 4000))
    assert abs(est.trace - np.trace(A)) <= 4 * est.stderr


def test_rtol_stops_early():
    A = random_symmetric(20, 0)
    est = hutchinson_trace(A, 10_000, seed=0, rtol=0.01)
    assert 10 <= est.num_samples < 10_000
    assert est.stderr <= 0.01 * abs(est.trace)
    short = hutchinson_trace(A, 1)
    assert np.isnan(short.stderr) and short.num_samples == 1


def test_errors():
    A = np.eye(3)
    with pytest.raises(ValueError, match="distribution must be one of"):
        hutchinson_trace(A, 10, distribution="uniform")
    with pytest.raises(ValueError, match="num_samples must be a positive integer"):
        hutchinson_trace(A, 0)
    with pytest.raises(ValueError, match="diagonal=True"):
        _ = hutchinson_trace(A, 3).parameter_diagonal
