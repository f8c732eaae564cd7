"""Regenerate ``tests/fixtures/schedulefree.npz``: trajectories of the authors' package.

Runs ``schedulefree`` 1.4.1's ``SGDScheduleFree`` and ``AdamWScheduleFree`` (torch,
float64) on a fixed gradient sequence, with hyperparameters drawn from a seeded
generator (every option covered: warmup shorter and longer than the run, r > 0,
weight_lr_power 0..3, weight decay, maximize, a learning-rate change mid-run, a second
parameter group with its own lr, a parameter whose first gradient comes late)::

    python scripts/make_schedulefree_fixtures.py [--check]

The file holds (``STEPS`` steps, three parameters of shapes ``SHAPES``):

    grads/<i>              (STEPS, *shape_i)  gradient of parameter i at each step
    init/<i>               initial value of parameter i
    steps                  (n,)  1-based step numbers saved (a subsample)
    cases                  JSON: [{"name", "cls", "kwargs", "ref", "foreach", "lr_change",
                                   "group2_lr", "late", "maximize"}]
    <name>/y/<i>           (n, *shape_i)  parameter i after each saved step (train mode)
    <name>/x/<i>           (n, *shape_i)  the same after ``eval()`` (the average x); the
                           run then calls ``train()`` and goes on, as a training loop
                           that evaluates at those steps does

``kwargs`` are our class's arguments (``cls``); ``ref`` the package's. ``maximize``:
the package has no such flag, it is fed the negated gradients. ``lr_change`` = [k, f]:
every group's lr is multiplied by f before step k+1. ``group2_lr``: parameters 1 and 2
form a second group with this lr. ``late``: parameter 2 has no gradient before step
late+1. ``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, random_problem, require  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "schedulefree.npz"
SHAPES = [(3, 4), (5,), ()]
STEPS = 200
SAVED = sorted({1, 2, 3, 4, 5, *range(10, STEPS + 1, 10)})
CASES_PER_METHOD = 7


def draw_cases(seed: int = 0) -> list[dict]:
    """Random hyperparameters, with the options forced on in turn so each is covered."""
    rng = np.random.default_rng(seed)
    cases = []
    for method in ("sgd", "adamw"):
        for j in range(CASES_PER_METHOD):
            adam = method == "adamw"
            lr = float(10 ** rng.uniform(-3, -1.3) if adam else 10 ** rng.uniform(-2, 0))
            beta = float(rng.uniform(0.5, 0.95))  # below 2/3 too: lerp's other branch
            kw: dict = {"lr": lr}
            if adam:
                kw["betas"] = [beta, float(rng.choice([0.9, 0.99, 0.999, 0.9999]))]
                kw["eps"] = float(10 ** rng.uniform(-10, -4))
            else:
                kw["momentum"] = beta
            kw["weight_decay"] = float(rng.choice([0.0, 10 ** rng.uniform(-4, -1)]))
            kw["warmup_steps"] = int(rng.choice([0, 1, 7, 50, 120, 250]))
            kw["r"] = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
            kw["weight_lr_power"] = float(rng.choice([0.0, 1.0, 2.0, 3.5]))
            maximize = bool(rng.random() < 0.3)
            lr_change = [int(rng.integers(20, 180)), float(rng.choice([0.3, 2.0]))]
            case = {
                "name": f"{method}{j}",
                "cls": "ScheduleFreeAdamW" if adam else "ScheduleFreeSGD",
                "foreach": bool(rng.random() < 0.5),
                "maximize": maximize,
                "lr_change": lr_change if rng.random() < 0.5 else None,
                "group2_lr": float(lr * rng.uniform(0.2, 3.0)) if rng.random() < 0.4 else None,
                "late": int(rng.integers(3, 40)) if rng.random() < 0.3 else 0,
            }
            # make sure every option appears at least once per method
            if j == 0:  # the package's defaults
                kw = {"lr": 0.0025} if adam else {"lr": 1.0}
                case.update(maximize=False, lr_change=None, group2_lr=None, late=0)
            elif j == 1:
                kw.update(warmup_steps=50, r=1.0, weight_lr_power=2.0, weight_decay=1e-2)
            elif j == 2:
                kw.update(warmup_steps=250, r=0.5, weight_lr_power=0.0)
                case.update(maximize=True, lr_change=[100, 0.3])
            elif j == 3:
                kw.update(weight_lr_power=3.5, warmup_steps=1)
                case.update(group2_lr=lr * 2.5, late=17)
            case["kwargs"] = dict(kw, maximize=case["maximize"])
            ref = dict(kw)
            if "betas" in ref:
                ref["betas"] = tuple(ref["betas"])
            case["ref"] = ref
            cases.append(case)
    return cases


def run_package(case: dict, init: list[np.ndarray], grads: list[np.ndarray]) -> dict:
    """The package's trajectory for ``case``: ``{"y": [...], "x": [...]}`` per parameter."""
    import schedulefree
    import torch

    cls = {
        "ScheduleFreeSGD": schedulefree.SGDScheduleFree,
        "ScheduleFreeAdamW": schedulefree.AdamWScheduleFree,
    }[case["cls"]]
    params = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in init]
    if case["group2_lr"] is not None:
        groups = [{"params": params[:1]}, {"params": params[1:], "lr": case["group2_lr"]}]
    else:
        groups = [{"params": params}]
    opt = cls(groups, foreach=case["foreach"], **case["ref"])
    opt.train()
    sign = -1.0 if case["maximize"] else 1.0
    out: dict = {"y": [[] for _ in init], "x": [[] for _ in init]}
    for t in range(1, STEPS + 1):
        if case["lr_change"] and t == case["lr_change"][0] + 1:
            for group in opt.param_groups:
                group["lr"] *= case["lr_change"][1]
        for i, p in enumerate(params):
            late = i == 2 and t <= case["late"]
            p.grad = None if late else torch.tensor(sign * grads[i][t - 1], dtype=torch.float64)
        opt.step()
        if t in SAVED:
            for i, p in enumerate(params):
                out["y"][i].append(p.detach().numpy().copy())
            opt.eval()
            for i, p in enumerate(params):
                out["x"][i].append(p.detach().numpy().copy())
            opt.train()
    return {k: [np.stack(v) for v in per] for k, per in out.items()}


def build(seed: int = 0) -> dict[str, np.ndarray]:
    from importlib.metadata import version

    rng = np.random.default_rng(seed + 100)
    grads, init = random_problem(rng, SHAPES, STEPS)
    data: dict[str, np.ndarray] = {f"grads/{i}": g for i, g in enumerate(grads)}
    data.update({f"init/{i}": p for i, p in enumerate(init)})
    data["steps"] = np.array(SAVED)
    cases = draw_cases(seed)
    for case in cases:
        traj = run_package(case, init, grads)
        for kind in ("y", "x"):
            for i, tr in enumerate(traj[kind]):
                data[f"{case['name']}/{kind}/{i}"] = tr
    data["cases"] = np.array(json.dumps(cases))
    data["schedulefree_version"] = np.array(version("schedulefree"))
    return data


def main() -> int:
    def setup() -> None:
        needs = "schedulefree and torch"
        require("make_schedulefree_fixtures.py", needs, "schedulefree", "torch")

    skip = ("schedulefree_version", "cases")
    return fixture_main(__doc__, [(OUT, build)], setup=setup, skip=skip, atol=1e-14)


if __name__ == "__main__":
    sys.exit(main())
