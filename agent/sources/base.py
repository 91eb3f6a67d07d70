"""The one small query interface every data source answers, and the values it returns.

Sources return *additive sums* (GPU-hours, utilized GPU-hours, capacity GPU-hours, row counts)
rather than ratios. Sums from several per-cluster databases, or from pages of an API, can then be
added before the ratios of product.md §4 are taken, so every source yields identical figures and
"all clusters" is just another sum. The ratios live here, in one place, as properties.

Semantics every source follows (so `sql` and `lens` give identical figures):

* A row belongs to ``[start, end)`` when ``start <= stat_hour < end``.
* ``capacity_gpu_hours`` of any entity = Σ ``total_gpu_capacity`` of the *cluster* rows of the
  same cluster filter and period (Lens leaves namespace capacity at 0).
* ``cluster=None`` = every cluster. In a single database holding several clusters (the demo
  store) rows are filtered by ``cluster_name``; a cluster configured with its own database
  (a real Lens deployment) is not filtered.
* The user of a workload row = the row's ``annotations[user_annotation]`` if non-empty, else its
  ``owner_name`` if non-empty, else (sql only) the user annotation of the top-level
  ``gpu_workload`` row with the same namespace and name (``parent_uid = ''``, one value per
  name), else ``(unknown)``. The Lens API exposes no workload annotations, so there the chain
  stops at ``owner_name``.
* scope ``user`` without namespace -> ``label_gpu_hourly_stats`` rows with ``dimension_type =
  'annotation'``, ``dimension_key = user_annotation``, ``dimension_value = user``;
  with a namespace -> the workload rows of that namespace whose user is ``user``.
* ``workloads`` = distinct (namespace, workload_name) among the workload rows behind the figure
  (0 for label-table scopes, which carry no workload identity).
* children: cluster->namespace (namespace table), cluster->user (annotation rows), namespace or
  user-in-namespace -> user/workload (workload rows), any -> label (label rows of one key).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Literal, Protocol, Sequence, runtime_checkable

from agent.errors import NotFound, SourceError
from agent.periods import iso
from agent.sources.snapshots import Snapshot

ScopeKind = Literal["cluster", "namespace", "user", "label", "workload"]
ChildKind = Literal["namespace", "user", "workload", "label"]
UNKNOWN_USER = "(unknown)"


@dataclass(frozen=True)
class Scope:
    """What a figure is about. ``cluster=None`` means every cluster the source knows.

    A ``user`` scope with a ``namespace`` is computed from workload rows (the user of each
    workload); without one it is the user annotation's rows of ``label_gpu_hourly_stats``,
    which is what Lens itself records per user.
    """

    kind: ScopeKind = "cluster"
    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    workload: str | None = None
    label_type: str = "label"  # label | annotation
    label_key: str | None = None
    label_value: str | None = None

    def with_(self, **changes) -> "Scope":
        return replace(self, **changes)

    @property
    def name(self) -> str:
        if self.kind == "cluster":
            return self.cluster or "all clusters"
        if self.kind == "namespace":
            return self.namespace or ""
        if self.kind == "user":
            return self.user or ""
        if self.kind == "workload":
            return self.workload or ""
        return f"{self.label_key}={self.label_value}"


@dataclass
class PeriodStats:
    """Additive sums over the hourly rows of one entity in one period (product.md §4)."""

    name: str
    gpu_hours: float = 0.0  # Σ allocated_gpu_count
    utilized_gpu_hours: float = 0.0  # Σ allocated × avg_utilization / 100
    utilization_sum: float = 0.0  # Σ avg_utilization (plain-mean fallback)
    rows: int = 0
    capacity_gpu_hours: float = 0.0  # Σ total_gpu_capacity of the cluster rows, same period
    workloads: int = 0  # distinct workloads, where the rows allow counting them
    namespace: str | None = None
    kind: str | None = None
    user: str | None = None
    cluster: str | None = None

    @property
    def avg_utilization(self) -> float:
        if self.gpu_hours > 0:
            return self.utilized_gpu_hours / self.gpu_hours * 100.0
        return self.utilization_sum / self.rows if self.rows else 0.0

    @property
    def allocation_rate(self) -> float:
        return self.gpu_hours / self.capacity_gpu_hours * 100.0 if self.capacity_gpu_hours else 0.0

    @property
    def idle_gpu_hours(self) -> float:
        return self.gpu_hours - self.utilized_gpu_hours

    def add(self, other: "PeriodStats") -> "PeriodStats":
        """Sum of two disjoint sets of rows (e.g. the same entity in two cluster databases)."""
        return replace(
            self,
            gpu_hours=self.gpu_hours + other.gpu_hours,
            utilized_gpu_hours=self.utilized_gpu_hours + other.utilized_gpu_hours,
            utilization_sum=self.utilization_sum + other.utilization_sum,
            rows=self.rows + other.rows,
            capacity_gpu_hours=self.capacity_gpu_hours + other.capacity_gpu_hours,
            workloads=self.workloads + other.workloads,
        )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "gpu_hours": self.gpu_hours,
            "avg_utilization": self.avg_utilization,
            "allocation_rate": self.allocation_rate,
            "idle_gpu_hours": self.idle_gpu_hours,
            "workloads": self.workloads,
            "hours": self.rows,
            **({"namespace": self.namespace} if self.namespace is not None else {}),
            **({"kind": self.kind} if self.kind is not None else {}),
            **({"user": self.user} if self.user is not None else {}),
            **({"cluster": self.cluster} if self.cluster is not None else {}),
        }


@dataclass
class HourlyPoint:
    """One hour of one entity. Sums again, so clusters can be added hour by hour."""

    time: datetime  # aware UTC, hour start
    allocated_gpus: float = 0.0
    utilized_gpus: float = 0.0  # allocated × util / 100
    utilization_sum: float = 0.0
    rows: int = 0
    capacity_gpus: float = 0.0  # cluster capacity that hour

    @property
    def avg_utilization(self) -> float:
        if self.allocated_gpus > 0:
            return self.utilized_gpus / self.allocated_gpus * 100.0
        return self.utilization_sum / self.rows if self.rows else 0.0

    @property
    def allocation_rate(self) -> float:
        return self.allocated_gpus / self.capacity_gpus * 100.0 if self.capacity_gpus else 0.0

    def as_dict(self) -> dict:
        return {
            "time": iso(self.time),
            "avg_utilization": self.avg_utilization,
            "allocation_rate": self.allocation_rate,
            "allocated_gpus": self.allocated_gpus,
        }


@dataclass
class DailyPoint(HourlyPoint):
    """One UTC day of one entity: the hourly sums added over the day (``allocated_gpus`` is
    then GPU-hours), ``hours`` = hours with rows that day."""

    hours: int = 0

    def as_dict(self) -> dict:
        return {
            "time": iso(self.time),
            "avg_utilization": self.avg_utilization,
            "allocation_rate": self.allocation_rate,
            "gpu_hours": self.allocated_gpus,
            "allocated_gpus": self.allocated_gpus / self.hours if self.hours else 0.0,
            "hours": self.hours,
        }


# lens.md §4.2: the API's workload rows take no label filter (namespace, name, type only)
LABEL_WORKLOADS = ("the users and workloads of a label value cannot be read over the Lens API "
                   "(its workload rows take no label filter): a label fan-out needs the sql "
                   "source")


def label_dimension(scope: Scope, child: str, user_annotation: str, label_key: str | None,
                    label_type: str) -> tuple[str, str] | None:
    """Which label rows list ``child`` of ``scope``, as (dimension type, key), or None when
    workload rows do: users of a cluster are Lens' own per-user annotation rows (users of a
    namespace or of a label value come from its workloads: the annotation rows of a user do
    not say which label values their GPUs carried); label values are the rows of that key."""
    if child not in ("label", "user") or scope.kind not in ("cluster", "label") or (
            child == "user" and (scope.namespace is not None or scope.kind == "label")):
        return None
    if child == "user":
        return "annotation", user_annotation
    if not label_key:
        raise SourceError("label children need a label key")
    return label_type, label_key


def daily_from_hourly(points: list[HourlyPoint]) -> list[DailyPoint]:
    """Hourly points added up per UTC day (for sources that only have hours, like the Lens API)."""
    days: dict[datetime, DailyPoint] = {}
    for p in points:
        t = p.time.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        d = days.setdefault(t, DailyPoint(time=t))
        d.allocated_gpus += p.allocated_gpus
        d.utilized_gpus += p.utilized_gpus
        d.utilization_sum += p.utilization_sum
        d.rows += p.rows
        d.capacity_gpus += p.capacity_gpus
        d.hours += 1
    return [days[k] for k in sorted(days)]


@dataclass
class Coverage:
    """How much of a period one cluster has data for (answers.md §2): ``hours`` with cluster
    rows in ``[start, end)``, and the first hour the cluster has rows at all ("data starts")."""

    cluster: str
    hours: int
    # the first hour with rows, any time (None: no rows ever; `lens` also leaves it None when
    # the period's first hour has rows: the data started before the period, no date is said)
    first: datetime | None = None


@dataclass
class WorkloadInfo:
    name: str
    namespace: str
    kind: str
    user: str = UNKNOWN_USER
    cluster: str | None = None


@dataclass
class WorkloadPeak:
    """One workload over a window (agent.recommendations): the sums over its hourly rows, the
    most GPUs it held in an hour, its busiest hour's peak (``max_utilization``) and average."""

    stats: PeriodStats  # name, namespace, kind, user, cluster set
    held_gpus: float = 0.0  # max allocated_gpu_count
    peak_utilization: float = 0.0  # max of the hourly max_utilization
    max_avg_utilization: float = 0.0  # max of the hourly avg_utilization


@dataclass
class OfficeSplit:
    """One namespace's sums inside office hours (weekdays, ``[from, to)`` o'clock UTC) and
    outside them (agent.recommendations: "schedule")."""

    cluster: str | None
    namespace: str
    office: PeriodStats
    other: PeriodStats


HISTORY_STATUSES = ("Running", "Pending", "Done", "Failed")
HISTORY_WINDOWS = ("ran", "ended", "started", "now")


@dataclass(frozen=True)
class HistoryFilter:
    """Which top-level workloads a history question is about (the seed's
    ``analyze_workload_history``: kind, status, sort, limit) and how the period applies:
    ``ended`` (end in the period), ``ran`` (overlaps it), ``started`` (created in it), ``now``
    (status now, no period). ``sort``: ``duration`` | ``gpu_hours`` | None (newest first)."""

    cluster: str | None = None
    namespace: str | None = None
    user: str | None = None
    kind: str | None = None
    status: str | None = None
    window: str = "ran"
    sort: str | None = None
    limit: int = 20


@dataclass
class WorkloadRun:
    """One top-level workload in a history answer; ``gpu_hours`` over the period asked
    (since it started, for ``now``), ``duration_hours`` start to end (to now while running)."""

    name: str
    namespace: str
    kind: str
    status: str
    user: str
    cluster: str | None
    start: datetime
    end: datetime | None
    gpu_hours: float
    duration_hours: float

    def as_dict(self) -> dict:
        return {"name": self.name, "namespace": self.namespace, "cluster": self.cluster,
                "kind": self.kind, "status": self.status, "user": self.user,
                "gpu_hours": self.gpu_hours, "duration_hours": self.duration_hours,
                "start": iso(self.start), "end": iso(self.end)}


@runtime_checkable
class Source(Protocol):
    """What the agent, reports and alerts need from a place that holds Lens-shaped GPU
    statistics: every method any caller uses, implemented by every source (``sql``, ``lens``),
    so that no caller has to probe a source for what it can do.

    Periods are half-open ``[start, end)`` in aware UTC datetimes.
    """

    def clusters(self) -> list[str]: ...

    def namespaces(self, cluster: str | None, start: datetime, end: datetime) -> list[str]: ...

    def namespaces_by_cluster(self, start: datetime, end: datetime) -> dict[str, list[str]]:
        """Every cluster's namespaces with rows in the period, at once (what name resolution
        and "which cluster is ml-team in" need: one statement on `sql`)."""
        ...

    def dimension_keys(self, cluster: str | None, dimension_type: str,
                       start: datetime, end: datetime) -> list[str]: ...

    def dimension_values(self, cluster: str | None, dimension_type: str, key: str,
                         start: datetime, end: datetime) -> list[str]: ...

    def users(self, cluster: str | None, start: datetime, end: datetime,
              namespace: str | None = None) -> list[str]: ...

    def workloads(self, cluster: str | None, start: datetime, end: datetime,
                  namespace: str | None = None, user: str | None = None,
                  workload: str | None = None) -> list[WorkloadInfo]:
        """Workloads with rows in the period (of a namespace, of a user, of one name)."""
        ...

    def find_workload_names(self, cluster: str | None, start: datetime, end: datetime,
                            words: Sequence[str], exact: Sequence[str] = (),
                            limit: int = 50) -> dict[str, list[str]]:
        """Per word, the names of workloads with rows in ``[start, end)`` that a person may mean
        by it — for name resolution, which must not list every workload of a large cluster.

        For each of ``words``: the names equal to it (also in lower case) and up to ``limit``
        names sharing its beginning (``agent.names`` scores those for "did you mean" and finds
        separator variants among them). For each of ``exact`` (everyday words, names only when
        spelled exactly): the names equal to it. ``sql`` checks both in one statement; ``lens``
        has no way to test many words at once, so it looks up ``words`` only (and returns
        ``[]`` for ``exact``) to keep the requests of a question bounded.
        """
        ...

    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats: ...

    def children_stats(self, scope: Scope, child: ChildKind, start: datetime, end: datetime,
                       label_key: str | None = None,
                       label_type: str = "label") -> list[PeriodStats]: ...

    def hourly_series(self, scope: Scope, start: datetime, end: datetime) -> list[HourlyPoint]: ...

    def daily_series(self, scope: Scope, start: datetime, end: datetime) -> list["DailyPoint"]:
        """``hourly_series`` added up per UTC day (in SQL where the source has SQL)."""
        ...

    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None: ...

    def newest_stat_hour(self, cluster: str | None) -> datetime | None: ...

    def coverage(self, cluster: str | None, start: datetime, end: datetime) -> list[Coverage]:
        """Per cluster (every cluster for None): the distinct hours with cluster rows in
        ``[start, end)`` and the cluster's first hour with rows — counted by the store, not by
        pulling hours into Python where the store can count."""
        ...

    def idle_workloads(self, cluster: str | None, start: datetime, end: datetime,
                       min_gpus: float, max_utilization: float) -> list[PeriodStats]:
        """Per workload, the sums over its hourly rows holding ``>= min_gpus`` GPUs at
        ``< max_utilization`` % (the idle-GPU alert rule)."""
        ...

    def gpu_models(self) -> dict[str, str]:
        """The GPU model of each cluster where the source tells it (agent.prices); {} else."""
        ...

    def workload_peaks(self, cluster: str | None, start: datetime,
                       end: datetime) -> list[WorkloadPeak]:
        """Per workload with rows in ``[start, end)``: its sums, held GPUs and busiest hour
        (one grouped query per cluster)."""
        ...

    def office_hours(self, cluster: str | None, start: datetime, end: datetime,
                     office_from: int = 8, office_to: int = 18) -> list[OfficeSplit]:
        """Per namespace, its sums on weekdays from ``office_from`` to ``office_to`` o'clock
        (UTC) and outside them."""
        ...

    def workload_history(self, f: HistoryFilter, start: datetime | None, end: datetime,
                         now: datetime) -> tuple[int, list[WorkloadRun]]:
        """(how many top-level workloads match ``f`` in [start, end), the first ``f.limit`` of
        them in ``f.sort`` order); ``start`` None for ``window="now"``."""
        ...

    def ping(self) -> str: ...

    def describe(self) -> str:
        """Where the data comes from, credentials masked (for messages and cache keys)."""
        ...

    def close(self) -> None: ...


__all__ = [
    "Source", "Scope", "ScopeKind", "ChildKind", "PeriodStats", "HourlyPoint", "LABEL_WORKLOADS",
    "WorkloadInfo", "WorkloadPeak", "OfficeSplit", "Coverage", "UNKNOWN_USER",
    "NotFound", "SourceError",  # defined in agent.errors; callers import them from here too
]
