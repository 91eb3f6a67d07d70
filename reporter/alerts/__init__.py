"""Alerting: evaluate ``alerts.yaml`` rules over the data source, keep state, notify channels.

One check (``run_check``), in this order:

1. Load and validate the rule file (``loading.load_rules`` into the ``models``; ``RulesError``
   names file and field).
2. Evaluate every enabled rule through the data source (``evaluators.evaluate`` over a
   ``dataview.DataView``: grouped SQL via the Source methods and ``agent.figures``, never rows
   pulled into Python to be summed).
3. Under the check lock, ``state.reconcile`` moves each alert instance between pending, firing
   and resolved, and the new state is written (one transaction) *before* anything is sent.
4. ``state.due_notifications`` says what each channel owes (new firing, repeat interval reached,
   resolve, or a retry of an earlier failure); ``channels.deliver`` sends per channel; every
   attempt is recorded in ``alert_notifications``. A crash between sending and recording sends
   that notification again at the next check: delivery is at-least-once.

``--dry-run`` does steps 1–4 without writing state and without sending: it reports what would
change and what would be sent. All times come from ``now`` (``--now``/``GPUREPORT_NOW``, or the
scheduler's fire time) so checks are reproducible; only Alertmanager timestamps use the wall
clock (see ``channels``).

``alert_jobs`` turns the rule file's ``check.cron`` into one more scheduler job that runs a
check at each firing; ``gpureport scheduler run`` hands it to ``run_scheduler(extra_jobs=...)``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent.errors import AlertsBusy, RulesError
from agent.periods import iso
from agent.sources import make_source
from agent.sources.base import Source
from reporter import metrics
from reporter.alerts.channels import SendContext, deliver
from reporter.alerts.dataview import DataView
from reporter.alerts.evaluators import evaluate
from reporter.alerts.findings import Evaluation
from reporter.alerts.loading import load_rules, rules_path
from reporter.alerts.models import AlertsFile
from reporter.alerts.state import (KEEP_RESOLVED, AlertRow, AlertStore, Change, Due,
                                   NotificationRow, due_notifications, needs_history, reconcile)
from reporter.cron import cron_trigger
from reporter.jobs import JobSpec
from reporter.statedb import open_state

if TYPE_CHECKING:  # pragma: no cover
    from reporter.config import Config
    from reporter.statedb import StateDB

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    """The outcome of one due notification on one channel."""

    fingerprint: str
    rule: str
    where: str
    summary: str
    channel_name: str
    channel_type: str
    target: str  # masked for URLs
    kind: str
    retry: bool
    error: str | None = None
    status: str = "sent"  # sent | failed | planned (dry run)


@dataclass
class CheckResult:
    now: datetime
    rules_file: Path
    dry_run: bool
    evaluations: list[Evaluation] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    active: list[AlertRow] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        out = [f"rule {e.rule}: {e.error}" for e in self.evaluations if e.error]
        out += [f"{d.channel_name} ({d.channel_type}) {d.kind} for {d.rule} {d.where}: "
                f"{d.error}" for d in self.deliveries if d.status == "failed"]
        return out

    @property
    def exit_code(self) -> int:
        """1 when a rule could not be evaluated or a notification failed (it is retried at the
        next check) — a CronJob should show that; 0 otherwise."""
        return 1 if self.errors else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": iso(self.now), "rules_file": str(self.rules_file), "dry_run": self.dry_run,
            "rules": [{"rule": e.rule, "findings": len(e.findings), "error": e.error,
                       "covered": sorted(e.covered), "skipped": e.skipped}
                      for e in self.evaluations],
            "changes": [{"fingerprint": c.fingerprint, "rule": c.rule, "where": c.where,
                         "from": c.before, "to": c.after} for c in self.changes],
            "notifications": [{"fingerprint": d.fingerprint, "rule": d.rule, "where": d.where,
                               "channel": d.channel_name, "type": d.channel_type,
                               "target": d.target, "kind": d.kind, "retry": d.retry,
                               "status": d.status, "error": d.error}
                              for d in self.deliveries],
            "active": [alert_dict(r) for r in self.active],
            "errors": self.errors,
        }

    def lines(self) -> list[str]:
        """Human summary for the terminal."""
        out = []
        n_find = sum(len(e.findings) for e in self.evaluations)
        prefix = "dry run: " if self.dry_run else ""
        out.append(f"{prefix}{len(self.evaluations)} rule(s) evaluated at "
                   f"{self.now.astimezone(timezone.utc):%Y-%m-%d %H:%M UTC}, "
                   f"{n_find} condition(s) holding")
        for e in self.evaluations:
            if e.error:
                out.append(f"  ! {e.rule}: not evaluated: {e.error}")
            for cluster, why in sorted(e.skipped.items()):
                out.append(f"  - {e.rule}: {cluster} not evaluated ({why})")
        for c in self.changes:
            out.append(f"  {c.before or 'new'} -> {c.after}: {c.rule} {c.where}")
        for d in self.deliveries:
            tag = {"sent": "sent", "failed": "FAILED", "planned": "would send"}[d.status]
            again = " (retry)" if d.retry else ""
            err = f": {d.error}" if d.error else ""
            out.append(f"  {tag} {d.kind}{again} via {d.channel_name} ({d.channel_type} "
                       f"{d.target}): {d.rule} {d.where}{err}")
        if not self.changes and not self.deliveries:
            out.append("  nothing changed, nothing to send")
        return out


def alert_dict(row: AlertRow) -> dict[str, Any]:
    return {"fingerprint": row.fingerprint, "rule": row.rule, "severity": row.severity,
            "status": row.status, "labels": row.labels, "value": row.value,
            "summary": row.annotations.get("summary"),
            "description": row.annotations.get("description"),
            "drilldown": row.annotations.get("drilldown"),
            "figures": row.annotations.get("figures") or {},
            "first_seen_at": iso(row.first_seen_at), "started_at": iso(row.started_at),
            "last_notified_at": iso(row.last_notified_at), "resolved_at": iso(row.resolved_at)}


def load_for(config: "Config | None",
             rules_file: str | Path | None = None) -> tuple[Path, AlertsFile]:
    """(path, validated rules) of the rule file that applies (see ``loading.rules_path``)."""
    path = rules_path(str(rules_file) if rules_file else None, config)
    return path, load_rules(path)


def run_check(config: "Config", *, now: datetime, rules_file: str | Path | None = None,
              dry_run: bool = False, source: Source | None = None,
              state: "StateDB | None" = None,
              wall_now: Callable[[], datetime] | None = None,
              sleep: Callable[[float], None] | None = None) -> CheckResult:
    """One ``alerts check`` (see the module docstring). Raises ``RulesError``,
    ``StateError``, ``AlertsBusy``; data-source failures are per rule, in the result."""
    now = now.astimezone(timezone.utc)
    path, rules = load_for(config, rules_file)
    result = CheckResult(now=now, rules_file=path, dry_run=dry_run)

    own_source = source is None
    if own_source:
        source = make_source(config.source)
    try:
        view = DataView(source, now, rules.defaults.stale_after)
        result.evaluations = [evaluate(r, view) for r in rules.rules if r.enabled]
    finally:
        if own_source:
            source.close()

    own_state = state is None
    if own_state:
        state = open_state(config.state.database_url)
    try:
        store = AlertStore(state)
        with store.lock():
            rows = store.load()
            before = {fp: (r.status, r.updated_at) for fp, r in rows.items()}
            result.changes = reconcile(rows, result.evaluations, rules, now)
            touched = [r for fp, r in rows.items()
                       if fp not in before or before[fp] != (r.status, r.updated_at)]
            if not dry_run:
                if touched:
                    store.save(touched)
                store.prune(now - KEEP_RESOLVED)
            history = store.history(fp for fp, r in rows.items() if needs_history(r, now))
            dues = due_notifications(rows.values(), rules, history, now)
            result.deliveries = _send(dues, config, now, store, dry_run, wall_now, sleep)
            result.active = sorted((r for r in rows.values() if r.status != "resolved"),
                                   key=lambda r: (r.status != "firing", r.rule, r.where))
    finally:
        if own_state:
            state.close()
    for line in result.errors:
        log.debug("alerts check: %s", line)
    return result


def _send(dues: list[Due], config: "Config", now: datetime, store: AlertStore, dry_run: bool,
          wall_now: Callable[[], datetime] | None,
          sleep: Callable[[float], None] | None) -> list[Delivery]:
    by_channel: dict[str, list[Due]] = defaultdict(list)
    for d in dues:
        by_channel[d.channel_name].append(d)
    ctx = SendContext(smtp=config.smtp, public_url=config.public_url, now=now)
    if wall_now is not None:
        ctx.wall_now = wall_now
    if sleep is not None:
        ctx.sleep = sleep
    out: list[Delivery] = []
    for name in sorted(by_channel):
        batch = by_channel[name]
        channel = batch[0].channel
        errors = [None] * len(batch) if dry_run else deliver(channel, batch, ctx)
        notes, notified = [], {}
        for d, err in zip(batch, errors):
            status = "planned" if dry_run else ("failed" if err else "sent")
            out.append(Delivery(d.row.fingerprint, d.row.rule, d.row.where, d.row.summary, name,
                                channel.type, channel.target(), d.kind, d.retry, err, status))
            if dry_run:
                continue
            metrics.record_delivery(channel.type, "failed" if err else "sent")
            if not err:
                metrics.record_alert_notification(d.row.rule, d.kind)
            notes.append(NotificationRow(d.row.fingerprint, channel.type, d.kind,
                                         "failed" if err else "sent", now, err))
            if not err and d.kind != "resolved":
                notified[d.row.fingerprint] = now
                d.row.last_notified_at = now
        if notes:
            store.record(notes, notified)  # per channel: a later crash keeps earlier records
    return out


def list_alerts(config: "Config", *, include_resolved: bool = False,
                state: "StateDB | None" = None) -> list[dict[str, Any]]:
    """Current alert state (firing first), each with its latest delivery per channel type."""
    own = state is None
    if own:
        state = open_state(config.state.database_url)
    try:
        store = AlertStore(state)
        rows = [r for r in store.load().values() if include_resolved or r.status != "resolved"]
        history = store.history(r.fingerprint for r in rows)
    finally:
        if own:
            state.close()
    order = {"firing": 0, "pending": 1, "resolved": 2}
    out = []
    for r in sorted(rows, key=lambda r: (order.get(r.status, 9), r.rule, r.where)):
        d = alert_dict(r)
        latest: dict[str, dict[str, Any]] = {}
        for (fp, channel), notes in history.items():
            if fp != r.fingerprint:
                continue
            notes = [n for n in notes if n.at >= r.first_seen_at]
            if notes:
                n = notes[-1]
                latest[channel] = {"kind": n.kind, "status": n.status, "error": n.error,
                                   "at": iso(n.at)}
        d["deliveries"] = latest
        out.append(d)
    return out


def alert_jobs(config: "Config", state: "StateDB") -> list[JobSpec]:
    """``check.cron`` of the rule file -> one ``JobSpec`` running a check (on ``state``).

    No rule file, no ``check`` section or ``check.enabled: false`` -> no job. An invalid rule
    file raises ``RulesError`` so ``scheduler run`` fails at start, like a bad schedule.
    """
    try:
        path, rules = load_for(config)
    except RulesError as exc:
        if str(exc).startswith("no alert rule file"):
            return []
        raise
    if rules.check is None or not rules.check.enabled:
        return []

    def run(fire_time: datetime) -> None:
        try:
            result = run_check(config, now=fire_time, state=state)
        except AlertsBusy as exc:
            log.info("%s", exc)
            return
        except RulesError as exc:
            log.error("alerts check: %s", exc)
            return
        for line in result.lines():
            log.info("%s", line)

    return [JobSpec("alerts:check", cron_trigger(rules.check.cron, rules.check.timezone), run,
                    rules.check.misfire_grace_s, f"alerts check ({path.name})")]


__all__ = ["run_check", "list_alerts", "alert_jobs", "CheckResult", "Delivery", "RulesError",
           "load_for", "alert_dict"]
