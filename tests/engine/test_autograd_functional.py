"""``tinygrad_opt.autograd.functional`` against ``torch.autograd.functional`` (float64):
values, return structure (tensor vs tuple, nesting), create_graph and strict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor
from tinygrad_opt.autograd import functional as F
from tinygrad_opt.autograd import grad

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(1)
X, Y = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
W = RNG.standard_normal((3, 3))


def scalar1(x):
    return ((x * x).sum(-1) + 1).pow(1.5).sum() + (x @ _w(x)).tanh().exp().mean()


def scalar2(x, y):
    return ((x * y).tanh() ** 2).sum() + (y * y * y).sum() * x.exp().sum()


def vector1(x):
    return (x @ _w(x)).tanh() * x


def vector2(x, y):
    return (x * y).exp(), (y * y).sum() * x


def _w(x):
    return Tensor(W) if isinstance(x, Tensor) else torch.tensor(W)


def ours_in(*arrays):
    return tuple(Tensor(a.copy()) for a in arrays)


def torch_in(*arrays):
    return tuple(torch.tensor(a.copy()) for a in arrays)


def same(ours, theirs, tol=1e-11):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b, tol)
        return
    assert isinstance(ours, Tensor), type(ours)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=tol, atol=tol)


def unpack(t):
    return t[0] if len(t) == 1 else t


@pytest.mark.parametrize(
    "fn, arrays", [(vector1, (X,)), (vector2, (X, Y)), (scalar1, (X,)), (scalar2, (X, Y))]
)
def test_vjp_jvp_jacobian(fn, arrays):
    outs = fn(*torch_in(*arrays))
    outs_t = outs if isinstance(outs, tuple) else (outs,)
    vs = [RNG.standard_normal(tuple(o.shape)) for o in outs_t]
    v_out = unpack(tuple(vs))
    same(
        F.vjp(fn, unpack(ours_in(*arrays)), _ours(v_out)),
        TF.vjp(fn, unpack(torch_in(*arrays)), _theirs(v_out)),
    )
    v_in = unpack(tuple(RNG.standard_normal(a.shape) for a in arrays))
    same(
        F.jvp(fn, unpack(ours_in(*arrays)), _ours(v_in)),
        TF.jvp(fn, unpack(torch_in(*arrays)), _theirs(v_in)),
    )
    for strategy in ("reverse-mode", "forward-mode"):
        same(
            F.jacobian(fn, unpack(ours_in(*arrays)), strategy=strategy),
            TF.jacobian(fn, unpack(torch_in(*arrays)), strategy=strategy, vectorize=True),
        )


@pytest.mark.parametrize("fn, arrays", [(scalar1, (X,)), (scalar2, (X, Y))])
def test_hvp_vhp_hessian(fn, arrays):
    v = unpack(tuple(RNG.standard_normal(a.shape) for a in arrays))
    same(
        F.hvp(fn, unpack(ours_in(*arrays)), _ours(v)),
        TF.hvp(fn, unpack(torch_in(*arrays)), _theirs(v)),
    )
    same(
        F.vhp(fn, unpack(ours_in(*arrays)), _ours(v)),
        TF.vhp(fn, unpack(torch_in(*arrays)), _theirs(v)),
    )
    for strategy in ("reverse-mode", "forward-mode"):
        same(
            F.hessian(fn, unpack(ours_in(*arrays)), outer_jacobian_strategy=strategy),
            TF.hessian(
                fn, unpack(torch_in(*arrays)), outer_jacobian_strategy=strategy, vectorize=True
            ),
        )


def _ours(v):
    return tuple(Tensor(a) for a in v) if isinstance(v, tuple) else Tensor(v)


def _theirs(v):
    return tuple(torch.tensor(a) for a in v) if isinstance(v, tuple) else torch.tensor(v)


def test_create_graph_results_can_be_differentiated_again():
    x = Tensor(X.copy(), requires_grad=True)
    tx = torch.tensor(X.copy(), requires_grad=True)
    v = RNG.standard_normal(X.shape)
    _, hv = F.hvp(scalar1, x, Tensor(v), create_graph=True)
    _, thv = TF.hvp(scalar1, tx, torch.tensor(v), create_graph=True)
    assert hv.requires_grad
    (d,) = grad((hv * hv).sum(), x)
    (td,) = torch.autograd.grad((thv * thv).sum(), tx)
    same(d, td, 1e-10)
    h = F.hessian(scalar1, x, create_graph=True)
    th = TF.hessian(scalar1, tx, create_graph=True)
    (d,) = grad(h.sum(), x)
    (td,) = torch.autograd.grad(th.sum(), tx)
    same(d, td, 1e-10)


def test_results_are_detached_without_create_graph():
    x = Tensor(X.copy(), requires_grad=True)
    out, hv = F.hvp(scalar1, x, Tensor(np.ones(X.shape)))
    assert not out.requires_grad and not hv.requires_grad
    assert x.grad is None


def test_v_may_be_omitted_only_for_single_element_tensors():
    out, g = F.vjp(scalar1, Tensor(X))
    _, tgr = TF.vjp(scalar1, torch.tensor(X))
    same(g, tgr)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(vector1, Tensor(X))
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.hvp(scalar1, Tensor(X))
    with pytest.raises(RuntimeError, match="shape"):
        F.hvp(scalar1, Tensor(X), Tensor(np.ones(3)))


def test_independent_outputs_give_zeros_or_errors_in_strict_mode():
    def const_in_y(x, y):
        return (x * x).sum()

    h = F.hessian(const_in_y, ours_in(X, Y))
    th = TF.hessian(const_in_y, torch_in(X, Y))
    same(h, th)
    with pytest.raises(RuntimeError, match="strict"):
        F.hessian(const_in_y, ours_in(X, Y), strict=True)
    with pytest.raises(RuntimeError, match="strict"):
        F.vjp(lambda x: Tensor(np.ones(2)), Tensor(X), Tensor(np.ones(2)), strict=True)
    _, z = F.vjp(lambda x: Tensor(np.ones(2)), Tensor(X), Tensor(np.ones(2)))
    np.testing.assert_array_equal(z.data, np.zeros(X.shape))


def test_bad_arguments():
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.vjp(scalar1, X)
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        F.hessian(vector1, Tensor(X))
    with pytest.raises(ValueError, match="strategy"):
        F.jacobian(vector1, Tensor(X), strategy="sideways")


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 4),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    power=st.sampled_from([2.0, 3.0, 1.5]),
)
def test_hessian_of_drawn_quartic_models(n, m, seed, power):
    """Hessian of ½‖tanh(xA)‖² + Σ|x|^p-like terms for drawn sizes (A fixed per draw)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, m))
    x0 = rng.standard_normal(n) + 0.1

    def fn(x):
        a = Tensor(A) if isinstance(x, Tensor) else torch.tensor(A)
        return 0.5 * ((x @ a).tanh() ** 2).sum() + ((x * x + 1) ** (power / 2)).sum()

    same(F.hessian(fn, Tensor(x0)), TF.hessian(fn, torch.tensor(x0)), 1e-10)
