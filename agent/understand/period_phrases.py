"""Period phrases in a question: "last 3 days", "上周", "过去七天", "2026-11-01..2026-11-07",
"since Monday", "the week before", "week-over-week" — found, turned into ``agent.periods``
values, and assigned to an ``Understanding`` as its period and baseline.

Every pattern is tried on the lower-cased question (``understand.text.lower``), longer and
more specific forms first; a later pattern never matches inside an earlier hit. A phrase that
names an impossible, reversed, future or unsupported period (a holiday, a fiscal year) is not
an exception: it becomes an ``invalid period`` issue, which the agent refuses with exit 2 and the
supported forms (answers.md §1) instead of answering over a default; a current period still
empty at now ("this week" at Monday 00:00) is an ``ambiguous period``, asked back.

Decisions:

* "past few days"/"最近几天"/"lately" -> last 7 days with ``period_explicit=False``.
* Compare/drilldown with two periods: the later one is ``period``; the baseline is
  ``periods.baseline(period)`` when the earlier one is its natural predecessor ("this week vs
  last week" -> the same elapsed span of last week), else the earlier period as written. One
  period written after "than/from/compared to/比" ("dropped from last week") is the baseline
  and the period is the current one. A drilldown without a period is this week against the
  same span last week (last week against the week before at Monday 00:00, when this week is
  still empty).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable

from agent import periods as P
from agent.period_parse import parse_period
from agent.periods import Period, PeriodError
from agent.understand import vocab_en as EN
from agent.understand import vocab_zh as ZH
from agent.understand.model import Issue, Understanding


@dataclass
class PeriodHit:
    """One period phrase: where it is, what it means (or why it cannot be used)."""

    start: int
    end: int
    period: Period | None
    explicit: bool = True
    error: str | None = None
    started: bool = True  # False: a current period still empty at now (asked back, not refused)


_UTC = timezone.utc
_DATE = r"\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2})?z?)?"
_NUMW = "|".join(sorted((re.escape(w) for w in list(EN.NUMBER_WORDS) + list(EN.VAGUE_AMOUNTS)),
                        key=len, reverse=True))
_EN_AMOUNT = rf"\d+(?:\.\d+)?|{_NUMW}"
_EN_UNIT = r"hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?"
_CN_AMOUNT = r"[0-9]+|[一二两三四五六七八九十]+|几"
_CN_UNIT = r"小时|钟头|天|日|周|星期|礼拜|月"
_WEEKDAY_RX = "|".join(EN.WEEKDAYS) + "|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"


def _unit(word: str) -> str:
    w = word.strip()
    if w.startswith("h") or w in ("小时", "钟头"):
        return "h"
    if w.startswith("w") or w in ("周", "星期", "礼拜"):
        return "w"
    if w.startswith("m") or w == "月":
        return "m"
    return "d"


def _amount(word: str) -> tuple[float | None, bool]:
    """(number, vague): "3" / "three" / "三" -> 3; "few" / "几" -> vague."""
    w = word.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", w):
        return float(w), False
    if w in EN.NUMBER_WORDS:
        return float(EN.NUMBER_WORDS[w]), False
    n = ZH.cn_number(w)
    if n is not None:
        return float(n), False
    return None, True


_VAGUE_DEFAULT = {"h": 6.0, "d": 7.0, "w": 3.0, "m": 3.0}


def _last(now: datetime, n: float | None, unit: str) -> Period:
    if n is None:
        n = _VAGUE_DEFAULT[unit]
    if unit == "h":
        return P.last_hours(now, n)
    if unit == "m":
        return P.last_days(now, 30 * n, f"last {P._num(n)} month{'s' if n != 1 else ''}")
    days = n * (7 if unit == "w" else 1)
    return P.last_days(now, days)


def _since_weekday(now: datetime, tz: tzinfo | None, wd: int) -> Period:
    if wd == 0:
        return P.this_week(now, tz)
    local = now.astimezone(tz or _UTC).date()
    day = local - timedelta(days=(local.weekday() - wd) % 7)
    start = P.midnight(day, tz)
    if start >= now:
        raise P.NotStarted(f"'since {EN.WEEKDAYS[wd].title()}' has not started yet at --now")
    return Period(start, now, f"since {EN.WEEKDAYS[wd].title()}", to_now=True)


def _day_before_yesterday(now: datetime, tz: tzinfo | None) -> Period:
    y = P.yesterday(now, tz)
    return Period(y.start - timedelta(days=1), y.start, "the day before yesterday", unit="day")


def _future(*_args) -> Period:
    raise PeriodError("that period is in the future: there is no data for it yet")


def _weekday_index(word: str) -> int:
    w = word.strip().lower()
    if w in ZH.WEEKDAYS:
        return ZH.WEEKDAYS[w]
    for i, name in enumerate(EN.WEEKDAYS):
        if name.startswith(w[:3]):
            return i
    return 0


def _iso_point(text: str) -> str:
    return text.strip().upper().replace(" ", "T") if "t" in text or ":" in text else text.strip()


_MONTHS = {"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
           "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
           "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
           "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MON_SAFE = "|".join(sorted((m for m in _MONTHS if m not in ("may", "mar")), key=len, reverse=True))
_ORD = r"(?:st|nd|rd|th)?"
# a day as people write it (ISO dates have rules of their own): nov 3, 3 nov, november 3rd 2026, 11月3日, 2026年11月3号
_DAYX = (rf"(?:{_MON})\.?\s+\d{{1,2}}{_ORD}\b(?:,?\s+\d{{4}}\b)?|"
         rf"\d{{1,2}}{_ORD}\s+(?:{_MON})\b(?:\.?,?\s+\d{{4}}\b)?|(?:\d{{4}}\s*年\s*)?\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号]")
_CN_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
# what is recognised as a time but cannot be answered: named with the phrase, exit 2
_UNSUPPORTED = (r"\b(?:last\s+|this\s+|next\s+|previous\s+)?fiscal\s+(?:year|quarter)\b|\bfy\s?\d{2,4}\b|"
                r"(?:上个|上一|本|这个|下个)?财年|\b(?:over\s+|during\s+)?(?:the\s+)?(?:christmas|xmas|"
                r"thanksgiving|easter|new\s+year'?s|black\s+friday|golden\s+week)(?:\s+(?:holidays?|break|week))?\b|"
                r"\bthe\s+holidays\b|春节|国庆|中秋|五一假期|元旦|假期期间|节假日")


def _unsupported(m: re.Match, now: datetime, tz: tzinfo | None) -> Period:
    raise PeriodError("holidays and fiscal periods are not calendar periods gpureport knows")


def _day(text: str, now: datetime, tz: tzinfo | None):
    """A ``_DAYX`` phrase -> date (the year, when left out, is the latest that has begun)."""
    t = text.strip()
    m = re.fullmatch(r"(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]", t)
    if m:
        return P.day_of(int(m[1]) if m[1] else None, int(m[2]), int(m[3]), now, tz)
    m = re.fullmatch(rf"({_MON})\.?\s+(\d{{1,2}}){_ORD}(?:,?\s+(\d{{4}}))?", t) or \
        re.fullmatch(rf"(\d{{1,2}}){_ORD}\s+({_MON})\.?(?:,?\s+(\d{{4}}))?", t)
    if m is None:
        raise PeriodError(f"'{t}' is not a date")
    mon, day = (m[1], m[2]) if not m[1].isdigit() else (m[2], m[1])
    return P.day_of(int(m[3]) if m[3] else None, _MONTHS[mon], int(day), now, tz)


def _between(m: re.Match, now: datetime, tz: tzinfo | None) -> Period:
    return P.days(_day(m[1], now, tz), _day(m[2], now, tz), now, tz)


def _named_month(word: str, year: str | None, now: datetime, tz: tzinfo | None) -> Period:
    n = _MONTHS[word] if word in _MONTHS else ZH.cn_number(word)
    return P.month(int(year), n, now, tz) if year else P.recent_month(n, now, tz)


def _named_quarter(number: str, year: str | None, now: datetime, tz: tzinfo | None) -> Period:
    n = ZH.cn_number(number)
    return P.quarter(int(year), n, now, tz) if year else P.recent_quarter(n, now, tz)


# (pattern, handler(match, now, tz) -> Period, explicit). Order matters: longer and more
# specific forms first; a later pattern never matches inside an earlier hit.
_Handler = Callable[[re.Match, datetime, "tzinfo | None"], Period]
# re.ASCII: "\b" must see a boundary between "46" and "用" in "2026-W46用了" (CJK is \w in Unicode)
_PERIOD_RULES: list[tuple[re.Pattern, _Handler, bool]] = [(re.compile(p, re.ASCII), h, e) for p, h, e in [
    (_UNSUPPORTED, _unsupported, True),
    (rf"(?:\bfrom\s+|\bbetween\s+|从|自)?({_DATE})\s*(?:\.\.|~|–|—|\bto\b|\btill\b|\buntil\b|"
     rf"\bthrough\b|\bthru\b|\band\b|到|至|和|-)\s*({_DATE})",
     lambda m, now, tz: parse_period(f"{_iso_point(m[1])}..{_iso_point(m[2])}", now, tz), True),
    (rf"(?:\bfrom\s+|\bbetween\s+|从|自)({_DAYX})\s*(?:\bto\b|\btill\b|\buntil\b|\bthrough\b|\bthru\b|"
     rf"\band\b|到|至|-|–|~)\s*({_DAYX})|({_DAYX})\s*(?:到|至|~)\s*({_DAYX})",
     lambda m, now, tz: P.days(_day(m[1] or m[3], now, tz), _day(m[2] or m[4], now, tz), now, tz), True),
    (rf"\bsince\s+(?:the\s+)?({_DAYX})|(?:自|从)\s*({_DAYX})\s*(?:以来|开始|起|至今|到现在)?|"
     rf"({_DAYX})\s*(?:以来|开始|起|至今)",
     lambda m, now, tz: P.since_day(_day(m[1] or m[2] or m[3], now, tz), now, tz), True),
    (rf"\b(?:on\s+)?((?:{_MON})\.?\s+\d{{1,2}}{_ORD}\b(?:,?\s+\d{{4}}\b)?|\d{{1,2}}{_ORD}\s+(?:{_MON})\b"
     rf"(?:\.?,?\s+\d{{4}}\b)?|(?:\d{{4}}\s*年\s*)?\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号])",
     lambda m, now, tz: P.days(_day(m[1], now, tz), _day(m[1], now, tz), now, tz), True),
    (rf"\b(?:(?:in|during|for|of)\s+)?(?:the\s+month\s+of\s+)?({_MON_SAFE})\b\.?(?:,?\s+(\d{{4}})\b)?|"
     rf"\b(?:in|during|for)\s+(may|march)\b(?:\s+(\d{{4}})\b)?|\b(may|march)\s+(\d{{4}})\b",
     lambda m, now, tz: _named_month(m[1] or m[3] or m[5], m[2] or m[4] or m[6], now, tz), True),
    (rf"(?:(\d{{4}})\s*年\s*)?({_CN_MONTH})\s*月份?(?!\s*\d)(?![日号])",
     lambda m, now, tz: _named_month(m[2], m[1], now, tz), True),
    (r"\b(?:this|current)\s+quarter(?:'s)?|\bquarter\s+to\s+date\b|\bqtd\b|本季度|这个季度|这季度|本季",
     lambda m, now, tz: P.this_quarter(now, tz), True),
    (r"\b(?:last|previous|prior)\s+quarter(?:'s)?|上季度|上个季度|上一季度|上一个季度",
     lambda m, now, tz: P.last_quarter(now, tz), True),
    (r"\bq([1-4])\b(?:\s*(?:of\s+)?(\d{4})\b)?|\b(\d{4})\s*-?\s*q([1-4])\b",
     lambda m, now, tz: _named_quarter(m[1] or m[4], m[2] or m[3], now, tz), True),
    (r"(?:(\d{4})\s*年\s*)?第?([一二三四1-4])\s*季度",
     lambda m, now, tz: _named_quarter(m[2], m[1], now, tz), True),
    (r"\b(?:this|current)\s+year(?:'s)?|\byear\s+to\s+date\b|\bytd\b|今年|本年度?",
     lambda m, now, tz: P.this_year(now, tz), True),
    (r"\b(?:last|previous|prior)\s+year(?:'s)?|去年|上一年",
     lambda m, now, tz: P.last_year(now, tz), True),
    (rf"\bsince\s+(?:the\s+)?(?:last\s+)?({_WEEKDAY_RX})\b",
     lambda m, now, tz: _since_weekday(now, tz, _weekday_index(m[1])), True),
    (r"(?:自|从)?\s*(?:本周|这周)?(?:周|星期|礼拜)([一二三四五六日天1-7])\s*(?:以来|开始|起|至今|到现在)",
     lambda m, now, tz: _since_weekday(now, tz, _weekday_index(m[1])), True),
    (rf"\bsince\s+({_DATE})|(?:自|从)\s*({_DATE})\s*(?:以来|开始|起|至今|到现在)?|({_DATE})\s*(?:以来|开始|起|至今)",
     lambda m, now, tz: parse_period(f"{_iso_point(m[1] or m[2] or m[3])}..", now, tz), True),
    (r"\bsince\s+yesterday\b",
     lambda m, now, tz: Period(P.yesterday(now, tz).start, now, "since yesterday", to_now=True), True),
    (r"\bsince\s+(?:the\s+)?(?:start|beginning)\s+of\s+(?:the\s+|this\s+)?week\b",
     lambda m, now, tz: P.this_week(now, tz), True),
    (r"\bsince\s+(?:the\s+)?(?:start|beginning)\s+of\s+(?:the\s+|this\s+)?month\b",
     lambda m, now, tz: P.this_month(now, tz), True),
    (r"\b(\d{4})-?w(\d{1,2})\b", lambda m, now, tz: P.iso_week(int(m[1]), int(m[2]), tz), True),
    (r"\b(?:iso\s+)?week\s+(\d{1,2})\b(?!\s*(?:days?|hours?))",
     lambda m, now, tz: P.iso_week(now.astimezone(tz or _UTC).isocalendar()[0], int(m[1]), tz), True),
    (r"\b(?:on\s+)?(\d{4}-\d{2}-\d{2})\b",
     lambda m, now, tz: parse_period(m[1], now, tz), True),
    (r"\b(?:the\s+)?day\s+before\s+yesterday\b|前天",
     lambda m, now, tz: _day_before_yesterday(now, tz), True),
    (r"\b(?:the\s+)?week\s+before\s+last\b|\b(?:two|2)\s+weeks\s+ago\b|\bthe\s+week\s+before\b|"
     r"上上(?:个)?(?:周|星期|礼拜)",
     lambda m, now, tz: P.last_week(now, tz, weeks_back=2), True),
    (rf"\b(?:(?:over|in|during|for|within|across)\s+)?(?:the\s+)?(?:last|past|previous|prior|recent|"
     rf"trailing|preceding)\s+({_EN_AMOUNT})\s*({_EN_UNIT})\b",
     lambda m, now, tz: _last(now, _amount(m[1])[0], _unit(m[2])), True),
    (rf"(?:过去|最近|近|前|近来)\s*的?\s*({_CN_AMOUNT})\s*(?:个)?\s*({_CN_UNIT})",
     lambda m, now, tz: _last(now, _amount(m[1])[0], _unit(m[2])), True),
    (rf"({_CN_AMOUNT})\s*(?:个)?\s*({_CN_UNIT})\s*(?:内|以来|来|之内)",
     lambda m, now, tz: _last(now, _amount(m[1])[0], _unit(m[2])), True),
    (r"(?<![\w.\-])(\d{1,4})\s?(h|d|w)\b",
     lambda m, now, tz: _last(now, float(m[1]), m[2]), True),
    (r"(?<!next )(?<!in )(?<!after )(?<!every )\b(\d{1,4})\s+(hours|days|weeks)\b(?!\s+(?:ago|later))",
     lambda m, now, tz: _last(now, float(m[1]), _unit(m[2])), True),
    (r"\b(?:(?:over|in|during|for|within|across)\s+the\s+(?:last|past)|(?:the\s+|this\s+)?past)\s+"
     r"(hour|day|week|month)\b",
     lambda m, now, tz: _last(now, 1.0, _unit(m[1])), True),
    (r"\b(?:so far )?this week(?:'s)?|\bcurrent week\b|\bweek to date\b|\bwtd\b|"
     r"本周|这周|这一周|这个星期|这星期|本星期|这个礼拜|这礼拜|本礼拜",
     lambda m, now, tz: P.this_week(now, tz), True),
    (r"\b(?:last|previous|prior)\s+week(?:'s)?|上周|上一周|上个星期|上星期|上个礼拜|上礼拜|上一个星期",
     lambda m, now, tz: P.last_week(now, tz), True),
    (r"\b(?:so far )?this month(?:'s)?|\bcurrent month\b|\bmonth to date\b|\bmtd\b|本月|这个月|这月|当月",
     lambda m, now, tz: P.this_month(now, tz), True),
    (r"\b(?:last|previous|prior)\s+month(?:'s)?|上个月|上月|上一个月",
     lambda m, now, tz: P.last_month(now, tz), True),
    (r"\b(?:so far )?today(?:'s)?|\btonight\b|今天|今日",
     lambda m, now, tz: P.today(now, tz), True),
    (r"\byesterday(?:'s)?|昨天|昨日", lambda m, now, tz: P.yesterday(now, tz), True),
    (r"\btomorrow\b|\bnext\s+(?:week|month|day|\d+\s+days)\b|明天|下周|下个月|下个星期", _future, True),
    (r"第\s*(\d{1,2})\s*周",
     lambda m, now, tz: P.iso_week(now.astimezone(tz or _UTC).isocalendar()[0], int(m[1]), tz), True),
    (r"(?<![\w.\-/:])(20\d{2})\s*年(?!\s*\d)|(?<![\w.\-/:])(?:(?:in|during|for|of)\s+)?(20[0-4]\d)(?![\w.\-/:])",
     lambda m, now, tz: P.year_period(int(m[1] or m[2]), now, tz), True),
    # vague: "few days" (above, with no number) and these default to 7 days, not explicit
    (r"\blately\b|\brecently\b|\bthese days\b|\brecent days\b|最近几天|这几天|近几天|过去几天|前几天|近日|近期|最近",
     lambda m, now, tz: P.last_days(now, 7), False),
]]
VAGUE_AMOUNT = re.compile(rf"(?:\b(?:{'|'.join(EN.VAGUE_AMOUNTS)})|几)\s*(?:个)?\s*"
                          rf"(?:{_EN_UNIT}|{_CN_UNIT})", re.ASCII)
WOW = re.compile(r"\b(?:week[- ]over[- ]week|wow)\b|周环比", re.ASCII)
BASELINE_BEFORE = re.compile(r"(?:\bthan|\bfrom|\bcompared\s+(?:to|with)|\bvs\.?|\bversus|"
                             r"\brelative\s+to|\bagainst|\bsince|比|相比|较|跟|相较于?|比起)\s*(?:the\s+)?$", re.ASCII)


def find_periods(low: str, now: datetime, tz: tzinfo | None) -> list[PeriodHit]:
    """Every period phrase of ``low`` (lower-cased question), in the order they appear."""
    hits: list[PeriodHit] = []
    taken: list[tuple[int, int]] = []
    for rx, handler, explicit in _PERIOD_RULES:
        for m in rx.finditer(low):
            s, e = m.span()
            if s == e or any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            vague = not explicit or bool(VAGUE_AMOUNT.search(m.group(0)))
            try:
                hits.append(PeriodHit(s, e, handler(m, now, tz), explicit=not vague))
            except PeriodError as exc:
                hits.append(PeriodHit(s, e, None, error=f"'{m.group(0).strip()}': {exc}",
                                      started=not isinstance(exc, P.NotStarted)))
    return sorted(hits, key=lambda h: h.start)


def distinct_periods(periods: list[Period]) -> list[Period]:
    """The periods without repeats (two phrases may name the same span)."""
    out: list[Period] = []
    for p in periods:
        if all((p.start, p.end) != (q.start, q.end) for q in out):
            out.append(p)
    return out


def assign_periods(u: Understanding, hits: list[PeriodHit], distinct: list[Period], wow: bool,
                   low: str, now: datetime, tz: tzinfo | None) -> None:
    """``u.period``/``u.baseline``/``u.period_explicit`` from the phrases found and the intent
    already chosen (see the module docstring); unusable phrases become issues."""
    for h in hits:
        if h.error:
            u.issues.append(Issue("invalid" if h.started else "ambiguous", "period", h.error))
    errors = any(h.error for h in hits)
    u.period_explicit = any(h.explicit for h in hits if h.period is not None)
    try:
        if u.intent in ("compare", "drilldown"):
            if len(distinct) >= 2:
                later = max(distinct, key=lambda p: (p.end, p.start))
                earlier = max((p for p in distinct if p is not later), key=lambda p: (p.end, p.start))
                natural = P.baseline(later, tz)
                u.period = later
                u.baseline = natural if natural.start == earlier.start else earlier
            elif len(distinct) == 1:
                p = distinct[0]
                hit = next(h for h in hits if h.period is p)
                current = {"last week": P.this_week, "last month": P.this_month,
                           "yesterday": P.today}.get(p.label)
                if current and BASELINE_BEFORE.search(low[:hit.start]) and not u.other:
                    u.period = current(now, tz)
                    u.baseline = P.baseline(u.period, tz)
                elif u.intent == "compare" and u.other:
                    u.period = p
                else:
                    u.period, u.baseline = p, P.baseline(p, tz)
            elif not errors:
                if u.intent == "compare" and u.other:
                    u.period = P.last_days(now, 7)
                else:
                    try:
                        u.period = P.this_week(now, tz)
                    except PeriodError:  # Monday 00:00: this week is still empty
                        u.period = P.last_week(now, tz)
                    u.baseline = P.baseline(u.period, tz)
            if wow and u.period is not None and u.baseline is None and not u.other:
                u.baseline = P.baseline(u.period, tz)
        elif u.intent == "history" and (u.history or {}).get("window") == "now":
            pass  # the status now: no period
        elif u.intent in ("trend", "ranking", "anomalies", "history", "cost"):
            if distinct:
                u.period = distinct[0]
            elif not errors:
                u.period = P.last_days(now, 7)
        elif u.intent in ("discovery", "help") and distinct:
            u.period = distinct[0]
    except PeriodError as exc:
        u.issues.append(Issue("ambiguous", "period", str(exc)))
