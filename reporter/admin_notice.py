"""The short notice a schedule's admins get when its digest was blocked or failed.

A digest that did not go out must be noticed by someone — but not by the team, who would read
"data incomplete" as their GPUs' problem. The schedule's ``admin`` list (email addresses and/or
chat destinations, ``slack:#gpu-platform``) gets one short message naming the schedule, the
period, what went wrong (the data-quality gate's lines, or the failure) and what to run once it
is fixed. Best effort: a notice that cannot be sent is a ``failed`` delivery row of the run,
never a second failure of the run. A dry run writes the notice to an ``.eml`` file instead.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path
from typing import Sequence

from agent.periods import Period
from agent.text import one_line
from reporter.channels.dispatch import Channels
from reporter.channels.summary import Summary
from reporter.config import Config
from reporter.delivery import build_message, send_email, sender_address, write_eml
from reporter.schedules import Schedule
from reporter.statedb import DeliveryRecord

log = logging.getLogger(__name__)


def notify_admins(config: Config, schedule: Schedule, period: Period, title: str,
                  lines: Sequence[str], *, hint: str | None = None,
                  dry_run_dir: Path | None = None) -> list[DeliveryRecord]:
    """Send the notice to every admin of ``schedule``; the delivery rows of what happened.
    ``dry_run_dir``: write it to ``<dir>/<schedule>-<period>-admin.eml`` instead of sending."""
    body = "\n".join([title, "", *[f"- {x}" for x in lines], *(["", hint] if hint else [])])
    out: list[DeliveryRecord] = []
    emails = schedule.admin_emails
    if emails:
        msg = build_message(sender=sender_address(config.smtp), to=emails, subject=title,
                            html=_html(title, lines, hint), text=body + "\n")
        target = ", ".join(emails)
        if dry_run_dir is not None:
            eml = write_eml(msg, Path(dry_run_dir) / f"{schedule.name}-{period.slug}-admin.eml")
            out.append(DeliveryRecord("file", str(eml), "sent", str(msg["Message-ID"])))
        else:
            try:
                send_email(msg, config.smtp, to_addrs=emails)
                out.append(DeliveryRecord("email", target, "sent", str(msg["Message-ID"]),
                                          "admin notice"))
            except Exception as exc:  # noqa: BLE001 - a notice never fails the run twice
                log.warning("admin notice of %s %s not sent: %s", schedule.name, period.label,
                            one_line(exc))
                out.append(DeliveryRecord("email", target, "failed", None,
                                          f"admin notice: {one_line(exc)}"))
    chats = schedule.admin_destinations
    if chats and dry_run_dir is None:
        summary = Summary(title=title, lines=[*lines, *([hint] if hint else [])])
        with Channels.from_config(config) as channels:
            for dest in chats:
                o = channels.send(dest, summary)
                out.append(DeliveryRecord(o.channel, o.target, o.status, o.remote_id,
                                          f"admin notice{': ' + o.detail if o.detail else ''}"))
    return out


def notify_failed(config: Config, schedule: Schedule, period: Period, team: str,
                  reason: str) -> list[DeliveryRecord]:
    """A failed run's notice to the admins (none without an ``admin`` list)."""
    if not schedule.admin:
        return []
    who = f" ({team})" if team else ""
    return notify_admins(config, schedule, period,
                         f"{schedule.name} {period.label}{who}: digest failed", [reason])


def _html(title: str, lines: Sequence[str], hint: str | None) -> str:
    items = "".join(f"<li>{escape(x)}</li>" for x in lines)
    tail = f"<p>{escape(hint)}</p>" if hint else ""
    return (f"<!doctype html><html><body><h2 style=\"color:#b91c1c\">{escape(title)}</h2>"
            f"<ul>{items}</ul>{tail}</body></html>")


__all__ = ["notify_admins", "notify_failed"]
