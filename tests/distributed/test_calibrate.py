"""``tinygrad-opt calibrate``: its flags, its rounds, its faults, and real runs.

The orchestration runs on a synthetic machine (a ``run_job`` stand-in whose timings are
the simulator's formulas with known α, B, R and cores) and must recover it; the command
refuses bad outputs before measuring and keeps its measurements through every failure;
one quick real calibration on 1 and 2 ranks (skipped without mpi4py or mpiexec). The
fits themselves are tested in ``tests/cluster/test_calibration.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_opt import cli
from tinygrad_opt.cli import calibrate as cli_cal
from tinygrad_opt.cluster import calibration_fits as cf
from tinygrad_opt.cluster import ring_allreduce_time
from tinygrad_opt.cluster.calibration_fits import crowded_ranks, load_measurements
from tinygrad_opt.cluster.config import expand, load_toml
from tinygrad_opt.distributed import calibrate as cb

ROOT = Path(__file__).resolve().parents[2]


def test_time_reduce_times_every_size():
    rows = cb.time_reduce([8, 2**16, 2**20], quick=True)
    assert [r[0] for r in rows] == [8.0, 2.0**16, 2.0**20]
    assert all(t > 0 for _, t in rows) and rows[2][1] > rows[0][1]


def test_sweep_sizes():
    sweep = cb._sweep_sizes([4e5, 2e7], quick=False)
    assert sweep[0] == 8 and sweep[-1] == 20_000_000 and 400_000 in sweep
    assert sweep == sorted(set(sweep)) and len(cb._sweep_sizes([4e5, 2e7], quick=True)) < len(sweep)


# ============================================================================ command line
def parse(argv):
    ap = argparse.ArgumentParser()
    cli_cal.add_arguments(ap)
    return ap.parse_args(argv)


def test_flags():
    a = parse([])
    assert a.ranks == [1, 2, 4] and a.sizes == [100_000, 5_000_000] and a.steps == 30
    assert not a.quick and not a.check and a.out == "cluster.toml" and a.rounds is None
    a = parse(["--ranks", "1,2", "--sizes", "20k,0.5M", "--steps", "8", "--quick"])
    assert a.ranks == [1, 2] and a.sizes == [20_000, 500_000] and a.quick
    for bad in (["--ranks", "0,2"], ["--ranks", "x"], ["--sizes", "5"], ["--steps", "0"],
                ["--rounds", "0"], ["--timeout", "-1"]):  # fmt: skip
        with pytest.raises(SystemExit):
            parse(bad)


def test_run_reports_bad_settings_without_starting_mpi(tmp_path, capsys):
    assert cli_cal.run(parse(["--ranks", "1", "--out", str(tmp_path / "c.toml")])) == 2
    assert "rank count above 1" in capsys.readouterr().err
    assert not (tmp_path / "c.toml").exists()


# ============================================================================ a real run
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and (
    (Path(sys.executable).parent / "mpiexec").exists() or shutil.which("mpiexec") is not None
)


def quick_calibration(
    tmp_path: Path, ranks: str, sizes: str, *extra: str
) -> tuple[cb.Calibration, Path, str]:
    """``tinygrad-opt calibrate --quick`` for real: the calibration, the file, stdout."""
    out, data = tmp_path / "cluster.toml", tmp_path / "cal.json"
    cmd = [sys.executable, "-m", "tinygrad_opt.cli", "calibrate", "--quick", "--ranks", ranks,
           "--sizes", sizes, "--steps", "6", "--timeout", "60", "--out", str(out),
           "--json", str(data), *extra]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=ROOT)
    if proc.returncode != 0 and "not determined by the data" in proc.stderr:
        # --quick times 2 sizes once: on a machine busy with other work the noise can hide
        # the growth with size; measure once more (a second failure fails the test)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cb.Calibration.from_dict(json.loads(data.read_text())), out, proc.stdout


@pytest.mark.skipif(not HAVE_MPI, reason="needs mpi4py and mpiexec")
def test_quick_real_calibration_writes_a_valid_file(tmp_path):
    cal, out, stdout = quick_calibration(tmp_path, "1,2", "20k,60k", "--check")
    assert "wrote" in stdout
    # --check: one run of every size, mode and rank count, predicted against measured
    table = [line for line in stdout.splitlines() if line.startswith("| ") and "k |" in line]
    assert len(table) == 2 * 2 * 2, stdout
    assert cal.ranks == [1, 2] and cal.latency_s > 0 and cal.bandwidth > 0
    assert cal.host and cal.host in load_toml(out)["cluster"]["name"]  # this machine's name
    assert 0.25 <= cal.cores_per_node <= cal.cpus and cal.memory_streams_per_node >= 1
    assert set(cal.sweeps) == {"allreduce/2", "ps/2"}
    # 2 ranks on 2 CPUs take no turns, unless the machine is busy enough that the fitted
    # effective cores fall below 2 (then the turn probe runs, as calibrate intends)
    if crowded_ranks(cal.ranks, cal.cores_per_node) is None:
        assert cal.turn_probe == {}
        assert all(w["turn_time"] == 0.0 for w in cal.workloads.values())
    else:
        assert set(cal.turn_probe) == set(cal.workloads)
    assert all(w["compute_time_per_step"] > 0 for w in cal.workloads.values())
    confs = expand(load_toml(out))
    assert [c.cluster.workers for c in confs] == [1, 2]
    w = cal.workloads[f"{max(cal.sizes)}/allreduce"]
    one = confs[0].simulate(steps_to_sample=4000).step_time_s  # the lognormal mean: 1
    # a busy machine can fit fewer than one effective core: one rank then runs 1/cores slower
    s1 = confs[0].cluster.oversubscription
    assert s1 == pytest.approx(max(1.0, 1 / cal.cores_per_node), rel=1e-3)
    assert one == pytest.approx(w["compute_time_per_step"] * s1 + w["update_time"], rel=0.05)
    # two ranks synchronise with the ring all-reduce on the fitted link (shared cores: / s)
    s = confs[1].cluster.oversubscription
    assert s == pytest.approx(max(1.0, 2 / cal.cores_per_node), rel=1e-3)
    # (its adding too, at the reduce bandwidth measured on one rank)
    assert cal.reduce_bandwidth > 0 and len(cal.reduce_rows) == len(cal.sweeps["ps/2"])
    r = cal.reduce_bandwidth / s
    m = 4 * max(cal.sizes)
    ring = ring_allreduce_time(m, 2, cal.bandwidth / s, cal.latency_s * s, r)
    assert confs[1].simulate(steps_to_sample=100).comm_s == pytest.approx(ring, rel=1e-3)


@pytest.mark.skipif(not HAVE_MPI, reason="needs mpi4py and mpiexec")
@pytest.mark.skipif((os.cpu_count() or 1) >= 4, reason="4 ranks take no turns on 4+ CPUs")
def test_quick_real_calibration_on_more_ranks_than_cores_probes_the_turns(tmp_path):
    cal, out, _ = quick_calibration(tmp_path, "1,4", "20k")
    if cal.cores_per_node >= 4:  # a machine whose 4 ranks did not slow each other down
        pytest.skip(f"fitted {cal.cores_per_node} effective cores: no turns to probe")
    assert set(cal.turn_probe) == set(cal.workloads)  # every model size and mode
    for key, tp in cal.turn_probe.items():
        p, mode = key.split("/")
        assert tp["ranks"] == 4 and tp["message_bytes"] == cb.TURN_BYTES
        assert tp["alone"]["compute_s"] > 0 and tp["alone"]["update_s"] > 0
        assert tp["step_s"] > tp["compute_s"] > 0 and tp["update_s"] > 0
        assert tp["iterations"] >= 20
        assert tp["rounds"] == 1 and len(tp["runs_s"]) == len(tp["turn_times_s"]) == 1
        assert tp["turn_time_s"] == pytest.approx(float(np.median(tp["turn_times_s"])))
        # the fit is what the loop took beyond the simulator's loop without turns ...
        assert tp["turn_time_s"] == pytest.approx(
            max(0.0, tp["step_s"] - tp["predicted_without_turn_s"]), abs=1e-12
        )
        # ... which is the closed form of turn_probe_settings with the fitted cluster
        settings = cb.settings_for(cal, int(p), mode, 4)
        settings = cb.turn_probe_settings(settings["cluster"], int(p), mode, 4, tp["alone"])
        assert cb.predict_step_time(settings) == pytest.approx(
            tp["predicted_without_turn_s"], rel=0.02
        )  # the file rounds to 5 digits; σ is the median written there too
        assert cal.workloads[key]["turn_time"] == tp["turn_time_s"] >= 0
    want = cal.workloads[f"{max(cal.sizes)}/allreduce"]["turn_time"]
    assert load_toml(out)["cluster"]["turn_time"] == pytest.approx(want, rel=1e-3, abs=1e-12)


class FakeJobs:
    """``run_job`` stand-in: every training run takes ``step`` seconds per step."""

    def __init__(self, step: float = 2e-3) -> None:
        self.step, self.calls = step, []

    def __call__(self, ranks, spec, timeout=300.0):
        t = spec["training"][0]
        self.calls.append((t["parameters"], t["mode"], ranks, t["steps"]))
        role = {"compute": 1e-3, "wait": 0.0, "comm": 0.0, "send": 0.0, "recv": 0.0,
                "update": 1e-3, "dropped": 0.0}  # fmt: skip
        return {"training": [{"mean_step_s": self.step * ranks, "per_role": {"worker": role}}]}


SHARES = [(5, 5, [1] * 5), (3, 5, [0, 1, 0, 1, 1]), (5, 3, [1, 2, 2]), (1, 1, [1])]


@pytest.mark.parametrize(("repeats", "rounds", "shares"), SHARES)
def test_check_runs_are_spread_over_the_calibration_rounds(monkeypatch, repeats, rounds, shares):
    jobs = FakeJobs()
    monkeypatch.setattr(cb, "run_job", jobs)
    check = cb.CheckRuns([2, 4], repeats=repeats, seconds=0.1)
    one_rank = [{"parameters": 99690, "mode": m, "mean_step_s": 1e-3} for m in cb.MODES]
    per_config = 2 * 3  # modes × ranks (1 is always included)
    got = []
    for r in range(rounds):
        before = len(jobs.calls)
        check(r, rounds, one_rank)
        got.append((len(jobs.calls) - before) // per_config)
    assert got == shares and check.done == repeats
    assert {c[3] for c in jobs.calls} == {100}  # 0.1 s / 1 ms per step
    assert {c[2] for c in jobs.calls} == {1, 2, 4}


def test_check_rows_compare_the_simulator_with_the_median_run(monkeypatch):
    jobs = FakeJobs(step=0.05)
    cal = synthetic_calibration(monkeypatch)
    monkeypatch.setattr(cb, "run_job", jobs)
    rows = cb.CheckRuns([1, 2, 4], repeats=2).rows(cal, cb.settings_for(cal, max(cal.sizes), "ps"))
    assert len(rows) == 2 * 2 * 3 and len(jobs.calls) == 2 * len(rows)  # no hook: all now
    for r in rows:
        flags = (
            cb.workload_flags(cal, r["parameters"], r["mode"]),
            cb.cluster_flags(cal, r["parameters"], r["mode"]),
        )
        settings = cb.settings_for(cal, max(cal.sizes), "ps")
        predicted = cb.predict_step_time(settings, r["ranks"], r["mode"], *flags)
        assert (
            r["measured_s"] == pytest.approx(0.05 * r["ranks"])
            and r["runs_s"] == [0.05 * r["ranks"]] * 2
        )
        assert r["predicted_s"] == pytest.approx(predicted)
        assert r["error"] == pytest.approx(predicted / r["measured_s"] - 1)
        if r["mode"] == "ps" and r["ranks"] > 1:
            assert r["predicted_phases"]["sum"] > 0  # the server's adding, reduce_bandwidth


# ============================================================================ a synthetic machine
ALPHA, BANDWIDTH, REDUCE, CORES = 4e-6, 5e9, 6e9, 1.9


def compute_time(p: int) -> float:
    return 1e-4 + 1e-8 * p


def update_time(p: int) -> float:
    return 5e-5 + 2e-9 * p


class SyntheticJobs:
    """``run_job`` stand-in: a machine whose timings are the simulator's formulas with
    latency ``ALPHA``, bandwidth ``BANDWIDTH``, reduce bandwidth ``REDUCE`` and ``CORES``
    effective cores. ``fail_at``: the job (1-based) that raises ``error`` instead."""

    def __init__(self, fail_at: int | None = None, error: BaseException | None = None) -> None:
        self.calls: list[tuple[int, list[str]]] = []
        self.fail_at, self.error = fail_at, error

    def __call__(self, ranks, spec, timeout=300.0):
        self.calls.append((ranks, sorted(spec)))
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            raise self.error
        s = max(1.0, ranks / CORES)
        out = {"world_size": ranks, "host": "synthetic"}
        if spec.get("collective_bytes") and ranks > 1:
            for kind in cb.MODES:
                a, b, g = cb.collective_coefficients(kind, ranks, CORES)
                out[kind] = [[m, a * ALPHA + b * m / BANDWIDTH + g * m / REDUCE]
                             for m in spec["collective_bytes"]]  # fmt: skip
        if spec.get("reduce_bytes"):
            out["reduce"] = [[float(m), m / REDUCE] for m in spec["reduce_bytes"]]
        if "turn_probe" in spec:
            out["turns"] = [
                {"parameters": w["parameters"], "mode": w["mode"], "iterations": 20,
                 "step_s": 3 * s * (compute_time(w["parameters"]) + update_time(w["parameters"])),
                 "compute_s": s * compute_time(w["parameters"]),
                 "update_s": s * update_time(w["parameters"]),
                 "alone": {"compute_s": compute_time(w["parameters"]),
                           "update_s": update_time(w["parameters"])}}
                for w in spec["turn_probe"]["workloads"]
            ]  # fmt: skip
        out["contention"] = [
            {"parameters": p, "compute_s": s * compute_time(p), "update_s": s * update_time(p)}
            for p in spec.get("contention", [])
        ]
        rng = np.random.default_rng(len(self.calls))
        out["training"] = []
        for t in spec.get("training", []):
            p = cb.mlp_parameters(cb.mlp_sizes(t["parameters"]))
            tc, tu = compute_time(p), update_time(p)
            samples = (tc * np.exp(0.05 * rng.standard_normal(40))).tolist()
            out["training"].append({
                "parameters": p, "mode": t["mode"], "ranks": ranks, "steps": t["steps"],
                "mean_step_s": tc + tu, "median_step_s": tc + tu, "compute_s": tc,
                "after_compute_s": tu, "compute_samples": samples, "per_role": {}})  # fmt: skip
        return out


SIZES = "20k,100k"


def synthetic_calibration(monkeypatch, **kwargs) -> cb.Calibration:
    monkeypatch.setattr(cb, "run_job", SyntheticJobs())
    return cb.calibrate(ranks=[1, 2, 4], sizes=[2e4, 1e5], steps=6, quick=True, **kwargs)


def test_calibrate_recovers_a_synthetic_machine_and_saves_every_measurement(monkeypatch, tmp_path):
    jobs = SyntheticJobs()
    monkeypatch.setattr(cb, "run_job", jobs)
    raw_path = tmp_path / "raw.json"
    cal = cb.calibrate(ranks=[1, 2, 4], sizes=[2e4, 1e5], steps=6, quick=True,
                       raw_path=raw_path)  # fmt: skip
    assert cal.reduce_bandwidth == pytest.approx(REDUCE, rel=1e-9)
    assert cal.cores_per_node == pytest.approx(CORES, rel=0.01)
    assert cal.latency_s == pytest.approx(ALPHA, rel=0.05)
    assert cal.bandwidth == pytest.approx(BANDWIDTH, rel=0.02)
    for key, w in cal.workloads.items():
        p = int(key.split("/")[0])
        assert w["compute_time_per_step"] == pytest.approx(compute_time(p))
        assert w["update_time"] == pytest.approx(update_time(p))
    # 4 ranks on 1.9 cores take turns: τ is what the probe took beyond the simulator
    assert set(cal.turn_probe) == set(cal.workloads)
    for tp in cal.turn_probe.values():
        assert tp["ranks"] == 4
        assert tp["turn_time_s"] == pytest.approx(
            max(0.0, tp["step_s"] - tp["predicted_without_turn_s"]), abs=1e-15
        )
    # every job's result is in the raw file, and fitting it again gives the same numbers
    raw = load_measurements(raw_path)
    one = raw["one_rank"][0]
    n_jobs = 1 + len(one["training"]) + len(raw["multi"]) + len(raw["turn_probes"]["4"])
    assert n_jobs == len(jobs.calls)
    again = cb.fit_calibration(raw)
    assert again.to_dict() == cal.to_dict()


# ============================================================================ faults
def calibrate_cli(tmp_path, *flags):
    argv = ["calibrate", "--quick", "--ranks", "1,2,4", "--sizes", SIZES, "--steps", "6"]
    if not any(f == "--out" for f in flags):
        argv += ["--out", str(tmp_path / "cluster.toml")]
    return cli.main([*argv, *flags])


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--out", "{tmp}/missing/cluster.toml"], "does not exist"),
        (["--out", "{tmp}/cluster.yaml"], "expected a .toml file"),
        (["--out", "{tmp}"], "expected a .toml file"),
        (["--out", "{tmp}/d.toml"], "is a folder"),
        (["--json", "{tmp}/cal.txt"], "--json"),
        (["--json", "{tmp}/missing/cal.json"], "does not exist"),
        (["--raw", "{tmp}/raw.toml"], "--raw"),
        (["--raw", "{tmp}/cal.json", "--json", "{tmp}/cal.json"], "the same file"),
        (["--from-raw", "{tmp}/nothing.json"], "cannot read calibration measurements"),
        (["--ranks", "1"], "rank count above 1"),
    ],
)
def test_outputs_and_settings_are_checked_before_anything_is_measured(
    monkeypatch, tmp_path, capsys, flags, says
):
    jobs = SyntheticJobs()
    monkeypatch.setattr(cb, "run_job", jobs)
    (tmp_path / "d.toml").mkdir()
    before = sorted(tmp_path.rglob("*"))
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    assert calibrate_cli(tmp_path, *flags) == 2
    assert says in one_line(capsys.readouterr().err)
    assert jobs.calls == [] and sorted(tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize("fails", ["fit", "toml"])
def test_a_failed_fit_or_toml_keeps_the_measurements_to_fit_again(
    monkeypatch, tmp_path, capsys, fails
):
    jobs = SyntheticJobs()
    monkeypatch.setattr(cb, "run_job", jobs)

    def broken(*_args, **_kwargs):
        raise (ValueError("the fit broke") if fails == "fit" else OSError("disk full"))

    monkeypatch.setattr(cb, "fit_calibration" if fails == "fit" else "write_toml", broken)
    out, raw = tmp_path / "cluster.toml", tmp_path / "cluster.raw.json"
    assert calibrate_cli(tmp_path) == 1
    err = capsys.readouterr().err
    assert ("the fit broke" if fails == "fit" else "disk full") in err
    assert f"--from-raw {raw}" in err and not out.exists()
    measured = len(jobs.calls)
    assert len(load_measurements(raw)["one_rank"]) == 1  # one quick round, all of it
    monkeypatch.undo()
    monkeypatch.setattr(cb, "run_job", jobs)
    assert calibrate_cli(tmp_path, "--from-raw", str(raw)) == 0
    assert len(jobs.calls) == measured  # fitted again, nothing measured
    settings = load_toml(out)
    assert settings["cluster"]["intra_latency"] == pytest.approx(ALPHA, rel=0.05)
    assert settings["cluster"]["reduce_bandwidth"] == pytest.approx(REDUCE, rel=1e-4)


@pytest.mark.parametrize(
    ("error", "code"), [(KeyboardInterrupt(), 130), (cb.CalibrationError("job 3 died"), 1)]
)
def test_an_interrupt_or_a_failed_job_keeps_what_was_measured(
    monkeypatch, tmp_path, capsys, error, code
):
    jobs = SyntheticJobs(fail_at=3, error=error)
    monkeypatch.setattr(cb, "run_job", jobs)
    raw = tmp_path / "cal.raw.json"
    assert calibrate_cli(tmp_path, "--raw", str(raw)) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("tinygrad-opt calibrate:")]
    assert len(errors) == 1 and ("interrupted" if code == 130 else "job 3 died") in errors[0]
    assert f"--from-raw {raw}" in err and not (tmp_path / "cluster.toml").exists()
    saved = load_measurements(raw)
    # jobs 1 and 2 (the 1-rank probes, the first training run) are kept, as measured
    assert len(saved["one_rank"]) == 1 and len(saved["one_rank"][0]["training_jobs"]) == 1
    assert "training" not in saved["one_rank"][0] and cf.complete_rounds(saved) == 0
    first = saved["one_rank"][0]
    assert first["reduce"] == [[m, m / REDUCE] for m, _ in first["reduce"]]
    assert first["training_jobs"][0]["parameters"] == min(saved["sizes"])
    with pytest.raises(ValueError, match="no complete round"):
        cb.fit_calibration(saved)
    assert calibrate_cli(tmp_path, "--from-raw", str(raw)) == 1  # says so, exit 1
    err = capsys.readouterr().err
    assert "no complete round" in err and "--from-raw" not in err  # no advice to do it again


def test_a_first_job_that_fails_claims_no_measurements_and_leaves_an_old_file(
    monkeypatch, tmp_path, capsys
):
    raw = tmp_path / "cluster.raw.json"
    raw.write_text('{"an": "earlier run"}')
    monkeypatch.setattr(cb, "run_job", SyntheticJobs(fail_at=1, error=cb.CalibrationError("x")))
    assert calibrate_cli(tmp_path) == 1
    err = capsys.readouterr().err
    assert "--from-raw" not in err and raw.read_text() == '{"an": "earlier run"}'


def test_from_raw_refuses_a_file_not_as_calibrate_writes_it(tmp_path, capsys):
    # a measurements file with its format tag but a field missing or of the wrong kind:
    # exit 2, one line naming the file and the field, nothing written

    base = {"format": cf.MEASUREMENTS_FORMAT, "ranks": [1, 2], "sizes": [1000], "steps": 3,
            "one_rank": [], "multi": {}, "cpus": 2, "cache_bytes": 1e6}  # fmt: skip
    for change, needle in (
        (lambda d: d.pop("ranks"), "lack the field 'ranks'"),
        (lambda d: d.update(ranks="x"), "ranks is not as calibrate writes it: 'x'"),
        (lambda d: d.update(ranks=[0, 2]), "ranks must be positive integers"),
        (lambda d: d.update(multi=[]), "multi is not as calibrate writes it"),
    ):
        data = dict(base)
        change(data)
        raw = tmp_path / "bad.raw.json"
        raw.write_text(json.dumps(data))
        assert calibrate_cli(tmp_path, "--from-raw", str(raw)) == 2
        errors = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
        assert len(errors) == 1 and needle in errors[0] and str(raw) in errors[0], errors
        assert not (tmp_path / "cluster.toml").exists()
