"""The API around higher derivatives of Values: value.grad's arguments and results,
Value.backward(create_graph=True) and torch's accumulation semantics for .grad, derivative
orders and sources, errors, deep graphs, memory. (The numbers themselves are checked
against torch and closed forms in test_value_second_order.py.)
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pytest

from tinygrad_opt.value import Value, grad

# torch warns that backward(create_graph=True) makes a parameter <-> .grad reference cycle
# (so does ours: see the module notes of tinygrad_opt.value); the tests mean to do it.
pytestmark = pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")


# --------------------------------------------------------------------------- grad()
def test_grad_returns_floats_without_create_graph_and_new_values_with_it():
    x, z = Value(1.5, label="x"), Value(-2.0, label="z")
    y = x * z
    assert grad(y, [x, z]) == (-2.0, 1.5)
    dx, dz = grad(y, [x, z], create_graph=True)
    # ∂(x·z)/∂x is z: returned as a new node (z * 1), never z itself
    assert dx is not z and dz is not x
    assert (dx.data, dz.data) == (-2.0, 1.5)
    assert dx.op == "*c" and dx.children == (z,) and dx.aux == 1.0
    # a constant derivative is a new leaf
    (d3,) = grad(3.0 * x, [x], create_graph=True)
    assert d3.op == "" and d3.data == 3.0 and d3.label == "∂y/∂x"
    # a single Value for outputs and inputs, a dict of inputs
    assert grad(y, x) == (-2.0,)
    assert grad(y, {"a": x, "b": z}) == {"a": -2.0, "b": 1.5}


def test_grad_does_not_touch_dot_grad():
    x, z = Value(1.5), Value(-2.0)
    y = (x * z).tanh() + x
    y.backward(create_graph=True)
    before = [(n, n.grad) for n in y.topological_order()]
    grad(y, [x, z])
    grad(y, [x, z], create_graph=True)
    grad(x.grad, [x, z], create_graph=True)
    assert all(n.grad is g for n, g in before)


def test_grad_with_respect_to_intermediate_nodes_and_outputs():
    x = Value(0.4, label="x")
    h = x.exp()
    h.label = "h"
    y = h * h + x
    dh, dx = grad(y, [h, x])
    assert math.isclose(dh, 2 * h.data) and math.isclose(dx, 2 * h.data * h.data + 1)
    assert grad(y, [y]) == (1.0,)
    (dhx,) = grad(grad(y, [h], create_graph=True)[0], [x])
    assert math.isclose(dhx, 2 * h.data)  # ∂/∂x (2h) with h = e^x


def test_grad_outputs_weights_and_values():
    torch = pytest.importorskip("torch")
    x, z = Value(0.3), Value(0.8)
    y1, y2 = (x * z).tanh(), x.exp() * z
    got = grad([y1, y2], [x, z], grad_outputs=[2.0, -0.5])
    tx, tz = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.3, 0.8))
    t1, t2 = (tx * tz).tanh(), tx.exp() * tz
    want = torch.autograd.grad(
        [t1, t2],
        [tx, tz],
        grad_outputs=[
            torch.tensor(2.0, dtype=torch.float64),
            torch.tensor(-0.5, dtype=torch.float64),
        ],
    )
    np.testing.assert_allclose(got, [w.item() for w in want], rtol=1e-12)
    # None means 1; a bare number for a single output; outputs listed twice add up
    assert grad([y1, y1], [x], grad_outputs=[None, 2.0]) == pytest.approx(grad(y1, [x], 3.0))
    # a Value weight v: the vector-Jacobian product is differentiable in v too (as torch)
    v = Value(1.7)
    (gx,) = grad(y1, [x], grad_outputs=v, create_graph=True)
    (dv,) = grad(gx, [v])
    assert math.isclose(gx.data, 1.7 * grad(y1, [x])[0], rel_tol=1e-12)
    assert math.isclose(dv, grad(y1, [x])[0], rel_tol=1e-12)


# --------------------------------------------------------------------------- backward(create_graph)
def test_backward_create_graph_gives_value_leaf_grads_and_float_inner_grads():
    x, z = Value(0.5, label="x"), Value(2.0, label="z")
    mid = (x * z).tanh()
    y = mid * x
    y.backward(create_graph=True)
    assert type(x.grad) is Value and type(z.grad) is Value
    assert x.grad.label == "∂y/∂x" and x.grad.derivative_order == 1
    assert type(mid.grad) is float and type(y.grad) is float
    a, b = Value(0.5), Value(2.0)
    m2 = (a * b).tanh()
    (m2 * a).backward()
    assert (x.grad.data, z.grad.data, mid.grad) == (a.grad, b.grad, m2.grad)


def test_accumulation_semantics_match_torch():
    torch = pytest.importorskip("torch")
    x = Value(0.9, label="x")
    tx = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    y, ty = (x**3).tanh(), (tx**3).tanh()

    y.backward(create_graph=True)
    ty.backward(create_graph=True)
    first = x.grad
    first_data = first.data
    # a second create_graph backward adds out of place: grad = grad + new
    y.backward(create_graph=True)
    ty.backward(create_graph=True)
    assert x.grad is not first and first.data == first_data
    assert x.grad.op == "+" and x.grad.children[0] is first
    assert math.isclose(x.grad.data, tx.grad.item(), rel_tol=1e-12)
    # the accumulated gradient is differentiable: d/dx of 2·f'(x) is 2·f''(x)
    (d2,) = grad(x.grad, [x])
    (td2,) = torch.autograd.grad(tx.grad, [tx], retain_graph=True)
    assert math.isclose(d2, td2.item(), rel_tol=1e-12)
    # a plain backward afterwards adds a float into the Value (out of place as well)
    y.backward()
    ty.backward()
    assert type(x.grad) is Value and math.isclose(x.grad.data, tx.grad.item(), rel_tol=1e-12)
    # zero_grad resets to the float 0.0 (and breaks the x -> x.grad -> x reference cycle)
    y.zero_grad()
    assert x.grad == 0.0 and type(x.grad) is float


def test_create_graph_after_a_float_backward_starts_from_the_float():
    x = Value(1.2, label="x")
    y = x**3
    y.backward()
    y.backward(create_graph=True)
    assert type(x.grad) is Value
    assert x.grad.op == "+c" and x.grad.aux == 3 * 1.2**2
    assert math.isclose(x.grad.data, 2 * 3 * 1.2**2, rel_tol=1e-12)
    (d2,) = grad(x.grad, [x])  # only the create_graph part depends on x
    assert math.isclose(d2, 6 * 1.2, rel_tol=1e-12)


def test_create_graph_on_a_leaf_and_dead_leaves():
    torch = pytest.importorskip("torch")
    x = Value(2.0, label="x")
    x.backward(create_graph=True)
    tx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tx.backward(create_graph=True)
    assert type(x.grad) is Value and x.grad.data == tx.grad.item() == 1.0
    assert x.grad.op == "" and x.grad.label == "∂x/∂x"
    # d(1)/dx: the gradient of a leaf does not depend on the leaf -> unused, as in torch
    with pytest.raises(RuntimeError, match="not used"):
        grad(x.grad, [x])
    with pytest.raises(RuntimeError):
        torch.autograd.grad(tx.grad, [tx])
    # relu off: the leaf is in the graph, its gradient is a Value 0
    w = Value(-1.0)
    (w.relu() * 5.0).backward(create_graph=True)
    assert type(w.grad) is Value and w.grad.data == 0.0


def test_seed_of_backward_create_graph():
    x = Value(0.5)
    y = x.exp()
    y.backward(2.0, create_graph=True)
    assert math.isclose(x.grad.data, 2 * math.exp(0.5))
    v = Value(3.0)
    x2 = Value(0.5)
    x2.exp().backward(v, create_graph=True)
    assert math.isclose(x2.grad.data, 3 * math.exp(0.5))
    assert grad(x2.grad, [v]) == pytest.approx((math.exp(0.5),))
    x3 = Value(0.5)
    x3.exp().backward(v)  # a Value seed without create_graph counts as its number
    assert type(x3.grad) is float and math.isclose(x3.grad, 3 * math.exp(0.5))


# --------------------------------------------------------------------------- orders and sources
def test_derivative_orders_and_sources():
    x = Value(2.0, label="x")
    y = x**3
    (dy,) = grad(y, [x], create_graph=True)
    (d2y,) = grad(dy, [x], create_graph=True)
    (d3y,) = grad(d2y, [x], create_graph=True)
    assert (y.derivative_order, dy.derivative_order, d2y.derivative_order) == (0, 1, 2)
    assert d3y.derivative_order == 3 and d3y.data == 6.0 and d3y.label == "∂³y/∂x³"
    # dy = 3 · x²: both nodes built by the rule of y = x**3
    assert dy.op == "*c" and dy.aux == 3.0
    square = dy.children[0]
    assert square.op == "**c" and square.aux == 2.0 and square.children == (x,)
    assert dy.derivative_source is y and square.derivative_source is y
    # d²y = 3 · (2 · x): built by the rule of the x² node of the first pass
    assert d2y.op == "*c" and d2y.aux == 3.0 and d2y.derivative_source is square
    assert d2y.children[0].op == "*c" and d2y.children[0].children == (x,)
    assert x.derivative_order == 0 and x.derivative_source is None
    # the fourth derivative is 0: x is not in the graph of the constant d3y
    assert grad(d3y, [x], allow_unused=True) == (None,)
    assert grad(d3y, [x], materialize_grads=True) == (0.0,)
    (zero,) = grad(d3y, [x], create_graph=True, materialize_grads=True)
    assert type(zero) is Value and zero.data == 0.0


# --------------------------------------------------------------------------- errors
def test_unused_inputs():
    x, z = Value(1.0, label="x"), Value(2.0, label="z")
    y = x * 3.0
    with pytest.raises(RuntimeError, match=r"inputs\[1\] \('z'\) is not used.*allow_unused=True"):
        grad(y, [x, z])
    with pytest.raises(RuntimeError, match=r"inputs\['b'\]"):
        grad(y, {"a": x, "b": Value(0.0)})
    assert grad(y, [x, z], allow_unused=True) == (3.0, None)
    assert grad(y, [x, z], create_graph=True, allow_unused=True)[1] is None
    assert grad(y, [x, z], materialize_grads=True) == (3.0, 0.0)
    with pytest.raises(ValueError, match="materialize_grads"):
        grad(y, [x, z], allow_unused=False, materialize_grads=True)
    torch = pytest.importorskip("torch")
    tx, tz = (torch.tensor(v, requires_grad=True) for v in (1.0, 2.0))
    with pytest.raises(RuntimeError):  # torch raises the same class
        torch.autograd.grad(tx * 3.0, [tx, tz])


def test_bad_arguments():
    x = Value(1.0)
    y = x * 2.0
    with pytest.raises(RuntimeError, match="inputs.*empty"):
        grad(y, [])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value, got float"):
        grad(y, [x, 1.0])
    with pytest.raises(TypeError, match="outputs must be a Value or a sequence of Values"):
        grad(2.0, [x])
    with pytest.raises(RuntimeError, match="2 grad_outputs for 1 outputs"):
        grad(y, [x], grad_outputs=[1.0, 2.0])
    with pytest.raises(TypeError, match="bool"):
        grad(y, [x], grad_outputs=True)
    with pytest.raises(TypeError, match="grad_outputs must be"):
        grad(y, [x], grad_outputs="a")
    with pytest.raises(TypeError, match="backward grad must be a real number or a Value"):
        y.backward("a", create_graph=True)
    with pytest.raises(TypeError, match="backward grad must be a real number"):
        y.backward("a")


# --------------------------------------------------------------------------- deep graphs
def _recursion_guard():
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth + 100


def test_second_derivative_of_a_ten_thousand_deep_chain_does_not_recurse():
    x = Value(0.3, label="x")
    y = x
    for _ in range(10_000):
        y = (y * 0.9999).tanh() + y * 1e-4
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_recursion_guard())
    try:
        (dy,) = grad(y, [x], create_graph=True)
        (d2y,) = grad(dy, [x], create_graph=True)
        (d3y,) = grad(d2y, [x])
        y.backward(create_graph=True)
        (again,) = grad(x.grad, [x])
    finally:
        sys.setrecursionlimit(limit)
    # the same chain in closed form: y_{k+1} = tanh(a y_k) + b y_k, carried forward with
    # its first three derivatives (chain rule for each step, Faà di Bruno for the third)
    a, b = 0.9999, 1e-4
    v, d1, d2, d3 = 0.3, 1.0, 0.0, 0.0
    for _ in range(10_000):
        t = math.tanh(a * v)
        s1 = a * (1 - t * t)
        s2 = -2 * a * a * t * (1 - t * t)
        s3 = -2 * a**3 * (1 - t * t) * (1 - 3 * t * t)
        v, d1, d2, d3 = (
            t + b * v,
            (s1 + b) * d1,
            s2 * d1 * d1 + (s1 + b) * d2,
            s3 * d1**3 + 3 * s2 * d1 * d2 + (s1 + b) * d3,
        )
    assert math.isclose(y.data, v, rel_tol=1e-10)
    assert math.isclose(dy.data, d1, rel_tol=1e-9)
    assert math.isclose(d2y.data, d2, rel_tol=1e-9)
    assert math.isclose(d3y, d3, rel_tol=1e-9)
    assert math.isclose(again, d2, rel_tol=1e-9)
    y.zero_grad()


def test_grad_on_a_million_deep_chain():
    x = Value(1.0)
    y = x
    for _ in range(10**6):
        y = y * 1.0
    y = y + x
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_recursion_guard())
    try:
        t0 = time.perf_counter()
        assert grad(y, [x]) == (2.0,)
        (d,) = grad(y, [x], create_graph=True)
        elapsed = time.perf_counter() - t0
    finally:
        sys.setrecursionlimit(limit)
    assert d.data == 2.0 and elapsed < 60.0  # two sweeps over a million nodes


def test_grad_makes_no_reference_cycles_and_marks_go_with_their_nodes():
    import gc
    import weakref

    from tinygrad_opt import value_autograd

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        marked_before = len(value_autograd._MADE_BY)
        x, z = Value(0.7, label="x"), Value(-0.4, label="z")
        y = (x * z).tanh() * x.exp() + z**3
        g = grad(y, [x, z], create_graph=True)
        h = [grad(gi, [x, z], create_graph=True) for gi in g]
        assert len(value_autograd._MADE_BY) > marked_before
        refs = [weakref.ref(v) for v in (y, *g, *h[0], *h[1])]
        del y, g, h
        assert all(r() is None for r in refs)  # freed by reference counting alone
        assert gc.collect() == 0
        assert len(value_autograd._MADE_BY) == marked_before
    finally:
        if was_enabled:
            gc.enable()
