"""Cron expressions -> APScheduler triggers, and the firings around a moment.

Used by schedules (when a digest fires, which period an ``interval`` run covers) and by the
alert rule file's ``check`` cron. ``cron`` has the standard five fields with standard
day-of-week numbers (0 or 7 = Sunday; APScheduler 3 alone would read 0 as Monday, so numbers
are translated to names). A sixth, leading field gives seconds (``*/5 * * * * *``), used by
tests and fast demos. APScheduler is imported only when a trigger is built.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from agent.periods import resolve_now

if TYPE_CHECKING:  # pragma: no cover
    from apscheduler.triggers.cron import CronTrigger

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _dow_number(token: str) -> int:
    t = token.strip().lower()
    if t in _DOW_NAMES:
        return _DOW_NAMES.index(t)
    if t.isdigit() and 0 <= int(t) <= 7:
        return int(t) % 7
    raise ValueError(f"day of week {token!r} is not 0-7 or sun-sat")


def _translate_dow(field: str) -> str:
    """Standard cron day-of-week (0/7 = Sunday, names, ranges, steps) -> APScheduler names."""
    if field in ("*", "?"):
        return "*"
    days: list[int] = []
    for part in field.split(","):
        rng, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step_s and (not step_s.isdigit() or step < 1):
            raise ValueError(f"day of week step {step_s!r} is not a positive number")
        if rng == "*":
            lo, hi = 0, 6
        elif "-" in rng:
            a, b = rng.split("-", 1)
            lo, hi = _dow_number(a), _dow_number(b)
            if b.strip() == "7":
                hi = 7
            if hi < lo:
                raise ValueError(f"day of week range {rng!r} runs backwards")
        else:
            lo = hi = _dow_number(rng)
        days.extend(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(_DOW_NAMES[d] for d in sorted(set(days)))


def cron_trigger(expr: str, tz: str | ZoneInfo) -> "CronTrigger":
    """A validated APScheduler ``CronTrigger`` for a 5-field (or seconds-first 6-field) cron."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ValueError(f"expected 5 fields (minute hour day month day-of-week) or 6 with "
                         f"seconds first, got {len(fields)}")
    second, minute, hour, day, month, dow = fields
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_translate_dow(dow), timezone=zone)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def check_cron(expr: str, tz: str) -> None:
    """A schedule file's cron, checked: one ValueError naming the expression."""
    try:
        cron_trigger(expr, tz)
    except ValueError as exc:
        raise ValueError(f"cron: invalid expression {expr!r} ({exc})") from None


class CronTimed:
    """When a schedule model (report or nudge) fires: ``zone``, ``trigger()``, ``next_fire()``
    from its ``cron`` and ``timezone`` fields, the same for every kind, so the scheduler and
    ``scheduler list`` read them alike. (``cron`` and ``timezone`` are the model's own fields:
    declared here, pydantic would take them for this class's.)"""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def trigger(self) -> "CronTrigger":
        return cron_trigger(self.cron, self.timezone)

    def next_fire(self, now: datetime | None = None) -> datetime | None:
        """The next firing strictly after ``now``, in the schedule's time zone."""
        t = self.trigger().get_next_fire_time(None, resolve_now(now) + timedelta(microseconds=1))
        return t.astimezone(self.zone) if t else None


def fires_between(trigger: "CronTrigger", start: datetime, end: datetime):
    """Fire times t with start <= t <= end, in order."""
    t = trigger.get_next_fire_time(None, start)
    while t is not None and t <= end:
        yield t
        t = trigger.get_next_fire_time(None, t + timedelta(microseconds=1))


def latest_fire(trigger: "CronTrigger", at: datetime, *, inclusive: bool = True) -> datetime | None:
    """The latest fire time at or before ``at`` (strictly before unless ``inclusive``).

    APScheduler only looks forward, so the window behind ``at`` doubles until it holds a firing:
    a handful of steps for any cron, and never more than ~3 firings walked.
    """
    window = timedelta(seconds=1)
    limit = timedelta(days=800)
    while window <= limit:
        found = [t for t in fires_between(trigger, at - window, at) if inclusive or t < at]
        if found:
            return found[-1]
        window *= 2
    return None


__all__ = ["cron_trigger", "fires_between", "latest_fire"]
