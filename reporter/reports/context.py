"""What a report template renders: the report context, its sections, KPI tiles and drill-downs.

Plain data built by ``reporter.reports.build`` from the agent's answers; ``reporter.render``
turns it into HTML, PDF and email. Nothing here computes a figure or formats a number: values
stay numbers (formatting is the templates' filters), prose is the agent's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from agent.periods import Period

# What the document colours and lists (answers.md §8: say each thing once, only what is
# material). A change is coloured only when it is material: at least MATERIAL_PP percentage
# points for utilization, allocation and impacts, at least MATERIAL_PCT % for GPU-hours;
# smaller ones are grey (the footer says so). A week-over-week table shows at most TABLE_ROWS
# rows in the document (the largest by GPU-hours, plus every drop and mover), the rest go to the
# CSV kept with the report; an idle list shows IDLE_ROWS workloads.
MATERIAL_PP = 1.0
MATERIAL_PCT = 5.0
TABLE_ROWS = 15
IDLE_ROWS = 5


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
    currency: str | None = None  # money tiles (cost, idle_cost): the configured currency

    @property
    def tone(self) -> str:
        """good / bad for a material change (``MATERIAL_PP``, ``MATERIAL_PCT``), else flat."""
        if self.delta is None or self.better == "none":
            return "flat"
        change = self.delta if self.percent else (self.delta_pct or 0.0)
        if abs(change) < (MATERIAL_PP if self.percent else MATERIAL_PCT):
            return "flat"
        return "good" if (change > 0) == (self.better == "up") else "bad"

    def as_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "previous": self.previous,
                "delta": self.delta, "delta_pct": self.delta_pct, "percent": self.percent,
                **({"currency": self.currency} if self.currency else {})}


@dataclass
class Drill:
    """A namespace's (or any scope's) drill-down: who moved its utilization, and by how much.

    ``answer`` is the agent's headline for it; ``users``/``workloads`` the strongest
    contributors of each kind, ``*_total`` how many there were in all."""

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
    all_workloads: list[dict] = field(default_factory=list)  # every workload (the CSV)

    @property
    def contributors(self) -> list[dict]:
        return self.users + self.workloads

    @property
    def key(self) -> tuple[str | None, str]:
        return self.cluster, self.namespace


@dataclass
class Section:
    """One scope of the report: all clusters, one cluster, or one namespace."""

    key: str  # "all" | cluster name | "cluster/namespace"
    title: str
    scope: str  # all | cluster | namespace
    cluster: str | None
    namespace: str | None
    empty: bool = False
    user: str | None = None  # a user's section (a team digest per user)
    label: str | None = None  # a label value's section, as ``key=value`` (per label value)
    newest_data: datetime | None = None
    kpis: list[Kpi] = field(default_factory=list)
    # the chart's data: hourly points of the period and of the baseline (None: no chart)
    series: list[dict] | None = None
    baseline_series: list[dict] = field(default_factory=list)
    table_kind: str = "namespace"  # namespace | user | cluster
    table: list[dict] = field(default_factory=list)
    dropped: set[str] = field(default_factory=set)  # rows of the table that dropped
    drops: list[Drill] = field(default_factory=list)
    attribution: list[dict] = field(default_factory=list)
    attribution_kind: str = "namespace"
    movers: list[Drill] = field(default_factory=list)
    idle: list[dict] = field(default_factory=list)
    idle_total: int = 0
    currency: str | None = None  # prices configured: the idle table's cost column
    # what could be saved (agent.recommendations), without the idle workloads listed above
    recommendations: list[dict] = field(default_factory=list)
    snapshot: dict | None = None
    narrative: list[str] = field(default_factory=list)
    insights: list[str] = field(default_factory=list)
    # the answers' warnings (partial coverage, an early period ...), each once
    warnings: list[str] = field(default_factory=list)
    compare: dict | None = None  # the compare figures behind the KPI tiles
    # each table row's share of the section's change (pp), from the section's own drill-down:
    # namespaces of a cluster, users of a namespace (the attribution, as a column of the table);
    # keyed by ``row_key``: a user of a namespace in two clusters is two rows (answers.md §4)
    impacts: dict[tuple[str | None, str], float] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)  # rows of the table that rose or fell
    # "Unusual this week": the anomaly episodes of the section's scope (figures) and the
    # agent's line for each, the largest first; empty: the block is left out
    anomalies: list[dict] = field(default_factory=list)
    anomaly_lines: list[str] = field(default_factory=list)
    anomaly_weeks: int | None = None  # weeks of history the baseline had (None: not judged)

    def kpi(self, key: str) -> Kpi | None:
        return next((k for k in self.kpis if k.key == key), None)

    def row_key(self, r: dict) -> tuple[str | None, str]:
        """A table row (or a contributor) as one entity: its name, and its cluster when the
        section spans several (a namespace's users in every cluster that has the namespace)."""
        return (r.get("cluster") if self.cluster is None else None, r["name"])

    def row_label(self, r: dict) -> str:
        """The name a row is shown with: ``cluster/name`` when the section spans clusters and
        the row belongs to one (answers.md §4), else the name."""
        cluster = r.get("cluster") if self.table_kind != "cluster" and self.cluster is None else None
        return f"{cluster}/{r['name']}" if cluster else r["name"]

    def impact(self, r: dict) -> float | None:
        """The row's share of the section's change (pp), None when the drill-down has none."""
        return self.impacts.get(self.row_key(r))

    @property
    def table_rows(self) -> list[dict]:
        """The rows the document shows: the first ``TABLE_ROWS`` (largest by GPU-hours), plus
        any dropped or moved namespace beyond them, in the table's order."""
        if len(self.table) <= TABLE_ROWS:
            return self.table
        marked = self.dropped | self.moved
        return [r for i, r in enumerate(self.table) if i < TABLE_ROWS or r["name"] in marked]

    @property
    def table_hidden(self) -> int:
        return len(self.table) - len(self.table_rows)

    @property
    def idle_rows(self) -> list[dict]:
        return self.idle[:IDLE_ROWS]

    @property
    def gpus_now(self) -> dict[str, int] | None:
        """GPUs allocated now per namespace, when the allocation snapshot is a column of the
        week-over-week table of namespaces (rather than a second table of the same
        namespaces); None when there is no such table or no snapshot by namespace."""
        snap = self.snapshot
        if not snap or not self.table or self.table_kind != "namespace" or snap.get("by_cluster"):
            return None
        return {n["namespace"]: n["allocated_gpus"] for n in snap.get("by_namespace", [])} or None

    @property
    def snapshot_only(self) -> list[dict]:
        """Namespaces allocated now that are not rows of the table (idle in the period): the
        snapshot lists them itself. All of them when the table does not carry the snapshot."""
        snap = self.snapshot or {}
        if self.gpus_now is None:
            return list(snap.get("by_namespace", []))
        rows = {r["name"] for r in self.table}
        return [n for n in snap.get("by_namespace", []) if n["namespace"] not in rows]


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
    subset: bool = False  # the sections are a listed subset of the clusters (schedules)
    min_share_pct: float = 0.0  # a drop must hold this share of its cluster's GPU-hours
    # a team digest (schedule ``fan_out``): the team, and its scope's figures over the period
    # (the compare answer's ``b`` side for the cluster, or all clusters) to set its KPIs against
    team: str | None = None
    user: str | None = None  # the report is narrowed to one user (``fan_out: user``)
    reference: dict | None = None
    reference_label: str = ""
    # the data-quality gate's red banner (a digest sent although its data is incomplete)
    banner: str | None = None

    @property
    def kind(self) -> str:
        return self.kinds[0]

    @property
    def scope_label(self) -> str:
        """What the report covers, as a person would say it (header, subject)."""
        if self.cluster:
            base = self.cluster
        elif self.subset:
            base = ", ".join(self.clusters)
        else:
            base = "所有集群" if self.lang == "zh" else "all clusters"
        own = self.namespace or self.user
        return f"{base} / {own}" if own else base

    @property
    def empty(self) -> bool:
        return all(s.empty for s in self.sections)

    @property
    def main(self) -> Section | None:
        return self.sections[0] if self.sections else None

    @property
    def truncated(self) -> bool:
        """Whether a table is longer than the document shows (then a CSV holds all of it)."""
        return any(s.table_hidden for s in self.sections)

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


__all__ = ["Kpi", "Drill", "Section", "ReportContext", "MATERIAL_PP", "MATERIAL_PCT",
           "TABLE_ROWS", "IDLE_ROWS"]
