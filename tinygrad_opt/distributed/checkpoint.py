"""Checkpoints of a data-parallel job: written once, by rank 0, atomically.

:func:`save_checkpoint` is a collective call: the ranks bring the parameters and the
optimizer state together on rank 0 (from the parameter servers in ``ps`` mode), rank 0
writes one file with :func:`tinygrad_opt.train.checkpoint.write_checkpoint_file`
(temporary file, fsync, rename: a crash leaves the old checkpoint whole), and everyone
waits for it. :func:`load_checkpoint` reads it on rank 0 and broadcasts it, so the other
hosts need no shared file system. A job restarted from step ``k`` then goes on exactly
as the uninterrupted job did: same parameters, optimizer state and sampler position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinygrad_opt.distributed import faults
from tinygrad_opt.distributed.parameter_server import CHECKPOINT, send_control
from tinygrad_opt.train.checkpoint import (
    CheckpointError,
    read_checkpoint_file,
    write_checkpoint_file,
)

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(
    path: str | Path,
    model: Any,
    optimizer: Any,
    sampler: Any = None,
    step: int = 0,
    extra: dict[str, Any] | None = None,
) -> Path | None:
    """Save model, optimizer (a :class:`DistributedOptimizer`) and sampler state at
    ``step``; a collective call of every worker (dedicated parameter servers join in
    from :meth:`~DistributedOptimizer.serve`). Returns the path on rank 0, else None.

    Not with backup workers: a late worker may skip the step at which the others save.
    """
    if optimizer.backup_workers:
        raise ValueError(
            "save_checkpoint with backup workers is not supported: a late backup worker "
            "may skip the step at which the others save (use backup_workers=0)"
        )
    ctx = optimizer.ctx
    if optimizer.dedicated:
        with faults.waiting(ctx, "checkpoint request"):
            send_control(ctx.comm, optimizer.server_ranks, CHECKPOINT)
    else:
        optimizer.gather_parameters()
    part: dict[str, Any] = {
        "step": int(step),
        "model": model.state_dict(),
        "optimizer_class": type(optimizer.optimizer).__name__,
        "distributed": optimizer.settings() | {"world_size": ctx.world_size},
        "extra": extra or {},
    }
    if sampler is not None:
        part["sampler"] = sampler.state_dict()
    return _write_collectively(optimizer, path, part)


def serve_checkpoint(optimizer: Any) -> None:
    """A dedicated server's side of :func:`save_checkpoint` (called by ``serve``)."""
    _write_collectively(optimizer, None, None)


def _write_collectively(optimizer: Any, path: str | Path | None, part: dict | None):
    """Every rank: optimizer state to all, the first worker's part and path to rank 0,
    rank 0 writes, barrier."""
    ctx = optimizer.ctx
    opt_state = optimizer.state_dict()  # collective (merges the servers' shards)
    first_worker = optimizer.worker_ranks[0]
    if first_worker != 0:  # rank 0 is a dedicated server: it gets the worker's part
        with faults.waiting(ctx, "checkpoint"):
            if ctx.rank == first_worker:
                ctx.comm.send((str(path), part), dest=0, tag=_PART_TAG)
            elif ctx.rank == 0:
                path, part = ctx.comm.recv(source=first_worker, tag=_PART_TAG)
    written = None
    if ctx.rank == 0:
        assert part is not None and path is not None
        written = write_checkpoint_file(path, part | {"optimizer": opt_state})
    ctx.barrier()
    return written


_PART_TAG = 0  # never used by the optimizer's messages (they start at 1)


def load_checkpoint(path: str | Path, model: Any, optimizer: Any, sampler: Any = None) -> dict:
    """Restore what :func:`save_checkpoint` wrote, on every rank (also setting the
    optimizer's step counter); returns ``{"step", "extra"}``. Raises CheckpointError (on
    every rank) if it does not fit."""
    ctx = optimizer.ctx
    data: Any = None
    if ctx.rank == 0:
        try:
            data = read_checkpoint_file(path)
        except CheckpointError as e:
            data = e
    with faults.waiting(ctx, "loading the checkpoint"):
        data = ctx.comm.bcast(data, root=0)
    if isinstance(data, Exception):
        raise data
    cls = type(optimizer.optimizer).__name__
    if data.get("optimizer_class") != cls:
        raise CheckpointError(
            f"checkpoint {path} holds {data.get('optimizer_class')} state, "
            f"cannot load it into {cls}"
        )
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    if sampler is not None:
        if "sampler" not in data:
            raise CheckpointError(f"checkpoint {path} holds no sampler state")
        sampler.load_state_dict(data["sampler"])
    optimizer.resume_at(int(data["step"]))  # the step the job goes on from
    return {"step": int(data["step"]), "extra": data.get("extra", {})}
