"""Gradients of every Tensor op, checked with ``gradcheck`` in float64 on hypothesis shapes.

Shapes come from hypothesis (broadcasting pairs, 0-d, size-1 dims, axis/keepdims
variants); the numbers come from a numpy generator seeded by hypothesis and are kept
away from the points where an op is not differentiable (|x| small for abs/relu, ties
for max/min, the edges of clip). Ties and kinks are tested on purpose, separately,
against their closed-form gradients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_opt import Tensor, cat, gradcheck, maximum, minimum, stack, where
from tinygrad_opt.ops import erf

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
two_shapes = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3
)
three_shapes = hnp.mutually_broadcastable_shapes(
    num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=3
)


def data(rng: np.random.Generator, shape, domain: str = "real") -> np.ndarray:
    """float64 numbers of ``shape`` from a domain where the op under test is smooth."""
    n = math.prod(shape)
    if domain == "real":
        x = rng.uniform(-2, 2, n)
    elif domain == "pos":
        x = rng.uniform(0.5, 2, n)
    elif domain == "away0":  # |x| >= 0.2: no kink of abs / relu / leaky_relu nearby
        x = rng.choice([-1.0, 1.0], n) * rng.uniform(0.2, 2, n)
    elif domain == "distinct":  # a shuffled grid with spacing 0.25: no ties for max / min
        x = rng.permutation(n) * 0.25 - 0.125 * n + rng.uniform(0, 0.02, n)
    else:  # pragma: no cover
        raise ValueError(domain)
    return x.reshape(shape)


def leaf(rng, shape, domain="real") -> Tensor:
    return Tensor(data(rng, shape, domain), requires_grad=True, dtype=np.float64)


def check(fn, *inputs: Tensor) -> None:
    assert gradcheck(fn, list(inputs))


@st.composite
def shape_and_axis(draw, min_dims: int = 0):
    """A shape and an ``axis`` for it: None, an int (maybe negative) or a tuple of axes."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    if nd == 0:
        return shape, None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    neg = draw(st.lists(st.booleans(), min_size=len(axes), max_size=len(axes)))
    return shape, tuple(a - nd if n else a for a, n in zip(axes, neg))


def _count(shape, axis) -> int:
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


# --------------------------------------------------------------------------- binary ops

BINARY = {
    "add": (lambda a, b: a + b, "real", "real"),
    "sub": (lambda a, b: a - b, "real", "real"),
    "mul": (lambda a, b: a * b, "real", "real"),
    "div": (lambda a, b: a / b, "real", "away0"),
    "pow": (lambda a, b: a**b, "pos", "real"),
    "maximum": (lambda a, b: a.maximum(b), "real", "real"),
    "minimum": (lambda a, b: a.minimum(b), "real", "real"),
    "maximum_fn": (lambda a, b: maximum(a, b), "real", "real"),
    "minimum_fn": (lambda a, b: minimum(a, b), "real", "real"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=two_shapes, seed=seeds)
def test_binary_broadcasting(name, shapes, seed):
    fn, da, db = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = leaf(rng, sa, da), leaf(rng, sb, db)
    out = fn(a, b)
    assert out.shape == shapes.result_shape
    check(fn, a, b)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize(
    "sa, sb", [((3, 1, 4), (2, 4)), ((), (2, 3)), ((2, 1), ()), ((1,), (1, 1))]
)
def test_binary_fixed_broadcasts(name, sa, sb):
    fn, da, db = BINARY[name]
    rng = np.random.default_rng(0)
    a, b = leaf(rng, sa, da), leaf(rng, sb, db)
    check(fn, a, b)
    # the gradient has the input's shape, whatever the broadcast did
    fn(a, b).sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb


def test_broadcast_gradient_is_summed_over_copies():
    a = Tensor(np.ones((3, 1, 4)), requires_grad=True, dtype=np.float64)
    b = Tensor(np.ones((2, 4)), requires_grad=True, dtype=np.float64)
    (a * b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1, 4), 2.0))  # 2 copies along axis 1
    np.testing.assert_array_equal(b.grad, np.full((2, 4), 3.0))  # 3 copies along axis 0


SCALAR_FNS = {
    "radd": (lambda x: 2.5 + x, "real"),
    "add_scalar": (lambda x: x + 2, "real"),
    "rsub": (lambda x: 2.5 - x, "real"),
    "sub_scalar": (lambda x: x - 2, "real"),
    "rmul": (lambda x: 2.5 * x, "real"),
    "mul_scalar": (lambda x: x * -3, "real"),
    "rdiv": (lambda x: 2.5 / x, "away0"),
    "div_scalar": (lambda x: x / 2.5, "real"),
    "pow_int": (lambda x: x**3, "real"),
    "pow_half": (lambda x: x**0.5, "pos"),
    "pow_negfrac": (lambda x: x**-1.5, "pos"),
    "rpow": (lambda x: 2.0**x, "real"),
    "rpow_e": (lambda x: math.e**x, "real"),
    "neg": (lambda x: -x, "real"),
    "ndarray_radd": (lambda x: np.linspace(-1, 1, 3) + x, "real"),
    "ndarray_rmul": (lambda x: np.linspace(-1, 1, 3) * x, "real"),
    "ndarray_rsub": (lambda x: np.linspace(-1, 1, 3) - x, "real"),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FNS))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_scalar_operands(name, shape, seed):
    fn, dom = SCALAR_FNS[name]
    if name.startswith("ndarray"):
        shape = (*shape[:-1], 3) if shape else (3,)
    x = leaf(np.random.default_rng(seed), shape, dom)
    check(fn, x)


def test_scalar_operand_closed_forms():
    x = Tensor([0.5, 2.0], requires_grad=True, dtype=np.float64)
    (2.0**x).sum().backward()
    np.testing.assert_allclose(x.grad, 2.0**x.data * math.log(2.0), rtol=1e-15)
    x.zero_grad()
    (3.0 / x).sum().backward()
    np.testing.assert_allclose(x.grad, -3.0 / x.data**2, rtol=1e-15)
    x.zero_grad()
    (1.0 - x).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, -1.0])


def test_where_gradients_route_by_condition():
    rng = np.random.default_rng(1)
    a, b = leaf(rng, (3, 1, 4)), leaf(rng, (2, 4))
    cond = np.array([True, False, False, True])
    where(cond, a, b).sum().backward()
    # a is picked in columns 0 and 3, twice each (broadcast over 2 rows)
    np.testing.assert_array_equal(a.grad, np.broadcast_to([2.0, 0, 0, 2.0], (3, 1, 4)))
    np.testing.assert_array_equal(b.grad, np.broadcast_to([0, 3.0, 3.0, 0], (2, 4)))


@SETTINGS
@given(shapes=three_shapes, seed=seeds)
def test_where(shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    cond = rng.random(sc) < 0.5
    a, b = leaf(rng, sa), leaf(rng, sb)
    assert where(cond, a, b).shape == shapes.result_shape
    check(lambda a, b: where(cond, a, b), a, b)
    check(lambda a, b: a.where(cond, b), a, b)
    check(lambda a: where(cond, a, 0.5), a)  # scalar other
    check(lambda b: where(cond, -1.0, b), b)  # scalar first


# --------------------------------------------------------------------------- unary ops

UNARY = {
    "exp": (lambda x: x.exp(), "real"),
    "log": (lambda x: x.log(), "pos"),
    "sqrt": (lambda x: x.sqrt(), "pos"),
    "abs": (lambda x: x.abs(), "away0"),
    "tanh": (lambda x: x.tanh(), "real"),
    "sigmoid": (lambda x: x.sigmoid(), "real"),
    "relu": (lambda x: x.relu(), "away0"),
    "leaky_relu": (lambda x: x.leaky_relu(), "away0"),
    "leaky_relu_0.2": (lambda x: x.leaky_relu(0.2), "away0"),
    "gelu": (lambda x: x.gelu(), "real"),
    "gelu_none": (lambda x: x.gelu(approximate="none"), "real"),
    "gelu_tanh": (lambda x: x.gelu(approximate="tanh"), "real"),
    "neg": (lambda x: -x, "real"),
    "std": (lambda x: (x.reshape(-1).pad((0, 1), value=3.0)).std(), "real"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(shape=shapes, seed=seeds)
def test_unary(name, shape, seed):
    fn, dom = UNARY[name]
    x = leaf(np.random.default_rng(seed), shape, dom)
    out = fn(x)
    if name != "std":
        assert out.shape == x.shape
    check(fn, x)


def _away_from(x: np.ndarray, points, gap: float = 0.05) -> np.ndarray:
    for p in points:
        if p is not None:
            near = np.abs(x - p) < gap
            x = np.where(near, p + np.where(x >= p, gap, -gap), x)
    return x


@SETTINGS
@given(
    shape=shapes,
    seed=seeds,
    lo=st.one_of(st.none(), st.floats(-1.5, 0)),
    hi=st.one_of(st.none(), st.floats(0.1, 1.5)),
)
def test_clip(shape, seed, lo, hi):
    if lo is None and hi is None:
        lo = -0.5
    x0 = _away_from(data(np.random.default_rng(seed), shape), (lo, hi))
    x = Tensor(x0, requires_grad=True)
    check(lambda t: t.clip(lo, hi), x)
    check(lambda t: t.clamp(min=lo, max=hi), x)


def test_kinks_take_torch_conventions():
    # abs'(0) = 0, relu'(0) = 0, leaky_relu'(0) = slope, clip passes the gradient at its edges
    x = Tensor([-1.0, 0.0, 1.0], requires_grad=True, dtype=np.float64)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [-1, 0, 1])
    x.zero_grad()
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 1])
    x.zero_grad()
    x.leaky_relu(0.25).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.25, 0.25, 1])
    x.zero_grad()
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 1, 1])
    x.zero_grad()
    x.clip(-0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 0])


def test_erf_matches_math_erf():
    # The series alone loses ~1e-13 to cancellation near |x| = 3 (a bug this caught).
    x = np.linspace(-7, 7, 2801)
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), expected, rtol=0, atol=3e-15)
    assert erf(np.array(0.0)) == 0.0
    np.testing.assert_array_equal(erf(np.array([-40.0, 40.0])), [-1.0, 1.0])


def test_gelu_closed_forms():
    x = np.linspace(-6, 6, 49)
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    t = Tensor(x, requires_grad=True)
    out = t.gelu()
    np.testing.assert_allclose(out.data, x * cdf, rtol=1e-14, atol=1e-14)
    out.sum().backward()
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(t.grad, cdf + x * pdf, rtol=1e-13, atol=1e-14)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(Tensor(x).gelu("tanh").data, tanh_form, rtol=1e-14)


def test_pow_with_zero_base_has_finite_exponent_grad():
    # d(0^b)/db is taken as 0 (torch does the same), not nan from 0·log 0
    a = Tensor([0.0, 0.0], requires_grad=True, dtype=np.float64)
    b = Tensor([2.0, 3.0], requires_grad=True, dtype=np.float64)
    (a**b).sum().backward()
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])


# --------------------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((4,), (4,)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((3, 4), (4, 2)),
    ((1, 1), (1, 1)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
]


@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES)
def test_matmul_fixed(sa, sb):
    rng = np.random.default_rng(0)
    a, b = leaf(rng, sa), leaf(rng, sb)
    assert (a @ b).shape == np.matmul(a.data, b.data).shape
    check(lambda a, b: a @ b, a, b)
    check(lambda a, b: a.matmul(b), a, b)


@SETTINGS
@given(
    batch=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
    n=st.integers(1, 3),
    k=st.integers(1, 3),
    m=st.integers(1, 3),
    a_vec=st.booleans(),
    b_vec=st.booleans(),
    seed=seeds,
)
def test_matmul_batched(batch, n, k, m, a_vec, b_vec, seed):
    ba, bb = batch.input_shapes
    sa = (k,) if a_vec else (*ba, n, k)
    sb = (k,) if b_vec else (*bb, k, m)
    rng = np.random.default_rng(seed)
    a, b = leaf(rng, sa), leaf(rng, sb)
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data), rtol=1e-14)
    check(lambda a, b: a @ b, a, b)


def test_matmul_with_constant_operand():
    rng = np.random.default_rng(3)
    a, w = leaf(rng, (2, 3)), data(rng, (3, 2))
    check(lambda a: a @ w, a)
    check(lambda a: w @ a, a)  # ndarray @ Tensor goes through __rmatmul__


def test_gradcheck_vjp_path_on_big_matmul():
    # 2·40·40 inputs × 1600 outputs is far past max_full_jacobian: random VJPs are used
    rng = np.random.default_rng(4)
    a, b = leaf(rng, (40, 40)), leaf(rng, (40, 40))
    check(lambda a, b: (a @ b).tanh(), a, b)


# --------------------------------------------------------------------------- reductions


@SETTINGS
@given(sa=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_sum_mean(sa, keepdims, seed):
    shape, axis = sa
    x = leaf(np.random.default_rng(seed), shape)
    expected = np.sum(x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(x.sum(axis, keepdims).data, expected, rtol=1e-14)
    np.testing.assert_allclose(x.mean(axis, keepdims).data, expected / _count(shape, axis))
    check(lambda t: t.sum(axis, keepdims), x)
    check(lambda t: t.mean(axis=axis, keepdims=keepdims), x)


@SETTINGS
@given(sa=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_max_min(sa, keepdims, seed):
    shape, axis = sa
    x = leaf(np.random.default_rng(seed), shape, "distinct")
    np.testing.assert_array_equal(x.amax(axis, keepdims).data, x.data.max(axis, keepdims=keepdims))
    np.testing.assert_array_equal(x.amin(axis, keepdims).data, x.data.min(axis, keepdims=keepdims))
    check(lambda t: t.amax(axis, keepdims), x)
    check(lambda t: t.amin(axis=axis, keepdims=keepdims), x)


@SETTINGS
@given(sa=shape_and_axis(), keepdims=st.booleans(), correction=st.sampled_from([0, 1]), seed=seeds)
def test_var(sa, keepdims, correction, seed):
    shape, axis = sa
    if _count(shape, axis) <= correction:
        correction = 0
    x = leaf(np.random.default_rng(seed), shape)
    expected = np.var(x.data, axis=axis, keepdims=keepdims, ddof=correction)
    got = x.var(axis, keepdim=keepdims, correction=correction).data
    np.testing.assert_allclose(got, expected, atol=1e-14)
    check(lambda t: t.var(axis, keepdims, correction=correction), x)


@SETTINGS
@given(sa=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_logsumexp(sa, keepdims, seed):
    shape, axis = sa
    x = leaf(np.random.default_rng(seed), shape)
    expected = np.log(np.exp(x.data).sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(x.logsumexp(axis, keepdims).data, expected, rtol=1e-13)
    check(lambda t: t.logsumexp(axis, keepdims), x)


@SETTINGS
@given(sa=shape_and_axis(min_dims=1), seed=seeds)
def test_softmax_log_softmax(sa, seed):
    shape, axis = sa
    if not isinstance(axis, int):
        axis = -1
    x = leaf(np.random.default_rng(seed), shape)
    s = x.softmax(axis)
    np.testing.assert_allclose(s.data.sum(axis), 1.0, rtol=1e-14)
    np.testing.assert_allclose(x.log_softmax(axis).data, np.log(s.data), rtol=1e-12, atol=1e-15)
    check(lambda t: t.softmax(axis), x)
    check(lambda t: t.log_softmax(axis=axis), x)
    # a weighted loss, so the Jacobian is exercised off its null space
    w = data(np.random.default_rng(seed + 1), shape)
    check(lambda t: (t.softmax(axis) * w).sum(), x)


def test_max_ties_split_evenly_like_amax():
    x = Tensor([1.0, 1.0], requires_grad=True, dtype=np.float64)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.5, 0.5])
    y = Tensor([[3.0, 1.0, 3.0, 3.0], [0.0, 2.0, -1.0, 2.0]], requires_grad=True)
    y.amax(axis=1).sum().backward()
    np.testing.assert_allclose(y.grad, [[1 / 3, 0, 1 / 3, 1 / 3], [0, 0.5, 0, 0.5]], rtol=1e-7)
    z = Tensor([[2.0, 2.0], [2.0, 5.0]], requires_grad=True, dtype=np.float64)
    z.min().backward()
    np.testing.assert_allclose(z.grad, [[1 / 3, 1 / 3], [1 / 3, 0]])
    z.zero_grad()
    z.amin(axis=0, keepdims=True).sum().backward()
    np.testing.assert_array_equal(z.grad, [[0.5, 1], [0.5, 0]])


def test_elementwise_ties_split_evenly():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    b = Tensor([1.0, 1.0, 5.0], requires_grad=True, dtype=np.float64)
    a.maximum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1, 0])
    np.testing.assert_array_equal(b.grad, [0.5, 0, 1])
    a.zero_grad()
    b.zero_grad()
    a.minimum(b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0, 1])
    np.testing.assert_array_equal(b.grad, [0.5, 1, 0])


# --------------------------------------------------------------------------- shape ops


@SETTINGS
@given(shape=shapes, data_=st.data(), seed=seeds)
def test_reshape(shape, data_, seed):
    x = leaf(np.random.default_rng(seed), shape)
    target = list(data_.draw(st.permutations(shape)))
    if target and data_.draw(st.booleans()):
        target[data_.draw(st.integers(0, len(target) - 1))] = -1
    out = x.reshape(*target)
    assert out.shape == np.reshape(x.data, target).shape
    check(lambda t: t.reshape(target), x)
    check(lambda t: t.view(*target) * 2.0, x)


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), seed=seeds)
def test_transpose_permute_T(shape, data_, seed):
    nd = len(shape)
    x = leaf(np.random.default_rng(seed), shape)
    d0, d1 = data_.draw(st.integers(-nd, nd - 1)), data_.draw(st.integers(-nd, nd - 1))
    assert x.transpose(d0, d1).shape == np.swapaxes(x.data, d0, d1).shape
    check(lambda t: t.transpose(d0, d1), x)
    order = data_.draw(st.permutations(range(nd)))
    order = [o - nd if data_.draw(st.booleans()) else o for o in order]
    np.testing.assert_array_equal(x.permute(*order).data, np.transpose(x.data, order))
    check(lambda t: t.permute(order), x)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    check(lambda t: t.T, x)


@st.composite
def expand_target(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    lead = draw(st.lists(st.integers(1, 3), max_size=2))
    rest = []
    for n in shape:
        if n == 1:
            rest.append(draw(st.sampled_from([1, 2, 3, -1])))
        else:
            rest.append(draw(st.sampled_from([n, -1])))
    return shape, (*lead, *rest)


@SETTINGS
@given(st_=expand_target(), seed=seeds)
def test_expand(st_, seed):
    shape, target = st_
    x = leaf(np.random.default_rng(seed), shape)
    out = x.expand(*target)
    full = tuple(
        s if t == -1 else t for s, t in zip((0,) * (len(target) - len(shape)) + shape, target)
    )
    assert out.shape == full
    check(lambda t: t.expand(target), x)
    # each element is copied prod(full)/prod(shape) times
    x.expand(target).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(shape, math.prod(full) / math.prod(shape)))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=2), data_=st.data())
def test_squeeze_unsqueeze_flatten(shape, data_):
    nd = len(shape)
    rng = np.random.default_rng(0)
    x = leaf(rng, shape)
    check(lambda t: t.squeeze(), x)
    assert x.squeeze().shape == tuple(n for n in shape if n != 1)
    ones = [i for i, n in enumerate(shape) if n == 1]
    if ones:
        ax = data_.draw(st.sampled_from(ones))
        ax = ax - nd if data_.draw(st.booleans()) else ax
        assert x.squeeze(ax).shape == np.squeeze(x.data, ax).shape
        check(lambda t: t.squeeze(ax), x)
    ax = data_.draw(st.integers(-nd - 1, nd))
    assert x.unsqueeze(ax).shape == np.expand_dims(x.data, ax).shape
    check(lambda t: t.unsqueeze(ax), x)
    if nd:
        s = data_.draw(st.integers(0, nd - 1))
        e = data_.draw(st.integers(s, nd - 1))
        s, e = (
            (s - nd if data_.draw(st.booleans()) else s),
            (e - nd if data_.draw(st.booleans()) else e),
        )
        expected = (*shape[: s % nd], math.prod(shape[s % nd : e % nd + 1]), *shape[e % nd + 1 :])
        assert x.flatten(s, e).shape == expected
        check(lambda t: t.flatten(s, e), x)
    check(lambda t: t.flatten(), x)
    assert x.flatten().shape == (math.prod(shape),)


# --------------------------------------------------------------------------- indexing


@SETTINGS
@given(shape=shapes, data_=st.data(), seed=seeds)
def test_getitem_basic(shape, data_, seed):
    # slices (incl. negative steps), ints, Ellipsis and None
    index = data_.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x[index].data, x.data[index])
    check(lambda t: t[index], x)


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), seed=seeds)
def test_getitem_integer_arrays(shape, data_, seed):
    # integer arrays repeat elements freely: their gradients must add up
    index = data_.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x[index].data, x.data[index])
    check(lambda t: t[index], x)
    x[index].sum().backward()
    counts = np.zeros(shape)
    np.add.at(counts, index, 1.0)
    np.testing.assert_array_equal(x.grad, counts)


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), seed=seeds)
def test_getitem_bool_mask(shape, data_, seed):
    x = leaf(np.random.default_rng(seed), shape)
    k = data_.draw(st.integers(1, len(shape)))
    mask = data_.draw(hnp.arrays(np.bool_, shape[:k]))
    np.testing.assert_array_equal(x[mask].data, x.data[mask])
    check(lambda t: t[mask], x)
    x[mask].sum().backward()
    np.testing.assert_array_equal(
        x.grad, np.broadcast_to(mask.reshape(mask.shape + (1,) * (len(shape) - k)), shape)
    )


@st.composite
def mixed_index(draw, shape):
    """A tuple mixing slices, ints, integer lists (one length for all) and maybe Ellipsis/None."""
    k = draw(st.integers(1, 4))
    m = draw(st.integers(1, len(shape)))
    ellipsis_first = draw(st.booleans())  # then the parts index the last m axes
    parts = []
    for n in shape[-m:] if ellipsis_first else shape[:m]:
        kind = draw(st.sampled_from(["slice", "int", "array"]))
        if kind == "slice":
            parts.append(draw(st.slices(n)))
        elif kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            parts.append(draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k)))
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if ellipsis_first:
        parts.insert(0, Ellipsis)
    elif draw(st.booleans()):
        parts.append(Ellipsis)
    return tuple(parts)


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), seed=seeds)
def test_getitem_mixed(shape, data_, seed):
    index = data_.draw(mixed_index(shape))
    x = leaf(np.random.default_rng(seed), shape)
    # torch applies plain ints before advanced indices (x[0, :, [1, 2]] of a (3, 4, 5)
    # tensor is (4, 2); numpy says (2, 4)), so torch is the reference when present
    torch = pytest.importorskip("torch")
    if any(isinstance(p, slice) and (p.step or 1) < 0 for p in index):  # torch has no such
        np_index = tuple(np.asarray(p) if isinstance(p, list) else p for p in index)
        mixes = any(isinstance(p, list) for p in index) and any(isinstance(p, int) for p in index)
        if not mixes:
            np.testing.assert_array_equal(x[index].data, x.data[np_index])
        check(lambda t: t[index], x)
        return
    t_index = tuple(torch.tensor(p) if isinstance(p, list) else p for p in index)
    np.testing.assert_array_equal(x[index].data, torch.from_numpy(x.data)[t_index].numpy())
    check(lambda t: t[index], x)


def test_getitem_repeated_indices_accumulate():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])
    m = Tensor(np.zeros((2, 3)), requires_grad=True)
    m[[1, 1, 1], [2, 2, 0]].sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0, 0], [1, 0, 2]])
    m.zero_grad()
    (m[[0, 0]] * Tensor([[1.0], [10.0]])).sum().backward()  # whole rows, weighted
    np.testing.assert_array_equal(m.grad, [[11, 11, 11], [0, 0, 0]])


def test_getitem_mask_and_array_in_one_tuple():
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    y = x[np.array([True, False, True]), [1, 1]]
    np.testing.assert_array_equal(y.data, [1.0, 9.0])
    check(lambda t: t[np.array([True, False, True]), [3, 3]], x)


def test_iteration_gives_rows_with_grads():
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    total = None
    for row in x:
        total = row.sum() if total is None else total + row.sum() * 2.0
    total.backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [2, 2], [2, 2]])


# --------------------------------------------------------------------------- cat, stack, pad


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), seed=seeds)
def test_cat(shape, data_, seed):
    nd = len(shape)
    axis = data_.draw(st.integers(-nd, nd - 1))
    sizes = data_.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    rng = np.random.default_rng(seed)
    shapes_ = [tuple(s if i != axis % nd else k for i, s in enumerate(shape)) for k in sizes]
    xs = [leaf(rng, s) for s in shapes_]
    out = cat(xs, axis=axis)
    np.testing.assert_array_equal(out.data, np.concatenate([x.data for x in xs], axis=axis))
    check(lambda *ts: cat(list(ts), axis=axis), *xs)
    check(lambda *ts: cat(list(ts), axis) * 3.0, *xs)


@SETTINGS
@given(shape=shapes, data_=st.data(), seed=seeds)
def test_stack(shape, data_, seed):
    nd = len(shape)
    axis = data_.draw(st.integers(-nd - 1, nd))
    k = data_.draw(st.integers(1, 3))
    rng = np.random.default_rng(seed)
    xs = [leaf(rng, shape) for _ in range(k)]
    np.testing.assert_array_equal(stack(xs, axis).data, np.stack([x.data for x in xs], axis))
    check(lambda *ts: stack(list(ts), axis=axis), *xs)


def test_cat_stack_with_constant_and_shared_inputs():
    a = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    c = Tensor([5.0])
    out = cat([a, c, a], axis=0)
    (out * Tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(a.grad, [1 + 4, 2 + 5])
    assert c.grad is None
    a.zero_grad()
    stack([a, a * 2.0]).sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


@st.composite
def pad_widths(draw, nd):
    kind = draw(st.sampled_from(["int", "pair", "per_axis"]))
    w = st.integers(0, 2)
    if kind == "int":
        return draw(w)
    if kind == "pair":
        return (draw(w), draw(w))
    return tuple((draw(w), draw(w)) for _ in range(nd))


@SETTINGS
@given(shape=nonscalar_shapes, data_=st.data(), value=st.floats(-2, 2), seed=seeds)
def test_pad(shape, data_, value, seed):
    widths = data_.draw(pad_widths(len(shape)))
    x = leaf(np.random.default_rng(seed), shape)
    expected = np.pad(x.data, widths, mode="constant", constant_values=value)
    np.testing.assert_array_equal(x.pad(widths, value=value).data, expected)
    check(lambda t: t.pad(widths, value), x)


# --------------------------------------------------------------------------- compositions


@FEW
@given(seed=seeds, n=st.integers(1, 4))
def test_compositions(seed, n):
    rng = np.random.default_rng(seed)
    x, w1, b1, w2 = leaf(rng, (n, 3)), leaf(rng, (3, 4)), leaf(rng, (4,)), leaf(rng, (4, 2))
    target = rng.integers(0, 2, n)

    def mlp_loss(x, w1, b1, w2):
        h = (x @ w1 + b1).gelu("tanh")
        logits = h @ w2
        return -logits.log_softmax(-1)[np.arange(n), target].mean()

    check(mlp_loss, x, w1, b1, w2)

    def layernorm(x):
        mu = x.mean(-1, keepdims=True)
        return (x - mu) / (x.var(-1, keepdims=True, correction=0) + 1e-5).sqrt()

    check(layernorm, leaf(rng, (n, 4)))
    check(lambda x: (x * x).sum(axis=1).sqrt(), leaf(rng, (n, 3), "pos"))
    # the same tensor used in several places of one graph
    check(
        lambda x: (x * x.exp() + x.tanh() * x).sum(0) / (x.abs() + 1.0).sum(),
        leaf(rng, (n, 3), "away0"),
    )
