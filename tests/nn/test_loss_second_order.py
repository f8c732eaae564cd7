"""Second derivatives of every loss of ``tinygrad_opt.nn`` against torch (float64): the
gradients and Hessian-vector products (``hvp_oracle.check``) of each loss, module or
functional, with its options (class weights, ignore_index, label smoothing, probability
targets, pos_weight, reductions, margins, beta/delta, log targets, per-element weights);
targets that are Tensors are differentiated too."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hvp_oracle import check, rng_for  # noqa: E402

from tinygrad_opt import nn  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.torch


_W4 = np.array([0.5, 2.0, 1.0, 1.5])
_SIGNS = np.array([1.0, -1.0, -1.0, 1.0, 1.0])


def _loss(ours, theirs, shapes, fixed=None):
    """A loss case: ``ours``/``theirs`` take the float inputs of ``shapes`` (domains:
    real, unit (0.05..0.95), pos) and the integer ``fixed`` arrays after them."""

    def run(name):
        rng = rng_for(name)
        arrays = []
        for shape, dom in shapes:
            if dom == "unit":
                arrays.append(rng.uniform(0.05, 0.95, shape))
            elif dom == "pos":
                arrays.append(rng.uniform(0.2, 2.0, shape))
            else:
                arrays.append(rng.uniform(-2, 2, shape))
        arrays += [np.asarray(a) for a in (fixed or [])]
        check(ours, theirs, arrays)

    return run


def _both(name, build, shapes, fixed=None):
    """A loss module ``name`` built by ``build(lib)`` in both libraries (lib: ``nn`` or
    ``torch.nn``; ``T`` turns arrays into that library's constants)."""
    return _loss(build(nn, np.asarray), build(torch.nn, torch.tensor), shapes, fixed)


def _ce(lib, T, **kw):
    if "weight" in kw:
        kw["weight"] = T(kw["weight"])
    return lib.CrossEntropyLoss(**kw)


LOSSES = {
    "CrossEntropyLoss": _both(
        "ce", lambda lib, T: lambda x, y: _ce(lib, T)(x, y), [((5, 4), "real")], [[0, 3, 1, 1, 2]]
    ),
    "CrossEntropyLoss_all_options": _both(
        "ce_opt",
        lambda lib, T: (
            lambda x, y: _ce(lib, T, weight=_W4, ignore_index=2, label_smoothing=0.25)(x, y)
        ),
        [((3, 4, 2), "real")],
        [[[0, 2], [3, 1], [2, 2]]],
    ),
    "CrossEntropyLoss_none_1d": _both(
        "ce_none",
        lambda lib, T: lambda x, y: _ce(lib, T, reduction="none", label_smoothing=0.1)(x, y),
        [((4,), "real")],
        [np.int64(2)],
    ),
    "CrossEntropyLoss_probs": _both(
        "ce_probs",
        lambda lib, T: (
            lambda x, t: _ce(lib, T, weight=_W4, label_smoothing=0.2, reduction="sum")(x, t)
        ),
        [((3, 4), "real"), ((3, 4), "pos")],
    ),
    "NLLLoss": _both(
        "nll",
        lambda lib, T: lambda x, y: lib.NLLLoss(weight=T(_W4), ignore_index=1)(x, y),
        [((5, 4), "real")],
        [[0, 1, 3, 1, 2]],
    ),
    "BCELoss": _both(
        "bce",
        lambda lib, T: lambda x, t: lib.BCELoss(weight=T(_W4))(x, t),
        [((3, 4), "unit"), ((3, 4), "unit")],
    ),
    "BCEWithLogitsLoss": _both(
        "bcel",
        lambda lib, T: (
            lambda x, t: lib.BCEWithLogitsLoss(
                weight=T(_W4), pos_weight=T(_W4[::-1].copy()), reduction="sum"
            )(x, t)
        ),
        [((3, 4), "real"), ((3, 4), "unit")],
    ),
    "BCEWithLogitsLoss_plain": _both(
        "bcel_plain",
        lambda lib, T: lambda x, t: lib.BCEWithLogitsLoss(reduction="none")(x, t),
        [((2, 3), "real"), ((2, 3), "unit")],
    ),
    "MSELoss": _both(
        "mse", lambda lib, T: lambda x, t: lib.MSELoss()(x, t), [((3, 2), "real"), ((3, 2), "real")]
    ),
    "L1Loss_sum": _both(
        "l1",
        lambda lib, T: lambda x, t: lib.L1Loss(reduction="sum")(x, t),
        [((3, 2), "real"), ((3, 2), "real")],
    ),
    "SmoothL1Loss": _both(
        "sl1",
        lambda lib, T: lambda x, t: lib.SmoothL1Loss(beta=0.8)(x, t),
        [((4, 3), "real"), ((4, 3), "real")],
    ),
    "HuberLoss": _both(
        "huber",
        lambda lib, T: lambda x, t: lib.HuberLoss(delta=0.6, reduction="none")(x, t),
        [((4, 3), "real"), ((4, 3), "real")],
    ),
    "KLDivLoss_batchmean": _both(
        "kl",
        lambda lib, T: lambda x, t: lib.KLDivLoss(reduction="batchmean")(x, t),
        [((3, 4), "real"), ((3, 4), "pos")],
    ),
    "KLDivLoss_log_target": _both(
        "kl_log",
        lambda lib, T: lambda x, t: lib.KLDivLoss(log_target=True)(x, t),
        [((3, 4), "real"), ((3, 4), "real")],
    ),
    "SoftMarginLoss": _both(
        "soft",
        lambda lib, T: lambda x: lib.SoftMarginLoss()(x, T(_SIGNS)),
        [((5,), "real")],
    ),
    "MarginRankingLoss": _both(
        "rank",
        lambda lib, T: lambda a, b, y: lib.MarginRankingLoss(margin=0.2)(a, b, y),
        [((5,), "real"), ((5,), "real"), ((5,), "real")],
    ),
    "CosineEmbeddingLoss": _both(
        "cos",
        lambda lib, T: (
            lambda a, b: lib.CosineEmbeddingLoss(margin=-0.3, reduction="sum")(a, b, T(_SIGNS))
        ),
        [((5, 3), "real"), ((5, 3), "real")],
    ),
    "mse_loss_weighted": _loss(
        lambda x, t, w: F.mse_loss(x, t, weight=w),
        lambda x, t, w: TF.mse_loss(x, t, weight=w),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "l1_loss_weighted_mean": _loss(
        lambda x, t, w: F.l1_loss(x, t, weight=w),
        lambda x, t, w: TF.l1_loss(x, t, weight=w),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "huber_loss_weighted": _loss(
        lambda x, t, w: F.huber_loss(x, t, delta=0.5, weight=w, reduction="sum"),
        lambda x, t, w: TF.huber_loss(x, t, delta=0.5, weight=w, reduction="sum"),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "smooth_l1_beta0_is_l1": _loss(
        lambda x, t: F.smooth_l1_loss(x, t, beta=0.0),
        lambda x, t: TF.smooth_l1_loss(x, t, beta=0.0),
        [((3, 2), "real"), ((3, 2), "real")],
    ),
    "hinge_loss": _loss(
        lambda s: F.hinge_loss(s, _SIGNS),
        lambda s: torch.relu(1 - torch.tensor(_SIGNS) * s).mean(),
        [((5,), "real")],
    ),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_hvp(name):
    LOSSES[name](name)
