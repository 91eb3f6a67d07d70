"""One run of a schedule: resolve its period, render, deliver, record — at most once per period.

The order is the contract (product.md §8, architecture.md "one scheduled run"):

1. ``period_for`` gives the (schedule, period) key. Unless ``force`` (or ``dry_run``), a
   succeeded real run for that key means there is nothing to do: a ``skipped`` run is recorded
   so history shows the firing, and nothing is sent.
2. A ``running`` record is written. Older ``running`` records of the same key (a process killed
   before it could write its end) are closed as ``failed``.
3. The report is rendered by ``render(schedule, period, out_dir)``: the CLI passes
   ``reporter.render.scheduled.render_for_schedule`` with the run's configuration (tests pass
   their own), so that importing the runner costs no report engine.
4. Delivery is the last step. The ``succeeded`` status, the message-id and the delivery row are
   written in one transaction after the SMTP server accepted the message; any failure before
   that — rendering, building the message, SMTP giving up, SIGTERM — records ``failed`` with
   the reason, and the next run sends exactly once.

The one window no database can close: the server accepted the message and the process died
before the commit. Delivery is therefore at-least-once; the window is the length of one
``UPDATE``, and the commit is retried if the database is briefly unreachable.
``--dry-run`` renders and writes the message to an ``.eml`` file (a ``file`` delivery), is
recorded with ``dry_run = true``, and never counts as delivered.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from agent.errors import DeliveryError, Interrupted, RunError, StateError
from agent.periods import Period
from agent.settings import data_dir
from agent.text import one_line
from reporter.config import Config
from reporter.delivery import Attachment, build_message, send_email, sender_address, write_eml
from reporter.digest import RenderFn
from reporter.schedules import Schedule, get_schedule, period_for, render_subject
from reporter.statedb import DeliveryRecord as record, StateDB, open_state

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    status: Literal["succeeded", "failed", "skipped"]
    schedule: str
    period: Period
    run_id: int
    message_id: str | None = None
    recipients: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    eml: Path | None = None
    error: str | None = None
    delivered_by: int | None = None  # for "skipped": the run that did deliver
    dry_run: bool = False

    def summary(self) -> str:
        """One line for the terminal."""
        head = f"{self.schedule} {self.period.label}"
        if self.status == "skipped":
            return (f"{head}: already delivered by run #{self.delivered_by}; not sent again "
                    f"(use --force to send anyway) [run #{self.run_id}]")
        if self.status == "failed":
            return f"{head}: failed: {self.error} [run #{self.run_id}]"
        if self.dry_run:
            others = [str(f) for f in self.files if f != self.eml]
            rendered = f"; report files: {', '.join(others)}" if others else ""
            return (f"{head}: dry run, message written to {self.eml}{rendered} "
                    f"[run #{self.run_id}]")
        n = len(self.recipients)
        extra = f" ({self.error})" if self.error else ""
        return (f"{head}: sent to {n} recipient{'s' if n != 1 else ''}, message-id "
                f"{self.message_id}{extra} [run #{self.run_id}]")


@contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Turn SIGTERM into ``Interrupted`` for the duration (main thread only).

    A CronJob pod is stopped with SIGTERM; without this Python would die on the spot and the
    run would stay ``running``. With it, the run is recorded ``failed`` ("interrupted").
    """
    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def output_dir(config: Config, schedule: Schedule, period: Period) -> Path:
    """``report_dir`` (default: ``<data dir>/reports``) / schedule / period."""
    base = Path(config.report_dir).expanduser() if config.report_dir else data_dir() / "reports"
    return base / schedule.name / period.slug


def _retrying(fn: Callable[[], Any], what: str, attempts: int = 3, backoff: float = 1.0) -> Any:
    """Retry a state-database write; used where losing the write would cost a duplicate email."""
    for i in range(1, attempts + 1):
        try:
            return fn()
        except StateError as exc:
            if i == attempts:
                raise
            log.warning("%s failed (%s); retrying in %.1f s", what, exc, backoff * 2 ** (i - 1))
            time.sleep(backoff * 2 ** (i - 1))
    return None  # pragma: no cover


def run_schedule(config: Config, schedule: str | Schedule, *, now: datetime | None = None,
                 dry_run: bool = False, force: bool = False, trigger: str = "cli",
                 render: RenderFn | None = None, state: StateDB | None = None,
                 out_dir: Path | None = None) -> RunResult:
    """Run one schedule once. Returns the result; raises ``RunError`` when the run failed.

    ``render`` makes the digest (``reporter.render.scheduled.render_for_schedule``, or a test's
    own); without one nothing is run.
    ``ScheduleError`` and ``StateError`` (bad schedule, unreachable state database) are raised
    before anything is recorded.
    """
    if render is None:
        raise RunError("no renderer given: pass render= (reporter.render.scheduled."
                       "render_for_schedule makes the digest)")
    if isinstance(schedule, str):
        schedule = get_schedule(schedule, config.schedules_dir)
    period = period_for(schedule, now)
    own_state = state is None
    db = state or open_state(config.state.database_url)
    try:
        return _run(config, schedule, period, db, dry_run=dry_run, force=force,
                    trigger=trigger, render=render, out_dir=out_dir)
    finally:
        if own_state:
            db.close()


def _run(config: Config, schedule: Schedule, period: Period, db: StateDB, *, dry_run: bool,
         force: bool, trigger: str, render: RenderFn,
         out_dir: Path | None) -> RunResult:
    key = dict(schedule=schedule.name, period_start=period.start_utc, period_end=period.end_utc)
    recipients = list(schedule.recipients)
    if not force and not dry_run:
        previous = db.delivered_run(schedule.name, period.start_utc, period.end_utc)
        if previous is not None:
            run_id = db.start_run(**key, kind=schedule.kind, trigger=trigger, status="skipped",
                                  recipients=recipients)
            log.info("%s %s already delivered by run #%s", schedule.name, period.label,
                     previous.id)
            return RunResult("skipped", schedule.name, period, run_id,
                             message_id=previous.message_id, recipients=recipients,
                             delivered_by=previous.id)

    run_id = db.start_run(**key, kind=schedule.kind, trigger=trigger, forced=force,
                          dry_run=dry_run, recipients=recipients)
    db.abandon_runs(schedule.name, period.start_utc, period.end_utc, except_id=run_id,
                    note=f"abandoned: the process ended without recording a result "
                         f"(found by run #{run_id})")
    result = RunResult("failed", schedule.name, period, run_id, recipients=recipients,
                       dry_run=dry_run)
    target = ", ".join(schedule.recipient_addresses())
    message_id: str | None = None
    try:
        if not dry_run and not config.smtp.host:
            raise RunError("smtp.host is not set (config smtp.host or SMTP_HOST); "
                           "use --dry-run to write the message to a file instead")
        out = out_dir or output_dir(config, schedule, period)
        out.mkdir(parents=True, exist_ok=True)
        rendered = render(schedule, period, out)
        result.files = [Path(f) for f in rendered.files]
        subject = render_subject(schedule, period, rendered.subject_context)
        attachments = []
        if "pdf" in schedule.formats and rendered.pdf:
            attachments.append(Attachment(f"{schedule.name}-{period.slug}.pdf", rendered.pdf))
        msg = build_message(sender=sender_address(config.smtp), to=recipients, subject=subject,
                            html=rendered.html, text=rendered.text, attachments=attachments)
        message_id = str(msg["Message-ID"])
        if dry_run:
            eml = write_eml(msg, out / f"{schedule.name}-{period.slug}.eml")
            result.eml, result.files = eml, [*result.files, eml]
            delivery = record("file", str(eml), "sent", message_id)
            note = None
        else:
            sent = send_email(msg, config.smtp, to_addrs=schedule.recipient_addresses())
            note = ("refused: " + "; ".join(f"{a} ({r})" for a, r in sent.refused.items())
                    if sent.refused else None)
            delivery = record("email", target, "sent", message_id, note)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then re-raised
        reason = one_line(exc)
        deliveries = []
        if isinstance(exc, DeliveryError):
            deliveries.append(record("email", target, "failed", message_id, reason))
        result.error = reason
        try:
            _retrying(lambda: db.finish_run(run_id, "failed", files=result.files,
                                            error=reason, deliveries=deliveries),
                      f"recording run #{run_id} as failed")
        except Exception as rec_exc:  # noqa: BLE001 - report both problems in one line
            raise RunError(f"{reason}; and the failure could not be recorded: "
                           f"{one_line(rec_exc)}", result) from exc
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt / SystemExit: recorded, now let it through
        raise RunError(reason, result) from exc

    result.status, result.message_id, result.error = "succeeded", message_id, note
    try:
        _retrying(lambda: db.finish_run(run_id, "succeeded", files=result.files,
                                        recipients=recipients, message_id=message_id,
                                        error=note, deliveries=[delivery]),
                  f"recording run #{run_id} as succeeded")
    except Exception as exc:  # noqa: BLE001
        log.error("message %s was sent but run #%s could not be recorded; the next run "
                  "will send it again", message_id, run_id)
        raise RunError(f"sent message {message_id}, but recording run #{run_id} failed: "
                       f"{one_line(exc)}", result) from exc
    return result


__all__ = ["RenderFn", "RunResult", "RunError", "Interrupted", "run_schedule", "output_dir",
           "signals_as_exceptions"]
