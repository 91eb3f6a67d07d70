"""Anomalies of a scope over a period: which hourly series to judge, and each episode's cause.

``agent.anomalies`` judges one hourly series; this module decides which series a question is
about and explains what it finds, for ``ask``, the digest and the ``anomaly`` alert alike:

* **Series**: per cluster, the cluster's own series and one per namespace (a namespace scope:
  that namespace only) — each one ``Source.hourly_series`` call, i.e. SQL sums per hour over the
  period plus ``weeks`` weeks of history (never rows of workloads pulled into Python).
* **Metrics**: ``avg_utilization`` (are the GPUs held used as usual?) and ``allocated_gpus``
  (are as many GPUs held as usual?); ``allocation_rate`` is a share of cluster capacity, so it
  says nothing a namespace's GPU count does not.
* **Period end**: the cluster's data end (newest hourly row + 1 h), so the hour in progress is
  not "missing".
* **Cause**: the drill-down attribution of product.md §4 (``figures.drilldown``) over the
  episode's hours against the same hours one week earlier (the newest of the reference weeks
  the baseline is made of): namespaces for a cluster episode, users and workloads for a
  namespace episode. A utilization episode names the children with the largest impact in its
  direction; an allocation episode those whose GPU-hours moved most in its direction.
* **Order**: largest GPU-hours affected first, at a tie the namespace before its cluster (a
  namespace episode and the cluster episode it causes are both listed: the cluster one says
  what the cluster saw, the namespace one where).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from agent import anomalies as A
from agent.figures import drilldown, run_concurrently
from agent.periods import Period, iso
from agent.phrasing.over_time import top_contributors
from agent.sources.base import Scope, Source

SCAN_METRICS = ("avg_utilization", "allocated_gpus")
MAX_CAUSES = 8  # episodes whose cause is looked up (two to six queries each)
WEEK, HOUR = timedelta(days=7), timedelta(hours=1)


def _series_scopes(source: Source, scope: Scope, start: datetime, end: datetime,
                   namespaces: Callable[[str], bool] | None, cluster_series: bool
                   ) -> list[tuple[str, str | None]]:
    """(cluster, namespace or None) of every series to judge."""
    clusters = [scope.cluster] if scope.cluster else source.clusters()
    if scope.kind == "namespace" and scope.namespace:
        return [(c, scope.namespace) for c in clusters]
    out: list[tuple[str, str | None]] = []
    by_cluster = source.namespaces_by_cluster(start, end)
    for c in clusters:
        if cluster_series:
            out.append((c, None))
        out += [(c, ns) for ns in sorted(by_cluster.get(c, []))
                if namespaces is None or namespaces(ns)]
    return out


def _scope(cluster: str, namespace: str | None) -> Scope:
    return (Scope(kind="namespace", cluster=cluster, namespace=namespace) if namespace
            else Scope(kind="cluster", cluster=cluster))


def scan(source: Source, scope: Scope, period: Period, *, k: float = A.DEFAULT_K,
         min_hours: int = A.DEFAULT_MIN_HOURS, weeks: int = A.DEFAULT_WEEKS,
         metrics: tuple[str, ...] = SCAN_METRICS, causes: bool = True,
         namespaces: Callable[[str], bool] | None = None, cluster_series: bool = True) -> dict:
    """The ``anomalies`` figures of ``scope`` over ``period`` (see the module docstring).

    ``namespaces`` keeps the namespaces whose series are judged (an alert rule's scope),
    ``cluster_series`` False leaves out the clusters' own series."""
    history_start = period.start - weeks * WEEK
    targets = _series_scopes(source, scope, history_start, period.end, namespaces,
                             cluster_series)
    ends = {c: source.newest_stat_hour(c) for c in dict.fromkeys(c for c, _ in targets)}
    series = run_concurrently(*[
        (lambda c=c, ns=ns: source.hourly_series(_scope(c, ns), history_start, period.end))
        for c, ns in targets])
    found: list[dict] = []
    history: dict[str, int] = {}
    notes: list[str] = []
    judged = 0
    for (cluster, ns), points in zip(targets, series):
        newest = ends.get(cluster)
        if newest is None:
            continue
        end = min(period.end, newest + HOUR)
        if end <= period.start:
            continue
        for metric in metrics:
            r = A.detect(points, period.start, end, metric=metric, k=k, min_hours=min_hours,
                         weeks=weeks)
            if ns is None or scope.kind == "namespace":  # the series the scope is about
                history[cluster] = r.weeks_of_history
                if metric == metrics[0] and r.note and not r.detected:
                    notes.append(f"{cluster}: {r.note}")
            elif not cluster_series:  # as much as its oldest namespace
                history[cluster] = max(history.get(cluster, 0), r.weeks_of_history)
            judged += r.hours_judged
            for e in r.episodes:
                found.append({"cluster": cluster, "namespace": ns,
                              "weeks_of_history": r.weeks_of_history, **e.as_dict()})
    # largest first; at equal GPU-hours (to 6 decimals) the namespace, which says where
    found.sort(key=lambda e: (-round(e["gpu_hours_affected"] or 0.0, 6), e["start"],
                              e["cluster"], e["namespace"] is None, e["namespace"] or "",
                              e["metric"]))
    if causes:
        for e in found[:MAX_CAUSES]:
            e["cause"] = cause(source, e)
    # the baseline's history: the shortest among the clusters judged (a cluster with fewer
    # than 2 weeks is not judged and says so in ``notes``, without hiding the others)
    judged_weeks = [w for w in history.values() if w >= A.MIN_WEEKS]
    weeks_have = min(judged_weeks) if judged_weeks else max(history.values(), default=0)
    return {
        "period": {"start": iso(period.start), "end": iso(period.end), "label": period.label},
        "k": k, "min_hours": min_hours, "weeks_wanted": weeks,
        "weeks_of_history": weeks_have, "history_by_cluster": history,
        "detected": bool(judged_weeks),
        "series": len(targets), "hours_judged": judged,
        "anomalies": found, "notes": notes,
    }


def cause(source: Source, episode: dict) -> dict:
    """The drill-down of one episode: its hours against the same hours a week earlier."""
    start = datetime.fromisoformat(episode["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(episode["end"].replace("Z", "+00:00"))
    current = Period(start, end, "the episode")
    base = Period(start - WEEK, end - WEEK, "the same hours a week earlier")
    d = drilldown(source, _scope(episode["cluster"], episode["namespace"]), current, base)
    up = episode["direction"] == "above"
    if episode["metric"] == "allocated_gpus":
        def moved(c: dict) -> float:
            return c["gpu_hours_after"] - c["gpu_hours_before"]
        rows = [c for c in d["contributors"] if (moved(c) > 0) == up and abs(moved(c)) > 0]
        rows.sort(key=lambda c: (-abs(moved(c)), c["kind"], c["name"]))
        # a weekly job renamed (…-w46 gone, …-w47 new) moves its workload rows but not its
        # user: keep the workloads of users who moved the same way
        users = {c["name"] for c in rows if c["kind"] == "user"}
        if users:
            rows = [c for c in rows if c["kind"] != "workload" or c.get("user") in users]
        picked: list[dict] = []
        for kind in ("namespace", "user", "workload"):  # who and what, strongest first
            first = next((c for c in rows if c["kind"] == kind), None)
            if first:
                picked.append(first)
        picked = sorted(picked, key=lambda c: -abs(moved(c)))
    else:  # the answers' own choice: in the episode's direction, a user explained by its
        picked = top_contributors(d)  # workload left out
    return {
        "baseline": {"start": iso(base.start), "end": iso(base.end), "label": base.label},
        "before": d["before"], "after": d["after"], "total_delta_pp": d["total_delta_pp"],
        "contributors": picked[:3],
    }


__all__ = ["scan", "cause", "SCAN_METRICS"]
