"""Gauss-Newton and empirical Fisher products: GGN = Hessian where theory says so, GGN
against torch's Jᵀ H_ℓ J, Fisher against explicit per-sample gradient outer products
(ours and torch's), the output Jacobian products, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from curv_helpers import LOSSES, Affine, forward, make_data, our_loss, param_arrays, tanh_mlp
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, autograd, nn
from tinygrad_opt.curvature import (
    EmpiricalFisherOperator,
    GGNOperator,
    HessianOperator,
    Objective,
    OutputJacobian,
    fisher_vector_product,
    ggn_vector_product,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}


def linear_model(d_in: int, d_out: int, seed: int) -> nn.Module:
    return nn.Sequential(Affine(d_in, d_out, np.random.default_rng(seed)))


@pytest.mark.parametrize("kind", ["mse", "logistic", "xent"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ggn_equals_the_hessian_for_a_model_linear_in_its_parameters(kind, seed):
    """Linear least squares (and logistic / softmax regression): ∇²f = 0, so G = H."""
    model = linear_model(4, 3 if kind != "logistic" else 1, seed)
    X, y = make_data(kind, 9, 4, 3 if kind != "logistic" else 1, seed)
    H = HessianOperator(model, our_loss(kind), (X, y)).to_dense()
    G = GGNOperator(model, our_loss(kind), (X, y)).to_dense()
    np.testing.assert_allclose(G, H, **TOL)
    if kind == "mse":  # the classical Gauss-Newton matrix 2/(N·outputs)·JᵀJ, J = X ⊗ I
        # parameters: weight (3, 4) row-major, then bias (3,); output k uses W[k], b[k]
        J = np.zeros((9 * 3, 15))
        for k in range(3):
            J[k::3, 4 * k : 4 * k + 4] = X
            J[k::3, 12 + k] = 1.0
        np.testing.assert_allclose(G, 2.0 / 27 * J.T @ J, **TOL)


def test_ggn_equals_the_hessian_where_the_residuals_vanish():
    """An MLP whose targets are its own outputs: ∂ℓ/∂f = 0, the second term drops."""
    model = tanh_mlp([3, 4, 2], seed=1, scale=2.0)
    X = np.random.default_rng(0).standard_normal((6, 3))
    y = model(Tensor(X)).data.copy()
    H = HessianOperator(model, our_loss("mse"), (X, y)).to_dense()
    G = GGNOperator(model, our_loss("mse"), (X, y)).to_dense()
    np.testing.assert_allclose(G, H, rtol=1e-10, atol=1e-13)
    # ... and not elsewhere: a tanh network has curvature of its own
    y2 = y + 1.0
    H2 = HessianOperator(model, our_loss("mse"), (X, y2)).to_dense()
    G2 = GGNOperator(model, our_loss("mse"), (X, y2)).to_dense()
    assert np.abs(G2 - H2).max() > 1e-3


def torch_ggn(kind, model, X, y):
    torch = pytest.importorskip("torch")
    from torch.func import jacrev

    arrays = param_arrays(model)
    shapes, sizes = [a.shape for a in arrays], [a.size for a in arrays]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def out_of(flat):
        return forward([p.reshape(s) for p, s in zip(torch.split(flat, sizes), shapes)], Xt)

    flat = torch.from_numpy(np.concatenate([a.ravel() for a in arrays]))
    out = out_of(flat).detach()
    J = jacrev(out_of)(flat).reshape(out.numel(), -1)
    H_l = torch.autograd.functional.hessian(lambda z: LOSSES[kind](z, yt), out)
    H_l = H_l.reshape(out.numel(), out.numel())
    return (J.T @ H_l @ J).numpy(), J.numpy()


@settings(max_examples=20, deadline=None)
@given(
    d_in=st.integers(1, 3),
    hidden=st.integers(1, 4),
    d_out=st.integers(1, 3),
    n=st.integers(1, 6),
    kind=st.sampled_from(sorted(LOSSES)),
    seed=st.integers(0, 2**16),
)
def test_ggn_matches_torch_jt_h_j(d_in, hidden, d_out, n, kind, seed):
    model = tanh_mlp([d_in, hidden, d_out], seed=seed, scale=2.0)
    X, y = make_data(kind, n, d_in, d_out, seed)
    ref, _ = torch_ggn(kind, model, X, y)
    op = GGNOperator(model, our_loss(kind), (X, y))
    np.testing.assert_allclose(op.to_dense(), ref, **TOL)
    v = np.random.default_rng(seed).standard_normal(op.shape[0])
    np.testing.assert_allclose(ggn_vector_product(model, our_loss(kind), (X, y), v), ref @ v, **TOL)
    # positive semidefinite: every loss here is convex in the output
    assert np.linalg.eigvalsh(ref).min() >= -1e-10 * max(1.0, np.abs(ref).max())


def test_output_jacobian_products_match_torch():
    torch = pytest.importorskip("torch")  # noqa: F841
    model = tanh_mlp([3, 4, 2], seed=2, scale=2.0)
    X, y = make_data("mse", 5, 3, 2, 2)
    _, J = torch_ggn("mse", model, X, y)
    jac = OutputJacobian(Objective.from_model(model, our_loss("mse"), (X, y)))
    rng = np.random.default_rng(0)
    v, w = rng.standard_normal(J.shape[1]), rng.standard_normal((5, 2))
    np.testing.assert_allclose(jac.jvp(v), (J @ v).reshape(5, 2), **TOL)
    np.testing.assert_allclose(jac.vjp(w), J.T @ w.ravel(), **TOL)
    with pytest.raises(ValueError, match=r"w has shape \(2, 5\), the output \(5, 2\)"):
        jac.vjp(w.T)


def per_sample_gradients_ours(kind, model, X, y):
    """One backward pass per sample: the loss of that sample alone."""
    rows = []
    for i in range(len(X)):
        loss = our_loss(kind)(model(Tensor(X[i : i + 1])), y[i : i + 1])
        rows.append(
            np.concatenate([g.numpy().ravel() for g in autograd.grad(loss, model.parameters())])
        )
    return np.array(rows)


def per_sample_gradients_torch(kind, model, X, y):
    import torch

    arrays = param_arrays(model)
    rows = []
    for i in range(len(X)):
        ps = [torch.tensor(a, requires_grad=True) for a in arrays]
        loss = LOSSES[kind](
            forward(ps, torch.from_numpy(X[i : i + 1])), torch.from_numpy(y[i : i + 1])
        )
        rows.append(np.concatenate([g.numpy().ravel() for g in torch.autograd.grad(loss, ps)]))
    return np.array(rows)


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("seed", [0, 1])
def test_empirical_fisher_equals_mean_of_per_sample_gradient_outer_products(kind, seed):
    pytest.importorskip("torch")
    model = tanh_mlp([3, 4, 2], seed=seed, scale=2.0)
    X, y = make_data(kind, 7, 3, 2, seed)
    G = per_sample_gradients_torch(kind, model, X, y)
    np.testing.assert_allclose(per_sample_gradients_ours(kind, model, X, y), G, **TOL)
    expected = G.T @ G / len(X)
    op = EmpiricalFisherOperator(model, our_loss(kind), (X, y))
    np.testing.assert_allclose(op.to_dense(), expected, **TOL)
    assert op.num_samples == 7
    assert np.linalg.matrix_rank(op.to_dense(), tol=1e-10) <= 7
    v = np.random.default_rng(seed).standard_normal(op.shape[0])
    np.testing.assert_allclose(
        fisher_vector_product(model, our_loss(kind), (X, y), v), expected @ v, **TOL
    )


def test_empirical_fisher_with_a_summed_loss():
    model = tanh_mlp([2, 3, 2], seed=4, scale=2.0)
    X, y = make_data("mse", 5, 2, 2, 4)

    def summed(out, y):  # Σ over samples of the per-sample mean squared error
        return ((out - Tensor(y)) ** 2).mean(-1).sum()

    G = per_sample_gradients_ours("mse", model, X, y)
    op = EmpiricalFisherOperator(model, summed, (X, y), reduction="sum")
    np.testing.assert_allclose(op.to_dense(), G.T @ G / 5, **TOL)
    # the same loss described as a mean is off by N² (r scaled by N instead of 1)
    wrong = EmpiricalFisherOperator(model, summed, (X, y), reduction="mean").to_dense()
    np.testing.assert_allclose(wrong, 25 * G.T @ G / 5, **TOL)


def test_ggn_from_functions():
    A = np.random.default_rng(0).standard_normal((6, 3))
    b = np.random.default_rng(1).standard_normal(6)

    def output_fn(theta):
        return (Tensor(A) @ theta).tanh()

    def loss_fn(z):
        return ((z - Tensor(b)) ** 2).sum() / 2

    theta0 = np.array([0.3, -0.2, 0.5])
    op = GGNOperator.from_functions(output_fn, loss_fn, [theta0])
    J = (1 - np.tanh(A @ theta0) ** 2)[:, None] * A
    np.testing.assert_allclose(op.to_dense(), J.T @ J, **TOL)
    assert op.loss == pytest.approx(0.5 * np.sum((np.tanh(A @ theta0) - b) ** 2))


def test_errors():
    model = tanh_mlp([2, 2, 1], seed=0)
    X, y = make_data("mse", 3, 2, 1, 0)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        EmpiricalFisherOperator(model, our_loss("mse"), (X, y), reduction="none")
    obj = Objective.from_function(lambda a: (a * a).sum(), [np.ones(2)])
    with pytest.raises(TypeError, match="no network output"):
        GGNOperator.from_objective(obj)
    with pytest.raises(TypeError, match="takes no options"):
        GGNOperator.from_objective(obj, reduction="sum")
    fisher = EmpiricalFisherOperator.from_objective(
        Objective.from_model(model, our_loss("mse"), (X, y)), reduction="sum"
    )
    assert fisher.reduction == "sum"
