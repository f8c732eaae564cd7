"""A small data-parallel training job the distributed tests launch with ``mpiexec``.

    mpiexec -n N python tests/mpi/train_job.py OUT.npz --mode allreduce|ps \
        [--optimizer sgd|plain|adam] [--steps 50] [--batch 8] [--servers 1] \
        [--placement colocated|dedicated] [--backup 0] [--slow-rank R] \
        [--save-at K --ckpt PATH] [--crash-at K] [--resume PATH] [--trace PATH] \
        [--noise-scale] [--lr LR]

Trains an MLP (float64) on generated data with a DistributedOptimizer and, on rank 0,
writes the final parameters (``arr_0..``), the servers' acceptance log, and with
``--backup`` every worker's gradient and the parameters before every step, to OUT.npz.
:func:`run_single` trains the same model in one process with the global batch — the
reference the distributed run must equal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from tinygrad_opt import nn, optim
from tinygrad_opt.data import make_regression
from tinygrad_opt.distributed import DistributedSampler


def build(optimizer: str, lr: float | None = None):
    X, y = make_regression(n_samples=512, n_features=6, noise=0.1, rng=3)
    y = (y - y.mean()) / y.std()
    model = nn.MLP([6, 16, 16, 1], activation="tanh", rng=1, dtype=np.float64)
    if optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.05 if lr is None else lr, momentum=0.9)
    elif optimizer == "plain":
        opt = optim.SGD(model.parameters(), lr=0.05 if lr is None else lr)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-2 if lr is None else lr, weight_decay=1e-3)
    return X, y.reshape(-1, 1), model, opt


def loss_of(model, X, y, idx):
    return nn.functional.mse_loss(model(X[idx]), y[idx])


def run_single(optimizer: str, steps: int, global_batch: int) -> list[np.ndarray]:
    """One process, batch ``global_batch``: the parameters after ``steps`` steps."""
    X, y, model, opt = build(optimizer)
    sampler = DistributedSampler(len(X), global_batch, seed=5)
    for _, idx in zip(range(steps), sampler):
        opt.zero_grad()
        loss_of(model, X, y, idx).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mode", default="allreduce")
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=5, help="the sampler's shuffling seed")
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--placement", default="colocated")
    ap.add_argument("--backup", type=int, default=0)
    ap.add_argument("--slow-rank", type=int, default=-1)
    ap.add_argument("--save-at", type=int, default=-1)
    ap.add_argument("--ckpt", default="")
    ap.add_argument("--crash-at", type=int, default=-1)
    ap.add_argument("--resume", default="")
    ap.add_argument("--trace", default="")
    ap.add_argument("--noise-scale", action="store_true")
    ap.add_argument("--prescale", action="store_true", help="dopt.backward(loss)")
    args = ap.parse_args()

    from tinygrad_opt import distributed as dist

    X, y, model, opt = build(args.optimizer, args.lr)
    try:  # every rank must start with the same data order and batch size
        ctx = dist.init(timeout=60, config={"seed": args.seed, "batch": args.batch})
    except dist.SetupMismatchError as e:  # raised on every rank: each says so, then all stop
        print(f"train_job: error: {e}", file=sys.stderr, flush=True)
        dist.get_context().comm.Barrier()
        return 2
    dist.broadcast_parameters(model)
    dopt = dist.DistributedOptimizer(
        opt, mode=args.mode, servers=args.servers, placement=args.placement,
        backup_workers=args.backup, noise_scale=args.noise_scale,
    )  # fmt: skip
    sampler = DistributedSampler(
        len(X), args.batch, rank=max(dopt.worker_rank, 0), world_size=dopt.num_workers,
        seed=args.seed,
    )  # fmt: skip
    if args.resume:
        from tinygrad_opt.train import CheckpointError

        try:
            dist.load_checkpoint(args.resume, model, dopt, sampler)  # sets dopt.steps
        except CheckpointError as e:  # raised on every rank: each says so, then all stop
            print(f"train_job: error (rank {ctx.rank}): {e}", file=sys.stderr, flush=True)
            ctx.comm.Barrier()
            return 2
    grads, before = [], []
    if dopt.is_server and not dopt.is_worker:
        dopt.serve()
    else:
        while dopt.steps < args.steps:  # a late backup worker may skip steps
            step = dopt.steps
            if step == args.save_at:
                dist.save_checkpoint(args.ckpt, model, dopt, sampler, step)
            if step == args.crash_at:
                os._exit(17)
            idx = _next(sampler)
            dopt.zero_grad()
            if args.prescale:
                dopt.backward(loss_of(model, X, y, idx))
            else:
                loss_of(model, X, y, idx).backward()
            if ctx.rank == args.slow_rank:
                time.sleep(0.03)
            if args.backup:
                before.append(np.concatenate([p.data.ravel() for p in model.parameters()]))
                grads.append(
                    np.concatenate([[step], *[p.grad.ravel() for p in model.parameters()]])
                )
            dopt.step()
        dopt.close()
    dopt.gather_parameters()
    accepted = ctx.comm.gather(dopt.accepted, root=0)
    all_grads = ctx.comm.gather(np.array(grads), root=0)
    if args.trace:
        dopt.trace.write(args.trace, ctx)
    noise = None
    if args.noise_scale:
        dopt.local_batch_size = args.batch
        noise = dopt.noise_scale()
    if ctx.rank == 0:
        extra = {}
        if args.backup:
            # grads_r: rank r's [step, gradient...] rows; before[s]: parameters before step s
            extra = {f"grads_{r}": g for r, g in enumerate(all_grads)}
            extra["before"] = np.array(before)
        np.savez(
            args.out,
            *[p.data for p in model.parameters()],
            accepted=json.dumps(accepted),
            noise=np.array(np.nan if noise is None else noise),
            **extra,
        )
    return 0


_ITERS: dict[int, object] = {}


def _next(sampler: DistributedSampler) -> np.ndarray:
    """The next batch of ``sampler`` (one iterator per sampler, resuming its state)."""
    it = _ITERS.get(id(sampler))
    if it is None:
        it = _ITERS[id(sampler)] = iter(sampler)
    return next(it)  # type: ignore[call-overload]


if __name__ == "__main__":
    sys.exit(main())
