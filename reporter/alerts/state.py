"""Alert state: pending → firing → resolved per fingerprint, and which notifications are due.

The state lives in the state database (``alert_state``, one row per fingerprint, and
``alert_notifications``, one row per delivery attempt), so that checks run by a CronJob, the
scheduler or a person at a terminal all continue the same story.

The life of an alert instance (``reconcile``):

* A finding without a row, or whose row is ``resolved``, starts a new *episode*:
  ``first_seen_at = now``, status ``pending`` — or ``firing`` at once when the rule's ``for``
  is 0.
* ``pending`` becomes ``firing`` (``started_at = now``) at the first check at which the
  condition has held for ``for`` (``now − first_seen_at >= for``), across checks.
* A ``pending``/``firing`` row whose finding is gone becomes ``resolved`` (``resolved_at``) —
  but only where its rule was really evaluated: a rule whose query failed, or a cluster whose
  data is stale, keeps its state (see ``rules.py``). Rows of a rule that was removed from the
  file or disabled are resolved too, with ``annotations.resolved_reason`` saying so.

What is due on each channel of the rule (``due_notifications``), from the notification rows of
the current episode (``at >= first_seen_at``) for that fingerprint and channel type:

* firing, nothing sent yet → ``firing`` (again, if the earlier attempt failed: that is the retry);
* firing, last successful firing/repeat at least ``repeat_interval`` ago → ``repeat``;
* resolved, a firing/repeat was sent in this episode and no ``resolved`` yet → ``resolved``.
  Instances that never got a firing notification out resolve silently. Resolve notifications
  are retried for ``RESOLVE_RETRY_FOR`` (7 days) after the resolve, then given up.

Resolved rows are deleted 30 days after their resolve (``KEEP_RESOLVED``; the notification
rows stay as history). A failed delivery is a row with status ``failed``; it changes nothing
else, so the next check finds the same notification due and tries again. Other channels are
independent.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from sqlalchemy import and_, delete, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import AlertsBusy, StateError
from agent.text import mask_url, one_line
from reporter.statedb.claims import Heartbeat, acquire_lease, release_lease, renew_lease
from reporter.statedb.models import alert_notifications, alert_state

if TYPE_CHECKING:  # pragma: no cover
    from reporter.alerts.findings import Evaluation
    from reporter.alerts.models import AlertsFile
    from reporter.statedb import StateDB

RESOLVE_RETRY_FOR = timedelta(days=7)
KEEP_RESOLVED = timedelta(days=30)
CHECK_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gpureport:alerts:check").digest()[:8],
                                "big", signed=True)
CHECK_LEASE = "alerts:check"  # the lease row standing in for CHECK_LOCK_KEY on SQLite
CHECK_LEASE_S = 120.0


@dataclass
class AlertRow:
    """One ``alert_state`` row (times aware UTC)."""

    fingerprint: str
    rule: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    value: float | None
    status: str  # pending | firing | resolved
    first_seen_at: datetime
    started_at: datetime | None = None
    last_notified_at: datetime | None = None
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    stored: bool = field(default=False, repr=False)  # a row with this key exists in the DB

    @property
    def where(self) -> str:
        """``cluster/namespace/workload`` (whichever labels the alert has; an anomaly's
        metric too: one namespace may be unusual in utilization and in allocated GPUs)."""
        return "/".join(self.labels[k] for k in ("cluster", "namespace", "workload", "metric")
                        if self.labels.get(k))

    @property
    def summary(self) -> str:
        return str(self.annotations.get("summary") or self.rule)


@dataclass(frozen=True)
class NotificationRow:
    fingerprint: str
    channel: str  # channel type: email | webhook | alertmanager
    kind: str  # firing | repeat | resolved
    status: str  # sent | failed
    at: datetime
    error: str | None = None
    id: int = 0


@dataclass(frozen=True)
class Change:
    fingerprint: str
    rule: str
    where: str
    before: str | None
    after: str


@dataclass
class Due:
    """A notification to send now: ``kind`` of ``row`` on the rule's channel ``channel_name``."""

    row: AlertRow
    kind: str
    channel_name: str
    channel: Any
    retry: bool = False
    repeat_interval: timedelta = timedelta(hours=4)


# --------------------------------------------------------------------------------------------
# pure logic
def reconcile(rows: dict[str, AlertRow], evaluations: Iterable["Evaluation"],
              rules: "AlertsFile", now: datetime) -> list[Change]:
    """Apply this check's findings to ``rows`` in place; return what changed status."""
    changes: list[Change] = []
    enabled = {r.name: r for r in rules.rules if r.enabled}
    for ev in evaluations:
        if ev.error is not None or ev.rule not in enabled:
            continue
        rule = enabled[ev.rule]
        seen: set[str] = set()
        for f in ev.findings:
            fp = f.fingerprint
            seen.add(fp)
            row = rows.get(fp)
            if row is None or row.status == "resolved":
                before = row.status if row is not None else None
                stored = row.stored if row is not None else False
                row = AlertRow(fp, f.rule, f.severity, dict(f.labels), f.annotations(), f.value,
                               "pending", first_seen_at=now, updated_at=now, stored=stored)
                rows[fp] = row
                changes.append(Change(fp, f.rule, row.where, before, "pending"))
            else:
                row.severity, row.labels = f.severity, dict(f.labels)
                row.annotations, row.value, row.updated_at = f.annotations(), f.value, now
            if row.status == "pending" and now - row.first_seen_at >= rule.for_:
                row.status, row.started_at = "firing", now
                if changes and changes[-1].fingerprint == fp and changes[-1].after == "pending":
                    changes[-1] = replace(changes[-1], after="firing")
                else:
                    changes.append(Change(fp, row.rule, row.where, "pending", "firing"))
        for row in rows.values():
            if row.rule != ev.rule or row.status == "resolved" or row.fingerprint in seen:
                continue
            if row.labels.get("cluster") in ev.skipped:
                continue  # not evaluated there (stale data): keep the state
            _resolve(row, now, changes)

    for row in rows.values():
        if row.status != "resolved" and row.rule not in enabled:
            reason = "rule disabled" if rules.rule(row.rule) else "rule removed"
            row.annotations = {**row.annotations, "resolved_reason": reason}
            _resolve(row, now, changes)
    return changes


def _resolve(row: AlertRow, now: datetime, changes: list[Change]) -> None:
    changes.append(Change(row.fingerprint, row.rule, row.where, row.status, "resolved"))
    row.status, row.resolved_at, row.updated_at = "resolved", now, now


def needs_history(row: AlertRow, now: datetime) -> bool:
    """Whether ``due_notifications`` looks at this row's notification history at all."""
    return row.status == "firing" or (row.status == "resolved" and row.resolved_at is not None
                                      and now - row.resolved_at <= RESOLVE_RETRY_FOR)


def due_notifications(rows: Iterable[AlertRow], rules: "AlertsFile",
                      history: dict[tuple[str, str], list[NotificationRow]],
                      now: datetime) -> list[Due]:
    """What to send now, per (alert, channel); see the module docstring."""
    out: list[Due] = []
    for row in rows:
        rule = rules.rule(row.rule)
        if rule is None or not needs_history(row, now):
            continue
        interval = rules.repeat_interval(rule)
        for name, channel in rules.rule_channels(rule).items():
            notes = [n for n in history.get((row.fingerprint, channel.type), [])
                     if n.at >= row.first_seen_at]
            sent_firing = [n for n in notes if n.status == "sent" and n.kind != "resolved"]
            failed = any(n.status == "failed" for n in notes)
            if row.status == "firing":
                if not sent_firing:
                    out.append(Due(row, "firing", name, channel, failed, interval))
                elif now - sent_firing[-1].at >= interval:
                    retry = any(n.status == "failed" and n.at > sent_firing[-1].at for n in notes)
                    out.append(Due(row, "repeat", name, channel, retry, interval))
            elif sent_firing and not any(n.kind == "resolved" and n.status == "sent"
                                         for n in notes):
                retry = any(n.kind == "resolved" and n.status == "failed" for n in notes)
                out.append(Due(row, "resolved", name, channel, retry, interval))
    return out


# --------------------------------------------------------------------------------------------
# the database
class AlertStore:
    """Reads and writes ``alert_state`` / ``alert_notifications`` through a ``StateDB``."""

    def __init__(self, db: "StateDB") -> None:
        self.db = db

    def _wrap(self, fn):
        try:
            return fn()
        except SQLAlchemyError as exc:
            raise StateError(f"state database {mask_url(self.db.url)}: {one_line(exc)}") from None

    def load(self) -> dict[str, AlertRow]:
        t = alert_state

        def go() -> dict[str, AlertRow]:
            with self.db.engine.connect() as conn:
                return {r.fingerprint: AlertRow(
                    r.fingerprint, r.rule, r.severity, dict(r.labels or {}),
                    dict(r.annotations or {}), r.value, r.status, r.first_seen_at, r.started_at,
                    r.last_notified_at, r.resolved_at, r.updated_at, stored=True)
                    for r in conn.execute(select(t))}
        return self._wrap(go)

    def save(self, rows: Iterable[AlertRow]) -> None:
        """Insert or update the given rows in one transaction."""
        t = alert_state
        rows = list(rows)

        def go() -> None:
            with self.db.engine.begin() as conn:
                for r in rows:
                    values = dict(rule=r.rule, severity=r.severity, labels=r.labels,
                                  annotations=r.annotations, value=r.value, status=r.status,
                                  first_seen_at=r.first_seen_at, started_at=r.started_at,
                                  last_notified_at=r.last_notified_at, resolved_at=r.resolved_at,
                                  updated_at=r.updated_at or r.first_seen_at)
                    if r.stored:
                        conn.execute(update(t).where(t.c.fingerprint == r.fingerprint)
                                     .values(**values))
                    else:
                        conn.execute(insert(t).values(fingerprint=r.fingerprint, **values))
            for r in rows:
                r.stored = True
        self._wrap(go)

    def history(self, fingerprints: Iterable[str]) -> dict[tuple[str, str], list[NotificationRow]]:
        """Notification rows of these alerts, oldest first, by (fingerprint, channel type)."""
        n = alert_notifications
        fps = sorted(set(fingerprints))
        out: dict[tuple[str, str], list[NotificationRow]] = {}

        def go() -> None:
            with self.db.engine.connect() as conn:
                for i in range(0, len(fps), 500):
                    q = (select(n).where(n.c.fingerprint.in_(fps[i:i + 500]))
                         .order_by(n.c.at, n.c.id))
                    for r in conn.execute(q):
                        out.setdefault((r.fingerprint, r.channel), []).append(NotificationRow(
                            r.fingerprint, r.channel, r.kind, r.status, r.at, r.error, r.id))
        self._wrap(go)
        return out

    def record(self, notes: Iterable[NotificationRow], notified: dict[str, datetime]) -> None:
        """Delivery attempts, and ``last_notified_at`` of the alerts that got one out."""
        n = alert_notifications
        t = alert_state
        notes = list(notes)

        def go() -> None:
            with self.db.engine.begin() as conn:
                for note in notes:
                    conn.execute(insert(n).values(fingerprint=note.fingerprint,
                                                  channel=note.channel, kind=note.kind,
                                                  status=note.status, error=note.error,
                                                  at=note.at))
                for fp, at in notified.items():
                    conn.execute(update(t).where(t.c.fingerprint == fp)
                                 .values(last_notified_at=at))
        self._wrap(go)

    def prune(self, resolved_before: datetime) -> int:
        """Forget alerts resolved before ``resolved_before`` (their notification rows stay as
        history). Workload names come and go, so without this the table only grows."""
        t = alert_state

        def go() -> int:
            with self.db.engine.begin() as conn:
                res = conn.execute(delete(t).where(and_(t.c.status == "resolved",
                                                        t.c.resolved_at < resolved_before)))
                return int(res.rowcount or 0)
        return self._wrap(go)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One ``alerts check`` at a time (a CronJob and a scheduler replica could overlap).

        Taken without waiting (``AlertsBusy`` if held). PostgreSQL: a session advisory lock on
        a dedicated connection (it dies with the session). SQLite has no such lock, and holding
        a write transaction for the whole check would stall every other writer (runs, claims)
        while notifications go out; so the lock is a row in ``leases`` with an expiry, taken in
        a ``BEGIN IMMEDIATE`` transaction and renewed by a heartbeat while the check runs. A
        check that was killed frees it when the lease runs out (``CHECK_LEASE_S``).
        """
        if self.db.engine.dialect.name != "postgresql":
            token, other = acquire_lease(self.db, CHECK_LEASE, CHECK_LEASE_S)
            if token is None:
                raise AlertsBusy(f"another `gpureport alerts check` is running ({other}); "
                                 "skipped")
            try:
                with Heartbeat(lambda: renew_lease(self.db, CHECK_LEASE, token, CHECK_LEASE_S),
                               CHECK_LEASE_S / 4, "the alert check lock"):
                    yield
            finally:
                release_lease(self.db, CHECK_LEASE, token)
            return

        conn = self._wrap(lambda: self.db.engine.connect()
                          .execution_options(isolation_level="AUTOCOMMIT"))
        try:
            got = self._wrap(lambda: conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                                  {"k": CHECK_LOCK_KEY}).scalar())
            if not got:
                raise AlertsBusy("another `gpureport alerts check` is running; skipped")
            try:
                yield
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": CHECK_LOCK_KEY})
                except Exception:  # noqa: BLE001 - closing the connection releases it too
                    pass
        finally:
            conn.close()


__all__ = ["AlertRow", "NotificationRow", "Change", "Due", "AlertStore", "AlertsBusy",
           "reconcile", "due_notifications", "needs_history", "RESOLVE_RETRY_FOR",
           "KEEP_RESOLVED"]
