"""`tinygrad-opt plan`: the JSON contract (rows with whatif's keys, best and Pareto front
among them), the library's choice, the plot, and exit code 2 with one line for bad input
and for a grid where nothing is feasible."""

from __future__ import annotations

import json

import pytest

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import plan

GRID = [
    "--params", "25.6M", "--workers", "2,4,8,16", "--compute-time-per-example", "2ms",
    "--per-worker-batch", "16,64", "--s-min", "2000", "--b-noise", "2048",
    "--bandwidth", "10Gbps,25Gbps", "--latency", "20us", "--scheme", "ring,ps",
    "--ps-shards", "1,2", "--backup-workers", "0,1", "--price", "3", "--samples", "200",
]  # fmt: skip


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(argv, capsys) -> dict:
    code, out, err = run([*argv, "--json"], capsys)
    assert code == 0, err
    return json.loads(out)


def test_json_rows_have_whatifs_keys_and_best_and_front_are_rows(capsys):
    out = run_json(["plan", *GRID, "--deadline", "3h"], capsys)
    whatif = run_json(["whatif", *GRID[:2], "--workers", "2", *GRID[4:]], capsys)
    keys = list(whatif["rows"][0])
    assert {"best", "pareto", "rows"} <= set(out)
    assert all(list(r) == keys for r in [out["best"], *out["pareto"], *out["rows"]])
    assert out["best"] in out["rows"] and all(r in out["rows"] for r in out["pareto"])
    assert all(r["total_time_s"] <= 3 * 3600 for r in out["rows"])
    assert out["objective"] == "cost"
    assert out["best"]["cost"] == min(r["cost"] for r in out["rows"])


def test_cli_equals_the_library(capsys):
    out = run_json(["plan", *GRID, "--minimize", "time", "--budget", "60"], capsys)
    settings = {
        "cluster": {"workers": [2, 4, 8, 16], "bandwidth": ["10Gbps", "25Gbps"],
                    "latency": "20us", "price_per_node_hour": "3"},
        "workload": {"parameters": "25.6M", "compute_time_per_example": "2ms",
                     "per_worker_batch": ["16", "64"],
                     "large_batch": {"s_min": "2000", "b_noise": "2048"}},
        "scheme": {"name": ["ring", "ps"], "ps_shards": ["1", "2"], "backup_workers": ["0", "1"]},
        "simulation": {"steps_to_sample": "200"},
    }  # fmt: skip
    p = plan(settings, minimize="time", budget=60)
    assert out["best"] == json.loads(json.dumps(p.best))
    assert len(out["rows"]) == len(p.rows) and out["explanation"] == p.explanation


def test_whatif_rows_of_the_same_grid_match(capsys):
    plan_rows = run_json(["plan", *GRID], capsys)["rows"]
    whatif_rows = run_json(["whatif", *GRID], capsys)["rows"]
    assert len(plan_rows) == len(whatif_rows)
    for a, b in zip(plan_rows, whatif_rows):
        for k, v in b.items():
            assert a[k] == (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v), k


def test_text_output_and_plot(capsys, tmp_path):
    path = tmp_path / "plan.png"
    code, out, err = run(["plan", *GRID, "--budget", "60", "--out", str(path)], capsys)
    assert code == 0, err
    assert "Pareto front" in out and "best: " in out and "minimising time" in out
    assert "It beats" in out and "decide" in out
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_heterogeneous_speeds_report_batches(capsys):
    argv = ["plan", "--params", "25.6M", "--workers", "4", "--compute-time-per-example",
            "2ms", "--per-worker-batch", "64", "--steps", "1000", "--bandwidth", "25Gbps",
            "--latency", "20us", "--speed-factors", "1,1,2,0.5"]  # fmt: skip
    code, out, _ = run(argv, capsys)
    assert code == 0 and "per node 57, 57, 114, 28 instead of 64 per worker" in out
    data = run_json(argv, capsys)
    assert data["balance"]["per_worker"] == [57, 57, 114, 28]
    bal = data["balance"]  # fixed steps, no failures: time ratio = step-time ratio
    assert bal["gain"] == pytest.approx(bal["step_time_equal_s"] / bal["step_time_balanced_s"])
    assert bal["step_time_balanced_s"] == data["best"]["step_time_s"] < bal["step_time_equal_s"]
    data = run_json([*argv, "--equal-batches"], capsys)
    assert data["balance"] is None


def one_line_error(argv, capsys) -> str:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    return lines[0]


def test_nothing_feasible_exits_2_naming_the_constraint(capsys):
    line = one_line_error(["plan", *GRID, "--deadline", "1min"], capsys)
    assert line.startswith("tinygrad-opt plan: error: deadline 60 s: no configuration finishes")
    assert "the fastest takes" in line
    line = one_line_error(["plan", *GRID, "--budget", "0.5"], capsys)
    assert "budget 0.50: no configuration fits the budget: the cheapest costs" in line
    rows = run_json(["plan", *GRID], capsys)["rows"]
    deadline = 1.01 * min(r["total_time_s"] for r in rows)
    in_time = min(r["cost"] for r in rows if r["total_time_s"] <= deadline)
    cheapest = min(r["cost"] for r in rows)
    assert in_time > cheapest  # the fastest runs are not the cheapest
    budget = (in_time + cheapest) / 2
    line = one_line_error(
        ["plan", *GRID, "--budget", str(budget), "--deadline", f"{deadline}s"], capsys
    )
    assert "deadline, budget" in line and "meets both" in line


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--minimize", "speed"], "minimize"),
        (["--deadline", "3 parsecs"], "deadline"),
        (["--budget", "lots"], "--budget"),
        (["--budget", "-5"], "budget"),
        (["--bandwidth", "25Gbpx"], "bandwidth"),
        (["--out", "plan.txt"], "unknown extension"),
        (["--out", "/nonexistent-dir/plan.png"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(extra, message, capsys):
    line = one_line_error(["plan", *GRID, *extra], capsys)
    assert message in line


def test_wrong_values_are_errors_but_combinations_are_skipped_and_counted(capsys):
    # backup 2 with 2 workers cannot exist: skipped (and counted), the rest is searched
    data = run_json(["plan", *GRID[:-8], "--ps-shards", "1", "--backup-workers", "0,2",
                     "--price", "3", "--samples", "200"], capsys)  # fmt: skip
    assert {r["backup_workers"] for r in data["rows"]} == {0, 2}
    assert not any(r["workers"] == 2 and r["backup_workers"] == 2 for r in data["rows"])
    assert data["skipped"] >= 1
    # a fixed 4 backups: the 4-worker configurations cannot exist, the 8-worker ones can
    base = [*GRID[:2], *GRID[4:-8], "--ps-shards", "1", "--scheme", "ps", "--samples", "200"]
    data = run_json(["plan", *base, "--workers", "4,8", "--backup-workers", "4"], capsys)
    assert {r["workers"] for r in data["rows"]} == {8}
    assert data["skipped"] == data["evaluated"] == 4  # batch 16, 64 × bandwidth 10, 25
    assert main(["plan", *base, "--workers", "4,8", "--backup-workers", "4"]) == 0
    assert "searched 4 configurations (4 combinations that cannot exist skipped)" in (
        capsys.readouterr().out
    )
    # a value that fits none of the grid is an error naming it; so is a wrong value
    line = one_line_error(["plan", *base, "--workers", "2", "--backup-workers", "0,2"], capsys)
    assert "backup_workers: must be < workers=2" in line
    line = one_line_error(["plan", *base, "--workers", "8", "--bandwidth", "1Gbpx,10Gbit/s"],
                          capsys)  # fmt: skip
    assert "bandwidth" in line


def test_a_cluster_file_and_flags(capsys):
    from pathlib import Path

    path = Path(__file__).parents[2] / "examples" / "clusters" / "vgg16_ps.toml"
    out = run_json(["plan", "--config", str(path), "--workers", "4,8", "--ps-shards", "2,4",
                    "--minimize", "time"], capsys)  # fmt: skip
    assert {r["workers"] for r in out["rows"]} == {4, 8}
    assert {r["ps_shards"] for r in out["rows"] if r["scheme"] == "ps"} == {2, 4}
    assert out["best"]["total_time_s"] == min(r["total_time_s"] for r in out["rows"])
    if out["best"]["scheme"] != "ps":  # PS options do not describe an all-reduce
        assert "tensor_placement" not in out["best_settings"]


@pytest.mark.parametrize("flags", [["--budget", "10"], ["--minimize", "cost"]])
def test_cost_constraints_need_a_price(flags, capsys):
    # without --price every cost is 0: a budget or a cost objective would mean nothing
    argv = ["plan", "--params", "25M", "--workers", "8,16", "--compute-time", "0.1s",
            "--bandwidth", "25Gbit/s", "--latency", "5us", "--steps", "1000", *flags]  # fmt: skip
    line = one_line_error(argv, capsys)
    assert "needs --price (a node's price per hour): every cost is 0" in line
    assert main([*argv, "--price", "3", "--json"]) == 0
