# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table of the engine's first ops: arithmetic with broadcasting, math,
activations, matmul, reductions, shape ops, indexing, join/pad and small compositions.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_basic.npz`` (``python scripts/make_op_fixtures.py basic``).
"""

from __future__ import annotations

import numpy as np
from optable import Case

from tinygrad_opt import cat, stack, where

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None
    F = None

# --------------------------------------------------------------------------- torch helpers


def torch_pad(widths, ndim: int):
    """numpy-style ``pad_width`` → torch ``F.pad`` pairs (last dim first)."""
    w = np.broadcast_to(np.asarray(widths), (ndim, 2))
    return tuple(int(v) for lo, hi in w[::-1] for v in (lo, hi))


def _t(a):  # a constant numpy array as a torch tensor
    return torch.from_numpy(np.asarray(a))


def rev(x):
    return x.permute(*reversed(range(x.ndim)))


MASK_34 = np.array(
    [[True, False, True, True], [False, False, True, False], [True, True, False, True]]
)
COND_31 = np.array([[[True]], [[False]], [[True]]])  # broadcasts against (3, 1, 4) and (2, 4)
IDX_REP = np.array([0, 0, 2, 0, 1])  # repeated integer indices: gradients must add up

S = "distinct"

# --------------------------------------------------------------------------- the table
# fmt: off
CASES: list[Case] = [
    # binary, broadcasting (3,1,4) with (2,4), scalars and 0-d
    Case("add", lambda a, b: a + b, lambda a, b: a + b, [(3, 1, 4), (2, 4)]),
    Case("sub", lambda a, b: a - b, lambda a, b: a - b, [(3, 1, 4), (2, 4)]),
    Case("mul", lambda a, b: a * b, lambda a, b: a * b, [(3, 1, 4), (2, 4)]),
    Case("div", lambda a, b: a / b, lambda a, b: a / b, [(3, 1, 4), ((2, 4), "away0")]),
    Case("pow_tt", lambda a, b: a**b, lambda a, b: a**b, [((3, 1, 4), "pos"), (2, 4)]),
    Case("add_0d", lambda a, b: a + b, lambda a, b: a + b, [(), (2, 3)]),
    Case("mul_0d", lambda a, b: a * b, lambda a, b: a * b, [(2, 3), ()]),
    Case("div_0d", lambda a, b: a / b, lambda a, b: a / b, [(2, 3), ((), "away0")]),
    Case("add_size1", lambda a, b: a + b, lambda a, b: a + b, [(1, 3, 1), (2, 1, 1, 4)]),
    Case("maximum", lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b), [(3, 1, 4), (2, 4)]),
    Case("minimum", lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b), [(3, 1, 4), (2, 4)]),
    Case("maximum_ties", lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b), [((4, 5), "int"), ((4, 5), "int")]),
    Case("minimum_ties", lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b), [((4, 5), "int"), ((5,), "int")]),
    Case("maximum_scalar", lambda a: a.maximum(0.5), lambda a: torch.clamp(a, min=0.5), [(3, 4)]),
    # second=False: the float32 round trip is a staircase of steps ~1e-7·|a|, so central
    # differences of the gradient are meaningless; cast_f32_* check the cast's second order
    Case("cast_roundtrip", lambda a: a.float().double() * a, lambda a: a.float().double() * a, [(3, 4)], second=False),
    Case("cast_f32_up_square", lambda a: a.double() * a.double(), lambda a: a.double() * a.double(), [((3, 4), "real@f32")], rtol=1e-6, atol=1e-6),
    Case("cast_f64_down_mul", lambda a, b: a.float() * b, lambda a, b: a.float() * b, [(3, 4), ((3, 4), "real@f32")], rtol=1e-6, atol=1e-6),
    Case("where", lambda a, b: where(COND_31, a, b), lambda a, b: torch.where(_t(COND_31), a, b), [(3, 1, 4), (2, 4)]),
    # reflected / scalar operands
    Case("radd", lambda x: 2.5 + x, lambda x: 2.5 + x, [(2, 3)]),
    Case("rsub", lambda x: 2.5 - x, lambda x: 2.5 - x, [(2, 3)]),
    Case("rmul", lambda x: 2.5 * x, lambda x: 2.5 * x, [(2, 3)]),
    Case("rdiv", lambda x: 2.5 / x, lambda x: 2.5 / x, [((2, 3), "away0")]),
    Case("sub_scalar", lambda x: x - 1.5, lambda x: x - 1.5, [(2, 3)]),
    Case("div_scalar", lambda x: x / 3.0, lambda x: x / 3.0, [(2, 3)]),
    Case("pow_int", lambda x: x**3, lambda x: x**3, [(2, 3)]),
    Case("pow_neg", lambda x: x**-2, lambda x: x**-2, [((2, 3), "away0")]),
    Case("pow_half", lambda x: x**0.5, lambda x: x**0.5, [((2, 3), "pos")]),
    Case("rpow", lambda x: 2.0**x, lambda x: 2.0**x, [(2, 3)]),
    Case("neg", lambda x: -x, lambda x: -x, [(2, 3)]),
    # elementwise
    Case("exp", lambda x: x.exp(), lambda x: x.exp(), [(2, 3)]),
    Case("log", lambda x: x.log(), lambda x: x.log(), [((2, 3), "pos")]),
    Case("sqrt", lambda x: x.sqrt(), lambda x: x.sqrt(), [((2, 3), "pos")]),
    Case("abs", lambda x: x.abs(), lambda x: x.abs(), [((2, 3), "away0")]),
    Case("abs_at_0", lambda x: x.abs(), lambda x: x.abs(), [((4, 5), "int")]),
    Case("tanh", lambda x: x.tanh(), lambda x: x.tanh(), [(2, 3)]),
    Case("tanh_wide", lambda x: x.tanh(), lambda x: x.tanh(), [((4, 5), "wide")]),
    Case("sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid(), [(2, 3)]),
    Case("sigmoid_wide", lambda x: x.sigmoid(), lambda x: x.sigmoid(), [((4, 5), "wide")]),
    Case("relu", lambda x: x.relu(), lambda x: x.relu(), [((2, 3), "away0")]),
    Case("relu_at_0", lambda x: x.relu(), lambda x: x.relu(), [((4, 5), "int")]),
    Case("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1), [((2, 3), "away0")]),
    Case("leaky_relu_default", lambda x: x.leaky_relu(), lambda x: F.leaky_relu(x), [((2, 3), "away0")]),
    Case("gelu", lambda x: x.gelu(), lambda x: F.gelu(x), [((3, 4), "real")]),
    Case("gelu_wide", lambda x: x.gelu(), lambda x: F.gelu(x), [((4, 5), "wide")]),
    Case("gelu_tanh", lambda x: x.gelu("tanh"), lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    Case("clip", lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), [(3, 4)]),
    Case("clip_edges", lambda x: x.clip(-1, 1), lambda x: x.clamp(-1, 1), [((4, 5), "int")]),
    Case("clip_min", lambda x: x.clip(min=0.3), lambda x: x.clamp(min=0.3), [(3, 4)]),
    Case("clip_max", lambda x: x.clip(max=0.3), lambda x: x.clamp(max=0.3), [(3, 4)]),
    # matmul
    Case("matmul_1d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4,)]),
    Case("matmul_1d_2d", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (4, 3)]),
    Case("matmul_2d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4,)]),
    Case("matmul_2d_2d", lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 2)]),
    Case("matmul_batched", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)]),
    Case("matmul_1d_3d", lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (2, 4, 3)]),
    Case("matmul_3d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4,)]),
    # reductions
    Case("sum", lambda x: x.sum(), lambda x: x.sum(), [(2, 3, 4)]),
    Case("sum_axis", lambda x: x.sum(1), lambda x: x.sum(1), [(2, 3, 4)]),
    Case("sum_neg_keep", lambda x: x.sum(-1, keepdims=True), lambda x: x.sum(-1, keepdim=True), [(2, 3, 4)]),
    Case("sum_tuple", lambda x: x.sum((0, 2)), lambda x: x.sum((0, 2)), [(2, 3, 4)]),
    Case("sum_0d", lambda x: x.sum(), lambda x: x.sum(), [()]),
    Case("mean", lambda x: x.mean(), lambda x: x.mean(), [(2, 3, 4)]),
    Case("mean_axis_keep", lambda x: x.mean(0, keepdims=True), lambda x: x.mean(0, keepdim=True), [(2, 3, 4)]),
    Case("mean_tuple", lambda x: x.mean((-1, 0)), lambda x: x.mean((-1, 0)), [(2, 3, 4)]),
    Case("max", lambda x: x.max(), lambda x: torch.amax(x), [((2, 3, 4), S)]),
    Case("max_axis", lambda x: x.amax(1), lambda x: torch.amax(x, 1), [((2, 3, 4), S)]),
    Case("max_tuple_keep", lambda x: x.amax((0, 2), keepdim=True), lambda x: torch.amax(x, (0, 2), keepdim=True), [((2, 3, 4), S)]),
    Case("max_ties", lambda x: x.amax(-1), lambda x: torch.amax(x, -1), [((4, 6), "int")]),
    Case("max_ties_all", lambda x: x.max(), lambda x: torch.amax(x), [((4, 6), "int")]),
    Case("min", lambda x: x.min(), lambda x: torch.amin(x), [((2, 3, 4), S)]),
    Case("min_axis", lambda x: x.amin(-2, keepdims=True), lambda x: torch.amin(x, -2, keepdim=True), [((2, 3, 4), S)]),
    Case("min_ties", lambda x: x.amin(0), lambda x: torch.amin(x, 0), [((4, 6), "int")]),
    Case("var", lambda x: x.var(), lambda x: torch.var(x), [(2, 3, 4)]),
    Case("var_axis_c0", lambda x: x.var(1, correction=0), lambda x: torch.var(x, 1, correction=0), [(2, 3, 4)]),
    Case("var_tuple_keep", lambda x: x.var((0, -1), keepdims=True), lambda x: torch.var(x, (0, -1), keepdim=True, correction=1), [(2, 3, 4)]),
    Case("std", lambda x: x.std(-1), lambda x: torch.std(x, -1), [(2, 3, 4)]),
    Case("logsumexp", lambda x: x.logsumexp(-1), lambda x: torch.logsumexp(x, -1), [(2, 3, 4)]),
    Case("logsumexp_tuple_keep", lambda x: x.logsumexp((0, 1), keepdims=True), lambda x: torch.logsumexp(x, (0, 1), keepdim=True), [(2, 3, 4)]),
    Case("logsumexp_all", lambda x: x.logsumexp(None), lambda x: torch.logsumexp(x, (0, 1)), [(3, 4)]),
    Case("logsumexp_wide_dim0", lambda x: x.logsumexp(0), lambda x: torch.logsumexp(x, 0), [((4, 5), "wide")]),
    Case("softmax", lambda x: x.softmax(), lambda x: torch.softmax(x, -1), [(2, 3, 4)]),
    Case("softmax_axis0", lambda x: x.softmax(0), lambda x: torch.softmax(x, 0), [(2, 3, 4)]),
    Case("softmax_wide", lambda x: x.softmax(1), lambda x: torch.softmax(x, 1), [((4, 5), "wide")]),
    Case("log_softmax", lambda x: x.log_softmax(), lambda x: torch.log_softmax(x, -1), [(2, 3, 4)]),
    Case("log_softmax_axis1", lambda x: x.log_softmax(1), lambda x: torch.log_softmax(x, 1), [((4, 5), "wide")]),
    # shape ops
    Case("reshape", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), [(2, 3, 4)]),
    Case("reshape_0d", lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), [()]),
    Case("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2), [(2, 3, 4)]),
    Case("transpose_neg", lambda x: x.transpose(-1, 1), lambda x: x.transpose(-1, 1), [(2, 3, 4)]),
    Case("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
    Case("T_2d", lambda x: x.T, lambda x: x.T, [(3, 4)]),
    Case("T_3d", lambda x: x.T, rev, [(2, 3, 4)]),
    Case("expand", lambda x: x.expand(2, 3, 4), lambda x: x.expand(2, 3, 4), [(3, 1)]),
    Case("expand_minus1", lambda x: x.expand(5, -1, 4), lambda x: x.expand(5, -1, 4), [(3, 1)]),
    Case("squeeze", lambda x: x.squeeze(), lambda x: x.squeeze(), [(1, 3, 1, 2)]),
    Case("squeeze_axis", lambda x: x.squeeze(-2), lambda x: x.squeeze(-2), [(1, 3, 1, 2)]),
    Case("unsqueeze", lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1), [(3, 2)]),
    Case("unsqueeze_neg", lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), [(3, 2)]),
    Case("flatten", lambda x: x.flatten(), lambda x: x.flatten(), [(2, 3, 4)]),
    Case("flatten_range", lambda x: x.flatten(1, 2), lambda x: x.flatten(1, 2), [(2, 3, 4, 2)]),
    # indexing
    Case("getitem_slice", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [(3, 5)]),
    Case("getitem_negstep", lambda x: x[::-1], lambda x: x.flip(0), [(4, 3)]),
    Case("getitem_negstep2", lambda x: x[:, 3:0:-2], lambda x: x.flip(1)[:, 1:4:2], [(3, 5)]),
    Case("getitem_int", lambda x: x[1], lambda x: x[1], [(3, 4)]),
    Case("getitem_negint", lambda x: x[-1, 2], lambda x: x[-1, 2], [(3, 4)]),
    Case("getitem_ellipsis_none", lambda x: x[..., None, 1], lambda x: x[..., None, 1], [(2, 3, 4)]),
    Case("getitem_intarray_rep", lambda x: x[IDX_REP], lambda x: x[_t(IDX_REP)], [(3, 4)]),
    Case("getitem_list_rep", lambda x: x[[0, 0, 1]], lambda x: x[[0, 0, 1]], [(3,)]),
    Case("getitem_two_arrays", lambda x: x[[0, 2, 0], [1, 1, 1]], lambda x: x[[0, 2, 0], [1, 1, 1]], [(3, 4)]),
    Case("getitem_mask", lambda x: x[MASK_34], lambda x: x[_t(MASK_34)], [(3, 4)]),
    Case("getitem_mask_rows", lambda x: x[np.array([True, False, True])], lambda x: x[_t(np.array([True, False, True]))], [(3, 4)]),
    Case("getitem_mixed", lambda x: x[1:, IDX_REP[:3]], lambda x: x[1:, _t(IDX_REP[:3])], [(3, 4)]),
    Case("getitem_mixed_none", lambda x: x[None, [2, 2], ..., 1:3], lambda x: x[None, [2, 2], ..., 1:3], [(3, 2, 4)]),
    # join and pad
    Case("cat0", lambda a, b: cat([a, b]), lambda a, b: torch.cat([a, b]), [(2, 3), (4, 3)]),
    Case("cat_neg3", lambda a, b, c: cat([a, b, c], axis=-1), lambda a, b, c: torch.cat([a, b, c], -1), [(2, 1), (2, 3), (2, 2)]),
    Case("stack0", lambda a, b: stack([a, b]), lambda a, b: torch.stack([a, b]), [(2, 3), (2, 3)]),
    Case("stack1", lambda a, b, c: stack([a, b, c], 1), lambda a, b, c: torch.stack([a, b, c], 1), [(2, 3), (2, 3), (2, 3)]),
    Case("stack_neg", lambda a, b: stack([a, b], -1), lambda a, b: torch.stack([a, b], -1), [(2, 3), (2, 3)]),
    Case("pad_int", lambda x: x.pad(1), lambda x: F.pad(x, torch_pad(1, 2)), [(2, 3)]),
    Case("pad_axes", lambda x: x.pad(((0, 1), (2, 0), (1, 1)), value=0.5), lambda x: F.pad(x, torch_pad(((0, 1), (2, 0), (1, 1)), 3), value=0.5), [(2, 3, 2)]),
    # compositions
    Case("layernorm", lambda x: (x - x.mean(-1, keepdims=True)) / (x.var(-1, keepdims=True, correction=0) + 1e-5).sqrt(), lambda x: F.layer_norm(x, (4,), eps=1e-5), [(3, 4)]),
    Case("cross_entropy", lambda x: -x.log_softmax()[np.arange(3), [1, 0, 3]].mean(), lambda x: F.cross_entropy(x, _t(np.array([1, 0, 3]))), [(3, 4)]),
    Case("mlp", lambda x, w, b: ((x @ w + b).tanh() @ w.T).sigmoid().sum(1), lambda x, w, b: ((x @ w + b).tanh() @ w.T).sigmoid().sum(1), [(5, 3), (3, 4), (4,)]),
]
# fmt: on
