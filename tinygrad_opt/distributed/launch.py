"""The environment every rank of a job gets from ``tinygrad-opt launch`` (and calibrate).

* One BLAS/OpenMP thread per rank, as ``torchrun`` does: N ranks of multi-threaded BLAS on
  the same cores fight each other (measured here: 2 ranks of a 0.1M-parameter MLP took
  22.8 ms per step with the default threads, 0.87 ms with one).
* When one machine runs more ranks than it has CPUs, MPICH's progress engine is told to
  back off (``MPIR_CVAR_CH4_PROGRESS_THROTTLE``: a ``usleep(1)`` after 64 polls that
  found nothing). A rank waiting for a message otherwise spins on a core another rank
  needs to compute, and with steps of about a scheduler time slice every synchronisation
  can cost a slice. Measured here, 4 ranks on 2 CPUs, a 0.1M-parameter MLP: parameter
  server 5.1-6.7 -> 2.0-2.2 ms per step, all-reduce 2.2-2.5 -> 2.1 ms; on 2 ranks
  (not oversubscribed) it would cost 0.78 -> 0.91 ms, so it is only set when oversubscribed.

Variables already set in the caller's environment are kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["OVERSUBSCRIBED_ENV", "THREAD_ENV", "rank_environment"]

THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
"""One BLAS/OpenMP thread per MPI rank."""

OVERSUBSCRIBED_ENV: dict[str, str] = {
    "MPIR_CVAR_CH4_PROGRESS_THROTTLE": "1",
    "MPIR_CVAR_CH4_PROGRESS_THROTTLE_NO_PROGRESS_COUNT": "64",
}
"""MPICH: waiting ranks yield the CPU now and then (more ranks than CPUs on a machine)."""


def rank_environment(
    ranks: int,
    single_host: bool = True,
    base: Mapping[str, str] | None = None,
    cpus: int | None = None,
) -> dict[str, str]:
    """``base`` (default ``os.environ``) plus :data:`THREAD_ENV` and, when ``ranks``
    exceed this machine's ``cpus`` on a single host, :data:`OVERSUBSCRIBED_ENV`."""
    env = dict(os.environ if base is None else base)
    for key, value in THREAD_ENV.items():
        env.setdefault(key, value)
    cpus = os.cpu_count() or 1 if cpus is None else cpus
    if single_host and ranks > cpus:
        for key, value in OVERSUBSCRIBED_ENV.items():
            env.setdefault(key, value)
    return env
