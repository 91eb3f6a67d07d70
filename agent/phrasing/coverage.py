"""How missing data and early periods are said (answers.md §2, §3), in English and Chinese.

The numbers come from ``figures["coverage"]`` (``agent.coverage``): hours with rows and hours in
the period, per cluster, written in days when the period is two days or longer.
"""

from __future__ import annotations

from datetime import datetime

from agent.phrasing.words import BARE_PERIOD, name


def day_text(iso_text: str | None, lang: str, ref: str | None = None) -> str:
    """"Oct 19" / "10月19日" of an ISO instant (UTC); with the year ("Oct 19, 2026") when
    ``ref`` (the period asked) is in another year — "October 2024 … data starts Oct 19"."""
    if not iso_text:
        return ""
    d = datetime.fromisoformat(iso_text.replace("Z", "+00:00"))
    year = bool(ref) and datetime.fromisoformat(ref.replace("Z", "+00:00")).year != d.year
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日" if year else f"{d.month}月{d.day}日"
    return f"{d:%b} {d.day}, {d.year}" if year else f"{d:%b} {d.day}"


def _amount(hours: float, whole: float) -> tuple[str, str, str]:
    """(covered, asked, unit) in days for periods of two days or more, else hours."""
    if whole >= 48:
        def f(h: float) -> str:
            v = h / 24.0
            return f"{v:.0f}" if abs(v - round(v)) < 0.05 else f"{v:.1f}"
        return f(hours), f(whole), "days"
    return f"{hours:.0f}", f"{whole:.0f}", "hours"


def coverage_warnings(cov: dict | None, period_start: str | None, lang: str,
                      label: str | None = None) -> list[str]:
    """One line per cluster below 95 % that has some data: "gpu-east has data for 13 of the
    31 days asked (from Oct 19)"; ``label`` names the period when the answer has two (the
    baseline of a comparison). A cluster with none is said by the answer itself."""
    out = []
    for r in (cov or {}).get("clusters") or []:
        if r["share"] >= 0.95 or not r["hours"]:
            continue
        have, asked, unit = _amount(r["hours"], r["period_hours"])
        starts = r.get("first") and period_start and r["first"] > period_start
        if lang == "zh":
            u = "天" if unit == "days" else "小时"
            line = (f"{name(r['cluster'])} 在{label or ''}所查询的 {asked} {u}中只有 {have} "
                    f"{u}的数据")
            line += f"（数据从 {day_text(r['first'], lang)} 开始）" if starts else ""
            out.append(line + "。")
        else:
            line = f"{name(r['cluster'])} has data for {have} of the {asked} {unit} asked"
            line += f" in {'the ' if label.startswith('last ') else ''}{label}" if label else ""
            line += f" (from {day_text(r['first'], lang)})" if starts else ""
            out.append(line + ".")
    return out


def no_data_sentence(who: str, when: str, cov: dict | None, lang: str) -> str:
    """"No data for gpu-east in september (data starts Oct 19)." — never "0.0%". When every
    cluster's data ended before the period (``last``, ``agent.coverage``): "(newest data: Nov 19
    12:00 UTC)", the start of the newest hour with rows."""
    rows = (cov or {}).get("clusters") or []
    ref = (cov or {}).get("start")
    first = min((r["first"] for r in rows if r.get("first")), default=None)
    had = [r for r in rows if r.get("first")]
    if had and all(r.get("last") for r in had):
        last = max(r["last"] for r in had)
        at = f"{day_text(last, lang, ref)} {last[11:16]} UTC"
        if lang == "zh":
            return f"{who}在{when}没有数据（最新数据：{at}）。"
        return f"No data for {who} {_in(when)} (newest data: {at})."
    if lang == "zh":
        tail = f"（数据从 {day_text(first, lang, ref)} 开始）" if first else "（还没有任何数据）"
        return f"{who}在{when}没有数据{tail}。"
    tail = f" (data starts {day_text(first, lang, ref)})" if first else " (there is no data yet)"
    return f"No data for {who} {_in(when)}{tail}."


def _in(when: str) -> str:
    """"this week", "last month" as said ("no data for ml-team last month"); else "in …"."""
    return when if BARE_PERIOD.fullmatch(when) else f"in {when}"


def early_warning(hours: float, label: str, lang: str) -> str:
    """answers.md §3: "this week so far covers 3 hours"."""
    h = f"{hours:.0f}" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f}"
    if lang == "zh":
        zh = {"this week": "本周", "this month": "本月", "this quarter": "本季度", "this year": "今年"}
        return f"{zh.get(label, label)}到目前为止只有 {h} 小时"
    return f"{label} so far covers {h} hours"
