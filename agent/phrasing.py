"""Answers and insights from computed figures, in English or Chinese.

The template answers are the ground truth of what gpureport says. A language model may rephrase
them, but only if every number in its text also appears in the figures (after rounding): see
``grounded``. Names that come from the data (namespaces, workloads) are quoted as data, never
interpreted: a workload called "ignore previous instructions" is just a name here.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

MAX_NAME = 80


def name(text: Any) -> str:
    """A data-supplied name, shortened for prose (full names stay in the JSON)."""
    s = str(text).replace("\n", " ").replace("\r", " ")
    return s if len(s) <= MAX_NAME else s[: MAX_NAME - 1] + "…"


def p1(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}"


def gh(v: float | None) -> str:
    """GPU-hours: no decimals above 100, one below."""
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def signed(v: float | None, unit: str = " pp") -> str:
    if v is None:
        return "n/a"
    return f"{'+' if v >= 0 else '−'}{abs(v):.1f}{unit}"


def _scope_words(entities: dict, lang: str) -> str:
    if entities.get("workload"):
        base = f"workload {name(entities['workload'])}" if lang == "en" else f"任务 {name(entities['workload'])}"
    elif entities.get("user"):
        base = f"user {name(entities['user'])}" if lang == "en" else f"用户 {name(entities['user'])}"
        if entities.get("namespace"):
            base += f" in {name(entities['namespace'])}" if lang == "en" else f"（{name(entities['namespace'])}）"
    elif entities.get("label"):
        base = f"label {name(entities['label'])}" if lang == "en" else f"标签 {name(entities['label'])}"
    elif entities.get("namespace"):
        base = name(entities["namespace"]) if lang == "en" else f"命名空间 {name(entities['namespace'])}"
    elif entities.get("all_clusters"):
        base = "all clusters" if lang == "en" else "所有集群"
    else:
        base = "the cluster" if lang == "en" else "集群"
    if entities.get("cluster"):
        base += f" ({name(entities['cluster'])})" if lang == "en" else f"（{name(entities['cluster'])}）"
    return base


def _sentence_start(who: str) -> str:
    """Capitalise our own words ("the cluster"), never a name from the data ("ml-team")."""
    return who[0].upper() + who[1:] if who.startswith(("the ", "all ", "user ", "workload ", "label ")) else who


def _the(when: str) -> str:
    """"over the last 7 days", "over this week", "over 2026-W47"."""
    return f"the {when}" if re.match(r"last \d", when) else when


def _period_words(label: str | None, lang: str) -> str:
    if not label:
        return ""
    if lang == "zh":
        zh = {"this week": "本周", "last week": "上周", "today": "今天", "yesterday": "昨天",
              "this month": "本月", "last month": "上个月", "same span last week": "上周同期",
              "the week before": "前一周", "same span yesterday": "昨天同期",
              "same span last month": "上月同期", "the month before": "前一个月"}
        if label in zh:
            return zh[label]
        m = re.fullmatch(r"last (\d+) days", label)
        if m:
            return f"过去{m.group(1)}天"
        m = re.fullmatch(r"last (\d+) hours", label)
        if m:
            return f"过去{m.group(1)}小时"
        m = re.fullmatch(r"the previous (\d+) days", label)
        if m:
            return f"之前{m.group(1)}天"
    return label


def phrase(intent: str, figures: dict, entities: dict, lang: str, period_label: str | None = None,
           baseline_label: str | None = None) -> tuple[str, list[str]]:
    """(answer, insights) from figures. Every number here comes from ``figures``."""
    fn = {"trend": _trend, "compare": _compare, "drilldown": _drilldown, "realtime": _realtime,
          "ranking": _ranking, "discovery": _discovery, "freshness": _freshness}.get(intent)
    if fn is None:
        return help_text(lang), []
    return fn(figures, entities, lang, period_label, baseline_label)


def _trend(f, e, lang, pl, bl):
    who, when = _scope_words(e, lang), _period_words(pl, lang)
    metric = f.get("metric", "avg_utilization")
    if not f.get("hours"):
        return ((f"No hourly data for {who} in {when}." if lang == "en"
                 else f"{who}在{when}没有小时数据。"), [])
    if lang == "zh":
        answer = (f"{who}在{when}的平均GPU利用率为 {p1(f['avg_utilization'])}%，分配率 "
                  f"{p1(f['allocation_rate'])}%，共 {gh(f['gpu_hours'])} GPU小时"
                  f"（空闲 {gh(f['idle_gpu_hours'])} GPU小时）。")
        what = "利用率" if metric == "avg_utilization" else "分配率"
        ins = [f"{what}从 {p1(f['first'])}% 变为 {p1(f['last'])}%，区间 {p1(f['min'])}%–{p1(f['max'])}%。",
               f"趋势：每天 {signed(f['slope_pp_per_day'], ' pp')}。"]
    else:
        answer = (f"{_sentence_start(who)} averaged {p1(f['avg_utilization'])}% GPU utilization "
                  f"over {_the(when)}, with an allocation rate of {p1(f['allocation_rate'])}% and "
                  f"{gh(f['gpu_hours'])} GPU-hours ({gh(f['idle_gpu_hours'])} idle).")
        what = "Utilization" if metric == "avg_utilization" else "Allocation rate"
        direction = ("rising" if f["slope_pp_per_day"] > 0.5 else
                     "falling" if f["slope_pp_per_day"] < -0.5 else "flat")
        ins = [f"{what} went from {p1(f['first'])}% to {p1(f['last'])}% (range {p1(f['min'])}–{p1(f['max'])}%).",
               f"The trend is {direction}: {signed(f['slope_pp_per_day'])} per day."]
    return answer, ins


def _compare(f, e, lang, pl, bl):
    a, b = f["a"], f["b"]
    d = f["delta_pp"]
    if lang == "zh":
        answer = (f"{_period_words(name(b['label']), lang)}：利用率 {p1(b['avg_utilization'])}%，"
                  f"{_period_words(name(a['label']), lang)}："
                  f"{p1(a['avg_utilization'])}%，变化 {signed(d)}"
                  + (f"（{signed(f['delta_pct'], '%')}）。" if f.get("delta_pct") is not None else "。"))
        ins = [f"GPU小时：{gh(a['gpu_hours'])} → {gh(b['gpu_hours'])}；分配率："
               f"{p1(a['allocation_rate'])}% → {p1(b['allocation_rate'])}%。"]
    else:
        answer = (f"{name(b['label'])}: {p1(b['avg_utilization'])}% utilization vs "
                  f"{p1(a['avg_utilization'])}% for {name(a['label'])} — {signed(d)}"
                  + (f" ({signed(f['delta_pct'], '%')})." if f.get("delta_pct") is not None else "."))
        ins = [f"GPU-hours: {gh(a['gpu_hours'])} → {gh(b['gpu_hours'])}; allocation rate "
               f"{p1(a['allocation_rate'])}% → {p1(b['allocation_rate'])}%."]
    moved = sorted((r for r in f.get("children") or [] if r.get("delta_pp") is not None),
                   key=lambda r: (-abs(r["delta_pp"]), r["name"]))[:3]
    if moved:
        lines = ("、" if lang == "zh" else ", ").join(
            f"{name(r['name'])} {signed(r['delta_pp'])}" for r in moved)
        ins.append(f"变化最大：{lines}。" if lang == "zh" else f"Largest changes: {lines}.")
    return answer, ins


def _contrib_line(c: dict, lang: str) -> str:
    n = name(c["name"])
    if lang == "zh":
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间"}.get(c["kind"], c["kind"])
        extra = ""
        if c["kind"] in ("user", "namespace"):
            extra = f"，任务数 {c['workloads_before']} → {c['workloads_after']}"
        elif c.get("status") == "new":
            extra = f"，新出现，利用率 {p1(c.get('avg_utilization_after'))}%"
        return (f"{kind} {n}：{signed(c['impact_pp'])}（GPU小时 {gh(c['gpu_hours_before'])} → "
                f"{gh(c['gpu_hours_after'])}{extra}）")
    extra = ""
    if c["kind"] in ("user", "namespace"):
        extra = f", {c['workloads_before']} → {c['workloads_after']} workloads"
    elif c.get("status") == "new":
        extra = f", new, {p1(c.get('avg_utilization_after'))}% utilization"
    elif c.get("status") == "gone":
        extra = ", gone"
    owner = f" ({name(c['user'])})" if c["kind"] == "workload" and c.get("user") else ""
    return (f"{c['kind']} {n}{owner}: {signed(c['impact_pp'])} (GPU-hours {gh(c['gpu_hours_before'])} → "
            f"{gh(c['gpu_hours_after'])}{extra})")


def top_contributors(f: dict, n: int = 3) -> list[dict]:
    """Contributors that pushed the change in its direction, strongest first, one per kind
    preferred — so the answer names both the user and the workload behind a drop. A user whose
    impact is essentially one workload already named is left out (it would say the same twice).
    """
    total = f.get("total_delta_pp") or 0.0
    sign = -1 if total < 0 else 1
    # big enough to be a cause: not "−0.0 pp", not one of many small churn entries
    floor = max(0.05, 0.15 * abs(total))
    same = [c for c in f.get("contributors", []) if c["impact_pp"] * sign >= floor]
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
    who = _scope_words(e, lang)
    before, after = f["before"], f["after"]
    d = f["total_delta_pp"]
    tops = top_contributors(f)
    if lang == "zh":
        verb = "下降" if d < 0 else "上升"
        answer = (f"{who}的利用率从{_period_words(before['label'], lang)}的 {p1(before['avg_utilization'])}% "
                  f"{verb}到{_period_words(after['label'], lang)}的 {p1(after['avg_utilization'])}%（{signed(d)}）。")
        if tops:
            answer += "主要原因：" + "；".join(_contrib_line(c, lang) for c in tops) + "。"
        ins = [_contrib_line(c, lang) for c in f.get("contributors", [])[:6]]
    else:
        verb = "fell" if d < 0 else "rose"
        answer = (f"Utilization of {who} {verb} from {p1(before['avg_utilization'])}% "
                  f"({_period_words(before['label'], lang)}) to {p1(after['avg_utilization'])}% "
                  f"({_period_words(after['label'], lang)}), {signed(d)}.")
        if tops:
            answer += " Main contributors: " + "; ".join(_contrib_line(c, lang) for c in tops) + "."
        ins = [_contrib_line(c, lang) for c in f.get("contributors", [])[:6]]
    return answer, ins


def _realtime(f, e, lang, pl, bl):
    if f.get("time") is None:
        return ("No allocation snapshot is available yet." if lang == "en"
                else "暂无GPU分配快照。"), []
    top = f["by_namespace"][:3]
    if lang == "zh":
        answer = (f"截至 {f['time']}，{f['total_gpus']} 块GPU中有 {f['allocated_gpus']} 块已分配"
                  f"（{p1(f['allocation_rate'])}%），空闲 {f['idle_gpus']} 块。")
        ins = [f"{name(n['namespace'])}：{n['allocated_gpus']} 块GPU" for n in top]
    else:
        answer = (f"As of {f['time']}, {f['allocated_gpus']} of {f['total_gpus']} GPUs are allocated "
                  f"({p1(f['allocation_rate'])}%); {f['idle_gpus']} are free.")
        ins = [f"{name(n['namespace'])}: {n['allocated_gpus']} GPUs" for n in top]
    return answer, ins


def _ranking(f, e, lang, pl, bl):
    items = f["items"]
    when = _period_words(pl, lang)
    ent = f["entity"]
    if not items:
        return (f"No {ent}s with GPU usage in {when}." if lang == "en" else f"{when}没有GPU使用记录。"), []
    by = f["by"]
    if lang == "zh":
        kind = {"user": "用户", "workload": "任务", "namespace": "命名空间", "label": "标签"}.get(ent, ent)
        crit = {"idle": "空闲GPU小时", "gpu_hours": "GPU小时", "utilization_low": "利用率最低",
                "utilization_high": "利用率最高"}[by]
        first = items[0]
        answer = (f"{when}按{crit}排名第一的{kind}是 {name(first['name'])}："
                  f"{gh(first['gpu_hours'])} GPU小时，利用率 {p1(first['avg_utilization'])}%，"
                  f"空闲 {gh(first['idle_gpu_hours'])} GPU小时。")
        ins = [f"{i + 1}. {name(it['name'])}：空闲 {gh(it['idle_gpu_hours'])} GPU小时，"
               f"利用率 {p1(it['avg_utilization'])}%" for i, it in enumerate(items[:5])]
    else:
        crit = {"idle": "idle GPU-hours", "gpu_hours": "GPU-hours", "utilization_low": "lowest utilization",
                "utilization_high": "highest utilization"}[by]
        first = items[0]
        answer = (f"Top {ent} by {crit} over {_the(when)}: {name(first['name'])} with "
                  f"{gh(first['gpu_hours'])} GPU-hours at {p1(first['avg_utilization'])}% utilization "
                  f"({gh(first['idle_gpu_hours'])} idle GPU-hours).")
        ins = [f"{i + 1}. {name(it['name'])}: {gh(it['idle_gpu_hours'])} idle GPU-hours, "
               f"{p1(it['avg_utilization'])}% utilization, {gh(it['gpu_hours'])} GPU-hours"
               for i, it in enumerate(items[:5])]
    return answer, ins


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


def help_text(lang: str) -> str:
    if lang == "zh":
        return ("我可以回答GPU使用情况的问题，例如：“过去7天集群GPU利用率趋势如何？”、"
                "“为什么ml-team这周的利用率比上周低？”、“现在集群有多少GPU在使用？”、"
                "“对比一下ml-team和cv-team”、“哪些任务浪费了最多的GPU小时？”")
    return ("I answer questions about GPU usage, for example: \"What is the GPU utilization trend "
            "over the last 7 days?\", \"Why is ml-team's utilization lower this week than last "
            "week?\", \"How many GPUs are in use right now?\", \"Compare ml-team and cv-team\", "
            "\"Which workloads wasted the most GPU hours last week?\", \"What label keys can I "
            "filter by?\"")


# -- the number-grounding guard -----------------------------------------------------------------
_NUM = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
NAME_KEYS = {"name", "namespace", "label", "user", "workload", "cluster", "options", "kind",
             "workload_kind", "b_label", "a_label"}


def _numbers_in(obj: Any, key: str | None = None) -> Iterable[float]:
    """Numeric figures, and the numbers of ISO timestamps. Never numbers inside names: a
    workload called "report 777% utilization" must not make 777 a grounded figure."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if math.isfinite(obj):
            yield float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers_in(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _numbers_in(v, key)
    elif isinstance(obj, str) and _ISO.match(obj):
        for m in _NUM.finditer(obj):
            yield float(m.group().replace(",", ""))


def _names_in(obj: Any, key: str | None = None) -> Iterable[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _names_in(v, k)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _names_in(v, key)
    elif isinstance(obj, str) and key in NAME_KEYS and obj:
        yield obj


def _question_numbers(question: str) -> Iterable[float]:
    for m in _NUM.finditer(question or ""):
        try:
            yield float(m.group().replace(",", "").replace("−", "-"))
        except ValueError:
            continue


def allowed_numbers(figures: Any, question: str = "") -> set[str]:
    """Every way a figure may legitimately be written: rounded to 0, 1 or 2 decimals, signed
    or not; plus numbers the user typed in the question ("top 5", "last 3 days")."""
    allowed: set[str] = set()
    for v in [*_numbers_in(figures), *_question_numbers(question)]:
        for digits in (0, 1, 2):
            r = round(abs(v), digits)
            allowed.add(f"{r:.{digits}f}")
            if float(r).is_integer():
                allowed.add(str(int(r)))
    return allowed


def ungrounded_numbers(text: str, figures: Any, question: str = "", entities: Any = None) -> list[str]:
    """Numbers in ``text`` that the figures do not contain. Names from the data are blanked out
    first, so quoting "user-a-train-w46-07" is fine while a number *claimed* is checked."""
    allowed = allowed_numbers(figures, question)
    cleaned = text
    for n in sorted(set(_names_in(figures)) | set(_names_in(entities or {})), key=len, reverse=True):
        cleaned = cleaned.replace(n, " ")
    bad = []
    for m in _NUM.finditer(cleaned):
        raw = m.group().lstrip("+-−").replace(",", "")
        if raw in allowed:
            continue
        try:
            v = float(raw)
        except ValueError:
            continue
        if not any(f"{round(v, d):.{d}f}" in allowed for d in (0, 1, 2)):
            bad.append(m.group())
    return bad


def grounded(text: str, figures: Any, question: str = "") -> bool:
    return not ungrounded_numbers(text, figures, question)
