"""Hutchinson's estimators of the trace and the diagonal of an operator known only
through products (Hutchinson 1989; Bekas, Kokiopoulou & Saad 2007 for the diagonal).

For a random probe z with E[z zᵀ] = I, E[zᵀMz] = tr(M): the mean of zᵀMz over m probes
is an unbiased estimate of the trace, one product per probe. With Rademacher probes
(entries ±1 with probability ½) the variance of one sample is the smallest possible,
Var(zᵀMz) = 2 Σ_{i≠j} M_ij² — zero for a diagonal M. The reported standard error is the
sample standard deviation over √m.

The same products give the diagonal: E[z ⊙ Mz] = diag(M) for Rademacher z (each entry
zᵢ Σⱼ M_ij zⱼ has mean M_ii since zᵢ² = 1) — the Hessian-diagonal estimate that AdaHessian
and Sophia-H precondition with (Yao et al. 2021, Liu et al. 2023).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.curvature.layout import ParameterLayout
from tinygrad_opt.curvature.operator import as_operator
from tinygrad_opt.tensor import Tensor

__all__ = ["TraceEstimate", "hutchinson_diagonal", "hutchinson_trace"]

DISTRIBUTIONS = ("rademacher", "normal")


@dataclass
class TraceEstimate:
    """Result of :func:`hutchinson_trace`.

    - ``trace``: mean of the samples zᵀMz; ``stderr``: their standard deviation / √m
      (NaN for one sample); ``samples``: the m values;
    - ``diagonal``, ``diagonal_stderr``: the same for z ⊙ Mz, flat (length n), when asked
      for (else None); ``parameter_diagonal`` gives them parameter-shaped.
    """

    trace: float
    stderr: float
    samples: np.ndarray
    diagonal: np.ndarray | None = None
    diagonal_stderr: np.ndarray | None = None
    layout: ParameterLayout | None = field(default=None, repr=False)

    @property
    def num_samples(self) -> int:
        return len(self.samples)

    @property
    def parameter_diagonal(self) -> dict[str, np.ndarray]:
        """The diagonal estimate as ``{parameter name: array shaped like it}``."""
        if self.diagonal is None:
            raise ValueError("the diagonal was not estimated: pass diagonal=True")
        if self.layout is None:
            raise ValueError("no parameter layout is known for this operator")
        return self.layout.unflatten(self.diagonal)


def _probe(rng: np.random.Generator, n: int, distribution: str) -> np.ndarray:
    if distribution == "rademacher":
        return rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0
    return rng.standard_normal(n)


def hutchinson_trace(
    operator: Any,
    num_samples: int = 100,
    *,
    seed: int | np.random.Generator | None = 0,
    distribution: str = "rademacher",
    diagonal: bool = False,
    rtol: float | None = None,
    min_samples: int = 10,
) -> TraceEstimate:
    """Estimate tr(M) (and with ``diagonal=True`` also diag(M)) from ``num_samples``
    probes (``"rademacher"`` or ``"normal"``), one product M·z each.

    ``rtol``: stop early, after at least ``min_samples`` probes, once the standard error
    is at most ``rtol``·|trace estimate|.
    """
    op = as_operator(operator)
    n = op.shape[0]
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    rng = np.random.default_rng(seed)
    samples = []
    diag_sum = np.zeros(n) if diagonal else None
    diag_sq = np.zeros(n) if diagonal else None
    for i in range(num_samples):
        z = _probe(rng, n, distribution)
        mz = op.matvec(z)
        samples.append(float(z @ mz))
        if diagonal:
            d = z * mz
            diag_sum += d
            diag_sq += d * d
        m = i + 1
        if rtol is not None and m >= max(min_samples, 2):
            s = np.asarray(samples)
            if s.std(ddof=1) / np.sqrt(m) <= rtol * abs(s.mean()):
                break
    s = np.asarray(samples)
    m = len(s)
    stderr = float(s.std(ddof=1) / np.sqrt(m)) if m > 1 else float("nan")
    d_mean = d_err = None
    if diagonal:
        d_mean = diag_sum / m
        if m > 1:
            var = np.maximum(diag_sq - m * d_mean**2, 0.0) / (m - 1)
            d_err = np.sqrt(var / m)
        else:
            d_err = np.full(n, np.nan)
    return TraceEstimate(
        trace=float(s.mean()),
        stderr=stderr,
        samples=s,
        diagonal=d_mean,
        diagonal_stderr=d_err,
        layout=op.layout,
    )


def hutchinson_diagonal(
    operator: Any,
    num_samples: int = 100,
    *,
    seed: int | np.random.Generator | None = 0,
    distribution: str = "rademacher",
) -> np.ndarray:
    """The estimate of diag(M) alone: mean of z ⊙ Mz over ``num_samples`` probes (flat;
    ``operator.layout.unflatten`` shapes it)."""
    est = hutchinson_trace(
        operator, num_samples, seed=seed, distribution=distribution, diagonal=True
    )
    return est.diagonal


def hutchinson_products(
    loss: Tensor, params: Sequence[Tensor], probes: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """u⊙(H·u) per parameter (Algorithm 1; E[u⊙Hu] = diag H for Rademacher u), with H the
    Hessian of the scalar ``loss`` (a Tensor with its graph) w.r.t. ``params`` and u the
    ``probes`` (one array per parameter). Two backward passes: ∇L with its graph, then
    the derivative of ∇L·u (Pearlmutter 1994). ``.grad`` is left alone."""
    params = list(params)
    gs = grad(loss, params, create_graph=True, allow_unused=True)
    rows = [i for i, g in enumerate(gs) if g is not None and g.requires_grad]
    out = [np.zeros(p.shape, p.dtype) for p in params]
    if rows:
        hv = grad(
            [gs[i] for i in rows],
            params,
            [np.asarray(probes[i], dtype=params[i].dtype) for i in rows],
            allow_unused=True,
        )
        for i, h in enumerate(hv):
            if h is not None:
                out[i] = np.asarray(probes[i], dtype=params[i].dtype) * h.data
    return out
