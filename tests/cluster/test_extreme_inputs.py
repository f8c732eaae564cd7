"""Extreme and malformed input, tried as a new user would: a ValueError naming the field
(Python) or exit code 2 with one line (CLI) — never a traceback, a MemoryError or a hang;
output paths are checked before any work and nothing is written."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cli.compare import COMPARE_MAX_STEPS
from tinygrad_opt.cli.whatif import TIMELINE_MAX
from tinygrad_opt.cluster import ClusterSpec, SpecError, Workload, simulate
from tinygrad_opt.cluster.compute import MAX_SIGMA
from tinygrad_opt.cluster.failures import FailureSpec, daly_interval, failure_overhead
from tinygrad_opt.cluster.units import MAX_DURATION, MIN_BANDWIDTH
from tinygrad_opt.cluster.validation import (
    MAX_COUNT,
    MAX_SAMPLED_WORKER_STEPS,
    MAX_STEPS_TO_SAMPLE,
    MAX_WORKERS,
)

BASE = [
    "--params", "25.6e6", "--compute-time", "0.12s", "--bandwidth", "25Gbit/s",
    "--latency", "5us",
]  # fmt: skip
CLUSTER = {"workers": 8, "bandwidth": "25Gbit/s", "latency": "5us"}
WORKLOAD = {"parameters": 25_600_000, "compute_time_per_step": 0.12, "steps": 1000}


def one_error_line(capsys, *needles: str) -> str:
    """stderr holds exactly one line, an error containing every needle; stdout nothing."""
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1, cap.err
    assert "error:" in lines[0] and "Traceback" not in cap.err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert cap.out == ""
    return lines[0]


# ------------------------------------------------------------------------- the CLI
@pytest.mark.parametrize(
    "argv, needles",
    [
        (["whatif", *BASE, "--workers", "1e12"], ["workers: must be <= 1,000,000", "--workers"]),
        (["whatif", *BASE, "--nodes", "1e9"], ["nodes: must be <= 1,000,000"]),
        (["whatif", *BASE, "--workers", "8", "--samples", "1e12"],
         ["steps_to_sample: must be <= 1,000,000", "--samples"]),
        (["whatif", *BASE, "--workers", "100000", "--sigma", "0.1", "--samples", "100000"],
         ["workers × steps_to_sample = 100,000 × 100,000", "1,000,000,000"]),
        (["whatif", *BASE, "--workers", "8", "--ps-shards", "1e9", "--scheme", "ps"],
         ["ps_shards: must be <= 1,000,000"]),
        (["whatif", "--params", "25.6e6", "--workers", "8", "--compute-time", "1e308s",
          "--bandwidth", "25Gbit/s", "--latency", "5us"],
         ["compute_time_per_step: must be <= 1e15 s", "--compute-time"]),
        (["whatif", "--params", "1e300", "--workers", "8", "--compute-time", "0.1s",
          "--bandwidth", "25Gbit/s", "--latency", "5us"],
         ["parameters: must be <= 1,000,000,000,000,000", "got 1e+300"]),
        (["whatif", *BASE, "--workers", "8", "--bandwidth", "1e-300Gbit/s"],
         ["bandwidth: must be >= 1 bit/s"]),
        (["whatif", *BASE, "--workers", "8", "--latency", "1e300s"], ["latency: must be <="]),
        (["whatif", *BASE, "--workers", "8", "--steps", "1e300"], ["steps: must be <="]),
        (["whatif", *BASE, "--workers", "8", "--per-worker-batch", "1e300"],
         ["per_worker_batch: must be <="]),
        (["whatif", *BASE, "--workers", "8", "--bytes-per-param", "1e300"],
         ["bytes_per_param: must be <= 1024"]),
        (["whatif", *BASE, "--workers", "8", "--s-min", "1e300", "--b-noise", "1e3"],
         ["large_batch.s_min: must be <="]),
        (["whatif", *BASE, "--workers", "8", "--s-min", "1e-3", "--e-min", "1e15"],
         ["large_batch.b_noise: must be <="]),
        (["whatif", *BASE, "--workers", "8", "--sigma", "1e3"], ["compute.sigma: must be <= 3"]),
        (["whatif", "--model", "vgg16", "--compute-time", "0.1s", "--bandwidth", "25Gbit/s",
          "--latency", "5us", "--workers", "8", "--scheme", "ps", "--ps-shards", "1e6",
          "--placement", "split", "--split-threshold", "1"],
         ["ps_shards: split cuts", "pieces exceed the simulator limit of 10,000,000"]),
        (["whatif", *BASE, "--workers", "8", "--price", "1e308"],
         ["price_per_node_hour: too extreme: the cost overflows", "--price"]),
        (["whatif", *BASE, "--workers", "8", "--node-mtbf", "10s", "--checkpoint-cost", "30s"],
         ["failures.node_mtbf: checkpointing cannot keep up", "need node_mtbf > 8 × "
          "checkpoint_cost = 240 s"]),
        (["whatif", *BASE, "--workers", "8", "--node-mtbf", "1000s", "--checkpoint-cost", "30s",
          "--restart-cost", "1e6h"], ["failures.restart_cost: too extreme"]),
        (["whatif", *BASE, "--workers", "nan"], ["workers: must be a positive integer"]),
        (["whatif", *BASE, "--workers", "8", "--latency", "inf"],
         ["latency: cannot parse", "got 'inf'"]),
        (["whatif", *BASE, "--workers", "8", "--latency", "-5us"], ["latency: must be > 0"]),
        (["whatif", *BASE, "--workers", "8", "--price", "nan"], ["price_per_node_hour"]),
        (["timeline", *BASE, "--workers", "8", "--show-steps", "1000000000"],
         [f"--show-steps: must be an integer in [1, {TIMELINE_MAX}]"]),
        (["timeline", *BASE, "--workers", "8", "--max-rows", "0"], ["--max-rows"]),
        (["compare", "--steps", "1e12"], [f"--steps: must be <= {COMPARE_MAX_STEPS:,}"]),
        (["compare", "--steps", "1000000000000"], ["--steps: must be <="]),
        (["compare", "--lr", "inf"], ["--lr must be a finite number"]),
        (["compare", "--start", "nan,0"], ["--start must be two finite numbers"]),
        (["launch", "-n", "2", "--timeout", "0", "x.py"],
         ["--timeout must be a positive number of seconds, got 0.0"]),
        (["launch", "-n", "2", "--timeout", "-1", "x.py"], ["--timeout must be a positive"]),
        (["launch", "-n", "2", "--timeout", "nan", "x.py"], ["--timeout must be a positive"]),
        (["launch", "-n", "2", "--rank-timeout", "inf", "x.py"], ["--rank-timeout must be"]),
        (["launch", "-n", "1e12", "x.py"], ["-n 1,000,000,000,000: at most 1,000,000 ranks"]),
        (["launch", "-n", "1025", "--dry-run", "x.py"],
         ["-n 1,025: at most 1,024 ranks on this machine", "--hostfile"]),
        (["whatif", *BASE, "--workers", "8", "--cores-per-node", "1e-300"],
         ["cores_per_node: too extreme: the step time overflows"]),
        (["whatif", *BASE, "--workers", "2", "--compute-model", "heterogeneous",
          "--speed-factors", "1e-300,1"], ["compute.speed_factors: too extreme"]),
    ],
)  # fmt: skip
def test_extreme_values_exit_2_with_one_line(argv, needles, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # timeline's default out/ must stay unwritten
    assert main(argv) == 2
    one_error_line(capsys, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="mpiexec not found")
def test_launch_limits_leave_real_sizes_alone(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.py").write_text("")
    (tmp_path / "hosts").write_text("a:2\n")
    assert main(["launch", "-n", "1024", "--dry-run", "x.py"]) == 0
    assert main(["launch", "-n", "4096", "--hostfile", "hosts", "--dry-run", "x.py"]) == 0
    assert "-n 4096 -f hosts" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="mpiexec not found")
def test_launch_refuses_a_missing_hostfile_or_script(capsys, tmp_path, monkeypatch):
    # before mpiexec sees them, also with --dry-run; a command that is not a .py file
    # (e.g. a binary on the PATH) is passed on
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.py").write_text("")
    assert main(["launch", "-n", "1", "--hostfile", "nofile", "--dry-run", "x.py"]) == 2
    one_error_line(capsys, "--hostfile: no file 'nofile'")
    assert main(["launch", "-n", "1", "--dry-run", "missing.py"]) == 2
    one_error_line(capsys, "no script 'missing.py' to launch")
    assert main(["launch", "-n", "1", "--dry-run", "hostname"]) == 0


def test_the_limits_themselves_are_accepted(capsys):
    argv = ["whatif", "--params", str(MAX_COUNT), "--workers", "8", "--steps", str(MAX_COUNT),
            "--compute-time", f"{MAX_DURATION:g}s", "--latency", f"{MAX_DURATION:g}s",
            "--bandwidth", "1bit/s", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out

    def reject(constant):  # Infinity, -Infinity, NaN
        raise AssertionError(f"non-finite {constant} in the JSON")

    def finite(value):  # no "inf" / "nan" strings either (a key such as
        if isinstance(value, dict):  # "infeasible_reason" may contain the letters)
            return all(finite(v) for v in value.values())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return not (isinstance(value, str) and value.strip().lower() in ("inf", "-inf", "nan"))

    assert finite(json.loads(out, parse_constant=reject))


@pytest.mark.parametrize(
    "command, flag, name, needle",
    [
        ("whatif", "--out", "plot.txt", "unknown extension '.txt'; expected .png, .pdf, .svg"),
        ("whatif", "--out", "plot", "unknown extension '(none)'"),
        ("whatif", "--csv", "rows.png", "unknown extension '.png'; expected .csv"),
        ("whatif", "--out", "missing/plot.png", "folder"),
        ("whatif", "--csv", "missing/rows.csv", "does not exist"),
        ("timeline", "--out", "missing/t.png", "does not exist"),
        ("timeline", "--out", "t.gif", "unknown extension '.gif'"),
        ("compare", "--out", "missing/p.png", "does not exist"),
        ("compare", "--out", "p.gif", "unknown extension '.gif'"),
        ("compare", "--gif", "p.png", "unknown extension '.png'; expected .gif"),
        ("compare", "--gif", "missing/p.gif", "does not exist"),
    ],
)
def test_output_paths_are_checked_first(command, flag, name, needle, tmp_path, capsys):
    sim = [*BASE, "--workers", "8"] if command != "compare" else []
    # --samples past the limit too: the path is refused before it is even looked at
    extra = ["--samples", "1e12"] if command == "whatif" else []
    assert main([command, *sim, *extra, flag, str(tmp_path / name)]) == 2
    one_error_line(capsys, f"{flag}: cannot write", needle)
    assert list(tmp_path.iterdir()) == []


def test_an_output_path_that_is_a_folder_is_refused(tmp_path, capsys):
    (tmp_path / "x.png").mkdir()
    assert main(["whatif", *BASE, "--workers", "8", "--out", str(tmp_path / "x.png")]) == 2
    one_error_line(capsys, "--out:", "is a folder")


def test_timelines_default_folder_is_still_created(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["timeline", *BASE, "--workers", "2", "--show-steps", "1"]) == 0
    assert (tmp_path / "out" / "timeline.png").stat().st_size > 0


# ------------------------------------------------------------------------- the Python API
@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: ClusterSpec(**{**CLUSTER, "workers": 10**12}), "workers"),
        (lambda: ClusterSpec(**{**CLUSTER, "workers": float("nan")}), "workers"),
        (lambda: ClusterSpec(**{**CLUSTER, "bandwidth": 1e-300}), "bandwidth"),
        (lambda: ClusterSpec(**{**CLUSTER, "latency": 1e300}), "latency"),
        (lambda: ClusterSpec(**{**CLUSTER, "latency": -1.0}), "latency"),
        (lambda: ClusterSpec(**{**CLUSTER, "price_per_node_hour": float("inf")}),
         "price_per_node_hour"),
        (lambda: Workload(**{**WORKLOAD, "parameters": 10**300}), "parameters"),
        (lambda: Workload(**{**WORKLOAD, "steps": 10**16}), "steps"),
        (lambda: Workload(**{**WORKLOAD, "compute_time_per_step": 1e308}),
         "compute_time_per_step"),
        (lambda: Workload(**{**WORKLOAD, "compute_time_per_step": float("nan")}),
         "compute_time_per_step"),
        (lambda: simulate(CLUSTER, WORKLOAD, steps_to_sample=MAX_STEPS_TO_SAMPLE + 1),
         "steps_to_sample"),
        (lambda: simulate({**CLUSTER, "workers": MAX_WORKERS,
                           "compute": {"kind": "lognormal", "sigma": 0.1}}, WORKLOAD,
                          steps_to_sample=MAX_SAMPLED_WORKER_STEPS // MAX_WORKERS + 1),
         "steps_to_sample"),
        (lambda: simulate({**CLUSTER, "price_per_node_hour": 1e308}, WORKLOAD),
         "price_per_node_hour"),
        (lambda: simulate(CLUSTER, WORKLOAD, "ps", ps_shards=MAX_WORKERS + 1), "ps_shards"),
        (lambda: simulate(CLUSTER, WORKLOAD, seed=-1), "seed"),
        (lambda: simulate(CLUSTER, WORKLOAD, failures={"node_mtbf": 80, "checkpoint_cost": 10}),
         "failures.node_mtbf"),
    ],
)  # fmt: skip
def test_python_api_raises_a_value_error_naming_the_field(make, field):
    with pytest.raises(ValueError) as info:
        make()
    assert isinstance(info.value, SpecError) and info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_the_sampling_limit_spares_deterministic_compute():
    # a million workers of deterministic compute are not sampled: fast, allowed
    r = simulate({**CLUSTER, "workers": MAX_WORKERS}, WORKLOAD, steps_to_sample=10)
    assert r.workers == MAX_WORKERS and math.isfinite(r.total_time_s)


def test_lognormal_sigma_limit():
    assert simulate({**CLUSTER, "compute": {"kind": "lognormal", "sigma": MAX_SIGMA}},
                    WORKLOAD, steps_to_sample=10).step_time_s > 0  # fmt: skip
    with pytest.raises(SpecError, match=r"compute.sigma: must be <= 3"):
        simulate({**CLUSTER, "compute": {"kind": "lognormal", "sigma": 3.01}}, WORKLOAD)


def test_mtbf_boundary_against_daly_by_hand():
    """Refused at M = δ (M = node_mtbf / machines); just above, Daly's closed form."""
    machines, delta, restart, solve = 8, 30.0, 60.0, 1e5
    with pytest.raises(SpecError, match="checkpointing cannot keep up"):
        failure_overhead(FailureSpec(machines * delta, delta, restart), solve, machines)
    m = 1.01 * delta
    fo = failure_overhead(FailureSpec(machines * m, delta, restart), solve, machines)
    x = delta / (2 * m)
    tau = math.sqrt(2 * delta * m) * (1 + math.sqrt(x) / 3 + x / 9) - delta
    assert tau == pytest.approx(daly_interval(delta, m))
    wall = m * math.exp(restart / m) * math.expm1((tau + delta) / m) * solve / tau
    assert fo.wall_time == pytest.approx(wall, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    workers=st.integers(1, MAX_WORKERS),
    params=st.integers(1, MAX_COUNT),
    steps=st.integers(1, MAX_COUNT),
    log_compute=st.floats(-9, math.log10(MAX_DURATION)),
    log_latency=st.floats(-9, math.log10(MAX_DURATION)),
    log_bw=st.floats(math.log10(MIN_BANDWIDTH), 18),
    log_price=st.floats(-3, 308),
    scheme=st.sampled_from(["ring", "ps", "tree"]),
)
def test_anything_accepted_gives_finite_results_or_a_named_error(
    workers, params, steps, log_compute, log_latency, log_bw, log_price, scheme
):
    cluster = {"workers": workers, "bandwidth": 10**log_bw, "latency": 10**log_latency,
               "price_per_node_hour": 10**log_price}  # fmt: skip
    workload = {"parameters": params, "compute_time_per_step": 10**log_compute, "steps": steps}
    try:
        r = simulate(cluster, workload, scheme, steps_to_sample=4)
    except SpecError as e:  # only the overflow of a product may be refused here
        assert "too extreme" in str(e) and e.field == "price_per_node_hour"
        return
    for key in ("step_time_s", "comm_s", "total_time_s", "cost", "throughput", "speedup"):
        assert math.isfinite(getattr(r, key)), key


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["whatif", "--bogus"], "tinygrad-opt whatif: error: unrecognized arguments: --bogus"),
        (["whatif", "--compute", "0.12s"], "tinygrad-opt whatif: error: ambiguous option"),
        (["compare", "--steps", "0"], "tinygrad-opt compare: error: argument --steps"),
        (["nosuchcmd"], "tinygrad-opt: error: argument command: invalid choice"),
    ],
)
def test_argument_mistakes_are_one_line_without_the_usage_block(argv, needle, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors exit from the parser
        code = e.code
    assert code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip().splitlines() == [err.strip()] and needle in err, err


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--sigma", "0.2", "--spread", "0.1"],
         "--sigma and --spread choose different compute models (lognormal, uniform)"),
        (["--spread", "0.1", "--compute-model", "lognormal"],
         "--spread and --compute-model choose different compute models (uniform, lognormal)"),
    ],
)  # fmt: skip
def test_flags_choosing_different_compute_models_are_named(flags, needle, capsys):
    argv = ["whatif", "--params", "25M", "--workers", "8", "--compute-time", "0.1s",
            "--bandwidth", "25Gbit/s", "--latency", "5us", *flags]  # fmt: skip
    assert main(argv) == 2
    one_error_line(capsys, needle)
    consistent = argv[: -len(flags)] + ["--compute-model", "lognormal", "--sigma", "0.2"]
    assert main(consistent + ["--json"]) == 0


def test_two_flags_for_the_gradient_bytes_are_one_mistake(capsys):
    argv = ["whatif", "--params", "25M", "--workers", "8", "--compute-time", "0.1s",
            "--bandwidth", "25Gbit/s", "--latency", "5us", "--bytes-per-param", "4",
            "--grad-dtype", "fp16"]  # fmt: skip
    assert main(argv) == 2
    one_error_line(capsys, "--bytes-per-param and --grad-dtype both set the gradient bytes")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--params", "25,600,000"], "--params '25,600,000' reads as thousands separators"),
        (["--params", "25M", "--out", "."], "--out: '.' is a folder; give a file name"),
    ],
)
def test_thousands_separators_and_folders_are_named(extra, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["whatif", "--workers", "8", "--compute-time", "0.1s", "--bandwidth", "25Gbit/s",
            "--latency", "5us", *extra]  # fmt: skip
    assert main(argv) == 2
    one_error_line(capsys, needle)
    sweep = ["whatif", *argv[1 : -len(extra)], "--params", "25M,60M", "--json"]
    assert main(sweep) == 0  # a comma between values is still a sweep


def test_list_models_refuses_outputs_it_would_not_write(capsys):
    assert main(["whatif", "--list-models", "--out", "x.png"]) == 2
    one_error_line(capsys, "--list-models prints the profiles only; drop --out")
    assert main(["whatif", "--list-models", "--json"]) == 0
