"""Tests for the scalar autograd engine tinygrad_opt.value.Value."""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
import textwrap
import time
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.value import Value, dot, vsum

REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=60, deadline=None)


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from_zero(lo: float, hi: float) -> st.SearchStrategy[float]:
    """|x| in [lo, hi], either sign."""
    return st.builds(lambda m, s: m * s, floats(lo, hi), st.sampled_from([-1.0, 1.0]))


def numeric_grads(fn, xs: list[float]) -> list[float]:
    """Central differences (f(x + h) - f(x - h)) / 2h of fn(*Values).data, in float64."""
    out = []
    for i, x in enumerate(xs):
        h = 1e-6 * max(1.0, abs(x))
        up = [Value(v + h if j == i else v) for j, v in enumerate(xs)]
        down = [Value(v - h if j == i else v) for j, v in enumerate(xs)]
        out.append((fn(*up).data - fn(*down).data) / (2 * h))
    return out


def analytic_grads(fn, xs: list[float]) -> tuple[float, list[float]]:
    vals = [Value(x) for x in xs]
    out = fn(*vals)
    out.backward()
    return out.data, [v.grad for v in vals]


def assert_grads_match(fn, xs: list[float], rtol: float = 1e-5, atol: float = 1e-6) -> None:
    _, got = analytic_grads(fn, xs)
    want = numeric_grads(fn, xs)
    for k, (g, w) in enumerate(zip(got, want)):
        assert math.isclose(g, w, rel_tol=rtol, abs_tol=atol), (k, xs, g, w)


# --------------------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "x, want",
    [
        (2, 2.0),
        (2.5, 2.5),
        (np.float64(1.25), 1.25),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7.0),
        (np.int8(-3), -3.0),
        (Fraction(1, 4), 0.25),
        (float("inf"), math.inf),
    ],
)
def test_numbers_become_python_floats(x, want):
    v = Value(x)
    assert type(v.data) is float and v.data == want
    assert v.grad == 0.0 and type(v.grad) is float
    assert v.op == "" and v.children == () and v.label == ""


@pytest.mark.parametrize(
    "bad, name",
    [
        ("1.0", "str"),
        (None, "NoneType"),
        ([1.0], "list"),
        ((1.0,), "tuple"),
        (np.array([1.0, 2.0]), "ndarray"),
        (1 + 2j, "complex"),
        (True, "bool"),
        (np.True_, "bool"),
    ],
)
def test_non_numeric_data_raises_type_error_naming_the_type(bad, name):
    with pytest.raises(TypeError, match=name):
        Value(bad)


def test_value_of_a_value_is_rejected_with_a_hint():
    with pytest.raises(TypeError, match=r"got Value; pass v\.data"):
        Value(Value(1.0))


@pytest.mark.parametrize("bad", ["a", None, [1.0], object()])
def test_arithmetic_with_non_numbers_raises_type_error(bad):
    v = Value(1.0)
    for op in (
        lambda: v + bad,
        lambda: bad + v,
        lambda: v * bad,
        lambda: v - bad,
        lambda: v / bad,
        lambda: v**bad,
    ):
        with pytest.raises(TypeError):
            op()


def test_bool_operands_are_rejected():
    v = Value(1.0)
    with pytest.raises(TypeError, match="bool"):
        v * True
    with pytest.raises(TypeError, match="bool"):
        False + v


def test_numpy_scalars_on_either_side_give_values():
    v = Value(3.0)
    for out in (np.float64(2.0) * v, v * np.float32(2.0), np.int64(2) * v, v + np.float64(3.0)):
        assert type(out) is Value and out.data == 6.0
        assert type(out.aux) is float
    r = np.float64(2.0) ** v
    assert type(r) is Value and r.data == 8.0


def test_repr_and_label():
    v = Value(2.0)
    assert repr(v) == "Value(data=2.0, grad=0.0)"
    w = Value(-1.5, label="w")
    w.grad = 0.25
    assert repr(w) == "Value(data=-1.5, grad=0.25, label='w')"
    assert Value(1.0, "x").label == "x"


def test_identity_semantics_no_eq_override():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2


def test_op_children_and_aux_record_the_graph():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c.op == "*" and c.children == (a, b) and c.children[0] is a
    assert (b * a).children == (b, a)  # order kept
    assert type(c.children) is tuple
    d = a * 2
    assert d.op == "*c" and d.children == (a,) and d.aux == 2.0
    cases = {
        "+c": a + 1,
        "-c": a - 1,
        "c-": 1 - a,
        "/c": a / 2,
        "c/": 2 / a,
        "**c": a**2,
        "c**": 2**a,
        "-": a - b,
        "/": a / b,
        "**": a**b,
        "neg": -a,
        "exp": a.exp(),
        "log": a.log(),
        "tanh": a.tanh(),
        "sigmoid": a.sigmoid(),
        "relu": a.relu(),
    }
    for op, node in cases.items():
        assert node.op == op
        assert all(type(ch) is Value for ch in node.children)


# --------------------------------------------------------------------------- forward values
def test_forward_values_match_math():
    a, b = Value(1.7), Value(-0.6)
    assert (a + b).data == 1.7 + -0.6
    assert (a - b).data == 1.7 - -0.6
    assert (a * b).data == 1.7 * -0.6
    assert (a / b).data == 1.7 / -0.6
    assert (a**b).data == 1.7**-0.6
    assert (a**2).data == 1.7**2
    assert (-a).data == -1.7
    assert a.exp().data == math.exp(1.7)
    assert a.log().data == math.log(1.7)
    assert b.tanh().data == math.tanh(-0.6)
    assert math.isclose(b.sigmoid().data, 1 / (1 + math.exp(0.6)), rel_tol=1e-15)
    assert b.relu().data == 0.0 and a.relu().data == 1.7


def test_domain_errors_and_overflow():
    with pytest.raises(ValueError, match="log"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="log"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="real"):
        Value(-8.0) ** 0.5
    with pytest.raises(ValueError):
        Value(0.0) ** -1.0
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / Value(0.0)
    with pytest.raises(ZeroDivisionError):
        1.0 / Value(0.0)
    assert Value(1000.0).exp().data == math.inf
    assert (Value(10.0) ** 400).data == math.inf
    assert (Value(-10.0) ** 401).data == -math.inf
    # sigmoid stays finite and exact at the extremes (no overflow in exp)
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


# --------------------------------------------------------------------------- gradients
UNARY = {
    "neg": (lambda a: -a, floats(-5, 5)),
    "exp": (lambda a: a.exp(), floats(-5, 5)),
    "log": (lambda a: a.log(), floats(0.05, 50)),
    "tanh": (lambda a: a.tanh(), floats(-4, 4)),
    "sigmoid": (lambda a: a.sigmoid(), floats(-8, 8)),
    "relu": (lambda a: a.relu(), away_from_zero(1e-3, 5)),
    "square": (lambda a: a**2, floats(-5, 5)),
    "cube": (lambda a: a**3.0, floats(-3, 3)),
    "sqrt": (lambda a: a**0.5, floats(0.05, 20)),
    "inverse": (lambda a: a**-1, away_from_zero(0.2, 5)),
    "add const": (lambda a: a + 2.5, floats(-5, 5)),
    "radd const": (lambda a: 2.5 + a, floats(-5, 5)),
    "sub const": (lambda a: a - 2.5, floats(-5, 5)),
    "rsub const": (lambda a: 2.5 - a, floats(-5, 5)),
    "mul const": (lambda a: a * -1.5, floats(-5, 5)),
    "rmul const": (lambda a: -1.5 * a, floats(-5, 5)),
    "div const": (lambda a: a / 0.7, floats(-5, 5)),
    "rdiv const": (lambda a: 3.0 / a, away_from_zero(0.2, 5)),
    "rpow const": (lambda a: 1.7**a, floats(-4, 4)),
}

BINARY = {
    "add": (lambda a, b: a + b, floats(-5, 5), floats(-5, 5)),
    "sub": (lambda a, b: a - b, floats(-5, 5), floats(-5, 5)),
    "mul": (lambda a, b: a * b, floats(-5, 5), floats(-5, 5)),
    "div": (lambda a, b: a / b, floats(-5, 5), away_from_zero(0.2, 5)),
    "pow": (lambda a, b: a**b, floats(0.2, 4), floats(-2, 2)),
    # composite expressions: chain rule through several ops and a reused input
    "neuron": (lambda a, b: (a * b + b.exp() - 0.5).tanh(), floats(-2, 2), floats(-2, 2)),
    "reuse": (lambda a, b: a * a * b - a / (b * b + 1.0), floats(-3, 3), floats(-3, 3)),
    "softplus": (lambda a, b: (1 + (a - b).exp()).log(), floats(-4, 4), floats(-4, 4)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary_gradients_match_finite_differences(name, data):
    fn, strategy = UNARY[name]
    assert_grads_match(fn, [data.draw(strategy)])


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_gradients_match_finite_differences(name, data):
    fn, sa, sb = BINARY[name]
    assert_grads_match(fn, [data.draw(sa), data.draw(sb)])


def test_derivatives_exact_values():
    a, b = Value(3.0), Value(-2.0)
    (a * b).backward()
    assert (a.grad, b.grad) == (-2.0, 3.0)
    a, b = Value(3.0), Value(2.0)
    (a / b).backward()
    assert (a.grad, b.grad) == (0.5, -0.75)
    a = Value(0.5)
    a.tanh().backward()
    assert a.grad == 1 - math.tanh(0.5) ** 2
    a = Value(-1.0)
    a.relu().backward()
    assert a.grad == 0.0
    a = Value(0.0)  # relu'(0) is taken as 0
    a.relu().backward()
    assert a.grad == 0.0


def test_reflected_ops():
    v = Value(4.0)
    cases = [  # (result, data, d/dv)
        (2 + v, 6.0, 1.0),
        (2 * v, 8.0, 2.0),
        (2 - v, -2.0, -1.0),
        (2 / v, 0.5, -2.0 / 16.0),
        (2**v, 16.0, 16.0 * math.log(2.0)),
    ]
    for out, data, slope in cases:
        v.grad = 0.0
        out.backward()
        assert out.data == data
        assert math.isclose(v.grad, slope, rel_tol=1e-15), (out, v.grad, slope)


def test_value_exponent():
    a, b = Value(2.0), Value(3.0)
    c = a**b
    c.backward()
    assert c.data == 8.0
    assert a.grad == 3.0 * 4.0  # b * a**(b-1)
    assert math.isclose(b.grad, 8.0 * math.log(2.0), rel_tol=1e-15)  # a**b * ln a


def test_value_exponent_edge_cases():
    # base 0: d/db 0**b = 0 (the limit from b > 0), d/da 0**2 = 0
    a, b = Value(0.0), Value(2.0)
    (a**b).backward()
    assert (a.grad, b.grad) == (0.0, 0.0)
    # negative base with an integer exponent: defined, d/da fine, d/db undefined -> nan
    a, b = Value(-2.0), Value(3.0)
    c = a**b
    c.backward()
    assert c.data == -8.0 and a.grad == 12.0 and math.isnan(b.grad)
    # sqrt at 0: slope is +inf
    a = Value(0.0)
    (a**0.5).backward()
    assert a.grad == math.inf


def test_builtin_sum_works():
    vs = [Value(float(i)) for i in range(1, 5)]
    s = sum(vs)
    assert type(s) is Value and s.data == 10.0
    s.backward()
    assert [v.grad for v in vs] == [1.0] * 4
    m = sum(v * v for v in vs)
    m.backward()
    assert [v.grad for v in vs] == [1.0 + 2 * i for i in range(1, 5)]


def test_value_sum_is_one_node_and_matches_a_chain():
    xs = [Value(0.5 * i - 1.0) for i in range(6)]
    b = Value(0.3)
    s = Value.sum((x * x for x in xs), b)
    assert s.op == "sum" and len(s.children) == 7 and s.children[0] is b
    chain = sum((x * x for x in xs), b)
    assert s.data == chain.data
    s.backward()
    got = [x.grad for x in xs] + [b.grad]
    for v in [*xs, b]:
        v.grad = 0.0
    chain.backward()
    assert got == [x.grad for x in xs] + [b.grad]
    assert vsum is Value.sum


def test_value_sum_numbers_repeats_and_empty():
    x = Value(2.0)
    s = vsum([x, 1.5, x, np.float64(0.5)], start=1)
    assert s.data == 7.0 and s.aux == 3.0 and s.children == (x, x)
    s.backward()
    assert x.grad == 2.0
    empty = vsum([])
    assert empty.data == 0.0 and empty.op == "" and empty.children == ()
    assert vsum([1, 2], start=3).data == 6.0
    with pytest.raises(TypeError, match="str"):
        vsum([x, "a"])


@SETTINGS
@given(st.lists(st.tuples(floats(-3, 3), floats(-3, 3), st.integers(0, 3)), min_size=1, max_size=6))
def test_dot_matches_elementwise_products(rows):
    # kind: 0 Value.Value, 1 Value.number, 2 number.Value, 3 number.number
    xs_v = [Value(x) for x, _, _ in rows]
    ys_v = [Value(y) for _, y, _ in rows]
    xs = [xv if k in (0, 1) else x for xv, (x, _, k) in zip(xs_v, rows)]
    ys = [yv if k in (0, 2) else y for yv, (_, y, k) in zip(ys_v, rows)]
    d = dot(xs, ys)
    want = sum(x * y for x, y, _ in rows)
    assert math.isclose(d.data, want, rel_tol=1e-12, abs_tol=1e-12)
    d.backward()
    for xv, yv, (x, y, k) in zip(xs_v, ys_v, rows):
        assert xv.grad == (y if k in (0, 1) else 0.0)
        assert yv.grad == (x if k in (0, 2) else 0.0)


def test_dot_of_a_vector_with_itself_and_errors():
    ps = [Value(1.0), Value(-2.0), Value(3.0)]
    sq = Value.dot(ps, ps)  # Σ p² -> grad 2p
    assert sq.op == "dot" and sq.data == 14.0
    sq.backward()
    assert [p.grad for p in ps] == [2.0, -4.0, 6.0]
    with pytest.raises(ValueError, match="length"):
        dot(ps, ps[:2])
    assert dot([1.0, 2.0], [3.0, 4.0]).data == 11.0


# --------------------------------------------------------------------------- graph semantics
def test_reused_node_gets_all_contributions():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and c.grad == 1.0
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0


def test_repeated_backward_doubles_leaf_grads_exactly():
    def build():
        a, b = Value(0.7), Value(-1.3)
        mid = (a * b).tanh()
        out = mid * a + b.exp() / (a * a + 1.0)
        return a, b, mid, out

    a, b, mid, out = build()
    out.backward()
    ga, gb, gmid = a.grad, b.grad, mid.grad
    assert ga != 0.0 and gb != 0.0
    out.backward()
    assert (a.grad, b.grad) == (2 * ga, 2 * gb)
    assert mid.grad == gmid  # intermediates are recomputed, not accumulated
    assert out.grad == 1.0
    out.zero_grad()
    assert (a.grad, b.grad, mid.grad, out.grad) == (0.0, 0.0, 0.0, 0.0)
    out.backward()
    assert (a.grad, b.grad, mid.grad) == (ga, gb, gmid)


def test_intermediate_grads_are_fresh_per_root_leaves_accumulate():
    a, b = Value(2.0), Value(5.0)
    c = a * b
    d = c * 3.0
    e = c * 7.0
    d.backward()
    assert c.grad == 3.0 and a.grad == 15.0
    e.backward()
    assert c.grad == 7.0  # d(e)/d(c), not 3 + 7
    assert a.grad == 15.0 + 35.0 and b.grad == 6.0 + 14.0


def test_backward_on_a_leaf_and_custom_seed():
    a = Value(1.0)
    a.backward()
    a.backward()
    assert a.grad == 2.0
    x = Value(3.0)
    (x * x).backward(grad=0.5)
    assert x.grad == 3.0


def test_topological_order_children_first_and_complete():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c + b.tanh()
    order = e.topological_order()
    assert order[-1] is e
    assert len(order) == len({id(n) for n in order}) == 7
    pos = {id(n): k for k, n in enumerate(order)}
    assert all(pos[id(ch)] < pos[id(n)] for n in order for ch in n.children)


def mlp_problem(seed: int, n_points: int = 20, hidden: int = 8):
    """Data and initial parameters for a 2-hidden-1 MLP with hinge loss."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_points, 2)).tolist()
    Y = [1.0 if v > 0 else -1.0 for v in rng.normal(size=n_points)]
    theta = rng.uniform(-1, 1, 4 * hidden + 1).tolist()
    return X, Y, theta


def mlp_loss(theta: list[float], X, Y) -> tuple[Value, list[Value]]:
    """Hinge loss + L2 of an MLP 2 -> hidden (relu) -> 1 (tanh); returns (loss, params)."""
    hidden = (len(theta) - 1) // 4
    params = [Value(t) for t in theta]
    w1 = [params[2 * j : 2 * j + 2] for j in range(hidden)]
    b1 = params[2 * hidden : 3 * hidden]
    w2 = params[3 * hidden : 4 * hidden]
    b2 = params[-1]
    losses = []
    for x, y in zip(X, Y):
        h = [sum((wi * xi for wi, xi in zip(row, x)), b).relu() for row, b in zip(w1, b1)]
        score = sum((wi * hi for wi, hi in zip(w2, h)), b2).tanh()
        losses.append((1 + -y * score).relu())
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)
    return loss, params


def test_determinism_same_graph_same_grads_and_order():
    X, Y, theta = mlp_problem(seed=3)
    loss1, params1 = mlp_loss(theta, X, Y)
    loss2, params2 = mlp_loss(theta, X, Y)
    loss1.backward()
    loss2.backward()
    assert loss1.data == loss2.data
    assert [p.grad for p in params1] == [p.grad for p in params2]
    assert sum(p.grad != 0.0 for p in params1) > len(params1) // 2
    o1, o2 = loss1.topological_order(), loss2.topological_order()
    assert [(n.op, n.data, n.grad) for n in o1] == [(n.op, n.data, n.grad) for n in o2]


def test_mlp_gradients_match_finite_differences():
    X, Y, theta = mlp_problem(seed=5, n_points=6, hidden=4)
    loss, params = mlp_loss(theta, X, Y)
    loss.backward()
    for k in range(len(theta)):
        h = 1e-6
        up = mlp_loss([t + h if j == k else t for j, t in enumerate(theta)], X, Y)[0].data
        down = mlp_loss([t - h if j == k else t for j, t in enumerate(theta)], X, Y)[0].data
        assert math.isclose(params[k].grad, (up - down) / (2 * h), rel_tol=1e-4, abs_tol=1e-7)


def test_training_fits_a_line():
    xs = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]
    ys = [2 * x + 1 for x in xs]
    w, b = Value(0.0, label="w"), Value(0.0, label="b")
    first = None
    for _ in range(300):
        loss = vsum(((w * x + b) - y) ** 2 for x, y in zip(xs, ys)) / len(xs)
        first = loss.data if first is None else first
        w.grad = b.grad = 0.0
        loss.backward()
        w.data -= 0.1 * w.grad
        b.data -= 0.1 * b.grad
    assert first > 5.0 and loss.data < 1e-10
    assert math.isclose(w.data, 2.0, abs_tol=1e-5) and math.isclose(b.data, 1.0, abs_tol=1e-5)


# --------------------------------------------------------------------------- depth and memory
def test_million_deep_chain_backward_is_iterative_and_fast():
    x = Value(1.0)
    y = x
    start = time.perf_counter()
    for _ in range(10**6):
        y = y * 1.0
    y = y + 0.0
    y.backward()
    elapsed = time.perf_counter() - start
    assert x.grad == 1.0
    assert elapsed < 10.0
    del y


DEEP_FREE_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.setrecursionlimit(1000)
    from tinygrad_opt.value import Value

    def run():
        x = Value(2.0)
        y = x
        for _ in range(10**6):
            y = y + x
        y.backward()
        assert x.grad == 10**6 + 1, x.grad
        del y  # frees a million nested nodes: must not recurse in C
        print("freed")

    threading.stack_size(512 * 1024)  # a small C stack makes dealloc recursion crash
    t = threading.Thread(target=run)
    t.start()
    t.join()
    """
)


def test_million_deep_chain_frees_without_crashing():
    proc = subprocess.run(
        [sys.executable, "-c", DEEP_FREE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "freed"


def test_no_slots_dict_and_weakrefs_supported():
    v = Value(1.0)
    assert not hasattr(v, "__dict__")
    with pytest.raises(AttributeError):
        v.something = 1
    assert weakref.ref(v)() is v


def test_intermediate_nodes_freed_by_refcount_alone():
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        a, b = Value(0.5), Value(-2.0)
        mid = (a * b).tanh()
        root = mid * a + b.exp()
        root.backward()
        mid_ref, root_ref = weakref.ref(mid), weakref.ref(root)
        inner_ref = weakref.ref(mid.children[0])  # a * b
        del mid
        assert mid_ref() is not None  # still held by root
        del root
        assert root_ref() is None
        assert mid_ref() is None
        assert inner_ref() is None
        assert a.grad != 0.0 and b.grad != 0.0  # leaves survive with their grads
    finally:
        if was_enabled:
            gc.enable()


def test_dropped_training_graph_leaves_no_cyclic_garbage():
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        # the detector works: a deliberate cycle is found
        cyc = [Value(1.0)]
        cyc.append(cyc)
        del cyc
        assert gc.collect() > 0

        X, Y, theta = mlp_problem(seed=1, n_points=50, hidden=16)
        loss, params = mlp_loss(theta, X, Y)
        assert len(loss.topological_order()) > 5000
        loss.backward()
        for p in params:
            p.data -= 0.1 * p.grad
        del loss
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
