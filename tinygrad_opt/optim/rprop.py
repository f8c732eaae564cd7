"""Rprop: per-element step sizes driven only by the sign of the gradient (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import Optimizer, register


@register("rprop")
class Rprop(Optimizer):
    r"""Resilient backpropagation (Riedmiller & Braun 1993), as ``torch.optim.Rprop``.

    Each element keeps its own step size Δ (initialised to η) and the previous gradient
    g' (initialised to 0). With η₋ < 1 < η₊ and bounds [Δmin, Δmax]:

        f ← η₊ where g⊙g' > 0,   η₋ where g⊙g' < 0,   1 where g⊙g' = 0
        Δ ← clip(Δ⊙f, Δmin, Δmax)
        g ← 0 where g⊙g' < 0               (after a sign change, make no move ...)
        θ ← θ - sign(g)⊙Δ
        g' ← g                             (... and forget the gradient: next f is 1)

    Only the sign of the gradient is used, so the method suits full-batch training;
    the magnitude of a step is set by Δ alone. The learning rate only initialises Δ:
    changing ``lr`` after the first step has no effect (as in torch).

    Where torch differs from the paper: after a sign change Riedmiller & Braun's Rprop
    *reverts* the previous step (weight backtracking, θ ← θ + Δθₜ₋₁) before zeroing g';
    torch (and we) only skip the move and zero g'. In Igel & Hüsken's (2000) taxonomy the
    paper's method is Rprop⁺ and torch's is iRprop⁻.

    Arguments: lr=η (1e-2), etas=(η₋, η₊) ((0.5, 1.2)), step_sizes=(Δmin, Δmax)
    ((1e-6, 50)), maximize (False). Ours additionally requires 0 ≤ Δmin ≤ Δmax, which
    torch does not check.
    """

    # in-place state arrays, elementwise arithmetic, scalar state from scalars only:
    # the base class may step this method in chunks, on threads, or over flat buffers
    elementwise = True

    hyperparameters = dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "etas" in hp:
            eta_minus, eta_plus = _pair("eta values", hp["etas"])
            if not 0.0 < eta_minus < 1.0 < eta_plus:
                raise ValueError(f"Invalid eta values: {eta_minus}, {eta_plus}")
        if "step_sizes" in hp:
            size_min, size_max = _pair("step sizes", hp["step_sizes"])
            if not 0.0 <= size_min <= size_max:
                raise ValueError(f"Invalid step sizes: {size_min}, {size_max}")

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "prev": np.zeros_like(p), "step_size": np.full_like(p, group["lr"])}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        (eta_minus, eta_plus), (size_min, size_max) = group["etas"], group["step_sizes"]
        state["step"] += 1
        prev, size = state["prev"], state["step_size"]
        agreement = g * prev
        flipped = agreement < 0
        factor = np.ones_like(size)
        factor[agreement > 0] = eta_plus
        factor[flipped] = eta_minus
        size *= factor
        np.clip(size, size_min, size_max, out=size)
        np.copyto(prev, g)
        prev[flipped] = 0
        step = np.sign(prev, out=factor)  # reuse the factor array: sign(g), 0 after a flip
        step *= size
        p -= step


def _pair(what: str, value: Any) -> tuple[float, float]:
    """Two numbers, or ``ValueError("Invalid <what>: <value>")``."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {what}: {value} (expected a pair of numbers)") from None
    for x in (a, b):
        if not isinstance(x, (int, float)) or isinstance(x, bool) or x != x:
            raise ValueError(f"Invalid {what}: {a}, {b}")
    return a, b
