"""One run of a nudge schedule: find who is idle, decide each user's notice, send it once.

The order:

1. **A lease** on ``nudges:<schedule>`` (``reporter.statedb.claims.acquire_lease``, renewed by
   a heartbeat while the run works): one run of a schedule decides and sends at a time; a second
   one started meanwhile is recorded ``skipped`` and says who holds it.
2. The ``runs`` record (kind ``nudge``; ``history`` lists the run's notices under it).
3. ``finding.find_idle``: the idle users (allow-list set aside), per cluster data end.
4. Users who were told and are no longer idle are reset (``store.reset``): a new idle spell
   starts at the first notice again. Only on clusters whose data was judged.
5. For each idle user, ``store.due`` says which notice is due (1, 2 or 3) or why none is.
6. Each route of a due notice (the email; each chat destination) is claimed with its row in
   ``nudge_notices`` before it is sent — the unique key makes it once, even when the lease of
   a stalled run expired and another run took over. A user without any address gets a
   ``no_address`` row instead (and the escalation continues to people who can act).
7. The user's level advances when at least one route went out (or may have: ``uncertain``
   counts, as a resend could duplicate).

``--dry-run`` takes no lease and writes nothing but the run record: it lists who would be
nudged, at which level, to whom, and why (and who is waiting, allowed or would be reset).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from agent.errors import DeliveryError, DeliveryUncertain, GpureportError, RunError, UsageError
from agent.periods import resolve_now
from agent.sources import make_source
from agent.sources.base import Source
from agent.text import one_line
from reporter import metrics
from reporter.channels import Channels
from reporter.config import Config
from reporter.delivery import build_message, message_id_for, send_email, sender_address
from reporter.jobs import JobSpec
from reporter.nudges import store
from reporter.nudges.addresses import Recipients, recipients_for, route_key
from reporter.nudges.finding import Findings, IdleUser, IdleWorkload, find_idle
from reporter.nudges.message import Notice, compose
from reporter.nudges.schedule import NudgeSchedule
from reporter.schedules import get_schedule, load_schedules
from reporter.statedb import StateDB, open_state
from reporter.statedb.claims import Heartbeat, acquire_lease, release_lease, renew_lease

if TYPE_CHECKING:  # pragma: no cover
    from email.message import EmailMessage

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What happened to one route of one notice."""

    channel: str  # email, slack, slack_webhook, teams, none
    target: str  # safe to show
    status: str  # sent, failed, uncertain, no_address, taken (another run has it), dry-run
    detail: str | None = None


@dataclass
class Step:
    """One idle user in this run: the notice due (or why none) and what became of it."""

    user: str
    level: int | None
    why: str
    workloads: list[IdleWorkload]
    idle_gpu_hours: float
    recipients: Recipients | None = None
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class NudgeResult:
    schedule: str
    now: datetime
    dry_run: bool
    run_id: int | None = None
    status: str = "succeeded"  # succeeded, failed, skipped
    steps: list[Step] = field(default_factory=list)
    allowed: list[tuple[str, IdleWorkload, str]] = field(default_factory=list)
    resets: list[str] = field(default_factory=list)
    skipped_clusters: dict[str, str] = field(default_factory=dict)
    busy: str | None = None

    @property
    def notified(self) -> list[Step]:
        return [s for s in self.steps if s.level is not None]

    def failures(self) -> list[str]:
        return [f"{s.user} notice {s.level} {o.channel} {o.target}: {o.detail}"
                for s in self.steps for o in s.outcomes if o.status == "failed"]

    def lines(self) -> list[str]:
        """What ``gpureport run <nudge schedule>`` prints."""
        head = f"{self.schedule} at {self.now.strftime('%Y-%m-%d %H:%M UTC')}"
        tail = f" [run #{self.run_id}]" if self.run_id else ""
        if self.status == "skipped":
            return [f"{head}: another run is nudging ({self.busy}); nothing done{tail}"]
        verb = "would nudge" if self.dry_run else "nudged"
        out = [f"{head}: {verb} {len(self.notified)} user(s){' (dry run)' if self.dry_run else ''}"
               f"{tail}"]
        for s in self.steps:
            names = ", ".join(f"{w.cluster}/{w.namespace}/{w.name}" for w in s.workloads)
            if s.level is None:
                out.append(f"  {s.user}: no notice: {s.why}")
                continue
            out.append(f"  {s.user}: notice {s.level} of 3 ({s.why}); {s.idle_gpu_hours:.1f} "
                       f"idle GPU-hours on {names}")
            r = s.recipients
            if r is not None:
                if not r.user_reachable:
                    out.append("    no address for this user (config users:, address_pattern)")
                if r.to:
                    out.append(f"    to: {', '.join(r.to)}")
                if r.cc:
                    out.append(f"    cc: {', '.join(r.cc)}")
                if r.chats:
                    out.append(f"    chat: {', '.join(str(d) for d in r.chats)}")
            for o in s.outcomes:
                detail = f" ({o.detail})" if o.detail else ""
                out.append(f"    - {o.channel} {o.status} -> {o.target}{detail}")
        for user in self.resets:
            out.append(f"  {user}: no longer idle; {'would start' if self.dry_run else 'starts'} "
                       f"over at notice 1")
        for user, w, why in self.allowed:
            out.append(f"  {user}: not nudged for {w.cluster}/{w.namespace}/{w.name} ({why})")
        for cluster, why in sorted(self.skipped_clusters.items()):
            out.append(f"  cluster {cluster} not judged: {why}")
        return out


# --------------------------------------------------------------------------------------------
def run_nudges(config: Config, schedule: str | NudgeSchedule, *, now: datetime | None = None,
               dry_run: bool = False, trigger: str = "cli", state: StateDB | None = None,
               source: Source | None = None,
               sleep: Callable[[float], None] = time.sleep) -> NudgeResult:
    """Run a nudge schedule once (see the module docstring). Raises ``RunError`` (with the
    result) when a route failed; the routes that went out are recorded either way."""
    if isinstance(schedule, str):
        found = get_schedule(schedule, config.schedules_dir)
        if not isinstance(found, NudgeSchedule):
            raise UsageError(f"schedule {schedule!r} is not of kind nudge")
        schedule = found
    now = resolve_now(now)
    result = NudgeResult(schedule.name, now, dry_run)
    started = time.monotonic()
    try:
        return _leased(config, schedule, result, state, source, trigger, sleep)
    finally:  # the scheduler's /metrics count nudge runs and their routes like digests
        metrics.record_report_run(schedule.name, result.status, None
                                  if result.status == "skipped" else time.monotonic() - started)
        for step in result.steps:
            for o in step.outcomes:
                if o.status in ("sent", "failed", "uncertain"):
                    metrics.record_delivery(o.channel, o.status)


def _leased(config: Config, schedule: NudgeSchedule, result: NudgeResult,
            state: StateDB | None, source: Source | None, trigger: str,
            sleep: Callable[[float], None]) -> NudgeResult:
    """``_run`` under the schedule's lease (a dry run takes none)."""
    now, dry_run = result.now, result.dry_run
    own_state = state is None
    db = state or open_state(config.state.database_url)
    try:
        if dry_run:
            _run(config, schedule, db, result, source, trigger, sleep)
            return result
        lease_s = config.state.claim_lease_s
        name = f"nudges:{schedule.name}"
        token, holder = acquire_lease(db, name, lease_s)
        window = schedule.window(now)
        if token is None:
            result.status, result.busy = "skipped", holder
            result.run_id = db.start_run(schedule=schedule.name, kind="nudge",
                                         period_start=window.start_utc,
                                         period_end=window.end_utc, trigger=trigger,
                                         status="skipped",
                                         error=f"another run is nudging ({holder})")
            return result
        try:
            with Heartbeat(lambda: renew_lease(db, name, token, lease_s), lease_s / 4,
                           f"lease {name}"):
                _run(config, schedule, db, result, source, trigger, sleep)
        finally:
            release_lease(db, name, token)
    finally:
        if own_state:
            db.close()
    if result.status == "failed":
        raise RunError("; ".join(result.failures())[:2000], result)
    return result


def _run(config: Config, schedule: NudgeSchedule, db: StateDB, result: NudgeResult,
         source: Source | None, trigger: str, sleep: Callable[[float], None]) -> None:
    now = result.now
    window = schedule.window(now)
    result.run_id = db.start_run(schedule=schedule.name, kind="nudge",
                                 period_start=window.start_utc, period_end=window.end_utc,
                                 trigger=trigger, dry_run=result.dry_run)
    try:
        own_source = source is None
        src = source or make_source(config.source)
        try:
            findings = find_idle(schedule, src, now)
        finally:
            if own_source:
                src.close()
        _decide_and_send(config, schedule, db, result, findings, sleep)
    except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised
        result.status = "failed"
        db.finish_run(result.run_id, "failed", error=one_line(exc))
        raise
    failures = result.failures()
    result.status = "failed" if failures else "succeeded"
    users = sorted({s.user for s in result.notified})
    db.finish_run(result.run_id, result.status, recipients=users,
                  error="; ".join(failures)[:2000] or None)


def _decide_and_send(config: Config, schedule: NudgeSchedule, db: StateDB, result: NudgeResult,
                     findings: Findings, sleep: Callable[[float], None]) -> None:
    now, dry = result.now, result.dry_run
    result.allowed, result.skipped_clusters = findings.allowed, findings.skipped
    states = store.load_states(db, schedule.name)
    result.resets = sorted(u for u, st in states.items()
                           if st.level > 0 and u not in findings.idle
                           and st.clusters <= findings.judged)
    if not dry and result.resets:
        store.reset(db, schedule.name, result.resets, now)
        states = store.load_states(db, schedule.name)
    channels: Channels | None = None
    try:
        for user in sorted(findings.idle):
            idle = findings.idle[user]
            st = states.get(user) or store.UserState(user)
            level, why = store.due(st, now, schedule.repeat_after)
            step = Step(user, level, why, idle.workloads, idle.idle_gpu_hours)
            result.steps.append(step)
            if not dry:
                store.mark_idle(db, schedule.name, st, now, idle.records(), idle.idle_gpu_hours)
                st = store.load_states(db, schedule.name).get(user, st)
            if level is None:
                continue
            step.recipients = recipients_for(user, idle.namespaces, level, config, schedule)
            if dry:
                continue
            if step.recipients.chats and channels is None:
                channels = Channels.from_config(config)
            _send(config, schedule, db, step, idle, st, compose(idle, level, schedule, config),
                  channels, run_id=result.run_id, now=now, sleep=sleep)
    finally:
        if channels is not None:
            channels.close()


def _send(config: Config, schedule: NudgeSchedule, db: StateDB, step: Step, idle: IdleUser,
          st: store.UserState, notice: Notice, channels: Channels | None, *,
          run_id: int | None, now: datetime, sleep: Callable[[float], None]) -> None:
    """Every route of one notice, each claimed before it is sent; then the level advances."""
    assert step.level is not None and step.recipients is not None
    rec, level = step.recipients, step.level
    common: dict[str, Any] = dict(run_id=run_id, schedule=schedule.name, user=step.user,
                                  episode=st.episode, level=level, workloads=idle.records(),
                                  idle_gpu_hours=idle.idle_gpu_hours, now=now)
    if not rec.user_reachable:
        nid = store.claim_notice(db, route="user", channel="none", target=step.user,
                                 status="no_address", **common)
        step.outcomes.append(Outcome("none", step.user, "no_address" if nid else "taken",
                                     "no address for this user"))
    if rec.to or rec.cc:
        _send_email(config, schedule, db, step, st, notice, common, sleep)
    for dest in rec.chats:
        nid = store.claim_notice(db, route=route_key(dest), channel=dest.kind,
                                 target=str(dest), **common)
        if nid is None:
            step.outcomes.append(Outcome(dest.kind, str(dest), "taken",
                                         "already sent or being sent by another run"))
            continue
        assert channels is not None
        out = channels.send(dest, notice.summary)
        store.finish_notice(db, nid, out.status, message_id=out.remote_id, error=out.detail,
                            now=now)
        step.outcomes.append(Outcome(dest.kind, str(dest), out.status, out.detail))
    if any(o.status != "failed" for o in step.outcomes):
        store.advance(db, schedule.name, step.user, st.episode, level, now)


def _send_email(config: Config, schedule: NudgeSchedule, db: StateDB, step: Step,
                st: store.UserState, notice: Notice, common: dict[str, Any],
                sleep: Callable[[float], None]) -> None:
    rec, now = step.recipients, common["now"]
    assert rec is not None and step.level is not None
    to = rec.to or rec.cc
    cc = rec.cc if rec.to else []
    shown = ", ".join(to + cc)
    nid = store.claim_notice(db, route="email", channel="email", target=shown, **common)
    if nid is None:
        step.outcomes.append(Outcome("email", shown, "taken",
                                     "already sent or being sent by another run"))
        return
    message_id = message_id_for(f"nudge:{schedule.name}:{step.user}:{step.level}", now, now,
                                to + cc, st.episode)
    try:
        if not config.smtp.host:
            raise DeliveryError("smtp.host is not set (config smtp.host or SMTP_HOST)")
        msg = _message(config, notice, to, cc, message_id)
        send_email(msg, config.smtp, to_addrs=to + cc, sleep=sleep)
        status, detail = "sent", None
    except DeliveryUncertain as exc:
        status, detail = "uncertain", one_line(exc)
    except (DeliveryError, ValueError) as exc:
        status, detail = "failed", one_line(exc)
    store.finish_notice(db, nid, status, message_id=message_id, error=detail, now=now)
    step.outcomes.append(Outcome("email", shown, status, detail))


def _message(config: Config, notice: Notice, to: list[str], cc: list[str],
             message_id: str) -> "EmailMessage":
    msg = build_message(sender=sender_address(config.smtp), to=to, subject=notice.subject,
                        html=notice.html, text=notice.text, message_id=message_id)
    if cc:
        msg["Cc"] = ", ".join(cc)
    return msg


# --------------------------------------------------------------------------------------------
def nudge_jobs(config: Config, state: StateDB) -> list[JobSpec]:
    """One scheduler job per enabled nudge schedule (``scheduler run`` adds them)."""
    def make(s: NudgeSchedule) -> Callable[[datetime], None]:
        def run(fire_time: datetime) -> None:
            try:
                result = run_nudges(config, s, now=fire_time, trigger="scheduler", state=state)
                for line in result.lines()[:1]:
                    log.info("%s", line)
            except GpureportError as exc:
                log.error("%s %s: %s", s.name, fire_time.isoformat(), exc)
        return run

    return [JobSpec(f"nudge:{s.name}", s.trigger(), make(s), s.misfire_grace_s, s.description)
            for s in load_schedules(config.schedules_dir).values()
            if isinstance(s, NudgeSchedule) and s.enabled]


__all__ = ["NudgeResult", "Step", "Outcome", "run_nudges", "nudge_jobs"]
