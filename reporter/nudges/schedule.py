"""``NudgeSchedule``: a schedule file with ``kind: nudge``, validated.

It lives beside ``reporter.schedules.Schedule`` (the digests) and is loaded by the same
function; the two share what the scheduler and ``scheduler list`` read (``name``, ``enabled``,
``cron``, ``timezone``, ``period``, ``recipients``, ``trigger()``, ``next_fire()``), so a nudge
schedule is listed and fired like any other. Its own fields say what "idle" means, how often a
user is told, who is told next, and who is never told.

Decisions:

* ``hours`` are full hours ending at the data end of each cluster (as the alert rules), so a
  run at 12:05 judges the hours up to 12:00 even if the 11:00 row is late.
* ``repeat_after`` and ``stale_after`` are durations as in alert rule files (``30m``, ``6h``,
  ``1d``; a bare number other than 0 is refused: ``reporter.durations``).
* ``allow`` patterns are shell globs (``fnmatch``, case-sensitive): ``users`` against the user
  name, ``workloads`` against ``name``, ``namespace/name`` and ``cluster/namespace/name``.
* ``escalate_to`` entries are email addresses or chat destinations (``slack:#gpu-platform``,
  ``teams:https://…``); ``via`` says how the *user* is reached: ``email`` and/or ``slack``
  (a direct message to the user's email address through the bot token).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from agent.periods import Period, resolve_now
from reporter.cron import CronTimed, check_cron, latest_fire
from reporter.durations import Duration, duration_validator
from reporter.fields import OneOrMany, ScheduleName, TimeZoneName, is_destination, is_email


class AllowList(BaseModel):
    """Users and workloads that are never nudged (glob patterns)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: list[str] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)

    def user(self, user: str) -> bool:
        return any(fnmatchcase(user, p) for p in self.users)

    def workload(self, cluster: str, namespace: str, name: str) -> bool:
        keys = (name, f"{namespace}/{name}", f"{cluster}/{namespace}/{name}")
        return any(fnmatchcase(k, p) for p in self.workloads for k in keys)


class NudgeSchedule(CronTimed, BaseModel):
    """One ``kind: nudge`` schedule file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ScheduleName
    kind: Literal["nudge"] = "nudge"
    description: str = ""
    enabled: bool = True
    cron: str = "0 * * * *"
    timezone: TimeZoneName = "UTC"
    clusters: OneOrMany[str] = Field(default_factory=list)  # empty = every cluster
    min_gpus: float = Field(2, gt=0)
    max_utilization: float = Field(10, gt=0, le=100)
    hours: int = Field(6, ge=1, le=24 * 14)
    repeat_after: Duration = timedelta(hours=24)
    stale_after: Duration = timedelta(hours=2)
    via: OneOrMany[Literal["email", "slack"]] = Field(default_factory=lambda: ["email"],
                                                      min_length=1)
    escalate_to: OneOrMany[str] = Field(default_factory=list)
    allow: AllowList = Field(default_factory=AllowList)
    address_pattern: str | None = None
    language: Literal["en", "zh"] = "en"
    misfire_grace_s: int = Field(3600, ge=1)

    _source: Path | None = PrivateAttr(default=None)

    _d = duration_validator("repeat_after", "stale_after")

    @field_validator("escalate_to")
    @classmethod
    def _destinations(cls, v: list[str]) -> list[str]:
        for d in v:
            if not (is_email(d) or is_destination(d)):  # never quote more: it may be a secret
                raise ValueError(f"{d[:12]!r}...: expected an email address or slack:…, "
                                 f"slack-webhook:https://…, teams:https://…")
        return v

    @field_validator("address_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None and (v.count("{user}") != 1 or not is_email(v.replace("{user}", "u"))):
            raise ValueError("expected an address with one {user}, such as "
                             "'{user}@example.com'")
        return v

    @model_validator(mode="after")
    def _cron(self) -> "NudgeSchedule":
        check_cron(self.cron, self.timezone)
        return self

    # -- what the scheduler and `scheduler list` read of every schedule ---------------------
    period: Literal["interval"] = "interval"

    @property
    def recipients(self) -> list[str]:
        return list(self.escalate_to)

    @property
    def reports(self) -> list[str]:
        return []

    @property
    def source(self) -> Path | None:
        return self._source

    def window(self, now: datetime | None = None) -> Period:
        """What a run at ``now`` is about, for the run record: the ``hours`` before the latest
        firing at or before ``now`` (the data end of each cluster decides the real window)."""
        local = resolve_now(now).astimezone(self.zone)
        end = latest_fire(self.trigger(), local, inclusive=True) or local
        end = end.astimezone(self.zone)
        start = end - timedelta(hours=self.hours)
        return Period(start, end, f"{start.isoformat()}/{end.isoformat()}", unit=None,
                      tz=self.timezone, kind="interval")


__all__ = ["AllowList", "NudgeSchedule"]
