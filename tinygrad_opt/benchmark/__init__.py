"""An optimizer benchmark with an equal tuning budget per method (``tinygrad-opt benchmark``).

Every method × workload of :mod:`tinygrad_opt.workloads`: ``budget`` random-search trials
per method from its declared space (:mod:`~tinygrad_opt.benchmark.spaces`), each trained
until the workload's target or its step limit; scored by time to target AlgoPerf-style
(Dahl et al. 2023: the fastest trial of each study, the median over studies) and compared
with Dolan–Moré performance profiles (:mod:`~tinygrad_opt.benchmark.scoring`,
:mod:`~tinygrad_opt.benchmark.report`). Resumable: :mod:`~tinygrad_opt.benchmark.study`.
See ``docs/benchmark.md``.
"""

from tinygrad_opt.benchmark.report import format_table, plot_profiles
from tinygrad_opt.benchmark.scoring import MethodScore, performance_profile, score_trials
from tinygrad_opt.benchmark.spaces import SEARCH_SPACES, describe_space, sample, space_for
from tinygrad_opt.benchmark.study import (
    ResumeError,
    Settings,
    cannot_run,
    load_results,
    plan_trials,
    run_benchmark,
)

__all__ = [
    "MethodScore",
    "ResumeError",
    "SEARCH_SPACES",
    "Settings",
    "cannot_run",
    "describe_space",
    "format_table",
    "load_results",
    "performance_profile",
    "plan_trials",
    "plot_profiles",
    "run_benchmark",
    "sample",
    "score_trials",
    "space_for",
]
