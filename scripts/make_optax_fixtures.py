"""Regenerate ``tests/fixtures/optax_*.npz``: reference trajectories computed by Optax.

Run it in an environment with optax and jax (not a dependency of this package)::

    python -m venv /tmp/optaxenv && /tmp/optaxenv/bin/pip install optax jax jaxlib numpy
    /tmp/optaxenv/bin/python scripts/make_optax_fixtures.py [--check]

jax runs in float64 (``jax_enable_x64``). Each file holds a fixed gradient sequence
(standard normal, fixed seed, ``STEPS`` steps, shared by every case of the file) and,
per case, the initial parameters and the parameters after the steps listed in
``steps`` (a subsample, to keep each file small):

    grads/<i>              (STEPS, *shape_i)  gradient of parameter i at each step
    steps                  (n,)               1-based step numbers saved
    cases                  JSON: [{"name", "cls", "kwargs", "optax", "lr_change"}]
    <name>/init/<i>        initial value of parameter i
    <name>/traj/<i>        (n, *shape_i)      parameter i after each saved step

``cls``/``kwargs`` say which of our classes must reproduce the case (the tests read
them); ``lr_change`` = [k, f] means the learning rate is multiplied by f from step k+1
on (Optax: ``piecewise_constant_schedule(lr, {k: f})``; ours: ``group["lr"]`` changed
between steps). ``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, jax_x64, random_problem  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SHAPES = [(3, 4), (5,)]
STEPS = 200
SAVED = sorted({1, 2, 3, 4, 5, *range(10, STEPS + 1, 10)})


def _cases() -> dict[str, list[dict]]:
    """file stem -> cases. ``make`` builds the Optax transformation from a learning rate
    (a float or a schedule); ``zero`` starts parameter 1 at zero (trust ratio = 1)."""
    import optax

    sched = [100, 0.25]

    def lion(**kw):
        return lambda lr: optax.lion(lr, **kw)

    def lamb(**kw):
        return lambda lr: optax.lamb(lr, **kw)

    def lars(**kw):
        return lambda lr: optax.lars(lr, **kw)

    return {
        "optax_lion": [
            dict(
                name="basic",
                cls="Lion",
                lr=3e-3,
                kwargs=dict(weight_decay=0.0),
                make=lion(weight_decay=0.0),
                optax="lion(3e-3, weight_decay=0)",
            ),
            dict(
                name="decay",
                cls="Lion",
                lr=1e-3,
                kwargs=dict(betas=[0.95, 0.98], weight_decay=0.5),
                make=lion(b1=0.95, b2=0.98, weight_decay=0.5),
                optax="lion(1e-3, b1=0.95, b2=0.98, weight_decay=0.5)",
            ),
            dict(
                name="schedule",
                cls="Lion",
                lr=3e-3,
                kwargs=dict(weight_decay=0.1),
                make=lion(weight_decay=0.1),
                lr_change=sched,
                optax="lion(piecewise_constant_schedule(3e-3, {100: 0.25}), weight_decay=0.1)",
            ),
        ],
        "optax_lamb": [
            dict(
                name="basic",
                cls="LAMB",
                lr=1e-2,
                kwargs={},
                make=lamb(),
                zero=True,
                optax="lamb(1e-2); parameter 1 starts at 0",
            ),
            dict(
                name="decay",
                cls="LAMB",
                lr=5e-3,
                kwargs=dict(betas=[0.8, 0.99], eps=1e-4, weight_decay=0.1),
                make=lamb(b1=0.8, b2=0.99, eps=1e-4, weight_decay=0.1),
                optax="lamb(5e-3, b1=0.8, b2=0.99, eps=1e-4, weight_decay=0.1)",
            ),
            dict(
                name="schedule",
                cls="LAMB",
                lr=1e-2,
                kwargs=dict(weight_decay=0.01),
                make=lamb(weight_decay=0.01),
                lr_change=sched,
                optax="lamb(piecewise_constant_schedule(1e-2, {100: 0.25}), weight_decay=0.01)",
            ),
        ],
        "optax_lars": [
            dict(
                name="basic",
                cls="LARS",
                lr=1.0,
                kwargs={},
                make=lars(),
                zero=True,
                optax="lars(1.0); parameter 1 starts at 0",
            ),
            dict(
                name="nesterov",
                cls="LARS",
                lr=0.5,
                kwargs=dict(
                    weight_decay=1e-2, trust_coefficient=0.02, eps=1e-3, momentum=0.8, nesterov=True
                ),
                make=lars(
                    weight_decay=1e-2, trust_coefficient=0.02, eps=1e-3, momentum=0.8, nesterov=True
                ),
                optax="lars(0.5, weight_decay=1e-2, trust_coefficient=0.02, eps=1e-3, "
                "momentum=0.8, nesterov=True)",
            ),
            dict(
                name="no_momentum",
                cls="LARS",
                lr=1.0,
                kwargs=dict(momentum=0.0),
                make=lars(momentum=0.0),
                optax="lars(1.0, momentum=0.0)",
            ),
            dict(
                name="schedule",
                cls="LARS",
                lr=1.0,
                kwargs=dict(weight_decay=1e-3),
                make=lars(weight_decay=1e-3),
                lr_change=sched,
                optax="lars(piecewise_constant_schedule(1.0, {100: 0.25}), weight_decay=1e-3)",
            ),
        ],
        "optax_textbook": [
            # Alg. 8.5: Optax's rmsprop puts eps inside the root by default.
            dict(
                name="rmsprop",
                cls="TextbookRMSProp",
                lr=1e-2,
                kwargs=dict(rho=0.9, eps=1e-6),
                make=lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-6),
                optax="rmsprop(1e-2, decay=0.9, eps=1e-6)",
            ),
            dict(
                name="rmsprop_b",
                cls="TextbookRMSProp",
                lr=3e-3,
                kwargs=dict(rho=0.5, eps=1e-2),
                make=lambda lr: optax.rmsprop(lr, decay=0.5, eps=1e-2),
                optax="rmsprop(3e-3, decay=0.5, eps=1e-2)",
            ),
            # Alg. 8.6 in the look-ahead variable: trace after the lr, nesterov.
            dict(
                name="rmsprop_nesterov",
                cls="TextbookRMSPropNesterov",
                lr=1e-2,
                kwargs=dict(rho=0.9, momentum=0.9, eps=0.0),
                make=lambda lr: optax.rmsprop(lr, decay=0.9, eps=0.0, momentum=0.9, nesterov=True),
                optax="rmsprop(1e-2, decay=0.9, eps=0, momentum=0.9, nesterov=True)",
            ),
            dict(
                name="rmsprop_nesterov_b",
                cls="TextbookRMSPropNesterov",
                lr=3e-3,
                kwargs=dict(rho=0.7, momentum=0.5, eps=1e-4),
                make=lambda lr: optax.rmsprop(lr, decay=0.7, eps=1e-4, momentum=0.5, nesterov=True),
                lr_change=sched,
                optax="rmsprop(piecewise_constant_schedule(3e-3, {100: 0.25}), decay=0.7, "
                "eps=1e-4, momentum=0.5, nesterov=True)",
            ),
            # Alg. 8.7
            dict(
                name="adam",
                cls="TextbookAdam",
                lr=1e-2,
                kwargs={},
                make=lambda lr: optax.adam(lr),
                optax="adam(1e-2)",
            ),
            # Alg. 8.2 / 8.3 with a learning-rate change: lr scaling *before* the trace.
            dict(
                name="momentum_schedule",
                cls="TextbookMomentum",
                lr=1e-2,
                kwargs=dict(momentum=0.9),
                make=lambda lr: optax.chain(
                    optax.scale_by_learning_rate(lr), optax.trace(decay=0.9)
                ),
                lr_change=sched,
                optax="chain(scale_by_learning_rate(piecewise_constant_schedule(1e-2, "
                "{100: 0.25})), trace(0.9))",
            ),
            dict(
                name="nesterov_schedule",
                cls="TextbookNesterov",
                lr=1e-2,
                kwargs=dict(momentum=0.9),
                make=lambda lr: optax.chain(
                    optax.scale_by_learning_rate(lr), optax.trace(decay=0.9, nesterov=True)
                ),
                lr_change=sched,
                optax="chain(scale_by_learning_rate(piecewise_constant_schedule(1e-2, "
                "{100: 0.25})), trace(0.9, nesterov=True))",
            ),
        ],
    }


def _run(case: dict, params0: list[np.ndarray], grads: list[np.ndarray]) -> list[np.ndarray]:
    import jax.numpy as jnp
    import optax

    lr = case["lr"]
    if case.get("lr_change"):
        k, f = case["lr_change"]
        lr = optax.piecewise_constant_schedule(lr, {k: f})
    opt = case["make"](lr)
    params = [jnp.asarray(p) for p in params0]
    state = opt.init(params)
    traj: list[list[np.ndarray]] = [[] for _ in params0]
    for t in range(1, STEPS + 1):
        g = [jnp.asarray(gs[t - 1]) for gs in grads]
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        if t in SAVED:
            for i, p in enumerate(params):
                traj[i].append(np.asarray(p, dtype=np.float64))
    return [np.stack(x) for x in traj]


def build(stem: str, cases: list[dict], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    grads, init = random_problem(rng, SHAPES, STEPS)
    data: dict[str, np.ndarray] = {f"grads/{i}": g for i, g in enumerate(grads)}
    data["steps"] = np.array(SAVED)
    meta = []
    for case in cases:
        params0 = [p.copy() for p in init]
        if case.get("zero"):
            params0[1] = np.zeros_like(params0[1])
        for i, p in enumerate(params0):
            data[f"{case['name']}/init/{i}"] = p
        for i, tr in enumerate(_run(case, params0, grads)):
            data[f"{case['name']}/traj/{i}"] = tr
        meta.append({k: case.get(k) for k in ("name", "cls", "kwargs", "optax", "lr_change")})
        meta[-1]["kwargs"] = dict(case["kwargs"], lr=case["lr"])
    import optax

    data["cases"] = np.array(json.dumps(meta))
    data["optax_version"] = np.array(optax.__version__)
    return data


def main() -> int:
    def outputs():  # a generator: _cases() imports optax, after the setup
        for seed, (stem, cases) in enumerate(sorted(_cases().items())):
            yield OUT / f"{stem}.npz", partial(build, stem, cases, seed)

    setup = jax_x64("make_optax_fixtures.py")
    return fixture_main(__doc__, outputs(), setup=setup, skip=("optax_version", "cases"))


if __name__ == "__main__":
    sys.exit(main())
