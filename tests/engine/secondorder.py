"""Second derivatives of any op-table case, three ways (used by ``test_second_order.py``).

For a case ``out = f(x_1 … x_n)`` with fixed random upstreams ``u_j`` (as in
``optable.py``), the first-order gradients are g_i = ∂/∂x_i Σ_j sum(out_j · u_j). The
second-order quantity is

    S = Σ_i sum(g_i · w_i)          (fixed random w_i)

differentiated with respect to every float input x_i **and** every upstream u_j: the
x-part exercises each op's second derivative, the u-part checks that the recorded
backward is linear in the upstream gradient and differentiable through it (what
``functional.jvp`` relies on). Three checks:

- ``first_order``: the recorded (``create_graph=True``) gradients equal the numpy ones;
- ``finite_differences``: ⟨∇S, d⟩ equals the central difference of S (computed with the
  numpy first-order pass) along random directions d — no torch needed, float64 only;
- ``run_second_torch``: the same ∇S from ``torch.autograd.grad(create_graph=True)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from optable import as_list, run_ours, upstreams

import tinygrad_opt as tg
from tinygrad_opt import Tensor


def _weights(seed: int, inputs: list[np.ndarray]) -> list[np.ndarray | None]:
    rng = np.random.default_rng(seed + 2)
    return [
        rng.standard_normal(a.shape).astype(a.dtype) if a.dtype.kind == "f" else None
        for a in inputs
    ]


def _upstreams(fn: Callable, inputs: list[np.ndarray], seed: int) -> list:
    outs = as_list(fn(*[Tensor(a.copy()) for a in inputs]))
    return upstreams(seed, [np.asarray(o.data) for o in outs])


def run_second_ours(
    fn: Callable, inputs: list[np.ndarray], seed: int
) -> tuple[list, list, list, list]:
    """(recorded first-order grads, ∇_x S, ∇_u S, upstreams); None where not float."""
    us = _upstreams(fn, inputs, seed)
    ws = _weights(seed, inputs)
    xs = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    outs = as_list(fn(*xs))
    ut = [None if u is None else Tensor(u.copy(), requires_grad=True) for u in us]
    pairs = [(o, u) for o, u in zip(outs, ut) if u is not None and o.requires_grad]
    fx = [x for x in xs if x.requires_grad]
    fu = [u for _, u in pairs]
    if not pairs or not fx:
        return [None] * len(xs), [None] * len(xs), [None] * len(us), us
    total = sum(((o * u).sum() for o, u in pairs[1:]), (pairs[0][0] * pairs[0][1]).sum())
    gs = tg.autograd.grad(total, fx, create_graph=True, allow_unused=True)
    first = iter(gs)
    firsts = [next(first) if x.requires_grad else None for x in xs]
    terms = [
        (g * Tensor(w)).sum()
        for g, w in zip(firsts, ws)
        if g is not None and g.requires_grad and w is not None
    ]
    if not terms:
        second_x: list = [None] * len(xs)
        second_u: list = [None] * len(us)
    else:
        s = sum(terms[1:], terms[0])
        sec = tg.autograd.grad(s, fx + fu, materialize_grads=True)
        it = iter(sec[: len(fx)])
        second_x = [np.asarray(next(it).data) if x.requires_grad else None for x in xs]
        itu = iter(sec[len(fx) :])
        second_u = [np.asarray(next(itu).data) if u is not None else None for u in ut]
    firsts = [None if g is None else np.asarray(g.data) for g in firsts]  # (unused inputs: None)
    return firsts, second_x, second_u, us


def run_second_torch(
    fn: Callable, inputs: list[np.ndarray], us: list, seed: int
) -> tuple[list, list]:
    """torch's ∇_x S and ∇_u S for the same inputs, upstreams and weights."""
    import torch

    ws = _weights(seed, inputs)
    xs = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in inputs]
    outs = as_list(fn(*xs))
    ut = [None if u is None else torch.tensor(u.copy(), requires_grad=True) for u in us]
    pairs = [(o, u) for o, u in zip(outs, ut) if u is not None and o.requires_grad]
    fx = [x for x in xs if x.requires_grad]
    fu = [u for _, u in pairs]
    total = sum((o * u).sum() for o, u in pairs)
    gs = torch.autograd.grad(total, fx, create_graph=True, allow_unused=True)
    terms = [
        (g * torch.from_numpy(w)).sum()
        for g, w in zip(gs, [w for w in ws if w is not None])
        if g is not None and g.requires_grad
    ]
    if not terms:
        return [None] * len(xs), [None] * len(us)
    sec = torch.autograd.grad(sum(terms), fx + fu, allow_unused=True, materialize_grads=True)
    it = iter(sec[: len(fx)])
    second_x = [next(it).detach().numpy(force=True) if x.requires_grad else None for x in xs]
    itu = iter(sec[len(fx) :])
    second_u = [next(itu).detach().numpy(force=True) if u is not None else None for u in ut]
    return second_x, second_u


def _s_numpy(fn: Callable, inputs: list[np.ndarray], us: list, ws: list) -> float:
    """S computed with the numpy first-order pass (no graph recording)."""
    _, _, grads = run_ours(fn, inputs, True, us)
    return float(sum(np.sum(g * w) for g, w in zip(grads, ws) if g is not None and w is not None))


def finite_differences(
    fn: Callable,
    inputs: list[np.ndarray],
    us: list,
    second_x: list,
    second_u: list,
    seed: int,
    n_directions: int = 2,
    eps: float = 1e-6,
) -> list[tuple[float, float]]:
    """(analytical, numerical) directional derivatives of S along random directions."""
    ws = _weights(seed, inputs)
    rng = np.random.default_rng(seed + 3)
    results = []
    for _ in range(n_directions):
        dx = [rng.standard_normal(a.shape) if a.dtype.kind == "f" else None for a in inputs]
        du = [None if u is None else rng.standard_normal(u.shape) for u in us]
        analytic = sum(
            float(np.sum(s * d)) for s, d in zip(second_x, dx) if s is not None and d is not None
        ) + sum(
            float(np.sum(s * d)) for s, d in zip(second_u, du) if s is not None and d is not None
        )

        def shifted(t: float, dx: list = dx, du: list = du) -> float:
            xs = [a if d is None else a + t * d for a, d in zip(inputs, dx)]
            uu = [u if d is None else u + t * d for u, d in zip(us, du)]
            return _s_numpy(fn, xs, uu, ws)

        numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
        results.append((analytic, numeric))
    return results


def float64_only(inputs: list[np.ndarray]) -> bool:
    return all(a.dtype == np.float64 for a in inputs if a.dtype.kind == "f")


def closeness(a: Any, b: Any) -> float:
    return float(abs(a - b) / (1e-6 + abs(b)))
