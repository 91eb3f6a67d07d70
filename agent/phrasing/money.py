"""How the agent speaks of money and savings (en, zh): the answers and tables of the ``cost``
and ``recommend`` intents, and the cost line other answers add when prices are configured.

Every amount comes from the figures (``agent.prices``, ``agent.recommendations``); nothing here
multiplies a price. Without a price no currency is written: the answer says which key to set
(answers.md §5) and gives the GPU-hours.
"""

from __future__ import annotations

from agent.answer import Column, Table
from agent.phrasing.coverage import no_data_sentence
from agent.phrasing.words import (during, gh, name, p1, period_words, scope_words, sentence_start,
                                  zh_at)


def amount(v: float | None) -> str:
    """Money: no decimals from 100 up, two below."""
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def money(v: float | None, currency: str) -> str:
    return f"{currency} {amount(v)}"


def cost_line(f: dict, lang: str) -> str | None:
    """"Cost: USD 47,040 (idle GPU-hours: USD 10,321)." for figures carrying ``cost``."""
    if f.get("cost") is None or not f.get("currency"):
        return None
    cur = f["currency"]
    if lang == "zh":
        return f"费用：{money(f['cost'], cur)}（其中空闲 {money(f.get('idle_cost'), cur)}）。"
    return f"Cost: {money(f['cost'], cur)} ({money(f.get('idle_cost'), cur)} of it idle)."


# -- "how much did ml-team cost last week" -----------------------------------------------------
def cost_answer(f: dict, e: dict, lang: str, pl: str | None, bl: str | None
                ) -> tuple[str, list[str]]:
    who, when = scope_words(e, lang), period_words(pl, lang)
    zh = lang == "zh"
    if f.get("no_data"):  # answers.md §2: not "no GPU usage"
        return no_data_sentence(who, when, f.get("coverage"), lang), []
    if not f.get("gpu_hours"):
        return (f"{who}在{when}没有GPU使用记录。" if zh
                else f"No GPU usage for {who} in {when}."), []
    idle = f.get("focus") == "idle"
    if not f.get("priced") or f.get("cost") is None:
        # no price: the GPU-hours; the note of answers.md §5 names the key (graph.synthesize)
        if zh:
            head = (f"{who}在{when}共使用 {gh(f['gpu_hours'])} GPU小时，其中空闲 "
                    f"{gh(f['idle_gpu_hours'])} GPU小时（利用率 {p1(f['avg_utilization'])}%）。")
        else:
            head = (f"{sentence_start(who)} used {gh(f['gpu_hours'])} GPU-hours "
                    f"{during(when)}, {gh(f['idle_gpu_hours'])} of them idle "
                    f"({p1(f['avg_utilization'])}% utilization).")
        return head, _top_lines(f, lang)
    cur = f["currency"]
    if zh:
        if idle:
            head = (f"{who}{zh_at(when)}的空闲GPU花费 {money(f['idle_cost'], cur)}："
                    f"{gh(f['idle_gpu_hours'])} 空闲GPU小时（共 {gh(f['gpu_hours'])} GPU小时，"
                    f"总计 {money(f['cost'], cur)}）。")
        else:
            head = (f"{who}在{when}花费 {money(f['cost'], cur)}：{gh(f['gpu_hours'])} GPU小时，"
                    f"其中 {gh(f['idle_gpu_hours'])} 空闲GPU小时花费 {money(f['idle_cost'], cur)}"
                    f"（利用率 {p1(f['avg_utilization'])}%）。")
    else:
        if idle:
            head = (f"Idle GPUs of {who} cost {money(f['idle_cost'], cur)} {during(when)}: "
                    f"{gh(f['idle_gpu_hours'])} idle GPU-hours of {gh(f['gpu_hours'])} "
                    f"(all GPU-hours: {money(f['cost'], cur)}).")
        else:
            head = (f"{sentence_start(who)} cost {money(f['cost'], cur)} {during(when)}: "
                    f"{gh(f['gpu_hours'])} GPU-hours, of which {gh(f['idle_gpu_hours'])} idle "
                    f"GPU-hours cost {money(f['idle_cost'], cur)} "
                    f"({p1(f['avg_utilization'])}% utilization).")
    lines = [_cluster_line(r, cur, lang) for r in f.get("by_cluster") or []
             if r["gpu_hours"] or r["price_per_gpu_hour"] is None]
    return head, [*lines, *_top_lines(f, lang)]


def _cluster_line(r: dict, cur: str, lang: str) -> str:
    c = name(r["cluster"])
    model = f"{name(r['model'])}, " if r.get("model") else ""
    if r["price_per_gpu_hour"] is None:
        return (f"{c}：未配置价格，{gh(r['gpu_hours'])} GPU小时未计费。" if lang == "zh" else
                f"{c}: no price configured, {gh(r['gpu_hours'])} GPU-hours not costed.")
    rate = money(r["price_per_gpu_hour"], cur)
    if lang == "zh":
        return (f"{c}（{model}{rate}/GPU小时）：{gh(r['gpu_hours'])} GPU小时，"
                f"{money(r['cost'], cur)}（空闲 {money(r['idle_cost'], cur)}）")
    return (f"{c} ({model}{rate} per GPU-hour): {gh(r['gpu_hours'])} GPU-hours, "
            f"{money(r['cost'], cur)} ({money(r['idle_cost'], cur)} idle)")


def _top_lines(f: dict, lang: str) -> list[str]:
    top = f.get("top") or {}
    items = (top.get("items") or [])[:3]
    if not items:
        return []
    cur = f.get("currency") if f.get("priced") else None
    idle = f.get("focus") == "idle"
    out = []
    for it in items:
        n = name(it["name"])
        hours = it["idle_gpu_hours"] if idle else it["gpu_hours"]
        value = it.get("idle_cost" if idle else "cost")
        if lang == "zh":
            what = "空闲GPU小时" if idle else "GPU小时"
            out.append(f"{n}：{gh(hours)} {what}" + (f"，{money(value, cur)}" if cur and value is not None else ""))
        else:
            what = "idle GPU-hours" if idle else "GPU-hours"
            out.append(f"{n}: {gh(hours)} {what}" + (f", {money(value, cur)}" if cur and value is not None else ""))
    lead = ("花费最多：" if lang == "zh" else "Most: ")
    return [lead + ("；" if lang == "zh" else "; ").join(out) + ("。" if lang == "zh" else ".")]


# -- "how can we save GPUs?" -------------------------------------------------------------------
KIND_WORDS = {"clean_up": ("clean up", "清理"), "right_size": ("right-size", "缩减规格"),
              "schedule": ("schedule", "按时段调度")}


def recommend_answer(f: dict, e: dict, lang: str, pl: str | None, bl: str | None
                     ) -> tuple[str, list[str]]:
    rows = f.get("recommendations") or []
    zh = lang == "zh"
    cur = f.get("currency")
    if not rows:
        who = scope_words(e, lang)
        return ((f"{who}过去7天没有发现可节省之处：没有任务长期空闲或规格过大，也没有只在工作时间使用的命名空间。")
                if zh else
                (f"Nothing to save in {who} over the last 7 days: no workload held GPUs idle or "
                 "far above its peak for a day or more, and no namespace works in office hours "
                 "only."), [])
    counts = f.get("by_kind") or {}
    saved = f["saving_gpu_hours"]
    who = scope_words(e, lang)
    if zh:
        parts = [f"{counts[k]} 项{KIND_WORDS[k][1]}" for k in KIND_WORDS if counts.get(k)]
        head = (f"{who}过去7天可节省 {gh(saved)} GPU小时"
                + (f"（{money(f.get('saving_cost'), cur)}）" if cur else "")
                + "：" + "、".join(parts) + "。")
    else:
        parts = [f"{counts[k]} to {KIND_WORDS[k][0]}" for k in KIND_WORDS if counts.get(k)]
        head = (f"{sentence_start(who)} could have saved {gh(saved)} GPU-hours over the last 7 "
                "days" + (f" ({money(f.get('saving_cost'), cur)})" if cur else "")
                + ": " + ", ".join(parts) + ".")
    return head, [recommendation_line(r, lang, cur) for r in rows[:5]]


def recommendation_line(r: dict, lang: str, currency: str | None = None) -> str:
    """One recommendation with its evidence and saving, as a sentence."""
    ev = r["evidence"]
    where = ", ".join(name(x) for x in (r.get("namespace"), r.get("cluster"), r.get("user")) if x)
    cost = r.get("saving_cost")
    if lang == "zh":
        save = f"可省 {gh(r['saving_gpu_hours'])} GPU小时" + (
            f"（{money(cost, currency)}）" if currency and cost is not None else "")
        if r["kind"] == "clean_up":
            return (f"清理 {name(r['workload'])}（{where}）：{ev['gpus']:g} 块GPU 空闲 {ev['hours']} 小时，"
                    f"平均利用率 {p1(ev['avg_utilization'])}%——{save}。")
        if r["kind"] == "right_size":
            return (f"缩减 {name(r['workload'])}（{where}）：持有 {ev['gpus']:g} 块GPU，峰值利用率仅 "
                    f"{p1(ev['peak_utilization'])}%，{ev['suggested_gpus']} 块即可覆盖峰值——{save}。")
        return (f"按时段调度 {name(r['namespace'])}（{where}）：{p1(ev['office_share'])}% 的工作在工作时间，"
                f"非工作时间持有 {gh(ev['off_hours_gpu_hours'])} GPU小时，利用率 "
                f"{p1(ev['off_hours_utilization'])}%——{save}。")
    save = f"saves {gh(r['saving_gpu_hours'])} GPU-hours" + (
        f" ({money(cost, currency)})" if currency and cost is not None else "")
    if r["kind"] == "clean_up":
        gpus = f"{ev['gpus']:g} GPU" + ("" if ev["gpus"] == 1 else "s")
        return (f"Clean up {name(r['workload'])} ({where}): {gpus} idle for "
                f"{ev['hours']} h at {p1(ev['avg_utilization'])}% — {save}.")
    if r["kind"] == "right_size":
        return (f"Right-size {name(r['workload'])} ({where}): peak {p1(ev['peak_utilization'])}% "
                f"of {ev['gpus']:g} GPUs; {ev['suggested_gpus']} would cover it — {save}.")
    return (f"Schedule {name(r['namespace'])} ({where}): {p1(ev['office_share'])}% of its work is "
            f"in office hours; {gh(ev['off_hours_gpu_hours'])} GPU-hours held outside them at "
            f"{p1(ev['off_hours_utilization'])}% — {save}.")


# -- tables ------------------------------------------------------------------------------------
def _c(key: str, en: str, zh: str, kind: str, lang: str) -> Column:
    return Column(key, zh if lang == "zh" else en, kind)


def cost_tables(f: dict, lang: str) -> list[Table]:
    out = []
    if f.get("priced"):
        cur = f.get("currency") or ""
        cols = [_c("cluster", "cluster", "集群", "text", lang),
                _c("model", "GPU model", "GPU型号", "text", lang),
                _c("price_per_gpu_hour", f"{cur}/GPU-h", f"{cur}/GPU小时", "money", lang),
                _c("gpu_hours", "GPU-h", "GPU小时", "gpu_hours", lang),
                _c("cost", f"cost {cur}", f"费用 {cur}", "money", lang),
                _c("idle_cost", f"idle {cur}", f"空闲 {cur}", "money", lang)]
        out.append(Table("cost", cols, [{c.key: r.get(c.key) for c in cols}
                                        for r in f.get("by_cluster") or []]))
    top = f.get("top") or {}
    if top.get("items"):
        ent = top.get("entity") or "name"
        cols = [_c("name", ent, {"namespace": "命名空间", "workload": "任务"}.get(ent, "名称"),
                   "text", lang), _c("cluster", "cluster", "集群", "text", lang),
                _c("gpu_hours", "GPU-h", "GPU小时", "gpu_hours", lang),
                _c("idle_gpu_hours", "idle GPU-h", "空闲GPU小时", "gpu_hours", lang)]
        if f.get("priced"):
            cur = f.get("currency") or ""
            cols += [_c("cost", f"cost {cur}", f"费用 {cur}", "money", lang),
                     _c("idle_cost", f"idle {cur}", f"空闲 {cur}", "money", lang)]
        out.append(Table("top", cols, [{c.key: r.get(c.key) for c in cols} for r in top["items"]]))
    return out


def recommendation_table(rows: list[dict], lang: str, currency: str | None) -> Table:
    cols = [_c("kind", "kind", "类型", "text", lang),
            _c("cluster", "cluster", "集群", "text", lang),
            _c("namespace", "namespace", "命名空间", "text", lang),
            _c("workload", "workload", "任务", "text", lang),
            _c("user", "user", "用户", "text", lang),
            _c("saving_gpu_hours", "saving GPU-h", "可省GPU小时", "gpu_hours", lang)]
    if currency:
        cols.append(_c("saving_cost", f"saving {currency}", f"可省 {currency}", "money", lang))
    data = [{**{c.key: r.get(c.key) for c in cols},
             "kind": KIND_WORDS[r["kind"]][1 if lang == "zh" else 0]} for r in rows]
    return Table("recommendations", cols, data)


def recommend_tables(f: dict, lang: str) -> list[Table]:
    return [recommendation_table(f.get("recommendations") or [], lang, f.get("currency"))]


__all__ = ["amount", "money", "cost_line", "cost_answer", "recommend_answer",
           "recommendation_line", "cost_tables", "recommend_tables", "recommendation_table",
           "KIND_WORDS"]
