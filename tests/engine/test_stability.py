"""Softmax, log-softmax and logsumexp stay finite and exact for logits of ±10⁴."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_opt import Tensor

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None

# --------------------------------------------------------------------------- stability

STABILITY_LOGITS = [
    [1e4, -1e4, 0.0],
    [1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4],
    [1e4, -1e4, 1e4],
]

STABLE_OPS = {
    "softmax": (lambda x: x.softmax(-1), lambda x: torch.softmax(x, -1)),
    "log_softmax": (lambda x: x.log_softmax(-1), lambda x: torch.log_softmax(x, -1)),
    "logsumexp": (lambda x: x.logsumexp(-1), lambda x: torch.logsumexp(x, -1)),
}

# closed forms for the rows above: softmax, log_softmax and logsumexp of each row
_L = math.log
STABLE_EXPECTED = {
    "softmax": [[1, 0, 0], [1 / 3] * 3, [1 / 3] * 3, [0.5, 0, 0.5]],
    "log_softmax": [
        [0, -2e4, -1e4],
        [-_L(3)] * 3,
        [-_L(3)] * 3,
        [-_L(2), -2e4 - _L(2), -_L(2)],
    ],
    "logsumexp": [1e4, 1e4 + _L(3), -1e4 + _L(3), 1e4 + _L(2)],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(STABLE_OPS))
def test_extreme_logits_are_finite_and_exact(op, dtype):
    ours, _ = STABLE_OPS[op]
    x = Tensor(np.array(STABILITY_LOGITS, dtype=dtype), requires_grad=True)
    out = ours(x)
    assert out.dtype == dtype
    assert np.isfinite(out.data).all(), out.data
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, STABLE_EXPECTED[op], rtol=rtol, atol=1e-30)
    out.sum().backward()
    assert x.grad.dtype == dtype
    assert np.isfinite(x.grad).all(), x.grad


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(STABLE_OPS))
def test_extreme_logits_match_torch(op, dtype):
    if torch is None:
        pytest.skip("torch is not importable")
    ours, theirs = STABLE_OPS[op]
    data = np.array(STABILITY_LOGITS, dtype=dtype)
    u = np.random.default_rng(0).standard_normal(ours(Tensor(data)).shape).astype(dtype)
    x = Tensor(data, requires_grad=True)
    out = ours(x)
    (out * Tensor(u)).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tout = theirs(tx)
    (tout * torch.from_numpy(u)).sum().backward()
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=rtol, atol=1e-6)
