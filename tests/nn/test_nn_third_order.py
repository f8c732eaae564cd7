"""Third derivatives of the fused nn ops against torch (float64): ∇⟨∇⟨∇f, v₁⟩, v₂⟩ for a
scalar f of each op's output, with respect to every input.

For layer_norm and batch_norm the reference is torch on the textbook formula: torch's
own third derivatives of those two are wrong (its fused double-backward formulas are
not differentiated correctly); a test below shows ours against finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hvp_oracle import TOL, rng_for  # noqa: E402

import tinygrad_opt as tg  # noqa: E402
from tinygrad_opt import Tensor  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.torch


def _third(grad, tensor, fn, arrays, v1, v2):
    """∇ ⟨∇⟨∇ f, v₁⟩, v₂⟩ for a scalar f of several inputs (all differentiated)."""
    ts = [tensor(a) for a in arrays]
    g1 = grad(fn(*ts), ts, True)
    s1 = sum((g * tensor(v, False)).sum() for g, v in zip(g1, v1))
    g2 = grad(s1, ts, True)
    s2 = sum((g * tensor(v, False)).sum() for g, v in zip(g2, v2))
    return grad(s2, ts, False)


def _ours_grad(y, xs, create):
    gs = tg.autograd.grad(y, xs, create_graph=create, allow_unused=True)
    return [Tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(gs, xs)]


def _torch_grad(y, xs, create):
    gs = torch.autograd.grad(y, xs, create_graph=create, allow_unused=True)
    return [torch.zeros(x.shape, dtype=x.dtype) if g is None else g for g, x in zip(gs, xs)]


def _textbook_norm(t, axes):
    """(x - μ)/√(σ² + ε) from torch's elementary ops: the reference for the third
    derivatives of layer_norm and batch_norm, because torch's own are wrong (its fused
    double-backward formulas are not differentiated correctly: at third order they
    disagree with finite differences of torch's second derivative, ours agree)."""
    c = t - t.mean(axes, keepdim=True)
    return c / ((c * c).mean(axes, keepdim=True) + 1e-5).sqrt()


# name: (f(M, *xs) with M = F or torch.nn.functional, input shapes, torch override or None)
THIRD = {
    "conv2d": (
        lambda M, x, w: (M.conv2d(x, w, padding=1, stride=(1, 2)) ** 2).sum(),
        [(1, 2, 3, 4), (2, 2, 2, 2)],
        None,
    ),
    "conv_transpose1d": (
        lambda M, x, w: (M.conv_transpose1d(x, w, stride=2, padding=1) ** 3).sum(),
        [(1, 2, 3), (2, 1, 3)],
        None,
    ),
    "max_pool2d": (
        lambda M, x: (M.max_pool2d(x * x, 2, stride=1) ** 3).sum(),
        [(1, 1, 3, 4)],
        None,
    ),
    "avg_pool1d": (
        lambda M, x: (M.avg_pool1d(x, 2, stride=1, padding=1) ** 4).sum(),
        [(1, 2, 5)],
        None,
    ),
    "interpolate": (
        lambda M, x: (M.interpolate(x, size=(3, 5), mode="bilinear") ** 3).sum(),
        [(1, 1, 2, 3)],
        None,
    ),
    "layer_norm": (
        lambda M, x: (M.layer_norm(x, (4,)) ** 3).sum(),
        [(3, 4)],
        lambda x: (_textbook_norm(x, (1,)) ** 3).sum(),
    ),
    "batch_norm": (
        lambda M, x: (M.batch_norm(x, None, None, training=True) ** 3).sum(),
        [(4, 3)],
        lambda x: (_textbook_norm(x, (0,)) ** 3).sum(),
    ),
    "group_norm": (lambda M, x: (M.group_norm(x, 2) ** 3).sum(), [(2, 4, 2)], None),
    "rms_norm": (lambda M, x: (M.rms_norm(x, (3,), eps=1e-5) ** 3).sum(), [(2, 3)], None),
    "sdpa": (
        lambda M, q, k, v: (M.scaled_dot_product_attention(q, k, v, is_causal=True) ** 2).sum(),
        [(2, 3, 2), (2, 3, 2), (2, 3, 2)],
        None,
    ),
    "cross_entropy": (
        lambda M, x: M.cross_entropy(x, _labels(M, [0, 2, 1]), label_smoothing=0.1),
        [(3, 4)],
        None,
    ),
    "bce_with_logits": (
        lambda M, x, t: M.binary_cross_entropy_with_logits(x, t * 0.2 + 0.5, reduction="sum"),
        [(3, 2), (3, 2)],
        None,
    ),
    "cosine_embedding": (
        lambda M, a, b: M.cosine_embedding_loss(a, b, _labels(M, [1.0, -1.0]), margin=-0.5),
        [(2, 3), (2, 3)],
        None,
    ),
    "huber": (lambda M, x: M.huber_loss(x * x, x, delta=0.8), [(3, 3)], None),
}


def _labels(M, values):
    a = np.asarray(values)
    return a if M is F else torch.tensor(a)


@pytest.mark.parametrize("name", list(THIRD))
def test_third_order(name):
    fn, shapes, reference = THIRD[name]
    rng = rng_for(name)
    arrays, v1, v2 = ([rng.uniform(-1.5, 1.5, s) for s in shapes] for _ in range(3))
    ours = _third(
        _ours_grad,
        lambda a, rg=True: Tensor(a.copy(), requires_grad=rg),
        lambda *ts: fn(F, *ts),
        arrays,
        v1,
        v2,
    )
    theirs = _third(
        _torch_grad,
        lambda a, rg=True: torch.tensor(a.copy(), requires_grad=rg),
        reference or (lambda *ts: fn(TF, *ts)),
        arrays,
        v1,
        v2,
    )
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL, err_msg=f"input {i}")


def test_torch_third_derivative_of_layer_norm_is_the_odd_one():
    """Why the reference above: along a direction, our third derivative of layer_norm
    matches the central difference of our (torch-checked) second derivative."""
    rng = rng_for("ln3")
    x, c, v1, d = (rng.uniform(-1.5, 1.5, (3, 4)) for _ in range(4))

    def second(a, create=False):
        t = Tensor(a, requires_grad=True)
        g = tg.autograd.grad((F.layer_norm(t, (4,)) * Tensor(c)).sum(), [t], create_graph=True)[0]
        return t, tg.autograd.grad((g * Tensor(v1)).sum(), [t], create_graph=create)[0]

    t, g2 = second(x, create=True)
    third = float((tg.autograd.grad((g2 * Tensor(d)).sum(), [t])[0] * Tensor(d)).sum().data)
    eps = 1e-5
    numeric = float(((second(x + eps * d)[1] - second(x - eps * d)[1]) * Tensor(d)).sum().data)
    assert abs(third - numeric / (2 * eps)) < 1e-5 * max(1.0, abs(third))
