# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for the activation functions (``nn.functional``) and layers.

The kinks are tested on purpose: the "int" domain gives exact integers in [-2, 2], scaled
where needed so that they land on each function's edges (relu6 at 0 and 6, hardtanh at
±1, hardsigmoid/hardswish at ±3, softplus at its threshold, elu at 0, the shrinks at ±λ),
where torch fixes one-sided derivatives.

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_activation.npz`` (``python scripts/make_op_fixtures.py activation``).
"""

from __future__ import annotations

import numpy as np
from optable import Case, Unary

import tinygrad_opt as tg
from tinygrad_opt import nn

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the fixture cases still run
    torch = TF = None


def F(t):
    """The functional namespace of the library ``t`` belongs to."""
    return tg.nn.functional if isinstance(t, tg.Tensor) else TF


def NN(t):
    """The nn namespace of the library ``t`` belongs to."""
    return nn if isinstance(t, tg.Tensor) else torch.nn


def same(name, fn, inputs, **kw):
    """One lambda for both libraries (it picks the namespace with ``F``/``NN``)."""
    return Case(name, fn, fn, inputs, **kw)


def fn_case(name, op, inputs, *args, **kw):
    """``F.op(x, *args, **kw)`` in both libraries."""
    tol = {k: kw.pop(k) for k in ("rtol", "atol", "grad") if k in kw}
    return same(name, lambda *t: getattr(F(t[0]), op)(*t, *args, **kw), inputs, **tol)


I = ((4, 5), "int")
W = ((3, 4), "wide")
R = (3, 4)
F32 = {"rtol": 2e-6, "atol": 1e-6}
ZERO_ROW = np.array([[1.0], [0.0], [1.0], [1.0]])  # multiplies a (4, k) input: row 1 is 0


def zero_row(x):
    return x * (tg.tensor(ZERO_ROW) if isinstance(x, tg.Tensor) else torch.tensor(ZERO_ROW))


CASES = [
    # ---------------------------------------------------------------- relu family
    fn_case("relu_kink", "relu", [I]),
    fn_case("relu_long", "relu", [(R, "slong")]),
    same("relu6_kinks", lambda x: F(x).relu6(x * 3), [I]),
    fn_case("relu6_wide", "relu6", [W]),
    fn_case("relu6_long", "relu6", [(R, "slong")]),
    fn_case("hardtanh_edges", "hardtanh", [I]),
    same("hardtanh_range", lambda x: F(x).hardtanh(x, -0.5, 1.5), [W]),
    same("hardtanh_range_edges", lambda x: F(x).hardtanh(x * 0.5, min_val=-0.5, max_val=0.5), [I]),
    same("hardtanh_long", lambda x: F(x).hardtanh(x, 0, 2), [(R, "slong")]),
    same("leaky_relu_kink", lambda x: F(x).leaky_relu(x, 0.2), [I]),
    fn_case("F_leaky_relu_default", "leaky_relu", [W]),
    same("threshold_kink", lambda x: F(x).threshold(x, 1.0, -5.0), [I]),
    same("threshold_wide", lambda x: F(x).threshold(x, 0.5, 20.0), [W]),
    same("threshold_long", lambda x: F(x).threshold(x, 1, 9), [(R, "slong")]),
    same("threshold_long_float_value", lambda x: F(x).threshold(x, 0.5, 2.7), [(R, "slong")]),
    # ---------------------------------------------------------------- hard sigmoid / swish
    same("hardsigmoid_kinks", lambda x: F(x).hardsigmoid(x * 1.5), [I]),
    same("hardsigmoid_wide", lambda x: F(x).hardsigmoid(x * 0.2), [W]),
    same("hardswish_kinks", lambda x: F(x).hardswish(x * 1.5), [I]),
    same("hardswish_wide", lambda x: F(x).hardswish(x * 0.2), [W]),
    same("hardswish_f32", lambda x: F(x).hardswish(x * 2), [(R, "real@f32")], **F32),
    # ---------------------------------------------------------------- smooth ones
    fn_case("silu", "silu", [R]),
    fn_case("silu_wide", "silu", [W]),
    fn_case("silu_f32", "silu", [(R, "real@f32")], **F32),
    fn_case("mish", "mish", [I]),
    fn_case("mish_wide", "mish", [W]),
    fn_case("mish_f32", "mish", [(R, "real@f32")], **F32),
    fn_case("softplus", "softplus", [R]),
    same("softplus_wide", lambda x: F(x).softplus(x * 20), [W]),
    same("softplus_threshold_edge", lambda x: F(x).softplus(x, beta=2, threshold=4), [I]),
    same("softplus_beta", lambda x: F(x).softplus(x, 0.5, 10), [W]),
    same("softplus_f32", lambda x: F(x).softplus(x, beta=3), [(R, "real@f32")], **F32),
    fn_case("softsign", "softsign", [R]),
    fn_case("softsign_kink", "softsign", [I]),
    fn_case("softsign_long", "softsign", [(R, "slong")], **F32),
    fn_case("tanhshrink", "tanhshrink", [R]),
    fn_case("tanhshrink_long", "tanhshrink", [(R, "slong")], **F32),
    fn_case("logsigmoid", "logsigmoid", [R]),
    same("logsigmoid_huge", lambda x: F(x).logsigmoid(x * 30), [W]),
    fn_case("logsigmoid_f32", "logsigmoid", [(R, "wide@f32")], **F32),
    fn_case("sigmoid_long", "sigmoid", [(R, "slong")], **F32),
    fn_case("tanh_fn", "tanh", [R]),
    fn_case("gelu_kink", "gelu", [I]),
    same("gelu_tanh_wide", lambda x: F(x).gelu(x, approximate="tanh"), [W]),
    # ---------------------------------------------------------------- elu family
    fn_case("elu_kink", "elu", [I]),
    same("elu_alpha", lambda x: F(x).elu(x, alpha=0.5), [W]),
    same("elu_negative_alpha", lambda x: F(x).elu(x, -1.5), [I]),
    fn_case("elu_f32", "elu", [(R, "real@f32")], **F32),
    fn_case("selu_kink", "selu", [I]),
    fn_case("selu_wide", "selu", [W]),
    same("celu_kink", lambda x: F(x).celu(x, alpha=2.0), [I]),
    same("celu_wide", lambda x: F(x).celu(x, 0.5), [W]),
    Case("selu_top_level", lambda x: tg.selu(x), lambda x: torch.selu(x), [R]),
    Case("celu_top_level", lambda x: tg.celu(x, 1.5), lambda x: torch.celu(x, 1.5), [R]),
    # ---------------------------------------------------------------- shrinks
    same("softshrink_edges", lambda x: F(x).softshrink(x * 0.25), [I]),
    same("softshrink_lambda", lambda x: F(x).softshrink(x, 1.0), [I]),
    same("softshrink_zero_lambda", lambda x: F(x).softshrink(x, 0.0), [I]),
    same("hardshrink_edges", lambda x: F(x).hardshrink(x * 0.25), [I]),
    same("hardshrink_lambda", lambda x: x.hardshrink(lambd=1.0), [I]),
    same("hardshrink_wide", lambda x: F(x).hardshrink(x, 10.0), [W]),
    # ---------------------------------------------------------------- prelu
    # second=False on the integer data (x = 0 in it): at x = 0 torch's double backward takes
    # the x >= 0 branch (d/dw of the input gradient is 0, d/dupstream is 1) while its first
    # derivative takes x <= 0 (input gradient w·g), which no composition can reproduce;
    # the *_real cases check the second order away from 0.
    same(
        "prelu_shared",
        lambda x, w: F(x).prelu(x, w),
        [((2, 3, 4), "int"), ((1,), "real")],
        second=False,
    ),
    same(
        "prelu_channels",
        lambda x, w: F(x).prelu(x, w),
        [((2, 3, 4), "int"), ((3,), "real")],
        second=False,
    ),
    same(
        "prelu_channels_2d",
        lambda x, w: F(x).prelu(x, w),
        [((5, 3), "int"), ((3,), "real")],
        second=False,
    ),
    same("prelu_shared_real", lambda x, w: F(x).prelu(x, w), [(2, 3, 4), ((1,), "real")]),
    same("prelu_channels_real", lambda x, w: F(x).prelu(x, w), [(2, 3, 4), ((3,), "real")]),
    same("prelu_channels_2d_real", lambda x, w: F(x).prelu(x, w), [(5, 3), ((3,), "real")]),
    same("prelu_1d", lambda x, w: F(x).prelu(x, w), [((5,), "int"), ((1,), "real")]),
    same("prelu_0d", lambda x, w: F(x).prelu(x, w), [((), "real"), ((1,), "real")]),
    same("prelu_method", lambda x, w: x.prelu(w), [((2, 3), "real"), ((3,), "real")]),
    # ---------------------------------------------------------------- along a dim
    same("softmin_dim1", lambda x: F(x).softmin(x, dim=1), [(2, 3, 4)]),
    same("softmin_dim0_wide", lambda x: F(x).softmin(x, 0), [W]),
    same(
        "softmin_dtype",
        lambda x: F(x).softmin(
            x, -1, dtype=tg.float64 if isinstance(x, tg.Tensor) else torch.float64
        ),
        [(R, "real@f32")],
    ),
    same("softmax_fn", lambda x: F(x).softmax(x, dim=-1), [(2, 3, 4)]),
    same("log_softmax_fn", lambda x: F(x).log_softmax(x, 1), [(2, 3, 4)]),
    fn_case("glu_last", "glu", [(3, 4)]),
    same("glu_dim0", lambda x: F(x).glu(x, 0), [(4, 3)]),
    same("glu_dim1_3d", lambda x: F(x).glu(x, dim=1), [(2, 6, 3)]),
    same("glu_neg_dim", lambda x: F(x).glu(x, -2), [(2, 2, 3)]),
    fn_case("normalize", "normalize", [(4, 3)]),
    same("normalize_p1", lambda x: F(x).normalize(x, p=1, dim=0), [(4, 3)]),
    same("normalize_inf", lambda x: F(x).normalize(x, p=float("inf"), dim=1), [I]),
    same("normalize_neg_inf", lambda x: F(x).normalize(x, p=-float("inf"), dim=1), [(4, 3)]),
    same("normalize_p3", lambda x: F(x).normalize(x, p=3, dim=-1), [(2, 3, 4)]),
    same("normalize_p_half", lambda x: F(x).normalize(x, p=0.5, dim=1), [(4, 3)]),
    same(
        "normalize_p_half_zeros",
        lambda x: F(x).normalize(zero_row(x), p=0.5, dim=1),
        [((4, 3), "int")],
        # torch's second derivative divides 0 by 0 at the zero row and at zero elements
        # (nan); ours is 0 there by the first derivative's convention. Ties: no differences.
        second_fd=False,
        second_torch=False,
    ),
    same("normalize_p0", lambda x: F(x).normalize(x, p=0, dim=1), [I]),
    same(
        "normalize_zero_row",
        lambda x: F(x).normalize(zero_row(x), dim=1),
        [(4, 3)],
        second_torch=False,  # torch: 0/0 = nan at the zero row; ours is 0 (as its first order)
    ),
    same("normalize_zero_row_p1", lambda x: F(x).normalize(zero_row(x), p=1, dim=1), [(4, 3)]),
    same(
        "normalize_zero_row_inf",
        lambda x: F(x).normalize(zero_row(x), p=float("inf"), dim=1),
        [(4, 3)],
    ),
    same("normalize_big_eps", lambda x: F(x).normalize(x, dim=1, eps=1.5), [(4, 3)]),
    same("normalize_dims_tuple", lambda x: F(x).normalize(x, dim=(0, 2)), [(2, 3, 4)]),
    same("normalize_f32", lambda x: F(x).normalize(x, dim=1), [((4, 3), "real@f32")], **F32),
    # ---------------------------------------------------------------- layers
    same("ReLU6_layer", lambda x: NN(x).ReLU6()(x * 3), [I]),
    same("Hardtanh_layer", lambda x: NN(x).Hardtanh(-2.0, 1.0)(x), [I]),
    same("Hardswish_layer", lambda x: NN(x).Hardswish()(x * 1.5), [I]),
    same("Hardsigmoid_layer", lambda x: NN(x).Hardsigmoid()(x * 1.5), [I]),
    same("SiLU_layer", lambda x: NN(x).SiLU()(x), [R]),
    same("Mish_layer", lambda x: NN(x).Mish()(x), [R]),
    same("Softplus_layer", lambda x: NN(x).Softplus(2.0, 4.0)(x), [I]),
    same("Softsign_layer", lambda x: NN(x).Softsign()(x), [R]),
    same("ELU_layer", lambda x: NN(x).ELU(0.5)(x), [I]),
    same("SELU_layer", lambda x: NN(x).SELU()(x), [I]),
    same("CELU_layer", lambda x: NN(x).CELU(alpha=1.5)(x), [I]),
    same("GELU_layer_tanh", lambda x: NN(x).GELU(approximate="tanh")(x), [R]),
    same("LogSigmoid_layer", lambda x: NN(x).LogSigmoid()(x), [W]),
    same("Softmin_layer", lambda x: NN(x).Softmin(dim=1)(x), [R]),
    same("Softmax_layer", lambda x: NN(x).Softmax(0)(x), [R]),
    same("LogSoftmax_layer", lambda x: NN(x).LogSoftmax(dim=-1)(x), [R]),
    same("GLU_layer", lambda x: NN(x).GLU(0)(x), [(4, 3)]),
    same("Tanhshrink_layer", lambda x: NN(x).Tanhshrink()(x), [R]),
    same("Softshrink_layer", lambda x: NN(x).Softshrink(1.0)(x), [I]),
    same("Hardshrink_layer", lambda x: NN(x).Hardshrink(1.0)(x), [I]),
    same("Threshold_layer", lambda x: NN(x).Threshold(0.0, -1.0)(x), [I]),
    same("LeakyReLU_layer", lambda x: NN(x).LeakyReLU(0.3)(x), [I]),
    same("ReLU_layer", lambda x: NN(x).ReLU()(x), [I]),
    same("Sigmoid_layer", lambda x: NN(x).Sigmoid()(x), [R]),
    same("Tanh_layer", lambda x: NN(x).Tanh()(x), [R]),
]

UNARY = [
    Unary("sigmoid_wide", lambda x: F(x).sigmoid(x), lambda x: TF.sigmoid(x), "wide"),
    Unary("relu6", lambda x: F(x).relu6(x * 3), lambda x: TF.relu6(x * 3), "int"),
    Unary("hardtanh", lambda x: F(x).hardtanh(x), lambda x: TF.hardtanh(x), "int"),
    Unary(
        "hardsigmoid", lambda x: F(x).hardsigmoid(x * 1.5), lambda x: TF.hardsigmoid(x * 1.5), "int"
    ),
    Unary("hardswish", lambda x: F(x).hardswish(x * 1.5), lambda x: TF.hardswish(x * 1.5), "int"),
    Unary("silu", lambda x: F(x).silu(x), lambda x: TF.silu(x), "wide"),
    Unary("mish", lambda x: F(x).mish(x), lambda x: TF.mish(x), "wide"),
    Unary("softplus", lambda x: F(x).softplus(x, 2, 4), lambda x: TF.softplus(x, 2, 4), "int"),
    Unary("softsign", lambda x: F(x).softsign(x), lambda x: TF.softsign(x)),
    Unary("elu", lambda x: F(x).elu(x, 0.7), lambda x: TF.elu(x, 0.7), "int"),
    Unary("selu", lambda x: F(x).selu(x), lambda x: TF.selu(x), "wide"),
    Unary("celu", lambda x: F(x).celu(x, 2.0), lambda x: TF.celu(x, 2.0), "int"),
    Unary("logsigmoid", lambda x: F(x).logsigmoid(x), lambda x: TF.logsigmoid(x), "wide"),
    Unary("tanhshrink", lambda x: F(x).tanhshrink(x), lambda x: TF.tanhshrink(x)),
    Unary("softshrink", lambda x: F(x).softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0), "int"),
    Unary("hardshrink", lambda x: F(x).hardshrink(x, 1.0), lambda x: TF.hardshrink(x, 1.0), "int"),
    Unary(
        "threshold",
        lambda x: F(x).threshold(x, 1.0, 0.5),
        lambda x: TF.threshold(x, 1.0, 0.5),
        "int",
    ),
    Unary("softmin_last", lambda x: F(x).softmin(x, -1), lambda x: TF.softmin(x, -1)),
    Unary(
        "normalize_last",
        lambda x: F(x).normalize(x, dim=-1),
        lambda x: TF.normalize(x, dim=-1),
        "int",
    ),
]
