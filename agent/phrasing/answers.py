"""Answers and insights from computed figures, in English or Chinese.

The template answers are the ground truth of what gpureport says. A language model may rephrase
them, but only if every number in its text also appears in the figures (after rounding): see
``agent.phrasing.guard``. Names that come from the data (namespaces, workloads) are quoted as
data, never interpreted: a workload called "ignore previous instructions" is just a name here.

* ``phrase(intent, figures, ...)`` — the headline and the detail lines of an answer;
* ``notes(...)`` — context no table shows ("Inside ml-team: …", "Figures cover all clusters");
* ``clarification(...)`` — the question asked back when a name or the period is unclear.
"""

from __future__ import annotations

from agent.phrasing import anomalies as anomaly_words
from agent.phrasing.coverage import day_text, no_data_sentence
from agent.phrasing.money import cost_answer, cost_line, recommend_answer
from agent.phrasing.words import (gh, name, over_the, p1, period_words, scope_words,
                                  sentence_start, signed)


def row_name(r: dict) -> str:
    """A per-entity row as written: ``cluster/name`` when the row carries its cluster (the
    scope spans several, answers.md §4), a family with its run count (§7)."""
    base = f"{r['cluster']}/{r['name']}" if r.get("cluster") else str(r["name"])
    return name(base)


def _runs(r: dict, lang: str) -> str:
    n = r.get("runs") or len(r.get("members") or [])
    if not n:
        return ""
    return f"（{n} 次运行）" if lang == "zh" else f" ({n} runs)"

def phrase(intent: str, figures: dict, entities: dict, lang: str, period_label: str | None = None,
           baseline_label: str | None = None) -> tuple[str, list[str]]:
    """(answer, insights) from figures. Every number here comes from ``figures``."""
    fn = {"trend": _trend, "compare": _compare, "drilldown": _drilldown, "realtime": _realtime,
          "ranking": _ranking, "discovery": _discovery, "freshness": _freshness,
          "history": _history, "anomalies": anomaly_words.answer, "cost": cost_answer,
          "recommend": recommend_answer}.get(intent)
    if fn is None:
        return help_text(lang), []
    answer, details = fn(figures, entities, lang, period_label, baseline_label)
    if intent in ("trend", "compare"):  # money next to GPU-hours when a price is configured
        line = cost_line(figures.get("b", figures) if intent == "compare" else figures, lang)
        if line:
            details = [*details, line]
    return answer, details


def _trend(f, e, lang, pl, bl):
    who, when = scope_words(e, lang), period_words(pl, lang)
    metric = f.get("metric", "avg_utilization")
    if f.get("no_data") or not f.get("hours"):
        return no_data_sentence(who, when, f.get("coverage"), lang), []
    first, last, slope = f.get("first"), f.get("last"), f.get("slope_pp_per_day")
    days = f.get("daily") or []
    if lang == "zh":
        answer = (f"{who}在{when}的平均GPU利用率为 {p1(f['avg_utilization'])}%，分配率 "
                  f"{p1(f['allocation_rate'])}%，共 {gh(f['gpu_hours'])} GPU小时"
                  f"（空闲 {gh(f['idle_gpu_hours'])} GPU小时）。")
        what = "日均利用率" if metric == "avg_utilization" else "日均分配率"
        ins = []
        if first and last and slope is not None:
            ins = [f"{what}：{day_text(first['day'], lang)} {p1(first[metric])}%，"
                   f"{day_text(last['day'], lang)} {p1(last[metric])}%（{len(days)} 个完整天）。",
                   f"按日均值的最小二乘趋势：每天 {signed(slope, ' pp')}。"]
    else:
        answer = (f"{sentence_start(who)} averaged {p1(f['avg_utilization'])}% GPU utilization "
                  f"over {over_the(when)}, with an allocation rate of {p1(f['allocation_rate'])}% and "
                  f"{gh(f['gpu_hours'])} GPU-hours ({gh(f['idle_gpu_hours'])} idle).")
        what = "Daily average utilization" if metric == "avg_utilization" else "Daily allocation rate"
        ins = []
        if first and last and slope is not None:
            direction = ("rising" if slope > 0.5 else "falling" if slope < -0.5 else "flat")
            ins = [f"{what} was {p1(first[metric])}% on {day_text(first['day'], lang)} (first full "
                   f"day) and {p1(last[metric])}% on {day_text(last['day'], lang)} (last full day).",
                   f"Over the {len(days)} full days the trend is {direction}: {signed(slope)} per "
                   f"day (least squares over the daily averages)."]
    return answer, ins


def _compare(f, e, lang, pl, bl):
    a, b = f["a"], f["b"]
    d = f["delta_pp"]
    zh = lang == "zh"
    la, lb = (period_words(name(a["label"]), lang), period_words(name(b["label"]), lang))
    if a.get("no_data") or b.get("no_data"):
        gone, there = (a, b) if a.get("no_data") else (b, a)
        lg, lt = (la, lb) if gone is a else (lb, la)
        when = "" if f.get("kind") != "entities" else f" {period_words(pl, lang)}"
        line = no_data_sentence(lg, when.strip() or lg, gone.get("coverage"), lang)
        if f.get("kind") != "entities":
            line = no_data_sentence(scope_words(e, lang), lg, gone.get("coverage"), lang)
        if there.get("no_data"):
            return line, []
        if zh:
            return (line + f"无法比较；{lt}：利用率 {p1(there['avg_utilization'])}%，"
                    f"{gh(there['gpu_hours'])} GPU小时。"), []
        return (line + f" No comparison is possible; {lt}: {p1(there['avg_utilization'])}% "
                f"utilization, {gh(there['gpu_hours'])} GPU-hours."), []
    if f.get("kind") == "entities":
        # answers.md §6: two entities over one period — "vs", no arrows (those mean time)
        one_cluster = e.get("cluster") and "/" not in str(a["label"]) + str(b["label"])
        where = ", ".join(x for x in (one_cluster and name(e["cluster"]),
                                      period_words(pl, lang)) if x)
        if zh:
            answer = (f"{la} {p1(a['avg_utilization'])}% 对比 {lb} {p1(b['avg_utilization'])}%"
                      f"（{where}），{lb} 相差 {signed(d)}。")
            ins = [f"GPU小时：{la} {gh(a['gpu_hours'])}，{lb} {gh(b['gpu_hours'])}；分配率："
                   f"{la} {p1(a['allocation_rate'])}%，{lb} {p1(b['allocation_rate'])}%。"]
        else:
            answer = (f"{la} {p1(a['avg_utilization'])}% vs {lb} {p1(b['avg_utilization'])}% "
                      f"utilization ({where}): {lb} is {signed(d)} from {la}.")
            ins = [f"GPU-hours: {la} {gh(a['gpu_hours'])} vs {lb} {gh(b['gpu_hours'])}; "
                   f"allocation rate {p1(a['allocation_rate'])}% vs {p1(b['allocation_rate'])}%."]
        return answer, ins
    if zh:
        answer = (f"{lb}：利用率 {p1(b['avg_utilization'])}%，{la}："
                  f"{p1(a['avg_utilization'])}%，变化 {signed(d)}"
                  + (f"（{signed(f['delta_pct'], '%')}）。" if f.get("delta_pct") is not None else "。"))
        ins = [f"GPU小时：{gh(a['gpu_hours'])} → {gh(b['gpu_hours'])}；分配率："
               f"{p1(a['allocation_rate'])}% → {p1(b['allocation_rate'])}%。"]
    else:
        answer = (f"{lb}: {p1(b['avg_utilization'])}% utilization vs "
                  f"{p1(a['avg_utilization'])}% for {la} — {signed(d)}"
                  + (f" ({signed(f['delta_pct'], '%')})." if f.get("delta_pct") is not None else "."))
        ins = [f"GPU-hours: {gh(a['gpu_hours'])} → {gh(b['gpu_hours'])}; allocation rate "
               f"{p1(a['allocation_rate'])}% → {p1(b['allocation_rate'])}%."]
    moved = sorted((r for r in f.get("children") or [] if r.get("delta_pp") is not None),
                   key=lambda r: (-abs(r["delta_pp"]), r["name"]))[:3]
    if moved:
        lines = ("、" if zh else ", ").join(f"{row_name(r)} {signed(r['delta_pp'])}" for r in moved)
        ins.append(f"变化最大：{lines}。" if zh else f"Largest changes: {lines}.")
    return answer, ins


def rolling_headline(r: dict, e: dict, label: str, lang: str) -> str:
    """answers.md §3: "this week" has barely started, so the headline is the last 7 days vs
    the 7 before, and says so."""
    who = scope_words(e, lang)
    if "contributors" in r:  # a drill-down over the 7 days
        text, _ = _drilldown(r, e, lang, "last 7 days", "the 7 days before")
        lead = (f"{period_words(label, lang)}刚开始，因此看过去7天：" if lang == "zh" else
                f"{label.capitalize()} has only just started, so over the last 7 days vs the 7 "
                f"days before: ")
        return lead + (text[0].lower() + text[1:] if lang == "en" else text)
    a, b = r["a"], r["b"]
    if b.get("no_data"):
        return no_data_sentence(who, period_words("last 7 days", lang), b.get("coverage"), lang)
    if lang == "zh":
        head = (f"{period_words(label, lang)}刚开始，因此看过去7天：{who}的平均GPU利用率为 "
                f"{p1(b['avg_utilization'])}%")
        if a.get("no_data") or r.get("delta_pp") is None:
            return head + "（之前7天没有数据）。"
        return head + f"，之前7天为 {p1(a['avg_utilization'])}%（{signed(r['delta_pp'])}）。"
    head = (f"{label.capitalize()} has only just started, so over the last 7 days: "
            f"{who} averaged {p1(b['avg_utilization'])}% GPU utilization")
    if a.get("no_data") or r.get("delta_pp") is None:
        return head + " (no data for the 7 days before)."
    return head + f", vs {p1(a['avg_utilization'])}% in the 7 days before ({signed(r['delta_pp'])})."


def contributor_line(c: dict, lang: str) -> str:
    n = row_name(c) + _runs(c, lang)
    if lang == "zh":
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间"}.get(c["kind"], c["kind"])
        extra = ""
        if c["kind"] in ("user", "namespace"):
            extra = f"，任务数 {c['workloads_before']} → {c['workloads_after']}"
        elif c.get("status") == "new" and not c.get("members"):
            extra = f"，新出现，利用率 {p1(c.get('avg_utilization_after'))}%"
        runs = c.get("runs") or len(c.get("members") or [])
        about = [f"{runs} 次运行"] if runs else []
        about += [name(c["user"])] if c["kind"] == "workload" and c.get("user") else []
        n = row_name(c)
        owner = f"（{'，'.join(about)}）" if about else ""
        return (f"{kind} {n}{owner}：{signed(c['impact_pp'])}（GPU小时 {gh(c['gpu_hours_before'])} → "
                f"{gh(c['gpu_hours_after'])}{extra}）")
    extra = ""
    if c["kind"] in ("user", "namespace"):
        extra = f", {c['workloads_before']} → {c['workloads_after']} workloads"
    elif c.get("status") == "new" and not c.get("members"):
        extra = f", new, {p1(c.get('avg_utilization_after'))}% utilization"
    elif c.get("status") == "gone" and not c.get("members"):
        extra = ", gone"
    runs = c.get("runs") or len(c.get("members") or [])
    about = [f"{runs} runs"] if runs else []
    about += [name(c["user"])] if c["kind"] == "workload" and c.get("user") else []
    n = row_name(c)
    owner = f" ({', '.join(about)})" if about else ""
    return (f"{c['kind']} {n}{owner}: {signed(c['impact_pp'])} (GPU-hours {gh(c['gpu_hours_before'])} → "
            f"{gh(c['gpu_hours_after'])}{extra})")


def causes(f: dict) -> list[dict]:
    """The contributors of a drill-down that are a cause of its change: they pushed it in its
    direction by at least 15 % of it (and 0.05 pp) — not "−0.0 pp", not one of many small
    churn entries, not one half of a renamed job cancelling the other. Answers name them;
    reports list only them."""
    total = f.get("total_delta_pp") or 0.0
    sign = -1 if total < 0 else 1
    floor = max(0.05, 0.15 * abs(total))
    return [c for c in f.get("contributors", []) if c["impact_pp"] * sign >= floor]


def top_contributors(f: dict, n: int = 3) -> list[dict]:
    """Contributors that pushed the change in its direction, strongest first, one per kind
    preferred — so the answer names both the user and the workload behind a drop. A user whose
    impact is essentially one workload already named is left out (it would say the same twice).
    """
    same = causes(f)
    workloads = [c for c in same if c["kind"] == "workload"]

    def explained(c: dict) -> bool:
        return c["kind"] == "user" and any(
            w.get("user") == c["name"] and abs(w["impact_pp"]) >= 0.8 * abs(c["impact_pp"])
            for w in workloads[:3])

    candidates = [c for c in same if not explained(c)]
    picked: list[dict] = []
    for kind in ("namespace", "user", "workload"):
        first = next((c for c in candidates if c["kind"] == kind), None)
        if first:
            picked.append(first)
    for c in candidates:
        if len(picked) >= n:
            break
        if c not in picked:
            picked.append(c)
    return sorted(picked[:n], key=lambda c: -abs(c["impact_pp"]))


def _drilldown(f, e, lang, pl, bl):
    who = scope_words(e, lang)
    before, after = f["before"], f["after"]
    d = f["total_delta_pp"]
    if before.get("no_data") or after.get("no_data"):
        side = before if before.get("no_data") else after
        return no_data_sentence(who, period_words(side["label"], lang), side.get("coverage"),
                                lang), []
    tops = top_contributors(f)
    flat = abs(d) < 0.05  # "fell from 78.1% to 78.1%" reads as a fall that is not there
    if lang == "zh" and flat:
        answer = (f"{who}的利用率在{period_words(before['label'], lang)}和{period_words(after['label'], lang)}"
                  f"基本持平（{p1(before['avg_utilization'])}% 与 {p1(after['avg_utilization'])}%）。")
        return answer, [contributor_line(c, lang) for c in f.get("contributors", [])[:6]]
    if flat:
        answer = (f"Utilization of {who} was unchanged: {p1(before['avg_utilization'])}% "
                  f"({period_words(before['label'], lang)}) and {p1(after['avg_utilization'])}% "
                  f"({period_words(after['label'], lang)}), {signed(d)}.")
        return answer, [contributor_line(c, lang) for c in f.get("contributors", [])[:6]]
    if lang == "zh":
        verb = "下降" if d < 0 else "上升"
        answer = (f"{who}的利用率从{period_words(before['label'], lang)}的 {p1(before['avg_utilization'])}% "
                  f"{verb}到{period_words(after['label'], lang)}的 {p1(after['avg_utilization'])}%（{signed(d)}）。")
        if tops:
            answer += "主要原因：" + "；".join(contributor_line(c, lang) for c in tops) + "。"
        ins = [contributor_line(c, lang) for c in f.get("contributors", [])[:6]]
    else:
        verb = "fell" if d < 0 else "rose"
        answer = (f"Utilization of {who} {verb} from {p1(before['avg_utilization'])}% "
                  f"({period_words(before['label'], lang)}) to {p1(after['avg_utilization'])}% "
                  f"({period_words(after['label'], lang)}), {signed(d)}.")
        if tops:
            answer += " Main contributors: " + "; ".join(contributor_line(c, lang) for c in tops) + "."
        ins = [contributor_line(c, lang) for c in f.get("contributors", [])[:6]]
    return answer, ins


def _realtime(f, e, lang, pl, bl):
    if f.get("time") is None:
        return ("No allocation snapshot is available yet." if lang == "en"
                else "暂无GPU分配快照。"), []
    top = f["by_namespace"][:3]
    if f.get("by_cluster"):
        top = f["by_namespace"][:5]
    if lang == "zh":
        answer = (f"截至 {f['time']}，{'所有集群：' if f.get('by_cluster') else ''}{f['total_gpus']} 块GPU中有 {f['allocated_gpus']} 块已分配"
                  f"（{p1(f['allocation_rate'])}%），空闲 {f['idle_gpus']} 块。")
        ins = [f"{row_name(n)}：{n['allocated_gpus']} 块GPU" for n in top]
    else:
        answer = (f"As of {f['time']}, {'across all clusters ' if f.get('by_cluster') else ''}"
                  f"{f['allocated_gpus']} of {f['total_gpus']} GPUs are allocated "
                  f"({p1(f['allocation_rate'])}%); {f['idle_gpus']} are free.")
        ins = [f"{row_name(n)}: {n['allocated_gpus']} GPUs" for n in top]
    return answer, ins


def _ranking(f, e, lang, pl, bl):
    items = f["items"]
    when = period_words(pl, lang)
    ent = f["entity"]
    if not items:
        return (f"No {ent}s with GPU usage in {when}." if lang == "en" else f"{when}没有GPU使用记录。"), []
    by = f["by"]
    if lang == "zh":
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间", "label": "标签"}.get(ent, ent)
        crit = {"idle": "空闲GPU小时", "gpu_hours": "GPU小时", "utilization_low": "利用率最低",
                "utilization_high": "利用率最高"}[by]
        first = items[0]
        answer = (f"{_where(e, lang)}{when}按{crit}排名第一的{kind}是 {row_name(first)}{_runs(first, lang)}："
                  f"{gh(first['gpu_hours'])} GPU小时，利用率 {p1(first['avg_utilization'])}%，"
                  f"空闲 {gh(first['idle_gpu_hours'])} GPU小时。")
        ins = [f"{i + 1}. {row_name(it)}{_runs(it, lang)}：空闲 {gh(it['idle_gpu_hours'])} GPU小时，"
               f"利用率 {p1(it['avg_utilization'])}%" for i, it in enumerate(items[:5])]
    else:
        crit = {"idle": "idle GPU-hours", "gpu_hours": "GPU-hours", "utilization_low": "lowest utilization",
                "utilization_high": "highest utilization"}[by]
        first = items[0]
        answer = (f"Top {ent} by {crit} {_where(e, lang)}over {over_the(when)}: {row_name(first)}{_runs(first, lang)} with "
                  f"{gh(first['gpu_hours'])} GPU-hours at {p1(first['avg_utilization'])}% utilization "
                  f"({gh(first['idle_gpu_hours'])} idle GPU-hours).")
        ins = [f"{i + 1}. {row_name(it)}{_runs(it, lang)}: {gh(it['idle_gpu_hours'])} idle GPU-hours, "
               f"{p1(it['avg_utilization'])}% utilization, {gh(it['gpu_hours'])} GPU-hours"
               for i, it in enumerate(items[:5])]
    return answer, ins


_HISTORY_VERB = {  # (status, window) -> (English, Chinese)
    ("Failed", "ended"): ("failed", "失败"), ("Done", "ended"): ("completed", "完成"),
    (None, "ended"): ("ended", "结束"), ("Pending", "now"): ("are pending now", "正在排队（Pending）"),
    ("Running", "now"): ("are still running", "仍在运行"), (None, "started"): ("started", "启动"),
    (None, "ran"): ("ran", "运行过"), (None, "now"): ("exist now", "存在"),
}


def _history(f, e, lang, pl, bl):
    """Workload history: how many matched (the first sentence names the scope and period),
    then the first rows — the table holds them all."""
    n, rows = f.get("count", 0), f.get("workloads") or []
    status, window = f.get("status"), f.get("window", "ran")
    verb = _HISTORY_VERB.get((status, window)) or (status or "", status or "")
    if (status, window) not in _HISTORY_VERB and status:
        verb = (f"with status {status}", f"状态为 {status}")
    who = scope_words(e, lang)
    kind = f.get("kind")
    when = period_words(pl, lang) if window != "now" else ("now" if lang == "en" else "当前")
    order = {"duration": ("longest first", "按时长排序"), "gpu_hours": ("most GPU-hours first", "按GPU小时排序")}
    if lang == "zh":
        noun = f"{kind} 任务" if kind else "任务"
        answer = f"{who}，{when}：{verb[1]}的{noun}共 {n} 个。"
        if rows and f.get("sort"):
            answer += f"（{order[f['sort']][1]}）"
        ins = [f"{name(r['name'])}（{r['kind']}，{name(r['user'])}）：{r['status']}，{gh(r['gpu_hours'])} GPU小时，"
               f"时长 {p1(r['duration_hours'])} 小时" for r in rows[:5]]
    else:
        noun = f"{kind}{'s' if n != 1 else ''}" if kind else f"workload{'s' if n != 1 else ''}"
        when_en = over_the(when) if window != "now" else when
        answer = f"{sentence_start(who)}, {when_en}: {n:,} {noun} {verb[0]}."
        if rows and f.get("sort"):
            answer += f" ({order[f['sort']][0]})"
        ins = [f"{name(r['name'])} ({r['kind']}, {name(r['user'])}): {r['status']}, "
               f"{gh(r['gpu_hours'])} GPU-hours, {p1(r['duration_hours'])} h" for r in rows[:5]]
    return answer, ins


def _where(e: dict, lang: str) -> str:
    """The scope of a ranking for its first sentence (answers.md §1): "on gpu-east " /
    "in ml-team on gpu-east " / "across all clusters "."""
    cluster = e.get("cluster")
    ns = e.get("namespace")
    if lang == "zh":
        where = name(cluster) if cluster else ("所有集群" if e.get("all_clusters") else "")
        return f"{where}{'的' + name(ns) if ns else ''}" + ("，" if where or ns else "")
    out = f"in {name(ns)} " if ns else ""
    if cluster:
        return out + f"on {name(cluster)} "
    return out + ("across all clusters " if e.get("all_clusters") else "")


def _freshness(f, e, lang, pl, bl):
    rows = f.get("clusters") or []
    have = [r for r in rows if r["newest"]]
    if not have:
        return ("No hourly data yet." if lang == "en" else "还没有小时数据。"), []
    if lang == "zh":
        ins = [f"{name(r['cluster'])}：最新数据 {r['newest']}（{p1(r['age_hours'])} 小时前）"
               if r["newest"] else f"{name(r['cluster'])}：没有数据" for r in rows]
        oldest = max(have, key=lambda r: r["age_hours"])
        return (f"最旧的集群数据为 {name(oldest['cluster'])}，截至 {oldest['newest']}"
                f"（{p1(oldest['age_hours'])} 小时前）。", ins)
    ins = [f"{name(r['cluster'])}: newest hour {r['newest']} ({p1(r['age_hours'])} h old)"
           if r["newest"] else f"{name(r['cluster'])}: no data" for r in rows]
    oldest = max(have, key=lambda r: r["age_hours"])
    return (f"The stalest data is {name(oldest['cluster'])}'s, up to the hour starting "
            f"{oldest['newest']} ({p1(oldest['age_hours'])} h old).", ins)


def _discovery(f, e, lang, pl, bl):
    opts = [name(o) for o in f.get("options", [])]
    what = f.get("target", "options")
    if lang == "zh":
        label = {"clusters": "集群", "namespaces": "命名空间", "label_keys": "标签键",
                 "label_values": "标签值", "users": "用户", "workloads": "任务"}.get(what, what)
        return (f"可用的{label}（{len(opts)}）：{'、'.join(opts) if opts else '无'}。", [])
    return (f"Available {what.replace('_', ' ')} ({len(opts)}): {', '.join(opts) if opts else 'none'}.", [])


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




# -- context and clarification ---------------------------------------------------------------------
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


ZH_KIND = {"cluster": "集群", "namespace": "命名空间", "user": "用户", "workload": "任务",
           "label": "标签", "period": "时间范围"}


def clarification(kind: str, entity: str, text: str, options: list[str], lang: str,
                  suggested: bool) -> str:
    """The question asked back: an unknown name (with the close matches when ``suggested``),
    a missing cluster/namespace, or a period that could not be used."""
    zh = lang == "zh"
    what = ZH_KIND.get(entity, entity) if zh else entity
    if kind == "unknown" and suggested:
        return (f"没有找到{what}“{name(text)}”。您是指：{'、'.join(options)}？" if zh else
                f"I don't know the {entity} '{name(text)}'. Did you mean: {', '.join(options)}?")
    if kind == "unknown":
        q = (f"没有找到{what}“{name(text)}”。可选：" if zh else
             f"I don't know the {entity} '{name(text)}'. Choose one of: ")
    elif kind == "ambiguous":
        q = f"时间范围不明确（{text}）。请选择：" if zh else f"The period is unclear ({text}). Choose one of: "
    else:
        q = f"请选择{what}：" if zh else f"Which {entity}? Choose one of: "
    return q + (("、" if zh else ", ").join(options) if options else
                ("（无可选项）" if zh else "(none available)"))


SUPPORTED_PERIODS = ("today, yesterday, this/last week, last N days or hours, this/last month, a month "
                     "(October 2026), this/last quarter, Q3 2026, this/last year, 2026, 2026-W46, "
                     "since Nov 10, between Nov 3 and Nov 7")
SUPPORTED_PERIODS_ZH = "今天、昨天、本周/上周、过去N天或N小时、本月/上个月、10月、本季度/上季度、第三季度、今年/去年、" \
                       "2026年、第46周、自11月10日以来、从11月3日到11月7日"


def unsupported_period(text: str, lang: str) -> str:
    """The one line of a period that is recognised but cannot be answered (exit 2): the phrase,
    why, and the forms that can be (answers.md §1: never a default period instead)."""
    if lang == "zh":
        return f"无法回答这个时间范围：{text}。可用的时间范围：{SUPPORTED_PERIODS_ZH}"
    return f"cannot answer for the period {text}. Supported periods: {SUPPORTED_PERIODS}"


def unknown_name(entity: str, text: str, examples: list[str], lang: str) -> str:
    """The one line for a name that matches nothing and nothing closely (exit 1): the word and a
    few real names of that kind."""
    zh = lang == "zh"
    some = ("、" if zh else ", ").join(name(e) for e in examples[:8])
    if entity == "any":
        what = "集群、命名空间、用户或任务" if zh else "cluster, namespace, user or workload"
    else:
        what = ZH_KIND.get(entity, entity) if zh else entity
    if zh:
        return f"没有名为“{name(text)}”的{what}" + (f"；已知的例如：{some}" if some else "")
    return f"no {what} is named '{name(text)}'" + (f"; known ones include: {some}" if some else "")
