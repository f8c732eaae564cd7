"""The what-if example scripts run, write their figure and answer in the expected direction."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_png(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def run(name: str, tmp_path, capsys, *extra: str) -> tuple[dict, str]:
    result = load(name).main(["--out", str(tmp_path / "figs"), *extra])
    out = capsys.readouterr().out
    assert is_png(result["figure"]) and Path(result["figure"]).parent == tmp_path / "figs"
    assert f"wrote {result['figure']}" in out
    return result, out


def test_ps_needs_bandwidth_and_ring_does_not(tmp_path, capsys):
    r, out = run("whatif_ps_bandwidth", tmp_path, capsys)
    ratio = r["ps_to_ring"]
    # the PS/ring ratio grows with the workers (from 2 on), and a lot
    assert all(b > a for a, b in zip(ratio[1:], ratio[2:]))
    assert r["ps_to_ring_at_64"] > 20
    # PS step time is linear in N: slope ~ 2M/B = 2 * 102.4 MB / 1.25 GB/s per worker
    assert r["ps_linear_r2"] > 0.9999
    assert r["ps_slope_s_per_worker"] == pytest.approx(2 * 102.4e6 / 1.25e9, rel=1e-3)
    # the ring is nearly flat from 8 workers on; the single server is not
    assert r["ring_growth_8_to_max"] < 1.15 < 10 < r["ps_growth_8_to_max"]
    # sharding the server over every worker removes the bottleneck
    assert r["sharded_ps_step_s"][-1] < 1.05 * r["ring_step_s"][-1]
    # the server would need about N times the bandwidth
    assert 50 < r["server_bandwidth_factor_at_64"] < 80
    assert "PS/ring" in out


def test_resnet50_ring_scales_and_bandwidth_helps(tmp_path, capsys):
    r, out = run("whatif_resnet50_scaling", tmp_path, capsys, "--samples", "100")
    eff = r["efficiency"]
    assert set(eff) == {
        "ring @ 10 Gbit/s",
        "ring @ 100 Gbit/s",
        "ps(k=8) @ 10 Gbit/s",
        "ps(k=8) @ 100 Gbit/s",
    }
    for scheme in ("ring", "ps(k=8)"):
        slow, fast = eff[f"{scheme} @ 10 Gbit/s"], eff[f"{scheme} @ 100 Gbit/s"]
        assert all(f > s for s, f in zip(slow, fast))  # 100 Gbit/s is better everywhere
    for bw in ("10", "100"):
        ring, ps = eff[f"ring @ {bw} Gbit/s"], eff[f"ps(k=8) @ {bw} Gbit/s"]
        assert ring[-1] > 2 * ps[-1]  # at 256 workers the ring wins clearly
        assert ring[0] / ring[-1] < 1.2  # and stays nearly flat from 8 to 256
        assert all(b < a for a, b in zip(ps, ps[1:]))  # the 8-shard PS degrades
    # more workers finish 90 epochs sooner on the ring
    hours = r["hours_90_epochs"]["ring @ 100 Gbit/s"]
    assert all(b < a for a, b in zip(hours, hours[1:]))
    assert "scaling efficiency" in out


def test_backup_workers_pay_off_only_with_stragglers(tmp_path, capsys):
    r, out = run("whatif_backup_workers", tmp_path, capsys, "--workers", "32", "--samples", "600")
    best, gain = r["best_backup_workers"], r["best_gain"]
    assert best[0.0] == 0 and gain[0.0] == pytest.approx(1.0)
    sigmas = r["sigmas"]
    assert [best[s] for s in sigmas] == sorted(best[s] for s in sigmas)  # more noise, more b
    assert best[0.5] > best[0.1] and gain[0.5] > gain[0.3] > 1.05
    # the tail step time falls with backups when workers straggle
    p99 = r["p99_step_s"][0.5]
    assert p99[4] < p99[0]
    assert "best b" in out


def test_ps_shards_needed_grow_with_the_workers(tmp_path, capsys):
    r, out = run("whatif_ps_shards", tmp_path, capsys)
    needed, workers = r["shards_needed"], r["workers"]
    assert needed == sorted(needed) and needed[-1] > needed[0]
    # about one shard per worker (k = N is where the worker links take over)
    assert all(0.5 < k / n <= 1.0 for k, n in zip(needed, workers))
    assert all(0.5 < k / n <= 1.0 for k, n in zip(r["cheapest_shards"], workers))
    # one server is far slower; colocated shards on every worker are as fast as the best
    for n, single, co in zip(workers, r["single_server_step_s"], r["colocated_step_s"]):
        best = min(r["curves"][n]["step_time_s"])
        assert single > 3 * best and co <= best * 1.001
    assert "k within 10%" in out


def test_cheapest_batch_grows_with_noise_scale_and_matches_the_formula(tmp_path, capsys):
    r, out = run("whatif_batch_size", tmp_path, capsys)
    best = r["cheapest_global_batch"]
    scales = r["noise_scales"]
    assert [best[s] for s in scales] == sorted(best[s] for s in scales)
    assert best[scales[-1]] > 4 * best[scales[0]]
    for s in scales:  # the closed form B* = sqrt(W B_noise T_c / t_ex) agrees with the grid
        assert best[s] == pytest.approx(r["formula_global_batch"][s], rel=0.15)
    # on every noise scale: more workers are faster but cost more at their best batch
    for s in scales:
        rows = [t for t in r["table"] if t["b_noise"] == s]
        rows.sort(key=lambda t: t["workers"])
        assert all(b["best_hours"] < a["best_hours"] for a, b in zip(rows, rows[1:]))
        assert all(b["best_cost"] > a["best_cost"] for a, b in zip(rows, rows[1:]))
        assert all(t["cost_at_noise_scale"] >= t["best_cost"] for t in rows)
    assert not any(math.isnan(v) for v in r["formula_global_batch"].values())
    assert "cheapest B" in out
