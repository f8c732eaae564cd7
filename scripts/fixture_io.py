"""What the ``make_*_fixtures.py`` scripts share: ``--check`` or write, the comparison, draws.

A script builds a dict of arrays per fixture file and ends with::

    def main() -> int:
        return fixture_main(__doc__, [(OUT, build)], setup=_x64, skip=("cases",))

``--check`` recomputes every file and compares it with the committed one (each array with
``np.allclose(rtol, atol)`` and equal shapes, other entries exactly, ``json_keys`` as parsed
JSON, ``skip`` not at all); without it the files are written (``np.savez_compressed``).
The exit status is 1 when anything differs. Scripts import this module with their own
directory on ``sys.path`` (they are run as ``python scripts/make_x.py`` and loaded by the
tests from their file).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import numpy as np

Build = Callable[[], dict[str, np.ndarray]]


def parse_check(doc: str | None) -> bool:
    """Parse the command line (``--check`` only); True when asked to compare."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    return parser.parse_args().check


def differences(
    path: Path,
    data: dict[str, np.ndarray],
    *,
    skip: Collection[str] = (),
    json_keys: Collection[str] = (),
    rtol: float = 1e-12,
    atol: float = 0.0,
) -> list[str]:
    """Keys of ``data`` that are missing from, or differ from, the ``.npz`` at ``path``."""
    bad = []
    with np.load(path) as old:
        for key, value in data.items():
            if key in skip:
                continue
            if key not in old.files:
                bad.append(key)
                continue
            a, b = old[key], np.asarray(value)
            if key in json_keys:
                same = json.loads(str(a)) == json.loads(str(b))
            elif a.dtype.kind in "biufc" and b.dtype.kind in "biufc":
                same = a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)
            else:
                same = bool(np.array_equal(a, b))
            if not same:
                bad.append(key)
    return bad


def write_or_check(path: Path, data: dict[str, np.ndarray], check: bool, **compare) -> int:
    """Compare ``data`` with the file (``check``; keyword arguments as :func:`differences`)
    and print what differs, or write it and print its size. Returns the number of entries
    that differ (0 when written)."""
    if check:
        bad = differences(path, data, **compare)
        for key in bad:
            print(f"{path.name}: {key} differs")
        if not bad:
            print(f"{path.name}: up to date")
        return len(bad)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **data)
    cases = f", {len(json.loads(str(data['cases'])))} cases" if "cases" in data else ""
    print(f"wrote {path} ({path.stat().st_size} bytes{cases})")
    return 0


def fixture_main(
    doc: str | None,
    outputs: Iterable[tuple[Path, Build]],
    *,
    setup: Callable[[], None] | None = None,
    **compare,
) -> int:
    """A fixture script's ``main``: parse ``--check``, run ``setup`` (imports of the
    reference, jax's float64 mode ...), then build each ``(path, build)`` of ``outputs``
    (iterated only after ``setup``: a generator may import the reference) and write or
    check it. Returns the exit status: 1 if anything differs."""
    check = parse_check(doc)
    if setup is not None:
        setup()
    bad = sum(write_or_check(path, build(), check, **compare) for path, build in outputs)
    return 1 if bad else 0


def require(script: str, what: str, *modules: str) -> None:
    """Import ``modules`` or exit with "``script`` needs ``what``"."""
    import importlib

    try:
        for name in modules:
            importlib.import_module(name)
    except ImportError:
        raise SystemExit(f"{script} needs {what}") from None


def jax_x64(script: str, what: str = "optax and jax", *modules: str) -> Callable[[], None]:
    """A ``setup`` for Optax references: needs jax (and ``modules``), runs it in float64."""

    def setup() -> None:
        require(script, what, "jax", *modules)
        import jax

        jax.config.update("jax_enable_x64", True)

    return setup


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """exp(U(log lo, log hi)): a draw spread evenly over the orders of magnitude."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def random_problem(
    rng: np.random.Generator, shapes: Iterable[tuple[int, ...]], steps: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Standard-normal gradients ``grads[i]`` of shape (steps, *shape_i), then initial
    parameters, drawn from ``rng`` in that order."""
    shapes = list(shapes)
    grads = [rng.standard_normal((steps, *s)) for s in shapes]
    init = [rng.standard_normal(s) for s in shapes]
    return grads, init
