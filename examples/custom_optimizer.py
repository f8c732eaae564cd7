"""Write your own optimizer on the public base class, and check it like the built-ins.

    python examples/custom_optimizer.py

AdaBelief (Zhuang et al., NeurIPS 2020) is Adam with one change: the second moment tracks
the squared *deviation* of the gradient from its moving average, (g - s)², instead of g².
When gradients agree with their average the step grows; when they scatter it shrinks.

    s ← ρ1·s + (1 - ρ1)·g
    r ← ρ2·r + (1 - ρ2)·(g - s)² + δ
    θ ← θ - η · (s / (1 - ρ1ᵗ)) / (√(r / (1 - ρ2ᵗ)) + δ)

The class is the whole implementation; the base class supplies parameter groups, state,
state_dict, validation and the rest. (The library ships a full AdaBelief,
``optim.AdaBelief``, registered as ``"adabelief"``; this minimal one registers under its
own name, so importing the example does not replace it.) The check at the bottom runs it
against a plain numpy transcription of the paper's Algorithm 2 with the same helper the
built-in methods use.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import Adam, Optimizer, register
from tinygrad_opt.optim.functional import bias_correction, ema_
from tinygrad_opt.optim.testing import check_against_reference


@register("my_adabelief")
class AdaBelief(Optimizer):
    """AdaBelief: Adam whose second moment is the EMA of (g - s)² (Zhuang et al. 2020)."""

    hyperparameters = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-16)  # names, defaults, order

    def init_state(self, p, group):
        return {"step": 0, "s": np.zeros_like(p), "r": np.zeros_like(p)}

    def update(self, p, g, state, group):
        lr, (rho1, rho2), delta = group["lr"], group["betas"], group["eps"]
        state["step"] += 1
        t, s, r = state["step"], state["s"], state["r"]
        ema_(s, g, rho1)  # s ← ρ1 s + (1-ρ1) g
        ema_(r, (g - s) ** 2, rho2)  # r ← ρ2 r + (1-ρ2)(g - s)²
        r += delta
        denom = np.sqrt(r / bias_correction(rho2, t)) + delta
        p -= lr * (s / bias_correction(rho1, t)) / denom


def adabelief_reference(params, grads, state, t, lr=1e-2, b1=0.9, b2=0.999, eps=1e-16):
    """Algorithm 2 of the AdaBelief paper, transcribed line by line in plain numpy."""
    for i, (theta, g) in enumerate(zip(params, grads)):
        m = state.setdefault(("m", i), np.zeros_like(theta))
        s = state.setdefault(("s", i), np.zeros_like(theta))
        m[...] = b1 * m + (1 - b1) * g
        s[...] = b2 * s + (1 - b2) * (g - m) ** 2 + eps
        m_hat = m / (1 - b1**t)
        s_hat = s / (1 - b2**t)
        theta -= lr * m_hat / (np.sqrt(s_hat) + eps)


def train(make_optimizer, steps=300, seed=0):
    """Fit a small MLP to a noisy sine; returns the final training loss."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, (256, 1))
    y = np.sin(X) + 0.05 * rng.standard_normal(X.shape)
    model = nn.MLP([1, 32, 32, 1], activation="tanh", rng=seed, dtype=np.float64)
    opt = make_optimizer(model.parameters())
    for _ in range(steps):
        loss = nn.mse_loss(model(Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def main() -> dict:
    report = check_against_reference(lambda ps: AdaBelief(ps, lr=1e-2), adabelief_reference)
    print(f"AdaBelief vs. the paper's Algorithm 2: {report}")
    losses = {
        "adam": train(lambda ps: Adam(ps, lr=1e-2)),
        "adabelief": train(lambda ps: AdaBelief(ps, lr=1e-2)),
    }
    for name, loss in losses.items():
        print(f"  {name:<10} final training loss on a noisy sine: {loss:.4f}")
    return {"check": report, "losses": losses}


if __name__ == "__main__":
    main()
