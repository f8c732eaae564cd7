"""Shared helpers for the seed-claim examples: batched 2-D runs, argument parsing, tables.

Not a public API: each ``claimN_*.py`` script imports this module from its own folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.playground import TestFunction, get_function
from tinygrad_opt.tensor import Tensor

#: The five methods of the seed article, by their registry names ("momentum" is SGD with
#: momentum 0.9).
SEED_METHODS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


def base_parser(doc: str | None, out_default: str = "out") -> argparse.ArgumentParser:
    """An ArgumentParser with the options every claim script shares."""
    p = argparse.ArgumentParser(
        description=(doc or "").strip().split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path(out_default), help="directory for the PNG")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p


def pyplot():
    """matplotlib.pyplot, on whatever backend the caller has (a script without a display
    gets matplotlib's non-interactive default; a notebook keeps its inline backend)."""
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out_dir: Path, name: str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def fmt(v: Any, digits: int = 3) -> str:
    """A table cell: None as '—', floats to ``digits`` significant digits."""
    if v is None:
        return "—"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}"
    return str(v)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table (also readable in a terminal)."""
    cells = [[fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def function(fn: str | TestFunction) -> TestFunction:
    return get_function(fn) if isinstance(fn, str) else fn


@dataclass
class BatchRun:
    """``n`` independent runs stepped together (one forward/backward pass for all).

    ``points[k, i]`` is run i's θ after k steps (NaN after it stopped), ``losses[k, i]`` its
    f(θ); ``stopped[i]`` the step at which it stopped (reached ``tol``, hit ``stop`` or went
    non-finite), or None if it ran all the steps.
    """

    points: np.ndarray  # (steps + 1, n, 2)
    losses: np.ndarray  # (steps + 1, n)
    stopped: list[int | None]

    def final_points(self) -> np.ndarray:
        """Each run's last recorded point, (n, 2)."""
        out = np.empty(self.points.shape[1:])
        for i, k in enumerate(self.stopped):
            out[i] = self.points[k if k is not None else -1, i]
        return out


def batch_descend(
    fn: str | TestFunction,
    make_optimizer: Callable[[Tensor, int], optim.Optimizer],
    starts: np.ndarray,
    steps: int,
    *,
    tol: float | None = None,
    stop: Callable[[np.ndarray, float], bool] | None = None,
    grad_noise: float = 0.0,
    rng: np.random.Generator | int | None = 0,
    observe: Callable[[int, int, Tensor, optim.Optimizer], None] | None = None,
) -> BatchRun:
    """Run ``len(starts)`` optimizers on ``fn`` side by side, each on its own θ.

    ``make_optimizer(theta, i)`` builds run i's optimizer (its own method and learning
    rate). All active θ are stacked into one (2, m) tensor, so the function and its
    gradient are evaluated once per step for every run (the test functions accept
    shape (2, ...)). ``grad_noise`` adds N(0, σ²) to every gradient component (a stand-in
    for mini-batch noise). A run stops when f(θ) - f* <= ``tol``, when ``stop(θ, f)`` is
    true, or when f is not finite. ``observe(k, i, theta, opt)`` is called after each step.
    """
    fn = function(fn)
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    n = len(starts)
    gen = np.random.default_rng(rng)
    thetas = [Tensor(s.copy(), requires_grad=True) for s in starts]
    opts = [make_optimizer(t, i) for i, t in enumerate(thetas)]
    points = np.full((steps + 1, n, 2), np.nan)
    losses = np.full((steps + 1, n), np.nan)
    stopped: list[int | None] = [None] * n
    active = list(range(n))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            if not active:
                break
            X = Tensor(np.stack([thetas[i].data for i in active], axis=1), requires_grad=True)
            f = fn(X)
            values = f.data.reshape(-1)
            still = []
            for j, i in enumerate(active):
                points[k, i] = thetas[i].data
                losses[k, i] = values[j]
                done = not np.isfinite(values[j])
                done = done or (tol is not None and values[j] - fn.min_value <= tol)
                done = done or (stop is not None and stop(thetas[i].data, values[j]))
                if done:
                    stopped[i] = k
                elif k < steps:
                    still.append((j, i))
            if not still:
                break
            f.sum().backward()
            grads = X.grad
            if grad_noise:
                grads = grads + grad_noise * gen.standard_normal(grads.shape)
            for j, i in still:
                thetas[i].grad = np.ascontiguousarray(grads[:, j])
                opts[i].step()
                if observe is not None:
                    observe(k + 1, i, thetas[i], opts[i])
            active = [i for _, i in still]
    return BatchRun(points, losses, stopped)


def lr_grid(lo: float, hi: float, per_decade: int) -> np.ndarray:
    """Log-spaced learning rates from ``lo`` to ``hi`` with ``per_decade`` points a decade."""
    n = int(round(np.log10(hi / lo) * per_decade)) + 1
    return np.array([float(f"{v:.3g}") for v in np.geomspace(lo, hi, n)])


#: Methods whose update treats every coordinate separately, so one (2, n) parameter
#: stepped by one optimizer is exactly n independent 2-D runs.
PER_COORDINATE = {
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
    "amsgrad",
    "adamax",
    "nadam",
    "lion",
}


def descend_many(
    fn: str | TestFunction,
    method: str,
    starts: np.ndarray,
    steps: int,
    *,
    grad_noise: float = 0.0,
    rng: np.random.Generator | int | None = 0,
    until: Callable[[np.ndarray], np.ndarray] | None = None,
    **hyperparameters: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``len(starts)`` runs of one per-coordinate method, as one (2, n) parameter.

    Returns ``(points, losses)`` of shapes (steps + 1, n, 2) and (steps + 1, n). Every
    run takes every step (no early stop per run); ``until(theta (2, n)) -> bool (n,)``
    ends the whole batch early once it is true for every run (later rows are NaN).
    """
    if method not in PER_COORDINATE:
        raise ValueError(f"{method!r} couples coordinates; use batch_descend")
    fn = function(fn)
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    gen = np.random.default_rng(rng)
    theta = Tensor(starts.T.copy(), requires_grad=True)
    opt = optim.create(method, [theta], **hyperparameters)
    n = len(starts)
    points = np.full((steps + 1, n, 2), np.nan)
    losses = np.full((steps + 1, n), np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            theta.grad = None
            f = fn(theta)
            points[k] = theta.data.T
            losses[k] = f.data
            if k == steps or (until is not None and np.all(until(theta.data))):
                break
            f.sum().backward()
            if grad_noise:
                theta.grad = theta.grad + grad_noise * gen.standard_normal(theta.shape)
            opt.step()
    return points, losses


def first_true(mask: np.ndarray) -> list[int | None]:
    """For a (steps + 1, n) boolean array: the first row where each column is true."""
    out: list[int | None] = []
    for col in np.asarray(mask).T:
        hit = np.flatnonzero(col)
        out.append(int(hit[0]) if hit.size else None)
    return out


def steps_to_stay(losses: np.ndarray, tol: float, min_value: float = 0.0) -> int | None:
    """First step k from which f - f* <= tol holds for every later recorded step.

    Stricter than "first step below tol": a run that passes through the tolerance and
    bounces out again (momentum overshooting, RMSProp hovering) does not count.
    ``losses`` is one run's (steps + 1,) array; NaN (diverged) never counts.
    """
    ok = np.asarray(losses) - min_value <= tol
    if not ok[-1]:
        return None
    bad = np.flatnonzero(~ok)
    return int(bad[-1] + 1) if bad.size else 0


def lr_sweep(
    fn: str | TestFunction,
    method: str,
    lrs: Sequence[float],
    steps: int,
    tol: float,
    start: Sequence[float] | None = None,
    **hp: Any,
) -> dict[str, Any]:
    """Run ``method`` at every lr (full ``steps``); steps until f - f* stays <= tol.

    Returns ``{"steps": [per lr], "best_lr", "best_steps", "run": BatchRun}``; the best
    lr is the one that settles within tol first (ties: the smaller lr).
    """
    fn = function(fn)
    start = np.asarray(fn.start if start is None else start, dtype=np.float64)
    starts = np.repeat(start[None], len(lrs), axis=0)
    run = batch_descend(
        fn, lambda t, i: optim.create(method, [t], lr=float(lrs[i]), **hp), starts, steps
    )
    per_lr = [steps_to_stay(run.losses[:, i], tol, fn.min_value) for i in range(len(lrs))]
    reached = [(s, lr) for s, lr in zip(per_lr, lrs) if s is not None]
    best_steps, best_lr = min(reached) if reached else (None, None)
    return {"steps": per_lr, "best_lr": best_lr, "best_steps": best_steps, "run": run}
