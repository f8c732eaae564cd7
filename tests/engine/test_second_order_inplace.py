"""Higher derivatives of graphs that change a tensor in place (``y[i] = v``, ``add_``,
``index_put_`` ...), against torch (float64).

An in-place op on a non-leaf ``y`` records a new node whose input is a stand-in for
``y``'s old value (``Tensor._inplace``), and ``y`` takes that node's place in the graph.
The recorded backward (``create_graph=True``) must go through those nodes like any
other: for ``f = Σ w · y³`` after the in-place steps,

    g = ∇f,   h = ∇⟨g, d⟩,   t = ∇⟨h, e⟩

with respect to every input are compared with torch's. A node that used ``y``'s old
value directly (not through the stand-in) refuses to backpropagate, in ``backward()``
and in ``autograd.grad`` alike.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import InplaceError, Tensor

torch = pytest.importorskip("torch")


def _i(M, values):
    return M.tensor(values)


def _set(y, index, value):
    y[index] = value


# Each step changes y (shape (3, 4)) in place, reading only x (3, 4) and v (4,).
STEPS: dict[str, Callable] = {
    "setitem_row": lambda M, y, x, v: _set(y, 1, v * x[0]),
    "setitem_column_scalar_tensor": lambda M, y, x, v: _set(y, (slice(None), 2), v[3] ** 2),
    "setitem_int_array": lambda M, y, x, v: _set(y, _i(M, [2, 0]), v.exp()),
    "setitem_mask": lambda M, y, x, v: _set(y, x > 0.3, (v[0] * 2).tanh()),
    "setitem_two_arrays": lambda M, y, x, v: _set(y, (_i(M, [0, 2]), _i(M, [3, 1])), v[:2] * v[2:]),
    "setitem_number": lambda M, y, x, v: _set(y, (0, 0), 0.5),
    "index_put_accumulate": lambda M, y, x, v: y.index_put_(
        (_i(M, [0, 0, 2]), _i(M, [1, 1, 0])), v[:3] ** 2, accumulate=True
    ),
    "index_add": lambda M, y, x, v: y.index_add_(1, _i(M, [3, 0, 3]), x[:, :3] * v[0]),
    "scatter_add": lambda M, y, x, v: y.scatter_add_(1, _i(M, [[0, 0], [3, 1], [2, 2]]), x[:, :2]),
    "scatter": lambda M, y, x, v: y.scatter_(0, _i(M, [[1, 0, 2, 2]]), v[None] * 3),
    "add": lambda M, y, x, v: y.add_(v * x, alpha=0.5),
    "sub": lambda M, y, x, v: y.sub_(x.exp() * 0.3),
    "mul": lambda M, y, x, v: y.mul_(x),
    "div": lambda M, y, x, v: y.div_(x * x + 1),
    "clamp": lambda M, y, x, v: y.clamp_(-1.5, 2.0),
    "tril": lambda M, y, x, v: y.tril_(1),
    # (torch's gradient for x is then zeros, ours None: x no longer reaches f)
    "copy": lambda M, y, x, v: y.copy_(v * 2),
}


def _run(lib: str, steps: list[str], x0: np.ndarray, v0: np.ndarray, seed: int) -> list:
    """[value, g, h, t] for ``f = Σ w · y³`` after ``steps`` on ``y = x · x``."""
    M, grad = (tg, tg.autograd.grad) if lib == "tg" else (torch, torch.autograd.grad)
    wrap = Tensor if lib == "tg" else torch.tensor
    x, v = wrap(x0.copy(), requires_grad=True), wrap(v0.copy(), requires_grad=True)
    y = x * x
    for name in steps:
        STEPS[name](M, y, x, v)
    rng = np.random.default_rng(seed)
    f = (y**3 * wrap(rng.standard_normal(y.shape))).sum()
    levels: list = [np.array(f.detach().numpy() if lib == "torch" else f.data)]
    for order in range(3):
        last = order == 2
        gs = grad(f, [x, v], create_graph=not last, allow_unused=True)
        arrays = [
            np.zeros(a.shape) if g is None else np.array(g.data if lib == "tg" else g.detach())
            for g, a in zip(gs, (x0, v0))
        ]
        levels.append(arrays)
        if not last:  # (a direction for every input, used or not: the same draws in both)
            ds = [wrap(rng.standard_normal(a.shape)) for a in (x0, v0)]
            f = sum((g * d).sum() for g, d in zip(gs, ds) if g is not None)
    return levels


def _compare(steps: list[str], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x0, v0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ours = _run("tg", steps, x0, v0, seed)
    theirs = _run("torch", steps, x0, v0, seed)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, err_msg=f"{steps}: value")
    for order in (1, 2, 3):
        for name, a, b in zip(("x", "v"), ours[order], theirs[order]):
            np.testing.assert_allclose(
                a, b, rtol=1e-10, atol=1e-10, err_msg=f"{steps}: order {order} w.r.t. {name}"
            )


@pytest.mark.parametrize("step", sorted(STEPS))
def test_one_in_place_step_three_orders(step):
    _compare([step])


def test_setitem_then_arithmetic_in_place_three_orders():
    _compare(["setitem_row", "mul", "setitem_mask", "index_put_accumulate", "sub", "tril"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=5), seed=st.integers(0, 9)
)
def test_drawn_in_place_programs_three_orders(steps, seed):
    _compare(steps, seed)


def test_second_order_of_setitem_by_finite_differences():
    """Torch-free: ∇⟨∇f, d⟩ · e against central differences of the first-order gradient."""
    rng = np.random.default_rng(3)
    x0, v0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    w, d, e = (rng.standard_normal((3, 4)), [rng.standard_normal(s) for s in ((3, 4), (4,))],
               [rng.standard_normal(s) for s in ((3, 4), (4,))])  # fmt: skip

    def first(x0, v0, create_graph=False):
        x, v = Tensor(x0, requires_grad=True), Tensor(v0, requires_grad=True)
        y = x * x
        y[1] = v * x[0]
        y[x > 0] = (v[2] * v[3]).exp()
        y.index_put_((Tensor([0, 0]), Tensor([1, 1])), v[:2] ** 2, accumulate=True)
        f = (y**3 * Tensor(w)).sum()
        return (x, v), tg.autograd.grad(f, [x, v], create_graph=create_graph)

    xs, gs = first(x0, v0, create_graph=True)
    inner = sum((g * Tensor(di)).sum() for g, di in zip(gs, d))
    hs = tg.autograd.grad(inner, list(xs))
    analytic = sum(float(np.sum(np.asarray(h.data) * ei)) for h, ei in zip(hs, e))
    eps = 1e-6

    def inner_at(t):
        _, g = first(x0 + t * e[0], v0 + t * e[1])
        return sum(float(np.sum(np.asarray(gi.data) * di)) for gi, di in zip(g, d))

    numeric = (inner_at(eps) - inner_at(-eps)) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-6 * (1 + abs(numeric))


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_consumer_of_the_old_value_refuses_in_grad_as_in_backward(create_graph):
    """``y[1] = (y * y)[0]``: the product saved ``y``, then changed, and points at the
    changed ``y``, which makes the recorded graph cyclic. ``autograd.grad`` (which walks
    only the paths to its inputs) must stop there as ``backward()`` does (and torch), not
    drop that path silently. (``y[1] = y[0].clone() * 2`` is fine, as in torch: the
    getitem needs no values and reads ``y``'s old version; see test_inplace_views.py.)"""

    def build():
        x = Tensor(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
        y = x * x
        y[1] = (y * y)[0]
        return x, (y**2).sum()

    x, f = build()
    with pytest.raises(InplaceError, match="modified by an in-place operation"):
        f.backward()
    x, f = build()
    with pytest.raises(InplaceError, match="modified by an in-place operation"):
        tg.autograd.grad(f, [x], create_graph=create_graph)
