"""``tinygrad-opt validate``: predict published (or your own) cluster measurements.

    tinygrad-opt validate                          # the shipped points (docs/validation.md)
    tinygrad-opt validate --data mine.toml         # records in the same format
    tinygrad-opt validate --data mine.toml --json  # one JSON object
    tinygrad-opt validate --spread 0.05            # another compute-time spread than the fitted one
    tinygrad-opt validate --out validation.png     # also the predicted-vs-measured plot
    tinygrad-opt validate --explain ID > ID.toml   # one record's simulator inputs, as a
                                                   # cluster file for `whatif --config`

Every record (docs/validation-data.md gives the format) is turned into simulator inputs
by the fixed rules of :func:`tinygrad_opt.cluster.published.simulator_inputs` and its
scaling efficiency predicted; the command prints one row per record (measured,
predicted, error in points), the median and 90th-percentile |error|, and the orderings:
the worst-scaling model per table and GPU count, parameter server against all-reduce per
``compare_group``; and a ``reading:`` line wherever a record could mean something else
(:func:`tinygrad_opt.cluster.published.readings`). A file of your own may leave out what
no rule reads (:func:`tinygrad_opt.cluster.published_data.complete` fills it in and a
note on stderr says what). A malformed file exits with code 2 and one line naming the
record and the field, before anything is simulated.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

from tinygrad_opt.cli import FIGURE_SUFFIXES, UsageError, _check_output, _write, print_json

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``validate``."""
    p.add_argument(
        "--data",
        default=None,
        help="a TOML file of [source.*] tables and [[point]] records "
        "(default: the published measurements shipped with the package)",
    )
    p.add_argument(
        "--spread",
        default=None,
        help="compute-time spread a, 0 <= a < 1 (default: the fitted value, docs/validation.md)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument(
        "--out", default=None, help="also plot predicted against measured (.png, .pdf, .svg)"
    )
    p.add_argument(
        "--explain",
        default=None,
        metavar="ID",
        help="print the simulator inputs of record ID as a cluster file for `whatif --config`",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _spread(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        a = float(text)
    except ValueError:
        raise UsageError(f"--spread: expected a number, got {text!r}") from None
    if not (math.isfinite(a) and 0.0 <= a < 1.0):
        raise UsageError(f"--spread: must satisfy 0 <= a < 1, got {text}")
    return a


def _load(path: str | None) -> tuple[str, dict[str, Any], dict[str, int]]:
    """The checked data of ``--data`` (or the shipped file), the name to report it by and
    what :func:`~tinygrad_opt.cluster.published_data.complete` filled in (``--data``
    only: the shipped file gives every field)."""
    from tinygrad_opt.cluster import published, published_data
    from tinygrad_opt.cluster.config import tomllib

    name = str(published.DATA) if path is None else path
    try:
        data = published.load(published.DATA if path is None else path)
    except OSError as e:
        raise UsageError(f"--data: cannot read {name!r} ({e.strerror or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--data: {name!r} is not valid TOML ({e})") from None
    filled = {} if path is None else published_data.complete(data)
    try:
        published.check_data(data)
    except ValueError as e:
        raise UsageError(f"--data: {name}: {e}") from None
    return name, data, filled


def _predict(data: dict[str, Any], quiet: bool) -> list[dict[str, Any]]:
    """:func:`~tinygrad_opt.cluster.published.predict_all` with a progress bar; a record
    the simulator refuses is a usage error naming it."""
    from tqdm import tqdm

    from tinygrad_opt.cluster import published

    rows = []
    disable = True if quiet else None  # None: a bar only on a terminal
    for p in tqdm(data["point"], desc="predicting", unit="point", disable=disable, leave=False):
        with _refused(p["id"]):
            rows += published.predict_all({"point": [p]})
    return rows


@contextlib.contextmanager
def _refused(point_id: str) -> Iterator[None]:
    """A record the simulator refuses (a SpecError is a ValueError) is a usage error
    naming it."""
    try:
        yield
    except (ValueError, TypeError) as e:
        raise UsageError(f"point {point_id!r}: the simulator refuses it: {e}") from None


def _by_source(done: list[dict[str, Any]]) -> dict[str, tuple[int, float, float, float]]:
    """Per source, in order of appearance: (points, median |error|, 90th percentile,
    median signed error)."""
    import numpy as np

    from tinygrad_opt.cluster import published

    errs: dict[str, list[float]] = {}
    for r in done:
        errs.setdefault(str(r["p"]["source"]), []).append(r["err"])
    out = {}
    for key, e in errs.items():
        m, q = published.summary(e)
        out[key] = (len(e), m, q, float(np.median(e)))
    return out


def _explain(data: dict[str, Any], point_id: str, spread: float | None) -> int:
    """Print record ``point_id``'s simulator inputs (a ``whatif --config`` file) with its
    measured and predicted efficiency in comments."""
    from tinygrad_opt.cluster import published

    by_id = {p["id"]: p for p in data["point"]}
    if point_id not in by_id:
        near = [i for i in by_id if point_id.lower() in i.lower()][:5]
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        raise UsageError(f"--explain: no record with id {point_id!r}{hint}")
    p = by_id[point_id]
    missing = published.missing_inputs(p)
    if missing:
        raise UsageError(f"--explain: record {point_id!r} lacks {', '.join(missing)}")
    g, b = int(p["gpus"]), int(p["baseline_gpus"])
    with _refused(point_id), published.compute_spread(spread):
        pred = published.predict(p)
        text = published.inputs_toml(p)
        at_g, at_b = (published.simulated_efficiency(p, n) for n in (g, b))
    print(f"# simulator inputs of record {point_id!r} at {g} GPUs (tinygrad-opt validate)")
    print(
        f"# measured {_pct(p['efficiency'])}%, predicted {_pct(pred)}%: the efficiency of "
        f"this configuration at {g} GPUs over its efficiency at the baseline {b} GPU(s)"
    )
    print(
        f"# simulated efficiency {_pct(at_g)}% at {g} GPUs (what whatif prints for this file) "
        f"and {_pct(at_b)}% at {b}"
    )
    if int(p["nodes"]) == 1 and published.simulator_inputs(p)[0].nodes > 1:
        print(
            "# one machine: each GPU is simulated as a node of its own whose link is its "
            "intra-node link (intra_bandwidth_gbps)"
        )
    print("# reproduce: tinygrad-opt whatif --config THIS_FILE --samples 2048 --seed 0\n")
    print(text, end="")
    return 0


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _scheme(p: dict) -> str:
    """The scheme simulated for the record (``nccl``: NCCL ≥ 2.4's ring or trees per
    message), with ``*`` when it is simulated without overlap."""
    from tinygrad_opt.cluster import published

    name = p["scheme"] if p["scheme"] == "ps" else published.collective(p)
    return name + ("*" if p.get("overlap") is False else "")


def run(args: argparse.Namespace) -> int:
    """The ``validate`` command."""
    from tinygrad_opt.cluster import published, published_data

    spread = _spread(args.spread)
    _check_output("--out", args.out, FIGURE_SUFFIXES)
    name, data, filled = _load(args.data)
    if args.explain is not None:
        return _explain(data, args.explain, spread)
    with published.compute_spread(spread) as used:
        rows = _predict(data, args.quiet or args.json)
    if filled:  # once nothing can fail any more: an error stays one line
        said = ", ".join(f"{k} ({n})" for k, n in filled.items())
        print(f"note: filled in, as records leave them out: {said}", file=sys.stderr)
    done = [r for r in rows if r["err"] is not None]
    med, p90 = published.summary([r["err"] for r in done]) if done else (math.nan, math.nan)
    worst = published.worst_model_checks(rows)
    pairs = published.scheme_pair_checks(rows)
    written = None
    if args.out is not None and done:
        from tinygrad_opt.cluster.plots import plot_validation

        written = _write("--out", args.out, plot_validation, rows)
    if args.json:
        out = {
            "data": name,
            "filled_in": filled,
            "compute_spread": used,
            "points": [
                {
                    "id": r["p"]["id"],
                    "measured": r["p"]["efficiency"],
                    "predicted": r["pred"],
                    "error": r["err"],
                    "missing": published.missing_inputs(r["p"]),
                    "unknown_fields": published_data.unknown_fields(r["p"]),
                    "readings": published.readings(r["p"]),
                }
                for r in rows
            ],
            "predicted": len(done),
            "by_source": {
                k: {"points": n, "median_abs_error": m, "p90_abs_error": q, "median_error": b}
                for k, (n, m, q, b) in _by_source(done).items()
            },
            "figure": written,
            "median_abs_error": med if done else None,
            "p90_abs_error": p90 if done else None,
            "worst_model": worst,
            "scheme_pairs": [
                {k: v for k, v in c.items() if k not in ("ps", "allreduce")}
                | {"ps_id": c["ps"]["id"], "allreduce_id": c["allreduce"]["id"]}
                for c in pairs
            ],
        }
        print_json(out, indent=1)
        return 0
    width = max([len(r["p"]["id"]) for r in rows] + [5])
    sw = max([len(_scheme(r["p"])) for r in rows] + [12])
    head = f"{'scheme':<{sw}} {'GPUs':>5} {'measured':>9} {'predicted':>9} {'error':>6}"
    print(f"{'point':<{width}}  {head}")
    for r in rows:
        p = r["p"]
        err = "–" if r["err"] is None else f"{100 * r['err']:+.1f}"
        print(
            f"{p['id']:<{width}}  {_scheme(p):<{sw}} {p['gpus']:>5} {_pct(p['efficiency']):>9} "
            f"{_pct(r['pred']):>9} {err:>6}"
        )
    if any(r["p"].get("overlap") is False for r in rows):
        print("* simulated without overlap: the record's overlap = false")
    for r in rows:
        unknown = published_data.unknown_fields(r["p"])
        if unknown:
            print(f"{r['p']['id']}: unknown field(s) {', '.join(unknown)} ignored")
    read: dict[str, list[str]] = {}
    for r in rows:
        for line in published.readings(r["p"]):
            read.setdefault(line, []).append(str(r["p"]["id"]))
    for line, ids in read.items():
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        print(f"reading: {line} ({', '.join(ids[:3])}{more})")
    bare = [r["p"]["id"] for r in rows if published.model_profile(r["p"]) is None]
    if bare:
        print(
            f"{len(bare)} point(s) without a built-in model profile (model name unknown or "
            "parameters more than 5% off it): gradients as one even parameter count, "
            f"no per-tensor readiness or placement: {', '.join(bare[:5])}"
            + (" ..." if len(bare) > 5 else "")
        )
    for r in rows:
        if r["pred"] is None:
            missing = ", ".join(published.missing_inputs(r["p"]))
            print(f"{r['p']['id']}: not predicted, no {missing}")
    print(
        f"\n{len(done)} of {len(rows)} points predicted (compute spread {used:g}): median "
        f"|error| {100 * med:.1f} points, 90th percentile {100 * p90:.1f}"
    )
    by_source = _by_source(done)
    if len(by_source) > 1:
        print(f"\n{'source':<{width}}  {'points':>6} {'median':>7} {'p90':>6} {'signed':>7}")
        for key, (n, m, q, b) in by_source.items():
            print(f"{key:<{width}}  {n:>6} {100 * m:>7.1f} {100 * q:>6.1f} {100 * b:>+7.1f}")
    if worst:
        print(
            "\nworst-scaling model (per table and GPU count, ahead of the next by ... points; "
            "tie: measured within 3)"
        )
        for c in worst:
            print(
                f"  {c['source']} / {c['where']} / {c['gpus']} GPUs: measured {c['measured']} "
                f"(by {100 * c['gap']:.1f}), predicted {c['predicted']} "
                f"(by {100 * c['pred_gap']:.1f}): {c['verdict']}"
            )
    if pairs:
        print("\nparameter server against all-reduce (efficiencies PS / all-reduce, %)")
        for c in pairs:
            print(
                f"  {c['group']} / {c['gpus']} GPUs: measured {_pct(c['ps']['efficiency'])} / "
                f"{_pct(c['allreduce']['efficiency'])}, predicted {_pct(c['ps_pred'])} / "
                f"{_pct(c['allreduce_pred'])}: {c['verdict']}"
            )
    if written:
        print(f"\nwrote {written}")
    return 0
