"""Run every seed-claim example; print their tables and save all numbers as JSON.

    python examples/seed_claims/run_all.py              # out/claim*.png, out/seed_claims.json
    python examples/seed_claims/run_all.py --only 1,6   # just claims 1 and 6

Each claim's script can also be run alone (``python examples/seed_claims/claim1_momentum.py
--help``); docs/seed-claims.md lists the commands and the numbers they printed.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser

CLAIMS = {
    1: "claim1_momentum",
    2: "claim2_lr_sensitivity",
    3: "claim3_adagrad_vanishing",
    4: "claim4_rmsprop",
    5: "claim5_adam",
    6: "claim6_memory",
    7: "claim7_escape",
}


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--only", default=",".join(map(str, CLAIMS)), help="claim numbers to run")
    return p.parse_args(argv)


def _plain(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars and arrays to Python, dict keys to strings."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)
    return obj


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    shared = ["--out", str(args.out)]
    shared += ["--no-plot"] if args.no_plot else []
    shared += ["--quiet"] if args.quiet else []
    results: dict[str, Any] = {}
    for n in (int(v) for v in args.only.split(",") if v):
        module = importlib.import_module(CLAIMS[n])
        t0 = time.perf_counter()
        results[f"claim{n}"] = module.main(shared)
        seconds = time.perf_counter() - t0
        results[f"claim{n}"]["seconds"] = seconds
        if not args.quiet:
            print(f"[claim {n}: {seconds:.1f} s]\n")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "seed_claims.json"
    path.write_text(json.dumps(_plain(results), indent=1, ensure_ascii=False))
    if not args.quiet:
        print(f"numbers saved to {path}")
    return results


if __name__ == "__main__":
    main()
