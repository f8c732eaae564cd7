"""Sweeps (grid of what-ifs -> table) and the plots drawn from them."""

from __future__ import annotations

import pytest

from tinygrad_opt.cluster import (
    SWEEP_KEYS,
    ClusterSpec,
    Lognormal,
    Workload,
    pareto_front,
    simulate,
    sweep,
)
from tinygrad_opt.cluster.plots import plot_breakdown, plot_pareto, plot_scaling, plot_timeline

CL = ClusterSpec(
    workers=4, bandwidth="25Gbps", latency="10us", compute=Lognormal(0.2), price_per_node_hour=3.0
)
WL = Workload(
    parameters=10_000_000,
    per_worker_batch=32,
    compute_time_per_step="80ms",
    large_batch={"s_min": 2000, "b_noise": 1024},
)


@pytest.fixture(scope="module")
def table():
    grid = {
        "workers": [1, 2, 4, 8, 16],
        "scheme": ["ps", "ring", "tree"],
        "ps_shards": [1, 4],
        "backup_workers": [0, 1],
    }
    return sweep(CL, WL, grid, steps_to_sample=200, progress=False)


def test_rows_have_the_documented_keys(table):
    for row in table:
        assert list(row)[: len(SWEEP_KEYS)] == list(SWEEP_KEYS)
    # ps: 5 workers x 2 shard counts x 2 backup counts, minus b=1 with 1 worker (2);
    # ring, tree: 5 workers each, once (ps_shards ignored, backups invalid)
    assert len(table) == 18 + 5 + 5
    assert {r["scheme"] for r in table} == {"ps", "ring", "tree"}
    errors = [s["error"] for s in table.skipped]
    assert any(e.startswith("backup_workers:") for e in errors)


def test_rows_agree_with_simulate(table):
    row = next(r for r in table if r["scheme_label"] == "ps(k=4)+1 backup" and r["workers"] == 8)
    r = simulate(
        CL.replace(workers=8), WL, "ps", ps_shards=4, backup_workers=1, steps_to_sample=200
    )
    assert row["step_time_s"] == r.step_time_s and row["cost"] == r.cost
    assert row["global_batch"] == 7 * 32


def test_invalid_combination_raises_when_not_skipping():
    with pytest.raises(ValueError, match="backup_workers"):
        sweep(CL, WL, {"scheme": ["ring"], "backup_workers": [1]}, skip_invalid=False)
    with pytest.raises(ValueError, match="valid:"):
        sweep(CL, WL, {"wrkers": [1]})


def test_sweep_over_bandwidth_and_hierarchy():
    hier = ClusterSpec(
        nodes=2, devices_per_node=4, bandwidth="25Gbps", latency="5us", intra_bandwidth="200GB/s"
    )
    t = sweep(
        hier,
        WL,
        {
            "workers": [8, 16, 32],
            "bandwidth": ["10Gbps", "100Gbps"],
            "scheme": ["ring", "hierarchical"],
        },
        steps_to_sample=5,
    )
    assert [r["nodes"] for r in t[:4]] == [2, 2, 2, 2]
    assert t.column("bandwidth")[:2] == [10e9 / 8, 10e9 / 8]
    fast = t.best("step_time_s")
    assert fast["bandwidth"] == 100e9 / 8 and fast["workers"] == 8


def test_pareto_front_is_not_dominated(table):
    front = pareto_front(table)
    for f in front:
        for r in table:
            assert not (r["total_time_s"] < f["total_time_s"] and r["cost"] < f["cost"])
    assert [f["total_time_s"] for f in front] == sorted(f["total_time_s"] for f in front)


def is_png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plots_write_pngs(table, tmp_path):
    assert is_png(plot_scaling(table, tmp_path / "scaling.png"))
    assert is_png(plot_pareto(table, tmp_path / "pareto.png"))
    assert is_png(plot_breakdown(table[:6], tmp_path / "sub" / "breakdown.png"))
    r = simulate(CL.replace(workers=6), WL, "ps", ps_shards=2, backup_workers=1)
    assert is_png(plot_timeline(r, tmp_path / "gantt.png"))
    r2 = simulate(CL, WL, "ring", overlap=True, buckets=5)
    assert is_png(plot_timeline(r2, tmp_path / "gantt_overlap.png"))
    csv = table.to_csv(tmp_path / "t.csv")
    assert csv.read_text().splitlines()[0].startswith("workers,nodes")


def test_timeline_rows_limit_and_slowest_worker_shown():
    big = CL.replace(workers=64)
    r = simulate(big, WL, "ring", steps_to_sample=10)
    events = r.timeline(max_workers=8)
    rows = {e["row"] for e in events}
    assert len(rows) == 8
    slowest = int(r.timeline_data["head"].max(axis=0).argmax())
    assert f"worker {slowest}" in rows
