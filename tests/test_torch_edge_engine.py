"""Edge cases of the Tensor engine, forward values and gradients, against torch (float64).

torch is the oracle only (skipped without it). Each case runs the same function on our
Tensors and on torch tensors, back-propagates the same random upstream gradient, and
compares the output and every input gradient (nan and ±inf must agree too). Covered:
broadcasting with size-1, size-0 and 0-d operands; reductions over axis tuples, negative
axes, 0-d inputs, with keepdims; ties in max/min; var/std with a correction, incl. the
degenerate n <= correction and constant slices; indexing with repeated / negative
indices, steps, masks; matmul with 1-D and batched operands; the kinks of relu, abs,
clamp, sqrt, pow; softmax-type ops and losses at extreme logits; conv2d / pooling
with stride and padding; a 50k-op chain; shape errors naming both shapes.

Where we deliberately differ from torch (documented in docs/autograd.md), the test pins
our behaviour and says so.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_opt import Tensor, cat, stack, where
from tinygrad_opt.nn import functional as F
from tinygrad_opt.tensor import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

FEW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
NAN, INF = float("nan"), float("inf")


def compare(ours, theirs, *arrays, seed: int = 0, atol: float = 1e-10, rtol: float = 1e-9):
    """Run ``ours`` on Tensors and ``theirs`` on torch tensors; compare value and grads."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    xs = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        out = ours(*xs)
    ref = theirs(*ts)
    assert out.shape == tuple(ref.shape), f"shape: ours {out.shape}, torch {tuple(ref.shape)}"
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    u = np.random.default_rng(seed).standard_normal(out.shape)
    with np.errstate(all="ignore"):
        out.backward(u)
    ref.backward(torch.from_numpy(u))
    for i, (x, t) in enumerate(zip(xs, ts)):
        ours_g = np.zeros(x.shape) if x.grad is None else x.grad
        theirs_g = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        assert ours_g.shape == x.shape, f"grad {i}: shape {ours_g.shape} for input {x.shape}"
        np.testing.assert_allclose(
            ours_g, theirs_g, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )


def rand(seed: int, shape, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def ints(seed: int, shape) -> np.ndarray:
    """Small integers as floats: plenty of ties and zeros."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)


# --------------------------------------------------------------------------- broadcasting
two_shapes = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3
)
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@FEW
@given(shapes=two_shapes, seed=seeds, op=st.sampled_from(sorted(BINARY)))
def test_binary_broadcasting_matches_torch(shapes, seed, op):
    sa, sb = shapes.input_shapes
    a = rand(seed, sa, 0.5, 2.0)  # positive: pow's base and div's divisor stay safe
    b = rand(seed + 1, sb, 0.5, 2.0)
    compare(BINARY[op], BINARY[op], a, b, seed=seed)


@FEW
@given(shapes=two_shapes, seed=seeds, which=st.sampled_from(["maximum", "minimum"]))
def test_maximum_minimum_broadcast_with_ties(shapes, seed, which):
    sa, sb = shapes.input_shapes
    compare(
        lambda a, b: getattr(a, which)(b),
        lambda a, b: getattr(torch, which)(a, b),
        ints(seed, sa),
        ints(seed + 1, sb),
        seed=seed,
    )


@FEW
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, min_side=1, max_side=3),
    seed=seeds,
)
def test_where_broadcasts_all_three(shapes, seed):
    sc, sa, sb = shapes.input_shapes
    cond = np.asarray(np.random.default_rng(seed).random(sc) < 0.5)
    compare(
        lambda a, b: where(cond, a, b),
        lambda a, b: torch.where(torch.from_numpy(cond), a, b),
        rand(seed, sa),
        rand(seed + 1, sb),
        seed=seed,
    )


@pytest.mark.parametrize(
    "sa, sb",
    [((), (2, 3)), ((2, 1, 3), (4, 1)), ((1,), ()), ((3, 1, 1), (1, 1)), ((0, 3), (1, 3))],
)
def test_zero_d_and_size_one_operands(sa, sb):
    compare(lambda a, b: a * b + a / (b + 3), lambda a, b: a * b + a / (b + 3),
            rand(1, sa), rand(2, sb))  # fmt: skip


def test_backward_may_return_fewer_dims_than_the_input():
    # linear's bias gradient is (out,); a (1, out) bias must still get its (1, out) grad.
    # unbroadcast used to fail with a raw numpy "cannot reshape" error here.
    x, w, b = rand(0, (3, 4)), rand(1, (5, 4)), rand(2, (1, 5))
    compare(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b, x, w, b)


# --------------------------------------------------------------------------- reductions
@st.composite
def shape_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    nd = len(shape)
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    axes = tuple(a - nd if draw(st.booleans()) else a for a in axes)  # some negative
    return shape, axes if len(axes) > 1 or draw(st.booleans()) else axes[0]


@FEW
@given(sa=shape_and_axes(), keep=st.booleans(), seed=seeds)
def test_sum_mean_axis_tuples_negative_keepdims(sa, keep, seed):
    shape, axis = sa
    x = rand(seed, shape)
    compare(lambda t: t.sum(axis, keep), lambda t: t.sum(axis, keepdim=keep), x, seed=seed)
    compare(lambda t: t.mean(axis, keep), lambda t: t.mean(axis, keepdim=keep), x, seed=seed)
    compare(
        lambda t: t.logsumexp(axis, keep), lambda t: t.logsumexp(axis, keepdim=keep), x, seed=seed
    )


@FEW
@given(sa=shape_and_axes(), keep=st.booleans(), seed=seeds)
def test_max_min_with_ties_match_amax_amin(sa, keep, seed):
    shape, axis = sa
    x = ints(seed, shape)  # many ties: the gradient is split evenly, as torch.amax
    compare(lambda t: t.amax(axis, keep), lambda t: t.amax(axis, keepdim=keep), x, seed=seed)
    compare(lambda t: t.amin(axis, keep), lambda t: t.amin(axis, keepdim=keep), x, seed=seed)


def test_full_max_with_ties_matches_torch_max():
    # torch.max() without dim also splits evenly between ties
    x = [[1.0, 3.0], [3.0, 0.0]]
    compare(lambda t: t.max(), lambda t: t.max(), x)
    compare(lambda t: t.min(), lambda t: t.min(), x)


def test_max_along_axis_with_ties_is_max_dim_and_amax_splits():
    # axis= is torch's other name for dim: (values, indices), the gradient to one index;
    # amax splits tied maxima evenly, as torch.amax
    data = [[1.0, 3.0, 3.0, 0.0]]
    x = Tensor(data, requires_grad=True, dtype=np.float64)
    values, indices = x.max(axis=1)
    values.sum().backward()
    t = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    ref = t.max(axis=1)
    ref.values.sum().backward()
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
    np.testing.assert_array_equal(indices.data, ref.indices.numpy())
    x.zero_grad()
    x.amax(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5, 0]])


@FEW
@given(sa=shape_and_axes(), keep=st.booleans(), correction=st.sampled_from([0, 1]), seed=seeds)
def test_var_std_with_correction(sa, keep, correction, seed):
    shape, axis = sa
    n = int(np.prod([shape[a] for a in np.atleast_1d(axis)]))
    if n <= correction:  # degenerate: tested separately
        return
    x = rand(seed, shape)
    compare(
        lambda t: t.var(axis, keepdim=keep, correction=correction),
        lambda t: t.var(axis, keepdim=keep, correction=correction),
        x,
        seed=seed,
    )
    compare(
        lambda t: t.std(axis, keepdim=keep, correction=correction),
        lambda t: t.std(axis, keepdim=keep, correction=correction),
        x,
        seed=seed,
    )


def test_std_of_a_constant_slice_has_zero_gradient():
    # std = 0: torch takes the gradient as 0; sqrt's 1/(2·0) · 0 used to give nan
    x = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 3.0]])
    compare(lambda t: t.std(axis=1), lambda t: t.std(dim=1), x)
    compare(lambda t: t.std(axis=1, correction=0), lambda t: t.std(dim=1, correction=0), x)
    compare(lambda t: t.std(), lambda t: t.std(), np.full((2, 2), 5.0))


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch warns about dof <= 0
@pytest.mark.parametrize("op", ["var", "std"])
def test_variance_with_no_degrees_of_freedom_is_nan_not_an_exception(op):
    # n - correction <= 0: nan value and nan gradient, as torch (was ZeroDivisionError)
    compare(lambda t: getattr(t, op)(axis=0), lambda t: getattr(t, op)(dim=0), [[1.0, 2.0]])
    compare(
        lambda t: getattr(t, op)(correction=2),
        lambda t: getattr(t, op)(correction=2),
        [3.0],
    )


@pytest.mark.parametrize("axis", [0, -1, (0,), None])
def test_reductions_of_a_0d_tensor_accept_axis_0_and_minus_1(axis):
    # torch allows dim 0 / -1 on a 0-d tensor (they reduce nothing); we used to raise
    dim = () if axis is None else axis
    x = 1.5
    compare(lambda t: t.sum(axis), lambda t: t.sum(dim), x)
    compare(lambda t: t.mean(axis, keepdims=True), lambda t: t.mean(dim, keepdim=True), x)
    compare(lambda t: t.amax(axis), lambda t: t.amax(dim), x)
    compare(lambda t: t.amin(axis), lambda t: t.amin(dim), x)
    compare(lambda t: t.var(axis, correction=0), lambda t: t.var(dim, correction=0), x)
    compare(lambda t: t.logsumexp(axis), lambda t: t.logsumexp(dim), x)
    with pytest.raises(IndexError, match="over dim 1"):
        Tensor(1.5).sum(axis=1)


def test_empty_axis_tuple_reduces_nothing_like_numpy():
    # Deliberate: axis=() reduces no axis (numpy); torch's dim=() reduces all of them.
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert x.sum(axis=()).shape == (2, 3)
    assert tuple(torch.ones(2, 3).sum(dim=()).shape) == ()


# --------------------------------------------------------------------------- kinks
def test_kinks_follow_torch():
    x = [-2.0, -1.0, 0.0, 1.0, 2.0]
    compare(lambda t: t.relu(), lambda t: t.relu(), x)
    compare(lambda t: t.abs(), lambda t: t.abs(), x)
    compare(lambda t: t.leaky_relu(0.1), lambda t: TF.leaky_relu(t, 0.1), x)
    compare(lambda t: t.clip(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), x)
    compare(lambda t: t.clip(min=0.0), lambda t: t.clamp(min=0.0), x)
    compare(lambda t: t.clip(max=1.0), lambda t: t.clamp(max=1.0), x)
    compare(lambda t: t.clip(1.0, 1.0), lambda t: t.clamp(1.0, 1.0), x)
    compare(lambda t: t.clip(1.0, -1.0), lambda t: t.clamp(1.0, -1.0), x)  # lo > hi
    compare(lambda t: t.sqrt(), lambda t: t.sqrt(), [0.0, 1.0, 4.0])  # inf at 0
    compare(lambda t: t.log(), lambda t: t.log(), [0.0, 1.0])
    compare(
        lambda a, b: a.maximum(b),
        lambda a, b: torch.maximum(a, b),
        [1.0, 2.0, 0.0],
        [1.0, 0.0, 0.0],
    )


@pytest.mark.parametrize("k", [0, 1, 2, 3, -1, -2, 0.5])
def test_pow_with_constant_exponent_including_negative_bases(k):
    x = [-2.0, -0.5, 0.0, 0.5, 3.0] if float(k).is_integer() else [0.0, 0.5, 3.0]
    compare(lambda t: t**k, lambda t: t**k, x)
    compare(lambda t: t.pow(k), lambda t: t.pow(k), x)


def test_pow_zero_exponent_has_zero_base_gradient():
    # d(a^0)/da = 0 everywhere (torch); 0 · 0^(-1) used to give nan at a = 0
    compare(lambda a, b: a**b, lambda a, b: a**b, [0.0, 0.0, -2.0, 2.0], [0.0, 1.0, 2.0, 0.0])
    compare(lambda t: 2.0**t, lambda t: 2.0**t, [-2.0, 0.0, 3.0])
    compare(lambda t: 0.0**t, lambda t: 0.0**t, [0.0, 1.0, 2.0])


def test_pow_exponent_gradient_at_zero_base_with_negative_exponent_is_zero():
    # Documented (docs/autograd.md: "ḡ aᵇ ln a (0 where a = 0)"): we give 0 for every
    # exponent; torch zeroes only b >= 0 and gives ∓inf for b < 0 (where 0^b = inf).
    a = Tensor([0.0, 0.0], requires_grad=True, dtype=np.float64)
    b = Tensor([-1.0, -2.0], requires_grad=True, dtype=np.float64)
    with np.errstate(all="ignore"):
        (a**b).sum().backward()
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])


# --------------------------------------------------------------------------- indexing
def test_getitem_edge_cases():
    x = rand(0, (4, 5))
    cases = [
        (lambda t: t[[0, 0, 2, 0]], lambda t: t[[0, 0, 2, 0]]),  # repeats accumulate
        (lambda t: t[[0, 0, 1], [2, 2, 3]], lambda t: t[[0, 0, 1], [2, 2, 3]]),
        (lambda t: t[-1, -2], lambda t: t[-1, -2]),
        (lambda t: t[np.array([-1, 3, -1])], lambda t: t[torch.tensor([-1, 3, -1])]),
        (lambda t: t[::2, ::-2], lambda t: t.flip(1)[::2, ::2]),
        (lambda t: t[1::3, 3:0:-1], lambda t: t[1::3].flip(1)[:, 1:4]),
        (lambda t: t[x > 0], lambda t: t[torch.from_numpy(x > 0)]),
        (lambda t: t[[True, False, True, True]], lambda t: t[[True, False, True, True]]),
        (lambda t: t[None, ..., 1], lambda t: t[None, ..., 1]),
        (lambda t: t[1:, [0, 0, 4]], lambda t: t[1:, [0, 0, 4]]),
        (lambda t: t[Tensor([1, 1])], lambda t: t[torch.tensor([1, 1])]),
        (lambda t: t[np.array([[0, 1], [1, 1]])], lambda t: t[torch.tensor([[0, 1], [1, 1]])]),
        (lambda t: t[np.zeros(4, bool)], lambda t: t[torch.zeros(4, dtype=torch.bool)]),
        (lambda t: t[np.array([], dtype=int)], lambda t: t[torch.tensor([], dtype=torch.long)]),
    ]
    for i, (ours, theirs) in enumerate(cases):
        compare(ours, theirs, x, seed=i)
    y = rand(1, (3, 4, 2))
    compare(lambda t: t[[0, 1], :, [1, 1]], lambda t: t[[0, 1], :, [1, 1]], y)


@FEW
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    data=st.data(),
    seed=seeds,
)
def test_getitem_random_repeated_negative_indices(shape, data, seed):
    idx = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=6))
    compare(lambda t: t[idx], lambda t: t[idx], rand(seed, shape), seed=seed)


def _negative_step(index) -> bool:  # torch slices need positive steps
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, slice) and p.step is not None and p.step < 0 for p in parts)


@st.composite
def basic_index_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return shape, index


@FEW
@given(case=basic_index_cases(), seed=seeds)
def test_getitem_random_basic_indices(case, seed):
    shape, index = case
    if _negative_step(index):
        index = tuple(
            slice(p.start, p.stop, -p.step) if isinstance(p, slice) and p.step and p.step < 0
            else p
            for p in (index if isinstance(index, tuple) else (index,))
        )  # fmt: skip
    compare(lambda t: t[index], lambda t: t[index], rand(seed, shape), seed=seed)


@st.composite
def integer_index_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    result = hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)
    return shape, draw(hnp.integer_array_indices(shape, result_shape=result))


@FEW
@given(case=integer_index_cases(), seed=seeds)
def test_getitem_random_integer_array_indices(case, seed):
    # integer arrays (negative and repeated entries included) on the leading axes
    shape, index = case
    tindex = tuple(torch.from_numpy(np.asarray(i, dtype=np.int64)) for i in index)
    compare(lambda t: t[index], lambda t: t[tindex], rand(seed, shape), seed=seed)


# --------------------------------------------------------------------------- matmul
@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3,), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3,)),
        ((5, 2, 3), (3,)),
        ((3,), (5, 3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
        ((1, 2, 3), (5, 3, 4)),
        ((2, 3), (4, 3, 2)),
        ((0, 3), (3, 2)),
        ((2, 0), (0, 3)),
    ],
)
def test_matmul_1d_and_batched_broadcasting(sa, sb):
    compare(lambda a, b: a @ b, lambda a, b: a @ b, rand(0, sa), rand(1, sb))


# --------------------------------------------------------------------------- shape ops
def test_shape_ops():
    x3 = rand(0, (2, 3, 4))
    compare(lambda t: t.permute(-1, 0, 1), lambda t: t.permute(-1, 0, 1), x3)
    compare(lambda t: t.transpose(0, -1), lambda t: t.transpose(0, -1), x3)
    compare(lambda t: t.T, lambda t: t.permute(2, 1, 0), x3)
    compare(lambda t: t.reshape(-1, 2), lambda t: t.reshape(-1, 2), x3)
    compare(lambda t: t.flatten(1, -1), lambda t: t.flatten(1, -1), x3)
    compare(lambda t: t.expand(2, -1, 4), lambda t: t.expand(2, -1, 4), rand(1, (3, 1)))
    compare(lambda t: t.expand(2, 3), lambda t: t.expand(2, 3), 0.7)
    compare(lambda t: t.squeeze((0, 2)), lambda t: t.squeeze((0, 2)), rand(2, (1, 2, 1)))
    compare(lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1), rand(3, (2, 3)))
    compare(
        lambda t: t.pad(((1, 0), (0, 2)), value=3.0),
        lambda t: TF.pad(t, (0, 2, 1, 0), value=3.0),
        rand(4, (2, 3)),
    )
    a, b = rand(5, (2, 3)), rand(6, (2, 1))
    compare(lambda a, b: cat([a, b, a], axis=-1), lambda a, b: torch.cat([a, b, a], -1), a, b)
    compare(lambda a: cat([a, a], axis=0), lambda a: torch.cat([a, a], 0), a)
    compare(lambda a: stack([a, a], axis=-1), lambda a: torch.stack([a, a], -1), a)
    compare(lambda a, b: stack([a, b]), lambda a, b: torch.stack([a, b]), 1.0, 2.0)


# --------------------------------------------------------------------------- softmax & losses
BIG = np.array([[1e4, 1e4 - 1, 0.0], [-1e4, -1e4, -1e4], [-INF, 0.0, 1.0]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_with_huge_and_infinite_logits(axis):
    compare(lambda t: t.softmax(axis), lambda t: t.softmax(axis), BIG)
    compare(lambda t: t.log_softmax(axis), lambda t: t.log_softmax(axis), BIG)
    compare(lambda t: t.logsumexp(axis), lambda t: t.logsumexp(axis), BIG)


def test_logsumexp_of_an_all_minus_inf_row():
    compare(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [[-INF, -INF], [0.0, 1.0]])


def test_softmax_family_over_an_empty_axis():
    # torch: logsumexp over an empty axis is -inf, softmax of an empty axis is empty;
    # we used to raise (numpy's max of an empty array)
    z = np.zeros((2, 0, 3))
    compare(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), z)
    compare(lambda t: t.logsumexp((0, 1)), lambda t: t.logsumexp((0, 1)), z)
    compare(lambda t: t.softmax(1), lambda t: t.softmax(1), z)
    compare(lambda t: t.log_softmax(1), lambda t: t.log_softmax(1), z)
    compare(lambda t: t.softmax(2), lambda t: t.softmax(2), z)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_large_logits_and_layouts(reduction):
    labels = np.array([0, 2, 1, 2])
    y = torch.from_numpy(labels)
    x = rand(0, (4, 3)) * 1e4
    compare(
        lambda t: F.cross_entropy(t, labels, reduction=reduction),
        lambda t: TF.cross_entropy(t, y, reduction=reduction),
        x,
    )
    compare(  # a non-contiguous (transposed) logits view
        lambda t: F.cross_entropy(t.T, labels, reduction=reduction),
        lambda t: TF.cross_entropy(t.T, y, reduction=reduction),
        x.T.copy(),
    )
    compare(
        lambda t: F.cross_entropy(t, [0], reduction=reduction),
        lambda t: TF.cross_entropy(t, torch.tensor([0]), reduction=reduction),
        [[0.0, -INF, 1.0]],
    )


def test_bce_with_logits_at_extremes():
    targets = np.array([1.0, 0.0, 1.0, 0.0, 0.3])
    compare(
        lambda t: F.binary_cross_entropy_with_logits(t, targets),
        lambda t: TF.binary_cross_entropy_with_logits(t, torch.from_numpy(targets)),
        [1e4, -1e4, -1e4, 1e4, 0.0],
    )


# --------------------------------------------------------------------------- conv / pooling
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((2, 1), (0, 2)), (3, 2)])
def test_conv2d_stride_padding(stride, padding):
    compare(
        lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding),
        lambda x, w, b: TF.conv2d(x, w, b, stride=stride, padding=padding),
        rand(0, (2, 3, 7, 6)),
        rand(1, (4, 3, 3, 2)),
        rand(2, (4,)),
    )


@pytest.mark.parametrize(
    "kernel, stride, padding", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0)), (3, 1, 1)]
)
def test_pooling_with_ties(kernel, stride, padding):
    x = ints(3, (2, 2, 6, 6))  # ties: max pooling routes to the first maximum, as torch
    compare(
        lambda t: F.max_pool2d(t, kernel, stride, padding),
        lambda t: TF.max_pool2d(t, kernel, stride, padding),
        x,
    )
    compare(
        lambda t: F.avg_pool2d(t, kernel, stride, padding),
        lambda t: TF.avg_pool2d(t, kernel, stride, padding),
        x,
    )


def test_max_pool_routes_nan_windows_like_torch():
    # a NaN is the window's maximum; torch sends its gradient to the last NaN
    x = [[[[1.0, NAN, 0.0, 0.0], [NAN, 2.0, 0.0, 5.0]]]]
    compare(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), x)
    compare(lambda t: F.max_pool2d(t, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), x)


# --------------------------------------------------------------------------- graphs & errors
def test_50k_op_chain_needs_no_recursion():
    x = Tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(50_000):
        y = y * 1.00001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 1.00001**50_000), rtol=1e-9)
    del y  # freeing the chain must not recurse either


@pytest.mark.parametrize("op", ["__add__", "__sub__", "__mul__", "__truediv__", "__pow__",
                                "maximum", "minimum", "__matmul__"])  # fmt: skip
def test_shape_mismatch_names_both_shapes(op):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((4, 2)))
    with pytest.raises(ShapeError) as info:
        getattr(a, op)(b)
    assert "(2, 3)" in str(info.value) and "(4, 2)" in str(info.value)


def test_join_and_where_mismatch_name_the_shapes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    for fn in (lambda: cat([a, b]), lambda: stack([a, b]), lambda: where(np.ones(5, bool), a, b)):
        with pytest.raises(ShapeError) as info:
            fn()
        assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


def test_linear_and_pad_errors_are_plain():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"\(2, 3\) does not fit weight shape \(5, 4\)"):
        F.linear(x, Tensor(np.ones((5, 4))))
    with pytest.raises(ShapeError, match="one per axis"):
        x.pad(((1, 1), (1, 1), (1, 1)))


def test_gradcheck_fails_where_the_function_is_nan():
    # log of a negative number: nan numerically, -1 analytically; used to pass silently
    from tinygrad_opt import GradcheckError, gradcheck

    with np.errstate(all="ignore"), pytest.raises(GradcheckError, match="numerical nan"):
        gradcheck(lambda t: t.log(), [Tensor([-1.0], requires_grad=True)])
    big = Tensor(-np.ones(80), requires_grad=True)  # the random-direction (VJP) path
    with np.errstate(all="ignore"):
        assert not gradcheck(lambda t: t.log() * 2.0, [big], raise_exception=False)
