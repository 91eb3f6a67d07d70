"""Evaluating a rule: one evaluator per rule kind, in a plain registry (``EVALUATORS``).

Rule kinds and exactly what they test (all windows are half-open ``[start, end)`` of full hours,
``end`` = the data end of ``reporter.alerts.dataview``; figures follow product.md §4):

* ``idle-gpus`` — a workload held ``allocated_gpu_count >= min_gpus`` at ``avg_utilization <
  max_utilization`` in **every one** of the last ``hours`` hours; findings ranked by idle
  GPU-hours, the most wasteful first. One grouped SQL query
  (``idle_workloads``) sums the matching rows per workload; a workload fires when its matching
  hour count equals ``hours``. "Every hour" rather than "on average" so that a busy workload
  with one idle night hour does not fire, and a workload that just started does not either.
* ``namespace-drop`` — this ISO week so far (Monday 00:00 UTC → data end) against the same
  elapsed span of last week, namespace by namespace (``agent.figures.children_compare``: the
  rows of the digest's week-over-week table, two grouped queries), judged by the one rule the
  digest uses too (``agent.figures.dropped_namespaces``): the GPU-hour weighted utilization
  fell by ``>= min_drop_pp`` percentage points, the namespace used ``>= min_gpu_hours`` in
  *both* spans (a namespace with a handful of GPU-hours swings wildly) and, when set, holds
  ``>= min_share_pct`` % of the cluster's GPU-hours this week. Not evaluated before
  ``min_elapsed_hours`` of the week have data.
* ``cluster-low-utilization`` — the cluster's average utilization over the last ``hours``
  hours is ``< max_utilization`` (and at least ``min_gpu_hours`` were allocated: an empty
  cluster wastes nothing).
* ``allocation-pressure`` — every one of the last ``hours`` hourly cluster points has an
  allocation rate ``>= min_allocation_rate`` (one grouped ``hourly_series`` query).
* ``anomaly`` — ``agent.anomaly_scan`` over the last ``window`` (default 7 d) of each cluster's
  series and its namespaces' (``scope.namespaces``): hours ``k`` robust standard deviations off
  the same hour of the previous ``weeks`` weeks for at least ``min_hours`` in a row. Only an
  episode still going on at the data end is a finding; its identity is (cluster, namespace,
  metric, direction, start), so one episode fires once and resolves when its hours return to
  the usual pattern. (An episode older than the window loses its start to the window's edge;
  its identity then drops the start so it stays one alert.) Not evaluated with fewer than 2
  weeks of history.
* ``stale-data`` — the hourly row for hour H covers [H, H+1h) and can only exist once that hour
  is over, so the data is *fresh until* ``newest_stat_hour + 1h``; the lag is ``now −
  (newest_stat_hour + 1h)`` and the rule fires when the lag is ``> max_age`` (default 2 h), or
  when a cluster named in the scope has no hourly stats at all. On time data therefore never
  fires: at 12:59 the newest possible row is 11:00 and the lag is 59 minutes.

A rule that fails to query (source down) is not evaluated: its error is reported and its
state kept. A cluster whose data is stale or missing is skipped by the data rules
(``DataView.data_end``); ``stale-data`` is the rule that speaks for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from agent import anomaly_scan
from agent.errors import SourceError
from agent.figures import children_compare, dropped_namespaces
from agent.phrasing.anomalies import episode_line, when, where
from agent.periods import Period, iso, utc_text, week_start
from agent.sources.base import Scope
from agent.text import one_line
from reporter.alerts.dataview import HOUR, DataView
from reporter.durations import format_duration
from reporter.alerts.findings import Evaluation, Finding, ask_command, gpus_text
from reporter.alerts.models import (AllocationPressureRule, AnomalyRule, AnyRule,
                                    ClusterLowUtilizationRule, IdleGpusRule, NamespaceDropRule,
                                    StaleDataRule)

# kind -> evaluator(rule, view, cluster, data end, evaluation) -> why the cluster was skipped
Evaluator = Callable[..., "str | None"]
EVALUATORS: dict[str, Evaluator] = {}


def evaluates(kind: str) -> Callable[[Evaluator], Evaluator]:
    def register(fn: Evaluator) -> Evaluator:
        EVALUATORS[kind] = fn
        return fn
    return register


def evaluate(rule: AnyRule, view: DataView) -> Evaluation:
    """Findings of one rule; a data source failure becomes ``Evaluation.error``."""
    ev = Evaluation(rule.name)
    try:
        clusters = [c for c in view.clusters() if rule.scope.clusters.matches(c)]
        if isinstance(rule, StaleDataRule):
            _stale(rule, view, clusters, ev)
            return ev
        for cluster in clusters:
            end, why = view.data_end(cluster)
            if end is None:
                ev.skipped[cluster] = why or "not evaluated"
                continue
            skipped = EVALUATORS[rule.kind](rule, view, cluster, end, ev)
            if skipped:
                ev.skipped[cluster] = skipped
            else:
                ev.covered.add(cluster)
        if isinstance(rule, IdleGpusRule):  # the most waste first, across clusters
            ev.findings.sort(key=lambda f: -f.figures["idle_gpu_hours"])
    except SourceError as exc:
        ev.error = one_line(exc)
        ev.findings.clear()
        ev.covered.clear()
    return ev


@evaluates("idle-gpus")
def _idle(rule: IdleGpusRule, view: DataView, cluster: str, end: datetime,
          ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    rows = view.idle_workloads(cluster, end, rule.hours, rule.min_gpus, rule.max_utilization)
    for st in sorted(rows, key=lambda st: (-st.idle_gpu_hours, st.namespace or "", st.name)):
        ns = st.namespace or ""
        if rule.scope.namespaces is not None and not rule.scope.namespaces.matches(ns):
            continue
        gpus = st.gpu_hours / st.rows
        figures = {
            "cluster": cluster, "namespace": ns, "workload": st.name, "workload_kind": st.kind,
            "user": st.user, "gpus": gpus, "avg_utilization": st.avg_utilization,
            "gpu_hours": st.gpu_hours, "idle_gpu_hours": st.idle_gpu_hours,
            "hours": st.rows, "window_start": iso(start), "window_end": iso(end),
            "min_gpus": rule.min_gpus, "max_utilization": rule.max_utilization,
        }
        who = f"{st.kind or 'workload'}" + (f", user {st.user}" if st.user else "")
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity,
            {"cluster": cluster, "namespace": ns, "workload": st.name},
            st.avg_utilization, figures,
            summary=(f"{ns}/{st.name} on {cluster} holds {gpus_text(gpus)} GPUs at "
                     f"{st.avg_utilization:.1f}% utilization: {st.idle_gpu_hours:.1f} idle "
                     f"GPU-hours in {rule.hours} h"),
            description=(
                f"Workload {st.name} ({who}) in namespace {ns} on cluster {cluster} held "
                f"at least {gpus_text(rule.min_gpus)} GPUs below {rule.max_utilization:g}% "
                f"utilization in each of the last {rule.hours} hours ({utc_text(start)} to {utc_text(end)}): "
                f"{st.gpu_hours:.1f} GPU-hours at {st.avg_utilization:.1f}% average utilization, "
                f"{st.idle_gpu_hours:.1f} idle GPU-hours."),
            drilldown=ask_command(f"What is the utilization trend of workload {st.name} in "
                                  f"namespace {ns} over the last {max(rule.hours, 24)} hours?",
                                  cluster),
        ))
    return None


@evaluates("namespace-drop")
def _drop(rule: NamespaceDropRule, view: DataView, cluster: str, end: datetime,
          ev: Evaluation) -> str | None:
    ws = week_start(view.now)
    elapsed = end - ws
    if elapsed < timedelta(hours=rule.min_elapsed_hours):
        return (f"only {format_duration(max(elapsed, timedelta(0)))} of this week has data "
                f"(min_elapsed_hours {rule.min_elapsed_hours})")
    week = timedelta(days=7)
    period = Period(ws, end, "this week so far")
    base = Period(ws - week, end - week, "same span last week")
    rows = children_compare(view.source, Scope(kind="cluster", cluster=cluster), "namespace",
                            period, base)
    dropped = dropped_namespaces(rows, rule.min_drop_pp, min_gpu_hours=rule.min_gpu_hours,
                                 min_share_pct=rule.min_share_pct or 0.0)
    for r in sorted(dropped, key=lambda r: r["name"]):
        ns = r["name"]
        if rule.scope.namespaces is not None and not rule.scope.namespaces.matches(ns):
            continue
        a, b, drop = r["before"], r["after"], r["drop_pp"]
        rel = drop / a["avg_utilization"] * 100.0 if a["avg_utilization"] else None
        figures = {
            "cluster": cluster, "namespace": ns, "drop_pp": drop, "drop_pct": rel,
            "avg_utilization_before": a["avg_utilization"],
            "avg_utilization_after": b["avg_utilization"],
            "gpu_hours_before": a["gpu_hours"], "gpu_hours_after": b["gpu_hours"],
            "workloads_before": a["workloads"], "workloads_after": b["workloads"],
            "share_pct": r["share_pct"],
            "period_start": iso(ws), "period_end": iso(end),
            "baseline_start": iso(ws - week), "baseline_end": iso(end - week),
            "min_drop_pp": rule.min_drop_pp,
        }
        rel_text = f", {rel:.1f}% relative" if rel is not None else ""
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity, {"cluster": cluster, "namespace": ns}, drop,
            figures,
            summary=(f"{ns} on {cluster}: utilization down {drop:.1f} pp week over week "
                     f"({a['avg_utilization']:.1f}% -> {b['avg_utilization']:.1f}%)"),
            description=(
                f"Namespace {ns} on cluster {cluster} averaged {b['avg_utilization']:.1f}% "
                f"utilization on {b['gpu_hours']:.1f} GPU-hours this week so far "
                f"({utc_text(ws)} to {utc_text(end)}), against {a['avg_utilization']:.1f}% on "
                f"{a['gpu_hours']:.1f} GPU-hours in the same span of last week: down "
                f"{drop:.1f} pp{rel_text}."),
            drilldown=ask_command(f"Why is {ns}'s utilization lower this week than last week? "
                                  f"Which workloads caused this?", cluster),
        ))
    return None


@evaluates("cluster-low-utilization")
def _low(rule: ClusterLowUtilizationRule, view: DataView, cluster: str, end: datetime,
         ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    st = view.source.period_stats(Scope(kind="cluster", cluster=cluster), start, end)
    if st.gpu_hours < rule.min_gpu_hours or st.avg_utilization >= rule.max_utilization:
        return None
    figures = {"cluster": cluster, "avg_utilization": st.avg_utilization,
               "allocation_rate": st.allocation_rate, "gpu_hours": st.gpu_hours,
               "idle_gpu_hours": st.idle_gpu_hours, "hours": rule.hours,
               "window_start": iso(start), "window_end": iso(end),
               "max_utilization": rule.max_utilization}
    ev.findings.append(Finding(
        rule.name, rule.kind, rule.severity, {"cluster": cluster}, st.avg_utilization, figures,
        summary=(f"{cluster}: utilization {st.avg_utilization:.1f}% over the last {rule.hours} h "
                 f"(threshold {rule.max_utilization:g}%)"),
        description=(
            f"Cluster {cluster} averaged {st.avg_utilization:.1f}% utilization over the last "
            f"{rule.hours} hours ({utc_text(start)} to {utc_text(end)}) on "
            f"{st.gpu_hours:.1f} allocated GPU-hours ({st.allocation_rate:.1f}% of capacity): "
            f"{st.idle_gpu_hours:.1f} idle GPU-hours."),
        drilldown=ask_command(f"Which workloads wasted the most GPU hours over the last "
                              f"{rule.hours} hours?", cluster),
    ))
    return None


@evaluates("allocation-pressure")
def _pressure(rule: AllocationPressureRule, view: DataView, cluster: str, end: datetime,
              ev: Evaluation) -> str | None:
    start = end - timedelta(hours=rule.hours)
    series = view.source.hourly_series(Scope(kind="cluster", cluster=cluster), start, end)
    if len(series) < rule.hours or any(p.allocation_rate < rule.min_allocation_rate
                                       for p in series):
        return None
    last = series[-1]
    rates = [p.allocation_rate for p in series]
    figures = {"cluster": cluster, "min_allocation_rate": min(rates),
               "last_allocation_rate": last.allocation_rate,
               "allocated_gpus": last.allocated_gpus, "capacity_gpus": last.capacity_gpus,
               "hours": rule.hours, "window_start": iso(start), "window_end": iso(end),
               "threshold": rule.min_allocation_rate}
    ev.findings.append(Finding(
        rule.name, rule.kind, rule.severity, {"cluster": cluster}, min(rates), figures,
        summary=(f"{cluster}: allocation at or above {rule.min_allocation_rate:g}% for "
                 f"{rule.hours} h (last hour {last.allocation_rate:.1f}%, "
                 f"{gpus_text(last.allocated_gpus)} of {gpus_text(last.capacity_gpus)} GPUs)"),
        description=(
            f"Cluster {cluster} had an allocation rate of at least {min(rates):.1f}% in each of "
            f"the last {rule.hours} hours ({utc_text(start)} to {utc_text(end)}); in the last hour "
            f"{gpus_text(last.allocated_gpus)} of {gpus_text(last.capacity_gpus)} GPUs were "
            f"allocated ({last.allocation_rate:.1f}%). New GPU workloads may wait for capacity."),
        drilldown=ask_command("How many GPUs are currently in use in the cluster?", cluster),
    ))
    return None


@evaluates("anomaly")
def _anomaly(rule: AnomalyRule, view: DataView, cluster: str, end: datetime,
             ev: Evaluation) -> str | None:
    window = Period(end - rule.window, end, "the alert window")
    ns_scope = rule.scope.namespaces
    f = anomaly_scan.scan(view.source, Scope(kind="cluster", cluster=cluster), window,
                          k=rule.k, min_hours=rule.min_hours, weeks=rule.weeks,
                          metrics=tuple(rule.metrics), causes=False,
                          namespaces=ns_scope.matches if ns_scope is not None else None,
                          cluster_series=rule.clusters)
    if not f["detected"]:
        return (f"{f['weeks_of_history']} weeks of history; anomaly detection needs the same "
                f"hours of at least 2 previous weeks")
    for e in f["anomalies"]:
        if e["end"] != iso(end):
            continue  # over: its alert (if any) resolves
        e["cause"] = anomaly_scan.cause(view.source, e)
        labels = {"cluster": cluster, "metric": e["metric"], "direction": e["direction"]}
        if e["namespace"]:
            labels["namespace"] = e["namespace"]
        if e["start"] != iso(window.start):  # an episode older than the window: no start
            labels["start"] = e["start"]
        unit = "pp" if e["unit"] == "pp" else "GPUs"
        affected = e["gpu_hours_affected"]
        metric = {"avg_utilization": "utilization", "allocated_gpus": "allocated GPUs",
                  "allocation_rate": "allocation rate"}[e["metric"]]
        ask_about = f"in {e['namespace']}" if e["namespace"] else "in the cluster"
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity, labels, e["peak"]["deviation"],
            {**e, "k": rule.k, "min_hours": rule.min_hours, "window_start": iso(window.start),
             "window_end": iso(end)},
            summary=(f"{where(e, 'en')}: {metric} {e['direction']} usual since "
                     f"{when(e['start'])} UTC ({e['hours']} h), peak "
                     f"{e['peak']['deviation']:+.1f} {unit}"
                     + (f", {affected:.1f} GPU-hours affected" if affected is not None else "")),
            description=episode_line(e, "en") + f" Judged with k = {rule.k:g} over the same hours of {e['weeks_of_history']} "
              f"previous weeks.",
            drilldown=ask_command(f"Anything unusual {ask_about} over the last 7 days?",
                                  cluster),
        ))
    return None


def _stale(rule: StaleDataRule, view: DataView, clusters: list[str], ev: Evaluation) -> None:
    expected = [c for c in rule.scope.clusters.named() if rule.scope.clusters.matches(c)]
    for cluster in sorted(set(clusters) | set(expected)):
        ev.covered.add(cluster)
        newest = view.newest(cluster) if cluster in view.clusters() else None
        if newest is not None:
            lag = view.now - (newest + HOUR)
            if lag <= rule.max_age:
                continue
            lag_h = lag.total_seconds() / 3600.0
            summary = (f"{cluster}: no new hourly GPU stats for {format_duration(lag)} "
                       f"(newest hour {utc_text(newest)})")
            description = (
                f"The newest hourly row of cluster {cluster} is for {utc_text(newest)}; it became "
                f"complete at {utc_text(newest + HOUR)}, {format_duration(lag)} ago (allowed: "
                f"{format_duration(rule.max_age)}). Reports and other alerts for {cluster} "
                f"are based on old data until the Lens aggregation job (or `gpureport ingest`) "
                f"writes new hours; `gpureport doctor` checks the data source.")
        else:
            lag_h = None
            summary = f"{cluster}: no hourly GPU stats at all"
            description = (f"Cluster {cluster} is in the scope of rule {rule.name} but the data "
                           f"source holds no hourly stats for it.")
        figures = {"cluster": cluster, "newest_stat_hour": iso(newest), "lag_hours": lag_h,
                   "max_age_hours": rule.max_age.total_seconds() / 3600.0}
        ev.findings.append(Finding(
            rule.name, rule.kind, rule.severity, {"cluster": cluster}, lag_h, figures,
            summary=summary, description=description,
            drilldown=ask_command("What is the GPU utilization trend over the last 24 hours?",
                                  cluster),
        ))



__all__ = ["evaluate", "EVALUATORS"]
