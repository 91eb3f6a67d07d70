"""What grounds a language model's claims: the facts, names, dates and periods of one answer.

``Grounds(Evidence(...))`` reads the evidence once for ``agent.phrasing.guard``:

* ``facts`` — every number the text may cite, with what it measures (``kind``, from the
  figure's key: ``*_pct``/``util*``/``*rate``/``share`` a percentage, ``*_pp`` percentage
  points, ``gpu_hours``, ``*gpus``, ``workload*`` counts, durations), whether it is a difference
  (``change``: keys with delta/impact/slope/change/diff, and negative values — its sign is a
  direction; a ``drop_*`` figure is the size of a fall), the named thing it belongs to
  (``owner``: the ``name``/``label``/``namespace``/… of its dict) and, inside a compare, the two
  sides (``pair``: the difference is ``b − a``). Lengths of lists are counts. The hourly
  ``series`` grounds nothing: the model is not shown it, and 168 points would ground nearly any
  value in their range. The template answer adds its own numbers (signed ones as differences;
  one written without a unit grounds no unit) and the question its counts and durations.
* ``names`` — strings under name keys of the figures and the entities, and the clusters; a name
  with no letter (``97``, ``2026-11``) is kept apart (``numeric``): it may hide digits only where a
  text presents it as a name.
* dates, times, ISO weeks, months and years of the periods (every day from start to end, in UTC
  and in the period's zone), of the instants in the figures, and those the template writes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from agent.lazy_re import lazy
from agent.periods import Period, zone
from agent.phrasing import cues, scan
from agent.phrasing.words import name as prose_name

UNSHOWN = {"series"}  # hourly points: not shown to the model, and they would ground any value
OWNER_KEYS = ("name", "label", "namespace", "cluster", "user")
# keys whose strings are names from the data (the rest are our own words: "idle", "workload")
NAME_KEYS = {"name", "namespace", "label", "user", "workload", "cluster", "options",
             "workload_kind", "a_label", "b_label"}
CHANGE_KEYS = ("delta", "impact", "slope", "change", "diff", "drop")
UNIT_KIND = {"%": "pct", "pp": "pp", "gpu_hours": "gpu_hours", "gpus": "gpus",
             "workloads": "workloads", "duration": "duration", None: None}
# the kinds of figure a unit may stand for ("3,291 hours" / "3,291小时" of GPU time are GPU-hours)
UNIT_KINDS = {unit: {kind} for unit, kind in UNIT_KIND.items() if kind} | {
    "duration": {"duration", "gpu_hours"}, None: set()}
QUESTION_UNITS = {None, "duration", "gpus", "workloads"}  # what a number the user typed grounds
_ISO = lazy(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})")


@dataclass(frozen=True)
class Fact:
    """A number the text may cite: its value (signed), what it measures, where it comes from."""

    value: float
    kind: str | None  # pct | pp | gpu_hours | gpus | workloads | duration | None (unknown)
    source: str  # figure | template | question
    change: bool = False  # a difference: its sign is a direction
    owner: str | None = None  # the named thing the figure belongs to (a contributor, an item)
    pair: tuple[str, str] | None = None  # a compare's (a label, b label): value = b − a


@dataclass(frozen=True)
class Evidence:
    """What an answer's phrasing may draw on (``agent.graph.synthesize`` builds it)."""

    figures: Any
    template: str = ""  # the template answer: headline, details, notes
    question: str = ""
    entities: Any = None  # the answer's entities (Understanding.entities_json())
    names: tuple[str, ...] = ()  # other real names (the clusters)
    periods: tuple[Period, ...] = ()


@dataclass
class Grounds:
    """The evidence of one answer, read once: what ``guard.check`` compares a phrasing with."""

    evidence: Evidence
    facts: list[Fact] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # normalized names containing a letter
    numeric: set[str] = field(default_factory=set)  # numeric-looking names ("97", "2026-11")
    dates: set[date] = field(default_factory=set)
    md: set[tuple[int, int]] = field(default_factory=set)  # (month, day) written without a year
    times: set[tuple[int, int]] = field(default_factory=set)
    weeks: set[tuple[int | None, int]] = field(default_factory=set)
    months: set[tuple[int | None, int]] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    longest_list: int = 0
    said: str = ""  # the template answer and the question, lowercased: names used there

    def __post_init__(self):
        ev = self.evidence
        self.zones = [zone("UTC")] + [zone(p.tz) for p in ev.periods if p.tz]
        for p in ev.periods:
            self._period(p)
        self._walk(ev.figures, None, None, None)
        self._walk_names(ev.entities, None)
        for n in ev.names:
            self._name(n)
        self._lower = {n.lower() for n in self.names}
        self._pattern = names_pattern(self.names)
        self.said = scan.normalize(f"{ev.template}\n{ev.question}").lower()
        self._text(ev.template, "template")
        self._text(ev.question, "question")

    # figures --------------------------------------------------------------------------------------
    def _walk(self, obj: Any, key: str | None, owner: str | None, pair) -> None:
        if isinstance(obj, bool) or obj is None:
            return
        if isinstance(obj, (int, float)):
            if math.isfinite(obj):
                k = (key or "").lower()
                value = -float(obj) if "drop" in k else float(obj)  # drop_pp: a fall's size
                change = any(c in k for c in CHANGE_KEYS) or value < 0
                self.facts.append(Fact(value, kind_of(key), "figure", change, owner, pair))
        elif isinstance(obj, str):
            if key in NAME_KEYS:
                self._name(obj)
            elif _ISO.match(obj):
                try:
                    self._instant(datetime.fromisoformat(obj.replace("Z", "+00:00")))
                except ValueError:  # not a real instant: it grounds no date
                    pass
        elif isinstance(obj, dict):
            owner = next((scan.normalize(obj[k]) for k in OWNER_KEYS
                          if isinstance(obj.get(k), str)), owner)
            a, b = obj.get("a"), obj.get("b")
            if isinstance(a, dict) and isinstance(b, dict) and isinstance(a.get("label"), str) \
                    and isinstance(b.get("label"), str):
                pair = (a["label"], b["label"])
            for k, v in obj.items():
                if k not in UNSHOWN:
                    self._walk(v, str(k), owner, pair)
        elif isinstance(obj, (list, tuple)):
            self.longest_list = max(self.longest_list, len(obj))
            self.facts.append(Fact(float(len(obj)), None, "figure", False, owner))
            for v in obj:
                self._walk(v, key, owner, pair)

    def _walk_names(self, obj: Any, key: str | None) -> None:
        if isinstance(obj, str) and key in NAME_KEYS:
            self._name(obj)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                self._walk_names(v, str(k))
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                self._walk_names(v, key)

    def _name(self, value: str) -> None:
        """A real name; "key=value" labels count as both parts, "namespace:ml-team" options as
        the name after the colon."""
        parts = {value, *value.split("=", 1), value.split(":", 1)[-1]}
        for part in parts:
            part = scan.normalize(part).strip()
            if len(part) < 2 and not part.isdigit():
                continue
            if re.search(r"[^\W\d_]", part):
                self.names.add(part)
                self.names.add(scan.normalize(prose_name(part)))  # as shortened in prose
            elif re.search(r"\d", part):
                self.numeric.add(part)

    # periods and instants -------------------------------------------------------------------------
    def _period(self, p: Period) -> None:
        for key, value in (("hours", p.hours), ("days", p.hours / 24)):
            self.facts.append(Fact(value, "duration", "figure"))
        for tz in self.zones:
            day, last = p.start.astimezone(tz).date(), p.end.astimezone(tz).date()
            for _ in range(800):
                self._day(day)
                if day >= last:
                    break
                day += timedelta(days=1)
        self._instant(p.start)
        self._instant(p.end)

    def _instant(self, dt: datetime) -> None:
        dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        for tz in self.zones:
            local = dt.astimezone(tz)
            self._day(local.date())
            self.times.add((local.hour, local.minute))

    def _day(self, d: date) -> None:
        self.dates.add(d)
        self.md.add((d.month, d.day))
        y, w, _ = d.isocalendar()
        self.weeks |= {(y, w), (None, w)}
        self.months |= {(d.year, d.month), (None, d.month)}
        self.years.add(d.year)

    # the template and the question ----------------------------------------------------------------
    def _text(self, text: str, source: str) -> None:
        t = scan.normalize(text)
        work = scan.blank(t, [(s, e) for s, e, _ in self.name_spans(t, everywhere=True)])
        ms = scan.moments(work)
        for m in ms:
            if m.kind == "date":
                self.md.add((m.month, m.day))
                if m.year and _valid(m):
                    self._day(date(m.year, m.month, m.day))
            elif m.kind == "time":
                self.times.add((m.hour, m.minute))
            elif m.kind == "week":
                self.weeks |= {(m.year, m.week), (None, m.week)}
            elif m.kind == "month":
                self.months |= {(m.year, m.month), (None, m.month)}
            elif m.kind == "year":
                self.years.add(m.year)
        work = scan.blank(work, [(m.start, m.end) for m in ms])
        for n in scan.numbers(work):
            if source == "question" and n.unit not in QUESTION_UNITS:
                continue
            self.facts.append(Fact((n.sign or 1) * n.value * n.scale, UNIT_KIND[n.unit], source,
                                   change=bool(n.sign) and source == "template"))

    # names ----------------------------------------------------------------------------------------
    def name_spans(self, t: str, everywhere: bool) -> list[tuple[int, int, str]]:
        """Where real names occur in ``t``. A numeric-looking name counts only where the text
        presents it as a name (after a kind word, or quoted) unless ``everywhere`` (the template
        and the question: their numbers are a second source of figures, never a name's digits)."""
        spans = [(m.start(), m.end(), m.group()) for m in self._pattern.finditer(t)] \
            if self._pattern else []
        for n in self.numeric:
            for m in re.finditer(r"(?<![\d.,])" + re.escape(n) + r"(?![\d]|[.,]\d)(?!"
                                 + scan.UNIT_AFTER.pattern + ")", t):
                quoted = t[m.start() - 1:m.start()] in "\"“'‘「`" and m.start() > 0
                if everywhere or quoted or cues.KIND_WORD.search(t[:m.start()]):
                    spans.append((m.start(), m.end(), n))
        return spans

    def known(self, word: str) -> bool:
        w = scan.normalize(word).strip().lower().removesuffix("'s")
        if w in self._lower:
            return True
        return re.search(r"(?<![a-z0-9_-])" + re.escape(w) + r"(?![a-z0-9_-])",
                         self.said) is not None

    # special numbers and moments ------------------------------------------------------------------
    def special(self, n: scan.Number) -> bool:
        if n.decimals or n.scale != 1 or n.sign:
            return False
        if n.ordinal:
            return 1 <= n.value <= self.longest_list
        return n.unit is None and int(n.value) in self.years

    def moment_problem(self, m: scan.Moment) -> str | None:
        if m.kind == "date":
            if m.year is None:
                ok = (m.month, m.day) in self.md
                days = [d for d in self.dates if (d.month, d.day) == (m.month, m.day)]
            else:
                days = [d for d in self.dates
                        if (d.year, d.month, d.day) == (m.year, m.month, m.day)]
                ok = bool(days) or ((m.month, m.day) in self.md and m.year in self.years)
            if not ok:
                return "not in the period"
            if m.weekday is not None and days and all(d.weekday() != m.weekday for d in days):
                return f"{days[0].isoformat()} is a {days[0].strftime('%A')}"
            return None
        ok = {"time": lambda: (m.hour, m.minute) in self.times,
              "week": lambda: (m.year, m.week) in self.weeks,
              "month": lambda: (m.year, m.month) in self.months,
              "year": lambda: m.year in self.years}[m.kind]()
        return None if ok else "not in the period"

def names_pattern(names: Iterable[str]) -> re.Pattern | None:
    ordered = sorted(names, key=len, reverse=True)
    if not ordered:
        return None
    # a name right before "%" or "pp" ("report-97%") is read as a number: it claims one
    return re.compile(r"(?<![A-Za-z0-9_-])(?:" + "|".join(map(re.escape, ordered))
                      + r")(?![A-Za-z0-9_-])(?!" + scan.UNIT_AFTER.pattern + ")")


def _valid(m: scan.Moment) -> bool:
    try:
        date(m.year, m.month, m.day)
        return True
    except ValueError:
        return False


def kind_of(key: str | None) -> str | None:
    """What a figure measures, from its key (figures.py's names)."""
    k = (key or "").lower()
    if k.endswith("pct"):
        return "pct"
    if "_pp" in k or k.endswith("pp"):
        return "pp"
    if "gpu_hours" in k:
        return "gpu_hours"
    if "util" in k or "rate" in k or "share" in k:
        return "pct"
    if "gpus" in k:
        return "gpus"
    if "workload" in k:
        return "workloads"
    if k in ("hours", "days", "age_hours", "age_minutes"):
        return "duration"
    if k in ("first", "last", "min", "max"):  # a trend's utilization or allocation rate
        return "pct"
    return None


def matches(n: scan.Number, f: Fact) -> bool:
    """The number as written is the fact rounded to the decimals written, in a compatible unit."""
    if f.source == "question" and n.unit not in QUESTION_UNITS:
        return False
    kinds = UNIT_KINDS[n.unit]
    if kinds and f.kind not in kinds and (f.kind is not None or f.source == "template"):
        return False  # a template number written without a unit grounds no unit
    return abs(abs(f.value) / n.scale - n.value) <= 0.5 * 10 ** -n.decimals + 1e-9

