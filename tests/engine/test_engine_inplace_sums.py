"""The numpy backward pass sums gradient contributions in place (engine ``_summer``).

It writes into an array only when no one else can see it: a sum it made itself, or a
backward's own new result (not the upstream gradient nor a view of it, sharing memory
with no other result). Arrays of 4096 elements or more take that path, so these graphs
use such arrays. Checked: gradients equal torch's (float64) on drawn graphs with heavy
fan-in, shared and viewed gradients; a second backward over the same graph gives
exactly the same gradients (nothing the graph keeps was overwritten); and Functions
that return one array, or views of one array, for several inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import Tensor
from tinygrad_opt.autograd.function import Function

torch = pytest.importorskip("torch")

SHAPE = (64, 80)  # 5120 elements: above the in-place threshold
HYPO = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lib(t):
    return tg if isinstance(t, Tensor) else torch


# ops over pool members (all of shape SHAPE); both libraries spell them the same way
UNARY = {
    "tanh": lambda a: a.tanh(),
    "scale": lambda a: a * 0.5,
    "neg": lambda a: -a,
    "reshape_back": lambda a: a.reshape(80, 64).reshape(*SHAPE),
    "transpose_back": lambda a: a.t().t(),
    "sq": lambda a: a * a,
    "flip": lambda a: a.flip(1),
    "halves": lambda a: lib(a).cat([a[:, 40:], a[:, :40] * 2.0], 1),
    "softmax": lambda a: a.softmax(-1),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "matmul": lambda a, b: (a @ b.t()) @ a * 0.01,
    "where": lambda a, b: lib(a).where(a > b, a, b),
}


@st.composite
def programs(draw):
    steps = []
    for i in range(draw(st.integers(3, 12))):
        n = 2 + i  # pool size before the step: x, y and earlier results
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, n - 1))))
        else:
            a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))), a, b))
    outs = draw(st.lists(st.integers(0, 1 + len(steps)), min_size=1, max_size=4))
    return steps, outs


def run(steps, outs, x, y, weights):
    pool = [x, y]
    for step in steps:
        if step[0] == "u":
            pool.append(UNARY[step[1]](pool[step[2]]))
        else:
            pool.append(BINARY[step[1]](pool[step[2]], pool[step[3]]))
    total = None
    for i, w in zip(outs, weights):  # several uses of results: fan-in at the end too
        term = (pool[i] * w).sum()
        total = term if total is None else total + term
    return total


@HYPO
@given(programs(), st.integers(0, 2**16))
def test_drawn_graphs_match_torch_and_a_second_pass(program, seed):
    steps, outs = program
    rng = np.random.default_rng(seed)
    xa, ya = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    ws = [rng.standard_normal(SHAPE) for _ in outs]
    x, y = Tensor(xa, requires_grad=True), Tensor(ya, requires_grad=True)
    loss = run(steps, outs, x, y, [Tensor(w) for w in ws])
    loss.backward()
    first = [np.zeros(SHAPE) if t.grad is None else t.grad.copy() for t in (x, y)]
    x.grad = y.grad = None
    loss.backward()  # the same graph again: its saved arrays must be intact
    for t, g in zip((x, y), first):
        np.testing.assert_array_equal(np.zeros(SHAPE) if t.grad is None else t.grad, g)
    g_ours = tg.autograd.grad(loss, [x, y], allow_unused=True)
    g_ours = [np.zeros(SHAPE) if g is None else g.data for g in g_ours]
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (xa, ya))
    run(steps, outs, tx, ty, [torch.tensor(w) for w in ws]).backward()
    for ours, again, theirs in zip(first, g_ours, (tx.grad, ty.grad)):
        theirs = np.zeros(SHAPE) if theirs is None else theirs.numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)
        np.testing.assert_array_equal(again, ours)
    np.testing.assert_array_equal(x.data, xa)  # inputs untouched
    np.testing.assert_array_equal(y.data, ya)


# --------------------------------------------------------------------------- sharing
class _SameForBoth(Function):
    """y = a + b, whose backward returns one new array (2g, halved) for both inputs."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        h = (g * 2.0) * 0.5  # a new array, given to both inputs
        return h, h


class _ViewsOfOne(Function):
    """y = a + b, whose backward gives the inputs two views of one new array."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        h = np.concatenate([g, g]).reshape(2, *g.shape)
        return h[0], h[1].reshape(g.shape)


class _Passes(Function):
    """y = a, whose backward returns the upstream gradient itself, or a view of it."""

    def forward(self, a, view):
        return a.copy()

    def backward(self, g):
        return g.reshape(g.shape) if self.params["view"] else g


@pytest.mark.parametrize("op", [_SameForBoth, _ViewsOfOne])
def test_one_array_for_two_inputs_is_never_written_through_either(op):
    rng = np.random.default_rng(3)
    xa = rng.standard_normal(SHAPE)
    x = Tensor(xa, requires_grad=True)
    a, b = x * 1.0, x * 2.0  # two non-leaves whose gradients then get more terms
    y = op.apply(a, b)
    loss = (y * y).sum() + (a * 3.0).sum() + (b * 5.0).sum() + (a * b).sum()
    loss.backward()
    ya = 3 * xa
    expected = (2 * ya + 3 + 2 * xa) * 1.0 + (2 * ya + 5 + xa) * 2.0
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


@pytest.mark.parametrize("view", [False, True])
def test_a_passed_through_gradient_is_not_written(view):
    rng = np.random.default_rng(4)
    xa = rng.standard_normal(SHAPE)
    x = Tensor(xa, requires_grad=True)
    a = x * 2.0
    s = a + a * 0.0  # Add hands the same gradient to both of its inputs
    p = _Passes.apply(s, view=view)
    loss = (p * 3.0).sum() + (s * 4.0).sum() + (a * 5.0).sum()
    loss.backward()
    np.testing.assert_allclose(x.grad, np.full(SHAPE, (3 + 4 + 5) * 2.0), rtol=1e-12)


@pytest.mark.parametrize("view", [False, True])
@pytest.mark.parametrize("order", [0, 1])
def test_a_shared_gradient_passed_on_is_not_written(view, order):
    """Add hands one gradient to both inputs; one input passes it on unchanged to a node
    that already holds another term: that sum must not be written into the shared
    array (the other input still needs it)."""
    rng = np.random.default_rng(6)
    xa, w1, w2 = (rng.standard_normal(SHAPE) for _ in range(3))
    x = Tensor(xa, requires_grad=True)
    u, b, z = x * 3.0, x * 7.0, x * 0.5
    s = _Passes.apply(u, view=view) + b  # the gradient of s goes to both terms
    terms = [(s * Tensor(w1)).sum(), ((u + z) * Tensor(w2)).sum()]
    loss = terms[order] + terms[1 - order]
    loss.backward()
    expected = w1 * 3 + w1 * 7 + w2 * 3 + w2 * 0.5
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_hvp_of_a_wide_graph_matches_torch():
    """Second order: a Hessian-vector product's numpy pass over a recorded backward."""
    rng = np.random.default_rng(5)
    xa, va = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)

    def f(lib, x):
        h = (x @ x.t()).tanh() @ x * 0.01
        return ((h * x).sum() + (h * h).sum() + (x.softmax(-1) * h).sum()) * 0.5

    x = Tensor(xa, requires_grad=True)
    (g,) = tg.autograd.grad(f(tg, x), [x], create_graph=True)
    (hv,) = tg.autograd.grad((g * Tensor(va)).sum(), [x])
    tx = torch.tensor(xa, requires_grad=True)
    (tg_,) = torch.autograd.grad(f(torch, tx), [tx], create_graph=True)
    (thv,) = torch.autograd.grad((tg_ * torch.tensor(va)).sum(), [tx])
    np.testing.assert_allclose(hv.data, thv.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("op", [_SameForBoth, _ViewsOfOne])
def test_leaves_never_adopt_one_shared_array(op):
    """A leaf adopts a backward's new array as its .grad only if no other input got it
    (or a view of it): each leaf's .grad is then its own, later sums stay apart."""
    rng = np.random.default_rng(8)
    x, y = (Tensor(rng.standard_normal(SHAPE), requires_grad=True) for _ in range(2))
    (op.apply(x, y) * 2.0).sum().backward()
    assert not np.shares_memory(x.grad, y.grad)
    (x * 3.0).sum().backward()  # adds into x.grad in place
    np.testing.assert_allclose(x.grad, np.full(SHAPE, 5.0))
    np.testing.assert_allclose(y.grad, np.full(SHAPE, 2.0))


def test_a_passed_through_seed_is_not_adopted():
    """backward(gradient=...) hands the caller's array on unchanged (an identity-like
    node): the leaf must copy it, not keep the caller's array as its .grad."""
    seed = np.ones(SHAPE)
    x = Tensor(np.zeros(SHAPE), requires_grad=True)
    _Passes.apply(x, view=False).backward(seed)
    assert not np.shares_memory(x.grad, seed)
    x.grad += 1.0
    np.testing.assert_array_equal(seed, np.ones(SHAPE))
