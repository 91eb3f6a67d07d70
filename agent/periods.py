"""Time in gpureport: periods, "now", calendar boundaries, and how periods are written.

One module for every date computation, so that the agent, schedules, reports, alerts, ingest and
the sources agree on what "last week" or "the current hour" is.

Periods: "last week", "过去3天", "2026-W47", "2026-11-01..2026-11-08" -> half-open [start, end)
(their command-line and schedule spellings are read by ``agent.period_parse``).
Every relative period is computed from an explicit ``now`` (``--now`` / ``GPUREPORT_NOW``) so
runs are reproducible. Definitions follow product.md §4:

* today = since 00:00 today; last/past N days = [now − N·24h, now);
* this week = the ISO week containing now, Monday 00:00 → now; last week = the previous full
  ISO week; this/last month likewise;
* the baseline of "this week" (and of any period that ends at now and starts at a calendar
  boundary) is the *same elapsed span* one unit earlier; the baseline of any other period is the
  period of the same length immediately before it.

Calendar boundaries are taken in UTC unless a time zone is given (schedules use their own).
Arithmetic on instants is done in UTC (``midnight`` returns UTC), so a week is always 168 hours
after a calendar boundary has been found in the zone.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from agent.errors import PeriodError


class NotStarted(PeriodError):
    """A current period that is still empty at ``now`` ("this week" at Monday 00:00): asked
    back, not refused."""


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` of aware datetimes and how people call it.

    The agent's periods are in UTC. A schedule's period keeps the offsets of its zone (``tz``),
    so that ``start.isoformat()`` reads as the schedule's local midnight; ``start_utc`` and
    ``end_utc`` give the instants in UTC either way.
    """

    start: datetime
    end: datetime
    label: str
    # unit the period is aligned to ("week", "month", "day") and whether it runs up to now;
    # used to choose the comparison baseline
    unit: str | None = None
    to_now: bool = False
    tz: str | None = None  # the calendar zone the period was cut in, when not UTC
    kind: str | None = None  # a schedule's period kind: last-week | yesterday | interval

    def __post_init__(self):
        if self.end <= self.start:
            raise PeriodError(f"period '{self.label}' is empty or reversed "
                              f"({iso(self.start)} .. {iso(self.end)})")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0

    @property
    def start_utc(self) -> datetime:
        return utc(self.start)

    @property
    def end_utc(self) -> datetime:
        return utc(self.end)

    @property
    def slug(self) -> str:
        """The label in a form safe for file and directory names."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_")

    def as_dict(self) -> dict:
        return {"start": iso(self.start), "end": iso(self.end)}

    def relabel(self, label: str) -> "Period":
        return replace(self, label=label)

    def in_utc(self) -> "Period":
        """The same span with UTC datetimes (for arithmetic that must not follow a zone's DST)."""
        return replace(self, start=self.start_utc, end=self.end_utc)


# -- instants --------------------------------------------------------------------------------
def utc(dt: datetime) -> datetime:
    """Aware UTC from aware or naive-UTC input (Lens stores naive UTC wall clock)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def naive(dt: datetime) -> datetime:
    """Naive UTC wall clock, the form Lens' timestamp columns hold."""
    return utc(dt).replace(tzinfo=None)


def iso(dt: datetime | None) -> str | None:
    """``2026-11-19T12:00:00Z``: how instants are written in JSON, records and messages."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def utc_text(dt: datetime | None) -> str | None:
    """``2026-11-19 12:00 UTC``: an instant in sentences (alert texts and notifications)."""
    return utc(dt).strftime("%Y-%m-%d %H:%M UTC") if dt is not None else None


def floor_hour(dt: datetime) -> datetime:
    """The start of the UTC hour holding ``dt`` (hourly rows are keyed by it)."""
    return utc(dt).replace(minute=0, second=0, microsecond=0)


def zone(tz: tzinfo | str | None) -> tzinfo:
    """A zone from a name (``Asia/Shanghai``), a ``tzinfo``, or None (UTC)."""
    if tz is None:
        return timezone.utc
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def parse_now(value: str | None, what: str = "--now") -> datetime:
    """``--now`` / ``GPUREPORT_NOW`` (ISO 8601, ``Z`` allowed; naive = UTC) -> aware UTC;
    None or empty -> the real clock."""
    if not value:
        return datetime.now(timezone.utc)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{what}: '{value}' is not an ISO 8601 time "
                          "(e.g. 2026-11-19T12:00:00Z)") from None
    return utc(dt)


def resolve_now(now: datetime | None = None) -> datetime:
    """``now`` if given (naive = UTC), else ``GPUREPORT_NOW``, else the clock; always aware."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    return parse_now(os.environ.get("GPUREPORT_NOW"), "GPUREPORT_NOW")


# -- calendar boundaries ---------------------------------------------------------------------
def _local(now: datetime, tz: tzinfo | None) -> datetime:
    return now.astimezone(tz or timezone.utc)


def midnight(d: date, tz: tzinfo | None = None) -> datetime:
    """00:00 of day ``d`` in ``tz`` (default UTC), as an aware UTC datetime."""
    return datetime(d.year, d.month, d.day, tzinfo=tz or timezone.utc).astimezone(timezone.utc)


def week_start(now: datetime, tz: tzinfo | None = None) -> datetime:
    """Monday 00:00 (in ``tz``) of the ISO week holding ``now``, as aware UTC."""
    local = _local(now, tz).date()
    return midnight(local - timedelta(days=local.weekday()), tz)


def month_start(d: date) -> date:
    return d.replace(day=1)


def prev_month_start(d: date) -> date:
    return (month_start(d) - timedelta(days=1)).replace(day=1)


def last_days(now: datetime, n: float, label: str | None = None) -> Period:
    if n <= 0:
        raise PeriodError("a period needs a positive length")
    return Period(now - timedelta(days=n), now, label or f"last {_num(n)} days")


def last_hours(now: datetime, n: float) -> Period:
    if n <= 0:
        raise PeriodError("a period needs a positive length")
    return Period(now - timedelta(hours=n), now, f"last {_num(n)} hours")


def _num(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def today(now: datetime, tz: tzinfo | None = None) -> Period:
    start = midnight(_local(now, tz).date(), tz)
    if start >= now:
        raise NotStarted("'today' has not started yet at --now")
    return Period(start, now, "today", unit="day", to_now=True)


def yesterday(now: datetime, tz: tzinfo | None = None) -> Period:
    end = midnight(_local(now, tz).date(), tz)
    return Period(end - timedelta(days=1), end, "yesterday", unit="day")


def this_week(now: datetime, tz: tzinfo | None = None) -> Period:
    start = week_start(now, tz)
    if start >= now:
        raise NotStarted("'this week' has not started yet at --now (it is Monday 00:00)")
    return Period(start, now, "this week", unit="week", to_now=True)


def last_week(now: datetime, tz: tzinfo | None = None, weeks_back: int = 1) -> Period:
    end = week_start(now, tz) - timedelta(weeks=weeks_back - 1)
    start = end - timedelta(weeks=1)
    year, week, _ = _local(start, tz).isocalendar()
    label = "last week" if weeks_back == 1 else f"{year}-W{week:02d}"
    return Period(start, end, label, unit="week")


def this_month(now: datetime, tz: tzinfo | None = None) -> Period:
    start = midnight(month_start(_local(now, tz).date()), tz)
    if start >= now:
        raise NotStarted("'this month' has not started yet at --now")
    return Period(start, now, "this month", unit="month", to_now=True)


def last_month(now: datetime, tz: tzinfo | None = None) -> Period:
    d = _local(now, tz).date()
    return Period(midnight(prev_month_start(d), tz), midnight(month_start(d), tz),
                  "last month", unit="month")


# -- calendar months, quarters, years, days (a period that holds now ends at now) ------------
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


def _calendar(start_day: date, end_day: date, label: str, unit: str, now: datetime,
              tz: tzinfo | None) -> Period:
    """[start_day, end_day) in ``tz``, cut at ``now`` when it holds now; in the future -> error."""
    start, end = midnight(start_day, tz), midnight(end_day, tz)
    if start >= now:
        raise PeriodError(f"{label} is in the future: there is no data for it yet")
    if end > now:
        return Period(start, now, label, unit=unit, to_now=True)
    return Period(start, end, label, unit=unit)


def add_months(d: date, n: int) -> date:
    """The first of the month ``n`` months after (before, when negative) ``d``'s month."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def month(year: int, number: int, now: datetime, tz: tzinfo | None = None) -> Period:
    """A calendar month ("October 2026"), cut at now when it is the current one."""
    if not 1 <= number <= 12:
        raise PeriodError(f"there is no month {number}")
    first = date(year, number, 1)
    return _calendar(first, add_months(first, 1), f"{MONTH_NAMES[number - 1]} {year}", "month",
                     now, tz)


def quarter(year: int, number: int, now: datetime, tz: tzinfo | None = None) -> Period:
    """A calendar quarter ("2026-Q4")."""
    if not 1 <= number <= 4:
        raise PeriodError(f"there is no quarter Q{number}")
    first = date(year, 3 * number - 2, 1)
    return _calendar(first, add_months(first, 3), f"{year}-Q{number}", "quarter", now, tz)


def year_period(year: int, now: datetime, tz: tzinfo | None = None) -> Period:
    """A calendar year ("2026")."""
    return _calendar(date(year, 1, 1), date(year + 1, 1, 1), str(year), "year", now, tz)


def this_quarter(now: datetime, tz: tzinfo | None = None) -> Period:
    d = _local(now, tz).date()
    return quarter(d.year, (d.month - 1) // 3 + 1, now, tz).relabel("this quarter")


def last_quarter(now: datetime, tz: tzinfo | None = None) -> Period:
    d = add_months(_local(now, tz).date(), -3)
    return quarter(d.year, (d.month - 1) // 3 + 1, now, tz).relabel("last quarter")


def this_year(now: datetime, tz: tzinfo | None = None) -> Period:
    return year_period(_local(now, tz).year, now, tz).relabel("this year")


def last_year(now: datetime, tz: tzinfo | None = None) -> Period:
    return year_period(_local(now, tz).year - 1, now, tz).relabel("last year")


def recent_month(number: int, now: datetime, tz: tzinfo | None = None) -> Period:
    """A month named without a year ("in August", "8月"): the latest one that has begun."""
    d = _local(now, tz).date()
    return month(d.year if number <= d.month else d.year - 1, number, now, tz)


def recent_quarter(number: int, now: datetime, tz: tzinfo | None = None) -> Period:
    """A quarter named without a year ("Q3"): the latest one that has begun."""
    d = _local(now, tz).date()
    current = (d.month - 1) // 3 + 1
    return quarter(d.year if number <= current else d.year - 1, number, now, tz)


def day_of(year: int | None, number: int, day: int, now: datetime, tz: tzinfo | None = None) -> date:
    """A day written as month + day, the year optional (then the latest such day up to now)."""
    local = _local(now, tz).date()
    try:
        if year is not None:
            return date(year, number, day)
        d = date(local.year, number, day)
        return d if d <= local else date(local.year - 1, number, day)
    except ValueError:
        raise PeriodError(f"{MONTH_NAMES[number - 1] if 1 <= number <= 12 else number} {day}"
                          " is not a date") from None


def days(first: date, last: date, now: datetime, tz: tzinfo | None = None) -> Period:
    """The days ``first`` to ``last``, both included ("between Nov 3 and Nov 7")."""
    if last < first:
        raise PeriodError(f"{first} .. {last} is reversed: the end comes before the start")
    label = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
    return _calendar(first, last + timedelta(days=1), label, "day" if first == last else None,
                     now, tz)


def since_day(first: date, now: datetime, tz: tzinfo | None = None) -> Period:
    """From 00:00 of ``first`` to now ("since Nov 10")."""
    start = midnight(first, tz)
    if start >= now:
        raise PeriodError(f"since {first.isoformat()}: that day has not begun yet")
    return Period(start, now, f"since {first.isoformat()}", to_now=True)


def iso_week(year: int, week: int, tz: tzinfo | None = None) -> Period:
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise PeriodError(f"{year}-W{week:02d} is not an ISO week") from None
    start = midnight(monday, tz)
    return Period(start, start + timedelta(weeks=1), f"{year}-W{week:02d}", unit="week")


def baseline(period: Period, tz: tzinfo | None = None) -> Period:
    """The period a change is measured against (product.md §4)."""
    if period.to_now and period.unit in ("week", "day"):
        shift = timedelta(weeks=1) if period.unit == "week" else timedelta(days=1)
        name = {"week": "same span last week", "day": "same span yesterday"}[period.unit]
        return Period(period.start - shift, period.end - shift, name, unit=period.unit)
    if period.unit == "month":
        d = _local(period.start, tz).date()
        prev = midnight(prev_month_start(d), tz)
        if period.to_now:
            end = prev + (period.end - period.start)
            end = min(end, period.start)
            return Period(prev, end, "same span last month", unit="month")
        return Period(prev, period.start, "the month before", unit="month")
    if period.unit in ("quarter", "year"):
        months = 3 if period.unit == "quarter" else 12
        prev = midnight(add_months(_local(period.start, tz).date(), -months), tz)
        if period.to_now:
            end = min(prev + (period.end - period.start), period.start)
            return Period(prev, end, f"same span last {period.unit}", unit=period.unit)
        return Period(prev, period.start, f"the {period.unit} before", unit=period.unit)
    if period.unit == "week":
        return Period(period.start - timedelta(weeks=1), period.start, "the week before",
                      unit="week")
    length = period.end - period.start
    return Period(period.start - length, period.start, f"the previous {_span(length)}")


def _span(length: timedelta) -> str:
    hours = length.total_seconds() / 3600
    if hours % 24 == 0:
        days = int(hours // 24)
        return "day" if days == 1 else f"{days} days"
    return f"{_num(round(hours, 2))} hours"


# -- periods as people read them (titles, file names, email subjects) -------------------------
def iso_week_of(p: Period, tz: tzinfo | str | None = None) -> str | None:
    """``2026-W47`` when the period is exactly one ISO week (in ``tz``), else None."""
    tz = zone(tz)
    s, e = p.start.astimezone(tz), p.end.astimezone(tz)
    if (s.weekday() == 0 and (s.hour, s.minute, s.second) == (0, 0, 0)
            and e - s == timedelta(weeks=1)):
        y, w, _ = s.isocalendar()
        return f"{y}-W{w:02d}"
    return None


def period_text(p: Period, tz: tzinfo | str | None = None) -> str:
    """Dates of a period, end inclusive for people: ``2026-11-16 – 2026-11-22``."""
    tz = zone(tz)
    s, e = p.start.astimezone(tz), p.end.astimezone(tz)
    if all((d.hour, d.minute, d.second) == (0, 0, 0) for d in (s, e)):
        last = (e - timedelta(days=1)).date()
        return s.date().isoformat() if last == s.date() else f"{s.date()} – {last}"
    return f"{s:%Y-%m-%d %H:%M} – {e:%Y-%m-%d %H:%M}"


def period_name(p: Period, tz: tzinfo | str | None = None) -> str:
    """The short name of a period for titles and file names (``2026-W47`` or its dates)."""
    return iso_week_of(p, tz) or period_text(p, tz)
