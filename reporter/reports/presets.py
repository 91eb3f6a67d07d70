"""The report kinds and the preset questions a report puts to the agent — plain tables.

This module is the one list of report kinds (``KINDS``: schedules, the CLI and the builder read
it) and must stay light: it imports nothing but the standard library, so ``gpureport report
--help`` and ``scheduler list`` do not pay for LangGraph or SQLAlchemy.

A report kind is a set of *blocks* (what the template shows, in ``BLOCK_ORDER``). Each preset
row below says which blocks its answer fills (``feeds``); a report asks the presets that feed
one of its blocks, for each section (all clusters, one cluster, one namespace), through the
same entry point as ``gpureport ask`` (``agent.ask.answer_preset``: no parsing, no LLM). What
the row says:

* ``intent`` — the agent's intent (trend, compare, drilldown, ranking, realtime, freshness,
  discovery, anomalies);
* ``scope`` — whom the question is about: ``section`` (the section's cluster and namespace),
  ``cluster`` (the section's cluster, without its namespace), ``dropped`` / ``moved`` (each
  namespace that dropped / moved, one question each), ``report`` (the report's clusters, for
  resolving the names given on the command line);
* ``period`` — ``period`` (the report's period against its baseline), ``baseline`` (the
  baseline against the period before it: the dashed line of the chart) or ``None``;
* extras — ``breakdown`` (``children``: the namespaces of a cluster or the users of a
  namespace, side by side in both periods — the week-over-week table), ``ranking`` (entity,
  by) and ``limit`` per kind, ``target`` of a discovery;
* ``question`` — the question as a person would ask it (``ReportContext.questions`` lists the
  ones asked). Placeholders: ``{who}`` (the scope in words), ``{name}`` (a namespace),
  ``{cluster}``, ``{period}``, ``{baseline}``.

When a preset is asked beyond "the report has a block it feeds" (a drill-down only when the
change is worth explaining, the dropped namespaces only when there are some) is said where the
answer is used, in ``reporter.reports.build``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("weekly", "namespace-drops", "root-cause", "idle")
BLOCK_ORDER = ("kpis", "narrative", "chart", "table", "drops", "attribution", "movers",
               "anomalies", "idle", "snapshot")
BLOCKS: dict[str, tuple[str, ...]] = {
    "weekly": ("kpis", "narrative", "chart", "table", "drops", "anomalies", "idle", "snapshot"),
    "namespace-drops": ("kpis", "narrative", "table", "drops"),
    "root-cause": ("kpis", "narrative", "attribution", "movers"),
    "idle": ("kpis", "narrative", "idle", "snapshot"),
}
DEFAULT_PERIOD = {"weekly": "last-week", "namespace-drops": "last-week",
                  "root-cause": "last-week", "idle": "yesterday"}
# the blocks a summary over all clusters shows (its cluster table and drops list are taken
# from the cluster sections' answers)
SUMMARY_BLOCKS = frozenset({"kpis", "narrative", "chart", "snapshot"})


@dataclass(frozen=True)
class Preset:
    key: str
    intent: str
    scope: str  # section | cluster | dropped | moved | report
    period: str | None  # period | baseline | None
    feeds: frozenset[str]
    question: str
    # children: namespaces of a cluster, users of a namespace, workloads of a user; or a
    # child kind by name (user)
    breakdown: str | None = None
    ranking: tuple[str, str] | None = None  # (entity, by)
    limit: dict[str, int] = field(default_factory=dict)  # per report kind
    target: str | None = None  # discovery: clusters | namespaces


def _feeds(*blocks: str) -> frozenset[str]:
    return frozenset(blocks)


EVERY_BLOCK = _feeds(*BLOCK_ORDER)
PRESETS: list[Preset] = []
preset = PRESETS.append

# -- the names given on the command line, resolved against what the agent can list ----------
preset(Preset("clusters", "discovery", "report", None, EVERY_BLOCK,
              "Which clusters are there?", target="clusters"))
preset(Preset("namespaces", "discovery", "report", None, EVERY_BLOCK,
              "Which namespaces does {cluster} have?", target="namespaces"))
# a namespace that was active in the report's periods but not lately: the children of its
# cluster over the report's periods (asked only when discovery did not know the name)
preset(Preset("namespaces-then", "compare", "report", "period", EVERY_BLOCK,
              "How did the namespaces of {cluster} compare with {baseline}?",
              breakdown="children"))
# the users of the report's clusters over its periods (a schedule's ``fan_out: user``)
preset(Preset("users-then", "compare", "report", "period", EVERY_BLOCK,
              "How did the users of {cluster} compare with {baseline}?", breakdown="user"))

# -- every section -----------------------------------------------------------------------------
preset(Preset("trend", "trend", "section", "period", _feeds("kpis", "narrative", "chart"),
              "How was the GPU utilization of {who} over {period}?"))
# a section without data says how recent the data is
preset(Preset("freshness", "freshness", "cluster", None, EVERY_BLOCK,
              "How recent is the data of {cluster}?"))
# the KPI tiles; with the children side by side when a table, drops or movers need them
preset(Preset("compare", "compare", "section", "period", _feeds("kpis", "narrative"),
              "How did {who} compare with {baseline}?"))
preset(Preset("compare-children", "compare", "section", "period",
              _feeds("table", "drops", "movers"),
              "How did {who} compare with {baseline}?", breakdown="children"))
preset(Preset("chart-baseline", "trend", "section", "baseline", _feeds("chart"),
              "How was the GPU utilization of {who} over {baseline}?"))
preset(Preset("drilldown", "drilldown", "section", "period",
              _feeds("narrative", "attribution", "movers", "drops"),
              "Why did the utilization of {who} change compared with {baseline}?"))
preset(Preset("dropped", "drilldown", "dropped", "period", _feeds("drops"),
              "Why did the utilization of {name} in {cluster} change compared with {baseline}?"))
preset(Preset("moved", "drilldown", "moved", "period", _feeds("movers"),
              "Why did the utilization of {name} in {cluster} change compared with {baseline}?"))
preset(Preset("idle", "ranking", "section", "period", _feeds("idle"),
              "Which workloads of {who} held the most idle GPU-hours over {period}?",
              ranking=("workload", "idle"), limit={"weekly": 10, "idle": 20}))
# "Unusual this week": hours off the usual weekly pattern, shown only when there are some
preset(Preset("anomalies", "anomalies", "section", "period", _feeds("anomalies"),
              "Was anything unusual for {who} over {period}?"))
preset(Preset("snapshot", "realtime", "cluster", None, _feeds("snapshot"),
              "How many GPUs of {cluster} are allocated right now?"))

PRESET = {p.key: p for p in PRESETS}


def blocks_of(kinds: tuple[str, ...]) -> frozenset[str]:
    """The blocks a report of ``kinds`` shows (the union of its kinds' blocks)."""
    return frozenset(b for k in kinds for b in BLOCKS[k])


def limit_for(p: Preset, kinds: tuple[str, ...]) -> int:
    """A ranking's length: the longest any of the report's kinds asks for."""
    return max((p.limit[k] for k in kinds if k in p.limit), default=10)


__all__ = ["KINDS", "BLOCKS", "BLOCK_ORDER", "DEFAULT_PERIOD", "SUMMARY_BLOCKS", "Preset",
           "PRESETS", "PRESET", "blocks_of", "limit_for"]
