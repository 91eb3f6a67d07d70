"""The question asked back and the one-line refusals, in English or Chinese: an unknown or
missing name, an unclear period (``clarification``), a period that cannot be answered
(``unsupported_period``, exit 2) and a name that matches nothing (``unknown_name``, exit 1).
"""

from __future__ import annotations

from agent.phrasing.words import name


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
