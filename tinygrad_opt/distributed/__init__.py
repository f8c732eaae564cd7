"""Synchronous data-parallel SGD for real, across processes and hosts, on MPI.

The same training as one process, on ``N`` ranks started by ``mpiexec -n N`` (or
``tinygrad-opt launch -n N``), each computing gradients on its share of every global
batch. Needs the ``[dist]`` extra (``mpi4py`` and the ``mpich`` wheel).

Modules, one concept each: ``comm`` (init, broadcast, set-up checks), ``sampler`` (each
rank's share of a global batch), ``buckets`` (gradients as views of contiguous buffers),
``parameter_server`` (shards, servers, backup workers), ``optimizer``
(:class:`DistributedOptimizer`, both modes), ``trace`` (measured per-step timing, JSON),
``checkpoint`` (rank 0 writes, atomically), ``noise_scale`` (McCandlish et al.'s
B_simple), ``faults`` (a lost rank ends the job with a message naming it). See
``docs/distributed.md``.
"""

from tinygrad_opt.distributed.buckets import DEFAULT_BUCKET_BYTES, GradientBuckets
from tinygrad_opt.distributed.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_opt.distributed.comm import (
    DistContext,
    SetupMismatchError,
    broadcast_parameters,
    check_same_config,
    check_same_setup,
    get_context,
    init,
)
from tinygrad_opt.distributed.noise_scale import noise_scale_from_log
from tinygrad_opt.distributed.optimizer import MODES, PLACEMENTS, DistributedOptimizer
from tinygrad_opt.distributed.sampler import DistributedSampler
from tinygrad_opt.distributed.trace import Trace, load_trace, summarize_trace, trace_events

__all__ = [
    "DEFAULT_BUCKET_BYTES",
    "MODES",
    "PLACEMENTS",
    "DistContext",
    "DistributedOptimizer",
    "DistributedSampler",
    "GradientBuckets",
    "SetupMismatchError",
    "Trace",
    "broadcast_parameters",
    "check_same_config",
    "check_same_setup",
    "get_context",
    "init",
    "load_checkpoint",
    "load_trace",
    "noise_scale_from_log",
    "save_checkpoint",
    "summarize_trace",
    "trace_events",
]
