"""What a node looks like inside: named intra-node topologies (:class:`IntraTopology`).

``ClusterSpec.intra_topology`` says how a node's ``d`` devices are wired; the intra-node
bandwidth ``B_i`` (``intra_bandwidth``) means a different link on each:

``link`` (default)
    every device has its own link of ``B_i`` each way to a non-blocking fabric: today's
    model, unchanged.
``nvswitch``
    NVSwitch (DGX-2, DGX A100): full bisection, every GPU at its full NVLink bandwidth
    ``B_i`` to any other. Same formulas as ``link``; default ``B_i`` = 150 GB/s per
    direction (DGX-2: 6 NVLink-2 links of 25 GB/s per GPU, NVIDIA DGX-2 datasheet;
    DGX A100: 12 links, 300 GB/s).
``nvlink_cube_mesh``
    DGX-1's hybrid cube-mesh: two fully connected quads {0-3}, {4-7} plus links i↔i+4
    (NVIDIA DGX-1 System Architecture whitepaper WP-08437-002, Fig. 3). ``B_i`` is one
    NVLink, each way: 20 GB/s on P100 (4 links a GPU, ``links_per_gpu = 4``), 25 GB/s on
    V100 (6 links, some pairs doubled: ``NV2`` in ``nvidia-smi topo -m`` of a DGX-1V:
    0-3, 0-4, 1-2, 1-5, 2-3 and likewise in the other quad). A ring all-reduce over the
    first ``d`` GPUs runs ``r_d`` rings at once, as many link-disjoint directed
    Hamiltonian cycles as the links allow (NCCL builds one ring per channel over
    NVLink): each carries ``M/r_d`` and every hop uses one link, so the ring's bandwidth
    is ``r_d·B_i``. With no NVLink ring (``r_d = 0``) the ring is held to
    ``peer_bandwidth``. A message between two GPUs moves at ``k·B_i`` over ``k``
    direct links, else at ``peer_bandwidth``: on a DGX-1 every pair without NVLink sits
    on different CPU sockets, so its copies cross PCIe and the sockets' link
    (p2pBandwidthLatencyTest on a DGX with 8 V100: 14.25–14.54 GB/s for both directions
    together, P2P enabled or not — about 7.2 GB/s each way when, as in a ring, both
    directions run; the GPUs' own PCIe links, ``pcie_bandwidth``, stay for the path to
    host memory). ``rings = "device_order"`` is NCCL 1.x
    instead (``src/core.cu`` of NVIDIA/nccl 1.x: one ring through the GPUs sorted by
    their NVML index, no topology search; a pair without peer access goes through
    zero-copy host memory): one ring ``0 → 1 → … → d−1 → 0`` at the bandwidth of its
    slowest hop, ``k·B_i`` over ``k`` NVLinks and ``peer_bandwidth`` for a hop without
    one (3 → 4 and 7 → 0 on a DGX-1: the 8-GPU ring slower than the 4-GPU one).
``pcie_tree``
    ``devices_per_switch`` GPUs under each PCIe switch, each switch with one uplink of
    ``uplink_bandwidth`` to the root complex (DGX-1: 4 PLX switches of 2 GPUs, whitepaper
    Fig. 2). ``B_i`` is a GPU's own PCIe link (default 15.75 GB/s: PCIe 3.0 ×16,
    8 GT/s × 16 lanes × 128/130, PCI-SIG); the uplink defaults to the same. A message
    between switches crosses both uplinks; the ``f`` concurrent flows crossing one uplink
    in one direction share it: ``uplink_bandwidth/f`` each.

:func:`ring_bandwidth` and :func:`pair_bandwidth` give the per-topology numbers; the
closed forms built on them are in :mod:`.collectives` and :mod:`.communication`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from tinygrad_opt.cluster.units import parse_bandwidth
from tinygrad_opt.cluster.validation import SpecError, check_choice, check_keys, check_positive_int

__all__ = [
    "INTRA_TOPOLOGIES",
    "IntraTopology",
    "coerce_topology",
    "cube_mesh_links",
    "cube_mesh_rings",
    "pair_bandwidth",
    "ring_bandwidth",
]

INTRA_TOPOLOGIES = ("link", "pcie_tree", "nvlink_cube_mesh", "nvswitch")
RING_LAYOUTS = ("disjoint", "device_order")
"""How a ring is laid on the cube-mesh: NCCL 2's disjoint rings or NCCL 1.x's one ring."""
PCIE3_X16 = 15.75e9
"""PCIe 3.0 ×16 per direction: 8 GT/s × 16 lanes × 128/130 / 8 bits (PCI-SIG)."""
CROSS_SOCKET_PEER = 7.2e9
"""Bytes/s each way between two DGX-1 GPUs on different CPU sockets (no NVLink) when both
directions run: half the 14.25–14.54 GB/s bidirectional p2pBandwidthLatencyTest figures
for GPU 0 ↔ 5, 6, 7 of a DGX with 8 V100 (OpenACC/NVIDIA GPU Bootcamp, multi-GPU
"single node topology" lab; the same with P2P disabled: the copy is staged either way)."""
DEFAULT_BANDWIDTH = {
    "nvswitch": 150e9,  # DGX-2: 6 NVLink-2 × 25 GB/s per GPU per direction
    "pcie_tree": PCIE3_X16,
}
NVLINK_BANDWIDTH = {4: 20e9, 6: 25e9}
"""One NVLink per direction: NVLink 1 (P100) 20 GB/s, NVLink 2 (V100) 25 GB/s (DGX-1
whitepaper; Tesla V100 whitepaper WP-08608-001)."""


@dataclass(frozen=True)
class IntraTopology:
    """A node's wiring (see the module docstring).

    Attributes:
        name: ``link``, ``pcie_tree``, ``nvlink_cube_mesh`` or ``nvswitch``.
        devices_per_switch: GPUs under one PCIe switch (``pcie_tree``; default 2, DGX-1).
        uplink_bandwidth: a PCIe switch's uplink each way (``pcie_tree``; default None:
            ``intra_bandwidth``).
        links_per_gpu: NVLinks per GPU in the cube-mesh, 4 (P100) or 6 (V100; default).
        pcie_bandwidth: each GPU's own PCIe link to the host under an NVLink topology
            (default PCIe 3.0 ×16): the path to a parameter server in host memory.
        peer_bandwidth: GPU pairs without NVLink in the cube-mesh, each way (default
            :data:`CROSS_SOCKET_PEER`, measured across a DGX-1's CPU sockets).
        rings: how a ring all-reduce is laid on the cube-mesh: ``"disjoint"`` (default,
            NCCL 2: as many link-disjoint rings as the links allow) or ``"device_order"``
            (NCCL 1.x: one ring in device order, hops without NVLink through host memory).
    """

    name: str = "link"
    devices_per_switch: int = 2
    uplink_bandwidth: float | str | None = None
    links_per_gpu: int = 6
    pcie_bandwidth: float | str = PCIE3_X16
    rings: str = "disjoint"
    peer_bandwidth: float | str = CROSS_SOCKET_PEER

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "name", check_choice("intra_topology", self.name, INTRA_TOPOLOGIES, {}))
        set_(self, "rings", check_choice("intra_topology.rings", self.rings, RING_LAYOUTS, {}))
        set_(
            self,
            "devices_per_switch",
            check_positive_int("intra_topology.devices_per_switch", self.devices_per_switch),
        )
        if self.uplink_bandwidth is not None:
            set_(
                self,
                "uplink_bandwidth",
                parse_bandwidth(self.uplink_bandwidth, "intra_topology.uplink_bandwidth"),
            )
        if self.links_per_gpu not in (4, 6):
            raise SpecError(
                "intra_topology.links_per_gpu", self.links_per_gpu, "must be 4 (P100) or 6 (V100)"
            )
        set_(
            self,
            "pcie_bandwidth",
            parse_bandwidth(self.pcie_bandwidth, "intra_topology.pcie_bandwidth"),
        )
        set_(
            self,
            "peer_bandwidth",
            parse_bandwidth(self.peer_bandwidth, "intra_topology.peer_bandwidth"),
        )

    def default_bandwidth(self) -> float | None:
        """The cited per-link ``intra_bandwidth`` when none is given (None for ``link``)."""
        if self.name == "nvlink_cube_mesh":
            return NVLINK_BANDWIDTH[self.links_per_gpu]
        return DEFAULT_BANDWIDTH.get(self.name)

    def scaled(self, factor: float) -> IntraTopology:
        """The same wiring with every absolute bandwidth times ``factor`` (transport
        efficiency, CPU contention)."""
        up = None if self.uplink_bandwidth is None else self.uplink_bandwidth * factor
        return replace(
            self,
            uplink_bandwidth=up,
            pcie_bandwidth=self.pcie_bandwidth * factor,
            peer_bandwidth=self.peer_bandwidth * factor,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


LINK = IntraTopology()


def coerce_topology(value: IntraTopology | str | Mapping[str, Any] | None) -> IntraTopology:
    """An :class:`IntraTopology` from a name, a dict (``{"name": "pcie_tree",
    "devices_per_switch": 4}``, TOML ``[cluster.intra_topology]``) or a topology."""
    if value is None:
        return LINK
    if isinstance(value, IntraTopology):
        return value
    if isinstance(value, str):
        return IntraTopology(name=value.strip().lower().replace("-", "_"))
    if isinstance(value, Mapping):
        check_keys("intra_topology", value, tuple(f.name for f in fields(IntraTopology)))
        data = dict(value)
        if "name" in data:
            data["name"] = str(data["name"]).strip().lower().replace("-", "_")
        return IntraTopology(**data)
    raise SpecError("intra_topology", value, "must be a name, a table or an IntraTopology")


# ------------------------------------------------------------------ the DGX-1 cube-mesh
_P100 = {(i, j): 1 for q in (0, 4) for i, j in itertools.combinations(range(q, q + 4), 2)}
_P100.update({(i, i + 4): 1 for i in range(4)})
_V100 = {
    (0, 1): 1, (0, 2): 1, (0, 3): 2, (0, 4): 2, (1, 2): 2, (1, 3): 1, (1, 5): 2, (2, 3): 2,
    (2, 6): 1, (3, 7): 1, (4, 5): 1, (4, 6): 1, (4, 7): 2, (5, 6): 2, (5, 7): 1, (6, 7): 2,
}  # fmt: skip


def cube_mesh_links(links_per_gpu: int) -> np.ndarray:
    """8×8 symmetric matrix of NVLinks between the GPUs of a DGX-1 (P100: 4, V100: 6)."""
    out = np.zeros((8, 8), dtype=int)
    for (i, j), k in (_P100 if links_per_gpu == 4 else _V100).items():
        out[i, j] = out[j, i] = k
    return out


@functools.cache
def cube_mesh_rings(links_per_gpu: int, devices: int) -> int:
    """Most link-disjoint directed rings through GPUs ``0..d−1`` of the cube-mesh (brute
    force over the directed Hamiltonian cycles, each link used once per direction)."""
    d = check_positive_int("devices_per_node", devices)
    if d == 1:
        return 0
    if d > 8:
        raise SpecError("devices_per_node", d, "nvlink_cube_mesh has 8 GPUs per node")
    links = cube_mesh_links(links_per_gpu)
    cycles = []
    for perm in itertools.permutations(range(1, d)):
        order = (0, *perm)
        arcs = [(order[t], order[(t + 1) % d]) for t in range(d)]
        if all(links[a] for a in arcs):
            cycles.append(arcs)
    cap = {(i, j): int(links[i, j]) for i in range(d) for j in range(d)}
    best = 0

    def pack(start: int, count: int) -> None:
        nonlocal best
        best = max(best, count)
        for idx in range(start, len(cycles)):
            arcs = cycles[idx]
            if all(cap[a] > 0 for a in arcs):
                for a in arcs:
                    cap[a] -= 1
                pack(idx, count + 1)
                for a in arcs:
                    cap[a] += 1

    pack(0, 0)
    return best


def ring_bandwidth(topology: IntraTopology, devices: int, bandwidth: float) -> float:
    """Bytes/s each device moves around a ring through the node's ``d`` devices.

    ``link``/``nvswitch``: ``B_i``. ``nvlink_cube_mesh``: ``r_d·B_i`` (:func:`cube_mesh_rings`),
    ``peer_bandwidth`` if ``r_d = 0``; with ``rings = "device_order"`` the slowest hop of
    the one ring ``0 → 1 → … → d−1 → 0``: ``min_t k_t·B_i``, a hop with ``k_t = 0``
    NVLinks at ``peer_bandwidth``. ``pcie_tree``: ``B_i``, or ``min(B_i, U)`` when the
    ring spans several switches (it enters and leaves each switch once: one flow per
    uplink direction).
    """
    name = topology.name
    if name == "nvlink_cube_mesh" and topology.rings == "device_order":
        if devices < 2:
            return bandwidth
        order = np.arange(devices)
        hops = pair_bandwidth(topology, order, np.roll(order, -1), bandwidth)
        return float(hops.min())
    if name == "nvlink_cube_mesh":
        r = cube_mesh_rings(topology.links_per_gpu, devices)
        return r * bandwidth if r else float(topology.peer_bandwidth)
    if name == "pcie_tree" and devices > topology.devices_per_switch:
        return min(bandwidth, _uplink(topology, bandwidth))
    return bandwidth


def _uplink(topology: IntraTopology, bandwidth: float) -> float:
    u = topology.uplink_bandwidth
    return bandwidth if u is None else float(u)


def pair_bandwidth(
    topology: IntraTopology,
    src: np.ndarray,
    dst: np.ndarray,
    bandwidth: float,
    node: np.ndarray | None = None,
) -> np.ndarray:
    """Bytes/s of each of the concurrent messages ``src[i] → dst[i]`` (local device
    indices inside node ``node[i]``, default all node 0), before devices sharing their own
    link.

    ``link``/``nvswitch``: ``B_i``. ``nvlink_cube_mesh``: ``k·B_i`` over ``k`` links, else
    ``peer_bandwidth``. ``pcie_tree``: ``B_i`` inside a switch; across switches
    ``min(B_i, U/f)`` with ``f`` the most flows on either uplink it crosses (that
    direction).
    """
    src = np.asarray(src, dtype=int)
    dst = np.asarray(dst, dtype=int)
    out = np.full(src.shape, float(bandwidth))
    if topology.name == "nvlink_cube_mesh":
        if src.size and max(int(src.max()), int(dst.max())) >= 8:
            raise SpecError("devices_per_node", int(max(src.max(), dst.max())) + 1, "max 8")
        k = cube_mesh_links(topology.links_per_gpu)[src, dst]
        out = np.where(k > 0, k * float(bandwidth), float(topology.peer_bandwidth))
    elif topology.name == "pcie_tree":
        s = topology.devices_per_switch
        cross = src // s != dst // s
        if cross.any():
            where = np.zeros(src.shape, dtype=int) if node is None else np.asarray(node, int)
            # switches numbered over all nodes: (node, local switch) pairs
            keys = np.concatenate([where[cross] * 2, where[cross] * 2])
            ids = np.concatenate([src[cross] // s, dst[cross] // s])
            _, sw = np.unique(np.stack([keys, ids]), axis=1, return_inverse=True)
            sw = sw.reshape(-1)
            sw_s, sw_d = sw[: cross.sum()], sw[cross.sum() :]
            up = np.bincount(sw_s, minlength=sw.max() + 1)
            down = np.bincount(sw_d, minlength=sw.max() + 1)
            flows = np.maximum(up[sw_s], down[sw_d])
            out[cross] = np.minimum(out[cross], _uplink(topology, bandwidth) / flows)
    return out
