"""The digest of one scheduled run: the report of a schedule over its period, as files and email.

``render_for_schedule`` is the renderer the CLI hands to ``reporter.runner`` (``gpureport run``)
and to the scheduler (``gpureport scheduler run``): it puts the schedule's preset questions to
the agent (``reports.build.build_report``), writes the report as
``<schedule>-<period>.html``/``.pdf`` under the run's directory (per ``schedule.formats``), and
returns the email parts (``reporter.digest.RenderedReport``). With a PDF the email body is the
short summary and the full report is attached; without one the body is the full report. When a
table is longer than the document shows (hundreds of namespaces), ``<schedule>-<period>.csv``
holds all of it, is kept with the other files and is attached too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.periods import Period, resolve_now
from agent.sources import make_source
from agent.sources.base import Source
from reporter.config import Config, load_config
from reporter.digest import RenderedReport
from reporter.render.email import render_email, subject_context
from reporter.render.files import tables_csv
from reporter.render.html import render_html
from reporter.render.pdf import render_pdf
from reporter.reports.build import ProgressFn, build_report
from reporter.schedules import Schedule


def render_for_schedule(schedule: Schedule, period: Period, out_dir: Path, *,
                        config: Config | None = None, source: Source | None = None,
                        now: datetime | None = None, lang: str = "en",
                        progress: ProgressFn | None = None) -> RenderedReport:
    """The report of ``schedule`` over ``period`` as files plus the email bodies.

    Loads the configuration and opens the source itself unless given. The report's period is
    exactly the schedule's [start, end); its baseline is the period before it, computed in UTC
    (``Period.in_utc``) so that a week is 168 hours whatever the zone's DST does.
    """
    own_source = source is None
    if config is None and source is None:
        config = load_config()
    if source is None:
        source = make_source(config.source)  # type: ignore[union-attr]
    threshold = config.drop_threshold_pp if config is not None else 5.0
    share = config.drop_min_share_pct if config is not None else 2.0
    try:
        ctx = build_report(list(schedule.reports), source, resolve_now(now),
                           cluster=list(schedule.clusters) or None, period=period.in_utc(),
                           lang=lang, drop_threshold=threshold, drop_min_share_pct=share,
                           progress=progress,
                           tz=schedule.zone,
                           prices=config.prices if config is not None else None)
    finally:
        if own_source:
            source.close()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{schedule.name}-{period.slug}"
    # a table longer than the document shows: all of it in a CSV, kept and attached
    csv = tables_csv(ctx) if ctx.truncated else None
    html = render_html(ctx, csv_file=f"{stem}.csv" if csv else None)
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
    if csv is not None:
        path = out_dir / f"{stem}.csv"
        path.write_bytes(csv)
        files.append(path)
    csv_name = f"{stem}.csv" if csv else None
    if pdf is not None:  # the summary in the body, the full report attached
        email_html, email_text = render_email(ctx, attachment=f"{stem}.pdf", csv_file=csv_name)
    else:  # no attachment: the body is the full report (the text part its summary)
        _, email_text = render_email(ctx, csv_file=csv_name)
        email_html = html
    return RenderedReport(subject_context=subject_context(ctx), html=email_html,
                          text=email_text, pdf=pdf, files=files, csv=csv)


__all__ = ["render_for_schedule"]
