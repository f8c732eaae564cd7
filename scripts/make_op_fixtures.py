"""Regenerate ``tests/fixtures/ops_<kind>.npz`` from torch (one per ``cases_<kind>.py``).

Each fixture stores, per case of the table's ``CASES``, the inputs, the upstream
gradients, torch's outputs and torch's input gradients (see ``tests/engine/optable.py``).
The engine's op tests compare against these numbers whether or not torch is importable.

    python scripts/make_op_fixtures.py [--check] [kind ...]

``--check`` recomputes everything and reports differences without writing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "engine"), str(ROOT / "tests")]

import optable  # noqa: E402
from torch_oracle import write_or_check_fixture  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("kinds", nargs="*", help="tables to refresh (default: all)")
    args = parser.parse_args()
    if optable.torch is None:
        raise SystemExit("make_op_fixtures.py needs torch (the test oracle) installed")
    kinds = args.kinds or sorted(
        p.stem.removeprefix("cases_") for p in (ROOT / "tests" / "engine").glob("cases_*.py")
    )
    status = 0
    for kind in kinds:
        table = importlib.import_module(f"cases_{kind}")
        data = {}
        for case in getattr(table, "CASES", []):
            data.update(optable.fixture_arrays(case))
        path = ROOT / "tests" / "fixtures" / f"ops_{kind}.npz"
        status |= write_or_check_fixture(data, path, args.check)
    return status


if __name__ == "__main__":
    sys.exit(main())
