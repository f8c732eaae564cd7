"""Does a parameter server really need bandwidth? The seed article's claim, measured.

    python examples/whatif_ps_bandwidth.py [--out out] [--bandwidth 10Gbit/s]

The seed article: "parameter server will wait to aggregate gradients from all the nodes,
then send new parameters => BUT, it requires to create central node => Bandwidth needs to
be high for synchronous SGD". In the alpha-beta model (docs/cluster.md) one server's NIC
carries every worker's gradient in and the new parameters out, ``N·M`` bytes each way, so
its communication time is ``2α + 2N·M/B`` — linear in the number of workers ``N`` — while
a ring all-reduce sends ``2(N−1)/N·M`` per node, ``2(N−1)α + 2(N−1)/N·M/B``: almost flat.

Set-up: a ResNet-50-sized model (25.6M fp32 parameters = 102.4 MB of gradients), 120 ms of
compute per step (no stragglers, to isolate the network), every node on a 10 Gbit/s NIC
with 5 us latency; 1 to 128 workers. Three schemes: one dedicated parameter server, a
ring all-reduce, and a parameter server sharded over all the workers (``k = N``
colocated shards, Li et al. 2014), which spreads the server's traffic over every NIC.

Printed: step times and the PS/ring ratio per worker count, the PS step time's slope
(seconds per extra worker) and linearity (R²), and how much faster the server's NIC would
have to be for a PS to match the ring at 64 workers. Figure ``--out/whatif_ps_bandwidth.png``:
step time vs workers, and the bytes through the busiest link per step.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygrad_opt.cluster import ClusterSpec, Workload, format_bandwidth, simulate

WORKERS = [1, 2, 4, 8, 16, 32, 64, 128]
SCHEMES = {
    "ps (1 server)": {"scheme": "ps"},
    "ring all-reduce": {"scheme": "ring"},
    "ps (k = N colocated shards)": {"scheme": "ps", "ps_placement": "colocated"},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--bandwidth", default="10Gbit/s", help="every node's NIC (default 10Gbit/s)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    work = Workload(parameters=25_600_000, compute_time_per_step="120ms", steps=10_000)
    base = ClusterSpec(workers=1, bandwidth=args.bandwidth, latency="5us")
    step: dict[str, list[float]] = {}
    busiest: dict[str, list[float]] = {}
    comm: dict[str, list[float]] = {}
    for name, options in SCHEMES.items():
        opts = dict(options)
        results = []
        for n in WORKERS:
            if opts.get("ps_placement") == "colocated":
                opts["ps_shards"] = n
            results.append(simulate(base.replace(workers=n), work, steps_to_sample=10, **opts))
        step[name] = [r.step_time_s for r in results]
        comm[name] = [r.comm_s for r in results]
        busiest[name] = [r.busiest_link_bytes for r in results]

    ps, ring, sharded = (step[name] for name in SCHEMES)
    ratio = [p / r for p, r in zip(ps, ring)]
    i64 = WORKERS.index(64)
    # PS step time against N: a straight line (least squares), and how straight it is
    n = np.array(WORKERS, dtype=float)
    slope, intercept = np.polyfit(n, ps, 1)
    fit = slope * n + intercept
    r2 = 1.0 - float(np.sum((ps - fit) ** 2) / np.sum((ps - np.mean(ps)) ** 2))
    # communication time is (almost) all M/B: the server NIC would need this many times the
    # bandwidth for the PS to communicate as fast as the ring does
    factor_64 = comm["ps (1 server)"][i64] / comm["ring all-reduce"][i64]

    print(
        f"25.6M parameters (102.4 MB fp32 gradients), 120 ms compute/step, "
        f"{format_bandwidth(base.bandwidth)} NICs, 5 us latency"
    )
    print(f"{'workers':>8} {'PS step':>10} {'ring step':>10} {'PS/ring':>8} {'sharded PS':>11}")
    for i, w in enumerate(WORKERS):
        print(f"{w:>8} {ps[i]:>9.3f}s {ring[i]:>9.3f}s {ratio[i]:>8.1f} {sharded[i]:>10.3f}s")
    i8 = WORKERS.index(8)
    ring_growth, ps_growth = ring[-1] / ring[i8], ps[-1] / ps[i8]
    print(
        f"PS step time grows by {slope * 1e3:.1f} ms per worker (linear fit R² = {r2:.5f}): "
        f"{ps_growth:.1f}x from 8 to {WORKERS[-1]} workers; the ring's {ring_growth:.2f}x"
    )
    print(
        f"at 64 workers the PS step is {ratio[i64]:.1f}x the ring's; its server NIC would need "
        f"{factor_64:.0f}x the bandwidth ({format_bandwidth(factor_64 * base.bandwidth)}) "
        f"to keep up"
    )

    fig = Figure(figsize=(11, 4.2))
    ax_t, ax_b = fig.subplots(1, 2)
    styles = {"ps (1 server)": "o-", "ring all-reduce": "s-", "ps (k = N colocated shards)": "^--"}
    for name in SCHEMES:
        ax_t.plot(WORKERS, step[name], styles[name], label=name, ms=5)
        mb = np.array(busiest[name]) / 1e6
        ax_b.plot(WORKERS, np.where(mb > 0, mb, np.nan), styles[name], label=name, ms=5)
    ax_t.plot(n, fit, "k:", lw=1, label=f"linear fit: {slope * 1e3:.0f} ms/worker")
    ax_t.set_ylabel("seconds per step")
    ax_t.set_title(
        f"step time at {format_bandwidth(base.bandwidth)}: PS/ring = {ratio[i64]:.0f}x at 64"
    )
    ax_b.set_ylabel("MB through the busiest link per step")
    ax_b.set_yscale("log")
    ax_b.set_title("the server's NIC carries N gradients")
    ax_b.set_xscale("log", base=2)
    for ax in (ax_t, ax_b):
        ax.set_xlabel("workers")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "whatif_ps_bandwidth.png"
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")
    return {
        "workers": WORKERS,
        "ps_step_s": ps,
        "ring_step_s": ring,
        "sharded_ps_step_s": sharded,
        "ps_to_ring": ratio,
        "ps_to_ring_at_64": ratio[i64],
        "ps_slope_s_per_worker": float(slope),
        "ps_linear_r2": r2,
        "ps_growth_8_to_max": ps_growth,
        "ring_growth_8_to_max": ring_growth,
        "server_bandwidth_factor_at_64": factor_64,
        "figure": str(path),
    }


if __name__ == "__main__":
    main()
