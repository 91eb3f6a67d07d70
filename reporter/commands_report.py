"""``gpureport report``: the preset reports as HTML and/or PDF files.

A thin shell over ``reporter.reports.build.build_report`` and
``reporter.render.files.write_report``:
progress goes to stderr (a rich progress bar when stderr is a terminal, nothing otherwise, so
cron logs stay clean), the paths written go to stdout, one per line, at the end.
"""

from __future__ import annotations

import sys

import click

from reporter.cli import Command
from reporter.reports.presets import KINDS


@click.command(cls=Command)
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--cluster", help="One cluster (default: every cluster, with a summary).")
@click.option("--namespace", help="Narrow the report to one namespace.")
@click.option("--period", metavar="PERIOD",
              help="last-week (default; 'idle': yesterday), this-week, YYYY-Www, START..END.")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf", "both"]), default="both",
              show_default=True, help="Output format(s).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the files (default: config report_dir, else the current "
                   "directory).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Report language.")
@click.option("--threshold", type=click.FloatRange(min=0), default=None,
              help="Namespace drop threshold in pp (default: config drop_threshold_pp, 5).")
@click.pass_obj
def report(app, kind, cluster, namespace, period, fmt, out_dir, lang,
           threshold) -> None:
    """Render a report: weekly digest, namespace drops, root causes (or idle workloads).

    \b
    Examples:
      gpureport report weekly --format both
      gpureport report namespace-drops --cluster gpu-east --period 2026-W47
      gpureport report root-cause --cluster gpu-east --namespace ml-team --lang zh
    """
    from agent.sources import make_source
    from reporter.render.files import write_report
    from reporter.reports.build import build_report

    cfg = app.config
    out = out_dir or cfg.report_dir or "."
    limit = cfg.drop_threshold_pp if threshold is None else threshold
    with _progress(enabled=sys.stderr.isatty()) as step:
        source = make_source(cfg.source)
        try:
            ctx = build_report(kind, source, app.now, cluster=cluster, namespace=namespace,
                               period=period, lang=lang, drop_threshold=limit,
                               drop_min_share_pct=cfg.drop_min_share_pct,
                               progress=lambda f, m: step(f * 0.8 if fmt != "html" else f, m),
                               tz=app.tz, prices=cfg.prices)
        finally:
            source.close()
        step(0.8 if fmt != "html" else 0.95, "HTML")
        paths = write_report(ctx, [fmt], out,
                             progress=lambda m: step(0.85, m))
        step(1.0, "done")
    for p in paths:
        click.echo(str(p))


class _progress:
    """A rich progress bar on stderr; ``step(fraction, message)`` moves it."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None

    def __enter__(self):
        if not self.enabled:
            return lambda _f, _m: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("[bold]report[/]"), BarColumn(),
                             TextColumn("{task.description}", markup=False),
                             TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._bar.__enter__()
        task = self._bar.add_task("starting", total=1.0)

        def step(fraction: float, message: str) -> None:
            self._bar.update(task, completed=max(0.0, min(1.0, fraction)), description=message[:60])

        return step

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False
