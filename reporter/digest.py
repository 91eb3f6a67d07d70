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


# render(schedule, period, out_dir): how a run gets its digest
RenderFn = Callable[[Schedule, Period, Path], RenderedReport]


__all__ = ["RenderedReport", "RenderFn"]
