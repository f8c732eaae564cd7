"""D-Adaptation (Adam and SGD forms) and the machinery it shares with Prodigy.

D-Adaptation and Prodigy estimate one number, d (a lower bound on the distance ‖θ0 - θ*‖
from the start to a solution), from sums over *all* parameters of *all* groups, and
scale every step by it. So they cannot step one parameter at a time: they override
``step``, and keep the estimate in the parameter groups (``opt.param_groups[0]["d"]``),
where the authors' packages keep it (so ``state_dict`` carries it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    add_scaled_,
    bias_correction,
    decay_add_,
    with_weight_decay,
)
from tinygrad_opt.optim.hyperparameters import check_nonnegative, is_number
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register
from tinygrad_opt.tensor import Tensor, no_grad

logger = logging.getLogger(__name__)

#: One parameter's part of a step: (its group, the parameter, its gradient, its state).
Entry = tuple[dict[str, Any], Tensor, np.ndarray, dict[str, Any]]


# --------------------------------------------------------------------------- shared pieces
def adam_step_(
    p: np.ndarray,
    numerator: np.ndarray,
    r: np.ndarray,
    delta: float,
    scale: float,
    weight_decay: float = 0.0,
    decay_lr: float = 0.0,
) -> None:
    """The closing step of D-Adapted Adam and Prodigy, in place on ``p``:

        θ ← θ - decay_lr·λ·θ                         (decoupled weight decay, if λ)
        θ ← θ - scale · numerator / (√r + δ)

    rounded as the packages' ``p.add_(p, alpha=-λ·decay_lr)`` and
    ``p.addcdiv_(numerator, √r + δ, value=-scale)`` ((-scale·numerator) / denominator).
    """
    denom = np.sqrt(r, out=np.empty_like(r))  # an array even for 0-d r
    denom += delta
    if weight_decay:
        add_scaled_(p, -weight_decay * decay_lr, p)
    step = -scale * numerator
    step /= denom
    p += step


def adam_bias_factor(group: dict[str, Any]) -> float:
    """√(1 - ρ2ᵏ⁺¹) / (1 - ρ1ᵏ⁺¹) with ``use_bias_correction`` (k: the group's step count
    before this step), else 1: Adam's bias correction folded into the step size."""
    if not group["use_bias_correction"]:
        return 1.0
    beta1, beta2 = group["betas"]
    k = group["k"] + 1
    return bias_correction(beta2, k) ** 0.5 / bias_correction(beta1, k)


def l1(x: np.ndarray) -> float:
    """‖x‖₁ as a Python float."""
    return float(np.abs(x).sum())


class ParameterFree(Optimizer):
    """Base class of the methods with one step size d estimated from every group.

    Subclasses write :meth:`adapt` (one step, given the shared learning rate) and
    :meth:`initial_estimate` (the group entries the estimate starts from). This class
    provides ``step`` (closure, ``skip_nonfinite``, shape checks), the shared learning
    rate, the gradients of every group with coupled weight decay, and the checks common
    to all of them.
    """

    def initial_estimate(self, group: dict[str, Any]) -> dict[str, Any]:
        """Entries a new group starts with (the estimate's running values)."""
        return {}

    def adapt(self, lr: float) -> None:
        """One step of every parameter with a gradient; ``lr`` is the shared η."""
        raise NotImplementedError

    def add_param_group(self, group: dict[str, Any]) -> None:
        super().add_param_group(group)
        new = self.param_groups[-1]
        for key, value in self.initial_estimate(new).items():
            new.setdefault(key, value)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "d0" in hp and not (is_number(hp["d0"]) and hp["d0"] > 0.0):
            raise ValueError(f"Invalid d0 value: {hp['d0']}")
        if "growth_rate" in hp and not (is_number(hp["growth_rate"]) and hp["growth_rate"] >= 1):
            raise ValueError(f"Invalid growth_rate value: {hp['growth_rate']} (must be >= 1)")
        if "eps" in hp and not hp["eps"] > 0.0:  # δ divides: 0 is rejected, as the packages do
            raise ValueError(f"Invalid epsilon value: {hp['eps']}")
        if "log_every" in hp:
            value = hp["log_every"]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Invalid log_every value: {value} (an integer >= 0)")

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step of every parameter that has a gradient (see the class docstring).

        Raises RuntimeError, before changing anything, if the groups' learning rates
        differ other than by some being 0 (as the authors' packages do).
        """
        loss = closure() if closure is not None else None
        if self.ready_to_step():
            with no_grad():
                self.adapt(self.shared_lr())
        return loss

    def shared_lr(self) -> float:
        """η = the largest group learning rate; every group must have η or 0."""
        lr = max(group["lr"] for group in self.param_groups)
        for i, group in enumerate(self.param_groups):
            if group["lr"] not in (lr, 0.0):
                raise RuntimeError(
                    f"{type(self).__name__}: parameter group {i} has lr {group['lr']}, another "
                    f"has {lr}; different learning rates in different groups are only "
                    "supported for 0, as in the authors' package"
                )
        return lr

    def entries(self, coupled_decay: Callable[[dict[str, Any]], float]) -> list[Entry]:
        """Every parameter with a gradient, all groups, with g ← g + λθ where λ =
        ``coupled_decay(group)`` (0: none); ``g`` is a new array then, never ``p.grad``."""
        out = []
        for group in self.param_groups:
            decay = coupled_decay(group)
            for p, g, state in self.gradients(group):
                out.append((group, p, with_weight_decay(g, p.data, decay), state))
        return out

    def publish(self, **values: Any) -> None:
        """Store the estimate's new values in every group, as the packages do."""
        for group in self.param_groups:
            group.update(values)

    def log(self, k: int, **values: float) -> None:
        every = self.param_groups[0].get("log_every", 0)
        if every > 0 and k % every == 0:
            logger.info(", ".join(f"{name}: {v}" for name, v in values.items()))


# --------------------------------------------------------------------------- Adam
@register("dadapt_adam")
class DAdaptAdam(ParameterFree):
    r"""Adam with D-Adaptation (Defazio & Mishchenko 2023), as ``dadaptation`` 3.2's
    ``DAdaptAdam``.

    "Learning-Rate-Free Learning by D-Adaptation", ICML 2023, arXiv:2301.07733, the Adam
    variant, in the package's form. Seed notation:
    η lr, ρ1/ρ2 decay rates, δ small constant, s/r the moment estimates, θ parameters,
    g gradient (with λθ added unless ``decouple``); a the weighted gradient sum (the
    package's state ``s``), N its running numerator, ℓ a group's ``layer_scale``, γ
    ``growth_rate``. Sums Σ run over the parameters of every group with η > 0:

        η̂ ← d·η·√(1 - ρ2ᵏ⁺¹)/(1 - ρ1ᵏ⁺¹)         (the factor only with use_bias_correction)
        A ← Σ ℓ·η̂·⟨g, a / (√r + δ)⟩               (a and r before this step)
        s ← ρ1·s + (1 - ρ1)·ℓ·η̂·g                  (the step size is inside s)
        r ← ρ2·r + (1 - ρ2)·g⊙g
        a ← √ρ2·a + (1 - √ρ2)·η̂·g
        N ← √ρ2·N + (1 - √ρ2)·A
        d̂ ← N / ((1 - √ρ2)·Σ ℓ·‖a‖₁)
        d ← max(d, min(d̂, γ·d))
        θ ← θ - η̂·λ·θ                             (decouple: AdamW's decay)
        θ ← θ - s / (√r + δ)
        k ← k + 1

    d starts at d0 and never decreases; η (default 1) only rescales it. d, k and N
    (``numerator_weighted``) live in the groups (``opt.param_groups[0]["d"]``); k, d, N,
    β, γ, ``decouple`` and ``use_bias_correction`` are read from the first group, λ, δ and
    ℓ from each group. As the package: group learning rates must all be η or 0 (a group
    with η = 0 adds nothing to the sums and its s, r, a stay frozen, but it still takes
    the step θ ← θ - s/(√r + δ) with its frozen s and the decoupled decay with η̂); a step
    where Σ‖a‖₁ = 0 (all gradients zero) changes only s and r. Weight decay: coupled (L2
    on g) by default, decoupled with ``decouple=True``.

    Differences from the package: ``maximize`` (added; the package has none);
    ``fsdp_in_use`` is accepted and ignored (no sharding here); ``log_every`` logs through
    ``logging`` as the package does; we check growth_rate >= 1 and reject a group
    learning-rate mismatch before changing anything. State: s, r, a (3 arrays).
    Defaults: lr=η (1.0), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-8), weight_decay=λ (0),
    log_every (0), decouple (False), use_bias_correction (False), d0 (1e-6),
    growth_rate=γ (inf), fsdp_in_use (False), layer_scale=ℓ (1.0), maximize (False).
    """

    hyperparameters = dict(
        lr=1.0,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        log_every=0,
        decouple=False,
        use_bias_correction=False,
        d0=1e-6,
        growth_rate=math.inf,
        fsdp_in_use=False,
        layer_scale=1.0,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "layer_scale" in hp:
            check_nonnegative("layer_scale value", hp["layer_scale"])

    def initial_estimate(self, group: dict[str, Any]) -> dict[str, Any]:
        return {"d": self.defaults["d0"], "k": 0, "numerator_weighted": 0.0}

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        zeros = np.zeros_like
        return {"step": 0, "exp_avg": zeros(p), "exp_avg_sq": zeros(p), "s": zeros(p)}

    def adapt(self, lr: float) -> None:
        first = self.param_groups[0]
        beta1, beta2 = first["betas"]
        d, k, decouple = first["d"], first["k"], first["decouple"]
        dlr = d * lr * adam_bias_factor(first)
        sqrt_beta2 = beta2**0.5
        entries = self.entries(lambda group: 0.0 if decouple else group["weight_decay"])
        inner = 0.0  # A
        a_l1 = 0.0  # Σ ℓ·‖a‖₁
        for group, _, g, state in entries:
            if group["lr"] <= 0.0:
                continue
            ell = group["layer_scale"]
            s, r, a = state["exp_avg"], state["exp_avg_sq"], state["s"]
            ratio = np.sqrt(r, out=np.empty_like(r))
            ratio += group["eps"]
            np.divide(a, ratio, out=ratio)
            inner += ell * dlr * float(np.dot(g.ravel(), ratio.ravel()))
            decay_add_(s, beta1, ell * dlr * (1.0 - beta1), g)
            decay_add_(r, beta2, 1.0 - beta2, g, g)
            decay_add_(a, sqrt_beta2, dlr * (1.0 - sqrt_beta2), g)
            a_l1 += ell * l1(a)
        numerator = sqrt_beta2 * first["numerator_weighted"] + (1.0 - sqrt_beta2) * inner
        if a_l1 == 0.0:
            return
        d_hat = numerator / ((1.0 - sqrt_beta2) * a_l1)
        d = max(d, min(d_hat, d * first["growth_rate"]))
        self.log(k, lr=lr, dlr=dlr, d_hat=d_hat, d=d, a_l1=a_l1, numerator=numerator)
        self.publish(numerator_weighted=numerator, d=d)
        for group, p, _, state in entries:
            state["step"] += 1
            decay = group["weight_decay"] if decouple else 0.0
            adam_step_(p.data, state["exp_avg"], state["exp_avg_sq"], group["eps"], 1.0, decay, dlr)
        for group in self.param_groups:
            group["k"] += 1


# --------------------------------------------------------------------------- SGD
@register("dadapt_sgd")
class DAdaptSGD(ParameterFree):
    r"""SGD with D-Adaptation (Defazio & Mishchenko 2023), as ``dadaptation`` 3.2's
    ``DAdaptSGD``.

    "Learning-Rate-Free Learning by D-Adaptation", ICML 2023, arXiv:2301.07733, Algorithm
    1 (Dual Averaging with D-Adaptation) in the package's form: the gradients are
    normalised once, by the first step's ‖g0‖ (Algorithm 1 uses the running √Σ‖gᵢ‖²),
    and momentum is primal averaging. Seed notation: η lr, θ parameters, g gradient + λθ;
    a the gradient sum (state ``s``), θ0 the start (``x0``), z the dual-averaging iterate,
    N the numerator, c = 1 - momentum, γ ``growth_rate``; sums Σ over the parameters of
    groups with η > 0:

        ‖g0‖ ← √(Σ g⊙g)                  (first step only, gradients without decay)
        η̂ ← d·η / ‖g0‖
        N ← N + η̂·Σ⟨g, a⟩                (a before this step)
        a ← a + η̂·g
        d̂ ← 2·N / √(Σ‖a‖²)
        d ← max(d, min(d̂, γ·d))
        z ← θ0 - a
        θ ← (1 - c)·θ + c·z              (momentum 0: θ = z, plain dual averaging)
        k ← k + 1

    d, k, N (``numerator_weighted``) and ‖g0‖ (``g0_norm``) live in the groups. As the
    package, every hyperparameter but the learning rate (λ, momentum, γ) is read from the
    first group, and group learning rates must all be η or 0 (a group with η = 0 adds
    nothing to the sums but still moves toward its z). Weight decay is coupled (L2).

    Differences from the package: ``maximize`` (added); ``fsdp_in_use`` ignored; where
    the package divides by zero we raise a ZeroDivisionError naming the cause (all
    gradients of the first step zero) or, when no parameter of a group with η > 0 has a
    gradient, skip the step; we check momentum in [0, 1) and growth_rate >= 1. State: a,
    θ0, z (3 arrays). Defaults: lr=η (1.0), momentum (0), weight_decay=λ (0), log_every
    (0), d0 (1e-6), growth_rate=γ (inf), fsdp_in_use (False), maximize (False).
    """

    hyperparameters = dict(
        lr=1.0,
        momentum=0.0,
        weight_decay=0.0,
        log_every=0,
        d0=1e-6,
        growth_rate=math.inf,
        fsdp_in_use=False,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp:
            check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)

    def initial_estimate(self, group: dict[str, Any]) -> dict[str, Any]:
        return {"d": self.defaults["d0"], "k": 0, "numerator_weighted": 0.0}

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"z": p.copy(), "s": np.zeros_like(p), "x0": p.copy()}

    def adapt(self, lr: float) -> None:
        first = self.param_groups[0]
        c = 1.0 - first["momentum"]
        d, k = first["d"], first["k"]
        numerator = first["numerator_weighted"]
        raw = self.entries(lambda group: 0.0)
        if k == 0:
            g_sq = sum(float(np.vdot(g, g)) for group, _, g, _ in raw if group["lr"] > 0.0)
            g0_norm = math.sqrt(g_sq)
        else:
            g0_norm = first["g0_norm"]
        if g0_norm == 0.0:
            raise ZeroDivisionError(
                f"{type(self).__name__}: the first step's gradients are all zero, so the "
                "step size d·lr/‖g0‖ is undefined (the package fails here too)"
            )
        dlr = d * lr / g0_norm
        decay = first["weight_decay"]
        a_sq = 0.0
        for group, p, g, state in raw:
            g = with_weight_decay(g, p.data, decay)
            if group["lr"] > 0.0:
                a = state["s"]
                numerator += dlr * float(np.vdot(g, a))
                add_scaled_(a, dlr, g)
                a_sq += float(np.vdot(a, a))
        if a_sq == 0.0:
            return
        d_hat = 2.0 * numerator / math.sqrt(a_sq)
        d = max(d, min(d_hat, d * first["growth_rate"]))
        self.log(k, dlr=dlr, d_hat=d_hat, d=d, a_norm=math.sqrt(a_sq), numerator=numerator)
        self.publish(numerator_weighted=numerator, d=d, g0_norm=g0_norm)
        for _, p, _, state in raw:
            z = state["z"]
            np.subtract(state["x0"], state["s"], out=z)
            p.data *= 1.0 - c
            add_scaled_(p.data, c, z)
        for group in self.param_groups:
            group["k"] += 1
