"""Regenerate ``tests/fixtures/layers_torch.npz`` from PyTorch (run with torch installed).

Two tables in ``tests/nn/test_layers.py`` are recorded, all float64:

- ``CASES`` (functional ops): ``case/<name>/in0, in1, ..., u, out, grad0, grad1, ...``:
  the inputs, the upstream gradient ``u``, torch's output and torch's gradients of
  ``sum(out * u)`` with respect to every input.
- ``BN_SCENARIOS`` (BatchNorm layers over several train steps and one eval step):
  ``bn/<name>/in/<key>`` (γ, β, inputs and upstreams per step) and ``bn/<name>/out/<key>``
  (torch's outputs, gradients and buffers after every step).

The tests compare our layers with these numbers whether or not torch is importable.
Usage::

    python scripts/make_layer_fixtures.py [--check]

``--check`` recomputes everything and reports differences without writing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "nn"), str(ROOT / "tests")]

import test_layers as table  # noqa: E402
from torch_oracle import torch_case_arrays, write_or_check_fixture  # noqa: E402


def build() -> dict[str, np.ndarray]:
    if table.torch is None:
        raise SystemExit("make_layer_fixtures.py needs torch (the test oracle) installed")
    data: dict[str, np.ndarray] = {}
    for case in table.CASES:
        data.update(torch_case_arrays(case, "case/"))
    for name in table.BN_SCENARIOS:
        inputs = table.bn_inputs(name)
        for k, v in inputs.items():
            data[f"bn/{name}/in/{k}"] = v
        for k, v in table.bn_run(name, inputs, "torch").items():
            data[f"bn/{name}/out/{k}"] = v
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=table.FIXTURE)
    args = parser.parse_args()
    return write_or_check_fixture(build(), args.out, args.check)


if __name__ == "__main__":
    sys.exit(main())
