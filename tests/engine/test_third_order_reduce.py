"""Third derivatives of reductions, scans, sorts, norms and einsum (their ``vjp`` run on
their own ``vjp``): against torch's nested ``autograd.grad`` and against central
differences of our second derivatives.

For ``L = Σ u·f(x)`` with fixed random ``w`` and ``v``, ``S = Σ w·∇ₓL`` and
``T = Σ v·∇ₓS``; the test compares ``∇ₓT`` (a third derivative of ``f``) and ``∇ᵤT``
(a second derivative of ``f``, through the upstream) with torch's, and ``⟨∇ₓT, d⟩``
with ``(T(x + εd) - T(x - εd)) / 2ε``, T computed by our second-order pass.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_opt as tg

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in log")

MASK = np.ones((3, 5))  # row 0: no zero; row 1: one; row 2: two
MASK[1, 2] = 0
MASK[2, [0, 3]] = 0


def _masked(M, x):
    return x * M.tensor(MASK)


# (name, f(M, x), shape of x, data: "real" | "away0" (|x| ≥ 0.5))
OPS = [
    ("prod_dim", lambda M, x: x.prod(1), (3, 4), "away0"),
    ("prod_all", lambda M, x: x.prod(), (2, 3), "away0"),
    ("prod_zeros", lambda M, x: _masked(M, x).prod(1), (3, 5), "away0"),
    ("prod_zeros_dim0_keep", lambda M, x: _masked(M, x).prod(0, keepdim=True), (3, 5), "away0"),
    ("cumprod", lambda M, x: x.cumprod(1), (3, 4), "away0"),
    ("cumprod_zeros", lambda M, x: _masked(M, x).cumprod(1), (3, 5), "away0"),
    ("cumsum_cubed", lambda M, x: x.cumsum(1) ** 3, (3, 4), "real"),
    ("logcumsumexp", lambda M, x: x.logcumsumexp(1), (3, 5), "real"),
    ("softmax", lambda M, x: x.softmax(0), (3, 4), "real"),
    ("log_softmax", lambda M, x: x.log_softmax(1), (3, 4), "real"),
    ("logsumexp", lambda M, x: x.logsumexp(1), (3, 4), "real"),
    ("var", lambda M, x: x.var(1), (3, 4), "real"),
    ("std_dim0", lambda M, x: x.std(0), (4, 3), "real"),
    ("std_all", lambda M, x: x.std(), (3, 4), "real"),
    ("nanmean", lambda M, x: (x + 1.5).log().nanmean(1), (4, 5), "real"),
    ("nansum_cubed", lambda M, x: (x + 1.5).log().nansum(0) ** 3, (4, 5), "real"),
    ("norm2", lambda M, x: x.norm(2, 1), (3, 4), "real"),
    ("norm3", lambda M, x: x.norm(3, 1), (3, 4), "away0"),
    ("norm_1_5", lambda M, x: x.norm(1.5, 0), (3, 4), "away0"),
    ("norm_half", lambda M, x: x.norm(0.5, 1), (3, 4), "away0"),
    ("amax_cubed", lambda M, x: x.amax(1) ** 3, (3, 4), "real"),
    ("max_dim_cubed", lambda M, x: x.max(0).values ** 3, (3, 4), "real"),
    ("sort_cubed", lambda M, x: x.sort(1).values ** 3, (3, 4), "real"),
    ("topk_cubed", lambda M, x: x.topk(2).values ** 3, (3, 5), "real"),
    ("cummax_cubed", lambda M, x: x.cummax(1).values ** 3, (3, 5), "real"),
    ("median_cubed", lambda M, x: x.median() ** 3, (3, 5), "real"),
    ("einsum_chain", lambda M, x: M.einsum("ij,kj,kl->il", x, x, x), (3, 3), "real"),
    ("einsum_diagonal", lambda M, x: M.einsum("ii,ij,jk->ik", x, x, x), (3, 3), "real"),
    ("einsum_trace_cubed", lambda M, x: M.einsum("ii", x) ** 3, (3, 3), "real"),
]


# torch's third derivative is nan in places here (its logcumsumexp backward works in log
# space, with log|g|, whose derivative is 0/0 where g has zeros); ours is finite, and
# checked by finite differences
TORCH_NAN = {"logcumsumexp"}


def _data(name: str, shape: tuple[int, ...], kind: str) -> tuple[np.ndarray, ...]:
    """x (of ``kind``), the weights w and v, and a direction d, all of ``shape``."""
    rng = np.random.default_rng(sum(map(ord, name)))
    x = rng.standard_normal(shape)
    if kind == "away0":
        x = np.sign(x) * (0.5 + np.abs(x))
    w, v, d = (rng.standard_normal(shape) for _ in range(3))
    return x, w, v, d


def _third(lib, f, x, u, w, v, want_grads=True):
    """T and, with ``want_grads``, (∇ₓT, ∇ᵤT), for ``lib`` tinygrad_opt or torch."""
    grad = lib.autograd.grad
    if lib is tg:
        X, U = tg.Tensor(x, requires_grad=True), tg.Tensor(u, requires_grad=True)
    else:
        X, U = lib.tensor(x, requires_grad=True), lib.tensor(u, requires_grad=True)
    out = f(lib, X)
    (g1,) = grad((out * U).sum(), [X], create_graph=True)
    (g2,) = grad((g1 * lib.tensor(w)).sum(), [X], create_graph=want_grads)
    t = (g2 * lib.tensor(v)).sum()
    if not want_grads:
        return float(t.item()), None
    gx, gu = grad(t, [X, U], materialize_grads=True)
    if lib is tg:
        return float(t.item()), (np.asarray(gx.data), np.asarray(gu.data))
    return float(t.item()), (gx.detach().numpy(force=True), gu.detach().numpy(force=True))


@pytest.mark.torch
@pytest.mark.parametrize("name, f, shape, kind", OPS, ids=[o[0] for o in OPS])
def test_third_order_torch(name, f, shape, kind):
    torch = pytest.importorskip("torch")
    x, w, v, _ = _data(name, shape, kind)
    out_shape = np.asarray(f(tg, tg.Tensor(x)).data).shape
    u = np.random.default_rng(7).standard_normal(out_shape)
    t_ours, (gx, gu) = _third(tg, f, x, u, w, v)
    t_torch, (tx, tu) = _third(torch, f, x, u, w, v)
    np.testing.assert_allclose(t_ours, t_torch, rtol=1e-9, atol=1e-10)
    if name in TORCH_NAN:
        assert np.isfinite(gx).all() and np.isnan(tx).any()
        tx = np.where(np.isnan(tx), gx, tx)
    np.testing.assert_allclose(gx, tx, rtol=1e-8, atol=1e-10, err_msg=f"{name}: ∇ₓT")
    np.testing.assert_allclose(gu, tu, rtol=1e-8, atol=1e-10, err_msg=f"{name}: ∇ᵤT")


@pytest.mark.parametrize("name, f, shape, kind", OPS, ids=[o[0] for o in OPS])
def test_third_order_finite_differences(name, f, shape, kind):
    x, w, v, d = _data(name, shape, kind)
    out_shape = np.asarray(f(tg, tg.Tensor(x)).data).shape
    u = np.random.default_rng(7).standard_normal(out_shape)
    du = np.random.default_rng(8).standard_normal(out_shape)
    _, (gx, gu) = _third(tg, f, x, u, w, v)
    analytic = float(np.sum(gx * d) + np.sum(gu * du))
    eps = 1e-5
    plus, _ = _third(tg, f, x + eps * d, u + eps * du, w, v, want_grads=False)
    minus, _ = _third(tg, f, x - eps * d, u - eps * du, w, v, want_grads=False)
    numeric = (plus - minus) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-6 + 1e-5 * abs(numeric), (
        f"{name}: directional third derivative {analytic!r}, finite differences {numeric!r}"
    )
