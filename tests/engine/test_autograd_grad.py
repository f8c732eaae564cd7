"""``autograd.grad``, ``backward(create_graph=True, inputs=...)`` and ``gradgradcheck``:
torch's semantics, checked against torch in float64 (and finite differences)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import Tensor
from tinygrad_opt.autograd import grad
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.gradcheck import GradcheckError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")


def pair(a: np.ndarray, rg: bool = True) -> tuple[Tensor, torch.Tensor]:
    return Tensor(a.copy(), requires_grad=rg), torch.tensor(a.copy(), requires_grad=rg)


def f(x, w):
    """The same composite in both libraries (method names agree)."""
    h = (x @ w).tanh()
    return (h * h).exp().sum() / (1 + (x * x).sum()).sqrt() + (x - 0.3).abs().pow(3).mean()


def assert_close(ours, theirs, tol=1e-11):
    np.testing.assert_allclose(np.asarray(ours.data), theirs.detach().numpy(), rtol=tol, atol=tol)


RNG = np.random.default_rng(0)
A, W = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))


def test_grad_first_second_third_order_match_torch():
    x, tx = pair(A)
    w, tw = pair(W)
    gx, gw = grad(f(x, w), [x, w], create_graph=True)
    tgx, tgw = torch.autograd.grad(f(tx, tw), [tx, tw], create_graph=True)
    assert_close(gx, tgx)
    assert_close(gw, tgw)
    assert gx.requires_grad and not gx.is_leaf
    # second order: d/dx, d/dw of <gx, V>
    V = RNG.standard_normal(A.shape)
    hx, hw = grad((gx * Tensor(V)).sum(), [x, w], create_graph=True)
    thx, thw = torch.autograd.grad((tgx * torch.tensor(V)).sum(), [tx, tw], create_graph=True)
    assert_close(hx, thx)
    assert_close(hw, thw)
    # third order
    (kx,) = grad((hx * hx).sum(), [x])
    (tkx,) = torch.autograd.grad((thx * thx).sum(), [tx])
    assert_close(kx, tkx, 1e-10)
    assert not kx.requires_grad  # without create_graph the result is detached


def test_grad_without_create_graph_is_detached_and_leaves_grad_alone():
    x, tx = pair(A)
    w, _ = pair(W)
    (gx,) = grad(f(x, w), x)
    assert not gx.requires_grad and x.grad is None and w.grad is None
    (tgx,) = torch.autograd.grad(f(tx, torch.tensor(W)), tx)
    assert_close(gx, tgx)


def test_backward_create_graph_makes_grad_a_differentiable_tensor():
    x, tx = pair(A)
    f(x, Tensor(W)).backward(create_graph=True)
    f(tx, torch.tensor(W)).backward(create_graph=True)
    assert isinstance(x.grad, Tensor) and x.grad.requires_grad
    assert_close(x.grad, tx.grad)
    # differentiate the stored gradient: Hessian-vector product with V
    V = RNG.standard_normal(A.shape)
    (hv,) = grad((x.grad * Tensor(V)).sum(), x)
    (thv,) = torch.autograd.grad((tx.grad * torch.tensor(V)).sum(), tx)
    assert_close(hv, thv)


def test_backward_create_graph_accumulates_out_of_place():
    x, tx = pair(A)
    f(x, Tensor(W)).backward()  # a plain numpy .grad first
    f(x, Tensor(W)).backward(create_graph=True)
    f(tx, torch.tensor(W)).backward()
    f(tx, torch.tensor(W)).backward(create_graph=True)
    assert isinstance(x.grad, Tensor)
    assert_close(x.grad, tx.grad)
    (h,) = grad(x.grad.sum(), x)
    (th,) = torch.autograd.grad(tx.grad.sum(), tx)
    assert_close(h, th)


def test_backward_inputs_restricts_accumulation():
    x, tx = pair(A)
    w, tw = pair(W)
    y = f(x, w)
    y.backward(inputs=[w])
    ty = f(tx, tw)
    ty.backward(inputs=[tw])
    assert x.grad is None and tx.grad is None
    assert_close(Tensor(w.grad), tw.grad)


def test_backward_inputs_may_be_a_non_leaf():
    x, tx = pair(A)
    h = x.tanh()
    th = tx.tanh()
    (h * h).sum().backward(inputs=[h])
    th.retain_grad()
    (th * th).sum().backward(inputs=[th])
    assert x.grad is None
    assert_close(Tensor(h.grad), th.grad)


def test_grad_with_respect_to_an_intermediate_and_its_ancestor():
    x, tx = pair(A)
    h, th = x.tanh(), tx.tanh()
    y, ty = (h * x).sum(), (th * tx).sum()
    gh, gx = grad(y, [h, x])
    tgh, tgx = torch.autograd.grad(ty, [th, tx])
    assert_close(gh, tgh)
    assert_close(gx, tgx)  # the total derivative, through h too


def test_grad_of_several_outputs_with_grad_outputs():
    x, tx = pair(A)
    outs = [x.exp(), (x * x).sum(1)]
    touts = [tx.exp(), (tx * tx).sum(1)]
    us = [RNG.standard_normal(A.shape), RNG.standard_normal(3)]
    (g,) = grad(outs, x, [Tensor(u) for u in us])
    (tgx,) = torch.autograd.grad(touts, tx, [torch.tensor(u) for u in us])
    assert_close(g, tgx)


def test_grad_of_a_leaf_with_respect_to_itself_is_the_seed():
    x, _ = pair(A)
    u = RNG.standard_normal(A.shape)
    (g,) = grad(x, x, Tensor(u))
    np.testing.assert_array_equal(g.data, u)


def test_grad_outputs_that_require_grad_give_a_gradient_linear_in_them():
    """The double-vjp trick behind jvp: d/du <uᵀJ, v> = J v."""
    x, tx = pair(A)
    u = Tensor(np.zeros(3), requires_grad=True)
    tu = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (g,) = grad((x * x).sum(1).tanh(), x, u, create_graph=True)
    (tg_,) = torch.autograd.grad((tx * tx).sum(1).tanh(), tx, tu, create_graph=True)
    V = RNG.standard_normal(A.shape)
    (jv,) = grad(g, u, Tensor(V))
    (tjv,) = torch.autograd.grad(tg_, tu, torch.tensor(V))
    assert_close(jv, tjv)


def test_unused_inputs():
    x, _ = pair(A)
    z, _ = pair(W)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        grad(y, [x, z])
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None
    gx, gz = grad(y, [x, z], materialize_grads=True)
    np.testing.assert_array_equal(gz.data, np.zeros(W.shape))
    with pytest.raises(ValueError, match="materialize_grads"):
        grad(y, [x, z], allow_unused=False, materialize_grads=True)


def test_grad_errors_name_the_problem():
    x, _ = pair(A)
    c = Tensor(A)
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((c * 2).sum(), c)
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        grad(c.sum(), x)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\]"):
        grad(x * 2, x, Tensor(np.ones(4)))
    with pytest.raises(RuntimeError, match="non-empty inputs"):
        grad((x * 2).sum(), [])
    with pytest.raises(TypeError, match="not a Tensor"):
        grad((x * 2).sum(), [A])


class _WrongSecond(Function):
    """x³ whose recorded backward has a wrong second derivative (uses a constant copy)."""

    def forward(self, a):
        self.a = a
        return a**3

    def backward(self, g):
        return 3 * g * self.a**2

    def vjp(self, g):
        (a,) = self.parents
        return 3 * g * Tensor(a.data) * a  # d/da of this is 3g·a, not 6g·a


class _WrongRecorded(_WrongSecond):
    def vjp(self, g):
        (a,) = self.parents
        return 3.01 * g * a * a


def test_gradgradcheck_passes_on_correct_ops_and_names_the_failure():
    x = Tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    w = Tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda a, b: (a @ b).tanh().exp(), [x, w])
    assert tg.gradgradcheck(lambda a: (a.abs() + 1).log() * a, [x], grad_outputs=[np.ones((2, 3))])
    with pytest.raises(GradcheckError, match=r"gradgradcheck failed .* for input 0"):
        tg.gradgradcheck(lambda a: _WrongSecond.apply(a), [x])
    with pytest.raises(GradcheckError, match="recorded gradient"):
        tg.gradgradcheck(lambda a: _WrongRecorded.apply(a), [x])
    assert tg.gradgradcheck(lambda a: _WrongSecond.apply(a), [x], raise_exception=False) is False


def test_create_graph_on_an_op_without_a_differentiable_backward_says_so():
    class NumpyOnly(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return 2 * g

    x = Tensor(A, requires_grad=True)
    y = NumpyOnly.apply(x).sum()
    y.backward()  # first order is fine
    with pytest.raises(NotImplementedError, match="numpyonly: no differentiable backward"):
        grad(y, x, create_graph=True)
