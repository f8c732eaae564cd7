"""Intra-node topologies (tinygrad_opt.cluster.topology): closed forms typed by hand."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cluster.collectives import (
    hierarchical_allreduce_time,
    intra_ring_allreduce_time,
    ring_allreduce_time,
)
from tinygrad_opt.cluster.communication import communication_cost, host_bandwidth
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.topology import (
    CROSS_SOCKET_PEER,
    IntraTopology,
    cube_mesh_links,
    cube_mesh_rings,
)
from tinygrad_opt.cluster.validation import SpecError

A = 5e-6  # intra-node latency
M = 100e6  # message bytes
SCHEMES = ("ring", "tree", "halving_doubling", "hierarchical")


def node(d, topo, nodes=1, **kw):
    return ClusterSpec(
        nodes=nodes,
        devices_per_node=d,
        bandwidth="10GB/s",
        latency=A,
        intra_latency=A,
        intra_topology=topo,
        **kw,
    )


def comm(c, scheme="ring", m=M):
    return communication_cost(c, scheme, m).time_s


# ------------------------------------------------------------------ defaults and errors
def test_defaults_are_the_cited_link_speeds():
    assert node(8, "nvswitch").intra_bandwidth == 150e9  # 6 NVLink-2 × 25 GB/s
    assert node(8, "nvlink_cube_mesh").intra_bandwidth == 25e9  # one NVLink-2
    assert node(8, {"name": "nvlink_cube_mesh", "links_per_gpu": 4}).intra_bandwidth == 20e9
    assert node(8, "pcie_tree").intra_bandwidth == 15.75e9  # PCIe 3.0 x16
    with pytest.raises(SpecError, match="intra_bandwidth"):
        node(8, "link")  # no default for a bare link


@pytest.mark.parametrize(
    "topo, match",
    [
        ("torus", "intra_topology"),
        ({"name": "nvlink_cube_mesh", "links_per_gpu": 5}, "links_per_gpu"),
        ({"name": "pcie_tree", "devices_per_switch": 0}, "devices_per_switch"),
        ({"name": "pcie_tree", "uplinks": 2}, "uplinks"),
        ({"name": "nvlink_cube_mesh", "rings": "best"}, "rings"),
    ],
)
def test_bad_topology_names_the_field(topo, match):
    with pytest.raises(SpecError, match=match):
        node(4, topo)


def test_cube_mesh_has_eight_gpus():
    with pytest.raises(SpecError, match="devices_per_node"):
        node(16, "nvlink_cube_mesh")


def test_to_dict_round_trip_and_json():
    c = node(8, {"name": "pcie_tree", "devices_per_switch": 4, "uplink_bandwidth": "8GB/s"})
    again = ClusterSpec.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    assert again.intra_topology == IntraTopology("pcie_tree", 4, 8e9)


# ------------------------------------------------------------------ the cube-mesh rings
def test_cube_mesh_links_per_gpu():
    for lp in (4, 6):
        links = cube_mesh_links(lp)
        assert (links == links.T).all() and (links.sum(axis=1) == lp).all()


# witnesses (found once by search, checked here): link-disjoint directed 8-GPU rings
WITNESS = {
    4: [(0, 1, 2, 3, 7, 5, 6, 4), (0, 2, 6, 7, 4, 5, 1, 3), (0, 3, 1, 5, 4, 7, 6, 2),
        (0, 4, 6, 5, 7, 3, 2, 1)],
    6: [(0, 1, 2, 3, 7, 5, 6, 4), (0, 2, 6, 7, 4, 5, 1, 3), (0, 3, 1, 5, 4, 7, 6, 2),
        (0, 3, 2, 1, 5, 6, 7, 4), (0, 4, 6, 5, 7, 3, 2, 1), (0, 4, 7, 6, 5, 1, 2, 3)],
}  # fmt: skip


@pytest.mark.parametrize("lp", [4, 6])
def test_eight_gpu_rings_use_every_link(lp):
    links = cube_mesh_links(lp).copy()
    for ring in WITNESS[lp]:
        assert sorted(ring) == list(range(8))
        for a, b in zip(ring, ring[1:] + ring[:1]):
            links[a, b] -= 1  # one direction of one link per hop
    assert (links >= 0).all()
    # a GPU sends on at most its lp links: lp rings is the most, and it is reached
    assert cube_mesh_rings(lp, 8) == len(WITNESS[lp]) == lp


def test_four_gpu_rings():
    # P100 quad = K4 with single links: the 3 out-links of a GPU cannot carry 3 rings (the
    # complete symmetric digraph on 4 vertices has no Hamiltonian decomposition,
    # Bermond & Faber 1976), so 2: 0→1→2→3→0 and its reverse.
    assert cube_mesh_rings(4, 4) == 2
    # V100 quad: GPU 0 has 1 + 1 + 2 = 4 links in it; 0→3→2→1→0, 0→1→2→3→0, 0→3→1→2→0,
    # 0→2→1→3→0 use each link once per direction (the doubled 0-3, 1-2, 2-3 twice)
    assert cube_mesh_rings(6, 4) == 4
    assert cube_mesh_rings(4, 5) == cube_mesh_rings(6, 5) == 0  # GPU 4's only link is to 0
    assert cube_mesh_rings(6, 2) == 1


@pytest.mark.parametrize("lp, b, r4, r8", [(4, 20e9, 2, 4), (6, 25e9, 4, 6)])
def test_cube_mesh_ring_closed_form(lp, b, r4, r8):
    topo = {"name": "nvlink_cube_mesh", "links_per_gpu": lp}
    t4 = 2 * 3 * A + 2 * 3 / 4 * M / (r4 * b)
    t8 = 2 * 7 * A + 2 * 7 / 8 * M / (r8 * b)
    assert comm(node(4, topo)) == pytest.approx(t4, rel=1e-12)
    assert comm(node(8, topo)) == pytest.approx(t8, rel=1e-12)
    c8 = node(8, topo)
    assert intra_ring_allreduce_time(M, 8, b, A, c8.intra_topology) == pytest.approx(t8)
    # the DGX-1 ordering in this model: the 8-GPU ring packs more rings (every link busy)
    # than the 4-GPU one, so it is faster per byte, not slower
    assert t8 - 14 * A < t4 - 6 * A


@pytest.mark.parametrize("lp, b", [(4, 20e9), (6, 25e9)])
def test_nccl1_device_order_ring_closed_form(lp, b):
    # NCCL 1.x: one ring 0 → 1 → … → d−1 → 0 at its slowest hop. P100: every hop of the
    # 4-GPU quad is one NVLink; 3 → 4 and 7 → 0 have none (across the CPU sockets, at the
    # measured peer bandwidth).
    # V100: 0 → 1 is one link (1 → 2, 2 → 3, 3 → 0 are two), 3 → 4 and 7 → 0 again none.
    topo = {"name": "nvlink_cube_mesh", "links_per_gpu": lp, "rings": "device_order"}
    t2 = 2 * A + M / b  # 0 ↔ 1: one NVLink on both
    t4 = 2 * 3 * A + 2 * 3 / 4 * M / b
    t8 = 2 * 7 * A + 2 * 7 / 8 * M / CROSS_SOCKET_PEER
    assert comm(node(2, topo)) == pytest.approx(t2, rel=1e-12)
    assert comm(node(4, topo)) == pytest.approx(t4, rel=1e-12)
    assert comm(node(8, topo)) == pytest.approx(t8, rel=1e-12)
    # the DGX-1 ordering under NCCL 1.x: the 8-GPU ring is slower per byte than the 4-GPU
    assert (t8 - 14 * A) / (7 / 8) > (t4 - 6 * A) / (3 / 4)
    # NCCL 2's disjoint rings are never slower than the one ring
    disjoint = {**topo, "rings": "disjoint"}
    for d in (2, 4, 8):
        assert comm(node(d, disjoint)) <= comm(node(d, topo)) * (1 + 1e-12)


def test_cube_mesh_without_nvlink_ring_falls_back_to_pcie():
    t = 2 * 4 * A + 2 * 4 / 5 * M / CROSS_SOCKET_PEER
    assert comm(node(5, "nvlink_cube_mesh")) == pytest.approx(t, rel=1e-12)
    # the pairs without NVLink take peer_bandwidth; the host path keeps pcie_bandwidth
    topo = {"name": "nvlink_cube_mesh", "peer_bandwidth": "3GB/s", "pcie_bandwidth": "9GB/s"}
    assert comm(node(5, topo)) == pytest.approx(2 * 4 * A + 2 * 4 / 5 * M / 3e9, rel=1e-12)
    assert host_bandwidth(node(8, topo)) == 9e9 / 2  # two GPUs per PCIe switch uplink
    assert CROSS_SOCKET_PEER == pytest.approx(14.25e9 / 2, rel=0.02)  # half the bidirectional


def test_cube_mesh_tree_closed_form():
    b = 25e9  # V100: steps 1→0 (1 link), 2→0 (1), 4→0 (2 links)
    reduce = 3 * A + M / b + M / b + M / (2 * b)
    assert comm(node(8, "nvlink_cube_mesh"), "tree") == pytest.approx(2 * reduce, rel=1e-12)
    p100 = {"name": "nvlink_cube_mesh", "links_per_gpu": 4}
    assert comm(node(8, p100), "tree") == pytest.approx(2 * (3 * A + 3 * M / 20e9), rel=1e-12)


def test_hierarchical_on_cube_mesh():
    # inside a node the reduce-scatter and all-gather run on the cube-mesh's 6 disjoint
    # NVLink-2 rings (150 GB/s): 2 × 7 steps of M/8; across the 4 nodes one ring
    c = node(8, "nvlink_cube_mesh", nodes=4)
    b = 25e9
    intra = 2 * 7 * (A + M / 8 / (6 * b))
    ring = 2 * 3 * A + 2 * 3 / 4 * M / 10e9
    assert comm(c, "hierarchical") == pytest.approx(intra + ring, rel=1e-12)
    closed = hierarchical_allreduce_time(M, 4, 8, b, A, 10e9, A, None, c.intra_topology)
    assert closed == pytest.approx(intra + ring, rel=1e-12)


# ------------------------------------------------------------------ PCIe tree
def test_pcie_ring_crossing_switches_is_held_to_the_uplink():
    topo = {"name": "pcie_tree", "devices_per_switch": 2, "uplink_bandwidth": "5GB/s"}
    assert comm(node(8, topo)) == pytest.approx(14 * A + 1.75 * M / 5e9, rel=1e-12)
    # inside one switch the uplink is not used
    assert comm(node(2, topo)) == pytest.approx(2 * A + M / 15.75e9, rel=1e-12)


def test_pcie_halving_doubling_shares_the_uplink():
    b, u = 15.75e9, 12e9
    topo = {"name": "pcie_tree", "devices_per_switch": 2, "uplink_bandwidth": u}
    # distance 1 inside a switch; distances 2 and 4: both GPUs of a switch send across
    # its uplink at once, u/2 each
    half = 3 * A + (M / 2) / b + (M / 4) / (u / 2) + (M / 8) / (u / 2)
    assert comm(node(8, topo), "halving_doubling") == pytest.approx(2 * half, rel=1e-12)


def test_pcie_tree_over_several_nodes_counts_flows_per_node():
    topo = {"name": "pcie_tree", "devices_per_switch": 2, "uplink_bandwidth": "4GB/s"}
    # flat binomial tree over 2 nodes × 4: 1→0 (in a switch), then 2→0 and 6→4 (each
    # across its own node's uplink: one flow each), then 4→0 over the NICs (10 GB/s)
    reduce = 3 * A + M / 15.75e9 + M / 4e9 + M / 10e9
    assert comm(node(4, topo, nodes=2), "tree") == pytest.approx(2 * reduce, rel=1e-12)


# ------------------------------------------------------------------ link / nvswitch
@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 8),
    n=st.integers(1, 5),
    m=st.floats(1.0, 1e9),
    bi=st.floats(1e8, 1e12),
    scheme=st.sampled_from(SCHEMES),
)
def test_link_is_todays_model(d, n, m, bi, scheme):
    kw = dict(nodes=n, devices_per_node=d, bandwidth=1e9, latency=2e-6, intra_latency=1e-6)
    kw["intra_bandwidth"] = bi if d > 1 else None
    plain = ClusterSpec(**kw)
    link = ClusterSpec(**kw, intra_topology="link")
    assert communication_cost(link, scheme, m) == communication_cost(plain, scheme, m)
    if scheme == "hierarchical":  # the closed form, typed out: rings inside and across
        intra = 0.0 if d == 1 else ring_allreduce_time(m, d, bi, 1e-6)
        expect = intra + ring_allreduce_time(m, n, 1e9, 2e-6)
        assert communication_cost(link, scheme, m).time_s == pytest.approx(expect, rel=1e-12)
    # NVSwitch: every GPU at its full link bandwidth: the same numbers
    if d > 1:
        sw = ClusterSpec(**kw, intra_topology="nvswitch")
        assert communication_cost(sw, scheme, m).time_s == pytest.approx(
            communication_cost(plain, scheme, m).time_s, rel=1e-12
        )


def test_nvswitch_ring_closed_form():
    assert comm(node(8, "nvswitch")) == pytest.approx(14 * A + 1.75 * M / 150e9, rel=1e-12)


def test_transport_scales_topology_links():
    topo = {"name": "pcie_tree", "uplink_bandwidth": "5GB/s"}
    c = node(8, topo, transport={"name": "ideal", "overhead": 0, "efficiency": 0.5})
    assert comm(c) == pytest.approx(14 * A + 1.75 * M / 2.5e9, rel=1e-12)


# ------------------------------------------------------------------ CLI and TOML
BASE = ["whatif", "--workers", "8", "--devices-per-node", "8", "--bandwidth", "10GB/s",
        "--latency", "5us", "--params", "25M", "--compute-time", "0.1s",
        "--scheme", "ring"]  # fmt: skip


def test_cli_flag_and_toml(tmp_path, capsys):
    assert main([*BASE, "--intra-topology", "nvlink_cube_mesh,nvswitch", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    b = 25e9
    assert rows[0]["comm_s"] == pytest.approx(14 * 5e-6 + 1.75 * 100e6 / (6 * b), rel=1e-9)
    assert rows[1]["comm_s"] == pytest.approx(14 * 5e-6 + 1.75 * 100e6 / 150e9, rel=1e-9)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        "[cluster]\nworkers = 8\ndevices_per_node = 8\nbandwidth = '10GB/s'\nlatency = '5us'\n"
        "[cluster.intra_topology]\nname = 'pcie_tree'\nuplink_bandwidth = '5GB/s'\n"
        "[workload]\nparameters = 25e6\ncompute_time_per_step = '0.1s'\n[scheme]\nname = 'ring'\n"
    )
    assert main(["whatif", "--config", str(cfg), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["comm_s"] == pytest.approx(14 * 5e-6 + 1.75 * 100e6 / 5e9, rel=1e-9)


def test_cli_bad_topology_exits_2(capsys):
    assert main([*BASE, "--intra-topology", "torus"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "intra_topology" in err and "torus" in err and len(err.splitlines()) == 1


def test_every_sweep_row_names_its_intra_topology():
    from tinygrad_opt.cluster import SWEEP_KEYS, ClusterSpec, Workload, simulate

    assert "intra_topology" in SWEEP_KEYS
    for name in ("link", "nvswitch", "nvlink_cube_mesh", "pcie_tree"):
        c = ClusterSpec(
            workers=16, devices_per_node=8, bandwidth="25Gbit/s", latency="5us",
            intra_bandwidth="25GB/s", intra_latency="2us",
            intra_topology=name,
        )  # fmt: skip
        r = simulate(
            c, Workload(parameters=1e6, compute_time_per_step=0.1, steps=100), "hierarchical"
        )
        assert r.to_dict()["intra_topology"] == name


# ------------------------------------------------------------------ PS in host memory
@pytest.mark.parametrize(
    "topo, b_h",
    [
        ("link", 16e9),  # each device's own link
        ("pcie_tree", 8e9),  # two GPUs share each switch's uplink of B_i
        ({"name": "pcie_tree", "uplink_bandwidth": "64GB/s"}, 16e9),  # a fat uplink
        ({"name": "nvlink_cube_mesh", "links_per_gpu": 4}, 15.75e9 / 2),  # PCIe, in pairs
        ("nvswitch", 15.75e9 / 2),
    ],
)
def test_host_parameter_server_closed_form(topo, b_h):
    # every device pushes M to host memory and pulls the result, all at once:
    # 2α_i + 2M/b_h; with reductions modelled the CPU adds (N − 1)·M at R in between
    c = node(8, topo, intra_bandwidth="16GB/s")
    scheme = {"name": "ps", "ps_placement": "host"}
    assert comm(c, scheme) == pytest.approx(2 * A + 2 * M / b_h, rel=1e-12)
    summed = node(8, topo, intra_bandwidth="16GB/s", reduce_bandwidth="20GB/s")
    assert comm(summed, scheme) == pytest.approx(2 * A + 2 * M / b_h + 7 * M / 20e9, rel=1e-12)
    cost = communication_cost(c, scheme, M)
    assert cost.ps_machines == 0 and [p for p, _ in cost.phases] == ["push", "pull"]


def test_host_parameter_server_needs_one_machine():
    from tinygrad_opt.cluster import Workload, simulate

    wl = Workload(parameters=10**6, compute_time_per_step=0.1, steps=10)
    two = node(4, "link", nodes=2, intra_bandwidth="16GB/s")
    with pytest.raises(SpecError, match="ps_placement.*nodes=1"):
        simulate(two, wl, {"name": "ps", "ps_placement": "host"})
    one = node(4, "pcie_tree", intra_bandwidth="16GB/s")
    r = simulate(one, wl, {"name": "ps", "ps_placement": "host"}, steps_to_sample=4)
    assert r.comm_s == pytest.approx(2 * A + 2 * 4e6 / 8e9, rel=1e-9)
