"""Checks of predictions against published measurements: the error summary and the
orderings the issue asks for (which model scales worst per table and GPU count; parameter
server against all-reduce at equal hardware).

Each takes the rows of :func:`tinygrad_opt.cluster.published.predict_all`
(``{"p": record, "pred": predicted efficiency or None, "err": ...}``); two measured
efficiencies closer than :data:`TIE` do not order anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TIE", "scheme_pair_checks", "summary", "worst_model_checks"]


def summary(errs: list[float]) -> tuple[float, float]:
    """(median, 90th percentile) of the absolute errors (numpy's linear percentile)."""
    a = np.abs(np.asarray(errs))
    return float(np.median(a)), float(np.percentile(a, 90))


TIE = 0.03
"""Measured efficiencies closer than 3 points do not order two models (or two schemes)."""


def worst_model_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Which model scales worst, measured and predicted, per table (``source`` and
    ``where``) and GPU count with three or more models, one point each.

    Each check: ``source``, ``where``, ``gpus``, ``measured`` and ``predicted`` (the worst
    model of each), ``gap`` (measured efficiency of the next-worst minus the worst),
    ``pred_gap`` (the same of the predictions: how clearly the model picks its worst) and
    ``verdict``: ``"tie"`` when ``gap`` < :data:`TIE`, else ``"yes"`` or ``"no"``."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        if r["pred"] is None:
            continue
        p = r["p"]
        groups.setdefault((p["source"], p["where"], int(p["gpus"])), []).append(r)
    out = []
    for (src, where, g), rr in groups.items():
        models = {r["p"]["model"] for r in rr}
        if len(models) < 3 or len(rr) != len(models):
            continue
        by_meas = sorted(rr, key=lambda r: r["p"]["efficiency"])
        meas = by_meas[0]["p"]["model"]
        by_pred = sorted(rr, key=lambda r: r["pred"])
        pred = by_pred[0]["p"]["model"]
        gap = by_meas[1]["p"]["efficiency"] - by_meas[0]["p"]["efficiency"]
        pred_gap = by_pred[1]["pred"] - by_pred[0]["pred"]
        verdict = "tie" if gap < TIE else ("yes" if meas == pred else "no")
        out.append(
            {"source": src, "where": where, "gpus": g, "measured": meas, "predicted": pred,
             "gap": gap, "pred_gap": pred_gap, "verdict": verdict}
        )  # fmt: skip
    return out


def scheme_pair_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parameter server against all-reduce at equal hardware: every pair of points of one
    ``compare_group`` (same machines and software but the scheme) and GPU count.

    Each check: ``group``, ``model``, ``gpus``, the records ``ps`` and ``allreduce``, their
    predictions ``ps_pred`` and ``allreduce_pred``, ``better_measured`` and
    ``better_predicted`` (``"PS"`` or ``"all-reduce"``), ``gap`` (measured, absolute) and
    ``verdict``: ``"tie"`` when ``gap`` < :data:`TIE`, else ``"yes"`` or ``"no"``."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        p = r["p"]
        if r["pred"] is not None and "compare_group" in p:
            groups.setdefault((p["compare_group"], int(p["gpus"])), []).append(r)
    out = []
    for (group, g), rr in groups.items():
        for a in (r for r in rr if r["p"]["scheme"] == "ps"):
            for b in (r for r in rr if r["p"]["scheme"] != "ps"):
                meas = "PS" if a["p"]["efficiency"] > b["p"]["efficiency"] else "all-reduce"
                pred = "PS" if a["pred"] > b["pred"] else "all-reduce"
                gap = abs(a["p"]["efficiency"] - b["p"]["efficiency"])
                verdict = "tie" if gap < TIE else ("yes" if meas == pred else "no")
                out.append(
                    {"group": group, "model": a["p"]["model"], "gpus": g, "ps": a["p"],
                     "allreduce": b["p"], "ps_pred": a["pred"], "allreduce_pred": b["pred"],
                     "better_measured": meas, "better_predicted": pred, "gap": gap,
                     "verdict": verdict}
                )  # fmt: skip
    return out
