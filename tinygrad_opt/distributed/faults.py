"""Lost ranks: a rank that crashes or hangs ends the job with a message naming it.

(Interface stub; the watchdog is being written.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def start_watchdog(ctx: Any) -> Any:
    """Start the watchdog for ``ctx`` (None when ``ctx.timeout`` is None)."""
    return None


@contextlib.contextmanager
def waiting(ctx: Any, phase: str, step: int) -> Iterator[None]:
    """Mark a blocking communication ``phase`` of ``step`` (the watchdog times it)."""
    wd = getattr(ctx, "watchdog", None)
    if wd is None:
        yield
        return
    with wd.waiting(phase, step):
        yield


def computing(ctx: Any, step: int) -> None:
    """Mark that this rank is computing ``step`` (not waiting for anybody)."""
    wd = getattr(ctx, "watchdog", None)
    if wd is not None:
        wd.computing(step)
