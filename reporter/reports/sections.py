"""One section of a report (all clusters, one cluster, one namespace) from the agent's answers.

``build_section`` asks the section's preset questions in a fixed order and hands each answer
to the small function of the block it fills. Which questions are worth asking follows from
the blocks the report shows and from earlier answers:

* no hourly data in the period: the section says so and how recent the data is (the
  ``freshness`` preset), and asks nothing else;
* the week-over-week table, the drops and the movers need the children of the scope side by
  side (``compare-children``: namespaces of a cluster, users of a namespace); otherwise the
  plain ``compare`` answers the KPI tiles;
* the drill-down (user and workload sums in both periods: the costliest question) is asked
  when the report shows root causes, or a namespace's own drops, or when the change is large
  enough (``NARRATE_CHANGE_PP``) to be explained in the narrative;
* a namespace "dropped" by the one rule reports and alerts share
  (``agent.figures.dropped_namespaces``: a fall of at least the threshold in pp, GPUs held in
  both periods, at least ``min_share_pct`` of the cluster's GPU-hours — answers.md §8); each
  one gets its own drill-down question;
* "Unusual this week" (the ``anomalies`` preset): the episodes of the section's scope, each as
  the agent words it; a section without one shows nothing of it (answers.md §8);
* a namespace "moved" when it dropped, or rose by the same rule mirrored (at least the
  threshold up, at least the share). Only those get a drill-down: a −0.5 pp namespace is not
  worth a box, and with none nothing stands in.

Say each thing once (answers.md §8): the narrative is one answer's headline — the drill-down's
when the change is worth explaining (it names the change and its causes), else the compare
answer's — never both; the tiles carry the numbers. The attribution of a cluster's change to
its namespaces (of a namespace's to its users) becomes the ``impacts`` column of the
week-over-week table instead of a second table of the same rows. A namespace that dropped gets
one box (under drops), not a second one under movers. Idle workloads are a table, not also a
sentence. The trend's insights go into the narrative only when no chart shows the trend.

Nothing here computes a figure: tiles, tables and drill-downs are the answers' figures, the
narrative is the answers' headlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from agent.answer import Answer
from agent.figures import dropped_namespaces
from agent.periods import parse_now
from reporter.reports.asking import Asker, Label, scope_words
from reporter.reports.context import Drill, Kpi, Section

TOP_USERS, TOP_WORKLOADS, TOP_ATTRIBUTION, TOP_ANOMALIES = 6, 5, 10, 5
# the "why" of a change goes into the narrative only when there is a change worth explaining;
# below this the contributors are noise of a few tenths of a point
NARRATE_CHANGE_PP = 1.0

Tick = Callable[[str], None]


@dataclass(frozen=True)
class Plan:
    """What every section of one report shows, and the drop rule's thresholds."""

    blocks: frozenset[str]
    threshold: float
    min_share_pct: float


def build_section(asker: Asker, plan: Plan, cluster: str | None, namespace: str | None,
                  title: str, tick: Tick, user: str | None = None,
                  label: Label | None = None) -> Section:
    """One section: the preset questions about one scope, answered by the agent. ``user``:
    a user's section (a team digest per user): its workloads week over week, no drops.
    ``label``: a label value's section (a team digest per label value): its users week over
    week, its drill-down and idle workloads — no unusual hours, savings or allocation
    snapshot, which are per namespace and would show other teams' figures."""
    scope = "user" if user else "label" if label else (
        "namespace" if namespace else ("cluster" if cluster else "all"))
    own = user or namespace or (f"{label[1]}={label[2]}" if label else None)
    sec = Section(key=f"{cluster or 'all'}/{own}" if own else (cluster or "all"),
                  title=title, scope=scope, cluster=cluster, namespace=namespace, user=user,
                  label=own if label else None)
    who = scope_words(cluster, namespace, user, label)
    blocks = plan.blocks
    if user:
        asker = _ForUser(asker, user)  # type: ignore[assignment]
    if label:
        asker = _ForUser(asker, None, label)  # type: ignore[assignment]
        blocks = blocks - {"anomalies", "recommendations", "snapshot"}

    tick(f"{who}: trend")
    trend = asker.ask("trend", cluster, namespace)
    if not trend.figures.get("hours"):
        _empty(asker, sec, trend)
        return sec

    tick(f"{who}: week over week")
    children = scope != "all" and bool(blocks & {"table", "drops", "movers"})
    cmp = asker.ask("compare-children" if children else "compare", cluster, namespace)
    _kpis_and_narrative(sec, cmp, trend, asker.lang, chart="chart" in blocks)

    if "chart" in blocks:
        tick(f"{who}: chart")
        prev = asker.ask("chart-baseline", cluster, namespace)
        sec.series = list(trend.figures.get("series", []))
        sec.baseline_series = list(prev.figures.get("series", []))

    drill = None
    if _wants_drilldown(sec, blocks, cmp):
        tick(f"{who}: root causes")
        drill = asker.ask("drilldown", cluster, namespace)
        _warn(sec, drill)
        if abs(drill.figures.get("total_delta_pp") or 0.0) >= NARRATE_CHANGE_PP:
            sec.narrative = [drill.headline]  # the change and its causes, in one answer

    rows: list[dict] = []
    if children:
        rows = list(cmp.figures.get("children") or [])
        sec.table_kind = cmp.figures.get("child") or ("user" if namespace else "namespace")
        if scope != "user":  # the drop rule is about namespaces and users, not workloads
            sec.dropped = {r["name"] for r in dropped_namespaces(
                rows, plan.threshold, min_share_pct=plan.min_share_pct)}
        if scope == "cluster":
            sec.moved = sec.dropped | _rose(rows, plan)
        if "table" in blocks:
            sec.table = rows
            if drill is not None:
                sec.impacts = {sec.row_key(c): c["impact_pp"]
                               for c in drill.figures.get("contributors", [])
                               if c["kind"] == sec.table_kind}
    if "drops" in blocks:
        _drops(asker, plan, sec, rows, drill, tick)
    if "attribution" in blocks and drill is not None:
        _attribution(sec, drill)
    if "movers" in blocks and drill is not None:
        _movers(asker, plan, sec, drill, tick)

    if "anomalies" in blocks:
        tick(f"{who}: unusual hours")
        _anomalies(sec, asker.ask("anomalies", cluster, namespace))
    if "idle" in blocks:
        tick(f"{who}: idle workloads")
        _idle(sec, asker.ask("idle", cluster, namespace))
    if "recommendations" in blocks:
        tick(f"{who}: recommendations")
        _recommendations(sec, asker.ask("recommend", cluster, namespace))
    if "snapshot" in blocks and scope != "user":  # the snapshot has no users
        tick(f"{who}: current allocation")
        _snapshot(sec, asker.ask("snapshot", cluster))
    return sec


# -- blocks ----------------------------------------------------------------------------------
def _empty(asker: Asker, sec: Section, trend: Answer) -> None:
    """No hourly data in the period: say so, and how recent the newest data is."""
    sec.empty = True
    sec.narrative = [trend.headline]
    fresh = asker.ask("freshness", sec.cluster)
    newest = [parse_now(c["newest"]) for c in fresh.figures.get("clusters", []) if c["newest"]]
    sec.newest_data = max(newest) if newest else None


def _warn(sec: Section, *answers: Answer) -> None:
    """The answers' warnings, each once, in the order they came."""
    for a in answers:
        for w in a.warnings:
            if w not in sec.warnings:
                sec.warnings.append(w)


def _kpis_and_narrative(sec: Section, cmp: Answer, trend: Answer, lang: str,
                        chart: bool) -> None:
    sec.compare = cmp.figures
    sec.kpis = kpi_tiles(cmp.figures)
    sec.narrative.append(_sentence(cmp.headline) if lang == "en" else cmp.headline)
    if not chart:  # the chart shows the trend; without one its insights say it
        sec.insights.extend(trend.insights)
    _warn(sec, trend, cmp)


def _wants_drilldown(sec: Section, blocks: frozenset[str], cmp: Answer) -> bool:
    if sec.scope == "all":
        return False
    delta = cmp.figures.get("delta_pp") or 0.0
    return (bool(blocks & {"attribution", "movers"})
            or (sec.scope in ("namespace", "label") and "drops" in blocks)
            or ("narrative" in blocks and bool(blocks & {"drops", "table"})
                and abs(delta) >= NARRATE_CHANGE_PP))


def _rose(rows: list[dict], plan: Plan) -> set[str]:
    """The namespaces that rose by the drop rule mirrored: at least the threshold up, held in
    both periods, at least the share of the cluster's GPU-hours."""
    mirrored = [{**r, "delta_pp": -r["delta_pp"]} if r.get("delta_pp") is not None else r
                for r in rows]
    return {r["name"] for r in dropped_namespaces(mirrored, plan.threshold,
                                                  min_share_pct=plan.min_share_pct)}


def _drops(asker: Asker, plan: Plan, sec: Section, rows: list[dict], drill: Answer | None,
           tick: Tick) -> None:
    if sec.scope == "cluster":
        for r in dropped_namespaces(rows, plan.threshold, min_share_pct=plan.min_share_pct):
            tick(f"{sec.cluster}: why {r['name']} dropped")
            sec.drops.append(drill_of(asker.ask("dropped", sec.cluster, r["name"]),
                                      sec.cluster, r["name"]))
    elif sec.scope in ("namespace", "label") and drill is not None:
        # the namespace (label value) is the report's whole scope: its own drill-down is its drop
        if drill.figures["total_delta_pp"] <= -plan.threshold:
            sec.drops.append(drill_of(drill, sec.cluster, sec.namespace or sec.label or ""))


def _attribution(sec: Section, drill: Answer) -> None:
    first = {"cluster": "namespace", "user": "workload"}.get(sec.scope, "user")
    sec.attribution_kind = first
    sec.attribution = [c for c in drill.figures.get("contributors", [])
                       if c["kind"] == first][:TOP_ATTRIBUTION]


def _movers(asker: Asker, plan: Plan, sec: Section, drill: Answer, tick: Tick) -> None:
    """The namespaces that moved, each with its drill-down — but not again one whose box is
    already under drops. A namespace's (user's) own section has a box only when it moved by
    the threshold itself: a team digest of a team whose week was flat has no box of 0.0 pp."""
    boxed = {d.key for d in sec.drops}
    if sec.scope in ("namespace", "user", "label"):
        own = sec.user or sec.label or sec.namespace or ""
        moved = abs(drill.figures.get("total_delta_pp") or 0.0) >= plan.threshold
        if moved and (sec.cluster, own) not in boxed:
            sec.movers.append(drill_of(drill, sec.cluster, own))
        return
    rows = {r["name"]: r for r in sec.table} if sec.table else {}
    moved = sorted(sec.moved, key=lambda n: (-abs((rows.get(n) or {}).get("delta_pp") or 0.0), n))
    for ns in moved:
        if (sec.cluster, ns) in boxed:
            continue
        tick(f"{sec.cluster}: what moved {ns}")
        sec.movers.append(drill_of(asker.ask("moved", sec.cluster, ns), sec.cluster, ns))


def _anomalies(sec: Section, found: Answer) -> None:
    """The episodes the week's figures hide, each in the agent's words; nothing at all when
    there are none. An episode that covers the whole period is the period-over-period change
    itself — the tiles, the table and the drops already say it — so it is left out."""
    f = found.figures
    span = ((f.get("period") or {}).get("start"), (f.get("period") or {}).get("end"))
    # the answer's detail lines: one per episode, largest first, for the first TOP_ANOMALIES
    # (then "N more"); the episodes beyond them stay in the figures (the CSV, `ask --json`)
    episodes = f.get("anomalies") or []
    for i, e in enumerate(episodes):
        if (e["start"], e["end"]) == span:
            continue
        sec.anomalies.append(e)
        if i < TOP_ANOMALIES and i < len(found.insights):
            sec.anomaly_lines.append(found.insights[i])
    sec.anomaly_weeks = f.get("weeks_of_history") if f.get("detected") else None
    _warn(sec, found)


def _idle(sec: Section, rank: Answer) -> None:
    sec.idle = list(rank.figures.get("items", []))
    sec.idle_total = rank.figures.get("total") or len(sec.idle)  # None: no data at all
    sec.currency = rank.figures.get("currency")
    _warn(sec, rank)


def _recommendations(sec: Section, answer: Answer) -> None:
    """The recommendations, less the clean-ups of workloads the idle table already lists
    (answers.md §8: each thing said once)."""
    listed = {(w.get("namespace") or sec.namespace, w["name"]) for w in sec.idle}
    sec.recommendations = [r for r in answer.figures.get("recommendations", [])
                           if not (r["kind"] == "clean_up"
                                   and (r["namespace"], r["workload"]) in listed)]
    sec.currency = sec.currency or answer.figures.get("currency")
    _warn(sec, answer)


def _snapshot(sec: Section, now: Answer) -> None:
    snap = dict(now.figures)
    if snap.get("time") is None:
        return
    if sec.namespace:
        snap["by_namespace"] = [n for n in snap.get("by_namespace", [])
                                if n["namespace"] == sec.namespace]
    sec.snapshot = snap


class _ForUser:
    """An asker whose section questions are about one user or one label value
    (``Asker.ask(..., user=)`` / ``label=``)."""

    def __init__(self, asker: Asker, user: str | None, label: Label | None = None) -> None:
        self._asker, self._user, self._label = asker, user, label
        self.lang = asker.lang

    def ask(self, key: str, cluster: str | None = None, namespace: str | None = None) -> Answer:
        return self._asker.ask(key, cluster, namespace, user=self._user, label=self._label)


# -- answers -> view models ----------------------------------------------------------------
def kpi_tiles(cmp: dict) -> list[Kpi]:
    """The four tiles from a compare answer's figures (no change shown without a baseline),
    and two money tiles (cost, idle cost) when prices are configured."""
    return [*_usage_tiles(cmp), *_money_tiles(cmp)]


def _money_tiles(cmp: dict) -> list[Kpi]:
    a, b = cmp["a"], cmp["b"]
    cur = b.get("currency")
    if not cur or b.get("cost") is None:
        return []
    based = bool(a.get("gpu_hours") or a.get("workloads")) and a.get("cost") is not None
    out = []
    for key in ("cost", "idle_cost"):
        prev = a.get(key) if based else None
        delta = b[key] - prev if prev is not None else None
        pct = (delta / prev * 100.0) if delta is not None and prev else None
        out.append(Kpi(key, b[key], prev, delta, pct, False,
                       "none" if key == "cost" else "down", currency=cur))
    return out


def _usage_tiles(cmp: dict) -> list[Kpi]:
    a, b = cmp["a"], cmp["b"]
    if not (a.get("gpu_hours") or a.get("workloads")):
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


def drill_of(answer: Answer, cluster: str | None, namespace: str) -> Drill:
    """A drill-down answer as the box a template shows."""
    f = answer.figures
    users = [c for c in f.get("contributors", []) if c["kind"] == "user"]
    workloads = [c for c in f.get("contributors", []) if c["kind"] == "workload"]
    return Drill(cluster=cluster, namespace=namespace, before=f["before"], after=f["after"],
                 delta_pp=f["total_delta_pp"], users=users[:TOP_USERS],
                 workloads=workloads[:TOP_WORKLOADS], answer=answer.headline,
                 users_total=len(users), workloads_total=len(workloads),
                 all_workloads=workloads)


def _sentence(text: str) -> str:
    """The agent's compare answer starts with the period label ("last week: ..."): as the
    first words of a paragraph it gets a capital letter. Names from the data are left alone."""
    if text[:5] in ("last ", "this ") or text[:4] == "the ":
        return text[0].upper() + text[1:]
    return text


__all__ = ["Plan", "build_section", "kpi_tiles", "drill_of", "NARRATE_CHANGE_PP"]
