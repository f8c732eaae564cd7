"""Smoke test of benchmarks/bench_transformer.py: a one-step run of the small config.

No timing is asserted (the machine is shared): the run must check agreement with torch
(losses, gradients, weights after AdamW within float32 tolerance, all float32), time
both sides at one thread and write the JSON result it prints.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("threadpoolctl")
pytestmark = pytest.mark.torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_transformer.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_transformer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_agrees_with_torch_and_writes_json(tmp_path, capsys):
    out = tmp_path / "result.json"
    argv = ["--configs", "d64", "--threads", "1", "--rounds", "1", "--steps", "1"]
    result = _load().main([*argv, "--quick", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    entry = result["configs"]["d64"]
    assert entry["config"]["num_layers"] == 2 and entry["vocab"] > 50
    agree = entry["agreement"]
    assert agree["loss_rel_err"] <= 1e-5 and agree["grad_rel_err"] <= 2e-4
    row = entry["threads"]["1"]
    assert row["numpy_threads_set_by"] == "threadpoolctl"
    assert all(math.isfinite(row[k]) and row[k] > 0 for k in ("ours_ms", "torch_ms", "ratio"))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert set(json.loads(last)["ratio_ours_over_torch"]) == {"d64"}


def test_bad_thread_count_exits_with_one_line(capsys):
    with pytest.raises(SystemExit) as err:
        _load().main(["--threads", "0"])
    assert err.value.code == 2
    assert "--threads must be positive" in capsys.readouterr().err
