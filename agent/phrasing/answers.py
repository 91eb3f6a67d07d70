"""Answers and insights from computed figures, in English or Chinese.

The template answers are the ground truth of what gpureport says. A language model may rephrase
them, but only if every number in its text also appears in the figures (after rounding): see
``agent.phrasing.guard``. Names that come from the data (namespaces, workloads) are quoted as
data, never interpreted: a workload called "ignore previous instructions" is just a name here.

* ``phrase(intent, figures, ...)`` — the headline and the detail lines of an answer, by intent:
  ``over_time`` (trend, compare, drill-down), ``listings`` (ranking, realtime, history,
  freshness, discovery), ``money`` (cost, recommend), ``anomalies``;
* ``notes(...)`` — context no table shows ("Inside ml-team: …", "Figures cover all clusters");
* ``money_note`` / ``idle_gpus_note`` — the notes of a money question without prices and of
  "idle GPUs"; ``help_text`` — what the agent can answer.

The question asked back and the one-line refusals are in ``agent.phrasing.clarifications``.
"""

from __future__ import annotations

from agent.phrasing import anomalies, listings, over_time
from agent.phrasing.money import cost_answer, cost_line, recommend_answer
from agent.phrasing.over_time import contributor_line, top_contributors
from agent.phrasing.words import gh, name, row_name

ANSWERS = {  # intent -> (figures, entities, lang, period_label, baseline_label) -> (answer, details)
    "trend": over_time.trend_answer, "compare": over_time.compare_answer,
    "drilldown": over_time.drilldown_answer, "realtime": listings.realtime_answer,
    "ranking": listings.ranking_answer, "discovery": listings.discovery_answer,
    "freshness": listings.freshness_answer, "history": listings.history_answer,
    "anomalies": anomalies.answer, "cost": cost_answer, "recommend": recommend_answer,
}


def phrase(intent: str, figures: dict, entities: dict, lang: str, period_label: str | None = None,
           baseline_label: str | None = None) -> tuple[str, list[str]]:
    """(answer, insights) from figures. Every number here comes from ``figures``."""
    fn = ANSWERS.get(intent)
    if fn is None:
        return help_text(lang), []
    answer, details = fn(figures, entities, lang, period_label, baseline_label)
    if intent in ("trend", "compare"):  # money next to GPU-hours when a price is configured
        line = cost_line(figures.get("b", figures) if intent == "compare" else figures, lang)
        if line:
            details = [*details, line]
    return answer, details


def money_note(figures: dict, lang: str, price: float | None = None) -> str | None:
    """Money asked for (answers.md §5). Without a price: say none is configured and where to set
    it, then the GPU-hours that answer the rest. The priced case (``price`` per GPU-hour) is the
    hook for the prices feature."""
    hours, idle = figures.get("gpu_hours"), figures.get("idle_gpu_hours")
    if price is not None and hours is not None:
        return (f"按每GPU小时 {price:g} 计：{hours * price:,.2f}（空闲 {(idle or 0) * price:,.2f}）"
                if lang == "zh" else
                f"At {price:g} per GPU-hour: {hours * price:,.2f} ({(idle or 0) * price:,.2f} idle).")
    if lang == "zh":
        head = "未配置GPU价格（配置项 prices.default_per_gpu_hour，或环境变量 GPUREPORT_GPU_PRICE），无法换算成金额"
        tail = f"；以GPU小时计：{gh(hours)} GPU小时（空闲 {gh(idle)} GPU小时）。" if hours is not None else "。"
        return head + tail
    head = ("No GPU price is configured (set prices.default_per_gpu_hour, or GPUREPORT_GPU_PRICE), "
            "so there is no money figure")
    tail = (f"; in GPU-hours: {gh(hours)} GPU-hours ({gh(idle)} idle GPU-hours)." if hours is not None
            else ".")
    return head + tail


def idle_gpus_note(figures: dict, lang: str) -> str | None:
    """Idle GPUs also means unallocated ones: the free count of the latest snapshot."""
    free, total = figures.get("free_gpus"), figures.get("total_gpus")
    if free is None:
        return None
    where = name(figures.get("snapshot_cluster") or ("所有集群" if lang == "zh" else "all clusters"))
    return (f"另有 {free} 块GPU未分配（{where} 共 {total} 块，截至 {figures.get('snapshot_time')}）。"
            if lang == "zh" else
            f"Besides, {free} of {total} GPUs on {where} are unallocated (as of {figures.get('snapshot_time')}).")


def help_text(lang: str) -> str:
    if lang == "zh":
        return ("我可以回答GPU使用情况的问题，例如：“过去7天集群GPU利用率趋势如何？”、"
                "“为什么ml-team这周的利用率比上周低？”、“现在集群有多少GPU在使用？”、"
                "“对比一下ml-team和cv-team”、“哪些任务浪费了最多的GPU小时？”、“这周有什么异常吗？”、"
                "“ml-team上周花了多少钱？”、“怎么节省GPU？”")
    return ("I answer questions about GPU usage, for example: \"What is the GPU utilization trend "
            "over the last 7 days?\", \"Why is ml-team's utilization lower this week than last "
            "week?\", \"How many GPUs are in use right now?\", \"Compare ml-team and cv-team\", "
            "\"Which workloads wasted the most GPU hours last week?\", \"What label keys can I "
            "filter by?\", \"Anything unusual this week?\", \"How much did ml-team cost last "
            "week?\", \"How can we save GPUs?\"")


# -- notes: context no table shows ------------------------------------------------------------
def _same_name_elsewhere(figures: dict, lang: str) -> list[str]:
    """answers.md §4: a ranked name present in several clusters is several rows — say so,
    with each cluster's figure, so nobody adds them up by eye."""
    rows: dict[str, list[dict]] = {}
    for it in figures.get("items") or []:
        if it.get("cluster"):
            rows.setdefault(it["name"], []).append(it)
    out = []
    for n, its in rows.items():
        if len(its) < 2:
            continue
        parts = ("、" if lang == "zh" else ", ").join(
            f"{row_name(it)} {gh(it['gpu_hours'])}" for it in its)
        out.append(f"{name(n)} 出现在 {len(its)} 个集群（GPU小时）：{parts}" if lang == "zh" else
                   f"{name(n)} is in {len(its)} clusters (GPU-hours): {parts}")
    return out[:3]


def notes(intent: str, figures: dict, lang: str, *, all_clusters: bool) -> list[str]:
    """Context that no table shows: what moved inside the namespace a cluster drill-down
    continued into, a ranked name found in several clusters, and that the figures sum every
    cluster when no cluster was named."""
    out = _same_name_elsewhere(figures, lang) if intent == "ranking" else []
    inside = figures.get("namespace_drilldown") if intent == "drilldown" else None
    if inside:
        tops = top_contributors(inside)
        if tops:
            lead = ("在 {ns} 内：" if lang == "zh" else "Inside {ns}: ").format(ns=name(inside["namespace"]))
            out.append(lead + "; ".join(contributor_line(c, lang) for c in tops))
    if all_clusters:
        out.append("所有集群合计。" if lang == "zh" else "Figures cover all clusters.")
    return out
