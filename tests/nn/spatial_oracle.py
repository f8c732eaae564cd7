"""Shared by the conv / pooling / interpolate tests: run an op in ours and in torch (float64)
with the same inputs and upstream gradient, and compare outputs and input gradients."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from tinygrad_opt import Tensor

TOL = 1e-10


def compare(
    ours: Callable,
    theirs: Callable,
    arrays: Sequence[np.ndarray],
    rng: np.random.Generator,
    what: str = "",
    tol: float = TOL,
    grads: bool = True,
):
    """Outputs and gradients of every input agree to ``tol``; returns (ours, torch) outputs.

    When the ops return ``(values, indices)`` the indices must be equal and the gradient
    flows through the values. ``grads=False`` compares the forward only.
    """
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    if isinstance(ref, tuple):
        (out, idx), (ref, ridx) = out, ref
        assert idx.shape == tuple(ridx.shape), f"{what}: indices {idx.shape} vs {ridx.shape}"
        np.testing.assert_array_equal(idx.data, ridx.numpy(), err_msg=f"{what}: indices")
    assert out.shape == tuple(ref.shape), f"{what}: shape {out.shape} vs torch {ref.shape}"
    assert out.dtype == np.float64, f"{what}: float64 in, {out.dtype} out"
    r = ref.detach().numpy()
    np.testing.assert_allclose(out.data, r, rtol=tol, atol=tol, err_msg=f"{what}: forward")
    if not grads:
        return out, ref
    u = rng.standard_normal(r.shape)
    (out * Tensor(u)).sum().backward()
    (ref * torch.from_numpy(u)).sum().backward()
    for i, (x, t) in enumerate(zip(xs, ts)):
        want = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{what}: grad {i}")
    return out, ref


def as_torch_state(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
