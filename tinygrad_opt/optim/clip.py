"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Call between ``loss.backward()`` and ``optimizer.step()``::

    loss.backward()
    total = clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

Both work in place on each parameter's ``.grad`` array and skip parameters whose
``.grad`` is None. ``parameters`` may be a single Tensor or any iterable (a generator is
fine: it is read once).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "total_grad_norm"]

_EPS = 1e-6  # torch's constant in max_norm / (total + 1e-6)


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    """The gradient arrays of ``parameters`` that have one (each parameter once)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads, seen = [], set()
    for i, p in enumerate(params):
        if not hasattr(p, "grad"):
            raise TypeError(f"parameters must be Tensors, got {type(p).__name__} at index {i}")
        if id(p) in seen or p.grad is None:
            continue
        seen.add(id(p))
        grads.append(p.grad)
    return grads


def _nonnegative(name: str, value: Any) -> float:
    """``value`` as a float, if it is a real number >= 0 (also a numpy scalar, or a 0-d
    array or Tensor holding one); otherwise ``ValueError: Invalid <name>: <value>``."""
    x = value.data if isinstance(value, Tensor) else value
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
        x = x[()]
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not x >= 0:  # rejects NaN
        raise ValueError(f"Invalid {name}: {value!r} (a number >= 0)")
    return float(x)


def _norm_type(norm_type: Any) -> float:
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid norm_type: {norm_type!r} (a number > 0, or inf)") from None
    if not p > 0:  # also rejects NaN
        raise ValueError(f"Invalid norm_type: {norm_type!r} (a number > 0, or inf)")
    return p


def _vector_norm(x: np.ndarray, p: float) -> float:
    """‖x‖_p of the flattened array, in float64: max|x| for p = inf, (Σ|x|^p)^(1/p) else."""
    x = np.abs(np.asarray(x, dtype=np.float64).ravel())
    if x.size == 0:
        return 0.0
    if p == math.inf:
        return float(x.max())
    with np.errstate(over="ignore", under="ignore"):  # inf / 0 as in torch, silently
        if p == 1.0:
            return float(x.sum())
        if p == 2.0:
            return float(np.sqrt(np.dot(x, x)))
        return float(np.sum(x**p) ** (1.0 / p))


def total_grad_norm(
    parameters: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    r"""The p-norm of all gradients taken together, as if concatenated into one vector.

    Computed as torch does, as the norm of the per-tensor norms: ‖(‖g₁‖_p, …, ‖g_k‖_p)‖_p
    (which equals the norm of the concatenation), in float64. 0.0 when no parameter
    has a gradient.
    """
    p = _norm_type(norm_type)
    norms = np.array([_vector_norm(g, p) for g in _grads(parameters)], dtype=np.float64)
    total = _vector_norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite "
            f"({total}), so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set error_if_nonfinite=False"
        )
    return total


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    r"""Rescale all gradients together so their total p-norm is at most ``max_norm``.

    With N = ‖(g₁, …, g_k)‖_p (``norm_type`` p > 0 or ``inf``, where ‖g‖_∞ = max|gᵢ|),

        c = min(max_norm / (N + 1e-6), 1),     gᵢ ← c · gᵢ   for every gradient,

    exactly torch's formula: every gradient is multiplied (by 1.0 when N is small
    enough), the direction of the whole gradient vector is kept, and afterwards its norm
    is max_norm·N/(N + 1e-6) < max_norm. Returns N, the norm *before* clipping, as a
    float. If N is NaN or inf, raises RuntimeError when ``error_if_nonfinite``,
    otherwise multiplies by the resulting c as torch does (0 for N = inf, so finite
    entries become 0 and infinite ones NaN; NaN for N = NaN).

    Differences from torch: the norm is accumulated in float64 even for float32
    gradients (so float32 gradients whose norm overflows float32, where torch gets inf
    and zeroes them, are scaled normally), a parameter listed twice is counted (and
    scaled) once, an empty gradient counts as norm 0 also for ``inf`` (torch raises),
    ``norm_type`` must be > 0 (torch also takes 0, negative p and -inf, which are not
    norms), and a negative or NaN ``max_norm`` is rejected. ``max_norm`` may be any
    real number >= 0 (a numpy scalar, or a 0-d array or Tensor), not a string.
    """
    max_norm = _nonnegative("max_norm", max_norm)
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = total_grad_norm(params, norm_type, error_if_nonfinite)
    grads = _grads(params)
    if not grads:
        return total
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        coef = min(max_norm / (total + _EPS), 1.0) if not math.isnan(total) else math.nan
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    r"""Clamp every gradient entry into [-clip_value, clip_value], in place.

    Unlike norm clipping this changes the gradient's direction. NaN entries stay NaN.
    ``clip_value`` must be a real number >= 0 (torch takes a negative one and sets every
    entry to it).
    """
    c = _nonnegative("clip_value", clip_value)
    for g in _grads(parameters):
        np.clip(g, -c, c, out=g)
