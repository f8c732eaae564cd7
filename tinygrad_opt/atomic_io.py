"""Writing a file atomically: a reader (or a crash) sees the old file or the new one,
never half of one. Used by checkpoints, traces, calibration files and measurements; no
dependency beyond the standard library, so every layer may use it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["write_atomically", "write_text_atomic"]


def write_atomically(
    path: str | Path, write: Callable[[IO[Any]], None], binary: bool = True
) -> Path:
    """Create ``path`` (and its folder) with ``write(file)``, atomically: into a temporary
    file beside it, flushed to disk, then renamed over ``path``. A crash leaves either the
    old file or the new one, never half of it.

    A ``path`` that is a symbolic link is written through to its target (resolved to the
    end of a chain of links, even a dangling one): the target is replaced atomically and
    the link is kept. Returns ``path`` as given."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """:func:`write_atomically` for a text."""
    return write_atomically(path, lambda f: f.write(text), binary=False)
