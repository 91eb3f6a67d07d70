"""What one run of a schedule ended as (``RunResult``), and the one line the terminal shows for it.

Split from ``runner.py`` so the runner is only the order of a run (claim, render, deliver,
record); the words for each outcome — sent, skipped because another run holds or delivered the
period, uncertain, blocked by the data-quality gate, a dry run — live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent.periods import Period
from reporter.statedb import DeliveryRecord as record
from reporter.statedb.claims import Refused


@dataclass
class RunResult:
    status: Literal["succeeded", "failed", "skipped", "uncertain", "blocked"]
    schedule: str
    period: Period
    run_id: int
    message_id: str | None = None
    recipients: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    eml: Path | None = None
    error: str | None = None
    delivered_by: int | None = None  # for "skipped": the run that delivers / delivered
    dry_run: bool = False
    refused: Refused | None = None  # for "skipped": why
    took_over: int | None = None  # the run of a dead holder whose claim this run took
    team: str = ""  # a fan-out schedule's team
    deliveries: list[record] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        head = f"{self.schedule} {self.period.label}" + (f" team {self.team}" if self.team
                                                          else "")
        tail = f" [run #{self.run_id}]"
        why = self.refused
        if self.status == "skipped" and why is not None and why.reason == "busy":
            until = why.lease_expires_at.strftime("%H:%M:%S UTC") if why.lease_expires_at \
                else "-"
            return (f"{head}: already being delivered by run #{why.by_run} ({why.holder}, "
                    f"claim renewed until {until}); not sent again{tail}")
        if self.status == "skipped" and why is not None and why.reason == "uncertain":
            return (f"{head}: the delivery by run #{why.by_run} is uncertain: message "
                    f"{why.message_id} may or may not have arrived; not sent again (look for "
                    f"it in a recipient's mailbox; if it is not there, use --force){tail}")
        if self.status == "skipped":
            return (f"{head}: already delivered by run #{self.delivered_by}; not sent again "
                    f"(use --force to send anyway){tail}")
        if self.status == "blocked":
            told = [d for d in self.deliveries if d.status == "sent"]
            return (f"{head}: blocked, not sent: {self.error}; "
                    f"{'admins notified' if told else 'no admin could be notified'}{tail}")
        if self.status in ("failed", "uncertain"):
            return f"{head}: {self.status}: {self.error}{tail}"
        if self.dry_run:
            others = [str(f) for f in self.files if f != self.eml]
            rendered = f"; report files: {', '.join(others)}" if others else ""
            where = f"message written to {self.eml}" if self.eml else "nothing sent"
            return f"{head}: dry run, {where}{rendered}{tail}"
        n = len(self.recipients)
        extra = f" ({self.error})" if self.error else ""
        chats = [d for d in self.deliveries if d.channel not in ("email", "file")]
        if chats:
            extra += "; " + ", ".join(f"{d.target} {d.status}" for d in chats)
        taken = (f" (took over from run #{self.took_over}, whose process stopped renewing its "
                 f"claim)" if self.took_over else "")
        return (f"{head}: sent to {n} recipient{'s' if n != 1 else ''}, message-id "
                f"{self.message_id}{extra}{taken}{tail}")
