"""How many backup workers pay off when some workers straggle?

    python examples/whatif_backup_workers.py [--out out] [--workers 64]

Chen et al. (2016), "Revisiting Distributed Synchronous SGD": launch ``N + b`` workers,
apply the first ``N`` gradients to arrive and drop the ``b`` slowest. A synchronous step
otherwise waits for the slowest of all workers, and with noisy compute times the expected
maximum of ``W`` draws grows with ``W`` (for lognormal noise roughly like
``σ·sqrt(2 ln W)`` in log space). Dropping the slowest ``b`` cuts that wait, but each
step then applies only ``W − b`` gradients (a smaller effective batch) while all ``W``
machines are paid for.

Set-up: a fixed budget of ``W = 64`` workers; a ResNet-50-sized model (25.6M fp32
parameters), batch 32 per worker, 120 ms mean compute; a parameter server with 16
dedicated shards on 100 Gbit/s NICs (backups need a server that can drop gradients: an
all-reduce waits for every member). Compute times are lognormal with σ = 0 (no
stragglers), 0.1, 0.3 and 0.5; ``b`` runs from 0 to ``W/2`` = 32.

Measure of "pays off": throughput of *applied* examples per second,
``(W − b)·batch / step time`` — the examples the model actually learns from per second
of the whole cluster. Printed: that throughput relative to ``b = 0`` for every σ and b,
the best ``b`` and its gain. Figure ``--out/whatif_backup_workers.png``: relative
throughput and 99th-percentile step time against ``b``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tinygrad_opt.cluster import ClusterSpec, Workload, simulate

SIGMAS = [0.0, 0.1, 0.3, 0.5]
BACKUPS = [*range(13), 14, 16, 20, 24, 28, 32]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--workers", type=int, default=64, help="workers paid for, backups included")
    p.add_argument("--samples", type=int, default=2000, help="Monte Carlo steps per point")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    backups = [b for b in BACKUPS if b <= args.workers // 2]
    work = Workload(
        parameters=25_600_000, per_worker_batch=32, compute_time_per_step="120ms", steps=1
    )
    throughput: dict[float, list[float]] = {}
    p99: dict[float, list[float]] = {}
    for sigma in SIGMAS:
        compute = {"kind": "lognormal", "sigma": sigma} if sigma > 0 else "deterministic"
        cluster = ClusterSpec(
            workers=args.workers, bandwidth="100Gbit/s", latency="5us", compute=compute
        )
        results = [
            simulate(
                cluster,
                work,
                "ps",
                ps_shards=16,
                backup_workers=b,
                steps_to_sample=args.samples,
                timeline_steps=0,
            )
            for b in backups
        ]
        throughput[sigma] = [r.throughput for r in results]
        p99[sigma] = [r.step_time_p99_s for r in results]

    relative = {s: [t / tp[0] for t in tp] for s, tp in throughput.items()}
    best = {s: backups[max(range(len(backups)), key=lambda i: tp[i])] for s, tp in relative.items()}
    gain = {s: max(tp) for s, tp in relative.items()}
    print(
        f"{args.workers} workers paid for, 16-shard PS on 100 Gbit/s, 25.6M params, "
        f"120 ms mean compute"
    )
    print("applied examples/s relative to no backups:")
    print(f"{'backups b':>10}" + "".join(f"{'σ=' + format(s, 'g'):>9}" for s in SIGMAS))
    for i, b in enumerate(backups):
        print(f"{b:>10}" + "".join(f"{relative[s][i]:>9.3f}" for s in SIGMAS))
    for s in SIGMAS:
        print(
            f"σ = {s:g}: best b = {best[s]} "
            f"({100 * (gain[s] - 1):+.1f}% throughput, {throughput[s][backups.index(best[s])]:,.0f}"
            f" examples/s)"
        )

    fig = Figure(figsize=(11, 4.2))
    ax_r, ax_p = fig.subplots(1, 2)
    for s in SIGMAS:
        ax_r.plot(backups, relative[s], "o-", ms=4, label=f"σ = {s:g} (best b = {best[s]})")
        ax_p.plot(backups, [1e3 * t for t in p99[s]], "o-", ms=4, label=f"σ = {s:g}")
    ax_r.axhline(1.0, color="k", lw=0.8, ls=":")
    ax_r.set_ylabel("applied examples/s relative to b = 0")
    ax_r.set_title(f"{args.workers} workers paid for: throughput of applied gradients")
    ax_p.set_ylabel("99th-percentile step time (ms)")
    ax_p.set_title("tail step time")
    for ax in (ax_r, ax_p):
        ax.set_xlabel("backup workers b (slowest gradients dropped per step)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "whatif_backup_workers.png"
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")
    return {
        "workers": args.workers,
        "backup_workers": backups,
        "sigmas": SIGMAS,
        "throughput": throughput,
        "relative_throughput": relative,
        "p99_step_s": p99,
        "best_backup_workers": best,
        "best_gain": gain,
        "figure": str(path),
    }


if __name__ == "__main__":
    main()
