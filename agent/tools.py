"""The agent's tools: the seed's seven, plus comparison, drill-down, ranking, the week-over-week
children table, data freshness, workload history (the seed's ``analyze_workload_history``
filters: kind, status, sort, limit) and idle GPUs — a plain registry, read top to bottom.

``TOOLS`` lists every tool once (``@tool(name, description, ArgsModel)`` appends it): a name, a
description, a Pydantic model of its arguments and a function ``(args, source, now) ->
artifact``. The artifact is the exact figures dict an answer is built from. Arguments are plain
JSON (scope + ISO period), so a plan written by the rules and one a model might write look the
same, and ``data_collected`` can record them as they were.

``run_tool(name, args, source, now)`` validates the arguments and returns ``(summary,
artifact)``; the graph's ``execute`` node runs the calls of one plan step concurrently with it.
Nothing here imports LangChain: no model binds these tools today, and building them costs
nothing at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent import anomaly_scan, coverage, figures
from agent.anomalies import DEFAULT_K, DEFAULT_MIN_HOURS
from agent.periods import Period, parse_now
from agent.prices import Prices, add_costs, cost_figures, item_pricer
from agent.recommendations import recommendations
from agent.sources.base import HistoryFilter, Scope, Source


class Args(BaseModel):
    """The base of every tool's arguments. A model's validator is built the first time it
    validates (``defer_build``): a question runs one or two tools, and building the twenty
    models of the registry up front cost every ``gpureport ask`` ~8 ms of start-up."""

    model_config = ConfigDict(defer_build=True)


class ScopeArgs(Args):
    kind: Literal["cluster", "namespace", "user", "label", "workload"] = "cluster"
    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    workload: str | None = None
    label_type: str = "label"
    label_key: str | None = None
    label_value: str | None = None

    def scope(self) -> Scope:
        return Scope(**self.model_dump())


class PeriodArgs(Args):
    start: str = Field(description="ISO 8601 UTC start (inclusive)")
    end: str = Field(description="ISO 8601 UTC end (exclusive)")
    label: str = ""

    def period(self) -> Period:
        return Period(parse_now(self.start), parse_now(self.end), self.label or f"{self.start}..{self.end}")

    @classmethod
    def of(cls, p: Period) -> "PeriodArgs":
        d = p.as_dict()
        return cls(start=d["start"], end=d["end"], label=p.label)


class Priced(Args):
    """Tools whose figures carry money when prices are configured (``plan`` adds them from
    ``AgentDeps.prices``)."""

    prices: Prices | None = None


class TrendArgs(Priced):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    period: PeriodArgs
    metric: Literal["utilization", "allocation"] = "utilization"
    granularity: Literal["hour", "day"] | None = Field(
        None, description="series step; default: day for periods of 28 days or more, else hour")


class HistoryArgs(Args):
    """The seed's ``analyze_workload_history`` filters (kind, status, sort, limit), plus how the
    period applies (``HistoryFilter``)."""

    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    kind: str | None = Field(None, description="PyTorchJob, Job, Notebook, Deployment, ...")
    status: Literal["Running", "Pending", "Done", "Failed"] | None = None
    window: Literal["ran", "ended", "started", "now"] = "ran"
    sort: Literal["duration", "gpu_hours"] | None = None
    limit: int = Field(20, ge=1, le=100)
    period: PeriodArgs | None = None


class WorkloadHistoryArgs(Args):
    workload: str
    namespace: str | None = None
    cluster: str | None = None
    period: PeriodArgs


class SnapshotArgs(Args):
    cluster: str | None = None


class MetadataArgs(Args):
    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    period: PeriodArgs


class ClustersArgs(Args):
    pass


class NamespacesArgs(Args):
    cluster: str | None = None
    period: PeriodArgs


class DimensionKeysArgs(Args):
    cluster: str | None = None
    dimension_type: Literal["label", "annotation"] = "label"
    period: PeriodArgs


class DimensionValuesArgs(Args):
    cluster: str | None = None
    dimension_type: Literal["label", "annotation"] = "label"
    key: str
    period: PeriodArgs


class CompareArgs(Priced):
    a_scope: ScopeArgs
    a_period: PeriodArgs
    a_label: str
    b_scope: ScopeArgs
    b_period: PeriodArgs
    b_label: str


class DrilldownArgs(Args):
    scope: ScopeArgs
    period: PeriodArgs
    baseline: PeriodArgs


class ChildrenCompareArgs(Args):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    child: Literal["namespace", "user", "workload", "label"] = "namespace"
    period: PeriodArgs
    baseline: PeriodArgs
    label_key: str | None = None


class FreshnessArgs(Args):
    cluster: str | None = None


class AnomaliesArgs(Args):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    period: PeriodArgs
    k: float = Field(DEFAULT_K, gt=0, le=50)
    min_hours: int = Field(DEFAULT_MIN_HOURS, ge=1, le=168)


class RankingArgs(Priced):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    entity: Literal["namespace", "user", "workload", "label"] = "namespace"
    by: Literal["idle", "gpu_hours", "utilization_low", "utilization_high"] = "idle"
    period: PeriodArgs
    limit: int = Field(10, ge=1, le=100)
    label_key: str | None = None


class CostArgs(Priced):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    period: PeriodArgs
    focus: Literal["total", "idle"] = "total"


class RecommendArgs(Priced):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)


def rows_of(artifact: Any) -> int:
    """How many rows a tool's artifact holds (for ``data_collected``)."""
    if isinstance(artifact, list):
        return len(artifact)
    if isinstance(artifact, dict):
        for key in ("anomalies", "series", "items", "contributors", "by_namespace", "options",
                    "workloads", "rows", "clusters", "recommendations"):
            if isinstance(artifact.get(key), list):
                return len(artifact[key])
        return 1
    return 0


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    fn: Callable[[Any, Source, datetime], Any]  # (validated args, source, now) -> artifact


TOOLS: list[Tool] = []


def tool(name: str, description: str, args: type[BaseModel]):
    """Register the decorated function as a tool (in the order of this module)."""
    def register(fn: Callable[[Any, Source, datetime], Any]):
        TOOLS.append(Tool(name, description, args, fn))
        return fn

    return register


@tool("query_gpu_usage_trend", "Hourly utilization/allocation series and period figures for a "
      "cluster, namespace, user, label or workload.", TrendArgs)
def trend(a: TrendArgs, source: Source, now: datetime) -> dict:
    p = a.period.period()
    out = figures.trend(source, a.scope.scope(), p, a.metric)
    step = a.granularity or ("day" if p.hours >= 28 * 24 else "hour")
    if step == "day":  # one point per UTC day, summed in SQL (issue 12 item 6)
        out["series"] = [d.as_dict() for d in source.daily_series(a.scope.scope(), p.start, p.end)]
    out["granularity"] = step
    return add_costs(out, source, a.scope.scope(), p.start, p.end, a.prices)


@tool("analyze_workload_history", "History of one workload: hourly series, GPU-hours, "
      "utilization, and its metadata.", WorkloadHistoryArgs)
def workload_history(a: WorkloadHistoryArgs, source: Source, now: datetime) -> dict:
    scope = Scope(kind="workload", cluster=a.cluster, namespace=a.namespace, workload=a.workload)
    p = a.period.period()
    out = figures.trend(source, scope, p)
    out["workloads"] = [w.__dict__ for w in source.workloads(a.cluster, p.start, p.end,
                                                             namespace=a.namespace,
                                                             workload=a.workload)]
    return out


@tool("get_latest_snapshot", "Current GPU allocation: the latest snapshot, per namespace.",
      SnapshotArgs)
def snapshot(a: SnapshotArgs, source: Source, now: datetime) -> dict:
    return figures.realtime(source, a.cluster, now)


@tool("get_workload_metadata", "Workloads (name, namespace, kind, user) active in a period.",
      MetadataArgs)
def metadata(a: MetadataArgs, source: Source, now: datetime) -> dict:
    p = a.period.period()
    return {"workloads": [w.__dict__ for w in source.workloads(a.cluster, p.start, p.end,
                                                               namespace=a.namespace, user=a.user)]}


@tool("get_available_clusters", "Names of the clusters.", ClustersArgs)
def clusters(_: ClustersArgs, source: Source, now: datetime) -> dict:
    return {"options": source.clusters()}


@tool("get_available_namespaces", "Namespaces active in a period.", NamespacesArgs)
def namespaces(a: NamespacesArgs, source: Source, now: datetime) -> dict:
    p = a.period.period()
    return {"options": source.namespaces(a.cluster, p.start, p.end)}


@tool("get_available_dimension_keys", "Label or annotation keys usable as filters.",
      DimensionKeysArgs)
def dimension_keys(a: DimensionKeysArgs, source: Source, now: datetime) -> dict:
    p = a.period.period()
    return {"options": source.dimension_keys(a.cluster, a.dimension_type, p.start, p.end),
            "dimension_type": a.dimension_type}


@tool("get_available_dimension_values", "Values of one label or annotation key.",
      DimensionValuesArgs)
def dimension_values(a: DimensionValuesArgs, source: Source, now: datetime) -> dict:
    p = a.period.period()
    return {"options": source.dimension_values(a.cluster, a.dimension_type, a.key, p.start, p.end),
            "key": a.key}


@tool("compare_usage", "Compare two periods of one entity or two entities.", CompareArgs)
def compare(a: CompareArgs, source: Source, now: datetime) -> dict:
    out = figures.compare(source, (a.a_scope.scope(), a.a_period.period(), a.a_label),
                          (a.b_scope.scope(), a.b_period.period(), a.b_label))
    for key, scope, p in (("a", a.a_scope, a.a_period), ("b", a.b_scope, a.b_period)):
        period = p.period()
        add_costs(out[key], source, scope.scope(), period.start, period.end, a.prices)
    if "currency" in out["b"]:
        out["currency"] = out["b"]["currency"]
    return out


@tool("drilldown_change", "Attribute a change in utilization to users and workloads (or "
      "namespaces for a cluster).", DrilldownArgs)
def drilldown(a: DrilldownArgs, source: Source, now: datetime) -> dict:
    return figures.drilldown(source, a.scope.scope(), a.period.period(), a.baseline.period())


@tool("compare_children", "Every child (namespaces of a cluster, users of a namespace, ...) in "
      "two periods, with its change: the week-over-week table.", ChildrenCompareArgs)
def children(a: ChildrenCompareArgs, source: Source, now: datetime) -> dict:
    rows = figures.children_compare(source, a.scope.scope(), a.child, a.period.period(),
                                    a.baseline.period(), label_key=a.label_key)
    return {"child": a.child, "rows": rows}


@tool("get_data_freshness", "The newest hour of data per cluster and its age.", FreshnessArgs)
def freshness(a: FreshnessArgs, source: Source, now: datetime) -> dict:
    return coverage.freshness(source, a.cluster, now)


@tool("rank_entities", "Rank namespaces, users or workloads by idle GPU-hours, GPU-hours or "
      "utilization.", RankingArgs)
def ranking(a: RankingArgs, source: Source, now: datetime) -> dict:
    out = figures.ranking(source, a.scope.scope(), a.entity, a.period.period(), a.by, a.limit,
                          a.label_key)
    price = item_pricer(source, a.scope.scope(), a.prices)
    if price is not None:
        for item in out["items"]:
            price(item)
        out["currency"] = a.prices.currency
    return out


@tool("cost_of_gpus", "What GPU-hours cost (total or idle) for a cluster, namespace, user or "
      "label over a period, per cluster price; GPU-hours only without prices.", CostArgs)
def cost(a: CostArgs, source: Source, now: datetime) -> dict:
    return cost_figures(source, a.scope.scope(), a.period.period(), a.prices, a.focus)


@tool("recommend_savings", "Where GPUs could be saved over the last 7 days: idle workloads to "
      "clean up, oversized ones to right-size, namespaces to schedule.", RecommendArgs)
def recommend(a: RecommendArgs, source: Source, now: datetime) -> dict:
    return recommendations(source, a.scope.scope(), now, a.prices)


@tool("list_workload_history", "Top-level workloads by kind, status, namespace and user: which "
      "failed, are pending or still running, how many ran, the longest or biggest.", HistoryArgs)
def history(a: HistoryArgs, source: Source, now: datetime) -> dict:
    f = HistoryFilter(cluster=a.cluster, namespace=a.namespace, user=a.user, kind=a.kind,
                      status=a.status, window=a.window, sort=a.sort, limit=a.limit)
    p = a.period.period() if a.period is not None and a.window != "now" else None
    count, runs = source.workload_history(f, p.start if p else None, p.end if p else now, now)
    return {"count": count, "workloads": [r.as_dict() for r in runs],
            # the total only when every matching workload is listed
            "gpu_hours": sum(r.gpu_hours for r in runs) if count == len(runs) else None,
            "kind": a.kind, "status": a.status,
            "window": a.window, "sort": a.sort, "limit": a.limit}


@tool("find_idle_gpus", "Idle GPUs: the allocated workloads doing little, by idle GPU-hours, the "
      "scope's idle GPU-hours, and how many GPUs are free right now.", RankingArgs)
def idle_gpus(a: RankingArgs, source: Source, now: datetime) -> dict:
    scope, p = a.scope.scope(), a.period.period()
    ranked, snap, stats = figures.run_concurrently(
        lambda: figures.ranking(source, scope, "workload", p, "idle", a.limit),
        lambda: figures.realtime(source, scope.cluster, now),
        lambda: source.period_stats(scope, p.start, p.end))
    return {**ranked, "free_gpus": snap.get("idle_gpus"), "total_gpus": snap.get("total_gpus"),
            "snapshot_time": snap.get("time"), "snapshot_cluster": scope.cluster, "gpu_hours": stats.gpu_hours,
            "idle_gpu_hours": stats.idle_gpu_hours, "avg_utilization": stats.avg_utilization}


@tool("find_anomalies", "Hours that leave their usual weekly pattern (same hour of the week, "
      "previous 4 weeks), per cluster and namespace, as episodes with their likely cause.",
      AnomaliesArgs)
def anomalies(a: AnomaliesArgs, source: Source, now: datetime) -> dict:
    return anomaly_scan.scan(source, a.scope.scope(), a.period.period(), k=a.k,
                             min_hours=a.min_hours)


BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}


def run_tool(name: str, args: dict, source: Source, now: datetime) -> tuple[str, Any]:
    """Validate ``args`` against the tool's model and run it: ``(summary, artifact)``."""
    t = BY_NAME[name]
    artifact = t.fn(t.args.model_validate(args), source, now)
    return f"{name}: {rows_of(artifact)} rows", artifact
