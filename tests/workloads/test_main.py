"""``python -m tinygrad_opt.workloads``: the measuring command docs/workloads.md quotes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_opt.workloads import get_workload
from tinygrad_opt.workloads.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def test_table_row_per_seed(capsys):
    rows = main(["logreg", "--seeds", "0,1"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["workload", "metric", "target"]
    assert len(out) == 3 and all(line.startswith("logreg") for line in out[1:])
    wl = get_workload("logreg")
    for row, line in zip(rows, out[1:]):
        assert row["steps_to_target"] is not None and row["steps_to_target"] <= wl.max_steps
        assert line.split()[-3] == str(row["steps_to_target"])
    assert [r["seed"] for r in rows] == [0, 1]


def test_json_and_optimizer_override(capsys):
    main(["logreg", "--optimizer", "sgd", "--lr", "1e-4", "--max-steps", "20", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1
    row = rows[0]
    assert (row["optimizer"], row["hyperparameters"], row["steps"]) == ("sgd", {"lr": 1e-4}, 20)
    assert row["steps_to_target"] is None and row["seconds_to_target"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["resnet"], "unknown workload 'resnet'; available: logreg, mlp, cnn"),
        (["--seeds", "a"], "--seeds must be integers like 0,1,2, got 'a'"),
        (["--optimizer", "adamm"], "Unknown optimizer 'adamm'"),
        (["--max-steps", "0"], "--max-steps must be >= 1, got 0"),
    ],
)
def test_mistakes_exit_2_with_one_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_opt.workloads", "logreg", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["workload"] == "logreg"
