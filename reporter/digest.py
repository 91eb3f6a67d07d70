"""What a scheduled run gets from its renderer: the digest's email parts and the files written.

The contract between ``reporter.runner`` (which sends and records) and a renderer. The real
renderer is ``reporter.render.scheduled.render_for_schedule`` (it asks the agent the report's
preset questions and lays the report out: LangGraph, Jinja2, WeasyPrint); the CLI hands it to
the runner and the scheduler, tests hand them a fake one. This module stays light so that the
scheduler (and ``gpureport scheduler list``) can name the contract without importing a renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from agent.periods import Period
from reporter.schedules import Schedule


@dataclass
class RenderedReport:
    """What a renderer hands back: the email parts and the files it wrote under ``out_dir``."""

    subject_context: dict[str, Any]
    html: str
    text: str
    pdf: bytes | None
    files: list[Path] = field(default_factory=list)
    # the complete tables of the digest (attached as CSV, kept with the files)
    csv: bytes | None = None
    # the data-quality gate's lines (empty: the data is complete); the runner blocks the
    # digest on them unless the schedule says ``on_incomplete: send_with_warning``
    problems: list[str] = field(default_factory=list)
    # what a chat destination shows (reporter.channels.summary.Summary), if the renderer made one
    summary: Any = None


def file_stem(schedule: str, period_slug: str, team: str | None = None) -> str:
    """``<schedule>-<period>[-<team>]``: the digest's file names and attachment names (a team
    name as a file-name-safe word)."""
    if not team:
        return f"{schedule}-{period_slug}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in team)[:60] or "team"
    return f"{schedule}-{period_slug}-{safe}"


@dataclass
class Prepared:
    """What a fan-out run learns before any team's digest: the teams, and the gate's lines."""

    teams: list[str]
    problems: list[str] = field(default_factory=list)


# render(schedule, period, out_dir): how a run gets its digest. A renderer for fan-out
# schedules also has ``prepare(schedule, period) -> Prepared`` and takes ``team=`` and
# ``problems=`` keywords (reporter.render.scheduled.ScheduleRenderer).
RenderFn = Callable[[Schedule, Period, Path], RenderedReport]


__all__ = ["RenderedReport", "RenderFn", "Prepared", "file_stem"]
