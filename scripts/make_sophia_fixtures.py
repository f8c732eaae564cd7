"""Regenerate ``tests/fixtures/sophiaopt_sophia.npz`` and ``tests/fixtures/optax_sophia.npz``.

Reference trajectories of Sophia, for ``tests/optim/test_sophia.py`` (which runs without
the references installed). Needs ``sophia-opt`` 0.2.2 with torch, and optax 0.2.8 with
jax::

    python scripts/make_sophia_fixtures.py [--check]

Both run in float64 (torch.float64; ``jax_enable_x64``), ``STEPS`` steps on parameters
of shapes ``SHAPES``, with hyperparameters drawn from a seeded generator (a fixed list of
cases). Each file holds

    grads/<i>             (STEPS, *shape_i)  the gradient of parameter i at each step
    steps                 (n,)               1-based step numbers saved
    cases                 JSON list of cases (hyperparameters, schedule, see below)
    <name>/init/<i>       initial value of parameter i
    <name>/traj/<i>       (n, *shape_i)      parameter i after each saved step
    version               the reference's version

``sophiaopt_sophia.npz`` (``sophia_opt.SophiaG``): also ``hgrads/<i>`` (STEPS, *shape_i),
the sampled-label gradients ĝ. After step t (1-based), when t % k == 0, ĝ of step t goes
into ``.grad`` and ``update_hessian()`` runs; with ``pre`` also once before step 1 (with
the last row of ``hgrads``). ``bs`` is passed to every ``step(bs=...)``;
``groups`` splits the parameters into groups with their own hyperparameters.

``optax_sophia.npz`` (``optax.contrib.sophia``, Hutchinson): the step's gradient is
``grads``; the Hessian is that of the deterministic ``objective`` below at the current
parameters (the test writes the same function with our Tensor ops); ``<name>/probes/<i>``
(r, *shape_i) int8 holds the Rademacher probes Optax drew at its r refreshes (read from
its state's key exactly as ``hutchinson_estimator_diag_hessian`` splits it), and
``<name>/probe_steps`` the 1-based steps they were used at.

``lr_change`` = [k, f]: the learning rate is multiplied by f from step k + 1 on.
``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, jax_x64, random_problem  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SHAPES = [(3, 4), (5,), ()]
STEPS = 200
SAVED = sorted({1, 2, 3, 4, 5, *range(10, STEPS + 1, 10)})


def objective(xp, params):
    """The deterministic loss whose Hessian Sophia-H estimates (xp: jax.numpy)."""
    a, b, c = params
    return (
        0.25 * xp.sum(a**4)
        + xp.sum(xp.log(1.0 + xp.exp(b)))
        + 0.1 * (xp.sum(a) * xp.sum(b)) ** 2
        + c**2 * xp.sum(b**2)
        + c**4
    )


# --------------------------------------------------------------------------- cases
def sophiag_cases(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n in range(6):
        hp = dict(
            lr=float(10 ** rng.uniform(-3.5, -1.5)),
            betas=[float(rng.uniform(0.8, 0.99)), float(rng.uniform(0.9, 0.999))],
            rho=float(10 ** rng.uniform(-3, -0.5)),
            weight_decay=float(rng.choice([0.0, 10 ** rng.uniform(-3, 0)])),
            maximize=bool(n % 3 == 1),
        )
        case = dict(
            name=f"g{n}",
            kwargs=hp,
            bs=int(rng.integers(1, 64)),
            k=int(rng.choice([1, 2, 5, 10])),
            pre=bool(n % 2),
            lr_change=[100, float(rng.uniform(0.1, 2.0))] if n % 2 == 0 else None,
            groups=None,
        )
        if n >= 4:  # two groups with their own lr and rho
            case["groups"] = [
                {"params": [0], "lr": float(10 ** rng.uniform(-3, -2))},
                {"params": [1, 2], "rho": float(10 ** rng.uniform(-2, 0))},
            ]
        cases.append(case)
    return cases


def sophiah_cases(rng: np.random.Generator) -> list[dict]:
    cases = []
    for n in range(5):
        hp = dict(
            lr=float(10 ** rng.uniform(-3, -1.5)),
            betas=[float(rng.uniform(0.8, 0.99)), float(rng.uniform(0.9, 0.999))],
            eps=float(10 ** rng.uniform(-10, -3)),
            weight_decay=float(rng.choice([0.0, 10 ** rng.uniform(-4, -1)])),
            gamma=float(10 ** rng.uniform(-3, 0)),
            clip_threshold=None if n == 3 else float(rng.uniform(0.3, 2.0)),
            update_interval=int(rng.choice([1, 2, 3, 10])),
        )
        if hp["clip_threshold"] is None:  # no clip: only the floor ε bounds the step
            hp["eps"] = float(rng.uniform(0.5, 2.0))
        cases.append(
            dict(
                name=f"h{n}",
                kwargs=hp,
                key=int(rng.integers(0, 1000)),
                lr_change=[100, float(rng.uniform(0.1, 2.0))] if n % 2 == 0 else None,
            )
        )
    return cases


# --------------------------------------------------------------------------- references
def run_sophiag(case: dict, init: list, grads: list, hgrads: list) -> list[np.ndarray]:
    import sophia_opt
    import torch

    params = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in init]
    if case["groups"]:
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [params[i] for i in g["params"]],
            }
            for g in case["groups"]
        ]
    else:
        groups = params
    kw = dict(case["kwargs"], betas=tuple(case["kwargs"]["betas"]))
    opt = sophia_opt.SophiaG(groups, **kw)

    def feed(rows: list, t: int) -> None:
        for p, h in zip(params, rows):
            p.grad = torch.tensor(h[t].copy())

    if case["pre"]:
        feed(hgrads, STEPS - 1)
        opt.update_hessian()
    traj: list[list[np.ndarray]] = [[] for _ in init]
    for t in range(1, STEPS + 1):
        if case["lr_change"] and t == case["lr_change"][0] + 1:
            for g in opt.param_groups:
                g["lr"] *= case["lr_change"][1]
        feed(grads, t - 1)
        opt.step(bs=case["bs"])
        if t % case["k"] == 0:
            feed(hgrads, t - 1)
            opt.update_hessian()
        if t in SAVED:
            for i, p in enumerate(params):
                traj[i].append(p.detach().numpy().copy())
    return [np.stack(x) for x in traj]


def run_sophiah(case: dict, init: list, grads: list):
    import jax
    import jax.numpy as jnp
    import optax

    hp = dict(case["kwargs"])
    lr = hp.pop("lr")
    b1, b2 = hp.pop("betas")
    if case["lr_change"]:
        k, f = case["lr_change"]
        lr = optax.piecewise_constant_schedule(lr, {k: f})
    tx = optax.contrib.sophia(
        lr,
        b1=b1,
        b2=b2,
        hessian_diagonal_fn=optax.contrib.hutchinson_estimator_diag_hessian(
            jax.random.PRNGKey(case["key"])
        ),
        **hp,
    )
    params = [jnp.asarray(p) for p in init]
    state = tx.init(params)

    def obj(ps):
        return objective(jnp, ps)

    update = jax.jit(lambda g, s, p: tx.update(g, s, p, obj_fn=obj))
    traj: list[list[np.ndarray]] = [[] for _ in init]
    probes: list[list[np.ndarray]] = [[] for _ in init]
    probe_steps = []
    interval = case["kwargs"]["update_interval"]
    for t in range(1, STEPS + 1):
        if (t - 1) % interval == 0:  # Optax refreshes when its count (t - 1) % k == 0
            _, sub = jax.random.split(state[0].hessian_fn_state.key)
            signs = optax.tree.random_like(sub, params, jax.random.rademacher, dtype=jnp.float32)
            for i, u in enumerate(signs):
                probes[i].append(np.asarray(u).astype(np.int8))
            probe_steps.append(t)
        g = [jnp.asarray(x[t - 1]) for x in grads]
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
        if t in SAVED:
            for i, p in enumerate(params):
                traj[i].append(np.asarray(p, dtype=np.float64))
    return [np.stack(x) for x in traj], [np.stack(x) for x in probes], np.array(probe_steps)


# --------------------------------------------------------------------------- files
def build_sophiag() -> dict[str, np.ndarray]:
    from importlib.metadata import version

    import sophia_opt  # noqa: F401

    rng = np.random.default_rng(15)
    grads = [rng.standard_normal((STEPS, *s)) for s in SHAPES]
    hgrads = [rng.standard_normal((STEPS, *s)) for s in SHAPES]
    init = [rng.standard_normal(s) for s in SHAPES]
    cases = sophiag_cases(rng)
    data = {f"grads/{i}": g for i, g in enumerate(grads)}
    data.update({f"hgrads/{i}": g for i, g in enumerate(hgrads)})
    data["steps"] = np.array(SAVED)
    for case in cases:
        for i, p in enumerate(init):
            data[f"{case['name']}/init/{i}"] = p
        for i, tr in enumerate(run_sophiag(case, init, grads, hgrads)):
            data[f"{case['name']}/traj/{i}"] = tr
    data["cases"] = np.array(json.dumps(cases))
    data["version"] = np.array(version("sophia-opt"))
    return data


def build_sophiah() -> dict[str, np.ndarray]:
    import optax

    rng = np.random.default_rng(16)
    grads, init = random_problem(rng, SHAPES, STEPS)
    cases = sophiah_cases(rng)
    data = {f"grads/{i}": g for i, g in enumerate(grads)}
    data["steps"] = np.array(SAVED)
    for case in cases:
        name = case["name"]
        traj, probes, probe_steps = run_sophiah(case, init, grads)
        for i, p in enumerate(init):
            data[f"{name}/init/{i}"] = p
            data[f"{name}/traj/{i}"] = traj[i]
            data[f"{name}/probes/{i}"] = probes[i]
        data[f"{name}/probe_steps"] = probe_steps
    data["cases"] = np.array(json.dumps(cases))
    data["version"] = np.array(optax.__version__)
    return data


def main() -> int:
    outputs = [
        (OUT / "sophiaopt_sophia.npz", build_sophiag),
        (OUT / "optax_sophia.npz", build_sophiah),
    ]
    setup = jax_x64("make_sophia_fixtures.py", "sophia-opt, torch, optax, jax", "sophia_opt")
    return fixture_main(__doc__, outputs, setup=setup, skip=("version", "cases"))


if __name__ == "__main__":
    sys.exit(main())
