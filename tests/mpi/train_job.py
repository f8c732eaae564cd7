"""A small data-parallel training job the distributed tests launch with ``mpiexec``.

    mpiexec -n N python tests/mpi/train_job.py OUT.npz --mode allreduce|ps \
        [--optimizer sgd|adam] [--steps 50] [--batch 8] [--servers 1] \
        [--placement colocated|dedicated] [--backup 0] [--single]

Trains an MLP (float64) on generated data with a DistributedOptimizer and, on rank 0,
writes the final parameters, the losses and the servers' acceptance log to OUT.npz.
``--single`` instead trains the same model in one process with the global batch
(N_workers × batch) — the reference the distributed run must equal.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from tinygrad_opt import nn, optim
from tinygrad_opt.data import make_regression
from tinygrad_opt.distributed import DistributedSampler


def build(args: argparse.Namespace):
    X, y = make_regression(n_samples=512, n_features=6, noise=0.1, rng=3)
    model = nn.MLP([6, 16, 16, 1], activation="tanh", rng=1, dtype=np.float64)
    if args.optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    y = (y - y.mean()) / y.std()
    return X, y.reshape(-1, 1), model, opt


def loss_of(model, X, y, idx):
    return nn.functional.mse_loss(model(X[idx]), y[idx])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mode", default="allreduce")
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--placement", default="colocated")
    ap.add_argument("--backup", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0, help="--single: number of workers")
    ap.add_argument("--single", action="store_true")
    args = ap.parse_args()
    X, y, model, opt = build(args)
    if args.single:
        sampler = DistributedSampler(len(X), args.batch * args.workers, seed=5)
        losses = []
        for _, idx in zip(range(args.steps), sampler):
            opt.zero_grad()
            loss = loss_of(model, X, y, idx)
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
        np.savez(args.out, *[p.data for p in model.parameters()], losses=np.array(losses))
        return 0

    from tinygrad_opt import distributed as dist

    ctx = dist.init(timeout=60)
    dist.broadcast_parameters(model)
    dopt = dist.DistributedOptimizer(
        opt, mode=args.mode, servers=args.servers, placement=args.placement,
        backup_workers=args.backup,
    )  # fmt: skip
    if dopt.is_server and not dopt.is_worker:
        dopt.serve()
    else:
        sampler = DistributedSampler(
            len(X), args.batch, rank=dopt.worker_rank, world_size=dopt.num_workers, seed=5
        )
        grads = []
        for _, idx in zip(range(args.steps), sampler):
            dopt.zero_grad()
            loss_of(model, X, y, idx).backward()
            if args.backup:
                grads.append(np.concatenate([p.grad.ravel() for p in model.parameters()]))
            dopt.step()
        dopt.close()
    dopt.gather_parameters()
    accepted = ctx.comm.gather(dopt.accepted, root=0)
    if ctx.rank == 0:
        np.savez(
            args.out,
            *[p.data for p in model.parameters()],
            accepted=json.dumps(accepted),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
