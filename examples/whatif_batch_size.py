"""Which global batch size minimises the cost of training, for a given gradient noise scale?

    python examples/whatif_batch_size.py [--out out]

McCandlish et al. (2018), "An Empirical Model of Large-Batch Training": reaching a given
loss with global batch ``B`` takes ``S(B) = S_min·(1 + B_noise/B)`` steps, i.e.
``E(B) = E_min·(1 + B/B_noise)`` examples. Past the noise scale ``B_noise`` extra
examples per step are mostly wasted; below it every step pays the fixed synchronisation
cost. On ``W`` workers with per-example compute ``t_ex`` and per-step communication
``T_c`` (a ring all-reduce, independent of the batch), the step takes ``(B/W)·t_ex + T_c``
and the bill is ``W · S(B) · ((B/W)·t_ex + T_c)``, smallest at

    B* = sqrt(W · B_noise · T_c / t_ex)

(set the derivative to zero): a bigger noise scale or a slower network favours bigger
batches. On a given cluster the bill is ``W × price × time``, so the cheapest batch is
also the fastest; the trade-off between time and money is the number of workers: more
workers finish sooner but pay more synchronisation. The simulation below checks the
formula against the full model.

Set-up: ring all-reduce on 25 Gbit/s, a ResNet-50-sized model (25.6M fp32 parameters),
3.75 ms of compute per example (120 ms for 32), no stragglers, ``S_min`` = 5000 steps;
noise scales ``B_noise`` = 1024, 8192 and 65536; 8, 32 and 128 workers; per-worker batch
from 2 to 4096 examples. Price: 1 per node-hour.

Printed: for every ``B_noise`` and cluster size the cheapest global batch (simulated),
``B*`` from the formula, the time and cost there, and the cost at ``B = B_noise``.
Figure ``--out/whatif_batch_size.png``: cost against the global batch on the middle
cluster, and time against cost at the cheapest batch of every cluster size.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygrad_opt.cluster import ClusterSpec, Workload, format_duration, simulate

NOISE_SCALES = [1024, 8192, 65536]
WORKERS = [8, 32, 128]
PER_WORKER = sorted({int(round(b)) for b in np.geomspace(2, 4096, 45)})
S_MIN = 5000
T_EXAMPLE = 0.120 / 32


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    return p.parse_args(argv)


def cheapest(workers: int, b_noise: int) -> dict[str, Any]:
    """Simulate every per-worker batch on ``workers`` workers; the cost curve and its minimum."""
    cluster = ClusterSpec(
        workers=workers, bandwidth="25Gbit/s", latency="5us", price_per_node_hour=1.0
    )
    batches, cost, hours = [], [], []
    comm = 0.0
    for b in PER_WORKER:
        work = Workload(
            parameters=25_600_000,
            per_worker_batch=b,
            compute_time_per_example=T_EXAMPLE,
            large_batch={"s_min": S_MIN, "b_noise": b_noise},
        )
        r = simulate(cluster, work, "ring", steps_to_sample=1, timeline_steps=0)
        batches.append(r.global_batch)
        cost.append(r.cost)
        hours.append(r.total_time_s / 3600)
        comm = r.comm_s  # the same for every batch size
    i = int(np.argmin(cost))
    j = int(np.argmin(np.abs(np.log(np.array(batches) / b_noise))))
    return {
        "workers": workers,
        "b_noise": b_noise,
        "global_batch": batches,
        "cost": cost,
        "hours": hours,
        "comm_s": comm,
        "best_batch": batches[i],
        "best_cost": cost[i],
        "best_hours": hours[i],
        "formula_batch": math.sqrt(workers * b_noise * comm / T_EXAMPLE),
        "cost_at_noise_scale": cost[j],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    runs = {(w, bn): cheapest(w, bn) for bn in NOISE_SCALES for w in WORKERS}
    print(
        f"ring all-reduce on 25 Gbit/s, 25.6M params, {T_EXAMPLE * 1e3:g} ms/example, "
        f"S_min = {S_MIN}, price 1 per node-hour"
    )
    print(
        f"{'B_noise':>8} {'workers':>8} {'comm/step':>10} {'cheapest B':>11} {'formula B*':>11}"
        f" {'time':>10} {'cost':>8} {'cost at B=B_noise':>18}"
    )
    for (w, bn), r in runs.items():
        print(
            f"{bn:>8} {w:>8} {format_duration(r['comm_s']):>10} {r['best_batch']:>11} "
            f"{r['formula_batch']:>11.0f} {format_duration(r['best_hours'] * 3600):>10} "
            f"{r['best_cost']:>8.1f} {r['cost_at_noise_scale']:>18.1f}"
        )
    mid = WORKERS[len(WORKERS) // 2]
    best = {bn: runs[mid, bn]["best_batch"] for bn in NOISE_SCALES}
    print(
        f"on {mid} workers the cheapest global batch is "
        + ", ".join(f"{b} for B_noise = {bn}" for bn, b in best.items())
        + ": it grows like sqrt(B_noise), and with the cluster; more workers are faster, "
        "never cheaper"
    )

    fig = Figure(figsize=(11, 4.2))
    ax_c, ax_p = fig.subplots(1, 2)
    for bn in NOISE_SCALES:
        r = runs[mid, bn]
        (line,) = ax_c.plot(r["global_batch"], r["cost"], "-", label=f"B_noise = {bn}")
        colour = line.get_color()
        ax_c.plot(r["best_batch"], r["best_cost"], "*", ms=11, color=colour)
        ax_c.axvline(r["formula_batch"], color=colour, ls=":", lw=1)
        pts = [runs[w, bn] for w in WORKERS]
        ax_p.plot([p["best_cost"] for p in pts], [p["best_hours"] for p in pts], "o-",
                  color=colour, label=f"B_noise = {bn}")  # fmt: skip
        for p in pts:
            ax_p.annotate(
                f"{p['workers']}w, B={p['best_batch']}",
                (p["best_cost"], p["best_hours"]),
                textcoords="offset points",
                xytext=(4, 3),
                fontsize=7,
            )
    ax_c.set_xscale("log", base=2)
    ax_c.set_xlabel(f"global batch B ({mid} workers)")
    ax_c.set_ylabel("cost to reach the target (node-hours × price)")
    ax_c.set_title("cost (star: cheapest; dotted: B* formula)", fontsize=10)
    ax_p.set_xscale("log")
    ax_p.set_xlabel("cost at the cheapest batch")
    ax_p.set_ylabel("hours to reach the target")
    ax_p.set_title("time vs cost: 8, 32, 128 workers", fontsize=10)
    for ax in (ax_c, ax_p):
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "whatif_batch_size.png"
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")
    table = [{k: v for k, v in r.items() if k not in ("global_batch", "cost", "hours")}
             for r in runs.values()]  # fmt: skip
    return {
        "noise_scales": NOISE_SCALES,
        "workers": WORKERS,
        "cheapest_global_batch": best,
        "formula_global_batch": {bn: runs[mid, bn]["formula_batch"] for bn in NOISE_SCALES},
        "table": table,
        "curves": {f"{w}x{bn}": runs[w, bn] for w, bn in runs},
        "figure": str(path),
    }


if __name__ == "__main__":
    main()
