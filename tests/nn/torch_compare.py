"""Forward-and-gradient comparison with torch for the tests in ``tests/nn``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_opt import Tensor

TOL = {"rtol": 1e-10, "atol": 1e-12}


def compare_with_torch(
    arrays: Sequence[np.ndarray | None],
    ours: Callable,
    theirs: Callable,
    seed: int = 0,
    tol: dict | None = None,
) -> Tensor:
    """Run ``ours`` on Tensors and ``theirs`` on torch tensors made from ``arrays`` (None
    stays None), compare the outputs, backpropagate Σ u·out with the same random u, and
    compare every input's gradient. Returns our output."""
    import torch

    tol = TOL if tol is None else tol
    xs = [None if a is None else Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert out.shape == tuple(ref.shape), f"shape {out.shape} vs torch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(str(ref.dtype).removeprefix("torch.")), (out.dtype, ref.dtype)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol)
    u = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    (out * Tensor(u)).sum().backward()
    (ref * torch.from_numpy(u)).sum().backward()
    for i, (a, b) in enumerate(zip(xs, ts)):
        if a is not None:
            assert a.grad is not None and a.grad.dtype == a.dtype, f"input {i}"
            np.testing.assert_allclose(a.grad, b.grad.numpy(), err_msg=f"input {i}", **tol)
    return out
