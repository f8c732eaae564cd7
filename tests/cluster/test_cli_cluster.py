"""`tinygrad-opt whatif` / `timeline`: output equals the library, TOML equals flags, bad input
exits with code 2 and a message naming the field and the value."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import SWEEP_KEYS, ClusterSpec, Workload, simulate
from tinygrad_opt.cluster.config import expand, load_toml, merge_settings, parse_count

ROOT = Path(__file__).parents[2]
EXAMPLE = [
    "whatif", "--params", "25.6e6", "--workers", "1,8,64,256", "--compute-time", "0.12s",
    "--bandwidth", "25Gbit/s", "--latency", "5us", "--scheme", "ring,ps",
]  # fmt: skip
BASE = [
    "--params", "25.6e6", "--workers", "8", "--compute-time", "0.12s", "--bandwidth",
    "25Gbit/s", "--latency", "5us",
]  # fmt: skip
REQUIRED = (
    "workers", "scheme", "step_time_s", "compute_s", "comm_s", "wait_s", "throughput",
    "speedup", "scaling_efficiency", "total_time_s", "cost",
)  # fmt: skip


def run_json(argv, capsys) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def is_png(path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89PNG\r\n\x1a\n"


def assert_row_is(row: dict, r) -> None:
    d = r.to_dict()
    assert list(row) == list(SWEEP_KEYS)
    assert row["scheme"] == r.scheme_name and row["scheme_label"] == r.scheme
    for key in SWEEP_KEYS:
        if key not in ("scheme", "scheme_label", "ps_shards", "ps_placement"):
            assert row[key] == d[key], key


# ============================================================================ output
def test_example_command_json_equals_direct_simulate_calls(capsys):
    out = run_json(EXAMPLE, capsys)
    rows = out["rows"]
    assert [(r["scheme"], r["workers"]) for r in rows] == [
        (s, w) for s in ("ring", "ps") for w in (1, 8, 64, 256)
    ]
    work = Workload(parameters=25_600_000, compute_time_per_step="0.12s", steps=10_000)
    for row in rows:
        assert set(REQUIRED) <= set(row)
        cluster = ClusterSpec(workers=row["workers"], bandwidth="25Gbit/s", latency="5us")
        assert_row_is(row, simulate(cluster, work, row["scheme"]))
    ps = {r["workers"]: r for r in rows if r["scheme"] == "ps"}
    ring = {r["workers"]: r for r in rows if r["scheme"] == "ring"}
    assert ps[256]["step_time_s"] > 20 * ring[256]["step_time_s"]
    assert out["files"] == [] and out["settings"]["workload"]["steps"] == 10_000


def test_table_has_one_row_per_configuration(capsys):
    assert main(EXAMPLE) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("25,600,000 parameters, 102.4 MB of gradients")
    header = lines[1].split()
    for col in ("scheme", "workers", "step", "compute", "wait", "comm", "speedup", "cost"):
        assert col in header
    body = lines[3:]
    assert len(body) == 8
    assert [ln.split()[0] for ln in body] == ["ring"] * 4 + ["ps"] * 4
    assert [int(ln.split()[1]) for ln in body] == [1, 8, 64, 256] * 2
    assert "100.0%" in body[0]  # one worker, deterministic compute: perfect efficiency


def test_straggler_backup_and_shard_flags_reach_the_simulator(capsys):
    argv = [
        "whatif", *BASE, "--scheme", "ps,ring", "--ps-shards", "2", "--backup-workers", "1",
        "--sigma", "0.3", "--seed", "3", "--samples", "200", "--per-worker-batch", "64",
        "--bytes-per-param", "fp16", "--price", "2.5", "--overlap", "--buckets", "4",
    ]  # fmt: skip
    rows = run_json(argv, capsys)["rows"]
    assert [r["scheme_label"] for r in rows] == ["ps(k=2)+1 backup+overlap", "ring+overlap"]
    cluster = ClusterSpec(
        workers=8,
        bandwidth="25Gbit/s",
        latency="5us",
        compute={"kind": "lognormal", "sigma": 0.3},
        price_per_node_hour=2.5,
    )
    work = Workload(
        parameters=25_600_000,
        per_worker_batch=64,
        compute_time_per_step="0.12s",
        bytes_per_param=2,
        steps=10_000,
    )
    common = {"seed": 3, "steps_to_sample": 200, "overlap": True, "buckets": 4}
    assert_row_is(rows[0], simulate(cluster, work, "ps", ps_shards=2, backup_workers=1, **common))
    assert_row_is(rows[1], simulate(cluster, work, "ring", **common))
    assert rows[0]["wait_s"] > 0 and rows[0]["global_batch"] == 7 * 64


def test_large_batch_target_hierarchy_and_failures(capsys):
    base = [a for a in BASE if a not in ("--workers", "8")]
    argv = [
        "whatif", *base, "--nodes", "2,4", "--devices-per-node", "4", "--intra-bandwidth",
        "300GB/s", "--scheme", "hierarchical", "--s-min", "1000", "--b-noise", "512",
        "--node-mtbf", "1000h", "--checkpoint-cost", "30s",
    ]  # fmt: skip
    rows = run_json(argv, capsys)["rows"]
    assert [(r["nodes"], r["workers"]) for r in rows] == [(2, 8), (4, 16)]
    for r in rows:
        assert r["steps"] == math.ceil(1000 * (1 + 512 / r["global_batch"]))
        assert r["total_time_s"] > r["steps"] * r["step_time_s"]  # checkpoints and failures
        assert r["time_to_train_speedup"] > 1


def test_toml_config_equals_flags(tmp_path, capsys):
    cfg = tmp_path / "cluster.toml"
    cfg.write_text(
        "[cluster]\nworkers = [1, 8, 64, 256]\nbandwidth = '25Gbit/s'\nlatency = '5us'\n"
        "[workload]\nparameters = 25.6e6\ncompute_time_per_step = '0.12s'\n"
        "[scheme]\nname = ['ring', 'ps']\n"
    )
    from_file = run_json(["whatif", "--config", str(cfg)], capsys)
    from_flags = run_json(EXAMPLE, capsys)
    assert from_file["rows"] == from_flags["rows"]
    # flags override the file
    rows = run_json(["whatif", "--config", str(cfg), "--workers", "16", "--scheme", "tree"], capsys)
    assert [(r["workers"], r["scheme"]) for r in rows["rows"]] == [(16, "tree")]


@pytest.mark.parametrize(
    "name", ["a100_ring.toml", "cpu_ps.toml", "vgg16_ps.toml", "replicated_ps.toml"]
)
def test_example_cluster_files_are_accepted(name, capsys):
    path = ROOT / "examples" / "clusters" / name
    out = run_json(["whatif", "--config", str(path), "--samples", "100"], capsys)
    settings = load_toml(path)
    assert len(out["rows"]) == len(expand(settings)) > 1
    assert all(r["step_time_s"] > 0 and r["cost"] > 0 for r in out["rows"])


def test_file_ps_options_dropped_when_flags_choose_an_allreduce(capsys):
    path = ROOT / "examples" / "clusters" / "cpu_ps.toml"
    rows = run_json(["whatif", "--config", str(path), "--scheme", "ring", "--workers", "4"], capsys)
    assert [r["scheme_label"] for r in rows["rows"]] == ["ring"]  # PS options from the file go


def test_whatif_writes_scaling_png_and_csv(tmp_path, capsys):
    png, csv = tmp_path / "fig" / "scaling.png", tmp_path / "rows.csv"
    png.parent.mkdir()  # a missing folder is refused (test_output_paths_are_checked_first)
    argv = [*EXAMPLE, "--bandwidth", "10Gbit/s,100Gbit/s", "--out", str(png), "--csv", str(csv)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert is_png(png) and f"wrote {png}" in out
    lines = csv.read_text().splitlines()
    assert lines[0].split(",") == list(SWEEP_KEYS) and len(lines) == 1 + 16


def test_timeline_writes_a_png(tmp_path, capsys):
    png = tmp_path / "gantt.png"
    argv = ["timeline", *BASE, "--scheme", "ps", "--ps-shards", "2", "--backup-workers", "1",
            "--sigma", "0.2", "--out", str(png)]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert is_png(png) and "push" in out and "pull" in out
    info = run_json([*argv, "--show-steps", "2", "--max-rows", "4"], capsys)
    kinds = {e["kind"] for e in info["events"]}
    assert {"compute", "send", "recv"} <= kinds
    assert {e["step"] for e in info["events"]} == {0, 1}
    assert {e["row"] for e in info["events"] if e["row"].startswith("worker")} <= {
        f"worker {i}" for i in range(8)
    }
    assert info["row"]["scheme_label"] == "ps(k=2)+1 backup"


def test_timeline_needs_one_configuration(capsys):
    assert main(["timeline", *BASE, "--workers", "4,8"]) == 2
    err = capsys.readouterr().err
    assert "one configuration" in err and "workers" in err


# ============================================================================ bad input
BAD = [
    (["--workers", "0"], "workers", "'0'"),
    (["--workers", "-4"], "workers", "'-4'"),
    (["--workers", "8,0"], "workers", "'0'"),
    (["--workers", "2.5"], "workers", "'2.5'"),
    (["--bandwidth", "0"], "bandwidth", "'0'"),
    (["--bandwidth", "-10Gbps"], "bandwidth", "'-10Gbps'"),
    (["--bandwidth", "25Gbpx"], "bandwidth", "'25Gbpx'"),
    (["--latency", "0"], "latency", "'0'"),
    (["--latency", "-5us"], "latency", "'-5us'"),
    (["--latency", "5 parsecs"], "latency", "'5 parsecs'"),
    (["--compute-time", "0"], "compute_time_per_step", "'0'"),
    (["--compute-time", "-0.1s"], "compute_time_per_step", "'-0.1s'"),
    (["--compute-time", "12 furlongs"], "compute_time_per_step", "'12 furlongs'"),
    (["--scheme", "rong"], "scheme", "'rong'"),
    (["--scheme", "ring,bogus"], "scheme", "'bogus'"),
    (["--scheme", "ps", "--backup-workers", "8"], "backup_workers", "8"),
    (["--scheme", "ring", "--backup-workers", "1"], "backup_workers", "1"),
    (["--scheme", "ps", "--backup-workers", "-1"], "backup_workers", "'-1'"),
    (["--workers", "10", "--devices-per-node", "4", "--intra-bandwidth", "300GB/s"],
     "workers", "inconsistent hierarchy"),
    (["--nodes", "3", "--devices-per-node", "4", "--intra-bandwidth", "300GB/s"],
     "workers", "3 × 4 = 12, got 8"),
    (["--workers", "8", "--devices-per-node", "4"], "intra_bandwidth", "give --intra-bandwidth"),
    (["--params", "0"], "parameters", "0"),
    (["--params", "lots"], "parameters", "'lots'"),
    (["--sigma", "-1"], "compute.sigma", "'-1'"),
    (["--compute-model", "bogus"], "compute.kind", "'bogus'"),
    (["--speed-factors", "1,x"], "compute.speed_factors", "'1,x'"),
    (["--speed-factors", "1,1"], "compute.speed_factors", "[1.0, 1.0]"),
    (["--scheme", "ps", "--ps-placement", "sideways"], "ps_placement", "'sideways'"),
    (["--scheme", "ps", "--ps-shards", "0"], "ps_shards", "'0'"),
    (["--compression", "0.5"], "compression", "'0.5'"),
    (["--bytes-per-param", "fp7"], "bytes_per_param", "'fp7'"),
    (["--steps", "0"], "steps", "'0'"),
    (["--s-min", "100"], "large_batch", "'100'"),
    (["--seed", "-1"], "seed", "'-1'"),
    (["--samples", "0"], "steps_to_sample", "'0'"),
    (["--price", "-3"], "price_per_node_hour", "'-3'"),
    (["--node-mtbf", "0", "--checkpoint-cost", "30s"], "failures.node_mtbf", "'0'"),
    (["--node-mtbf", "100h"], "failures.checkpoint_cost", "give --checkpoint-cost"),
    (["--workers", "1,,2"], "--workers", "'1,,2'"),
]  # fmt: skip


@pytest.mark.parametrize("extra, field, shown", BAD, ids=[" ".join(b[0]) for b in BAD])
@pytest.mark.parametrize("command", ["whatif", "timeline"])
def test_bad_input_exits_2_naming_field_and_value(command, extra, field, shown, capsys, tmp_path):
    argv = [command, *BASE, *extra]
    if command == "timeline":
        argv += ["--out", str(tmp_path / "t.png")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith(f"tinygrad-opt {command}: error: ")
    assert field in err and shown in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["whatif"], "workers: is required"),
        (["whatif", "--workers", "8"], "bandwidth: is required"),
        (["whatif", *BASE[2:]], "parameters: is required"),  # BASE without --params
    ],
)
def test_missing_settings_are_named(argv, expected, capsys):
    assert main(argv) == 2
    assert expected in capsys.readouterr().err


def test_unwritable_output_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    assert main(["whatif", *BASE, "--out", str(blocker / "x.png")]) == 2
    assert "--out: cannot write" in capsys.readouterr().err
    assert main(["timeline", *BASE, "--out", str(blocker / "x.png")]) == 2
    assert "--out: cannot write" in capsys.readouterr().err


def test_malformed_flag_is_argparse_exit_2():
    with pytest.raises(SystemExit) as info:
        main(["whatif", "--workers"])
    assert info.value.code == 2


def toml_error(tmp_path, capsys, text: str) -> str:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert main(["whatif", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


GOOD_TOML = (
    "[cluster]\nworkers = 8\nbandwidth = '25Gbps'\nlatency = '5us'\n"
    "[workload]\nparameters = 1e6\ncompute_time_per_step = '0.1s'\n"
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[cluster\nworkers = 8\n", ["config", "malformed TOML", "line 1", "bad.toml"]),
        ("workers = 8\n", ["config", "unknown section", "'workers'"]),
        ("[clustr]\nworkers = 8\n", ["config", "'clustr'", "valid sections"]),
        (GOOD_TOML + "bandwith = 1\n", ["unknown key", "'bandwith'"]),
        (GOOD_TOML.replace("workers = 8", "workers = 0"), ["workers", "got 0", "bad.toml"]),
        (GOOD_TOML.replace("workers = 8", "workers = []"), ["workers", "empty list"]),
        (GOOD_TOML.replace("'25Gbps'", "'25Gbpx'"), ["bandwidth", "'25Gbpx'"]),
        (GOOD_TOML + "[simulation]\nseed = [1, 2]\n", ["simulation.seed", "[1, 2]"]),
        (GOOD_TOML.replace("'5us'", "{a = 1}"), ["cluster.latency", "{'a': 1}"]),
        (GOOD_TOML + "[cluster.compute]\nkind = 'gaussian'\n", ["compute.kind", "'gaussian'"]),
    ],
)
def test_bad_toml_exits_2_naming_field_and_value(tmp_path, capsys, text, expected):
    err = toml_error(tmp_path, capsys, text)
    for part in expected:
        assert part in err, err


def test_missing_config_file(capsys):
    assert main(["whatif", "--config", "/nonexistent/cluster.toml"]) == 2
    err = capsys.readouterr().err
    assert "config" in err and "/nonexistent/cluster.toml" in err and "no such file" in err


def test_real_process_exits_2_without_traceback(tmp_path):
    exe = shutil.which("tinygrad-opt")
    cmd = [exe] if exe else [sys.executable, "-m", "tinygrad_opt.cli"]
    bad = subprocess.run(
        [*cmd, "whatif", *BASE, "--bandwidth", "25Gbpx"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert "bandwidth" in bad.stderr and "25Gbpx" in bad.stderr
    assert "Traceback" not in bad.stderr
    ok = subprocess.run([*cmd, *EXAMPLE, "--json"], capture_output=True, text=True)
    assert ok.returncode == 0 and len(json.loads(ok.stdout)["rows"]) == 8
    assert ok.stderr == ""  # no progress bar outside a terminal / with --json


# ============================================================================ docs
def test_docs_cover_keys_flags_and_a_valid_toml_example(tmp_path):
    from tinygrad_opt.cli.simulation import _SIM_FLAGS

    text = (ROOT / "docs" / "cluster.md").read_text()
    for key in SWEEP_KEYS:
        assert f"| `{key}` |" in text, key
    for flag, *_ in _SIM_FLAGS:
        assert f"`{flag}" in text, flag
    snippet = text.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "doc.toml"
    cfg.write_text(snippet)
    confs = expand(load_toml(cfg))
    assert [(c.scheme.name, c.cluster.workers) for c in confs][:2] == [("ring", 8), ("ring", 16)]
    assert len(confs) == 8 and confs[0].failures is not None


# ============================================================================ config module
def test_merge_rules():
    base = {
        "cluster": {"nodes": 4, "devices_per_node": 8, "compute": {"kind": "lognormal",
                                                                   "sigma": 0.1}},
        "workload": {"steps": 100, "compute_time_per_step": "1s"},
        "scheme": {"name": "ps", "ps_shards": 4, "backup_workers": 1},
    }  # fmt: skip
    over = {
        "cluster": {"workers": 16, "compute": {"sigma": 0.3}},
        "workload": {"large_batch": {"s_min": 10, "b_noise": 20},
                     "compute_time_per_example": "1ms"},
        "scheme": {"name": "ring"},
    }  # fmt: skip
    m = merge_settings(base, over)
    assert m["cluster"] == {
        "workers": 16,
        "devices_per_node": 8,
        "compute": {"kind": "lognormal", "sigma": 0.3},
    }
    assert m["workload"] == {
        "large_batch": {"s_min": 10, "b_noise": 20},
        "compute_time_per_example": "1ms",
    }
    assert m["scheme"] == {"name": "ring"}
    other = merge_settings(base, {"cluster": {"compute": {"shift_fraction": 0.5}}})
    assert other["cluster"]["compute"] == {"kind": "shifted_exponential", "shift_fraction": 0.5}
    named = merge_settings(base, {"cluster": {"compute": "deterministic"}})
    assert named["cluster"]["compute"] == "deterministic"
    assert base["scheme"]["ps_shards"] == 4  # inputs are not modified


def test_parse_count():
    assert parse_count("25.6M") == 25_600_000
    assert parse_count("7B") == 7_000_000_000 and parse_count("1.5k") == 1500
    assert parse_count(12) == 12
    with pytest.raises(ValueError, match="parameters"):
        parse_count("many")


def test_reduce_bandwidth_flag_adds_the_ring_adding_term(capsys):
    """8 workers, ring: ``(N−1)/N · M/R`` more per step, for each value of the list."""
    plain = run_json(["whatif", *BASE, "--scheme", "ring"], capsys)["rows"][0]
    rows = run_json(["whatif", *BASE, "--scheme", "ring", "--reduce-bandwidth", "10GB/s,5GB/s"],
                    capsys)["rows"]  # fmt: skip
    m = 25.6e6 * 4
    for row, r in zip(rows, (10e9, 5e9)):
        assert row["comm_s"] - plain["comm_s"] == pytest.approx(7 / 8 * m / r, rel=1e-9)
    assert main(["whatif", *BASE, "--reduce-bandwidth", "0"]) == 2
    assert "reduce_bandwidth" in capsys.readouterr().err
