# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for comparisons and logic (bool results), the value tests
(isnan … isclose), and selection: ``where`` (dtype of scalar branches) and ``masked_fill``.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_compare.npz`` (``python scripts/make_op_fixtures.py compare``).
Special values come from the "int" domain (integers in [-2, 2]): ``x / y`` is ±inf or
nan where ``y`` is 0.
"""

from __future__ import annotations

from optable import Binary, Case, Unary

import tinygrad_opt as tg

try:
    import torch
except ImportError:  # the fixture cases still run
    torch = None


def same(name, fn, inputs, **kw):
    """A case whose lambda only uses methods and operators both libraries have."""
    return Case(name, fn, fn, inputs, **kw)


def lib(t):
    """The library a tensor belongs to (tinygrad_opt or torch), for top-level functions."""
    return tg if isinstance(t, tg.Tensor) else torch


def special(a, b):
    """Values with ±inf, nan and finite numbers, from two "int" tensors."""
    return a / b


I45 = ((4, 5), "int")
X = (3, 4)

CASES = [
    # ---------------------------------------------------------------- comparisons
    same("eq_float_ties", lambda a, b: a == b, [I45, ((5,), "int")]),
    same("ne_float_int", lambda a, b: a != b, [I45, ((5,), "slong")]),
    same("lt_int_bool", lambda a, b: a < b, [(X, "slong"), ((4,), "bool")]),
    same("le_float_scalar", lambda a: a <= 1, [I45]),
    same("gt_scalar_reflected", lambda a: 0.5 > a, [I45]),
    same("ge_int32_long0d", lambda a, b: a >= b, [(X, "int5"), ((), "long5")]),
    same("eq_methods", lambda a, b: a.eq(b) | a.gt(b) & a.ne(b), [I45, I45]),
    same("lt_le_methods", lambda a, b: a.lt(b) ^ a.le(b), [I45, I45]),
    same(
        "compare_nan",
        lambda a, b: (special(a, b) == special(a, b)) | (special(a, b) > 0),
        [I45, I45],
    ),
    same("compare_bool_bool", lambda a, b: a < b, [((4,), "bool"), ((3, 1), "bool")]),
    same("compare_0d", lambda a, b: a >= b, [((), "real"), X]),
    same("compare_empty", lambda a, b: a < b, [((0, 3), "real"), ((3,), "real")]),
    # ---------------------------------------------------------------- logic
    same("logical_and_float", lambda a, b: a.logical_and(b), [I45, ((5,), "int")]),
    same("logical_or_int_float", lambda a, b: a.logical_or(b), [(X, "slong"), (X, "int")]),
    same("logical_xor_bool_int", lambda a, b: a.logical_xor(b), [(X, "bool"), ((4,), "slong")]),
    same("logical_not_float", lambda a: a.logical_not(), [I45]),
    same("logical_not_long", lambda a: a.logical_not(), [(X, "slong")]),
    same("logical_nan_is_true", lambda a, b: special(a, b).logical_and(special(b, a)), [I45, I45]),
    Case(
        "logical_top_level",
        lambda a, b: tg.logical_or(tg.logical_not(a), b),
        lambda a, b: torch.logical_or(torch.logical_not(a), b),
        [(X, "bool"), (X, "bool")],
    ),
    # ---------------------------------------------------------------- value tests
    same("isnan", lambda a, b: special(a, b).isnan(), [I45, I45]),
    same("isinf", lambda a, b: special(a, b).isinf(), [I45, I45]),
    same("isposinf", lambda a, b: special(a, b).isposinf(), [I45, I45]),
    same("isneginf", lambda a, b: special(a, b).isneginf(), [I45, I45]),
    same("isfinite", lambda a, b: special(a, b).isfinite(), [I45, I45]),
    same("isnan_long", lambda a: a.isnan(), [(X, "slong")]),
    same("isfinite_bool", lambda a: a.isfinite(), [(X, "bool")]),
    same("isinf_f32", lambda a: (1 / a).isinf(), [(X, "int@f32")]),
    same("isclose_default", lambda a, b: a.isclose(a + b * 1e-6), [X, X]),
    same("isclose_rtol", lambda a, b: a.isclose(a + b * 0.01, rtol=0.01, atol=0), [X, X]),
    same("isclose_atol", lambda a, b: a.isclose(a + b * 0.01, rtol=0, atol=0.01), [X, X]),
    same("isclose_zero_tols", lambda a, b: a.isclose(b, rtol=0, atol=0), [I45, I45]),
    same("isclose_special", lambda a, b, c: special(a, b).isclose(special(c, b)), [I45, I45, I45]),
    same(
        "isclose_equal_nan",
        lambda a, b, c: special(a, b).isclose(special(c, b), equal_nan=True),
        [I45, I45, I45],
    ),
    same("isclose_bcast", lambda a, b: a.isclose(b, atol=0.5), [((4, 1), "real"), ((5,), "real")]),
    same(
        "isclose_long",
        lambda a, b: a.isclose(b, rtol=0.4, atol=1),
        [((4, 5), "slong"), ((4, 5), "slong")],
    ),
    same("isclose_long_default", lambda a, b: a.isclose(b), [((4, 5), "slong"), ((5,), "slong")]),
    same("isclose_bool", lambda a, b: a.isclose(b, atol=1), [((4, 5), "bool"), ((4, 5), "bool")]),
    same("isclose_f32", lambda a, b: a.isclose(a + b * 1e-5), [(X, "real@f32"), (X, "real@f32")]),
    Case(
        "allclose_true",
        lambda a: tg.tensor(tg.allclose(a, a + 1e-9)),
        lambda a: torch.tensor(torch.allclose(a, a + 1e-9)),
        [X],
    ),
    Case(
        "allclose_false",
        lambda a, b: tg.tensor(a.allclose(b)),
        lambda a, b: torch.tensor(a.allclose(b)),
        [X, X],
    ),
    Case(
        "allclose_nan",
        lambda a, b: tg.tensor([a.allclose(a), a.allclose(a, equal_nan=True)]),
        lambda a, b: torch.tensor([a.allclose(a), a.allclose(a, equal_nan=True)]),
        [I45, I45],
    ),
    # ---------------------------------------------------------------- where
    same(
        "where_tensors_bcast",
        lambda c, a, b: lib(a).where(c, a, b),
        [((4, 1), "bool"), ((5,), "real"), ((4, 5), "real")],
    ),
    same(
        "where_method",
        lambda c, a, b: a.where(c, b),
        [((3, 4), "bool"), ((4,), "real"), ((3, 1), "real")],
    ),
    same(
        "where_scalar_other_f32",
        lambda c, a: lib(a).where(c, a, 0.0),
        [(X, "bool"), (X, "real@f32")],
    ),
    same(
        "where_scalar_input_f32", lambda c, a: lib(a).where(c, 2, a), [(X, "bool"), (X, "real@f32")]
    ),
    same(
        "where_int_int",
        lambda c, a: lib(a).where(c, 1, 0) + 0 * a.long(),
        [(X, "bool"), (X, "slong")],
    ),
    same(
        "where_float_int_scalars",
        lambda c, a: lib(a).where(c, 1.5, 0) + 0 * a.long(),
        [(X, "bool"), (X, "slong")],
    ),
    same(
        "where_int32_float_scalar", lambda c, a: lib(a).where(c, a, 2.5), [(X, "bool"), (X, "int5")]
    ),
    same("where_int32_long_scalar", lambda c, a: lib(a).where(c, a, 7), [(X, "bool"), (X, "int5")]),
    same(
        "where_f32_f64",
        lambda c, a, b: lib(a).where(c, a, b),
        [(X, "bool"), (X, "real@f32"), (X, "real")],
    ),
    same(
        "where_f32_f64_0d",
        lambda c, a, b: lib(a).where(c, a, b),
        [(X, "bool"), (X, "real@f32"), ((), "real")],
    ),
    same(
        "where_bool_branches",
        lambda c, a, b: lib(a).where(c, a, b),
        [(X, "bool"), (X, "bool"), ((4,), "bool")],
    ),
    same("where_from_comparison", lambda a, b: lib(a).where(a > b, a, b * 2), [I45, I45]),
    # ---------------------------------------------------------------- masked_fill
    same("masked_fill", lambda x, m: x.masked_fill(m, -1.5), [X, (X, "bool")]),
    same("masked_fill_bcast_mask", lambda x, m: x.masked_fill(m, 0.0), [X, ((4,), "bool")]),
    same(
        "masked_fill_bcast_out", lambda x, m: x.masked_fill(m, 2.0), [((4,), "real"), (X, "bool")]
    ),
    same(
        "masked_fill_value_tensor",
        lambda x, m, v: x.masked_fill(m, v),
        [X, (X, "bool"), ((), "real")],
    ),
    same(
        "masked_fill_value_f64_into_f32",
        lambda x, m, v: x.masked_fill(m, v),
        [(X, "real@f32"), (X, "bool"), ((), "real")],
        rtol=1e-6,
    ),
    same(
        "masked_fill_long_float_value",
        lambda x, m: x.masked_fill(m, 2.7),
        [(X, "slong"), (X, "bool")],
    ),
    same(
        "masked_fill_long_negative_value",
        lambda x, m: x.masked_fill(m, -2.7),
        [(X, "slong"), (X, "bool")],
    ),
    same("masked_fill_bool", lambda x, m: x.masked_fill(m, True), [(X, "bool"), (X, "bool")]),
    same(
        "masked_fill_inf",
        lambda x, m: x.masked_fill(m, float("-inf")).softmax(-1),
        [X, (X, "bool")],
    ),
    Case(
        "masked_fill_top_level",
        lambda x, m: tg.masked_fill(x, m, 3.0),
        lambda x, m: torch.masked_fill(x, m, 3.0),
        [X, (X, "bool")],
    ),
]

UNARY = [
    Unary("isnan_of_log", lambda x: x.log().isnan(), lambda x: x.log().isnan(), "int"),
    Unary("isfinite_of_log", lambda x: x.log().isfinite(), lambda x: x.log().isfinite(), "int"),
    Unary("logical_not", lambda x: x.logical_not(), lambda x: x.logical_not(), "int"),
]

BINARY = [
    Binary(
        "logical_and", lambda a, b: a.logical_and(b), lambda a, b: a.logical_and(b), "int", "bool"
    ),
    Binary(
        "logical_xor", lambda a, b: a.logical_xor(b), lambda a, b: a.logical_xor(b), "slong", "int"
    ),
    Binary(
        "isclose",
        lambda a, b: a.isclose(b, atol=1),
        lambda a, b: a.isclose(b, atol=1),
        "int",
        "int",
    ),
    Binary(
        "where_gt",
        lambda a, b: lib(a).where(a > b, a, b),
        lambda a, b: torch.where(a > b, a, b),
        "int",
        "int",
    ),
    Binary(
        "masked_fill_gt",
        lambda a, b: a.masked_fill(b > 0, 0.5),
        lambda a, b: a.masked_fill(b > 0, 0.5),
        "real",
        "int",
    ),
]
