"""``gpureport ingest prometheus``: a thin shell over ``reporter.ingest.prometheus``."""

from __future__ import annotations

import sys

import click

from agent.errors import ConfigError
from agent.text import mask_url
from reporter.cli import Group


@click.group(cls=Group)
def ingest() -> None:
    """Fill the Lens-schema hourly tables from another monitoring system."""


@ingest.command("prometheus")
@click.option("--url", metavar="URL",
              help="Prometheus base URL (default: prometheus.url / PROMETHEUS_URL).")
@click.option("--since", default="14d", show_default=True, metavar="14d|36h|last|ISO",
              help="First hour: a span before now, an ISO time, or 'last' to resume after "
                   "the newest hour already ingested for the cluster.")
@click.option("--until", metavar="ISO", help="End, exclusive; only full hours (default: now).")
@click.option("--cluster", metavar="NAME",
              help="cluster_name written into the rows (default: prometheus.cluster_name).")
@click.pass_obj
def prometheus(app, url: str | None, since: str, until: str | None,
               cluster: str | None) -> None:
    """Compute hourly cluster/namespace/workload/label stats and allocation snapshots from
    DCGM (or AMD) exporter and kube-state-metrics data, and upsert them into the store.

    Idempotent: an hour that is ingested again replaces its rows in one transaction.
    """
    from reporter.config import ensure_data_dir
    from reporter.ingest.prometheus import ingest_prometheus

    cfg = app.config
    if cfg.source.kind == "lens":
        raise ConfigError("ingest writes the embedded SQL store; source.kind is 'lens' "
                          "(unset LENS_API_URL / GPUREPORT_SOURCE)")
    if cfg.source.database_url in cfg.source.databases.values():
        raise ConfigError("source.database_url is also listed in source.databases (a Lens "
                          "database); gpureport never writes a Lens database")
    if cfg.source.database_url.startswith("sqlite"):
        ensure_data_dir()

    with _progress() as on_progress:
        result = ingest_prometheus(
            cfg.prometheus, cfg.source.database_url, app.now, url=url, since=since,
            until=until, cluster=cluster, user_annotation=cfg.source.user_annotation,
            on_progress=on_progress)

    span = f"{result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC"
    if result.hours_requested == 0:
        click.echo(f"nothing to ingest for cluster '{result.cluster}': every full hour before "
                   f"{result.end:%Y-%m-%d %H:%M} UTC is already in the store")
        return
    r = result.rows
    click.echo(f"ingested {result.hours_written} of {result.hours_requested} hours ({span}) "
               f"for cluster '{result.cluster}' from {result.url} into "
               f"{mask_url(cfg.source.database_url)}")
    click.echo(f"  rows: {r['cluster']:,} cluster, {r['namespace']:,} namespace, "
               f"{r['workload']:,} workload, {r['label']:,} label, {r['snapshot']:,} snapshots")
    click.echo(f"  {result.seconds:.1f} s, {result.prometheus_seconds:.1f} s of it waiting on "
               f"Prometheus ({result.queries} queries)")
    if result.hours_without_data:
        p = cfg.prometheus
        click.echo(f"warning: {result.hours_without_data} hour(s) had no samples of "
                   f"{p.capacity_metric}{{resource=\"{p.gpu_resource}\"}} and were skipped"
                   + (" (check prometheus.gpu_resource / capacity_metric and --url)"
                      if not result.hours_written else ""), err=True)


class _progress:
    """A rich progress bar over hours on stderr; silent when stderr is not a terminal."""

    def __enter__(self):
        self._bar = None
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(TextColumn("hours"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self._bar.start()
        self._task = None

        def update(done: float, total: int) -> None:
            if self._task is None:
                self._task = self._bar.add_task("ingest", total=total)
            self._bar.update(self._task, completed=done)

        return update

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
