"""Set-up of a data-parallel job on MPI: who am I, how many are we, same start for all.

:func:`init` starts MPI (through ``mpi4py``, the ``[dist]`` extra) and returns a
:class:`DistContext` with this process's ``rank`` and the ``world_size``. Then
:func:`broadcast_parameters` gives every rank rank 0's initial parameters, and
:func:`check_same_setup` stops the job at start-up, with a message naming the ranks and
what differs, if the ranks built different models or optimizers;
:func:`check_same_config` (also ``init(config=...)``) does the same for the settings a
script was started with (seed, batch size, ...), naming each field and every rank's value.

Run one process per rank with ``mpiexec -n 4 python train.py`` (or ``tinygrad-opt
launch -n 4 train.py``); a script started without ``mpiexec`` is a job of one rank.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DistContext",
    "SetupMismatchError",
    "broadcast_parameters",
    "check_same_config",
    "check_same_setup",
    "get_context",
    "init",
    "require_mpi",
]


TIMEOUT_ENV = "TINYGRAD_OPT_TIMEOUT"


class SetupMismatchError(RuntimeError):
    """The ranks of one job were set up differently (model shapes, optimizer settings)."""


def require_mpi() -> Any:
    """The ``mpi4py.MPI`` module, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "tinygrad_opt.distributed needs mpi4py and an MPI library: "
            'pip install "tinygrad-opt[dist]" (installs mpi4py and the mpich wheel, '
            f"which provides mpiexec) ({e})"
        ) from None
    return MPI


@dataclass
class DistContext:
    """This process's place in the job.

    Attributes:
        comm: the ``mpi4py`` communicator of the job (a duplicate of ``COMM_WORLD``, so
            the library's messages never mix with the user's).
        rank: this process's number, ``0 .. world_size-1``; rank 0 is the root (it
            broadcasts the initial parameters and writes checkpoints and traces).
        world_size: number of processes.
        hostname: this machine's name (traces and error messages name it).
        timeout: seconds a rank may wait in communication before the job is ended as
            having lost a rank (None: wait forever); see :mod:`.faults`.
    """

    comm: Any
    rank: int
    world_size: int
    hostname: str = field(default_factory=socket.gethostname)
    timeout: float | None = None
    watchdog: Any = None

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        from tinygrad_opt.distributed import faults

        with faults.waiting(self, "barrier"):
            self.comm.Barrier()

    def close(self) -> None:
        """Stop the watchdog (if any); MPI itself is finalised by mpi4py at exit."""
        if self.watchdog is not None:
            self.watchdog.close()
            self.watchdog = None


_CONTEXT: DistContext | None = None


def init(
    timeout: float | None = None, comm: Any = None, config: dict[str, Any] | None = None
) -> DistContext:
    """Start (or return) the job's :class:`DistContext`.

    ``timeout`` (seconds, > 0) arms the fault watchdog: a rank that waits in communication
    longer than that finds out which rank is lost, prints it and ends the job with a
    non-zero exit code instead of hanging (default: the environment variable
    ``TINYGRAD_OPT_TIMEOUT``, which ``tinygrad-opt launch --rank-timeout`` sets; else
    none). ``comm`` defaults to ``MPI.COMM_WORLD``.
    ``config``: the settings every rank must share (seed, batch size, epochs, ...), checked
    at once with :func:`check_same_config`.
    Calling ``init`` again returns the same context (checking ``config`` if given).
    """
    global _CONTEXT
    if _CONTEXT is not None:
        if config is not None:
            check_same_config(config, _CONTEXT)
        return _CONTEXT
    if timeout is None and os.environ.get(TIMEOUT_ENV):
        try:
            timeout = float(os.environ[TIMEOUT_ENV])
        except ValueError:
            raise ValueError(
                f"{TIMEOUT_ENV}={os.environ[TIMEOUT_ENV]!r} is not a number of seconds"
            ) from None
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    MPI = require_mpi()
    base = MPI.COMM_WORLD if comm is None else comm
    ctx = DistContext(comm=base.Dup(), rank=base.Get_rank(), world_size=base.Get_size())
    ctx.timeout = None if timeout is None else float(timeout)
    from tinygrad_opt.distributed import faults

    ctx.watchdog = faults.start_watchdog(ctx)
    _CONTEXT = ctx
    if config is not None:
        check_same_config(config, ctx)
    return ctx


def check_same_config(config: dict[str, Any], ctx: DistContext | None = None) -> None:
    """Raise :class:`SetupMismatchError` on every rank if the ranks' ``config`` differ.

    A collective call (an all-gather). ``config`` maps names to values (numbers, strings,
    lists, ...; compared by their JSON text). The message names every field that differs
    and each rank's value, e.g. ``seed: 0 on ranks 0, 2; 1 on rank 1``.
    """
    from tinygrad_opt.distributed import faults

    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of settings, got {type(config).__name__}")
    ctx = ctx or get_context()
    mine = {str(k): json.dumps(v, sort_keys=True, default=str) for k, v in config.items()}
    with faults.waiting(ctx, "configuration check"):
        everyone = ctx.comm.allgather(mine)
    fields = sorted({k for c in everyone for k in c})
    problems = []
    for key in fields:
        values = [c.get(key, "(missing)") for c in everyone]
        if len(set(values)) == 1:
            continue
        groups: dict[str, list[int]] = {}
        for rank, v in enumerate(values):
            groups.setdefault(v, []).append(rank)
        parts = [
            f"{v} on rank{'s' if len(r) > 1 else ''} {', '.join(map(str, r))}"
            for v, r in groups.items()
        ]
        problems.append(f"{key}: {'; '.join(parts)}")
    if problems:
        raise SetupMismatchError(
            "the ranks were started with different settings: " + " | ".join(problems)
        )


def get_context() -> DistContext:
    """The context made by :func:`init` (calling ``init()`` if there is none yet)."""
    return _CONTEXT if _CONTEXT is not None else init()


def _params(model_or_params: Any) -> list[Any]:
    if hasattr(model_or_params, "parameters"):
        return list(model_or_params.parameters())
    return list(model_or_params)


def broadcast_parameters(
    model_or_params: Any, ctx: DistContext | None = None, root: int = 0
) -> None:
    """Overwrite every rank's parameters (and module buffers) with rank ``root``'s, in place.

    First checks that every rank has the same parameter shapes (:func:`check_same_setup`),
    so a mismatch is a clear :class:`SetupMismatchError`, not an MPI size error.
    """
    from tinygrad_opt.distributed import faults

    ctx = ctx or get_context()
    check_same_setup(model_or_params, None, ctx)
    arrays = [p.data for p in _params(model_or_params)]
    if hasattr(model_or_params, "named_buffers"):
        arrays += [b for _, b in model_or_params.named_buffers()]
    for a in arrays:
        if not a.flags.c_contiguous:
            raise ValueError("broadcast_parameters: parameters must be C-contiguous arrays")
        with faults.waiting(ctx, "broadcast of the initial parameters"):
            ctx.comm.Bcast(a, root=root)


def _describe(model_or_params: Any, optimizer: Any) -> dict[str, Any]:
    params = _params(model_or_params) if model_or_params is not None else []
    out: dict[str, Any] = {
        "parameters": [{"shape": list(p.shape), "dtype": str(p.dtype)} for p in params],
    }
    if optimizer is not None:
        inner = getattr(optimizer, "optimizer", optimizer)
        groups = []
        for g in inner.param_groups:
            groups.append(
                {k: repr(v) for k, v in sorted(g.items()) if k != "params"}
                | {"params": len(g["params"])}
            )
        out["optimizer"] = {"class": type(inner).__name__, "groups": groups}
        settings = getattr(optimizer, "settings", None)
        if callable(settings):
            out["distributed"] = settings()
    return out


def _first_difference(a: Any, b: Any, where: str = "") -> str:
    """Where ``a`` and ``b`` first differ, as ``parameters[2][0][1]: 16 vs 17``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            path = f"{where}.{k}" if where else str(k)
            if k not in a or k not in b:
                return f"{path}: present on one rank only"
            d = _first_difference(a[k], b[k], path)
            if d:
                return d
        return ""
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} entries vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return ""
    return "" if a == b else f"{where}: {a!r} vs {b!r}"


def check_same_setup(
    model_or_params: Any, optimizer: Any = None, ctx: DistContext | None = None
) -> None:
    """Raise :class:`SetupMismatchError` on every rank if the ranks differ.

    Compared: the number, shapes and dtypes of the parameters and, if given, the
    optimizer class and every hyperparameter of every group (and the distributed
    wrapper's settings). The message names the ranks that differ from rank 0 and the
    first difference, e.g. ``parameters[2].shape[1]: 10 vs 12``.
    """
    from tinygrad_opt.distributed import faults

    ctx = ctx or get_context()
    mine = _describe(model_or_params, optimizer)
    text = json.dumps(mine, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with faults.waiting(ctx, "set-up check"):
        digests = ctx.comm.allgather(digest)
        if len(set(digests)) == 1:
            return
        root_desc = ctx.comm.bcast(mine if ctx.rank == 0 else None, root=0)
        # everyone learns every rank's difference from rank 0, so all raise the same error
        diff = "" if digest == digests[0] else _first_difference(root_desc, mine)
        diffs = ctx.comm.allgather(diff)
    lines = [f"rank {r}: {d}" for r, d in enumerate(diffs) if d]
    raise SetupMismatchError(
        "the ranks were set up differently (compared with rank 0): " + "; ".join(lines)
    )
