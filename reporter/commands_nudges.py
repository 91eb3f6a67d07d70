"""``gpureport nudges list`` and the nudge side of ``run`` and ``history``: thin Click shells
over ``reporter.nudges`` (``run`` hands a ``kind: nudge`` schedule here)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from agent.errors import RunError
from agent.periods import zone
from reporter.cli import Group
from reporter.nudges import store
from reporter.nudges.run import run_nudges
from reporter.nudges.schedule import NudgeSchedule
from reporter.runner import signals_as_exceptions


def run_nudge_schedule(app: Any, schedule: NudgeSchedule, *, dry_run: bool,
                       force: bool) -> None:
    """``gpureport run <nudge schedule>``: one run; its lines on stdout; exit 1 on a failed
    route (``--force`` has no meaning here: a notice that went out is never resent)."""
    if force:
        raise click.UsageError("--force does not apply to nudge schedules (a notice is sent "
                               "once per user and level)")
    with signals_as_exceptions():
        try:
            result = run_nudges(app.config, schedule, now=app.now, dry_run=dry_run)
        except RunError as exc:
            if exc.result is not None:
                click.echo("\n".join(exc.result.lines()))
            raise
    click.echo("\n".join(result.lines()))


@click.group("nudges", cls=Group)
def nudges() -> None:
    """Idle nudges: where each user's escalation stands."""


@nudges.command("list")
@click.option("--schedule", "schedule_name", metavar="NAME", help="Only this nudge schedule.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_command(app, schedule_name: str | None, as_json: bool) -> None:
    """Each user's nudge state: idle spell, level of the last notice, when, what was idle."""
    from reporter.statedb import open_state

    tz = zone(app.tz)
    with open_state(app.config.state.database_url) as db:
        rows = store.list_states(db, schedule_name)
    if as_json:
        def value(v: Any) -> Any:
            return v.isoformat() if isinstance(v, datetime) else v

        click.echo(json.dumps([{k: value(v) for k, v in r._mapping.items()} for r in rows],
                              indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no nudges recorded yet")
        return

    def when(dt: datetime | None) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M") if dt else "-"

    click.echo(f"{'SCHEDULE':<18} {'USER':<20} {'LEVEL':<5} {'SPELL':<5} {'LAST NOTICE':<16} "
               f"{'IDLE GPU-H':>10}  WORKLOADS")
    for r in rows:
        names = ", ".join(f"{w.get('namespace')}/{w.get('workload')}" for w in r.workloads or [])
        idle = f"{r.idle_gpu_hours:.1f}" if r.idle_gpu_hours is not None else "-"
        state = f"{r.level}/3" if r.level else "-"
        click.echo(f"{r.schedule:<18} {r.user:<20} {state:<5} {r.episode:<5} "
                   f"{when(r.last_notice_at):<16} {idle:>10}  {names or '-'}")


__all__ = ["nudges", "run_nudge_schedule"]
