"""Recommendations: where GPUs could be saved, from the last 7 days, with the GPU-hours (and
money, when priced) each would have saved — computed from grouped SQL sums, never guessed.

Three kinds, each a plain rule over what the source summed (``Source.workload_peaks`` per
workload, ``Source.office_hours`` per namespace):

* ``clean_up`` — a workload holding GPUs for at least ``MIN_HOURS`` hours whose busiest hour
  averaged below ``IDLE_PCT`` % (a forgotten notebook, a debug job, a deployment nobody uses):
  all its GPU-hours of the window would have been saved.
* ``right_size`` — a workload holding GPUs for at least ``MIN_HOURS`` hours whose peak
  (the highest hourly ``max_utilization``) stayed below ``RIGHT_SIZE_PCT`` % of what it held
  and that is not idle: the GPU count that would have covered its peak is
  ``ceil(held × peak / 100)``; saving = (held − suggested) × its hours.
* ``schedule`` — a namespace whose work sits in office hours (weekdays 08–18 UTC: at least
  ``OFFICE_SHARE`` of its utilized GPU-hours) while its allocation runs around the clock at
  below ``OFF_HOURS_PCT`` % outside them: the GPU-hours held outside office hours.

A workload is recommended once (clean-up before right-size); rows are ordered by saving.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from agent.periods import Period
from agent.prices import Prices, item_pricer
from agent.sources.base import OfficeSplit, Scope, Source, WorkloadPeak

WINDOW_DAYS = 7
MIN_HOURS = 24
IDLE_PCT = 5.0
RIGHT_SIZE_PCT = 50.0
OFFICE_HOURS = (8, 18)
OFFICE_SHARE = 0.9
OFF_HOURS_PCT = 10.0
KINDS = ("clean_up", "right_size", "schedule")


def window(now: datetime) -> Period:
    """The last 7 days up to the current hour."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return Period(end - timedelta(days=WINDOW_DAYS), end, f"last {WINDOW_DAYS} days")


def _workload_row(kind: str, p: WorkloadPeak, saving: float, evidence: dict) -> dict:
    st = p.stats
    return {"kind": kind, "cluster": st.cluster, "namespace": st.namespace, "workload": st.name,
            "user": st.user, "evidence": evidence, "saving_gpu_hours": saving,
            "saving_cost": None}


def for_workload(p: WorkloadPeak) -> dict | None:
    """The recommendation for one workload, if any (clean-up first)."""
    st = p.stats
    if st.rows < MIN_HOURS or p.held_gpus <= 0:
        return None
    evidence = {"gpus": p.held_gpus, "hours": st.rows, "gpu_hours": st.gpu_hours,
                "avg_utilization": st.avg_utilization, "peak_utilization": p.peak_utilization,
                "busiest_hour_avg": p.max_avg_utilization}
    if p.max_avg_utilization < IDLE_PCT:
        return _workload_row("clean_up", p, st.gpu_hours, evidence)
    if p.peak_utilization < RIGHT_SIZE_PCT:
        suggested = max(1, math.ceil(p.held_gpus * p.peak_utilization / 100.0 - 1e-9))
        if suggested < p.held_gpus:
            return _workload_row("right_size", p, (p.held_gpus - suggested) * st.rows,
                                 {**evidence, "suggested_gpus": suggested})
    return None


def for_namespace(o: OfficeSplit) -> dict | None:
    """``schedule`` for a namespace working in office hours only, if it holds GPUs outside."""
    used = o.office.utilized_gpu_hours + o.other.utilized_gpu_hours
    if used <= 0 or o.other.gpu_hours <= 0 or o.other.rows < MIN_HOURS:
        return None
    share = o.office.utilized_gpu_hours / used
    if share < OFFICE_SHARE or o.other.avg_utilization >= OFF_HOURS_PCT:
        return None
    return {"kind": "schedule", "cluster": o.cluster, "namespace": o.namespace, "workload": None,
            "user": None, "saving_gpu_hours": o.other.gpu_hours, "saving_cost": None,
            "evidence": {"office_share": share * 100.0, "office_hours": list(OFFICE_HOURS),
                         "off_hours_gpu_hours": o.other.gpu_hours,
                         "off_hours_utilization": o.other.avg_utilization}}


def recommendations(source: Source, scope: Scope, now: datetime,
                    prices: Prices | None = None) -> dict:
    """The figures of "how can we save GPUs?": every recommendation of the scope's clusters
    (a namespace scope keeps its own), by saving, with totals."""
    period = window(now)
    peaks = source.workload_peaks(scope.cluster, period.start, period.end)
    splits = source.office_hours(scope.cluster, period.start, period.end, *OFFICE_HOURS)
    rows = [r for r in (*map(for_workload, peaks), *map(for_namespace, splits)) if r]
    if scope.namespace:
        rows = [r for r in rows if r["namespace"] == scope.namespace]
    if scope.user:
        rows = [r for r in rows if r["user"] == scope.user]
    price = item_pricer(source, scope, prices)
    if price is not None:
        for r in rows:
            price(r)
    rows.sort(key=lambda r: (-r["saving_gpu_hours"], r["kind"], r["cluster"] or "",
                             r["namespace"] or "", r["workload"] or ""))
    out = {"period": period.as_dict(), "recommendations": rows,
           "saving_gpu_hours": sum(r["saving_gpu_hours"] for r in rows),
           "by_kind": {k: sum(1 for r in rows if r["kind"] == k) for k in KINDS}}
    if price is not None:
        out["currency"] = prices.currency
        out["saving_cost"] = sum(r.get("saving_cost") or 0.0 for r in rows)
    return out


__all__ = ["recommendations", "for_workload", "for_namespace", "window", "KINDS"]
