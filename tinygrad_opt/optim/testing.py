"""Check an optimizer against a reference, step by step, on a fixed gradient sequence.

This is the helper the built-in methods are verified with, and the one to use for your
own. Feed the same parameters and the same gradients to both sides and compare the
parameters after every step::

    from tinygrad_opt.optim.testing import check_against_reference

    def reference(params, grads, state, t):      # plain numpy, the paper's algorithm
        for i, (p, g) in enumerate(zip(params, grads)):
            p -= 0.1 * g

    check_against_reference(lambda ps: SGD(ps, lr=0.1), reference)

The reference may also be a trajectory computed elsewhere (``run_torch`` runs a
``torch.optim`` optimizer, importing torch only when called).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor

Trajectory = list[list[np.ndarray]]  # trajectory[step][param_index] -> array after the step
ReferenceStep = Callable[[list[np.ndarray], list[np.ndarray], dict, int], None]


def gradient_sequence(
    shapes: Sequence[tuple[int, ...]],
    steps: int,
    seed: int = 0,
    dtype: Any = np.float64,
    scale: float = 1.0,
) -> list[list[np.ndarray]]:
    """``steps`` lists of standard-normal gradients (times ``scale``), one per shape."""
    rng = np.random.default_rng(seed)
    return [[(scale * rng.standard_normal(s)).astype(dtype) for s in shapes] for _ in range(steps)]


def initial_params(
    shapes: Sequence[tuple[int, ...]], seed: int = 1, dtype: Any = np.float64
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def run_optimizer(
    make_optimizer: Callable[[list[Tensor]], Any],
    params0: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
    *,
    lr_change: Sequence[float] | None = None,
    saved: Collection[int] | None = None,
) -> Trajectory:
    """Run our optimizer on the given gradients; return the parameters after each step.

    A gradient given as ``None`` leaves that parameter without a gradient for that step.
    ``lr_change = (k, f)`` multiplies every group's ``lr`` by ``f`` after step ``k``, as a
    scheduler does between steps (the reference must change its learning rate there too:
    Optax ``piecewise_constant_schedule(lr, {k: f})``). ``saved`` keeps only the
    parameters after those steps (1-based), e.g. the steps a stored reference kept.
    """
    params = [Tensor(np.array(p, copy=True), requires_grad=True) for p in params0]
    opt = make_optimizer(params)
    out: Trajectory = []
    for t, step_grads in enumerate(grads, start=1):
        apply_lr_change(opt, t, lr_change)
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else np.array(g, copy=True)
        opt.step()
        if saved is None or t in saved:
            out.append([p.data.copy() for p in params])
    return out


def apply_lr_change(opt: Any, t: int, lr_change: Sequence[float] | None) -> None:
    """Call before step ``t`` (1-based): with ``lr_change = (k, f)``, multiplies every
    group's ``lr`` by ``f`` when t = k + 1 (so steps k+1, k+2, ... use the new rate)."""
    if lr_change and t == lr_change[0] + 1:
        for group in opt.param_groups:
            group["lr"] *= lr_change[1]


def run_reference(
    reference_step: ReferenceStep,
    params0: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
) -> Trajectory:
    """Run a numpy reference ``reference_step(params, grads, state, t)`` (t = 1, 2, ...)."""
    params = [np.array(p, copy=True) for p in params0]
    state: dict = {}
    out: Trajectory = []
    for t, step_grads in enumerate(grads, start=1):
        reference_step(params, [np.array(g, copy=True) for g in step_grads], state, t)
        out.append([p.copy() for p in params])
    return out


def run_torch(
    make_torch_optimizer: Callable[[list[Any]], Any],
    params0: Sequence[np.ndarray],
    grads: Sequence[Sequence[np.ndarray]],
    *,
    lr_change: Sequence[float] | None = None,
    saved: Collection[int] | None = None,
) -> Trajectory:
    """Run a ``torch.optim`` optimizer on the same gradients (imports torch lazily);
    ``lr_change`` and ``saved`` as in :func:`run_optimizer`."""
    import torch  # test oracle only: never imported by the library itself

    params = [torch.tensor(np.array(p, copy=True), requires_grad=True) for p in params0]
    opt = make_torch_optimizer(params)
    out: Trajectory = []
    for t, step_grads in enumerate(grads, start=1):
        apply_lr_change(opt, t, lr_change)
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(np.array(g, copy=True))
        opt.step()
        if saved is None or t in saved:
            out.append([p.detach().numpy().copy() for p in params])
    return out


@dataclass
class Comparison:
    """Largest disagreement found between two trajectories."""

    steps: int
    max_abs_error: float
    max_rel_error: float

    def __str__(self) -> str:
        return (
            f"{self.steps} steps: max |ours - ref| = {self.max_abs_error:.3g}, "
            f"max relative error = {self.max_rel_error:.3g}"
        )


def compare_trajectories(
    ours: Trajectory, reference: Trajectory, rtol: float = 1e-10, atol: float = 1e-12
) -> Comparison:
    """Assert |ours - ref| <= atol + rtol·|ref| at every step; report the worst error.

    On failure the AssertionError names the first bad step, the parameter, the element,
    and both values.
    """
    if len(ours) != len(reference):
        raise AssertionError(f"trajectories differ in length: {len(ours)} vs {len(reference)}")
    max_abs = max_rel = 0.0
    for t, (a_step, b_step) in enumerate(zip(ours, reference), start=1):
        for i, (a, b) in enumerate(zip(a_step, b_step)):
            a = np.asarray(a, dtype=np.float64)
            b = np.asarray(b, dtype=np.float64)
            if a.shape != b.shape:
                raise AssertionError(f"step {t}, param {i}: shape {a.shape} vs {b.shape}")
            err = np.abs(a - b)
            bad = ~(err <= atol + rtol * np.abs(b))  # also catches NaN
            if bad.any():
                j = tuple(int(k) for k in np.argwhere(bad)[0])
                raise AssertionError(
                    f"step {t}, param {i}, element {j}: ours {a[j]!r}, reference {b[j]!r} "
                    f"(|diff| {err[j]:.3g} > atol {atol:g} + rtol {rtol:g}·|ref|)"
                )
            if err.size:
                max_abs = max(max_abs, float(err.max()))
                rel = err / np.maximum(np.abs(b), np.finfo(np.float64).tiny)
                max_rel = max(max_rel, float(rel.max()))
    return Comparison(len(ours), max_abs, max_rel)


def check_against_reference(
    make_optimizer: Callable[[list[Tensor]], Any],
    reference: ReferenceStep | Trajectory,
    shapes: Sequence[tuple[int, ...]] = ((3, 4), (5,)),
    steps: int = 200,
    seed: int = 0,
    dtype: Any = np.float64,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    grads: Sequence[Sequence[np.ndarray]] | None = None,
    params0: Sequence[np.ndarray] | None = None,
) -> Comparison:
    """Run ``make_optimizer`` and ``reference`` on one gradient sequence and compare.

    ``reference`` is a numpy step function ``(params, grads, state, t) -> None`` that
    updates ``params`` in place, or a precomputed trajectory. Returns the worst error
    seen; raises AssertionError on the first step that disagrees.
    """
    if grads is None:
        grads = gradient_sequence(shapes, steps, seed, dtype)
    if params0 is None:
        params0 = initial_params([g.shape for g in grads[0]], seed + 1, dtype)
    ours = run_optimizer(make_optimizer, params0, grads)
    ref = reference if isinstance(reference, list) else run_reference(reference, params0, grads)
    return compare_trajectories(ours, ref, rtol, atol)
