"""L-BFGS with an optional strong-Wolfe line search (torch semantics), on one flat vector."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, check_number, register
from tinygrad_opt.tensor import Tensor

LINE_SEARCHES = (None, "strong_wolfe")


@register("lbfgs")
class LBFGS(Optimizer):
    r"""Limited-memory BFGS (Liu & Nocedal 1989), as ``torch.optim.LBFGS``.

    Closure-based: ``step(closure)`` runs up to ``max_iter`` iterations, calling
    ``closure()`` (which must zero the gradients, compute the loss, call ``backward`` and
    return the loss) whenever it needs f(x) and ∇f(x). All parameters of the single group
    are treated as one flat vector x. Each iteration, with g = ∇f(x) and the last m pairs
    sᵢ = xᵢ₊₁ - xᵢ, yᵢ = gᵢ₊₁ - gᵢ (a pair is kept only if yᵀs > 1e-10):

        q ← -g
        for i = newest … oldest:   aᵢ ← ρᵢ·sᵢᵀq,  q ← q - aᵢ·yᵢ      (ρᵢ = 1 / yᵢᵀsᵢ)
        r ← γ·q,   γ = sᵀy / yᵀy of the newest pair (1 before any pair)
        for i = oldest … newest:   bᵢ ← ρᵢ·yᵢᵀr,  r ← r + (aᵢ - bᵢ)·sᵢ
        d ← r                               (d = -H·g, Nocedal & Wright Alg. 7.4)
        x ← x + t·d

    (the first iteration ever uses d = -g). The step t is ``lr`` — on the very first
    iteration min(1, 1/‖g‖₁)·lr — or, with ``line_search_fn="strong_wolfe"``, the result
    of a line search from that initial t satisfying the strong Wolfe conditions
    f(x + t·d) ≤ f(x) + c₁·t·gᵀd and |∇f(x + t·d)ᵀd| ≤ c₂·|gᵀd| (c₁ = 1e-4, c₂ = 0.9):
    bracketing, then zoom with safeguarded cubic interpolation (Nocedal & Wright, 2006,
    Algorithms 3.5 and 3.6; ported by torch from minFunc / torch7's lswolfe).

    A ``step`` stops early when max|g| ≤ tolerance_grad, when |Δf| or max|t·d| falls below
    tolerance_change, when gᵀd > -tolerance_change, or after ``max_eval`` evaluations of
    the closure. The history persists across ``step`` calls (in the state of the first
    parameter, as torch does, so ``state_dict`` carries it).

    Arguments: lr (1), max_iter (20), max_eval (None → max_iter·5//4), tolerance_grad
    (1e-7), tolerance_change (1e-9), history_size=m (100), line_search_fn (None or
    "strong_wolfe"). Only one parameter group (a ValueError otherwise), like torch.

    Torch's quirks we keep, to match it: the line search's own bracket tolerance is always
    1e-9 (``tolerance_change`` is not passed to it); its sufficient-decrease test against
    the previous trial starts from the third trial; without a line search the last
    iteration of a ``step`` does not re-evaluate the closure. Differences: we reject at
    construction what torch accepts and then fails on (an unknown ``line_search_fn``,
    history_size < 1, max_iter or max_eval < 1); ``skip_nonfinite`` skips the whole
    ``step`` if the first evaluation's gradient is not finite.
    """

    needs_closure = True  # step() must be given a closure (tools check this flag)

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
        **options: Any,
    ) -> None:
        if max_eval is None and _is_int(max_iter):
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults, **options)
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        for name in ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size"):
            if hp.get(name) is not None:
                check_number(name, hp[name])
        for name in ("max_iter", "max_eval", "history_size"):
            if name in hp and (not _is_int(hp[name]) or hp[name] < 1):
                raise ValueError(f"Invalid {name} value: {hp[name]} (must be an integer >= 1)")
        for name in ("tolerance_grad", "tolerance_change"):
            if name in hp:
                check_nonnegative(f"{name} value", hp[name])
        if "line_search_fn" in hp and hp["line_search_fn"] not in LINE_SEARCHES:
            raise ValueError(
                f"Invalid line_search_fn: {hp['line_search_fn']!r} "
                "(expected None or 'strong_wolfe')"
            )

    def add_param_group(self, group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups): "
                "it optimises all parameters as one vector, so give it a single group"
            )
        super().add_param_group(group)

    def state_shape_ok(self, name: str, shape: tuple[int, ...], param_shape: tuple) -> bool:
        # d and prev_flat_grad are flat vectors over all parameters
        return shape == param_shape or shape == (self._numel(),)

    # ----------------------------------------------------------------- flat-vector views
    def _numel(self) -> int:
        return sum(p.size for p in self._params)

    def _gather_flat_grad(self) -> np.ndarray:
        self.check_gradient_shapes()
        return np.concatenate(
            [np.zeros(p.size, p.dtype) if p.grad is None else p.grad.ravel() for p in self._params]
        )

    def _add_grad(self, t: float, d: np.ndarray) -> None:
        """x ← x + t·d, parameter by parameter."""
        offset = 0
        for p in self._params:
            p.data += t * d[offset : offset + p.size].reshape(p.shape)
            offset += p.size

    def _clone_param(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self._params]

    def _set_param(self, x: list[np.ndarray]) -> None:
        for p, saved in zip(self._params, x):
            np.copyto(p.data, saved)

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: list[np.ndarray], t: float, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """f and ∇f at x + t·d; the parameters are restored to x afterwards."""
        self._add_grad(t, d)
        loss = _as_float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ----------------------------------------------------------------- the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations; returns the loss of the first evaluation."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        orig_loss = closure()
        if not self.ready_to_step():
            return orig_loss
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        loss = _as_float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- direction: d = -H·g by the two-loop recursion
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d += (al[i] - be_i) * old_stps[i]

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # ---- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn == "strong_wolfe":
                x_init = self._clone_param()

                def obj_func(x: list[np.ndarray], t: float, d: np.ndarray) -> tuple:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's f and g would go unused
                    loss = _as_float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )
        return orig_loss


# --------------------------------------------------------------------------- line search
def cubic_interpolate(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """Minimiser of the cubic through (x1, f1, f1'=g1) and (x2, f2, f2'=g2), clipped to
    ``bounds`` (default: the interval between x1 and x2); the bounds' midpoint if the
    cubic has no minimiser (Nocedal & Wright eq. 3.59)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, lo), hi)
    return (lo + hi) / 2.0


def strong_wolfe(
    obj_func: Callable[[Any, float, np.ndarray], tuple[float, np.ndarray]],
    x: Any,
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Line search along ``d`` from ``x`` for a step satisfying the strong Wolfe conditions.

    ``obj_func(x, t, d)`` returns f and ∇f at x + t·d; f, g, gtd are f(x), ∇f(x), ∇f(x)ᵀd.
    Returns (f_new, g_new, t, evaluations). Phase 1 (N&W Alg. 3.5) grows t, by cubic
    extrapolation within [t + 0.01(t - t_prev), 10t], until it brackets an acceptable
    step; phase 2 (Alg. 3.6, "zoom") shrinks the bracket by cubic interpolation, kept at
    least 10% of the bracket away from its ends when progress stalls.
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new @ d)

    # ---- bracketing
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = t, cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo, hi))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter >= max_ls:  # torch: == (it fails outright for max_ls < 0)
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # ---- zoom
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # keep t away from the bracket's ends when the previous trial already was close
        hi, lo = max(bracket), min(bracket)
        eps = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < eps:
            if insuf_progress or t >= hi or t <= lo:
                t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not sufficiently lower: t becomes the high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # strong Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high end becomes the low end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _as_float(loss: Any) -> float:
    return loss.item() if isinstance(loss, Tensor) else float(loss)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)
