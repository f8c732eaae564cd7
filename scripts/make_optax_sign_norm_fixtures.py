"""Regenerate ``tests/fixtures/optax_sign_norm.npz``: Optax trajectories of SignSGD,
Signum, NovoGrad, SM3 and Fromage, with random hyperparameters.

Run it where optax and jax are installed (not dependencies of this package)::

    python scripts/make_optax_sign_norm_fixtures.py [--check]

jax runs in float64 (``jax_enable_x64``). The file holds one gradient sequence
(standard normal, ``STEPS`` steps, shapes ``SHAPES``: a matrix, a vector, a 3-D tensor
and a scalar) and, per case, the initial parameters and the parameters after the steps
in ``steps``:

    grads/<i>              (STEPS, *shape_i)  gradient of parameter i at each step
    steps                  (n,)               1-based step numbers saved
    cases                  JSON: [{"name", "cls", "kwargs", "params", "zero",
                                   "lr_change", "optax"}]
    <name>/init/<i>        initial value of parameter i (i in the case's "params")
    <name>/traj/<i>        (n, *shape_i)      parameter i after each saved step

Hyperparameters are drawn by :func:`draw_kwargs` from a seeded generator, ``CASES`` per
method, with the flags (weight decay, eps_root, momentum 0, min_norm 0, maximize) on in
some cases and off in others. ``kwargs`` are our class's arguments (``maximize=True``:
Optax gets the negated gradients). ``lr_change = [k, f]``: the learning rate is
multiplied by f from step k+1 on (ours: ``group["lr"]`` changed between steps; Optax:
``piecewise_constant_schedule``, or for ``sm3``, which takes no schedule, the chain
rebuilt with the new rate and the old state). ``zero`` lists parameters that start at
0. SM3 skips the scalar (Optax's ``sm3`` raises IndexError on 0-d parameters).

The tests import :func:`draw_kwargs` and :func:`optax_transform` from this file for
their live comparisons. ``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, jax_x64, log_uniform, random_problem  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "optax_sign_norm.npz"
SHAPES = [(3, 4), (5,), (2, 3, 4), ()]
STEPS = 200
CHANGE_AT = 100
SAVED = sorted({1, 2, 3, 4, 5, 99, 100, 101, 102, *range(20, STEPS + 1, 20)})
METHODS = ("SignSGD", "Signum", "NovoGrad", "SM3", "Fromage")
CASES = 4  # per method


def draw_kwargs(cls: str, rng: np.random.Generator, k: int) -> dict[str, Any]:
    """Random hyperparameters for case ``k`` of method ``cls`` (our argument names).

    Odd k turn the optional terms on (weight decay, eps_root; SM3 a non-default eps;
    Fromage min_norm 0 or large), k ≥ 2 maximize; SM3 and Signum use momentum 0 when
    k == 3.
    """
    on = k % 2 == 1
    kw: dict[str, Any] = {"maximize": k >= 2}
    if cls == "SignSGD":
        kw.update(lr=log_uniform(rng, 1e-4, 1e-1))
        kw["weight_decay"] = float(rng.uniform(0.01, 1.0)) if on else 0.0
    elif cls == "Signum":
        kw.update(lr=log_uniform(rng, 1e-4, 1e-1))
        kw["momentum"] = 0.0 if k == 3 else float(rng.uniform(0.0, 0.99))
        kw["weight_decay"] = float(rng.uniform(0.01, 1.0)) if on else 0.0
    elif cls == "NovoGrad":
        kw.update(
            lr=log_uniform(rng, 1e-3, 1e-1),
            betas=[float(rng.uniform(0.0, 0.99)), float(rng.uniform(0.0, 0.999))],
            eps=log_uniform(rng, 1e-8, 1e-2),
        )
        kw["eps_root"] = log_uniform(rng, 1e-8, 1e-1) if on else 0.0
        kw["weight_decay"] = float(rng.uniform(0.0, 0.5)) if on or k == 2 else 0.0
    elif cls == "SM3":
        kw.update(lr=log_uniform(rng, 1e-3, 0.5))
        kw["momentum"] = 0.0 if k == 3 else float(rng.uniform(0.0, 0.99))
        kw["eps"] = log_uniform(rng, 1e-10, 1e-1) if on else 1e-8
    elif cls == "Fromage":
        kw.update(lr=log_uniform(rng, 1e-3, 0.5))
        kw["min_norm"] = [1e-6, 0.0, 1e-6, log_uniform(rng, 0.1, 2.0)][k % 4]
    else:
        raise ValueError(cls)
    return kw


def optax_transform(cls: str, kwargs: dict[str, Any], lr: Any) -> Any:
    """The Optax transformation our ``cls(**kwargs)`` reproduces, with learning rate
    ``lr`` (a number, or a schedule for every method but SM3)."""
    import optax

    kw = kwargs
    if cls == "SignSGD":
        if not kw["weight_decay"]:
            return optax.sign_sgd(lr)
        return optax.chain(
            optax.scale_by_sign(),
            optax.add_decayed_weights(kw["weight_decay"]),
            optax.scale_by_learning_rate(lr),
        )
    if cls == "Signum":
        if not kw["weight_decay"]:
            return optax.signum(lr, beta=kw["momentum"])
        return optax.chain(
            optax.ema(kw["momentum"], debias=False),
            optax.scale_by_sign(),
            optax.add_decayed_weights(kw["weight_decay"]),
            optax.scale_by_learning_rate(lr),
        )
    if cls == "NovoGrad":
        b1, b2 = kw["betas"]
        return optax.novograd(
            lr,
            b1=b1,
            b2=b2,
            eps=kw["eps"],
            eps_root=kw["eps_root"],
            weight_decay=kw["weight_decay"],
        )
    if cls == "SM3":
        if kw["eps"] == 1e-8:
            return optax.sm3(lr, momentum=kw["momentum"])
        return optax.chain(optax.scale_by_sm3(b1=kw["momentum"], eps=kw["eps"]), optax.scale(-lr))
    if cls == "Fromage":
        return optax.fromage(lr, min_norm=kw["min_norm"])
    raise ValueError(cls)


def describe(cls: str, kwargs: dict[str, Any], lr_change: list | None) -> str:
    """A readable one-line account of what Optax ran."""
    hp = ", ".join(
        f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in kwargs.items()
    )
    change = f"; lr x {lr_change[1]:.4g} after step {lr_change[0]}" if lr_change else ""
    return f"{cls} as optax_transform({hp}){change}"


def run_optax(
    cls: str,
    kwargs: dict[str, Any],
    params0: list[np.ndarray],
    grads: list[list[np.ndarray]],
    lr_change: list | None = None,
) -> list[list[np.ndarray]]:
    """Optax's parameters after every step (float64; jax_enable_x64 must be on)."""
    import jax
    import jax.numpy as jnp
    import optax

    lr = kwargs["lr"]
    swap = None
    if lr_change and cls == "SM3":  # sm3 takes no schedule: rebuild with the new rate
        swap = optax_transform(cls, kwargs, lr * lr_change[1])
    elif lr_change:
        lr = optax.piecewise_constant_schedule(lr, {lr_change[0]: lr_change[1]})
    opt = optax_transform(cls, kwargs, lr)
    sign = -1.0 if kwargs.get("maximize") else 1.0
    params = [jnp.asarray(p) for p in params0]
    state = opt.init(params)
    update = jax.jit(opt.update)
    out = []
    for t, step_grads in enumerate(grads, start=1):
        if swap is not None and t == lr_change[0] + 1:
            update = jax.jit(swap.update)
        g = [jnp.asarray(sign * x) for x in step_grads]
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
        out.append([np.asarray(p, dtype=np.float64) for p in params])
    return out


def build(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    grads, init = random_problem(rng, SHAPES, STEPS)
    data: dict[str, np.ndarray] = {f"grads/{i}": g for i, g in enumerate(grads)}
    data["steps"] = np.array(SAVED)
    meta = []
    for cls in METHODS:
        for k in range(CASES):
            name = f"{cls.lower()}_{k}"
            kwargs = draw_kwargs(cls, rng, k)
            idx = [0, 1, 2] if cls == "SM3" else [0, 1, 2, 3]
            zero = [1] if k == 1 else []
            change = [CHANGE_AT, float(rng.uniform(0.1, 3.0))] if k > 0 else None
            params0 = [np.zeros(SHAPES[i]) if i in zero else init[i] for i in idx]
            step_grads = [[grads[i][t] for i in idx] for t in range(STEPS)]
            traj = run_optax(cls, kwargs, params0, step_grads, change)
            for j, i in enumerate(idx):
                data[f"{name}/init/{i}"] = params0[j]
                data[f"{name}/traj/{i}"] = np.stack([traj[t - 1][j] for t in SAVED])
            meta.append(
                dict(
                    name=name,
                    cls=cls,
                    kwargs=kwargs,
                    params=idx,
                    zero=zero,
                    lr_change=change,
                    optax=describe(cls, kwargs, change),
                )
            )
    import optax

    data["cases"] = np.array(json.dumps(meta))
    data["optax_version"] = np.array(optax.__version__)
    return data


def main() -> int:
    setup = jax_x64("make_optax_sign_norm_fixtures.py")
    return fixture_main(
        __doc__, [(OUT, build)], setup=setup, skip=("optax_version",), json_keys=("cases",)
    )


if __name__ == "__main__":
    sys.exit(main())
