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
* ``cron`` has the standard five fields, or six with seconds first (``reporter.cron``).
* ``period`` says what a run covers, in the schedule's time zone: ``last-week`` = the previous
  full ISO week (Monday 00:00 to Monday 00:00), ``yesterday`` = the previous calendar day,
  ``interval`` = from the cron firing before the current one up to the current one (the latest
  firing at or before now). The (schedule, period) pair is the idempotency key of a delivery.
* The subject is a Jinja2 template rendered in a sandbox; see ``subject_variables``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from agent.errors import ScheduleError
from agent.names import suggestions
from agent.periods import Period, midnight, resolve_now
from reporter.channels.summary import parse_destination
from reporter.cron import CronTimed, check_cron, latest_fire
from reporter.nudges.schedule import NudgeSchedule
from reporter.reports.presets import KINDS
from reporter.fields import OneOrMany, ScheduleName, TimeZoneName
from reporter.yamlfile import read_yaml

ReportKind = Literal[KINDS]  # type: ignore[valid-type] - the kinds of reporter.reports.presets
PeriodKind = Literal["last-week", "yesterday", "interval"]
SKIPPED_FILES = {"alerts.yaml", "alerts.yml"}
# a Kubernetes label / annotation key: an optional DNS prefix and "/", then a name
LABEL_KEY = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?"
                       r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
DEFAULT_SUBJECT = "GPU report {{ schedule }}: {{ period_label }} ({{ clusters }})"


# --------------------------------------------------------------------------------------------
# team names of a label fan-out (``fan_out: label:team`` -> teams ``team=cv``, ...)
def label_of(kind: str) -> tuple[str, str] | None:
    """(``label`` | ``annotation``, key) of a fan-out kind ``label:<key>``, else None."""
    dtype, sep, key = kind.partition(":")
    return (dtype, key) if sep and dtype in ("label", "annotation") and key else None


def team_of(kind: str, value: str) -> str:
    """The team name of a label value: ``team=cv``, ``annotation:owner=cv``."""
    dtype, key = label_of(kind) or ("", "")
    return f"{key}={value}" if dtype == "label" else f"annotation:{key}={value}"


def label_team(kind: str, team: str) -> tuple[str, str, str] | None:
    """(type, key, value) of a label team's name (``team_of`` read back), else None."""
    found = label_of(kind)
    if found is None:
        return None
    prefix = team_of(kind, "")
    if not team.startswith(prefix):
        raise ScheduleError(f"team '{team}' is not a value of {kind}")
    return found[0], found[1], team[len(prefix):]


# --------------------------------------------------------------------------------------------
# model
class Schedule(CronTimed, BaseModel):
    """One schedule file, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: ScheduleName
    description: str = ""
    enabled: bool = True
    cron: str
    timezone: TimeZoneName = "UTC"
    period: PeriodKind = "last-week"
    reports: OneOrMany[ReportKind] = Field(min_length=1)
    clusters: OneOrMany[str] = Field(default_factory=list)  # empty = every cluster
    formats: OneOrMany[Literal["html", "pdf"]] = Field(default_factory=lambda: ["html", "pdf"],
                                                       min_length=1)
    recipients: OneOrMany[str] = Field(default_factory=list)
    subject: str = DEFAULT_SUBJECT
    misfire_grace_s: int = Field(3600, ge=1, description="how late a missed firing still runs")
    # chat destinations of the digest: slack:#ml-gpu, slack-webhook:<url>, teams:<url>
    destinations: OneOrMany[str] = Field(default_factory=list)
    # team digests: one digest per namespace, user, or value of a label (``label:team``) or
    # annotation key (``annotation:<key>``), sent where config ``teams`` routes it, else to
    # ``fan_out_default`` (empty: the team is skipped and the run says why)
    fan_out: str | None = None
    fan_out_default: OneOrMany[str] = Field(default_factory=list)
    # who hears of a blocked or failed run (never the team): email addresses and/or chat
    # destinations (slack:..., teams:...)
    admin: OneOrMany[str] = Field(default_factory=list)
    # the data-quality gate (answers.md §2): every cluster's coverage of the period and the
    # age of its newest data at send time
    on_incomplete: Literal["block", "send_with_warning"] = "block"
    min_coverage_pct: float = Field(95.0, ge=0, le=100)
    max_data_age_h: float = Field(2.0, gt=0)

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("fan_out")
    @classmethod
    def _fan_out(cls, v: str | None) -> str | None:
        if v is None or v in ("namespace", "user"):
            return v
        found = label_of(v)
        if found is None or not LABEL_KEY.fullmatch(found[1]):
            raise ValueError(f"choose namespace, user, label:<key> or annotation:<key> "
                             f"(got {v!r})")
        return v

    def team_route_names(self, team: str) -> list[str]:
        """The names ``teams:`` may route ``team`` by: the team's own name, and for a label
        fan-out also the bare value (``team=cv`` -> ``cv``)."""
        found = label_team(self.fan_out or "", team)
        return [team] + ([found[2]] if found else [])

    @field_validator("destinations")
    @classmethod
    def _destinations(cls, v: list[str]) -> list[str]:
        for d in v:
            _destination(d)
        return v

    @field_validator("admin")
    @classmethod
    def _admin(cls, v: list[str]) -> list[str]:
        for a in v:
            if ":" in a.split("@")[0]:
                _destination(a)
            else:
                _addresses([a])
        return v

    @field_validator("recipients", "fan_out_default")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        return _addresses(v)

    @model_validator(mode="after")
    def _someone(self) -> "Schedule":
        if not (self.recipients or self.destinations or self.fan_out):
            raise ValueError("recipients: at least one recipient is required (or "
                             "destinations, or fan_out for team digests)")
        return self

    @property
    def admin_emails(self) -> list[str]:
        return [a for a in self.admin if ":" not in a.split("@")[0]]

    @property
    def admin_destinations(self) -> list[str]:
        return [a for a in self.admin if ":" in a.split("@")[0]]


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
    def kind(self) -> str:
        """The report kinds, comma-joined (the ``runs.kind`` column)."""
        return ",".join(self.reports)

    def recipient_addresses(self) -> list[str]:
        """Bare addresses for the SMTP envelope."""
        return [parseaddr(r)[1] for r in self.recipients]

    def period_for(self, now: datetime | None = None) -> Period:
        return period_for(self, now)

    @model_validator(mode="after")
    def _cron(self) -> "Schedule":
        check_cron(self.cron, self.timezone)
        return self


def _addresses(v: list[str]) -> list[str]:
    """Email addresses (``Name <a@b>`` or ``a@b``), one ValueError naming the first bad one."""
    for r in v:
        name, addr = parseaddr(r)
        local, at, domain = addr.rpartition("@")
        if ("\n" in r or "\r" in r or not at or not local or not domain
                or any(c.isspace() for c in addr)):
            raise ValueError(f"{r!r} is not an email address")
    return v


def _destination(d: str) -> str:
    """A chat destination (``reporter.channels.summary.parse_destination``) or ValueError."""
    try:
        parse_destination(d)
    except Exception as exc:  # noqa: BLE001 - its one line is the field's reason
        raise ValueError(str(exc)) from None
    return d


# --------------------------------------------------------------------------------------------
# periods
def period_for(schedule: Schedule, now: datetime | None = None) -> Period:
    """The period a run of ``schedule`` at ``now`` covers (see the module docstring), with the
    offsets of the schedule's zone; its ``label`` names the run (``2026-W46``, ``2026-11-18``)."""
    tz = schedule.zone
    local = resolve_now(now).astimezone(tz)

    def period(start: datetime, end: datetime, label: str, unit: str | None) -> Period:
        return Period(start.astimezone(tz), end.astimezone(tz), label, unit=unit,
                      tz=schedule.timezone, kind=schedule.period)

    if schedule.period == "last-week":
        monday = local.date() - timedelta(days=local.weekday())
        start_d = monday - timedelta(days=7)
        year, week, _ = start_d.isocalendar()
        return period(midnight(start_d, tz), midnight(monday, tz), f"{year}-W{week:02d}", "week")
    if schedule.period == "yesterday":
        day = local.date() - timedelta(days=1)
        return period(midnight(day, tz), midnight(local.date(), tz), day.isoformat(), "day")
    trigger = schedule.trigger()
    end = latest_fire(trigger, local, inclusive=True)
    start = latest_fire(trigger, end, inclusive=False) if end else None
    if end is None or start is None:
        raise ScheduleError(f"schedule {schedule.name}: cron {schedule.cron!r} has no firing "
                            f"before {local.isoformat()}")
    start, end = start.astimezone(tz), end.astimezone(tz)
    return period(start, end, f"{start.isoformat()}/{end.isoformat()}", None)


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
        msg = f"unknown report kind {err.get('input')!r} (known: {', '.join(KINDS)})"
    # model-level checks (cron needs the time zone) already start with their field name
    return f"{loc}: {msg}" if loc else msg


def load_schedule_file(path: Path) -> "Schedule | NudgeSchedule":
    """Read and validate one schedule file; ``ScheduleError`` names the file and the field."""
    data = read_yaml(path, ScheduleError)
    if not isinstance(data, dict):
        raise ScheduleError(f"{path}: expected a mapping of schedule fields at the top level")
    data.setdefault("name", path.stem)
    model = NudgeSchedule if data.get("kind") == "nudge" else Schedule  # idle nudges
    try:
        schedule = model.model_validate(data)
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
        close = suggestions(name, schedules)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(schedules) or "none"
        raise ScheduleError(f"unknown schedule {name!r} (available: {known}){hint}")
    return schedules[name]


__all__ = [
    "Schedule", "Period", "ScheduleError", "load_schedules", "get_schedule",
    "load_schedule_file", "shipped_schedules_dir", "period_for", "render_subject",
    "subject_variables", "NudgeSchedule", "label_of", "label_team", "team_of",
]
