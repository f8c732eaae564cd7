"""The parameter-server side of synchronous SGD: shards, servers, backup workers.

The model's parameters are split into ``k`` shards (whole tensors, balanced by bytes,
largest first onto the lightest shard — as the simulator's sharded PS assumes). Server
``j`` owns shard ``j``: every step each worker sends it that shard's gradient, the
server waits for them (Dean et al. 2012 in its synchronous form; the seed article's
"the server waits for all gradients"), averages them, applies the optimizer to its
shard and sends the new values to every worker.

Backup workers (Chen et al. 2016, "Revisiting distributed synchronous SGD"): with
``N + b`` workers the server uses the first ``N`` gradients to arrive and drops the
late ones; a late worker still receives the new parameters and goes on. Which
workers were accepted is logged per step and shard (:attr:`ShardServer.accepted`).

Placement: ``colocated`` servers are ranks ``0..k-1``, which also compute as workers;
``dedicated`` servers are ranks ``0..k-1`` and only serve (:meth:`DistributedOptimizer.serve
<tinygrad_opt.distributed.DistributedOptimizer.serve>`), the workers are ranks ``k..``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.distributed.buckets import GradientBuckets

__all__ = ["ShardPlan", "plan_shards"]


class ShardPlan:
    """Which parameter belongs to which shard (``owner[i]`` for parameter ``i``)."""

    def __init__(self, owner: list[int], shards: int) -> None:
        self.owner = owner
        self.shards = shards

    def members(self, j: int) -> list[int]:
        return [i for i, o in enumerate(self.owner) if o == j]


def plan_shards(params: list[Any], shards: int) -> ShardPlan:
    """Whole parameters onto ``shards`` shards, balancing bytes (greedy, largest first)."""
    if shards > len(params):
        raise ValueError(
            f"cannot split {len(params)} parameter tensors over {shards} parameter-server "
            "shards (each shard holds whole tensors): use fewer servers"
        )
    load = [0] * shards
    owner = [0] * len(params)
    for i in sorted(range(len(params)), key=lambda i: (-params[i].data.nbytes, i)):
        j = min(range(shards), key=lambda j: (load[j], j))
        owner[i] = j
        load[j] += params[i].data.nbytes
    return ShardPlan(owner, shards)


class ShardMessages:
    """The buckets of one shard, and the tags of their messages at each step."""

    def __init__(self, params: list[Any], bucket_bytes: int, tag_ub: int) -> None:
        self.buckets = GradientBuckets(params, bucket_bytes)
        self.tag_ub = tag_ub

    def tag(self, step: int, b: int) -> int:
        n = len(self.buckets)
        return 2 + (step * n + b) % (self.tag_ub - 2)


class ShardServer:
    """Server ``j``'s receive side: per worker buffers, pending requests, acceptance."""

    def __init__(
        self,
        comm: Any,
        MPI: Any,
        shard: ShardMessages,
        workers: list[int],
        own_rank: int | None,
        accept: int,
    ) -> None:
        self.comm, self.MPI, self.shard = comm, MPI, shard
        self.workers = workers  # ranks that send gradients (maybe including own_rank)
        self.own_rank = own_rank  # this server's own rank if it is also a worker
        self.accept = accept
        self.remote = [w for w in workers if w != own_rank]
        self.buffers = {w: [np.empty_like(b.buffer) for b in shard.buckets] for w in self.remote}
        self.pending: dict[int, tuple[int, list[Any]]] = {}  # worker -> (step, requests)
        self.sum = [np.zeros_like(b.buffer) for b in shard.buckets]
        self.param_out = [np.empty_like(b.buffer) for b in shard.buckets]
        self.sends: list[Any] = []
        self.accepted: list[dict[str, Any]] = []

    def post(self, w: int, step: int) -> None:
        reqs = [
            self.comm.Irecv(buf, source=w, tag=self.shard.tag(step, b))
            for b, buf in enumerate(self.buffers[w])
        ]
        self.pending[w] = (step, reqs)

    def collect(self, step: int, own_ready: bool, stop_requests: dict[int, Any] | None = None):
        """Wait until ``accept`` gradients of ``step`` arrived; returns (accepted ranks in
        arrival order, dropped ranks, stopped) — ``stopped`` when every worker said stop."""
        MPI = self.MPI
        for w in self.remote:
            if w not in self.pending:
                self.post(w, step)
        arrived: list[int] = []
        # those that completed before we looked count as earliest (in rank order)
        for w in self.remote:
            s, reqs = self.pending[w]
            if s == step and MPI.Request.Testall(reqs):
                arrived.append(w)
                del self.pending[w]
        if own_ready:
            arrived.append(self.own_rank)
        stopped: set[int] = set()
        while len(arrived) < self.accept:
            flat: list[Any] = []
            owners: list[tuple[str, int]] = []
            for w, (_s, reqs) in self.pending.items():
                for r in reqs:
                    flat.append(r)
                    owners.append(("grad", w))
            if stop_requests:
                for w, r in stop_requests.items():
                    if w not in stopped:
                        flat.append(r)
                        owners.append(("stop", w))
            if not flat:
                break
            i = MPI.Request.Waitany(flat)
            kind, w = owners[i]
            if kind == "stop":
                stopped.add(w)
                if stop_requests is not None and len(stopped) == len(stop_requests):
                    return arrived, [], True
                continue
            s, reqs = self.pending[w]
            if MPI.Request.Testall(reqs):
                del self.pending[w]
                if s == step:
                    arrived.append(w)
                else:  # a late gradient of an earlier step: drop it, wait for this one
                    self.post(w, step)
        accepted = arrived[: self.accept]
        dropped = [w for w in self.workers if w not in accepted]
        return accepted, dropped, False

    def average(self, accepted: list[int], own: list[np.ndarray] | None) -> list[np.ndarray]:
        """Mean of the accepted gradients, summed in rank order (reproducible)."""
        for b, acc in enumerate(self.sum):
            first = True
            for w in sorted(accepted):
                src = own[b] if w == self.own_rank else self.buffers[w][b]
                if first:
                    np.copyto(acc, src)
                    first = False
                else:
                    acc += src
            acc /= len(accepted)
        return self.sum

    def wait_sends(self) -> None:
        if self.sends:
            self.MPI.Request.Waitall(self.sends)
            self.sends = []

    def send_params(self, step: int) -> None:
        """Send this shard's new values (already in ``param_out``) to every remote worker."""
        for w in self.remote:
            for b, buf in enumerate(self.param_out):
                self.sends.append(self.comm.Isend(buf, dest=w, tag=self.shard.tag(step, b)))

    def drain(self, next_step: int) -> None:
        """At shutdown, once every worker stopped: complete the receives of late
        gradients of earlier steps (they were sent) and cancel those posted for
        ``next_step``, which no worker will send."""
        for s, reqs in self.pending.values():
            if s >= next_step:
                for r in reqs:
                    r.Cancel()
            self.MPI.Request.Waitall(reqs)
        self.pending.clear()
        self.wait_sends()
