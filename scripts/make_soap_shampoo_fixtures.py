"""Regenerate ``tests/fixtures/pytorch_optimizer_soap_shampoo.npz``: SOAP and Shampoo
trajectories computed by ``pytorch_optimizer`` 4.1.0 (torch, float64).

    python scripts/make_soap_shampoo_fixtures.py [--check]

The file holds one gradient sequence (standard normal, ``STEPS`` steps) for parameters
of shapes ``SHAPES`` (a matrix, a vector, a 3-D and a 4-D tensor, a scalar), the initial
parameters, and per case (random hyperparameters drawn from a fixed seed):

    cases                    JSON: [{"name", "cls", "kwargs", "lr_change", "pin"}]
    steps                    (n,) 1-based step numbers saved
    <name>/traj/<i>          (n, *shape_i) parameter i after each saved step
    <name>/Q0/<i>/<j>        SOAP: the reference's first eigenbasis of dimension j of
                             parameter i (absent: no basis there; <name>/Q0/<i>/n: how
                             many dimensions the reference keeps for parameter i)

``kwargs`` are our class's arguments; ``lr_change`` = [k, f]: the learning rate is
multiplied by f from step k+1 on (``group["lr"]`` in both). The test also imports this
module for its live comparisons (``config``, ``run_reference``).

Two things are pinned so that float64 runs agree to rounding (``docs/optimizers.md``):

* SOAP's QR step: the reference casts the power-iteration product to float32 before
  ``torch.linalg.qr``; :func:`float64_qr` runs it with ``torch.float32`` meaning float64
  (a stand-in for the ``torch`` module inside ``pytorch_optimizer.optimizer.soap``).
* SOAP's first eigenbasis (``pin``): a statistic of rank below its size (L = G·Gᵀ of an
  8 × 6 gradient; g·gᵀ of a vector) has a degenerate null space whose eigenvectors
  ``eigh`` picks by rounding noise (MKL in torch, OpenBLAS in numpy pick differently),
  and Adam in the rotated basis depends on that choice. The reference's first bases are
  saved and given to ours after its first step. Later bases come from QR steps, which
  are determined (up to signs, which SOAP's update does not see) once the statistic has
  rank ≥ d - 1: SOAP cases use a precondition_frequency large enough for that
  (:func:`min_frequency`; e.g. ≥ 3 when the 5-vector is preconditioned).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_io import fixture_main  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
FILE = OUT / "pytorch_optimizer_soap_shampoo.npz"
SHAPES = [(8, 6), (5,), (3, 4, 2), (4, 3, 2, 2), ()]
STEPS = 120
SAVED = sorted({1, 2, 3, 5, 8, 12, 20, 40, 60, 61, 90, 120})
LR_CHANGE = [60, 0.5]
VERSION = "4.1.0"


# --------------------------------------------------------------------------- configurations
def config(rng: np.random.Generator, cls: str, pin: bool = True, **fixed) -> dict:
    """Random hyperparameters for our ``cls`` ("SOAP" or "Shampoo") over every option
    (``fixed``: SOAP's ``merge_dims`` / ``precondition_1d`` given instead of drawn)."""
    lr = float(10 ** rng.uniform(-3, -1.5))
    change = LR_CHANGE if rng.random() < 0.5 else None
    if cls == "Shampoo":
        kw = dict(
            lr=lr,
            momentum=float(rng.uniform(0.1, 0.9)) if rng.random() < 0.5 else 0.0,
            weight_decay=float(rng.uniform(0, 0.1)) if rng.random() < 0.6 else 0.0,
            weight_decouple=bool(rng.random() < 0.5),
            fixed_decay=bool(rng.random() < 0.3),
            preconditioning_compute_steps=int(rng.integers(1, 6)),
            # ε ≥ 1e-2: a statistic's ε-eigenvalues carry rounding noise of ~1e-16·‖L‖,
            # which λ^(-1/2k) turns into a relative error of ~1e-16·‖L‖/ε (SVD vs eigh).
            matrix_eps=float(10 ** rng.uniform(-2, 0)),
            maximize=bool(rng.random() < 0.3),
        )
        kw.update(fixed)
        return dict(cls=cls, kwargs=kw, lr_change=change, pin=False)
    merge = fixed.get("merge_dims", bool(rng.random() < 0.4))
    pre1d = fixed.get("precondition_1d", bool(rng.random() < 0.4))
    kw = dict(
        lr=lr,
        betas=[float(rng.uniform(0.5, 0.99)), float(rng.uniform(0.8, 0.999))],
        shampoo_beta=float(rng.uniform(0.6, 0.99)) if rng.random() < 0.5 else None,
        eps=float(10 ** rng.uniform(-10, -6)),
        weight_decay=float(rng.uniform(0, 0.1)) if rng.random() < 0.6 else 0.0,
        precondition_frequency=int(rng.integers(3 if pre1d else 1, 11)),
        # merged: ≥ 2 dimensions remain (pytorch_optimizer fails on a full merge)
        max_precond_dim=int(rng.integers(8, 24)) if merge else int(rng.choice([100, 7, 5, 3])),
        merge_dims=merge,
        precondition_1d=pre1d,
        normalize_grads=bool(rng.random() < 0.3),
        data_format=str(rng.choice(["channels_first", "channels_last"])),
        correct_bias=bool(rng.random() < 0.7),
        maximize=bool(rng.random() < 0.3),
    )
    kw.update(fixed)
    kw["precondition_frequency"] = max(kw["precondition_frequency"], min_frequency(kw))
    return dict(cls=cls, kwargs=kw, lr_change=change, pin=pin)


def min_frequency(kw: dict) -> int:
    """The smallest precondition_frequency f whose first QR step (at t = f, after f + 1
    gradients) sees statistics of rank ≥ d - 1 for every d × d statistic of ``SHAPES``
    (a d-sized dimension of a tensor of n values gains ≤ n/d rank per gradient)."""
    from tinygrad_opt.optim.preconditioner import merged_shape

    need = 1
    for shape in SHAPES:
        if len(shape) == 1 and not kw["precondition_1d"]:
            continue
        work = shape
        if kw["merge_dims"] and len(shape) >= 2:
            if kw["data_format"] == "channels_last" and len(shape) == 4:
                work = (shape[0], shape[3], shape[1], shape[2])
            work = merged_shape(work, kw["max_precond_dim"])
        n = int(np.prod(shape))
        for d in work:
            if 1 < d <= kw["max_precond_dim"]:
                need = max(need, -(-(d - 1) * d // n) - 1)
    return need


def cases() -> list[dict]:
    rng = np.random.default_rng(15)
    chosen = [  # options drawn at random, and these fixed for coverage
        dict(merge_dims=False, precondition_1d=True, max_precond_dim=100),
        dict(merge_dims=False, precondition_1d=False, max_precond_dim=100),
        dict(merge_dims=True, precondition_1d=True, data_format="channels_last"),
        dict(merge_dims=True, precondition_1d=False, normalize_grads=True),
    ]
    out = [dict(name=f"soap_{i}", **config(rng, "SOAP", **kw)) for i, kw in enumerate(chosen)]
    # full-rank statistics only (the matrix's 8-sized side unpreconditioned): no pinning
    plain = config(rng, "SOAP", pin=False)
    plain["kwargs"].update(max_precond_dim=7, merge_dims=False, precondition_1d=False)
    out.append(dict(name="soap_unpinned", **plain))
    momenta = [dict(momentum=0.0), {}, dict(momentum=0.5, maximize=True)]
    out += [dict(name=f"shampoo_{i}", **config(rng, "Shampoo", **m)) for i, m in enumerate(momenta)]
    return out


# --------------------------------------------------------------------------- the reference
@contextlib.contextmanager
def float64_qr() -> Iterator[None]:
    """Inside: ``pytorch_optimizer``'s SOAP does its QR step in float64, not float32
    (and torch runs on one thread: tiny matrices, 20x faster on a busy machine)."""
    import torch
    from pytorch_optimizer.optimizer import soap

    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    class Torch64:
        float32 = torch.float64

        def __getattr__(self, name: str):
            return getattr(torch, name)

    saved = soap.torch
    soap.torch = Torch64()
    try:
        yield
    finally:
        soap.torch = saved
        torch.set_num_threads(threads)


def param_groups(case: dict, params: list) -> list[dict]:
    """With ``merge_dims``, vectors and scalars go to a group without it: merging leaves
    them as they are in the authors' code, but ``pytorch_optimizer`` fails on them (its
    ``merge_small_dims`` turns (5,) into [1])."""
    if not case["kwargs"].get("merge_dims"):
        return [{"params": list(params)}]
    return [
        {"params": [p for p in params if p.ndim >= 2]},
        {"params": [p for p in params if p.ndim < 2], "merge_dims": False},
    ]


def reference_optimizer(case: dict, params: list) -> tuple[object, bool]:
    """The ``pytorch_optimizer`` optimizer for ``case`` and whether the gradients must be
    negated by the caller (instead of its ``maximize``: see the Shampoo docstring)."""
    import pytorch_optimizer as po

    kw = dict(case["kwargs"])
    if case["cls"] == "SOAP":
        kw["max_precondition_dim"] = kw.pop("max_precond_dim")
        kw["normalize_gradient"] = kw.pop("normalize_grads")
        kw["betas"] = tuple(kw["betas"])
        return po.SOAP(param_groups(case, params), **kw), False
    negate = kw["maximize"] and kw["momentum"] > 0  # its buffer starts un-negated
    if negate:
        kw["maximize"] = False
    return po.Shampoo(params, **kw), negate


def run_reference(
    case: dict, params0: list[np.ndarray], grads: list[list[np.ndarray]]
) -> tuple[list[list[np.ndarray]], list[list[np.ndarray | None]]]:
    """The reference's trajectory (parameters after every step) and, for SOAP, its first
    eigenbases (per parameter, per dimension; None where it keeps none)."""
    import torch

    params = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
    opt, negate = reference_optimizer(case, params)
    traj, bases = [], []
    with float64_qr():
        for t, step_grads in enumerate(grads, start=1):
            if case["lr_change"] and t == case["lr_change"][0] + 1:
                for group in opt.param_groups:
                    group["lr"] *= case["lr_change"][1]
            for p, g in zip(params, step_grads):
                p.grad = torch.tensor(-g if negate else g.copy())
            opt.step()
            traj.append([p.detach().numpy().copy() for p in params])
            if t == 1 and case["cls"] == "SOAP":
                bases = [
                    [m.numpy().copy() if len(m) else None for m in opt.state[p]["Q"]]
                    for p in params
                ]
    return traj, bases


def problem() -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    rng = np.random.default_rng(2409)
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    init = [rng.standard_normal(s) for s in SHAPES]
    return init, grads


def build() -> dict[str, np.ndarray]:
    from importlib.metadata import version

    assert version("pytorch_optimizer") == VERSION, version("pytorch_optimizer")
    init, grads = problem()
    data: dict[str, np.ndarray] = {"steps": np.array(SAVED), "version": np.array(VERSION)}
    for i in range(len(SHAPES)):
        data[f"init/{i}"] = init[i]
        data[f"grads/{i}"] = np.stack([g[i] for g in grads])
    meta = cases()
    for case in meta:
        traj, bases = run_reference(case, init, grads)
        name = case["name"]
        for i in range(len(SHAPES)):
            data[f"{name}/traj/{i}"] = np.stack([traj[t - 1][i] for t in SAVED])
        for i, per_param in enumerate(bases):
            data[f"{name}/Q0/{i}/n"] = np.array(len(per_param))
            for j, q in enumerate(per_param):
                if q is not None:
                    data[f"{name}/Q0/{i}/{j}"] = q
    data["cases"] = np.array(json.dumps(meta))
    return data


def main() -> int:
    return fixture_main(__doc__, [(FILE, build)], atol=1e-14)


if __name__ == "__main__":
    sys.exit(main())
