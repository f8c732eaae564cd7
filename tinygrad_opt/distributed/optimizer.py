"""``DistributedOptimizer``: any optimizer, made synchronous data-parallel over MPI.

::

    ctx = distributed.init(timeout=60)
    model = MLP(...); distributed.broadcast_parameters(model)
    opt = DistributedOptimizer(Adam(model.parameters(), lr=1e-3), mode="allreduce")
    for idx in sampler:                       # this rank's share of each global batch
        opt.zero_grad(); loss(model(x[idx]), y[idx]).backward(); opt.step()

``mode="allreduce"``: every rank is a worker; after ``backward`` the gradients (views of
contiguous buckets, :mod:`.buckets`) are summed with ``MPI.Allreduce`` in place, divided
by the number of ranks, and every rank applies the same optimizer step to its own copy.

``mode="ps"``: :mod:`.parameter_server`: workers send gradients to ``servers`` server
ranks (the shards), which average them (the first ``N`` to arrive with
``backup_workers``), step the optimizer on their shard and send the new values back.

Either way the result equals single-process training on the global batch (the mean of
the ranks' mean gradients is the mean over all their examples), up to floating-point
summation order. Times of every phase go to :attr:`trace` (:mod:`.trace`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.distributed import faults
from tinygrad_opt.distributed.buckets import DEFAULT_BUCKET_BYTES, GradientBuckets
from tinygrad_opt.distributed.comm import DistContext, check_same_setup, get_context, require_mpi
from tinygrad_opt.distributed.parameter_server import (
    CHECKPOINT,
    HEADER_TAG,
    STOP,
    Control,
    ShardMessages,
    ShardServer,
    plan_shards,
    send_control,
)
from tinygrad_opt.distributed.trace import Trace

__all__ = ["MODES", "PLACEMENTS", "DistributedOptimizer"]

MODES = ("allreduce", "ps")
PLACEMENTS = ("colocated", "dedicated")
_MODE_ALIASES = {"all-reduce": "allreduce", "all_reduce": "allreduce", "ring": "allreduce",
                 "parameter_server": "ps", "parameter-server": "ps"}  # fmt: skip


def _allreduce_mean(comm: Any, MPI: Any, buf: np.ndarray, n: int, prescaled: bool) -> None:
    """``buf`` <- the mean of every rank's ``buf``, in place (nothing to do for one rank).

    ``prescaled``: every rank's ``buf`` already holds its gradient divided by ``n``
    (:meth:`DistributedOptimizer.backward`), so the sum is the mean: no extra pass.
    """
    if n > 1:
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        if not prescaled:
            buf /= n


class DistributedOptimizer:
    """Wrap ``optimizer`` (any built-in or custom :class:`~tinygrad_opt.optim.Optimizer`).

    Args:
        optimizer: the optimizer of this rank's model copy, built as for one process.
        mode: ``"allreduce"`` or ``"ps"`` (parameter server).
        ctx: the :class:`DistContext` (default: :func:`init`'s).
        bucket_bytes: gradient bucket size (default 25 MiB, as PyTorch DDP).
        servers: number of parameter-server shards (``ps``).
        placement: ``"colocated"`` (servers are ranks ``0..servers-1`` and also
            compute) or ``"dedicated"`` (they only serve; call :meth:`serve` on them).
        backup_workers: ``b``: the servers use the first ``N = workers - b``
            gradients of each step and drop the rest (``ps`` only).
        split_wait: in ``allreduce`` mode, enter a barrier before the all-reduce so
            the trace tells waiting for stragglers from moving bytes (costs one latency).
        noise_scale: also record each step's local and global squared gradient norms
            for the gradient noise scale (:mod:`.noise_scale`).
        trace_steps: record the timing of the first this many steps in :attr:`trace`
            (None: every step, 0: none).
        check_setup: compare model shapes and optimizer settings across ranks now and
            raise :class:`~tinygrad_opt.distributed.SetupMismatchError` if they differ.

    ``state_dict``/``load_state_dict`` hold the inner optimizer's state (in ``ps`` mode
    gathered from the servers; collective calls).
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "allreduce",
        *,
        ctx: DistContext | None = None,
        bucket_bytes: int = DEFAULT_BUCKET_BYTES,
        servers: int = 1,
        placement: str = "colocated",
        backup_workers: int = 0,
        split_wait: bool = True,
        noise_scale: bool = False,
        trace_steps: int | None = 10_000,
        check_setup: bool = True,
    ) -> None:
        self.MPI = require_mpi()
        self.ctx = ctx or get_context()
        self.optimizer = optimizer
        if getattr(optimizer, "requires_closure", False) or type(optimizer).__name__ == "LBFGS":
            raise ValueError(
                f"{type(optimizer).__name__} needs a closure that re-evaluates the model; "
                "it cannot be made data-parallel step by step"
            )
        mode = _MODE_ALIASES.get(str(mode).lower(), str(mode).lower())
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        world = self.ctx.world_size
        for name, value, low in (("servers", servers, 1), ("backup_workers", backup_workers, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.mode, self.placement = mode, placement
        self.servers = int(servers) if mode == "ps" else 0
        self.backup_workers = int(backup_workers)
        if mode == "allreduce" and self.backup_workers:
            raise ValueError("backup_workers needs mode='ps' (an all-reduce waits for every rank)")
        dedicated = mode == "ps" and placement == "dedicated"
        self.dedicated = dedicated
        n_workers = world - self.servers if dedicated else world
        if mode == "ps" and (self.servers > world or n_workers < 1):
            raise ValueError(
                f"{self.servers} {placement} parameter servers do not fit in a job of "
                f"{world} ranks (need at least one worker)"
            )
        if self.backup_workers and self.servers > 1:
            raise ValueError(
                f"backup_workers={self.backup_workers} needs a single parameter server "
                f"(servers=1, got {self.servers}): every shard must accept the same workers"
            )
        if self.backup_workers >= n_workers:
            raise ValueError(
                f"backup_workers={self.backup_workers} leaves no gradient to use: there are "
                f"{n_workers} workers"
            )
        self.worker_ranks = list(range(self.servers, world)) if dedicated else list(range(world))
        self.server_ranks = list(range(self.servers))
        rank = self.ctx.rank
        self.is_worker = rank in self.worker_ranks
        self.is_server = rank in self.server_ranks
        self.num_workers = len(self.worker_ranks)
        self.worker_rank = self.worker_ranks.index(rank) if self.is_worker else -1
        self.accept = self.num_workers - self.backup_workers
        self.split_wait = bool(split_wait)
        self.record_noise = bool(noise_scale)
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.bucket_bytes = int(bucket_bytes)
        role = "worker+server" if self.is_worker and self.is_server else (
            "server" if self.is_server else "worker")  # fmt: skip
        self.ctx.barrier()
        self.trace = Trace(rank, role, self.ctx.hostname, max_steps=trace_steps)
        self.trace.meta = self.settings() | {
            "world_size": world,
            "parameters": int(sum(p.data.size for p in self.params)),
            "bytes": int(sum(p.data.nbytes for p in self.params)),
        }
        self.steps = 0
        self.noise_log: list[tuple[float, float]] = []  # (mean local |g|², global |g|²)
        if check_setup:
            check_same_setup(self.params, self, self.ctx)
        if mode == "allreduce":
            self.buckets = GradientBuckets(self.params, self.bucket_bytes)
        else:
            self._setup_ps()
        self._last = self.trace.now()
        self._closed = False
        self._prescaled = False

    # ------------------------------------------------------------------ describe
    def settings(self) -> dict[str, Any]:
        """The distributed settings (compared across ranks by ``check_same_setup``)."""
        return {
            "mode": self.mode,
            "servers": self.servers,
            "placement": self.placement if self.mode == "ps" else None,
            "backup_workers": self.backup_workers,
            "bucket_bytes": self.bucket_bytes,
            "optimizer": type(self.optimizer).__name__,
        }

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Per step and shard, the workers whose gradients a server used (servers only)."""
        return self.trace.accepted

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r}, mode={self.mode!r})"

    # ------------------------------------------------------------------ gradients
    def backward(self, loss: Any) -> None:
        """``loss.backward()`` with the seed ``1/N`` instead of 1 (``N`` ranks), so the
        gradients come out already divided by ``N`` and the all-reduce's sum is the mean:
        the step then skips the division pass over the gradients (as PyTorch DDP
        pre-divides its buckets). Same result as ``loss.backward()`` up to rounding;
        ``loss`` must be a one-element tensor. It may be called several times per step
        (gradient accumulation), but do not mix it with plain ``loss.backward()`` in one
        step: those gradients would not be divided. (``ps`` mode, one rank: plain
        ``loss.backward()``.)"""
        n = self.ctx.world_size
        if self.mode != "allreduce" or n == 1:
            loss.backward()
            return
        if getattr(loss, "data", np.zeros(2)).size != 1:
            raise ValueError(
                f"DistributedOptimizer.backward needs a one-element loss, got shape "
                f"{tuple(loss.data.shape)}"
            )
        loss.backward(np.full(loss.data.shape, 1.0 / n, dtype=loss.data.dtype))
        self._prescaled = True

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every gradient in place (as views of the communication buckets)."""
        if self.mode == "allreduce":
            self.buckets.install_views()
        elif self.is_worker:
            for sm in self.shard_msgs:
                sm.buckets.install_views()

    def step(self) -> None:
        """Synchronise the gradients and apply the optimizer (a collective call)."""
        if self._closed:
            raise RuntimeError("DistributedOptimizer.step() after close()")
        if not self.is_worker:
            raise RuntimeError(
                f"rank {self.ctx.rank} is a dedicated parameter server: call serve(), not step()"
            )
        t = self.trace
        now = t.now()
        t.add(self.steps, "compute", self._last, now)
        if self.mode == "allreduce":
            self._step_allreduce()
        else:
            self._step_ps()
        faults.computing(self.ctx, self.steps + 1)
        self._prescaled = False
        self.steps += 1
        self._last = t.now()

    def _local_sq_norm(self, buffers: list[np.ndarray]) -> float:
        return float(sum(np.dot(b.ravel(), b.ravel()) for b in buffers))

    def _step_allreduce(self) -> None:
        t, MPI, comm, s = self.trace, self.MPI, self.ctx.comm, self.steps
        self.buckets.gather()
        local_sq = (
            self._local_sq_norm([b.buffer for b in self.buckets]) if self.record_noise else 0.0
        )
        if self._prescaled:  # the buffers hold g/N
            local_sq *= self.ctx.world_size**2
        if self.split_wait:
            a = t.now()
            with faults.waiting(self.ctx, "barrier before all-reduce", s):
                comm.Barrier()
            t.add(s, "wait", a, t.now())
        a = t.now()
        n = self.ctx.world_size
        with faults.waiting(self.ctx, "all-reduce", s):
            for b in self.buckets:
                _allreduce_mean(comm, MPI, b.buffer, n, self._prescaled)
            if self.record_noise:
                mean_local = comm.allreduce(local_sq, op=MPI.SUM) / n
        t.add(s, "comm", a, t.now())
        if self.record_noise:
            self.noise_log.append(
                (mean_local, self._local_sq_norm([b.buffer for b in self.buckets]))
            )
        a = t.now()
        self.optimizer.step()
        t.add(s, "update", a, t.now())

    # ------------------------------------------------------------------ parameter server
    def _setup_ps(self) -> None:
        tag_ub = int(self.ctx.comm.Get_attr(self.MPI.TAG_UB))
        self.plan = plan_shards(self.params, self.servers)
        self.shard_params = [
            [self.params[i] for i in self.plan.members(j)] for j in range(self.servers)
        ]
        self.shard_msgs = [ShardMessages(ps, self.bucket_bytes, tag_ub) for ps in self.shard_params]
        self.recv_bufs = [[np.empty_like(b.buffer) for b in sm.buckets] for sm in self.shard_msgs]
        rank = self.ctx.rank
        self.server: ShardServer | None = None
        if self.is_server:
            j = self.server_ranks.index(rank)
            self.my_shard = j
            self.server = ShardServer(
                self.ctx.comm,
                self.MPI,
                self.shard_msgs[j],
                self.worker_ranks,
                rank if self.is_worker else None,
                self.accept,
            )
        self._worker_sends: list[Any] = []
        self._header = np.zeros(2, np.int64)

    def _server_update(self, accepted: list[int], own: list[np.ndarray] | None) -> None:
        """Average, step the optimizer on this shard, copy the new values out."""
        srv = self.server
        assert srv is not None
        sm = self.shard_msgs[self.my_shard]
        mean = srv.average(accepted, own)
        mine = {id(p) for p in self.shard_params[self.my_shard]}
        saved = [(p, p.grad) for p in self.params]
        for p in self.params:
            if id(p) not in mine:
                p.grad = None
        for b, bucket in enumerate(sm.buckets):
            for i, p in enumerate(bucket.params):
                p.grad = mean[b][bucket.offsets[i] : bucket.offsets[i + 1]].reshape(p.data.shape)
        srv.wait_sends()  # param_out may still be going out to a worker
        self.optimizer.step()
        for b, bucket in enumerate(sm.buckets):
            bucket.params_to_buffer(srv.param_out[b])
        for p, g in saved:
            p.grad = g

    def _step_ps(self) -> None:
        t, MPI, comm, s = self.trace, self.MPI, self.ctx.comm, self.steps
        rank = self.ctx.rank
        # 1. send each shard's gradient to its server
        a = t.now()
        for j, sm in enumerate(self.shard_msgs):
            sm.buckets.gather()
            server = self.server_ranks[j]
            if server == rank:
                continue
            for b, bucket in enumerate(sm.buckets):
                self._worker_sends.append(comm.Isend(bucket.buffer, dest=server, tag=sm.tag(s, b)))
        t.add(s, "send", a, t.now())
        next_step, used = s + 1, True
        # 2. a colocated server collects, averages, updates its shard and replies
        if self.server is not None:
            a = t.now()
            with faults.waiting(self.ctx, "gradients from workers", s):
                accepted, _ = self.server.collect(s, own_ready=True)
            t.add(s, "wait", a, t.now())
            a = t.now()
            own = [b.buffer for b in self.shard_msgs[self.my_shard].buckets]
            self._server_update(accepted, own)
            t.add(s, "update", a, t.now())
            a = t.now()
            dropped = self.server.finish_step(s, accepted)
            self._log_acceptance(s, accepted, dropped)
            used = rank in accepted
            t.add(s, "send", a, t.now())
        # 3. receive every other shard's reply: the step to compute next, and new values
        a = t.now()
        with faults.waiting(self.ctx, "parameters from the servers", s):
            reqs = []
            for j, sm in enumerate(self.shard_msgs):
                server = self.server_ranks[j]
                if server == rank:
                    continue
                comm.Recv(self._header, source=server, tag=HEADER_TAG)
                next_step, used = int(self._header[0]), bool(self._header[1])
                for b, buf in enumerate(self.recv_bufs[j]):
                    reqs.append(comm.Irecv(buf, source=server, tag=sm.tag(next_step - 1, b)))
            MPI.Request.Waitall(reqs)
            MPI.Request.Waitall(self._worker_sends)
        self._worker_sends = []
        for j, sm in enumerate(self.shard_msgs):
            if self.server_ranks[j] == rank:
                continue
            for b, bucket in enumerate(sm.buckets):
                bucket.buffer_to_params(self.recv_bufs[j][b])
        t.add(s, "recv", a, t.now())
        if not used:  # this gradient came too late and was dropped by the server
            for i in range(len(t.events) - 1, -1, -1):
                if t.events[i][0] == s and t.events[i][1] == "compute":
                    t.events[i] = (s, "dropped", t.events[i][2], t.events[i][3])
                    break
        self.steps = next_step - 1  # step() adds one: a late worker skips ahead

    def _log_acceptance(self, step: int, accepted: list[int], dropped: list[int]) -> None:
        self.trace.accepted.append(
            {"step": step, "shard": self.my_shard, "accepted": sorted(accepted), "dropped": dropped}
        )

    def serve(self, callback: Any = None) -> int:
        """Run a dedicated server until every worker called :meth:`close`; returns the
        number of steps served. ``callback(step)`` runs after each update (e.g. an LR
        scheduler's ``step``)."""
        if not self.is_server or self.is_worker:
            raise RuntimeError(
                "serve() is for dedicated parameter-server ranks "
                "(mode='ps', placement='dedicated', rank < servers)"
            )
        srv = self.server
        assert srv is not None
        t, comm = self.trace, self.ctx.comm
        control = Control(comm, self.worker_ranks)
        s = self.steps
        while True:
            a = t.now()
            with faults.waiting(self.ctx, "gradients from workers", s):
                accepted, event = srv.collect(s, own_ready=False, control=control)
            if event == STOP:
                break
            if event == CHECKPOINT:
                from tinygrad_opt.distributed.checkpoint import serve_checkpoint

                serve_checkpoint(self)
                continue
            t.add(s, "wait", a, t.now())
            a = t.now()
            self._server_update(accepted, None)
            t.add(s, "update", a, t.now())
            a = t.now()
            self._log_acceptance(s, accepted, srv.finish_step(s, accepted))
            t.add(s, "send", a, t.now())
            if callback is not None:
                callback(s)
            s += 1
        with faults.waiting(self.ctx, "closing", s):
            srv.drain(s)
        self.steps = s
        self._closed = True
        return s

    def close(self) -> None:
        """Tell dedicated servers this worker is done (call once, after the last step)."""
        if self._closed:
            return
        self._closed = True
        with faults.waiting(self.ctx, "closing"):
            if self.dedicated and self.is_worker:
                send_control(self.ctx.comm, self.server_ranks, STOP)
            if self.mode == "ps" and self.server is not None:
                self.server.drain(self.steps)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's full state (collective; in ``ps`` mode merged from the
        servers, so it loads into a one-process optimizer too)."""
        sd = self.optimizer.state_dict()
        if self.mode == "allreduce":
            return sd
        with faults.waiting(self.ctx, "gathering the optimizer state"):
            parts = self.ctx.comm.allgather(sd["state"] if self.is_server else {})
        merged: dict[Any, Any] = {}
        for part in parts:
            merged.update(part)
        sd["state"] = merged
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a full state (every rank passes the same dict; servers keep their shard)."""
        if self.mode == "ps" and self.is_server:
            owned = set(self.plan.members(self.my_shard))
            state_dict = dict(state_dict)
            state_dict["state"] = {k: v for k, v in state_dict["state"].items() if int(k) in owned}
        self.optimizer.load_state_dict(state_dict)

    def resume_at(self, step: int) -> None:
        """Go on from global step ``step`` (every rank, e.g. after loading a checkpoint)."""
        self.steps = int(step)
        if self.mode == "ps" and self.server is not None:
            self.server.restart_at(self.steps)

    def gather_parameters(self) -> None:
        """Make every rank's parameters current: each server broadcasts its shard (``ps``
        mode; collective — with dedicated servers call it after :meth:`serve` /
        :meth:`close`)."""
        if self.mode != "ps":
            return
        comm = self.ctx.comm
        with faults.waiting(self.ctx, "gathering the parameters"):
            for j in range(self.servers):
                owner = self.server_ranks[j]
                for p in self.shard_params[j]:
                    comm.Bcast(p.data, root=owner)

    def noise_scale(self) -> float:
        """McCandlish et al.'s B_simple from the recorded norms (``noise_scale=True``)."""
        from tinygrad_opt.distributed.noise_scale import noise_scale_from_log

        b = getattr(self, "local_batch_size", None)
        if b is None:
            raise ValueError("set opt.local_batch_size (examples per rank per step) first")
        return noise_scale_from_log(self.noise_log, b, self.ctx.world_size)
