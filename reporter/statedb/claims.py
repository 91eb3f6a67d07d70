"""Who delivers a (schedule, period): a claim with a lease, taken before anything is rendered.

Four ``gpureport run`` processes started together (a CronJob retry, the scheduler, a person at a
terminal) must send one digest, on SQLite as on PostgreSQL. A check of "was it delivered?"
followed by a send cannot promise that; an atomic insert can. The ``delivery_claims`` row of a
(schedule, period) says who delivers it and how far they got:

``held``       run N of pid P on host H is working on it until ``lease_expires_at``; the holder
               renews the lease while it works (``Heartbeat``). ``phase`` is ``sending`` from
               the moment before the SMTP DATA command on.
``delivered``  the server accepted the message. Later runs are ``skipped`` (``--force``: a new
               claim generation, a new Message-ID).
``uncertain``  the connection failed after DATA, or the holder died in the ``sending`` phase:
               the message may or may not have arrived. Later runs do not resend it without
               ``--force``; the operator checks the mailbox for the Message-ID first.
``released``   the holder failed before DATA (rendering, connection refused, SIGTERM): nothing
               was sent, so the next run takes the claim at once.

``claim_delivery`` decides in one transaction, and writes the run record (``running`` or
``skipped``) in the same one: ``SELECT … FOR UPDATE`` on PostgreSQL (every transaction is
``BEGIN IMMEDIATE`` on SQLite, which serializes writers); a first claim is an ``INSERT``
against the unique key (schedule, period_start, period_end), and the loser of two concurrent
inserts looks again. A held claim whose lease has expired (its holder was killed, its node
lost) is taken over with a compare-and-swap on (run, status, lease): the dead run is closed
``failed`` with the reason and ``takeovers`` counts it.

Why a renewal thread and not renewals at each step: one step can outlast any lease —
rendering a large report, or SMTP retries with backoff (four 30 s timeouts). A daemon thread
renews every ``lease / 4`` whatever the main thread is doing; a process that is killed or
frozen stops renewing, which is exactly what should let another take over. The runner also
renews synchronously right before DATA (``enter_sending``) and refuses to send if the claim was
lost meanwhile.

``leases`` are the same idea without a period key: a named exclusive lock with an expiry,
used for the alert check on SQLite (PostgreSQL has advisory locks that die with the session).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Literal, Sequence

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from agent.errors import StateError
from agent.periods import utc
from agent.text import mask_url, one_line
from reporter.statedb import StateDB, utcnow
from reporter.statedb.models import deliveries, delivery_claims as claims, leases, runs

log = logging.getLogger(__name__)

DEFAULT_LEASE_S = 120.0
_ATTEMPTS = 8  # concurrent first inserts / lost compare-and-swaps before giving up


@dataclass(frozen=True)
class Holder:
    """The process holding a claim, as an operator would look for it."""

    pid: int
    host: str

    @classmethod
    def current(cls) -> "Holder":
        return cls(os.getpid(), socket.gethostname())

    def __str__(self) -> str:
        return f"pid {self.pid} on host {self.host}"


@dataclass(frozen=True)
class RunSpec:
    """The run record a claim attempt writes (``running`` if it wins, ``skipped`` if not)."""

    schedule: str
    kind: str
    period_start: datetime
    period_end: datetime
    trigger: str = "cli"
    recipients: Sequence[str] = ()
    forced: bool = False
    team: str = ""  # a fan-out schedule claims each team's digest on its own
    label: str = ""  # the period as every other line says it ("2026-W47"); else its start

    def named(self) -> str:
        """"weekly-digest 2026-W47" (+ " team ml-team"): how the run result's line starts, so
        a log line and the result line name the same thing the same way."""
        period = self.label or _when(self.period_start)
        return f"{self.schedule} {period}" + (f" team {self.team}" if self.team else "")


@dataclass(frozen=True)
class Claim:
    """A claim this process holds: run ``run_id`` delivers generation ``generation``."""

    id: int
    run_id: int
    generation: int
    lease_s: float
    took_over: int | None = None  # the run of a dead holder this claim was taken from


@dataclass(frozen=True)
class Refused:
    """The claim was not taken; ``run_id`` is the ``skipped`` run recorded for this attempt."""

    reason: Literal["busy", "delivered", "uncertain"]
    run_id: int
    by_run: int
    holder: Holder | None = None
    lease_expires_at: datetime | None = None
    message_id: str | None = None


def _when(dt: datetime) -> str:
    return utc(dt).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Lost(Exception):
    """A compare-and-swap found the row changed under it: look again."""


def _wrap(db: StateDB, fn: Callable[[], object]) -> object:
    try:
        return fn()
    except (StateError, IntegrityError):
        raise  # IntegrityError: a concurrent first claim; the caller looks again
    except SQLAlchemyError as exc:
        raise StateError(f"state database {mask_url(db.url)}: {one_line(exc)}") from None


# --------------------------------------------------------------------------------------------
# claiming
def claim_delivery(db: StateDB, spec: RunSpec, *, force: bool = False,
                   holder: Holder | None = None, lease_s: float = DEFAULT_LEASE_S,
                   now: datetime | None = None) -> Claim | Refused:
    """Take the claim of ``spec``'s (schedule, period) or say who has it (module docstring)."""
    holder = holder or Holder.current()
    for _ in range(_ATTEMPTS):
        try:
            def attempt() -> Claim | Refused:
                with db.engine.begin() as conn:
                    return _claim(conn, spec, force, holder, lease_s, now or utcnow())
            return _wrap(db, attempt)  # type: ignore[return-value]
        except (IntegrityError, _Lost):
            continue  # another process inserted or moved the claim first: look again
    raise StateError(f"state database {mask_url(db.url)}: could not claim {spec.schedule} "
                     f"after {_ATTEMPTS} attempts (the claim row kept changing)")


def _key(spec: RunSpec):
    return and_(claims.c.schedule == spec.schedule, claims.c.period_start == spec.period_start,
                claims.c.period_end == spec.period_end, claims.c.team == spec.team)


def _run(conn: Connection, spec: RunSpec, status: str = "running",
         error: str | None = None) -> int:
    return StateDB.insert_run(conn, schedule=spec.schedule, kind=spec.kind,
                              period_start=spec.period_start, period_end=spec.period_end,
                              trigger=spec.trigger, forced=spec.forced,
                              recipients=spec.recipients, status=status, error=error,
                              team=spec.team)


def _claim(conn: Connection, spec: RunSpec, force: bool, holder: Holder, lease_s: float,
           now: datetime) -> Claim | Refused:
    lease = now + timedelta(seconds=lease_s)
    query = select(claims).where(_key(spec))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()

    if row is None:
        earlier = _legacy_delivery(conn, spec)  # delivered before claims existed
        if earlier is not None and not force:
            run_id = _run(conn, spec, "skipped")
            conn.execute(insert(claims).values(
                schedule=spec.schedule, period_start=spec.period_start, team=spec.team,
                period_end=spec.period_end, generation=1, status="delivered", phase="sending",
                run_id=earlier.id, pid=holder.pid, host=holder.host,
                message_id=earlier.message_id, lease_expires_at=now, takeovers=0,
                claimed_at=now, updated_at=now))
            return Refused("delivered", run_id, earlier.id, message_id=earlier.message_id)
        run_id = _run(conn, spec)
        _close_orphans(conn, spec, run_id, now)
        claim_id = conn.execute(insert(claims).values(
            schedule=spec.schedule, period_start=spec.period_start, period_end=spec.period_end,
            team=spec.team, generation=2 if earlier is not None else 1, status="held", phase="preparing",
            run_id=run_id, pid=holder.pid, host=holder.host, message_id=None,
            lease_expires_at=lease, takeovers=0, claimed_at=now, updated_at=now,
        ).returning(claims.c.id)).scalar_one()
        return Claim(int(claim_id), run_id, 2 if earlier is not None else 1, lease_s)

    was = Holder(row.pid, row.host)
    generation, took_over, takeovers = row.generation, None, row.takeovers
    if row.status == "held" and row.lease_expires_at > now:
        run_id = _run(conn, spec, "skipped")
        return Refused("busy", run_id, row.run_id, was, row.lease_expires_at)
    if row.status == "held" and row.phase == "sending":
        # died after it began DATA: the server may have the message
        note = (f"uncertain: the process ({was}) stopped after the message data was sent "
                f"(lease expired {_when(row.lease_expires_at)}); it may or may not have "
                f"been delivered")
        _close_run(conn, row.run_id, "uncertain", note, now, message_id=row.message_id,
                   uncertain=True)
        _swap(conn, row, now, status="uncertain", updated_at=now)
        if not force:
            return Refused("uncertain", _run(conn, spec, "skipped"), row.run_id,
                           message_id=row.message_id)
        row = conn.execute(select(claims).where(claims.c.id == row.id)).one()
        generation += 1
    elif row.status == "held":
        took_over, takeovers = row.run_id, takeovers + 1
    elif row.status in ("delivered", "uncertain"):
        if not force:
            return Refused(row.status, _run(conn, spec, "skipped"), row.run_id,
                           message_id=row.message_id)
        generation += 1
    # released, expired, or forced: this run takes it
    run_id = _run(conn, spec)
    if took_over is not None:
        _close_run(conn, took_over, "failed",
                   f"abandoned: its claim lease expired {_when(row.lease_expires_at)} "
                   f"({was} stopped renewing it); taken over by run #{run_id}", now)
        log.warning("%s: run #%s (%s) stopped renewing its claim; run #%s takes over",
                    spec.named(), took_over, was, run_id)
    _close_orphans(conn, spec, run_id, now)
    _swap(conn, row, now, status="held", phase="preparing", run_id=run_id, pid=holder.pid,
          host=holder.host, message_id=None, generation=generation, lease_expires_at=lease,
          takeovers=takeovers, claimed_at=now, updated_at=now)
    return Claim(row.id, run_id, generation, lease_s, took_over)


def _swap(conn: Connection, row, now: datetime, **values) -> None:
    """Compare-and-swap: change the claim only if it is still what ``row`` read."""
    result = conn.execute(update(claims).where(and_(
        claims.c.id == row.id, claims.c.run_id == row.run_id, claims.c.status == row.status,
        claims.c.lease_expires_at == row.lease_expires_at)).values(**values))
    if result.rowcount != 1:
        raise _Lost()


def _legacy_delivery(conn: Connection, spec: RunSpec):
    return conn.execute(select(runs.c.id, runs.c.message_id).where(and_(
        runs.c.schedule == spec.schedule, runs.c.period_start == spec.period_start,
        runs.c.period_end == spec.period_end, runs.c.status == "succeeded",
        runs.c.team == spec.team, runs.c.dry_run.is_(False))).order_by(runs.c.id.desc()).limit(1)).first()


def _close_run(conn: Connection, run_id: int, status: str, note: str, now: datetime, *,
               message_id: str | None = None, uncertain: bool = False) -> None:
    conn.execute(update(runs).where(and_(runs.c.id == run_id, runs.c.status == "running"))
                 .values(status=status, finished_at=now, error=note,
                         message_id=message_id))
    if uncertain:
        target = ", ".join(conn.execute(select(runs.c.recipients)
                                        .where(runs.c.id == run_id)).scalar() or [])
        conn.execute(insert(deliveries).values(run_id=run_id, channel="email", target=target,
                                               status="uncertain", message_id=message_id,
                                               error=note, at=now))


def _close_orphans(conn: Connection, spec: RunSpec, run_id: int, now: datetime) -> None:
    """``running`` records of this period that no claim covers (written before claims existed,
    or by a process that died before it could claim) can never finish: close them."""
    conn.execute(update(runs).where(and_(
        runs.c.schedule == spec.schedule, runs.c.period_start == spec.period_start,
        runs.c.period_end == spec.period_end, runs.c.status == "running",
        runs.c.team == spec.team, runs.c.dry_run.is_(False), runs.c.id != run_id,
    )).values(status="failed", finished_at=now,
              error=f"abandoned: the process ended without recording a result "
                    f"(found by run #{run_id})"))


# --------------------------------------------------------------------------------------------
# holding
def renew(db: StateDB, claim: Claim, *, sending_message_id: str | None = None) -> bool:
    """Extend the lease; False if the claim is no longer this run's. With
    ``sending_message_id`` the claim also enters the ``sending`` phase (right before DATA)."""
    def go() -> bool:
        now = utcnow()
        values: dict[str, object] = {"lease_expires_at": now + timedelta(seconds=claim.lease_s),
                                     "updated_at": now}
        if sending_message_id is not None:
            values.update(phase="sending", message_id=sending_message_id)
        with db.engine.begin() as conn:
            result = conn.execute(update(claims).where(and_(
                claims.c.id == claim.id, claims.c.run_id == claim.run_id,
                claims.c.status == "held")).values(**values))
            return result.rowcount == 1
    return bool(_wrap(db, go))


def settle(claim: Claim, status: Literal["delivered", "uncertain", "released"]
           ) -> Callable[[Connection], None]:
    """What ``StateDB.finish_run(also=...)`` runs to close the claim with the run."""
    def apply(conn: Connection) -> None:
        result = conn.execute(update(claims).where(and_(
            claims.c.id == claim.id, claims.c.run_id == claim.run_id,
            claims.c.status == "held")).values(status=status, updated_at=utcnow()))
        if result.rowcount != 1:
            log.warning("run #%s finished (%s) after another run had taken over its claim; "
                        "the claim stays with that run", claim.run_id, status)
    return apply


class Heartbeat:
    """Calls ``renew()`` every ``interval`` seconds in a daemon thread until the block ends.

    ``renew`` returning False means the claim (or lease) is gone: ``lost`` is set and the
    thread stops. A state database that is briefly unreachable is logged and retried at the
    next beat; the lease is long enough to ride that out.
    """

    def __init__(self, renew: Callable[[], bool], interval: float, what: str) -> None:
        self._renew, self.interval, self.what = renew, interval, what
        self._stop = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {what}",
                                        daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self._renew():
                    log.warning("%s: lost (another process took it over)", self.what)
                    self.lost.set()
                    return
            except StateError as exc:
                log.warning("%s: could not renew the lease: %s", self.what, exc)


# --------------------------------------------------------------------------------------------
# named leases
def acquire_lease(db: StateDB, name: str, ttl_s: float, holder: Holder | None = None
                  ) -> tuple[str | None, str | None]:
    """(token, None) if this process now holds ``name``; (None, holder text) if another does."""
    holder = holder or Holder.current()
    token = uuid.uuid4().hex

    def go() -> tuple[str | None, str | None]:
        now = utcnow()
        with db.engine.begin() as conn:
            query = select(leases).where(leases.c.name == name)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is not None and row.expires_at > now:
                return None, row.holder
            if row is not None:
                conn.execute(delete(leases).where(and_(leases.c.name == name,
                                                       leases.c.token == row.token)))
            conn.execute(insert(leases).values(name=name, token=token, holder=str(holder),
                                               acquired_at=now,
                                               expires_at=now + timedelta(seconds=ttl_s)))
            return token, None
    for _ in range(_ATTEMPTS):
        try:
            return _wrap(db, go)  # type: ignore[return-value]
        except IntegrityError:
            continue
    return None, "another process"


def renew_lease(db: StateDB, name: str, token: str, ttl_s: float) -> bool:
    def go() -> bool:
        now = utcnow()
        with db.engine.begin() as conn:
            return conn.execute(update(leases).where(and_(
                leases.c.name == name, leases.c.token == token)).values(
                expires_at=now + timedelta(seconds=ttl_s))).rowcount == 1
    return bool(_wrap(db, go))


def release_lease(db: StateDB, name: str, token: str) -> None:
    def go() -> None:
        with db.engine.begin() as conn:
            conn.execute(delete(leases).where(and_(leases.c.name == name,
                                                   leases.c.token == token)))
    _wrap(db, go)


__all__ = ["Claim", "Refused", "Holder", "RunSpec", "Heartbeat", "claim_delivery", "renew",
           "settle", "acquire_lease", "renew_lease", "release_lease", "DEFAULT_LEASE_S"]
