"""Workloads: named training problems with fixed targets, for comparing optimizers.

``get_workload(name, **overrides)`` → a :class:`Workload`; ``workload.setup(seed)`` → a
:class:`Trial` (fresh model + data stream); :func:`run` trains one with an optimizer and
reports steps and seconds to the target. Names: ``available_workloads()``. See
docs/workloads.md.
"""

from tinygrad_opt.workloads import char_lm, digits, logreg  # noqa: F401  (each registers itself)
from tinygrad_opt.workloads.base import (
    Trial,
    Workload,
    available_workloads,
    get_workload,
    register_workload,
)
from tinygrad_opt.workloads.run import RunResult, run

__all__ = [
    "RunResult",
    "Trial",
    "Workload",
    "available_workloads",
    "get_workload",
    "register_workload",
    "run",
]
