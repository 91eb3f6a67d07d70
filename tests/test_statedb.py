"""The state database: migrations on SQLite and PostgreSQL, the repository functions, errors."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text

from reporter.statedb import DeliveryRecord, StateError, head_revision, open_state
from reporter.statedb.models import metadata

T0 = datetime(2026, 11, 9, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 16, tzinfo=timezone.utc)
TABLES = {"runs", "deliveries", "alert_state", "alert_notifications", "scheduler_locks",
          "delivery_claims", "leases", "catalog_cache", "alembic_version"}
HEAD = "0003_teams"


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'dir' / 'state.db'}"
    return request.getfixturevalue("pg_url")


def test_open_creates_schema_at_head_and_sqlite_parent_dir(state_url, tmp_path):
    db = open_state(state_url)
    try:
        assert db.revision() == HEAD == head_revision()
        assert TABLES <= set(inspect(db.engine).get_table_names())
        if state_url.startswith("sqlite"):
            assert (tmp_path / "nested" / "dir" / "state.db").is_file()
    finally:
        db.close()


def test_reopening_is_idempotent_and_keeps_data(state_url):
    with open_state(state_url) as db:
        run_id = db.start_run(schedule="weekly-digest", kind="weekly", period_start=T0,
                              period_end=T1)
    with open_state(state_url) as db:
        assert db.revision() == HEAD
        assert [r.id for r in db.list_runs()] == [run_id]
        with db.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_models_mirror_the_migration(state_url):
    """The Core tables used for queries have exactly the columns the migration created."""
    with open_state(state_url) as db:
        insp = inspect(db.engine)
        for table in metadata.sorted_tables:
            in_db = {c["name"] for c in insp.get_columns(table.name)}
            assert in_db == {c.name for c in table.columns}, table.name
        assert "ix_runs_schedule_period" in {i["name"] for i in insp.get_indexes("runs")}
        cols = next(i for i in insp.get_indexes("runs") if i["name"] == "ix_runs_schedule_period")
        assert cols["column_names"] == ["schedule", "period_start", "period_end", "status"]


def test_run_round_trip_with_deliveries_in_one_transaction(state_url):
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 11, 9, 0, 0, tzinfo=berlin)  # 2026-11-08 23:00 UTC
    end = datetime(2026, 11, 16, 0, 0, tzinfo=berlin)
    with open_state(state_url) as db:
        run_id = db.start_run(schedule="weekly-digest", kind="weekly,root-cause",
                              period_start=start, period_end=end, trigger="scheduler",
                              recipients=["a@example.com"])
        row = db.get_run(run_id)
        assert row.status == "running" and row.finished_at is None
        assert row.period_start == datetime(2026, 11, 8, 23, 0, tzinfo=timezone.utc)
        assert db.delivered_run("weekly-digest", start, end) is None

        db.finish_run(run_id, "succeeded", files=["/tmp/r.pdf"], message_id="<m1@example.com>",
                      deliveries=[DeliveryRecord("email", "a@example.com", "sent",
                                                 "<m1@example.com>")])
        done = db.delivered_run("weekly-digest", start.astimezone(timezone.utc),
                                end.astimezone(timezone.utc))
        assert done is not None and done.id == run_id
        assert done.status == "succeeded" and done.message_id == "<m1@example.com>"
        assert done.files == ["/tmp/r.pdf"] and done.recipients == ["a@example.com"]
        assert done.trigger == "scheduler" and done.forced is False and done.dry_run is False
        assert done.duration_s is not None and done.duration_s >= 0
        assert done.finished_at >= done.started_at
        (d,) = db.list_deliveries(run_id)
        assert (d.channel, d.target, d.status, d.message_id) == \
            ("email", "a@example.com", "sent", "<m1@example.com>")


def test_dry_runs_and_failures_do_not_count_as_delivered(state_url):
    with open_state(state_url) as db:
        dry = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1,
                           dry_run=True)
        db.finish_run(dry, "succeeded")
        failed = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1)
        db.finish_run(failed, "failed", error="boom")
        assert db.delivered_run("s", T0, T1) is None
        other = db.start_run(schedule="s", kind="weekly", period_start=T0,
                             period_end=T1 + timedelta(days=1))
        db.finish_run(other, "succeeded")
        assert db.delivered_run("s", T0, T1) is None  # a different period is another key
        assert [r.id for r in db.list_runs(limit=2)] == [other, failed]
        assert [r.id for r in db.list_runs(schedule="nope")] == []


def test_record_delivery_alone_and_abandoned_runs(state_url):
    with open_state(state_url) as db:
        stale = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1)
        fresh = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1)
        db.record_delivery(fresh, "email", "a@example.com", "failed", error="421 try later")
        assert db.abandon_runs("s", T0, T1, except_id=fresh, note="abandoned") == 1
        assert db.get_run(stale).status == "failed" and db.get_run(stale).error == "abandoned"
        assert db.get_run(fresh).status == "running"
        assert [d.error for d in db.list_deliveries(fresh)] == ["421 try later"]


def test_skipped_runs_are_written_finished(state_url):
    with open_state(state_url) as db:
        run_id = db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1,
                              status="skipped")
        row = db.get_run(run_id)
        assert row.status == "skipped" and row.finished_at == row.started_at


def test_a_firing_can_be_claimed_once(state_url):
    with open_state(state_url) as db:
        assert db.claim("schedule:x@2026-11-16T07:00:00+00:00", "a:1", T1) is True
        assert db.claim("schedule:x@2026-11-16T07:00:00+00:00", "b:2", T1) is False
        assert db.prune_claims(T1 + timedelta(seconds=1)) == 1
        assert db.claim("schedule:x@2026-11-16T07:00:00+00:00", "b:2", T1) is True


def test_constraints_reject_unknown_status_and_naive_times(state_url):
    with open_state(state_url) as db:
        with pytest.raises(StateError):
            db.start_run(schedule="s", kind="weekly", period_start=T0, period_end=T1,
                         status="bogus")
        with pytest.raises(StateError, match="naive datetime"):
            db.start_run(schedule="s", kind="weekly", period_start=T0.replace(tzinfo=None),
                         period_end=T1)


@pytest.mark.postgres
def test_two_processes_migrating_at_once_both_succeed(pg_url):
    """The advisory lock serializes the upgrade; nobody sees half a schema."""
    results, errors = [], []

    def opener():
        try:
            with open_state(pg_url) as db:
                results.append(db.revision())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and results == [HEAD] * 4


def test_postgres_url_without_driver_means_psycopg(pg_url):
    with open_state(pg_url.replace("postgresql+psycopg://", "postgresql://")) as db:
        assert db.engine.dialect.driver == "psycopg"


def test_unreachable_database_is_one_line_without_password():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StateError) as info:
        open_state(f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{port}/state")
    message = str(info.value)
    assert "\n" not in message and "s3cret" not in message
    assert message.startswith("state database postgresql+psycopg://postgres:***@127.0.0.1")
    assert "refused" in message.lower()
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_unusable_sqlite_path_is_a_state_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError) as info:
        open_state(f"sqlite:///{blocker / 'sub' / 'state.db'}")
    assert "\n" not in str(info.value) and str(blocker) in str(info.value)
