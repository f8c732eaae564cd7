"""SM3: AdaGrad with one accumulator per row and per column (per slice along each axis)
instead of per entry (Optax semantics)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import add_scaled_, ema_, safe_divide
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register


@register("sm3")
@register("sm3_nomomentum", momentum=0.0)
class SM3(Optimizer):
    r"""SM3 (Anil et al. 2019), as Optax 0.2.8's ``sm3``.

    "Memory-Efficient Adaptive Optimization", NeurIPS 2019, arXiv:1901.11150, SM3-II, with
    Optax's momentum. For a parameter of rank k ≥ 2 the cover is the set of slices along
    each axis: axis a keeps an accumulator μₐ with one entry per index of that axis
    (for a matrix: one per row and one per column), stored in the broadcasting shape
    (1, …, nₐ, …, 1). With ν' the per-entry estimate, β the momentum, m its average:

        ν' ← g⊙g + minₐ μₐ                     (broadcast: the smallest cover sum)
        u  ← g / √(ν' + δ)                     (0 where ν' = 0)
        μₐ ← max of ν' over all axes but a      (each slice's largest entry)
        m  ← β·m + (1 - β)·u
        θ  ← θ - η·m

    Vectors (and scalars) are their own cover: μ has the parameter's shape and the
    method is AdaGrad, ν' ← μ + g⊙g. The accumulators of an n×m matrix take n + m
    numbers instead of n·m; the momentum array m is full size (none is kept when
    β = 0, the ``sm3_nomomentum`` name: memory n + m per matrix).

    This is Optax's ``chain(scale_by_sm3(b1=β, b2=1, eps=δ), scale(-η))`` (``sm3``
    passes β and keeps δ at 1e-8). δ sits inside the root and is Optax's addition; the
    paper has none. Differences from Optax: it raises IndexError for a 0-d parameter
    (here a scalar is a one-entry vector); the learning rate may change between steps
    (``sm3`` takes a number, not a schedule: here a changed ``group["lr"]`` scales new
    steps only, as swapping the final ``scale`` would); with β = 0 no momentum array is
    kept, so turning β on later starts m from zero, where Optax would start from the
    last u.

    Defaults: lr=η (1e-2; Optax has no default), momentum=β (0.9), eps=δ (1e-8),
    maximize (False). No weight decay (Optax's ``sm3`` has none).
    """

    hyperparameters = dict(lr=1e-2, momentum=0.9, eps=1e-8, maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp:
            check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        if p.ndim >= 2:
            state = {
                f"acc_{a}": np.zeros(_slice_shape(p.shape, a), dtype=p.dtype) for a in range(p.ndim)
            }
        else:
            state = {"acc": np.zeros_like(p)}
        if group["momentum"]:
            state["exp_avg"] = np.zeros_like(p)
        return state

    def state_shape_ok(self, name: str, shape: tuple[int, ...], param_shape: tuple) -> bool:
        if len(param_shape) >= 2 and name.startswith("acc_") and name[4:].isdigit():
            axis = int(name[4:])
            return axis < len(param_shape) and shape == _slice_shape(param_shape, axis)
        return shape == param_shape

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if p.ndim >= 2:
            accs = [state[f"acc_{a}"] for a in range(p.ndim)]
            nu = g * g
            nu += functools.reduce(np.minimum, accs)
            for a, acc in enumerate(accs):
                others = tuple(b for b in range(p.ndim) if b != a)
                np.max(nu, axis=others, keepdims=True, out=acc, initial=0.0)  # ν' ≥ 0
        else:
            nu = state["acc"]
            nu += g * g
        u = safe_divide(g, np.sqrt(nu + group["eps"]))
        beta = group["momentum"]
        if beta or "exp_avg" in state:
            m = state.setdefault("exp_avg", np.zeros_like(p))
            ema_(m, u, beta)
            u = m
        add_scaled_(p, -group["lr"], u)


def _slice_shape(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """(1, …, shape[axis], …, 1): one accumulator entry per index of ``axis``."""
    return tuple(n if i == axis else 1 for i, n in enumerate(shape))
