"""Fitting the simulator to measurements (:mod:`tinygrad_opt.cluster.calibration_fits`),
the calibrated cluster (:mod:`tinygrad_opt.cluster.calibration`) and its file
(:mod:`tinygrad_opt.cluster.toml_io`): no MPI here.

The fitting functions are checked on synthetic data made with the simulator's own
formulas (known α, B, cores, memory streams, σ); the TOML writer through
``tinygrad_opt.cluster.config`` and ``tinygrad-opt whatif``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_opt import atomic_io, cli
from tinygrad_opt.cluster import calibration as cc
from tinygrad_opt.cluster import calibration_fits as cf
from tinygrad_opt.cluster import toml_io
from tinygrad_opt.cluster.config import expand, load_toml


# ============================================================================ fitting
@pytest.mark.parametrize("n", [2, 3, 4, 8])
def test_coefficients_are_the_simulators_formulas(n):
    assert cc.collective_coefficients("allreduce", n) == pytest.approx(
        (2 * (n - 1), 2 * (n - 1) / n, (n - 1) / n)
    )
    assert cc.collective_coefficients("ps", n) == pytest.approx((2, 2 * (n - 1), n - 1))
    # an oversubscribed node slows the all-reduce by s = n / cores, and the server's
    # adding, not the server's messages
    a, b, g = cc.collective_coefficients("allreduce", n, cores_per_node=1.0)
    assert (a, b, g) == pytest.approx((2 * (n - 1) * n, 2 * (n - 1), n - 1))
    assert cc.collective_coefficients("ps", n, cores_per_node=1.0) == pytest.approx(
        (2, 2 * (n - 1), (n - 1) * n)
    )
    assert cc.collective_coefficients("ps", 1) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="kind"):
        cc.collective_coefficients("ring", n)


def synthetic_sweep(alpha, bandwidth, cores=None, noise=0.0, seed=0, reduce=None):
    rng = np.random.default_rng(seed)
    out = []
    for kind in ("allreduce", "ps"):
        for k in (1, 2, 4):
            for m in (8, 512, 32768, 4e5, 2e6, 2e7):
                a, b, g = cc.collective_coefficients(kind, k, cores)
                t = a * alpha + b * m / bandwidth + (0.0 if reduce is None else g * m / reduce)
                out.append((kind, k, m, t * float(np.exp(noise * rng.standard_normal()))))
    return out


@pytest.mark.parametrize(("alpha", "bandwidth", "cores", "reduce"),
                         [(5e-6, 8e9, None, None), (2e-5, 1.25e9, 2.0, 4e9),
                          (1e-6, 3e10, 1.6, 1e10)])  # fmt: skip
def test_latency_and_bandwidth_are_recovered(alpha, bandwidth, cores, reduce):
    sweep = synthetic_sweep(alpha, bandwidth, cores, reduce=reduce)
    a, b = cf.fit_latency_bandwidth(sweep, cores, reduce)
    assert a == pytest.approx(alpha, rel=1e-9) and b == pytest.approx(bandwidth, rel=1e-9)
    noisy = synthetic_sweep(alpha, bandwidth, cores, noise=0.03, reduce=reduce)
    a, b = cf.fit_latency_bandwidth(noisy, cores, reduce)
    assert a == pytest.approx(alpha, rel=0.1) and b == pytest.approx(bandwidth, rel=0.05)
    if reduce is not None:  # leaving the adding in would charge it to the bandwidth
        _, wrong = cf.fit_latency_bandwidth(sweep, cores)
        assert wrong < 0.95 * bandwidth


def test_reduce_bandwidth_is_recovered_from_timings_above_the_call_overhead():
    rng = np.random.default_rng(1)
    r = 7e9
    rows = [[m, 2e-6 + m / r] for m in (8, 512, 4096)]  # call overhead dominates: ignored
    rows += [
        [m, m / r * float(np.exp(0.02 * rng.standard_normal()))] for m in 2.0 ** np.arange(16, 25)
    ]
    assert cf.fit_reduce_bandwidth(rows) == pytest.approx(r, rel=0.02)
    assert cf.fit_reduce_bandwidth([[m, m / r] for m in (2**16, 2**20)]) == pytest.approx(r)
    with pytest.raises(ValueError, match="at least"):
        cf.fit_reduce_bandwidth([[8, 1e-6], [512, 1e-6]])


def test_latency_bandwidth_fit_keeps_both_nonnegative_and_refuses_nonsense():
    # times that fall with size would need a negative latency: it is clamped to 0
    a, b = cf.fit_latency_bandwidth([("allreduce", 2, 1e3, 1e-3), ("allreduce", 2, 1e6, 2e-3)])
    assert a >= 0 and b > 0
    with pytest.raises(ValueError, match="at least 2"):
        cf.fit_latency_bandwidth([("allreduce", 1, 8, 1e-6), ("ps", 2, 8, 1e-6)])
    with pytest.raises(ValueError, match="bandwidth"):
        cf.fit_latency_bandwidth([("allreduce", 2, 8, 1e-5), ("allreduce", 2, 8e6, 1e-5)])


def test_lognormal_sigma_is_recovered():
    rng = np.random.default_rng(1)
    for sigma in (0.05, 0.3):
        x = 0.02 * np.exp(sigma * rng.standard_normal(20_000) - sigma**2 / 2)
        assert cf.fit_lognormal_sigma(x) == pytest.approx(sigma, rel=0.03)
    assert cf.fit_lognormal_sigma([0.1]) == 0.0
    assert cf.fit_lognormal_sigma([0.1, 0.1, float("nan")]) == 0.0


@pytest.mark.parametrize("cores", [1.0, 1.8, 2.0, 3.5])
def test_effective_cores_and_memory_streams_are_recovered(cores):
    ranks = [2, 4, 6, 8]
    slow = [cc._node(k, cores).oversubscription for k in ranks]
    assert cf.fit_effective_cores(ranks, slow) == pytest.approx(cores, rel=0.01)
    cache, m = 32e6, 1.3
    points = [(k, w, cc._node(k, cores, m, cache).update_slowdown(w))
              for k in ranks for w in (1e6, 80e6)]  # fmt: skip
    # one core runs one update at a time: nothing shares memory, m cannot be seen (-> 1)
    want = 1.0 if cores <= 1 else m
    assert cf.fit_memory_streams(points, cores, cache) == pytest.approx(want, rel=0.01)
    # updates that fit in the cache say nothing against m = 1
    fit = [(k, 1e6, cc._node(k, cores).oversubscription) for k in ranks]
    assert cf.fit_memory_streams(fit, cores, cache) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cf.fit_effective_cores([2, 4], [1.0])


def test_turn_time_is_what_the_probe_takes_beyond_the_simulated_loop():
    assert cf.fit_turn_time(2.7e-3, 1.8e-3) == pytest.approx(9e-4, rel=1e-12)
    assert cf.fit_turn_time(1.7e-3, 1.8e-3) == 0.0  # faster than predicted: no turns
    with pytest.raises(ValueError, match="positive"):
        cf.fit_turn_time(0.0, 1e-3)


@pytest.mark.parametrize("mode", cc.MODES)
def test_turn_probe_prediction_is_the_closed_form_without_turns(mode):
    alpha, bandwidth, cores, tc, tu, p = 4e-6, 5e9, 1.9, 4e-4, 2.5e-4, 99690
    cluster = {"nodes": 1, "bandwidth": bandwidth, "latency": alpha,
               "intra_bandwidth": bandwidth, "intra_latency": alpha, "cores_per_node": cores,
               "memory_streams_per_node": 1.1, "cache_bytes_per_node": 32 * 2**20,
               "turn_time": 5e-3, "compute": {"kind": "deterministic"}}  # fmt: skip
    alone = {"compute_s": tc, "update_s": tu}
    for d in (1, 2, 4):
        settings = cf.turn_probe_settings(cluster, p, mode, d, alone)
        assert settings["cluster"]["turn_time"] == 0.0  # the term being measured is left out
        s = max(1.0, d / cores)
        m = cc.TURN_BYTES  # every message is 64 bytes, whatever the model's gradient
        if mode == "allreduce":  # ring on one node, slowed by s; every rank updates
            sync = s * (2 * (d - 1) * alpha + 2 * (d - 1) / d * m / bandwidth) if d > 1 else 0
        else:  # push + pull through the colocated server, which updates alone
            sync = 2 * alpha + 2 * (d - 1) * m / bandwidth if d > 1 else 0
        want = s * tc + sync + s * tu
        assert cc.predict_step_time(settings) == pytest.approx(want, rel=1e-9)


def test_turn_time_reaches_the_file_and_only_oversubscribed_predictions(tmp_path):
    plain = fake_calibration(turns=False)
    cal = fake_calibration()
    big = max(cal.sizes)
    path = toml_io.write_toml(cal, tmp_path / "cluster.toml")
    want = cal.workloads[f"{big}/allreduce"]["turn_time"]  # the file's [workload]'s own
    assert load_toml(path)["cluster"]["turn_time"] == pytest.approx(want, rel=1e-3)
    text = path.read_text()
    assert "turn probe of this [workload]" in text
    for w in cal.workloads.values():  # every workload's flags carry its own turn time
        assert f"--turn-time {cc._sig(w['turn_time'], 4)}s" in text
    assert cc.Calibration.from_dict(cal.to_dict()).workloads == cal.workloads
    for p in cal.sizes:
        for mode in cc.MODES:
            tau = cal.workloads[f"{p}/{mode}"]["turn_time"]
            assert cc.turn_time_of(cal, p, mode) == tau and cc.turn_time_of(plain, p, mode) == 0
            flags = cc.workload_flags(cal, p, mode)
            turns = cc.cluster_flags(cal, p, mode)
            for k, extra in ((1, 0.0), (2, 0.0), (4, tau)):  # 1.9 cores: 2 ranks take no turns
                a = cc.predict_step_time(cc.settings_for(plain, p, mode, k))
                b = cc.predict_step_time(path, k, mode, flags, turns)
                assert b == pytest.approx(a + extra, rel=1e-4)


def test_whatif_takes_the_turn_time_flag(tmp_path, capsys):
    path = toml_io.write_toml(fake_calibration(turns=False), tmp_path / "cluster.toml")
    steps = []
    for turn in ("0s", "0.9ms"):
        flags = ["--devices-per-node", "4", "--turn-time", turn, "--json"]
        assert cli.main(["whatif", "--config", str(path), *flags]) == 0
        steps.append(json.loads(capsys.readouterr().out)["rows"][0]["step_time_s"])
    assert steps[1] == pytest.approx(steps[0] + 9e-4, rel=1e-6)


def test_rounds_merge_into_medians():
    rounds = [
        [{"parameters": 10, "mode": "ps", "step_s": s, "iterations": 20, "samples": [s],
          "per_role": {"r": s}}, {"parameters": 20, "mode": "ps", "step_s": 2 * s,
                                  "iterations": 5, "samples": [], "per_role": {}}]
        for s in (1.0, 9.0, 2.0)
    ]  # fmt: skip
    merged = cf.median_records(rounds)
    assert [m["step_s"] for m in merged] == [2.0, 4.0]  # one slow round does not move it
    assert [m["iterations"] for m in merged] == [60, 15]  # counts add up
    assert merged[0]["samples"] == [1.0, 9.0, 2.0] and merged[0]["per_role"] == {"r": 1.0}
    assert merged[0]["parameters"] == 10 and merged[1]["mode"] == "ps"
    assert cf.median_records([rounds[0]]) == rounds[0]


def test_model_sizes():
    for p in (1e4, 1e5, 5e6, 2.5e7):
        sizes = cc.mlp_sizes(p)
        assert sizes[0] == 64 and sizes[-1] == 10 and sizes[1] == sizes[2]
        assert cc.mlp_parameters(sizes) == pytest.approx(p, rel=0.01)
    with pytest.raises(ValueError, match="1000"):
        cc.mlp_sizes(10)


# ============================================================================ the file
def fake_calibration(turns: bool = True) -> cc.Calibration:
    """A calibration as if measured: the numbers of a 2-core machine (with a turn time
    per workload, as a turn probe on 4 ranks measures, unless ``turns`` is False)."""
    workloads = {}
    for p, comp, upd, tau in ((99690, 4.3e-4, 2.7e-4, 8e-4), (4998262, 0.018, 0.0064, 1.5e-3)):
        for mode, extra in (("allreduce", 1.0), ("ps", 1.4)):
            workloads[f"{p}/{mode}"] = {
                "parameters": p, "mode": mode, "per_worker_batch": 32, "bytes_per_param": 4,
                "compute_time_per_step": comp, "update_time": upd * extra,
                "step_time": comp + upd * extra, "sigma": 0.05,
                "turn_time": tau * extra if turns else 0.0,
            }  # fmt: skip
    probe = {key: {"ranks": 4, "turn_time_s": w["turn_time"]} for key, w in workloads.items()}
    sweeps = {f"{kind}/{k}": [[m, t] for *_, m, t in synthetic_sweep(4e-6, 5e9, 1.9, reduce=6e9)
                              if _[0] == kind and _[1] == k]
              for kind in ("allreduce", "ps") for k in (2, 4)}  # fmt: skip
    return cc.Calibration(
        ranks=[1, 2, 4], sizes=[99690, 4998262], latency_s=4e-6, bandwidth=5e9,
        cores_per_node=1.9, memory_streams_per_node=1.1, cache_bytes_per_node=32 * 2**20,
        sigma=0.05, workloads=workloads, sweeps=sweeps, host='vm "test"', cpus=2, steps=30,
        turn_probe=probe if turns else {}, reduce_bandwidth=6e9,
    )  # fmt: skip


def test_written_file_loads_and_predicts_like_the_settings(tmp_path):
    cal = fake_calibration()
    path = toml_io.write_toml(cal, tmp_path / "sub" / "cluster.toml")
    settings = load_toml(path)
    assert settings["cluster"]["cores_per_node"] == 1.9
    assert settings["cluster"]["reduce_bandwidth"] == 6e9
    assert settings["cluster"]["name"] == 'calibrated: vm "test", 2 CPUs, MPI on one node'
    confs = expand(settings)
    assert [c.cluster.workers for c in confs] == [1, 2, 4]
    assert all(c.cluster.nodes == 1 and c.scheme.name == "ring" for c in confs)
    assert confs[2].cluster.oversubscription == pytest.approx(4 / 1.9)
    for p in cal.sizes:
        for mode in cc.MODES:
            for k in (1, 2, 4):
                flags = cc.workload_flags(cal, p, mode), cc.cluster_flags(cal, p, mode)
                from_file = cc.predict_step_time(path, k, mode, *flags)
                direct = cc.predict_step_time(cc.settings_for(cal, p, mode, k))
                assert from_file == pytest.approx(direct, rel=1e-4)
    # the fit's own curve: every sweep point has its fitted time
    fit = cal.sweep_fit()
    assert len(fit) == sum(len(v) for v in cal.sweeps.values())
    assert all(r["fitted_s"] == pytest.approx(r["measured_s"]) for r in fit)


def test_one_rank_prediction_is_compute_plus_update():
    cal = fake_calibration()
    for mode in cc.MODES:
        w = cal.workloads[f"4998262/{mode}"]
        got = cc.predict_step_time(cc.settings_for(cal, 4998262, mode, 1))
        assert got == pytest.approx(w["compute_time_per_step"] + w["update_time"], rel=1e-3)


def test_whatif_accepts_the_file(tmp_path, capsys):
    path = toml_io.write_toml(fake_calibration(), tmp_path / "cluster.toml")
    assert cli.main(["whatif", "--config", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["workers"] for r in rows] == [1, 2, 4]
    steps = [r["step_time_s"] for r in rows]
    assert steps[0] < steps[1] < steps[2]  # two cores: four ranks take turns
    flags = ["--scheme", "ps", "--ps-placement", "colocated", "--devices-per-node", "8", "--json"]
    assert cli.main(["whatif", "--config", str(path), *flags]) == 0
    assert json.loads(capsys.readouterr().out)["rows"][0]["workers"] == 8


def test_toml_writer_quotes_and_rejects():
    text = toml_io.to_toml(
        {"a": {"s": 'x "y" \\ z', "n": 3, "f": 0.5, "l": [1, 2.5], "t": {"k": True}}}
    )
    import tomllib

    assert tomllib.loads(text) == {"a": {"s": 'x "y" \\ z', "n": 3, "f": 0.5, "l": [1, 2.5],
                                         "t": {"k": True}}}  # fmt: skip
    with pytest.raises(ValueError):
        toml_io.to_toml({"a": {"x": float("nan")}})
    with pytest.raises(TypeError):
        toml_io.to_toml({"a": {"x": object()}})


# ============================================================================ raw measurements
def test_crowded_ranks_are_the_most_ranks_beyond_the_whole_cores():
    assert cf.crowded_ranks([1, 2, 4], 1.9) == 4  # ceil(1.9) = 2 cores: 4 ranks take turns
    assert cf.crowded_ranks([1, 2, 3, 8], 2.0) == 8
    assert cf.crowded_ranks([1, 2], 2.0) is None and cf.crowded_ranks([1, 2, 4], 4.0) is None


def test_measurements_that_are_not_are_refused(tmp_path):
    with pytest.raises(ValueError, match="format"):
        cf.fit_calibration({"ranks": [1, 2]})
    partial = {"format": cf.MEASUREMENTS_FORMAT, "ranks": [1, 2], "one_rank": [{"reduce": []}],
               "multi": {"2": []}}  # fmt: skip
    assert cf.complete_rounds(partial) == 0
    with pytest.raises(ValueError, match="no complete round"):
        cf.fit_calibration(partial)
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    (tmp_path / "bad.json").write_text("{not json")
    for name in ("other.json", "bad.json", "missing.json"):
        with pytest.raises(ValueError, match="calibration measurements"):
            cf.load_measurements(tmp_path / name)


def test_the_toml_file_is_replaced_atomically(tmp_path, monkeypatch):
    path = toml_io.write_toml(fake_calibration(), tmp_path / "cluster.toml")
    before = path.read_text()

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_io.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        toml_io.write_toml(fake_calibration(turns=False), path)
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "cluster.toml"
    ]  # the old file whole, no temporary left
