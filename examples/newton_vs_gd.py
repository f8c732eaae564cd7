"""Newton's method against gradient descent and Adam, on Rosenbrock and on logistic regression.

    python examples/newton_vs_gd.py            # writes out/newton_vs_gd.png (~30 s)
    python examples/newton_vs_gd.py --quick    # looser tolerance, smaller grids (CI)

Newton's step solves H p = −g, with the Hessian H from the engine's second derivatives
(``autograd.functional.hessian``). Far from a minimum H can be indefinite and a full
step can overshoot, so the method here is the textbook *damped* Newton (Nocedal &
Wright, Numerical Optimization, 2nd ed., §3.4 and Algorithm 3.1):

* **Hessian modification**: if λmin(H) < δ·max(1, |λmax(H)|) (δ = 1e-8), H is shifted to
  H + τI with τ = δ·max(1, |λmax|) − λmin, so p is a descent direction;
* **Armijo backtracking**: t = 1, ½, ¼, … until f(x + tp) ≤ f(x) + c₁·t·gᵀp (c₁ = 1e-4).

Near the minimum H is positive definite and t = 1 passes, so the iteration is pure
Newton and converges quadratically: ‖g_{k+1}‖ ≈ C‖g_k‖², the number of correct digits
doubling each step (N&W Theorem 3.5).

Gradient descent (``optim.SGD``) and Adam (``optim.Adam``) each run at the best
learning rate of a log grid: the one after which f − f* stays ≤ tol soonest (runs are
cut once they cannot beat the best so far; "stays" is checked over ``--hold`` steps).

Problems:

* **Rosenbrock** (1 − x)² + 100(y − x²)² from the playground's start (−1.5, 2), f* = 0 at
  (1, 1); its Hessian is checked against the closed form along Newton's path.
* **Logistic regression** on the 8×8 digits "3" against "8" (357 images; the 54 pixels
  in [0, 1] not blank in all of them, and a bias: 55 weights), mean logistic loss
  + (λ/2)‖w‖² (λ = 1e-2, so a unique minimum exists), from w = 0; f* is the value Newton
  converges to. Its Hessian is checked against Xᵀ diag(σ(1 − σ)) X / n + λI.

Reported per method: steps to f − f* ≤ tol, wall time to get there (Newton's includes
building H: one double-backward pass per parameter), and for Newton every iterate's
f − f*, ‖g‖, step length t and shift τ.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.autograd import grad
from tinygrad_opt.autograd.functional import hessian
from tinygrad_opt.playground import get_function
from tinygrad_opt.tensor import Tensor


# --------------------------------------------------------------------------- problems
@dataclass
class Problem:
    """A smooth objective on a flat parameter vector ``x``: ``loss(x)`` a 0-d Tensor."""

    name: str
    loss: Callable[[Tensor], Tensor]
    x0: np.ndarray
    f_star: float | None = None  # filled in from a converged Newton run if unknown
    x_star: np.ndarray | None = None
    closed_hessian: Callable[[np.ndarray], np.ndarray] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def value(self, x: np.ndarray) -> float:
        return float(self.loss(Tensor(x)).item())

    def derivatives(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(f, ∇f, ∇²f) at x: the gradient by one backward pass, H by ``hessian``."""
        t = Tensor(x.copy(), requires_grad=True)
        f = self.loss(t)
        (g,) = grad(f, t)
        H = hessian(self.loss, Tensor(x.copy())).numpy()
        return float(f.item()), g.numpy().copy(), H


def _coordinates(x: Tensor) -> tuple[Tensor, Tensor]:
    """(x₁, x₂) as 0-d Tensors by dot products with e₁, e₂ — differentiable twice with
    the ops that have second derivatives today; the playground functions read θ only as
    θ[0], θ[1], so they accept this pair."""
    eye = np.eye(2)
    return x @ Tensor(eye[0]), x @ Tensor(eye[1])


def rosenbrock() -> Problem:
    fn = get_function("rosenbrock")

    def closed(p: np.ndarray) -> np.ndarray:
        x, y = p
        return np.array([[2 - 400 * (y - x * x) + 800 * x * x, -400 * x], [-400 * x, 200.0]])

    return Problem(
        "rosenbrock",
        lambda x: fn.f(_coordinates(x)),
        np.array(fn.start),
        f_star=0.0,
        x_star=np.array([1.0, 1.0]),
        closed_hessian=closed,
    )


def softplus(u: Tensor, cut: float = 30.0) -> Tensor:
    """log(1 + eᵘ), as log(1 + e^min(u, cut)) + max(u − cut, 0): no overflow, and smooth
    at u = 0 (the max(u, 0) + log(1 + e^−|u|) form has |u|'s kink there, where automatic
    differentiation gives the second derivative 0 instead of ¼ — exactly at w = 0)."""
    return (1 + u.clamp(max=cut).exp()).log() + (u - cut).clamp(min=0)


def logistic_digits(a: int = 3, b: int = 8, l2: float = 1e-2, n: int | None = None) -> Problem:
    """Mean logistic loss of digits ``a`` (label +1) against ``b`` (−1), plus (l2/2)‖w‖²."""
    from tinygrad_opt.data import load_digits

    X, y = load_digits(dtype=np.float64)
    keep = np.flatnonzero((y == a) | (y == b))[:n]
    pixels = X[keep][:, X[keep].std(axis=0) > 0]  # blank pixels: weights the data never move
    A = np.hstack([pixels, np.ones((len(keep), 1))])
    s = np.where(y[keep] == a, 1.0, -1.0)
    At, st = Tensor(A), Tensor(s)

    def loss(w: Tensor) -> Tensor:
        return softplus(-(st * (At @ w))).mean() + 0.5 * l2 * (w * w).sum()

    def closed(w: np.ndarray) -> np.ndarray:
        p = 1 / (1 + np.exp(-(A @ w)))
        return (A.T * (p * (1 - p))) @ A / len(A) + l2 * np.eye(len(w))

    return Problem(
        f"logistic regression, digits {a} vs {b}",
        loss,
        np.zeros(A.shape[1]),
        closed_hessian=closed,
        extra={"samples": len(A), "weights": A.shape[1], "l2": l2},
    )


# --------------------------------------------------------------------------- methods
@dataclass
class Run:
    """One method's trajectory: ``points[k]``, ``f[k]``, cumulative ``seconds[k]`` at k."""

    method: str
    points: list[np.ndarray] = field(default_factory=list)
    f: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: float | None = None
    info: dict[str, list] = field(default_factory=dict)

    def steps_to(self, f_star: float, tol: float) -> int | None:
        """First step from which f − f* ≤ tol for every recorded later step."""
        ok = np.asarray(self.f) - f_star <= tol
        if not ok.size or not ok[-1]:
            return None
        bad = np.flatnonzero(~ok)
        return int(bad[-1] + 1) if bad.size else 0


def newton(
    problem: Problem,
    max_steps: int = 100,
    gtol: float = 1e-13,
    c1: float = 1e-4,
    delta: float = 1e-8,
) -> Run:
    """Damped Newton (Hessian shift + Armijo backtracking), until ‖g‖ ≤ gtol."""
    run = Run("newton", info={"gnorm": [], "t": [], "shift": [], "backtracks": []})
    x = problem.x0.astype(np.float64).copy()
    start = time.perf_counter()
    for k in range(max_steps + 1):
        f, g, H = problem.derivatives(x)
        run.points.append(x.copy())
        run.f.append(f)
        run.seconds.append(time.perf_counter() - start)
        run.info["gnorm"].append(float(np.linalg.norm(g)))
        if run.info["gnorm"][-1] <= gtol or k == max_steps:
            break
        lam = np.linalg.eigvalsh(H)
        floor = delta * max(1.0, abs(lam[-1]))
        shift = max(0.0, floor - lam[0])
        p = -np.linalg.solve(H + shift * np.eye(len(x)), g)
        slope = float(g @ p)
        t, backtracks = 1.0, 0
        while problem.value(x + t * p) > f + c1 * t * slope and t > 1e-12:
            t *= 0.5
            backtracks += 1
        if t <= 1e-12:  # no decrease left in float64: converged as far as it goes
            break
        x = x + t * p
        run.info["t"].append(t)
        run.info["shift"].append(shift)
        run.info["backtracks"].append(backtracks)
    return run


def first_order(
    problem: Problem,
    method: str,
    lr: float,
    max_steps: int,
    f_star: float,
    tol: float,
    hold: int,
) -> Run:
    """``optim.SGD`` or ``optim.Adam`` at ``lr``; stops after f − f* ≤ tol has held for
    ``hold`` steps, on a non-finite f, or after ``max_steps``."""
    x = Tensor(problem.x0.astype(np.float64).copy(), requires_grad=True)
    opt = optim.SGD([x], lr=lr) if method == "gd" else optim.Adam([x], lr=lr)
    run = Run(method, lr=lr)
    streak = 0
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_steps + 1):
            opt.zero_grad()
            f = problem.loss(x)
            fv = float(f.item())
            run.points.append(x.data.copy())
            run.f.append(fv)
            run.seconds.append(time.perf_counter() - start)
            streak = streak + 1 if fv - f_star <= tol else 0
            if not np.isfinite(fv) or streak > hold or k == max_steps:
                break
            f.backward()
            opt.step()
    return run


def best_lr(
    problem: Problem,
    method: str,
    lrs: np.ndarray,
    max_steps: int,
    f_star: float,
    tol: float,
    hold: int,
) -> tuple[Run | None, dict[float, int | None]]:
    """Each lr of the grid, largest first; a run is cut at the best step count so far
    (plus ``hold``), since it can no longer win. Returns the winning run and every lr's
    steps to tol (None: not within its budget)."""
    best: Run | None = None
    best_steps = None
    per_lr: dict[float, int | None] = {}
    for lr in sorted(lrs, reverse=True):
        budget = max_steps if best_steps is None else min(max_steps, best_steps + hold)
        run = first_order(problem, method, float(lr), budget, f_star, tol, hold)
        steps = run.steps_to(f_star, tol)
        per_lr[float(lr)] = steps
        if steps is not None and (best_steps is None or steps < best_steps):
            best, best_steps = run, steps
    return best, per_lr


# --------------------------------------------------------------------------- study
def convergence_order(errors: list[float], low: float = 1e-13, high: float = 1e-1) -> list:
    """q_k = log(e_{k+1}/e_k) / log(e_k/e_{k−1}) over consecutive errors in (low, high):
    → 2 for quadratic convergence (the digits double), 1 for linear."""
    e = np.asarray(errors, dtype=np.float64)
    out = []
    for a, b, c in zip(e[:-2], e[1:-1], e[2:]):
        if all(low < v < high for v in (a, b, c)):
            out.append(float(np.log(c / b) / np.log(b / a)))
    return out


def quadratic_constants(errors: list[float], low: float = 1e-13, high: float = 1e-1) -> list:
    """e_{k+1} / e_k² for e_k in (low, high): bounded for quadratic convergence (for a
    linear rate r it would grow like r/e_k)."""
    e = np.asarray(errors, dtype=np.float64)
    return [float(b / a**2) for a, b in zip(e[:-1], e[1:]) if low < a < high and b > 0]


def tail_rate(gaps: np.ndarray, lo: float, hi: float) -> float | None:
    """Per-step factor of f − f* from a log-linear fit over the steps where it lies in
    [lo, hi] (the linear phase of a first-order method)."""
    gaps = np.asarray(gaps)
    k = np.flatnonzero((gaps >= lo) & (gaps <= hi))
    if k.size < 10:
        return None
    return float(np.exp(np.polyfit(k, np.log(gaps[k]), 1)[0]))


def study(
    problem: Problem,
    tol: float,
    max_steps: int,
    hold: int,
    gd_fractions: np.ndarray,
    adam_lrs: np.ndarray,
) -> dict[str, Any]:
    """Newton first (it gives f*, x* and the Hessian there), then GD at fractions of its
    stability limit 2/λmax(H(x*)) and Adam on ``adam_lrs``, each at its best."""
    nt = newton(problem)
    if problem.f_star is None:
        problem.f_star = min(nt.f)
    f_star = problem.f_star
    x_star = nt.points[-1] if problem.x_star is None else problem.x_star
    lam = np.linalg.eigvalsh(problem.derivatives(x_star)[2])
    hess_err = None
    if problem.closed_hessian is not None:
        hess_err = max(
            float(np.abs(problem.derivatives(p)[2] - problem.closed_hessian(p)).max())
            / max(1.0, float(np.abs(problem.closed_hessian(p)).max()))
            for p in nt.points
        )
    runs = {"newton": nt}
    sweeps = {}
    limit = 2.0 / lam[-1]
    grids = {"gd": np.asarray(gd_fractions) * limit, "adam": np.asarray(adam_lrs)}
    for method in ("gd", "adam"):
        run, per_lr = best_lr(problem, method, grids[method], max_steps, f_star, tol, hold)
        sweeps[method] = per_lr
        if run is not None:
            runs[method] = run
    summary = {}
    for m in ("newton", "gd", "adam"):
        run = runs.get(m)
        steps = None if run is None else run.steps_to(f_star, tol)
        summary[m] = {
            "lr": None if run is None else run.lr,
            "steps": steps,
            "seconds": None if steps is None else run.seconds[steps],
            "seconds_per_step": None
            if run is None or len(run.seconds) < 2
            else run.seconds[-1] / (len(run.seconds) - 1),
        }
    gd = {"stability_limit": limit}
    if "gd" in runs:
        eta = runs["gd"].lr
        gd["rate_predicted"] = float(np.max(np.abs(1 - eta * lam)) ** 2)
        gaps = np.asarray(runs["gd"].f) - f_star
        gd["rate_measured"] = tail_rate(gaps, tol, max(tol, 1e-3 * gaps[0]))
    errors = [float(np.linalg.norm(p - x_star)) for p in nt.points]
    return {
        "problem": problem,
        "tol": tol,
        "f_star": f_star,
        "x_star": x_star,
        "hessian_eigenvalues_at_min": lam,
        "condition_number": float(lam[-1] / lam[0]),
        "runs": runs,
        "sweeps": sweeps,
        "summary": summary,
        "gd": gd,
        "newton_error": errors,
        "newton_gnorm": nt.info["gnorm"],
        "newton_order": convergence_order(errors),
        "newton_constant": quadratic_constants(errors),
        "newton_t": nt.info["t"],
        "newton_shift": nt.info["shift"],
        "hessian_rel_error": hess_err,
    }


# --------------------------------------------------------------------------- cli
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--tol", type=float, default=1e-10, help="f − f* tolerance")
    p.add_argument("--max-steps", type=int, default=30000, help="cap for GD and Adam")
    p.add_argument("--hold", type=int, default=200, help="steps f − f* must stay ≤ tol")
    p.add_argument("--per-decade", type=int, default=4, help="Adam's lr grid points a decade")
    p.add_argument(
        "--gd-fractions",
        type=float,
        nargs="+",
        default=[0.95, 0.9, 0.8, 0.6, 0.4],
        help="GD's lr grid, as fractions of 2/λmax(H(x*))",
    )
    p.add_argument("--quick", action="store_true", help="tol 1e-4, small grids (CI)")
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.tol, args.max_steps, args.hold, args.per_decade = 1e-4, 6000, 50, 2
        args.gd_fractions = [0.95, 0.8]
    return args


def grid(lo: float, hi: float, per_decade: int) -> np.ndarray:
    n = int(round(np.log10(hi / lo) * per_decade)) + 1
    return np.array([float(f"{v:.3g}") for v in np.geomspace(lo, hi, n)])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    adam = grid(1e-3, 1.0, args.per_decade)
    common = (args.tol, args.max_steps, args.hold, args.gd_fractions, adam)
    results = {
        "rosenbrock": study(rosenbrock(), *common),
        "logistic": study(logistic_digits(), *common),
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def report(results: dict[str, Any]) -> str:
    lines = []
    for r in results.values():
        if not isinstance(r, dict) or "summary" not in r:
            continue
        pr = r["problem"]
        lines.append(f"\n{pr.name}: steps and wall time to f − f* ≤ {r['tol']:g}")
        lines.append("| method | lr | steps | seconds | ms per step |")
        lines.append("|---|---|---|---|---|")
        for m, s in r["summary"].items():
            ms = None if s["seconds_per_step"] is None else 1e3 * s["seconds_per_step"]
            lines.append(
                f"| {m} | {_fmt(s['lr'])} | {_fmt(s['steps'])} | {_fmt(s['seconds'])} | "
                f"{_fmt(ms)} |"
            )
        gd, lam = r["gd"], r["hessian_eigenvalues_at_min"]
        lines.append(
            f"Hessian at the minimum: λ {_fmt(float(lam[0]))} … {_fmt(float(lam[-1]))} "
            f"(κ = {_fmt(r['condition_number'])}); GD's limit 2/λmax = "
            f"{_fmt(gd['stability_limit'])}; GD's f − f* per step near x*: predicted "
            f"max|1 − ηλ|² = {_fmt(gd.get('rate_predicted'))}, measured "
            f"{_fmt(gd.get('rate_measured'))}"
        )
        run = r["runs"]["newton"]
        lines.append(
            f"Newton iterates (Hessian vs closed form: max rel. error "
            f"{_fmt(r['hessian_rel_error'])}):"
        )
        lines.append("| k | f − f* | ‖x − x*‖ | ‖g‖ | step t | shift τ |")
        lines.append("|---|---|---|---|---|---|")
        ts, shifts = r["newton_t"] + [None], r["newton_shift"] + [None]
        for k, (f, e, gn) in enumerate(zip(run.f, r["newton_error"], r["newton_gnorm"])):
            lines.append(
                f"| {k} | {f - r['f_star']:.2e} | {e:.2e} | {gn:.2e} | {_fmt(ts[k])} | "
                f"{_fmt(shifts[k])} |"
            )
        order = ", ".join(f"{q:.2f}" for q in r["newton_order"])
        const = ", ".join(f"{c:.3g}" for c in r["newton_constant"])
        lines.append(
            f"e = ‖x − x*‖ in (1e-13, 0.1): e_k+1/e_k² = {const} (bounded: quadratic); "
            f"order log(e_k+1/e_k)/log(e_k/e_k−1) = {order} (2 = quadratic)"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    colors = {"newton": "tab:red", "gd": "tab:blue", "adam": "tab:green"}
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    r = results["rosenbrock"]
    fn = get_function("rosenbrock")
    ax = axes[0, 0]
    xs, ys = np.linspace(-2, 2, 300), np.linspace(-1, 3, 300)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.value(np.stack([X, Y]))
    ax.contour(X, Y, Z, levels=np.geomspace(1e-2, Z.max(), 25), linewidths=0.5, alpha=0.6)
    for m, run in r["runs"].items():
        p = np.array(run.points)
        s = r["summary"][m]
        label = f"{m}: {s['steps']} steps" + ("" if run.lr is None else f" (lr {run.lr:.3g})")
        style = "-o" if m == "newton" else "-"
        ax.plot(p[:, 0], p[:, 1], style, color=colors[m], ms=3, lw=1, label=label)
    ax.plot(1, 1, "k*", ms=10)
    ax.set(xlim=(-2, 2), ylim=(-1, 3), xlabel="x", ylabel="y")
    ax.set_title(f"Rosenbrock: paths to f ≤ {r['tol']:g}", fontsize=10)
    ax.legend(fontsize=8)
    for ax, key in ((axes[0, 1], "rosenbrock"), (axes[1, 0], "logistic")):
        r = results[key]
        for m, run in r["runs"].items():
            gap = np.maximum(np.asarray(run.f) - r["f_star"], 1e-17)
            ax.loglog(np.arange(1, len(gap) + 1), gap, color=colors[m], label=m, lw=1.2)
        ax.axhline(r["tol"], color="k", ls=":", lw=0.8)
        ax.set(xlabel="step + 1", ylabel="f − f*")
        ax.set_title(f"{r['problem'].name}: loss gap (log–log)", fontsize=10)
        ax.legend(fontsize=8)
    ax = axes[1, 1]
    for key, marker in (("rosenbrock", "o"), ("logistic", "s")):
        e = np.asarray(results[key]["newton_error"])
        k = np.flatnonzero(e > 0)
        ax.plot(k, -np.log10(e[k]), marker + "-", label=results[key]["problem"].name)
    ax.axhline(16, color="k", ls=":", lw=0.8)
    ax.set(xlabel="Newton step k", ylabel="−log10 ‖x_k − x*‖ (correct digits)")
    ax.set_title("Newton: digits double per step near the minimum", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "newton_vs_gd.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
