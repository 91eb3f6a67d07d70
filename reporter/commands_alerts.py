"""``gpureport alerts check [--dry-run]`` and ``gpureport alerts list``: thin Click shells.

The work is in ``reporter.alerts``; these commands turn options into one call and known
failures (bad rule file, unreachable state database, another check running) into one line on
stderr. ``check`` exits 1 when a rule could not be evaluated or a notification failed (it is
recorded and retried at the next check), so a CronJob shows the problem.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any

import click


def _app(ctx: click.Context) -> Any:
    app = ctx.find_root().obj if ctx.find_root().obj is not None else ctx.obj
    if app is None or not hasattr(app, "config"):
        from types import SimpleNamespace

        from reporter.config import ConfigError, load_config

        try:
            config = load_config(None)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        app = SimpleNamespace(config=config, now=datetime.now(timezone.utc), verbose=0, tz=None)
    return app


def _known() -> tuple[type[BaseException], ...]:
    from agent.sources.base import SourceError
    from reporter.alerts.rules import RulesError
    from reporter.alerts.state import AlertsBusy
    from reporter.config import ConfigError
    from reporter.statedb import StateError

    return (RulesError, StateError, AlertsBusy, SourceError, ConfigError)


def _tz(app: Any):
    tz = getattr(app, "tz", None)
    if not tz:
        return timezone.utc
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _fmt(value: str | None, tz) -> str:
    if not value:
        return "-"
    dt = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


@click.group("alerts")
def alerts() -> None:
    """Evaluate alert rules (schedules/alerts.yaml), notify channels, show state."""


@alerts.command("check")
@click.option("--dry-run", is_flag=True,
              help="Evaluate and show what would change and be sent; write and send nothing.")
@click.option("--rules", "rules_file", metavar="FILE",
              help="Rule file (default: config alerts_file, schedules_dir/alerts.yaml, shipped).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def check_command(ctx: click.Context, dry_run: bool, rules_file: str | None,
                  as_json: bool) -> None:
    """Evaluate every rule now; notify on new firing, repeat interval and resolve."""
    from reporter.alerts import run_check
    from reporter.alerts.state import AlertsBusy

    app = _app(ctx)
    try:
        result = run_check(app.config, now=app.now, rules_file=rules_file, dry_run=dry_run)
    except AlertsBusy as exc:
        click.echo(str(exc), err=True)
        ctx.exit(0)
    except _known() as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in result.lines():
            click.echo(line)
    if result.exit_code:
        if not as_json:
            click.echo(f"error: {len(result.errors)} problem(s); failed notifications are "
                       "retried at the next check", err=True)
        ctx.exit(result.exit_code)


@alerts.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved alerts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_command(ctx: click.Context, include_resolved: bool, as_json: bool) -> None:
    """Current alerts (firing, pending) and the channels they go to (secrets masked)."""
    from reporter.alerts import list_alerts, load_for
    from reporter.alerts.rules import RulesError

    app = _app(ctx)
    try:
        items = list_alerts(app.config, include_resolved=include_resolved)
    except _known() as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    channels: list[dict[str, str]] = []
    try:
        path, rules = load_for(app.config)
        channels = [{"name": n, "type": c.type, "target": c.target()}
                    for n, c in rules.channels.items()]
    except RulesError as exc:
        click.echo(f"warning: {exc}", err=True)
    if as_json:
        click.echo(json.dumps({"alerts": items, "channels": channels}, indent=2,
                              ensure_ascii=False))
        return
    tz = _tz(app)
    if not items:
        click.echo("no active alerts" if not include_resolved else "no alerts recorded")
    else:
        click.echo(f"{'STATUS':<9} {'SEVERITY':<9} {'RULE':<26} {'SINCE':<17} "
                   f"{'NOTIFIED':<17} {'CHANNELS':<28} WHAT")
        for a in items:
            since = a["started_at"] or a["first_seen_at"]
            if a["status"] == "resolved":
                since = a["resolved_at"]
            chans = " ".join(f"{k}:{v['status']}" for k, v in sorted(a["deliveries"].items()))
            click.echo(f"{a['status']:<9} {a['severity']:<9} {a['rule'][:26]:<26} "
                       f"{_fmt(since, tz):<17} {_fmt(a['last_notified_at'], tz):<17} "
                       f"{chans or '-':<28} {_one_line(a['summary'])}")
    if channels:
        click.echo("")
        click.echo("channels:")
        for c in channels:
            click.echo(f"  {c['name']:<20} {c['type']:<13} {c['target']}")


def _one_line(text: Any) -> str:
    """Data-derived text on one terminal line, control characters removed."""
    s = " ".join(str(text or "").split())
    return "".join(ch for ch in s if ch.isprintable())


__all__ = ["alerts"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(alerts())
