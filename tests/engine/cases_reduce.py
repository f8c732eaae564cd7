# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for reductions: sum/mean/prod/nansum/nanmean, var/std and their
``*_mean``, norm, any/all/count_nonzero, logsumexp and the softmax family, and the extrema
(max/min/amax/amin/argmax/argmin) — every torch spelling of ``dim``/``keepdim``/
``unbiased``/``correction``/``dtype``, NaN and ties, zeros in products.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_reduce.npz`` (``python scripts/make_op_fixtures.py reduce``).

NaNs are made differentiably as ``log(x + 1.5)`` (NaN where x < -1.5, gradient 1/(x+1.5)
everywhere), so a gradient routed to a NaN element shows up in the input's gradient.
"""

from __future__ import annotations

import math

import numpy as np
from optable import Case, Reduce, torch

import tinygrad_opt as tg

INF = math.inf

# zeros for products: row 0 none, row 1 one, row 2 two, row 3 three
ZEROS_ROWS = np.ones((4, 5))
ZEROS_ROWS[1, 2] = 0
ZEROS_ROWS[2, [0, 4]] = 0
ZEROS_ROWS[3, [1, 2, 3]] = 0
ONE_ZERO = np.ones((2, 3))
ONE_ZERO[1, 1] = 0
TWO_ZEROS = ONE_ZERO.copy()
TWO_ZEROS[0, 2] = 0
ZERO_ROW = np.ones((3, 4))  # a row of zeros: a norm of 0, where the gradient is a subgradient
ZERO_ROW[1] = 0

# Second derivatives (test_second_order.py). TIES: at ties the gradient jumps, so finite
# differences of it are meaningless (torch's and ours are still compared). NOT_FINITE: S
# itself is nan or inf (n <= correction, a NaN maximum), or a NaN gradient (an all-NaN
# nanmean slice, as torch's) that a where hides from S leaves NaN in its derivative (as
# torch's) though S is smooth. TORCH_NAN: where the gradient is taken as 0 (a zero norm
# or std, an empty median) torch's double backward divides 0 by 0 and is nan; ours is
# the derivative of that 0, checked by finite differences.
TIES = NOT_FINITE = {"second_fd": False}
TORCH_NAN = {"second_torch": False}


def _zeros(mask):
    """(ours, theirs) multiplying the input by a constant 0/1 mask."""
    return (lambda x: x * tg.tensor(mask)), (lambda x: x * torch.tensor(mask))


def _nan(x):
    return (x + 1.5).log()


def _case_zeros(name, mask, op, shape, **kw):
    mo, mt = _zeros(mask)
    return Case(name, lambda x: op(mo(x)), lambda x: op(mt(x)), [shape], **kw)


def _tdims(x, d):
    """torch's logsumexp needs explicit dims: every dim for None (and for 0-d input)."""
    return tuple(range(x.ndim)) if d is None or d == () else d


CASES = [
    # sum / mean: every spelling of dim, keepdim and dtype
    Case("sum_dim_list", lambda x: x.sum([0, 2]), lambda x: x.sum([0, 2]), [(2, 3, 4)]),
    Case("sum_dim_empty_list_is_all", lambda x: x.sum([]), lambda x: x.sum([]), [(2, 3)]),
    Case(
        "sum_dim_empty_tuple_keep",
        lambda x: x.sum((), keepdim=True),
        lambda x: x.sum((), keepdim=True),
        [(2, 3)],
    ),
    Case("sum_keepdim_positional", lambda x: x.sum(1, True), lambda x: x.sum(1, True), [(2, 3, 4)]),
    Case("sum_dim_kw_neg", lambda x: tg.sum(x, dim=-1), lambda x: torch.sum(x, dim=-1), [(2, 3)]),
    Case(
        "sum_dtype_f64_of_f32",
        lambda x: x.sum(1, dtype=tg.float64),
        lambda x: x.sum(1, dtype=torch.float64),
        [((3, 4), "real@f32")],
    ),
    Case(
        "sum_dtype_f32_of_long",
        lambda x: x.sum(0, dtype=tg.float32),
        lambda x: x.sum(0, dtype=torch.float32),
        [((3, 4), "long5")],
    ),
    Case(
        "sum_dtype_long_of_float",
        lambda x: x.sum(1, dtype=tg.int64),
        lambda x: x.sum(1, dtype=torch.int64),
        [((3, 4), "int")],
        grad=False,
    ),
    Case("sum_int32_is_long", lambda x: x.sum(), lambda x: x.sum(), [((3, 4), "int5")]),
    Case(
        "sum_bool_dims_keep",
        lambda x: x.sum((0, 1), keepdim=True),
        lambda x: x.sum((0, 1), keepdim=True),
        [((3, 4, 2), "bool")],
    ),
    Case(
        "sum_f32",
        lambda x: x.sum(0),
        lambda x: x.sum(0),
        [((5, 3), "real@f32")],
        rtol=1e-6,
        atol=1e-6,
    ),
    Case(
        "mean_dim_list_keep",
        lambda x: x.mean([0, -1], keepdim=True),
        lambda x: x.mean([0, -1], keepdim=True),
        [(2, 3, 4)],
    ),
    Case(
        "mean_dtype_f64_of_f32",
        lambda x: x.mean(1, dtype=tg.float64),
        lambda x: x.mean(1, dtype=torch.float64),
        [((3, 4), "real@f32")],
    ),
    Case(
        "mean_dtype_of_long",
        lambda x: x.mean(dtype=tg.float64),
        lambda x: x.mean(dtype=torch.float64),
        [((3, 4), "long5")],
    ),
    Case("mean_empty_is_nan", lambda x: x.mean(1), lambda x: x.mean(1), [(3, 0)]),
    Case("mean_none_dim", lambda x: tg.mean(x, None), lambda x: torch.mean(x, None), [(2, 3)]),
    Case(
        "sum_dtype_int32_of_long",
        lambda x: (x.sum(1, dtype=tg.int32), x.nansum(dtype=tg.int32)),
        lambda x: (x.sum(1, dtype=torch.int32), x.nansum(dtype=torch.int32)),
        [((3, 4), "slong")],
    ),
    Case(
        "prod_dtype_int32_of_long",
        lambda x: x.prod(1, dtype=tg.int32),
        lambda x: x.prod(1, dtype=torch.int32),
        [((3, 4), "slong")],
    ),
    # prod: dtypes, and gradients with zeros
    Case("prod_all", lambda x: x.prod(), lambda x: x.prod(), [((3, 4), "pos")]),
    Case("prod_dim", lambda x: x.prod(1), lambda x: x.prod(1), [(3, 4)]),
    Case(
        "prod_dim_keep_neg",
        lambda x: x.prod(-2, keepdim=True),
        lambda x: x.prod(-2, keepdim=True),
        [(2, 3, 4)],
    ),
    Case("prod_dim0_3d", lambda x: tg.prod(x, 0), lambda x: torch.prod(x, 0), [(3, 2, 2)]),
    Case("prod_int_ties_zeros", lambda x: x.prod(1), lambda x: x.prod(1), [((4, 6), "int")]),
    _case_zeros("prod_rows_0_1_2_3_zeros", ZEROS_ROWS, lambda t: t.prod(1), (4, 5)),
    _case_zeros("prod_cols_zeros_keep", ZEROS_ROWS, lambda t: t.prod(0, keepdim=True), (4, 5)),
    _case_zeros("prod_all_one_zero", ONE_ZERO, lambda t: t.prod(), (2, 3)),
    _case_zeros("prod_all_two_zeros", TWO_ZEROS, lambda t: t.prod(), (2, 3)),
    Case("prod_long", lambda x: x.prod(0), lambda x: x.prod(0), [((3, 4), "slong")]),
    Case("prod_int32_is_long", lambda x: x.prod(), lambda x: x.prod(), [((2, 3), "int5")]),
    Case("prod_bool_is_long", lambda x: x.prod(1), lambda x: x.prod(1), [((3, 4), "bool")]),
    Case(
        "prod_dtype_f64_of_long",
        lambda x: x.prod(1, dtype=tg.float64),
        lambda x: x.prod(1, dtype=torch.float64),
        [((3, 4), "slong")],
    ),
    Case("prod_empty_is_one", lambda x: x.prod(1), lambda x: x.prod(1), [(3, 0)]),
    Case("prod_0d", lambda x: x.prod(0), lambda x: x.prod(0), [()]),
    # nansum / nanmean
    Case("nansum_nan", lambda x: _nan(x).nansum(), lambda x: _nan(x).nansum(), [(4, 5)]),
    Case(
        "nansum_dims_keep",
        lambda x: tg.nansum(_nan(x), (0, 2), keepdim=True),
        lambda x: torch.nansum(_nan(x), (0, 2), keepdim=True),
        [(3, 4, 2)],
    ),
    Case("nansum_long", lambda x: x.nansum(1), lambda x: x.nansum(1), [((3, 4), "slong")]),
    Case("nansum_int32_is_long", lambda x: x.nansum(), lambda x: x.nansum(), [((3, 4), "int5")]),
    Case("nansum_bool", lambda x: x.nansum(0), lambda x: x.nansum(0), [((3, 4), "bool")]),
    Case(
        "nansum_dtype",
        lambda x: x.nansum(1, dtype=tg.float64),
        lambda x: x.nansum(1, dtype=torch.float64),
        [((3, 4), "real@f32")],
        rtol=1e-6,
        atol=1e-7,
    ),
    Case("nanmean_nan_dim", lambda x: _nan(x).nanmean(1), lambda x: _nan(x).nanmean(1), [(5, 6)]),
    Case(
        "nanmean_all_nan_row",
        lambda x: tg.nanmean(tg.where(tg.tensor([[True], [False]]), math.nan, x), -1, True),
        lambda x: torch.nanmean(
            torch.where(torch.tensor([[True], [False]]), math.nan, x), -1, True
        ),
        [(2, 4)],
        **NOT_FINITE,
    ),
    Case("nanmean_all", lambda x: _nan(x).nanmean(), lambda x: _nan(x).nanmean(), [(3, 4)]),
    Case(
        "nanmean_dtype_f64_of_f32",
        lambda x: _nan(x).nanmean(0, dtype=tg.float64),
        lambda x: _nan(x).nanmean(0, dtype=torch.float64),
        [((6, 4), "real@f32")],
        rtol=1e-6,
        atol=1e-7,
    ),
    # var / std: torch's spellings
    Case(
        "var_dim_unbiased_keepdim_positional",
        lambda x: x.var(1, True, True),
        lambda x: x.var(1, True, True),
        [(3, 4)],
    ),
    Case(
        "var_unbiased_flag_in_dim_place", lambda x: x.var(False), lambda x: x.var(False), [(3, 4)]
    ),
    Case(
        "var_dim_list_correction_float",
        lambda x: x.var([0, 2], correction=0.5),
        lambda x: x.var([0, 2], correction=0.5),
        [(3, 2, 4)],
    ),
    Case(
        "var_correction_keep",
        lambda x: tg.var(x, dim=0, correction=2, keepdim=True),
        lambda x: torch.var(x, dim=0, correction=2, keepdim=True),
        [(5, 3)],
    ),
    Case("var_n_equals_correction", lambda x: x.var(1), lambda x: x.var(1), [(3, 1)], **NOT_FINITE),
    Case(
        "var_correction_above_n",
        lambda x: x.var(1, correction=3),
        lambda x: x.var(1, correction=3),
        [(3, 2)],
    ),
    Case(
        "var_all_correction_above_n",
        lambda x: x.var(correction=3),
        lambda x: x.var(correction=3),
        [(2,)],
        **NOT_FINITE,
    ),
    Case("std_all_n_equals_correction", lambda x: x.std(), lambda x: x.std(), [(1,)], **NOT_FINITE),
    Case(
        "var_f32",
        lambda x: x.var(0),
        lambda x: x.var(0),
        [((6, 3), "real@f32")],
        rtol=1e-5,
        atol=1e-6,
    ),
    Case(
        "std_dim_tuple_unbiased_false",
        lambda x: x.std((0, 1), False),
        lambda x: x.std((0, 1), False),
        [(3, 4, 2)],
    ),
    Case(
        "std_constant_slice",
        lambda x: (x * 0 + 1).std(1),
        lambda x: (x * 0 + 1).std(1),
        [(2, 4)],
        **TORCH_NAN,
    ),
    Case(
        "std_correction_0_keep",
        lambda x: x.std(-1, keepdim=True, correction=0),
        lambda x: x.std(-1, keepdim=True, correction=0),
        [(3, 4)],
    ),
    Case("var_mean_dim", lambda x: tg.var_mean(x, 1), lambda x: torch.var_mean(x, 1), [(3, 4)]),
    Case(
        "var_mean_all_unbiased_false",
        lambda x: tg.var_mean(x, False),
        lambda x: torch.var_mean(x, False),
        [(3, 4)],
    ),
    Case(
        "var_mean_dims_correction_keep",
        lambda x: tg.var_mean(x, (0, 2), correction=0, keepdim=True),
        lambda x: torch.var_mean(x, (0, 2), correction=0, keepdim=True),
        [(2, 3, 4)],
    ),
    Case(
        "std_mean_dim_unbiased_keep",
        lambda x: tg.std_mean(x, 0, True, True),
        lambda x: torch.std_mean(x, 0, True, True),
        [(4, 3)],
    ),
    Case("std_mean_all", lambda x: tg.std_mean(x), lambda x: torch.std_mean(x), [(3, 4)]),
    # norm (vector norms, as torch.norm)
    Case("norm_default_fro", lambda x: x.norm(), lambda x: x.norm(), [(3, 4)]),
    Case(
        "norm_fro_two_dims_keep",
        lambda x: tg.norm(x, "fro", (0, 2), True),
        lambda x: torch.norm(x, "fro", (0, 2), True),
        [(2, 3, 4)],
    ),
    Case("norm_p_none", lambda x: tg.norm(x, None, 1), lambda x: torch.norm(x, None, 1), [(3, 4)]),
    Case("norm_p1_dim", lambda x: x.norm(1, 1), lambda x: x.norm(1, 1), [(3, 4)]),
    Case("norm_p3_dims", lambda x: x.norm(3, (0, 1)), lambda x: x.norm(3, (0, 1)), [(3, 4, 2)]),
    Case("norm_p_half", lambda x: x.norm(0.5, -1), lambda x: x.norm(0.5, -1), [(3, 4)]),
    Case("norm_p_1_5", lambda x: x.norm(1.5, 0), lambda x: x.norm(1.5, 0), [(3, 4)]),
    Case("norm_p_minus1", lambda x: x.norm(-1, 1), lambda x: x.norm(-1, 1), [((3, 4), "away0")]),
    Case(
        "norm_inf_keep",
        lambda x: x.norm(INF, 1, keepdim=True),
        lambda x: x.norm(INF, 1, keepdim=True),
        [(3, 4)],
    ),
    Case(
        "norm_inf_ties",
        lambda x: x.norm(INF, 1),
        lambda x: x.norm(INF, 1),
        [((4, 5), "int")],
        **TIES,
    ),
    Case("norm_neg_inf", lambda x: x.norm(-INF), lambda x: x.norm(-INF), [(3, 4)]),
    Case("norm_p0_counts", lambda x: x.norm(0, 1), lambda x: x.norm(0, 1), [((3, 5), "int")]),
    Case(
        "norm_dtype_f64_of_f32",
        lambda x: x.norm(2, 1, dtype=tg.float64),
        lambda x: x.norm(2, 1, dtype=torch.float64),
        [((3, 4), "real@f32")],
        rtol=1e-6,
        atol=1e-7,
    ),
    Case("norm_empty_is_zero", lambda x: x.norm(2, 1), lambda x: x.norm(2, 1), [(3, 0)]),
    _case_zeros(
        "norm2_zero_row_subgradient", ZERO_ROW, lambda t: t.norm(2, 1), (3, 4), **TORCH_NAN
    ),
    _case_zeros("norm1_zero_row_subgradient", ZERO_ROW, lambda t: t.norm(1, 1), (3, 4)),
    _case_zeros(
        "norm3_zero_row_subgradient", ZERO_ROW, lambda t: t.norm(3, 1), (3, 4), **TORCH_NAN
    ),
    _case_zeros(
        "norm_half_zero_row_subgradient", ZERO_ROW, lambda t: t.norm(0.5, 1), (3, 4), **TORCH_NAN
    ),
    _case_zeros(
        "norm_1_5_zero_row_subgradient", ZERO_ROW, lambda t: t.norm(1.5, 1), (3, 4), **TORCH_NAN
    ),
    _case_zeros("norm_inf_zero_row", ZERO_ROW, lambda t: t.norm(INF, 1), (3, 4)),
    _case_zeros("norm_all_zero", np.zeros((2, 3)), lambda t: t.norm(), (2, 3), **TORCH_NAN),
    # any / all / count_nonzero: bool results for any input dtype (uint8 stays uint8)
    Case("any_float_dim", lambda x: x.any(1), lambda x: x.any(1), [((3, 4), "int")]),
    Case(
        "all_float_dims_keep",
        lambda x: x.all((0, 2), keepdim=True),
        lambda x: x.all((0, 2), keepdim=True),
        [((3, 2, 4), "int")],
    ),
    Case(
        "any_all_long",
        lambda x: (x.any(), x.all()),
        lambda x: (x.any(), x.all()),
        [((3, 4), "long3")],
    ),
    Case(
        "all_bool_dim_neg", lambda x: tg.all(x, -1), lambda x: torch.all(x, -1), [((3, 4), "bool")]
    ),
    Case(
        "any_empty_tuple_reduces_nothing",
        lambda x: x.any(()),
        lambda x: x.any(()),
        [((3, 4), "int")],
    ),
    Case(
        "any_uint8",
        lambda x: (x.to(tg.uint8).any(1), x.to(tg.uint8).all()),
        lambda x: (x.to(torch.uint8).any(1), x.to(torch.uint8).all()),
        [((3, 4), "long3")],
    ),
    Case("any_all_empty", lambda x: (x.any(1), x.all(1)), lambda x: (x.any(1), x.all(1)), [(3, 0)]),
    Case(
        "count_nonzero_all",
        lambda x: x.count_nonzero(),
        lambda x: x.count_nonzero(),
        [((3, 4), "int")],
    ),
    Case(
        "count_nonzero_dims",
        lambda x: tg.count_nonzero(x, (0, 2)),
        lambda x: torch.count_nonzero(x, (0, 2)),
        [((3, 2, 4), "long3")],
    ),
    Case(
        "count_nonzero_bool_dim",
        lambda x: x.count_nonzero(-1),
        lambda x: x.count_nonzero(-1),
        [((3, 4), "bool")],
    ),
    # logsumexp / softmax family
    Case(
        "logsumexp_dim_tuple",
        lambda x: x.logsumexp((0, 2)),
        lambda x: x.logsumexp((0, 2)),
        [(2, 3, 4)],
    ),
    Case(
        "logsumexp_dim_list_keep",
        lambda x: tg.logsumexp(x, [1], True),
        lambda x: torch.logsumexp(x, [1], True),
        [(2, 3, 4)],
    ),
    Case(
        "logsumexp_wide",
        lambda x: (x * 30).logsumexp(1),
        lambda x: (x * 30).logsumexp(1),
        [((3, 4), "wide")],
    ),
    Case(
        "logsumexp_long_is_float",
        lambda x: x.logsumexp(1),
        lambda x: x.logsumexp(1),
        [((3, 4), "long5")],
    ),
    Case("logsumexp_empty_dim", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), [(3, 0)]),
    Case(
        "softmax_dtype_f64_of_f32",
        lambda x: x.softmax(1, dtype=tg.float64),
        lambda x: x.softmax(1, dtype=torch.float64),
        [((3, 4), "real@f32")],
    ),
    Case(
        "softmax_dtype_positional",
        lambda x: tg.softmax(x, 0, tg.float64),
        lambda x: torch.softmax(x, 0, torch.float64),
        [((3, 4), "long5")],
    ),
    Case(
        "log_softmax_dim_kw_dtype",
        lambda x: x.log_softmax(dim=-2, dtype=tg.float64),
        lambda x: x.log_softmax(dim=-2, dtype=torch.float64),
        [((3, 4), "real@f32")],
    ),
    Case(
        "log_softmax_wide",
        lambda x: (x * 30).log_softmax(0),
        lambda x: (x * 30).log_softmax(0),
        [((3, 4), "wide")],
    ),
    # max / min / amax / amin: NaN and ties
    Case("max_dim_nan", lambda x: _nan(x).max(1), lambda x: _nan(x).max(1), [((5, 6), "real")]),
    Case(
        "min_dim_nan_keep",
        lambda x: _nan(x).min(0, keepdim=True),
        lambda x: _nan(x).min(0, keepdim=True),
        [((6, 5), "real")],
    ),
    Case("max_dim_ties_first", lambda x: x.max(-1), lambda x: x.max(-1), [((5, 6), "int")], **TIES),
    Case(
        "min_dim_ties_first",
        lambda x: tg.min(x, 0),
        lambda x: torch.min(x, 0),
        [((6, 5), "int")],
        **TIES,
    ),
    Case("max_dim_0d", lambda x: x.max(0), lambda x: x.max(0), [()]),
    Case("max_dim_empty_other_dim", lambda x: x.max(0), lambda x: x.max(0), [(3, 0)]),
    Case("max_dim_long", lambda x: x.max(1), lambda x: x.max(1), [((3, 4), "slong")]),
    Case("max_dim_bool", lambda x: x.max(1), lambda x: x.max(1), [((3, 4), "bool")]),
    Case(
        "max_all_nan_shares_among_nans",
        lambda x: _nan(x).max(),
        lambda x: _nan(x).max(),
        [((4, 5), "real")],
    ),
    Case(
        "min_all_nan_shares_among_nans",
        lambda x: _nan(x).min(),
        lambda x: _nan(x).min(),
        [((4, 5), "real")],
    ),
    Case("min_all_ties_share", lambda x: x.min(), lambda x: x.min(), [((3, 4), "int")], **TIES),
    Case(
        "amax_dim_nan_row_grad_is_nan",
        lambda x: _nan(x).amax(1),
        lambda x: _nan(x).amax(1),
        [((5, 6), "real")],
        **NOT_FINITE,
    ),
    Case(
        "amin_ties_dims",
        lambda x: x.amin((0, 1)),
        lambda x: x.amin((0, 1)),
        [((3, 4, 2), "int")],
        **TIES,
    ),
    Case("amax_all_default", lambda x: x.amax(), lambda x: x.amax(), [((3, 4), "int")], **TIES),
    Case(
        "amax_dim_list_keep",
        lambda x: tg.amax(x, [0, 2], keepdim=True),
        lambda x: torch.amax(x, [0, 2], keepdim=True),
        [((2, 3, 4), "int")],
        **TIES,
    ),
    Case("amax_bool", lambda x: x.amax(1), lambda x: x.amax(1), [((3, 4), "bool")]),
    Case("max_elementwise_other", lambda x, y: x.max(y), lambda x, y: x.max(y), [(3, 4), (4,)]),
    # argmax / argmin: int64, first of ties, NaN wins
    Case("argmax_dim", lambda x: x.argmax(1), lambda x: x.argmax(1), [((3, 5), "distinct")]),
    Case(
        "argmin_dim_keep",
        lambda x: x.argmin(0, keepdim=True),
        lambda x: x.argmin(0, keepdim=True),
        [((3, 5), "distinct")],
    ),
    Case("argmax_flat", lambda x: x.argmax(), lambda x: x.argmax(), [((3, 5), "distinct")]),
    Case(
        "argmax_flat_keepdim",
        lambda x: tg.argmax(x, keepdim=True),
        lambda x: torch.argmax(x, keepdim=True),
        [((3, 5), "distinct")],
    ),
    Case(
        "argmax_ties_first",
        lambda x: (x.argmax(1), x.argmax()),
        lambda x: (x.argmax(1), x.argmax()),
        [((4, 6), "int")],
    ),
    Case(
        "argmin_ties_first",
        lambda x: (x.argmin(0), x.argmin()),
        lambda x: (x.argmin(0), x.argmin()),
        [((4, 6), "int")],
    ),
    Case(
        "argmax_nan",
        lambda x: (_nan(x).argmax(1), _nan(x).argmax()),
        lambda x: (_nan(x).argmax(1), _nan(x).argmax()),
        [((5, 6), "real")],
    ),
    Case(
        "argmin_nan",
        lambda x: (_nan(x).argmin(0), _nan(x).argmin()),
        lambda x: (_nan(x).argmin(0), _nan(x).argmin()),
        [((6, 5), "real")],
    ),
    Case("argmax_long", lambda x: x.argmax(0), lambda x: x.argmax(0), [((4, 3), "slong")]),
    Case(
        "argmax_0d",
        lambda x: (x.argmax(), x.argmax(0, True)),
        lambda x: (x.argmax(), x.argmax(0, True)),
        [()],
    ),
    Case("argmin_empty_other_dim", lambda x: x.argmin(0), lambda x: x.argmin(0), [(3, 0)]),
]


def _lse_theirs(x, d, k):
    return torch.logsumexp(x, _tdims(x, d), k)


def _norm_spec(p, dims="many", nonempty=False, domain="real"):
    return Reduce(
        f"norm_p{p}",
        lambda x, d, k: x.norm(p, d, k),
        lambda x, d, k: torch.norm(x, p, d, k),
        domain,
        dims=dims,
        nonempty=nonempty,
    )


REDUCE = [
    Reduce(
        "sum_f64_dtype",
        lambda x, d, k: x.sum(d, k, dtype=tg.float64),
        lambda x, d, k: x.sum(d, k, dtype=torch.float64),
        "real@f32",
        dims="many",
        rtol=1e-6,
    ),
    Reduce(
        "prod",
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        "real",
        dims="opt",
    ),
    Reduce(
        "prod_int_zeros",
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        "int",
        dims="opt",
    ),
    Reduce(
        "prod_long",
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        lambda x, d, k: x.prod(d, k) if d is not None else x.prod(),
        "slong",
        dims="opt",
    ),
    Reduce("nansum", lambda x, d, k: x.nansum(d, k), lambda x, d, k: x.nansum(d, k), dims="many"),
    Reduce(
        "nanmean", lambda x, d, k: x.nanmean(d, k), lambda x, d, k: x.nanmean(d, k), dims="many"
    ),
    Reduce(
        "var", lambda x, d, k: x.var(d, keepdim=k), lambda x, d, k: x.var(d, keepdim=k), dims="many"
    ),
    Reduce(
        "std_correction0",
        lambda x, d, k: x.std(d, keepdim=k, correction=0),
        lambda x, d, k: x.std(d, keepdim=k, correction=0),
        dims="many",
    ),
    Reduce(
        "var_mean",
        lambda x, d, k: tg.var_mean(x, d, keepdim=k),
        lambda x, d, k: torch.var_mean(x, d, keepdim=k),
        dims="many",
    ),
    Reduce("logsumexp", lambda x, d, k: x.logsumexp(d, k), _lse_theirs, dims="many"),
    Reduce("softmax", lambda x, d, k: x.softmax(d), lambda x, d, k: x.softmax(d), dims="one"),
    Reduce(
        "log_softmax",
        lambda x, d, k: x.log_softmax(d),
        lambda x, d, k: x.log_softmax(d),
        dims="one",
    ),
    _norm_spec(2),
    _norm_spec(1),
    _norm_spec(3),
    _norm_spec(INF, dims="one", nonempty=True),
    Reduce(
        "any",
        lambda x, d, k: x.any(d, k) if d is not None else x.any(),
        lambda x, d, k: x.any(d, k) if d is not None else x.any(),
        "int",
        dims="many",
        grad=False,
    ),
    Reduce(
        "all_bool",
        lambda x, d, k: x.all(d, k) if d is not None else x.all(),
        lambda x, d, k: x.all(d, k) if d is not None else x.all(),
        "bool",
        dims="many",
        grad=False,
    ),
    Reduce(
        "count_nonzero",
        lambda x, d, k: x.count_nonzero(d),
        lambda x, d, k: x.count_nonzero(d),
        "int",
        dims="many",
        grad=False,
    ),
    Reduce(
        "argmax",
        lambda x, d, k: x.argmax(d, k),
        lambda x, d, k: x.argmax(d, k),
        "int",
        dims="opt",
        nonempty=True,
    ),
    Reduce(
        "argmin",
        lambda x, d, k: x.argmin(d, k),
        lambda x, d, k: x.argmin(d, k),
        "int",
        dims="opt",
        nonempty=True,
    ),
    Reduce(
        "min_dim_ties",
        lambda x, d, k: x.min(d, keepdim=k),
        lambda x, d, k: x.min(d, keepdim=k),
        "int",
        dims="one",
        nonempty=True,
    ),
    Reduce(
        "amin_many",
        lambda x, d, k: x.amin(d, k) if d is not None else x.amin(),
        lambda x, d, k: x.amin(d, k) if d is not None else x.amin(),
        "int",
        dims="many",
        nonempty=True,
    ),
]
