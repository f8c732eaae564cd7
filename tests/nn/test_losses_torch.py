"""The losses of ``tinygrad_opt.nn.loss`` against torch (float64): values and gradients.

torch is the oracle only (skipped without it). Every case runs a loss on our Tensors and
on torch tensors, back-propagates the same random upstream gradient and compares the
loss and the gradient of every input that requires one (nan and ±inf must agree too).
Hypothesis draws shapes ((C,), (N, C), (N, C, d1, d2), N = 1, C = 1), class weights,
ignore_index hits, smoothing, reductions; fixed cases pin the edges (all targets
ignored, empty batches, probabilities of exactly 0 and 1, huge logits), the fast path of
cross_entropy, the loss modules and every error.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, gradcheck, nn, no_grad
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn.loss import TargetIndexError
from tinygrad_opt.tensor import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SOME = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REDUCTIONS = ("mean", "sum", "none")
seeds = st.integers(0, 2**32 - 1)


def compare(ours, theirs, arrays, grads, seed=0, rtol=1e-10, atol=1e-12):
    """``ours(*Tensors)`` vs ``theirs(*torch tensors)``: value, then grads of the flagged inputs.

    ``arrays`` are float64 numpy arrays; ``grads[i]`` says whether input i requires grad.
    Returns our output.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    xs = [Tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    with np.errstate(all="ignore"):
        out = ours(*xs)
    ref = theirs(*ts)
    assert out.shape == tuple(ref.shape), f"shape: ours {out.shape}, torch {tuple(ref.shape)}"
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    if not any(grads):
        return out
    u = np.random.default_rng(seed).standard_normal(out.shape)
    with np.errstate(all="ignore"):
        out.backward(u)
    ref.backward(torch.from_numpy(u))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if not grads[i]:
            continue
        assert x.grad is not None and x.grad.shape == x.shape, f"gradient of input {i}"
        theirs_g = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(
            x.grad, theirs_g, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
    return out


@st.composite
def class_shapes(draw):
    """An input shape (C,), (N, C) or (N, C, d1[, d2]) with small sizes, N and C from 1."""
    c = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["1d", "2d", "nd"]))
    if kind == "1d":
        return (c,)
    n = draw(st.integers(1, 5))
    if kind == "2d":
        return (n, c)
    return (n, c, *draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))


def _target_shape(shape):
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def _weight(rng, choice, c):
    return None if choice is None else rng.uniform(0.1, 2.0, c)


# --------------------------------------------------------------------------- cross_entropy
@SOME
@given(
    shape=class_shapes(),
    seed=seeds,
    weighted=st.booleans(),
    ignore=st.sampled_from(["none", "default", "class", "minus1"]),
    smoothing=st.sampled_from([0.0, 0.05, 0.3, 1.0]),
    reduction=st.sampled_from(REDUCTIONS),
    scale=st.sampled_from([1.0, 30.0]),
)
def test_cross_entropy_class_indices(shape, seed, weighted, ignore, smoothing, reduction, scale):
    rng = np.random.default_rng(seed)
    c = shape[1] if len(shape) > 1 else shape[0]
    x = rng.standard_normal(shape) * scale
    y = rng.integers(0, c, _target_shape(shape))
    ignore_index = -100
    if ignore == "default":
        y = np.where(rng.random(y.shape) < 0.3, -100, y)
    elif ignore == "class":
        ignore_index = int(rng.integers(0, c))
    elif ignore == "minus1":
        ignore_index = -1
        y = np.where(rng.random(y.shape) < 0.3, -1, y)
    w = _weight(rng, weighted or None, c)
    tw = None if w is None else torch.from_numpy(w)
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    compare(
        lambda a: F.cross_entropy(a, y, w, **kw),
        lambda a: TF.cross_entropy(a, torch.from_numpy(y), tw, **kw),
        [x],
        [True],
        seed=seed,
    )


@SOME
@given(
    shape=class_shapes(),
    seed=seeds,
    weighted=st.booleans(),
    smoothing=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    reduction=st.sampled_from(REDUCTIONS),
    normalised=st.booleans(),
)
def test_cross_entropy_class_probabilities(shape, seed, weighted, smoothing, reduction, normalised):
    rng = np.random.default_rng(seed)
    c = shape[1] if len(shape) > 1 else shape[0]
    x = rng.standard_normal(shape) * 3
    t = rng.random(shape)
    if normalised:
        t /= t.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    w = _weight(rng, weighted or None, c)
    tw = None if w is None else torch.from_numpy(w)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    compare(
        lambda a, b: F.cross_entropy(a, b, w, **kw),
        lambda a, b: TF.cross_entropy(a, b, tw, **kw),
        [x, t],
        [True, True],  # the probability target gets a gradient too
        seed=seed,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_all_targets_ignored(reduction, smoothing):
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    y = np.full((3, 2), -100)
    out = compare(
        lambda a: F.cross_entropy(a, y, reduction=reduction, label_smoothing=smoothing),
        lambda a: TF.cross_entropy(
            a, torch.from_numpy(y), reduction=reduction, label_smoothing=smoothing
        ),
        [x],
        [True],
    )
    if reduction == "mean":
        assert np.isnan(out.item())  # 0 / 0, as torch


def test_cross_entropy_zero_class_weights_and_ignore_index_inside_range():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 4))
    y = np.array([0, 1, 2, 3, 1, 2])
    w = np.array([0.0, 1.5, 0.5, 2.0])
    for ignore_index in (-100, 1, 3):
        for smoothing in (0.0, 0.25):
            for reduction in REDUCTIONS:
                kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
                compare(
                    lambda a, kw=kw: F.cross_entropy(a, y, w, **kw),
                    lambda a, kw=kw: TF.cross_entropy(
                        a, torch.from_numpy(y), torch.from_numpy(w), **kw
                    ),
                    [x],
                    [True],
                )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_empty_batch(reduction):
    for shape in [(0, 3), (0, 3, 2), (2, 3, 0)]:
        y = np.zeros(_target_shape(shape), dtype=np.int64)
        compare(
            lambda a, y=y: F.cross_entropy(a, y, reduction=reduction),
            lambda a, y=y: TF.cross_entropy(a, torch.from_numpy(y), reduction=reduction),
            [np.zeros(shape)],
            [True],
        )
        compare(  # probabilities
            lambda a, b: F.cross_entropy(a, b, reduction=reduction),
            lambda a, b: TF.cross_entropy(a, b, reduction=reduction),
            [np.zeros(shape), np.zeros(shape)],
            [True, True],
        )


def test_cross_entropy_huge_logits_in_every_path():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 3e3, -2e3]])
    y = np.array([2, 0])
    for kw in (
        {},
        {"label_smoothing": 0.1},
        {"ignore_index": 0},
    ):
        compare(
            lambda a, kw=kw: F.cross_entropy(a, y, **kw),
            lambda a, kw=kw: TF.cross_entropy(a, torch.from_numpy(y), **kw),
            [x],
            [True],
        )
    t = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    compare(lambda a, b: F.cross_entropy(a, b), TF.cross_entropy, [x, t], [True, True])


def test_cross_entropy_plain_case_takes_the_fast_path_and_agrees_with_the_general_one():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((7, 5)), requires_grad=True)
    y = rng.integers(0, 5, 7)
    fast = F.cross_entropy(x, y, reduction="none")
    assert type(fast._ctx).__name__ == "_CrossEntropy"
    # an ignore_index inside [0, C) that no target hits keeps the fast path
    other = int(np.setdiff1d(np.arange(5), y)[0]) if len(set(y)) < 5 else -100
    assert type(F.cross_entropy(x, y, ignore_index=other)._ctx).__name__ == "_CrossEntropy"
    general = F.cross_entropy(x, y, np.ones(5), reduction="none")  # weights force the general path
    assert type(general._ctx).__name__ == "_ClassCrossEntropy"
    np.testing.assert_allclose(fast.data, general.data, rtol=1e-13)
    u = rng.standard_normal(7)
    fast.backward(u)
    g_fast, x.grad = x.grad, None
    general.backward(u)
    np.testing.assert_allclose(g_fast, x.grad, rtol=1e-12, atol=1e-15)


def test_cross_entropy_keeps_float32():
    rng = np.random.default_rng(3)
    for target, kw in (
        (rng.integers(0, 4, (3, 2)), {}),
        (rng.integers(0, 4, 3), {"label_smoothing": 0.1}),
        (rng.random((3, 4)).astype(np.float32), {}),
    ):
        shape = (3, 4, 2) if np.ndim(target) == 2 and target.dtype.kind == "i" else (3, 4)
        x = Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
        loss = F.cross_entropy(x, target, **kw)
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32


def test_cross_entropy_label_types():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((4, 3, 2)))
    y = rng.integers(0, 3, (4, 2))
    ref = F.cross_entropy(x, y).item()
    for labels in (
        y.tolist(),
        y.astype(np.int8),
        y.astype(np.uint8),
        y.astype(np.uint64),
        Tensor(y),  # a float Tensor holding whole numbers
    ):
        assert F.cross_entropy(x, labels).item() == pytest.approx(ref, rel=1e-12)
    as_int = Tensor(np.zeros((4, 2)))
    as_int.data = y.astype(np.int64)  # what an integer Tensor will hold
    assert F.cross_entropy(x, as_int).item() == pytest.approx(ref, rel=1e-12)
    assert F.nll_loss(x, as_int).item() == pytest.approx(F.nll_loss(x, y).item(), rel=1e-12)
    # a (C,) input takes a 0-d target: an int, a 0-d array, or a 0-d Tensor
    v = Tensor(rng.standard_normal(3), requires_grad=True)
    expected = TF.cross_entropy(torch.tensor(v.data), torch.tensor(2)).item()
    for target in (2, np.array(2), Tensor(2.0)):
        assert F.cross_entropy(v, target).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_gradchecks():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    y = rng.integers(0, 4, (3, 2))
    y[0, 1] = 2
    w = rng.uniform(0.5, 2, 4)
    assert gradcheck(lambda a: F.cross_entropy(a, y, w, ignore_index=2, label_smoothing=0.2), [x])
    t = Tensor(rng.random((3, 4, 2)), requires_grad=True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, w, label_smoothing=0.3), [x, t])
    assert gradcheck(lambda a: F.nll_loss(a, y, w, reduction="sum"), [x])


# --------------------------------------------------------------------------- nll_loss
@SOME
@given(
    shape=class_shapes(),
    seed=seeds,
    weighted=st.booleans(),
    ignore=st.sampled_from(["none", "default", "class"]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_nll_loss(shape, seed, weighted, ignore, reduction):
    rng = np.random.default_rng(seed)
    c = shape[1] if len(shape) > 1 else shape[0]
    x = rng.standard_normal(shape)
    y = rng.integers(0, c, _target_shape(shape))
    ignore_index = -100
    if ignore == "default":
        y = np.where(rng.random(y.shape) < 0.3, -100, y)
    elif ignore == "class":
        ignore_index = int(rng.integers(0, c))
    w = _weight(rng, weighted or None, c)
    tw = None if w is None else torch.from_numpy(w)
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    compare(
        lambda a: F.nll_loss(a, y, w, **kw),
        lambda a: TF.nll_loss(a, torch.from_numpy(y), tw, **kw),
        [x],
        [True],
        seed=seed,
    )


def test_nll_loss_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((5, 4, 3)), requires_grad=True)
    y = rng.integers(0, 4, (5, 3))
    a = F.nll_loss(x.log_softmax(1), y, reduction="none")
    b = F.cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_nll_loss_all_ignored_is_nan_for_mean():
    y = np.full(3, 1)
    out = compare(
        lambda a: F.nll_loss(a, y, ignore_index=1),
        lambda a: TF.nll_loss(a, torch.from_numpy(y), ignore_index=1),
        [np.ones((3, 2))],
        [True],
    )
    assert np.isnan(out.item())


# --------------------------------------------------------------------------- binary
@st.composite
def shapes(draw, min_dims=0):
    return tuple(draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=3)))


def _broadcast_weight(rng, choice, shape):
    if choice == "none" or not shape:
        return None
    if choice == "last":
        return rng.uniform(0.2, 2, shape[-1:])
    return rng.uniform(0.2, 2, shape)


@SOME
@given(
    shape=shapes(),
    seed=seeds,
    weight=st.sampled_from(["none", "last", "full"]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_binary_cross_entropy(shape, seed, weight, reduction):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, shape)
    t = rng.random(shape)
    w = _broadcast_weight(rng, weight, shape)
    tw = None if w is None else torch.from_numpy(w)
    compare(
        lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
        lambda a, b: TF.binary_cross_entropy(a, b, tw, reduction=reduction),
        [p, t],
        [True, True],
        seed=seed,
    )


def test_binary_cross_entropy_at_exact_zero_and_one():
    # torch clamps each log at -100; its target gradient is unclamped (±inf)
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1e-300])
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1.0])
    for reduction in REDUCTIONS:
        compare(
            lambda a, b, r=reduction: F.binary_cross_entropy(a, b, reduction=r),
            lambda a, b, r=reduction: TF.binary_cross_entropy(a, b, reduction=r),
            [p, t],
            [True, True],
        )


@SOME
@given(
    shape=shapes(),
    seed=seeds,
    weight=st.sampled_from(["none", "last", "full"]),
    pos_weight=st.sampled_from(["none", "last", "full"]),
    reduction=st.sampled_from(REDUCTIONS),
    scale=st.sampled_from([1.0, 50.0]),
)
def test_binary_cross_entropy_with_logits(shape, seed, weight, pos_weight, reduction, scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    t = rng.random(shape)
    w = _broadcast_weight(rng, weight, shape)
    pw = _broadcast_weight(rng, pos_weight, shape)
    tw = None if w is None else torch.from_numpy(w)
    tpw = None if pw is None else torch.from_numpy(pw)
    compare(
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, w, reduction=reduction, pos_weight=pw
        ),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, tw, reduction=reduction, pos_weight=tpw
        ),
        [x, t],
        [True, True],
        seed=seed,
    )


def test_binary_cross_entropy_with_logits_pos_weight_per_class_at_extremes():
    x = np.array([[1e4, -1e4, 0.0], [-800.0, 800.0, 3.0]])
    t = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 0.25]])
    pw = np.array([3.0, 0.5, 2.0])
    compare(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=torch.from_numpy(pw)),
        [x, t],
        [True, True],
    )
    x = Tensor(np.random.default_rng(7).standard_normal((3, 3)), requires_grad=True)
    tt = Tensor(np.random.default_rng(8).random((3, 3)), requires_grad=True)
    assert gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, np.ones(3) * 0.7, pos_weight=pw),
        [x, tt],
    )


@SOME
@given(shape=shapes(), seed=seeds, reduction=st.sampled_from(REDUCTIONS))
def test_soft_margin_loss(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 5
    y = rng.choice([-1.0, 1.0], shape)
    compare(
        lambda a: F.soft_margin_loss(a, y, reduction=reduction),
        lambda a: TF.soft_margin_loss(a, torch.from_numpy(y), reduction=reduction),
        [x],
        [True],
        seed=seed,
    )


def test_soft_margin_loss_is_finite_where_torch_overflows():
    # torch computes log1p(exp(-y x)), which is inf for -y x > ~709; we use logaddexp
    loss = F.soft_margin_loss(Tensor([-1000.0, 1000.0], dtype=np.float64), [1.0, 1.0], "none")
    np.testing.assert_allclose(loss.data, [1000.0, 0.0])


# --------------------------------------------------------------------------- regression
@SOME
@given(
    shape=shapes(),
    seed=seeds,
    loss=st.sampled_from(["mse_loss", "l1_loss", "huber_loss"]),
    weighted=st.booleans(),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_mse_l1_huber_with_weights(shape, seed, loss, weighted, reduction):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2
    arrays, grads = [x, t], [True, True]
    if weighted:
        arrays.append(rng.uniform(0.1, 2, shape))
        grads.append(True)  # torch composes the weighted case, so the weight gets a gradient

    def ours(a, b, w=None):
        return getattr(F, loss)(a, b, reduction=reduction, weight=w)

    def theirs(a, b, w=None):
        return getattr(TF, loss)(a, b, reduction=reduction, weight=w)

    compare(ours, theirs, arrays, grads, seed=seed)


@SOME
@given(
    shape=shapes(),
    seed=seeds,
    beta=st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    delta=st.sampled_from([0.1, 1.0, 2.5]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_smooth_l1_and_huber_thresholds(shape, seed, beta, delta, reduction):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2
    compare(
        lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        [x, t],
        [True, True],
        seed=seed,
    )
    compare(
        lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta),
        lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta),
        [x, t],
        [True, True],
        seed=seed,
    )


def test_regression_losses_at_their_kinks_and_on_empty_input():
    # d = 0 (l1's kink) and |d| = beta / delta exactly: the subgradients torch picks
    x = np.array([1.0, 2.0, 3.0, -1.0, 0.5])
    t = np.array([1.0, 1.0, 1.5, 0.0, 0.5])
    for name, kw in [
        ("l1_loss", {}),
        ("mse_loss", {}),
        ("smooth_l1_loss", {"beta": 1.0}),
        ("smooth_l1_loss", {"beta": 0.0}),
        ("huber_loss", {"delta": 1.0}),
        ("huber_loss", {"delta": 1.5}),
    ]:
        for reduction in REDUCTIONS:
            compare(
                lambda a, b, n=name, k=kw, r=reduction: getattr(F, n)(a, b, reduction=r, **k),
                lambda a, b, n=name, k=kw, r=reduction: getattr(TF, n)(a, b, reduction=r, **k),
                [x, t],
                [True, True],
            )
            compare(
                lambda a, b, n=name, k=kw, r=reduction: getattr(F, n)(a, b, reduction=r, **k),
                lambda a, b, n=name, k=kw, r=reduction: getattr(TF, n)(a, b, reduction=r, **k),
                [np.zeros((0, 2)), np.zeros((0, 2))],
                [True, True],
            )


@SOME
@given(
    shape=shapes(),
    seed=seeds,
    log_target=st.booleans(),
    reduction=st.sampled_from(["mean", "batchmean", "sum", "none"]),
    zeros=st.booleans(),
)
def test_kl_div(shape, seed, log_target, reduction, zeros):
    rng = np.random.default_rng(seed)
    x = np.log(rng.uniform(0.05, 1, shape))
    t = rng.uniform(0.01, 1, shape)
    if log_target:
        t = np.log(t)
    elif zeros:
        t = np.where(rng.random(shape) < 0.3, 0.0, t)  # 0 · log 0 = 0; the target grad is nan
    with pytest.warns(UserWarning) if reduction == "mean" else _nothing():
        compare(
            lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
            lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
            [x, t],
            [True, True],
            seed=seed,
        )


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_kl_div_batchmean_is_the_mean_kl_over_the_batch():
    rng = np.random.default_rng(9)
    p = rng.random((4, 5))
    p /= p.sum(1, keepdims=True)
    q = rng.random((4, 5))
    q /= q.sum(1, keepdims=True)
    kl = (p * np.log(p / q)).sum(1).mean()
    assert F.kl_div(Tensor(np.log(q)), p, reduction="batchmean").item() == pytest.approx(kl)
    empty = F.kl_div(Tensor(np.zeros((0, 3))), np.zeros((0, 3)), reduction="batchmean")
    assert np.isnan(empty.item())  # as torch: 0 / 0


def test_regression_gradchecks():
    rng = np.random.default_rng(10)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = Tensor(rng.uniform(0.5, 2, (3, 4)), requires_grad=True)
    assert gradcheck(lambda a, b, c: F.mse_loss(a, b, weight=c), [x, t, w])
    assert gradcheck(lambda a, b, c: F.huber_loss(a, b, delta=0.7, weight=c), [x, t, w])
    assert gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=0.6), [x, t])
    q = Tensor(rng.uniform(0.1, 1, (3, 4)), requires_grad=True)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), [x, q])
    assert gradcheck(lambda a, b: F.kl_div(a, b, log_target=True), [x, t])


# --------------------------------------------------------------------------- pairs
@SOME
@given(
    shape=shapes(),
    seed=seeds,
    margin=st.sampled_from([0.0, 0.5, 2.0]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_margin_ranking_loss(shape, seed, margin, reduction):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    y = rng.choice([-1.0, 1.0], shape)
    compare(
        lambda p, q, t: F.margin_ranking_loss(p, q, t, margin, reduction),
        lambda p, q, t: TF.margin_ranking_loss(p, q, t, margin, reduction=reduction),
        [a, b, y],
        [True, True, True],  # torch composes it, so the target gets a gradient too
        seed=seed,
    )


def test_margin_ranking_loss_at_the_kink():
    # m - y (a - b) = 0 exactly: torch's clamp_min lets the gradient through
    a, b, y = np.array([1.0, 2.0, 0.5]), np.array([1.0, 1.0, 0.5]), np.array([1.0, -1.0, 1.0])
    compare(F.margin_ranking_loss, TF.margin_ranking_loss, [a, b, y], [True, True, True])


@SOME
@given(
    n=st.integers(0, 5),
    d=st.integers(1, 5),
    one_d=st.booleans(),
    seed=seeds,
    margin=st.sampled_from([-0.5, 0.0, 0.3]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_cosine_embedding_loss(n, d, one_d, seed, margin, reduction):
    rng = np.random.default_rng(seed)
    shape = (d,) if one_d else (n, d)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    y = rng.choice([-1, 1, 0], shape[:-1])  # a target of 0 gives 0, as torch
    if not one_d and n:
        b[0] = 0.0  # a zero vector: the 1e-12 in each norm keeps it finite
    compare(
        lambda p, q: F.cosine_embedding_loss(p, q, y, margin, reduction),
        lambda p, q: TF.cosine_embedding_loss(
            p, q, torch.from_numpy(y), margin, reduction=reduction
        ),
        [a, b],
        [True, True],
        seed=seed,
    )


def test_pair_losses_gradcheck_and_errors():
    rng = np.random.default_rng(12)
    a = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = np.array([1.0, -1.0, -1.0, 1.0])
    assert gradcheck(lambda p, q: F.cosine_embedding_loss(p, q, y, -0.9), [a, b])
    with pytest.raises(ShapeError, match=r"inputs of shape \(4, 3\) and target of shape \(3,\)"):
        F.cosine_embedding_loss(a, b, y[:3])
    with pytest.raises(ShapeError, match=r"input shape \(4, 3\) and input2 shape \(3,\)"):
        F.cosine_embedding_loss(a, b[0], y)
    with pytest.raises(ShapeError, match=r"input shape \(4, 3\) and target shape \(4,\)"):
        F.margin_ranking_loss(a, b, y)
    with pytest.raises(ValueError, match="margin_ranking_loss: reduction"):
        F.margin_ranking_loss(a, b, np.ones((4, 3)), reduction="max")


# --------------------------------------------------------------------------- modules
def test_loss_modules_match_torch_modules():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 3, 2))
    y = rng.integers(0, 3, (4, 2))
    w = rng.uniform(0.5, 2, 3)
    cases = [
        (
            nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1, reduction="sum"),
            torch.nn.CrossEntropyLoss(
                torch.from_numpy(w), ignore_index=1, label_smoothing=0.1, reduction="sum"
            ),
            x,
            y,
        ),
        (
            nn.NLLLoss(w, reduction="none"),
            torch.nn.NLLLoss(torch.from_numpy(w), reduction="none"),
            x,
            y,
        ),
        (
            nn.BCELoss(w[:2]),
            torch.nn.BCELoss(torch.from_numpy(w[:2])),
            rng.uniform(0.1, 0.9, (4, 3, 2)),
            rng.random((4, 3, 2)),
        ),
        (
            nn.BCEWithLogitsLoss(pos_weight=w[:2], reduction="sum"),
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(w[:2]), reduction="sum"),
            x,
            rng.random((4, 3, 2)),
        ),
        (nn.MSELoss(), torch.nn.MSELoss(), x, rng.standard_normal(x.shape)),
        (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), x, x[::-1].copy()),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), x, x * 0.3),
        (nn.HuberLoss(delta=0.4), torch.nn.HuberLoss(delta=0.4), x, x * 0.3),
        (
            nn.KLDivLoss(reduction="batchmean", log_target=True),
            torch.nn.KLDivLoss(reduction="batchmean", log_target=True),
            x,
            x * 0.5,
        ),
        (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), x, np.sign(x)),
    ]
    for ours, theirs, a, b in cases:
        tb = torch.from_numpy(b)
        compare(lambda p, m=ours, b=b: m(p, b), lambda p, m=theirs, tb=tb: m(p, tb), [a], [True])
        assert ours.parameters() == []  # weights are buffers, never trained
    a, b = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    y = rng.choice([-1.0, 1.0], 5)
    y2 = np.broadcast_to(y[:, None], (5, 3))
    for ours, theirs, y_in in (
        (nn.CosineEmbeddingLoss(0.2), torch.nn.CosineEmbeddingLoss(0.2), y),
        (nn.MarginRankingLoss(0.5), torch.nn.MarginRankingLoss(0.5), y2),
    ):
        compare(
            lambda p, q, m=ours, y_in=y_in: m(p, q, y_in),
            lambda p, q, m=theirs, y_in=y_in: m(p, q, torch.from_numpy(y_in.copy())),
            [a, b],
            [True, True],
        )


def test_loss_module_weights_are_buffers_and_options_keyword_only():
    m = nn.CrossEntropyLoss(Tensor([1.0, 2.0]), label_smoothing=0.2)
    assert set(m.state_dict()) == {"weight"}
    np.testing.assert_allclose(m.state_dict()["weight"], [1.0, 2.0])
    assert "label_smoothing=0.2" in repr(m)
    assert set(nn.BCEWithLogitsLoss(pos_weight=[2.0]).state_dict()) == {"pos_weight"}
    assert nn.MSELoss().state_dict() == {}
    with pytest.raises(TypeError):
        nn.MSELoss("sum")  # torch's first positional argument is the deprecated size_average
    with pytest.raises(ValueError, match="reduction must be .*got 'avg'"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="'batchmean'"):
        nn.KLDivLoss(reduction="average")
    with pytest.raises(ValueError, match="label_smoothing must be in \\[0, 1\\], got 2"):
        nn.CrossEntropyLoss(label_smoothing=2)
    with pytest.raises(ValueError, match="beta"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="delta"):
        nn.HuberLoss(delta=0)


def test_functional_and_nn_reexport_the_losses():
    from tinygrad_opt.nn import loss

    for name in loss.__all__:
        if name[0].islower():
            assert getattr(F, name) is getattr(loss, name) is getattr(nn, name)
        elif name.endswith("Loss"):
            assert getattr(nn, name) is getattr(loss, name)


# --------------------------------------------------------------------------- errors
def test_class_losses_reject_bad_targets_as_torch():
    x = Tensor(np.zeros((3, 4)))
    for fn, tfn in ((F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)):
        name = fn.__name__
        for bad, label in (([0, 4, 1], 4), ([0, -1, 1], -1)):
            msg = f"{name}: label {label} is out of range for C = 4"
            with pytest.raises(IndexError, match=msg):
                fn(x, bad)
            with pytest.raises(IndexError):  # torch raises IndexError too
                tfn(torch.zeros(3, 4), torch.tensor(bad))
        with pytest.raises(TargetIndexError, match=r"ignore_index = 7"):
            fn(Tensor(np.zeros((2, 4, 3))), np.array([[0, 1, 9], [7, 7, 7]]), ignore_index=7)
        with pytest.raises(ShapeError, match=r"\(3, 4\).*\(3,\).*got target of shape \(2,\)"):
            fn(x, [0, 1])
        with pytest.raises(ShapeError, match=r"\(2, 4, 3\).*\(2, 3\).*\(2, 2\)"):
            fn(Tensor(np.zeros((2, 4, 3))), np.zeros((2, 2), dtype=int))
        with pytest.raises(ShapeError, match=r"weight must have one entry per class, shape \(4,\)"):
            fn(x, [0, 1, 2], np.ones(3))
        with pytest.raises(TypeError, match="reduction='sum'"):
            fn(x, [0, 1, 2], "sum")  # torch's third argument is weight
        with pytest.raises(RuntimeError, match="weight receives no gradient"):
            fn(x, [0, 1, 2], Tensor(np.ones(4), requires_grad=True))
        with no_grad():  # no graph, nothing to refuse
            fn(x, [0, 1, 2], Tensor(np.ones(4), requires_grad=True))
        with pytest.raises(TypeError, match="integer class indices.*float64"):
            fn(x, np.array([0.0, 1.0, 2.0]))
        with pytest.raises(TypeError, match="non-integer"):
            fn(x, Tensor([0.5, 1, 2]))
        with pytest.raises(TypeError, match="bool"):
            fn(x, np.array([True, False, True]))
        with pytest.raises(ShapeError, match=r"got \(\)"):
            fn(Tensor(3.0), 0)
        with pytest.raises(ShapeError, match=r"no classes"):
            fn(Tensor(np.zeros((3, 0))), [0, 0, 0])
        with pytest.raises(ValueError, match=f"{name}: reduction must be 'mean', 'sum' or 'none'"):
            fn(x, [0, 1, 2], reduction="avg")


def test_cross_entropy_rejects_bad_probabilities_and_smoothing():
    x = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"class probabilities and must be floating point"):
        F.cross_entropy(x, np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="ignore_index = 0 does not apply"):
        F.cross_entropy(x, np.zeros((3, 4)), ignore_index=0)
    with pytest.raises(RuntimeError):  # torch refuses both too
        TF.cross_entropy(torch.zeros(3, 4), torch.zeros(3, 4), ignore_index=0)
    for eps in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="label_smoothing must be in"):
            F.cross_entropy(x, [0, 1, 2], label_smoothing=eps)
    # nll_loss has no probability targets (torch: "multi-target not supported")
    with pytest.raises(TypeError, match="nll_loss: labels must be integer class indices"):
        F.nll_loss(x, np.zeros((3, 4)))
    with pytest.raises(ShapeError, match=r"nll_loss: input of shape \(3, 4\) needs"):
        F.nll_loss(x, Tensor(np.zeros((3, 4))))


def test_binary_and_regression_losses_reject_bad_input():
    x = Tensor(np.full((4, 1), 0.5))
    for fn in (
        F.binary_cross_entropy,
        F.binary_cross_entropy_with_logits,
        F.mse_loss,
        F.l1_loss,
        F.smooth_l1_loss,
        F.huber_loss,
        F.kl_div,
        F.soft_margin_loss,
    ):
        name = fn.__name__
        msg = rf"{name}: input shape \(4, 1\) and target shape \(4,\)"
        with pytest.raises(ShapeError, match=msg):
            fn(x, np.zeros(4))
        with pytest.raises(ValueError, match=f"{name}: reduction must be"):
            fn(x, np.zeros((4, 1)), reduction="mean ")
        with pytest.raises(TypeError, match="numeric"):
            fn(x, np.array([["a"], ["b"], ["c"], ["d"]]))
    with pytest.raises(ValueError, match=r"in \[0, 1\], found 1.5"):
        F.binary_cross_entropy(Tensor([0.5, 1.5]), [0.0, 1.0])
    with pytest.raises(ValueError, match="found nan"):
        F.binary_cross_entropy(Tensor([0.5, float("nan")]), [0.0, 1.0])
    for kw in ({"weight": np.ones(3)}, {"pos_weight": np.ones((2, 4, 1))}):
        with pytest.raises(ShapeError, match=r"of shape \(.*\) does not broadcast to input shape"):
            F.binary_cross_entropy_with_logits(x, np.zeros((4, 1)), **kw)
    with pytest.raises(ShapeError, match="weight shape"):
        F.mse_loss(x, np.zeros((4, 1)), weight=np.ones(4))
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        F.smooth_l1_loss(x, np.zeros((4, 1)), beta=-1)
    with pytest.raises(ValueError, match="delta must be > 0, got 0"):
        F.huber_loss(x, np.zeros((4, 1)), delta=0)
    with pytest.raises(ValueError, match="'mean', 'batchmean', 'sum' or 'none'"):
        F.kl_div(x, np.zeros((4, 1)), reduction="avg")
    with pytest.raises(TypeError, match="reduction='none'"):
        F.binary_cross_entropy(x, np.zeros((4, 1)), "none")
