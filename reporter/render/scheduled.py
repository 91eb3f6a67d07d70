"""The digest of one scheduled run: the report of a schedule over its period, as files and email.

``render_for_schedule`` is the renderer the CLI hands to ``reporter.runner`` (``gpureport run``)
and to the scheduler (``gpureport scheduler run``): it puts the schedule's preset questions to
the agent (``reports.build.build_report``), writes the report as
``<schedule>-<period>.html``/``.pdf`` under the run's directory (per ``schedule.formats``), and
returns the email parts (``reporter.digest.RenderedReport``). With a PDF the email body is the
short summary and the full report is attached; without one the body is the full report. When a
table is longer than the document shows (hundreds of namespaces), ``<schedule>-<period>.csv``
holds all of it, is kept with the other files and is attached too.

Every digest also gets ``<schedule>-<period>.csv`` with its complete tables (namespaces or
users week over week, workloads, idle workloads), kept and attached, and passes the data-quality
gate first (``reports.quality``): its lines go back in ``RenderedReport.problems`` and, with
``on_incomplete: send_with_warning``, into a red banner. ``ScheduleRenderer`` is the callable the
CLI and the scheduler hand the runner: it also lists a fan-out schedule's teams
(``prepare``) and renders one team's digest (``team=``), whose files are
``<schedule>-<period>-<team>.*``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Sequence

from agent.periods import Period, resolve_now
from agent.sources import make_source
from agent.sources.base import Source
from agent.sources.memo import MemoSource
from reporter.channels.summary import Fact, Summary
from reporter.config import Config, load_config
from reporter.digest import Prepared, RenderedReport, file_stem
from reporter.render.email import render_email, subject_context
from reporter.render.files import tables_csv
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf
from reporter.render.strings import strings
from reporter.reports.build import ProgressFn, build_report
from reporter.reports.context import ReportContext
from reporter.reports.quality import WORDS, check_quality
from reporter.reports.teams import build_team_report, team_names
from reporter.schedules import Schedule


def _cluster(schedule: Schedule) -> str | None:
    """The one cluster a team digest is scoped to (None: every cluster)."""
    return schedule.clusters[0] if len(schedule.clusters) == 1 else None


def render_for_schedule(schedule: Schedule, period: Period, out_dir: Path, *,
                        config: Config | None = None, source: Source | None = None,
                        now: datetime | None = None, lang: str = "en",
                        progress: ProgressFn | None = None, team: str | None = None,
                        problems: Sequence[str] | None = None) -> RenderedReport:
    """The report of ``schedule`` over ``period`` (``team``'s digest when given) as files
    plus the email bodies, the chat summary and the gate's lines.

    Loads the configuration and opens the source itself unless given. The report's period is
    exactly the schedule's [start, end); its baseline is the period before it, computed in UTC
    (``Period.in_utc``) so that a week is 168 hours whatever the zone's DST does.
    ``problems``: the gate's lines when the caller already checked (a fan-out run checks once).
    """
    own_source = source is None
    if config is None and source is None:
        config = load_config()
    if source is None:
        source = make_source(config.source)  # type: ignore[union-attr]
    threshold = config.drop_threshold_pp if config is not None else 5.0
    share = config.drop_min_share_pct if config is not None else 2.0
    now = resolve_now(now)
    memo = MemoSource(source)
    try:
        if problems is None:
            problems = check_quality(memo, now, period.in_utc(), list(schedule.clusters) or None,
                                     lang=lang, min_coverage_pct=schedule.min_coverage_pct,
                                     max_age_h=schedule.max_data_age_h).problems
        if team is not None:
            ctx = build_team_report(list(schedule.reports), memo, now, team,
                                    cluster=_cluster(schedule), period=period.in_utc(),
                                    lang=lang, drop_threshold=threshold,
                                    drop_min_share_pct=share, tz=schedule.zone,
                                    kind=schedule.fan_out or "namespace")
        else:
            ctx = build_report(list(schedule.reports), memo, now,
                               cluster=list(schedule.clusters) or None, period=period.in_utc(),
                               lang=lang, drop_threshold=threshold, drop_min_share_pct=share,
                               progress=progress, tz=schedule.zone)
    finally:
        if own_source:
            source.close()
    if problems and schedule.on_incomplete == "send_with_warning":
        ctx.banner = _banner(problems, lang)
    return _files(schedule, period, out_dir, ctx, list(problems), team)


def _banner(problems: Sequence[str], lang: str) -> str:
    return WORDS.get(lang, WORDS["en"])["banner"].format(problems="; ".join(problems))


def _files(schedule: Schedule, period: Period, out_dir: Path, ctx: ReportContext,
           problems: list[str], team: str | None) -> RenderedReport:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(schedule.name, period.slug, team)
    # the complete tables, kept and attached; the document names the file when it shows
    # only part of a table
    csv = tables_csv(ctx)
    html = render_html(ctx, csv_file=f"{stem}.csv" if ctx.truncated else None)
    files: list[Path] = []
    if "html" in schedule.formats:
        path = out_dir / f"{stem}.html"
        path.write_text(html, encoding="utf-8")
        files.append(path)
    pdf = None
    if "pdf" in schedule.formats:
        pdf = render_pdf(html)
        path = out_dir / f"{stem}.pdf"
        path.write_bytes(pdf)
        files.append(path)
    path = out_dir / f"{stem}.csv"
    path.write_bytes(csv)
    files.append(path)
    csv_name = f"{stem}.csv"
    if pdf is not None:  # the summary in the body, the full report attached
        email_html, email_text = render_email(ctx, attachment=f"{stem}.pdf", csv_file=csv_name)
    else:  # no attachment: the body is the full report (the text part its summary)
        _, email_text = render_email(ctx, csv_file=csv_name)
        email_html = html
    context = subject_context(ctx)
    if team:
        context["team"] = team
    return RenderedReport(subject_context=context, html=email_html, text=email_text, pdf=pdf,
                          files=files, csv=csv, problems=problems,
                          summary=chat_summary(ctx, context))


def chat_summary(ctx: ReportContext, context: dict) -> Summary:
    """What Slack and Teams show of a digest: the scope, the first narrative lines and the
    KPIs (the subject context's formatted values). The runner sets the title to the subject."""
    t = strings(ctx.lang)
    main = ctx.main
    facts = [] if ctx.empty else [
        Fact(t["kpi_avg_utilization"], f"{context['avg_utilization']} "
                                       f"({context['utilization_delta']} pp)"),
        Fact(t["kpi_allocation_rate"], context["allocation_rate"]),
        Fact(t["kpi_gpu_hours"], context["gpu_hours"]),
        Fact(t["kpi_idle_gpu_hours"], context["idle_gpu_hours"])]
    lines = list(main.narrative[:2]) if main is not None else []
    return Summary(title=ctx.scope_label, lines=lines, facts=facts, warning=ctx.banner)


@dataclass
class ScheduleRenderer:
    """``render_for_schedule`` bound to a configuration (and ``--now``), plus ``prepare``:
    the teams of a fan-out schedule and the gate's lines, checked once for all of them."""

    config: Config | None = None
    now: datetime | None = None
    lang: str = "en"

    def __call__(self, schedule: Schedule, period: Period, out_dir: Path, *,
                 team: str | None = None,
                 problems: Sequence[str] | None = None) -> RenderedReport:
        extra = {k: v for k, v in (("lang", self.lang), ("team", team), ("problems", problems))
                 if v is not None and (k, v) != ("lang", "en")}  # only what is not the default
        return render_for_schedule(schedule, period, out_dir, config=self.config, now=self.now,
                                   **extra)

    def prepare(self, schedule: Schedule, period: Period) -> Prepared:
        config = self.config or load_config()
        source = make_source(config.source)
        try:
            memo = MemoSource(source)
            now = resolve_now(self.now)
            quality = check_quality(memo, now, period.in_utc(),
                                    list(schedule.clusters) or None, lang=self.lang,
                                    min_coverage_pct=schedule.min_coverage_pct,
                                    max_age_h=schedule.max_data_age_h)
            return Prepared(team_names(memo, now, period.in_utc(), _cluster(schedule),
                                       schedule.fan_out or "namespace"), quality.problems)
        finally:
            source.close()


__all__ = ["render_for_schedule", "ScheduleRenderer", "chat_summary"]
