"""Errors with clear messages, grad-mode switches, dtypes, accumulation and graph lifetime."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinygrad_opt
from tinygrad_opt import ShapeError, Tensor, cat, is_grad_enabled, no_grad, stack, where

PKG_DIR = Path(tinygrad_opt.__file__).resolve().parent


def raised_by_library(info: pytest.ExceptionInfo) -> None:
    """The error comes from our code with no numpy exception chained onto it."""
    err = info.value
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__
    last = Path(str(info.traceback[-1].path)).resolve()
    assert PKG_DIR in last.parents, f"raised from {last}, not from tinygrad_opt"


A = np.ones((2, 3))
B = np.ones((4, 5))

# (name, thunk, words that the message must contain)
SHAPE_ERRORS = [
    ("add", lambda: Tensor(A) + Tensor(B), ["add", "(2, 3)", "(4, 5)"]),
    ("radd", lambda: B + Tensor(A), ["add", "(4, 5)", "(2, 3)"]),
    ("sub", lambda: Tensor(A) - Tensor(B), ["sub", "(2, 3)", "(4, 5)"]),
    ("mul", lambda: Tensor(A) * Tensor(B), ["mul", "(2, 3)", "(4, 5)"]),
    ("div", lambda: Tensor(A) / Tensor(B), ["div", "(2, 3)", "(4, 5)"]),
    ("pow", lambda: Tensor(A) ** Tensor(B), ["pow", "(2, 3)", "(4, 5)"]),
    ("maximum", lambda: Tensor(A).maximum(Tensor(B)), ["maximum", "(2, 3)", "(4, 5)"]),
    ("minimum", lambda: Tensor(A).minimum(Tensor(B)), ["minimum", "(2, 3)", "(4, 5)"]),
    ("matmul", lambda: Tensor(A) @ Tensor(A), ["matmul", "(2, 3)", "3 != 2"]),
    ("matmul_vec", lambda: Tensor(A) @ Tensor(np.ones(4)), ["matmul", "(2, 3)", "(4,)"]),
    ("matmul_0d", lambda: Tensor(A) @ Tensor(np.float32(2)), ["matmul", "1-D", "()"]),
    (
        "matmul_batch",
        lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((3, 4, 5))),
        ["matmul", "batch", "(2, 3, 4)", "(3, 4, 5)"],
    ),
    (
        "where",
        lambda: where(np.ones(3, bool), Tensor(A), Tensor(B)),
        ["where", "(3,)", "(2, 3)", "(4, 5)"],
    ),
    ("where_cond", lambda: where(np.ones(4, bool), Tensor(A), 0.0), ["where", "(4,)", "(2, 3)"]),
    ("cat", lambda: cat([Tensor(A), Tensor(B)]), ["cat", "(2, 3)", "(4, 5)"]),
    ("cat_ndim", lambda: cat([Tensor(A), Tensor(np.ones(3))]), ["cat", "(2, 3)", "(3,)"]),
    ("stack", lambda: stack([Tensor(A), Tensor(B)]), ["stack", "(2, 3)", "(4, 5)"]),
    ("reshape", lambda: Tensor(A).reshape(4, 2), ["reshape", "(2, 3)", "(4, 2)"]),
    ("expand", lambda: Tensor(A).expand(4, 3), ["expand", "(2, 3)", "(4, 3)"]),
    ("expand_fewer", lambda: Tensor(A).expand(3), ["expand", "(2, 3)", "(3,)"]),
    ("permute", lambda: Tensor(A).permute(0, 0), ["permute", "(0, 0)", "(2, 3)"]),
    ("getitem", lambda: Tensor(A)[5], ["getitem", "5", "(2, 3)"]),
    ("getitem_ndim", lambda: Tensor(A)[0, 0, 0], ["getitem", "(2, 3)"]),
    ("getitem_array", lambda: Tensor(A)[[0, 7]], ["getitem", "(2, 3)"]),
    ("pad", lambda: Tensor(A).pad(((1, 1),) * 3), ["pad", "(2, 3)"]),
    ("pad_negative", lambda: Tensor(A).pad(-1), ["pad", "non-negative"]),
]


@pytest.mark.parametrize("name, thunk, words", SHAPE_ERRORS, ids=[s[0] for s in SHAPE_ERRORS])
def test_shape_errors_name_op_and_shapes(name, thunk, words):
    with pytest.raises(ShapeError) as info:
        thunk()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{name}: {w!r} missing from {msg!r}"
    assert isinstance(info.value, ValueError)  # ShapeError is a ValueError
    raised_by_library(info)


BAD_AXES = [
    ("sum", lambda t: t.sum(axis=2), ["sum", "(2, 3)", "2"]),
    ("mean", lambda t: t.mean(axis=-3), ["mean", "(2, 3)", "-3"]),
    ("max", lambda t: t.amax(axis=(0, 5)), ["max", "(2, 3)", "5"]),
    ("min", lambda t: t.min(axis=7), ["min", "(2, 3)", "7"]),
    ("var", lambda t: t.var(axis=2), ["var", "(2, 3)"]),
    ("sum_dup", lambda t: t.sum(axis=(0, 0)), ["sum", "(2, 3)"]),
    ("logsumexp", lambda t: t.logsumexp(axis=2), ["logsumexp", "(2, 3)"]),
    ("softmax", lambda t: t.softmax(axis=2), ["softmax", "(2, 3)", "2"]),
    ("log_softmax", lambda t: t.log_softmax(axis=-3), ["log_softmax", "(2, 3)", "-3"]),
    ("transpose", lambda t: t.transpose(0, 5), ["transpose", "(2, 3)", "5"]),
    ("unsqueeze", lambda t: t.unsqueeze(5), ["unsqueeze", "(2, 3)", "5"]),
    ("squeeze", lambda t: t.squeeze(4), ["squeeze", "(2, 3)", "4"]),
    ("flatten_order", lambda t: t.flatten(1, 0), ["flatten", "1", "0"]),
    ("flatten_range", lambda t: t.flatten(0, 5), ["flatten", "5", "(2, 3)"]),
    ("cat", lambda t: cat([t, t], axis=5), ["cat", "got 5", "range"]),
    ("stack", lambda t: stack([t, t], axis=-4), ["stack", "got -4", "range"]),
    ("cat_0d", lambda t: cat([t.sum(), t.sum()]), ["cat", "()"]),
]


@pytest.mark.parametrize("name, thunk, words", BAD_AXES, ids=[s[0] for s in BAD_AXES])
def test_bad_axis(name, thunk, words):
    with pytest.raises(ShapeError) as info:
        thunk(Tensor(A))
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{name}: {w!r} missing from {msg!r}"
    raised_by_library(info)


def test_backward_on_non_scalar_needs_gradient():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(2,\)") as info:
        y.backward()
    raised_by_library(info)
    # a one-element tensor of any rank is fine, as in torch
    x = Tensor([[3.0]], requires_grad=True)
    (x * 2.0).backward()
    np.testing.assert_array_equal(x.grad, [[2.0]])


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0, 2.0]) * 3.0).sum().backward()
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2.0
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_backward_with_wrong_gradient_shape():
    y = Tensor(np.ones((2, 3)), requires_grad=True) * 2.0
    with pytest.raises(ShapeError, match=r"\(3, 2\).*\(2, 3\)") as info:
        y.backward(np.ones((3, 2)))
    raised_by_library(info)
    with pytest.raises(ShapeError, match="gradient shape"):
        y.backward(Tensor(np.ones(3)))
    y.backward(np.ones((2, 3)))  # the right shape works


NON_NUMERIC = [
    ("str", "abc", ["numeric", "str"]),
    ("mixed_list", [1, "a"], ["numeric"]),
    ("none", None, ["numeric", "NoneType"]),
    ("object_array", np.array([1.0, 2.0], dtype=object), ["numeric", "object"]),
    ("object_array_none", np.array([1.0, None]), ["numeric", "object"]),
    ("ragged", [[1, 2], [3]], ["numeric", "ragged"]),
    ("dict", {"a": 1}, ["numeric", "dict"]),
    ("complex", [1 + 2j], ["numeric", "complex"]),
    ("bytes", b"xyz", ["numeric"]),
]


@pytest.mark.parametrize("name, data, words", NON_NUMERIC, ids=[s[0] for s in NON_NUMERIC])
def test_non_numeric_data(name, data, words):
    with pytest.raises(TypeError) as info:
        Tensor(data)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{name}: {w!r} missing from {msg!r}"
    raised_by_library(info)


def test_non_numeric_operand_and_dtype():
    with pytest.raises(TypeError, match="numeric"):
        Tensor([1.0]) + "abc"
    assert Tensor([1, 2], dtype=np.int32).dtype == np.int32  # integer tensors exist now
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1, 2], dtype=np.complex64)
    with pytest.raises(RuntimeError, match="floating point"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(ValueError, match="approximate"):
        Tensor([1.0]).gelu("fast")
    with pytest.raises(ValueError, match="at least one"):
        Tensor([1.0]).clip()
    with pytest.raises(ValueError, match="non-empty list of tensors"):
        cat([])


# --------------------------------------------------------------------------- grad mode


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
        z = x[0] + x
    assert is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad
        assert t._ctx is None and t.parents == () and t.is_leaf and t.op == ""
    # the same op outside no_grad does record
    w = x * 2.0
    assert w.requires_grad and w.parents == (x, w.parents[1]) and w.op == "mul"


def test_no_grad_nests_decorates_and_restores_after_errors():
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()

    @no_grad()
    def f(t):
        """doc"""
        assert not is_grad_enabled()
        return t * 3.0

    out = f(Tensor([1.0], requires_grad=True))
    assert not out.requires_grad and f.__name__ == "f" and f.__doc__ == "doc"
    assert is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0  # noqa: B018
    assert is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    assert np.shares_memory(d.data, y.data)
    # gradient flows only through the non-detached path: d(x·detach(3x))/dx = 3x
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad, d.data)


def test_leaf_grads_accumulate_until_zero_grad():
    x = Tensor([1.0, -2.0], requires_grad=True)
    for k in range(1, 4):
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad, k * 2 * x.data)
    x.zero_grad()
    assert x.grad is None
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])
    # backward on a leaf itself seeds its own gradient
    x.zero_grad()
    x.backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_intermediates_keep_no_grad():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2.0
    (y * y).sum().backward()
    assert y.grad is None and x.grad is not None


def test_reused_tensor_gets_both_contributions():
    a = Tensor([1.5, -0.5], requires_grad=True, dtype=np.float64)
    b = a + a
    c = b * b  # c = 4a², dc/da = 8a
    c.sum().backward()
    np.testing.assert_allclose(a.grad, 8 * a.data, rtol=1e-15)
    # diamond: two paths from a to the output
    a.zero_grad()
    (a.exp() * a.tanh() + a).sum().backward()
    expected = np.exp(a.data) * np.tanh(a.data) + np.exp(a.data) / np.cosh(a.data) ** 2 + 1
    np.testing.assert_allclose(a.grad, expected, rtol=1e-14)


def test_gradient_buffer_is_owned_by_leaf():
    # the first gradient must be copied, not aliased to an internal array
    x = Tensor(np.ones(3), requires_grad=True)
    seed = np.ones(3)
    x.backward(seed)
    x.backward(seed)
    np.testing.assert_array_equal(seed, np.ones(3))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    y = Tensor(np.ones((1, 3)), requires_grad=True)
    y.expand(4, 3).sum().backward()  # grad arrives as a broadcast view
    y.grad[0, 0] = 99.0  # writable, and only ours
    np.testing.assert_array_equal(y.grad, [[99.0, 4.0, 4.0]])


# --------------------------------------------------------------------------- dtypes


def test_default_dtype_is_float32():
    # torch.tensor's rules: Python floats -> float32, ints -> int64, bools -> bool
    for data in ([1.0, 2.0], 3.0, [1, 2.5]):
        assert Tensor(data).dtype == np.float32, data
    for data in ([1, 2], 3):
        assert Tensor(data).dtype == np.int64, data
    assert Tensor([[True, False]]).dtype == np.bool_
    assert Tensor(np.arange(3, dtype=np.int32)).dtype == np.int32  # arrays keep theirs
    assert Tensor.zeros(2).dtype == np.float32
    assert Tensor.randn(2, rng=0).dtype == np.float32


def test_float_arrays_keep_their_precision():
    assert Tensor(np.ones(2)).dtype == np.float64
    assert Tensor(np.float64(1.0)).dtype == np.float64
    assert Tensor(np.ones(2, np.float16)).dtype == np.float16
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    x64 = Tensor(np.ones(2), requires_grad=True)
    assert (x64 * 2.0).dtype == np.float64  # Python scalars do not change the dtype
    x32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    assert (x32 * 2.0).dtype == np.float32 and (2.0**x32).dtype == np.float32
    assert x32.double().dtype == np.float64 and x64.float().dtype == np.float32


def test_mixed_precision_promotes_like_numpy_and_torch():
    a = Tensor(np.ones(2, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float64), requires_grad=True)
    for out in (a + b, b * a, a @ b, where([True, False], a, b), cat([a, b]), stack([a, b])):
        assert out.dtype == np.float64 == np.result_type(a.data, b.data)
    assert (a + np.ones(2)).dtype == np.float64  # float64 ndarray operand, as numpy does
    # gradients come back in each leaf's own dtype
    (a * b + a).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_grads_have_the_dtype_of_their_tensor(dtype):
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype), requires_grad=True)
    y = (x.softmax(-1) * x.amax(axis=0) + x.var(correction=1) + x.mean()).sum()
    assert y.dtype == dtype
    y.backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape
    cast = Tensor(np.ones(2, dtype=dtype), requires_grad=True)
    cast.double().sum().backward()
    assert cast.grad.dtype == dtype


# --------------------------------------------------------------------------- graph size


@pytest.mark.slow
def test_million_deep_chain_backpropagates_without_recursion():
    # Measured on the 2-core CI machine: ~5.5 s to build, ~2 s backward, ~0.3 s to free.
    n = 1_000_000
    x0 = Tensor(np.zeros(2), requires_grad=True)
    x = x0
    start = time.perf_counter()
    for _ in range(n):
        x = x + 1.0
    np.testing.assert_array_equal(x.data, [n, n])
    x.sum().backward()
    np.testing.assert_array_equal(x0.grad, [1.0, 1.0])
    del x  # freeing a million-deep chain must not overflow the C stack either
    assert time.perf_counter() - start < 60


def test_graph_is_freed_by_reference_counting():
    gc.collect()
    gc.disable()
    try:
        x = Tensor(np.ones(3), requires_grad=True)
        h = (x * 2.0).exp()
        out = h.tanh().sum()
        probe = weakref.ref(h)
        ctx_probe = weakref.ref(h._ctx)
        del h
        assert probe() is not None  # kept alive by the graph of `out`
        out.backward()
        del out
        assert probe() is None and ctx_probe() is None
        assert x.grad is not None  # leaves survive, with their gradient
    finally:
        gc.enable()
