"""Claim 1 with curvature measured: the Hessian along the path, and momentum on each axis.

    python examples/seed_claims/claim1_curvature.py          # writes out/claim1_curvature.png
    python examples/seed_claims/claim1_curvature.py --quick  # shorter runs (CI)

The seed says "θ1 curves much more steeply than θ2" and that momentum makes "a little
update for θ1 and a larger update for θ2". Here the curvature is measured with the
engine's second derivatives (``autograd.functional.hessian`` / ``hvp``) at every point
of every trajectory, and each axis's motion is compared with the heavy-ball theory.

Theory (Polyak 1964; Goh 2017, "Why Momentum Really Works", Distill). Heavy ball in
torch's form, v ← μv + g, θ ← θ − ηv. Along an eigendirection of a quadratic with
eigenvalue λ, the coordinate x obeys x_{t+1} = (1 + μ − ηλ)·x_t − μ·x_{t−1}, whose
characteristic roots z solve z² − (1 + μ − ηλ)z + μ = 0. With a = ηλ:

* 0 < a ≤ (1 − √μ)²: two real roots in (0, 1): **monotone** (no overshoot; at most one
  sign change). The slow root is z ≈ 1 − a/(1 − μ): the axis moves like gradient descent
  with the **effective learning rate η/(1 − μ)**; exactly, −Δx/g → (1 − z)/λ.
* (1 − √μ)² < a < (1 + √μ)²: complex roots, |z| = √μ whatever λ: **ripples** of angular
  frequency ω, cos ω = (1 + μ − a)/(2√μ) (a half-period of π/ω steps).
* (1 + √μ)² ≤ a < 2(1 + μ): real negative roots: **flips** sign every step.
* a ≥ 2(1 + μ): **diverges**.  (μ = 0 is plain SGD: z = 1 − a, stable for a < 2.)

The contraction factor per step is ρ = max |z|. Tuned to the measured λmin, λmax,
μ* = ((√κ − 1)/(√κ + 1))² and η* = (2/(√λmax + √λmin))² put both axes at ρ = √μ*
(κ = λmax/λmin).

Measured:

* **quadratic** ½(10θ1² + 0.2θ2²) from (−1, 5): the Hessian at every point of every run
  (two batched Hessian-vector products give both columns at all points; ``hessian`` at
  the start checks them), its eigenvalues and eigenvectors against diag(10, 0.2); per run
  and axis the regime, the contraction factor ρ from the trajectory (a log-linear fit of
  the envelope |θi| at its tail maxima) against max |z|, the half-period against π/ω, and
  (real roots) the effective learning rate −Δθi/gi against (1 − z)/λ.
* **long valley** 5θ1² + √(1 + θ2²) − 1 from (1, 30): curvature that changes along the
  path, λ2 = (1 + θ2²)^(−3/2) (checked along the trajectory); while the θ2 gradient is ≈ 1
  (θ2 > 5) momentum's θ2 step per unit gradient is η/(1 − μ); near the floor ηλ2 crosses
  (1 − √μ)² and momentum overshoots, SGD does not.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, descend_many, pyplot, save, table
from _heavy_ball import (
    contraction,
    effective_lr,
    half_period,
    optimal_heavy_ball,
    regime,
)

from tinygrad_opt.autograd.functional import hessian, hvp
from tinygrad_opt.playground import TestFunction, get_function
from tinygrad_opt.tensor import Tensor

QUADRATIC_EIGENVALUES = (10.0, 0.2)  # the closed form: f = ½(10θ1² + 0.2θ2²)


# --------------------------------------------------------------------------- measurement
def _pair_function(fn: TestFunction):
    """f(θ1, θ2) summed over points. The playground functions read θ only as θ[0] and
    θ[1], so they run on a pair of Tensors (no indexing op is differentiated)."""
    return lambda x, y: fn.f((x, y)).sum()


def hessians_along(fn: TestFunction, points: np.ndarray) -> np.ndarray:
    """The 2×2 Hessian of ``fn`` at each of ``points`` (k, 2) → (k, 2, 2).

    Σ_k f(p_k) has a block-diagonal Hessian (the points are independent), so its
    Hessian-vector product with (1, 0) at every point is every point's first column, and
    with (0, 1) the second: two double-backward passes for the whole trajectory.
    """
    pts = np.asarray(points, dtype=np.float64)
    xy = (Tensor(pts[:, 0].copy()), Tensor(pts[:, 1].copy()))
    one, zero = np.ones(len(pts)), np.zeros(len(pts))
    cols = []
    for v in ((one, zero), (zero, one)):
        _, hv = hvp(_pair_function(fn), xy, (Tensor(v[0]), Tensor(v[1])))
        cols.append(np.stack([hv[0].numpy(), hv[1].numpy()], axis=-1))
    return np.stack(cols, axis=-1)


def hessian_at(fn: TestFunction, point: np.ndarray) -> np.ndarray:
    """The 2×2 Hessian at one point by ``autograd.functional.hessian``."""
    x, y = (Tensor(np.float64(v)) for v in point)
    blocks = hessian(_pair_function(fn), (x, y))
    return np.array([[float(b.item()) for b in row] for row in blocks])


def measured_rate(x: np.ndarray, floor: float = 1e-10, skip: float = 1 / 3) -> float | None:
    """Per-step contraction of a decaying sequence, theory-free: a least-squares slope of
    log|x_t| at the envelope points (where |x_t| is the largest of all later |x|), over
    the part after the first ``skip`` of the steps above ``floor``·max|x| (the faster
    mode has died out by then)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    a = a[np.isfinite(a)]
    alive = np.flatnonzero(a > floor * a.max())
    if alive.size < 6:
        return None
    end = alive[-1] + 1
    t = np.arange(end)
    tail_max = np.maximum.accumulate(a[:end][::-1])[::-1]
    keep = (a[:end] == tail_max) & (t >= int(skip * end)) & (a[:end] > 0)
    if keep.sum() < 2:
        return None
    slope = np.polyfit(t[keep], np.log(a[:end][keep]), 1)[0]
    return float(np.exp(slope))


def measured_half_period(x: np.ndarray) -> float | None:
    """Mean steps between sign changes of x (None if fewer than two changes)."""
    s = np.sign(np.asarray(x))
    s = s[s != 0]
    flips = np.flatnonzero(s[1:] != s[:-1])
    if flips.size < 2:
        return None
    return float(np.diff(flips).mean())


def measured_effective_lr(points: np.ndarray, grads: np.ndarray, axis: int) -> dict:
    """−Δθ/g on one axis over the last third of the steps with |g| above noise: its
    median and relative spread (a real mode makes it constant)."""
    d = -np.diff(points[:, axis])
    g = grads[:-1, axis]
    ok = np.flatnonzero(np.abs(g) > 1e-9 * np.abs(g).max())
    if ok.size < 6:
        return {"median": None, "spread": None}
    ok = ok[ok >= ok[0] + 2 * (ok[-1] - ok[0]) // 3]
    r = d[ok] / g[ok]
    med = float(np.median(r))
    return {"median": med, "spread": float(np.ptp(r) / abs(med)) if med else None}


# --------------------------------------------------------------------------- runs
class Setting(NamedTuple):
    """One heavy-ball run: its label, η and μ (μ = 0 is plain SGD)."""

    label: str
    lr: float
    momentum: float


def descend(fn: TestFunction, s: Setting, start: tuple[float, float], steps: int) -> np.ndarray:
    """One heavy-ball run (torch's SGD with ``momentum``): the points, (steps + 1, 2)."""
    points, _ = descend_many(fn, "sgd", np.array([start]), steps, lr=s.lr, momentum=s.momentum)
    return points[:, 0]


def gradients(fn: TestFunction, points: np.ndarray) -> np.ndarray:
    """∇f at each point (k, 2), one backward pass for all."""
    t = Tensor(np.ascontiguousarray(points.T), requires_grad=True)
    fn(t).sum().backward()
    return t.grad.T.copy()


def quadratic_study(steps: int) -> dict[str, Any]:
    fn = get_function("quadratic")
    h0 = hessian_at(fn, np.array(fn.start))
    lam0 = np.linalg.eigvalsh(h0)
    eta_opt, mu_opt = optimal_heavy_ball(lam0[0], lam0[-1])
    settings = [
        Setting("sgd", 0.02, 0.0),
        Setting("sgd", 0.18, 0.0),
        Setting("momentum μ=0.9", 0.02, 0.9),
        Setting("momentum μ=0.9", 0.18, 0.9),
        Setting("momentum μ=0.5", 0.18, 0.5),
        Setting(f"momentum μ*={mu_opt:.3f}", eta_opt, mu_opt),
    ]
    runs = []
    all_pts = []
    for s in settings:
        pts = descend(fn, s, fn.start, steps)
        all_pts.append(pts[np.isfinite(pts).all(axis=1)])
        runs.append({"setting": s, "points": pts})
    # the Hessian at every point of every run, in two Hessian-vector products
    stacked = np.concatenate(all_pts)
    H = hessians_along(fn, stacked)
    evals, evecs = np.linalg.eigh(H)  # ascending: [:, 0] is the θ2 (shallow) eigenvalue
    closed = np.array(sorted(QUADRATIC_EIGENVALUES))
    checks = {
        "points": len(stacked),
        "hessian_at_start": h0,
        "hvp_vs_hessian_at_start": float(np.abs(H[0] - h0).max()),
        "max_eigenvalue_error": float(np.abs(evals - closed).max()),
        # |cos| between the steep eigenvector and the θ1 axis (1 = aligned)
        "min_alignment_theta1": float(np.abs(evecs[:, 0, 1]).min()),
        "min_alignment_theta2": float(np.abs(evecs[:, 1, 0]).min()),
        "eigenvalues_mean": evals.mean(axis=0)[::-1],
    }
    lam = {1: float(checks["eigenvalues_mean"][0]), 2: float(checks["eigenvalues_mean"][1])}
    for r in runs:
        s, pts = r["setting"], r["points"]
        grads = gradients(fn, pts)
        r["axes"] = {}
        for axis in (1, 2):
            a = s.lr * lam[axis]
            r["axes"][axis] = {
                "lambda": lam[axis],
                "eta_lambda": a,
                "regime": regime(a, s.momentum),
                "rate_predicted": contraction(a, s.momentum),
                "rate_measured": measured_rate(pts[:, axis - 1]),
                "half_period_predicted": half_period(a, s.momentum),
                "half_period_measured": measured_half_period(pts[:, axis - 1]),
                "effective_lr_predicted": effective_lr(s.lr, lam[axis], s.momentum),
                "effective_lr_measured": measured_effective_lr(pts, grads, axis - 1),
                "steps_to_1e-6": _steps_below(pts[:, axis - 1], 1e-6),
            }
    return {
        "checks": checks,
        "optimal": {"lr": eta_opt, "momentum": mu_opt, "rate": float(np.sqrt(mu_opt))},
        "runs": runs,
    }


def _steps_below(x: np.ndarray, frac: float) -> int | None:
    """First step after which |x| stays ≤ frac·|x_0|."""
    bad = np.flatnonzero(~(np.abs(x) <= frac * abs(x[0])))
    if bad.size and bad[-1] == len(x) - 1:
        return None
    return int(bad[-1] + 1) if bad.size else 0


def valley_study(steps: int, lr: float, plateau: float = 5.0) -> dict[str, Any]:
    """Long valley: the θ2 curvature changes along the path; momentum's effective step."""
    fn = get_function("long_valley")
    out: dict[str, Any] = {"lr": lr, "plateau": plateau, "runs": []}
    for mu in (0.0, 0.5, 0.9):
        s = Setting("sgd" if mu == 0 else f"momentum μ={mu:g}", lr, mu)
        pts = descend(fn, s, fn.start, steps)
        H = hessians_along(fn, pts)
        # functional.hessian at a few points along the way agrees with the hvp columns
        probe = np.linspace(0, len(pts) - 1, 6).astype(int)
        hvp_vs_hessian = max(
            float(np.abs(hessian_at(fn, pts[i]) - H[i]).max() / np.abs(H[i]).max()) for i in probe
        )
        lam2 = H[:, 1, 1]
        closed2 = (1 + pts[:, 1] ** 2) ** -1.5
        grads = gradients(fn, pts)
        ratio = -np.diff(pts[:, 1]) / grads[:-1, 1]
        # warm-up: the buffer holds (1 − μ^t)/(1 − μ) of a constant gradient; wait to 1e-3
        warm = int(np.ceil(np.log(1e-3) / np.log(mu))) if mu > 0 else 0
        on_plateau = np.flatnonzero(pts[:-1, 1] > plateau)
        on_plateau = on_plateau[on_plateau >= warm]
        crossing = np.flatnonzero(lr * lam2 > (1 - np.sqrt(mu)) ** 2)
        overshoot = np.flatnonzero(pts[:, 1] < 0)
        out["runs"].append(
            {
                "setting": s,
                "points": pts,
                "lambda2": lam2,
                "ratio": ratio,
                "max_rel_error_lambda2": float(np.max(np.abs(lam2 - closed2) / closed2)),
                "hvp_vs_hessian": hvp_vs_hessian,
                "max_error_lambda1": float(np.abs(H[:, 0, 0] - 10.0).max()),
                "max_offdiag": float(np.abs(H[:, 0, 1]).max()),
                "plateau_steps": int(on_plateau.size),
                "effective_lr_measured": float(np.mean(ratio[on_plateau]))
                if on_plateau.size
                else None,
                "effective_lr_predicted": lr / (1 - mu),
                "ripple_from_step": int(crossing[0]) if crossing.size else None,
                "first_overshoot_step": int(overshoot[0]) if overshoot.size else None,
                "steps_to_theta2_below_0.01": _steps_below(pts[:, 1], 0.01 / 30),
            }
        )
    return out


# --------------------------------------------------------------------------- report
def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--steps", type=int, default=600, help="steps per quadratic run")
    p.add_argument("--valley-steps", type=int, default=1500, help="steps per long-valley run")
    p.add_argument("--valley-lr", type=float, default=0.02, help="lr of the long-valley runs")
    p.add_argument("--quick", action="store_true", help="short runs (CI)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.valley_steps = 300, 400
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    results = {
        "quadratic": quadratic_study(args.steps),
        "valley": valley_study(args.valley_steps, args.valley_lr),
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    q = results["quadratic"]
    c = q["checks"]
    lines = [
        "Claim 1 with curvature — quadratic ½(10θ1² + 0.2θ2²)",
        f"Hessian at {c['points']} trajectory points (hvp columns; hessian() at the start "
        f"agrees to {c['hvp_vs_hessian_at_start']:.1e}): eigenvalues "
        f"{c['eigenvalues_mean'][0]:.6g} and {c['eigenvalues_mean'][1]:.6g} "
        f"(max error vs 10, 0.2: {c['max_eigenvalue_error']:.1e}); eigenvectors on the "
        f"axes (min |cos| {min(c['min_alignment_theta1'], c['min_alignment_theta2']):.6f})",
        f"tuned to them: η* = {q['optimal']['lr']:.4g}, μ* = {q['optimal']['momentum']:.4g}, "
        f"predicted ρ = √μ* = {q['optimal']['rate']:.4g} on both axes",
        "",
    ]
    header = [
        "method",
        "lr",
        "axis",
        "ηλ",
        "regime",
        "ρ predicted",
        "ρ measured",
        "half-period pred.",
        "measured",
        "eff. lr (1−z)/λ",
        "measured −Δθ/g",
        "steps to 1e-6",
    ]
    rows = []
    for r in q["runs"]:
        s = r["setting"]
        for axis, m in r["axes"].items():
            rows.append(
                [
                    s.label,
                    s.lr,
                    f"θ{axis}",
                    m["eta_lambda"],
                    m["regime"],
                    m["rate_predicted"],
                    m["rate_measured"],
                    m["half_period_predicted"],
                    m["half_period_measured"],
                    m["effective_lr_predicted"],
                    m["effective_lr_measured"]["median"]
                    if m["effective_lr_predicted"] is not None
                    else None,
                    m["steps_to_1e-6"],
                ]
            )
    lines.append(table(header, rows))
    v = results["valley"]
    lines += [
        "",
        f"Long valley 5θ1² + √(1 + θ2²) − 1 from (1, 30), lr {v['lr']:g}: "
        f"effective θ2 step per unit gradient while θ2 > {v['plateau']:g}",
        "",
    ]
    header = [
        "method",
        "plateau steps",
        "−Δθ2/g2 measured",
        "η/(1−μ)",
        "λ2 max rel. error",
        "ripples from step",
        "first overshoot",
        "steps until θ2 stays in ±0.01",
    ]
    rows = [
        [
            r["setting"].label,
            r["plateau_steps"],
            r["effective_lr_measured"],
            r["effective_lr_predicted"],
            r["max_rel_error_lambda2"],
            r["ripple_from_step"],
            r["first_overshoot_step"],
            r["steps_to_theta2_below_0.01"],
        ]
        for r in v["runs"]
    ]
    lines.append(table(header, rows))
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    q, v = results["quadratic"], results["valley"]
    fig, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    # Goh's regions of the (ηλ, μ) plane, with every run's two axes on it
    ax = axes[0, 0]
    mu = np.linspace(0, 0.99, 300)
    ax.fill_betweenx(mu, 1e-4, (1 - np.sqrt(mu)) ** 2, color="tab:green", alpha=0.15)
    ax.fill_betweenx(
        mu, (1 - np.sqrt(mu)) ** 2, (1 + np.sqrt(mu)) ** 2, color="tab:blue", alpha=0.12
    )
    ax.fill_betweenx(mu, (1 + np.sqrt(mu)) ** 2, 2 * (1 + mu), color="tab:orange", alpha=0.2)
    ax.fill_betweenx(mu, 2 * (1 + mu), 10, color="tab:red", alpha=0.15)
    for txt, x, y in (("monotone", 2e-4, 0.3), ("ripples", 0.3, 0.75), ("diverges", 4.5, 0.3)):
        ax.text(x, y, txt, fontsize=8)
    ax.text(2.05, 0.02, "flips", fontsize=7, rotation=90)
    for i, r in enumerate(q["runs"]):
        s = r["setting"]
        for axis, marker in ((1, "o"), (2, "s")):
            ax.plot(r["axes"][axis]["eta_lambda"], s.momentum, marker, color=colors[i], ms=6)
        ax.plot([], [], "o", color=colors[i], label=f"{s.label}, lr {s.lr:.3g}")
    ax.set(xscale="log", xlim=(1e-4, 10), ylim=(-0.02, 1), xlabel="ηλ", ylabel="μ")
    ax.set_title("heavy-ball regimes (Goh 2017); ○ θ1, □ θ2 (measured λ)", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")

    # each axis's |θi| with the predicted envelope ρ^t
    for col, axis in ((1, 1), (2, 2)):
        ax = axes[0, col]
        for i, r in enumerate(q["runs"]):
            x = np.abs(r["points"][:, axis - 1])
            m = r["axes"][axis]
            t = np.arange(len(x))
            ax.semilogy(t, np.maximum(x, 1e-300), color=colors[i], lw=0.8)
            ax.semilogy(
                t, abs(x[0]) * m["rate_predicted"] ** t, "--", color=colors[i], lw=0.7, alpha=0.7
            )
        ax.set(ylim=(1e-12, 20), xlabel="step", ylabel=f"|θ{axis}|")
        ax.set_title(f"θ{axis}: run (solid) and predicted ρ^t (dashed)", fontsize=9)

    # Hessian eigenvalues along the quadratic and the valley trajectories
    ax = axes[1, 0]
    for i, r in enumerate(v["runs"]):
        t = np.arange(len(r["lambda2"]))
        ax.semilogy(t, r["lambda2"], color=colors[i], label=f"valley λ2, {r['setting'].label}")
        closed = (1 + r["points"][:, 1] ** 2) ** -1.5
        ax.semilogy(t[::25], closed[::25], "k.", ms=2)
    ev = q["checks"]["eigenvalues_mean"]
    ax.axhline(ev[0], color="k", lw=0.8, ls="--", label=f"quadratic λ1 = {ev[0]:.4g}")
    ax.axhline(ev[1], color="gray", lw=0.8, ls="--", label=f"quadratic λ2 = {ev[1]:.4g}")
    ax.set(xlabel="step", ylabel="Hessian eigenvalue (autograd)")
    ax.set_title("curvature along the path (dots: closed form (1+θ2²)^-1.5)", fontsize=9)
    ax.legend(fontsize=7)

    # long valley: θ2 step per unit gradient, and θ2 itself
    ax = axes[1, 1]
    for i, r in enumerate(v["runs"]):
        ax.plot(r["ratio"], color=colors[i], lw=0.8, label=r["setting"].label)
        ax.axhline(r["effective_lr_predicted"], color=colors[i], ls=":", lw=0.8)
    ax.set(
        xlabel="step",
        ylabel="−Δθ2 / g2",
        ylim=(-0.05, 1.4 * v["runs"][-1]["effective_lr_predicted"]),
    )
    ax.set_xlim(0, 300)
    ax.set_title("long valley: θ2 step per unit gradient (dotted: η/(1−μ))", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1, 2]
    for i, r in enumerate(v["runs"]):
        ax.plot(r["points"][:, 1], color=colors[i], lw=0.9, label=r["setting"].label)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(xlabel="step", ylabel="θ2", ylim=(-3, 31))
    ax.set_title(f"long valley θ2, lr {v['lr']:g} (momentum overshoots the floor)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out, "claim1_curvature.png")


if __name__ == "__main__":
    main()
