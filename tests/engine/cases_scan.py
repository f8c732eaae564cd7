# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for scans: cumsum, cumprod (gradients with zeros), cummax/cummin
(ties, NaN, gradient to the index) and logcumsumexp (stability).

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_scan.npz`` (``python scripts/make_op_fixtures.py scan``).
"""

from __future__ import annotations

import math

import numpy as np
from optable import Case, Reduce, torch

import tinygrad_opt as tg

# zeros along the rows: none; one in the middle; two; one first; one last
ZEROS = np.ones((5, 6))
ZEROS[1, 3] = 0
ZEROS[2, [1, 4]] = 0
ZEROS[3, 0] = 0
ZEROS[4, 5] = 0


def _zeros_case(name, op, dim_note=""):
    return Case(
        name,
        lambda x: op(x * tg.tensor(ZEROS)),
        lambda x: op(x * torch.tensor(ZEROS)),
        [(5, 6)],
    )


def _nan(x):
    return (x + 1.5).log()


# second derivatives: at ties the gradient jumps, so finite differences of it are
# meaningless (torch's and ours are still compared). NAN_GRAD: logcumsumexp's gradient is
# NaN at a leading -inf (as torch's); a where hides it from S, not from its derivative.
TIES = NAN_GRAD = {"second_fd": False}


CASES = [
    # cumsum: dtypes (bool/int → int64), dims, dtype=
    Case("cumsum_dim1", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [(3, 4)]),
    Case("cumsum_dim0_3d", lambda x: tg.cumsum(x, 0), lambda x: torch.cumsum(x, 0), [(3, 2, 4)]),
    Case("cumsum_dim_kw_neg", lambda x: x.cumsum(dim=-2), lambda x: x.cumsum(dim=-2), [(3, 2, 4)]),
    Case("cumsum_long", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [((3, 4), "slong")]),
    Case("cumsum_int32_is_long", lambda x: x.cumsum(0), lambda x: x.cumsum(0), [((3, 4), "int5")]),
    Case("cumsum_bool_is_long", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [((3, 4), "bool")]),
    Case(
        "cumsum_uint8_is_long",
        lambda x: x.to(tg.uint8).cumsum(1),
        lambda x: x.to(torch.uint8).cumsum(1),
        [((3, 4), "long5")],
    ),
    Case(
        "cumsum_dtype_f64_of_long",
        lambda x: x.cumsum(1, dtype=tg.float64),
        lambda x: x.cumsum(1, dtype=torch.float64),
        [((3, 4), "slong")],
    ),
    Case(
        "cumsum_dtype_f64_of_f32",
        lambda x: x.cumsum(0, dtype=tg.float64),
        lambda x: x.cumsum(0, dtype=torch.float64),
        [((3, 4), "real@f32")],
        rtol=1e-6,
        atol=1e-6,
    ),
    Case(
        "cumsum_dtype_int32_of_long",
        lambda x: x.cumsum(1, dtype=tg.int32),
        lambda x: x.cumsum(1, dtype=torch.int32),
        [((3, 4), "slong")],
    ),
    Case(
        "cumsum_f32",
        lambda x: x.cumsum(1),
        lambda x: x.cumsum(1),
        [((3, 5), "real@f32")],
        rtol=1e-6,
        atol=1e-6,
    ),
    Case("cumsum_0d", lambda x: x.cumsum(0), lambda x: x.cumsum(0), [()]),
    Case("cumsum_empty", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [(3, 0)]),
    # cumprod: gradients with zeros (none, one, two, first, last)
    Case("cumprod_dim1", lambda x: x.cumprod(1), lambda x: x.cumprod(1), [(3, 5)]),
    Case("cumprod_dim0_3d", lambda x: tg.cumprod(x, 0), lambda x: torch.cumprod(x, 0), [(4, 2, 3)]),
    _zeros_case("cumprod_zeros_rows", lambda t: t.cumprod(1)),
    _zeros_case("cumprod_zeros_cols", lambda t: t.cumprod(0)),
    Case(
        "cumprod_int_domain_zeros",
        lambda x: x.cumprod(-1),
        lambda x: x.cumprod(-1),
        [((5, 6), "int")],
    ),
    Case("cumprod_long", lambda x: x.cumprod(1), lambda x: x.cumprod(1), [((3, 4), "slong")]),
    Case(
        "cumprod_bool_is_long", lambda x: x.cumprod(1), lambda x: x.cumprod(1), [((3, 4), "bool")]
    ),
    Case(
        "cumprod_dtype_f64_of_int32",
        lambda x: x.cumprod(1, dtype=tg.float64),
        lambda x: x.cumprod(1, dtype=torch.float64),
        [((3, 4), "int5")],
    ),
    Case("cumprod_0d", lambda x: x.cumprod(-1), lambda x: x.cumprod(-1), [()]),
    Case("cumprod_empty", lambda x: x.cumprod(0), lambda x: x.cumprod(0), [(0, 3)]),
    # cummax / cummin: (values, indices); ties take the later index; NaN propagates
    Case("cummax_dim1", lambda x: x.cummax(1), lambda x: x.cummax(1), [((4, 6), "distinct")]),
    Case(
        "cummin_dim0",
        lambda x: tg.cummin(x, 0),
        lambda x: torch.cummin(x, 0),
        [((6, 4), "distinct")],
    ),
    Case(
        "cummax_ties_latest_index",
        lambda x: x.cummax(1),
        lambda x: x.cummax(1),
        [((5, 7), "int")],
        **TIES,
    ),
    Case(
        "cummin_ties_latest_index",
        lambda x: x.cummin(-1),
        lambda x: x.cummin(-1),
        [((5, 7), "int")],
        **TIES,
    ),
    Case("cummax_nan", lambda x: _nan(x).cummax(1), lambda x: _nan(x).cummax(1), [(5, 7)]),
    Case("cummin_nan", lambda x: _nan(x).cummin(1), lambda x: _nan(x).cummin(1), [(5, 7)]),
    Case(
        "cummax_attr_access",
        lambda x: (x.cummax(0).values, x.cummax(0).indices),
        lambda x: (x.cummax(0).values, x.cummax(0).indices),
        [(4, 3)],
    ),
    Case("cummax_long", lambda x: x.cummax(1), lambda x: x.cummax(1), [((3, 5), "slong")]),
    Case("cummin_bool", lambda x: x.cummin(1), lambda x: x.cummin(1), [((3, 5), "bool")]),
    Case("cummax_0d", lambda x: x.cummax(0), lambda x: x.cummax(0), [()]),
    Case("cummax_empty", lambda x: x.cummax(1), lambda x: x.cummax(1), [(3, 0)]),
    # logcumsumexp: stable for large magnitudes and -inf
    Case("logcumsumexp_dim1", lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), [(3, 5)]),
    Case(
        "logcumsumexp_dim0",
        lambda x: tg.logcumsumexp(x, 0),
        lambda x: torch.logcumsumexp(x, 0),
        [(4, 3)],
    ),
    Case(
        "logcumsumexp_huge",
        lambda x: (x * 30).logcumsumexp(1),
        lambda x: (x * 30).logcumsumexp(1),
        [((3, 6), "wide")],
        atol=1e-9,
    ),
    Case(
        "logcumsumexp_neg_inf",
        lambda x: tg.where(x > 1.2, -math.inf, x).logcumsumexp(1),
        lambda x: torch.where(x > 1.2, -math.inf, x).logcumsumexp(1),
        [(4, 6)],
        **NAN_GRAD,
    ),
    Case(
        "logcumsumexp_f32",
        lambda x: x.logcumsumexp(1),
        lambda x: x.logcumsumexp(1),
        [((3, 5), "real@f32")],
        rtol=1e-5,
        atol=1e-6,
    ),
    Case("logcumsumexp_0d", lambda x: x.logcumsumexp(0), lambda x: x.logcumsumexp(0), [()]),
]

REDUCE = [
    Reduce("cumsum", lambda x, d, k: x.cumsum(d), lambda x, d, k: x.cumsum(d)),
    Reduce("cumsum_bool", lambda x, d, k: x.cumsum(d), lambda x, d, k: x.cumsum(d), "bool"),
    Reduce("cumprod", lambda x, d, k: x.cumprod(d), lambda x, d, k: x.cumprod(d)),
    Reduce("cumprod_zeros", lambda x, d, k: x.cumprod(d), lambda x, d, k: x.cumprod(d), "int"),
    Reduce("cummax_ties", lambda x, d, k: x.cummax(d), lambda x, d, k: x.cummax(d), "int"),
    Reduce("cummin", lambda x, d, k: x.cummin(d), lambda x, d, k: x.cummin(d)),
    Reduce(
        "logcumsumexp", lambda x, d, k: x.logcumsumexp(d), lambda x, d, k: x.logcumsumexp(d), "wide"
    ),
]
