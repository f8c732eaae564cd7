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


def build() -> dict[str, np.ndarray]:
    if table.torch is None:
        raise SystemExit("make_torch_fixtures.py needs torch (the test oracle) installed")
    data: dict[str, np.ndarray] = {}
    for case in table.CASES:
        inputs = case.make_inputs()
        xs = [table.torch.tensor(a) for a in inputs]
        out_shape = tuple(case.theirs(*xs).shape)
        u = case.make_upstream(out_shape)
        out, grads = table.run_torch(case, inputs, u)
        for i, a in enumerate(inputs):
            data[f"{case.name}/in{i}"] = a
        data[f"{case.name}/u"] = np.asarray(u, dtype=np.float64)
        data[f"{case.name}/out"] = np.asarray(out, dtype=np.float64)
        for i, g in enumerate(grads):
            data[f"{case.name}/grad{i}"] = np.asarray(g, dtype=np.float64)
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=table.FIXTURE)
    args = parser.parse_args()
    data = build()
    if args.check:
        with np.load(args.out) as old:
            old_keys = set(old.files)
            diff = sorted(old_keys ^ set(data))
            diff += [k for k in sorted(old_keys & set(data)) if not np.array_equal(old[k], data[k])]
        print("fixtures up to date" if not diff else f"differs: {diff}")
        return 1 if diff else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {len(table.CASES)} cases to {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
