"""Delivery claims and named leases in the state database, on SQLite and PostgreSQL.

The decisions of ``reporter.statedb.claims.claim_delivery`` one by one (first claim, a live
holder, delivered, uncertain, released, an expired lease taken over, a holder that died while
sending, ``--force``), the race of many claimers at once, and the migration from 0001 with data
in place. The end-to-end behaviour with real processes is tests/test_overlap.py.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from reporter.statedb import DeliveryRecord, open_state
from reporter.statedb.claims import (Claim, Holder, Refused, RunSpec, acquire_lease,
                                     claim_delivery, release_lease, renew, renew_lease, settle)
from reporter.statedb.models import delivery_claims

T0 = datetime(2026, 11, 9, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 16, tzinfo=timezone.utc)
SPEC = RunSpec("weekly-digest", "weekly", T0, T1, "cli", ["a@example.com"])
ME, OTHER = Holder(101, "host-a"), Holder(202, "host-b")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("pg_url")
    with open_state(url) as state:
        yield state


def claim_row(db):
    with db.engine.connect() as c:
        return c.execute(select(delivery_claims)).one()


def test_the_first_claim_wins_and_a_live_holder_is_named(db):
    first = claim_delivery(db, SPEC, holder=ME, lease_s=60)
    assert isinstance(first, Claim) and first.generation == 1 and first.took_over is None
    assert db.get_run(first.run_id).status == "running"

    second = claim_delivery(db, SPEC, holder=OTHER, lease_s=60, force=True)  # not even --force
    assert isinstance(second, Refused) and second.reason == "busy"
    assert second.by_run == first.run_id and second.holder == ME
    assert str(second.holder) == "pid 101 on host host-a"
    skipped = db.get_run(second.run_id)
    assert skipped.status == "skipped" and skipped.finished_at is not None
    row = claim_row(db)
    assert (row.status, row.phase, row.run_id, row.pid, row.host) == \
        ("held", "preparing", first.run_id, 101, "host-a")


def test_delivered_stays_delivered_and_force_makes_a_new_generation(db):
    first = claim_delivery(db, SPEC, holder=ME)
    db.finish_run(first.run_id, "succeeded", message_id="<m1@gpureport>",
                  deliveries=[DeliveryRecord("email", "a@example.com", "sent", "<m1@gpureport>")],
                  also=settle(first, "delivered"))
    again = claim_delivery(db, SPEC, holder=OTHER)
    assert isinstance(again, Refused) and again.reason == "delivered"
    assert again.by_run == first.run_id

    forced = claim_delivery(db, SPEC, holder=OTHER, force=True)
    assert isinstance(forced, Claim) and forced.generation == 2
    assert claim_row(db).status == "held" and claim_row(db).run_id == forced.run_id


def test_released_claims_are_taken_at_once_with_the_same_generation(db):
    first = claim_delivery(db, SPEC, holder=ME, lease_s=600)
    db.finish_run(first.run_id, "failed", error="SMTP refused", also=settle(first, "released"))
    second = claim_delivery(db, SPEC, holder=OTHER, lease_s=600)
    assert isinstance(second, Claim) and second.generation == 1 and second.took_over is None
    assert db.get_run(first.run_id).error == "SMTP refused"  # left as it was recorded


def test_uncertain_is_not_claimed_again_without_force(db):
    first = claim_delivery(db, SPEC, holder=ME)
    assert renew(db, first, sending_message_id="<m@gpureport>")
    db.finish_run(first.run_id, "uncertain", message_id="<m@gpureport>", error="timed out",
                  also=settle(first, "uncertain"))
    later = claim_delivery(db, SPEC, holder=OTHER)
    assert isinstance(later, Refused) and later.reason == "uncertain"
    assert later.message_id == "<m@gpureport>" and later.by_run == first.run_id
    forced = claim_delivery(db, SPEC, holder=OTHER, force=True)
    assert isinstance(forced, Claim) and forced.generation == 2


def test_an_expired_lease_is_taken_over_and_the_dead_run_closed(db):
    dead = claim_delivery(db, SPEC, holder=ME, lease_s=30, now=T1)
    live = claim_delivery(db, SPEC, holder=OTHER, lease_s=30, now=T1 + timedelta(seconds=29))
    assert isinstance(live, Refused) and live.reason == "busy"

    taken = claim_delivery(db, SPEC, holder=OTHER, lease_s=30, now=T1 + timedelta(seconds=31))
    assert isinstance(taken, Claim) and taken.took_over == dead.run_id
    assert taken.generation == 1  # nothing was sent: the same Message-ID is right
    closed = db.get_run(dead.run_id)
    assert closed.status == "failed"
    assert closed.error.startswith("abandoned: its claim lease expired 2026-11-16 00:00:30 UTC "
                                   "(pid 101 on host host-a stopped renewing it); taken over "
                                   f"by run #{taken.run_id}")
    row = claim_row(db)
    assert (row.takeovers, row.run_id, row.pid, row.host) == (1, taken.run_id, 202, "host-b")
    assert not renew(db, dead)  # the old holder learns it lost the claim
    assert renew(db, taken)


def test_a_holder_that_died_while_sending_leaves_an_uncertain_delivery(db):
    dead = claim_delivery(db, SPEC, holder=ME, lease_s=30, now=T1)
    assert renew(db, dead, sending_message_id="<m@gpureport>")
    later = claim_delivery(db, SPEC, holder=OTHER, lease_s=30,
                           now=datetime.now(timezone.utc) + timedelta(seconds=31))
    assert isinstance(later, Refused) and later.reason == "uncertain"
    run = db.get_run(dead.run_id)
    assert run.status == "uncertain" and run.message_id == "<m@gpureport>"
    assert "stopped after the message data was sent" in run.error
    (d,) = db.list_deliveries(dead.run_id)
    assert (d.status, d.message_id, d.target) == ("uncertain", "<m@gpureport>", "a@example.com")
    assert claim_row(db).status == "uncertain"


def test_a_run_delivered_before_claims_existed_still_counts(db):
    old = db.start_run(schedule=SPEC.schedule, kind="weekly", period_start=T0, period_end=T1)
    db.finish_run(old, "succeeded", message_id="<old@x>")
    refused = claim_delivery(db, SPEC, holder=ME)
    assert isinstance(refused, Refused) and refused.reason == "delivered"
    assert refused.by_run == old and refused.message_id == "<old@x>"
    forced = claim_delivery(db, SPEC, holder=ME, force=True)
    assert isinstance(forced, Claim) and forced.generation == 2


def test_orphaned_running_records_are_closed_but_dry_runs_are_left_alone(db):
    orphan = db.start_run(schedule=SPEC.schedule, kind="weekly", period_start=T0, period_end=T1)
    dry = db.start_run(schedule=SPEC.schedule, kind="weekly", period_start=T0, period_end=T1,
                       dry_run=True)
    claim = claim_delivery(db, SPEC, holder=ME)
    assert db.get_run(orphan).status == "failed" and "abandoned" in db.get_run(orphan).error
    assert f"run #{claim.run_id}" in db.get_run(orphan).error
    assert db.get_run(dry).status == "running"


def test_many_claimers_at_once_one_wins(db):
    results: list[object] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def claimer(i: int) -> None:
        try:
            barrier.wait(10)
            results.append(claim_delivery(db, SPEC, holder=Holder(i, "host")))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    won = [r for r in results if isinstance(r, Claim)]
    lost = [r for r in results if isinstance(r, Refused)]
    assert len(won) == 1 and len(lost) == 7
    assert {r.reason for r in lost} == {"busy"} and {r.by_run for r in lost} == {won[0].run_id}
    statuses = sorted(r.status for r in db.list_runs(20))
    assert statuses == ["running"] + ["skipped"] * 7


def test_leases_are_exclusive_until_released_or_expired(db):
    token, other = acquire_lease(db, "alerts:check", 60, holder=ME)
    assert token and other is None
    busy, holder = acquire_lease(db, "alerts:check", 60, holder=OTHER)
    assert busy is None and holder == "pid 101 on host host-a"
    assert renew_lease(db, "alerts:check", token, 60)
    release_lease(db, "alerts:check", token)
    assert not renew_lease(db, "alerts:check", token, 60)
    again, _ = acquire_lease(db, "alerts:check", 0.2, holder=OTHER)
    assert again
    import time

    time.sleep(0.4)  # expired: the next one takes it, the old token is void
    third, _ = acquire_lease(db, "alerts:check", 60, holder=ME)
    assert third and not renew_lease(db, "alerts:check", again, 60)


def test_upgrading_a_0001_database_keeps_runs_and_deliveries(tmp_path, request):
    """SQLite rebuilds ``runs`` to widen its CHECK constraint; with foreign keys on, that
    would cascade-delete every delivery."""
    from alembic import command
    from sqlalchemy import MetaData, Table, insert

    import reporter.statedb as statedb
    from reporter.statedb import models

    for url in (f"sqlite:///{tmp_path / 'old.db'}", request.getfixturevalue("pg_url")):
        engine = statedb._make_engine(statedb.normalize_url(url))
        with engine.begin() as conn:
            command.upgrade(statedb._alembic_config(conn), "0001")
        old = statedb.StateDB(engine, url)
        # the rows an 0001 version wrote (today's ``runs`` has a column 0001 did not)
        runs_0001 = Table("runs", MetaData(), *[c._copy() for c in models.runs.c
                                                 if c.name != "team"])
        with engine.begin() as conn:
            run_id = conn.execute(insert(runs_0001).values(
                schedule="s", kind="weekly", period_start=T0, period_end=T1,
                status="succeeded", started_at=T0, finished_at=T1, files=[], recipients=[],
                message_id="<m>", forced=False, dry_run=False, trigger="cli",
            ).returning(runs_0001.c.id)).scalar_one()
        old.record_delivery(run_id, "email", "a@example.com", "sent", message_id="<m>")
        assert old.revision() == "0001"
        engine.dispose()
        with open_state(url) as db:
            assert db.revision() == statedb.head_revision()  # 0002_claims, then 0002_catalog
            assert db.get_run(run_id).status == "succeeded"
            assert [d.message_id for d in db.list_deliveries(run_id)] == ["<m>"]
            # and the widened constraint holds
            u = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1,
                             status="uncertain")
            db.record_delivery(u, "email", "a@example.com", "uncertain", message_id="<u>")
            refused = claim_delivery(db, RunSpec("s", "weekly", T0, T1), holder=ME)
            assert isinstance(refused, Refused) and refused.by_run == run_id
