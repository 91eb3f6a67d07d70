"""The long-running scheduler: APScheduler fires schedules on their cron, replicas never double-fire.

How one firing stays one firing, even with several replicas on one PostgreSQL state database:

1. **Leader lock.** On PostgreSQL each replica tries ``pg_try_advisory_lock`` on a dedicated
   connection; only the holder runs APScheduler, the others wait as hot standbys and poll every
   ``poll_interval`` seconds. A leader that dies loses its connection and with it the lock, so a
   standby takes over; its persistent job store then runs what was missed (coalesced into one
   run, if within the schedule's ``misfire_grace_s``). APScheduler 3 does not support two
   schedulers sharing a job store, and the lock is what keeps that from happening.
2. **Claims.** Every firing first inserts ``<job id>@<scheduled time>`` into
   ``scheduler_locks``; the primary key lets exactly one process win. This covers the moment of
   a leader hand-over and SQLite, which has no advisory locks. The scheduled time is recomputed
   from the cron (the latest firing at or before now), so every replica derives the same key.
3. **The runner's claim** on (schedule, period) is the last line, shared with ``gpureport run``
   (a CronJob beside the scheduler, a person at a terminal): a firing whose period another run
   is delivering, or has delivered, is recorded ``skipped`` (``reporter.statedb.claims``).

Jobs live in APScheduler's ``SQLAlchemyJobStore`` (table ``apscheduler_jobs`` in the state
database) with ``coalesce``, ``max_instances=1`` and a misfire grace time per schedule. A stored
job whose trigger is unchanged is kept as is on start-up (re-adding it would move its next run
time past a missed firing). SIGTERM/SIGINT stop the process cleanly: no new firings, running
jobs finish and record their outcome, exit 0.

Besides one job per enabled schedule, other job kinds plug in as ``JobSpec``s via
``run_scheduler(extra_jobs=...)``: a deterministic cron trigger and a callable taking the
scheduled fire time. The alert check is one (``reporter.alerts.alert_jobs``, when the alert rule
file has a ``check`` cron); ``gpureport scheduler run`` builds it, so this module never imports
``reporter.alerts``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sqlalchemy import text

from agent.errors import RunError
from agent.periods import resolve_now
from reporter.cron import latest_fire
from reporter.digest import RenderFn
from reporter.jobs import JobSpec
from reporter.runner import run_schedule
from reporter.schedules import Schedule, load_schedules, period_for
from reporter.statedb import StateDB, open_state

if TYPE_CHECKING:  # pragma: no cover
    from apscheduler.schedulers.base import BaseScheduler

    from reporter.config import Config

log = logging.getLogger(__name__)

JOB_FUNC = "reporter.scheduler:fire"
JOBSTORE_TABLE = "apscheduler_jobs"
LEADER_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gpureport:scheduler:leader").digest()[:8],
                                 "big", signed=True)
CLAIM_RETENTION = timedelta(days=35)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Active:
    state: StateDB
    jobs: dict[str, JobSpec]
    holder: str


_ACTIVE: _Active | None = None


def fire(job_id: str) -> None:
    """What APScheduler stores by reference: claim this firing, then run the job's callable."""
    active = _ACTIVE
    spec = active.jobs.get(job_id) if active else None
    if active is None or spec is None:
        log.warning("job %s fired but is not configured in this process; ignored", job_id)
        return
    now = datetime.now(timezone.utc)
    fire_time = latest_fire(spec.trigger, now) or now
    claim = f"{job_id}@{fire_time.astimezone(timezone.utc).isoformat()}"
    try:
        won = active.state.claim(claim, active.holder, fire_time)
    except Exception as exc:  # noqa: BLE001 - the state database may be down; try next firing
        log.error("job %s: cannot claim firing %s: %s", job_id, fire_time.isoformat(), exc)
        return
    if not won:
        log.info("job %s: firing %s already taken by another replica", job_id,
                 fire_time.isoformat())
        return
    log.debug("job %s: claimed firing %s as %s", job_id, fire_time.isoformat(), active.holder)
    try:
        spec.run(fire_time)
    except Exception as exc:  # noqa: BLE001 - logged; APScheduler must keep scheduling
        log.error("job %s (%s) failed: %s", job_id, fire_time.isoformat(), exc)


def schedule_jobs(config: "Config", schedules: dict[str, Schedule], state: StateDB,
                  render: RenderFn | None = None) -> list[JobSpec]:
    """One job per enabled schedule; a firing runs the schedule for its fire time."""
    def make_run(schedule: Schedule) -> Callable[[datetime], Any]:
        def run(fire_time: datetime) -> None:
            try:
                result = run_schedule(config, schedule, now=fire_time, trigger="scheduler",
                                      render=render, state=state)
                log.info("%s", result.summary())
            except RunError as exc:
                log.error("%s %s: %s", schedule.name, fire_time.isoformat(), exc)
        return run

    return [JobSpec(f"schedule:{s.name}", s.trigger(), make_run(s), s.misfire_grace_s,
                    s.description) for s in schedules.values()
            if s.enabled and s.kind != "nudge"]  # nudge schedules: reporter.nudges.run.nudge_jobs


def _sync_jobs(scheduler: "BaseScheduler", jobs: Sequence[JobSpec]) -> None:
    """Make the persistent store hold exactly ``jobs``, keeping unchanged ones untouched."""
    wanted = {j.id: j for j in jobs}
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            log.info("removing job %s (no longer configured)", job.id)
            scheduler.remove_job(job.id)
    for spec in jobs:
        existing = scheduler.get_job(spec.id)
        if (existing is not None and repr(existing.trigger) == repr(spec.trigger)
                and existing.misfire_grace_time == spec.misfire_grace_s
                and existing.func_ref == JOB_FUNC and tuple(existing.args) == (spec.id,)):
            continue
        scheduler.add_job(JOB_FUNC, spec.trigger, args=[spec.id], id=spec.id,
                          name=spec.description or spec.id, replace_existing=True,
                          misfire_grace_time=spec.misfire_grace_s, coalesce=True,
                          max_instances=1)


class _Leader:
    """The PostgreSQL advisory lock that makes one replica the scheduling one.

    On SQLite (one host, one file) there is nothing to elect: ``acquire`` always succeeds and
    firing claims alone prevent double execution.
    """

    def __init__(self, state: StateDB) -> None:
        self.engine = state.engine
        self.pg = state.engine.dialect.name == "postgresql"
        self.conn: Any = None

    def acquire(self) -> bool:
        if not self.pg:
            return True
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                          {"k": LEADER_LOCK_KEY}).scalar())
        except Exception as exc:  # noqa: BLE001 - database down: stay standby and retry
            log.warning("cannot reach the state database for the leader lock: %s",
                        str(exc).splitlines()[0])
            self._drop()
            return False

    def alive(self) -> bool:
        if not self.pg:
            return True
        try:
            return bool(self.conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid()")).scalar())
        except Exception:  # noqa: BLE001 - connection gone = lock gone
            self._drop()
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK_KEY})
            except Exception:  # noqa: BLE001 - closing the connection releases it anyway
                pass
            self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
        self.conn = None


def _scheduler_class() -> type:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class _Scheduler(BackgroundScheduler):
        """APScheduler 3 runs one last ``_process_jobs`` after ``shutdown()`` has stopped the
        executors; a job due at that moment fails to submit and its next run time moves on, so
        the firing would be lost instead of being left for the next leader. Skip that pass."""

        def _process_jobs(self):  # type: ignore[override]
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()

    return _Scheduler


def _start_apscheduler(state: StateDB, jobs: Sequence[JobSpec], *,
                       paused: bool = False) -> "BaseScheduler":
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    scheduler = _scheduler_class()(
        jobstores={"default": SQLAlchemyJobStore(engine=state.engine, tablename=JOBSTORE_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=4)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=timezone.utc,
    )
    scheduler.start(paused=True)
    _sync_jobs(scheduler, jobs)
    if not paused:
        scheduler.resume()
    return scheduler


def run_scheduler(config: "Config", *, render: RenderFn | None = None,
                  poll_interval: float = 10.0, stop: threading.Event | None = None,
                  state: StateDB | None = None, extra_jobs: Sequence[JobSpec] = ()) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set). Returns the exit code (0).

    ``state``: the state database to use (the caller keeps it open and closes it); by default
    the configured one is opened here and closed on the way out. ``extra_jobs`` are fired
    besides the schedules (the alert check).
    """
    global _ACTIVE
    schedules = load_schedules(config.schedules_dir)
    own_state = state is None
    state = state or open_state(config.state.database_url)
    stop = stop or threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    holder = holder_id()
    leader = _Leader(state)
    try:
        jobs = [*schedule_jobs(config, schedules, state, render), *extra_jobs]
        _ACTIVE = _Active(state, {j.id: j for j in jobs}, holder)
        standby_logged = False
        while not stop.is_set():
            if not leader.acquire():
                if not standby_logged:
                    log.info("standby: another replica holds the scheduler lock (%s)", holder)
                    standby_logged = True
                stop.wait(poll_interval)
                continue
            standby_logged = False
            log.info("scheduling %d job(s) as %s: %s", len(jobs), holder,
                     ", ".join(j.id for j in jobs) or "none")
            state.prune_claims(datetime.now(timezone.utc) - CLAIM_RETENTION)
            scheduler = _start_apscheduler(state, jobs)
            try:
                while not stop.wait(poll_interval):
                    if not leader.alive():
                        log.warning("lost the scheduler lock; stopping and returning to standby")
                        break
            finally:
                log.info("stopping: waiting for running jobs to finish")
                scheduler.shutdown(wait=True)
                leader.release()
        log.info("scheduler stopped")
        return 0
    finally:
        _ACTIVE = None
        _restore_signal_handlers(previous_handlers)
        leader.release()
        if own_state:
            state.close()


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: Any) -> None:
        log.info("%s received", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, h in previous.items():
        signal.signal(sig, h)


@dataclass(frozen=True)
class NextFire:
    schedule: Schedule
    next_fire: datetime | None  # in the schedule's time zone
    period_label: str | None    # what that firing will cover


def next_fires(schedules: dict[str, Schedule], now: datetime | None = None) -> list[NextFire]:
    """Each schedule's next firing after ``now`` (``scheduler list``), soonest first."""
    now = resolve_now(now)
    out = []
    for s in schedules.values():
        t = s.next_fire(now)
        out.append(NextFire(s, t, period_for(s, t).label if t else None))
    far = datetime.max.replace(tzinfo=timezone.utc)
    return sorted(out, key=lambda n: (not n.schedule.enabled, n.next_fire or far, n.schedule.name))


__all__ = ["JobSpec", "NextFire", "fire", "next_fires", "run_scheduler", "schedule_jobs",
           "holder_id"]
