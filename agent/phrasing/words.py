"""How figures and names are written in answers: numbers, signed changes, scopes and periods.

Shared by the answers of the agent (``agent.phrasing.answers`` and the modules it dispatches to),
its tables and the reports, so
"61.4%", "−16.7 pp" and "1,344 GPU-hours" read the same everywhere. Names that come from the
data are shortened for prose (``name``) but never interpreted.
"""

from __future__ import annotations

import re
from typing import Any

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
    """``+2.4 pp`` / ``−16.7 pp``; a change that rounds to nothing is ``0.0 pp`` (not the
    ``−0.0 pp`` that reads as a fall)."""
    if v is None:
        return "n/a"
    if abs(v) < 0.05:
        return f"0.0{unit}"
    return f"{'+' if v >= 0 else '−'}{abs(v):.1f}{unit}"


def scope_words(entities: dict, lang: str) -> str:
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


def sentence_start(who: str) -> str:
    """Capitalise our own words ("the cluster"), never a name from the data ("ml-team")."""
    return who[0].upper() + who[1:] if who.startswith(("the ", "all ", "user ", "workload ", "label ")) else who


def over_the(when: str) -> str:
    """"the last 7 days" after "over" or a comma ("ml-team, the last 7 days: …"); other
    periods as they are."""
    return f"the {when}" if re.match(r"last \d", when) else when


# periods a sentence says without a preposition ("averaged 67.3% today", "… last week")
# periods said without a preposition ("last week", not "in last week" or "over last week")
BARE_PERIOD = re.compile(r"today|yesterday|(?:this|last) (?:week|month|quarter|year)|since .+")
# calendar periods one is "in" ("in October 2026", "in 2026-W46", "in 2026-Q3", "in 2026")
_CALENDAR = re.compile(r"(?:[A-Z][a-z]+ )?\d{4}(?:-W\d{2}|-Q[1-4])?|Q[1-4] \d{4}")


def during(when: str) -> str:
    """An English period as the end of a sentence says it: "today", "last week", "since
    2026-11-10" alone; "over the last 7 days"; "in October 2026", "in 2026-W46"; "on 2026-11-03"
    (one day); "over" anything else (a range of days). Never "over today"."""
    if BARE_PERIOD.fullmatch(when):
        return when
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", when):
        return f"on {when}"
    if _CALENDAR.fullmatch(when):
        return f"in {when}"
    return f"over {over_the(when)}"


_ZH_BARE = re.compile(r"今天|昨天|本周|上周|本月|上个月|本季度|上季度|今年|去年")


def zh_at(when: str) -> str:
    """A Chinese period before "的" + a figure: "今天的平均…", not "在今天的平均…"; other periods
    with "在" ("在过去7天的平均…", "在2026-W46的平均…")."""
    return when if _ZH_BARE.fullmatch(when) else f"在{when}"


def period_words(label: str | None, lang: str) -> str:
    if not label:
        return ""
    if lang == "zh":
        zh = {"this week": "本周", "last week": "上周", "today": "今天", "yesterday": "昨天",
              "this month": "本月", "last month": "上个月", "same span last week": "上周同期",
              "the week before": "前一周", "same span yesterday": "昨天同期",
              "same span last month": "上月同期", "the month before": "前一个月",
              "the 7 days before": "之前7天"}
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


def row_name(r: dict) -> str:
    """A per-entity row as written: ``cluster/name`` when the row carries its cluster (the
    scope spans several, answers.md §4)."""
    base = f"{r['cluster']}/{r['name']}" if r.get("cluster") else str(r["name"])
    return name(base)


def runs_text(r: dict, lang: str) -> str:
    """A family's run count after its name (answers.md §7): " (3 runs)"; nothing for one
    workload."""
    n = r.get("runs") or len(r.get("members") or [])
    if not n:
        return ""
    return f"（{n} 次运行）" if lang == "zh" else f" ({n} runs)"
