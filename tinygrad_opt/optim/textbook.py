"""The textbook forms: Goodfellow, Bengio & Courville, *Deep Learning* (2016), Alg. 8.1-8.7.

These are the update rules exactly as the seed article writes them, in the book's
notation: ε learning rate, α momentum, ρ decay rate, δ small constant, v velocity, s and r
first and second moment estimates, θ̃ the Nesterov look-ahead point. Where a rule
coincides with a torch-style class in this package the docstring says so, and where it
differs it says exactly how (δ placement, the learning rate inside the velocity).

Hyperparameter names follow the rest of the package: ``lr`` = ε, ``momentum`` = α,
``rho`` = ρ, ``eps`` = δ, ``betas`` = (ρ1, ρ2). Every class also accepts
``weight_decay`` (coupled L2: the book puts any penalty inside the cost J, so g includes
λθ) and ``maximize``.

**Nesterov (Alg. 8.3, 8.6) and the look-ahead point.** The book evaluates the gradient
at the interim point θ̃ = θ + αv, not at θ. Rather than asking for a closure that is
called at a moved point, :class:`TextbookNesterov` and :class:`TextbookRMSPropNesterov`
*store the look-ahead point in the parameters between steps*: after every step the
tensors hold θ̃ = θ + αv for the next step, so the ordinary loop (forward, backward,
``step()``) computes exactly the gradient the algorithm asks for. Initially v = 0, so
θ̃ = θ. :meth:`~_LookAhead.theta` returns θ itself and :meth:`~_LookAhead.at_theta`
temporarily puts θ into the tensors (e.g. to evaluate the final model). This change of
variable is why, at constant ε, the stored tensors follow exactly the trajectory of
torch's ``SGD(nesterov=True)`` (Sutskever et al. 2013 wrote Nesterov's method in this
variable for the same reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    bias_correction,
    ema_,
    ema_square_,
    safe_divide,
    velocity_,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register
from tinygrad_opt.tensor import Tensor


def _check_momentum(hp: dict[str, Any]) -> None:
    if "momentum" in hp:
        check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)


def _check_rho(hp: dict[str, Any]) -> None:
    if "rho" in hp:
        check_range("rho value", hp["rho"], 0.0, 1.0, high_open=True)


@register("textbook_sgd")
class TextbookSGD(Optimizer):
    r"""Alg. 8.1, stochastic gradient descent: θ ← θ - ε·g.

    Identical to ``SGD(lr=ε)`` without momentum (the book's ε_k schedule is a change of
    ``lr`` between steps, as in torch). Included so that 8.1-8.7 are all here.
    Defaults: lr=ε (1e-3), weight_decay (0), maximize (False).
    """

    hyperparameters = dict(lr=1e-3, weight_decay=0.0, maximize=False)

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        p -= group["lr"] * with_weight_decay(g, p, group["weight_decay"])


@register("textbook_momentum")
class TextbookMomentum(Optimizer):
    r"""Alg. 8.2, SGD with momentum, with ε *inside* the velocity:

        v ← α·v - ε·g
        θ ← θ + v

    Versus ``SGD(lr=ε, momentum=α)`` (torch's form b ← α·b + g; θ ← θ - ε·b, b = g at
    the first step): while ε is constant the two trajectories are identical, with
    v = -ε·b. They differ once ε changes mid-run: here the stored velocity keeps the
    steps taken at the old ε and only the new gradient term uses the new one, while torch
    rescales the whole buffer at once. After ε₁ → ε₂, the first step differs by
    (ε₂/ε₁ - 1)·α·v. (Optax's ``trace`` after ``scale_by_learning_rate``, as in Optax's
    LARS, is this form.)

    Defaults: lr=ε (1e-3), momentum=α (0.9, in [0, 1)), weight_decay (0), maximize.
    """

    hyperparameters = dict(lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        _check_momentum(hp)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"v": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])
        p += velocity_(state["v"], -group["lr"] * g, group["momentum"])


class _LookAhead(Optimizer):
    """Base for the Nesterov forms: the tensors hold θ̃ = θ + αv between steps.

    State: ``v`` (the velocity) and ``alpha`` (the α of the look-ahead currently stored,
    so :meth:`theta` stays right if ``momentum`` is changed between steps).
    """

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        _check_momentum(hp)

    def advance_(self, p: np.ndarray, delta: np.ndarray, state: dict, alpha: float) -> None:
        """v ← αv + Δ; θ ← θ + v; store θ̃ = θ + αv, i.e. θ̃ ← θ̃ + Δ + α·v."""
        p += velocity_(state["v"], delta, alpha, nesterov=True)
        state["alpha"] = alpha

    def theta(self, p: Tensor) -> np.ndarray:
        """θ (a new array) for a parameter whose tensor holds the look-ahead θ̃ = θ + αv."""
        state = self.state.get(p)
        if state is None:
            return p.data.copy()
        return p.data - state["alpha"] * state["v"]

    @contextmanager
    def at_theta(self) -> Iterator[None]:
        """Put θ into every parameter for the duration of the block, then restore θ̃."""
        saved = []
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    saved.append((p, p.data.copy()))
                    p.data[...] = self.theta(p)
        try:
            yield
        finally:
            for p, lookahead in saved:
                p.data[...] = lookahead


@register("textbook_nesterov")
class TextbookNesterov(_LookAhead):
    r"""Alg. 8.3, SGD with Nesterov momentum, the gradient taken at the look-ahead point:

        θ̃ ← θ + α·v
        g ← ∇J(θ̃)
        v ← α·v - ε·g
        θ ← θ + v

    The parameters hold θ̃ between steps (see the module docstring), so ``step()`` uses
    the gradient computed at the tensors' values; :meth:`theta` / :meth:`at_theta` give θ.
    In the θ̃ variable one step is θ̃ ← θ̃ - ε·g + α·v_new, which is torch's
    ``SGD(lr=ε, momentum=α, nesterov=True)`` with v = -ε·b: while ε is constant the stored
    tensors follow torch's trajectory exactly; as for :class:`TextbookMomentum`, they
    differ after ε changes. If α changes between steps, the gradient of that step was
    taken at θ + α_old·v (the look-ahead already stored).

    Defaults: lr=ε (1e-3), momentum=α (0.9, in [0, 1)), weight_decay (0), maximize.
    """

    hyperparameters = dict(lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"v": np.zeros_like(p), "alpha": 0.0}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])  # p is θ̃: g = ∇J(θ̃)
        self.advance_(p, -group["lr"] * g, state, group["momentum"])


@register("textbook_adagrad")
class TextbookAdaGrad(Optimizer):
    r"""Alg. 8.4, AdaGrad:

        r ← r + g⊙g
        Δθ ← -ε/(δ + √r) ⊙ g
        θ ← θ + Δθ

    δ is *outside* the square root, as in torch: this is ``Adagrad(lr=ε, eps=δ)`` with
    lr_decay=0 and initial_accumulator_value=0, exactly. Only the default δ differs: the
    book's 1e-7 against torch's 1e-10. (Optax's ``adagrad`` has the book's δ=1e-7 but
    *inside* the root, 1/√(r + δ), and starts r at 0.1, so it is a different trajectory.)
    With δ=0, coordinates whose gradient has always been 0 get a step of 0.

    Defaults: lr=ε (1e-2), eps=δ (1e-7), weight_decay (0), maximize (False).
    """

    hyperparameters = dict(lr=1e-2, eps=1e-7, weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"r": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])
        r = state["r"]
        r += g * g
        p -= group["lr"] * safe_divide(g, group["eps"] + np.sqrt(r))


@register("textbook_rmsprop")
class TextbookRMSProp(Optimizer):
    r"""Alg. 8.5, RMSProp, with δ *inside* the square root:

        r ← ρ·r + (1 - ρ)·g⊙g
        Δθ ← -ε/√(δ + r) ⊙ g
        θ ← θ + Δθ

    torch's ``RMSprop(lr=ε, alpha=ρ, eps=δ)`` divides by √r + δ instead (δ outside), so
    the two differ for every δ > 0: the book's δ=1e-6 floors the denominator at √δ = 1e-3,
    torch's 1e-8 at 1e-8. They coincide only at δ=0 (then r = 0 implies g = 0 and the step
    is 0 here, where torch would give NaN). Optax's ``rmsprop(learning_rate=ε, decay=ρ,
    eps=δ)`` (eps_in_sqrt=True by default) is this form exactly, as is TensorFlow 1's.
    The book gives no default ρ; 0.9 is Hinton's lecture value (and Optax's / Keras's);
    torch's default α is 0.99.

    Defaults: lr=ε (1e-3), rho=ρ (0.9, in [0, 1)), eps=δ (1e-6), weight_decay (0),
    maximize (False).
    """

    hyperparameters = dict(lr=1e-3, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        _check_rho(hp)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"r": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])
        r = state["r"]
        ema_square_(r, g, group["rho"])
        p -= group["lr"] * safe_divide(g, np.sqrt(group["eps"] + r))


@register("textbook_rmsprop_nesterov")
class TextbookRMSPropNesterov(_LookAhead):
    r"""Alg. 8.6, RMSProp with Nesterov momentum:

        θ̃ ← θ + α·v
        g ← ∇J(θ̃)
        r ← ρ·r + (1 - ρ)·g⊙g
        v ← α·v - ε/√r ⊙ g
        θ ← θ + v

    As :class:`TextbookNesterov`, the tensors hold θ̃ between steps (so ``step()`` uses
    the gradient at the tensors' values; :meth:`theta` / :meth:`at_theta` give θ). The
    book prints no δ in this algorithm, so ``eps`` defaults to 0; if set, it goes inside
    the root, √(δ + r), as in Alg. 8.5. Where r = 0 (every gradient so far was 0) the step
    is 0 rather than NaN.

    In the θ̃ variable this is Optax's ``rmsprop(learning_rate=ε, decay=ρ, eps=δ,
    momentum=α, nesterov=True)`` exactly (its ``trace`` keeps ε inside the velocity, as
    the book does). torch's ``RMSprop(momentum=α)`` is different: heavy-ball momentum
    (no look-ahead), ε outside the buffer, δ outside the root.

    Defaults: lr=ε (1e-3), rho=ρ (0.9), momentum=α (0.9), eps=δ (0), weight_decay (0),
    maximize (False).
    """

    hyperparameters = dict(
        lr=1e-3, rho=0.9, momentum=0.9, eps=0.0, weight_decay=0.0, maximize=False
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        _check_rho(hp)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"v": np.zeros_like(p), "alpha": 0.0, "r": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])  # p is θ̃: g = ∇J(θ̃)
        r = state["r"]
        ema_square_(r, g, group["rho"])
        delta = -group["lr"] * safe_divide(g, np.sqrt(group["eps"] + r))
        self.advance_(p, delta, state, group["momentum"])


@register("textbook_adam")
class TextbookAdam(Optimizer):
    r"""Alg. 8.7, Adam, with the bias corrections written out as in the book:

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·g⊙g
        ŝ ← s / (1 - ρ1ᵗ)
        r̂ ← r / (1 - ρ2ᵗ)
        Δθ ← -ε·ŝ / (√r̂ + δ)
        θ ← θ + Δθ

    Mathematically the same as ``Adam(lr=ε, betas=(ρ1, ρ2), eps=δ)`` (torch's order
    divides √r by √(1 - ρ2ᵗ) and then adds δ, which is √r̂ + δ), so the two agree to
    rounding. Both differ from the "efficient" form at the end of Kingma & Ba's §2
    (TensorFlow/Keras), ε_t = ε·√(1 - ρ2ᵗ)/(1 - ρ1ᵗ), θ ← θ - ε_t·s/(√r + δ̂), whose δ̂
    is added *before* bias correction (δ̂ = δ·√(1 - ρ2ᵗ) recovers this form). With δ=0,
    coordinates whose gradient has always been 0 get a step of 0 (torch: NaN).

    Defaults: lr=ε (1e-3), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-8), weight_decay
    (coupled L2, 0), maximize (False).
    """

    hyperparameters = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "s": np.zeros_like(p), "r": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        rho1, rho2 = group["betas"]
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        t = state["step"]
        s, r = state["s"], state["r"]
        ema_(s, g, rho1)
        ema_square_(r, g, rho2)
        s_hat = s / bias_correction(rho1, t)
        r_hat = r / bias_correction(rho2, t)
        p -= group["lr"] * safe_divide(s_hat, np.sqrt(r_hat) + group["eps"])
