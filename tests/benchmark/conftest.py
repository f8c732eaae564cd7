"""Fixtures of the benchmark's tests (the tiny workload is in benchmark_helpers.py)."""

from __future__ import annotations

import pytest
from benchmark_helpers import TinyWorkload


@pytest.fixture
def tiny_workloads() -> dict[str, TinyWorkload]:
    return {
        "tiny": TinyWorkload(),
        "tiny_hard": TinyWorkload(name="tiny_hard", target=0.05, max_steps=40),
    }
