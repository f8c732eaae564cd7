"""Regenerate ``tests/fixtures/torch_ops.npz`` from PyTorch (run with torch installed).

For every case in the table ``CASES`` of ``tests/test_torch_agreement.py`` it stores the
inputs, the upstream gradient ``u``, torch's forward output and torch's gradients of
``sum(out * u)``, all float64:

    <name>/in0, <name>/in1, ..., <name>/u, <name>/out, <name>/grad0, <name>/grad1, ...

The test compares our engine against these numbers whether or not torch is importable.
Usage::

    python scripts/make_torch_fixtures.py [--check]

``--check`` recomputes everything and reports differences without writing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_torch_agreement as table  # noqa: E402
from torch_oracle import torch_case_arrays, write_or_check_fixture  # noqa: E402


def build() -> dict[str, np.ndarray]:
    if table.torch is None:
        raise SystemExit("make_torch_fixtures.py needs torch (the test oracle) installed")
    data: dict[str, np.ndarray] = {}
    for case in table.CASES:
        data.update(torch_case_arrays(case, ""))
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=table.FIXTURE)
    args = parser.parse_args()
    return write_or_check_fixture(build(), args.out, args.check)


if __name__ == "__main__":
    sys.exit(main())
