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
    layout = {
        "world_size": ctx.world_size,
        "workers": optimizer.num_workers,
        "global_batch": _global_batch(optimizer, sampler),
    }
    part: dict[str, Any] = {
        "step": int(step),
        "model": model.state_dict(),
        "optimizer_class": type(optimizer.optimizer).__name__,
        "distributed": optimizer.settings() | layout,
        "extra": extra or {},
    }
    if sampler is not None:
        part["sampler"] = sampler.state_dict()
    return _write_collectively(optimizer, path, part)


def _global_batch(optimizer: Any, sampler: Any) -> int | None:
    """Examples per step over all workers: from the sampler, else ``local_batch_size``."""
    if sampler is not None:
        return int(sampler.global_batch_size)
    b = getattr(optimizer, "local_batch_size", None)
    return None if b is None else int(b) * optimizer.num_workers


def _check_layout(path: Any, saved: dict[str, Any], optimizer: Any, sampler: Any) -> None:
    """Refuse a checkpoint whose steps do not mean the same examples in this job.

    Rank counts may differ when the global batch is the same: a step then covers the same
    examples, cut into other shares (exact re-partitioning: N ranks with batch b equal one
    process with N·b, up to the order of additions)."""
    was_workers = saved.get("workers", saved.get("world_size"))
    was_batch = saved.get("global_batch")
    now_workers = optimizer.num_workers
    now_batch = _global_batch(optimizer, sampler)
    if was_batch is not None and now_batch is not None:
        if was_batch == now_batch:
            return
    elif was_workers == now_workers:
        return  # the global batch was not recorded: the same workers are all that can be told
    was = f"{was_workers} workers" + (
        f" × {was_batch // was_workers} = a global batch of {was_batch}" if was_batch else ""
    )
    now = f"{now_workers} workers" + (
        f" × {now_batch // now_workers} = a global batch of {now_batch}" if now_batch else ""
    )
    if was_batch is None or now_batch is None:
        advice = (
            "pass the sampler (or set local_batch_size on the optimizer) to both save_checkpoint "
            "and load_checkpoint so that the data can be re-partitioned exactly"
        )
    else:
        advice = f"resume on {was_workers} workers"
        if was_batch % now_workers == 0:
            advice += f", or with a per-worker batch of {was_batch // now_workers} on {now_workers}"
        advice += " (the same global batch re-partitions exactly)"
    raise CheckpointError(
        f"checkpoint {path} was written by {was}; this job has {now}: its steps would not "
        f"cover the same examples; {advice}"
    )


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
    every rank) if it does not fit.

    The job may have another number of workers than the one that saved if the global batch
    (the sampler's, or ``local_batch_size × workers``) is the same: each step then takes the
    same examples, shared out anew. Another global batch is refused, naming both layouts."""
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
    _check_layout(path, data.get("distributed", {}), optimizer, sampler)
    model.load_state_dict(data["model"])
    optimizer.load_state_dict(data["optimizer"])
    if sampler is not None:
        if "sampler" not in data:
            raise CheckpointError(f"checkpoint {path} holds no sampler state")
        sampler.load_state_dict(data["sampler"])
    optimizer.resume_at(int(data["step"]))  # the step the job goes on from
    return {"step": int(data["step"]), "extra": data.get("extra", {})}
