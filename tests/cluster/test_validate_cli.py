"""`tinygrad-opt validate`: the shipped records or a file of your own, predicted by the
rules of `tinygrad_opt.cluster.published`; bad files exit 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import published as pub

SOURCE = """
[source.mine]
citation = "Our own runs (2026)."
url = "https://example.org/runs"
measured = "images/s on 1 and 64 GPUs"
"""

POINT = """
[[point]]
id = "{id}"
source = "mine"
where = "run log"
read_from = "table"
model = "resnet101"
parameters = 44707176
framework = "TensorFlow"
scheme = "{scheme}"
{scheme_fields}
gpus = 64
nodes = 16
gpus_per_node = 4
gpu = "P100"
intra = "PCIe 3.0 x16"
intra_bandwidth_gbps = {intra}
inter = "25 GbE"
inter_bandwidth_gbps = 25.0
per_gpu_batch = 64
precision = "fp32"
baseline_gpus = 1
baseline_throughput = 129
efficiency = {efficiency}
compare_group = "mine-rn101"
"""

PS = 'ps_servers = 16\nps_placement = "colocated"\nlocal_aggregation = false\ntransport = "grpc"'
RING = 'transport = "nccl"'


def write(tmp_path, *points: str, name: str = "mine.toml"):
    path = tmp_path / name
    path.write_text(SOURCE + "".join(points))
    return path


def point(id_: str, scheme: str, efficiency: float, intra: float = 126.0) -> str:
    fields = PS if scheme == "ps" else RING
    return POINT.format(
        id=id_, scheme=scheme, scheme_fields=fields, intra=intra, efficiency=efficiency
    )


def run_json(argv, capsys) -> dict:
    assert main(["validate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def fails(argv, capsys) -> str:
    """Exit code 2, nothing on stdout, one line on stderr; returns that line."""
    assert main(["validate", *argv, "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    return err


# ------------------------------------------------------------------ output
def test_shipped_data_json_equals_the_library(capsys):
    out = run_json([], capsys)
    rows = pub.predict_all(pub.load())
    done = [r for r in rows if r["err"] is not None]
    assert out["predicted"] == len(done) and len(out["points"]) == len(rows)
    med, p90 = pub.summary([r["err"] for r in done])
    assert out["median_abs_error"] == pytest.approx(med)
    assert out["p90_abs_error"] == pytest.approx(p90)
    by_id = {p["id"]: p for p in out["points"]}
    for r in rows[::37]:
        assert by_id[r["p"]["id"]]["predicted"] == r["pred"]
        assert by_id[r["p"]["id"]]["measured"] == r["p"]["efficiency"]
    unpredicted = [p for p in out["points"] if p["predicted"] is None]
    assert unpredicted and all(p["missing"] for p in unpredicted)
    assert len(out["worst_model"]) == len(pub.worst_model_checks(rows))
    assert {c["verdict"] for c in out["worst_model"]} <= {"yes", "no", "tie"}
    pairs = {(c["ps_id"], c["allreduce_id"]): c for c in out["scheme_pairs"]}
    assert ("uber-blog-tfps-inception3-128gpu", "uber-blog-horovod-inception3-128gpu") in pairs


def test_own_file_table_rows_and_the_pair(tmp_path, capsys):
    path = write(tmp_path, point("rn101-ring", "ring", 0.9), point("rn101-ps", "ps", 0.5))
    assert main(["validate", "--data", str(path), "--quiet"]) == 0
    text = capsys.readouterr().out
    data = pub.load(path)
    preds = {p["id"]: pub.predict(p) for p in data["point"]}
    for id_, measured in (("rn101-ring", 0.9), ("rn101-ps", 0.5)):
        line = next(x for x in text.splitlines() if x.startswith(id_ + " "))
        cells = line.split()
        assert cells[3] == f"{100 * measured:.1f}"
        assert cells[4] == f"{100 * preds[id_]:.1f}"
        assert cells[5] == f"{100 * (preds[id_] - measured):+.1f}"
    errs = [preds[k] - m for k, m in (("rn101-ring", 0.9), ("rn101-ps", 0.5))]
    med, p90 = np.median(np.abs(errs)), np.percentile(np.abs(errs), 90)
    a = pub.FITTED_CONSTANTS["compute_spread"]
    assert f"2 of 2 points predicted (compute spread {a:g}): median |error| {100 * med:.1f}" in text
    assert f"90th percentile {100 * p90:.1f}" in text
    verdict = "yes" if preds["rn101-ps"] < preds["rn101-ring"] else "no"
    assert "mine-rn101 / 64 GPUs: measured 50.0 / 90.0" in text and text.rstrip().endswith(verdict)


def test_own_record_without_overlap_predicts_lower(tmp_path, capsys):
    # `overlap = false` in a file of one's own: the exchange after the backward pass
    base = point("rn101-ring", "ring", 0.9)
    late = point("rn101-late", "ring", 0.9).replace(RING, RING + "\noverlap = false")
    late = late.replace('compare_group = "mine-rn101"', 'compare_group = "mine-late"')
    got = run_json(["--data", str(write(tmp_path, base, late))], capsys)
    pred = {r["id"]: r["predicted"] for r in got["points"]}
    assert pred["rn101-late"] < pred["rn101-ring"]
    assert main(["validate", "--data", str(write(tmp_path, base, late)), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert next(x for x in text.splitlines() if x.startswith("rn101-late ")).split()[1] == "ring*"
    assert "* simulated without overlap" in text
    bad = late.replace("overlap = false", 'overlap = "no"')
    err = fails(["--data", str(write(tmp_path, bad, name="bad.toml"))], capsys)
    assert "rn101-late" in err and "overlap must be true or false" in err


def test_per_source_summary(tmp_path, capsys):
    # two sources: each gets its count, median and 90th percentile |error| and signed median
    other = SOURCE.replace("[source.mine]", "[source.theirs]")
    path = tmp_path / "two.toml"
    path.write_text(
        SOURCE
        + other
        + point("a", "ring", 0.9)
        + point("b", "ps", 0.5).replace('source = "mine"', 'source = "theirs"')
    )
    out = run_json(["--data", str(path)], capsys)
    errs = {p["id"]: p["error"] for p in out["points"]}
    assert out["by_source"]["mine"] == {
        "points": 1, "median_abs_error": pytest.approx(abs(errs["a"])),
        "p90_abs_error": pytest.approx(abs(errs["a"])), "median_error": pytest.approx(errs["a"]),
    }  # fmt: skip
    assert out["by_source"]["theirs"]["median_error"] == pytest.approx(errs["b"])
    assert main(["validate", "--data", str(path), "--quiet"]) == 0
    text = capsys.readouterr().out
    cells = next(x for x in text.splitlines() if x.startswith("theirs ")).split()
    e = 100 * errs["b"]
    assert cells == ["theirs", "1", f"{abs(e):.1f}", f"{abs(e):.1f}", f"{e:+.1f}"]


def test_spread_flag_changes_the_predictions_and_leaves_the_constant(tmp_path, capsys):
    path = write(tmp_path, point("rn101-ring", "ring", 0.9))
    fitted = pub.FITTED_CONSTANTS["compute_spread"]
    plain = run_json(["--data", str(path)], capsys)["points"][0]["predicted"]
    none = run_json(["--data", str(path), "--spread", "0"], capsys)
    assert none["compute_spread"] == 0.0
    assert pub.FITTED_CONSTANTS["compute_spread"] == fitted  # restored
    with pub.compute_spread(0.0) as a:
        assert a == 0.0
        expected = pub.predict(pub.load(path)["point"][0])
    assert pub.FITTED_CONSTANTS["compute_spread"] == fitted
    assert none["points"][0]["predicted"] == expected
    assert expected > plain  # no stragglers: a higher efficiency


# ------------------------------------------------------------------ bad input
def test_missing_file_and_bad_toml(tmp_path, capsys):
    err = fails(["--data", str(tmp_path / "none.toml")], capsys)
    assert "--data: cannot read" in err and "none.toml" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[[point]\nid = 1\n")
    assert "is not valid TOML" in fails(["--data", str(bad)], capsys)


def test_malformed_record_names_the_point_and_the_field(tmp_path, capsys):
    text = (
        point("no-model", "ring", 0.9)
        .replace('model = "resnet101"\n', "")
        .replace("parameters = 44707176\n", "")
    )
    err = fails(["--data", str(write(tmp_path, text))], capsys)
    assert "point 'no-model': model is missing" in err
    err = fails(["--data", str(write(tmp_path, point("too-good", "ring", 3.0)))], capsys)
    assert "point 'too-good': efficiency must lie in (0, 1.2], got 3.0" in err


def test_record_the_simulator_refuses_is_named(tmp_path, capsys):
    path = write(tmp_path, point("ok", "ring", 0.9), point("slow", "ring", 0.9, intra=1e-300))
    err = fails(["--data", str(path)], capsys)
    assert "point 'slow': the simulator refuses it: intra_bandwidth" in err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "abc"])
def test_bad_spread(value, capsys):
    assert "--spread" in fails(["--spread", value], capsys)


def test_out_writes_the_plot_and_bad_out_is_refused_first(tmp_path, capsys):
    path = write(tmp_path, point("rn101-ring", "ring", 0.9), point("rn101-ps", "ps", 0.5))
    fig = tmp_path / "v.png"
    out = run_json(["--data", str(path), "--out", str(fig)], capsys)
    assert out["figure"] == str(fig)
    with open(fig, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "unknown extension" in fails(
        ["--data", str(path), "--out", str(tmp_path / "v.txt")], capsys
    )
    missing = tmp_path / "no" / "v.png"
    assert "does not exist" in fails(["--data", str(path), "--out", str(missing)], capsys)
    assert not missing.parent.exists()


def test_plot_validation_needs_a_prediction(tmp_path):
    from tinygrad_opt.cluster.plots import plot_validation

    with pytest.raises(ValueError, match="no predicted records"):
        plot_validation(
            [{"p": {"source": "x", "efficiency": 0.9}, "pred": None}], tmp_path / "a.png"
        )


def _kinds():
    """One shipped record per kind of simulator input (source, scheme, placement, local
    aggregation, transport, NCCL version, one machine or several)."""
    seen, out = set(), []
    for p in pub.load()["point"]:
        key = (p["source"], p["scheme"], p.get("ps_placement"), p.get("local_aggregation"),
               p.get("transport"), p.get("nccl_version"), p["nodes"] > 1)  # fmt: skip
        if key not in seen and not pub.missing_inputs(p):
            seen.add(key)
            out.append(p["id"])
    return out


def _explained():
    """Every third kind, and a record simulated without overlap."""
    no_overlap = next(p["id"] for p in pub.load()["point"] if p.get("overlap") is False)
    return [*_kinds()[::3], no_overlap]


@pytest.mark.parametrize("point_id", _explained())
def test_explain_is_a_cluster_file_that_whatif_reproduces(point_id, tmp_path, capsys):
    # the explained inputs, run by `whatif --config` with the prediction's samples and
    # seed, give exactly the simulator's efficiency at the record's GPU count
    assert main(["validate", "--explain", point_id]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"# simulator inputs of record {point_id!r}")
    cfg = tmp_path / "inputs.toml"
    cfg.write_text(text)
    argv = ["whatif", "--config", str(cfg), "--samples", "2048", "--seed", "0", "--json"]
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)["rows"][0]["scaling_efficiency"]
    p = next(q for q in pub.load()["point"] if q["id"] == point_id)
    assert got == pytest.approx(pub._efficiency(p, int(p["gpus"]), pub.FEATURES), rel=1e-12)


def test_explain_unknown_or_unpredictable_ids(capsys):
    err = fails(["--explain", "dgx-1-alexnet"], capsys)
    assert "no record with id 'dgx-1-alexnet'; did you mean" in err
    assert "'tfbench-dgx-1-alexnet-b512-2gpu'" in err
    assert "lacks per_gpu_batch" in fails(["--explain", "powerai-ddl-resnet101-22k-256gpu"], capsys)


def test_efficiency_may_be_left_to_the_throughputs(tmp_path, capsys):
    # both throughputs given: the efficiency is theirs; neither: the error says what to give
    text = point("own", "ring", 0.9).replace("efficiency = 0.9\n", "throughput = 7000\n")
    path = write(tmp_path, text)
    (p,) = pub.load(path)["point"]
    assert p["efficiency"] == round(7000 / (64 * 129), 4)
    out = run_json(["--data", str(path)], capsys)
    assert out["points"][0]["measured"] == p["efficiency"]
    bare = write(tmp_path, point("own", "ring", 0.9).replace("efficiency = 0.9\n", ""), name="b")
    assert "efficiency is missing (give it, or both throughput" in fails(
        ["--data", str(bare)], capsys
    )


def test_points_without_a_profile_are_named(tmp_path, capsys):
    # resnet101's count is the profile's; an unknown model gets an even parameter count
    unknown = point("dense", "ring", 0.9).replace('model = "resnet101"', 'model = "densenet"')
    unknown = unknown.replace('compare_group = "mine-rn101"\n', "")
    path = write(tmp_path, point("rn101", "ring", 0.9), unknown)
    assert main(["validate", "--data", str(path), "--quiet"]) == 0
    note = [x for x in capsys.readouterr().out.splitlines() if "without a built-in" in x]
    assert len(note) == 1 and note[0].startswith("1 point(s)") and note[0].endswith(": dense")


def test_explain_says_how_one_machine_is_simulated(capsys):
    # one machine's GPUs are nodes of their own over the intra-node link; say so
    assert main(["validate", "--explain", "tfbench-aws-resnet50-b64-8gpu"]) == 0
    head = capsys.readouterr().out.splitlines()[:4]
    assert any(x.startswith("# one machine: each GPU is simulated as a node") for x in head)
    assert main(["validate", "--explain", "uber-blog-horovod-inception3-128gpu"]) == 0
    assert "# one machine" not in capsys.readouterr().out


def test_misspelt_fields_are_named_not_silently_dropped(tmp_path, capsys):
    # per_gpu_bach is no field: the point is not predicted and the typo is named
    typo = point("typo", "ring", 0.9).replace("per_gpu_batch", "per_gpu_bach")
    path = write(tmp_path, typo.replace('compare_group = "mine-rn101"\n', ""))
    assert main(["validate", "--data", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "typo: unknown field(s) per_gpu_bach ignored" in out
    assert "typo: not predicted, no per_gpu_batch" in out
    assert run_json(["--data", str(path)], capsys)["points"][0]["unknown_fields"] == [
        "per_gpu_bach"
    ]


MINIMAL = """
[[point]]
model = "ResNet-101"
scheme = "All-Reduce"
transport = "NCCL"
gpus = 64
gpus_per_node = 4
intra_bandwidth_gbps = 126.0
inter_bandwidth_gbps = 25.0
per_gpu_batch = 64
baseline_throughput = 129
efficiency = 0.9
"""


def test_a_record_may_leave_out_what_no_rule_reads(tmp_path, capsys):
    full = write(tmp_path, point("full", "ring", 0.9))
    assert main(["validate", "--data", str(full), "--json"]) == 0
    want = json.loads(capsys.readouterr().out)["points"][0]["predicted"]
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL)
    assert main(["validate", "--data", str(path), "--json"]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["points"][0]["id"] == "point-1"
    assert out["points"][0]["predicted"] == pytest.approx(want, rel=1e-12)
    assert out["filled_in"] == {
        "id": 1, "source": 1, "where": 1, "read_from": 1, "framework": 1, "gpu": 1,
        "nodes": 1, "parameters": 1, "baseline_gpus": 1, "precision": 1, "source table": 1,
    }  # fmt: skip
    assert cap.err.startswith("note: filled in, as records leave them out: id (1)")


def test_complete_fills_only_what_is_missing():
    from tinygrad_opt.cluster.published_data import complete

    data = {"point": [
        {"gpus": 16, "nodes": 2, "model": "vgg16", "baseline_gpus": 8, "precision": "fp16"},
        {"nodes": 4, "gpus_per_node": 8, "parameters": 1000},
        {"gpus": 12, "nodes": 5},  # 12 GPUs do not split over 5 machines: left to the check
    ]}  # fmt: skip
    filled = complete(data)
    a, b, c = data["point"]
    assert a["gpus_per_node"] == 8 and a["parameters"] == 138_357_544
    assert a["baseline_gpus"] == 8 and a["precision"] == "fp16"  # given: kept
    assert b["gpus"] == 32 and b["model"] == "1000 parameters" and b["baseline_gpus"] == 1
    assert "gpus_per_node" not in c and "parameters" not in c and "model" not in c
    assert filled["gpus_per_node"] == 1 and filled["gpus"] == 1 and filled["source"] == 3
    assert data["source"]["own"]["citation"] == "(not given)"


def test_the_shipped_data_gives_every_field():
    import copy

    from tinygrad_opt.cluster.published_data import complete

    assert complete(copy.deepcopy(pub.load())) == {}


def test_complete_reads_a_speedup_and_a_global_batch():
    from tinygrad_opt.cluster.published_data import complete

    data = {"point": [{"gpus": 32, "nodes": 4, "speedup": 28.8, "global_batch": 2048}]}
    filled = complete(data)
    (p,) = data["point"]
    assert p["efficiency"] == pytest.approx(0.9) and p["per_gpu_batch"] == 64
    assert filled["efficiency from speedup"] == 1 and filled["per_gpu_batch"] == 1
    # against a whole machine: the speed-up over 8 GPUs
    data = {"point": [{"gpus": 32, "nodes": 4, "baseline_gpus": 8, "speedup": 3.6}]}
    complete(data)
    assert data["point"][0]["efficiency"] == pytest.approx(0.9)


def test_a_global_batch_counts_the_accumulated_micro_batches():
    from tinygrad_opt.cluster.published_data import complete

    data = {"point": [{"gpus": 16, "nodes": 2, "global_batch": 4096, "grad_accumulation": 4}]}
    complete(data)
    assert data["point"][0]["per_gpu_batch"] == 64


def test_readings_are_printed_and_in_json(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(
        MINIMAL.replace('scheme = "All-Reduce"', 'scheme = "BytePS"\nps_placement = "colocated"')
        .replace("efficiency = 0.9", 'efficiency = 0.9\nprecision = "AMP"\nintra = "DGX-1"')
        .replace("intra_bandwidth_gbps = 126.0", "intra_bandwidth_gbps = 160.0")
    )
    assert main(["validate", "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "reading: local_aggregation assumed: BytePS and MXNet" in out
    assert "reading: precision 'amp' read as fp16 gradients" in out
    assert "reading: intra 'DGX-1' read as intra_topology 'nvlink_cube_mesh' (point-1)" in out
    assert main(["validate", "--data", str(path), "--json"]) == 0
    (point,) = json.loads(capsys.readouterr().out)["points"]
    assert any(line.startswith("tensor_placement 'even'") for line in point["readings"])


def test_one_machine_and_its_own_table_when_left_out():
    from tinygrad_opt.cluster.published_data import complete

    data = {"point": [{"gpus": 8}, {"gpus": 8, "inter_bandwidth_gbps": 100.0}]}
    complete(data)
    a, b = data["point"]
    assert (a["nodes"], a["gpus_per_node"]) == (1, 8)
    assert "nodes" not in b  # a network between machines: how many is not guessed
    assert (a["where"], b["where"]) == ("(not given: point-1)", "(not given: point-2)")


@pytest.mark.parametrize(
    ("edit", "message"),
    [(('scheme = "All-Reduce"', 'scheme = "gossip"'), "(also read: all-reduce, NCCL"),
     (('scheme = "All-Reduce"', 'scheme = "parameter server"'),
      "ps_placement is missing (scheme ps): host"),
     (("intra_bandwidth_gbps = 126.0", 'intra_bandwidth_gbps = 1200.0\nintra = "DGX-1"'),
      "intra_bandwidth_gbps 1200 is more than one NVLink")],
)  # fmt: skip
def test_what_a_new_user_gets_wrong_is_named(edit, message, tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL.replace(*edit))
    assert message in fails(["--data", str(path)], capsys)


def test_explain_gives_both_simulated_efficiencies(capsys):
    from tinygrad_opt.cluster import published

    p = next(q for q in pub.load()["point"] if q["id"] == "tfbench-gce-vgg16-b32-8gpu")
    assert main(["validate", "--explain", p["id"]]) == 0
    out = capsys.readouterr().out
    at_g, at_1 = published.simulated_efficiency(p, 8), published.simulated_efficiency(p, 1)
    assert f"simulated efficiency {100 * at_g:.1f}% at 8 GPUs" in out
    assert f"and {100 * at_1:.1f}% at 1" in out
    assert published.predict(p) == pytest.approx(at_g / at_1, rel=1e-12)
