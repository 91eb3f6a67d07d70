"""``JobSpec``: one kind of work the long-running scheduler fires on a cron.

Its own small module because two sides meet here without knowing each other: the scheduler
fires ``JobSpec``s, and whoever has work to schedule (schedules, the alert check) builds them.
The CLI hands the alert jobs to ``reporter.scheduler.run_scheduler(extra_jobs=...)``, so the
scheduler never imports ``reporter.alerts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable


@dataclass(frozen=True)
class JobSpec:
    """A job the scheduler fires. ``run(fire_time)`` is called after this firing was claimed."""

    id: str
    trigger: Any  # a CronTrigger: replicas must compute identical fire times
    run: Callable[[datetime], Any]
    misfire_grace_s: int = 3600
    description: str = ""


__all__ = ["JobSpec"]
