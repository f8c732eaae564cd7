"""Regenerate ``tests/fixtures/{torch,optax}_muon.npz``: Muon trajectories of torch and Optax.

Needs torch 2.13 and optax 0.2.8 + jax (test oracles, not dependencies)::

    python scripts/make_muon_fixtures.py [--check]

torch runs ``torch.optim.Muon`` with its Newton–Schulz iteration in float64 (its own
function with the ``bfloat16()`` cast removed; see ``tests/optim/test_muon.py``); jax
runs in float64 (``jax_enable_x64``). Each file holds ``CASES`` cases with random
hyperparameters (``random_config`` of the test module, seeded here), each on its own
gradient sequence of ``STEPS`` float64 steps:

    grads/<i>              (STEPS, *shape_i)  gradient of parameter i (shared by the cases)
    steps                  (n,)               1-based step numbers saved
    cases                  JSON: [{"kwargs": our Muon's, "lr_change": [k, f]}]
    <case>/init/<i>        initial value of parameter i
    <case>/traj/<i>        (n, *shape_i)      parameter i after each saved step

``lr_change`` = [k, f]: the learning rate is multiplied by f after step k (torch:
``group["lr"]`` changed; Optax: ``piecewise_constant_schedule``). ``--check`` recomputes
and compares instead of writing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "optim"))

import test_muon as table  # noqa: E402

CASES = 6
SEEDS = {"torch": 1501, "optax": 1502}


def build(ref: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEEDS[ref])
    grads = [rng.standard_normal((table.STEPS, *s)) for s in table.SHAPES]
    steps_grads = [[g[t] for g in grads] for t in range(table.STEPS)]
    data: dict[str, np.ndarray] = {f"grads/{i}": g for i, g in enumerate(grads)}
    data["steps"] = np.array(table.SAVED)
    cases = []
    run = table.torch_trajectory if ref == "torch" else table.optax_trajectory
    for c in range(CASES):
        config = table.random_config(rng, ref)
        if c == 0:  # the reference's defaults, once
            config["kwargs"] = dict(lr=0.02, variant=ref, maximize=False)
            if ref == "optax":
                config["kwargs"].update(
                    eps=1e-8, weight_decay=0.0, momentum=0.95, nesterov=True, ns_steps=5,
                    adjust_lr_fn=None, adaptive=False,
                )  # fmt: skip
        init = [rng.standard_normal(s) for s in table.SHAPES]
        traj = run(config, init, steps_grads)
        for i, p in enumerate(init):
            data[f"{c}/init/{i}"] = p
            data[f"{c}/traj/{i}"] = np.stack([traj[t - 1][i] for t in table.SAVED])
        cases.append(config)
    data["cases"] = np.array(json.dumps(cases))
    if ref == "torch":
        import torch

        data["version"] = np.array(torch.__version__)
    else:
        import optax

        data["version"] = np.array(optax.__version__)
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    bad = 0
    for ref in ("torch", "optax"):
        data = build(ref)
        path = table.FIXTURES / f"{ref}_muon.npz"
        if args.check:
            with np.load(path) as old:
                for key, value in data.items():
                    if key in ("version", "cases"):
                        same = key in old and str(old[key]) == str(value)
                    else:
                        same = key in old and np.allclose(old[key], value, rtol=1e-12, atol=0)
                    if not same:
                        print(f"{path.name}: {key} differs")
                        bad += 1
        else:
            np.savez_compressed(path, **data)
            print(f"wrote {path} ({path.stat().st_size} bytes, {CASES} cases)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
