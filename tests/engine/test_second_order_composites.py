"""Second derivatives of hypothesis-drawn composite functions, against torch (float64).

A drawn *program* is a list of steps over a pool of (n, m) tensors that starts with the
inputs x and y: each step applies a unary, binary, reducing-and-broadcasting or
reshaping op to pool members and appends the result. The same program is built in both
libraries (the op names agree); the last value, weighted and summed, is the scalar f.
Checked: ∇f, the Hessian-vector products H·v with respect to both inputs (the
cross-terms ∂²f/∂x∂y included) and a third-order directional derivative.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import Tensor

torch = pytest.importorskip("torch")


def lib_of(t):
    return tg if isinstance(t, Tensor) else torch


# Each op maps pool tensors of shape (n, m) to one of shape (n, m); inputs are kept in
# the domains where the op is smooth (log, sqrt and division see positive arguments).
UNARY = {
    "sin": lambda a: a.sin(),
    "cos": lambda a: a.cos(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "exp_small": lambda a: (a * 0.5).tanh().exp(),
    "softplus": lambda a: lib_of(a).nn.functional.softplus(a),
    "gelu": lambda a: lib_of(a).nn.functional.gelu(a),
    "gelu_tanh": lambda a: lib_of(a).nn.functional.gelu(a, approximate="tanh"),
    "silu": lambda a: lib_of(a).nn.functional.silu(a),
    "elu": lambda a: lib_of(a).nn.functional.elu(a),
    "log1p_sq": lambda a: (a * a).log1p(),
    "sqrt_sq1": lambda a: (a * a + 1).sqrt(),
    "rsqrt_sq1": lambda a: (a * a + 1).rsqrt(),
    "recip_sq1": lambda a: (a * a + 1).reciprocal(),
    "pow3": lambda a: a**3,
    "pow_frac": lambda a: (a * a + 0.5) ** 1.7,
    "erf": lambda a: a.erf(),
    "atan": lambda a: a.atan(),
    "asinh": lambda a: a.asinh(),
    "square": lambda a: a.square(),
    "softmax_row": lambda a: a.softmax(-1),
    "softmax_col": lambda a: a.softmax(0),
    "log_softmax": lambda a: a.log_softmax(-1),
    "center": lambda a: a - a.mean(-1, keepdim=True),
    "normalize": lambda a: (a - a.mean(-1, keepdim=True)) / (a.var(-1, keepdim=True) + 1).sqrt(),
    "std_scale": lambda a: a * a.std(0, keepdim=True),
    "lse": lambda a: a.logsumexp(-1, keepdim=True) + a,
    "norm": lambda a: a / (a.norm(dim=-1, keepdim=True) + 1),
    "cumsum": lambda a: a.cumsum(-1),
    "cumprod": lambda a: a.cumprod(0),
    "flip": lambda a: a.flip(-1),
    "roll": lambda a: a.roll(1, 0),
    "transpose_back": lambda a: a.t().contiguous().reshape(a.shape[1], a.shape[0]).t(),
    "index_perm": lambda a: a[:, list(range(a.shape[1]))[::-1]],
    "gram": lambda a: (a @ a.t()) @ a / a.shape[1],
    "max_row": lambda a: a * a.amax(-1, keepdim=True),
    "cat_halves": lambda a: lib_of(a).cat([a[:, : a.shape[1] // 2], a[:, a.shape[1] // 2 :]], 1),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
    "pow": lambda a, b: (a * a + 1) ** (b.tanh()),
    "atan2": lambda a, b: lib_of(a).atan2(a, b * b + 1),
    "hypot": lambda a, b: lib_of(a).hypot(a, b),
    "matmul_t": lambda a, b: a @ b.t() @ a / a.shape[1],
    "where": lambda a, b: lib_of(a).where(a > b, a * b, a + b),
    "lerp": lambda a, b: lib_of(a).lerp(a, b, 0.3),
    "logaddexp": lambda a, b: lib_of(a).logaddexp(a, b),
    "stack_mean": lambda a, b: lib_of(a).stack([a, b]).mean(0),
}
STEP = st.one_of(
    st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), st.integers(0, 99)),
    st.tuples(
        st.just("b"), st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)
    ),
)


def run_program(program, x, y, weight):
    pool = [x, y]
    for step in program:
        if step[0] == "u":
            pool.append(UNARY[step[1]](pool[step[2] % len(pool)]))
        else:
            pool.append(BINARY[step[1]](pool[step[2] % len(pool)], pool[step[3] % len(pool)]))
    # every input reaches f (so both Hessian blocks are exercised)
    return (pool[-1] * weight).sum() + 0.1 * (pool[0] * pool[1]).sum()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.lists(STEP, min_size=1, max_size=5),
    n=st.integers(1, 3),
    m=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_drawn_composites_second_and_third_order(program, n, m, seed):
    rng = np.random.default_rng(seed)
    xa, ya, wa, vx, vy = (rng.standard_normal((n, m)) for _ in range(5))
    x, y = Tensor(xa, requires_grad=True), Tensor(ya, requires_grad=True)
    tx = torch.tensor(xa, requires_grad=True)
    ty = torch.tensor(ya, requires_grad=True)
    f = run_program(program, x, y, Tensor(wa))
    tf = run_program(program, tx, ty, torch.tensor(wa))
    np.testing.assert_allclose(f.item(), tf.item(), rtol=1e-10, atol=1e-12)

    gx, gy = tg.autograd.grad(f, [x, y], create_graph=True)
    tgx, tgy = torch.autograd.grad(tf, [tx, ty], create_graph=True)
    for a, b in ((gx, tgx), (gy, tgy)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-9, atol=1e-10)

    gv = (gx * Tensor(vx)).sum() + (gy * Tensor(vy)).sum()
    tgv = (tgx * torch.tensor(vx)).sum() + (tgy * torch.tensor(vy)).sum()
    hx, hy = tg.autograd.grad(gv, [x, y], create_graph=True, materialize_grads=True)
    thx, thy = torch.autograd.grad(tgv, [tx, ty], create_graph=True, materialize_grads=True)
    for a, b in ((hx, thx), (hy, thy)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-8, atol=1e-9)

    # third order along v: d/dx <H v, v>
    if hx.requires_grad or hy.requires_grad:
        third = (hx * Tensor(vx)).sum() + (hy * Tensor(vy)).sum()
        tthird = (thx * torch.tensor(vx)).sum() + (thy * torch.tensor(vy)).sum()
        if third.requires_grad and tthird.requires_grad:
            kx, ky = tg.autograd.grad(third, [x, y], materialize_grads=True)
            tkx, tky = torch.autograd.grad(tthird, [tx, ty], materialize_grads=True)
            for a, b in ((kx, tkx), (ky, tky)):
                np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-7, atol=1e-8)
