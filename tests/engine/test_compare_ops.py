"""Comparisons, logic, value tests and selection beyond the op table: error classes and
messages (as torch's), ``allclose`` as a Python bool, ``masked_fill`` gradients to a 0-d
value, the in-place forms, and ``where``'s result dtypes for every kind of branch."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import DTypeError, ShapeError, Tensor

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")


def _both(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(tg)
    if torch is not None:
        with pytest.raises(exc):
            fn(torch)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor", "isclose"])
def test_binary_logic_broadcast_error_names_op_and_shapes(op):
    with pytest.raises(ShapeError, match=op) as info:
        getattr(tg, op)(Tensor(np.ones((2, 3))), Tensor(np.ones((4,))))
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)
    _both(lambda m: getattr(m, op)(m.ones(2, 3), m.ones(4)), RuntimeError, op)


def test_isclose_needs_the_same_dtype_and_nonnegative_tolerances():
    _both(lambda m: m.isclose(m.tensor([1, 2]), m.tensor([1.0, 2.0])), RuntimeError, "Long")
    _both(lambda m: m.isclose(m.ones(2), m.ones(2), rtol=-1), RuntimeError, "rtol")
    _both(lambda m: m.isclose(m.ones(2), m.ones(2), atol=-1), RuntimeError, "atol")
    _both(lambda m: m.allclose(m.tensor([1, 2]), m.tensor([1.0, 2.0])), RuntimeError, "Long")


def test_masked_fill_errors_are_torchs():
    _both(lambda m: m.ones(3).masked_fill(m.ones(3), 0.0), RuntimeError, "boolean masks")
    _both(
        lambda m: m.ones(3).masked_fill(m.ones(3) > 0, m.ones(1)),
        RuntimeError,
        "0-dimensional value tensor",
    )
    _both(lambda m: m.ones(2).masked_fill(m.ones(3) > 0, 0.0), RuntimeError, "masked_fill")
    _both(lambda m: m.ones(3).masked_fill_(m.ones(2, 3) > 0, 0.0), RuntimeError, "broadcast")
    with pytest.raises(DTypeError):  # also a TypeError
        Tensor([1.0]).masked_fill(Tensor([1]), 0.0)


def test_where_needs_a_bool_condition():
    _both(lambda m: m.where(m.tensor([1, 0]), 1.0, 0.0), RuntimeError, "boolean tensor.*Long")
    _both(lambda m: m.where(m.tensor([1.0, 0.0]), 1.0, 0.0), RuntimeError, "Float")
    # byte masks and bool arrays/lists are accepted
    np.testing.assert_array_equal(tg.where(Tensor(np.array([1, 0], np.uint8)), 1, 0).data, [1, 0])
    np.testing.assert_array_equal(tg.where([True, False], 1.0, 2.0).data, [1.0, 2.0])


def test_where_broadcast_error_names_all_shapes():
    with pytest.raises(ShapeError, match=r"where.*\(4,\).*\(2, 3\)"):
        tg.where(np.ones(4, bool), Tensor(np.ones((2, 3))), 0.0)


# --------------------------------------------------------------------------- dtypes of where
WHERE_DTYPES = [
    # (branch a, branch b) as (kind, dtype) or a Python number
    (("t", np.float32), 0.0),
    (2, ("t", np.float32)),
    (1, 0),
    (1.0, 0),
    (True, False),
    (("t", np.int32), 2.5),
    (("t", np.int32), 7),
    (("t", np.int64), ("t", np.float32)),
    (("t", np.float32), ("t", np.float64)),
    (("t", np.float32), ("0d", np.float64)),
    (("t", np.bool_), 3),
    (("t", np.uint8), ("t", np.int8)),
]


def _branch(spec, lib):
    if not isinstance(spec, tuple):
        return spec
    kind, dtype = spec
    shape = (3,) if kind == "t" else ()
    arr = np.ones(shape, dtype=dtype)
    return Tensor(arr) if lib is tg else torch.from_numpy(arr)


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("a, b", WHERE_DTYPES, ids=[str(p) for p in WHERE_DTYPES])
def test_where_result_dtype_matches_torch(a, b):
    cond = np.array([True, False, True])
    ours = tg.where(cond, _branch(a, tg), _branch(b, tg))
    theirs = torch.where(torch.from_numpy(cond), _branch(a, torch), _branch(b, torch))
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.data, theirs.numpy())


# --------------------------------------------------------------------------- values
def test_allclose_is_a_python_bool():
    a = Tensor([1.0, 2.0])
    assert tg.allclose(a, a + 1e-9) is True
    assert a.allclose(a + 1) is False
    nan = Tensor([np.nan])
    assert nan.allclose(nan) is False and nan.allclose(nan, equal_nan=True) is True


def test_isclose_of_integers_computes_the_tolerance_in_the_default_float():
    # |1e8 - (1e8 + 1)| = 1 <= 1e-8·(1e8 + 1) only if the product is not truncated
    a, b = Tensor([100000000]), Tensor([100000001])
    assert bool(a.isclose(b, rtol=1e-8, atol=0))
    assert not bool(Tensor([1]).isclose(Tensor([2])))


def test_logical_ops_accept_numbers_and_give_bool():
    x = Tensor([0.0, 2.0, np.nan])
    np.testing.assert_array_equal(x.logical_and(1).data, [False, True, True])
    np.testing.assert_array_equal(tg.logical_or(x, 0.0).data, [False, True, True])
    assert x.logical_not().dtype == np.bool_


def test_value_tests_of_integers():
    x = Tensor([1, 2])
    assert not x.isnan().data.any() and not x.isinf().data.any() and x.isfinite().data.all()
    assert x.isposinf().dtype == np.bool_


# --------------------------------------------------------------------------- masked_fill
@needs_torch
@pytest.mark.torch
def test_masked_fill_value_gets_the_sum_of_the_filled_gradient():
    data = np.arange(6.0).reshape(2, 3) - 2
    mask = np.array([True, False, True])
    u = np.linspace(-1, 1, 6).reshape(2, 3)

    x, v = Tensor(data, requires_grad=True), Tensor(np.float64(0.5), requires_grad=True)
    (x.masked_fill(Tensor(mask), v) * Tensor(u)).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tv = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (tx.masked_fill(torch.from_numpy(mask), tv) * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(v.grad, tv.grad.numpy(), rtol=1e-12)
    assert v.grad.shape == ()


@needs_torch
@pytest.mark.torch
def test_masked_fill_inplace_on_a_non_leaf_matches_torch():
    data = np.linspace(-1, 1, 8).reshape(2, 4)
    mask = data > 0.2

    x = Tensor(data, requires_grad=True)
    y = x * 2
    out = y.masked_fill_(Tensor(mask), -3.0)
    assert out is y and y._version == 1
    (y * y).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = tx * 2
    ty.masked_fill_(torch.from_numpy(mask), -3.0)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())


def test_masked_fill_inplace_without_grad_writes_into_the_same_array():
    x = Tensor(np.zeros(4))
    arr = x.data
    x.masked_fill_(np.array([True, False, False, True]), 1.5)
    assert x.data is arr
    np.testing.assert_array_equal(arr, [1.5, 0, 0, 1.5])


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", ["logical_and_", "logical_or_", "logical_xor_"])
@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
def test_logical_inplace_keeps_the_dtype_as_torch(name, dtype):
    a = np.array([0, 1, 2, 0]).astype(dtype)
    b = np.array([0, 0, 3, 1]).astype(dtype)
    x = Tensor(a.copy())
    getattr(x, name)(Tensor(b))
    t = torch.from_numpy(a.copy())
    getattr(t, name)(torch.from_numpy(b))
    assert x.dtype == dtype
    np.testing.assert_array_equal(x.data, t.numpy())
    x.logical_not_()
    t.logical_not_()
    np.testing.assert_array_equal(x.data, t.numpy())
