# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for elementwise math: the unary functions (trig, hyperbolic,
exp/log variants, erf family), the binary ones (atan2, hypot, copysign, logaddexp, xlogy,
lerp, fmax/fmin), rounding and division with rounding (floor … sign, ``//``, fmod, ``%``)
and clamp with tensor bounds.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_elementwise.npz`` (``python scripts/make_op_fixtures.py elementwise``).
Most lambdas only call Tensor methods, which have the same names in both libraries, so
one lambda serves as ``ours`` and ``theirs`` (:func:`same`).
"""

from __future__ import annotations

import numpy as np
from optable import Binary, Case, Unary

import tinygrad_opt as tg

try:
    import torch
except ImportError:  # the fixture cases still run
    torch = None

F32 = {"rtol": 2e-6, "atol": 1e-6}  # float32 results: a few ulp between libms


def same(name, fn, inputs, **kw):
    """A case whose lambda only uses methods both libraries have."""
    return Case(name, fn, fn, inputs, **kw)


def top(name, op, inputs, **kw):
    """A case calling the top-level function ``op`` of each library (tg.op / torch.op)."""
    return Case(
        name,
        lambda *a: getattr(tg, op)(*a),
        lambda *a: getattr(torch, op)(*a),
        inputs,
        **kw,
    )


X = (3, 4)

CASES = [
    # ---------------------------------------------------------------- unary float math
    same("sin", lambda x: x.sin(), [X]),
    same("cos", lambda x: x.cos(), [X]),
    same("tan", lambda x: x.tan(), [(X, "unit")]),
    same("asin", lambda x: x.asin(), [(X, "unit")]),
    same("acos", lambda x: x.acos(), [(X, "unit")]),
    same("atan", lambda x: x.atan(), [(X, "wide")]),
    same("sinh", lambda x: x.sinh(), [X]),
    same("cosh", lambda x: x.cosh(), [X]),
    same("asinh", lambda x: x.asinh(), [(X, "wide")]),
    same("acosh", lambda x: (x + 0.6).acosh(), [(X, "pos")]),
    same("atanh", lambda x: x.atanh(), [(X, "unit")]),
    same("arcsin_alias", lambda x: x.arcsin() + x.arctan() + x.arccos(), [(X, "unit")]),
    same("arcsinh_alias", lambda x: x.arcsinh() + x.arctanh(), [(X, "unit")]),
    same("exp2", lambda x: x.exp2(), [X]),
    same("expm1", lambda x: x.expm1(), [X]),
    same("expm1_tiny", lambda x: (x * 1e-9).expm1(), [X]),
    same("log2", lambda x: x.log2(), [(X, "pos")]),
    same("log10", lambda x: x.log10(), [(X, "pos")]),
    same("log1p", lambda x: x.log1p(), [(X, "unit")]),
    same("log1p_tiny", lambda x: (x * 1e-9).log1p(), [X]),
    same("rsqrt", lambda x: x.rsqrt(), [(X, "pos")]),
    same("reciprocal", lambda x: x.reciprocal(), [(X, "away0")]),
    same("square", lambda x: x.square(), [X]),
    same("sinc", lambda x: x.sinc(), [X]),
    # second=False: x = 0 is in the data, where torch's double backward is nan (0/0) though
    # sinc is smooth; ours is sinc''(0) = −π²/3 (test_third_order_math.py). The other
    # integers are checked by sinc_at_nonzero_integers.
    same("sinc_at_integers", lambda x: x.sinc(), [((4, 5), "int")], second=False),
    same("sinc_at_nonzero_integers", lambda x: (x * 3 + 1).sinc(), [((4, 5), "int")]),
    same("deg2rad", lambda x: x.deg2rad(), [(X, "wide")]),
    same("rad2deg", lambda x: x.rad2deg(), [X]),
    same("erf", lambda x: x.erf(), [X]),
    same("erf_wide", lambda x: x.erf(), [(X, "wide")]),
    same("erf_near_2", lambda x: (x * 0.1 + 2).erf(), [X]),
    same("erfc", lambda x: x.erfc(), [X]),
    same("erfc_tail", lambda x: (x.abs() * 5 + 2).erfc(), [X]),
    same("erfc_negative", lambda x: (-x.abs() * 5 - 2).erfc(), [X]),
    same("erfinv", lambda x: x.erfinv(), [(X, "unit")]),
    same("erfinv_extremes", lambda x: (x * 0.0499 + 0.95 * x.sign()).erfinv(), [(X, "away0")]),
    # integer and bool inputs: the default float dtype (float32)
    same("sin_long", lambda x: x.sin(), [(X, "long5")], **F32),
    same("exp2_int32", lambda x: x.exp2(), [(X, "int5")], **F32),
    same("log1p_bool", lambda x: x.log1p(), [(X, "bool")], **F32),
    same("erf_long", lambda x: x.erf(), [(X, "slong")], **F32),
    same("reciprocal_long", lambda x: (x + 1).reciprocal(), [(X, "long5")], **F32),
    same("square_long", lambda x: x.square(), [(X, "slong")]),
    same("square_bool", lambda x: x.square(), [(X, "bool")]),
    same("deg2rad_long", lambda x: x.deg2rad(), [(X, "slong")], **F32),
    # float32 in, float32 out
    same("sin_f32", lambda x: x.sin(), [(X, "real@f32")], **F32),
    same("atanh_f32", lambda x: x.atanh(), [(X, "unit@f32")], **F32),
    same("erf_f32", lambda x: x.erf(), [(X, "real@f32")], **F32),
    same("erfinv_f32", lambda x: x.erfinv(), [(X, "unit@f32")], **F32),
    # top-level functions
    top("tg_cos", "cos", [X]),
    top("tg_log10", "log10", [(X, "pos")]),
    top("tg_erfc", "erfc", [X]),
    # ---------------------------------------------------------------- binary float math
    same("atan2", lambda a, b: a.atan2(b), [X, (4,)]),
    same("atan2_origin", lambda a, b: a.atan2(b), [((4, 5), "int"), ((4, 5), "int")]),
    same("arctan2", lambda a, b: a.arctan2(b), [X, X]),
    same("atan2_long", lambda a, b: a.atan2(b), [(X, "slong"), (X, "slong")], **F32),
    same("hypot", lambda a, b: a.hypot(b), [(2, 1, 4), (3, 1)]),
    same("hypot_origin", lambda a, b: a.hypot(b), [((4, 5), "int"), ((4, 5), "int")]),
    same("copysign", lambda a, b: a.copysign(b), [((4, 5), "int"), ((4, 5), "real")]),
    same("copysign_neg_zero", lambda a, b: a.copysign(-(b * 0)), [X, X]),
    same("copysign_scalar", lambda a: a.copysign(-1.0), [X]),
    same("copysign_long", lambda a, b: a.copysign(b), [(X, "slong"), (X, "slong")]),
    same("logaddexp", lambda a, b: a.logaddexp(b), [(X, "wide"), (4,)]),
    same("logaddexp_ties", lambda a, b: a.logaddexp(b), [((4, 5), "int"), ((4, 5), "int")]),
    same(
        "logaddexp_inf",
        lambda a, b: (a * np.inf).logaddexp(b),
        [((4, 5), "away0"), ((4, 5), "int")],
    ),
    same("logaddexp2", lambda a, b: a.logaddexp2(b), [(X, "wide"), X]),
    same("xlogy", lambda a, b: a.xlogy(b), [X, (X, "pos")]),
    same("xlogy_zeros", lambda a, b: a.xlogy(b), [((4, 5), "int"), ((4, 5), "int")]),
    same("xlogy_scalar_y", lambda a: a.xlogy(2.0), [X]),
    Case("xlogy_scalar_x", lambda b: tg.xlogy(2.0, b), lambda b: torch.xlogy(2.0, b), [(X, "pos")]),
    same("xlogy_long", lambda a, b: a.xlogy(b), [(X, "slong"), (X, "long5")]),
    same("lerp_scalar", lambda a, b: a.lerp(b, 0.3), [X, (4,)]),
    same("lerp_scalar_big", lambda a, b: a.lerp(b, 0.75), [X, X]),
    same("lerp_tensor", lambda a, b, w: a.lerp(b, w), [(2, 3, 1), (4,), ((3, 4), "real")]),
    same("fmax", lambda a, b: a.fmax(b), [((4, 5), "int"), ((5,), "int")]),
    same("fmin", lambda a, b: a.fmin(b), [((4, 5), "int"), ((5,), "int")]),
    same("fmax_nan", lambda a, b: (a / a).fmax(b), [((4, 5), "int"), ((4, 5), "real")], grad=False),
    same("fmin_nan", lambda a, b: a.fmin(b / b), [((4, 5), "real"), ((4, 5), "int")], grad=False),
    same("maximum_ties_2d", lambda a, b: a.maximum(b), [((4, 5), "int"), ((4, 5), "int")]),
    same("minimum_ties_bcast", lambda a, b: a.minimum(b), [((4, 5), "int"), ((5,), "int")]),
    # ---------------------------------------------------------------- rounding
    same("floor", lambda x: (x * 3).floor(), [X]),
    same("ceil", lambda x: (x * 3).ceil(), [X]),
    same("trunc", lambda x: (x * 3).trunc(), [X]),
    same("fix", lambda x: (x * 3).fix(), [X]),
    same("round", lambda x: (x * 3).round(), [X]),
    same("round_halves_to_even", lambda x: (x * 1.5 + 0.5).round(), [((4, 5), "int")]),
    same("round_decimals_1", lambda x: x.round(decimals=1), [(X, "wide")]),
    same("round_decimals_2", lambda x: x.round(decimals=2), [(X, "wide")]),
    same("round_decimals_neg", lambda x: (x * 10).round(decimals=-1), [(X, "wide")]),
    same("frac", lambda x: (x * 3).frac(), [X]),
    same("sign", lambda x: x.sign(), [((4, 5), "int")]),
    same("sgn", lambda x: x.sgn() + x, [X]),
    same("signbit", lambda x: (x * 0 - x).signbit(), [((4, 5), "int")]),
    same("floor_long", lambda x: x.floor(), [(X, "slong")]),
    same("ceil_int32", lambda x: x.ceil(), [(X, "int5")]),
    same("round_long", lambda x: x.round(), [(X, "slong")]),
    same("trunc_long", lambda x: x.trunc(), [(X, "slong")]),
    same("sign_long", lambda x: x.sign(), [(X, "slong")]),
    same("sign_bool", lambda x: x.sign(), [(X, "bool")]),
    same("floor_f32", lambda x: (x * 3).floor(), [(X, "real@f32")]),
    # ---------------------------------------------------------------- division with rounding
    # torch has no derivative for floor_divide; ours is 0, as torch's div(rounding_mode="floor")
    Case(
        "floor_divide",
        lambda a, b: a.floor_divide(b),
        lambda a, b: a.div(b, rounding_mode="floor"),
        [(X, "wide"), ((4,), "away0")],
    ),
    Case(
        "floordiv_op",
        lambda a, b: a // b,
        lambda a, b: a.div(b, rounding_mode="floor"),
        [(X, "wide"), (X, "away0")],
    ),
    Case(
        "rfloordiv_scalar",
        lambda a: 7.5 // a,
        lambda a: torch.full_like(a, 7.5).div(a, rounding_mode="floor"),
        [(X, "away0")],
    ),
    same("fmod", lambda a, b: a.fmod(b), [(X, "wide"), ((4,), "away0")]),
    same("fmod_scalar", lambda a: a.fmod(-1.5), [(X, "wide")]),
    same("remainder", lambda a, b: a.remainder(b), [(X, "wide"), ((4,), "away0")]),
    same("mod_op", lambda a, b: a % b, [(X, "wide"), (X, "away0")]),
    same("rmod_scalar", lambda a: 5.0 % a, [(X, "away0")], grad=False),  # torch: no derivative
    same("mod_scalar", lambda a: a % 2.5, [(X, "wide")]),
    same(
        "div_floor_mode", lambda a, b: a.div(b, rounding_mode="floor"), [(X, "wide"), (X, "away0")]
    ),
    same(
        "div_trunc_mode", lambda a, b: a.div(b, rounding_mode="trunc"), [(X, "wide"), (X, "away0")]
    ),
    # integer conventions, negative operands included: dividend in [-3, 3], divisor ±1..3
    same("floordiv_long", lambda a, b: a // (b + 1), [((4, 7), "slong"), ((7,), "long3")]),
    same("floordiv_neg_divisor", lambda a, b: a // -(b + 1), [((4, 7), "slong"), ((7,), "long3")]),
    same("fmod_long", lambda a, b: a.fmod(b + 1), [((4, 7), "slong"), ((7,), "long3")]),
    same("fmod_neg_divisor", lambda a, b: a.fmod(-(b + 1)), [((4, 7), "slong"), ((7,), "long3")]),
    same("remainder_long", lambda a, b: a % (b + 1), [((4, 7), "slong"), ((7,), "long3")]),
    same("remainder_neg_divisor", lambda a, b: a % -(b + 1), [((4, 7), "slong"), ((7,), "long3")]),
    same("rmod_long_scalar", lambda b: -7 % (b + 1), [((7,), "long3")]),
    same("remainder_int32", lambda a: a % 3, [(X, "int5")]),
    same(
        "div_trunc_long",
        lambda a, b: a.div(-(b + 1), rounding_mode="trunc"),
        [((4, 7), "slong"), ((7,), "long3")],
    ),
    same(
        "div_floor_long",
        lambda a, b: a.div(-(b + 1), rounding_mode="floor"),
        [((4, 7), "slong"), ((7,), "long3")],
    ),
    same("floordiv_long_float", lambda a, b: a // b, [(X, "slong"), ((4,), "away0")], grad=False),
    same("remainder_long_float_scalar", lambda a: a % -2.5, [(X, "slong")]),
    same("fmod_int32_long0d", lambda a, b: a.fmod(b + 1), [(X, "int5"), ((), "long3")]),
    # float division by zero: inf and nan, no error
    same("floordiv_by_zero", lambda a: a // (a * 0), [((4, 5), "int")], grad=False),
    same("fmod_by_zero", lambda a: a.fmod(a * 0), [((4, 5), "int")], grad=False),
    same("remainder_by_zero", lambda a: a % (a * 0), [((4, 5), "int")], grad=False),
    # ---------------------------------------------------------------- clamp
    same(
        "clamp_tensor_bounds",
        lambda x, lo, hi: x.clamp(lo, hi),
        [((3, 5), "int"), ((5,), "int"), ((3, 1), "int")],
    ),
    same("clamp_tensor_min", lambda x, lo: x.clamp(min=lo), [((4, 5), "int"), ((4, 5), "int")]),
    same("clamp_tensor_max", lambda x, hi: x.clamp(max=hi), [((4, 5), "int"), ((5,), "int")]),
    same(
        "clamp_crossed_bounds",
        lambda x, lo: x.clamp(lo, lo - 1),
        [((4, 5), "int"), ((4, 5), "int")],
    ),
    same("clamp_equal_bounds", lambda x, lo: x.clamp(lo, lo), [((4, 5), "int"), ((4, 5), "int")]),
    same("clamp_scalar_edges", lambda x: x.clamp(-1, 1), [((4, 5), "int")]),
    same("clamp_scalar_crossed", lambda x: x.clamp(1, -1), [((4, 5), "int")]),
    same(
        "clamp_bcast_up",
        lambda x, lo, hi: x.clamp(lo, hi),
        [((3,), "int"), ((2, 3), "int"), ((2, 1), "int")],
    ),
    same(
        "clip_tensor",
        lambda x, lo, hi: x.clip(lo, hi),
        [(X, "real"), ((4,), "real"), ((3, 1), "pos")],
    ),
    same("clamp_min", lambda x: x.clamp_min(0.5), [X]),
    same("clamp_max", lambda x, hi: x.clamp_max(hi), [((4, 5), "int"), ((5,), "int")]),
    same("clamp_long_float_bound", lambda x: x.clamp(min=0.5), [(X, "slong")]),
    same("clamp_long", lambda x: x.clamp(-1, 2), [(X, "slong")]),
    same("clamp_bool_int_bound", lambda x: x.clamp(min=0), [(X, "bool")]),
    same("clamp_f32_f64_0d_bound", lambda x, lo: x.clamp(min=lo), [(X, "real@f32"), ((), "real")]),
    top("tg_clamp", "clamp", [X, (4,), (3, 1)]),
]

UNARY = [
    Unary("sin", lambda x: x.sin(), lambda x: x.sin(), "wide"),
    Unary("cos", lambda x: x.cos(), lambda x: x.cos(), "wide"),
    Unary("tan", lambda x: x.tan(), lambda x: x.tan(), "unit"),
    Unary("asin", lambda x: x.asin(), lambda x: x.asin(), "unit"),
    Unary("acos", lambda x: x.acos(), lambda x: x.acos(), "unit"),
    Unary("atan", lambda x: x.atan(), lambda x: x.atan(), "wide"),
    Unary("sinh", lambda x: x.sinh(), lambda x: x.sinh()),
    Unary("cosh", lambda x: x.cosh(), lambda x: x.cosh()),
    Unary("asinh", lambda x: x.asinh(), lambda x: x.asinh(), "wide"),
    Unary("acosh", lambda x: (x + 0.6).acosh(), lambda x: (x + 0.6).acosh(), "pos"),
    Unary("atanh", lambda x: x.atanh(), lambda x: x.atanh(), "unit"),
    Unary("exp2", lambda x: x.exp2(), lambda x: x.exp2()),
    Unary("expm1", lambda x: x.expm1(), lambda x: x.expm1()),
    Unary("log2", lambda x: x.log2(), lambda x: x.log2(), "pos"),
    Unary("log10", lambda x: x.log10(), lambda x: x.log10(), "pos"),
    Unary("log1p", lambda x: x.log1p(), lambda x: x.log1p(), "unit"),
    Unary("rsqrt", lambda x: x.rsqrt(), lambda x: x.rsqrt(), "pos"),
    Unary("reciprocal", lambda x: x.reciprocal(), lambda x: x.reciprocal(), "away0"),
    Unary("square", lambda x: x.square(), lambda x: x.square()),
    Unary("sinc", lambda x: x.sinc(), lambda x: x.sinc(), "int"),
    Unary("erf", lambda x: x.erf(), lambda x: x.erf(), "wide"),
    Unary("erfc", lambda x: x.erfc(), lambda x: x.erfc()),
    Unary("erfinv", lambda x: x.erfinv(), lambda x: x.erfinv(), "unit"),
    Unary("floor", lambda x: x.floor(), lambda x: x.floor(), "wide"),
    Unary("ceil", lambda x: x.ceil(), lambda x: x.ceil(), "wide"),
    Unary("round", lambda x: x.round(), lambda x: x.round(), "wide"),
    Unary("round_decimals", lambda x: x.round(decimals=1), lambda x: x.round(decimals=1), "wide"),
    Unary("trunc", lambda x: x.trunc(), lambda x: x.trunc(), "wide"),
    Unary("frac", lambda x: x.frac(), lambda x: x.frac(), "wide"),
    Unary("sign", lambda x: x.sign(), lambda x: x.sign(), "int"),
    Unary("sin_long", lambda x: x.sin(), lambda x: x.sin(), "slong", rtol=2e-6, atol=1e-6),
    Unary("floor_long", lambda x: x.floor(), lambda x: x.floor(), "slong"),
    Unary("sign_long", lambda x: x.sign(), lambda x: x.sign(), "slong"),
]

BINARY = [
    Binary("atan2", lambda a, b: a.atan2(b), lambda a, b: a.atan2(b), "int", "real"),
    Binary("hypot", lambda a, b: a.hypot(b), lambda a, b: a.hypot(b)),
    Binary("copysign", lambda a, b: a.copysign(b), lambda a, b: a.copysign(b), "int", "int"),
    Binary("logaddexp", lambda a, b: a.logaddexp(b), lambda a, b: a.logaddexp(b), "wide", "int"),
    Binary(
        "logaddexp2", lambda a, b: a.logaddexp2(b), lambda a, b: a.logaddexp2(b), "wide", "real"
    ),
    Binary("xlogy", lambda a, b: a.xlogy(b), lambda a, b: a.xlogy(b), "int", "pos"),
    Binary("lerp", lambda a, b: a.lerp(b, 0.7), lambda a, b: a.lerp(b, 0.7)),
    Binary("fmax", lambda a, b: a.fmax(b), lambda a, b: a.fmax(b), "int", "int"),
    Binary("fmin", lambda a, b: a.fmin(b), lambda a, b: a.fmin(b), "int", "int"),
    Binary("maximum_ties", lambda a, b: a.maximum(b), lambda a, b: a.maximum(b), "int", "int"),
    Binary(
        "floor_divide",
        lambda a, b: a // b,
        lambda a, b: a.div(b, rounding_mode="floor"),
        "wide",
        "away0",
    ),
    Binary("fmod", lambda a, b: a.fmod(b), lambda a, b: a.fmod(b), "wide", "away0"),
    Binary("remainder", lambda a, b: a % b, lambda a, b: a % b, "wide", "away0"),
    Binary(
        "remainder_long",
        lambda a, b: a % (b * 2 + 1),
        lambda a, b: a % (b * 2 + 1),
        "slong",
        "slong",
    ),
    Binary(
        "fmod_long",
        lambda a, b: a.fmod(b * 2 + 1),
        lambda a, b: a.fmod(b * 2 + 1),
        "slong",
        "slong",
    ),
    Binary(
        "floordiv_long",
        lambda a, b: a // (b * 2 + 1),
        lambda a, b: a // (b * 2 + 1),
        "slong",
        "slong",
    ),
    Binary(
        "clamp_min_tensor", lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b), "int", "int"
    ),
    Binary(
        "clamp_max_tensor", lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b), "int", "int"
    ),
]
