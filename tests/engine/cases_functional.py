# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for ``nn.functional``: convolutions, pooling, resampling,
normalisation, attention and losses, so their agreement with torch is also checked from
the committed fixture when torch is missing (the layer tests in ``tests/nn`` run live).

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_functional.npz`` (``python scripts/make_op_fixtures.py functional``).
"""

from __future__ import annotations

import numpy as np
from optable import Case

import tinygrad_opt.nn.functional as F
from tinygrad_opt.nn import _spatial

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = TF = None


def same(name: str, call, inputs: list, **kw) -> Case:
    """A case whose call reads the same with ``F`` = ours or torch's functional module."""
    return Case(name, lambda *xs: call(F, *xs), lambda *xs: call(TF, *xs), inputs, **kw)


def const(M, values) -> object:
    """``values`` as a constant (no gradient) of M's library: a float64 numpy array for
    ours, a torch tensor for torch's (class weights, running statistics, ±1 targets)."""
    a = np.asarray(values, dtype=np.float64)
    return a if M is F else torch.tensor(a)


def _torch_mode_pad(x, pads, mode):
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]  # torch: last dim first
    return TF.pad(x, flat, mode=mode)


_RUN_MEAN, _RUN_VAR = [0.3, -0.2, 0.1], [0.5, 1.5, 2.0]
_CLASS_W = [0.5, 2.0, 1.0, 1.5]
_SIGNS = [[1, -1, 1, 1], [-1, -1, 1, -1], [1, 1, -1, 1]]

CASES = [
    same(
        "conv1d_stride_pad",
        lambda M, x, w, b: M.conv1d(x, w, b, stride=2, padding=1),
        [(2, 3, 9), (4, 3, 3), (4,)],
    ),
    same(
        "conv1d_groups_dilation",
        lambda M, x, w: M.conv1d(x, w, groups=2, dilation=2),
        [(2, 4, 11), (6, 2, 3)],
    ),
    same(
        "conv2d_same_even",
        lambda M, x, w: M.conv2d(x, w, padding="same"),
        [(1, 2, 6, 5), (3, 2, 4, 2)],
    ),
    same(
        "conv2d_asym_stride",
        lambda M, x, w, b: M.conv2d(x, w, b, stride=(2, 1), padding=(1, 2)),
        [(2, 3, 7, 6), (4, 3, 3, 3), (4,)],
    ),
    same(
        "conv2d_depthwise",
        lambda M, x, w: M.conv2d(x, w, groups=4, dilation=(1, 2)),
        [(1, 4, 8, 9), (4, 1, 3, 3)],
    ),
    same(
        "conv_transpose1d",
        lambda M, x, w, b: M.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
        [(2, 3, 5), (3, 4, 3), (4,)],
    ),
    same(
        "conv_transpose2d_groups",
        lambda M, x, w: M.conv_transpose2d(x, w, stride=(2, 1), groups=2, dilation=2),
        [(1, 4, 4, 5), (4, 3, 3, 2)],
    ),
    same(
        "max_pool1d_ceil",
        lambda M, x: M.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True),
        [((2, 3, 10), "distinct")],
    ),
    same(
        "max_pool2d_dilation",
        lambda M, x: M.max_pool2d(x, (3, 2), stride=(2, 1), dilation=(1, 2)),
        [((2, 2, 9, 8), "distinct")],
    ),
    same(
        "max_pool2d_indices",
        lambda M, x: M.max_pool2d(x, 2, return_indices=True),
        [((1, 2, 6, 6), "distinct")],
    ),
    same(
        "avg_pool1d_no_pad_count",
        lambda M, x: M.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False),
        [(2, 3, 10)],
    ),
    same(
        "avg_pool2d_ceil",
        lambda M, x: M.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        [(2, 2, 7, 8)],
    ),
    same("adaptive_avg_pool2d", lambda M, x: M.adaptive_avg_pool2d(x, (3, 4)), [(2, 3, 7, 9)]),
    same(
        "interpolate_nearest",
        lambda M, x: M.interpolate(x, size=(5, 7), mode="nearest"),
        [(1, 2, 3, 4)],
    ),
    same(
        "interpolate_bilinear",
        lambda M, x: M.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False),
        [(1, 2, 4, 5)],
    ),
    same(
        "interpolate_bilinear_corners",
        lambda M, x: M.interpolate(x, size=(6, 3), mode="bilinear", align_corners=True),
        [(2, 1, 4, 5)],
    ),
    same(
        "layer_norm_affine",
        lambda M, x, w, b: M.layer_norm(x, (3, 4), w, b, eps=1e-5),
        [(2, 3, 4), (3, 4), (3, 4)],
    ),
    same("group_norm", lambda M, x, w, b: M.group_norm(x, 2, w, b), [(2, 4, 3, 3), (4,), (4,)]),
    same("rms_norm", lambda M, x, w: M.rms_norm(x, (5,), w, eps=1e-6), [(3, 2, 5), (5,)]),
    same(
        "sdpa",
        lambda M, q, k, v: M.scaled_dot_product_attention(q, k, v),
        [(2, 3, 4, 8), (2, 3, 6, 8), (2, 3, 6, 5)],
    ),
    same(
        "sdpa_causal",
        lambda M, q, k, v: M.scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 5, 4), (2, 5, 4), (2, 5, 4)],
    ),
    same(
        "sdpa_float_mask",
        lambda M, q, k, v, m: M.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
        [(2, 4, 6), (2, 5, 6), (2, 5, 3), (4, 5)],
    ),
    same(
        "cross_entropy_smooth",
        lambda M, x, y: M.cross_entropy(x, y, label_smoothing=0.2),
        [(5, 4), ((5,), "long4")],
    ),
    same(
        "cross_entropy_spatial_ignore",
        lambda M, x, y: M.cross_entropy(x, y - 1, ignore_index=-1),
        [(2, 3, 4, 2), ((2, 4, 2), "long4")],
    ),
    same(
        "cross_entropy_weight_sum",
        lambda M, x, y: M.cross_entropy(x, y, weight=const(M, _CLASS_W[:3]), reduction="sum"),
        [(6, 3), ((6,), "long3")],
    ),
    same(
        "cross_entropy_probs", lambda M, x, p: M.cross_entropy(x, p.softmax(-1)), [(4, 5), (4, 5)]
    ),
    same(
        "nll_loss_none",
        lambda M, x, y: M.nll_loss(x.log_softmax(1), y, reduction="none"),
        [(5, 3), ((5,), "long3")],
    ),
    same("bce", lambda M, x, t: M.binary_cross_entropy(x.sigmoid(), t.sigmoid()), [(4, 3), (4, 3)]),
    same(
        "bce_logits_pos_weight",
        lambda M, x, t: M.binary_cross_entropy_with_logits(
            x, t.sigmoid(), pos_weight=const(M, _CLASS_W[:3])
        ),
        [(4, 3), (4, 3)],
    ),
    same("l1_loss", lambda M, x, t: M.l1_loss(x, t), [((3, 4), "away0"), ((3, 4), "unit")]),
    same("smooth_l1_beta", lambda M, x, t: M.smooth_l1_loss(x, t, beta=0.5), [(3, 4), (3, 4)]),
    same(
        "huber_delta",
        lambda M, x, t: M.huber_loss(x, t, delta=0.7, reduction="sum"),
        [(3, 4), (3, 4)],
    ),
    same(
        "kl_div_batchmean",
        lambda M, x, t: M.kl_div(x.log_softmax(-1), t.softmax(-1), reduction="batchmean"),
        [(3, 5), (3, 5)],
    ),
    same(
        "kl_div_log_target",
        lambda M, x, t: M.kl_div(x.log_softmax(-1), t.log_softmax(-1), log_target=True),
        [(3, 5), (3, 5)],
    ),
    same("mse_none", lambda M, x, t: M.mse_loss(x, t, reduction="none"), [(2, 3), (2, 3)]),
    # second-order coverage: every Function of nn and its branches, on raw inputs
    same("linear_3d", lambda M, x, w, b: M.linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    same("linear_1d_input", lambda M, x, w: M.linear(x, w), [(4,), (3, 4)]),
    same("embedding", lambda M, i, w: M.embedding(i, w), [((2, 3), "long5"), (5, 4)]),
    same(
        "conv2d_unbatched_bias",
        lambda M, x, w, b: M.conv2d(x, w, b, stride=2, padding=1, dilation=(2, 1)),
        [(2, 7, 6), (3, 2, 3, 2), (3,)],
    ),
    same(
        "conv_transpose2d_pad_outpad",
        lambda M, x, w, b: M.conv_transpose2d(
            x, w, b, stride=(3, 2), padding=(1, 2), output_padding=(2, 1)
        ),
        [(2, 2, 3, 4), (2, 3, 3, 4), (3,)],
    ),
    same(
        "conv_transpose1d_unbatched_dilation",
        lambda M, x, w: M.conv_transpose1d(x, w, stride=2, dilation=3, output_padding=2),
        [(2, 4), (2, 3, 2)],
    ),
    Case(
        "pad_mode_reflect",
        lambda x: _spatial.pad_mode("pad", x, ((1, 2), (2, 1)), "reflect"),
        lambda x: _torch_mode_pad(x, ((1, 2), (2, 1)), "reflect"),
        [(1, 2, 4, 5)],
    ),
    Case(
        "pad_mode_circular",
        lambda x: _spatial.pad_mode("pad", x, ((2, 1),), "circular"),
        lambda x: _torch_mode_pad(x, ((2, 1),), "circular"),
        [(2, 3, 4)],
    ),
    Case(
        "pad_mode_replicate",
        lambda x: _spatial.pad_mode("pad", x, ((3, 1), (0, 2)), "replicate"),
        lambda x: _torch_mode_pad(x, ((3, 1), (0, 2)), "replicate"),
        [(2, 1, 3, 3)],
    ),
    same(
        "max_pool2d_padding",
        lambda M, x: M.max_pool2d(x, 3, stride=2, padding=1),
        [((2, 3, 5, 6), "distinct")],
    ),
    same(
        "max_pool1d_overlap_unbatched",
        lambda M, x: M.max_pool1d(x, 3, stride=1, dilation=2),
        [((3, 9), "distinct")],
    ),
    same(
        "avg_pool2d_divisor",
        lambda M, x: M.avg_pool2d(x, (2, 3), stride=1, padding=1, divisor_override=4),
        [(2, 2, 4, 5)],
    ),
    same("adaptive_avg_pool1d", lambda M, x: M.adaptive_avg_pool1d(x, 4), [(2, 3, 7)]),
    same(
        "adaptive_max_pool2d",
        lambda M, x: M.adaptive_max_pool2d(x, (3, 2)),
        [((2, 2, 7, 5), "distinct")],
    ),
    same("adaptive_max_pool1d", lambda M, x: M.adaptive_max_pool1d(x, 4), [((2, 9), "distinct")]),
    same(
        "interpolate_bicubic",
        lambda M, x: M.interpolate(x, size=(5, 7), mode="bicubic", align_corners=False),
        [(1, 2, 3, 4)],
    ),
    same(
        "interpolate_linear",
        lambda M, x: M.interpolate(x, scale_factor=2.5, mode="linear"),
        [(2, 2, 4)],
    ),
    same(
        "interpolate_nearest_exact",
        lambda M, x: M.interpolate(x, size=7, mode="nearest-exact"),
        [(2, 2, 4)],
    ),
    same(
        "interpolate_area", lambda M, x: M.interpolate(x, size=(2, 3), mode="area"), [(1, 2, 5, 7)]
    ),
    same(
        "batch_norm_train",
        lambda M, x, w, b: M.batch_norm(x, None, None, w, b, training=True, eps=1e-3),
        [(4, 3, 5), (3,), (3,)],
    ),
    same(
        "batch_norm_train_no_affine",
        lambda M, x: M.batch_norm(x, None, None, training=True),
        [(3, 2, 2, 3)],
    ),
    same(
        "batch_norm_eval",
        lambda M, x, w, b: M.batch_norm(
            x, const(M, _RUN_MEAN), const(M, _RUN_VAR), w, b, training=False
        ),
        [(4, 3), (3,), (3,)],
    ),
    same("layer_norm_plain", lambda M, x: M.layer_norm(x, (4,)), [(3, 4)]),
    same("layer_norm_weight_only", lambda M, x, w: M.layer_norm(x, (2, 3), w), [(2, 2, 3), (2, 3)]),
    same("group_norm_no_affine", lambda M, x: M.group_norm(x, 3, eps=1e-3), [(2, 6, 4)]),
    same("rms_norm_no_weight", lambda M, x: M.rms_norm(x, (2, 3)), [(4, 2, 3)]),
    same(
        "sdpa_gqa",
        lambda M, q, k, v: M.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        [(1, 4, 3, 5), (1, 2, 4, 5), (1, 2, 4, 3)],
    ),
    same(
        "sdpa_bool_mask_dead_row",
        lambda M, q, k, v: M.scaled_dot_product_attention(
            q, k, v, attn_mask=const(M, [[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 0]]) > 0
        ),
        [(2, 4, 5), (2, 3, 5), (2, 3, 2)],
    ),
    same(
        "cross_entropy_plain",
        lambda M, x, y: M.cross_entropy(x, y),
        [(5, 4), ((5,), "long4")],
    ),
    same(
        "cross_entropy_plain_none",
        lambda M, x, y: M.cross_entropy(x, y, reduction="none"),
        [(3, 6), ((3,), "long6")],
    ),
    same(
        "cross_entropy_all_options",
        lambda M, x, y: M.cross_entropy(
            x, y - 1, weight=const(M, _CLASS_W), ignore_index=-1, label_smoothing=0.3
        ),
        [(3, 4, 2), ((3, 2), "long5")],
    ),
    same(
        "cross_entropy_1d_smooth_none",
        lambda M, x, y: M.cross_entropy(x, y, label_smoothing=0.1, reduction="none"),
        [(4,), ((), "long4")],
    ),
    same(
        "cross_entropy_probs_raw",
        lambda M, x, t: M.cross_entropy(
            x, t, weight=const(M, _CLASS_W), label_smoothing=0.2, reduction="sum"
        ),
        [(3, 4, 2), ((3, 4, 2), "pos")],
    ),
    same(
        "nll_loss_weight_ignore",
        lambda M, x, y: M.nll_loss(x, y - 1, weight=const(M, _CLASS_W), ignore_index=-1),
        [(5, 4), ((5,), "long5")],
    ),
    same(
        "bce_raw_weight",
        lambda M, x, t: M.binary_cross_entropy(x * 0.5 + 0.5, t * 0.5 + 0.5, const(M, _SIGNS) + 2),
        [((3, 4), "unit"), ((3, 4), "unit")],
    ),
    same(
        "bce_logits_weight",
        lambda M, x, t: M.binary_cross_entropy_with_logits(
            x, t * 0.5 + 0.5, weight=const(M, _SIGNS) + 2, reduction="none"
        ),
        [(3, 4), ((3, 4), "unit")],
    ),
    same(
        "bce_logits_pos_weight_raw",
        lambda M, x, t: M.binary_cross_entropy_with_logits(
            x, t * 0.5 + 0.5, pos_weight=const(M, _CLASS_W), reduction="sum"
        ),
        [((3, 4), "wide"), ((3, 4), "unit")],
    ),
    Case(
        "hinge",
        lambda s: F.hinge_loss(s, np.asarray(_SIGNS, dtype=np.float64)),
        lambda s: torch.relu(1 - torch.tensor(_SIGNS, dtype=torch.float64) * s).mean(),
        [((3, 4), "away0")],
    ),
    same(
        "soft_margin",
        lambda M, x: M.soft_margin_loss(x, const(M, _SIGNS), reduction="sum"),
        [(3, 4)],
    ),
    same(
        "margin_ranking",
        lambda M, a, b, y: M.margin_ranking_loss(a, b, y, margin=0.1),
        [(6,), (6,), ((6,), "away0")],
    ),
    same(
        "cosine_embedding",
        lambda M, a, b: M.cosine_embedding_loss(a, b, const(M, _SIGNS[0]), margin=-0.2),
        [(4, 3), (4, 3)],
    ),
    same(
        "mse_weighted_mean",
        lambda M, x, t, w: M.mse_loss(x, t, weight=w),
        [(2, 3), (2, 3), ((2, 3), "pos")],
    ),
    same(
        "l1_weighted_sum",
        lambda M, x, t, w: M.l1_loss(x, t, reduction="sum", weight=w),
        [((2, 3), "away0"), ((2, 3), "unit"), ((2, 3), "pos")],
    ),
    same(
        "huber_weighted_mean",
        lambda M, x, t, w: M.huber_loss(x, t, delta=0.5, weight=w),
        [(3, 3), (3, 3), ((3, 3), "pos")],
    ),
    same(
        "smooth_l1_none", lambda M, x, t: M.smooth_l1_loss(x, t, reduction="none"), [(4, 2), (4, 2)]
    ),
    same(
        "kl_div_raw",
        lambda M, x, t: M.kl_div(x, t, reduction="sum"),
        [(3, 4), ((3, 4), "pos")],
    ),
    same(
        "kl_div_log_target_raw",
        lambda M, x, t: M.kl_div(x, t, reduction="batchmean", log_target=True),
        [(3, 4), (3, 4)],
    ),
]
