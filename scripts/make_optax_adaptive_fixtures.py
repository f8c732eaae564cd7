"""Regenerate ``tests/fixtures/optax_adaptive.npz``: ADOPT, AdEMAMix, Adan, Yogi and
AdaBelief trajectories computed by Optax 0.2.8, with random hyperparameters.

Run it where optax and jax are installed (not dependencies of this package)::

    python scripts/make_optax_adaptive_fixtures.py [--check]

jax runs in float64. The file holds one gradient sequence (standard normal, ``STEPS``
steps, shapes ``SHAPES``) and, per case, the initial parameters and the parameters after
the steps listed in ``steps``:

    grads/<i>              (STEPS, *shape_i)  gradient of parameter i at each step
    steps                  (n,)               1-based step numbers saved
    cases                  JSON: [{"name", "cls", "kwargs", "lr_change"}]
    <name>/init/<i>        initial value of parameter i
    <name>/traj/<i>        (n, *shape_i)      parameter i after each saved step

``kwargs`` are our class's arguments (drawn by :func:`draw`); :func:`optax_reference`
builds the Optax transformation that must agree with them. ``lr_change`` = [k, f]: the
learning rate is multiplied by f from step k+1 on (Optax:
``piecewise_constant_schedule(lr, {k: f})``; ours: ``group["lr"]`` changed between
steps). ``maximize`` cases feed Optax the negated gradients. The live tests in
``tests/optim/test_optax_adaptive.py`` import :func:`draw`, :func:`optax_reference` and
:func:`run_optax` from here. ``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, jax_x64, log_uniform, random_problem  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optax_adaptive.npz"
SHAPES = [(3, 4), (5,), ()]
STEPS = 200
SAVED = sorted({1, 2, 3, 4, 5, *range(10, STEPS + 1, 10)})
METHODS = ("ADOPT", "AdEMAMix", "Adan", "Yogi", "AdaBelief")
CASES_PER_METHOD = 4
SEED = 15

#: Boolean options of each method; the fixture cases cover each both ways.
FLAGS = {
    "ADOPT": ("maximize", "decay", "decoupled_weight_decay", "nesterov", "clip"),
    "AdEMAMix": ("maximize", "decay", "schedule", "eps_root"),
    "Adan": ("maximize", "decay", "eps_root"),
    "Yogi": ("maximize", "decay"),
    "AdaBelief": ("maximize", "decay", "nesterov", "eps_root"),
}


def draw(method: str, rng: np.random.Generator, flags: dict[str, bool] | None = None) -> dict:
    """Random hyperparameters for ``method`` (our keyword arguments, JSON-friendly).

    ``flags`` fixes the boolean options (names in :data:`FLAGS`); missing ones are drawn.
    """
    f = {name: bool(rng.integers(2)) for name in FLAGS[method]}
    f.update(flags or {})
    kw: dict = {"lr": log_uniform(rng, 1e-3, 5e-2), "maximize": f["maximize"]}
    kw["weight_decay"] = log_uniform(rng, 1e-3, 0.3) if f["decay"] else 0.0
    if method == "ADOPT":
        kw["betas"] = [rng.uniform(0.5, 0.99), rng.uniform(0.9, 0.9999)]
        kw["eps"] = log_uniform(rng, 1e-8, 1e-2)
        kw["decoupled_weight_decay"] = f["decoupled_weight_decay"]
        kw["nesterov"] = f["nesterov"]
        kw["clip_exponent"] = rng.uniform(0.1, 0.5) if f["clip"] else None
    elif method == "AdEMAMix":
        kw["betas"] = [rng.uniform(0.5, 0.99), rng.uniform(0.9, 0.9999), rng.uniform(0.99, 0.9999)]
        kw["alpha"] = rng.uniform(0.0, 8.0)
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
        kw["eps_root"] = log_uniform(rng, 1e-12, 1e-4) if f["eps_root"] else 0.0
        kw["t_alpha_beta3"] = int(rng.integers(20, 300)) if f["schedule"] else None
    elif method == "Adan":
        kw["betas"] = [rng.uniform(0.8, 0.99), rng.uniform(0.8, 0.99), rng.uniform(0.9, 0.999)]
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
        kw["eps_root"] = log_uniform(rng, 1e-12, 1e-4) if f["eps_root"] else 0.0
    elif method == "Yogi":
        kw["betas"] = [rng.uniform(0.5, 0.99), rng.uniform(0.9, 0.9999)]
        kw["eps"] = log_uniform(rng, 1e-6, 1e-2)
        kw["initial_accumulator_value"] = log_uniform(rng, 1e-8, 1e-2)
    elif method == "AdaBelief":
        kw["betas"] = [rng.uniform(0.5, 0.99), rng.uniform(0.9, 0.9999)]
        kw["eps"] = log_uniform(rng, 1e-16, 1e-6)
        kw["eps_root"] = log_uniform(rng, 1e-16, 1e-6) if f["eps_root"] else 0.0
        kw["nesterov"] = f["nesterov"]
    else:
        raise ValueError(f"unknown method {method!r}")
    kw["betas"] = [float(b) for b in kw["betas"]]
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in kw.items()}


def optax_reference(method: str, kw: dict, lr_change: list | None = None):
    """The Optax 0.2.8 transformation our ``method(**kw)`` must reproduce (``maximize``
    aside: feed it negated gradients)."""
    import jax.numpy as jnp
    import optax

    lr = kw["lr"]
    if lr_change:
        lr = optax.piecewise_constant_schedule(lr, {lr_change[0]: lr_change[1]})
    wd = kw["weight_decay"]
    step = optax.scale_by_learning_rate(lr)
    if method == "ADOPT":
        b1, b2 = kw["betas"]
        c = kw["clip_exponent"]
        scale = optax.contrib.scale_by_adopt(
            b1,
            b2,
            kw["eps"],
            nesterov=kw["nesterov"],
            use_clipping=c is not None,
            clip_value_fn=(lambda n: n**c) if c is not None else (lambda n: n),
        )
        if kw["decoupled_weight_decay"]:
            return optax.chain(scale, optax.add_decayed_weights(wd), step)
        return optax.chain(optax.add_decayed_weights(wd), scale, step)
    if method == "AdEMAMix":
        b1, b2, b3 = kw["betas"]
        alpha, period = kw["alpha"], kw["t_alpha_beta3"]
        if period is not None:  # the paper's schedules at t = n + 1 (Optax passes n = t - 1)
            log1, log3 = math.log(b1), math.log(b3)
            b3_final, alpha_final = b3, alpha

            # (jnp's int32 / int is float32: make the count a float64 first)
            def alpha(n):
                t = jnp.asarray(n, jnp.float64) + 1
                return jnp.minimum(t * alpha_final / period, alpha_final)

            def b3(n):
                frac = (jnp.asarray(n, jnp.float64) + 1) / period
                return jnp.minimum(
                    jnp.exp(log1 * log3 / ((1.0 - frac) * log3 + frac * log1)), b3_final
                )

        return optax.contrib.ademamix(
            lr, b1, b2, b3, alpha, kw["eps"], kw["eps_root"], weight_decay=wd
        )
    if method == "Adan":
        b1, b2, b3 = kw["betas"]
        return optax.adan(lr, b1, b2, b3, kw["eps"], kw["eps_root"], weight_decay=wd)
    if method == "Yogi":
        b1, b2 = kw["betas"]
        scale = optax.scale_by_yogi(
            b1, b2, kw["eps"], initial_accumulator_value=kw["initial_accumulator_value"]
        )
        return optax.chain(optax.add_decayed_weights(wd), scale, step)
    if method == "AdaBelief":
        b1, b2 = kw["betas"]
        scale = optax.scale_by_belief(b1, b2, kw["eps"], kw["eps_root"], nesterov=kw["nesterov"])
        return optax.chain(scale, optax.add_decayed_weights(wd), step)
    raise ValueError(f"unknown method {method!r}")


def run_optax(method, kw, lr_change, params0, grads, saved=None):
    """Parameters after each step (or the steps in ``saved``), as float64 numpy arrays:
    ``traj[i]`` has shape (steps, *shape_i). ``grads[i]`` is (steps, *shape_i)."""
    import jax
    import jax.numpy as jnp
    import optax

    opt = optax_reference(method, kw, lr_change)
    update = jax.jit(opt.update)
    sign = -1.0 if kw["maximize"] else 1.0
    params = [jnp.asarray(p) for p in params0]
    state = opt.init(params)
    steps = len(grads[0])
    traj: list[list[np.ndarray]] = [[] for _ in params0]
    for t in range(1, steps + 1):
        g = [jnp.asarray(sign * gs[t - 1]) for gs in grads]
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
        if saved is None or t in saved:
            for i, p in enumerate(params):
                traj[i].append(np.asarray(p, dtype=np.float64))
    return [np.stack(x) for x in traj]


def _case_flags(method: str, i: int) -> dict[str, bool]:
    """Flags of case i: bit j of i (shifted per flag), so each flag is on in some cases
    and off in others."""
    names = FLAGS[method]
    return {name: bool(((i + j // 2) >> (j % 2)) & 1) for j, name in enumerate(names)}


def build() -> dict[str, np.ndarray]:
    import optax

    rng = np.random.default_rng(SEED)
    grads, init = random_problem(rng, SHAPES, STEPS)
    data: dict[str, np.ndarray] = {f"grads/{i}": g for i, g in enumerate(grads)}
    data["steps"] = np.array(SAVED)
    meta = []
    for method in METHODS:
        for i in range(CASES_PER_METHOD):
            kw = draw(method, rng, _case_flags(method, i))
            lr_change = [100, float(rng.uniform(0.1, 3.0))]
            name = f"{method.lower()}_{i}"
            for j, p in enumerate(init):
                data[f"{name}/init/{j}"] = p
            for j, tr in enumerate(run_optax(method, kw, lr_change, init, grads, set(SAVED))):
                data[f"{name}/traj/{j}"] = tr
            meta.append({"name": name, "cls": method, "kwargs": kw, "lr_change": lr_change})
    data["cases"] = np.array(json.dumps(meta))
    data["optax_version"] = np.array(optax.__version__)
    return data


def main() -> int:
    setup = jax_x64("make_optax_adaptive_fixtures.py")
    return fixture_main(__doc__, [(OUT, build)], setup=setup, skip=("optax_version", "cases"))


if __name__ == "__main__":
    sys.exit(main())
