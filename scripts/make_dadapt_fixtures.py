"""Regenerate ``tests/fixtures/{prodigyopt,dadaptation}_dadapt.npz``: reference runs of the
authors' ``prodigyopt`` 1.1.2 (``Prodigy``) and ``dadaptation`` 3.2 (``DAdaptAdam``,
``DAdaptSGD``), in torch float64.

Run it where torch, prodigyopt and dadaptation are installed (test oracles only)::

    python scripts/make_dadapt_fixtures.py [--check]

Each case is a random configuration (seeded) of one method on four parameters of shapes
``SHAPES`` in two groups (params 0-1 and 2-3, the second with its own hyperparameters),
run for ``STEPS`` steps on a noisy separable quadratic, so the gradients depend on the
trajectory (fixed gradients would be a linear loss, whose d grows without bound):

    g_t = sign·(h ⊙ (θ_t - θ*)) + noise_t        (per parameter; sign = -1 when maximizing)

The package has no ``maximize``: it is given -g_t. At step ``lr_change[0] + 1`` every
group's lr is multiplied by ``lr_change[1]``; with ``freeze`` = k, group 1's lr is 0 from
step k + 1 on (the packages allow a group lr of 0 only). Keys:

    h/<i>, target/<i>, noise/<i> (STEPS, *shape), init/<i>     shared by the cases
    steps                          (n,)  1-based step numbers saved
    cases                          JSON: [{"name", "cls", "kwargs", "group1", "lr_change",
                                           "freeze", "zero", "sign"}]
    <name>/traj/<i>                (n, *shape_i) parameter i after each saved step
    <name>/d                       (n,)  the d estimate (group 0) after each saved step

``zero``: parameter 2 starts at exactly 0 (Prodigy then keeps θ0 as one 0).
``--check`` recomputes and compares instead of writing.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main, require  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SHAPES = [(4, 3), (5,), (7,), ()]
STEPS = 200
SAVED = sorted({1, 2, 3, 5, *range(10, STEPS + 1, 10)})
CASES = 8  # per method


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(10 ** rng.uniform(math.log10(lo), math.log10(hi)))


def _prodigy(rng: np.random.Generator, i: int) -> tuple[dict, dict]:
    """Flags cycle through every combination's parts; numbers are random."""
    kw = dict(
        lr=float(rng.uniform(0.3, 2.0)),
        betas=[
            0.0 if i % 4 == 3 else float(rng.uniform(0.5, 0.95)),
            float(rng.uniform(0.9, 0.999)),
        ],
        beta3=None if i % 2 == 0 else float(rng.uniform(0.5, 0.99)),
        eps=_log_uniform(rng, 1e-8, 1e-3),
        weight_decay=0.0 if i % 3 == 0 else _log_uniform(rng, 1e-3, 1e-1),
        decouple=bool(i % 2),
        use_bias_correction=i in (1, 2, 5, 6),
        safeguard_warmup=i in (2, 3, 6),
        d0=_log_uniform(rng, 1e-7, 1e-4),
        d_coef=float(rng.uniform(0.5, 2.0)),
        growth_rate=math.inf if i % 3 == 1 else float(rng.uniform(1.01, 1.5)),
        slice_p=[1, 1, 2, 3][i % 4],
        maximize=i in (3, 4, 7),
    )
    group1 = dict(
        eps=_log_uniform(rng, 1e-8, 1e-3),
        weight_decay=float(rng.uniform(0.0, 0.1)),
        safeguard_warmup=i % 2 == 0,
        slice_p=[2, 1, 4, 1][i % 4],
    )
    if i % 4 == 2:
        group1["d0"] = kw["d0"] * 2  # "d = d0" compares with the last group's d0
    return kw, group1


def _adam(rng: np.random.Generator, i: int) -> tuple[dict, dict]:
    kw = dict(
        lr=float(rng.uniform(0.3, 2.0)),
        betas=[float(rng.uniform(0.0, 0.95)), float(rng.uniform(0.9, 0.999))],
        eps=_log_uniform(rng, 1e-8, 1e-3),
        weight_decay=0.0 if i % 3 == 0 else _log_uniform(rng, 1e-3, 1e-1),
        decouple=bool(i % 2),
        use_bias_correction=i in (1, 2, 5, 6),
        d0=_log_uniform(rng, 1e-7, 1e-4),
        growth_rate=math.inf if i % 3 == 1 else float(rng.uniform(1.01, 1.5)),
        maximize=i in (3, 4, 7),
    )
    group1 = dict(
        eps=_log_uniform(rng, 1e-8, 1e-3),
        weight_decay=float(rng.uniform(0.0, 0.1)),
        layer_scale=float(rng.uniform(0.3, 3.0)),
    )
    return kw, group1


def _sgd(rng: np.random.Generator, i: int) -> tuple[dict, dict]:
    kw = dict(
        lr=float(rng.uniform(0.2, 0.8)),  # larger: dual averaging overshoots this quadratic
        momentum=0.0 if i % 2 == 0 else float(rng.uniform(0.5, 0.95)),
        weight_decay=0.0 if i % 3 == 0 else _log_uniform(rng, 1e-3, 1e-1),
        d0=_log_uniform(rng, 1e-7, 1e-4),
        growth_rate=math.inf if i % 3 == 1 else float(rng.uniform(1.01, 1.5)),
        maximize=i in (3, 4, 7),
    )
    # the package reads everything but lr from group 0: group 1's own values are ignored
    group1 = dict(weight_decay=float(rng.uniform(0.0, 0.1)), momentum=0.5)
    return kw, group1


DRAWS = {"Prodigy": _prodigy, "DAdaptAdam": _adam, "DAdaptSGD": _sgd}


def draw_case(cls: str, rng: np.random.Generator, i: int) -> dict:
    """Configuration ``i`` (0-7: which flags are on) of method ``cls``, numbers from ``rng``."""
    kw, group1 = DRAWS[cls](rng, i)
    return dict(
        name=f"{cls}_{i}",
        cls=cls,
        kwargs=kw,
        group1=group1,
        lr_change=[100, float(rng.uniform(0.2, 0.8))],
        # not with Prodigy's β1 = 0 (i = 3, 7): the package still steps a frozen group by
        # g/(√r + dδ) on a frozen r, an unstable oscillation that amplifies rounding
        freeze=150 if i in (1, 2, 5, 6) else None,
        zero=i % 4 == 1,
    )


def _cases(seed: int) -> dict[str, list[dict]]:
    rng = np.random.default_rng(seed)
    out: dict[str, list[dict]] = {"prodigyopt_dadapt": [], "dadaptation_dadapt": []}
    for cls, stem in (
        ("Prodigy", "prodigyopt_dadapt"),
        ("DAdaptAdam", "dadaptation_dadapt"),
        ("DAdaptSGD", "dadaptation_dadapt"),
    ):
        out[stem] += [draw_case(cls, rng, i) for i in range(CASES)]
    return out


def problem(seed: int) -> dict[str, np.ndarray]:
    """The shared quadratic: curvatures h, minimiser θ*, noise, start."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, s in enumerate(SHAPES):
        data[f"h/{i}"] = rng.uniform(0.5, 2.0, s)
        data[f"target/{i}"] = rng.standard_normal(s)
        data[f"noise/{i}"] = 0.1 * rng.standard_normal((STEPS, *s))
        data[f"init/{i}"] = rng.standard_normal(s)
    return data


def _reference(case: dict) -> type:
    if case["cls"] == "Prodigy":
        from prodigyopt import Prodigy

        return Prodigy
    import dadaptation

    return getattr(dadaptation, case["cls"])


def run_reference(
    case: dict, data: dict[str, np.ndarray], saved: list[int] = SAVED
) -> tuple[list[np.ndarray], np.ndarray]:
    """The package's run of ``case``: (trajectories at the ``saved`` steps, d there)."""
    import torch

    n = len(SHAPES)
    init = [data[f"init/{i}"].copy() for i in range(n)]
    if case["zero"]:
        init[2] = np.zeros_like(init[2])
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in init]
    kwargs = {k: v for k, v in case["kwargs"].items() if k != "maximize"}
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    sign = -1.0 if case["kwargs"].get("maximize") else 1.0
    opt = _reference(case)(
        [{"params": params[:2]}, {"params": params[2:], **case["group1"]}], **kwargs
    )
    traj: list[list[np.ndarray]] = [[] for _ in range(n)]
    ds = []
    for t in range(1, STEPS + 1):
        if t == case["lr_change"][0] + 1:
            for group in opt.param_groups:
                group["lr"] *= case["lr_change"][1]
        if case["freeze"] is not None and t == case["freeze"] + 1:
            opt.param_groups[1]["lr"] = 0.0
        for i, p in enumerate(params):
            theta = p.detach().numpy()
            g = sign * (data[f"h/{i}"] * (theta - data[f"target/{i}"])) + data[f"noise/{i}"][t - 1]
            p.grad = torch.tensor(sign * g)  # ours gets g and negates it when maximizing
        opt.step()
        if t in saved:
            for i, p in enumerate(params):
                traj[i].append(p.detach().numpy().copy())
            ds.append(float(opt.param_groups[0]["d"]))
    return [np.stack(x) for x in traj], np.array(ds)


def build(cases: list[dict], seed: int, package: str, version: str) -> dict[str, np.ndarray]:
    data = problem(seed)
    out = dict(data)
    out["steps"] = np.array(SAVED)
    for case in cases:
        traj, ds = run_reference(case, data)
        for i, tr in enumerate(traj):
            out[f"{case['name']}/traj/{i}"] = tr
        out[f"{case['name']}/d"] = ds
    out["cases"] = np.array(json.dumps(cases))
    out["package"] = np.array(f"{package} {version}")
    return out


def main() -> int:
    import contextlib
    import io
    from importlib.metadata import version

    def outputs():
        for seed, (stem, cases) in enumerate(sorted(_cases(0).items())):
            package = stem.split("_")[0]

            def build_quietly(cases=cases, seed=seed, package=package):
                with contextlib.redirect_stdout(io.StringIO()):  # they print on decouple
                    return build(cases, seed + 1, package, version(package))

            yield OUT / f"{stem}.npz", build_quietly

    def setup() -> None:
        needs = "torch, prodigyopt, dadaptation"
        require("make_dadapt_fixtures.py", needs, "dadaptation", "prodigyopt", "torch")

    return fixture_main(__doc__, outputs(), setup=setup, skip=("cases", "package"))


if __name__ == "__main__":
    sys.exit(main())
