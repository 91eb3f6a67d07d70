"""Preset questions -> a report context: the figures and narrative a report template shows.

A report is a handful of questions put to the same agent that answers ``gpureport ask``
(product.md §7): "how was utilization over the period?" (trend), "how does it compare with the
period before?" (compare: the KPI tiles), "why did it change?" (drill-down: root causes and the
contributors of each namespace that dropped), "which workloads held GPUs idle?" (ranking),
"what is allocated right now?" (realtime). Each question is an ``Understanding`` built here —
no parsing — and answered by ``Agent.answer``; its ``figures`` fill the tables and its
``answer``/``insights`` are the narrative. The week-over-week namespace table is one grouped
query per period (``figures.children_compare``). No figure is computed in this module.

Decisions:

* Report kinds and what they hold (``BLOCKS``); a schedule may combine kinds: the report then
  holds the union of their blocks, in one fixed order.
* Default period: the last full ISO week (``last-week``) against the week before; the ``idle``
  kind defaults to yesterday. ``this-week`` compares with the same elapsed span of last week
  (``agent.periods.baseline``).
* "All clusters" (no ``--cluster``) with more than one cluster: a summary section over every
  cluster (KPIs, chart, a cluster table, every dropped namespace) followed by one full section
  per cluster. A schedule listing several clusters gets one section per listed cluster and no
  summary (a summary over a subset would need sums the sources do not offer).
* ``--namespace`` narrows the report to one namespace (of ``--cluster``, or of every cluster):
  KPIs and chart of the namespace, its users in the week-over-week table, its own drill-down as
  the root cause. An unknown namespace raises ``NotFound`` with the closest real names.
* A namespace "dropped" when its GPU-hour weighted utilization fell by at least the threshold
  (``drop_threshold_pp``, default 5 pp) and it held GPUs in both periods; a namespace that
  stopped or started is shown as gone/new in the table, not as a drop.
* A period without hourly rows yields a section that says so (and how recent the data is),
  not an error.
* Every source call of one build is memoized (``CachedSource``): the preset questions overlap
  (the KPI comparison, the trend and the drill-down all need the same period sums), "now" is
  fixed for the build, so asking the database twice would only cost time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Sequence

from agent import figures, phrasing
from agent.errors import NotFound, ReportError
from agent.graph import Agent
from agent.names import resolve_name
from agent.periods import (Period, baseline as baseline_of, parse_period, period_name,
                           period_text, zone)
from agent.phrasing import _period_words, gh, p1, signed, top_contributors
from agent.sources.base import (ChildKind, HourlyPoint, PeriodStats, Scope, Snapshot, Source,
                                WorkloadInfo)
from agent.understand.model import Understanding
from reporter.charts import usage_chart
from reporter.strings import strings

KINDS = ("weekly", "namespace-drops", "root-cause", "idle")
BLOCK_ORDER = ("kpis", "narrative", "chart", "table", "drops", "attribution", "movers", "idle",
               "snapshot")
BLOCKS: dict[str, tuple[str, ...]] = {
    "weekly": ("kpis", "narrative", "chart", "table", "drops", "idle", "snapshot"),
    "namespace-drops": ("kpis", "narrative", "table", "drops"),
    "root-cause": ("kpis", "narrative", "attribution", "movers"),
    "idle": ("kpis", "narrative", "idle", "snapshot"),
}
DEFAULT_PERIOD = {"weekly": "last-week", "namespace-drops": "last-week",
                  "root-cause": "last-week", "idle": "yesterday"}
METADATA_DAYS = 35  # a namespace active in the last five weeks (or the periods) is known
TOP_IDLE = {"weekly": 10, "idle": 20}
TOP_USERS, TOP_WORKLOADS, TOP_ATTRIBUTION = 6, 5, 10
# the "why" of a change goes into the narrative only when there is a change worth explaining;
# below this the contributors are noise of a few tenths of a point
NARRATE_CHANGE_PP = 1.0

# progress(fraction done 0..1, what is being done)
ProgressFn = Callable[[float, str], None]


# -------------------------------------------------------------------------------------------
# memoized source
class CachedSource:
    """A ``Source`` whose answers are remembered for the length of one report build.

    Every ``Source`` method is here, spelled out: the queries (sums, series, names) go through
    the memo, ``ping``/``close``/``idle_workloads`` straight to the source. The memo key is the
    method and its arguments with defaults filled in, so ``f(s, c, a, b)`` and
    ``f(s, c, a, b, label_key=None)`` are one query.

    Thread-safe (``figures`` runs independent calls in threads): concurrent identical calls
    wait for the first one instead of querying twice. Lists are returned as shallow copies;
    the values in them are never mutated by ``figures``.
    """

    def __init__(self, source: Source):
        self._source = source
        self._memo: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def _cached(self, call: Callable[..., Any], *args: Any) -> Any:
        key = (call.__name__, *args)
        with self._guard:
            if key in self._memo:
                return _copy(self._memo[key])
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._memo:
                    return _copy(self._memo[key])
            value = call(*args)
            with self._guard:
                self._memo[key] = value
        return _copy(value)

    def clusters(self) -> list[str]:
        return self._cached(self._source.clusters)

    def namespaces(self, cluster: str | None, start: datetime, end: datetime) -> list[str]:
        return self._cached(self._source.namespaces, cluster, start, end)

    def dimension_keys(self, cluster: str | None, dimension_type: str,
                       start: datetime, end: datetime) -> list[str]:
        return self._cached(self._source.dimension_keys, cluster, dimension_type, start, end)

    def dimension_values(self, cluster: str | None, dimension_type: str, key: str,
                         start: datetime, end: datetime) -> list[str]:
        return self._cached(self._source.dimension_values, cluster, dimension_type, key, start, end)

    def users(self, cluster: str | None, start: datetime, end: datetime,
              namespace: str | None = None) -> list[str]:
        return self._cached(self._source.users, cluster, start, end, namespace)

    def workloads(self, cluster: str | None, start: datetime, end: datetime,
                  namespace: str | None = None, user: str | None = None,
                  workload: str | None = None) -> list[WorkloadInfo]:
        return self._cached(self._source.workloads, cluster, start, end, namespace, user,
                            workload)

    def find_workload_names(self, cluster: str | None, start: datetime, end: datetime,
                            words: Sequence[str], exact: Sequence[str] = (),
                            limit: int = 50) -> dict[str, list[str]]:
        return self._source.find_workload_names(cluster, start, end, words, exact, limit)

    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats:
        return self._cached(self._source.period_stats, scope, start, end)

    def children_stats(self, scope: Scope, child: ChildKind, start: datetime, end: datetime,
                       label_key: str | None = None,
                       label_type: str = "label") -> list[PeriodStats]:
        return self._cached(self._source.children_stats, scope, child, start, end, label_key,
                            label_type)

    def hourly_series(self, scope: Scope, start: datetime, end: datetime) -> list[HourlyPoint]:
        return self._cached(self._source.hourly_series, scope, start, end)

    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None:
        return self._cached(self._source.latest_snapshot, cluster, at)

    def newest_stat_hour(self, cluster: str | None) -> datetime | None:
        return self._cached(self._source.newest_stat_hour, cluster)

    def idle_workloads(self, cluster: str | None, start: datetime, end: datetime,
                       min_gpus: float, max_utilization: float) -> list[PeriodStats]:
        return self._source.idle_workloads(cluster, start, end, min_gpus, max_utilization)

    def ping(self) -> str:
        return self._source.ping()

    def describe(self) -> str:
        return self._source.describe()

    def close(self) -> None:
        self._source.close()


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


# -------------------------------------------------------------------------------------------
# the context a template renders
@dataclass
class Kpi:
    """One KPI tile: this period's value, the baseline's, and the change.

    ``delta`` is in percentage points for percentages, in GPU-hours otherwise; ``delta_pct``
    is the relative change. ``better`` says which direction is good news (colours the delta).
    """

    key: str  # avg_utilization | allocation_rate | gpu_hours | idle_gpu_hours
    value: float | None
    previous: float | None
    delta: float | None
    delta_pct: float | None
    percent: bool
    better: str = "up"  # up | down | none

    @property
    def tone(self) -> str:
        if self.delta is None or self.better == "none":
            return "flat"
        change = self.delta if self.percent else (self.delta_pct or 0.0)
        if abs(change) < 0.05:
            return "flat"
        return "good" if (change > 0) == (self.better == "up") else "bad"

    def as_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "previous": self.previous,
                "delta": self.delta, "delta_pct": self.delta_pct, "percent": self.percent}


@dataclass
class Drill:
    """A namespace's (or any scope's) drill-down: who moved its utilization, and by how much."""

    cluster: str | None
    namespace: str
    before: dict
    after: dict
    delta_pp: float
    users: list[dict]
    workloads: list[dict]
    answer: str
    users_total: int = 0
    workloads_total: int = 0

    @property
    def top(self) -> list[dict]:
        """The contributors that pushed the change in its direction, strongest first."""
        return top_contributors({"total_delta_pp": self.delta_pp,
                                 "contributors": self.users + self.workloads})


@dataclass
class Section:
    """One scope of the report: all clusters, one cluster, or one namespace."""

    key: str  # "all" | cluster name | "cluster/namespace"
    title: str
    scope: str  # all | cluster | namespace
    cluster: str | None
    namespace: str | None
    empty: bool = False
    newest_data: datetime | None = None
    kpis: list[Kpi] = field(default_factory=list)
    chart_svg: str | None = None
    table_kind: str = "namespace"  # namespace | user | cluster
    table: list[dict] = field(default_factory=list)
    drops: list[Drill] = field(default_factory=list)
    attribution: list[dict] = field(default_factory=list)
    attribution_kind: str = "namespace"
    movers: list[Drill] = field(default_factory=list)
    idle: list[dict] = field(default_factory=list)
    idle_total: int = 0
    snapshot: dict | None = None
    narrative: list[str] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)
    compare: dict | None = None  # the compare figures behind the KPI tiles

    def kpi(self, key: str) -> Kpi | None:
        return next((k for k in self.kpis if k.key == key), None)


@dataclass
class ReportContext:
    """Everything a report template needs; built by ``build_report``."""

    kinds: tuple[str, ...]
    blocks: tuple[str, ...]
    lang: str
    cluster: str | None
    clusters: list[str]
    namespace: str | None
    period: Period
    baseline: Period
    now: datetime
    generated_at: datetime
    tz: tzinfo
    threshold_pp: float
    sections: list[Section]
    questions: list[str] = field(default_factory=list)  # the preset questions, as asked

    @property
    def kind(self) -> str:
        return self.kinds[0]

    subset: bool = False  # the sections are a listed subset of the clusters (schedules)

    @property
    def scope_label(self) -> str:
        """What the report covers, as a person would say it (header, subject)."""
        if self.cluster:
            base = self.cluster
        elif self.subset:
            base = ", ".join(self.clusters)
        else:
            base = "所有集群" if self.lang == "zh" else "all clusters"
        return f"{base} / {self.namespace}" if self.namespace else base

    @property
    def empty(self) -> bool:
        return all(s.empty for s in self.sections)

    @property
    def main(self) -> Section | None:
        return self.sections[0] if self.sections else None

    @property
    def dropped(self) -> list[Drill]:
        """Every dropped namespace across sections (a summary repeats its clusters' drops)."""
        seen, out = set(), []
        for s in self.sections:
            for d in s.drops:
                if (d.cluster, d.namespace) not in seen:
                    seen.add((d.cluster, d.namespace))
                    out.append(d)
        return out

    def subject_context(self) -> dict[str, Any]:
        """Variables for the email subject template (on top of the schedule's own)."""
        main = self.main
        kpis = {k.key: k.as_dict() for k in (main.kpis if main else [])}

        def fmt(key: str, pct: bool) -> str:
            v = kpis.get(key, {}).get("value")
            return "n/a" if v is None else (f"{p1(v)}%" if pct else gh(v))

        util = kpis.get("avg_utilization", {})
        return {
            "cluster": self.scope_label,
            "scope": self.scope_label,
            "report_period": period_text(self.period, self.tz),
            "report_label": period_name(self.period, self.tz),
            "avg_utilization": fmt("avg_utilization", True),
            "utilization_delta": signed(util.get("delta")) if util.get("delta") is not None else "n/a",
            "allocation_rate": fmt("allocation_rate", True),
            "gpu_hours": fmt("gpu_hours", False),
            "idle_gpu_hours": fmt("idle_gpu_hours", False),
            "dropped_namespaces": ", ".join(d.namespace for d in self.dropped),
            "dropped_count": len(self.dropped),
            "kpis": kpis,
            "empty": self.empty,
        }


# -------------------------------------------------------------------------------------------
# asking the agent
class _Asker:
    """Puts preset questions to one agent for one pair of periods."""

    def __init__(self, source: Source, now: datetime, lang: str, period: Period,
                 base: Period, questions: list[str]):
        self.agent = Agent(source, now)
        self.lang = lang
        if lang == "zh":  # the agent phrases period labels as given: give them in Chinese
            period = period.relabel(_period_words(period.label, lang))
            base = base.relabel(_period_words(base.label, lang))
        self.period, self.base = period, base
        self.questions = questions

    def ask(self, question: str, intent: str, *, period: Period | None = None,
            base: Period | None = None, **entities) -> dict:
        u = Understanding(question=question, language=self.lang, intent=intent,  # type: ignore[arg-type]
                          confidence=1.0, period=period or self.period,
                          baseline=base or self.base, period_explicit=True, **entities)
        out = self.agent.answer(u)
        self.questions.append(question)
        if out.get("needs_clarification"):
            raise ReportError(f"preset question '{question}' could not be answered: "
                              f"{out.get('question') or 'clarification needed'}")
        return out


def _sentence(text: str) -> str:
    """The agent's compare answer starts with the period label ("last week: ..."): as the
    first words of a paragraph it gets a capital letter. Names from the data are left alone."""
    if text[:5] in ("last ", "this ") or text[:4] == "the ":
        return text[0].upper() + text[1:]
    return text


def _scope_words(cluster: str | None, namespace: str | None) -> str:
    who = namespace or cluster or "all clusters"
    return f"{namespace} ({cluster})" if namespace and cluster else who


def _kpis(cmp: dict) -> list[Kpi]:
    a, b = cmp["a"], cmp["b"]
    has_base = bool(a.get("gpu_hours")) or bool(a.get("workloads"))
    if not has_base:
        return [Kpi("avg_utilization", b["avg_utilization"], None, None, None, True, "up"),
                Kpi("allocation_rate", b["allocation_rate"], None, None, None, True, "up"),
                Kpi("gpu_hours", b["gpu_hours"], None, None, None, False, "none"),
                Kpi("idle_gpu_hours", b["idle_gpu_hours"], None, None, None, False, "down")]
    return [
        Kpi("avg_utilization", b["avg_utilization"], a["avg_utilization"], cmp["delta_pp"],
            cmp["delta_pct"], True, "up"),
        Kpi("allocation_rate", b["allocation_rate"], a["allocation_rate"],
            cmp["allocation_delta_pp"], None, True, "up"),
        Kpi("gpu_hours", b["gpu_hours"], a["gpu_hours"], cmp["gpu_hours_delta"],
            cmp["gpu_hours_delta_pct"], False, "none"),
        Kpi("idle_gpu_hours", b["idle_gpu_hours"], a["idle_gpu_hours"],
            cmp.get("idle_gpu_hours_delta"), cmp.get("idle_gpu_hours_delta_pct"), False, "down"),
    ]


def _drill(out: dict, cluster: str | None, namespace: str) -> Drill:
    f = out["figures"]
    users = [c for c in f.get("contributors", []) if c["kind"] == "user"]
    workloads = [c for c in f.get("contributors", []) if c["kind"] == "workload"]
    return Drill(cluster=cluster, namespace=namespace, before=f["before"], after=f["after"],
                 delta_pp=f["total_delta_pp"], users=users[:TOP_USERS],
                 workloads=workloads[:TOP_WORKLOADS], answer=out["answer"],
                 users_total=len(users), workloads_total=len(workloads))


@dataclass
class _Plan:
    blocks: frozenset[str]
    threshold: float
    top_idle: int
    labels: dict[str, str]
    day_names: Sequence[str]
    tz: tzinfo


def _section(asker: _Asker, source: Source, plan: _Plan, cluster: str | None,
             namespace: str | None, title: str, tick: Callable[[str], None]) -> Section:
    """One section: the preset questions about one scope, answered by the agent."""
    scope_kind = "namespace" if namespace else ("cluster" if cluster else "all")
    sec = Section(key=f"{cluster or 'all'}/{namespace}" if namespace else (cluster or "all"),
                  title=title, scope=scope_kind, cluster=cluster, namespace=namespace)
    who = _scope_words(cluster, namespace)
    ent: dict[str, Any] = {"cluster": cluster, "namespace": namespace}
    blocks = plan.blocks
    period, base = asker.period, asker.base

    tick(f"{who}: trend")
    trend = asker.ask(f"How was the GPU utilization of {who} over {period.label}?", "trend", **ent)
    if not trend["figures"].get("hours"):
        sec.empty = True
        sec.newest_data = source.newest_stat_hour(cluster)
        sec.narrative = [trend["answer"]]
        return sec

    tick(f"{who}: week over week")
    cmp = asker.ask(f"How did {who} compare with {base.label}?", "compare", **ent)
    sec.compare = cmp["figures"]
    sec.kpis = _kpis(cmp["figures"])
    sec.narrative.append(_sentence(cmp["answer"]) if asker.lang == "en" else cmp["answer"])
    sec.insights.extend(trend["insights"])

    if "chart" in blocks:
        tick(f"{who}: chart")
        prev = asker.ask(f"How was the GPU utilization of {who} over {base.label}?", "trend",
                         period=base, base=baseline_of(base), **ent)
        sec.chart_svg = _chart(trend["figures"], prev["figures"], period, base, plan)

    # The drill-down (and, for a cluster, its follow-up into the namespace that moved most)
    # is the costliest question: user and workload sums in both periods. Ask it when the
    # report shows root causes, or when the change is large enough to be explained in the
    # narrative; a dropped namespace reuses the follow-up instead of asking again.
    delta = cmp["figures"].get("delta_pp") or 0.0
    wants_drill = scope_kind != "all" and (
        bool(blocks & {"attribution", "movers"})
        or (scope_kind == "namespace" and "drops" in blocks)
        or ("narrative" in blocks and bool(blocks & {"drops", "table"})
            and abs(delta) >= NARRATE_CHANGE_PP))
    drill = None
    if wants_drill:
        tick(f"{who}: root causes")
        drill = asker.ask(f"Why did the utilization of {who} change compared with {base.label}?",
                          "drilldown", **ent)
        if abs(drill["figures"].get("total_delta_pp") or 0.0) >= NARRATE_CHANGE_PP:
            sec.narrative.append(drill["answer"])

    # the week-over-week table: namespaces of a cluster, users of a namespace
    rows: list[dict] = []
    if scope_kind != "all" and blocks & {"table", "drops", "movers"}:
        tick(f"{who}: week-over-week table")
        child = "user" if namespace else "namespace"
        scope = Scope("namespace", cluster, namespace=namespace) if namespace \
            else Scope("cluster", cluster)
        rows = figures.children_compare(source, scope, child, period, base)
        sec.table_kind = child
        if "table" in blocks:
            sec.table = rows

    follow = (drill or {}).get("figures", {}).get("namespace_drilldown") if drill else None

    def drill_of(ns: str) -> Drill:
        if follow and follow.get("namespace") == ns:
            return _drill({"figures": follow, "answer": _ns_answer(asker, follow, cluster, ns)},
                          cluster, ns)
        out = asker.ask(f"Why did the utilization of {ns} in {cluster or 'all clusters'} change "
                        f"compared with {base.label}?", "drilldown", cluster=cluster, namespace=ns)
        return _drill(out, cluster, ns)

    if "drops" in blocks and scope_kind == "cluster":
        dropped = [r for r in rows if r["delta_pp"] is not None and r["delta_pp"] <= -plan.threshold]
        dropped.sort(key=lambda r: (r["delta_pp"], r["name"]))
        for r in dropped:
            tick(f"{who}: why {r['name']} dropped")
            sec.drops.append(drill_of(r["name"]))
    elif "drops" in blocks and scope_kind == "namespace" and drill is not None:
        if drill["figures"]["total_delta_pp"] <= -plan.threshold:
            sec.drops.append(_drill(drill, cluster, namespace or ""))

    if "attribution" in blocks and drill is not None:
        contrib = drill["figures"].get("contributors", [])
        first = "namespace" if scope_kind == "cluster" else "user"
        sec.attribution_kind = first
        sec.attribution = [c for c in contrib if c["kind"] == first][:TOP_ATTRIBUTION]
    if "movers" in blocks and drill is not None:
        if scope_kind == "namespace":
            sec.movers.append(_drill(drill, cluster, namespace or ""))
        else:
            moved = [r for r in rows if r["delta_pp"] is not None
                     and abs(r["delta_pp"]) >= plan.threshold]
            moved.sort(key=lambda r: (-abs(r["delta_pp"]), r["name"]))
            names = [r["name"] for r in moved]
            if not names and follow:
                names = [follow["namespace"]]
            for ns in names:
                tick(f"{who}: what moved {ns}")
                sec.movers.append(drill_of(ns))

    if scope_kind == "namespace" and drill is not None and (sec.drops or sec.movers) \
            and drill["answer"] in sec.narrative:
        sec.narrative.remove(drill["answer"])  # the drill-down box below says it

    if "idle" in blocks:
        tick(f"{who}: idle workloads")
        rank = asker.ask(f"Which workloads of {who} held the most idle GPU-hours over "
                         f"{period.label}?", "ranking", ranking_entity="workload",
                         ranking_by="idle", limit=plan.top_idle, **ent)
        sec.idle = rank["figures"].get("items", [])
        sec.idle_total = rank["figures"].get("total", len(sec.idle))
        if sec.idle:
            sec.narrative.append(rank["answer"])

    if "snapshot" in blocks:
        tick(f"{who}: current allocation")
        now_ = asker.ask(f"How many GPUs of {cluster or 'all clusters'} are allocated right now?",
                         "realtime", cluster=cluster)
        snap = dict(now_["figures"])
        if snap.get("time") is not None:
            if namespace:
                snap["by_namespace"] = [n for n in snap.get("by_namespace", [])
                                        if n["namespace"] == namespace]
            sec.snapshot = snap
    return sec


def _ns_answer(asker: _Asker, f: dict, cluster: str | None, ns: str) -> str:
    """The phrasing of a namespace drill-down the agent computed as a follow-up."""
    entities = {"cluster": cluster, "namespace": ns}
    answer, _ = phrasing.phrase("drilldown", f, entities, asker.lang, asker.period.label,
                                asker.base.label)
    return answer


def _chart(cur: dict, prev: dict, period: Period, base: Period, plan: _Plan) -> str | None:
    return usage_chart(cur.get("series", []), period.start, period.end,
                       baseline=prev.get("series", []), baseline_start=base.start,
                       labels=plan.labels, tz=plan.tz, day_names=plan.day_names)


def _summary_from(sections: list[Section], summary: Section) -> None:
    """The summary's cluster table and drops, taken from the cluster sections' figures."""
    summary.table_kind = "cluster"
    rows = []
    for s in sections:
        if s.compare is None:
            rows.append({"name": s.cluster, "before": None, "after": None, "delta_pp": None,
                         "status": "empty"})
            continue
        a, b = s.compare["a"], s.compare["b"]
        rows.append({"name": s.cluster, "before": a if a.get("gpu_hours") else None,
                     "after": b, "delta_pp": s.compare["delta_pp"] if a.get("gpu_hours") else None,
                     "allocation_delta_pp": s.compare["allocation_delta_pp"],
                     "gpu_hours_delta": s.compare["gpu_hours_delta"],
                     "gpu_hours_delta_pct": s.compare["gpu_hours_delta_pct"],
                     "status": "changed" if a.get("gpu_hours") else "new"})
    summary.table = rows
    summary.drops = [d for s in sections for d in s.drops]
    if summary.snapshot is not None:
        summary.snapshot = dict(summary.snapshot)
        summary.snapshot["by_cluster"] = [
            {"cluster": s.cluster, "total_gpus": s.snapshot["total_gpus"],
             "allocated_gpus": s.snapshot["allocated_gpus"],
             "allocation_rate": s.snapshot["allocation_rate"], "time": s.snapshot["time"]}
            for s in sections if s.snapshot is not None]


# -------------------------------------------------------------------------------------------
# entry points
def resolve_periods(kinds: Sequence[str], period: str | Period | None, now: datetime,
                    tz: tzinfo | None) -> tuple[Period, Period]:
    if isinstance(period, Period):
        p = period
    else:
        p = parse_period(period or DEFAULT_PERIOD[kinds[0]], now, tz)
    return p, baseline_of(p, tz)


def _resolve(kind: str, name: str, options: Sequence[str]) -> str:
    """A name given on the command line -> the real name (exact, case- or separator-
    insensitive, as ``ask`` resolves them), else ``NotFound`` with "did you mean"."""
    match, suggestions = resolve_name(name, list(options))
    if match is None:
        raise NotFound(kind, name, suggestions)
    return match


def build_report(kind: str | Sequence[str], source: Source, now: datetime,
                 cluster: str | Sequence[str] | None = None, namespace: str | None = None,
                 period: str | Period | None = None, lang: str = "en",
                 drop_threshold: float = 5.0, progress: ProgressFn | None = None,
                 tz: tzinfo | str | None = None) -> ReportContext:
    """Put the preset questions of ``kind`` (one kind or several) to the agent.

    ``cluster``: one name, a list (one section each, no summary) or None (every cluster:
    a summary plus a section per cluster when there are several). Raises ``NotFound`` for an
    unknown cluster or namespace, ``PeriodError`` for an unusable period, ``ReportError`` for
    an unknown kind; a period without data is not an error (the report says so).
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(dict.fromkeys(kind))
    for k in kinds:
        if k not in KINDS:
            raise ReportError(f"unknown report kind '{k}' (choose {', '.join(KINDS)})")
    if lang not in ("en", "zh"):
        raise ReportError(f"unknown language '{lang}' (choose en or zh)")
    tz = zone(tz)
    progress = progress or (lambda _f, _m: None)
    blocks = frozenset(b for k in kinds for b in BLOCKS[k])
    cached = source if isinstance(source, CachedSource) else CachedSource(source)
    p, base = resolve_periods(kinds, period, now, tz)

    progress(0.0, "metadata")
    known_clusters = cached.clusters()
    listed = [cluster] if isinstance(cluster, str) else list(cluster or [])
    listed = [_resolve("cluster", c, known_clusters) for c in listed]
    if namespace is not None:
        lo = min(base.start, now - timedelta(days=METADATA_DAYS))
        hi = max(p.end, now)
        homes = listed or [None]
        known = sorted({n for c in homes for n in cached.namespaces(c, lo, hi)})
        namespace = _resolve("namespace", namespace, known)

    t = strings(lang)
    plan = _Plan(blocks=blocks, threshold=drop_threshold,
                 top_idle=max(TOP_IDLE.get(k, 10) for k in kinds),
                 labels={"utilization": t["chart_util"], "allocation": t["chart_alloc"],
                         "baseline": t["chart_base"].format(baseline=_period_word(base, lang)),
                         "title": t["chart_title"]},
                 day_names=t["days"], tz=tz)
    questions: list[str] = []
    asker = _Asker(cached, now, lang, p, base, questions)

    # which sections
    targets: list[tuple[str | None, str]] = []  # (cluster, title)
    summary_first = False
    if namespace is not None:
        if len(listed) > 1:
            raise ReportError("--namespace narrows a report to one namespace of at most one "
                              "cluster")
        c = listed[0] if listed else None
        targets = [(c, f"{namespace} ({c})" if c else namespace)]
    elif len(listed) == 1:
        targets = [(listed[0], listed[0])]
    elif listed:
        targets = [(c, c) for c in listed]
    else:
        if len(known_clusters) > 1:
            summary_first = True
            targets = [(None, t["all_clusters"])] + [(c, c) for c in known_clusters]
        else:
            targets = [(known_clusters[0] if known_clusters else None,
                        known_clusters[0] if known_clusters else t["all_clusters"])]

    sections: list[Section] = []
    n = len(targets)
    for i, (c, title) in enumerate(targets):
        steps = iter(range(1, 100))

        def tick(msg: str, i=i, steps=steps) -> None:
            progress(min(0.99, (i + min(next(steps), 9) / 10) / n), msg)

        is_summary = summary_first and i == 0
        sec_plan = plan
        if is_summary:  # the summary: KPIs, chart, cluster table, snapshot totals, drops list
            sec_plan = replace(plan, blocks=blocks & frozenset({"kpis", "narrative", "chart",
                                                                "snapshot"}))
        sections.append(_section(asker, cached, sec_plan, c, namespace, title, tick))
    if summary_first:
        _summary_from(sections[1:], sections[0])
        if sections[0].empty:  # nothing anywhere: one notice is enough
            sections = sections[:1]
    progress(1.0, "done")
    return ReportContext(kinds=kinds, blocks=tuple(b for b in BLOCK_ORDER if b in blocks),
                         lang=lang, cluster=listed[0] if len(listed) == 1 else None,
                         clusters=listed or known_clusters, namespace=namespace, period=p,
                         baseline=base, now=now, generated_at=datetime.now(timezone.utc),
                         tz=tz, threshold_pp=drop_threshold, sections=sections,
                         questions=questions, subset=len(listed) > 1)


def _period_word(p: Period, lang: str) -> str:
    return _period_words(p.label, lang)


__all__ = ["KINDS", "BLOCKS", "ReportContext", "Section", "Kpi", "Drill", "CachedSource",
           "build_report", "resolve_periods"]
