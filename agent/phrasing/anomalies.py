"""How the agent says what ``find_anomalies`` found (en, zh): the answer, one line per episode,
its likely cause, and the episodes' table.

Kept apart from ``answers`` because the digest's "Unusual this week" section writes the same
episode lines. Every number comes from the figures (``agent.anomaly_scan.scan``); times are the
episodes' UTC hours as "2026-11-16 00:00".
"""

from __future__ import annotations

from agent.answer import Column, Table
from agent.phrasing.words import during, gh, name, p1, period_words, scope_words, signed

MAX_LINES = 5  # reporter.reports.sections.TOP_ANOMALIES reads the same number of lines

_METRIC = {"avg_utilization": ("utilization", "利用率"),
           "allocated_gpus": ("allocated GPUs", "已分配GPU"),
           "allocation_rate": ("allocation rate", "分配率")}


def when(ts: str) -> str:
    """"2026-11-16T03:00:00Z" -> "2026-11-16 03:00" (UTC)."""
    return ts[:16].replace("T", " ")


def _value(e: dict, v: float | None, lang: str) -> str:
    if e["unit"] == "pp":
        return f"{p1(v)}%"
    return f"{p1(v)} GPU" if lang == "zh" else f"{p1(v)} GPUs"


def _deviation(e: dict, lang: str) -> str:
    d = e["peak"]["deviation"]
    return signed(d) if e["unit"] == "pp" else signed(d, " GPU" if lang == "zh" else " GPUs")


def where(e: dict, lang: str) -> str:
    c = name(e["cluster"])
    if e.get("namespace"):
        return (f"{name(e['namespace'])}（{c}）" if lang == "zh"
                else f"{name(e['namespace'])} on {c}")
    return f"集群 {c}" if lang == "zh" else f"cluster {c}"


def cause_words(e: dict, lang: str) -> str:
    """"user user_a (GPU-hours 4,704 → 2,016, impact −5.8 pp)", names joined ("" without a
    cause); the utilization impact only for a utilization episode."""
    rows = (e.get("cause") or {}).get("contributors") or []
    impact = e["metric"] != "allocated_gpus"  # a utilization impact explains utilization only
    parts = []
    for c in rows:
        if lang == "zh":
            kind = {"user": "用户", "workload": "任务", "namespace": "命名空间"}.get(c["kind"], c["kind"])
            extra = f"，影响 {signed(c['impact_pp'])}" if impact else ""
            parts.append(f"{kind} {name(c['name'])}（GPU小时 {gh(c['gpu_hours_before'])} → "
                         f"{gh(c['gpu_hours_after'])}{extra}）")
        else:
            extra = f", impact {signed(c['impact_pp'])}" if impact else ""
            parts.append(f"{c['kind']} {name(c['name'])} (GPU-hours {gh(c['gpu_hours_before'])} → "
                         f"{gh(c['gpu_hours_after'])}{extra})")
    return ("；" if lang == "zh" else "; ").join(parts)


def episode_line(e: dict, lang: str) -> str:
    """One episode: where, what, when, peak, GPU-hours affected, history, likely cause."""
    en_metric, zh_metric = _METRIC[e["metric"]]
    peak, cause = e["peak"], cause_words(e, lang)
    affected = e.get("gpu_hours_affected")
    weeks = e.get("weeks_of_history")
    if lang == "zh":
        side = "高于" if e["direction"] == "above" else "低于"
        text = (f"{where(e, lang)}：{zh_metric}{side}往常，{when(e['start'])} 至 {when(e['end'])} UTC"
                f"（{e['hours']} 小时），峰值 {_deviation(e, lang)}（{when(peak['time'])}："
                f"{_value(e, peak['value'], lang)}，往常 {_value(e, peak['baseline'], lang)}）")
        if affected is not None:
            text += f"，影响 {gh(affected)} GPU小时"
        if weeks is not None and weeks < 4:
            text += f"，基线仅有 {weeks} 周历史"
        return text + (f"。可能原因：{cause}。" if cause else "。")
    side = "above" if e["direction"] == "above" else "below"
    text = (f"{where(e, lang)}: {en_metric} {side} usual from {when(e['start'])} to "
            f"{when(e['end'])} UTC ({e['hours']} h), peak {_deviation(e, lang)} at "
            f"{when(peak['time'])} ({_value(e, peak['value'], lang)} vs a usual "
            f"{_value(e, peak['baseline'], lang)})")
    if affected is not None:
        text += f", {gh(affected)} GPU-hours affected"
    if weeks is not None and weeks < 4:
        text += f", baseline from only {weeks} weeks of history"
    return text + (f". Likely cause: {cause}." if cause else ".")


def answer(f: dict, e: dict, lang: str, pl: str | None, bl: str | None) -> tuple[str, list[str]]:
    who, span = scope_words(e, lang), period_words(pl, lang)
    found = f.get("anomalies") or []
    have, wanted = f.get("weeks_of_history", 0), f.get("weeks_wanted", 4)
    if not f.get("detected"):
        if lang == "zh":
            return (f"无法判断{who}在{span}是否有异常：异常检测把每个小时与前几周同一时段比较，"
                    f"至少需要 2 周历史，目前只有 {have} 周。"), list(f.get("notes") or [])
        return (f"Cannot tell whether anything was unusual for {who} {during(span)}: each "
                f"hour is compared with the same hour of previous weeks, which needs at least 2 "
                f"weeks of history ({have} found)."), list(f.get("notes") or [])
    fewer = have < wanted
    if lang == "zh":
        basis = (f"基线为前 {wanted} 周同一时段" if not fewer
                 else f"基线仅有 {have} 周历史（应为 {wanted} 周），结论较不可靠")
        if not found:
            return (f"{who}在{span}没有异常：每个小时都在往常的每周规律之内（{basis}）。",
                    _not_judged(f, lang))
        head = f"{who}在{span}有 {len(found)} 个异常时段（{basis}），最大的在前："
    else:
        basis = (f"baseline: the same hours of the previous {wanted} weeks" if not fewer else
                 f"baseline from only {have} weeks of history, {wanted} wanted: less certain")
        if not found:
            return (f"Nothing unusual for {who} {during(span)}: every hour stayed within "
                    f"its usual weekly pattern ({basis})."), _not_judged(f, lang)
        n = len(found)
        head = (f"{n} unusual episode{'s' if n != 1 else ''} for {who} {during(span)} "
                f"({basis}), largest first:")
    details = [episode_line(x, lang) for x in found[:MAX_LINES]]
    if len(found) > MAX_LINES:
        rest = len(found) - MAX_LINES
        details.append(f"另有 {rest} 个见表格。" if lang == "zh" else f"{rest} more in the table.")
    return head, details + _not_judged(f, lang)


def _not_judged(f: dict, lang: str) -> list[str]:
    """The clusters left out for want of history (the others were judged)."""
    young = sorted(c for c, w in (f.get("history_by_cluster") or {}).items() if w < 2)
    if not young:
        return []
    names = ("、" if lang == "zh" else ", ").join(name(c) for c in young)
    return [f"未判断（历史不足 2 周）：{names}。" if lang == "zh"
            else f"Not judged (less than 2 weeks of history): {names}."]


def table(f: dict, lang: str) -> list[Table]:
    """Every episode, one row each — only when there are more than the answer's lines (a
    terminal shows a table *instead of* the lines, and the lines say more: peak against the
    usual value, the cause's GPU-hours)."""
    if len(f.get("anomalies") or []) <= MAX_LINES:
        return []
    zh = lang == "zh"
    labels = [("cluster", "集群", "cluster", "text"), ("namespace", "命名空间", "namespace", "text"),
              ("metric", "指标", "metric", "text"), ("direction", "方向", "direction", "text"),
              ("start", "开始", "start", "text"), ("end", "结束", "end", "text"),
              ("hours", "小时数", "hours", "int"),
              ("peak_deviation", "峰值偏差", "peak", "signed"),
              ("gpu_hours_affected", "影响GPU小时", "GPU-h affected", "gpu_hours"),
              ("cause", "可能原因", "likely cause", "text")]
    cols = [Column(key, zh_l if zh else en_l, kind) for key, zh_l, en_l, kind in labels]
    rows = [{"cluster": x["cluster"], "namespace": x.get("namespace"), "metric": x["metric"],
             "direction": x["direction"], "start": x["start"], "end": x["end"],
             "hours": x["hours"], "peak_deviation": x["peak"]["deviation"],
             "gpu_hours_affected": x.get("gpu_hours_affected"),
             "cause": ", ".join(c["name"] for c in (x.get("cause") or {}).get("contributors", []))
             or None}
            for x in f.get("anomalies") or []]
    return [Table("anomalies", cols, rows, "异常" if zh else "Unusual episodes")]


__all__ = ["answer", "episode_line", "cause_words", "table", "when", "where"]
