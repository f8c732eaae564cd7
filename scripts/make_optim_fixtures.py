"""Regenerate ``tests/fixtures/optim_torch.npz`` from PyTorch (run with torch installed).

For every case in the table ``CASES`` of ``tests/optim/test_optim_torch.py`` it runs the
``torch.optim`` optimizer and stores, all as float64 (float32 runs as float32):

    <name>/f64     parameters (flattened) at steps 1-10 and every 20th, 200 steps, float64
    <name>/groups  the same with two parameter groups at different learning rates
    <name>/f32     parameters after each of 10 float32 steps
    <name>/net     the tanh MLP's parameters ((out, in) weights) after 200 training steps
    <name>/digest  a fingerprint of the generated inputs (they are regenerated, not stored)

The tests compare our optimizers with these numbers whether or not torch is importable.
Usage::

    python scripts/make_optim_fixtures.py [--check]

``--check`` recomputes everything and reports differences without writing (exit 1 if the
committed file is stale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "optim"))

import test_optim_torch as table  # noqa: E402


def build() -> dict[str, np.ndarray]:
    if table.torch is None:
        raise SystemExit("make_optim_fixtures.py needs torch (the test oracle) installed")
    data: dict[str, np.ndarray] = {}
    for case in table.CASES:
        for kind in table.KINDS:
            data[f"{case.name}/{kind}"] = table.snapshot(table.run_theirs(case, kind), kind)
        data[f"{case.name}/net"] = np.concatenate([p.ravel() for p in table.train_theirs(case)])
        data[f"{case.name}/digest"] = table.input_digest(case)
    return data


def differences(old: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> list[str]:
    """Keys added, removed, or whose arrays changed beyond last-bit noise."""
    diff = [f"{k} (only in {'file' if k in old else 'table'})" for k in sorted(set(old) ^ set(new))]
    for k in sorted(set(old) & set(new)):
        a, b = old[k], new[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            diff.append(f"{k} (shape/dtype {a.shape} {a.dtype} -> {b.shape} {b.dtype})")
        elif not np.allclose(a, b, rtol=1e-12, atol=1e-14):
            diff.append(f"{k} (max |diff| {np.max(np.abs(a.astype(float) - b)):.3g})")
    return diff


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=table.FIXTURE)
    args = parser.parse_args()
    data = build()
    if args.check:
        if not args.out.exists():
            print(f"{args.out} does not exist")
            return 1
        with np.load(args.out) as f:
            old = {k: f[k] for k in f.files}
        diff = differences(old, data)
        print("fixtures up to date" if not diff else "stale:\n  " + "\n  ".join(diff))
        return 1 if diff else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {len(table.CASES)} cases to {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
