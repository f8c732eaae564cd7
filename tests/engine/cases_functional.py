# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for ``nn.functional``: convolutions, pooling, resampling,
normalisation, attention and losses, so their agreement with torch is also checked from
the committed fixture when torch is missing (the layer tests in ``tests/nn`` run live).

Format and runners: ``optable.py``; driver: ``test_op_table.py``; fixture:
``tests/fixtures/ops_functional.npz`` (``python scripts/make_op_fixtures.py functional``).
"""

from __future__ import annotations

from optable import Case

import tinygrad_opt.nn.functional as F

try:
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is a test oracle only
    TF = None


def same(name: str, call, inputs: list, **kw) -> Case:
    """A case whose call reads the same with ``F`` = ours or torch's functional module."""
    return Case(name, lambda *xs: call(F, *xs), lambda *xs: call(TF, *xs), inputs, **kw)


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
        lambda M, x, y, w: M.cross_entropy(x, y, weight=w.detach(), reduction="sum"),
        [(6, 3), ((6,), "long3"), ((3,), "pos")],
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
        lambda M, x, t, pw: M.binary_cross_entropy_with_logits(
            x, t.sigmoid(), pos_weight=pw.detach()
        ),
        [(4, 3), (4, 3), ((3,), "pos")],
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
]
