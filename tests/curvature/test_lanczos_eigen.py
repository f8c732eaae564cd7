"""Lanczos and power iteration: against numpy.linalg.eigvalsh of explicit matrices
(hypothesis-drawn spectra) and of dense Hessians of small MLPs (ours and torch's), k > 1,
every ``which``, negative eigenvalues, eigenvectors, restarts, warnings and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from curv_helpers import make_data, our_loss, tanh_mlp, torch_dense_hessian
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.curvature import (
    HessianOperator,
    MatrixOperator,
    as_operator,
    extreme_eigenvalues,
    hessian_eigenvalues,
    lanczos,
    power_iteration,
    sharpness,
)
from tinygrad_opt.curvature.lanczos import tridiagonal_eigh


def expected(values: np.ndarray, k: int, which: str) -> np.ndarray:
    """The k eigenvalues wanted, in priority order, from all of them."""
    values = np.sort(values)
    if which == "LA":
        return values[::-1][:k]
    if which == "SA":
        return values[:k]
    return values[np.argsort(-np.abs(values), kind="stable")][:k]


def matrix_with_spectrum(values: np.ndarray, seed: int) -> np.ndarray:
    n = len(values)
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return (Q * values) @ Q.T


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    k=st.integers(1, 4),
    which=st.sampled_from(["LA", "SA", "LM"]),
    seed=st.integers(0, 2**16),
)
def test_lanczos_matches_eigvalsh_on_random_symmetric_matrices(n, k, which, seed):
    k = min(k, n)
    A = np.random.default_rng(seed).standard_normal((n, n))
    A = (A + A.T) / 2
    result = lanczos(A, k, which, seed=seed, return_eigenvectors=True)
    want = expected(np.linalg.eigvalsh(A), k, which)
    scale = max(np.abs(want).max(), 1e-300)
    if which == "LM":  # ±λ ties: compare magnitudes
        np.testing.assert_allclose(
            np.abs(result.eigenvalues), np.abs(want), rtol=0, atol=1e-8 * scale
        )
    else:
        np.testing.assert_allclose(result.eigenvalues, want, rtol=0, atol=1e-8 * scale)
    Y = result.eigenvectors
    assert Y.shape == (n, k)
    np.testing.assert_allclose(np.linalg.norm(Y, axis=0), 1.0)
    resid = np.linalg.norm(A @ Y - Y * result.eigenvalues, axis=0)
    assert np.all(resid <= 1e-6 * scale)
    assert result.converged and result.matvecs == result.iterations <= n


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("which", ["LA", "SA", "LM"])
def test_lanczos_on_mlp_hessians_matches_dense_eigvalsh_ours_and_torch(seed, which):
    torch = pytest.importorskip("torch")  # noqa: F841
    kind = ["mse", "logistic", "xent", "mse"][seed]
    model = tanh_mlp([3, 5, 2], seed=seed, scale=2.5)
    X, y = make_data(kind, 8, 3, 2, seed)
    op = HessianOperator(model, our_loss(kind), (X, y))
    dense_ours = op.to_dense()
    dense_torch = torch_dense_hessian(kind, model, X, y)
    np.testing.assert_allclose(dense_ours, dense_torch, rtol=1e-10, atol=1e-12)
    all_values = np.linalg.eigvalsh(dense_torch)
    assert all_values[0] < -1e-6  # indefinite: negative curvature is there to be found
    k = 3
    result = lanczos(op, k, which, seed=seed, tol=1e-10, return_eigenvectors=True)
    want = expected(all_values, k, which)
    np.testing.assert_allclose(result.eigenvalues, want, rtol=1e-9, atol=1e-11)
    # eigenvectors, parameter-shaped
    vecs = result.parameter_eigenvectors
    assert len(vecs) == k and list(vecs[0]) == list(op.layout.names)
    assert [v.shape for v in vecs[0].values()] == list(op.layout.shapes)
    Y = result.eigenvectors
    np.testing.assert_allclose(dense_torch @ Y, Y * result.eigenvalues, atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_iteration_agrees_with_lanczos_on_mlp_hessians(seed):
    model = tanh_mlp([2, 4, 2], seed=seed, scale=2.5)
    X, y = make_data("xent", 10, 2, 2, seed)
    op = HessianOperator(model, our_loss("xent"), (X, y))
    values = np.linalg.eigvalsh(op.to_dense())
    for which in ("LA", "SA"):
        ref = lanczos(op, 2, which, tol=1e-10)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pw = power_iteration(op, 2, which, tol=1e-9, max_iter=20000, seed=seed)
        np.testing.assert_allclose(pw.eigenvalues, ref.eigenvalues, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(ref.eigenvalues, expected(values, 2, which), atol=1e-9)
        assert pw.method == "power" and pw.matvecs > ref.matvecs


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 30),
    k=st.integers(1, 3),
    which=st.sampled_from(["LA", "SA", "LM"]),
    seed=st.integers(0, 2**16),
)
def test_power_iteration_with_separated_spectrum(n, k, which, seed):
    """Spectra with a clear gap after the k wanted values (power iteration's need)."""
    rng = np.random.default_rng(seed)
    top = np.array([9.0, -7.0, 5.0])[:k] if which == "LM" else np.array([9.0, 7.0, 5.0])[:k]
    rest = rng.uniform(-2.0, 2.0, n - k)
    values = np.concatenate([top if which != "SA" else -top, rest])
    A = matrix_with_spectrum(values, seed)
    result = power_iteration(A, k, which, tol=1e-10, seed=seed, return_eigenvectors=True)
    np.testing.assert_allclose(result.eigenvalues, expected(values, k, which), atol=1e-8)
    Y = result.eigenvectors
    np.testing.assert_allclose(A @ Y, Y * result.eigenvalues, atol=1e-7)
    assert result.converged


def test_power_iteration_keeps_k_vectors_and_finds_the_top_of_an_indefinite_matrix():
    # largest magnitude is negative: "LA" must still return the largest algebraic
    values = np.array([-10.0, 4.0, 3.0, 1.0, 0.5])
    A = matrix_with_spectrum(values, 0)
    np.testing.assert_allclose(power_iteration(A, 1, "LA").eigenvalues, [4.0], atol=1e-7)
    np.testing.assert_allclose(power_iteration(A, 2, "LA").eigenvalues, [4.0, 3.0], atol=1e-7)
    np.testing.assert_allclose(power_iteration(A, 1, "SA").eigenvalues, [-10.0], atol=1e-7)
    np.testing.assert_allclose(power_iteration(A, 2, "SA").eigenvalues, [-10.0, 0.5], atol=1e-7)
    np.testing.assert_allclose(power_iteration(A, 2, "LM").eigenvalues, [-10.0, 4.0], atol=1e-7)


def test_lanczos_restarts_at_invariant_subspaces_and_finds_repeated_eigenvalues():
    values = np.concatenate([[5.0, 5.0, 3.0], np.zeros(57)])
    A = matrix_with_spectrum(values, 1)
    result = lanczos(A, 3, "LA")
    np.testing.assert_allclose(result.eigenvalues, [5.0, 5.0, 3.0], atol=1e-12)
    assert result.converged and result.iterations < 10
    zero = lanczos(np.zeros((6, 6)), 2, "SA", return_eigenvectors=True)
    np.testing.assert_array_equal(zero.eigenvalues, [0.0, 0.0])
    np.testing.assert_allclose(zero.eigenvectors.T @ zero.eigenvectors, np.eye(2), atol=1e-12)


def test_lanczos_warns_when_max_iter_is_too_small_and_reports_it():
    A = np.diag(np.linspace(1.0, 2.0, 200))
    with pytest.warns(RuntimeWarning, match=r"lanczos: 1 eigenvalue\(s\) \(LA\) not converged"):
        result = lanczos(A, 1, "LA", max_iter=3)
    assert not result.converged and result.iterations == 3 and result.matvecs == 3
    with pytest.warns(RuntimeWarning, match="power_iteration: not converged"):
        assert not power_iteration(A, 1, max_iter=3).converged


def test_seed_and_start_vector_make_runs_reproducible():
    A = matrix_with_spectrum(np.linspace(-3.0, 4.0, 50), 2)
    a = lanczos(A, 2, tol=1e-3, seed=7)
    b = lanczos(A, 2, tol=1e-3, seed=7)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    v0 = np.ones(50)
    np.testing.assert_array_equal(
        lanczos(A, 2, tol=1e-3, v0=v0, seed=1).eigenvalues,
        lanczos(A, 2, tol=1e-3, v0=v0, seed=2).eigenvalues,
    )


def test_tridiagonal_eigh_matches_dense():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(6), rng.standard_normal(5)
    T = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    np.testing.assert_allclose(tridiagonal_eigh(a, b)[0], np.linalg.eigvalsh(T), atol=1e-13)


def test_model_level_entry_points_and_operator_wrapping():
    model = tanh_mlp([2, 3, 1], seed=4, scale=2.0)
    X, y = make_data("logistic", 7, 2, 1, 4)
    dense = HessianOperator(model, our_loss("logistic"), (X, y)).to_dense()
    values = np.linalg.eigvalsh(dense)
    res = hessian_eigenvalues(model, our_loss("logistic"), (X, y), k=2, which="SA", tol=1e-10)
    np.testing.assert_allclose(res.eigenvalues, values[:2], atol=1e-10)
    assert sharpness(model, our_loss("logistic"), (X, y)) == pytest.approx(values[-1], abs=1e-9)
    s_pow = sharpness(model, our_loss("logistic"), (X, y), method="power", max_iter=5000)
    assert s_pow == pytest.approx(values[-1], rel=1e-6)

    class Wrapped:  # anything with shape and matvec, e.g. a SciPy LinearOperator
        shape = dense.shape

        def matvec(self, v):
            return dense @ v

    res = extreme_eigenvalues(Wrapped(), 1, "LM", method="power", max_iter=5000)
    np.testing.assert_allclose(res.eigenvalues, expected(values, 1, "LM"), rtol=1e-7)
    assert isinstance(as_operator(dense), MatrixOperator)
    with pytest.raises(ValueError, match="method must be one of"):
        extreme_eigenvalues(dense, method="arnoldi")


def test_errors():
    A = np.eye(4)
    with pytest.raises(ValueError, match="k must be an integer between 1 and n = 4"):
        lanczos(A, 5)
    with pytest.raises(ValueError, match="k must be an integer between 1 and n = 4"):
        power_iteration(A, 0)
    with pytest.raises(ValueError, match="which must be one of LA, SA, LM"):
        lanczos(A, 1, "BE")
    with pytest.raises(ValueError, match="tol must be positive"):
        lanczos(A, 1, tol=0)
    with pytest.raises(ValueError, match="max_iter must be at least k = 2"):
        lanczos(A, 2, max_iter=1)
    with pytest.raises(ValueError, match="v0 must be a nonzero finite vector"):
        lanczos(A, 1, v0=np.zeros(4))
    with pytest.raises(ValueError, match="v0 must have 4 entries"):
        lanczos(A, 1, v0=np.ones(3))
    with pytest.raises(ValueError, match="square matrix"):
        as_operator(np.ones((2, 3)))
    with pytest.raises(TypeError, match="expected a curvature operator"):
        lanczos("not an operator")
    res = lanczos(A, 1)
    with pytest.raises(ValueError, match="return_eigenvectors=True"):
        _ = res.parameter_eigenvectors
