"""A period as people write it on the command line or in a schedule file: ``last-week``,
``2026-W47``, ``2026-11``, ``2026-Q4``, ``last-7d``, ``2026-11-01..2026-11-08`` -> ``Period``.

Split from ``agent.periods`` (what each period *is*: boundaries, baselines, how it is written);
this is only the spellings and which of those functions each one means. The question parser's
phrases (EN, ZH) are ``agent.understand.period_phrases``, which hands ranges to this.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone, tzinfo

from agent.errors import PeriodError
from agent.periods import (Period, iso_week, last_days, last_hours, last_month, last_quarter,
                           last_week, last_year, midnight, month, quarter, this_month,
                           this_quarter, this_week, this_year, today, year_period, yesterday,
                           zone)


def _parse_point(text: str, tz: tzinfo | None, *, is_end: bool) -> datetime:
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            # an end date is inclusive for people: 2026-11-01..2026-11-07 covers the 7th
            return midnight(d + timedelta(days=1) if is_end else d, tz)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError(f"'{text}' is not a date (YYYY-MM-DD) or ISO 8601 time") from None
    return (dt.replace(tzinfo=tz or timezone.utc) if dt.tzinfo is None else dt).astimezone(timezone.utc)



def parse_period(value: str, now: datetime, tz: tzinfo | str | None = None) -> Period:
    """A period as written on the command line or in a schedule."""
    if isinstance(tz, str):
        tz = zone(tz)
    v = value.strip().lower().replace("_", "-")
    simple = {
        "today": today, "yesterday": yesterday,
        "this-week": this_week, "this week": this_week, "week": this_week,
        "last-week": last_week, "last week": last_week, "previous-week": last_week,
        "this-month": this_month, "this month": this_month,
        "last-month": last_month, "last month": last_month,
    }
    simple.update({"this-quarter": this_quarter, "last-quarter": last_quarter,
                   "this-year": this_year, "last-year": last_year})
    if v in simple:
        return simple[v](now, tz)
    m = re.fullmatch(r"(\d{4})-(\d{2})", v)
    if m:
        return month(int(m.group(1)), int(m.group(2)), now, tz)
    m = re.fullmatch(r"(\d{4})-?q([1-4])", v)
    if m:
        return quarter(int(m.group(1)), int(m.group(2)), now, tz)
    if re.fullmatch(r"\d{4}", v):
        return year_period(int(v), now, tz)
    m = re.fullmatch(r"(\d{4})-?w(\d{1,2})", v)
    if m:
        return iso_week(int(m.group(1)), int(m.group(2)), tz)
    m = re.fullmatch(r"(?:last|past)[- ]?(\d+(?:\.\d+)?)[- ]?(d|days?|h|hours?|w|weeks?)", v) or \
        re.fullmatch(r"(\d+(?:\.\d+)?)(d|h|w)", v)
    if m:
        n, unit = float(m.group(1)), m.group(2)[0]
        if unit == "h":
            return last_hours(now, n)
        return last_days(now, n * (7 if unit == "w" else 1))
    if ".." in v:
        a, b = value.split("..", 1)
        start = _parse_point(a, tz, is_end=False)
        end = _parse_point(b, tz, is_end=True) if b.strip() else now
        return Period(start, end, f"{a.strip()}..{b.strip() or 'now'}")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        start = _parse_point(v, tz, is_end=False)
        return Period(start, start + timedelta(days=1), v, unit="day")
    raise PeriodError(
        f"unknown period '{value}': use today, yesterday, this-week, last-week, this-month, "
        "last-month, this-quarter, last-quarter, this-year, last-year, last-7d, YYYY-Www, "
        "YYYY-MM, YYYY-Qn, YYYY or START..END")
