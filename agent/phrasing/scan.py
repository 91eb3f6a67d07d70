"""Reading a phrasing the way the grounding guard needs it: numbers, dates, names and the words
that give a number a direction, in English and Chinese.

Plain functions over a normalized text (every offset is into the normalized text); ``blank``
replaces a span with as many ``BLANK`` characters, so offsets hold while the guard blanks what it
has accounted for (names, dates) before it reads numbers: the digits of ``user-a-train-w46-07``
or of ``2026-11-16`` are never read as figures.

* ``normalize`` — NFKC (full-width digits, ``％``, ``－`` become ASCII), keeping the CJK
  punctuation that separates clauses (``，`` ``。`` ``；`` ``、``), dropping invisible format and
  control characters.
* ``numbers`` — every number, wherever it is: after CJK text (``降至97.3%``), glued to Latin
  letters (``about97.3``), with thousands separators, a sign (``-``, ``−``, ``–``, ``+``) that
  is a sign and not a range dash (``70–75%`` is two numbers), a scale (``11.4k``, ``1.14万``),
  and a unit (``%``, ``pp``/``个百分点``, ``GPU-hours``/``GPU小时``, ``GPUs``, ``workloads``,
  durations); ordinals (``2nd``, ``第3``, ``#1``, ``top 5``, list numbering) are marked. Numbers
  in words count too: ``ninety-seven percent``, ``sixteen point seven``, ``百分之九十七点三``,
  ``十六点七个百分点``, ``七十一点二`` (small ones — "two users", "一些" — only before a unit).
* ``moments`` — dates (``2026-11-16``, ``Tue 17 Nov``, ``Nov 16–19``, ``11月17日（周二）``),
  months and years (``11月``, ``2026年``), times (``12:00 UTC``) and ISO weeks (``2026-W47``,
  ``week 47``, ``第47周``).

The words around them — clauses, direction words, names a text claims — are read by
``agent.phrasing.cues``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from agent.lazy_re import lazy

KEEP = set("，。；：！？（）、")


def normalize(text: str) -> str:
    """NFKC per character, keeping the CJK punctuation that separates clauses, and without
    format or control characters (zero-width spaces, bidirectional marks, soft hyphens): a
    number split by an invisible character reads as the number it shows."""
    out = []
    for ch in text or "":
        if ch in KEEP or ch in "\n\t" or ord(ch) < 128 and ch.isprintable():
            out.append(ch)
        elif unicodedata.category(ch) not in ("Cf", "Cc"):
            out.append(unicodedata.normalize("NFKC", ch))
    return "".join(out)


BLANK = "\x00"  # what accounted-for text becomes: never in a normalized text, never a word


def blank(text: str, spans) -> str:
    """``text`` with each (start, end) span replaced by ``BLANK`` (offsets unchanged; a blanked
    name is neither a word nor a space, so "namespace <name> left" has no word after the kind
    word)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = BLANK * (end - start)
    return "".join(chars)


# -- numbers --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    start: int
    end: int  # after the unit, when there is one
    text: str
    value: float  # the magnitude as written, before ``scale``
    decimals: int
    scale: float = 1.0
    sign: int = 0  # -1 / +1 when a sign is written
    unit: str | None = None  # % | pp | gpu_hours | gpus | workloads | duration
    ordinal: bool = False


SIGNS = {"-": -1, "−": -1, "–": -1, "+": 1}
_NUMBER = lazy(r"\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+(?:\.\d+)?")
_SCALE = lazy(r"\s?(?:(k|K)(?![A-Za-z])|(thousand|million)\b)|(万|亿)")
_UNITS: list[tuple[str, re.Pattern]] = [(unit, lazy(r"[\s-]?(?:" + rx + ")", re.I))
                                         for unit, rx in [
    ("%", r"%|percent\b|per cent\b"),
    ("pp", r"pp\b|p\.p\.|percentage[- ]points?\b|points?\b|pts?\b|个?百分点"),
    ("gpu_hours", r"(?:idle\s)?GPU[- ]?hours?\b|GPU\s?·?\s?小时|卡时|空闲\s?GPU\s?小时"),
    ("gpus", r"GPUs?\b|[张块个]\s?(?:GPU|卡)"),
    ("workloads", r"workloads?\b|jobs?\b|个?任务|个?工作负载"),
    ("duration", r"days?\b|hours?\b|hrs?\b|weeks?\b|[hd](?![A-Za-z])|天|小时|周"),
]]
UNIT_AFTER = lazy(r"\s?(?:%|percent\b|pp\b|个?百分点)", re.I)  # a number's unit follows
_ORDINAL_AFTER = lazy(r"(?:st|nd|rd|th)(?![A-Za-z])")
_ORDINAL_BEFORE = lazy(r"(?:第|#|No\.\s?|\b[Tt]op[\s-]|前)$")
# letters glued to digits that are names of things, not figures
GLUED_OK = lazy(r"(?<![A-Za-z])[kK]8s(?![A-Za-z0-9])")
_LIST_ITEM = lazy(r"(?:^|\n)[ \t]*$")


def numbers(text: str) -> list[Number]:
    """Every number in ``text``, in digits or in words, earliest first."""
    return sorted([*_digit_numbers(text), *_word_numbers(text)], key=lambda n: n.start)


def _digit_numbers(text: str) -> list[Number]:
    found = []
    for m in _NUMBER.finditer(text):
        start, end, raw = m.start(), m.end(), m.group()
        sign = _sign_before(text, start)
        if sign:
            start -= 1
        digits = raw.replace(",", "")
        decimals = len(digits.partition(".")[2])
        scale, unit, ordinal = 1.0, None, False
        s = _SCALE.match(text, end)
        if s:
            scale = {"k": 1e3, "K": 1e3, "thousand": 1e3, "million": 1e6, "万": 1e4, "亿": 1e8}[
                s.group(1) or s.group(2) or s.group(3)]
            end = s.end()
        o = _ORDINAL_AFTER.match(text, end)
        if o and decimals == 0:
            ordinal, end = True, o.end()
        else:
            for name, rx in _UNITS:
                u = rx.match(text, end)
                if u:
                    unit, end = name, u.end()
                    break
        if decimals == 0 and (_ORDINAL_BEFORE.search(text[max(0, start - 4):start]) or (
                _LIST_ITEM.search(text[:start]) and re.match(r"[.)]\s", text[end:end + 2]))):
            ordinal = True
        found.append(Number(start, end, text[start:end], float(digits), decimals, scale, sign,
                            unit, ordinal))
    return found


def _sign_before(text: str, start: int) -> int:
    """The sign written right before a number, unless that character is a hyphen inside a word
    (``w47-01``) or the dash of a range (``70–75%``, ``66.9%–76.2%``, ``60.9 – 78.5``)."""
    if start == 0 or text[start - 1] not in SIGNS:
        return 0
    mark = text[start - 1]
    i = start - 2
    if i >= 0 and (re.match(r"[A-Za-z0-9_%]", text[i])):
        return 0
    while i >= 0 and text[i] == " ":
        i -= 1
    if mark == "–" and i >= 0 and text[i] in "0123456789%":
        return 0
    return SIGNS[mark]


EN_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
EN_TENS = {w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 10 ** 6}
_EN_W = "|".join([*EN_TENS, *_EN_SCALES, *sorted(EN_ONES, key=len, reverse=True)])
_EN_DIGIT_W = "|".join(w for w, v in EN_ONES.items() if v < 10)
_EN_NUMBER = lazy(rf"\b(?:{_EN_W})(?:(?:[\s-]+|\s+and\s+)(?:{_EN_W}))*"
                  rf"(?:\s+point(?:\s+(?:{_EN_DIGIT_W}))+)?\b", re.I)
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10 ** 4, "亿": 10 ** 8}
_CN_NUMBER = lazy(r"(百分之)?([零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]*"
                  r"(?:点[零〇一二三四五六七八九]+)?)(?![月日号年周时分秒])")
MEASURES = {"%", "pp", "gpu_hours", "gpus"}


def _word_numbers(text: str) -> list[Number]:
    """Numbers written in words. A small one ("two users", "第一") only before a unit."""
    found = []
    for m in _EN_NUMBER.finditer(text):
        words = re.findall(r"[a-z]+", m.group().lower())
        whole, _, frac = " ".join(words).partition(" point ")
        value = _en_value(whole.split()) + (float("0." + "".join(
            str(EN_ONES[w]) for w in frac.split())) if frac else 0.0)
        big = frac or any(w in EN_TENS or w in _EN_SCALES for w in words)
        found += _word_number(text, m.start(), m.end(), value, len(frac.split()), big, None)
    for m in _CN_NUMBER.finditer(text):
        whole, _, frac = m.group(2).partition("点")
        value = _cn_value(whole) + (float("0." + "".join(str(_CN_DIGITS[c]) for c in frac))
                                    if frac else 0.0)
        big = bool(frac) or (len(whole) > 1 and any(c in _CN_UNITS for c in whole))
        found += _word_number(text, m.start(), m.end(), value, len(frac), big,
                              "%" if m.group(1) else None)
    return found


def _word_number(text: str, start: int, end: int, value: float, decimals: int, big: bool,
                 unit: str | None) -> list[Number]:
    if unit is None:
        for name, rx in _UNITS:
            u = rx.match(text, end)
            if u:
                unit, end = name, u.end()
                break
    if not big and unit not in MEASURES:
        return []
    return [Number(start, end, text[start:end], value, decimals, unit=unit)]


def _en_value(words: list[str]) -> float:
    total = current = 0
    for w in words:
        if w in EN_ONES or w in EN_TENS:
            current += EN_ONES.get(w, 0) + EN_TENS.get(w, 0)
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in _EN_SCALES:
            total, current = total + (current or 1) * _EN_SCALES[w], 0
    return float(total + current)


def _cn_value(s: str) -> float:
    total = section = digit = 0
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c in ("万", "亿"):
            total, section, digit = (total + section + digit) * _CN_UNITS[c], 0, 0
        else:
            section, digit = section + (digit or 1) * _CN_UNITS[c], 0
    return float(total + section + digit)


# -- dates, times, weeks ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Moment:
    start: int
    end: int
    text: str
    kind: str  # date | month | year | time | week
    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None  # 0 = Monday, when a day name is written with the date
    hour: int | None = None
    minute: int | None = None
    week: int | None = None


MONTHS = {m: i + 1 for i, names in enumerate([
    "jan january", "feb february", "mar march", "apr april", "may", "jun june", "jul july",
    "aug august", "sep sept september", "oct october", "nov november", "dec december"])
    for m in names.split()}
WEEKDAYS = {w: i for i, names in enumerate([
    "mon monday", "tue tues tuesday", "wed wednesday", "thu thur thurs thursday", "fri friday",
    "sat saturday", "sun sunday"]) for w in names.split()}
ZH_WEEKDAYS = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6}
_MON = (r"(?P<mon>" + "|".join(sorted((m.capitalize() for m in MONTHS), key=len, reverse=True))
        + r")\b\.?")
_WD = (r"(?:(?P<wd>" + "|".join(sorted((w.capitalize() for w in WEEKDAYS), key=len, reverse=True))
       + r")\b\.?,?\s+)?")
_YEAR = r"(?:,?\s+(?P<year>(?:19|20)\d{2})(?!\d))?"
_RANGE = r"(?:\s?[–-]\s?(?P<d2>\d{1,2}))?"
_MOMENTS: list[tuple[str, re.Pattern]] = [
    ("iso", lazy(r"(?<!\d)(?P<year>\d{4})[-/](?P<month>\d{1,2})[-/](?P<day>\d{1,2})(?!\d)"
                 r"(?:[T ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2}(?:\.\d+)?)?)?"
                 r"(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?")),
    ("en_dm", lazy(_WD + r"(?<!\d)(?P<day>\d{1,2})" + _RANGE + r"(?:st|nd|rd|th)?\s+" + _MON
                   + _YEAR)),
    ("en_md", lazy(_WD + _MON + r"\s+(?P<day>\d{1,2})(?!\d)" + _RANGE
                   + r"(?:st|nd|rd|th)?" + _YEAR)),
    ("zh_date", lazy(r"(?:(?P<year>\d{4})年)?(?P<month>\d{1,2})月(?P<day>\d{1,2})[日号]"
                     r"(?:\s?[–\-至到~]\s?(?P<d2>\d{1,2})[日号])?"
                     r"(?:\s*[（(]?(?:星期|周)(?P<zwd>[一二三四五六日天])[）)]?)?")),
    ("zh_month", lazy(r"(?:(?P<year>\d{4})年)?(?P<month>\d{1,2})月(?!\d)")),
    ("zh_year", lazy(r"(?P<year>\d{4})年")),
    ("week", lazy(r"(?:(?P<year>\d{4})-?)?(?<![A-Za-z])W(?P<week>\d{1,2})(?!\d)"
                  r"|\b[Ww]eek\s+(?P<week2>\d{1,2})(?!\d)|第(?P<week3>\d{1,2})周")),
    ("time", lazy(r"(?<![\d:.])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2})?(?![\d:])"
                  r"(?:\s?(?:UTC|Z)\b)?")),
]


def moments(text: str) -> list[Moment]:
    """Dates, months, years, times and weeks, earliest first, never overlapping."""
    found: list[Moment] = []
    taken = [False] * (len(text) + 1)
    for kind, rx in _MOMENTS:
        for m in rx.finditer(text):
            if any(taken[m.start():m.end()]):
                continue
            new = _moment(kind, m, text)
            if not new:
                continue
            found += new
            for i in range(m.start(), m.end()):
                taken[i] = True
    return sorted(found, key=lambda x: x.start)


def _moment(kind: str, m: re.Match, text: str) -> list[Moment]:
    g = m.groupdict()
    span = (m.start(), m.end(), text[m.start():m.end()])
    year = int(g["year"]) if g.get("year") else None
    if kind == "time":
        h, mi = int(g["hour"]), int(g["minute"])
        return [Moment(*span, "time", hour=h, minute=mi)] if h < 24 and mi < 60 else []
    if kind == "week":
        week = int(g.get("week") or g.get("week2") or g.get("week3"))
        return [Moment(*span, "week", year=year, week=week)]
    if kind == "zh_year":
        return [Moment(*span, "year", year=year)]
    if kind == "zh_month":
        return [Moment(*span, "month", year=year, month=int(g["month"]))]
    month = int(g["month"]) if g.get("month") else MONTHS.get((g.get("mon") or "").lower())
    if month is None or not 1 <= month <= 12 or not 1 <= int(g["day"]) <= 31:
        return []
    wd = g.get("wd")
    weekday = WEEKDAYS.get(wd.lower()) if wd else ZH_WEEKDAYS.get(g.get("zwd") or "")
    out = [Moment(*span, "date", year=year, month=month, day=int(g["day"]), weekday=weekday)]
    if g.get("d2"):
        out.append(Moment(*span, "date", year=year, month=month, day=int(g["d2"])))
    if g.get("hour") is not None:
        out.append(Moment(*span, "time", hour=int(g["hour"]), minute=int(g["minute"])))
    return out
