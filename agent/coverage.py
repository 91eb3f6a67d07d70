"""Missing data is not zero (answers.md §2): how much of a period each cluster has data for.

Coverage = hours with cluster rows / hours in the period, per cluster, counted by the source
(``Source.coverage``: one grouped statement on `sql`). A scope whose clusters have no rows in
the period gets ``null`` figures and "no data … (data starts Oct 19)"; a cluster below 95 % gets
one warning line, and the figures are over the hours present (sums of the rows there are).
An hour with cluster rows but no row of a namespace is a measured zero for that namespace.
``freshness``: how recent the data is per cluster (the newest hour with rows and its age).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from agent.periods import Period, iso
from agent.sources.base import Source

PARTIAL = 0.95  # below this share of the period's hours a cluster's coverage is worth a warning
FIGURE_KEYS = ("avg_utilization", "allocation_rate", "gpu_hours", "idle_gpu_hours", "workloads",
               "first", "last", "min", "max", "slope_pp_per_day")


def coverage(source: Source, cluster: str | None, period: Period) -> dict:
    """``{hours, period_hours, start, clusters: [{cluster, hours, period_hours, share, first}],
    partial: [the clusters below 95 %]}`` for the clusters of a scope (all for None).

    A cluster with no rows in the period whose data began before it also gets ``last``, its
    newest hour, when that is before the period too: the data *ended* (an ingest that stopped,
    a question about next Monday on a store of last week), which "data starts Oct 19" would
    hide. Asked only then, so an answer with data costs no extra query."""
    whole = max(1, math.ceil(period.hours - 1e-9))
    rows = []
    for c in source.coverage(cluster, period.start_utc, period.end_utc):
        # "data starts …" is said only when it starts after the period does (or never in it)
        first = c.first if c.first is not None and (not c.hours or c.first > period.start_utc) else None
        row = {"cluster": c.cluster, "hours": c.hours, "period_hours": whole,
               "share": c.hours / whole, "first": iso(first)}
        if not c.hours and first is not None and first < period.start_utc:
            last = source.newest_stat_hour(c.cluster)
            if last is not None and last < period.start_utc:
                row["last"] = iso(last)
        rows.append(row)
    return {"hours": sum(r["hours"] for r in rows), "period_hours": whole,
            "start": iso(period.start_utc), "clusters": rows,
            "partial": [r["cluster"] for r in rows if r["share"] < PARTIAL]}


def no_data(figures: dict) -> dict:
    """The figures of a scope without rows: every measured value ``None`` (not 0)."""
    return {**figures, **{k: None for k in FIGURE_KEYS if k in figures}, "no_data": True}


def data_start(cov: dict) -> str | None:
    """The earliest first hour among the clusters of a coverage (None: no rows ever)."""
    firsts = [r["first"] for r in cov.get("clusters") or [] if r.get("first")]
    return min(firsts) if firsts else None


# answers.md §3: a current calendar period this young is answered over the last 7 days too
EARLY_HOURS = {"week": 24.0, "month": 72.0, "quarter": 72.0, "year": 72.0}
ROLLING_A, ROLLING_B = "the 7 days before", "last 7 days"


def early(period: Period | None) -> bool:
    """A current calendar period (this week/month/quarter/year, up to now) with less than a
    day (a week) or three days (longer units) elapsed; never "today"."""
    return bool(period is not None and period.to_now and period.unit in EARLY_HOURS
                and period.hours < EARLY_HOURS[period.unit])


def rolling(period: Period) -> tuple[Period, Period]:
    """(the 7 days before, the last 7 days), both ending where ``period`` ends (now)."""
    b = Period(period.end - timedelta(days=7), period.end, ROLLING_B)
    return Period(b.start - timedelta(days=7), b.start, ROLLING_A), b


def freshness(source: Source, cluster: str | None, now: datetime) -> dict:
    """How recent the data is, per cluster: the newest hourly row and its age at ``now``.

    ``newest`` is the *start* of the newest hour with rows; the data is complete up to an hour
    after it. ``age_hours`` is measured from that end, so a job that wrote 11:00–12:00 at 12:05
    is 0.08 h old, not 1.08 h.
    """
    names = [cluster] if cluster else source.clusters()
    rows = []
    for c in names:
        newest = source.newest_stat_hour(c)
        rows.append({"cluster": c, "newest": iso(newest) if newest else None,
                     "age_hours": ((now - (newest + timedelta(hours=1))).total_seconds() / 3600.0
                                   if newest else None)})
    return {"clusters": rows}
