"""How many parameter-server shards does a 100M-parameter model need?

    python examples/whatif_ps_shards.py [--out out] [--bandwidth 25Gbit/s]

A parameter server split into ``k`` shards (Li et al. 2014) holds ``M/k`` of the model on
each of ``k`` machines, so each shard's NIC carries ``N·M/k`` bytes each way per step
instead of ``N·M``. With dedicated shard machines the synchronisation takes
``2α + 2·max(N/k, 1)·M/B`` (docs/cluster.md): it falls like ``1/k`` until ``k = N``, where
each worker's own link (``M`` each way) becomes the bottleneck and more shards stop
helping. Shards are machines too, so the cost per step is
``(N + k)·price·(compute + communication)``: past some ``k`` they cost more than they save.

Set-up: 100M fp32 parameters (400 MB of gradients), 300 ms of compute per step (no
stragglers, to isolate the network), 25 Gbit/s NICs with 5 us latency, shard machines
priced like workers; 8, 32 and 128 workers; ``k`` from 1 to ``2N``.

Printed for every worker count: the step time with one server, the smallest ``k`` whose
step time is within 10 % of the best possible, the ``k`` that minimises cost per example,
and, for comparison, shards colocated on the workers (``k = N``, no extra machines).
Figure ``--out/whatif_ps_shards.png``: step time and cost per million examples against
``k``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygrad_opt.cluster import (
    ClusterSpec,
    Workload,
    format_bandwidth,
    parse_bandwidth,
    simulate,
)

WORKERS = [8, 32, 128]
TOLERANCE = 0.10  # "enough shards": step time within 10 % of the best


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--bandwidth", default="25Gbit/s", help="every machine's NIC")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    work = Workload(
        parameters=100_000_000, per_worker_batch=32, compute_time_per_step="300ms", steps=1
    )
    curves: dict[int, dict[str, list[float]]] = {}
    needed, cheapest, colocated, single = [], [], [], []
    for n in WORKERS:
        cluster = ClusterSpec(
            workers=n, bandwidth=args.bandwidth, latency="5us", price_per_node_hour=1.0
        )
        shards = list(range(1, 2 * n + 1))
        results = [simulate(cluster, work, "ps", ps_shards=k, steps_to_sample=1) for k in shards]
        step = [r.step_time_s for r in results]
        # cost of one million applied examples: machines x hours per example x 1e6
        cost = [1e6 * r.machines / r.throughput / 3600 for r in results]
        best = min(step)
        k_needed = next(k for k, t in zip(shards, step) if t <= (1 + TOLERANCE) * best)
        k_cheap = shards[min(range(len(shards)), key=cost.__getitem__)]
        co = simulate(cluster, work, "ps", ps_shards=n, ps_placement="colocated", steps_to_sample=1)
        curves[n] = {"shards": shards, "step_time_s": step, "cost_per_million": cost}
        needed.append(k_needed)
        cheapest.append(k_cheap)
        colocated.append(co.step_time_s)
        single.append(step[0])

    print(
        f"100M parameters (400 MB fp32 gradients), 300 ms compute/step, "
        f"{format_bandwidth(parse_bandwidth(args.bandwidth))} NICs; shard machines cost as much "
        f"as workers"
    )
    print(
        f"{'workers':>8} {'1 server':>10} {'k within 10%':>13} {'its step':>9} "
        f"{'cheapest k':>11} {'colocated k=N':>14}"
    )
    for i, n in enumerate(WORKERS):
        step_needed = curves[n]["step_time_s"][needed[i] - 1]
        print(
            f"{n:>8} {single[i]:>9.2f}s {needed[i]:>13} {step_needed:>8.3f}s "
            f"{cheapest[i]:>11} {colocated[i]:>13.3f}s"
        )
    ratios = [k / n for k, n in zip(needed, WORKERS)]
    print(
        "shards needed per worker: " + ", ".join(f"{r:.2f}" for r in ratios) + " — the server "
        "side needs about as many NICs as there are workers (or colocate a shard on each)"
    )

    fig = Figure(figsize=(11, 4.2))
    ax_t, ax_c = fig.subplots(1, 2)
    for i, n in enumerate(WORKERS):
        c = curves[n]
        (line,) = ax_t.plot(c["shards"], c["step_time_s"], "-", label=f"{n} workers")
        ax_t.plot(needed[i], c["step_time_s"][needed[i] - 1], "o", color=line.get_color())
        ax_t.axhline(colocated[i], color=line.get_color(), ls=":", lw=1)
        ax_c.plot(c["shards"], c["cost_per_million"], "-", color=line.get_color(), label=f"{n}")
        ax_c.plot(cheapest[i], c["cost_per_million"][cheapest[i] - 1], "*", ms=10,
                  color=line.get_color())  # fmt: skip
    ax_t.set_ylabel("seconds per step")
    ax_t.set_title("step time (dot: within 10% of best; dotted: colocated k = N)", fontsize=10)
    ax_c.set_ylabel("cost per million examples (node-hours)")
    ax_c.set_title("cost (star: cheapest k)", fontsize=10)
    for ax in (ax_t, ax_c):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("dedicated parameter-server shards k")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, title="workers" if ax is ax_c else None)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "whatif_ps_shards.png"
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")
    return {
        "workers": WORKERS,
        "shards_needed": needed,
        "shards_needed_per_worker": ratios,
        "cheapest_shards": cheapest,
        "single_server_step_s": single,
        "colocated_step_s": colocated,
        "curves": curves,
        "figure": str(path),
    }


if __name__ == "__main__":
    main()
