"""One run of a schedule: resolve its period, claim it, render, deliver, record — once per period.

The order is the contract (product.md §8, architecture.md "one scheduled run"):

1. ``period_for`` gives the (schedule, period) key.
2. **The claim** (``reporter.statedb.claims``), before anything is rendered: one transaction
   either makes this run the holder of the key's claim and writes a ``running`` record, or
   writes a ``skipped`` record and says why — another live run holds it ("already being
   delivered by run N (pid P on host H)"), it was delivered, or its delivery is uncertain.
   ``--force`` claims delivered and uncertain periods again (a new claim generation and
   Message-ID) but never one a live run holds. A holder whose lease expired (SIGKILL, a lost
   node) is taken over and its run closed ``failed`` with the reason. Four processes started
   together — a CronJob retry, the scheduler and a person — send one digest.
3. While it works the holder renews the claim's lease from a heartbeat thread (a quarter of
   ``state.claim_lease_s``, default 120 s), so one long step (a big report, SMTP retries) never
   lets the lease lapse while the process lives.
4. The report is rendered by ``render(schedule, period, out_dir)``: the CLI passes
   ``reporter.render.scheduled.render_for_schedule`` with the run's configuration (tests pass
   their own), so that importing the runner costs no report engine.
5. Delivery is the last step. Right before the SMTP DATA command the claim is renewed and
   marked ``sending`` (and the send is abandoned if the claim was lost). The ``succeeded``
   status, the delivery row and the claim's ``delivered`` are written in one transaction after
   the server accepted the message; a failure before DATA records ``failed`` and releases the
   claim, so the next run sends exactly once.
6. A connection that fails or times out *after* DATA is ambiguous: the run is recorded
   ``uncertain`` with its deterministic Message-ID, nothing is resent (in this run or later
   ones, unless ``--force``), and the command exits 1 saying how to check. A process that dies
   in the ``sending`` phase, or cannot record its success, leaves the claim ``sending``: the
   next run marks it ``uncertain`` instead of sending a second copy.

7. The data-quality gate (``reports.quality``, lines in ``RenderedReport.problems``) blocks a
   digest unless the schedule sends it with a banner: the run is ``blocked``, the claim
   released, the admins told (``admin_notice``). Chat destinations are served after the email
   under the same claim (``chat_delivery``). A ``fan_out`` schedule runs each team as above
   under its own (schedule, period, team) claim (``fanout``).

``--dry-run`` renders and writes the message to an ``.eml`` file (a ``file`` delivery), takes no
claim, is recorded with ``dry_run = true``, and never counts as delivered.
"""

from __future__ import annotations

import logging
import signal
import time
from functools import partial
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from agent.errors import DeliveryError, DeliveryUncertain, Interrupted, RunError, StateError
from agent.periods import Period
from agent.settings import data_dir
from agent.text import one_line
from reporter import metrics
from reporter.config import Config
from reporter.delivery import (Attachment, build_message, message_id_for, send_email,
                               sender_address, write_eml)
from reporter.admin_notice import notify_admins, notify_failed
from reporter.channels.summary import Summary
from reporter.chat_delivery import deliver_chat
from reporter.digest import RenderedReport, RenderFn, file_stem
from reporter.fanout import FanOutResult, fan_out
from reporter.run_result import RunResult
from reporter.schedules import Schedule, get_schedule, period_for, render_subject
from reporter.statedb import DeliveryRecord as record, StateDB, open_state
from reporter.statedb.claims import (Claim, Heartbeat, Refused, RunSpec, claim_delivery, renew,
                                     settle)

log = logging.getLogger(__name__)


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
    started = time.monotonic()
    outcome = "failed"
    try:
        if schedule.fan_out:
            result = _fan_out(config, schedule, period, db, dry_run=dry_run, force=force,
                              trigger=trigger, render=render, out_dir=out_dir)
            outcome = result.status
            return result  # type: ignore[return-value]
        result = _run(config, schedule, period, db, dry_run=dry_run, force=force,
                      trigger=trigger, render=render, out_dir=out_dir)
        outcome = result.status
        return result
    except RunError as exc:
        outcome = getattr(exc.result, "status", None) or "failed"
        raise
    finally:
        # a skipped run did no work: counted, but its seconds would only blur the histogram
        metrics.record_report_run(schedule.name, outcome, None if outcome == "skipped"
                                  else time.monotonic() - started)
        if own_state:
            db.close()


def _run(config: Config, schedule: Schedule, period: Period, db: StateDB, *, dry_run: bool,
         force: bool, trigger: str, render: RenderFn,
         out_dir: Path | None, team: str = "", problems: list[str] | None = None) -> RunResult:
    recipients = list(schedule.recipients)
    if dry_run:
        run_id = db.start_run(schedule=schedule.name, kind=schedule.kind,
                              period_start=period.start_utc, period_end=period.end_utc,
                              trigger=trigger, forced=force, dry_run=True, recipients=recipients,
                              team=team)
        return _work(config, schedule, period, db, run_id, None, render, out_dir, team,
                     problems)

    spec = RunSpec(schedule.name, schedule.kind, period.start_utc, period.end_utc, trigger,
                   recipients, force, team, label=period.label)
    outcome = claim_delivery(db, spec, force=force, lease_s=config.state.claim_lease_s)
    if isinstance(outcome, Refused):
        result = RunResult("skipped", schedule.name, period, outcome.run_id,
                           message_id=outcome.message_id, recipients=recipients,
                           delivered_by=outcome.by_run, refused=outcome, team=team)
        log.info("%s", result.summary())
        return result
    log.debug("%s %s: claimed by run #%s (generation %s, lease %.0f s%s)", schedule.name,
              period.label, outcome.run_id, outcome.generation, outcome.lease_s,
              f", taken over from run #{outcome.took_over}" if outcome.took_over else "")
    with Heartbeat(lambda: renew(db, outcome), outcome.lease_s / 4,
                   f"claim of {schedule.name} {period.label} (run #{outcome.run_id})") as beat:
        return _work(config, schedule, period, db, outcome.run_id, (outcome, beat), render,
                     out_dir, team, problems)


def _work(config: Config, schedule: Schedule, period: Period, db: StateDB, run_id: int,
          held: tuple[Claim, Heartbeat] | None, render: RenderFn,
          out_dir: Path | None, team: str = "", problems: list[str] | None = None
          ) -> RunResult:
    """Render, send (or write the .eml of a dry run), record. ``held``: the claim and its
    heartbeat (None for a dry run)."""
    claim = held[0] if held else None
    dry_run = held is None
    recipients = list(schedule.recipients)
    result = RunResult("failed", schedule.name, period, run_id, recipients=recipients,
                       dry_run=dry_run, took_over=claim.took_over if claim else None, team=team)
    target = ", ".join(schedule.recipient_addresses())
    message_id: str | None = None
    stem = file_stem(schedule.name, period.slug, team)
    deliveries: list[record] = []
    note = None
    try:
        if not dry_run and recipients and not config.smtp.host:
            raise RunError("smtp.host is not set (config smtp.host or SMTP_HOST); "
                           "use --dry-run to write the message to a file instead")
        out = out_dir or output_dir(config, schedule, period)
        out.mkdir(parents=True, exist_ok=True)
        rendered = render(schedule, period, out, team=team, problems=problems) \
            if team else render(schedule, period, out)
        result.files = [Path(f) for f in rendered.files]
        if rendered.problems and schedule.on_incomplete == "block":
            return _blocked(config, schedule, period, db, result, claim, rendered.problems,
                            out if dry_run else None)
        subject = render_subject(schedule, period, rendered.subject_context)
        msg = _message(config, schedule, period, rendered, claim, team) if recipients else None
        if msg is None:
            pass
        elif claim is None:
            message_id = str(msg["Message-ID"])
            eml = write_eml(msg, out / f"{stem}.eml")
            result.eml, result.files = eml, [*result.files, eml]
            deliveries.append(record("file", str(eml), "sent", message_id))
            metrics.record_delivery("file", "sent")
        else:
            message_id = str(msg["Message-ID"])
            sent = send_email(msg, config.smtp, to_addrs=schedule.recipient_addresses(),
                              before_data=partial(_before_data, db, claim, held[1], message_id,
                                                  f"{schedule.name} {period.label}"))
            note = ("refused: " + "; ".join(f"{a} ({r})" for a, r in sent.refused.items())
                    if sent.refused else None)
            deliveries.append(record("email", target, "sent", message_id, note))
            metrics.record_delivery("email", "sent")
        if schedule.destinations:
            deliveries += deliver_chat(
                config, schedule.destinations, rendered.summary or Summary(title=""),
                subject, (f"{stem}.pdf", rendered.pdf) if rendered.pdf else None,
                enter_sending=partial(_enter_sending, db, held, message_id,
                                      f"{schedule.name} {period.label}"),
                dry_run_file=out / f"{stem}-chat.json" if dry_run else None)
    except DeliveryUncertain as exc:
        metrics.record_delivery("email", "uncertain")
        return _record_uncertain(db, schedule, period, result, claim, target, message_id, exc)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then re-raised
        reason = one_line(exc)
        # what already went out stays recorded, and keeps the claim from sending it again
        went_out = [d for d in deliveries if d.status == "sent" and d.channel != "file"]
        deliveries = list(went_out)
        if isinstance(exc, DeliveryError):
            deliveries.append(record("email", target, "failed", message_id, reason))
            metrics.record_delivery("email", "failed")
        result.error = reason
        release = settle(claim, "delivered" if went_out else "released") if claim else None
        if claim is not None and isinstance(exc, Exception):
            deliveries = [*deliveries, *notify_failed(config, schedule, period, team, reason)]
        try:
            _retrying(lambda: db.finish_run(run_id, "failed", files=result.files,
                                            error=reason, deliveries=deliveries, also=release),
                      f"recording run #{run_id} as failed")
        except Exception as rec_exc:  # noqa: BLE001 - report both problems in one line
            raise RunError(f"{reason}; and the failure could not be recorded: "
                           f"{one_line(rec_exc)}", result) from exc
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt / SystemExit: recorded, now let it through
        raise RunError(reason, result) from exc

    failed = [d for d in deliveries if d.status == "failed"]
    if failed:
        note = "; ".join([*([note] if note else []),
                          *(f"{d.channel} {d.target} failed: {d.error}" for d in failed)])
    status = "failed" if failed else "succeeded"
    anything = any(d.status == "sent" for d in deliveries)
    result.status, result.message_id, result.error = status, message_id, note
    result.deliveries = list(deliveries)
    if failed and not dry_run:
        deliveries += notify_failed(config, schedule, period, team, note or "")
    try:
        _retrying(lambda: db.finish_run(
            run_id, status, files=result.files, recipients=recipients, message_id=message_id,
            error=note, deliveries=deliveries,
            also=settle(claim, "delivered" if anything else "released") if claim else None),
            f"recording run #{run_id} as {status}")
    except Exception as exc:  # noqa: BLE001
        log.error("message %s was sent but run #%s could not be recorded; its claim stays in "
                  "the sending phase, so the next run marks it uncertain instead of sending "
                  "it again", message_id, run_id)
        raise RunError(f"sent message {message_id}, but recording run #{run_id} failed: "
                       f"{one_line(exc)}", result) from exc
    if failed and not team:
        raise RunError(f"{schedule.name} {period.label}: {note} [run #{run_id}]", result)
    return result


def _message(config: Config, schedule: Schedule, period: Period, rendered: RenderedReport,
             claim: Claim | None, team: str = ""):
    subject = render_subject(schedule, period, rendered.subject_context)
    stem = file_stem(schedule.name, period.slug, team)
    attachments = []
    if "pdf" in schedule.formats and rendered.pdf:
        attachments.append(Attachment(f"{stem}.pdf", rendered.pdf))
    if rendered.csv:  # the digest's complete tables
        attachments.append(Attachment(f"{stem}.csv", rendered.csv, "text/csv"))
    message_id = None
    if claim is not None:
        message_id = message_id_for(f"{schedule.name}/{team}" if team else schedule.name,
                                    period.start_utc, period.end_utc,
                                    schedule.recipient_addresses(), claim.generation)
    return build_message(sender=sender_address(config.smtp), to=list(schedule.recipients),
                         subject=subject, html=rendered.html, text=rendered.text,
                         attachments=attachments, message_id=message_id)


def _enter_sending(db: StateDB, held: tuple[Claim, Heartbeat] | None, message_id: str | None,
                   what: str, marker: str) -> None:
    """Right before a chat post: the claim enters its sending phase (or nothing is posted)."""
    if held is not None:
        _before_data(db, held[0], held[1], message_id or marker, what)


def _before_data(db: StateDB, claim: Claim, beat: Heartbeat, message_id: str, what: str) -> None:
    """Right before SMTP DATA: still ours? Renew and enter the sending phase, or send nothing."""
    if beat.lost.is_set() or not renew(db, claim, sending_message_id=message_id):
        raise RunError(f"lost the claim on {what} (its lease expired while this run was "
                       f"stalled, and another run took it over); nothing was sent")


def _record_uncertain(db: StateDB, schedule: Schedule, period: Period, result: RunResult,
                      claim: Claim | None, target: str, message_id: str | None,
                      exc: DeliveryUncertain) -> RunResult:
    """Record ``uncertain`` (run, delivery, claim) and raise the operator's one line."""
    reason = one_line(exc, limit=None)
    result.status, result.message_id, result.error = "uncertain", message_id, reason
    try:
        _retrying(lambda: db.finish_run(
            result.run_id, "uncertain", files=result.files, message_id=message_id,
            error=reason, deliveries=[record("email", target, "uncertain", message_id, reason)],
            also=settle(claim, "uncertain") if claim else None),
            f"recording run #{result.run_id} as uncertain")
    except Exception as rec_exc:  # noqa: BLE001 - the claim stays "sending": still no resend
        reason += f"; and it could not be recorded: {one_line(rec_exc)}"
    raise RunError(f"{reason}. It is not sent again: look for Message-ID {message_id} in a "
                   f"recipient's mailbox or the relay's log; if it did not arrive, run "
                   f"`{force_command(schedule, period)}` [run #{result.run_id}]",
                   result) from exc


def _blocked(config: Config, schedule: Schedule, period: Period, db: StateDB,
             result: RunResult, claim: Claim | None, problems: list[str],
             dry_run_dir: Path | None) -> RunResult:
    """The gate stopped the digest: tell the admins (not the team), record ``blocked``, free
    the claim (once the data is complete, the next run sends the digest)."""
    reason = "data incomplete: " + "; ".join(problems)
    end = period.end_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    told = notify_admins(config, schedule, period,
                         f"{schedule.name} {period.label}: digest not sent, data incomplete",
                         problems, hint=f"Once the data is complete, run `gpureport --now "
                                        f"{end} run {schedule.name}`.",
                         dry_run_dir=dry_run_dir)
    result.status, result.error, result.deliveries = "blocked", reason, told
    _retrying(lambda: db.finish_run(result.run_id, "blocked", files=result.files, error=reason,
                                    deliveries=told,
                                    also=settle(claim, "released") if claim else None),
              f"recording run #{result.run_id} as blocked")
    log.warning("%s", result.summary())
    return result


def _fan_out(config: Config, schedule: Schedule, period: Period, db: StateDB, *,
             dry_run: bool, force: bool, trigger: str, render: Any,
             out_dir: Path | None) -> FanOutResult:
    """``reporter.fanout.fan_out`` with this module's two steps: block, or run one team."""
    def block(problems: list[str]) -> RunResult:
        run_id = db.start_run(schedule=schedule.name, kind=schedule.kind,
                              period_start=period.start_utc, period_end=period.end_utc,
                              trigger=trigger, forced=force, dry_run=dry_run)
        out = out_dir or output_dir(config, schedule, period)
        out.mkdir(parents=True, exist_ok=True)
        return _blocked(config, schedule, period, db,
                        RunResult("failed", schedule.name, period, run_id, dry_run=dry_run),
                        None, problems, out if dry_run else None)

    def one(team_schedule: Schedule, team: str, problems: list[str]) -> RunResult:
        return _run(config, team_schedule, period, db, dry_run=dry_run, force=force,
                    trigger=trigger, render=render, out_dir=out_dir, team=team,
                    problems=problems)

    def skip(team: str, why: str) -> None:
        db.start_run(schedule=schedule.name, kind=schedule.kind, period_start=period.start_utc,
                     period_end=period.end_utc, trigger=trigger, forced=force,
                     dry_run=dry_run, status="skipped", error=why, team=team)

    return fan_out(config, schedule, period, render.prepare(schedule, period), block, one,
                   skip)


def force_command(schedule: Schedule, period: Period) -> str:
    """The command that sends ``period`` again: ``--now`` = its end selects it for every
    period kind (last-week, yesterday, interval), also once it is no longer the current one."""
    end = period.end_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"gpureport --now {end} run {schedule.name} --force"


__all__ = ["RenderFn", "RunResult", "RunError", "Interrupted", "run_schedule", "output_dir",
           "signals_as_exceptions"]
