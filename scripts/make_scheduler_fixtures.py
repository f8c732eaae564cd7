"""Regenerate ``tests/fixtures/schedulers_torch.json`` from PyTorch (run with torch installed).

It stores what torch computes for the tables in ``tests/optim/test_lr_scheduler.py`` and
``tests/optim/test_clip.py``, so that the tests compare with torch even where it is missing:

    schedulers/<case>   per step (construction, then each step()), every group's lr,
                        then (OneCycleLR cases) every group's momentum or betas[0]
    trainings/<name>    flattened parameters after each step of a short scheduled run
    clip/<case>         the total norm returned by clip_grad_norm_ and the clipped
                        gradients, concatenated (finite cases only)

Numbers are written with ``repr`` precision, so they load back bit for bit. Usage::

    python scripts/make_scheduler_fixtures.py [--check]

``--check`` recomputes everything and reports differences without writing (exit 1 if the
committed file is stale).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "optim"))

import test_clip as clip_table  # noqa: E402
import test_lr_scheduler as sched_table  # noqa: E402


def build() -> dict[str, Any]:
    if sched_table.torch is None:
        raise SystemExit("make_scheduler_fixtures.py needs torch (the test oracle) installed")
    import torch

    data: dict[str, Any] = {
        "about": f"torch {torch.__version__}; see scripts/make_scheduler_fixtures.py",
        "schedulers": {c.name: sched_table.run(c, "torch").tolist() for c in sched_table.CASES},
        "trainings": {n: sched_table.train(n, "torch").tolist() for n in sched_table.TRAININGS},
        "clip": {},
    }
    for case in clip_table.CLIP_CASES:
        if case.finite:
            total, grads = clip_table.clip_torch(case)
            data["clip"][case.name] = {
                "total": total,
                "grads": clip_table.flatten(grads).tolist(),
            }
    return data


def dumps(data: dict[str, Any]) -> str:
    """One line per case: small diffs when a case changes."""
    lines = ["{", f'  "about": {json.dumps(data["about"])},']
    sections = [k for k in data if k != "about"]
    for i, section in enumerate(sections):
        lines.append(f'  "{section}": {{')
        items = list(data[section].items())
        for j, (name, value) in enumerate(items):
            comma = "," if j < len(items) - 1 else ""
            lines.append(f"    {json.dumps(name)}: {json.dumps(value, allow_nan=False)}{comma}")
        lines.append("  }" + ("," if i < len(sections) - 1 else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _leaves(value: Any, prefix: str) -> dict[str, np.ndarray]:
    if isinstance(value, dict):
        out: dict[str, np.ndarray] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}/{k}" if prefix else k))
        return out
    if isinstance(value, str):
        return {}
    return {prefix: np.asarray(value, dtype=np.float64)}


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Entries added, removed, or whose numbers changed beyond last-bit noise."""
    a, b = _leaves(old, ""), _leaves(new, "")
    diff = [f"{k} (only in {'file' if k in a else 'table'})" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        if a[k].shape != b[k].shape:
            diff.append(f"{k} (shape {a[k].shape} -> {b[k].shape})")
        elif not np.allclose(a[k], b[k], rtol=1e-12, atol=1e-15):
            diff.append(f"{k} (max |diff| {np.max(np.abs(a[k] - b[k])):.3g})")
    return diff


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=sched_table.FIXTURE)
    args = parser.parse_args()
    data = build()
    if args.check:
        if not args.out.exists():
            print(f"{args.out} does not exist")
            return 1
        diff = differences(json.loads(args.out.read_text()), data)
        print("fixtures up to date" if not diff else "stale:\n  " + "\n  ".join(diff))
        return 1 if diff else 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(data))
    n = len(data["schedulers"]) + len(data["trainings"]) + len(data["clip"])
    print(f"wrote {n} cases to {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
