# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for the core: dtypes and promotion, comparisons, indexing, max(dim).

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_core.npz`` (``python scripts/make_op_fixtures.py core``).
"""

from __future__ import annotations

from optable import Binary, Case, Reduce, Unary

import tinygrad_opt as tg

CASES = [
    # dtypes of results: true division of integers is float, comparisons are bool,
    # sums of bools are int64, integers stay integers
    Case(
        "div_int_int",
        lambda a, b: a / (b + 1),
        lambda a, b: a / (b + 1),
        [((3, 4), "long5"), ((4,), "long5")],
    ),
    Case("add_int_float", lambda a, b: a + b, lambda a, b: a + b, [((3, 4), "long5"), (4,)]),
    Case(
        "add_int32_long0d", lambda a, b: a + b, lambda a, b: a + b, [((3,), "int5"), ((), "long5")]
    ),
    Case(
        "mul_f32_f64_0d",
        lambda a, b: a * b,
        lambda a, b: a * b,
        [((2, 3), "real@f32"), ((), "real")],
        rtol=2e-7,  # the product is float32
    ),
    Case("mul_bool_float", lambda a, b: a * b, lambda a, b: a * b, [((2, 3), "bool"), (3,)]),
    Case("lt_float", lambda a, b: a < b, lambda a, b: a < b, [(3, 4), (4,)]),
    Case("eq_int_scalar", lambda a: a == 2, lambda a: a == 2, [((3, 4), "long5")]),
    Case("sum_bool", lambda m: m.sum(), lambda m: m.sum(), [((3, 4), "bool")]),
    Case("sum_int_dim", lambda a: a.sum(1), lambda a: a.sum(1), [((3, 4), "int5")]),
    Case(
        "floordiv_int",
        lambda a, b: a // (b + 1),
        lambda a, b: a // (b + 1),
        [((3, 4), "slong"), ((4,), "long5")],
    ),
    Case(
        "and_or_bool",
        lambda a, b: (a & b) | ~a,
        lambda a, b: (a & b) | ~a,
        [((3, 4), "bool"), ((4,), "bool")],
    ),
    # max/min along a dim: (values, indices), gradient to the first extreme
    Case("max_dim", lambda x: x.max(1), lambda x: x.max(1), [((3, 5), "int")]),
    Case(
        "min_dim_keep",
        lambda x: x.min(-1, keepdim=True),
        lambda x: x.min(-1, keepdim=True),
        [((2, 3, 4), "int")],
    ),
    Case("max_all_ties", lambda x: x.max(), lambda x: x.max(), [((3, 4), "int")]),
    # indexing with bool and integer tensors, and torch's int-first rule
    Case("index_bool_mask", lambda x, m: x[m], lambda x, m: x[m], [(4, 3), ((4,), "bool")]),
    Case("index_bool_mask_2d", lambda x, m: x[m], lambda x, m: x[m], [(4, 3), ((4, 3), "bool")]),
    Case("index_long", lambda x, i: x[i], lambda x, i: x[i], [(5, 3), ((2, 4), "long5")]),
    Case(
        "index_long_pair",
        lambda x, i, j: x[i, j],
        lambda x, i, j: x[i, j],
        [(5, 3), ((6,), "long5"), ((6,), "long3")],
    ),
    Case(
        "index_int_slice_long",
        lambda x, i: x[0, :, i],
        lambda x, i: x[0, :, i],
        [(3, 4, 5), ((2,), "long5")],
    ),
    Case(
        "index_slice_int_long",
        lambda x, i: x[i, :, 1],
        lambda x, i: x[i, :, 1],
        [(3, 4, 5), ((2,), "long3")],
    ),
    Case(
        "index_mask_then_col",
        lambda x, m: x[m, 1:],
        lambda x, m: x[m, 1:],
        [(4, 3), ((4,), "bool")],
    ),
    # a list holding sequences or tensors is a tuple of indices (torch's legacy rule)
    Case(
        "index_list_of_lists",
        lambda x: x[[[0, 2], [1, 1]]],
        lambda x: x[[[0, 2], [1, 1]]],
        [(3, 4, 2)],
    ),
    Case("index_list_nested_one", lambda x: x[[[0]]], lambda x: x[[[0]]], [(3, 4)]),
    Case(
        "index_list_with_tensor",
        lambda x, i: x[[i, 1]],
        lambda x, i: x[[i, 1]],
        [(5, 3, 2), ((2, 2), "long5")],
    ),
    Case("index_list_of_ints", lambda x: x[[2, 0, 2]], lambda x: x[[2, 0, 2]], [(3, 4)]),
    # reductions with torch's names
    Case(
        "amax_dims_keep",
        lambda x: x.amax((0, 2), keepdim=True),
        lambda x: x.amax((0, 2), keepdim=True),
        [((2, 3, 4), "int")],
    ),
    Case(
        "var_unbiased_false",
        lambda x: x.var(1, unbiased=False),
        lambda x: x.var(1, unbiased=False),
        [(3, 4)],
    ),
    Case(
        "std_dim_keep", lambda x: x.std(0, keepdim=True), lambda x: x.std(0, keepdim=True), [(3, 4)]
    ),
    Case("softmax_dim0", lambda x: x.softmax(0), lambda x: x.softmax(0), [(3, 4)]),
    Case(
        "transpose_neg_first",
        lambda x: x.transpose(-1, 0),
        lambda x: x.transpose(-1, 0),
        [(2, 3, 4)],
    ),
    Case("squeeze_noop_dim", lambda x: x.squeeze(0), lambda x: x.squeeze(0), [(2, 1, 3)]),
    Case("squeeze_dims", lambda x: x.squeeze((1, 3)), lambda x: x.squeeze((1, 3)), [(2, 1, 3, 1)]),
    Case(
        "cat_promote",
        lambda a, b: tg.cat([a, b], 1),
        lambda a, b: __import__("torch").cat([a, b], 1),
        [((2, 3), "long5"), (2, 2)],
    ),
]

UNARY = [
    Unary("neg", lambda x: -x, lambda x: -x),
    Unary("exp", lambda x: x.exp(), lambda x: x.exp()),
    Unary("tanh", lambda x: x.tanh(), lambda x: x.tanh()),
]

BINARY = [
    Binary("add", lambda a, b: a + b, lambda a, b: a + b),
    Binary("mul", lambda a, b: a * b, lambda a, b: a * b),
    Binary("div", lambda a, b: a / b, lambda a, b: a / b, "real", "away0"),
    Binary("sub_int_float", lambda a, b: a - b, lambda a, b: a - b, "slong", "real"),
    Binary("ge_float", lambda a, b: a >= b, lambda a, b: a >= b, "int", "int"),
]

REDUCE = [
    Reduce(
        "sum", lambda x, d, k: x.sum(d, keepdim=k), lambda x, d, k: x.sum(d, keepdim=k), dims="many"
    ),
    Reduce(
        "mean",
        lambda x, d, k: x.mean(d, keepdim=k),
        lambda x, d, k: x.mean(d, keepdim=k),
        dims="many",
    ),
    Reduce(
        "amax",
        lambda x, d, k: x.amax(d, keepdim=k),
        lambda x, d, k: x.amax(d, keepdim=k),
        "int",
        dims="one",
        nonempty=True,
    ),
    Reduce(
        "max_dim",
        lambda x, d, k: x.max(d, keepdim=k),
        lambda x, d, k: x.max(d, keepdim=k),
        "int",
        dims="one",
        nonempty=True,
    ),
    Reduce(
        "sum_bool",
        lambda x, d, k: x.sum(d, keepdim=k),
        lambda x, d, k: x.sum(d, keepdim=k),
        "bool",
        dims="one",
    ),
]
