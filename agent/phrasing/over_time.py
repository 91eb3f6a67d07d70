"""Utilization over time, in English or Chinese: a trend, a comparison of two periods or two
entities, a drill-down into who moved a change, and the rolling "this week has barely started"
headline (answers.md §3).

Each ``*_answer(figures, entities, lang, period_label, baseline_label)`` returns
``(headline, detail lines)``; ``agent.phrasing.answers.phrase`` picks one by intent. The
contributor helpers (``causes``, ``top_contributors``, ``contributor_line``) are shared with the
reports and the anomaly scan, so a drop is explained the same way everywhere.
"""

from __future__ import annotations

from agent.phrasing.coverage import day_text, no_data_sentence
from agent.phrasing.listings import ranking_answer
from agent.phrasing.words import (during, gh, name, p1, period_words, row_name, scope_words,
                                  sentence_start, signed, zh_at)


def trend_answer(f, e, lang, pl, bl):
    who, when = scope_words(e, lang), period_words(pl, lang)
    metric = f.get("metric", "avg_utilization")
    if f.get("no_data") or not f.get("hours"):
        return no_data_sentence(who, when, f.get("coverage"), lang), []
    first, last, slope = f.get("first"), f.get("last"), f.get("slope_pp_per_day")
    days = f.get("daily") or []
    if lang == "zh":
        answer = (f"{who}{zh_at(when)}的平均GPU利用率为 {p1(f['avg_utilization'])}%，分配率 "
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
                  f"{during(when)}, with an allocation rate of {p1(f['allocation_rate'])}% and "
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


def compare_answer(f, e, lang, pl, bl):
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
    # answers.md §1: the first sentence names the scope, not only the two periods
    who = scope_words(e, lang)
    if zh:
        answer = (f"{who}，{lb}：利用率 {p1(b['avg_utilization'])}%，{la}："
                  f"{p1(a['avg_utilization'])}%，变化 {signed(d)}"
                  + (f"（{signed(f['delta_pct'], '%')}）。" if f.get("delta_pct") is not None else "。"))
        ins = [f"GPU小时：{gh(a['gpu_hours'])} → {gh(b['gpu_hours'])}；分配率："
               f"{p1(a['allocation_rate'])}% → {p1(b['allocation_rate'])}%。"]
    else:
        answer = (f"{sentence_start(who)}, {lb}: {p1(b['avg_utilization'])}% utilization vs "
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
    if "items" in r:  # a ranking over the 7 days (its sentence names them)
        text, _ = ranking_answer(r, e, lang, "last 7 days", None)
        if lang == "zh":
            return f"{period_words(label, lang)}刚开始。{text}"
        return f"{label.capitalize()} has only just started; {text[0].lower() + text[1:]}"
    if "contributors" in r:  # a drill-down over the 7 days
        text, _ = drilldown_answer(r, e, lang, "last 7 days", "the 7 days before")
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
    """One contributor of a drill-down as one line — kind, name (runs, owner), impact, GPU-hours
    before → after — the same in an answer's details, its notes and a report's drops."""
    zh = lang == "zh"
    runs = c.get("runs") or len(c.get("members") or [])
    about = [f"{runs} 次运行" if zh else f"{runs} runs"] if runs else []
    about += [name(c["user"])] if c["kind"] == "workload" and c.get("user") else []
    single = not c.get("members")  # a family's status is its members'
    before, after = gh(c["gpu_hours_before"]), gh(c["gpu_hours_after"])
    extra = ""
    if c["kind"] in ("user", "namespace"):
        extra = (f"，任务数 {c['workloads_before']} → {c['workloads_after']}" if zh else
                 f", {c['workloads_before']} → {c['workloads_after']} workloads")
    elif c.get("status") == "new" and single:
        util = p1(c.get("avg_utilization_after"))
        extra = f"，新出现，利用率 {util}%" if zh else f", new, {util}% utilization"
    elif c.get("status") == "gone" and single and not zh:
        extra = ", gone"
    if zh:
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间"}.get(c["kind"], c["kind"])
        owner = f"（{'，'.join(about)}）" if about else ""
        return (f"{kind} {row_name(c)}{owner}：{signed(c['impact_pp'])}（GPU小时 {before} → "
                f"{after}{extra}）")
    owner = f" ({', '.join(about)})" if about else ""
    return (f"{c['kind']} {row_name(c)}{owner}: {signed(c['impact_pp'])} (GPU-hours {before} → "
            f"{after}{extra})")


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


def drilldown_answer(f, e, lang, pl, bl):
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
