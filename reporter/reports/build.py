"""Preset questions -> a report context: the figures and narrative a report template shows.

A report is a handful of questions put to the same agent that answers ``gpureport ask``
(product.md §7): "how was utilization over the period?" (trend), "how does it compare with the
period before, namespace by namespace?" (compare with a breakdown: the KPI tiles and the
week-over-week table), "why did it change?" (drill-down: root causes and the contributors of
each namespace that dropped), "which workloads held GPUs idle?" (ranking), "what is allocated
right now?" (realtime), "how recent is the data?" (freshness). The questions are the rows of
``reporter.reports.presets``; each is answered by ``agent.ask.answer_preset`` over a source
that remembers its answers for the build (``agent.sources.memo.MemoSource``), so overlapping
questions cost one query. No figure is computed here and no source method is called but
through the agent.

Decisions:

* A schedule may combine kinds: the report then holds the union of their blocks, in one fixed
  order (``presets.BLOCK_ORDER``).
* Default period: the last full ISO week (``last-week``) against the week before; the ``idle``
  kind defaults to yesterday. ``this-week`` compares with the same elapsed span of last week
  (``agent.periods.baseline``).
* "All clusters" (no ``--cluster``) with more than one cluster: a summary section over every
  cluster (KPIs, chart, a cluster table, every dropped namespace) followed by one full section
  per cluster. A schedule listing several clusters gets one section per listed cluster and no
  summary (a summary over a subset would need sums the sources do not offer).
* ``--namespace`` narrows the report to one namespace (of ``--cluster``, or of every cluster):
  KPIs and chart of the namespace, its users in the week-over-week table, its own drill-down as
  the root cause. Names given on the command line are resolved against what the agent lists
  (its recent namespaces, then those active in the report's periods); an unknown one raises
  ``NotFound`` with the closest real names.
* A period without hourly rows yields a section that says so (and how recent the data is),
  not an error.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Callable, Sequence

from agent.deps import AgentDeps
from agent.errors import NotFound, ReportError
from agent.figures import dropped_namespaces
from agent.names import resolve_name
from agent.period_parse import parse_period
from agent.periods import Period, baseline as baseline_of, zone
from agent.prices import Prices
from agent.sources.base import Source
from agent.sources.memo import MemoSource
from reporter.reports.asking import Asker, Label
from reporter.reports.context import ReportContext, Section
from reporter.reports.presets import (BLOCK_ORDER, DEFAULT_PERIOD, KINDS, SUMMARY_BLOCKS,
                                      blocks_of)
from reporter.reports.sections import Plan, build_section

# progress(fraction done 0..1, what is being done)
ProgressFn = Callable[[float, str], None]


def resolve_periods(kinds: Sequence[str], period: str | Period | None, now: datetime,
                    tz: tzinfo | None) -> tuple[Period, Period]:
    """The report's period (default per kind) and the baseline it is compared with."""
    p = period if isinstance(period, Period) else \
        parse_period(period or DEFAULT_PERIOD[kinds[0]], now, tz)
    return p, baseline_of(p, tz)


def build_report(kind: str | Sequence[str], source: Source, now: datetime,
                 cluster: str | Sequence[str] | None = None, namespace: str | None = None,
                 period: str | Period | None = None, lang: str = "en",
                 drop_threshold: float = 5.0, drop_min_share_pct: float = 2.0,
                 progress: ProgressFn | None = None,
                 tz: tzinfo | str | None = None, user: str | None = None,
                 prices: Prices | None = None, label: Label | None = None) -> ReportContext:
    """Put the preset questions of ``kind`` (one kind or several) to the agent.

    ``cluster``: one name, a list (one section each, no summary) or None (every cluster:
    a summary plus a section per cluster when there are several). A namespace dropped when its
    utilization fell by ``drop_threshold`` pp or more and it holds ``drop_min_share_pct`` % of
    its cluster's GPU-hours. ``user`` narrows the report to one user (of ``cluster``, else of
    every cluster) as a team digest per user does: its workloads week over week, its idle
    workloads, no drops and no allocation snapshot. ``label`` (type, key, value) narrows it
    to one label value as a team digest per label value does (``build_section``).
    ``prices`` (the configuration's):
    cost KPIs and idle costs. Raises ``NotFound`` for an unknown cluster or namespace,
    ``PeriodError`` for an unusable period, ``ReportError`` for an unknown kind; a period
    without data is not an error (the report says so).
    """
    kinds = (kind,) if isinstance(kind, str) else tuple(dict.fromkeys(kind))
    for k in kinds:
        if k not in KINDS:
            raise ReportError(f"unknown report kind '{k}' (choose {', '.join(KINDS)})")
    if lang not in ("en", "zh"):
        raise ReportError(f"unknown language '{lang}' (choose en or zh)")
    tz = zone(tz)
    progress = progress or (lambda _f, _m: None)
    blocks = blocks_of(kinds)
    p, base = resolve_periods(kinds, period, now, tz)
    memo = source if isinstance(source, MemoSource) else MemoSource(source)
    asker = Asker(AgentDeps(source=memo, now=now, prices=prices), lang, p, base, kinds)

    progress(0.0, "metadata")
    known_clusters = list(asker.ask("clusters").figures.get("options", []))
    listed = [cluster] if isinstance(cluster, str) else list(cluster or [])
    listed = [_resolve("cluster", c, known_clusters) for c in listed]
    if namespace is not None:
        if len(listed) > 1:
            raise ReportError("--namespace narrows a report to one namespace of at most one "
                              "cluster")
        namespace = _resolve_namespace(asker, namespace, listed[0] if listed else None)

    if user is not None and (namespace is not None or len(listed) > 1):
        raise ReportError("a report about one user covers at most one cluster and no namespace")
    if label is not None and (namespace is not None or user is not None or len(listed) > 1):
        raise ReportError("a report about one label value covers at most one cluster and no "
                          "namespace or user")
    own = namespace or user or (f"{label[1]}={label[2]}" if label else None)
    targets, summary_first = _targets(listed, known_clusters, own)
    plan = Plan(blocks=blocks, threshold=drop_threshold, min_share_pct=drop_min_share_pct)
    sections: list[Section] = []
    n = len(targets)
    for i, (c, title) in enumerate(targets):
        steps = iter(range(1, 100))

        def tick(msg: str, i=i, steps=steps) -> None:
            progress(min(0.99, (i + min(next(steps), 9) / 10) / n), msg)

        is_summary = summary_first and i == 0
        sec_plan = Plan(blocks & SUMMARY_BLOCKS, drop_threshold, drop_min_share_pct) \
            if is_summary else plan
        sections.append(build_section(asker, sec_plan, c, namespace, title, tick, user=user,
                                      label=label))
    if summary_first:
        _summary_from(sections[1:], sections[0], plan)
        _recommendations_up(sections[1:], sections[0])
        if sections[0].empty:  # nothing anywhere: one notice is enough
            sections = sections[:1]
    progress(1.0, "done")
    return ReportContext(kinds=kinds, blocks=tuple(b for b in BLOCK_ORDER if b in blocks),
                         lang=lang, cluster=listed[0] if len(listed) == 1 else None,
                         clusters=listed or known_clusters, namespace=namespace, period=p,
                         baseline=base, now=now, generated_at=datetime.now(timezone.utc),
                         tz=tz, threshold_pp=drop_threshold, sections=sections,
                         questions=asker.questions, subset=len(listed) > 1,
                         min_share_pct=drop_min_share_pct, user=user)


def _resolve(kind: str, name: str, options: Sequence[str]) -> str:
    """A name given on the command line -> the real name (exact, case- or separator-
    insensitive, as ``ask`` resolves them), else ``NotFound`` with "did you mean"."""
    match, suggestions = resolve_name(name, list(options))
    if match is None:
        raise NotFound(kind, name, suggestions)
    return match


def _resolve_namespace(asker: Asker, name: str, cluster: str | None) -> str:
    """Against the namespaces the agent lists for the cluster (recently active), then, for a
    namespace that was active in the report's periods only, the children of the cluster then."""
    recent = list(asker.ask("namespaces", cluster).figures.get("options", []))
    match, _ = resolve_name(name, recent)
    if match is not None:
        return match
    then = [r["name"] for r in asker.ask("namespaces-then", cluster).figures.get("children", [])]
    return _resolve("namespace", name, sorted(set(recent) | set(then)))


def _targets(listed: list[str], known: list[str],
             namespace: str | None) -> tuple[list[tuple[str | None, str]], bool]:
    """The sections, as (cluster, title), and whether the first one is a summary. A section
    over every cluster has no title of its own (the template says "all clusters")."""
    if namespace is not None:
        c = listed[0] if listed else None
        return [(c, f"{namespace} ({c})" if c else namespace)], False
    if listed:
        return [(c, c) for c in listed], False
    if len(known) > 1:
        return [(None, "")] + [(c, c) for c in known], True
    only = known[0] if known else None
    return [(only, only or "")], False


def _summary_from(sections: list[Section], summary: Section, plan: Plan) -> None:
    """The summary's cluster table and drops, taken from the cluster sections' answers."""
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
    summary.dropped = {r["name"] for r in dropped_namespaces(
        rows, plan.threshold, min_share_pct=plan.min_share_pct)}
    summary.drops = [d for s in sections for d in s.drops]
    if summary.snapshot is not None:
        summary.snapshot = dict(summary.snapshot)
        summary.snapshot["by_cluster"] = [
            {"cluster": s.cluster, "total_gpus": s.snapshot["total_gpus"],
             "allocated_gpus": s.snapshot["allocated_gpus"],
             "allocation_rate": s.snapshot["allocation_rate"], "time": s.snapshot["time"]}
            for s in sections if s.snapshot is not None]


def _recommendations_up(sections: list[Section], summary: Section) -> None:
    """With a summary, the clusters' recommendations are said once, there, largest saving
    first: one short block instead of one per cluster page (the digest keeps to its pages)."""
    recs = [r for s in sections for r in s.recommendations]
    summary.recommendations = sorted(recs, key=lambda r: -r["saving_gpu_hours"])
    summary.currency = next((s.currency for s in sections if s.currency), None)
    for s in sections:
        s.recommendations = []


__all__ = ["build_report", "resolve_periods", "ProgressFn", "ReportContext"]
