"""Regenerate ``tests/fixtures/optax_sam_lookahead.npz``: SAM and Lookahead run by Optax.

Needs optax and jax (test oracles, not dependencies)::

    python scripts/make_sam_lookahead_fixtures.py [--check]

jax runs in float64 (``jax_enable_x64``). SAM evaluates the gradient at two (or more)
points per step, so the gradients come from a fixed loss rather than a list: for each
parameter θᵢ (shapes ``SHAPES``) and step t,

    L_t(θ) = Σᵢ Σ ( ½·aᵢ·θᵢ² + b_{t,i}·θᵢ + ¼·c·θᵢ⁴ ),   ∇L_t(θ)ᵢ = aᵢ·θᵢ + b_{t,i} + c·θᵢ³

(aᵢ > 0 fixed, b_t a fresh standard-normal "minibatch" term each step, shared by every
gradient evaluation of that step). The file holds:

    a/<i>, b/<i> (STEPS, *shape_i), c      the loss
    steps                                  1-based step numbers saved
    cases                                  JSON: [{"name", "wrapper", "base", "base_kwargs",
                                           "settings", "optax", "opaque", "lr_change"}]
    <name>/init/<i>                        initial value of parameter i
    <name>/traj/<i>   (n, *shape_i)        parameter i after each saved step
    <name>/slow/<i>   (n, *shape_i)        Lookahead only: the slow weights

Hyperparameters are drawn from a seeded generator (every case its own draw, covering
each base, momentum/nesterov, weight decay, ascent_steps 1-3, Optax's opaque and
transparent SAM modes, reset_state, k = 1…7, α in (0, 1]). ``lr_change`` = [k, f]:
the learning rate is multiplied by f from step k+1 on (Optax: a piecewise-constant
schedule of the outer/fast optimizer; ours: ``group["lr"]`` on the wrapper). The test
``tests/optim/test_sam_lookahead.py`` reads the cases and imports :func:`run_optax` and
:func:`draw_case` for its live comparisons. ``--check`` recomputes and compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optax_sam_lookahead.npz"
SHAPES = [(3, 4), (5,), ()]
STEPS = 150
SAVED = sorted({1, 2, 3, 4, 5, 6, 7, *range(10, STEPS + 1, 10)})
BASES = ("sgd", "adam", "adamw", "lion")


# --------------------------------------------------------------------------- the loss
def make_problem(seed: int, steps: int = STEPS) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "a": [rng.uniform(0.5, 2.0, s) for s in SHAPES],
        "b": [0.5 * rng.standard_normal((steps, *s)) for s in SHAPES],
        "c": 0.1,
    }


def gradient(problem: dict[str, Any], params: list[Any], t: int) -> list[Any]:
    """∇L_t at ``params`` (numpy or jax arrays alike)."""
    c = problem["c"]
    return [a * p + b[t] + c * p**3 for p, a, b in zip(params, problem["a"], problem["b"])]


def loss(problem: dict[str, Any], params: list[Any], t: int) -> float:
    c = problem["c"]
    return float(
        sum(
            (0.5 * a * p**2 + b[t] * p + 0.25 * c * p**4).sum()
            for p, a, b in zip(params, problem["a"], problem["b"])
        )
    )


# --------------------------------------------------------------------------- the cases
def draw_case(rng: np.random.Generator, wrapper: str, name: str) -> dict[str, Any]:
    """Random hyperparameters for one case (ours and Optax's from the same draw)."""
    base = str(rng.choice(BASES))
    kw: dict[str, Any] = {}
    if base == "sgd":
        kw["lr"] = float(rng.uniform(0.01, 0.1))
        if rng.random() < 0.7:
            kw["momentum"] = float(rng.uniform(0.5, 0.95))
            kw["nesterov"] = bool(rng.random() < 0.5)
    elif base in ("adam", "adamw"):
        kw["lr"] = float(rng.uniform(1e-3, 3e-2))
        kw["betas"] = [float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.9999))]
        kw["eps"] = float(10 ** rng.uniform(-8, -3))
        if base == "adamw":
            kw["weight_decay"] = float(rng.uniform(0.0, 0.2))
    else:
        kw["lr"] = float(rng.uniform(1e-4, 3e-3))
        kw["betas"] = [float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))]
        kw["weight_decay"] = float(rng.choice([0.0, rng.uniform(0.0, 0.5)]))
    case: dict[str, Any] = {"name": name, "wrapper": wrapper, "base": base, "base_kwargs": kw}
    if wrapper == "sam":
        case["settings"] = {
            "rho": float(rng.uniform(0.01, 0.3)),
            "perturb_eps": 0.0,  # Optax's normalize() has none
            "ascent_steps": int(rng.integers(1, 4)),
        }
        case["opaque"] = bool(rng.random() < 0.5)
        reset = False
    else:
        reset = bool(rng.random() < 0.4)
        case["settings"] = {
            "k": int(rng.integers(1, 8)),
            "alpha": 1.0 if rng.random() < 0.15 else float(rng.uniform(0.05, 0.95)),
            "reset_state": reset,
        }
    # Optax's schedule counts the base's own steps, which reset_state restarts
    case["lr_change"] = (
        [int(rng.integers(20, STEPS - 20)), float(rng.choice([0.25, 0.5, 2.0]))]
        if not reset and rng.random() < 0.5
        else None
    )
    case["optax"] = describe(case)
    return case


def describe(case: dict[str, Any]) -> str:
    kw = ", ".join(f"{k}={v}" for k, v in case["base_kwargs"].items())
    s = ", ".join(f"{k}={v}" for k, v in case["settings"].items())
    extra = f", opaque_mode={case['opaque']}" if case["wrapper"] == "sam" else ""
    return f"{case['wrapper']}({s}{extra}) over {case['base']}({kw}), lr_change={case['lr_change']}"


def cases(seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = [draw_case(rng, "sam", f"sam{i}") for i in range(8)]
    out += [draw_case(rng, "lookahead", f"lookahead{i}") for i in range(8)]
    return out


# --------------------------------------------------------------------------- Optax
def _outer(case: dict[str, Any]):
    import optax

    kw = case["base_kwargs"]
    lr: Any = kw["lr"]
    if case["lr_change"]:
        k, f = case["lr_change"]
        lr = optax.piecewise_constant_schedule(kw["lr"], {k: f})
    base = case["base"]
    if base == "sgd":
        return optax.sgd(lr, momentum=kw.get("momentum"), nesterov=kw.get("nesterov", False))
    if base == "adam":
        return optax.adam(lr, b1=kw["betas"][0], b2=kw["betas"][1], eps=kw["eps"])
    if base == "adamw":
        b1, b2 = kw["betas"]
        return optax.adamw(lr, b1=b1, b2=b2, eps=kw["eps"], weight_decay=kw["weight_decay"])
    b1, b2 = kw["betas"]
    return optax.lion(lr, b1=b1, b2=b2, weight_decay=kw["weight_decay"])


def run_optax(
    case: dict[str, Any], problem: dict[str, Any], params0: list[np.ndarray], steps: int
) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]] | None]:
    """Optax's trajectory (parameters after each step; Lookahead: also the slow ones)."""
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    jproblem = {
        "a": [jnp.asarray(a) for a in problem["a"]],
        "b": [jnp.asarray(b) for b in problem["b"]],
        "c": problem["c"],
    }
    outer = _outer(case)
    params = [jnp.asarray(p) for p in params0]
    traj: list[list[np.ndarray]] = []
    if case["wrapper"] == "sam":
        s = case["settings"]
        adv = optax.chain(optax.contrib.normalize(), optax.sgd(s["rho"]))
        n = s["ascent_steps"] + 1
        opt = optax.contrib.sam(outer, adv, sync_period=n, opaque_mode=case["opaque"])
        state = opt.init(params)

        def grad_at(p, t):
            return gradient(jproblem, p, t)

        if case["opaque"]:

            @jax.jit
            def step(params, state, t):
                g = grad_at(params, t)
                u, state = opt.update(g, state, params, grad_fn=lambda p, _: grad_at(p, t))
                return optax.apply_updates(params, u), state
        else:

            @jax.jit
            def step(params, state, t):
                for _ in range(n):
                    u, state = opt.update(grad_at(params, t), state, params)
                    params = optax.apply_updates(params, u)
                return params, state

        for t in range(steps):
            params, state = step(params, state, t)
            traj.append([np.asarray(p) for p in params])
        return traj, None
    s = case["settings"]
    opt = optax.lookahead(
        outer, sync_period=s["k"], slow_step_size=s["alpha"], reset_state=s["reset_state"]
    )
    lp = optax.LookaheadParams.init_synced(params)
    state = opt.init(lp)

    @jax.jit
    def lstep(lp, state, t):
        u, state = opt.update(gradient(jproblem, lp.fast, t), state, lp)
        return optax.apply_updates(lp, u), state

    slow: list[list[np.ndarray]] = []
    for t in range(steps):
        lp, state = lstep(lp, state, t)
        traj.append([np.asarray(p) for p in lp.fast])
        slow.append([np.asarray(p) for p in lp.slow])
    return traj, slow


# --------------------------------------------------------------------------- the file
def build(seed: int = 0) -> dict[str, np.ndarray]:
    problem = make_problem(seed)
    out: dict[str, np.ndarray] = {"c": np.array(problem["c"]), "steps": np.array(SAVED)}
    for i, (a, b) in enumerate(zip(problem["a"], problem["b"])):
        out[f"a/{i}"] = a
        out[f"b/{i}"] = b
    rng = np.random.default_rng(seed + 1)
    all_cases = cases(seed)
    for case in all_cases:
        params0 = [rng.standard_normal(s) for s in SHAPES]
        traj, slow = run_optax(case, problem, params0, STEPS)
        for i, p in enumerate(params0):
            out[f"{case['name']}/init/{i}"] = p
            out[f"{case['name']}/traj/{i}"] = np.stack([traj[k - 1][i] for k in SAVED])
            if slow is not None:
                out[f"{case['name']}/slow/{i}"] = np.stack([slow[k - 1][i] for k in SAVED])
    out["cases"] = np.array(json.dumps(all_cases))
    return out


def main() -> int:
    return fixture_main(__doc__, [(OUT, build)], json_keys=("cases",))


if __name__ == "__main__":
    sys.exit(main())
