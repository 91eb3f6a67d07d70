"""The seed agent's seven tools, plus comparison, drill-down and ranking, as LangChain tools.

Each tool is bound to one data source and returns ``(summary, artifact)``: the short summary is
what a language model would read, the artifact is the exact figures dict the answer is built
from. Arguments are plain JSON (scope + ISO period), so a plan made by rules and a plan made by
a model look the same, and the LangGraph ``ToolNode`` can run independent calls concurrently.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent import figures
from agent.periods import Period, parse_now
from agent.sources.base import Scope, Source


class ScopeArgs(BaseModel):
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


class PeriodArgs(BaseModel):
    start: str = Field(description="ISO 8601 UTC start (inclusive)")
    end: str = Field(description="ISO 8601 UTC end (exclusive)")
    label: str = ""

    def period(self) -> Period:
        return Period(parse_now(self.start), parse_now(self.end), self.label or f"{self.start}..{self.end}")

    @classmethod
    def of(cls, p: Period) -> "PeriodArgs":
        d = p.as_dict()
        return cls(start=d["start"], end=d["end"], label=p.label)


class TrendArgs(BaseModel):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    period: PeriodArgs
    metric: Literal["utilization", "allocation"] = "utilization"


class WorkloadHistoryArgs(BaseModel):
    workload: str
    namespace: str | None = None
    cluster: str | None = None
    period: PeriodArgs


class SnapshotArgs(BaseModel):
    cluster: str | None = None


class MetadataArgs(BaseModel):
    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    period: PeriodArgs


class ClustersArgs(BaseModel):
    pass


class NamespacesArgs(BaseModel):
    cluster: str | None = None
    period: PeriodArgs


class DimensionKeysArgs(BaseModel):
    cluster: str | None = None
    dimension_type: Literal["label", "annotation"] = "label"
    period: PeriodArgs


class DimensionValuesArgs(BaseModel):
    cluster: str | None = None
    dimension_type: Literal["label", "annotation"] = "label"
    key: str
    period: PeriodArgs


class CompareArgs(BaseModel):
    a_scope: ScopeArgs
    a_period: PeriodArgs
    a_label: str
    b_scope: ScopeArgs
    b_period: PeriodArgs
    b_label: str


class DrilldownArgs(BaseModel):
    scope: ScopeArgs
    period: PeriodArgs
    baseline: PeriodArgs


class ChildrenCompareArgs(BaseModel):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    child: Literal["namespace", "user", "workload", "label"] = "namespace"
    period: PeriodArgs
    baseline: PeriodArgs
    label_key: str | None = None


class FreshnessArgs(BaseModel):
    cluster: str | None = None


class RankingArgs(BaseModel):
    scope: ScopeArgs = Field(default_factory=ScopeArgs)
    entity: Literal["namespace", "user", "workload", "label"] = "namespace"
    by: Literal["idle", "gpu_hours", "utilization_low", "utilization_high"] = "idle"
    period: PeriodArgs
    limit: int = Field(10, ge=1, le=100)
    label_key: str | None = None


def rows_of(artifact: Any) -> int:
    """How many rows a tool's artifact holds (for ``data_collected``)."""
    if isinstance(artifact, list):
        return len(artifact)
    if isinstance(artifact, dict):
        for key in ("series", "items", "contributors", "by_namespace", "options", "workloads",
                    "rows", "clusters"):
            if isinstance(artifact.get(key), list):
                return len(artifact[key])
        return 1
    return 0


def make_tools(source: Source, now: datetime) -> list:
    """The tools, bound to ``source``. Imported lazily: langchain_core is not needed for --help."""
    from langchain_core.tools import StructuredTool

    def wrap(name: str, description: str, args_schema: type[BaseModel], fn):
        def run(**kwargs):
            artifact = fn(args_schema.model_validate(kwargs))
            return f"{name}: {rows_of(artifact)} rows", artifact

        return StructuredTool.from_function(func=run, name=name, description=description,
                                            args_schema=args_schema,
                                            response_format="content_and_artifact")

    def trend(a: TrendArgs):
        return figures.trend(source, a.scope.scope(), a.period.period(), a.metric)

    def workload_history(a: WorkloadHistoryArgs):
        scope = Scope(kind="workload", cluster=a.cluster, namespace=a.namespace, workload=a.workload)
        out = figures.trend(source, scope, a.period.period())
        p = a.period.period()
        out["workloads"] = [w.__dict__ for w in source.workloads(a.cluster, p.start, p.end,
                                                                 namespace=a.namespace)
                            if w.name == a.workload]
        return out

    def snapshot(a: SnapshotArgs):
        return figures.realtime(source, a.cluster, now)

    def metadata(a: MetadataArgs):
        p = a.period.period()
        return {"workloads": [w.__dict__ for w in source.workloads(a.cluster, p.start, p.end,
                                                                    namespace=a.namespace, user=a.user)]}

    def clusters(_: ClustersArgs):
        return {"options": source.clusters()}

    def namespaces(a: NamespacesArgs):
        p = a.period.period()
        return {"options": source.namespaces(a.cluster, p.start, p.end)}

    def dimension_keys(a: DimensionKeysArgs):
        p = a.period.period()
        return {"options": source.dimension_keys(a.cluster, a.dimension_type, p.start, p.end),
                "dimension_type": a.dimension_type}

    def dimension_values(a: DimensionValuesArgs):
        p = a.period.period()
        return {"options": source.dimension_values(a.cluster, a.dimension_type, a.key, p.start, p.end),
                "key": a.key}

    def compare(a: CompareArgs):
        return figures.compare(source, (a.a_scope.scope(), a.a_period.period(), a.a_label),
                               (a.b_scope.scope(), a.b_period.period(), a.b_label))

    def drilldown(a: DrilldownArgs):
        return figures.drilldown(source, a.scope.scope(), a.period.period(), a.baseline.period())

    def children(a: ChildrenCompareArgs):
        rows = figures.children_compare(source, a.scope.scope(), a.child, a.period.period(),
                                        a.baseline.period(), label_key=a.label_key)
        return {"child": a.child, "rows": rows}

    def freshness(a: FreshnessArgs):
        return figures.freshness(source, a.cluster, now)

    def ranking(a: RankingArgs):
        return figures.ranking(source, a.scope.scope(), a.entity, a.period.period(), a.by,
                               a.limit, a.label_key)

    return [
        wrap("query_gpu_usage_trend", "Hourly utilization/allocation series and period figures "
             "for a cluster, namespace, user, label or workload.", TrendArgs, trend),
        wrap("analyze_workload_history", "History of one workload: hourly series, GPU-hours, "
             "utilization, and its metadata.", WorkloadHistoryArgs, workload_history),
        wrap("get_latest_snapshot", "Current GPU allocation: the latest snapshot, per namespace.",
             SnapshotArgs, snapshot),
        wrap("get_workload_metadata", "Workloads (name, namespace, kind, user) active in a period.",
             MetadataArgs, metadata),
        wrap("get_available_clusters", "Names of the clusters.", ClustersArgs, clusters),
        wrap("get_available_namespaces", "Namespaces active in a period.", NamespacesArgs, namespaces),
        wrap("get_available_dimension_keys", "Label or annotation keys usable as filters.",
             DimensionKeysArgs, dimension_keys),
        wrap("get_available_dimension_values", "Values of one label or annotation key.",
             DimensionValuesArgs, dimension_values),
        wrap("compare_usage", "Compare two periods of one entity or two entities.", CompareArgs, compare),
        wrap("drilldown_change", "Attribute a change in utilization to users and workloads "
             "(or namespaces for a cluster).", DrilldownArgs, drilldown),
        wrap("compare_children", "Every child (namespaces of a cluster, users of a namespace, ...) "
             "in two periods, with its change: the week-over-week table.", ChildrenCompareArgs,
             children),
        wrap("get_data_freshness", "The newest hour of data per cluster and its age.",
             FreshnessArgs, freshness),
        wrap("rank_entities", "Rank namespaces, users or workloads by idle GPU-hours, GPU-hours "
             "or utilization.", RankingArgs, ranking),
    ]
