"""Calibrate the simulator on this machine and check it: writes docs/calibration.md.

    python scripts/make_calibration_doc.py                     # about 5 minutes on 2 cores
    python scripts/make_calibration_doc.py --lock /tmp/tinygrad_measure.lock
    python scripts/make_calibration_doc.py --quick --out /tmp/calibration.md   # a smoke run

Runs ``tinygrad-opt calibrate`` (:func:`tinygrad_opt.distributed.calibrate.calibrate`:
adding, collective sweeps, contention probe, a few training steps at one rank, in
rounds), writes the cluster file, and between the calibration's rounds times separate,
longer training runs of every model size, mode and rank count
(:class:`~tinygrad_opt.distributed.calibrate.CheckRuns`), which it compares with what the
simulator predicts from the file, as ``tinygrad-opt whatif --config`` does. Nothing in
the predictions is taken from those runs. ``--lock PATH`` holds an exclusive ``flock``
on PATH for the whole run, so that nothing else on the machine is timed at the same
moment.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import pathlib
import platform
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinygrad_opt.cli.calibrate import int_list, size_list  # noqa: E402
from tinygrad_opt.cluster.units import format_bandwidth, format_bytes  # noqa: E402
from tinygrad_opt.distributed import calibrate as cb  # noqa: E402

TOLERANCE = 0.15


@contextlib.contextmanager
def locked(path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.3g}"


def count(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def size(nbytes: float) -> str:
    return format_bytes(nbytes).replace(" ", "\u00a0")


# ============================================================================ sections
def results_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| model | mode | ranks | predicted (ms) | measured (ms) | each run (ms) | error | "
        f"within ±{TOLERANCE:.0%} |",
        "|---:|---|---:|---:|---:|---|---:|:---:|",
    ]
    for r in rows:
        runs = ", ".join(ms(x) for x in r["runs_s"])
        ok = "yes" if abs(r["error"]) <= TOLERANCE else "**no**"
        out.append(
            f"| {count(r['parameters'])} | {r['mode']} | {r['ranks']} | {ms(r['predicted_s'])} "
            f"| {ms(r['measured_s'])} | {runs} | {r['error']:+.1%} | {ok} |"
        )
    return "\n".join(out)


def phases_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| model | mode | ranks | predicted: compute / wait / comm / update (ms) | "
        "measured, per role: compute / wait / comm+send+recv / update (ms) |",
        "|---:|---|---:|---|---|",
    ]
    for r in rows:
        p = r["predicted_phases"]
        pred = " / ".join(ms(p[k]) for k in ("compute", "wait", "comm", "update"))
        if p.get("sum", 0.0) > 0:  # the server's adding, inside comm
            pred += f" (comm: {ms(p['sum'])} of it adding)"
        parts = []
        for role, m in sorted(r["measured_phases"].items()):
            moved = m["comm"] + m["send"] + m["recv"]
            parts.append(
                f"{role}: {ms(m['compute'])} / {ms(m['wait'])} / {ms(moved)} / {ms(m['update'])}"
            )
        out.append(
            f"| {count(r['parameters'])} | {r['mode']} | {r['ranks']} | {pred} | "
            f"{'; '.join(parts)} |"
        )
    return "\n".join(out)


def fitted_table(cal: cb.Calibration) -> str:
    multi = ", ".join(str(k) for k in cal.ranks if k > 1)
    sizes = " and ".join(count(p) for p in cal.sizes)
    return "\n".join([
        "| quantity | TOML key | value | measured by |",
        "|---|---|---:|---|",
        f"| latency α | `intra_latency` (= `latency`) | {us(cal.latency_s)} µs | "
        f"least squares over the all-reduce and gather+sum+broadcast sweeps on {multi} ranks, "
        "their adding at R taken out |",
        f"| bandwidth B | `intra_bandwidth` (= `bandwidth`) | "
        f"{format_bandwidth(cal.bandwidth)} ({cal.bandwidth / 1e9:.3g} GB/s) | the same fit |",
        *([f"| reduce bandwidth R | `reduce_bandwidth` | {format_bandwidth(cal.reduce_bandwidth)} "
           f"({cal.reduce_bandwidth / 1e9:.3g} GB/s) | one rank adding float32 arrays of the "
           "sweep's sizes from 64 KiB (`np.add(a, b, out=a)`, large ones out of the cache): "
           f"{reduce_points(cal)} |"] if cal.reduce_bandwidth else []),
        f"| effective cores c | `cores_per_node` | {cal.cores_per_node:.3g} (of {cal.cpus} CPUs) | "
        f"slow-down of concurrent forward+backward passes, {sizes} parameters |",
        f"| memory streams m | `memory_streams_per_node` | {cal.memory_streams_per_node:.3g} | "
        "slow-down of concurrent Adam updates, the same sizes |",
        f"| last-level cache | `cache_bytes_per_node` | {size(cal.cache_bytes_per_node)} | "
        "read from `/sys/devices/system/cpu/cpu0/cache` |",
        f"| compute spread σ | `[cluster.compute] sigma` | {cal.sigma:.3g} | log-std of the "
        "per-step compute times at 1 rank (median over sizes and modes) |",
        f"| turn time τ | `turn_time` | {turn_values(cal)} | "
        + ("turn probe on the most ranks (below): each model's own steps synchronised by "
           "64-byte messages, minus the simulator's step for that loop without turns |"
           if cal.turn_probe else "no rank count above the cores: not measured |"),
    ])  # fmt: skip


def reduce_points(cal: cb.Calibration) -> str:
    picks = [r for r in cal.reduce_rows if r[0] >= 2**16]
    picks = [picks[0], picks[len(picks) // 2], picks[-1]] if len(picks) > 3 else picks
    return ", ".join(f"{size(m)} in {ms(t)} ms" for m, t in picks)


def workloads_table(cal: cb.Calibration) -> str:
    out = [
        "| model | layers | mode | compute per step (ms) | update time (ms) | σ |",
        "|---:|---|---|---:|---:|---:|",
    ]
    for w in sorted(cal.workloads.values(), key=lambda w: (w["parameters"], w["mode"])):
        out.append(
            f"| {count(w['parameters'])} | {cb.mlp_sizes(w['parameters'])} | {w['mode']} | "
            f"{ms(w['compute_time_per_step'])} | {ms(w['update_time'])} | {w['sigma']:.3g} |"
        )
    return "\n".join(out)


def sweep_table(cal: cb.Calibration) -> str:
    fit = cal.sweep_fit()
    ranks = sorted({r["ranks"] for r in fit})
    cols = [(kind, k) for kind in cb.MODES for k in ranks]
    index = {(r["kind"], r["ranks"], r["bytes"]): r for r in fit}
    head = "| message | " + " | ".join(f"{kind}, {k} ranks" for kind, k in cols) + " |"
    out = [head, "|---:|" + "---:|" * len(cols)]
    for nbytes in sorted({r["bytes"] for r in fit}):
        cells = []
        for kind, k in cols:
            r = index.get((kind, k, nbytes))
            cells.append("" if r is None else f"{ms(r['measured_s'])} / {ms(r['fitted_s'])}")
        out.append(f"| {size(nbytes)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def contention_table(cal: cb.Calibration) -> str:
    alone = {c["parameters"]: c for c in cal.contention if c["ranks"] == 1}
    out = [
        "| model | ranks | compute slow-down: measured / model "
        "| update slow-down: measured / model |",
        "|---:|---:|---:|---:|",
    ]  # fmt: skip
    for c in cal.contention:
        if c["ranks"] == 1:
            continue
        base = alone[c["parameters"]]
        node = cb._node(c["ranks"], cal.cores_per_node, cal.memory_streams_per_node,
                        cal.cache_bytes_per_node)  # fmt: skip
        upd_model = node.update_slowdown(cb.ADAM_BYTES_PER_PARAM * c["parameters"])
        out.append(
            f"| {count(c['parameters'])} | {c['ranks']} | "
            f"{c['compute_s'] / base['compute_s']:.2f} / {node.oversubscription:.2f} | "
            f"{c['update_s'] / base['update_s']:.2f} / {upd_model:.2f} |"
        )
    return "\n".join(out)


def measured_parts(r: dict[str, Any]) -> tuple[float, float, float]:
    """(compute, update, the rest) of a measured step: compute of the slowest role, the
    update of the rank that updates (every rank, or the server, whose update includes
    adding up the gradients), the rest is waiting and moving bytes."""
    roles = r["measured_phases"]
    compute = max(m["compute"] for m in roles.values())
    update = max(m["update"] for m in roles.values())
    return compute, update, r["measured_s"] - compute - update


def noise_floor(rows: list[dict[str, Any]]) -> str:
    ones = [r for r in rows if r["ranks"] == 1]
    if not ones:
        return ""
    worst = max(abs(r["error"]) for r in ones)
    spread = max(max(r["runs_s"]) / min(r["runs_s"]) - 1 for r in rows)
    return (
        "The 1-rank rows measure the noise, not the model: their prediction is the "
        "calibration's own measurement of compute plus update, so their errors (at most "
        f"{worst:.0%} here) are how much this machine's speed moved between the "
        "calibration and the runs. The runs of one configuration differ among "
        f"themselves by up to {spread:.0%}."
    )


def misses(cal: cb.Calibration, rows: list[dict[str, Any]]) -> str:
    bad = [r for r in rows if abs(r["error"]) > TOLERANCE]
    if not bad:
        return f"Every configuration is within ±{TOLERANCE:.0%}. {noise_floor(rows)}"
    lines = [noise_floor(rows), "",
             f"{len(bad)} of {len(rows)} configurations miss ±{TOLERANCE:.0%}:", ""]  # fmt: skip
    for r in bad:
        spread = max(r["runs_s"]) / min(r["runs_s"]) - 1
        compute, update, rest = measured_parts(r)
        p = r["predicted_phases"]
        added = p.get("sum", 0.0)  # the server's adding: in its measured update
        why = [
            f"measured compute {ms(compute)} ms (predicted {ms(p['compute'])}), update "
            f"{ms(update)} ({ms(p['update'] + added)}), waiting and moving bytes {ms(rest)} "
            f"({ms(p['wait'] + p['comm'] - added)})"
        ]
        if r["ranks"] > cal.cpus:
            why.append(f"{r['ranks']} ranks on {cal.cpus} CPUs (see below)")
        if spread > TOLERANCE:
            why.append(f"its runs differ by {spread:.0%} among themselves")
        lines.append(
            f"- {count(r['parameters'])}, {r['mode']}, {r['ranks']} ranks: predicted "
            f"{ms(r['predicted_s'])} ms, measured {ms(r['measured_s'])} ms "
            f"({r['error']:+.0%}); {'; '.join(why)}."
        )
    return "\n".join(lines)


def turn_values(cal: cb.Calibration) -> str:
    if not cal.turn_probe:
        return "0"
    return ", ".join(
        f"{ms(tp['turn_time_s'])} ms ({count(int(key.split('/')[0]))} {key.split('/')[1]})"
        for key, tp in sorted(cal.turn_probe.items(), key=lambda kv: kv[0].split("/")[::-1])
    )


def turn_probe_text(cal: cb.Calibration) -> str:
    if not cal.turn_probe:
        return ""
    first = next(iter(cal.turn_probe.values()))
    k, m = first["ranks"], first["message_bytes"]
    rows = [
        f"| model | mode | alone: compute / update (ms) | on {k} ranks: compute / update (ms) "
        "| steps | step per round (ms) | predicted without turns (ms) | τ per round (ms) | "
        "τ (ms) |",
        "|---:|---|---|---|---:|---|---:|---|---:|",
    ]
    for key, tp in sorted(cal.turn_probe.items(), key=lambda kv: int(kv[0].split("/")[0])):
        p, mode = key.split("/")
        a = tp["alone"]
        rows.append(
            f"| {count(int(p))} | {mode} | {ms(a['compute_s'])} / {ms(a['update_s'])} | "
            f"{ms(tp['compute_s'])} / {ms(tp['update_s'])} | {tp['iterations']} | "
            f"{', '.join(ms(x) for x in tp['runs_s'])} | "
            f"{ms(tp['predicted_without_turn_s'])} | "
            f"{', '.join(ms(x) for x in tp['turn_times_s'])} | {ms(tp['turn_time_s'])} |"
        )
    table = "\n".join(rows)
    return f"""\
### Turn probe

For every model size and mode, one MPI job of {k} ranks, {times(first["rounds"])}. First
each rank in turn trains the model alone, with no messages, while the others sleep: its
compute and update times alone. Then all {k} train at once as in that mode, except that
every message is {m} bytes long: in `allreduce` forward+backward, `Barrier` and a
{m}-byte `Allreduce`, the Adam update; in `ps` forward+backward, a {m}-byte message to
rank 0, which runs the Adam update and answers each rank with {m} bytes. The simulator,
with everything else fitted and the times alone (the mean over the ranks), predicts the
crowded loop's step without the turn term; that round's τ is what the measured step
took beyond it (never below 0), and `turn_time` is the median over the rounds. Both
parts run in the same processes because this machine's speed changes from process to
process (see the end of this page), which would otherwise go into τ twice over. The
compute and update times in the crowded loop are wall times of those phases on each
rank, turns included (medians over the rounds):

{table}
"""


def oversubscription_text(cal: cb.Calibration, rows: list[dict[str, Any]]) -> str:
    over = [r for r in rows if r["ranks"] > cal.cpus]
    if not over:
        return ""
    bad = [r for r in over if abs(r["error"]) > TOLERANCE]
    if cal.turn_probe:
        short = min(cal.turn_probe.items(), key=lambda kv: kv[1]["alone"]["compute_s"])
        key, tp = short
        share = tp["turn_time_s"] / tp["step_s"] if tp["step_s"] > 0 else 0.0
        term = (
            f"In this generation the turns cost the {count(int(key.split('/')[0]))} model "
            f"({key.split('/')[1]}) {ms(tp['turn_time_s'])} ms per step, {share:.0%} of its "
            f"probe's step on {tp['ranks']} ranks."
        )
    else:
        term = "The turn time was not measured (no rank count above the cores) and is 0."
    verdict = (
        f"With it, every oversubscribed configuration is within ±{TOLERANCE:.0%}."
        if not bad
        else f"{len(bad)} oversubscribed configuration(s) still miss ±{TOLERANCE:.0%} "
        "(listed above)."
    )
    return f"""\
**Short steps on oversubscribed cores: the turn time.** With more ranks than cores the
kernel runs the ranks in turns. Processor sharing (every rank runs `c/d` of the time, so
its CPU work takes `d/c` times longer) is right for work that is long compared with the
scheduler's time slice (of the order of a millisecond on Linux), and wrong for steps of
about a time slice or less: at every synchronisation a rank whose peers' messages have
arrived may wait for a core while another rank computes or polls there (MPI ranks poll
while they wait; with more ranks than CPUs `tinygrad-opt launch` and the calibration
jobs throttle MPICH's polling so that a waiting rank sleeps a microsecond now and then,
which helped the parameter server most, 5.1-6.7 -> 2.0-2.2 ms per step of the 0.1M
model on 4 ranks in a direct test, but does not remove the turns). In a trace of the
0.1M-parameter all-reduce at 4 ranks the ranks took turns in pairs: two computed while
the other two waited, and each rank's compute and update took 1.1-1.3 times longer per
phase than alone, although the same work run without synchronising (the contention
probe) slows down by exactly the processor-sharing factor. The simulator's term for
this is `turn_time` (τ, *Turn probe* below): every step on a node with more ranks than
whole cores waits τ longer. {term} {verdict}

How much is lost depends on the work between synchronisations, so τ is measured per
model size and mode, with the model's own steps and tiny messages (the messages' cost is
the fitted all-reduce's). An earlier probe measured one τ for every model with a
cache-resident computation (products of a 64×64 matrix, 0.4 ms) instead of the model's
steps: on 4 ranks it lost 0.06-0.26 ms per step against processor sharing, where the
0.1M model's own steps synchronised by the same 64-byte all-reduce lost 0.7-1.0 ms
(measured back to back), and the 0.1M rows at 4 ranks were predicted 16-34% too fast.
The practical advice stays the usual one: do not run more ranks than cores when steps
are short.
"""


def render(cal: cb.Calibration, rows: list[dict[str, Any]], toml: str, seconds: float,
           command: str) -> str:  # fmt: skip
    ok = sum(abs(r["error"]) <= TOLERANCE for r in rows)
    steps = sorted({(r["parameters"], r["steps"]) for r in rows})
    runs = len(rows[0]["runs_s"]) if rows else 0
    text = f"""# Calibrating the simulator against real MPI runs

`tinygrad-opt calibrate` measures this machine with short MPI jobs, fits the
simulator's parameters ([cluster.md](cluster.md)) and writes a cluster file for
`tinygrad-opt whatif --config`. This page checks the fit: with that file the simulator
predicts the mean step time of separate, longer training runs
([distributed.md](distributed.md)) for every model size, mode and rank count. Nothing
in the predictions comes from those runs.

Generated by `{command}` in {seconds:.0f} s (of which calibrating: {cal.seconds:.0f} s)
on `{cal.host}`: {cal.cpus} CPUs, Python {platform.python_version()}, numpy with one
BLAS thread per rank. The numbers differ from machine to machine, and a little from run
to run.

```bash
tinygrad-opt calibrate --ranks 1,2,4 --sizes 0.1M,5M --out cluster.toml   # ~{cal.seconds:.0f} s
tinygrad-opt calibrate --check ...     # also time training runs between its rounds: the table below
tinygrad-opt whatif --config cluster.toml --devices-per-node 1,2,4,8
```

## Predicted against measured

Mean step time (the trace's step-to-step time after 3 warm-up steps) of training an MLP
with Adam on float32, 32 examples per rank per step. `allreduce`: the core's all-reduce
mode (a barrier, `MPI.Allreduce`, every rank updates), simulated as a ring all-reduce;
`ps`: one parameter server colocated with rank 0, simulated as `ps` with one colocated
shard. Each configuration ran {times(runs)}, interleaved with the others
({", ".join(f"{count(p)}: {s} steps" for p, s in steps)}), and the rounds of runs went
between the calibration's {cal.rounds} rounds (`CheckRuns`), so that calibration and
runs saw this machine over the same minutes: its speed drifts by tens of percent within
minutes, and runs made after the calibration measured the drift as much as the model
(in a generation that ran them afterwards, all 12 errors had the same sign). *measured*
is the median of the runs' means (the calibration's numbers are medians over its rounds
too: a run that landed on a slow process moves neither). **{ok} of {len(rows)} are within
±{TOLERANCE:.0%}.**

{results_table(rows)}

{misses(cal, rows)}

{oversubscription_text(cal, rows)}

Where the time goes, as the simulator splits it and as the traces measured it (means per
step; in `ps` mode rank 0 is `worker+server`, its wait is for the workers' gradients,
and the workers' `recv` is the push, the server's update and the pull):

{phases_table(rows)}

## What was measured and fitted

{fitted_table(cal)}

Per model size and mode, from at least {cal.steps} training steps and 0.25 s of training
at one rank, in a process of its own, {times(cal.rounds)} (the medians; every job of the
calibration ran {times(cal.rounds)}, interleaved, and every number here is the median
over those rounds, as the speed of this machine changes from process to process); the
update time is everything after the compute: the all-reduce's division by the number of
ranks, or the server's averaging and copies, and the Adam step:

{workloads_table(cal)}

### The model

One step on `d` ranks of one machine with `c` effective cores, as the simulator computes
it (`simulate.py`, `ClusterSpec.update_slowdown`, `communication.py`):

```
step     = E[max over ranks of compute] + τ_d + sync + update
compute  = t_compute · s · X,   s = max(1, d/c),   X lognormal with log-std σ, mean 1
τ_d      = turn_time if d > ceil(c) (more ranks than cores; waiting), else 0
sync     = ring all-reduce: s · [2(d−1)·α + 2(d−1)/d · M/B + (d−1)/d · M/R]
           parameter server: push + sum + pull = 2α + 2(d−1)·M/B + s·(d−1)·M/R
                             (one server: its messages are not slowed, its adding is)
update   = t_update · s · max(1, k/m)   after an all-reduce, k = min(d, c) updates at once,
                                        if their data k·W do not fit in the cache together
           t_update · s                 otherwise, and on the server (k = 1)
W        = 16 bytes per parameter: weights, gradient, two Adam moments
```

`M` is the gradient (4 bytes per parameter), `R` the reduce bandwidth (adding
gradients: the all-reduce adds `(d−1)/d` of one, the server `d−1` whole ones, which in
the traces is part of its update). Processor sharing (`s`) also slows the
all-reduce, whose copies every rank makes at every step through shared memory; a
parameter-server exchange is paced by one process, the server, taking the messages one
after another, and is not slowed. The sweep tables below show both. `τ_d` is the
waiting for a turn on a core around the synchronisation when ranks outnumber the cores
(counted in the predicted `wait`), measured for each model size and mode by the turn
probe below.

{turn_probe_text(cal)}
### Collective sweep

Mean time in ms of one exchange (the slowest rank, after a barrier): measured / fitted
formula. Between two exchanges every rank computes a little, untimed (two products of
256×256 float32 matrices, about 0.8 ms on one thread), as training computes between two
synchronisations: on this machine a 400 kB all-reduce on 2 ranks took up to twice as
long right after a computation as back to back, and the training runs' all-reduces
took the longer time. Not with more ranks than CPUs, where the ranks would take turns
on the cores around every exchange (the turn probe measures that). The all-reduce is
timed as the core runs it (`Barrier`, then `Allreduce`); the
parameter-server pattern is: every rank sends its buffer to rank 0, which adds them up
(`d − 1` additions, as the server's averaging in training) and sends the sum back to
each; the fitted formula includes that adding at `R`. Large buffers rotate through
copies larger than twice the cache, so they are cold as in training.

{sweep_table(cal)}

### Contention probe

Every rank trains the same model at the same time without communicating; slow-down of
its forward+backward pass and of its Adam update against one rank, measured and as
fitted:

{contention_table(cal)}

## The cluster file

```toml
{toml.rstrip()}
```

## Measurements are kept

`calibrate` checks its outputs before it measures anything: `--out` must end in `.toml`,
`--json` and `--raw` in `.json`, each in an existing folder where a file can be created
(exit code 2 and one line otherwise, nothing measured or written). The raw measurements
(every job's result, as returned) go to `--raw` (default beside `--out`:
`cluster.toml` → `cluster.raw.json`), written atomically after every job and once more on
a failure or Ctrl-C, before anything is fitted. A failed job (exit 1), an interrupt
(exit 130), a failed fit or a failed write of the TOML file leaves that file and names it;
`tinygrad-opt calibrate --from-raw cluster.raw.json --out cluster.toml` fits it again
without measuring (only whole rounds are fitted).

Where the parts are:

- `tinygrad_opt.cli.calibrate`: the flags, the output checks, the report;
- `tinygrad_opt.distributed.calibrate`: starting the MPI jobs (`run_job`), the rounds
  (`measure`, `calibrate`); `tinygrad_opt.distributed.calibration_check`: the check runs
  (`CheckRuns`);
- `tinygrad_opt.distributed.probes`: the probes inside the jobs (`time_reduce`,
  `sweep_collectives`, `probe_contention`, `probe_turns`, `measure_training`);
- `tinygrad_opt.cluster.calibration_fits`: the fits, no MPI (`fit_latency_bandwidth`,
  `fit_reduce_bandwidth`, `fit_effective_cores`, `fit_memory_streams`,
  `fit_lognormal_sigma`, `fit_turn_time`, and all of them: `fit_calibration`);
- `tinygrad_opt.cluster.calibration`: the result (`Calibration`), its settings
  (`settings_for`) and predictions (`predict`);
- `tinygrad_opt.cluster.toml_io`: writing the file (`to_toml`, `write_toml`), beside
  `tinygrad_opt.cluster.config`, which reads it.

## Reading the numbers

- Every job runs with one BLAS thread per rank (`OMP_NUM_THREADS=1` and the like). With
  the default (one thread per core in every rank) two ranks of the 0.1M model took over
  20× longer per step on this machine: the BLAS threads of all ranks and the ranks' MPI
  polling fight for the same two cores.
- The fit is a model, not a lookup: one latency and one bandwidth for all message
  sizes and both patterns, two contention numbers for all model sizes. Where the sweep
  table shows the fitted formula off by tens of percent at some sizes (the cache makes
  mid-sized messages cheaper per byte than large ones), predictions for gradients of
  those sizes inherit that error.
- A busy machine moves the measurements: other processes on it slow the runs and the
  calibration alike. Time things alone (`--lock`).
- The speed of this virtual machine changes from process to process with nothing else
  running, each process steady within its own run, and the 5M model's one-rank step has
  been 24 ms on one day and 35 ms on another. Thirty back-to-back one-rank jobs of the
  0.1M model: 0.65 to 1.11 ms per step, median 0.95, standard deviation 13% of the mean.
  Hence the rounds: every calibration job runs {times(cal.rounds)} and each number is
  the median, and every configuration is checked by {runs} runs. What is left shows in
  the 1-rank rows (the noise, see above); the rows with more ranks cannot be expected to
  be closer than that.
- The speed also drifts within minutes: twelve one-rank jobs of the 0.1M model in a row
  went from about 0.85 to 0.65 ms per step. Hence the check runs go between the
  calibration's rounds, and the turn probe runs in every round. Three generations on
  2026-12-06 with the adding term: check runs after the calibration, 8 of 12 within
  ±15% and all 12 errors negative (the machine had slowed down); check runs between the
  rounds, 9 of 12 (the 0.1M rows at 4 ranks −22% and −15%, τ from one probe after the
  rounds); the turn probe in every round as well, 12 of 12 (this page), and 12 of 12
  again in the next generation, on a machine running 10-20% slower (worst row: 0.1M
  all-reduce on 4 ranks, −14.4%). The 0.1M rows at 4 ranks remain the most fragile:
  one probe's crowded step moved from 1.9 to 3.0 ms within half an hour.
"""
    return reflow(text)


def reflow(markdown: str, width: int = 88) -> str:
    """Re-wrap prose paragraphs and list items (numbers were filled in after wrapping);
    tables, code blocks and headings are left alone."""
    out, fenced = [], False
    for block in markdown.split("\n\n"):
        if block.count("```") % 2:
            fenced = not fenced
            out.append(block)
            continue
        if fenced or not block.strip() or block.lstrip()[0] in "|#`":
            out.append(block)
            continue
        if block.startswith("- "):
            items = ("\n" + block).split("\n- ")[1:]
            indent = {"initial_indent": "- ", "subsequent_indent": "  "}
            fill = [
                textwrap.fill(" ".join(i.split()), width, break_on_hyphens=False, **indent)
                for i in items
            ]
            out.append("\n".join(fill))
        else:
            out.append(textwrap.fill(" ".join(block.split()), width, break_on_hyphens=False))
    return "\n\n".join(b for b in out if b.strip()) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "calibration.md"))
    ap.add_argument("--toml", default=None, help="also keep the cluster file here")
    ap.add_argument("--json", default=None, help="also write every number as JSON")
    ap.add_argument("--from-json", default=None, help="re-render a --json file, measure nothing")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--sizes", default="0.1M,5M")
    ap.add_argument("--repeats", type=int, default=5, help="runs per configuration (5)")
    ap.add_argument("--rounds", type=int, default=5, help="calibration rounds (5)")
    ap.add_argument("--quick", action="store_true", help="a rough, fast run (smoke test)")
    ap.add_argument("--lock", default=None, help="flock this file for the whole run")
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(f"make_calibration_doc: {msg}", file=sys.stderr, flush=True)

    if args.from_json:
        data = json.loads(pathlib.Path(args.from_json).read_text())
        cal, rows = cb.Calibration.from_dict(data["calibration"]), data["runs"]
        seconds, command, toml = data["seconds"], data["command"], data["toml"]
    else:
        ranks, sizes = int_list(args.ranks), size_list(args.sizes)
        command = "python scripts/make_calibration_doc.py" + (" --quick" if args.quick else "")
        with locked(args.lock), tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            # the check runs go between the calibration's rounds: both then sample this
            # machine's drifting speed over the same minutes
            check = cb.CheckRuns(ranks, repeats=1 if args.quick else args.repeats,
                                 seconds=0.3 if args.quick else 1.0, log=say)  # fmt: skip
            cal = cb.calibrate(ranks=ranks, sizes=sizes, quick=args.quick, log=say,
                               rounds=args.rounds, after_round=check)  # fmt: skip
            toml_path = cb.write_toml(cal, args.toml or pathlib.Path(tmp) / "cluster.toml")
            rows = check.rows(cal, toml_path)
            seconds = time.perf_counter() - t0
            toml = toml_path.read_text()
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(cal, rows, toml, seconds, command))
    if args.json:
        everything = {"calibration": cal.to_dict(), "runs": rows, "seconds": seconds,
                      "command": command, "toml": toml}  # fmt: skip
        pathlib.Path(args.json).write_text(json.dumps(everything, indent=1))
    print(cb.format_table(rows))
    print(f"wrote {out} ({seconds:.0f} s of measuring)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
