"""Understanding a question without a language model: intent, entities, periods.

The parser works in passes over the question, each one blanking out what it consumed so the
next does not misread it:

1. **periods** (English and Chinese, ``agent.periods`` definitions): "last 3 days", "上周",
   "过去七天", "2026-11-01..2026-11-07", "since Monday", "the week before";
2. **labels** ``key=value`` (``team=nlp``, ``annotation primus-safe.user.name=alice``), the key
   mapped to the label type the source lists it under;
3. **names**: Latin-letter tokens (so "ml-team这周的利用率" yields ``ml-team``), quoted
   strings and joined neighbours ("the nlp team" -> nlp-team), resolved against the real
   metadata with ``agent.names.NameIndex``. A kind word next to a name types it ("namespace X",
   "user X", "X集群", "任务X"); an untyped name is looked up in every kind. A near miss is never
   replaced silently: it becomes ``Issue("unknown", kind, text, suggestions)`` so the agent asks
   "did you mean ml-team?";
4. **intent** by weighted cues (``vocab_en``/``vocab_zh``, both always applied, so mixed
   language works) plus structure (two entities of a kind or two periods -> compare; a past
   period makes "realtime" unlikely). Scores, not first match: word order does not matter.

Decisions:

* Only the first ``MAX_SCAN`` (2,000) characters are read, and at most ``MAX_FUZZY`` distinct
  words are fuzzily looked up; a 10,000-character paste costs the same as a long question and
  nothing beyond the limit can change the answer. SQL/HTML in a question is only text: it is
  never matched to a real name (a quoted ``namespace '; DROP TABLE x;--`` is an unknown
  namespace without suggestions).
* Confidence: ≥ 0.6 when a clear cue decides the intent (0.55 + 0.15 per cue weight, capped
  at 0.95; at most 0.55 when two intents nearly tie); exactly 0.6 for a bare request that
  needs a cluster; 0.55 for a follow-up fragment ("and last week?") whose intent is the
  previous turn's; 0.5 for names without a cue; 0.2 for nonsense; 0 for an empty question.
* Cluster scope: a question that names no cluster is about *all* clusters (``cluster=None``),
  as questions.md expects for "What's the GPU utilization trend over the past few days?". Only
  a *bare* request — no intent cue of its own, no entity, no period ("I want to check GPU
  usage", "我想看看GPU使用情况") — with several clusters and no ``default_cluster`` gets
  ``Issue("missing", "cluster")``. A namespace in a single cluster gets that cluster from the
  graph (it knows where each namespace lives; ``Metadata`` only lists names).
* "a namespace"/"某个命名空间" asked for without a name -> ``Issue("missing", "namespace")``.
* "past few days"/"最近几天"/"lately" -> last 7 days with ``period_explicit=False``.
* Compare/drilldown with two periods: the later one is ``period``; the baseline is
  ``periods.baseline(period)`` when the earlier one is its natural predecessor ("this week vs
  last week" -> the same elapsed span of last week), else the earlier period as written. One
  period written after "than/from/compared to/比" ("dropped from last week") is the baseline
  and the period is the current one. A drilldown without a period is this week against the
  same span last week (last week against the week before at Monday 00:00, when this week is
  still empty).
* "X instead of Y" yields X first and Y as ``other``: the graph swaps Y for X in the previous
  turn.
* Empty input is ``help`` with confidence 0; nonsense is ``help`` with confidence 0.2.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Callable, Literal

from agent import periods as P
from agent.names import NameIndex, normalize
from agent.periods import Period, PeriodError
from agent.understand import vocab_en as EN
from agent.understand import vocab_zh as ZH
from agent.understand.model import INTENTS, Issue, Metadata, Understanding

MAX_SCAN = 2000
MAX_FUZZY = 25  # distinct words fuzzily looked up per question: bounds the cost of hostile input
KINDS = ("namespace", "cluster", "user", "workload")
# tie-break between equal intent scores: the more specific question wins
_PRIORITY = {"drilldown": 6, "compare": 5, "ranking": 4, "realtime": 3, "freshness": 3,
             "discovery": 2, "help": 1, "trend": 0}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(text: str) -> Literal["en", "zh"]:
    """``zh`` when the text holds any CJK ideograph, else ``en``."""
    return "zh" if _CJK.search(text or "") else "en"


# ---------------------------------------------------------------------------------------------
# text preparation

def _prepare(question: str) -> str:
    """NFKC (full-width letters, digits and punctuation -> ASCII), typographic apostrophes."""
    text = unicodedata.normalize("NFKC", question[:MAX_SCAN])
    return text.replace("’", "'").replace("‘", "'").replace("\u00a0", " ")


def _lower(text: str) -> str:
    """Lower-case without changing length (so positions agree with the original)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


# ---------------------------------------------------------------------------------------------
# periods

@dataclass
class _PeriodHit:
    start: int
    end: int
    period: Period | None
    explicit: bool = True
    error: str | None = None


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
        raise PeriodError(f"'since {EN.WEEKDAYS[wd].title()}' has not started yet at --now")
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


# (pattern, handler(match, now, tz) -> Period, explicit). Order matters: longer and more
# specific forms first; a later pattern never matches inside an earlier hit.
_Handler = Callable[[re.Match, datetime, "tzinfo | None"], Period]
# re.ASCII: "\b" must see a boundary between "46" and "用" in "2026-W46用了" (CJK is \w in Unicode)
_PERIOD_RULES: list[tuple[re.Pattern, _Handler, bool]] = [(re.compile(p, re.ASCII), h, e) for p, h, e in [
    (rf"(?:\bfrom\s+|\bbetween\s+|从|自)?({_DATE})\s*(?:\.\.|~|–|—|\bto\b|\btill\b|\buntil\b|"
     rf"\bthrough\b|\bthru\b|\band\b|到|至|和|-)\s*({_DATE})",
     lambda m, now, tz: P.parse_period(f"{_iso_point(m[1])}..{_iso_point(m[2])}", now, tz), True),
    (rf"\bsince\s+(?:the\s+)?(?:last\s+)?({_WEEKDAY_RX})\b",
     lambda m, now, tz: _since_weekday(now, tz, _weekday_index(m[1])), True),
    (r"(?:自|从)?\s*(?:本周|这周)?(?:周|星期|礼拜)([一二三四五六日天1-7])\s*(?:以来|开始|起|至今|到现在)",
     lambda m, now, tz: _since_weekday(now, tz, _weekday_index(m[1])), True),
    (rf"\bsince\s+({_DATE})|(?:自|从)\s*({_DATE})\s*(?:以来|开始|起|至今|到现在)?|({_DATE})\s*(?:以来|开始|起|至今)",
     lambda m, now, tz: P.parse_period(f"{_iso_point(m[1] or m[2] or m[3])}..", now, tz), True),
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
     lambda m, now, tz: P.parse_period(m[1], now, tz), True),
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
    # vague: "few days" (above, with no number) and these default to 7 days, not explicit
    (r"\blately\b|\brecently\b|\bthese days\b|\brecent days\b|最近几天|这几天|近几天|过去几天|前几天|近日|近期|最近",
     lambda m, now, tz: P.last_days(now, 7), False),
]]
_VAGUE_AMOUNT = re.compile(rf"(?:\b(?:{'|'.join(EN.VAGUE_AMOUNTS)})|几)\s*(?:个)?\s*"
                           rf"(?:{_EN_UNIT}|{_CN_UNIT})", re.ASCII)
_WOW = re.compile(r"\b(?:week[- ]over[- ]week|wow)\b|周环比", re.ASCII)
_BASELINE_BEFORE = re.compile(r"(?:\bthan|\bfrom|\bcompared\s+(?:to|with)|\bvs\.?|\bversus|"
                              r"\brelative\s+to|\bagainst|\bsince|比|相比|较|跟|相较于?|比起)\s*(?:the\s+)?$", re.ASCII)


def _find_periods(low: str, now: datetime, tz: tzinfo | None) -> list[_PeriodHit]:
    hits: list[_PeriodHit] = []
    taken: list[tuple[int, int]] = []
    for rx, handler, explicit in _PERIOD_RULES:
        for m in rx.finditer(low):
            s, e = m.span()
            if s == e or any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            vague = not explicit or bool(_VAGUE_AMOUNT.search(m.group(0)))
            try:
                hits.append(_PeriodHit(s, e, handler(m, now, tz), explicit=not vague))
            except PeriodError as exc:
                hits.append(_PeriodHit(s, e, None, error=str(exc)))
    return sorted(hits, key=lambda h: h.start)


# ---------------------------------------------------------------------------------------------
# names

@dataclass
class _Tok:
    start: int
    end: int
    text: str
    quoted: bool = False
    possessive: bool = False
    kind: str | None = None  # typed by a marker

    @property
    def low(self) -> str:
        return self.text.lower()


@dataclass
class _Mention:
    kind: str  # namespace | cluster | user | workload | label
    name: str
    pos: int
    label_type: str = "label"
    label_key: str | None = None
    label_value: str | None = None


_TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.\-/@]*[A-Za-z0-9])?")
_EN_MARKER_RX = "|".join(sorted(EN.MARKERS, key=len, reverse=True))
# "namespace '<anything>'" (closing quote optional): whatever is quoted is the name asked for
_TYPED_QUOTE = re.compile(rf"\b({_EN_MARKER_RX})s?(?:\s*[:=]\s*|\s+)(['\"“「『])(?!s\b)"
                          rf"([^'\"”」』\n]{{0,200}})(?:['\"”」』]|$)", re.IGNORECASE)
_ZH_TYPED_QUOTE = re.compile(r"(命名空间|集群|用户|任务|作业|工作负载)\s*[:：]?\s*(['\"“「『])([^'\"”」』\n]{0,200})"
                             r"(?:['\"”」』]|$)")
_QUOTED = re.compile(r"[\"“「『]([^\"”」』\n]{1,120})[\"”」』]|"
                     r"(?:(?<=[\s(:,，])|^)'([^'\n]{1,120})'(?=$|[\s?.,!;:)，。？！])")
_LABEL = re.compile(r"(?:(?P<marker>labels?|annotations?|标签|注解)\s*[:：]?\s*)?"
                    r"(?P<key>[A-Za-z][A-Za-z0-9_.\-/]*)\s*(?P<op>==?|:)\s*"
                    r"['\"“]?(?P<value>[A-Za-z0-9_.\-/@]+)['\"”]?", re.IGNORECASE)
_ZH_MARKERS = sorted(ZH.MARKERS, key=lambda m: len(m[0]), reverse=True)


class _Resolver:
    """Resolves tokens to real names; collects mentions and issues."""

    def __init__(self, meta: Metadata):
        self.meta = meta
        self.index = {
            "namespace": NameIndex.of(meta.namespaces), "cluster": NameIndex.of(meta.clusters),
            "user": NameIndex.of(meta.users), "workload": NameIndex.of(meta.workloads),
        }
        self.mentions: list[_Mention] = []
        self.issues: list[Issue] = []
        self.bound_markers: list[tuple[int, int]] = []
        self.name_spans: list[tuple[int, int]] = []  # names found (resolved or not)
        self._suggested: dict[tuple[str, str], list[tuple[str, float]]] = {}

    def suggest(self, kind: str, text: str) -> list[tuple[str, float]]:
        """Fuzzy suggestions, memoised per word and limited to ``MAX_FUZZY`` distinct words."""
        key = (kind, normalize(text))
        if key not in self._suggested:
            if len({t for _, t in self._suggested}) >= MAX_FUZZY and \
                    all(t != key[1] for _, t in self._suggested):
                return []
            self._suggested[key] = self.index[kind].suggest(text)
        return self._suggested[key]

    def add_issue(self, issue: Issue) -> None:
        if all((i.kind, i.entity, i.text) != (issue.kind, issue.entity, issue.text) for i in self.issues):
            self.issues.append(issue)

    # -- labels ---------------------------------------------------------------------------
    def labels(self, text: str) -> str:
        for m in _LABEL.finditer(text):
            marker, key, op, value = m["marker"], m["key"], m["op"], m["value"]
            if op == ":" and not marker:
                continue
            found = self._label_key(key, (marker or "").lower())
            text = _blank(text, *m.span())
            if found is None:
                keys = [k for ks in self.meta.label_keys.values() for k in ks]
                sugg = [f"{k}={value}" for k, _ in NameIndex.of(keys).suggest(key)]
                self.add_issue(Issue("unknown", "label", f"{key}={value}", sugg))
                continue
            ltype, real_key = found
            values = self.meta.label_values.get(real_key)
            real_value = value
            if values:
                idx = NameIndex.of(values)
                real_value = idx.match(value)
                if real_value is None:
                    sugg = [f"{real_key}={v}" for v, _ in idx.suggest(value)]
                    self.add_issue(Issue("unknown", "label", f"{real_key}={value}", sugg))
                    continue
            self.mentions.append(_Mention("label", f"{real_key}={real_value}", m.start(), ltype,
                                          real_key, real_value))
        return text

    def _label_key(self, key: str, marker: str) -> tuple[str, str] | None:
        types = list(self.meta.label_keys.items())
        if marker.startswith("annotation") or marker == "注解":
            types.sort(key=lambda t: t[0] != "annotation")
        for ltype, keys in types:
            real = NameIndex.of(keys).match(key)
            if real is not None:
                return ltype, real
        return None

    # -- tokens ---------------------------------------------------------------------------
    def tokens(self, text: str) -> list[_Tok]:
        toks: list[_Tok] = []
        for rx in (_TYPED_QUOTE, _ZH_TYPED_QUOTE):
            for m in rx.finditer(text):
                marker = m[1].lower()
                kind = EN.MARKERS.get(marker) or dict(ZH.MARKERS).get(m[1])
                toks.append(_Tok(m.start(3), m.end(3), m[3], quoted=True, kind=kind))
                self.bound_markers.append(m.span(1))
                text = _blank(text, *m.span())
        for m in _QUOTED.finditer(text):
            content = m[1] if m[1] is not None else m[2]
            g = 1 if m[1] is not None else 2
            toks.append(_Tok(m.start(g), m.end(g), content, quoted=True))
            text = _blank(text, *m.span())
        for m in _TOKEN.finditer(text):
            if m[0] in ("s", "S") and text[m.start() - 1:m.start()] == "'":
                continue  # the "s" of a possessive
            after = text[m.end():m.end() + 2]
            toks.append(_Tok(m.start(), m.end(), m[0], possessive=after.startswith("'")))
        toks.sort(key=lambda t: t.start)
        self._text = text
        return toks

    def _is_common(self, low: str) -> bool:
        if _common_word(low) or low in EN.MARKERS:
            return True
        parts = [p for p in re.split(r"[-_./]", low) if p]
        return len(parts) > 1 and all(_common_word(p) or p.isdigit() for p in parts)

    def _exact_any(self, text: str) -> tuple[str, str] | None:
        if clean_low(text) in EN.GENERIC_NAMES:
            return None
        for kind in KINDS:
            hit = self.index[kind].match(text)
            if hit is not None:
                return kind, hit
        return None

    def _gap_is_space(self, a: _Tok, b: _Tok) -> bool:
        return b.start >= a.end and self._text[a.end:b.start].strip(" :") == ""

    def _typed(self, toks: list[_Tok], i: int) -> tuple[str | None, tuple[int, int] | None]:
        """The kind a neighbouring marker word gives token ``i`` (and the marker's span)."""
        tok = toks[i]
        if tok.kind:
            return tok.kind, None
        # English marker before: "namespace X", "user called X"
        j = i - 1
        if j >= 0 and toks[j].low in ("called", "named") and self._gap_is_space(toks[j], tok):
            j -= 1
        if j >= 0 and toks[j].low in EN.MARKERS and not toks[j].quoted and \
                self._text[toks[j].end:toks[j + 1].start].strip(" :=") == "":
            return EN.MARKERS[toks[j].low], (toks[j].start, toks[j].end)
        # Chinese marker right before: "命名空间ml-team", "用户 alice"
        prev_end = toks[i - 1].end if i > 0 else 0
        gap = self._text[prev_end:tok.start].rstrip(" :：")
        for word, kind in _ZH_MARKERS:
            if gap.endswith(word):
                end = prev_end + len(gap)
                return kind, (end - len(word), end)
        # English marker after: "the ml-team namespace" (unless it types the next name)
        k = i + 1
        if k < len(toks) and toks[k].low in EN.MARKERS and self._text[tok.end:toks[k].start].strip() == "":
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if not (nxt and self._text[toks[k].end:nxt.start].strip(" :=") == ""
                    and self._candidate(nxt)):
                return EN.MARKERS[toks[k].low], (toks[k].start, toks[k].end)
        # Chinese marker after: "gpu-east集群", "research这个命名空间"
        after = self._text[tok.end:tok.end + 12].lstrip(" ")
        offset = tok.end + (len(self._text[tok.end:tok.end + 12]) - len(after))
        for filler in ZH.MARKER_FILLERS:
            if after.startswith(filler):
                after, offset = after[len(filler):], offset + len(filler)
                break
        for word, kind in _ZH_MARKERS:
            if after.startswith(word):
                return kind, (offset, offset + len(word))
        return None, None

    def _candidate(self, tok: _Tok) -> bool:
        if tok.quoted:
            return True
        low = tok.low
        if not re.search(r"[a-z]", low):
            return False
        if self._is_common(low):
            return self._exact_any(tok.text) is not None and low not in EN.MARKERS
        return True

    def names(self, text: str) -> None:
        toks = self.tokens(text)
        used: set[int] = set()
        # joined neighbours first: "nlp team" -> nlp-team, "data eng" -> data-eng
        for n in (3, 2):
            for i in range(len(toks) - n + 1):
                group = toks[i:i + n]
                if any(k in used for k in range(i, i + n)) or any(t.quoted for t in group):
                    continue
                if not all(self._text[a.end:b.start].strip() == "" and b.start > a.end
                           for a, b in zip(group, group[1:])):
                    continue
                if all(self._exact_any(t.text) for t in group):
                    continue
                joined = "-".join(t.text for t in group)
                hit = self._exact_any(joined)
                if hit and normalize(joined) == normalize(hit[1]):
                    self.mentions.append(_Mention(hit[0], hit[1], group[0].start))
                    self.name_spans.append((group[0].start, group[-1].end))
                    used.update(range(i, i + n))
        for i, tok in enumerate(toks):
            if i in used or not self._candidate(tok):
                continue
            kind, marker_span = self._typed(toks, i)
            if kind:
                self._resolve_typed(tok, kind, marker_span)
            else:
                self._resolve_untyped(tok)

    def _resolve_typed(self, tok: _Tok, kind: str, marker_span) -> None:
        n_before = len(self.mentions) + len(self.issues)
        self._resolve_typed_(tok, kind, marker_span)
        if len(self.mentions) + len(self.issues) > n_before:
            self.name_spans.append((tok.start, tok.end))

    def _resolve_typed_(self, tok: _Tok, kind: str, marker_span) -> None:
        hit = self.index[kind].match(tok.text)
        if hit is None and kind == "namespace":  # "ml团队" / "the ml team" -> ml-team
            hit = self.index[kind].match(tok.text + "-team")
        if hit is not None:
            self.mentions.append(_Mention(kind, hit, tok.start))
            if marker_span:
                self.bound_markers.append(marker_span)
            return
        other = self._exact_any(tok.text)
        if other is not None:  # "ml-team jobs": the marker was about something else
            self.mentions.append(_Mention(other[0], other[1], tok.start))
            return
        if not tok.quoted and self._is_common(tok.low):
            return
        if marker_span:
            self.bound_markers.append(marker_span)
        text = tok.text.strip()
        self.add_issue(Issue("unknown", kind, text, [n for n, _ in self.suggest(kind, text)]))

    def _resolve_untyped(self, tok: _Tok) -> None:
        n_before = len(self.mentions) + len(self.issues)
        self._resolve_untyped_(tok)
        if len(self.mentions) + len(self.issues) > n_before:
            self.name_spans.append((tok.start, tok.end))

    def _resolve_untyped_(self, tok: _Tok) -> None:
        hit = self._exact_any(tok.text)
        if hit is not None:
            self.mentions.append(_Mention(hit[0], hit[1], tok.start))
            return
        low = tok.low
        ident = bool(re.search(r"[-_\d.]", low))
        if not (tok.quoted or tok.possessive or ident or len(low) >= 4) or len(low) < 3:
            return
        cutoff = 80.0 if (ident or tok.possessive or tok.quoted) else 85.0
        best: tuple[str, list[tuple[str, float]]] | None = None
        for kind in KINDS:
            sugg = self.suggest(kind, tok.text)
            if sugg and sugg[0][1] >= cutoff and (best is None or sugg[0][1] > best[1][0][1]):
                best = (kind, sugg)
        if best is not None:
            self.add_issue(Issue("unknown", best[0], tok.text.strip(), [n for n, _ in best[1]]))
        elif tok.quoted or tok.possessive:
            # a name the person clearly meant ("'foo's usage'") that matches nothing
            self.add_issue(Issue("unknown", "namespace", tok.text.strip(), []))


_SUFFIXES = ("'s", "ies", "es", "s", "ed", "d", "ing", "ly", "er", "est")


def _common_word(low: str) -> bool:
    """An everyday word, also inflected: "uses", "wasted", "holding" (light stemming)."""
    if low in EN.COMMON_WORDS:
        return True
    for suffix in _SUFFIXES:
        if low.endswith(suffix) and len(low) - len(suffix) >= 3:
            stem = low[: -len(suffix)]
            if stem in EN.COMMON_WORDS or stem + "e" in EN.COMMON_WORDS or \
                    (suffix == "ies" and stem + "y" in EN.COMMON_WORDS) or \
                    (len(stem) > 3 and stem[-1] == stem[-2] and stem[:-1] in EN.COMMON_WORDS):
                return True
    return False


def clean_low(text: str) -> str:
    return text.strip().strip("'\"").lower()


# ---------------------------------------------------------------------------------------------
# cues

# English patterns use ASCII word boundaries so that "top5用户" or "trend这周" still match
_A = re.ASCII
_CUES = [(re.compile(p, _A), i, w) for p, i, w in EN.INTENT_CUES] + \
        [(re.compile(p), i, w) for p, i, w in ZH.INTENT_CUES]
_FOLLOW_UP = re.compile(f"{EN.FOLLOW_UP}|{ZH.FOLLOW_UP}", _A)
_METRIC = re.compile(f"{EN.METRIC_WORDS}|{ZH.METRIC_WORDS}", _A)
_SCOPE = re.compile(f"{EN.SCOPE_WORDS}|{ZH.SCOPE_WORDS}", _A)
_ALLOC = re.compile(f"{EN.ALLOCATION}|{ZH.ALLOCATION}", _A)
_ALLOC_RATE = re.compile(f"{EN.ALLOCATION_RATE}|{ZH.ALLOCATION_RATE}", _A)
_MISSING_EN = re.compile(EN.MISSING, _A)
_MISSING_ZH = re.compile(ZH.MISSING)
_KIND_NOUNS = [(re.compile(p, _A), k) for p, k in EN.KIND_NOUNS] + \
              [(re.compile(p), k) for p, k in ZH.KIND_NOUNS]
_DISCOVERY_CUE = re.compile(f"{EN.DISCOVERY_CUES}|{ZH.DISCOVERY_CUES}", _A)
_RANKING_BY = [(re.compile(p, _A), b) for p, b in EN.RANKING_BY] + \
              [(re.compile(p), b) for p, b in ZH.RANKING_BY]
_NUM_WORDS = "|".join(sorted((re.escape(w) for w in EN.NUMBER_WORDS if len(w) > 2), key=len, reverse=True))
_LIMIT_EN = re.compile(EN.LIMIT.replace("{words}", _NUM_WORDS), _A)
_LIMIT_ZH = re.compile(ZH.LIMIT)


def _cue_scores(low: str, whole: str) -> dict[str, float]:
    """Cue weights per intent on ``low`` (names and periods blanked); patterns anchored to the
    whole question ("^help$", "^hi$") are tried on ``whole`` so blanking cannot create them."""
    scores = {i: 0.0 for i in INTENTS}
    for rx, intent, weight in _CUES:
        if rx.search(whole if rx.pattern.startswith("^") else low):
            scores[intent] += weight
    return scores


def _kind_nouns(low: str) -> list[tuple[int, str]]:
    """(position, kind) of the nouns naming a kind of thing ("users", "命名空间", "label keys")."""
    return sorted((m.start(), kind) for rx, kind in _KIND_NOUNS for m in rx.finditer(low))


def _limit(low: str) -> int | None:
    m = _LIMIT_EN.search(low)
    if m:
        word = next(g for g in m.groups() if g)
        n = int(word) if word.isdigit() else EN.NUMBER_WORDS.get(word)
        return n if n and 0 < n <= 1000 else None
    m = _LIMIT_ZH.search(low)
    if m:
        n = ZH.cn_number(next(g for g in m.groups() if g))
        return n if n and 0 < n <= 1000 else None
    return None


# ---------------------------------------------------------------------------------------------
# the parser

def understand(question: str, now: datetime, meta: Metadata, *, default_cluster: str | None = None,
               tz: tzinfo | None = None) -> Understanding:
    """Intent, entities and periods of ``question`` from rules alone (never raises on input)."""
    question = question if isinstance(question, str) else ""
    u = Understanding(question=question, source="rules")
    if not question.strip():
        u.intent, u.confidence, u.language = "help", 0.0, "en"
        return u
    text = _prepare(question)
    u.language = detect_language(text)
    low = _lower(text)

    # 1. periods
    hits = _find_periods(low, now, tz)
    masked = text
    for h in hits:
        masked = _blank(masked, h.start, h.end)
    # 2. labels, 3. names
    res = _Resolver(meta)
    masked = res.labels(masked)
    res.names(masked)
    # cue words are read without the names and the kind words bound to them: "user carol"
    # is a name, not "by user"; "ml-team" does not say "team"
    for start, end in res.name_spans + res.bound_markers:
        masked = _blank(masked, start, end)
    masked_low = _lower(masked)
    by_kind: dict[str, list[_Mention]] = {}
    for m in sorted(res.mentions, key=lambda m: m.pos):
        if all(x.name != m.name for x in by_kind.get(m.kind, [])):
            by_kind.setdefault(m.kind, []).append(m)

    # 4. intent
    good = [h for h in hits if h.period is not None]
    distinct = _distinct([h.period for h in good])
    pair_kind = next((k for k in ("workload", "user", "label", "namespace", "cluster")
                      if len(by_kind.get(k, [])) >= 2), None)
    named = bool(by_kind) or any(i.kind == "unknown" for i in res.issues)
    intent, bare = _choose_intent(u, low, masked_low, hits, good, distinct, pair_kind, named)

    # entities
    _assign_entities(u, by_kind, pair_kind)
    u.issues.extend(res.issues)
    if u.cluster is None and default_cluster:
        u.cluster = default_cluster
    if u.cluster is None and len(meta.clusters) == 1:
        u.cluster = meta.clusters[0]
    if bare and u.cluster is None and len(meta.clusters) > 1:
        u.issues.append(Issue("missing", "cluster", "", list(meta.clusters)))
    if intent not in ("ranking", "discovery", "help"):
        _missing_kinds(u, masked_low, meta)

    # metric
    if intent == "ranking":
        u.metric = "allocation" if _ALLOC_RATE.search(masked_low) else "utilization"
    else:
        u.metric = "allocation" if _ALLOC.search(masked_low) else "utilization"

    # periods
    _assign_periods(u, hits, distinct, bool(_WOW.search(low)), low, now, tz)

    u.issues = _dedupe(u.issues)

    # ranking / discovery details
    if intent == "ranking":
        nouns = [k for _, k in _kind_nouns(masked_low)
                 if k in ("namespace", "user", "workload")]
        u.ranking_entity = nouns[0] if nouns else "namespace"  # type: ignore[assignment]
        u.ranking_by = next((b for rx, b in _RANKING_BY if rx.search(masked_low)), "idle")
        u.limit = _limit(masked_low) or 10
    elif intent == "discovery":
        _discovery(u, masked_low, meta)
    return u


def _choose_intent(u: Understanding, low: str, masked_low: str, hits: list[_PeriodHit],
                   good: list[_PeriodHit], distinct: list[Period], pair_kind: str | None,
                   named: bool) -> tuple[str, bool]:
    """Sets ``u.intent`` and ``u.confidence``; returns (intent, bare request?).

    Cue weights per intent, plus structure: two entities of a kind or two periods (or one
    period after "than/since/比") make a comparison — or, with "why", a drill-down; a past
    period makes "realtime" unlikely and a strong "now" without one makes it likely. Trend is
    the default reading of a question about GPU figures with no other cue.
    """
    cues = _cue_scores(masked_low, low)
    after_marker = len(distinct) == 1 and any(_BASELINE_BEFORE.search(low[:h.start]) for h in good)
    if pair_kind:
        cues["compare"] += 1.5
    if len(distinct) >= 2 or after_marker:
        cues["compare"] += 1.0
        if cues["drilldown"] >= 2.0:  # "why ... than last week": the periods serve the why
            cues["drilldown"] += 1.0
    if any(h.explicit and h.period.label != "today" for h in good):
        cues["realtime"] -= 1.5
    elif cues["realtime"] >= 1.5:
        cues["realtime"] += 1.0
    metric_words = bool(_METRIC.search(masked_low))
    totals = dict(cues)
    totals["trend"] += 0.2 + (0.3 if metric_words else 0.0)
    ranked = sorted(INTENTS, key=lambda i: (totals[i], _PRIORITY[i]), reverse=True)
    cue_best = max(cues.values())

    if cue_best >= 0.5 or named or hits:
        intent = ranked[0]
        if intent == "help" and cue_best < 1.0:
            intent = "trend"
    else:
        intent = "trend" if metric_words else "help"
    # "the whole cluster", "整个集群": the scope is given (all clusters), nothing to ask
    bare = (cue_best < 1.0 and not named and not hits and metric_words
            and not _SCOPE.search(masked_low))
    if cue_best >= 1.0:
        confidence = min(0.95, 0.55 + 0.15 * cue_best)
        if totals[ranked[0]] - totals[ranked[1]] < 0.5:  # two readings nearly tie
            confidence = min(confidence, 0.55)
    elif bare:
        confidence = 0.6  # understood: the agent must ask which cluster
    elif _FOLLOW_UP.search(low) and (named or hits):
        # "and last week?": the parts are clear but the intent is the previous turn's; staying
        # under 0.6 lets the graph keep that intent instead of switching to the default trend
        confidence = 0.55
    elif named or hits:
        confidence = 0.5
    else:
        confidence = 0.2 if intent == "help" else 0.4
    u.intent, u.confidence = intent, confidence  # type: ignore[assignment]
    return intent, bare


def _dedupe(issues: list[Issue]) -> list[Issue]:
    out: list[Issue] = []
    for i in issues:
        if all((i.kind, i.entity, i.text) != (o.kind, o.entity, o.text) for o in out):
            out.append(i)
    return out


def _distinct(periods: list[Period]) -> list[Period]:
    out: list[Period] = []
    for p in periods:
        if all((p.start, p.end) != (q.start, q.end) for q in out):
            out.append(p)
    return out


def _assign_entities(u: Understanding, by_kind: dict[str, list[_Mention]], pair_kind: str | None) -> None:
    first = {k: v[0] for k, v in by_kind.items()}
    if "namespace" in first:
        u.namespace = first["namespace"].name
    if "cluster" in first:
        u.cluster = first["cluster"].name
    if "user" in first:
        u.user = first["user"].name
    if "workload" in first:
        u.workload = first["workload"].name
    if "label" in first:
        lab = first["label"]
        u.label_type, u.label_key, u.label_value = lab.label_type, lab.label_key, lab.label_value
    if pair_kind:
        u.other_kind = pair_kind  # type: ignore[assignment]
        u.other = by_kind[pair_kind][1].name


def _missing_kinds(u: Understanding, low: str, meta: Metadata) -> None:
    asked = [("workload" if m[1] == "job" else m[1]) for m in _MISSING_EN.finditer(low)]
    asked += [ZH.MISSING_KIND[m[1]] for m in _MISSING_ZH.finditer(low)]
    for kind in dict.fromkeys(asked):
        if getattr(u, kind) is None and not any(i.entity == kind for i in u.issues):
            options = {"namespace": meta.namespaces, "user": meta.users, "workload": meta.workloads,
                       "cluster": meta.clusters}[kind]
            u.issues.append(Issue("missing", kind, "", list(options)))


def _assign_periods(u: Understanding, hits: list[_PeriodHit], distinct: list[Period], wow: bool,
                    low: str, now: datetime, tz: tzinfo | None) -> None:
    for h in hits:
        if h.error:
            u.issues.append(Issue("ambiguous", "period", h.error))
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
                if current and _BASELINE_BEFORE.search(low[:hit.start]) and not u.other:
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
        elif u.intent in ("trend", "ranking"):
            if distinct:
                u.period = distinct[0]
            elif not errors:
                u.period = P.last_days(now, 7)
        elif u.intent in ("discovery", "help") and distinct:
            u.period = distinct[0]
    except PeriodError as exc:
        u.issues.append(Issue("ambiguous", "period", str(exc)))


_TARGET = {"cluster": "clusters", "namespace": "namespaces", "user": "users", "workload": "workloads",
           "label_keys": "label_keys", "label_values": "label_values"}


def _discovery(u: Understanding, low: str, meta: Metadata) -> None:
    """What to list; label values need the key named in the question ("team标签有哪些值")."""
    nouns = _kind_nouns(low)
    kinds = [k for _, k in nouns]
    key = None
    for tok in _TOKEN.finditer(low):
        for ltype, keys in meta.label_keys.items():
            real = NameIndex.of(keys).match(tok[0])
            if real is not None:
                key = (ltype, real)
                break
        if key:
            break
    if "label_values" in kinds and key:
        u.discovery_target = "label_values"
        u.label_type, u.label_key = key
        return
    if "label_keys" in kinds:
        u.discovery_target = "label_keys"
        return
    entity_nouns = [(pos, k) for pos, k in nouns if k in ("cluster", "namespace", "user", "workload")]
    cue_ends = [m.end() for m in _DISCOVERY_CUE.finditer(low)]
    choice = None
    for end in cue_ends:
        after = [(pos, k) for pos, k in entity_nouns if pos >= end - 1]
        if after:
            choice = min(after)[1]
            break
    if choice is None and entity_nouns:
        choice = entity_nouns[0][1]
    u.discovery_target = _TARGET[choice or "cluster"]
