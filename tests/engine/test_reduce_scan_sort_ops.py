"""Reductions, scans and sorting beyond the op tables: error classes and messages (checked
against the class torch raises), finite-difference gradients (``tinygrad_opt.gradcheck``)
at the awkward points (zeros in products, norms, NaN-free medians), ``(values, indices)``
results, and the Tensor methods / top-level exports."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optable import torch

import tinygrad_opt as tg
from tinygrad_opt import DimError, DTypeError, Tensor, gradcheck
from tinygrad_opt.ops.reduce import ValuesIndices

F = np.arange(6.0).reshape(2, 3) - 2.5  # a float tensor's data, shape (2, 3)
L = np.array([[1, 2, 0], [4, 0, 6]])  # int64
B = np.array([[True, False, True], [False, False, True]])
E = np.zeros((2, 0))  # empty

# (name, data, op on a tensor (ours and torch's alike), the class torch raises, words the
#  message must hold). Ours must raise an instance of that class.
ERRORS = [
    ("sum_dim_out_of_range", F, lambda t: t.sum(2), IndexError, ["sum", "(2, 3)", "2"]),
    ("sum_dim_repeated", F, lambda t: t.sum((0, 0)), RuntimeError, ["sum", "(2, 3)"]),
    ("mean_of_long", L, lambda t: t.mean(), RuntimeError, ["mean", "int64"]),
    ("prod_dim_out_of_range", F, lambda t: t.prod(2), IndexError, ["prod", "(2, 3)"]),
    ("prod_dim_tuple", F, lambda t: t.prod((0, 1)), TypeError, ["prod"]),
    ("nansum_dim_out_of_range", F, lambda t: t.nansum(-3), IndexError, ["nansum", "(2, 3)"]),
    ("nanmean_of_long", L, lambda t: t.nanmean(), RuntimeError, ["nanmean", "int64"]),
    ("var_of_long", L, lambda t: t.var(), RuntimeError, ["var", "int64"]),
    ("std_of_long", L, lambda t: t.std(1), RuntimeError, ["std", "int64"]),
    ("var_dim_out_of_range", F, lambda t: t.var(3), IndexError, ["var", "(2, 3)"]),
    ("norm_of_long", L, lambda t: t.norm(), RuntimeError, ["norm", "int64"]),
    ("norm_bad_order", F, lambda t: t.norm(p="abc"), RuntimeError, ["norm", "abc"]),
    (
        "norm_fro_three_dims",
        np.ones((2, 2, 2)),
        lambda t: t.norm("fro", (0, 1, 2)),
        RuntimeError,
        ["fro"],
    ),
    ("norm_inf_empty", E, lambda t: t.norm(math.inf), RuntimeError, ["norm", "(2, 0)"]),
    ("norm_dim_out_of_range", F, lambda t: t.norm(2, 5), IndexError, ["norm", "(2, 3)", "5"]),
    ("any_dim_out_of_range", F, lambda t: t.any(3), IndexError, ["any", "(2, 3)", "3"]),
    (
        "count_nonzero_dim_repeated",
        F,
        lambda t: t.count_nonzero((1, 1)),
        RuntimeError,
        ["count_nonzero", "(2, 3)"],
    ),
    (
        "logsumexp_dim_out_of_range",
        F,
        lambda t: t.logsumexp(2),
        IndexError,
        ["logsumexp", "(2, 3)"],
    ),
    ("softmax_of_long", L, lambda t: t.softmax(1), NotImplementedError, ["softmax", "int64"]),
    ("argmax_of_empty", E, lambda t: t.argmax(), IndexError, ["argmax", "(2, 0)"]),
    ("argmin_over_empty_dim", E, lambda t: t.argmin(1), IndexError, ["argmin", "(2, 0)", "1"]),
    ("argmax_of_bool", B, lambda t: t.argmax(), RuntimeError, ["argmax", "bool"]),
    ("argmax_dim_out_of_range", F, lambda t: t.argmax(2), IndexError, ["argmax", "(2, 3)"]),
    ("argmax_dim_tuple", F, lambda t: t.argmax((0, 1)), TypeError, ["argmax"]),
    ("max_of_empty", E, lambda t: t.max(), RuntimeError, ["max", "(2, 0)"]),
    ("max_over_empty_dim", E, lambda t: t.max(1), IndexError, ["max", "(2, 0)"]),
    ("amax_of_empty", E, lambda t: t.amax(), RuntimeError, ["amax", "(2, 0)"]),
    ("amin_over_empty_dim", E, lambda t: t.amin(1), IndexError, ["(2, 0)"]),
    ("max_dim_tuple", F, lambda t: t.max((0, 1)), TypeError, ["max"]),
    ("cumsum_dim_out_of_range", F, lambda t: t.cumsum(2), IndexError, ["cumsum", "(2, 3)"]),
    ("cumsum_no_dim", F, lambda t: t.cumsum(), TypeError, ["cumsum", "dim"]),
    ("cumprod_dim_tuple", F, lambda t: t.cumprod((0, 1)), TypeError, ["cumprod"]),
    ("cummax_dim_out_of_range", F, lambda t: t.cummax(-3), IndexError, ["cummax", "(2, 3)"]),
    ("logcumsumexp_of_long", L, lambda t: t.logcumsumexp(0), NotImplementedError, ["logcumsumexp"]),
    ("logcumsumexp_of_bool", B, lambda t: t.logcumsumexp(0), NotImplementedError, ["logcumsumexp"]),
    ("sort_dim_out_of_range", F, lambda t: t.sort(2), IndexError, ["sort", "(2, 3)"]),
    ("argsort_dim_out_of_range", F, lambda t: t.argsort(-3), IndexError, ["argsort", "(2, 3)"]),
    ("topk_k_above_size", F, lambda t: t.topk(4), RuntimeError, ["topk", "k", "(2, 3)"]),
    ("topk_k_negative", F, lambda t: t.topk(-1), RuntimeError, ["topk", "k"]),
    ("topk_0d_k2", np.array(1.5), lambda t: t.topk(2), RuntimeError, ["topk", "k"]),
    ("topk_of_bool", B, lambda t: t.topk(1), RuntimeError, ["topk", "bool"]),
    ("topk_dim_out_of_range", F, lambda t: t.topk(1, 4), IndexError, ["topk", "(2, 3)"]),
    ("kthvalue_k0", F, lambda t: t.kthvalue(0), RuntimeError, ["kthvalue", "k"]),
    ("kthvalue_k_above_size", F, lambda t: t.kthvalue(4, 1), RuntimeError, ["kthvalue", "(2, 3)"]),
    ("kthvalue_over_empty_dim", E, lambda t: t.kthvalue(1), IndexError, ["kthvalue", "(2, 0)"]),
    ("kthvalue_of_bool", B, lambda t: t.kthvalue(1), NotImplementedError, ["kthvalue", "bool"]),
    ("median_of_bool", B, lambda t: t.median(), NotImplementedError, ["median", "bool"]),
    ("nanmedian_of_bool", B, lambda t: t.nanmedian(0), NotImplementedError, ["nanmedian"]),
    ("median_over_empty_dim", E, lambda t: t.median(1), IndexError, ["median", "(2, 0)"]),
    ("median_dim_out_of_range", F, lambda t: t.median(4), IndexError, ["median", "(2, 3)"]),
    ("mode_over_empty_dim", E, lambda t: t.mode(), IndexError, ["mode", "(2, 0)"]),
    ("unique_dim_of_0d", np.array(2.0), lambda t: t.unique(dim=0), IndexError, ["unique"]),
    ("unique_dim_out_of_range", F, lambda t: t.unique(dim=5), IndexError, ["unique", "(2, 3)"]),
]


@pytest.mark.parametrize("name, data, op, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_and_message(name, data, op, cls, words):
    with pytest.raises(cls) as info:
        op(Tensor(data.copy()))
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{name}: {w!r} not in {msg!r}"


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")
@pytest.mark.parametrize("name, data, op, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_torch_raises_the_same_class(name, data, op, cls, words):
    with pytest.raises(Exception) as info:
        op(torch.tensor(data))
    assert isinstance(info.value, cls), f"torch raised {type(info.value).__name__}, table {cls}"
    # and ours is an instance of exactly what torch raised
    with pytest.raises(type(info.value)):
        op(Tensor(data.copy()))


def test_shape_errors_are_the_engine_classes():
    with pytest.raises(DimError):
        Tensor(F).sum(2)
    with pytest.raises(DimError):
        Tensor(E).argmax()
    with pytest.raises(DTypeError):
        Tensor(L).var()


def test_nuclear_norm_is_not_implemented():
    with pytest.raises(NotImplementedError, match="nuc"):
        Tensor(F).norm("nuc")


def test_nanmean_of_integers_refuses_a_dtype_too():
    with pytest.raises(RuntimeError, match="nanmean"):
        Tensor(L).nanmean(dtype=tg.float64)


def test_mean_refuses_an_integer_dtype():
    with pytest.raises(DTypeError, match="mean"):
        Tensor(F).mean(dtype=tg.int64)


# --------------------------------------------------------------------------- (values, indices)
@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.max(1),
        lambda t: tg.min(t, 0, keepdim=True),
        lambda t: t.sort(1),
        lambda t: t.topk(2),
        lambda t: t.kthvalue(2, 1),
        lambda t: t.median(0),
        lambda t: t.nanmedian(1),
        lambda t: t.mode(1),
        lambda t: t.cummax(1),
        lambda t: tg.cummin(t, 0),
    ],
)
def test_values_indices_results(op):
    x = Tensor(np.random.default_rng(0).permutation(12).reshape(3, 4) * 1.0, requires_grad=True)
    out = op(x)
    assert isinstance(out, ValuesIndices) and isinstance(out, tuple)
    values, indices = out
    assert values is out.values and indices is out.indices and out[0] is values
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert values.requires_grad and values.dtype == x.dtype
    values.sum().backward()
    assert x.grad is not None and x.grad.sum() == values.numel()


def test_sort_accepts_stable_with_positional_dim():
    x = Tensor(np.array([[2.0, 1.0, 2.0, 1.0]]))
    v, i = x.sort(1, True, stable=True)
    assert i.tolist() == [[0, 2, 1, 3]] and v.tolist() == [[2.0, 2.0, 1.0, 1.0]]
    assert tg.argsort(x, -1, False, stable=True).tolist() == [[1, 3, 0, 2]]


def test_methods_and_exports():
    names = (
        "sum mean prod nansum nanmean var std norm any all count_nonzero logsumexp softmax "
        "log_softmax amax amin max min argmax argmin cumsum cumprod cummax cummin "
        "logcumsumexp sort argsort msort topk kthvalue median nanmedian mode unique"
    ).split()
    for name in names:
        assert callable(getattr(Tensor, name)), name
        assert callable(getattr(tg, name)), name
    for name in ("var_mean", "std_mean"):  # free functions only, as torch
        assert callable(getattr(tg, name))


# --------------------------------------------------------------------------- gradcheck
def _leaf(a):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def _with_zeros(shape, where, seed=0):
    a = np.random.default_rng(seed).uniform(0.5, 2.0, shape) * np.where(
        np.random.default_rng(seed + 1).random(shape) < 0.5, -1, 1
    )
    for idx in where:
        a[idx] = 0.0
    return a


@pytest.mark.parametrize(
    "zeros",
    [[], [(1, 2)], [(1, 2), (1, 4)], [(0, 0), (2, 1), (2, 3), (2, 4)]],
    ids=["none", "one", "two_in_a_row", "first_and_three"],
)
def test_prod_and_cumprod_gradcheck_with_zeros(zeros):
    a = _with_zeros((3, 5), zeros)
    assert gradcheck(lambda t: t.prod(1), [_leaf(a)])
    assert gradcheck(lambda t: t.prod(0, keepdim=True), [_leaf(a)])
    assert gradcheck(lambda t: t.prod(), [_leaf(a)])
    assert gradcheck(lambda t: t.cumprod(1), [_leaf(a)])
    assert gradcheck(lambda t: t.cumprod(0), [_leaf(a)])


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, 0.5, -1, math.inf, -math.inf])
def test_norm_gradcheck(p):
    a = np.random.default_rng(3).uniform(0.3, 2.0, (3, 4)) * np.array([1, -1, 1, -1])
    a[0, :2] = [1.7, -1.2]  # unique extremes per row for the inf norms
    assert gradcheck(lambda t: t.norm(p, 1), [_leaf(a)])
    assert gradcheck(lambda t: tg.norm(t, p, (0, 1), True), [_leaf(a)])


def test_scan_and_order_gradcheck():
    a = np.random.default_rng(4).permutation(20).reshape(4, 5) * 0.37 - 3.0
    for fn in (
        lambda t: t.cumsum(1),
        lambda t: t.logcumsumexp(0),
        lambda t: (t * 20).logcumsumexp(1),
        lambda t: t.cummax(1).values,
        lambda t: t.cummin(0).values,
        lambda t: t.sort(1, descending=True).values,
        lambda t: t.topk(2, 0).values,
        lambda t: t.kthvalue(3, 1).values,
        lambda t: t.median(1).values,
        lambda t: t.median(),
        lambda t: t.nanmedian(0).values,
        lambda t: t.mode(1).values,
        lambda t: t.nanmean(1),
        lambda t: t.nansum(),
        lambda t: t.var(0, correction=2),
        lambda t: tg.std_mean(t, 1)[0] * tg.std_mean(t, 1)[1],
        lambda t: t.logsumexp((0, 1)),
        lambda t: t.amax(1),
        lambda t: t.max(0).values,
    ):
        assert gradcheck(fn, [_leaf(a)])


def test_norm_subgradient_at_zero_is_zero():
    for p in (2, 1, 3, 0.5, 1.5, math.inf):
        x = _leaf(np.zeros((2, 3)))
        x.norm(p, 1).sum().backward()
        assert np.array_equal(x.grad, np.zeros((2, 3))), p


def test_prod_gradient_with_zeros_by_hand():
    # one zero: only it gets a gradient, the product of the others; two: all zero
    x = _leaf([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0]])
    x.prod(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]]


def test_large_inputs_are_vectorised():
    # a smoke test of size: these would take minutes with a Python loop per element
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((200, 5000)), requires_grad=True)
    x.data[:, ::7] = 0.0
    total = (
        x.cumprod(1).sum()
        + x.sort(1).values[:, :3].sum()
        + x.topk(5, 1).values.sum()
        + x.cummax(1).values.sum()
        + x.logcumsumexp(1).sum()
        + x.median(1).values.sum()
        + x.prod(1).sum()
        + x.norm(3, 1).sum()
    )
    total.backward()
    assert x.grad.shape == x.shape and np.isfinite(x.grad).all()
