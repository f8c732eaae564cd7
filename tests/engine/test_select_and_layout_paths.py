"""Two fast paths that must not change a single bit.

- ``where(cond, a, 0)`` / ``where(cond, 0, a)`` (ReLU's vjp, ``Where``'s backward) on
  large float arrays and-s the mask into the bits instead of ``np.where``'s branches:
  the result equals ``np.where``'s bit for bit (nan, ±inf, -0.0 kept where selected,
  +0.0 elsewhere), for drawn shapes, broadcast masks, layouts and dtypes.
- ``matmul``'s backward takes a transposed operand's gradient as a transposed product,
  so that it is laid out like the operand: values as torch's, layouts as the operand's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import Tensor
from tinygrad_opt.nn import functional as F
from tinygrad_opt.ops.compare import keep_where

SPECIAL = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-310, -2.5])


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([(64, 80), (3, 40, 50), (4096,), (2, 2, 1100)]),
    st.sampled_from(["full", "row", "col", "scalar"]),
    st.sampled_from([np.float32, np.float64]),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_keep_where_is_np_where_bit_for_bit(shape, mask_kind, dtype, transposed, keep, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[rng.integers(0, a.size, 50)] = rng.choice(SPECIAL, 50)
    if transposed:
        a = np.ascontiguousarray(a.T).T  # the same values, stored transposed
    mask_shape = {
        "full": shape,
        "row": (1,) * (len(shape) - 1) + shape[-1:],
        "col": shape[:-1] + (1,),
        "scalar": (),
    }[mask_kind]
    cond = rng.random(mask_shape) < 0.5
    zero = dtype(0)
    expected = np.where(cond, a, zero) if keep else np.where(cond, zero, a)
    got = keep_where(cond, a, keep)
    assert got is not None and got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(_bits(got), _bits(expected))


def test_keep_where_declines_what_it_does_not_cover():
    big = np.ones(5000)
    assert keep_where(np.ones(5000, bool), big.astype(np.float16)) is None  # dtype
    assert keep_where(np.ones(3, bool), np.ones(3)) is None  # small: np.where is as fast
    assert keep_where(np.ones((2, 5000), bool), big) is None  # the mask would widen a
    assert keep_where(np.ones(5000), big) is None  # not a bool mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_node_forward_and_backward_keep_np_where_semantics(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((70, 90)).astype(dtype)
    a[0, :4] = [np.nan, np.inf, -0.0, -np.inf]
    cond = rng.random((70, 90)) < 0.5
    cond[0, :4] = True
    x = Tensor(a, requires_grad=True)
    for y in (tg.where(Tensor(cond), x, 0.0), tg.where(~cond, 0.0, x)):
        np.testing.assert_array_equal(_bits(y.data), _bits(np.where(cond, a, dtype(0))))
        g = rng.standard_normal(a.shape).astype(dtype)
        g[1, :3] = [np.nan, -0.0, np.inf]
        (gx,) = tg.autograd.grad(y, [x], Tensor(g))
        np.testing.assert_array_equal(_bits(gx.data), _bits(np.where(cond, g, dtype(0))))
    relu = F.relu(x)  # ReLU's vjp: where(a > 0, g, 0), recorded
    (gx,) = tg.autograd.grad(relu.sum(), [x], create_graph=True)
    np.testing.assert_array_equal(_bits(gx.data), _bits(np.where(~(a <= 0), dtype(1), 0)))


# --------------------------------------------------------------------------- matmul
torch = pytest.importorskip("torch")


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([(), (3,), (2, 3)]),
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 6),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_matmul_backward_of_transposed_operands(batch, n, k, m, ta, tb, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, k, n) if ta else (*batch, n, k))
    b = rng.standard_normal((*batch, m, k) if tb else (*batch, k, m))
    g = rng.standard_normal((*batch, n, m))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    xa, yb = (x.transpose(-1, -2) if ta else x), (y.transpose(-1, -2) if tb else y)
    out = xa @ yb
    ga, gb = out._ctx.backward(g)
    for operand, grad in ((xa, ga), (yb, gb)):  # laid out as the operand
        assert grad.flags.c_contiguous == operand.data.flags.c_contiguous
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    txa, tyb = (tx.transpose(-1, -2) if ta else tx), (ty.transpose(-1, -2) if tb else ty)
    (txa @ tyb).backward(torch.tensor(g))
    gx, gy = tg.autograd.grad(out, [x, y], Tensor(g))
    np.testing.assert_allclose(gx.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gy.data, ty.grad.numpy(), rtol=1e-12, atol=1e-12)
