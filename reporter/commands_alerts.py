"""``gpureport alerts check [--dry-run]`` and ``gpureport alerts list``: thin Click shells.

The work is in ``reporter.alerts``; these commands turn options into one call. Failures (bad
rule file, unreachable state database) are ``GpureportError``s and print as one line
``error: ...`` like every command's; another check holding the lock is not a failure (exit 0).
``check`` exits 1 when a rule could not be evaluated or a notification failed (it is
recorded and retried at the next check), so a CronJob shows the problem.
"""

from __future__ import annotations

import json

import click

from agent.errors import AlertsBusy, RulesError
from agent.periods import parse_now, zone
from agent.text import one_line
from reporter.cli import Group


def _fmt(value: str | None, tz) -> str:
    return parse_now(value).astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group("alerts", cls=Group)
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

    app = ctx.obj
    try:
        result = run_check(app.config, now=app.now, rules_file=rules_file, dry_run=dry_run)
    except AlertsBusy as exc:  # not a failure: the other check does the work
        click.echo(str(exc), err=True)
        ctx.exit(0)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        for line in result.lines():
            click.echo(line)
    if result.exit_code:
        causes = {e.error for e in result.evaluations if e.error}
        if not as_json and len(causes) == 1 and all(e.error for e in result.evaluations) \
                and not result.deliveries:
            # the source failed every rule for one reason (an empty store, an unreachable
            # database): that reason is the error line
            click.echo(f"error: no rule could be evaluated: {causes.pop()}", err=True)
        elif not as_json:
            click.echo(f"error: {len(result.errors)} problem(s); failed notifications are "
                       "retried at the next check", err=True)
        ctx.exit(result.exit_code)


@alerts.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved alerts.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_command(app, include_resolved: bool, as_json: bool) -> None:
    """Current alerts (firing, pending) and the channels they go to (secrets masked)."""
    from reporter.alerts import list_alerts, load_for

    items = list_alerts(app.config, include_resolved=include_resolved)
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
    tz = zone(app.tz)
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
                       f"{chans or '-':<28} {one_line(a['summary'], limit=None)}")
    if channels:
        click.echo("")
        click.echo("channels:")
        for c in channels:
            click.echo(f"  {c['name']:<20} {c['type']:<13} {c['target']}")


__all__ = ["alerts"]
