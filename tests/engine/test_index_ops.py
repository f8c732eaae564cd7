"""Indexing, index assignment and gather/scatter beyond the tables: errors (torch's
classes, messages naming the index and the dim size), finite-difference gradients,
hypothesis-drawn mixed indices and assignments against torch, gradient flow through
``t[i] = v``."""

from __future__ import annotations

import numpy as np
import pytest
from cases_shape import _ours, _theirs
from error_table import check_ours, check_torch_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optable import compare, make_array, run_ours, run_torch, upstreams

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import DimError, DTypeError, ShapeError, Tensor, gradcheck

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _x(M, *shape):
    return M.arange(float(np.prod(shape))).reshape(*shape)


def _setitem(M, index, value):
    x = _x(M, 3, 4)
    x[index(M)] = value(M) if callable(value) else value
    return x


# (name, thunk(M), our exception class, words in our message)
ERRORS = [
    (
        "masked_scatter_short",
        lambda M: M.zeros(2, 3).masked_scatter(M.ones(2, 3, dtype=M.bool), M.ones(5)),
        ShapeError,
        ["Number of elements of source"],
    ),  # noqa: E501
    (
        "masked_scatter_mask",
        lambda M: M.zeros(2, 3).masked_scatter(M.ones(2, 3), M.ones(6)),
        DTypeError,
        ["boolean"],
    ),  # noqa: E501
    (
        "put_count",
        lambda M: M.zeros(2, 3).put(M.tensor([0, 1, 2]), M.ones(2)),
        DimError,
        ["same number of elements"],
    ),  # noqa: E501
    (
        "put_bounds",
        lambda M: M.zeros(2, 3).put(M.tensor([6]), M.ones(1)),
        DimError,
        ["6", "6 elements"],
    ),  # noqa: E501
    ("float", lambda M: _x(M, 3, 4)[1.0], DimError, ["float", "index"]),
    ("float_tensor", lambda M: _x(M, 3, 4)[M.tensor([1.0])], DimError, ["long, int, byte or bool"]),  # noqa: E501
    ("float_empty_tensor", lambda M: _x(M, 3, 4)[M.zeros(0)], DimError, ["long, int"]),
    ("int_bounds", lambda M: _x(M, 3, 4)[5], DimError, ["index 5", "dimension 0", "size 3"]),
    ("int_bounds_dim1", lambda M: _x(M, 3, 4)[:, -5], DimError, ["-5", "size 4"]),
    ("tensor_bounds", lambda M: _x(M, 3, 4)[M.tensor([0, 7])], DimError, ["7", "size 3"]),
    ("tensor_bounds_dim1", lambda M: _x(M, 3, 4)[:, M.tensor([4])], DimError, ["4", "size 4"]),
    ("mixed_bounds", lambda M: _x(M, 3, 4)[0, M.tensor([9])], DimError, ["9", "size 4"]),
    ("mask_shape", lambda M: _x(M, 3, 4)[M.tensor([True, False])], DimError, ["getitem"]),
    ("too_many", lambda M: _x(M, 3, 4)[0, 0, 0], DimError, ["too many indices"]),
    (
        "broadcast_indices",
        lambda M: _x(M, 3, 4)[M.tensor([0, 1]), M.tensor([0, 1, 2])],
        DimError,
        ["shape mismatch"],
    ),
    ("bad_type", lambda M: _x(M, 3, 4)["a"], TypeError, ["str"]),
    (
        "setitem_shape",
        lambda M: _setitem(M, lambda M: 0, lambda M: M.ones(5)),
        ShapeError,
        ["(5,)"],
    ),
    (
        "setitem_bounds",
        lambda M: _setitem(M, lambda M: (M.tensor([3]),), 1.0),
        DimError,
        ["3", "size 3"],
    ),
    ("setitem_float", lambda M: _setitem(M, lambda M: 0.5, 1.0), DimError, ["float"]),
    (
        "index_put_float",
        lambda M: _x(M, 3, 4).index_put((M.tensor([0.0]),), M.tensor(1.0)),
        DimError,
        ["long, int"],
    ),
    # gather / scatter
    (
        "gather_bounds",
        lambda M: _x(M, 3, 4).gather(0, M.tensor([[5]])),
        DimError,
        ["index 5", "dimension 0", "size 3"],
    ),
    ("gather_negative", lambda M: _x(M, 3, 4).gather(0, M.tensor([[-1]])), DimError, ["-1"]),
    (
        "gather_ndim",
        lambda M: _x(M, 3, 4).gather(0, M.tensor([0])),
        ShapeError,
        ["same number of dimensions"],
    ),
    (
        "gather_size",
        lambda M: _x(M, 3, 4).gather(0, M.zeros(1, 5, dtype=M.int64)),
        ShapeError,
        ["dimension 1", "[1, 5]", "[3, 4]"],
    ),
    ("gather_float_index", lambda M: _x(M, 3, 4).gather(0, M.zeros(1, 1)), DTypeError, ["int64"]),
    (
        "gather_dim",
        lambda M: _x(M, 3, 4).gather(2, M.zeros(1, 1, dtype=M.int64)),
        DimError,
        ["out of range"],
    ),
    (
        "scatter_dtype",
        lambda M: _x(M, 3, 4).scatter(0, M.tensor([[1]]), M.zeros(1, 1, dtype=M.float64)),
        DTypeError,
        ["dtype"],
    ),
    (
        "scatter_src_small",
        lambda M: _x(M, 3, 4).scatter(0, M.tensor([[1, 2]]), M.zeros(1, 1)),
        ShapeError,
        ["[1, 2]", "src [1, 1]"],
    ),
    (
        "scatter_bounds",
        lambda M: _x(M, 3, 4).scatter(1, M.tensor([[4]]), 1.0),
        DimError,
        ["4", "size 4"],
    ),
    (
        "scatter_reduce_arg",
        lambda M: _x(M, 3, 4).scatter(0, M.tensor([[1]]), M.ones(1, 1), reduce="mean"),
        ShapeError,
        ["add or multiply"],
    ),
    (
        "scatter_reduce_name",
        lambda M: _x(M, 3, 4).scatter_reduce(0, M.tensor([[1]]), M.ones(1, 1), "add"),
        ShapeError,
        ["sum, prod, mean, amax or amin"],
    ),
    (
        "scatter_add_shape",
        lambda M: _x(M, 3, 4).scatter_add(0, M.zeros(2, 2, dtype=M.int64), M.ones(1, 2)),
        ShapeError,
        ["src"],
    ),
    # index_select and friends
    (
        "index_select_bounds",
        lambda M: M.zeros(3).index_select(0, M.tensor([3])),
        DimError,
        ["out of range"],
    ),
    (
        "index_select_negative",
        lambda M: M.zeros(3).index_select(0, M.tensor([-1])),
        (DimError, RuntimeError),
        ["-1"],
    ),
    (
        "index_select_2d",
        lambda M: M.zeros(3).index_select(0, M.tensor([[0]])),
        DimError,
        ["vector"],
    ),
    (
        "index_select_float",
        lambda M: M.zeros(3).index_select(0, M.tensor([0.0])),
        DTypeError,
        ["int32 or int64"],
    ),
    (
        "index_select_0d_many",
        lambda M: M.tensor(1.0).index_select(0, M.tensor([0, 0])),
        ShapeError,
        ["only 1 value"],
    ),
    (
        "index_add_count",
        lambda M: M.zeros(3).index_add(0, M.tensor([0, 1]), M.ones(3)),
        ShapeError,
        ["Number of indices (2)", "(3)"],
    ),
    (
        "index_add_bounds",
        lambda M: M.zeros(3).index_add(0, M.tensor([0, 5]), M.ones(2)),
        DimError,
        ["out of range"],
    ),
    (
        "masked_select_mask",
        lambda M: M.zeros(2, 3).masked_select(M.tensor([1, 0, 1])),
        DTypeError,
        ["BoolTensor"],
    ),
    (
        "masked_select_shape",
        lambda M: M.zeros(2, 3).masked_select(M.ones(2, 2, dtype=M.bool)),
        ShapeError,
        ["(3)", "(2)"],
    ),
    (
        "masked_fill_mask",
        lambda M: M.zeros(2, 3).masked_fill(M.tensor([1, 0, 1]), 1.0),
        DTypeError,
        ["boolean"],
    ),
    (
        "masked_fill_value",
        lambda M: M.zeros(2, 3).masked_fill(M.ones(3, dtype=M.bool), M.ones(3)),
        ShapeError,
        ["0-dimensional"],
    ),
    (
        "masked_fill_bigger_mask",
        lambda M: M.zeros(3).masked_fill_(M.ones(2, 3, dtype=M.bool), 1.0),
        ShapeError,
        ["(2, 3)", "(3,)"],
    ),
    (
        "take_bounds",
        lambda M: M.take(M.zeros(2, 3), M.tensor([6])),
        DimError,
        ["index 6", "6 elements"],
    ),
    (
        "take_along_dim_ndim",
        lambda M: M.take_along_dim(M.zeros(2, 3), M.zeros(3, 1, 5, dtype=M.int64), 1),
        ShapeError,
        ["same number of dimensions"],
    ),
    ("one_hot_float", lambda M: M.F.one_hot(M.tensor([0.0, 1.0])), DTypeError, ["LongTensor"]),
    (
        "one_hot_int32",
        lambda M: M.F.one_hot(M.tensor([0, 1], dtype=M.int32)),
        DTypeError,
        ["LongTensor"],
    ),
    ("one_hot_negative", lambda M: M.F.one_hot(M.tensor([0, -1])), ShapeError, ["non-negative"]),
    (
        "one_hot_too_big",
        lambda M: M.F.one_hot(M.tensor([0, 2]), 2),
        ShapeError,
        ["smaller than num_classes"],
    ),
    ("one_hot_empty", lambda M: M.F.one_hot(M.zeros(0, dtype=M.int64)), ShapeError, ["empty"]),
]


@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_and_message(name, thunk, cls, words):
    check_ours(name, thunk, cls, words)


@pytest.mark.torch
@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_is_torchs(name, thunk, cls, words):
    check_torch_class(name, thunk)


# --------------------------------------------------------------------------- finite differences
def _t(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


_IDX = Tensor(np.array([[0, 2, 1, 0], [2, 2, 0, 1]]))


def _set_rows(x, v):
    y = x * 1.0
    y[Tensor([2, 0]), 1:] = v
    return y


GRADCHECKS = [
    ("getitem_mixed", lambda x: x[1, :, Tensor([0, 2, 2])], [(2, 3, 4)]),
    ("getitem_mask", lambda x: x[Tensor(np.array([True, False, True]))], [(3, 2)]),
    ("setitem_rows", _set_rows, [(3, 4), (3,)]),
    (
        "index_put_accumulate",
        lambda x, v: x.index_put((_IDX[0],), v, accumulate=True),
        [(3, 4), (4,)],
    ),
    ("gather", lambda x: x.gather(0, _IDX), [(3, 4)]),
    ("scatter", lambda x, s: x.scatter(0, Tensor(np.array([[2, 0, 1, 2]])), s), [(3, 4), (1, 4)]),
    ("scatter_add", lambda x, s: x.scatter_add(0, _IDX, s), [(3, 4), (2, 4)]),
    (
        "scatter_mean",
        lambda x, s: x.scatter_reduce(0, _IDX, s, "mean", include_self=False),
        [(3, 4), (2, 4)],
    ),
    ("scatter_amax", lambda x, s: x.scatter_reduce(0, _IDX, s, "amax"), [(3, 4), (2, 4)]),
    ("scatter_prod", lambda x, s: x.scatter_reduce(0, _IDX, s, "prod"), [(3, 4), (2, 4)]),
    ("index_add", lambda x, s: x.index_add(1, Tensor([3, 3, 0]), s, alpha=2.0), [(2, 4), (2, 3)]),
    ("masked_select", lambda x: x.masked_select(Tensor(np.array([True, False, True]))), [(2, 3)]),
    ("take_along_dim", lambda x: x.take_along_dim(Tensor(np.array([[1], [0]])), 1), [(2, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, shapes):
    assert gradcheck(fn, [_t(*s, seed=i) for i, s in enumerate(shapes)])


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = Tensor([[0.0, 2.0]], requires_grad=True)
    src = Tensor([[3.0, 0.0], [0.0, 5.0]], requires_grad=True)
    index = Tensor(np.array([[0, 0], [0, 0]]))
    x.scatter_reduce(0, index, src, "prod").sum().backward()
    # column 0: 0 * 3 * 0 (two zeros: every gradient 0); column 1: 2 * 0 * 5 (one zero)
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0]])
    np.testing.assert_array_equal(src.grad, [[0.0, 10.0], [0.0, 0.0]])


# --------------------------------------------------------------------------- hypothesis vs torch
def _agree(name, ours, theirs, inputs):
    torch_outs, _ = run_torch(theirs, inputs, False, [])
    us = upstreams(0, torch_outs)
    outs, _, grads = run_ours(ours, inputs, True, us=us)
    ref_outs, ref_grads = run_torch(theirs, inputs, True, us)
    compare(name, outs, grads, ref_outs, ref_grads, 1e-10, 1e-12, "torch")


SHAPE = (3, 4, 5)


@st.composite
def mixed_index(draw):
    """A tuple of ints, slices, None, one Ellipsis, int lists/tensors and bool masks for a
    (3, 4, 5) tensor: returns a builder ``f(M)`` and a description."""
    parts, dim, used_ellipsis = [], 0, False
    n_adv_shape = draw(st.sampled_from([(2,), (3,), (1,), (2, 2)]))
    while dim < 3 and len(parts) < 5:
        kind = draw(
            st.sampled_from(["int", "slice", "none", "ellipsis", "long", "list", "mask", "stop"])
        )
        size = SHAPE[dim]
        if kind == "stop":
            break
        if kind == "int":
            parts.append(("int", draw(st.integers(-size, size - 1))))
        elif kind == "slice":
            a = draw(st.one_of(st.none(), st.integers(-size, size)))
            b = draw(st.one_of(st.none(), st.integers(-size, size)))
            s = draw(st.one_of(st.none(), st.integers(1, 3)))
            parts.append(("slice", slice(a, b, s)))
        elif kind == "none":
            parts.append(("none", None))
            continue
        elif kind == "ellipsis":
            if used_ellipsis:
                continue
            used_ellipsis = True
            parts.append(("ellipsis", Ellipsis))
            dim = max(dim, 3 - sum(1 for k, _ in parts if k not in ("none", "ellipsis")))
            continue
        elif kind in ("long", "list"):
            n = int(np.prod(n_adv_shape))
            vals = draw(st.lists(st.integers(-size, size - 1), min_size=n, max_size=n))
            arr = np.array(vals).reshape(n_adv_shape)
            parts.append((kind, arr))
        else:
            k = draw(st.integers(1, 3))
            mask = draw(st.lists(st.booleans(), min_size=size, max_size=size))
            # a mask must broadcast with the other advanced parts: use k Trues at most
            mask = np.array(mask)
            if mask.sum() not in (1, int(np.prod(n_adv_shape[-1:]))):
                mask[:] = False
                mask[: min(k, size)] = True
                if mask.sum() not in (1, n_adv_shape[-1]):
                    mask[:] = False
                    mask[0] = True
            parts.append(("mask", mask))
        dim += 1

    def build(M):
        out = []
        for kind, v in parts:
            if kind == "long":
                out.append(M.tensor(v))
            elif kind == "list":
                out.append(v.tolist())
            elif kind == "mask":
                out.append(M.tensor(v))
            else:
                out.append(v)
        return tuple(out)

    return build, parts


@pytest.mark.torch
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=mixed_index(), seed=st.integers(0, 2**16))
def test_getitem_and_setitem_mixed_random(index, seed):
    torch = pytest.importorskip("torch")
    build, parts = index
    x = make_array(np.random.default_rng(seed), SHAPE, "real")
    try:
        shape = tuple(torch.tensor(x)[build(torch)].shape)
    except (IndexError, RuntimeError):  # an index torch rejects: we must reject it too
        with pytest.raises((IndexError, RuntimeError)):
            Tensor(x)[build(tg)]
        return
    _agree(f"getitem {parts}", lambda t: t[build(tg)], lambda t: t[build(torch)], [x])
    v = make_array(np.random.default_rng(seed + 1), shape[1:], "real")

    def assign(M):
        def f(t, val):
            y = t.clone()
            y[build(M)] = val
            return y

        return f

    _agree(f"setitem {parts}", assign(tg), assign(torch), [x, v])


# --------------------------------------------------------------------------- behaviour
def test_setitem_gradient_reaches_value_and_kept_elements():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = Tensor([10.0, 20.0], requires_grad=True)
    y = x * 2.0
    y[:, 1] = v
    (y * Tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 4.0], [6.0, 0.0, 10.0]])
    np.testing.assert_array_equal(v.grad, [1.0, 4.0])


def test_0d_integer_tensor_counts_as_an_int():
    x = Tensor(np.arange(60.0).reshape(3, 4, 5))
    assert x[Tensor(1), :, [0, 1]].shape == (4, 2)  # numpy would say (2, 4)
    assert x[Tensor(2)].shape == (4, 5)


def test_index_put_accumulates_repeats():
    x = Tensor(np.zeros(3))
    x.index_put_((Tensor([0, 0, 2]),), Tensor([1.0, 2.0, 3.0]), accumulate=True)
    np.testing.assert_array_equal(x.data, [3.0, 0.0, 3.0])
    x.index_put_((Tensor([1]),), Tensor(5.0))
    np.testing.assert_array_equal(x.data, [3.0, 5.0, 3.0])


def test_nonzero_and_one_hot_are_int64():
    x = Tensor(np.array([[0.0, 1.0], [2.0, 0.0]]))
    assert x.nonzero().dtype == np.int64
    assert [t.dtype for t in x.nonzero(as_tuple=True)] == [np.int64, np.int64]
    out = F.one_hot(Tensor([1, 0]), 3)
    assert out.dtype == np.int64 and out.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_scatter_inplace_keeps_the_tensor_object():
    x = Tensor(np.zeros((2, 3)))
    same = x.scatter_(1, Tensor(np.array([[2], [0]])), 7.0)
    assert same is x
    np.testing.assert_array_equal(x.data, [[0, 0, 7], [7, 0, 0]])


def test_theirs_namespace_is_usable():
    _ = (_ours(), _theirs())


def test_an_element_is_a_0d_array_not_a_numpy_scalar():
    x = Tensor(np.arange(3.0))
    for y in (x[1], x.select(0, 2), Tensor(np.float64(4.0))[()]):
        assert isinstance(y.data, np.ndarray) and y.shape == ()
    y = x[1]
    y.data[...] = 7.0  # a writable 0-d array
    assert y.item() == 7.0
