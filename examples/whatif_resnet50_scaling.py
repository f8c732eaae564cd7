"""How well does a ResNet-50-sized model scale from 8 to 256 workers, on 10 or 100 Gbit/s?

    python examples/whatif_resnet50_scaling.py [--out out]

Set-up (illustrative numbers, not measurements): 25.6M fp32 parameters (102.4 MB of
gradients), per-worker batch 32 taking 120 ms of forward + backward with lognormal
step-time noise (σ = 0.05), 5 us latency, one worker per node. Two schemes: a ring
all-reduce and a parameter server with 8 dedicated shards (a common TensorFlow-era set-up,
Li et al. 2014); two networks: 10 and 100 Gbit/s per node.

The ring's communication is ``2(N−1)α + 2(N−1)/N·M/B``: almost independent of the number
of workers, so its efficiency is set by compute / (compute + M-over-bandwidth) and by the
straggler wait, which grows slowly with N. The sharded server's is
``2α + 2·max(N/k, 1)·M/B``: once ``N > k = 8`` it grows linearly (see
``whatif_ps_bandwidth.py`` and ``whatif_ps_shards.py``).

Printed: scaling efficiency (speed-up / workers) for each scheme and network, and the hours
and node-hours of 90 ImageNet epochs (1.28M images each) at that throughput, ignoring that
very large global batches need more epochs (see ``whatif_batch_size.py``). Figure
``--out/whatif_resnet50_scaling.png``: speed-up and efficiency against workers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinygrad_opt.cluster import ClusterSpec, Workload, sweep
from tinygrad_opt.cluster.plots import plot_scaling

WORKERS = [8, 16, 32, 64, 128, 256]
BANDWIDTHS = ["10Gbit/s", "100Gbit/s"]
EPOCH_IMAGES = 1_281_167  # ImageNet-1k training set
EPOCHS = 90


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--samples", type=int, default=300, help="Monte Carlo steps per point")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    cluster = ClusterSpec(
        workers=8, bandwidth="10Gbit/s", latency="5us", compute={"kind": "lognormal", "sigma": 0.05}
    )
    work = Workload(
        parameters=25_600_000, per_worker_batch=32, compute_time_per_step="120ms", steps=1
    )
    grid = {"scheme": ["ring", "ps"], "ps_shards": [8], "bandwidth": BANDWIDTHS, "workers": WORKERS}
    table = sweep(cluster, work, grid, steps_to_sample=args.samples, progress=False)

    efficiency: dict[str, list[float]] = {}
    speedup: dict[str, list[float]] = {}
    hours: dict[str, list[float]] = {}
    node_hours: dict[str, list[float]] = {}
    for row in table:
        series = f"{row['scheme_label']} @ {row['bandwidth'] * 8 / 1e9:g} Gbit/s"
        row["series"] = series
        h = EPOCHS * EPOCH_IMAGES / row["throughput"] / 3600
        efficiency.setdefault(series, []).append(row["scaling_efficiency"])
        speedup.setdefault(series, []).append(row["speedup"])
        hours.setdefault(series, []).append(h)
        node_hours.setdefault(series, []).append(h * row["machines"])

    print("ResNet-50-sized model (25.6M params), batch 32/worker, 120 ms compute/step")
    print("scaling efficiency (speed-up / workers):")
    print(f"{'':<26}" + "".join(f"{w:>8}" for w in WORKERS))
    for series, effs in efficiency.items():
        print(f"{series:<26}" + "".join(f"{100 * e:>7.1f}%" for e in effs))
    print(f"hours for {EPOCHS} ImageNet epochs (node-hours, PS machines included, in brackets):")
    print(f"{'':<26}" + "".join(f"{w:>16}" for w in WORKERS))
    for series, hs in hours.items():
        cells = "".join(f"{h:>8.2f} h ({nh:>4.0f})" for h, nh in zip(hs, node_hours[series]))
        print(f"{series:<26}{cells}")
    last = WORKERS[-1]
    ring10, ring100 = efficiency["ring @ 10 Gbit/s"][-1], efficiency["ring @ 100 Gbit/s"][-1]
    ps10, ps100 = efficiency["ps(k=8) @ 10 Gbit/s"][-1], efficiency["ps(k=8) @ 100 Gbit/s"][-1]
    print(
        f"at {last} workers: ring {100 * ring10:.0f}% (10G) vs {100 * ring100:.0f}% (100G); "
        f"8-shard PS {100 * ps10:.1f}% vs {100 * ps100:.1f}%"
    )
    path = plot_scaling(
        table,
        args.out / "whatif_resnet50_scaling.png",
        group="series",
        title="ResNet-50-sized model: ring vs 8-shard parameter server, 10 vs 100 Gbit/s",
    )
    print(f"wrote {path}")
    return {
        "workers": WORKERS,
        "efficiency": efficiency,
        "speedup": speedup,
        "hours_90_epochs": hours,
        "node_hours_90_epochs": node_hours,
        "ring_efficiency_at_max": {"10Gbit/s": ring10, "100Gbit/s": ring100},
        "ps_efficiency_at_max": {"10Gbit/s": ps10, "100Gbit/s": ps100},
        "figure": str(path),
    }


if __name__ == "__main__":
    main()
