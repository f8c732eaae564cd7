"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner (the authors' algorithm)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import bias_correction, decay_weights_, ema_
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register
from tinygrad_opt.optim.preconditioner import (
    MatrixStateMixin,
    eigenbasis,
    merged_shape,
    mode_product,
    refresh_eigenbasis,
    statistic,
)


@register("soap")
class SOAP(MatrixStateMixin, Optimizer):
    r"""SOAP (Vyas et al. 2024), as the authors' code (``nikhilvyas/SOAP``), checked
    against ``pytorch_optimizer`` 4.1.0's port.

    "SOAP: Improving and Stabilizing Shampoo using Adam", ICLR 2025 (arXiv:2409.11321),
    Algorithm 3. For a matrix G (m × n) with Shampoo statistics L, R and their eigenbases
    Q_L, Q_R (tensors: one statistic and basis per dimension, G ×ᵢ Qᵢ):

        first step:  L ← (1-β_s)·G·Gᵀ,  R ← (1-β_s)·Gᵀ·G,  Q_L, Q_R ← eigh(L), eigh(R)
                     (eigenvalues descending) and no parameter change
        later steps: t ← t + 1
                     G' ← Q_Lᵀ·G·Q_R                          (project)
                     M ← β1·M + (1-β1)·G                       (original basis)
                     V ← β2·V + (1-β2)·G'⊙G'                   (rotated basis)
                     N ← Q_L·((Q_Lᵀ·M·Q_R) / (√V + ε))·Q_Rᵀ      (project back)
                     N ← N / (RMS(N) + ε)                      (normalize_grads only)
                     θ ← θ - η·√(1-β2ᵗ)/(1-β1ᵗ)·N               (without ᵗ: correct_bias=False)
                     θ ← θ - η·λ·θ                             (decoupled weight decay)
                     L ← β_s·L + (1-β_s)·G·Gᵀ,   R ← β_s·R + (1-β_s)·Gᵀ·G
                     every f-th t: Q ← qr(L·Q) (one power-iteration step, columns sorted
                     by the estimated eigenvalues diag(Qᵀ·L·Q), V's entries permuted alike)

    Dimensions above ``max_precond_dim`` keep the identity as basis (no statistic); 1-D
    parameters are Adam unless ``precondition_1d``; 0-d ones are Adam. ``merge_dims``
    first reshapes a ≥2-D parameter by multiplying neighbouring dimensions while the
    product stays ≤ ``max_precond_dim`` (conv weights (o, i, h, w) → e.g. (o, i·h·w));
    with ``data_format="channels_last"`` a 4-D parameter is read as (o, h, w, i).

    Arguments (the authors' names and defaults): lr=η (3e-3), betas=(β1, β2) (0.95, 0.95),
    shampoo_beta=β_s (None: β2), eps=ε (1e-8), weight_decay=λ (0.01, decoupled),
    precondition_frequency=f (10), max_precond_dim (10000), merge_dims (False),
    precondition_1d (False), normalize_grads (False), data_format ("channels_first"),
    correct_bias (True), maximize (False).

    Differences from the authors' code: the QR step runs in the parameter's dtype (theirs
    casts to float32, so float64 runs carry float32 bases); normalize_grads divides by
    RMS(N) + ε, as ``pytorch_optimizer`` (theirs: RMS(N) + 1e-30); shampoo_beta and
    precondition_frequency are read from the group at every step (theirs are frozen into
    the state on the first step). Differences from ``pytorch_optimizer``: besides the
    float32 QR, its step counter is the group's (ours, as the authors', is per parameter:
    the same when every parameter has a gradient at every step), and its ``merge_dims``
    rule (Shampoo's ``merge_small_dims``) fails when a tensor merges into one dimension
    and keeps stray dimensions of size 1; ours is the authors' rule.
    """

    hyperparameters = dict(
        lr=3e-3,
        betas=(0.95, 0.95),
        shampoo_beta=None,
        eps=1e-8,
        weight_decay=0.01,
        precondition_frequency=10,
        max_precond_dim=10000,
        merge_dims=False,
        precondition_1d=False,
        normalize_grads=False,
        data_format="channels_first",
        correct_bias=True,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        beta = hp.get("shampoo_beta")
        if beta is not None:
            check_range("shampoo_beta", beta, 0.0, 1.0, high_open=True)
        for name in ("precondition_frequency", "max_precond_dim"):
            if name in hp:
                value = hp[name]
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ValueError(f"Invalid {name}: {value} (expected an integer >= 1)")
        if hp.get("data_format", "channels_first") not in ("channels_first", "channels_last"):
            raise ValueError(
                f"Invalid data_format: {hp['data_format']!r} (channels_first or channels_last)"
            )

    # ------------------------------------------------------------------ layout
    def _layout(self, shape: tuple[int, ...], group: dict) -> tuple[bool, tuple[int, ...]]:
        """(permute channels-last, the shape the statistics are kept for)."""
        if len(shape) < 2 or not group["merge_dims"]:
            return False, shape
        permute = group["data_format"] == "channels_last" and len(shape) == 4
        if permute:
            shape = (shape[0], shape[3], shape[1], shape[2])
        return permute, merged_shape(shape, group["max_precond_dim"])

    def _dims(self, shape: tuple[int, ...], group: dict) -> list[int | None]:
        """Per (merged) dimension: its size if it gets a statistic, else None."""
        _, work = self._layout(shape, group)
        limit = group["max_precond_dim"]
        if len(shape) == 1 and not group["precondition_1d"]:
            return [None]
        return [d if d <= limit else None for d in work]

    def _to_work(self, x: np.ndarray, group: dict) -> np.ndarray:
        permute, work = self._layout(x.shape, group)
        if permute:
            x = x.transpose(0, 3, 1, 2)
        return x.reshape(work)

    def _from_work(self, x: np.ndarray, shape: tuple[int, ...], group: dict) -> np.ndarray:
        permute, _ = self._layout(shape, group)
        if permute:
            return x.reshape(shape[0], shape[3], shape[1], shape[2]).transpose(0, 2, 3, 1)
        return x.reshape(shape)

    def _project(self, x: np.ndarray, state: dict, group: dict, back: bool = False):
        work = mode_product(self._to_work(x, group), state["Q"], transpose=back)
        return self._from_work(work, x.shape, group)

    # ------------------------------------------------------------------ state
    def matrix_dims(self, name: str, shape: tuple[int, ...], group: dict) -> list | None:
        return self._dims(shape, group) if name in ("GG", "Q") else None

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        gg = [None if d is None else np.zeros((d, d), p.dtype) for d in self._dims(p.shape, group)]
        return {
            "step": 0,
            "exp_avg": np.zeros_like(p),
            "exp_avg_sq": np.zeros_like(p),
            "GG": gg,
            "Q": None,
        }

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if state["Q"] is None:  # first gradient: statistics and bases only, no step
            self._update_statistics(g, state, group)
            state["Q"] = [None if s is None else eigenbasis(s) for s in state["GG"]]
            return
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        rotated = self._project(g, state, group)  # G'
        ema_(m, g, beta1)  # M ← β1·M + (1-β1)·G
        ema_(v, rotated * rotated, beta2)  # V ← β2·V + (1-β2)·G'⊙G'
        denom = np.sqrt(v)
        denom += eps
        direction = self._project(m, state, group)
        direction /= denom
        direction = self._project(direction, state, group, back=True)
        if group["normalize_grads"] and direction.size:
            direction /= math.sqrt(float(np.vdot(direction, direction)) / direction.size) + eps
        step_size = lr
        if group["correct_bias"]:
            step_size *= math.sqrt(bias_correction(beta2, t)) / bias_correction(beta1, t)
        direction *= step_size
        p -= direction
        decay_weights_(p, lr, group["weight_decay"])
        self._update_statistics(g, state, group)
        if t % group["precondition_frequency"] == 0:
            self._refresh(state, group)

    def _update_statistics(self, g: np.ndarray, state: dict, group: dict) -> None:
        beta = group["shampoo_beta"]
        beta = group["betas"][1] if beta is None else beta
        work = self._to_work(g, group)
        for axis, s in enumerate(state["GG"]):
            if s is not None:
                outer = statistic(work, axis)
                ema_(s, outer, beta, tmp=outer)  # S ← β_s·S + (1-β_s)·outer, in place

    def _refresh(self, state: dict, group: dict) -> None:
        v = state["exp_avg_sq"]
        work = self._to_work(v, group)
        for axis, (s, q) in enumerate(zip(state["GG"], state["Q"])):
            if s is not None:
                state["Q"][axis], order = refresh_eigenbasis(s, q)
                work = np.take(work, order, axis=axis)
        v[...] = self._from_work(work, v.shape, group)
