"""Regenerate ``tests/fixtures/optim_torch_more.npz`` from PyTorch (run with torch installed).

For every case in ``CASES`` and ``LBFGS_CASES`` of ``tests/optim/test_optim_torch_more.py`` it
stores what the fixture tests need to replay the case without torch:

    grads/seed<s>              int8 gradient codes (gradient = code / 32), (steps, size)
    params0/seed<s>            the initial parameters, flattened, float64
    <case>/float64             torch's parameters (then extra state, e.g. ASGD's ax),
                               flattened, after each of the steps SAVED_STEPS
    <case>/float32             the same for the first 10 steps in float32
    <lbfgs case>/x0/<i>, /data/<i>, /trajectory, /counts
                               L-BFGS inputs, parameters after each ``step`` call and
                               torch's (func_evals, n_iter) after each call

The tests compare our optimizers against these numbers whether or not torch is
importable. Usage::

    python scripts/make_optim_fixtures_more.py [--check]

``--check`` recomputes everything and reports differences without writing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "optim"))

import test_optim_torch_more as table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=table.FIXTURE)
    args = parser.parse_args()
    if table.torch is None:
        raise SystemExit("make_optim_fixtures_more.py needs torch (the test oracle) installed")
    data = table.build_fixture()
    if args.check:
        with np.load(args.out) as old:
            old_keys = set(old.files)
            diff = sorted(old_keys ^ set(data))
            diff += [k for k in sorted(old_keys & set(data)) if not np.array_equal(old[k], data[k])]
        print("fixtures up to date" if not diff else f"differs: {diff}")
        return 1 if diff else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    n = len(table.CASES) + len(table.LBFGS_CASES)
    print(f"wrote {n} cases to {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
