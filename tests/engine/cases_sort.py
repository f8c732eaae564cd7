# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for ordering: sort/argsort/msort, topk, kthvalue, median/nanmedian,
mode and unique.

Ties: torch's CPU sort keeps equal elements in their order (ascending and descending), as
ours always does, so ``stable=True`` cases use data with ties ("int"); which tied element
``topk``/``kthvalue``/``median(dim)`` report is unspecified in torch, so those cases use
tie-free data ("distinct", "real") or compare the values only.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_sort.npz`` (``python scripts/make_op_fixtures.py sort``).
"""

from __future__ import annotations

import math

from optable import Case, Reduce, torch

import tinygrad_opt as tg


def _nan(x):
    return (x + 1.5).log()


def _size(x, d):
    return x.shape[d] if x.ndim else 1


# Second derivatives (test_second_order.py). TIES: at ties the gradient jumps, so finite
# differences of it are meaningless (torch's and ours are still compared). TORCH_NAN: an
# empty median's gradient is empty; torch's double backward divides 0 by 0 and is nan
# with respect to the upstream, ours is 0 (checked by finite differences).
TIES = {"second_fd": False}
TORCH_NAN = {"second_torch": False}


CASES = [
    # sort / argsort / msort
    Case("sort_default", lambda x: x.sort(), lambda x: x.sort(), [((4, 6), "distinct")]),
    Case(
        "sort_descending_dim0",
        lambda x: x.sort(0, True),
        lambda x: x.sort(0, True),
        [((5, 3), "distinct")],
    ),
    Case(
        "sort_kw_dim_descending",
        lambda x: tg.sort(x, dim=1, descending=True),
        lambda x: torch.sort(x, dim=1, descending=True),
        [((2, 5, 3), "distinct")],
    ),
    Case(
        "sort_stable_ties",
        lambda x: x.sort(stable=True),
        lambda x: x.sort(stable=True),
        [((5, 8), "int")],
        **TIES,
    ),
    Case(
        "sort_stable_descending_ties",
        lambda x: x.sort(dim=-1, descending=True, stable=True),
        lambda x: x.sort(dim=-1, descending=True, stable=True),
        [((5, 8), "int")],
        **TIES,
    ),
    Case(
        "sort_default_ties_values",
        lambda x: x.sort(1, True).values,
        lambda x: x.sort(1, True).values,
        [((5, 8), "int")],
        **TIES,
    ),
    Case(
        "sort_nan_ascending",
        lambda x: _nan(x).sort(dim=1, stable=True),
        lambda x: _nan(x).sort(dim=1, stable=True),
        [(5, 7)],
    ),
    Case(
        "sort_nan_descending",
        lambda x: _nan(x).sort(dim=1, descending=True, stable=True),
        lambda x: _nan(x).sort(dim=1, descending=True, stable=True),
        [(5, 7)],
    ),
    Case(
        "sort_long_stable",
        lambda x: x.sort(dim=0, stable=True),
        lambda x: x.sort(dim=0, stable=True),
        [((6, 3), "slong")],
    ),
    Case(
        "sort_bool_stable",
        lambda x: x.sort(dim=1, descending=True, stable=True),
        lambda x: x.sort(dim=1, descending=True, stable=True),
        [((3, 6), "bool")],
    ),
    Case(
        "sort_attrs",
        lambda x: (x.sort(0).values, x.sort(0).indices),
        lambda x: (x.sort(0).values, x.sort(0).indices),
        [((4, 3), "distinct")],
    ),
    Case("sort_0d", lambda x: x.sort(), lambda x: x.sort(), [()]),
    Case("sort_empty", lambda x: x.sort(1), lambda x: x.sort(1), [(3, 0)]),
    Case(
        "argsort_descending",
        lambda x: x.argsort(0, True),
        lambda x: x.argsort(0, True),
        [((5, 3), "distinct")],
    ),
    Case(
        "argsort_stable_ties",
        lambda x: tg.argsort(x, stable=True),
        lambda x: torch.argsort(x, stable=True),
        [((4, 9), "int")],
    ),
    Case(
        "argsort_stable_descending_ties",
        lambda x: x.argsort(dim=-1, descending=True, stable=True),
        lambda x: x.argsort(dim=-1, descending=True, stable=True),
        [((4, 9), "int")],
    ),
    Case(
        "argsort_long_stable",
        lambda x: x.argsort(stable=True),
        lambda x: x.argsort(stable=True),
        [((3, 7), "slong")],
    ),
    Case("msort", lambda x: x.msort(), lambda x: x.msort(), [((5, 3), "distinct")]),
    # topk
    Case("topk_default", lambda x: x.topk(3), lambda x: x.topk(3), [((4, 7), "distinct")]),
    Case(
        "topk_smallest_dim0",
        lambda x: x.topk(2, 0, largest=False),
        lambda x: x.topk(2, 0, largest=False),
        [((6, 3), "distinct")],
    ),
    Case(
        "topk_positional",
        lambda x: tg.topk(x, 2, 1, False, True),
        lambda x: torch.topk(x, 2, 1, False, True),
        [((2, 5, 3), "distinct")],
    ),
    Case("topk_k_equals_n", lambda x: x.topk(5), lambda x: x.topk(5), [((3, 5), "distinct")]),
    Case("topk_k0", lambda x: x.topk(0), lambda x: x.topk(0), [((3, 5), "distinct")]),
    Case("topk_partition_path", lambda x: x.topk(3), lambda x: x.topk(3), [((3, 40), "distinct")]),
    Case(
        "topk_partition_smallest",
        lambda x: x.topk(4, largest=False),
        lambda x: x.topk(4, largest=False),
        [((3, 40), "distinct")],
    ),
    Case(
        "topk_unsorted_same_set",
        lambda x: x.topk(3, sorted=False).values.sort(-1).values,
        lambda x: x.topk(3, sorted=False).values.sort(-1).values,
        [((4, 9), "distinct")],
    ),
    Case("topk_nan_largest", lambda x: _nan(x).topk(2), lambda x: _nan(x).topk(2), [(6, 9)]),
    Case(
        "topk_nan_smallest",
        lambda x: _nan(x).topk(2, largest=False),
        lambda x: _nan(x).topk(2, largest=False),
        [(6, 9)],
    ),
    Case("topk_long", lambda x: x.topk(2, 0), lambda x: x.topk(2, 0), [((5, 3), "long100")]),
    Case("topk_0d", lambda x: (*x.topk(1), *x.topk(0)), lambda x: (*x.topk(1), *x.topk(0)), [()]),
    # kthvalue
    Case(
        "kthvalue_default_dim",
        lambda x: x.kthvalue(2),
        lambda x: x.kthvalue(2),
        [((4, 6), "distinct")],
    ),
    Case(
        "kthvalue_dim0_keepdim",
        lambda x: tg.kthvalue(x, 3, 0, True),
        lambda x: torch.kthvalue(x, 3, 0, True),
        [((5, 3), "distinct")],
    ),
    Case(
        "kthvalue_first_last",
        lambda x: (*x.kthvalue(1, 1), *x.kthvalue(6, 1)),
        lambda x: (*x.kthvalue(1, 1), *x.kthvalue(6, 1)),
        [((3, 6), "distinct")],
    ),
    Case(
        "kthvalue_nan_small_k",
        lambda x: _nan(x).kthvalue(2, 1),
        lambda x: _nan(x).kthvalue(2, 1),
        [(6, 9)],
    ),
    Case(
        "kthvalue_long_values",
        lambda x: x.kthvalue(3, 1).values,
        lambda x: x.kthvalue(3, 1).values,
        [((4, 7), "slong")],
    ),
    Case("kthvalue_0d", lambda x: x.kthvalue(1), lambda x: x.kthvalue(1), [()]),
    # median / nanmedian: lower median; NaN rules
    Case("median_dim_odd", lambda x: x.median(1), lambda x: x.median(1), [((4, 7), "distinct")]),
    Case(
        "median_dim_even_is_lower",
        lambda x: x.median(0, keepdim=True),
        lambda x: x.median(0, keepdim=True),
        [((6, 4), "distinct")],
    ),
    Case(
        "median_dim_kw",
        lambda x: tg.median(x, dim=-1),
        lambda x: torch.median(x, dim=-1),
        [((2, 3, 4), "distinct")],
    ),
    Case(
        "median_dim_nan_first_nan",
        lambda x: _nan(x).median(1),
        lambda x: _nan(x).median(1),
        [(6, 8)],
    ),
    Case(
        "median_dim_long_values",
        lambda x: x.median(1).values,
        lambda x: x.median(1).values,
        [((4, 7), "slong")],
    ),
    Case("median_all", lambda x: x.median(), lambda x: x.median(), [((4, 6), "distinct")]),
    Case(
        "median_all_ties_share",
        lambda x: x.median(),
        lambda x: x.median(),
        [((4, 5), "int")],
        **TIES,
    ),
    Case(
        "median_all_nan_shares_among_nans",
        lambda x: _nan(x).median(),
        lambda x: _nan(x).median(),
        [(4, 5)],
    ),
    Case("median_all_long", lambda x: x.median(), lambda x: x.median(), [((4, 5), "slong")]),
    Case(
        "median_all_empty_is_nan", lambda x: x.median(), lambda x: x.median(), [(0, 3)], **TORCH_NAN
    ),
    Case("median_0d_dim", lambda x: x.median(0), lambda x: x.median(0), [()]),
    Case("nanmedian_dim", lambda x: _nan(x).nanmedian(1), lambda x: _nan(x).nanmedian(1), [(6, 8)]),
    Case(
        "nanmedian_all_nan_row",
        lambda x: tg.where(tg.tensor([[True], [False], [True]]), math.nan, x).nanmedian(1),
        lambda x: torch.where(torch.tensor([[True], [False], [True]]), math.nan, x).nanmedian(1),
        [(3, 5)],
    ),
    Case("nanmedian_all", lambda x: _nan(x).nanmedian(), lambda x: _nan(x).nanmedian(), [(4, 5)]),
    Case(
        "nanmedian_all_ties_share",
        lambda x: x.nanmedian(),
        lambda x: x.nanmedian(),
        [((4, 5), "int")],
        **TIES,
    ),
    # mode: the smallest most frequent value, at its last index
    Case("mode_long", lambda x: x.mode(), lambda x: x.mode(), [((6, 9), "slong")]),
    Case(
        "mode_float_dim0_keepdim",
        lambda x: x.mode(0, True),
        lambda x: x.mode(0, True),
        [((9, 5), "int")],
        **TIES,
    ),
    Case(
        "mode_all_distinct_is_min",
        lambda x: tg.mode(x, 1),
        lambda x: torch.mode(x, 1),
        [((3, 6), "distinct")],
    ),
    Case("mode_nan", lambda x: _nan(x).mode(1), lambda x: _nan(x).mode(1), [(6, 8)]),
    Case("mode_bool", lambda x: x.mode(1), lambda x: x.mode(1), [((4, 5), "bool")]),
    Case("mode_0d", lambda x: x.mode(), lambda x: x.mode(), [()]),
    # unique (no gradient)
    Case(
        "unique_sorted", lambda x: x.unique(), lambda x: x.unique(), [((4, 6), "slong")], grad=False
    ),
    Case(
        "unique_inverse_counts",
        lambda x: tg.unique(x, return_inverse=True, return_counts=True),
        lambda x: torch.unique(x, return_inverse=True, return_counts=True),
        [((4, 6), "int")],
        grad=False,
    ),
    Case(
        "unique_counts_only",
        lambda x: x.unique(return_counts=True),
        lambda x: x.unique(return_counts=True),
        [((3, 5), "long3")],
        grad=False,
    ),
    Case(
        "unique_dim0",
        lambda x: x.unique(dim=0, return_inverse=True, return_counts=True),
        lambda x: x.unique(dim=0, return_inverse=True, return_counts=True),
        [((7, 2), "long3")],
        grad=False,
    ),
    Case(
        "unique_dim1",
        lambda x: x.unique(dim=1, return_inverse=True),
        lambda x: x.unique(dim=1, return_inverse=True),
        [((2, 7), "long3")],
        grad=False,
    ),
    Case(
        "unique_nan_distinct",
        lambda x: _nan(x).unique(return_counts=True),
        lambda x: _nan(x).unique(return_counts=True),
        [(4, 5)],
        grad=False,
    ),
    Case(
        "unique_bool",
        lambda x: x.unique(return_inverse=True),
        lambda x: x.unique(return_inverse=True),
        [((3, 4), "bool")],
        grad=False,
    ),
    Case("unique_0d", lambda x: x.unique(), lambda x: x.unique(), [()], grad=False),
]

REDUCE = [
    Reduce("sort", lambda x, d, k: x.sort(d, k), lambda x, d, k: x.sort(d, k), "distinct"),
    Reduce(
        "sort_stable_ties",
        lambda x, d, k: x.sort(dim=d, descending=k, stable=True),
        lambda x, d, k: x.sort(dim=d, descending=k, stable=True),
        "int",
    ),
    Reduce(
        "argsort_stable_ties",
        lambda x, d, k: x.argsort(dim=d, descending=k, stable=True),
        lambda x, d, k: x.argsort(dim=d, descending=k, stable=True),
        "int",
        grad=False,
    ),
    Reduce(
        "topk",
        lambda x, d, k: x.topk(min(2, _size(x, d)), d, k),
        lambda x, d, k: x.topk(min(2, _size(x, d)), d, k),
        "distinct",
    ),
    Reduce(
        "kthvalue",
        lambda x, d, k: x.kthvalue((_size(x, d) + 1) // 2, d, k),
        lambda x, d, k: x.kthvalue((_size(x, d) + 1) // 2, d, k),
        "distinct",
        nonempty=True,
    ),
    Reduce(
        "median_dim",
        lambda x, d, k: x.median(d, k),
        lambda x, d, k: x.median(d, k),
        "distinct",
        nonempty=True,
    ),
    Reduce(
        "nanmedian_dim",
        lambda x, d, k: x.nanmedian(d, k),
        lambda x, d, k: x.nanmedian(d, k),
        "distinct",
        nonempty=True,
    ),
    Reduce(
        "mode", lambda x, d, k: x.mode(d, k), lambda x, d, k: x.mode(d, k), "int", nonempty=True
    ),
]
