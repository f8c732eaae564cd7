"""Writing cluster files: settings dictionaries as TOML, and the calibrated cluster file.

The other half of :mod:`tinygrad_opt.cluster.config`, which reads them: :func:`to_toml`
writes a settings dictionary (tables of scalars and lists, one nested level) that
``load_toml`` reads back unchanged; :func:`toml_text` / :func:`write_toml` the file
``tinygrad-opt calibrate`` writes for ``tinygrad-opt whatif --config`` (one node, the
fitted link, cores, memory streams and turn time, the largest calibrated model as
``[workload]``, the others as ``whatif`` flags in the comments). Files are written
atomically (:func:`write_text_atomic`): a reader sees the old file or the new one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.atomic_io import write_text_atomic
from tinygrad_opt.cluster.calibration import Calibration, _sig, scheme_settings, settings_for

__all__ = ["to_toml", "toml_text", "write_text_atomic", "write_toml"]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v!r} to TOML")
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def to_toml(settings: dict[str, Any], comments: dict[str, str] | None = None) -> str:
    """TOML text of a settings dictionary: tables of scalars and lists, nested tables as
    ``[section.table]``; ``None`` values (defaults) are left out.

    ``comments`` maps ``"section.key"`` (or ``"section.table.key"``) to a comment written
    after that line.
    """
    comments = comments or {}

    def lines(path: str, body: dict[str, Any]) -> list[str]:
        out = [f"[{path}]"]
        for k, v in body.items():
            if isinstance(v, dict) or v is None:  # None: the default, left out
                continue
            text = f"{k} = {_toml_value(v)}"
            note = comments.get(f"{path}.{k}")
            out.append(f"{text:<44} # {note}" if note else text)
        for k, v in body.items():
            if isinstance(v, dict):
                out += ["", *lines(f"{path}.{k}", v)]
        return out

    blocks = ["\n".join(lines(name, body)) for name, body in settings.items()]
    return "\n\n".join(blocks) + "\n"


def toml_text(cal: Calibration, mode: str = "allreduce") -> str:
    """The calibrated cluster file: ``[workload]`` holds the largest model in ``mode``."""
    from tinygrad_opt.cluster.units import format_bandwidth, format_bytes, format_duration

    settings = settings_for(cal, max(cal.sizes), mode)
    cache = format_bytes(cal.cache_bytes_per_node)
    comments = {
        "cluster.nodes": "every rank on this machine",
        "cluster.devices_per_node": "MPI ranks; --devices-per-node 8 for more",
        "cluster.bandwidth": "unused with one node (= intra_bandwidth)",
        "cluster.latency": "unused with one node (= intra_latency)",
        "cluster.intra_bandwidth": f"{format_bandwidth(cal.bandwidth)}: fitted, bytes/s",
        "cluster.intra_latency": f"{format_duration(cal.latency_s)}: fitted, seconds",
        "cluster.cores_per_node": f"effective cores (of {cal.cpus} CPUs): fitted",
        "cluster.memory_streams_per_node": "updates at full memory speed at once: fitted",
        "cluster.cache_bytes_per_node": f"last-level cache, {cache}",
        "cluster.reduce_bandwidth": f"{format_bandwidth(cal.reduce_bandwidth or 0.0)}: "
        "measured, one rank adding arrays",
        "cluster.turn_time": f"{format_duration(settings['cluster']['turn_time'])}"
        + (f" per step with > {math.ceil(cal.cores_per_node - 1e-9)} ranks: turn probe"
           " of this [workload]" if cal.turn_probe
           else ": no turn probe (no rank count above the cores)"),
        "cluster.compute.sigma": "log-std of the compute time per step: fitted",
        "workload.compute_time_per_step": format_duration(
            settings["workload"]["compute_time_per_step"]
        ),
        "workload.update_time": format_duration(settings["workload"]["update_time"]),
    }  # fmt: skip
    multi = ", ".join(str(k) for k in cal.ranks if k > 1)
    head = [
        f"# Calibrated by `tinygrad-opt calibrate` on {cal.host or 'this machine'} "
        f"({cal.cpus} CPUs) in {cal.seconds:.0f} s, {time.strftime('%Y-%m-%d %H:%M')}.",
        "# MPI ranks with one BLAS thread each (OMP_NUM_THREADS=1 ...). Measured and fitted:",
        "#   reduce_bandwidth: one rank adding float32 arrays (np.add, out of the cache);",
        "#   intra_latency, intra_bandwidth: least squares of the simulator's formulas over",
        f"#     Barrier+Allreduce and gather+sum+broadcast sweeps on {multi} ranks (their",
        "#     adding, at reduce_bandwidth, taken out first);",
        "#   cores_per_node, memory_streams_per_node: slow-down of concurrent forward+backward",
        "#     passes and Adam updates against one rank;",
        "#   compute time, update time, sigma: training steps at 1 rank;",
        "#   turn_time: waiting for turns on the cores per step with more ranks than cores:",
        "#     on the most ranks, the model's own training steps synchronised by 64-byte",
        "#     messages, minus the simulator's step for that loop without turns; it depends",
        "#     on the work between synchronisations, so each workload has its own (below).",
        "#",
        "#   tinygrad-opt whatif --config THIS.toml",
        "#   tinygrad-opt whatif --config THIS.toml --devices-per-node 1,2,4,8",
        "#",
        "# The calibrated workloads as whatif flags ([workload] below: the largest, allreduce):",
    ]
    for w in sorted(cal.workloads.values(), key=lambda w: (w["parameters"], w["mode"])):
        scheme = scheme_settings(w["mode"])
        flags = f"--scheme {scheme['name']}"
        if w["mode"] == "ps":
            flags += " --ps-placement colocated"
        head.append(
            f"#   --params {w['parameters']} --compute-time "
            f"{_sig(w['compute_time_per_step'], 4)}s --update-time {_sig(w['update_time'], 4)}s "
            f"--turn-time {_sig(w.get('turn_time', 0.0), 4)}s {flags}"
        )
    return "\n".join(head) + "\n\n" + to_toml(settings, comments)


def write_toml(cal: Calibration, path: str | Path, mode: str = "allreduce") -> Path:
    """Write :func:`toml_text` to ``path``, atomically (directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, toml_text(cal, mode))
