"""How a record's enumerated fields are read: precision, transport and intra-node topology
(docs/validation-data.md, "How the fields are used")."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import published as pub
from tinygrad_opt.cluster.published_data import PRECISIONS, TRANSPORTS

DATA = pub.load()
EXACT = ("model", "local_aggregation", "transport", "topology", "host_memory")
"""Every feature but the compute-time spread: deterministic, exact predictions."""


def _point(**kw):
    p = {
        "id": "synthetic", "source": "tfbench", "scheme": "ring", "gpus": 8, "nodes": 1,
        "gpus_per_node": 8, "parameters": 100_000_000, "per_gpu_batch": 32,
        "baseline_gpus": 1, "baseline_throughput": 100.0, "intra_bandwidth_gbps": 126.0,
        "precision": "fp32", "transport": "nccl",
    }  # fmt: skip
    p.update(kw)
    return p


def _refused(field: str, value, match: str) -> None:
    bad = copy.deepcopy(DATA)
    bad["point"][0][field] = value
    with pytest.raises(ValueError, match=match):
        pub.check_data(bad)


@pytest.mark.parametrize("name", ["fp16", "FP16", "bf16", "Mixed", "amp", " half "])
def test_half_precision_names_send_two_bytes_per_gradient(name):
    assert pub.gradient_bytes(_point(precision=name)) == 2
    assert pub.simulator_inputs(_point(precision=name))[1].bytes_per_param == 2


@pytest.mark.parametrize("name", ["fp32", "FP32", "tf32", "float32"])
def test_single_precision_names_send_four_bytes(name):
    assert pub.simulator_inputs(_point(precision=name))[1].bytes_per_param == 4


def test_half_the_gradient_bytes_is_never_slower():
    # the same record with fp16 gradients moves half the bytes: it scales at least as well
    p = _point(intra_bandwidth_gbps=10.0)
    assert pub.predict({**p, "precision": "fp16"}, EXACT) > pub.predict(p, EXACT)


def test_unknown_precision_and_transport_are_refused_naming_them():
    _refused("precision", "int4", r"precision 'int4' is not one of \('fp32'")
    _refused("transport", "ncll", r"transport 'ncll' is not one of \('nccl'")


def test_every_named_precision_and_transport_passes_the_check():
    for precision in PRECISIONS:
        for transport in TRANSPORTS:
            ok = copy.deepcopy(DATA)
            ok["point"][0].update(precision=precision.upper(), transport=transport.upper())
            pub.check_data(ok)


def test_transports_map_to_profiles_in_any_case():
    assert pub.transport_profile(_point(transport="NCCL")) == "nccl"
    assert pub.transport_profile(_point(transport="mpi_gpudirect")) == "mpi_gpudirect"
    for bare in ("cuda-copy", "poseidon", "byteps"):
        assert pub.transport_profile(_point(transport=bare)) is None
    c = pub.simulator_inputs(_point(transport="Gloo"))[0]
    assert c.transport.name == "gloo"
    # gRPC's 74% of the link and per-message overhead: slower than the bare link
    p = _point(intra_bandwidth_gbps=10.0, scheme="ps", ps_placement="colocated", ps_servers=8)
    assert pub.predict({**p, "transport": "grpc"}, EXACT) < pub.predict(
        {**p, "transport": "cuda-copy"}, EXACT
    )


def test_nvswitch_is_read_from_the_words_and_equals_one_link_per_gpu():
    # NVSwitch: every GPU at its full bandwidth to any other, the same closed forms as
    # one link per GPU
    words = _point(intra="NVSwitch, NVLink 2.0 (DGX-2)", gpus=16, gpus_per_node=16)
    assert pub.topology_name(words) == "nvswitch"
    c = pub.simulator_inputs(words)[0]
    assert c.intra_topology.name == "nvswitch"
    plain = {**words, "intra_topology": "link"}
    assert pub.intra_topology(plain) is None
    assert pub.predict(words, EXACT) == pytest.approx(pub.predict(plain, EXACT), rel=1e-9)


def test_pcie_tree_records_share_each_switch_uplink_with_a_host_server():
    # a server in host memory: the GPUs behind one switch share its uplink, so more GPUs
    # per switch is slower; one per switch is one link each
    p = _point(scheme="ps", ps_placement="host", intra_bandwidth_gbps=63.0,
               intra_topology="pcie_tree")  # fmt: skip
    assert pub.host_topology(p) == {"name": "pcie_tree", "devices_per_switch": 2}
    by_switch = [pub.predict({**p, "devices_per_switch": d}, EXACT) for d in (1, 2, 4, 8)]
    assert by_switch == sorted(by_switch, reverse=True) and by_switch[0] > by_switch[-1]
    link = {**p, "intra_topology": "link"}
    assert by_switch[0] == pytest.approx(pub.predict(link, EXACT), rel=1e-9)
    # an all-reduce runs on the tree (its ring is held to the shared uplink)
    ring = {**p, "scheme": "ring", "devices_per_switch": 4}
    assert pub.simulator_inputs(ring)[0].intra_topology.devices_per_switch == 4
    _refused("devices_per_switch", 0, "devices_per_switch must be a positive number")


@settings(max_examples=25, deadline=None)
@given(
    topology=st.sampled_from(["link", "nvswitch", "pcie_tree", "nvlink_cube_mesh"]),
    gpus=st.sampled_from([2, 4, 8]),
    gbit=st.floats(10.0, 400.0),
)
def test_every_record_topology_predicts_an_efficiency_in_range(topology, gpus, gbit):
    if topology == "nvlink_cube_mesh":  # one NVLink: at most 200 Gbit/s (refused above)
        gbit /= 4
    p = _point(intra_topology=topology, gpus=gpus, gpus_per_node=gpus, intra_bandwidth_gbps=gbit)
    e = pub.predict(p, EXACT)
    assert 0 < e <= 1 + 1e-12
    # more bandwidth never lowers the prediction
    assert pub.predict({**p, "intra_bandwidth_gbps": 2 * gbit}, EXACT) >= e - 1e-12


def test_ps_servers_default_to_one_per_machine():
    # not given: one shard per machine across machines, one per GPU on one machine
    multi = _point(scheme="ps", ps_placement="colocated", gpus=32, nodes=4, gpus_per_node=8,
                   inter_bandwidth_gbps=25.0)  # fmt: skip
    assert pub.simulator_inputs(multi)[2].ps_shards == 4
    assert pub.simulator_inputs({**multi, "ps_servers": 2})[2].ps_shards == 2
    one = _point(scheme="ps", ps_placement="colocated")
    assert pub.simulator_inputs(one)[2].ps_shards == 8
    assert pub.simulator_inputs(one, gpus=1)[2].ps_shards == 1


def test_parameter_servers_hold_tensors_as_the_software_does():
    # TensorFlow: whole tensors round-robin; MXNet across machines: arrays of 10^6
    # elements or more cut over every server, on one machine whole arrays on the least
    # loaded GPU, largest first; BytePS: even shares; the field overrides the words
    p = _point(scheme="ps", ps_placement="colocated", ps_servers=8, model="vgg16",
               parameters=138_357_544, intra_bandwidth_gbps=10.0,
               framework="TensorFlow")  # fmt: skip
    mxnet = {**p, "framework": "MXNet 1.1, kvstore dist_device_sync", "gpus": 16, "nodes": 2,
             "inter_bandwidth_gbps": 10.0, "local_aggregation": True, "ps_servers": 2,
             "intra_bandwidth_gbps": 126.0, "baseline_throughput": 50.0}  # fmt: skip
    tf = {**mxnet, "framework": "TensorFlow"}
    assert pub.tensor_placement(p) == "round_robin"
    assert pub.tensor_placement(mxnet) == "split"
    assert pub.tensor_placement(mxnet, nodes=1) == "greedy"
    assert pub.tensor_placement({**p, "framework": "MXNet, kvstore device"}) == "greedy"
    assert pub.tensor_placement({**p, "transport": "BytePS"}) == "even"
    assert pub.tensor_placement({**mxnet, "tensor_placement": "greedy"}) == "greedy"
    assert pub.simulator_inputs(mxnet)[2].tensor_placement == "split"
    device = {**mxnet, "local_aggregation": False}  # one machine: the device KVStore
    assert pub.simulator_inputs(device, gpus=8)[2].tensor_placement == "greedy"
    # VGG-16's fc6 (103 M of 138 M parameters) whole on one server is the hot shard;
    # split over both it is not: MXNet scales better on the same machines
    assert pub.predict(mxnet, EXACT) > pub.predict(tf, EXACT) + 0.1
    _refused("tensor_placement", "hash", "tensor_placement 'hash' not in")


@pytest.mark.parametrize(
    ("model", "parameters", "profile"),
    [
        ("ResNet-50 v1.5", 25_557_032, "resnet50"),
        ("VGG-16", 138_000_000, "vgg16"),
        ("BERT-Large", 340_000_000, "bert_large"),  # the paper's rounded count
        ("Inception v3", 23_851_784, "inception_v3_noaux"),  # Keras, no auxiliary head
        ("inception3", 27_200_000, "inception_v3"),  # with it
        ("AlexNet", 61_100_840, "alexnet"),
        ("alexnet", 50_844_008, "alexnet_mxnet"),  # MXNet's example symbol: 203 MB
        ("resnet101", 87_410_385, None),  # a 21,841-class head: another model
        ("densenet121", 8_000_000, None),  # no profile
    ],
)
def test_record_model_names_find_their_profile(model, parameters, profile):
    assert pub.model_profile(_point(model=model, parameters=parameters)) == profile


def test_local_aggregation_runs_on_the_machines_topology():
    # a parameter server's own traffic keeps one link per GPU; the reduce-scatter and
    # all-gather of local aggregation are collectives on the machine's interconnect
    p = _point(scheme="ps", ps_placement="colocated", ps_servers=4, gpus=32, nodes=4,
               gpus_per_node=8, intra="NVLink 2.0 hybrid cube-mesh", intra_bandwidth_gbps=200.0,
               inter_bandwidth_gbps=100.0)  # fmt: skip
    assert pub.intra_topology(p) is None
    agg = {**p, "local_aggregation": True}
    assert pub.intra_topology(agg)["name"] == "nvlink_cube_mesh"
    c, _, s = pub.simulator_inputs(agg)
    assert s.name == "ps" and c.intra_topology.name == "nvlink_cube_mesh"
    # on one machine it stays a parameter server (in host memory), not a ring
    one = {**agg, "gpus": 8, "nodes": 1}
    assert pub.simulator_inputs(one)[2].name == "ps"
    # six NVLink rings sum the machine's gradients faster than one link
    assert pub.predict(agg, EXACT) > pub.predict({**agg, "intra_topology": "link"}, EXACT)


# ---------------------------------------------------------------- other spellings of choices
@pytest.mark.parametrize(
    ("written", "scheme"),
    [("Ring", "ring"), ("all-reduce", "ring"), ("AllReduce", "ring"), ("NCCL", "ring"),
     ("horovod", "ring"), ("DDP", "ring"), ("parameter_server", "ps"),
     ("Parameter Server", "ps"), ("PS", "ps"), ("Hierarchical all-reduce", "hierarchical"),
     ("halving-doubling", "halving_doubling"), ("Rabenseifner", "halving_doubling")],
)  # fmt: skip
def test_scheme_names_are_read_in_any_spelling(written, scheme):
    assert pub.canonical({"scheme": written})["scheme"] == scheme
    extra = {"ps_placement": "colocated", "ps_servers": 1} if scheme == "ps" else {}
    assert pub.predict(_point(scheme=written, **extra), EXACT) == pytest.approx(
        pub.predict(_point(scheme=scheme, **extra), EXACT), rel=1e-12
    )


@pytest.mark.parametrize(
    ("written", "bucket"),
    [("1.3", "1"), ("2.0.5", "2"), ("2.3", "2"), ("2.4", "2.4"), ("2.7.8", "2.4"),
     ("2.18", "2.4"), (2, "2"), ("v2.10.3", "2.4"), ("3", "2.4")],
)  # fmt: skip
def test_nccl_release_numbers_fall_in_their_generation(written, bucket):
    assert pub.canonical({"nccl_version": written})["nccl_version"] == bucket


def test_nccl_2_4_and_later_releases_choose_trees_across_machines():
    p = _point(gpus=64, nodes=8, inter_bandwidth_gbps=100.0)
    trees = pub.simulator_inputs({**p, "nccl_version": "2.7.8"})[2]
    assert trees.name == "nccl"
    assert pub.simulator_inputs({**p, "nccl_version": "2.3.7"})[2].name == "ring"


@pytest.mark.parametrize(
    ("field", "written", "value"),
    [("ps_placement", "CPU", "host"), ("ps_placement", "host memory", "host"),
     ("ps_placement", "GPU", "colocated"), ("ps_placement", "Dedicated", "dedicated"),
     ("tensor_placement", "Round-Robin", "round_robin"), ("tensor_placement", "GREEDY", "greedy"),
     ("intra_topology", "NVLink hybrid cube-mesh", "nvlink_cube_mesh"),
     ("intra_topology", "NVSwitch", "nvswitch"), ("intra_topology", "PCIe tree", "pcie_tree"),
     ("read_from", "Table", "table"), ("precision", " FP16 ", "fp16"),
     ("transport", "NCCL", "nccl")],
)  # fmt: skip
def test_named_choices_are_read_in_any_spelling(field, written, value):
    assert pub.canonical({field: written})[field] == value


def test_load_reads_other_spellings_and_check_data_accepts_them(tmp_path):
    text = (pub.DATA.read_text().replace('scheme = "ring"', 'scheme = "All-Reduce"')
            .replace('ps_placement = "host"', 'ps_placement = "CPU"'))  # fmt: skip
    path = tmp_path / "spelled.toml"
    path.write_text(text)
    data = pub.load(path)
    pub.check_data(data)
    assert [p["scheme"] for p in data["point"]] == [p["scheme"] for p in DATA["point"]]
    assert [p.get("ps_placement") for p in data["point"]] == [
        p.get("ps_placement") for p in DATA["point"]
    ]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("scheme", "gossip", r"scheme 'gossip' is not one of"),
     ("nccl_version", "two", r"nccl_version 'two' not in"),
     ("intra_topology", "torus", r"intra_topology 'torus' not in")],
)  # fmt: skip
def test_unknown_choices_are_still_refused_naming_them(field, value, match):
    _refused(field, value, match)


# ---------------------------------------------------------------- sharded records, accumulation
def _sharded(**kw):
    return _point(gpus=64, nodes=8, inter_bandwidth_gbps=100.0, intra_bandwidth_gbps=1200.0,
                  nccl_version="2.18", **kw)  # fmt: skip


@pytest.mark.parametrize(
    ("written", "stage"),
    [(0, 0), (2, 2), ("ZeRO-1", 1), ("zero_2", 2), ("Stage 3", 3), ("3", 3), ("FSDP", 3),
     ("FULL_SHARD", 3), ("SHARD_GRAD_OP", 2), ("NO_SHARD", 0)],
)  # fmt: skip
def test_zero_stage_names(written, stage):
    assert pub.canonical({"zero_stage": written})["zero_stage"] == stage


def test_sharded_records_run_nccl_rings_and_pay_their_all_gather():
    plain = _sharded()
    assert pub.simulator_inputs(plain)[2].name == "nccl"  # ring or trees per message
    effs = []
    for stage in (1, 2, 3):
        s = pub.simulator_inputs({**plain, "zero_stage": stage})[2]
        assert (s.name, s.zero_stage) == ("ring", stage)  # reduce-scatter/all-gather: rings
        effs.append(pub.predict({**plain, "zero_stage": stage}, EXACT))
    ring = pub.predict({**plain, "nccl_version": "2.3"}, EXACT)
    # stages 1-2 all-gather the updated parameters after the step; 3 also before backward
    assert effs[2] < effs[0] <= ring and effs[0] == pytest.approx(effs[1], rel=1e-12)


def test_zero_stage_is_refused_where_it_cannot_be():
    _refused("zero_stage", 4, r"zero_stage 4 not in \(0, 1, 2, 3\)")
    _refused("zero_stage", "ZeRO-Infinity", r"zero_stage 'ZeRO-Infinity' not in")
    bad = copy.deepcopy(DATA)
    ps = next(p for p in bad["point"] if p["scheme"] == "ps")
    ps["zero_stage"] = 2
    with pytest.raises(ValueError, match=r"zero_stage 2 shards over .* not 'ps'"):
        pub.check_data(bad)


def test_gradient_accumulation_amortises_the_exchange():
    p = _point(intra_bandwidth_gbps=20.0)
    effs = [pub.predict({**p, "grad_accumulation": k}, EXACT) for k in (1, 2, 8)]
    assert effs[0] < effs[1] < effs[2] < 1.0
    assert pub.simulator_inputs({**p, "grad_accumulation": 8})[1].grad_accumulation == 8
    _refused("grad_accumulation", 0, r"grad_accumulation must be a positive number")


@pytest.mark.parametrize("intra", ["DGX-1", "NVLink 2.0 hybrid cube-mesh"])
def test_a_cube_mesh_takes_one_nvlink_and_refuses_a_gpu_total(intra):
    p = _point(intra=intra, gpu="V100", intra_bandwidth_gbps=1200.0)
    with pytest.raises(ValueError, match=r"1200 is more than one NVLink .* 200 for V100"):
        pub.predict(p, EXACT)
    assert 0 < pub.predict({**p, "intra_bandwidth_gbps": 200.0}, EXACT) <= 1


# ---------------------------------------------------------------- what the software implies
def _multi_ps(**kw):
    fields = {"scheme": "ps", "ps_placement": "colocated", "gpus": 64, "nodes": 8,
              "gpus_per_node": 8, "inter_bandwidth_gbps": 25.0}  # fmt: skip
    return _point(**{**fields, **kw})


@pytest.mark.parametrize(
    ("software", "summed"),
    [({"transport": "byteps"}, True), ({"framework": "BytePS 0.2 + PyTorch"}, True),
     ({"framework": "MXNet 1.5, dist_sync_device"}, True), ({"framework": "TensorFlow"}, False)],
)  # fmt: skip
def test_byteps_and_mxnet_sum_a_machine_first_unless_the_record_says(software, summed):
    p = _multi_ps(**software)
    assert pub.local_aggregation(p) is summed
    assert pub.simulator_inputs(p)[0].local_aggregation is summed
    assert pub.local_aggregation({**p, "local_aggregation": not summed}) is (not summed)
    assert not pub.local_aggregation({**p, "nodes": 1, "gpus": 8})  # one machine: no
    if summed:  # one push per machine instead of eight: a better prediction, and said so
        assert pub.predict(p, EXACT) > pub.predict({**p, "local_aggregation": False}, EXACT)
        assert any("local_aggregation assumed" in line for line in pub.readings(p))


@pytest.mark.parametrize(
    ("words", "topology"),
    [("DGX-1", "nvlink_cube_mesh"), ("NVLink (DGX-1V)", "nvlink_cube_mesh"),
     ("hybrid cube mesh", "nvlink_cube_mesh"), ("AWS p3.16xlarge", "nvlink_cube_mesh"),
     ("Big Basin", "nvlink_cube_mesh"), ("DGX A100", "nvswitch"), ("DGX-2H", "nvswitch"),
     ("HGX H100 8-GPU", "nvswitch"), ("PCIe switches, 2 GPUs each", "pcie_tree"),
     ("PCIe 3.0 tree", "pcie_tree"), ("PLX bridge", "pcie_tree"), ("NVLink", "link"),
     ("PCIe 3.0 x16 per K80 board, shared by its two dies", "link"), ("DGX-100", "link")],
)  # fmt: skip
def test_topology_words(words, topology):
    assert pub.topology_name({"intra": words}) == topology


def test_throughputs_in_tokens_per_second_are_divided_by_the_sequence_length():
    from tinygrad_opt.cluster.published_names import canonical

    q = canonical({"throughput_unit": "tokens/s", "sequence_length": 1024,
                   "baseline_throughput": 153_600, "throughput": 1_105_920})  # fmt: skip
    assert (q["baseline_throughput"], q["throughput"]) == (150.0, 1080.0)
    assert canonical(q) == q  # read once
    p = _point(per_gpu_batch=12, baseline_throughput=153_600.0)
    tokens = {**p, "throughput_unit": "tokens/s", "sequence_length": 1024}
    assert pub.compute_time(canonical(tokens)) == pytest.approx(12 / 150)
    assert any("is baseline_throughput in samples/s" in line for line in pub.readings(p))
    assert not any("samples/s" in line for line in pub.readings(tokens))
    _refused("throughput_unit", "tokens/s", r"throughput_unit 'tokens/s' needs sequence_length")
    _refused("throughput_unit", "images/min", r"throughput_unit 'images/min' not in")


def test_other_field_names_and_the_amp_note():
    from tinygrad_opt.cluster.published_names import canonical

    q = canonical({"gradient_accumulation_steps": 4, "seq_len": 512})
    assert q == {"grad_accumulation": 4, "sequence_length": 512}
    assert canonical({"gradient_accumulation_steps": 4, "grad_accumulation": 2}) == {
        "grad_accumulation": 2, "gradient_accumulation_steps": 4}  # fmt: skip
    assert any("write fp32 for torch.cuda.amp" in line
               for line in pub.readings(_point(precision="AMP")))  # fmt: skip
    assert pub.readings(_point(precision="fp16")) == []


def test_one_gpu_per_machine_needs_no_intra_link_and_one_gpu_is_one():
    p = _point(gpus=16, nodes=16, gpus_per_node=1, inter_bandwidth_gbps=10.0)
    del p["intra_bandwidth_gbps"]
    assert pub.missing_inputs(p) == [] and 0 < pub.predict(p, EXACT) < 1
    one = {**_point(gpus=1, gpus_per_node=1), "baseline_gpus": 1}
    del one["intra_bandwidth_gbps"], one["baseline_throughput"]
    assert pub.missing_inputs(one) == [] and pub.predict(one) == 1.0


def test_a_host_server_across_machines_is_colocated_at_every_gpu_count():
    host = _multi_ps(ps_placement="host")
    assert pub.predict(host, EXACT) == pub.predict(_multi_ps(), EXACT)
    assert any("simulated as colocated" in line for line in pub.readings(host))


def test_bucket_size_and_summation_service_reach_the_simulator():
    p = _point(intra_bandwidth_gbps=20.0)
    assert pub.simulator_inputs(p)[2].bucket_bytes == 25 * 2**20
    assert pub.simulator_inputs({**p, "bucket_cap_mb": 64})[2].bucket_bytes == 64 * 2**20
    byteps = _multi_ps(ps_placement="dedicated", transport="byteps")
    assert not pub.simulator_inputs(byteps)[0].summation_service
    assert pub.simulator_inputs({**byteps, "summation_service": True})[0].summation_service
    bad = copy.deepcopy(DATA)
    bad["point"][0].update(scheme="ps", ps_placement="colocated", summation_service=True)
    with pytest.raises(ValueError, match="summation_service needs ps_placement = 'dedicated'"):
        pub.check_data(bad)


# ---------------------------------------------------------------- second red-team pass
@pytest.mark.parametrize(
    ("record", "expect"),
    [({"scheme": "FSDP"}, {"scheme": "ring", "zero_stage": 3}),
     ({"scheme": "ZeRO-2"}, {"scheme": "ring", "zero_stage": 2}),
     ({"scheme": "ring", "sharding_strategy": "FULL_SHARD"}, {"zero_stage": 3}),
     ({"scheme": "ring", "backend": "Gloo"}, {"transport": "gloo"}),
     ({"variable_update": "replicated"}, {"scheme": "ring"}),
     ({"variable_update": "distributed_replicated"},
      {"scheme": "ps", "local_aggregation": True}),
     ({"variable_update": "parameter_server"}, {"scheme": "ps"}),
     ({"variable_update": "parameter_server", "local_parameter_device": "cpu"},
      {"scheme": "ps", "ps_placement": "host"})],
)  # fmt: skip
def test_framework_words_become_the_fields_they_mean(record, expect):
    q = pub.canonical(record)
    assert {k: q[k] for k in expect} == expect


def test_a_missing_transport_is_nccl_for_all_reduce_and_said():
    p = _point()
    del p["transport"]
    assert pub.transport(p) == "nccl" and pub.transport_profile(p) == "nccl"
    assert pub.predict(p, EXACT) == pub.predict(_point(), EXACT)
    assert "transport not given: 'nccl'" in pub.readings(p)
    ps = _multi_ps()
    del ps["transport"]
    assert pub.transport(ps) == "cuda-copy" and pub.transport_profile(ps) is None


def test_nvlink_without_a_machine_is_said_and_cube_mesh_links_follow_the_gpu():
    p = _point(intra="NVLink (ABCI compute node)", intra_bandwidth_gbps=200.0)
    assert pub.topology_name(p) == "link"
    assert any("names NVLink but no machine" in line for line in pub.readings(p))
    assert pub.cube_mesh_links({"intra": "NVLink hybrid cube-mesh (DGX-1V)"}) == 6
    assert pub.cube_mesh_links({"intra": "DGX-1", "gpu": "Tesla P100-SXM2"}) == 4
    assert pub.cube_mesh_links({"intra": "cube-mesh", "gpu": "Tesla V100-SXM2"}) == 6
    assert pub.topology_name({"intra": "NVLink, p3dn-like"}) == "nvlink_cube_mesh"


def test_the_topology_reading_names_what_is_simulated():
    host = _point(scheme="ps", ps_placement="host", intra="DGX-1", transport="cuda-copy")
    lines = pub.readings(host)
    assert not any("read as intra_topology" in line for line in lines)
    assert any("reached over PCIe switches shared by two GPUs" in line for line in lines)
    ring = _point(intra="DGX-1", intra_bandwidth_gbps=200.0)
    assert any("read as intra_topology 'nvlink_cube_mesh'" in line for line in pub.readings(ring))


def test_a_percentage_efficiency_gets_a_hint():
    _refused("efficiency", 92, r"got 92 \(a fraction: 0.92 for 92%\)")
