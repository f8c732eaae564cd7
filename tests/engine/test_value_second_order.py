"""Higher derivatives of the scalar engine: Value.backward(create_graph=True) and value.grad.

Checked against closed forms, against torch in float64 (torch.autograd.grad with
create_graph, torch.autograd.functional.hessian) on hypothesis-drawn expression trees that
use every op, and against central differences of the first-order gradient; Hessians,
mixed partials and their labels. The API (arguments, .grad accumulation, errors, deep
graphs) is tested in test_value_grad_api.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_opt.value import _BACKWARD, _PARTIALS, Value, grad
from tinygrad_opt.value_autograd import derivative_label

SETTINGS = settings(max_examples=60, deadline=None)
NV = 3  # variables x0, x1, x2 in the drawn expressions


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def derivatives_up_to(fn, x0: float, n: int) -> list[float]:
    """[f, f', ..., f⁽ⁿ⁾] at x0 by repeated grad(create_graph=True)."""
    x = Value(x0, label="x")
    d = fn(x)
    out = [d.data]
    for _ in range(n):
        (d,) = grad(d, [x], create_graph=True, materialize_grads=True)
        out.append(d.data)
    return out


# --------------------------------------------------------------------------- closed forms
def _sig(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


L2 = math.log(2.0)
# name -> (function of a Value, [f', f'', f'''] on floats, domain of x)
CLOSED = {
    "x**3": (lambda x: x**3, [lambda t: 3 * t * t, lambda t: 6 * t, lambda t: 6.0], (-3, 3)),
    "x**2.5": (
        lambda x: x**2.5,
        [lambda t: 2.5 * t**1.5, lambda t: 3.75 * t**0.5, lambda t: 1.875 * t**-0.5],
        (0.1, 3),
    ),
    "x**-1.5": (
        lambda x: x**-1.5,
        [lambda t: -1.5 * t**-2.5, lambda t: 3.75 * t**-3.5, lambda t: -13.125 * t**-4.5],
        (0.2, 3),
    ),
    "2**x": (
        lambda x: 2.0**x,
        [lambda t: L2 * 2**t, lambda t: L2**2 * 2**t, lambda t: L2**3 * 2**t],
        (-3, 3),
    ),
    "exp": (lambda x: x.exp(), [math.exp] * 3, (-3, 3)),
    "log": (
        lambda x: x.log(),
        [lambda t: 1 / t, lambda t: -1 / t**2, lambda t: 2 / t**3],
        (0.1, 5),
    ),
    "tanh": (
        lambda x: x.tanh(),
        [
            lambda t: 1 - math.tanh(t) ** 2,
            lambda t: -2 * math.tanh(t) * (1 - math.tanh(t) ** 2),
            lambda t: -2 * (1 - math.tanh(t) ** 2) * (1 - 3 * math.tanh(t) ** 2),
        ],
        (-3, 3),
    ),
    "sigmoid": (
        lambda x: x.sigmoid(),
        [
            lambda t: _sig(t) * (1 - _sig(t)),
            lambda t: _sig(t) * (1 - _sig(t)) * (1 - 2 * _sig(t)),
            lambda t: _sig(t) * (1 - _sig(t)) * (1 - 6 * _sig(t) + 6 * _sig(t) ** 2),
        ],
        (-4, 4),
    ),
    "relu(x)**3": (
        lambda x: x.relu() ** 3,
        [
            lambda t: 3 * t * t if t > 0 else 0.0,
            lambda t: 6 * t if t > 0 else 0.0,
            lambda t: 6.0 if t > 0 else 0.0,
        ],
        (-3, 3),
    ),
    "3/x": (
        lambda x: 3.0 / x,
        [lambda t: -3 / t**2, lambda t: 6 / t**3, lambda t: -18 / t**4],
        (0.3, 3),
    ),
    "x/(1+x*x)": (
        lambda x: x / (1.0 + x * x),
        [
            lambda t: (1 - t * t) / (1 + t * t) ** 2,
            lambda t: 2 * t * (t * t - 3) / (1 + t * t) ** 3,
            lambda t: -6 * (t**4 - 6 * t * t + 1) / (1 + t * t) ** 4,
        ],
        (-3, 3),
    ),
    "x**x": (
        lambda x: x**x,
        [
            lambda t: t**t * (math.log(t) + 1),
            lambda t: t**t * ((math.log(t) + 1) ** 2 + 1 / t),
            lambda t: t**t * ((math.log(t) + 1) ** 3 + 3 * (math.log(t) + 1) / t - 1 / t**2),
        ],
        (0.2, 2.5),
    ),
    "2 - x - (-x)*x + x/4 - 1": (
        lambda x: 2.0 - x - (-x) * x + x / 4.0 - 1.0,
        [lambda t: -0.75 + 2 * t, lambda t: 2.0, lambda t: 0.0],
        (-3, 3),
    ),
    "sum, dot": (
        lambda x: Value.sum([x * x, x, 3.0], x) + Value.dot([x, x, 2.0], [x, 3.0, x]),
        [lambda t: 4 * t + 7, lambda t: 4.0, lambda t: 0.0],
        (-3, 3),
    ),
}


@pytest.mark.parametrize("name", list(CLOSED))
@given(u=floats(0.0, 1.0))
@SETTINGS
def test_first_second_third_derivatives_match_closed_forms(name, u):
    fn, closed, (lo, hi) = CLOSED[name]
    x0 = lo + (hi - lo) * u
    got = derivatives_up_to(fn, x0, 3)
    for k in (1, 2, 3):
        want = closed[k - 1](x0)
        assert math.isclose(got[k], want, rel_tol=1e-10, abs_tol=1e-10), (name, x0, k, got, want)


def test_every_op_has_a_differentiable_rule():
    assert set(_PARTIALS) == set(_BACKWARD)


# --------------------------------------------------------------------------- random trees
# A tree is a tuple: ("x", i) a variable, ("k", c) a constant, (op, ...) an operation.
# Each op is built so that it is defined everywhere (log of a*a + 0.5, division by
# b*b + 0.5, non-integer powers of a*a + 0.5), the same way in both engines.
UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "relu"]
PARAM = {
    "addc": [-1.5, 2.0],
    "raddc": [0.5, 3.0],
    "subc": [1.0, -2.5],
    "rsubc": [2.0, -0.5],
    "mulc": [-1.5, 0.5, 2.0],
    "rmulc": [3.0, -0.75],
    "divc": [2.0, -4.0],
    "rdivc": [1.0, -3.0],
    "powc": [2.0, 3.0, -1.0, 0.5, 1.5, -0.5],
    "rpowc": [0.5, 2.0, 3.0],
}
BINARY = ["add", "sub", "mul", "div", "pow"]


def _extend(children):
    # one branch per op, so that every op is drawn about as often as any other
    return st.one_of(
        *[st.tuples(st.just(op), children) for op in UNARY],
        *[
            st.tuples(st.just(op), st.sampled_from(cs), children)
            for op, cs in sorted(PARAM.items())
        ],
        *[st.tuples(st.just(op), children, children) for op in BINARY],
        st.tuples(st.just("sum"), children, children, children, st.sampled_from([0.0, 1.5])),
        st.tuples(st.just("dot"), children, children, children),
    )


LEAVES = st.one_of(
    st.tuples(st.just("x"), st.integers(0, NV - 1)),
    st.tuples(st.just("k"), st.sampled_from([-1.5, 0.5, 2.0])),
)
TREES = st.recursive(LEAVES, _extend, max_leaves=7)
POINTS = st.lists(floats(-1.5, 1.5), min_size=NV, max_size=NV)


class Ours:
    def __init__(self) -> None:
        self.relu_inputs: list[float] = []
        self.exponents: list[float] = []  # Value exponents (see pow below)

    def pow(self, a, b):
        self.exponents.append(b.data)
        return a**b

    @staticmethod
    def const(c):
        return Value(c)

    def relu(self, a):
        self.relu_inputs.append(a.data)
        return a.relu()

    @staticmethod
    def sum(items, k):
        return Value.sum(items, k)

    @staticmethod
    def dot(a, b, c):
        return Value.dot([a, b, 2.0], [c, -1.5, a])


class Torch:
    def __init__(self, torch) -> None:
        self.torch = torch

    @staticmethod
    def pow(a, b):
        return a**b

    def const(self, c):
        return self.torch.tensor(c, dtype=self.torch.float64)

    @staticmethod
    def relu(a):
        return a.relu()

    @staticmethod
    def sum(items, k):
        a, b, c = items
        return a + b + c + k

    @staticmethod
    def dot(a, b, c):
        return a * c + b * -1.5 + 2.0 * a


def build(tree, xs, E):
    """The expression ``tree`` on the variables ``xs`` with engine adapter ``E``."""
    tag = tree[0]
    if tag == "x":
        return xs[tree[1]]
    if tag == "k":
        return E.const(tree[1])
    if tag in UNARY:
        a = build(tree[1], xs, E)
        if tag == "neg":
            return -a
        if tag == "log":
            return (a * a + 0.5).log()
        if tag == "relu":
            return E.relu(a)
        return getattr(a, tag)()
    if tag in PARAM:
        c, a = tree[1], build(tree[2], xs, E)
        return {
            "addc": lambda: a + c,
            "raddc": lambda: c + a,
            "subc": lambda: a - c,
            "rsubc": lambda: c - a,
            "mulc": lambda: a * c,
            "rmulc": lambda: c * a,
            "divc": lambda: a / c,
            "rdivc": lambda: c / (a * a + 0.5),
            "powc": lambda: (a if c in (2.0, 3.0) else a * a + 0.5) ** c,
            "rpowc": lambda: c ** a.tanh(),
        }[tag]()
    if tag in BINARY:
        a, b = build(tree[1], xs, E), build(tree[2], xs, E)
        return {
            "add": lambda: a + b,
            "sub": lambda: a - b,
            "mul": lambda: a * b,
            "div": lambda: a / (b * b + 0.5),
            "pow": lambda: E.pow(a * a + 0.5, b.tanh()),
        }[tag]()
    if tag == "sum":
        return E.sum([build(t, xs, E) for t in tree[1:4]], tree[4])
    if tag == "dot":
        return E.dot(*(build(t, xs, E) for t in tree[1:4]))
    raise AssertionError(tree)


def has_variable(tree) -> bool:
    return tree[0] == "x" or any(isinstance(t, tuple) and has_variable(t) for t in tree[1:])


UNDEFINED = (ValueError, ZeroDivisionError, OverflowError)


def build_ours(tree, xs, E):
    """Build with our engine; an overflow that reaches log (log of nan) rejects the draw."""
    try:
        return build(tree, xs, E)
    except UNDEFINED:
        assume(False)


def ours_derivatives(tree, point, order: int = 3):
    """(f, gradient, Hessian, third derivatives) of ``tree`` at ``point`` by value.grad."""
    xs = [Value(v) for v in point]
    E = Ours()
    y = build_ours(tree, xs, E)
    g = grad(y, xs, create_graph=True, materialize_grads=True)
    h = [grad(gi, xs, create_graph=True, materialize_grads=True) for gi in g]
    t = [[grad(hij, xs, materialize_grads=True) for hij in hi] for hi in h] if order >= 3 else []
    return (
        y.data,
        np.array([gi.data for gi in g]),
        np.array([[hij.data for hij in hi] for hi in h]),
        np.array(t),
        E,
    )


def torch_derivatives(torch, tree, point, order: int = 3):
    xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in point]
    y = build(tree, xs, Torch(torch))
    zero = torch.tensor(0.0, dtype=torch.float64)

    def d(out):
        if not out.requires_grad:
            return [zero] * len(xs)
        got = torch.autograd.grad(out, xs, create_graph=True, allow_unused=True)
        return [zero if gi is None else gi for gi in got]

    g = d(y)
    h = [d(gi) for gi in g]
    t = [[[v.item() for v in d(hij)] for hij in hi] for hi in h] if order >= 3 else []
    return (
        y.item(),
        np.array([gi.item() for gi in g]),
        np.array([[hij.item() for hij in hi] for hi in h]),
        np.array(t),
    )


def assert_close(got, want, rtol: float, what: str) -> None:
    scale = max(1.0, float(np.max(np.abs(want)))) if np.size(want) else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def usable(values, E: Ours, kink: float = 1e-6) -> bool:
    """Finite, not huge, no relu evaluated at its kink (where rounding decides), and no
    Value exponent exactly 0: there torch's a**b masks the derivative of b·a**(b-1) with
    respect to b to 0, so its Hessian is not symmetric (see the test of that point)."""
    flat = np.concatenate([np.ravel(v) for v in values])
    return bool(
        np.all(np.isfinite(flat))
        and np.max(np.abs(flat)) < 1e8
        and all(abs(r) > kink for r in E.relu_inputs)
        and all(e != 0.0 for e in E.exponents)
    )


@given(tree=TREES, point=POINTS)
@settings(max_examples=150, deadline=None)
def test_random_expressions_second_and_third_derivatives_match_torch(tree, point):
    torch = pytest.importorskip("torch")
    assume(has_variable(tree))
    f, g, h, t, E = ours_derivatives(tree, point)
    assume(usable([f, g, h, t], E))
    tf, tg, th, tt = torch_derivatives(torch, tree, point)
    assert_close(f, tf, 1e-12, "value")
    assert_close(g, tg, 1e-10, "gradient")
    assert_close(h, th, 1e-10, "Hessian")
    assert_close(t, tt, 1e-10, "third derivatives")
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-10 * max(1.0, np.max(np.abs(h))))


@given(tree=TREES, point=POINTS)
@settings(max_examples=80, deadline=None)
def test_random_expressions_hessian_matches_differences_of_the_gradient(tree, point):
    assume(has_variable(tree))
    f, g, h, t, E = ours_derivatives(tree, point)
    assume(usable([f, g, h, t], E, kink=1e-3))

    def gradient_at(p):
        xs = [Value(v) for v in p]
        return np.array(grad(build_ours(tree, xs, Ours()), xs, materialize_grads=True))

    def hessian_at(p):
        return ours_derivatives(tree, p, order=2)[2]

    num_h = np.zeros((NV, NV))
    num_t = np.zeros((NV, NV, NV))
    for j in range(NV):
        step = 1e-5 * max(1.0, abs(point[j]))
        up, down = list(point), list(point)
        up[j] += step
        down[j] -= step
        num_h[:, j] = (gradient_at(up) - gradient_at(down)) / (2 * step)
        num_t[:, :, j] = (hessian_at(up) - hessian_at(down)) / (2 * step)
    assert_close(h, num_h, 1e-5, "Hessian vs differences of the gradient")
    assert_close(t, num_t, 1e-4, "third derivatives vs differences of the Hessian")


@given(tree=TREES, point=POINTS)
@SETTINGS
def test_float_grad_equals_backward_and_create_graph_values(tree, point):
    assume(has_variable(tree))
    xs = [Value(v) for v in point]
    E = Ours()
    y = build_ours(tree, xs, E)
    floats_ = grad(y, xs, materialize_grads=True)
    graphs = grad(y, xs, create_graph=True, materialize_grads=True)
    y.backward()
    back = [x.grad for x in xs]
    flat = np.array(back)
    assume(usable([flat], E, kink=1e-9))
    assert all(type(v) is float for v in floats_)
    assert all(type(v) is Value for v in graphs)
    np.testing.assert_allclose(floats_, back, rtol=1e-12, atol=1e-12 * max(1, np.max(abs(flat))))
    np.testing.assert_allclose(
        [v.data for v in graphs], back, rtol=1e-12, atol=1e-12 * max(1, np.max(abs(flat)))
    )


# --------------------------------------------------------------------------- Hessians
def f3(a, b, c):
    """A 3-input function using every op (a, b, c Values or torch tensors)."""
    return (
        (a * b).tanh()
        + c.exp() * a**2 / (1.0 + b * b)
        + (a * a + c * c + 1.0).log()
        + (b - c).sigmoid() * (a + 2.0).relu()
        + (b * b + 0.5) ** c
        + 2.0 ** (a * c)
        - 3.0 / (c * c + 1.0)
        + (1.5 - a) * (-b) / 4.0
    )


def f3_values(a, b, c):
    return f3(a, b, c) + Value.sum([a * c, b], 0.5) + Value.dot([a, b, 2.0], [c, c, b])


def f3_torch(a, b, c):
    return f3(a, b, c) + (a * c + b + 0.5) + (a * c + b * c + 2.0 * b)


@given(point=st.lists(floats(-1.2, 1.2), min_size=3, max_size=3))
@SETTINGS
def test_hessian_of_a_three_input_function_matches_torch_functional_hessian(point):
    torch = pytest.importorskip("torch")
    assume(abs(point[0] + 2.0) > 1e-3)
    assume(point[2] != 0.0)  # torch's Hessian of a**c is not symmetric at c = 0 (see below)
    xs = [Value(v, label=n) for v, n in zip(point, "abc")]
    y = f3_values(*xs)
    g = grad(y, xs, create_graph=True)
    ours = np.array([grad(gi, xs) for gi in g])
    want = torch.autograd.functional.hessian(
        f3_torch, tuple(torch.tensor(v, dtype=torch.float64) for v in point)
    )
    theirs = np.array([[want[i][j].item() for j in range(3)] for i in range(3)])
    assert_close(ours, theirs, 1e-10, "Hessian")
    # the same through backward(create_graph=True): leaf .grad Values, then grad of those
    y.backward(create_graph=True)
    via_backward = np.array([[v for v in grad(x.grad, xs)] for x in xs])
    assert_close(via_backward, theirs, 1e-10, "Hessian via backward(create_graph=True)")


def test_mixed_partial_of_a_power_at_exponent_zero_is_symmetric():
    # f = a**b: ∂²f/∂a∂b = a**(b-1) (1 + b ln a), which is 1/a at b = 0. torch masks the
    # a-derivative b·a**(b-1) to 0 where b == 0, losing its b-derivative: its Hessian
    # gets ∂/∂b(∂f/∂a) = 0 but ∂/∂a(∂f/∂b) = 1/a. Ours is symmetric and correct.
    a, b = Value(1.5), Value(0.0)
    da, db = grad(a**b, [a, b], create_graph=True)
    assert (da.data, db.data) == (0.0, math.log(1.5))
    assert grad(da, [a, b]) == pytest.approx((0.0, 1 / 1.5), rel=1e-14)
    assert grad(db, [a, b]) == pytest.approx((1 / 1.5, math.log(1.5) ** 2), rel=1e-14)
    torch = pytest.importorskip("torch")
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (1.5, 0.0))
    tda, tdb = torch.autograd.grad(ta**tb, [ta, tb], create_graph=True)
    assert torch.autograd.grad(tda, [tb], allow_unused=True)[0] in (None, 0.0)
    assert torch.autograd.grad(tdb, [ta])[0].item() == pytest.approx(1 / 1.5, rel=1e-14)


def test_mixed_partials_and_their_labels():
    x, z = Value(0.7, label="x"), Value(-1.3, label="z")
    y = x * x * z + (x * z).exp()
    dx, dz = grad(y, [x, z], create_graph=True)
    assert (dx.label, dz.label) == ("∂y/∂x", "∂y/∂z")
    dxx, dxz = grad(dx, [x, z], create_graph=True)
    dzx, dzz = grad(dz, [x, z], create_graph=True)
    assert (dxx.label, dxz.label, dzx.label, dzz.label) == (
        "∂²y/∂x²",
        "∂²y/∂z∂x",
        "∂²y/∂x∂z",
        "∂²y/∂z²",
    )
    e = math.exp(x.data * z.data)
    assert math.isclose(dxz.data, 2 * x.data + e + x.data * z.data * e, rel_tol=1e-12)
    assert math.isclose(dzx.data, dxz.data, rel_tol=1e-12)
    assert math.isclose(dzz.data, x.data**2 * e, rel_tol=1e-12)
    (dxzx,) = grad(dxz, [x])
    assert math.isclose(dxzx, 2 + 2 * z.data * e + x.data * z.data**2 * e, rel_tol=1e-12)


def test_derivative_label_rules():
    assert derivative_label("y", "x") == "∂y/∂x"
    assert derivative_label("∂y/∂x", "x") == "∂²y/∂x²"
    assert derivative_label("∂²y/∂x²", "x") == "∂³y/∂x³"
    assert derivative_label("∂y/∂x", "z") == "∂²y/∂z∂x"
    assert derivative_label("∂²y/∂z∂x", "z") == "∂³y/∂z²∂x"
    assert derivative_label("loss", "w1") == "∂loss/∂w1"
    assert derivative_label("a + b", "x") == "∂(a + b)/∂x"
    assert derivative_label("∂(a + b)/∂x", "x") == "∂²(a + b)/∂x²"
    assert derivative_label("y", "x*w") == "∂y/∂(x*w)"
    assert derivative_label("∂y/∂x", "∂z") == "∂²y/∂(∂z)∂x"
    assert derivative_label("∂¹⁰y/∂x¹⁰", "x") == "∂¹¹y/∂x¹¹"


def test_hessian_vector_product_matches_torch():
    torch = pytest.importorskip("torch")
    point, vec = [0.3, -0.7, 1.1], [0.5, 2.0, -1.0]
    xs = [Value(p) for p in point]
    g = grad(f3_values(*xs), xs, create_graph=True)
    hv = grad(g, xs, grad_outputs=vec)
    _, want = torch.autograd.functional.hvp(
        lambda *t: f3_torch(*t),
        tuple(torch.tensor(p, dtype=torch.float64) for p in point),
        tuple(torch.tensor(p, dtype=torch.float64) for p in vec),
    )
    np.testing.assert_allclose(hv, [w.item() for w in want], rtol=1e-10)
