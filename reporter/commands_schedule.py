"""``gpureport run``, ``history`` and ``scheduler run|list``: thin Click shells.

Each command turns its options into one call of ``runner``, ``statedb`` or ``scheduler``;
``run`` and ``scheduler run`` hand them the digest's renderer
(``reporter.render.scheduled.render_for_schedule``), so that the runner and the scheduler do
not import the report engine (``scheduler list`` stays quick). Failures (bad schedule,
unreachable state database, failed run) are ``GpureportError``s and print as one line on
stderr (``reporter.cli.Command``). ``ctx.obj`` is the CLI's
``AppContext`` (``.config``, ``.now``, ``.tz``, ``.verbose``).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

import click

from agent.periods import zone
from reporter import logs
from reporter.cli import Command, Group


def _fmt(dt: datetime | None, tz: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return dt.astimezone(tz).strftime(fmt) if dt else "-"


# --------------------------------------------------------------------------------------------
@click.command("run", cls=Command)
@click.argument("schedule")
@click.option("--dry-run", is_flag=True, help="Write the message to an .eml file instead of sending.")
@click.option("--force", is_flag=True,
              help="Send even if this period was delivered, or its delivery is uncertain.")
@click.pass_context
def run(ctx: click.Context, schedule: str, dry_run: bool, force: bool) -> None:
    """Run SCHEDULE once for the period it covers now (what the CronJob calls).

    SCHEDULE is a schedule's name, e.g. weekly-digest ('gpureport scheduler list' shows them
    all, from the shipped schedules/ and the config's schedules_dir).

    Safe to start several times at once: the first claims the period and the others exit 0
    ("already being delivered by run N"). Exit 1 when the run failed, when the SMTP
    connection broke after the message was handed over (status uncertain: not resent without
    --force), when the data-quality gate blocked the digest (the admins are told), or — for a
    team fan-out — when any team's digest failed (every team's outcome is printed).
    """
    from reporter.render.scheduled import ScheduleRenderer
    from reporter.runner import run_schedule, signals_as_exceptions
    from reporter.schedules import get_schedule

    app = ctx.obj
    found = get_schedule(schedule, app.config.schedules_dir)
    if found.kind == "nudge":  # idle nudges
        from reporter.commands_nudges import run_nudge_schedule

        return run_nudge_schedule(app, found, dry_run=dry_run, force=force)
    with signals_as_exceptions():
        result = run_schedule(app.config, found, now=app.now, dry_run=dry_run, force=force,
                              trigger="cli", render=ScheduleRenderer(config=app.config,
                                                                     now=app.now))
    click.echo(result.summary())
    if result.status in ("failed", "uncertain", "blocked"):
        ctx.exit(1)


# --------------------------------------------------------------------------------------------
@click.command("history", cls=Command)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--schedule", "schedule_name", metavar="NAME", help="Only runs of this schedule.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(app, limit: int, schedule_name: str | None, as_json: bool) -> None:
    """Past runs (newest first) and their deliveries.

    STATUS 'uncertain': the SMTP connection failed after the message was handed over; look
    for its message-id in a mailbox, then 'gpureport run NAME --force' if it never arrived.
    """
    from reporter.statedb import open_state

    tz = zone(app.tz)
    with open_state(app.config.state.database_url) as db:
        rows = [(r, db.list_deliveries(r.id)) for r in db.list_runs(limit, schedule_name)]
        from reporter.nudges.store import notices_by_run  # a nudge run's notices

        notices = notices_by_run(db, [r.id for r, _ in rows if r.kind == "nudge"])

    if as_json:
        def json_value(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        out = [{**{k: json_value(v) for k, v in r._mapping.items()},
                "deliveries": [{k: json_value(v) for k, v in d._mapping.items()} for d in ds],
                **({"notices": [{k: json_value(v) for k, v in n._mapping.items()}
                                for n in notices[r.id]]} if r.id in notices else {})}
               for r, ds in rows]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no runs recorded yet")
        return
    tzname = _fmt(datetime.now(timezone.utc), tz, "%Z")
    click.echo(f"{'RUN':>5}  {'SCHEDULE':<22} {'PERIOD':<35} {'STATUS':<9} "
               f"{'STARTED (' + tzname + ')':<21} {'TOOK':>7}  {'BY':<9}  DETAIL")
    for r, ds in rows:
        period = f"{_fmt(r.period_start, tz, '%Y-%m-%d %H:%M')} -> {_fmt(r.period_end, tz, '%Y-%m-%d %H:%M')}"
        flags = "".join(f" [{f}]" for f, on in (("forced", r.forced), ("dry-run", r.dry_run)) if on)
        team = getattr(r, "team", "") or ""
        if team:
            flags = f" [team {team}]" + flags
        took = f"{r.duration_s:.1f}s" if r.duration_s is not None else "-"
        detail = r.error or r.message_id or ""
        click.echo(f"{r.id:>5}  {r.schedule:<22} {period:<35} {r.status:<9} "
                   f"{_fmt(r.started_at, tz):<21} {took:>7}  {r.trigger:<9}  {detail}{flags}")
        for d in ds:
            extra = f"  {d.error}" if d.error else ""
            if d.status == "uncertain":  # what to look for in a mailbox before --force
                extra = f"  message-id {d.message_id}: may or may not have been delivered"
            click.echo(f"{'':>7}- {d.channel} {d.status} {_fmt(d.at, tz)} -> {d.target}{extra}")
        for n in notices.get(r.id, []):
            extra = f"  {n.error}" if n.error else ""
            click.echo(f"{'':>7}- {n.user} notice {n.level} {n.channel} {n.status} "
                       f"{_fmt(n.at, tz)} -> {n.target}{extra}")


# --------------------------------------------------------------------------------------------
@click.group("scheduler", cls=Group)
def scheduler() -> None:
    """Long-running scheduler and its next fire times."""


@scheduler.command("run")
@click.option("--poll-interval", default=10.0, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between leader-lock checks (standby replicas poll this often).")
@click.option("--metrics-port", type=click.IntRange(1, 65535),
              help="Serve Prometheus /metrics on this port (runs, deliveries, data age).")
@click.pass_context
def scheduler_run_command(ctx: click.Context, poll_interval: float,
                          metrics_port: int | None) -> None:
    """Fire every enabled schedule on its cron until SIGTERM/SIGINT."""
    from reporter.alerts import alert_jobs
    from reporter.metrics import serve_scheduler_metrics
    from reporter.nudges.run import nudge_jobs
    from reporter.render.scheduled import ScheduleRenderer
    from reporter.scheduler import run_scheduler
    from reporter.statedb import open_state

    app = ctx.obj
    logs.configure(app.verbose, service=True)  # its log is its output: INFO, time stamps
    if metrics_port:  # data age is measured from --now / GPUREPORT_NOW if given, else the clock
        fixed = app.now_arg or os.environ.get("GPUREPORT_NOW")
        ctx.call_on_close(serve_scheduler_metrics(metrics_port, app.config.source,
                                                  (lambda: app.now) if fixed else None))
    with open_state(app.config.state.database_url) as state:
        # the alert check (``check.cron`` of the rule file) is one more job; the scheduler
        # itself knows nothing of alerts
        code = run_scheduler(app.config, poll_interval=poll_interval, state=state,
                             render=ScheduleRenderer(config=app.config),
                             extra_jobs=[*alert_jobs(app.config, state),
                                         *nudge_jobs(app.config, state)])
    ctx.exit(code)


@scheduler.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def scheduler_list_command(app, as_json: bool) -> None:
    """Each schedule's next fire time, in its own time zone."""
    from reporter.scheduler import next_fires
    from reporter.schedules import load_schedules

    fires = next_fires(load_schedules(app.config.schedules_dir), app.now)
    if as_json:
        click.echo(json.dumps([{
            "name": f.schedule.name, "enabled": f.schedule.enabled, "cron": f.schedule.cron,
            "timezone": f.schedule.timezone, "period": f.schedule.period,
            "next_fire": f.next_fire.isoformat() if f.next_fire else None,
            "next_fire_utc": f.next_fire.astimezone(timezone.utc).isoformat() if f.next_fire else None,
            "covers": f.period_label, "recipients": f.schedule.recipients,
            "file": str(f.schedule.source) if f.schedule.source else None,
        } for f in fires], indent=2, ensure_ascii=False))
        return
    if not fires:
        click.echo("no schedules")
        return
    click.echo(f"{'SCHEDULE':<22} {'ON':<3} {'CRON':<16} {'NEXT FIRE (schedule time zone)':<38} COVERS")
    for f in fires:
        when = (f.next_fire.strftime("%Y-%m-%d %H:%M:%S %a ") + f.schedule.timezone
                if f.next_fire else "never")
        on = "yes" if f.schedule.enabled else "no"
        click.echo(f"{f.schedule.name:<22} {on:<3} {f.schedule.cron:<16} {when:<38} "
                   f"{f.period_label or '-'}")


__all__ = ["run", "history", "scheduler"]
