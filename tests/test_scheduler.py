"""``gpureport scheduler``: real processes, a real PostgreSQL state database, a real SMTP server.

A schedule due every two seconds (``*/2 * * * * *``, ``period: interval``) makes each firing
its own period, so counting runs and emails per period counts firings. Scheduler processes
run ``tests/scheduler_process.py``: the ``scheduler run`` command with the fake renderer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select, text

from reporter.statedb import open_state
from reporter.statedb.models import deliveries, runs, scheduler_locks
from tests.conftest import NOW
from tests.smtp_server import smtp_server

ROOT = Path(__file__).resolve().parents[1]
EVERY_2S = """\
name: every-2s
cron: "*/2 * * * * *"
period: interval
reports: [weekly]
formats: [html, pdf]
recipients: [ops@example.org]
subject: "tick {{ period_label }}"
misfire_grace_s: 30
"""


def _write_config(tmp: Path, state_url: str, smtp_port: int, schedule: str = EVERY_2S) -> Path:
    sdir = tmp / "schedules"
    sdir.mkdir(exist_ok=True)
    (sdir / "every-2s.yaml").write_text(schedule)
    # no alert check job (an alerts.yaml in schedules_dir replaces the shipped rules)
    (sdir / "alerts.yaml").write_text("rules: []\n")
    # the shipped schedules are real too; disable them so only the test job fires
    for name in ("weekly-digest", "daily-idle-report"):
        (sdir / f"{name}.yaml").write_text(yaml.safe_dump({
            "name": name, "enabled": False, "cron": "0 7 * * 1", "reports": ["weekly"],
            "recipients": ["nobody@example.org"]}))
    cfg = tmp / "gpureport.yaml"
    cfg.write_text(yaml.safe_dump({
        "state": {"database_url": state_url},
        "schedules_dir": str(sdir),
        "report_dir": str(tmp / "reports"),
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "starttls": False,
                 "from": "gpureport@example.net", "retries": 0, "timeout": 5},
    }))
    return cfg


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "GPUREPORT_NOW"))}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


class Replica:
    """One ``gpureport scheduler run`` process (fake renderer) with its log in a file."""

    def __init__(self, tmp: Path, cfg: Path, name: str, **env: str) -> None:
        self.log = tmp / f"{name}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.scheduler_process", "--config", str(cfg),
             "--poll-interval", "0.3"],
            cwd=tmp, env=_env(**env), stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert self.proc.poll() is None, f"replica exited early:\n{self.text()}"
            assert time.monotonic() < deadline, f"{needle!r} not logged:\n{self.text()}"
            time.sleep(0.1)

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _wait_until(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _rows(state_url: str):
    with open_state(state_url) as db, db.engine.connect() as c:
        return (list(c.execute(select(runs).order_by(runs.c.id))),
                list(c.execute(select(deliveries))),
                list(c.execute(select(scheduler_locks))))


def _succeeded(state_url: str) -> int:
    return sum(r.status == "succeeded" for r in _rows(state_url)[0])


@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
@pytest.mark.postgres
def test_two_replicas_fire_each_firing_exactly_once(home, tmp_path, pg_url):
    with smtp_server() as server:
        cfg = _write_config(tmp_path, pg_url, server.port)
        a = Replica(tmp_path, cfg, "a")
        b = None
        try:
            a.wait_log("scheduling 1 job(s)")
            b = Replica(tmp_path, cfg, "b")
            b.wait_log("standby: another replica holds the scheduler lock")
            _wait_until(lambda: _succeeded(pg_url) >= 3, what="three firings by a")
            assert a.terminate() == 0
            a_stopped = datetime.now(timezone.utc)
            b.wait_log("scheduling 1 job(s)")
            before = _succeeded(pg_url)
            _wait_until(lambda: _succeeded(pg_url) >= before + 2, what="two firings by b")
            assert b.terminate() == 0
        finally:
            a.kill()
            if b is not None:
                b.kill()
        time.sleep(0.3)
        emails = list(server.messages)

    all_runs, all_deliveries, claims = _rows(pg_url)
    assert all(r.trigger == "scheduler" and r.schedule == "every-2s" for r in all_runs)
    assert {r.status for r in all_runs} == {"succeeded"}, [(r.status, r.error) for r in all_runs]
    per_period = Counter((r.period_start, r.period_end) for r in all_runs)
    assert max(per_period.values()) == 1  # no firing executed twice
    assert all(r.period_end - r.period_start == timedelta(seconds=2) for r in all_runs)
    sent = [d for d in all_deliveries if d.status == "sent"]
    assert len(sent) == len(all_runs) == len(emails) >= 5
    assert sorted(e.message["Message-ID"] for e in emails) == sorted(r.message_id for r in all_runs)

    by_holder: dict[int, list[datetime]] = {}
    for c in claims:
        by_holder.setdefault(int(c.holder.rsplit(":", 1)[1]), []).append(c.fired_at)
    assert set(by_holder) == {a.pid, b.pid}
    # one replica at a time: every firing of b comes after the last firing of a
    assert max(by_holder[a.pid]) < min(by_holder[b.pid])
    assert max(by_holder[a.pid]) <= a_stopped


def test_sigterm_while_a_job_runs_exits_0_and_leaves_no_half_written_record(home, tmp_path):
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    with smtp_server() as server:
        cfg = _write_config(tmp_path, state_url, server.port)
        r = Replica(tmp_path, cfg, "solo", GPUREPORT_FAKE_RENDER_SLEEP="1.5")
        try:
            _wait_until(lambda: any(x.status == "running" for x in _rows(state_url)[0]),
                        what="a run in flight")
            code = r.terminate()
        finally:
            r.kill()
        time.sleep(0.2)
        emails = len(server.messages)
    assert code == 0, r.text()
    all_runs, all_deliveries, _ = _rows(state_url)
    assert all_runs and all(x.status == "succeeded" for x in all_runs)  # the run in flight finished
    assert all(x.finished_at is not None and x.message_id for x in all_runs)
    assert len(all_deliveries) == len(all_runs) == emails
    assert "SIGTERM received" in r.text() and "scheduler stopped" in r.text()


def test_jobs_persist_and_a_missed_firing_is_not_forgotten_on_restart(home, tmp_path):
    """Restarting keeps a stored job's next run time (a missed firing still runs, coalesced)."""
    from reporter.config import load_config
    from reporter.scheduler import _start_apscheduler, _sync_jobs, schedule_jobs
    from reporter.schedules import load_schedules

    weekly = EVERY_2S.replace("every-2s", "weekly-x").replace('"*/2 * * * * *"', '"0 7 * * 1"')
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    cfg = load_config(str(_write_config(tmp_path, state_url, 25, weekly)))
    (tmp_path / "schedules" / "every-2s.yaml").rename(tmp_path / "schedules" / "weekly-x.yaml")
    schedules = load_schedules(cfg.schedules_dir)
    with open_state(state_url) as db:
        sched = _start_apscheduler(db, schedule_jobs(cfg, schedules, db), paused=True)
        job = sched.get_job("schedule:weekly-x")
        assert job.next_run_time.weekday() == 0 and job.next_run_time.hour == 7
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 30)
        missed = datetime.now(timezone.utc) - timedelta(minutes=10)  # as if we had been down
        sched.modify_job("schedule:weekly-x", next_run_time=missed)
        sched.shutdown(wait=True)

    with open_state(state_url) as db:
        sched = _start_apscheduler(db, schedule_jobs(cfg, schedules, db), paused=True)
        kept = sched.get_job("schedule:weekly-x")
        assert abs((kept.next_run_time - missed).total_seconds()) < 1
        _sync_jobs(sched, [])  # a schedule removed from the files loses its job
        assert sched.get_jobs() == []
        sched.shutdown(wait=True)
        with db.engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar() == 0


@pytest.mark.slow  # > 4 s: .ci/run runs it with the slow tests (default suite ≤ 4 min)
def test_in_process_scheduler_on_sqlite_fires_and_stops(home, tmp_path):
    """The same loop without subprocesses: stop event instead of a signal."""
    from reporter.config import load_config
    from reporter.scheduler import run_scheduler
    from tests.smtp_server import fake_render

    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    with smtp_server() as server:
        cfg = load_config(str(_write_config(tmp_path, state_url, server.port)))
        stop = threading.Event()
        codes: list[int] = []
        t = threading.Thread(target=lambda: codes.append(
            run_scheduler(cfg, render=fake_render, poll_interval=0.2, stop=stop)))
        t.start()
        try:
            _wait_until(lambda: _succeeded(state_url) >= 2, what="two firings")
        finally:
            stop.set()
            t.join(30)
    assert codes == [0]
    all_runs, _, claims = _rows(state_url)
    assert len(claims) == len(all_runs)
    ends = sorted(r.period_end for r in all_runs)
    assert all(b - a == timedelta(seconds=2) for a, b in zip(ends, ends[1:]))  # consecutive


def test_fire_skips_a_firing_another_replica_claimed(home, tmp_path):
    import reporter.scheduler as sch
    from reporter.cron import cron_trigger, latest_fire

    calls: list[datetime] = []
    with open_state(f"sqlite:///{tmp_path / 'state.db'}") as db:
        trig = cron_trigger("0 7 * * 1", "UTC")
        spec = sch.JobSpec("schedule:x", trig, calls.append)
        sch._ACTIVE = sch._Active(db, {"schedule:x": spec}, "me:1")
        try:
            due = latest_fire(trig, datetime.now(timezone.utc))
            assert db.claim(f"schedule:x@{due.astimezone(timezone.utc).isoformat()}", "other:2", due)
            sch.fire("schedule:x")
            assert calls == []
            db.prune_claims(datetime.now(timezone.utc) + timedelta(days=1))
            sch.fire("schedule:x")
            assert calls == [due]
        finally:
            sch._ACTIVE = None


def test_scheduler_list_shows_next_fire_in_each_schedule_zone(home, tmp_path):
    from reporter.commands_schedule import scheduler
    from reporter.config import load_config

    tokyo = EVERY_2S.replace("every-2s", "tokyo-weekly").replace(
        '"*/2 * * * * *"', '"0 9 * * 1"\ntimezone: Asia/Tokyo').replace("period: interval",
                                                                       "period: last-week")
    cfg = load_config(str(_write_config(tmp_path, f"sqlite:///{tmp_path / 's.db'}", 25, tokyo)))
    app = SimpleNamespace(config=cfg, now=NOW, verbose=0, tz=None)
    res = CliRunner().invoke(scheduler, ["list"], obj=app)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    # NOW is Thursday 2026-11-19 21:00 in Tokyo; the next Monday 09:00 there is the 23rd,
    # and that firing covers ISO week 47
    (row,) = [line for line in lines if line.startswith("tokyo-weekly")]
    assert row.split()[1:] == ["yes", "0", "9", "*", "*", "1", "2026-11-23", "09:00:00", "Mon",
                               "Asia/Tokyo", "2026-W47"]
    assert [line.split()[0] for line in lines[1:]] == [  # enabled first, then disabled
        "idle-nudges", "tokyo-weekly", "daily-idle-report", "weekly-digest",
        "weekly-team-digests"]  # team digests ship disabled (opt in with a routing table)
    res = CliRunner().invoke(scheduler, ["list", "--json"], obj=app)
    import json

    tokyo_row = next(x for x in json.loads(res.stdout) if x["name"] == "tokyo-weekly")
    assert tokyo_row["next_fire"] == "2026-11-23T09:00:00+09:00"
    assert tokyo_row["next_fire_utc"] == "2026-11-23T00:00:00+00:00"


def test_scheduler_run_with_unreachable_state_database_exits_1(home, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{port}/x", 25)
    proc = subprocess.run([sys.executable, "-m", "reporter.cli", "--config", str(cfg),
                           "scheduler", "run"], env=_env(), cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: state database postgresql+psycopg://")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_history_lists_runs_and_deliveries(home, tmp_path):
    from reporter.commands_schedule import history
    from reporter.config import load_config
    from reporter.runner import run_schedule
    from tests.smtp_server import fake_render

    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    with smtp_server() as server:
        cfg = load_config(str(_write_config(tmp_path, state_url, server.port)))
        ok = run_schedule(cfg, "every-2s", now=NOW, render=fake_render)
        run_schedule(cfg, "every-2s", now=NOW, render=fake_render)  # skipped
    app = SimpleNamespace(config=cfg, now=NOW, verbose=0, tz="Asia/Tokyo")
    res = CliRunner().invoke(history, [], obj=app)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert "STARTED (JST)" in lines[0]
    assert lines[1].split()[:3] == ["2", "every-2s", "2026-11-19"]
    assert "skipped" in lines[1]
    assert lines[2].split()[:2] == ["1", "every-2s"] and "succeeded" in lines[2]
    assert ok.message_id in lines[2]
    # period shown in the display zone: 11:59:58-12:00:00 UTC = 20:59-21:00 JST
    assert "2026-11-19 20:59 -> 2026-11-19 21:00" in lines[2]
    assert lines[3].strip() == f"- email sent {lines[3].split()[3]} {lines[3].split()[4]} -> ops@example.org"
    res = CliRunner().invoke(history, ["--json", "--limit", "1"], obj=app)
    import json

    (only,) = json.loads(res.stdout)
    assert only["status"] == "skipped" and only["deliveries"] == []


def test_the_alert_check_becomes_a_scheduler_job_when_its_rules_have_a_cron(home, tmp_path):
    from reporter.alerts import alert_jobs
    from reporter.config import load_config

    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    cfg = load_config(str(_write_config(tmp_path, state_url, 25)))
    with open_state(state_url) as db:
        assert alert_jobs(cfg, db) == []  # rules without `check`
        (tmp_path / "schedules" / "alerts.yaml").write_text(
            "rules: []\ncheck: {cron: '*/15 * * * *', timezone: UTC}\n")
        (job,) = alert_jobs(cfg, db)
    assert job.id == "alerts:check"
    assert job.trigger.get_next_fire_time(None, NOW).isoformat() == "2026-11-19T12:00:00+00:00"
