"""Train the digits MLP data-parallel on MPI ranks: all-reduce or a parameter server.

    mpiexec -n 2 python examples/train_digits_distributed.py                 # all-reduce
    mpiexec -n 3 python examples/train_digits_distributed.py --mode ps --placement dedicated
    mpiexec -n 4 python examples/train_digits_distributed.py --mode ps --backup-workers 1
    tinygrad-opt launch -n 4 examples/train_digits_distributed.py --epochs 10
    python examples/train_digits_distributed.py                              # one rank
    python examples/train_digits_distributed.py --help

The model and data are those of ``examples/train_digits.py``: the 8x8 digits bundled with
scikit-learn (nothing is downloaded), one fixed split of 1,347 training and 450 test
images, an MLP 64 -> 128 -> 10 (ReLU) trained with Adam on the cross-entropy. Here every
rank holds a copy of the model and computes the gradient of its share of each global
batch (``--batch`` examples per worker, ``workers x --batch`` per step);
``DistributedOptimizer`` combines the shares, so the run follows one process trained with
the global batch (see docs/distributed.md). The learning rate is constant, so a run that
is cut short and resumed from its checkpoint ends exactly where an uninterrupted run ends.

Each step's batch is taken from the step number alone (``sampler.local_batch(epoch, i)``
with ``epoch, i = divmod(step, steps_per_epoch)``), so a checkpoint needs nothing but the
step, and a backup worker that the parameter server moves ahead (``dopt.steps`` jumps)
simply takes the batch of its new step.

The first worker (rank 0 unless the servers are dedicated) shows a tqdm bar when stderr
is a terminal and prints a few epoch lines. Rank 0 writes the measured trace (``--trace``;
draw it with ``tinygrad-opt timeline --trace``) and a checkpoint after every epoch
(``--checkpoint``; not with backup workers, whose late members may skip the step at which
the others save), and prints the summary. ``--resume`` continues from the checkpoint if
it exists. The last two lines are always::

    parameters sha256 <first 16 hex digits of the SHA-256 of the final parameters>
    test accuracy 0.9911

With the defaults (20 epochs, batch 16 per worker) 2 ranks reach 0.9911 test accuracy
after 0.31-0.33 s of training, 1.7-1.8 s for the whole ``mpiexec`` command, and 4 ranks
0.9800 after 0.43-0.46 s (3.0-3.1 s), on a 2-core machine over loopback (three runs
each; docs/distributed.md has the table).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinygrad_opt import Tensor, nn, no_grad, optim
from tinygrad_opt.data import load_digits, train_test_split
from tinygrad_opt.distributed.comm import TIMEOUT_ENV

SPLIT_SEED = 0  # the same train/test split as examples/train_digits.py
TEST_SIZE = 0.25


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=("allreduce", "ps"), default="allreduce")
    p.add_argument("--servers", type=int, default=1, help="parameter-server shards (ps)")
    p.add_argument(
        "--placement",
        choices=("colocated", "dedicated"),
        default="colocated",
        help="ps: servers also compute (colocated) or only serve (dedicated)",
    )
    p.add_argument(
        "--backup-workers",
        type=int,
        default=0,
        help="ps, one server: use the first workers-B gradients of each step",
    )
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=16, help="examples per worker per step")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--hidden", type=int, default=128, help="width of the hidden layer")
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for default files")
    p.add_argument(
        "--trace", type=Path, default=None, help="trace JSON (default OUT/digits_trace.json)"
    )
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="checkpoint file (default OUT/digits.ckpt)"
    )
    p.add_argument("--resume", action="store_true", help="go on from --checkpoint if it exists")
    p.add_argument(
        "--noise-scale",
        action="store_true",
        help="allreduce, >= 2 ranks: print the gradient noise scale B_simple",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a rank may wait for a lost rank before the job is ended (default: "
        f"${TIMEOUT_ENV} if set, e.g. by tinygrad-opt launch --rank-timeout, else 60)",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    args = p.parse_args(argv)
    for name in ("epochs", "batch", "hidden", "servers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.backup_workers < 0:
        p.error(f"--backup-workers must be >= 0, got {args.backup_workers}")
    if args.lr <= 0 or (args.timeout is not None and args.timeout <= 0):
        p.error("--lr and --timeout must be > 0")
    if args.timeout is None and not os.environ.get(TIMEOUT_ENV):
        args.timeout = 60.0  # else dist.init reads the environment variable
    if args.noise_scale and args.mode != "allreduce":
        p.error("--noise-scale needs --mode allreduce (the all-reduce sees both batch sizes)")
    args.trace = args.trace or args.out / "digits_trace.json"
    args.checkpoint = args.checkpoint or args.out / "digits.ckpt"
    return args


def load_data() -> dict[str, np.ndarray]:
    """The fixed split of ``examples/train_digits.py``: (1347, 64) and (450, 64) float32."""
    X, y = load_digits(flatten=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=TEST_SIZE, rng=SPLIT_SEED)
    return {"X_train": Xtr, "y_train": ytr, "X_test": Xte, "y_test": yte}


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose largest logit is the label (eval mode, no graph)."""
    model.eval()
    with no_grad():
        pred = model(Tensor(X)).data.argmax(axis=1)
    model.train()
    return float((pred == y).mean())


def parameter_digest(model: nn.Module) -> str:
    """First 16 hex digits of the SHA-256 of every parameter's bytes, in order."""
    h = hashlib.sha256()
    for p in model.parameters():
        h.update(np.ascontiguousarray(p.data).tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Train; rank 0 returns the results (accuracy, steps, seconds, files), others None."""
    args = parse_args(argv)
    from tinygrad_opt import distributed as dist

    # every rank must start with the same settings: one all-gather names any difference
    same = ("seed", "batch", "epochs", "hidden", "lr", "mode", "servers", "placement",
            "backup_workers")  # fmt: skip
    try:
        ctx = dist.init(timeout=args.timeout, config={k: getattr(args, k) for k in same})
    except dist.SetupMismatchError as e:  # raised on every rank with the same message
        if dist.get_context().rank == 0:
            print(f"train_digits_distributed: error: {e}", file=sys.stderr, flush=True)
        dist.get_context().comm.Barrier()  # no rank ends the job before rank 0 has said why
        raise SystemExit(2) from None
    root = ctx.rank == 0
    data = ctx.comm.bcast(load_data() if root else None, root=0)  # one rank imports sklearn
    Xtr, ytr = data["X_train"], data["y_train"]
    model = nn.MLP([64, args.hidden, 10], activation="relu", rng=args.seed)
    dist.broadcast_parameters(model)  # checks the shapes, then rank 0's values to everyone
    try:
        dopt = dist.DistributedOptimizer(
            optim.Adam(model.parameters(), lr=args.lr),
            mode=args.mode,
            servers=args.servers,
            placement=args.placement,
            backup_workers=args.backup_workers,
            noise_scale=args.noise_scale,
        )
    except ValueError as e:  # every rank sees the same settings, so every rank stops here
        if root:
            print(f"train_digits_distributed: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.noise_scale and ctx.world_size < 2:
        if root:
            print(
                "train_digits_distributed: error: --noise-scale needs >= 2 ranks", file=sys.stderr
            )
        raise SystemExit(2)
    sampler = dist.DistributedSampler(
        len(Xtr),
        args.batch,
        rank=max(dopt.worker_rank, 0),
        world_size=dopt.num_workers,
        seed=args.seed,
    )
    steps_per_epoch = len(sampler)
    total_steps = args.epochs * steps_per_epoch
    # save_checkpoint is a collective call at one step; with backup workers a late worker
    # may skip that step, so the library refuses it (no checkpoints then)
    checkpoints = args.backup_workers == 0
    reporter = dopt.is_worker and dopt.worker_rank == 0
    log = tqdm.write if reporter else (lambda *a, **k: None)

    start_step = 0
    if args.resume:
        found = ctx.comm.bcast(args.checkpoint.exists() if root else None, root=0)
        if found:
            from tinygrad_opt.train import CheckpointError

            try:  # another number of ranks is fine with the same global batch
                start_step = dist.load_checkpoint(args.checkpoint, model, dopt, sampler)["step"]
            except CheckpointError as e:  # raised on every rank
                if root:
                    print(f"train_digits_distributed: error: {e}", file=sys.stderr, flush=True)
                ctx.comm.Barrier()
                raise SystemExit(2) from None
        elif root:
            print(f"no checkpoint at {args.checkpoint}: starting from step 0")
    if root:
        role = {"allreduce": "all-reduce"}.get(args.mode, f"{args.servers} {args.placement} ps")
        backups = f", {args.backup_workers} backup" if args.backup_workers else ""
        print(
            f"digits: {len(Xtr)} train / {len(data['y_test'])} test images; {ctx.world_size} "
            f"ranks, {role}, {dopt.num_workers} workers{backups} x batch {args.batch}; "
            f"{steps_per_epoch} steps/epoch, {args.epochs} epochs"
            + (f"; resumed at step {start_step}" if start_step else "")
        )

    t0 = time.perf_counter()
    if dopt.is_server and not dopt.is_worker:  # a dedicated parameter server
        dopt.serve()  # until every worker calls close(); joins their save_checkpoint calls
    else:
        bar = tqdm(
            total=total_steps,
            initial=min(dopt.steps, total_steps),
            unit="step",
            desc=f"{args.mode} x{dopt.num_workers}",
            disable=True if not reporter or args.no_progress else None,  # None: tty only
        )
        epochs_done, losses = dopt.steps // steps_per_epoch, []
        while dopt.steps < total_steps:  # not a for loop: a late backup worker skips ahead
            epoch, i = divmod(dopt.steps, steps_per_epoch)
            idx = sampler.local_batch(epoch, i)
            dopt.zero_grad()
            loss = nn.cross_entropy(model(Tensor(Xtr[idx])), ytr[idx])
            dopt.backward(loss)  # loss.backward() seeded with 1/N: step() needs no division
            before = dopt.steps
            dopt.step()
            bar.update(dopt.steps - before)
            losses.append(loss.item())
            if dopt.steps // steps_per_epoch > epochs_done:
                epochs_done = dopt.steps // steps_per_epoch
                if reporter and (epochs_done in (1, args.epochs) or epochs_done % 5 == 0):
                    acc = accuracy(model, data["X_test"], data["y_test"])
                    log(
                        f"  epoch {epochs_done:3d}  train loss {np.mean(losses):.4f} "
                        f"(worker 0's batches)  test accuracy {acc:.4f}"
                    )
                losses = []
                if checkpoints:
                    dist.save_checkpoint(args.checkpoint, model, dopt, sampler, dopt.steps)
        bar.close()
        dopt.close()
    train_s = time.perf_counter() - t0
    steps_run = max(total_steps - start_step, 0)

    dopt.gather_parameters()  # collective: with dedicated servers rank 0 gets every shard
    trace_path = dopt.trace.write(args.trace, ctx)  # collective; rank 0 writes
    noise = None
    if args.noise_scale:
        dopt.local_batch_size = args.batch
        noise = dopt.noise_scale()  # B_simple from the norms of every step of this run
    if not root:
        return None

    summary = dist.summarize_trace(dist.load_trace(trace_path))
    test_acc = accuracy(model, data["X_test"], data["y_test"])
    per_step = train_s / steps_run * 1e3 if steps_run else float("nan")
    print(f"trained {steps_run} steps in {train_s:.2f} s ({per_step:.2f} ms/step on rank 0)")
    print(
        f"trace {trace_path}: mean step {summary['mean_step_s'] * 1e3:.2f} ms "
        f"(tinygrad-opt timeline --trace {trace_path})"
    )
    if not checkpoints:
        print("no checkpoint: save_checkpoint does not support backup workers")
    elif args.checkpoint.exists():
        print(f"checkpoint {args.checkpoint} (step {max(total_steps, start_step)})")
    if noise is not None:
        print(f"gradient noise scale B_simple {noise:.1f} examples (McCandlish et al. 2018)")
    digest = parameter_digest(model)
    print(f"parameters sha256 {digest}")
    print(f"test accuracy {test_acc:.4f}")
    return {
        "test_accuracy": test_acc,
        "steps": steps_run,
        "start_step": start_step,
        "train_seconds": train_s,
        "mean_step_s": summary["mean_step_s"],
        "trace": trace_path,
        "checkpoint": args.checkpoint,
        "noise_scale": noise,
        "digest": digest,
    }


if __name__ == "__main__":
    main()
