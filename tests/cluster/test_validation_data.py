"""The published-cluster data set and the script that predicts it (docs/validation.md)."""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import published as pub
from tinygrad_opt.cluster import published_data

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_validation_doc.py"

spec = importlib.util.spec_from_file_location("make_validation_doc", SCRIPT)
mvd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mvd)

DATA = pub.load()


# ------------------------------------------------------------------ the data file
def test_data_file_passes_its_schema():
    pub.check_data(DATA)


def test_every_point_cites_a_source_with_citation_and_url():
    sources = DATA["source"]
    assert len(sources) >= 6
    for p in DATA["point"]:
        src = sources[p["source"]]
        assert src["citation"].strip() and src["url"].startswith("http")
        assert p["where"].strip()  # the table, figure or passage the number comes from


def test_numbers_positive_and_efficiency_in_range():
    points = DATA["point"]
    assert len(points) >= 60
    for p in points:
        assert 0 < p["efficiency"] <= 1.2, p["id"]
        for key in published_data.POSITIVE:
            if key in p:
                assert p[key] > 0, (p["id"], key)
        assert p["gpus"] == p["nodes"] * p["gpus_per_node"], p["id"]
        if "throughput" in p:  # the efficiency is what the two throughputs say
            implied = p["throughput"] * p["baseline_gpus"] / (p["gpus"] * p["baseline_throughput"])
            assert p["efficiency"] == pytest.approx(implied, abs=5e-4), p["id"]


def test_data_covers_both_schemes_and_many_scales():
    points = DATA["point"]
    assert {p["scheme"] for p in points} >= {"ps", "ring", "hierarchical"}
    assert {p["gpus"] for p in points} >= {2, 4, 8, 16, 32, 64, 128, 256}
    assert {"vgg16", "resnet50", "inception3"} <= {p["model"] for p in points}


def _broken(**changes):
    data = copy.deepcopy(DATA)
    p = data["point"][0]
    for k, v in changes.items():
        if v is None:
            p.pop(k)
        else:
            p[k] = v
    return data


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"source": "nowhere"}, "source 'nowhere'"),
        ({"efficiency": 1.5}, "efficiency must lie in (0, 1.2]"),
        ({"efficiency": 0.0}, "efficiency must lie in (0, 1.2]"),
        ({"baseline_throughput": -3.0}, "baseline_throughput must be a positive number"),
        ({"gpus": 3}, "gpus=3 != nodes"),
        ({"model": None}, "model is missing"),
        ({"scheme": "gossip"}, "scheme 'gossip'"),
        ({"throughput": 100.0}, "disagrees with its throughputs"),
        ({"overlap": "no"}, "overlap must be true or false, got 'no'"),
        ({"local_aggregation": 1}, "local_aggregation must be true or false"),
    ],
)
def test_malformed_points_are_named(changes, words):
    with pytest.raises(ValueError) as e:
        pub.check_data(_broken(**changes))
    assert words in str(e.value)
    assert DATA["point"][0]["id"] in str(e.value)


def test_duplicate_id_and_uncited_source_are_refused():
    data = copy.deepcopy(DATA)
    data["point"][1]["id"] = data["point"][0]["id"]
    with pytest.raises(ValueError, match="id is used twice"):
        pub.check_data(data)
    data = copy.deepcopy(DATA)
    key = next(iter(data["source"]))
    data["source"][key]["citation"] = " "
    with pytest.raises(ValueError, match=f"source.{key}.citation"):
        pub.check_data(data)


def test_worst_model_checks_with_their_margins():
    # three models of one table at one GPU count: the measured and the predicted worst,
    # each with its lead over the next; a measured lead under 3 points is a tie
    def row(model, measured, predicted):
        p = {"source": "s", "where": "t", "gpus": 8, "model": model, "efficiency": measured}
        return {"p": p, "pred": predicted}

    rows = [row("vgg16", 0.70, 0.90), row("resnet50", 0.95, 0.91), row("alexnet", 0.80, 0.93)]
    (c,) = pub.worst_model_checks(rows)
    assert (c["measured"], c["predicted"], c["verdict"]) == ("vgg16", "vgg16", "yes")
    assert c["gap"] == pytest.approx(0.10) and c["pred_gap"] == pytest.approx(0.01)
    rows[0]["pred"] = 0.95  # resnet50 is now predicted worst
    (c,) = pub.worst_model_checks(rows)
    assert (c["predicted"], c["verdict"]) == ("resnet50", "no")
    rows[2]["p"]["efficiency"] = 0.71  # alexnet measured within 3 points of vgg16
    assert pub.worst_model_checks(rows)[0]["verdict"] == "tie"
    assert pub.worst_model_checks(rows[:2]) == []  # two models: no group
    assert (
        "(by 10.0) | resnet50 (by 2.0)"
        in mvd.ordering_checks(
            [row("vgg16", 0.70, 0.95), row("resnet50", 0.95, 0.91), row("alexnet", 0.80, 0.93)]
        )[0]
    )
    # the no-overlap column: the worst model of the same group in the exposed rows
    exposed = [row("vgg16", 0.70, 0.80), row("resnet50", 0.95, 0.90), row("alexnet", 0.80, 0.85)]
    fresh = [row("vgg16", 0.70, 0.95), row("resnet50", 0.95, 0.91), row("alexnet", 0.80, 0.93)]
    line = mvd.ordering_checks(fresh, exposed)[0]
    assert "| resnet50 (by 2.0) | vgg16 (by 5.0) | **no** |" in line
    assert "right in 1 of 1 groups" in mvd.exposed_orderings(exposed)


def test_compare_group_must_share_hardware_and_model():
    data = copy.deepcopy(DATA)
    grouped = [p for p in data["point"] if "compare_group" in p]
    assert {p["scheme"] for p in grouped} >= {"ps", "ring"}
    p = next(q for q in grouped if q["scheme"] == "ps")
    p["per_gpu_batch"] = 32
    with pytest.raises(ValueError, match="mixes per_gpu_batch"):
        pub.check_data(data)


def test_scheme_pairs_judge_the_better_scheme():
    def row(scheme, measured, predicted):
        p = {"compare_group": "g", "gpus": 8, "model": "m", "scheme": scheme,
             "efficiency": measured}  # fmt: skip
        return {"p": p, "pred": predicted}

    same = mvd.scheme_pairs([row("ps", 0.6, 0.5), row("ring", 0.9, 0.8)])
    wrong = mvd.scheme_pairs([row("ps", 0.6, 0.9), row("ring", 0.9, 0.8)])
    tie = mvd.scheme_pairs([row("ps", 0.89, 0.9), row("ring", 0.9, 0.8)])
    assert same[0].endswith("| all-reduce | all-reduce | yes |")
    assert wrong[0].endswith("| all-reduce | PS | **no** |")
    assert "tie (1.0 apart)" in tie[0]


# ------------------------------------------------------------------ the predictions
def _point(**kw):
    p = {
        "id": "synthetic", "source": "tfbench", "scheme": "ring", "gpus": 4, "nodes": 1,
        "gpus_per_node": 4, "parameters": 100_000_000, "per_gpu_batch": 32,
        "baseline_gpus": 1, "baseline_throughput": 100.0, "intra_bandwidth_gbps": 10.0,
        "precision": "fp32", "transport": "cuda-copy",  # the bare links: closed forms
    }  # fmt: skip
    p.update(kw)
    return p


def _overlapped(c, k, u, beta=2 / 3):
    """The simulator's bucketed overlap: max(C(1 − β + β/K) + K·u, C + u)."""
    return max(c * (1 - beta + beta / k) + k * u, c + u)


DETERMINISTIC = tuple(f for f in pub.FEATURES if f != "jitter")
"""Every input but the fitted compute-time spread: the closed forms hold exactly."""


def test_ring_point_matches_closed_form():
    p = _point()
    n, m, b = 4, 4 * 100e6, 10e9 / 8
    k = math.ceil(m / (25 * 2**20))
    alpha = pub.LATENCY
    u = 2 * (n - 1) * alpha + 2 * (n - 1) / n * (m / k) / b
    c = 32 / 100.0
    assert pub.predict(p, DETERMINISTIC) == pytest.approx(c / _overlapped(c, k, u), rel=1e-9)


def test_record_without_overlap_exchanges_after_the_backward_pass():
    # overlap = false: the whole all-reduce (one message of M bytes) after the compute
    n, m, b = 4, 4 * 100e6, 10e9 / 8
    u = 2 * (n - 1) * pub.LATENCY + 2 * (n - 1) / n * m / b
    c = 32 / 100.0
    p = _point(overlap=False)
    assert pub.predict(p, DETERMINISTIC) == pytest.approx(c / (c + u), rel=1e-9)
    assert pub.predict(p, DETERMINISTIC) < pub.predict(_point(), DETERMINISTIC)
    assert pub.simulator_inputs(p)[2].overlap is False
    assert pub.simulator_inputs(_point(overlap=True))[2].overlap is True
    with pub.assumed(OVERLAP=False):  # the global switch turns every record's off
        assert pub.simulator_inputs(_point(overlap=True))[2].overlap is False


def test_records_marked_without_overlap_name_software_that_waits_for_backward():
    # the documented rule: TensorFlow's NcclManager (replicated mode with NCCL, 2017) and
    # ChainerMN before its double buffering (all-reduce after loss.backward())
    marked = [p for p in DATA["point"] if p.get("overlap") is False]
    assert len(marked) >= 16
    for p in marked:
        if "ChainerMN" in p["framework"]:
            assert "double_buffering" not in p["framework"]
            continue
        assert (p["scheme"], p["transport"], p["nodes"]) == ("ring", "nccl", 1)
        assert "replicated" in p["scheme_detail"] and "TensorFlow" in p["framework"]


@pytest.mark.parametrize(
    ("intra", "links"),
    [("PCIe 3.0 x16 to host", 8), ("NVLink hybrid cube-mesh (NCCL); PCIe 3.0 x16 to host", 4)],
)
def test_host_parameter_server_point_matches_closed_form(intra, links):
    # host memory behind L PCIe links of B each (8 GPUs: each its own; a DGX-1: 4 switch
    # uplinks shared by GPU pairs): every GPU pushes and pulls each bucket at B·L/n,
    # 2α + 2·(n/L)·(M/K)/B; without it (the simulator before): one server link of B,
    # 2α + 2n·(M/K)/B
    p = _point(scheme="ps", ps_servers=1, ps_placement="host", gpus=8, gpus_per_node=8,
               intra=intra)  # fmt: skip
    topo = pub.simulator_inputs(p)[0].intra_topology
    assert (topo.name, topo.devices_per_switch) == (("link", 2) if links == 8 else ("pcie_tree", 2))
    n, m, b = 8, 4 * 100e6, 10e9 / 8
    k = math.ceil(m / (25 * 2**20))
    c = 32 / 100.0
    u = 2 * pub.LATENCY + 2 * (n / links) * (m / k) / b
    # relative to the same configuration on one GPU, which alone pushes and pulls at B
    alone = _overlapped(c, k, 2 * pub.LATENCY + 2 * (m / k) / b)
    assert pub.predict(p, DETERMINISTIC) == pytest.approx(alone / _overlapped(c, k, u), rel=1e-9)
    one = tuple(f for f in DETERMINISTIC if f != "host_memory")
    u1 = 2 * pub.LATENCY + 2 * n * (m / k) / b
    assert pub.predict(p, one) == pytest.approx(alone / _overlapped(c, k, u1), rel=1e-9)


@pytest.mark.parametrize("gpus", [2, 8, 64, 512])
def test_compute_spread_costs_the_expected_slowest_gpu(gpus):
    # links so fast that only the compute counts: a step waits for the slowest of N GPUs,
    # uniform on [1 − a, 1 + a]: E[max] = 1 + a(N − 1)/(N + 1), against the simulator's
    # sampled steps (2,048, seed 0)
    a = mvd.FITTED_CONSTANTS["compute_spread"]
    p = _point(
        gpus=gpus,
        gpus_per_node=gpus,
        intra_bandwidth_gbps=1e9,
        parameters=10,
        baseline_throughput=1.0,
    )  # 32 s of compute a step: latency is nothing
    if gpus > 8:
        p.update(nodes=gpus // 8, gpus_per_node=8, inter_bandwidth_gbps=1e9)
    without = pub.predict(p, DETERMINISTIC)  # below 1 by the latency terms only
    assert without == pytest.approx(1.0, rel=5e-3)
    slowest = 1 + a * (gpus - 1) / (gpus + 1)
    assert pub.predict(p) == pytest.approx(without / slowest, rel=2e-3)
    # one GPU waits for nobody: 1 within the sampling error
    assert pub.predict(_point(gpus=1, gpus_per_node=1)) == pytest.approx(1.0, abs=a / 16)


def test_fitted_spread_is_the_grid_optimum():
    # refitting on the points it was fitted to (every source but the UNSEEN ones, added
    # afterwards) gives the constant in use (the doc's claim)
    a = mvd.FITTED_CONSTANTS["compute_spread"]
    seen = [p for p in DATA["point"] if p["source"] not in mvd.UNSEEN]
    table = mvd.fit({**DATA, "point": seen}, grid=(a - 0.02, a - 0.01, a, a + 0.01, a + 0.02))
    assert mvd.best_fit(table) == a
    assert len(mvd.FITTED_CONSTANTS) <= 2  # the issue allows at most two, globally


def test_unseen_sources_are_reported_apart():
    # the sources added after σ was fitted are in the data and summarised on their own:
    # |errors| 1, 3, 5 points -> median 3.0, 90th percentile 4.6 (numpy's linear rule);
    # the fitted-on 2, 4 -> median 3.0, 90th percentile 3.8
    assert set(mvd.UNSEEN) <= set(DATA["source"])
    assert any(p["source"] in mvd.UNSEEN and p["nodes"] > 1 for p in DATA["point"])
    done = [{"p": {"source": mvd.UNSEEN[0]}, "err": e} for e in (0.01, -0.03, 0.05)]
    done += [{"p": {"source": "tfbench"}, "err": e} for e in (0.02, -0.04)]
    text = " ".join(mvd.unseen_summary(done))
    assert "the 2 points of the other sources (median 3.0, 90th percentile 3.8)" in text
    assert "the 3 points of NVIDIA" in text and "median 3.0, 90th percentile 4.6" in text
    assert mvd.unseen_summary(done[:3]) == []  # nothing to compare with: no paragraph


def test_efficiency_relative_to_a_larger_baseline():
    # measured against 4 GPUs, 4 GPUs are 100% by definition; more GPUs are compared with
    # the simulator's own 4-GPU efficiency, not with one GPU's
    p4 = _point(baseline_gpus=4, baseline_throughput=400.0)
    assert pub.predict(p4) == pytest.approx(1.0, rel=1e-12)
    p8 = _point(baseline_gpus=4, baseline_throughput=400.0, gpus=8, gpus_per_node=8)
    e8 = pub.predict(_point(gpus=8, gpus_per_node=8))
    e4 = pub.predict(_point())
    assert pub.predict(p8) == pytest.approx(e8 / e4, rel=1e-12)


def test_records_fields_reach_the_simulator():
    # distributed_replicated on 4 machines of 8 GPUs over gRPC, servers on the machines
    p = _point(
        scheme="ps", ps_servers=4, ps_placement="colocated", gpus=32, nodes=4, gpus_per_node=8,
        inter_bandwidth_gbps=10.0, local_aggregation=True, transport="grpc", model="resnet50",
        parameters=25_557_032,
    )  # fmt: skip
    c, wl, s = pub.simulator_inputs(p)
    assert c.local_aggregation and c.transport.name == "grpc" and wl.model == "resnet50"
    assert s.ps_shards == 4 and s.ps_placement == "colocated"
    c0, wl0, _ = pub.simulator_inputs(p, features=())
    assert not c0.local_aggregation and c0.transport.is_ideal and wl0.model is None
    assert wl0.parameters == wl.parameters
    # one push per machine instead of one per GPU: the prediction goes up
    assert pub.predict(p) > pub.predict(p, features=("transport", "model"))
    # BytePS's 4 MB partitions: even shares; TensorFlow: whole tensors round-robin
    assert pub.simulator_inputs({**p, "transport": "byteps"})[2].tensor_placement == "even"
    assert s.tensor_placement == "round_robin"
    # no profile: cuda-copy; a parameter count no profile has: a bare count
    c1, wl1, _ = pub.simulator_inputs({**p, "transport": "cuda-copy", "parameters": 10**8})
    assert c1.transport.is_ideal and wl1.model is None


def test_colocated_shards_after_local_aggregation_fit_on_the_machines():
    # 6 servers on 8 machines stay 6; 16 servers on 4 machines become one per machine
    base = dict(scheme="ps", ps_placement="colocated", gpus=32, nodes=4, gpus_per_node=8,
                inter_bandwidth_gbps=10.0, local_aggregation=True)  # fmt: skip
    assert pub.simulator_inputs(_point(**base, ps_servers=3))[2].ps_shards == 3
    assert pub.simulator_inputs(_point(**base, ps_servers=16))[2].ps_shards == 4


def test_point_without_a_batch_is_not_predicted():
    p = _point()
    del p["per_gpu_batch"]
    assert pub.missing_inputs(p) == ["per_gpu_batch"]
    assert pub.predict(p) is None


# ------------------------------------------------------------------ the script
def _run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip


def test_committed_doc_is_up_to_date():
    r = _run("--check")
    assert r.returncode == 0, r.stderr
    assert "median |error|" in r.stdout


def test_check_fails_on_a_stale_doc(tmp_path):
    stale = tmp_path / "validation.md"
    stale.write_text("old\n")
    r = _run("--check", "--out", str(stale))
    assert r.returncode == 1
    assert "out of date" in r.stderr


def test_malformed_data_file_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    text = pub.DATA.read_text().replace("efficiency = 1.0\n", "efficiency = 7.0\n", 1)
    assert text != pub.DATA.read_text()
    bad.write_text(text)
    out = tmp_path / "validation.md"
    r = _run("--data", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "efficiency must lie in" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


def test_cube_mesh_records_run_on_the_topology():
    # a DGX-1 (P100) ring on one machine: 8 GPUs of one node on the cube-mesh, one NVLink
    p = _point(
        scheme="ring", gpus=8, nodes=1, gpus_per_node=8, intra_bandwidth_gbps=160.0,
        intra="NVLink hybrid cube-mesh (NCCL); PCIe 3.0 x16 to host", gpu="Tesla P100-SXM2",
    )  # fmt: skip
    c, _, s = pub.simulator_inputs(p)
    assert (c.nodes, c.devices_per_node, s.name) == (1, 8, "ring")
    assert c.intra_topology.name == "nvlink_cube_mesh" and c.intra_topology.links_per_gpu == 4
    assert c.intra_bandwidth == pytest.approx(20e9)
    v100 = {**p, "intra": "NVLink 2.0 hybrid cube-mesh", "gpu": "Tesla V100-SXM2-16GB"}
    assert pub.simulator_inputs(v100)[0].intra_topology.links_per_gpu == 6
    # TensorFlow's 2017 NCCL 1.x: one ring in device order; NCCL 2 (default): disjoint
    assert c.intra_topology.rings == "disjoint"
    nccl1 = {**p, "nccl_version": "1"}
    assert pub.simulator_inputs(nccl1)[0].intra_topology.rings == "device_order"
    assert pub.predict(nccl1, DETERMINISTIC) <= pub.predict(p, DETERMINISTIC)
    with pytest.raises(ValueError, match="nccl_version"):
        pub.check_data({**DATA, "point": [{**DATA["point"][0], "nccl_version": "newest"}]})
    # 4 parallel rings instead of one link: the prediction goes up
    assert pub.predict(p, DETERMINISTIC) > pub.predict(p, features=("model", "transport"))
    # without the feature, PCIe records and parameter servers: as before
    assert pub.simulator_inputs(p, features=())[0].intra_topology.name == "link"
    ps = {**p, "scheme": "ps", "ps_placement": "host"}
    assert pub.intra_topology(ps) is None
    assert pub.intra_topology({**p, "intra": "PCIe 3.0 x16"}) is None


def test_nccl_24_records_choose_ring_or_trees_across_machines():
    # NCCL >= 2.4 across machines: the simulator's nccl scheme; on one machine, or with an
    # older NCCL, the record's ring
    p = _point(gpus=1024, nodes=64, gpus_per_node=16, inter_bandwidth_gbps=800.0,
               intra_bandwidth_gbps=1200.0, transport="nccl", nccl_version="2.4")  # fmt: skip
    assert pub.simulator_inputs(p)[2].name == "nccl"
    assert pub.simulator_inputs({**p, "nccl_version": "2"})[2].name == "ring"
    assert pub.simulator_inputs(p, features=DETERMINISTIC[:1])[2].name == "ring"
    one = {**p, "gpus": 16, "nodes": 1}
    assert pub.simulator_inputs(one)[2].name == "ring"
    # at 1,024 GPUs the flat ring's 2(N-1) latencies per bucket cost far more than trees
    assert pub.predict(p, DETERMINISTIC) > pub.predict({**p, "nccl_version": "2"}, DETERMINISTIC)


def test_sensitivity_rows_restore_the_assumed_constants():
    # the first row is the doc's own summary; every change is undone afterwards
    saved = (pub.LATENCY, pub.BACKWARD_FRACTION, pub.BUCKET_BYTES, pub.OVERLAP)
    few = {**DATA, "point": [p for p in DATA["point"] if p["source"] == "horovod_docs"]}
    lines = mvd.sensitivity(few)
    assert (pub.LATENCY, pub.BACKWARD_FRACTION, pub.BUCKET_BYTES, pub.OVERLAP) == saved
    assert len(lines) == len(mvd.SENSITIVITY)
    m, q = pub.summary([r["err"] for r in pub.predict_all(few)])
    assert lines[0].split(" | ")[1:3] == [f"{100 * m:.1f}", f"{100 * q:.1f}"]
    # without overlap VGG-16's 512-GPU all-reduce is fully exposed: a larger error there
    none = [float(x) for x in lines[-1].split(" | ")[1:3]]
    assert none != [float(x) for x in lines[0].split(" | ")[1:3]]


def test_intra_topology_field_names_the_cube_mesh():
    # the field overrides the words: "NVLink" alone is a plain link, with
    # intra_topology = "nvlink_cube_mesh" the DGX-1's topology (and its PCIe tree to the
    # host for a parameter server); an unknown name is refused, naming it
    ring = _point(gpus=8, gpus_per_node=8, intra="NVLink")
    assert pub.intra_topology(ring) is None
    mesh = {**ring, "intra_topology": "nvlink_cube_mesh"}
    assert pub.intra_topology(mesh)["name"] == "nvlink_cube_mesh"
    assert pub.simulator_inputs(mesh)[0].intra_topology.name == "nvlink_cube_mesh"
    assert pub.host_topology(mesh) == {"name": "pcie_tree", "devices_per_switch": 2}
    plain = {**ring, "intra": "NVLink hybrid cube-mesh", "intra_topology": "link"}
    assert pub.intra_topology(plain) is None and pub.host_topology(plain) == "link"
    bad = copy.deepcopy(DATA)
    bad["point"][0]["intra_topology"] = "torus"
    with pytest.raises(ValueError, match="intra_topology 'torus' not in"):
        pub.check_data(bad)


def test_assumed_changes_only_the_named_constants_and_restores_them():
    with pub.assumed(LATENCY=50e-6):
        assert pub.LATENCY == 50e-6
    assert pub.LATENCY == 10e-6
    with pytest.raises(KeyError, match="not an assumed constant: SPREAD"):
        with pub.assumed(SPREAD=0.2):
            pass


def test_exposure_line_recovers_the_exposed_bandwidth():
    # loss = (M / t) / B exactly: the line's slope gives B back, correlation 1
    b = 5e9
    pts = []
    for params, batch in ((25e6, 32), (60e6, 64), (138e6, 32), (61e6, 512)):
        rate = 100.0  # images/s on one GPU: t = batch / rate
        loss = params * 4 * rate / batch / b
        pts.append({"parameters": params, "baseline_throughput": rate, "baseline_gpus": 1,
                    "per_gpu_batch": batch, "efficiency": 1 - loss})  # fmt: skip
    got, r = mvd.exposure_line(pts)
    assert got == pytest.approx(b, rel=1e-9) and r == pytest.approx(1.0)


# The orderings, as properties of the rules on clusters of 8-GPU P100 machines
# (DGX-1 cube-mesh inside, `inter` Gbit/s between): TensorFlow's published one-GPU rates.
_MODELS = {"vgg16": (138357544, 32, 144.0), "resnet50": (25557032, 64, 219.0),
           "inception3": (23851784, 64, 142.0)}  # fmt: skip


def _cluster_point(model, nodes, inter, scheme):
    params, batch, rate = _MODELS[model]
    p = _point(model=model, parameters=params, per_gpu_batch=batch, baseline_throughput=rate,
               gpus=8 * nodes, nodes=nodes, gpus_per_node=8, intra_bandwidth_gbps=160.0,
               intra="NVLink hybrid cube-mesh", inter_bandwidth_gbps=inter, transport="nccl",
               scheme=scheme)  # fmt: skip
    if scheme == "ps":  # TensorFlow's servers, one per machine, every GPU pushing (gRPC)
        p.update(ps_servers=nodes, ps_placement="colocated", local_aggregation=False,
                 transport="grpc")  # fmt: skip
    return p


@settings(max_examples=12, deadline=None)
@given(nodes=st.sampled_from([2, 4, 8, 16, 32]), inter=st.sampled_from([10.0, 25.0, 56.0, 100.0]))
def test_largest_fully_connected_model_scales_worst_and_servers_below_all_reduce(nodes, inter):
    # VGG-16 (fc6: three quarters of its parameters) is the worst-scaling model, unless all
    # three lie within a point; TensorFlow's parameter servers are below the ring
    ring = {m: pub.predict(_cluster_point(m, nodes, inter, "ring"), DETERMINISTIC) for m in _MODELS}
    assert ring["vgg16"] <= min(ring.values()) + 0.01
    if max(ring.values()) - min(ring.values()) > 0.02:
        assert min(ring, key=ring.get) == "vgg16"
    for m in _MODELS:
        assert pub.predict(_cluster_point(m, nodes, inter, "ps"), DETERMINISTIC) < ring[m]


def test_shipped_orderings_are_right_wherever_the_model_commits():
    # where the prediction picks its worst model by a point or more (and the measurement
    # is not a tie) it is the measured one; every scheme pair that is not a tie is right
    rows = pub.predict_all(DATA)
    committed = [c for c in pub.worst_model_checks(rows)
                 if c["verdict"] != "tie" and c["pred_gap"] >= 0.01]  # fmt: skip
    assert len(committed) >= 4
    assert all(c["verdict"] == "yes" for c in committed)
    pairs = [c for c in pub.scheme_pair_checks(rows) if c["verdict"] != "tie"]
    assert pairs and all(c["verdict"] == "yes" for c in pairs)
