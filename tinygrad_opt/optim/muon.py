"""Muon: momentum, orthogonalised by a Newton–Schulz iteration, for 2-D weights."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import add_scaled_, decay_weights_
from tinygrad_opt.optim.optimizer import Optimizer, register
from tinygrad_opt.optim.orthogonal import DEFAULT_COEFFICIENTS, DEFAULT_STEPS, newton_schulz
from tinygrad_opt.tensor import Tensor

__all__ = ["Muon", "split_muon_params"]

ADJUST_LR_FNS = (None, "original", "match_rms_adamw")
VARIANTS = ("torch", "optax")


@register("muon")
@register("muon_optax", variant="optax", eps=1e-8, weight_decay=0.0)
class Muon(Optimizer):
    r"""Muon (Jordan et al. 2024), as ``torch.optim.Muon`` (torch 2.13), or as Optax
    0.2.8's ``optax.contrib.muon`` with ``variant="optax"``.

    "Muon: An optimizer for hidden layers in neural networks" (K. Jordan, Y. Jin,
    V. Boza, J. You, F. Cesista, L. Newhouse, J. Bernstein; blog post, 2024). For a 2-D
    weight θ (m×n) with gradient g, μ the momentum, B the momentum buffer, NS the
    Newton–Schulz orthogonalisation of :mod:`tinygrad_opt.optim.orthogonal`, η the
    learning rate and λ the decoupled weight decay; ``variant="torch"`` (default):

        B ← μ·B + (1 - μ)·g                         (torch: B.lerp_(g, 1 - μ))
        U ← μ·B + (1 - μ)·g  if nesterov,  else B
        O ← NS(U)            (X₀ = U / max(‖U‖_F, ε); 5 steps of (3.4445, -4.7750, 2.0315))
        θ ← θ - η·λ·θ                               (decoupled weight decay, unadjusted η)
        θ ← θ - η'·O,   η' = η·√max(1, m/n)         (adjust_lr_fn None or "original")
                        η' = η·0.2·√max(m, n)       ("match_rms_adamw", Liu et al. 2025)

    ``variant="optax"`` (Optax's ``scale_by_muon`` + ``scale_by_shape`` +
    ``add_decayed_weights`` + learning rate), with t the step count:

        B ← (1 - μ)·g + μ·B
        U ← μ·B / (1 - μ^(t+1)) + (1 - μ)·g / (1 - μᵗ)  if nesterov,  else B / (1 - μᵗ)
        O ← NS(U)            (X₀ = U / (‖U‖_F + ε))
        O ← ⟨U, O⟩·O                                (only with adaptive=True)
        θ ← θ - η·(s·O + λ·θ),   s = √max(1, n/m)   (Optax's weights are (in, out): x·W)
                                 s = 0.2·√max(m, n) ("match_rms_adamw" = consistent_rms 0.2)

    (torch's docstring writes B ← μ·B + g; its code, followed here, keeps the EMA.)
    ``maximize`` is an addition (neither reference has it). The one difference from
    torch: torch runs the Newton–Schulz iteration in bfloat16
    (its first line is ``G.bfloat16()``); here it runs in the parameter's dtype (numpy
    has no bfloat16), so the updates agree with torch's to bfloat16 precision (~1%),
    and to rtol 1e-10 with torch's iteration run in float64 (the tests do both).
    From Optax: only Frobenius preconditioning, one (a, b, c) for every step (no
    per-step coefficient tables such as "dion"), no ``mu_dtype``; Optax's ``muon`` also
    steps non-2-D parameters with AdamW, here that is :func:`split_muon_params` + AdamW.

    Only 2-D parameters: anything else raises ValueError naming its shape (as torch).
    Muon is for the hidden layers' weight matrices; give embeddings, biases, norm gains
    and the output layer to AdamW (:func:`split_muon_params`). With torch's (out, in)
    layout of ``nn.Linear`` weights, "original" scales by √max(1, out/in).

    Defaults (torch's): lr=η (1e-3), weight_decay=λ (0.1), momentum=μ (0.95),
    nesterov (True), ns_coefficients=(a, b, c) (3.4445, -4.7750, 2.0315), eps=ε (1e-7),
    ns_steps (5), adjust_lr_fn (None = "original"), maximize (False), variant ("torch"),
    adaptive (False; Optax only). ``create("muon_optax", ...)`` has Optax's defaults
    (weight_decay 0, eps 1e-8); ``variant="optax"`` alone changes the arithmetic only.
    State: one buffer B per parameter (1× the parameters) and a step count.
    """

    #: Accepts 2-D parameters only: tools that build it for a whole model (the examples'
    #: comparison) give the other parameters to AdamW, as the recipe says.
    matrix_only = True

    hyperparameters = dict(
        lr=1e-3,
        weight_decay=0.1,
        momentum=0.95,
        nesterov=True,
        ns_coefficients=DEFAULT_COEFFICIENTS,
        eps=1e-7,
        ns_steps=DEFAULT_STEPS,
        adjust_lr_fn=None,
        maximize=False,
        variant="torch",
        adaptive=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        variant = hp.get("variant", "torch")
        if variant not in VARIANTS:
            raise ValueError(f"Invalid variant: {variant!r} (expected 'torch' or 'optax')")
        fn = hp.get("adjust_lr_fn")
        if fn not in ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {fn} is not supported")
        steps = hp.get("ns_steps", DEFAULT_STEPS)
        if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps < 100:
            raise ValueError(f"Invalid ns_steps: {steps} (an integer in [0, 100))")
        for name in ("nesterov", "maximize", "adaptive"):
            if name in hp and not isinstance(hp[name], bool):
                raise ValueError(f"Invalid {name}: {hp[name]!r} (expected True or False)")
        if hp.get("adaptive") and variant != "optax":
            raise ValueError("Invalid adaptive: True (Optax's option: use variant='optax')")
        if variant == "optax" and not hp.get("momentum", 0.95) < 1.0:
            raise ValueError(
                f"Invalid momentum value: {hp['momentum']} (variant='optax' divides by "
                "1 - momentum^t)"
            )

    def add_param_group(self, group: dict[str, Any]) -> None:
        """As the base class, after checking that every parameter is 2-D (ValueError naming
        the first one that is not, by its name if named, and its shape)."""
        if isinstance(group, dict) and "params" in group:
            group = dict(group)
            params = group["params"]
            if not isinstance(params, (Tensor, set, frozenset)):
                group["params"] = params = list(params)
            start = sum(len(g["params"]) for g in self.param_groups)
            for i, item in enumerate([params] if isinstance(params, Tensor) else params):
                name, p = item if isinstance(item, tuple) else (None, item)
                if isinstance(p, Tensor) and p.ndim != 2:
                    which = f"{name!r}" if name is not None else f"{start + i}"
                    raise ValueError(
                        f"Muon only supports 2D parameters whereas we found a parameter with "
                        f"size: {tuple(p.shape)} (parameter {which}); step biases, norm "
                        "gains and other non-matrix parameters with AdamW "
                        "(tinygrad_opt.optim.split_muon_params)"
                    )
        super().add_param_group(group)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "momentum_buffer": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        if g.ndim != 2:  # a parameter made 1-D after construction (torch's check too)
            raise ValueError(f"Muon: the gradient must be a 2D matrix, got shape {g.shape}")
        state["step"] += 1
        if group["variant"] == "optax":
            self._update_optax(p, g, state, group)
        else:
            self._update_torch(p, g, state, group)

    def _update_torch(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, mu = group["lr"], group["momentum"]
        buf = state["momentum_buffer"]
        _lerp_(buf, g, 1.0 - mu)
        if group["nesterov"]:
            u = g.copy()
            _lerp_(u, buf, mu)
            o = newton_schulz(u, group["ns_coefficients"], group["ns_steps"], group["eps"], out=u)
        else:
            o = newton_schulz(buf, group["ns_coefficients"], group["ns_steps"], group["eps"])
        m, n = p.shape
        if group["adjust_lr_fn"] == "match_rms_adamw":
            adjusted = lr * (0.2 * math.sqrt(max(m, n)))
        else:
            adjusted = lr * math.sqrt(max(1, m / n))
        decay_weights_(p, lr, group["weight_decay"])
        add_scaled_(p, -adjusted, o, tmp=o)

    def _update_optax(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, beta, t = group["lr"], group["momentum"], state["step"]
        buf = state["momentum_buffer"]
        buf *= beta
        buf += (1.0 - beta) * g  # (1 - β)·g + β·B
        if group["nesterov"]:
            u = buf / (1.0 - beta ** (t + 1))
            u *= beta
            u += (1.0 - beta) * (g / (1.0 - beta**t))
        else:
            u = buf / (1.0 - beta**t)
        adaptive = group["adaptive"]
        o = newton_schulz(
            u,
            group["ns_coefficients"],
            group["ns_steps"],
            group["eps"],
            eps_mode="add",
            out=None if adaptive else u,
        )
        m, n = p.shape
        if group["adjust_lr_fn"] == "match_rms_adamw":
            scale = math.sqrt(max(m, n)) * 0.2
        else:
            scale = math.sqrt(max(1, n / m))
        if adaptive:
            o *= float(np.vdot(u, o))  # ⟨U, NS(U)⟩·NS(U)
        o *= scale
        if group["weight_decay"]:
            o += group["weight_decay"] * p
        o *= -lr
        p += o


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start ← start + w·(end - start) in place, in torch.lerp's two forms (as torch
    rounds them): start + w·(end - start) for |w| < 0.5, else end - (end - start)·(1 - w).

    With w = 1 - μ this is the EMA B ← μ·B + (1 - μ)·g (``functional.ema_`` for μ > 0.5);
    written out because torch switches form at w = 0.5."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
        return
    np.subtract(end, start, out=start)
    start *= 1.0 - weight
    np.subtract(end, start, out=start)


def split_muon_params(
    model_or_named: Any, exclude: Iterable[str] = ()
) -> tuple[list[tuple[str, Tensor]], list[tuple[str, Tensor]]]:
    """Split parameters for the Muon + AdamW recipe: ``(for_muon, for_adamw)``.

    ``model_or_named`` is a module or its ``named_parameters()``. Muon gets the 2-D
    parameters (hidden layers' weight matrices); AdamW gets everything else: biases and
    norm gains (not 2-D), embedding tables (``nn.Embedding`` weights, found when a module
    is given), and every parameter under a name in ``exclude`` — name the output layer
    there (``exclude=["head"]`` takes ``head.weight`` and ``head.bias``). Both lists hold
    ``(name, Tensor)`` pairs, which optimizers accept::

        hidden, other = split_muon_params(model, exclude=["head"])
        opts = [Muon(hidden, lr=0.02), AdamW(other, lr=3e-4)]
    """
    exclude = [e.rstrip(".") for e in ([exclude] if isinstance(exclude, str) else exclude)]
    embedding_weights: set[int] = set()
    if hasattr(model_or_named, "named_parameters"):
        from tinygrad_opt.nn.embedding import Embedding

        for module in model_or_named.modules():
            if isinstance(module, Embedding):
                embedding_weights.add(id(module.weight))
        named = list(model_or_named.named_parameters())
    else:
        named = list(model_or_named)
    muon, other = [], []
    for name, p in named:
        excluded = any(name == e or name.startswith(e + ".") for e in exclude)
        if p.ndim == 2 and not excluded and id(p) not in embedding_weights:
            muon.append((name, p))
        else:
            other.append((name, p))
    return muon, other
