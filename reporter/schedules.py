"""Schedule files -> validated ``Schedule`` models, and the period a run of one covers.

A schedule is one YAML file (``schedules/*.yaml``): when it fires (cron + time zone), what it
renders (report kinds, clusters, formats) and whom it tells (recipients, subject). The shipped
defaults live in the repository's ``schedules/`` (``reporter/_data/schedules`` in a wheel); a
user directory (config ``schedules_dir``) adds files, and a user schedule with the same ``name``
replaces the shipped one — that is how the Kubernetes ConfigMap sets real recipients.

Decisions:

* ``alerts.yaml``/``alerts.yml`` in the same directories hold alert rules, not schedules, and
  are skipped here.
* Every file is validated when schedules are loaded, and the first bad one stops the program
  with ``<file>: <field>: <reason>``: a typo in a schedule should fail the deploy, not
  silently drop a digest.
* ``cron`` has the standard five fields with standard day-of-week numbers (0 or 7 = Sunday;
  APScheduler 3 alone would read 0 as Monday, so numbers are translated to names). A sixth,
  leading field gives seconds (``*/5 * * * * *``), used by tests and fast demos.
* ``period`` says what a run covers, in the schedule's time zone: ``last-week`` = the previous
  full ISO week (Monday 00:00 to Monday 00:00), ``yesterday`` = the previous calendar day,
  ``interval`` = from the cron firing before the current one up to the current one (the latest
  firing at or before now). The (schedule, period) pair is the idempotency key of a delivery.
* The subject is a Jinja2 template rendered in a sandbox; see ``subject_variables``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

if TYPE_CHECKING:  # pragma: no cover
    from apscheduler.triggers.cron import CronTrigger

REPORT_KINDS = ("weekly", "namespace-drops", "root-cause", "idle")
ReportKind = Literal["weekly", "namespace-drops", "root-cause", "idle"]
PeriodKind = Literal["last-week", "yesterday", "interval"]
SKIPPED_FILES = {"alerts.yaml", "alerts.yml"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DEFAULT_SUBJECT = "GPU report {{ schedule }}: {{ period_label }} ({{ clusters }})"


class ScheduleError(ValueError):
    """A schedule that cannot be used. The message names the file, the field and the reason."""


# --------------------------------------------------------------------------------------------
# cron
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


# --------------------------------------------------------------------------------------------
# model
class Schedule(BaseModel):
    """One schedule file, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    description: str = ""
    enabled: bool = True
    cron: str
    timezone: str = "UTC"
    period: PeriodKind = "last-week"
    reports: list[ReportKind] = Field(min_length=1)
    clusters: list[str] = Field(default_factory=list)  # empty = every cluster
    formats: list[Literal["html", "pdf"]] = Field(default_factory=lambda: ["html", "pdf"],
                                                  min_length=1)
    recipients: list[str]
    subject: str = DEFAULT_SUBJECT
    misfire_grace_s: int = Field(3600, ge=1, description="how late a missed firing still runs")

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > 52 or not NAME_RE.match(v):
            raise ValueError("must be lowercase letters, digits and '-', at most 52 characters "
                             "(it names files and Kubernetes CronJobs)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as "
                             f"'Europe/Berlin' or 'UTC')") from None
        return v

    @field_validator("reports", "formats", "recipients", "clusters", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one recipient is required")
        for r in v:
            name, addr = parseaddr(r)
            local, at, domain = addr.rpartition("@")
            if ("\n" in r or "\r" in r or not at or not local or not domain
                    or any(c.isspace() for c in addr)):
                raise ValueError(f"{r!r} is not an email address")
        return v

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str) -> str:
        from jinja2 import TemplateSyntaxError

        try:
            _jinja().parse(v)
        except TemplateSyntaxError as exc:
            raise ValueError(f"template error: {exc.message}") from None
        return v

    @property
    def source(self) -> Path | None:
        """The file this schedule was read from."""
        return self._source

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def kind(self) -> str:
        """The report kinds, comma-joined (the ``runs.kind`` column)."""
        return ",".join(self.reports)

    def trigger(self) -> "CronTrigger":
        return cron_trigger(self.cron, self.timezone)

    def recipient_addresses(self) -> list[str]:
        """Bare addresses for the SMTP envelope."""
        return [parseaddr(r)[1] for r in self.recipients]

    def next_fire(self, now: datetime | None = None) -> datetime | None:
        """The next firing strictly after ``now``, in the schedule's time zone."""
        now = resolve_now(now)
        t = self.trigger().get_next_fire_time(None, now + timedelta(microseconds=1))
        return t.astimezone(self.zone) if t else None

    def period_for(self, now: datetime | None = None) -> "Period":
        return period_for(self, now)

    @model_validator(mode="after")
    def _cron(self) -> "Schedule":
        try:
            cron_trigger(self.cron, self.timezone)
        except ValueError as exc:
            raise ValueError(f"cron: invalid expression {self.cron!r} ({exc})") from None
        return self


# --------------------------------------------------------------------------------------------
# periods
@dataclass(frozen=True)
class Period:
    """The half-open span [start, end) a run covers, as aware datetimes in the schedule's zone."""

    start: datetime
    end: datetime
    kind: str
    label: str
    timezone: str

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(timezone.utc)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(timezone.utc)

    @property
    def slug(self) -> str:
        """A file-name-safe label (output directory of the run)."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_")


def parse_now(value: str) -> datetime:
    """ISO 8601 (``Z`` allowed); a naive value is UTC."""
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def resolve_now(now: datetime | None = None) -> datetime:
    """``now`` if given, else ``GPUREPORT_NOW``, else the clock (always aware)."""
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    env = os.environ.get("GPUREPORT_NOW")
    if env:
        try:
            return parse_now(env)
        except ValueError:
            raise ScheduleError(f"GPUREPORT_NOW: {env!r} is not an ISO 8601 time") from None
    return datetime.now(timezone.utc)


def _midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone)


def period_for(schedule: Schedule, now: datetime | None = None) -> Period:
    """The period a run of ``schedule`` at ``now`` covers (see the module docstring)."""
    zone = schedule.zone
    local = resolve_now(now).astimezone(zone)
    if schedule.period == "last-week":
        monday = local.date() - timedelta(days=local.isoweekday() - 1)
        start_d = monday - timedelta(days=7)
        iso = start_d.isocalendar()
        return Period(_midnight(start_d, zone), _midnight(monday, zone), "last-week",
                      f"{iso.year}-W{iso.week:02d}", schedule.timezone)
    if schedule.period == "yesterday":
        day = local.date() - timedelta(days=1)
        return Period(_midnight(day, zone), _midnight(local.date(), zone), "yesterday",
                      day.isoformat(), schedule.timezone)
    trigger = schedule.trigger()
    end = latest_fire(trigger, local, inclusive=True)
    start = latest_fire(trigger, end, inclusive=False) if end else None
    if end is None or start is None:
        raise ScheduleError(f"schedule {schedule.name}: cron {schedule.cron!r} has no firing "
                            f"before {local.isoformat()}")
    start, end = start.astimezone(zone), end.astimezone(zone)
    return Period(start, end, "interval", f"{start.isoformat()}/{end.isoformat()}",
                  schedule.timezone)


# --------------------------------------------------------------------------------------------
# subject
def _jinja():
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


def subject_variables(schedule: Schedule, period: Period) -> dict[str, Any]:
    """Variables every subject template may use (the renderer may add more)."""
    return {
        "schedule": schedule.name,
        "description": schedule.description,
        "period_label": period.label,
        "period_start": period.start.date().isoformat(),
        "period_end": (period.end - timedelta(microseconds=1)).date().isoformat(),
        "clusters": ", ".join(schedule.clusters) if schedule.clusters else "all clusters",
        "reports": ", ".join(schedule.reports),
    }


def render_subject(schedule: Schedule, period: Period,
                   context: Mapping[str, Any] | None = None) -> str:
    """The email subject: one line, whitespace collapsed (a header cannot carry newlines)."""
    variables = {**(context or {}), **subject_variables(schedule, period)}
    text = _jinja().from_string(schedule.subject).render(**variables)
    return " ".join(text.split())[:250] or f"{schedule.name} {period.label}"


# --------------------------------------------------------------------------------------------
# loading
def shipped_schedules_dir() -> Path | None:
    """``reporter/_data/schedules`` in an installed wheel, else the repository's ``schedules/``."""
    pkg = Path(__file__).resolve().parent
    for candidate in (pkg / "_data" / "schedules", pkg.parent / "schedules"):
        if candidate.is_dir():
            return candidate
    return None


def _field_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if err["type"] == "literal_error" and err["loc"] and err["loc"][0] == "reports":
        msg = f"unknown report kind {err.get('input')!r} (known: {', '.join(REPORT_KINDS)})"
    # model-level checks (cron needs the time zone) already start with their field name
    return f"{loc}: {msg}" if loc else msg


def load_schedule_file(path: Path) -> Schedule:
    """Read and validate one schedule file; ``ScheduleError`` names the file and the field."""
    from reporter.yamlfile import read_yaml

    data = read_yaml(path, ScheduleError)
    if not isinstance(data, dict):
        raise ScheduleError(f"{path}: expected a mapping of schedule fields at the top level")
    data.setdefault("name", path.stem)
    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as exc:
        raise ScheduleError(f"{path}: {_field_error(exc)}") from None
    schedule._source = path
    return schedule


def _load_dir(directory: Path) -> dict[str, Schedule]:
    found: dict[str, Schedule] = {}
    files = sorted(p for p in directory.iterdir()
                   if p.suffix in (".yaml", ".yml") and p.name not in SKIPPED_FILES and p.is_file())
    for path in files:
        s = load_schedule_file(path)
        if s.name in found:
            raise ScheduleError(f"{path}: name: schedule {s.name!r} is also defined in "
                                f"{found[s.name].source}")
        found[s.name] = s
    return found


def load_schedules(schedules_dir: str | Path | None = None, *,
                   include_shipped: bool = True) -> dict[str, Schedule]:
    """Every schedule by name: the shipped defaults overlaid with ``schedules_dir``'s files."""
    result: dict[str, Schedule] = {}
    shipped = shipped_schedules_dir() if include_shipped else None
    if shipped is not None:
        result.update(_load_dir(shipped))
    if schedules_dir:
        user = Path(schedules_dir).expanduser()
        if not user.is_dir():
            raise ScheduleError(f"schedules_dir: {user} is not a directory")
        result.update(_load_dir(user))
    return dict(sorted(result.items()))


def get_schedule(name: str, schedules_dir: str | Path | None = None) -> Schedule:
    schedules = load_schedules(schedules_dir)
    if name not in schedules:
        from difflib import get_close_matches

        close = get_close_matches(name, list(schedules), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(schedules) or "none"
        raise ScheduleError(f"unknown schedule {name!r} (available: {known}){hint}")
    return schedules[name]


__all__ = [
    "Schedule", "Period", "ScheduleError", "REPORT_KINDS", "load_schedules", "get_schedule",
    "load_schedule_file", "shipped_schedules_dir", "period_for", "render_subject",
    "subject_variables", "cron_trigger", "latest_fire", "resolve_now", "parse_now",
]
