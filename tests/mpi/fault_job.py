"""A small data-parallel job that goes wrong on purpose, for the fault-handling tests.

    mpiexec [-disable-auto-cleanup] -n N python tests/mpi/fault_job.py \
        [--mode allreduce|ps] [--steps 20] [--timeout 5] \
        [--fault crash|hang|raise --rank R --step S] \
        [--fault-file PATH] [--mismatch layer|lr --rank R] [--no-broadcast] \
        [--sleep SECONDS] [--tag ANY]

Trains an MLP on generated data with ``dist.init(timeout=...)``. ``--fault`` strikes rank
R in the compute of step S (before its ``dopt.step()``): ``crash`` ends the process
with ``os._exit(9)``, ``hang`` sleeps 1000 s, ``raise`` raises a RuntimeError; just
before, it writes the wall-clock time to ``--fault-file`` (so a test can time how long
the job takes to end after the fault). ``--sleep`` adds that much compute time to
every step of every rank.
``--mismatch`` builds a different model (``layer``: hidden width 17 instead of 16) or
optimizer (``lr``: 0.1 instead of 0.05) on rank R. ``--no-broadcast`` skips
``broadcast_parameters`` (so the DistributedOptimizer's set-up check is what meets a
mismatch). ``--tag`` is ignored: tests put a unique string there to find stray processes.
A run without a fault prints nothing and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from tinygrad_opt import distributed as dist
from tinygrad_opt import nn, optim


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="allreduce")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--fault", choices=["crash", "hang", "raise"], default=None)
    ap.add_argument("--mismatch", choices=["layer", "lr"], default=None)
    ap.add_argument("--rank", type=int, default=1)
    ap.add_argument("--step", type=int, default=5)
    ap.add_argument("--fault-file", default=None)
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--no-broadcast", action="store_true")
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    ctx = dist.init(timeout=args.timeout or None)  # 0: TINYGRAD_OPT_TIMEOUT decides
    odd = ctx.rank == args.rank
    hidden = 17 if odd and args.mismatch == "layer" else 16
    lr = 0.1 if odd and args.mismatch == "lr" else 0.05
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 6))
    y = X @ rng.standard_normal((6, 1)) + 0.1 * rng.standard_normal((256, 1))
    model = nn.MLP([6, hidden, 1], activation="tanh", rng=1, dtype=np.float64)
    if not args.no_broadcast:
        dist.broadcast_parameters(model)
    dopt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=lr), mode=args.mode)
    sampler = dist.DistributedSampler(
        len(X), 8, rank=dopt.worker_rank, world_size=dopt.num_workers, seed=0
    )
    for _, idx in zip(range(args.steps), sampler):
        dopt.zero_grad()
        nn.functional.mse_loss(model(X[idx]), y[idx]).backward()
        if args.sleep:
            time.sleep(args.sleep)
        if odd and args.fault and dopt.steps == args.step:
            if args.fault_file:
                with open(args.fault_file, "w") as f:
                    f.write(repr(time.time()))
            if args.fault == "crash":
                os._exit(9)
            elif args.fault == "hang":
                time.sleep(1000)
            elif args.fault == "raise":
                raise RuntimeError(f"injected failure on rank {ctx.rank}")
        dopt.step()
    dopt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
