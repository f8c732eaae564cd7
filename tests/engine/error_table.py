"""Shared checks for the error tables of ``test_*_ops.py``.

An entry is ``(name, thunk, cls, words)``: ``thunk(M)`` makes the mistake with ``M`` the
library namespace (``tinygrad_opt`` or ``torch``, with ``M.F`` its nn.functional, see
``cases_shape.both``). Ours must raise ``cls`` with every word in the message, from our
own code (no numpy exception chained on); with torch importable, ours must also be an
instance of the class torch raises.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cases_shape import _ours, _theirs

import tinygrad_opt

PKG_DIR = Path(tinygrad_opt.__file__).resolve().parent


def check_ours(name, thunk, cls, words) -> None:
    with pytest.raises(Exception) as info:
        thunk(_ours())
    err = info.value
    assert isinstance(err, cls), f"{name}: raised {type(err).__name__}: {err}"
    msg = str(err)
    for w in words:
        assert w in msg, f"{name}: {w!r} not in {msg!r}"
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    last = Path(str(info.traceback[-1].path)).resolve()
    assert PKG_DIR in last.parents, f"{name}: raised from {last}, not from tinygrad_opt"


def check_torch_class(name, thunk) -> None:
    pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        thunk(_theirs())
    with pytest.raises(Exception) as ours:
        thunk(_ours())
    assert isinstance(ours.value, type(theirs.value)), (
        f"{name}: torch raises {type(theirs.value).__name__} ({theirs.value}), we raise "
        f"{type(ours.value).__name__} ({ours.value})"
    )
