"""Team digests: which teams a fan-out schedule has, and one team's digest.

A schedule with ``fan_out: namespace`` sends every namespace that held GPUs in the period its
own digest (issue 14 item 1); ``fan_out: user`` every user (their workloads week over week,
their idle workloads; no drops, no allocation snapshot — it has no users). A team's digest is the same report as the platform's, narrowed
to the namespace — ``build_report(..., namespace=team)`` asks the same preset questions scoped
to it: its KPIs, its chart, its users week over week, its drill-down (users and workloads that
moved it), its idle workloads, its share of the current allocation — plus one more answer, the
compare answer of its cluster (or of every cluster), so that the digest can set the team's KPIs
against the cluster's. No figure is computed here.

``fan_out: label:<key>`` (``annotation:<key>``) sends every value of the key that held GPUs in
the period (Lens' label rows) its own digest: KPIs from the value's label rows, users and
workloads from the workload rows carrying the value (``sql_queries.label_match``). A team is
then named ``<key>=<value>`` (``annotation:<key>=<value>``): its claim, files and message-id
differ from a namespace's or another key's of the same value; ``teams:`` routes it by that
name or by the bare value. A source that cannot filter workload rows by label (the Lens API)
refuses in one line before any digest is made.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Sequence

from agent.deps import AgentDeps
from agent.periods import Period, baseline as baseline_of
from agent.errors import SourceError
from agent.sources.base import LABEL_WORKLOADS, UNKNOWN_USER, Scope, Source
from agent.sources.memo import MemoSource
from reporter.reports.asking import Asker
from reporter.reports.build import build_report
from reporter.reports.context import ReportContext
from reporter.schedules import label_of, label_team, team_of


def team_names(source: Source, now: datetime, period: Period,
               cluster: str | None = None, kind: str = "namespace") -> list[str]:
    """The namespaces (``kind`` user: the users; ``label:<key>``: the key's values, named by
    ``team_of``) that held GPUs in ``period`` (of ``cluster``, else of every cluster),
    sorted: one digest each. The agent's compare answer with the namespaces (users) side by
    side; a label key's values are its label rows, summed over the clusters."""
    if (found := label_of(kind)) is not None:
        if not getattr(source, "label_workloads", False):
            raise SourceError(LABEL_WORKLOADS)
        rows = source.children_stats(Scope(kind="cluster", cluster=cluster), "label",
                                     period.start, period.end, label_key=found[1],
                                     label_type=found[0])
        return sorted(team_of(kind, r.name) for r in rows if r.gpu_hours > 0 and r.name)
    asker = Asker(AgentDeps(source=source, now=now), "en", period, baseline_of(period),
                  ("weekly",))
    key = "users-then" if kind == "user" else "namespaces-then"
    rows = asker.ask(key, cluster).figures.get("children") or []
    # a user nobody can be told about ("(unknown)": no user annotation) gets no digest
    return sorted({r["name"] for r in rows if (r.get("after") or {}).get("gpu_hours")
                   and r["name"] != UNKNOWN_USER})


def build_team_report(kinds: Sequence[str], source: Source, now: datetime, team: str, *,
                      cluster: str | None = None, period: Period, lang: str = "en",
                      drop_threshold: float = 5.0, drop_min_share_pct: float = 2.0,
                      tz: tzinfo | str | None = None, kind: str = "namespace") -> ReportContext:
    """``team``'s digest over ``period``: the report narrowed to its namespace (``kind``
    user: to the user; ``label:<key>``: to the label value), with its cluster's figures (``ReportContext.reference``) to compare
    its KPIs with."""
    memo = source if isinstance(source, MemoSource) else MemoSource(source)
    label = label_team(kind, team)
    who = ({"label": label} if label else {"user": team} if kind == "user"
           else {"namespace": team})
    ctx = build_report(list(kinds), memo, now, cluster=cluster, period=period, lang=lang,
                       drop_threshold=drop_threshold, drop_min_share_pct=drop_min_share_pct,
                       tz=tz, **who)
    asker = Asker(AgentDeps(source=memo, now=now), lang, ctx.period, ctx.baseline, ctx.kinds)
    cmp = asker.ask("compare", cluster)
    if (cmp.figures.get("b") or {}).get("gpu_hours"):
        ctx.reference = dict(cmp.figures["b"])
        ctx.reference_label = cluster or ("所有集群" if lang == "zh" else "all clusters")
    ctx.team = team
    ctx.questions.extend(asker.questions)
    return ctx


__all__ = ["team_names", "build_team_report", "label_of", "label_team", "team_of"]
