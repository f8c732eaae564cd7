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
workers were accepted is logged per step and shard (:attr:`DistributedOptimizer.accepted
<tinygrad_opt.distributed.DistributedOptimizer.accepted>`, also in the trace).

Placement: ``colocated`` servers are ranks ``0..k-1``, which also compute as workers;
``dedicated`` servers are ranks ``0..k-1`` and only serve (:meth:`DistributedOptimizer.serve
<tinygrad_opt.distributed.DistributedOptimizer.serve>`), the workers are ranks ``k..``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.distributed.buckets import GradientBuckets

__all__ = ["ShardPlan", "plan_shards"]

CONTROL_TAG = 1  # a worker's request to a dedicated server: STOP or CHECKPOINT
STOP, CHECKPOINT = 0, 1
HEADER_TAG = 2  # (next step, accepted?) sent before every parameter reply
FIRST_DATA_TAG = 3  # gradient and parameter messages: tag(step, bucket) from here on


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
        return FIRST_DATA_TAG + (step * n + b) % (self.tag_ub - FIRST_DATA_TAG)


class ShardServer:
    """Server ``j``'s side: per worker buffers, posted receives, acceptance, replies.

    Protocol. Worker ``w`` sends its gradient of step ``s`` (tags ``tag(s, b)``) and then
    waits for a *reply*: a header ``[next_step, accepted]`` (tag ``HEADER_TAG``) and the
    shard's current values (tags ``tag(next_step - 1, b)``). The server keeps one receive
    posted per worker, for the step it expects from it. After the update of step ``t``
    every worker whose gradient has arrived (used or dropped) gets a reply with
    ``next_step = t + 1``. A worker still computing (late, a backup worker's fate) gets
    no reply yet: when its stale gradient arrives during step ``t'``, it is dropped and
    the worker is answered at once with the newest values and ``next_step = t'``, so it
    skips ahead instead of falling further behind (Chen et al. 2016).
    """

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
        self.headers: dict[int, np.ndarray] = {w: np.zeros(2, np.int64) for w in self.remote}
        self.sends_to: dict[int, list[Any]] = {w: [] for w in self.remote}
        for w in self.remote:
            self.post(w, 0)

    def post(self, w: int, step: int) -> None:
        reqs = [
            self.comm.Irecv(buf, source=w, tag=self.shard.tag(step, b))
            for b, buf in enumerate(self.buffers[w])
        ]
        self.pending[w] = (step, reqs)

    def restart_at(self, step: int) -> None:
        """Expect every worker's gradient of ``step`` next (after loading a checkpoint)."""
        for w in list(self.pending):
            s, reqs = self.pending[w]
            if s != step:
                for r in reqs:
                    r.Cancel()
                self.MPI.Request.Waitall(reqs)
                self.post(w, step)

    def reply(self, w: int, next_step: int, accepted: bool) -> None:
        """Send worker ``w`` the newest values and the step it computes next; re-post
        its receive for that step."""
        if self.sends_to[w]:  # the previous reply to w (received: w sent a gradient since)
            self.MPI.Request.Waitall(self.sends_to[w])
            self.sends_to[w] = []
        self.headers[w][:] = (next_step, int(accepted))
        self.sends_to[w].append(self.comm.Isend(self.headers[w], dest=w, tag=HEADER_TAG))
        for b, buf in enumerate(self.param_out):
            self.sends_to[w].append(
                self.comm.Isend(buf, dest=w, tag=self.shard.tag(next_step - 1, b))
            )
        self.post(w, next_step)

    def collect(self, step: int, own_ready: bool, control: Control | None = None):
        """Wait until ``accept`` gradients of ``step`` arrived (answering stale ones on
        the way). Returns (accepted ranks in arrival order, event): ``event`` is None, or
        STOP / CHECKPOINT once every worker sent that request (dedicated servers)."""
        MPI = self.MPI
        arrived: list[int] = []
        # gradients that completed before we looked count as earliest (in rank order)
        for w in self.remote:
            s, reqs = self.pending[w]
            if MPI.Request.Testall(reqs):
                if s == step:
                    arrived.append(w)
                else:
                    self.reply(w, step, accepted=False)
        if own_ready:
            arrived.append(self.own_rank)
        while len(arrived) < self.accept:
            flat: list[Any] = []
            owners: list[tuple[str, int]] = []
            for w, (_s, reqs) in self.pending.items():
                if w in arrived:
                    continue
                for r in reqs:
                    flat.append(r)
                    owners.append(("grad", w))
            if control is not None:
                for w, r in control.waiting():
                    flat.append(r)
                    owners.append(("control", w))
            if not flat:
                break
            i = MPI.Request.Waitany(flat)
            kind, w = owners[i]
            if kind == "control":
                assert control is not None
                event = control.arrived(w)
                if event is not None:
                    return arrived, event
                continue
            s, reqs = self.pending[w]
            if MPI.Request.Testall(reqs):
                if s == step:
                    arrived.append(w)
                else:  # a late gradient of an earlier step: drop it, send the newest values
                    self.reply(w, step, accepted=False)
        return arrived[: self.accept], None

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
        """Complete every reply in flight (before ``param_out`` is overwritten)."""
        for w, reqs in self.sends_to.items():
            if reqs:
                self.MPI.Request.Waitall(reqs)
                self.sends_to[w] = []

    def finish_step(self, step: int, accepted: list[int]) -> list[int]:
        """After the update of ``step`` (values in ``param_out``): reply to every worker
        whose gradient arrived; returns the ranks dropped at this step."""
        dropped = []
        for w in self.remote:
            s, reqs = self.pending[w]
            if w in accepted:
                self.reply(w, step + 1, accepted=True)
            elif s == step and self.MPI.Request.Testall(reqs):
                self.reply(w, step + 1, accepted=False)
                dropped.append(w)
            else:
                dropped.append(w)  # still computing: answered when its gradient arrives
        if self.own_rank is not None and self.own_rank not in accepted:
            dropped.append(self.own_rank)
        return sorted(dropped)

    def drain(self, next_step: int) -> None:
        """At shutdown: answer the late workers (their gradients are on the way) with the
        final values, and cancel the receives no worker will satisfy."""
        for w in list(self.pending):
            s, reqs = self.pending[w]
            if s >= next_step:
                for r in reqs:
                    r.Cancel()
                self.MPI.Request.Waitall(reqs)
            else:
                self.MPI.Request.Waitall(reqs)
                self.reply(w, next_step, accepted=False)
                s2, reqs2 = self.pending[w]
                for r in reqs2:
                    r.Cancel()
                self.MPI.Request.Waitall(reqs2)
        self.pending.clear()
        self.wait_sends()


class Control:
    """A dedicated server's posted receives for the workers' requests (STOP, CHECKPOINT).

    A request takes effect once every worker sent it (they all reach the same point of
    their loop); until then the server goes on serving gradients.
    """

    def __init__(self, comm: Any, workers: list[int]) -> None:
        self.comm, self.workers = comm, workers
        self.buffers = {w: np.zeros(1, np.int64) for w in workers}
        self.requests: dict[int, Any] = {}
        self.got: dict[int, int] = {}
        for w in workers:
            self._post(w)

    def _post(self, w: int) -> None:
        self.requests[w] = self.comm.Irecv(self.buffers[w], source=w, tag=CONTROL_TAG)

    def waiting(self) -> list[tuple[int, Any]]:
        return [(w, r) for w, r in self.requests.items() if w not in self.got]

    def arrived(self, w: int) -> int | None:
        self.got[w] = int(self.buffers[w][0])
        if len(self.got) < len(self.workers):
            return None
        kinds = set(self.got.values())
        if len(kinds) != 1:
            raise RuntimeError(
                f"workers sent different requests to the parameter server: {self.got} "
                f"({STOP}=stop, {CHECKPOINT}=checkpoint)"
            )
        event = kinds.pop()
        self.got = {}
        if event != STOP:
            for w in self.workers:
                self._post(w)
        return event


def send_control(comm: Any, servers: list[int], request: int) -> None:
    """A worker's request (STOP or CHECKPOINT) to every dedicated server."""
    msg = np.array([request], np.int64)
    for server in servers:
        comm.Send(msg, dest=server, tag=CONTROL_TAG)
