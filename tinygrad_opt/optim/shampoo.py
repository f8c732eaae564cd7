"""Shampoo: one preconditioner per tensor dimension, applied as inverse matrix roots."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import ema_
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, check_range, register
from tinygrad_opt.optim.preconditioner import (
    MatrixStateMixin,
    inverse_root,
    mode_product,
    statistic,
)


@register("shampoo")
class Shampoo(MatrixStateMixin, Optimizer):
    r"""Shampoo (Gupta, Koren & Singer 2018), as ``pytorch_optimizer`` 4.1.0's ``Shampoo``.

    "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018 (arXiv:1802.09568),
    Algorithm 1 (matrices) and 2 (tensors of order k). For a matrix G (m × n):

        L₀ = ε·I_m,  R₀ = ε·I_n
        L ← L + G·Gᵀ,   R ← R + Gᵀ·G
        θ ← θ - η·L^(-1/4)·G·R^(-1/4)

    and for order k, one statistic Hᵢ per dimension (G contracted with itself over the
    other axes) and θ ← θ - η·(G ×₁ H₁^(-1/2k) ... ×_k H_k^(-1/2k)). A vector gets full-
    matrix AdaGrad (H^(-1/2)), a 0-d parameter plain SGD.

    As the reference, around the paper's algorithm: with ``momentum`` μ > 0, the
    gradient is first mixed with a buffer, G ← (1-μ)·G + μ·B, where B starts as the first
    gradient and afterwards holds the last *preconditioned* step; ``weight_decay`` λ is
    coupled (G ← G + λ·θ, after the momentum mix, before the statistics) unless
    ``weight_decouple`` (θ ← θ·(1 - η·λ), or θ·(1 - λ) with ``fixed_decay``); the roots
    are recomputed only at steps t with t mod ``preconditioning_compute_steps`` = 0 and
    start at zero, so with that period k > 1 the first k-1 steps leave θ unchanged (they
    only gather statistics). Defaults: lr=η (1e-3), momentum (0), weight_decay (0),
    weight_decouple (False), fixed_decay (False), preconditioning_compute_steps (1),
    matrix_eps=ε (1e-6), maximize (False).

    Differences from the reference: its roots come from an SVD, ours from ``eigh``
    (the same matrix for the symmetric statistics, up to rounding), and eigenvalues at
    rounding level (≤ d·ε_dtype·λ_max) get a zero root rather than an overflowing one;
    its momentum buffer starts as the un-negated first gradient when ``maximize`` (ours:
    the negated one, the gradient actually used); ``preconditioning_compute_steps`` is a
    group hyperparameter here (the reference keeps it on the optimizer); the buffer is
    kept only when μ > 0.
    """

    hyperparameters = dict(
        lr=1e-3,
        momentum=0.0,
        weight_decay=0.0,
        weight_decouple=False,
        fixed_decay=False,
        preconditioning_compute_steps=1,
        matrix_eps=1e-6,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp:
            check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)
        if "matrix_eps" in hp:
            check_nonnegative("matrix_eps value", hp["matrix_eps"])
        if "preconditioning_compute_steps" in hp:
            k = hp["preconditioning_compute_steps"]
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ValueError(
                    f"Invalid preconditioning_compute_steps: {k} (expected an integer >= 1)"
                )

    def matrix_dims(self, name: str, shape: tuple[int, ...], group: dict) -> list | None:
        return list(shape) if name in ("statistics", "inverse_roots") else None

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        eps = group["matrix_eps"]
        return {
            "step": 0,
            "statistics": [eps * np.eye(d, dtype=p.dtype) for d in p.shape],
            "inverse_roots": [np.zeros((d, d), p.dtype) for d in p.shape],
        }

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        state["step"] += 1
        g = np.array(g, copy=True)  # (a numpy scalar for a 0-d parameter becomes 0-d)
        if momentum > 0:
            buffer = state.setdefault("momentum_buffer", g.copy())
            ema_(g, buffer, 1.0 - momentum)  # G ← (1-μ)·G + μ·B
        if wd and group["weight_decouple"]:
            p *= 1.0 - wd * (1.0 if group["fixed_decay"] else lr)
        elif wd:
            g += wd * p
        order = p.ndim
        recompute = state["step"] % group["preconditioning_compute_steps"] == 0
        for axis, (s, root) in enumerate(zip(state["statistics"], state["inverse_roots"])):
            s += statistic(g, axis)  # Hᵢ ← Hᵢ + G₍ᵢ₎·G₍ᵢ₎ᵀ
            if recompute:
                inverse_root(s, 2 * order, out=root)  # Hᵢ^(-1/2k)
        step = mode_product(g, state["inverse_roots"])  # G ×ᵢ Hᵢ^(-1/2k) (symmetric)
        if momentum > 0:
            state["momentum_buffer"][...] = step
        step *= lr
        p -= step
